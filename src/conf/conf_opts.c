/*
 * The libconfuse option table, section by section, and the error callback
 * that keeps libconfuse's first message (with file and line) in the
 * cfg_t. conf.c turns what it parses into a struct conf.
 */
#include "conf/conf_opts.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_check.h"
#include "conf/conf_tls.h"

#define MSG_MAX 640

/* ------------------------------------------------------------------------
 * Error capture.
 */

/*
 * libconfuse hands its error callback the cfg_t but no pointer of ours,
 * and there are no mutable globals (STYLE.md rule 2), so the message is
 * kept in the cfg_t itself: the root section's comment field. The parser
 * writes comments only under CFGF_COMMENTS, which we never set, and
 * cfg_free frees the field. Only the first message is kept: it is the
 * cause, and what follows (if anything) is a consequence.
 */
__attribute__((format(printf, 2, 0))) static void conf_errfunc(cfg_t *cfg, const char *fmt,
							       va_list ap)
{
	char msg[MSG_MAX];
	const char *file = cfg->filename ? cfg->filename : CONF_STRING_NAME;
	int n;

	if (cfg->comment)
		return;
	/* Line 0: a value that came from the command line, not the file. */
	if (cfg->line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", file, cfg->line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", file);
	if (n > 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	/* On ENOMEM the caller falls back to a message without detail. */
	cfg->comment = strdup(msg);
}

/* ------------------------------------------------------------------------
 * The option table.
 */

/* The options are built on the stack for each load, section by section:
 * cfg_init copies them, and a static table would be a mutable global
 * (libconfuse takes it non-const). */
#define CONF_OPTS_MAX 128

struct conf_opts {
	cfg_opt_t v[CONF_OPTS_MAX];
	size_t n;
	bool overflow;
};

static void conf_opts_add(struct conf_opts *t, const cfg_opt_t *v, size_t n)
{
	if (t->overflow || n > CONF_OPTS_MAX - 1 - t->n) {
		t->overflow = true; /* the END below keeps its slot */
		return;
	}
	memcpy(t->v + t->n, v, n * sizeof(*v));
	t->n += n;
}

#define CONF_OPTS_ADD(t, v) conf_opts_add((t), (v), sizeof(v) / sizeof((v)[0]))

/* Where clients reach turnd, and where else they may be sent. */
static void conf_opts_listen(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_STR_LIST("listening-ip", NULL, CFGF_NONE),
		CFG_INT_CB("listening-port", CONF_DEFAULT_PORT, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("no-udp", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_BOOL_CB("no-tcp", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_INT_CB("tls-listening-port", 5349, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("no-tls", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_BOOL_CB("no-dtls", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_STR_LIST("listener", NULL, CFGF_NONE),
		CFG_STR_LIST("alt-listening-ip", NULL, CFGF_NONE),
		CFG_INT_CB("alt-listening-port", 0, CFGF_NONE, conf_cb_int),
		CFG_STR_LIST("relay-ip", NULL, CFGF_NONE),
		CFG_STR_LIST("alternate-server", NULL, CFGF_NONE),
	};

	CONF_OPTS_ADD(t, v);
}

/* The process: shedding, metrics, draining, logs, privileges. */
static void conf_opts_process(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_INT_CB("shed-allocations", 0, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("shed-bps", 0, CFGF_NONE, conf_cb_int),
		CFG_STR("metrics-ip", "127.0.0.1", CFGF_NONE),
		CFG_INT_CB("metrics-port", 0, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("drain-timeout", 3600, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("log-json", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_STR("pid-file", NULL, CFGF_NONE),
		CFG_STR("proc-user", NULL, CFGF_NONE),
		CFG_STR("proc-group", NULL, CFGF_NONE),
		CFG_STR("control-socket", NULL, CFGF_NONE),
	};

	CONF_OPTS_ADD(t, v);
}

/* The relay and who may use it: addresses, ports, credentials, peers,
 * quotas, TLS, threads. */
static void conf_opts_relay(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_STR_LIST("external-ip", NULL, CFGF_NONE),
		CFG_INT_CB("min-port", 49152, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-port", 65535, CFGF_NONE, conf_cb_int),
		CFG_STR("realm", "turnd", CFGF_NONE),
		CFG_STR_LIST("user", NULL, CFGF_NONE),
		CFG_STR_LIST("static-auth-secret", NULL, CFGF_NONE),
		/* The packaged sample sets it: refuse a TURN server no one can
		 * authenticate to (conf.c, check_credentials). */
		CFG_BOOL_CB("require-credentials", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_STR_LIST("allowed-peer-ip", NULL, CFGF_NONE),
		CFG_STR_LIST("denied-peer-ip", NULL, CFGF_NONE),
		CFG_BOOL_CB("allow-own-peers", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_INT_CB("user-quota", CONF_DEFAULT_USER_QUOTA, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("total-quota", CONF_DEFAULT_TOTAL_QUOTA, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("relay-port-quarantine", CONF_DEFAULT_PORT_QUARANTINE, CFGF_NONE,
			   conf_cb_int),
		CFG_INT_CB("max-bps", 0, CFGF_NONE, conf_cb_int),
		CFG_STR("kernel-offload", "auto", CFGF_NONE),
		CFG_STR_LIST("kernel-offload-interfaces", NULL, CFGF_NONE),
		CFG_INT_CB("kernel-offload-max-entries", CONF_OFFLOAD_MAX_ENTRIES, CFGF_NONE,
			   conf_cb_int),
		CFG_STR("cert", NULL, CFGF_NONE),
		CFG_STR("pkey", NULL, CFGF_NONE),
		CFG_INT_CB("relay-threads", 0, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("rx-coalesce-us", 0, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("stun-only", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_BOOL_CB("stun-backward-compatibility", cfg_true, CFGF_NONE, conf_cb_bool),
	};

	CONF_OPTS_ADD(t, v);
}

/* Limits on what one client may hold; the SOFTWARE attribute and the
 * logs. */
static void conf_opts_limits(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		/* Defaults and their reasons: turnd.conf(5). */
		CFG_INT_CB("max-connections-per-ip", 500, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-connections", 10000, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("first-message-timeout", 10, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-allocate-timeout", 60, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("preauth-buffer", 2048, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-allocate-lifetime", 3600, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-permissions", 64, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-channels", 64, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("max-tcp-connections", 64, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("legacy-channel-numbers", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_INT_CB("unauth-rate", CONF_UNAUTH_RATE, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("unauth-burst", CONF_UNAUTH_BURST, CFGF_NONE, conf_cb_int),
		CFG_STR("software", NULL, CFGF_NONE),
		CFG_STR("log-level", "notice", CFGF_NONE),
		CFG_BOOL_CB("syslog", cfg_false, CFGF_NONE, conf_cb_bool),
	};

	CONF_OPTS_ADD(t, v);
}

/* Redis: credentials, the shared quota, settings and events (turnd.conf(5)). */
static void conf_opts_redis(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_BOOL_CB("redis", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_STR("redis-host", "127.0.0.1", CFGF_NONE),
		CFG_INT_CB("redis-port", 6379, CFGF_NONE, conf_cb_int),
		CFG_STR("redis-socket", NULL, CFGF_NONE),
		CFG_INT_CB("redis-db", 0, CFGF_NONE, conf_cb_int),
		CFG_STR("redis-user", NULL, CFGF_NONE),
		CFG_STR("redis-password", NULL, CFGF_NONE),
		CFG_BOOL_CB("redis-tls", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_STR("redis-tls-ca", NULL, CFGF_NONE),
		CFG_STR("redis-tls-cert", NULL, CFGF_NONE),
		CFG_STR("redis-tls-key", NULL, CFGF_NONE),
		CFG_STR("redis-tls-server-name", NULL, CFGF_NONE),
		CFG_INT_CB("redis-connect-timeout", 1000, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("redis-timeout", 1000, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("redis-cache-size", 10000, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("redis-cache-ttl", 60, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("redis-negative-ttl", 5, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("redis-cache-stale", 300, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("redis-shared-quota", cfg_true, CFGF_NONE, conf_cb_bool),
		CFG_INT_CB("redis-poll-interval", 5, CFGF_NONE, conf_cb_int),
		CFG_BOOL_CB("redis-events", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_INT_CB("redis-events-max", 100000, CFGF_NONE, conf_cb_int),
		CFG_STR("node-id", NULL, CFGF_NONE),
	};

	CONF_OPTS_ADD(t, v);
}

/* The HTTP authorization hook (turnd.conf(5)). */
static void conf_opts_auth_http(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_STR("auth-url", NULL, CFGF_NONE),
		CFG_INT_CB("auth-timeout", 2000, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("auth-cache-ttl", 300, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("auth-negative-ttl", 30, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("auth-max-inflight", 64, CFGF_NONE, conf_cb_int),
	};

	CONF_OPTS_ADD(t, v);
}

/* Bandwidth capacity and per-user usage (issue 16). */
static void conf_opts_bandwidth(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_INT_CB("bps-capacity", 0, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("user-max-bps", 0, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("user-usage-linger", CONF_DEFAULT_USAGE_LINGER, CFGF_NONE, conf_cb_int),
		CFG_INT_CB("user-usage-interval", CONF_DEFAULT_USAGE_INTERVAL, CFGF_NONE,
			   conf_cb_int),
	};

	CONF_OPTS_ADD(t, v);
}

/* The TLS policy of the TLS and DTLS listeners (conf/conf_tls.h). */
static void conf_opts_tls(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_STR("tls-min-version", CONF_TLS_DEFAULT_MIN_VERSION, CFGF_NONE),
		CFG_STR("cipher-list", CONF_TLS_DEFAULT_CIPHER_LIST, CFGF_NONE),
		CFG_STR("ciphersuites", CONF_TLS_DEFAULT_CIPHERSUITES, CFGF_NONE),
		CFG_STR("ecdh-curves", CONF_TLS_DEFAULT_ECDH_CURVES, CFGF_NONE),
		CFG_STR("ca-file", NULL, CFGF_NONE),
		CFG_STR("client-cert", CONF_TLS_DEFAULT_CLIENT_CERT, CFGF_NONE),
	};

	CONF_OPTS_ADD(t, v);
}

/* Behind a load balancer: the PROXY protocol and the ACME redirect
 * (issue 17, conf_proxy.c). */
static void conf_opts_proxy(struct conf_opts *t)
{
	const cfg_opt_t v[] = {
		CFG_STR_LIST("trusted-proxy", NULL, CFGF_NONE),
		CFG_BOOL_CB("proxy-protocol", cfg_false, CFGF_NONE, conf_cb_bool),
		CFG_STR("acme-redirect", NULL, CFGF_NONE),
	};

	CONF_OPTS_ADD(t, v);
}

/* Unknown options stay errors: no CFGF_IGNORE_UNKNOWN. */
cfg_t *conf_opts_cfg_new(void)
{
	static const cfg_opt_t end[] = {CFG_END()};
	struct conf_opts t = {.n = 0};
	cfg_t *cfg;

	conf_opts_listen(&t);
	conf_opts_process(&t);
	conf_opts_relay(&t);
	conf_opts_limits(&t);
	conf_opts_redis(&t);
	conf_opts_auth_http(&t);
	conf_opts_bandwidth(&t);
	conf_opts_tls(&t);
	conf_opts_proxy(&t);
	if (t.overflow)
		return NULL; /* never: CONF_OPTS_MAX holds them all */
	t.v[t.n] = end[0];
	cfg = cfg_init(t.v, CFGF_NONE);
	if (!cfg)
		return NULL;
	cfg_set_error_function(cfg, conf_errfunc);
	conf_check_install(cfg);
	return cfg;
}
