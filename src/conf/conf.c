/*
 * Configuration: command-line overrides, and the conversion of the
 * parsed cfg_t into an immutable struct conf. The libconfuse option table
 * is conf_opts.c's; the value checks that run while the file is parsed
 * (so errors carry the line) live in conf_check.c, the grammar of single
 * values in conf_value.c.
 */
#include "conf/conf.h"

#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf/conf_check.h"
#include "conf/conf_nat.h"
#include "conf/conf_proxy.h"
#include "conf/conf_opts.h"
#include "conf/conf_text.h"
#include "conf/conf_tls.h"
#include "conf/conf_value.h"
#include "util/log.h"

/* Names used in messages when there is no file. */
#define DEFAULT_NAME "(built-in defaults)"
#define OVERRIDE_NAME "command line"

/* Where errors go while a cfg_t becomes a struct conf. */
struct conf_build {
	const char *name; /* file name for messages */
	const char *path; /* becomes conf->path; NULL for the default */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int set_err(char *err, size_t errlen, const char *fmt,
							 ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int build_oom(const struct conf_build *b)
{
	return set_err(b->err, b->errlen, "%s: out of memory", b->name);
}

/* ------------------------------------------------------------------------
 * libconfuse on the comment-free text (conf_text.c).
 */

/* Parse len bytes of comment-free text as the file called b->name. Returns
 * the cfg_t (caller frees with cfg_free) or NULL with the error set. */
static cfg_t *conf_cfg_parse(const char *text, size_t len, const struct conf_build *b)
{
	cfg_t *cfg = conf_opts_cfg_new();
	FILE *fp = NULL;
	int rc = CFG_SUCCESS;

	/* cfg_parse_fp keeps a file name that is already set (it would say
	 * "FILE"), so messages carry ours; cfg_free frees it. */
	if (cfg)
		cfg->filename = strdup(b->name);
	if (!cfg || !cfg->filename) {
		if (cfg)
			cfg_free(cfg);
		build_oom(b);
		return NULL;
	}
	/* fmemopen refuses a zero size on older C libraries, and empty text
	 * is the defaults anyway. The stream is read-only: the cast is safe. */
	if (len > 0) {
		fp = fmemopen((void *)text, len, "r");
		if (!fp) {
			set_err(b->err, b->errlen, "%s: cannot read: %s", b->name, strerror(errno));
			cfg_free(cfg);
			return NULL;
		}
		rc = cfg_parse_fp(cfg, fp);
		fclose(fp);
	}
	if (rc != CFG_SUCCESS) {
		if (cfg->comment)
			set_err(b->err, b->errlen, "%s", cfg->comment);
		else
			set_err(b->err, b->errlen, "%s: cannot be parsed", b->name);
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ------------------------------------------------------------------------
 * Command-line overrides: stored into the cfg_t after parsing and checked
 * by the same callbacks as the file's values, under the name "command line"
 * and line 0, so they cannot bypass a check.
 */

static int override_str(cfg_t *cfg, const char *name, const char *value, unsigned index)
{
	cfg_opt_t *opt = cfg_getopt(cfg, name);

	if (cfg_opt_setnstr(opt, value, index) != CFG_SUCCESS) {
		cfg_error(cfg, "out of memory");
		return -1;
	}
	return 0;
}

static int override_listen(cfg_t *cfg, const char *const *list)
{
	cfg_opt_t *opt = cfg_getopt(cfg, "listening-ip");

	cfg_free_value(opt);
	for (unsigned i = 0; list[i]; i++) {
		if (override_str(cfg, "listening-ip", list[i], i) < 0 ||
		    conf_check_listen(cfg, opt) < 0)
			return -1;
	}
	return 0;
}

static int apply_overrides(cfg_t *cfg, const struct conf_overrides *ov, const struct conf_build *b)
{
	int rc = 0;

	free(cfg->filename);
	cfg->filename = strdup(OVERRIDE_NAME);
	cfg->line = 0;
	if (!cfg->filename)
		return set_err(b->err, b->errlen, OVERRIDE_NAME ": out of memory");
	if (ov->listening_port) {
		rc = cfg_setint(cfg, "listening-port", ov->listening_port) == CFG_SUCCESS ? 0 : -1;
		if (rc == 0)
			rc = conf_check_int(cfg, cfg_getopt(cfg, "listening-port"));
	}
	if (rc == 0 && ov->log_level != -1) {
		if (ov->log_level < LOG_LVL_ERROR || ov->log_level > LOG_LVL_DEBUG)
			return set_err(b->err, b->errlen,
				       OVERRIDE_NAME
				       ": option 'log-level': %d is not a log level (%d-%d)",
				       ov->log_level, LOG_LVL_ERROR, LOG_LVL_DEBUG);
		rc = override_str(cfg, "log-level", log_level_name(ov->log_level), 0);
	}
	if (rc == 0 && ov->listen)
		rc = override_listen(cfg, ov->listen);
	if (rc < 0)
		set_err(b->err, b->errlen, "%s",
			cfg->comment ? cfg->comment : OVERRIDE_NAME ": out of memory");
	return rc;
}

/* ------------------------------------------------------------------------
 * cfg_t -> struct conf. Values were checked as they were parsed; the
 * conversion still reports a value it cannot read rather than trust that.
 */

static int build_bad(const struct conf_build *b, const char *opt, const char *why)
{
	return set_err(b->err, b->errlen, "%s: option '%s': %s", b->name, opt, why);
}

/* calloc for a list; n == 0 gives NULL, which is not a failure. */
static void *alloc_list(size_t n, size_t size)
{
	return n ? calloc(n, size) : NULL;
}

/* One builder per list syntax: every value of opt parsed into a new
 * array *out of *count elements, or the error of the first bad one. */
#define LIST_BUILD(name, parse, type)                                                   \
	static int name(cfg_t *cfg, const char *opt, type **out, size_t *count,        \
			const struct conf_build *b)                                     \
	{                                                                               \
		unsigned n = cfg_size(cfg, opt);                                        \
		char why[CONF_WHY_MAX];                                                 \
											\
		*out = alloc_list(n, sizeof(**out));                                    \
		if (n && !*out)                                                         \
			return build_oom(b);                                            \
		*count = n;                                                             \
		for (unsigned i = 0; i < n; i++)                                        \
			if (parse(cfg_getnstr(cfg, opt, i), &(*out)[i], why, sizeof(why)) < 0) \
				return build_bad(b, opt, why);                          \
		return 0;                                                               \
	}

LIST_BUILD(build_ips, conf_value_ip, struct turn_addr)
LIST_BUILD(build_servers, conf_value_server, struct turn_addr)
LIST_BUILD(build_listeners, conf_value_listener, struct conf_listener)
LIST_BUILD(build_externals, conf_value_external, struct conf_external)
LIST_BUILD(build_ranges, conf_value_range, struct conf_range)

/* An empty listening-ip means every address, of both families. */
static int build_listen(cfg_t *cfg, struct conf *c, const struct conf_build *b)
{
	if (build_ips(cfg, "listening-ip", &c->listen, &c->n_listen, b) < 0)
		return -1;
	if (c->n_listen == 0) {
		c->listen = alloc_list(2, sizeof(*c->listen));
		if (!c->listen)
			return build_oom(b);
		c->n_listen = 2;
		c->listen[0].family = TURN_AF_INET;
		c->listen[1].family = TURN_AF_INET6;
	}
	for (size_t i = 0; i < c->n_listen; i++)
		c->listen[i].port = c->listening_port;
	return 0;
}

/* A list of strings, copied. */
static int build_strs(cfg_t *cfg, const char *name, char ***out, size_t *n_out,
		      const struct conf_build *b)
{
	unsigned n = cfg_size(cfg, name);

	*out = alloc_list(n, sizeof(**out));
	if (n && !*out)
		return build_oom(b);
	*n_out = n;
	for (unsigned i = 0; i < n; i++) {
		(*out)[i] = strdup(cfg_getnstr(cfg, name, i));
		if (!(*out)[i])
			return build_oom(b);
	}
	return 0;
}

/* Copy an optional string; NULL stays NULL, and so does "" when
 * empty_is_unset (software = "" sends no SOFTWARE attribute). */
static int build_str(const char *value, bool empty_is_unset, char **out, const struct conf_build *b)
{
	*out = NULL;
	if (!value || (empty_is_unset && value[0] == '\0'))
		return 0;
	*out = strdup(value);
	return *out ? 0 : build_oom(b);
}

/* Appends a user; key is used when password is NULL. The realm must be set
 * already: the key depends on it. Returns 0, or -1 without a message. */
static int user_append(struct conf *c, const char *name, size_t name_len, const char *password,
		       const uint8_t *key)
{
	struct conf_user *users, *u;

	for (size_t i = 0; i < c->n_users; i++)
		if (strlen(c->users[i].name) == name_len &&
		    memcmp(c->users[i].name, name, name_len) == 0)
			return -1;
	users = realloc(c->users, (c->n_users + 1) * sizeof(*users));
	if (!users)
		return -1;
	c->users = users;
	u = &users[c->n_users];
	memset(u, 0, sizeof(*u));
	u->name = strndup(name, name_len);
	u->password = password ? strdup(password) : NULL;
	if (!password)
		memcpy(u->key, key, sizeof(u->key));
	if (!u->name ||
	    (password && (!u->password || stun_key_md5(u->name, c->realm, password, u->key) < 0))) {
		free(u->name);
		free(u->password);
		return -1;
	}
	c->n_users++;
	return 0;
}

static int build_users(cfg_t *cfg, struct conf *c, const struct conf_build *b)
{
	unsigned n = cfg_size(cfg, "user");
	struct conf_user_entry e;
	char why[CONF_WHY_MAX];

	for (unsigned i = 0; i < n; i++) {
		if (conf_value_user(cfg_getnstr(cfg, "user", i), &e, why, sizeof(why)) < 0)
			return build_bad(b, "user", why);
		if (user_append(c, e.name, e.name_len, e.password, e.key) < 0)
			return set_err(b->err, b->errlen,
				       "%s: option 'user': cannot add user '%.*s'", b->name,
				       (int)e.name_len, e.name);
	}
	return 0;
}

static int build_redis(cfg_t *cfg, struct conf_redis *r, const struct conf_build *b)
{
	const char *name = cfg_getstr(cfg, "redis-tls-server-name");
	struct turn_addr a;
	char host[TURN_ADDR_STRLEN], ip[TURN_ADDR_STRLEN];

	r->enabled = cfg_getbool(cfg, "redis");
	r->tls = cfg_getbool(cfg, "redis-tls");
	r->port = (uint16_t)cfg_getint(cfg, "redis-port");
	r->db = (unsigned)cfg_getint(cfg, "redis-db");
	r->connect_timeout_ms = (unsigned)cfg_getint(cfg, "redis-connect-timeout");
	r->timeout_ms = (unsigned)cfg_getint(cfg, "redis-timeout");
	r->cache_size = (unsigned)cfg_getint(cfg, "redis-cache-size");
	r->cache_ttl_s = (unsigned)cfg_getint(cfg, "redis-cache-ttl");
	r->negative_ttl_s = (unsigned)cfg_getint(cfg, "redis-negative-ttl");
	r->cache_stale_s = (unsigned)cfg_getint(cfg, "redis-cache-stale");
	r->shared_quota = cfg_getbool(cfg, "redis-shared-quota");
	r->poll_interval_s = (unsigned)cfg_getint(cfg, "redis-poll-interval");
	r->events = cfg_getbool(cfg, "redis-events");
	r->events_max = (unsigned)cfg_getint(cfg, "redis-events-max");
	/* "[::1]" is taken as the file may write it; hiredis wants "::1". */
	if (conf_value_ip(cfg_getstr(cfg, "redis-host"), &a, NULL, 0) < 0)
		return build_bad(b, "redis-host", "not an IP address");
	turn_addr_format(&a, false, host, sizeof(host));
	/* An address is checked as one ("[::1]" as "::1"), a name as a name. */
	if (name && conf_value_ip(name, &a, NULL, 0) == 0)
		name = turn_addr_format(&a, false, ip, sizeof(ip));
	if (build_str(host, false, &r->host, b) < 0 ||
	    build_str(cfg_getstr(cfg, "redis-tls-ca"), false, &r->tls_ca, b) < 0 ||
	    build_str(cfg_getstr(cfg, "redis-tls-cert"), false, &r->tls_cert, b) < 0 ||
	    build_str(cfg_getstr(cfg, "redis-tls-key"), false, &r->tls_key, b) < 0 ||
	    build_str(name, false, &r->tls_server_name, b) < 0 ||
	    build_str(cfg_getstr(cfg, "redis-socket"), false, &r->socket, b) < 0 ||
	    build_str(cfg_getstr(cfg, "redis-user"), false, &r->user, b) < 0 ||
	    build_str(cfg_getstr(cfg, "redis-password"), false, &r->password, b) < 0 ||
	    build_str(cfg_getstr(cfg, "node-id"), false, &r->node_id, b) < 0)
		return -1;
	return 0;
}

static int build_auth_http(cfg_t *cfg, struct conf_auth_http *h, const struct conf_build *b)
{
	const char *url = cfg_getstr(cfg, "auth-url"), *path = NULL;
	char host[TURN_ADDR_STRLEN], why[CONF_WHY_MAX];
	struct turn_addr a;

	h->timeout_ms = (unsigned)cfg_getint(cfg, "auth-timeout");
	h->cache_ttl_s = (unsigned)cfg_getint(cfg, "auth-cache-ttl");
	h->negative_ttl_s = (unsigned)cfg_getint(cfg, "auth-negative-ttl");
	h->max_inflight = (unsigned)cfg_getint(cfg, "auth-max-inflight");
	if (!url)
		return 0;
	/* Checked as it was read (check_auth_url); again for the pieces. */
	if (conf_value_http_url(url, &a, &path, why, sizeof(why)) < 0)
		return build_bad(b, "auth-url", why);
	h->port = a.port;
	turn_addr_format(&a, false, host, sizeof(host));
	if (build_str(url, false, &h->url, b) < 0 || build_str(host, false, &h->host, b) < 0 ||
	    build_str(path ? path : "/", false, &h->path, b) < 0)
		return -1;
	return 0;
}

/* The TLS policy; each value was checked as it was read (conf_tls.h). */
static int build_tls(cfg_t *cfg, struct conf *c, const struct conf_build *b)
{
	char why[CONF_WHY_MAX];
	int required = 1;

	if (conf_tls_version(cfg_getstr(cfg, "tls-min-version"), &c->tls_min_version, why,
			     sizeof(why)) < 0)
		return build_bad(b, "tls-min-version", why);
	if (conf_tls_client_cert(cfg_getstr(cfg, "client-cert"), &required, why, sizeof(why)) < 0)
		return build_bad(b, "client-cert", why);
	c->client_cert_required = required;
	if (build_str(cfg_getstr(cfg, "cipher-list"), false, &c->cipher_list, b) < 0 ||
	    build_str(cfg_getstr(cfg, "ciphersuites"), false, &c->ciphersuites, b) < 0 ||
	    build_str(cfg_getstr(cfg, "ecdh-curves"), false, &c->ecdh_curves, b) < 0 ||
	    build_str(cfg_getstr(cfg, "ca-file"), false, &c->ca_file, b) < 0)
		return -1;
	return 0;
}

static void build_scalars(cfg_t *cfg, struct conf *c)
{
	c->listening_port = (uint16_t)cfg_getint(cfg, "listening-port");
	c->no_udp = cfg_getbool(cfg, "no-udp");
	c->no_tcp = cfg_getbool(cfg, "no-tcp");
	c->tls_listening_port = (uint16_t)cfg_getint(cfg, "tls-listening-port");
	c->alt_listening_port = (uint16_t)cfg_getint(cfg, "alt-listening-port");
	c->no_tls = cfg_getbool(cfg, "no-tls");
	c->no_dtls = cfg_getbool(cfg, "no-dtls");
	c->min_port = (uint16_t)cfg_getint(cfg, "min-port");
	c->max_port = (uint16_t)cfg_getint(cfg, "max-port");
	c->user_quota = (unsigned)cfg_getint(cfg, "user-quota");
	c->total_quota = (unsigned)cfg_getint(cfg, "total-quota");
	c->port_quarantine_s = (unsigned)cfg_getint(cfg, "relay-port-quarantine");
	c->max_bps = (uint64_t)cfg_getint(cfg, "max-bps");
	c->workers = (unsigned)cfg_getint(cfg, "relay-threads");
	c->rx_coalesce_us = (unsigned)cfg_getint(cfg, "rx-coalesce-us");
	c->kernel_offload = (enum conf_offload)conf_value_offload(cfg_getstr(cfg, "kernel-offload"));
	c->offload_max_entries = (unsigned)cfg_getint(cfg, "kernel-offload-max-entries");
	c->stun_only = cfg_getbool(cfg, "stun-only");
	c->stun_backward_compat = cfg_getbool(cfg, "stun-backward-compatibility");
	c->max_connections_per_ip = (unsigned)cfg_getint(cfg, "max-connections-per-ip");
	c->max_connections = (unsigned)cfg_getint(cfg, "max-connections");
	c->first_message_timeout_s = (unsigned)cfg_getint(cfg, "first-message-timeout");
	c->max_allocate_timeout_s = (unsigned)cfg_getint(cfg, "max-allocate-timeout");
	c->preauth_buffer = (unsigned)cfg_getint(cfg, "preauth-buffer");
	c->max_lifetime = (uint32_t)cfg_getint(cfg, "max-allocate-lifetime");
	c->max_permissions = (unsigned)cfg_getint(cfg, "max-permissions");
	c->max_channels = (unsigned)cfg_getint(cfg, "max-channels");
	c->max_tcp_connections = (unsigned)cfg_getint(cfg, "max-tcp-connections");
	c->legacy_channels = cfg_getbool(cfg, "legacy-channel-numbers");
	c->unauth_rate = (unsigned)cfg_getint(cfg, "unauth-rate");
	c->unauth_burst = (unsigned)cfg_getint(cfg, "unauth-burst");
	c->allow_own_peers = cfg_getbool(cfg, "allow-own-peers");
	c->shed_allocations = (unsigned)cfg_getint(cfg, "shed-allocations");
	c->shed_bps = (uint64_t)cfg_getint(cfg, "shed-bps");
	c->bps_capacity = (uint64_t)cfg_getint(cfg, "bps-capacity");
	c->user_max_bps = (uint64_t)cfg_getint(cfg, "user-max-bps");
	c->usage_linger_s = (unsigned)cfg_getint(cfg, "user-usage-linger");
	c->usage_interval_s = (unsigned)cfg_getint(cfg, "user-usage-interval");
	c->log_level = log_level_parse(cfg_getstr(cfg, "log-level"));
	c->syslog = cfg_getbool(cfg, "syslog");
}

static int build_service(cfg_t *cfg, struct conf *c, const struct conf_build *b)
{
	char why[CONF_WHY_MAX];

	if (conf_value_ip(cfg_getstr(cfg, "metrics-ip"), &c->metrics, why, sizeof(why)) < 0)
		return build_bad(b, "metrics-ip", why);
	c->metrics.port = (uint16_t)cfg_getint(cfg, "metrics-port");
	c->drain_timeout_s = (unsigned)cfg_getint(cfg, "drain-timeout");
	c->log_json = cfg_getbool(cfg, "log-json");
	if (build_str(cfg_getstr(cfg, "pid-file"), false, &c->pid_file, b) < 0 ||
	    build_str(cfg_getstr(cfg, "proc-user"), false, &c->proc_user, b) < 0 ||
	    build_str(cfg_getstr(cfg, "proc-group"), false, &c->proc_group, b) < 0 ||
	    build_str(cfg_getstr(cfg, "control-socket"), false, &c->control_socket, b) < 0)
		return -1;
	return 0;
}

/* Behind a load balancer: conf_proxy.c. */
static int build_proxy(cfg_t *cfg, struct conf *c, const struct conf_build *b)
{
	c->proxy_protocol = cfg_getbool(cfg, "proxy-protocol");
	if (build_ranges(cfg, "trusted-proxy", &c->trusted_proxies, &c->n_trusted_proxies, b) < 0)
		return -1;
	return build_str(cfg_getstr(cfg, "acme-redirect"), false, &c->acme_redirect, b);
}

static int build_conf(cfg_t *cfg, struct conf *c, const struct conf_build *b)
{
	build_scalars(cfg, c);
	if (build_listen(cfg, c, b) < 0 ||
	    build_listeners(cfg, "listener", &c->listeners, &c->n_listeners, b) < 0 ||
	    build_ips(cfg, "alt-listening-ip", &c->alt_listen, &c->n_alt_listen, b) < 0 ||
	    build_ips(cfg, "relay-ip", &c->relay, &c->n_relay, b) < 0 ||
	    build_servers(cfg, "alternate-server", &c->alternates, &c->n_alternates, b) < 0 ||
	    build_service(cfg, c, b) < 0 ||
	    build_externals(cfg, "external-ip", &c->external, &c->n_external, b) < 0 ||
	    build_str(cfg_getstr(cfg, "realm"), false, &c->realm, b) < 0 ||
	    build_users(cfg, c, b) < 0 || build_strs(cfg, "static-auth-secret", &c->secrets, &c->n_secrets, b) < 0 ||
	    build_strs(cfg, "kernel-offload-interfaces", &c->offload_ifnames,
		       &c->n_offload_ifnames, b) < 0 ||
	    build_ranges(cfg, "allowed-peer-ip", &c->allowed_peers, &c->n_allowed_peers, b) < 0 ||
	    build_ranges(cfg, "denied-peer-ip", &c->denied_peers, &c->n_denied_peers, b) < 0 ||
	    build_str(cfg_getstr(cfg, "cert"), false, &c->cert, b) < 0 ||
	    build_str(cfg_getstr(cfg, "pkey"), false, &c->pkey, b) < 0 ||
	    build_str(cfg_getstr(cfg, "software"), true, &c->software, b) < 0 ||
	    build_redis(cfg, &c->redis, b) < 0 || build_auth_http(cfg, &c->auth_http, b) < 0 ||
	    build_tls(cfg, c, b) < 0 ||
	    build_proxy(cfg, c, b) < 0)
		return -1;
	/* A getter that met an unknown name reported it through conf_errfunc:
	 * a mistake in this file, caught by the tests. */
	if (cfg->comment)
		return set_err(b->err, b->errlen, "%s", cfg->comment);
	return 0;
}

/* ---- Checks that involve two options, on the final values (overrides
 * included): no single line is at fault, so the file and both options are
 * named. ---- */

/* Whether the sockets of listening-ip and the TLS port take a's address
 * and port for the kinds (1 UDP, 2 TCP) in kinds. */
static bool default_listens(const struct conf *c, const struct turn_addr *a, unsigned kinds)
{
	bool tls_port = c->cert && c->tls_listening_port;

	for (size_t i = 0; i < c->n_listen; i++) {
		if (!turn_addr_ip_eq(&c->listen[i], a))
			continue;
		if (a->port == c->listening_port &&
		    (((kinds & 1) && !c->no_udp) || ((kinds & 2) && !c->no_tcp)))
			return true;
		if (tls_port && a->port == c->tls_listening_port &&
		    (((kinds & 1) && !c->no_dtls) || ((kinds & 2) && !c->no_tls)))
			return true;
	}
	return false;
}

/* listener: TLS and DTLS need the certificate, and none may take a socket
 * listening-ip or the TLS port already has. */
static int check_listeners(const struct conf *c, const struct conf_build *b)
{
	char text[TURN_ADDR_STRLEN];

	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct conf_listener *l = &c->listeners[i];

		turn_addr_format(&l->addr, true, text, sizeof(text));
		if ((l->transports & (CONF_LISTEN_TLS | CONF_LISTEN_DTLS)) && !c->cert)
			return set_err(b->err, b->errlen,
				       "%s: option 'listener' (%s) asks for TLS or DTLS without "
				       "options 'cert' and 'pkey'",
				       b->name, text);
		if (default_listens(c, &l->addr, conf_listen_kinds(l->transports)))
			return set_err(b->err, b->errlen,
				       "%s: option 'listener' (%s) is a port that option "
				       "'listening-ip' with 'listening-port' or 'tls-listening-port' "
				       "already listens on",
				       b->name, text);
	}
	return 0;
}

static int cross_check(const struct conf *c, const struct conf_build *b)
{
	if (c->min_port > c->max_port)
		return set_err(b->err, b->errlen,
			       "%s: option 'min-port' (%u) is greater than option 'max-port' (%u)",
			       b->name, (unsigned)c->min_port, (unsigned)c->max_port);
	if (!c->cert != !c->pkey)
		return set_err(b->err, b->errlen, "%s: option '%s' is given without option '%s'",
			       b->name, c->cert ? "cert" : "pkey", c->cert ? "pkey" : "cert");
	/* SO_REUSEPORT would let both bind, and the kernel would then deal
	 * plain and TLS clients to either socket. */
	if (conf_tls_port_used(c) && c->tls_listening_port == c->listening_port)
		return set_err(b->err, b->errlen,
			       "%s: option 'tls-listening-port' (%u) is the same as option "
			       "'listening-port'",
			       b->name, (unsigned)c->tls_listening_port);
	if (c->redis.user && !c->redis.password)
		return set_err(b->err, b->errlen,
			       "%s: option 'redis-user' is given without option 'redis-password'",
			       b->name);
	if (!c->redis.tls_cert != !c->redis.tls_key)
		return set_err(b->err, b->errlen, "%s: option '%s' is given without option '%s'",
			       b->name, c->redis.tls_cert ? "redis-tls-cert" : "redis-tls-key",
			       c->redis.tls_cert ? "redis-tls-key" : "redis-tls-cert");
	if (c->redis.tls && c->redis.socket)
		return set_err(b->err, b->errlen,
			       "%s: option 'redis-tls' is true with option 'redis-socket': Redis "
			       "has no TLS on its unix socket",
			       b->name);
	/* No TLS 1.3 suite and no TLS 1.2: no TLS handshake could succeed. */
	if (c->tls_min_version == CONF_TLS_1_3 && c->ciphersuites[0] == '\0')
		return set_err(b->err, b->errlen,
			       "%s: option 'tls-min-version' is 1.3 and option 'ciphersuites' is "
			       "empty: no TLS version would be left",
			       b->name);
	if (check_listeners(c, b) < 0)
		return -1;
	if (c->no_udp && c->no_tcp && c->n_listeners == 0)
		return set_err(
			b->err, b->errlen,
			"%s: options 'no-udp' and 'no-tcp' are both true: nothing would listen",
			b->name);
	return 0;
}

/* require-credentials: the sample file that packages install sets it, so
 * that a server installed and started before anyone configured it refuses
 * to run rather than answering every Allocate with 401 (RFC 8656 section
 * 5: TURN requests need a long-term credential). Any source counts: static users,
 * REST secrets, Redis, the HTTP hook; stun-only needs none. */
static int check_credentials(cfg_t *cfg, const struct conf *c, const struct conf_build *b)
{
	if (!cfg_getbool(cfg, "require-credentials") || c->stun_only || c->n_users ||
	    c->n_secrets || c->redis.enabled || c->auth_http.url)
		return 0;
	return set_err(b->err, b->errlen,
		       "%s: no credentials, and option 'require-credentials' is true: set option "
		       "'user' or 'static-auth-secret' (or 'redis = true', or 'auth-url'); or "
		       "'stun-only = true' for a STUN-only server",
		       b->name);
}

/* Overrides, conversion and cross checks; *out only on success. */
static int conf_finish(cfg_t *cfg, const struct conf_overrides *ov, struct conf **out,
		       const struct conf_build *b)
{
	struct conf *c;

	if (ov && apply_overrides(cfg, ov, b) < 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return build_oom(b);
	char why[CONF_WHY_MAX];
	if (build_str(b->path, false, &c->path, b) < 0 || build_conf(cfg, c, b) < 0 ||
	    cross_check(c, b) < 0 || check_credentials(cfg, c, b) < 0 ||
	    ((conf_nat_finish(c, why, sizeof(why)) < 0 ||
	      conf_proxy_finish(c, why, sizeof(why)) < 0) &&
	     set_err(b->err, b->errlen, "%s: %s", b->name, why) < 0)) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* Text as read from the file (comments and all) -> *out. */
static int conf_load_text(const char *text, size_t len, const struct conf_overrides *ov,
			  struct conf **out, const struct conf_build *b)
{
	char *clean;
	size_t clean_len;
	unsigned open_line;
	cfg_t *cfg;
	int rc;

	clean = conf_text_strip_comments(text, len, &clean_len, &open_line);
	if (!clean && open_line)
		return set_err(b->err, b->errlen, "%s:%u: unterminated /* comment", b->name,
			       open_line);
	if (!clean)
		return build_oom(b);
	cfg = conf_cfg_parse(clean, clean_len, b);
	free(clean);
	if (!cfg)
		return -1;
	rc = conf_finish(cfg, ov, out, b);
	cfg_free(cfg);
	return rc;
}

/* ------------------------------------------------------------------------
 * Public API.
 */

int conf_load(const char *path, const struct conf_overrides *ov, struct conf **out, char *err,
	      size_t errlen)
{
	struct conf_build b = {path ? path : DEFAULT_NAME, path, err, errlen};
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	if (!path)
		return conf_load_text("", 0, ov, out, &b);
	text = conf_text_read(path, &len);
	if (!text)
		return set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	rc = conf_load_text(text, len, ov, out, &b);
	free(text);
	return rc;
}

int conf_load_string(const char *text, const char *name, const struct conf_overrides *ov,
		     struct conf **out, char *err, size_t errlen)
{
	struct conf_build b = {name ? name : CONF_STRING_NAME, name, err, errlen};

	*out = NULL;
	if (!text)
		return set_err(err, errlen, "%s: no text", b.name);
	return conf_load_text(text, strlen(text), ov, out, &b);
}

int conf_add_user(struct conf *c, const char *name, const char *password)
{
	if (!c || !name || !password || !c->realm)
		return -1;
	if (conf_value_user_name(name, strlen(name), NULL, 0) < 0 ||
	    conf_value_password(password, NULL, 0) < 0)
		return -1;
	return user_append(c, name, strlen(name), password, NULL);
}

int conf_listeners_check(const struct conf *c, char *err, size_t errlen)
{
	struct conf_build b = {c->path ? c->path : DEFAULT_NAME, c->path, err, errlen};

	return check_listeners(c, &b);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_users; i++) {
		free(c->users[i].name);
		free(c->users[i].password);
	}
	for (size_t i = 0; i < c->n_secrets; i++)
		free(c->secrets[i]);
	free(c->users);
	free(c->secrets);
	for (size_t i = 0; i < c->n_offload_ifnames; i++)
		free(c->offload_ifnames[i]);
	free(c->offload_ifnames);
	free(c->path);
	free(c->listen);
	free(c->listeners);
	free(c->alt_listen);
	free(c->relay);
	free(c->alternates);
	free(c->external);
	free(c->realm);
	free(c->allowed_peers);
	free(c->denied_peers);
	free(c->cert);
	free(c->pkey);
	free(c->software);
	free(c->redis.host);
	free(c->redis.socket);
	free(c->redis.user);
	free(c->redis.node_id);
	free(c->pid_file);
	free(c->control_socket);
	free(c->proc_user);
	free(c->proc_group);
	free(c->redis.tls_ca);
	free(c->redis.tls_cert);
	free(c->redis.tls_key);
	free(c->redis.tls_server_name);
	if (c->redis.password)
		OPENSSL_cleanse(c->redis.password, strlen(c->redis.password));
	free(c->redis.password);
	free(c->auth_http.url);
	free(c->auth_http.host);
	free(c->auth_http.path);
	free(c->cipher_list);
	free(c->ciphersuites);
	free(c->ecdh_curves);
	free(c->ca_file);
	free(c->trusted_proxies);
	free(c->acme_redirect);
	free(c);
}
