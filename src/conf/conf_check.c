/*
 * The callbacks libconfuse calls while it parses (conf_check.h): readers
 * of the numbers and booleans it reads itself, and the value checks that
 * run as each value is stored, so that an error carries the file and
 * line. The option table that names them is in conf.c; the grammar of
 * single values in conf_value.c.
 */
#include "conf/conf_check.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_tls.h"
#include "conf/conf_proxy.h"
#include "conf/conf_value.h"
#include "util/log.h"

#define MAX_RELAY_THREADS 64

/* "option 'min-port': 70000 is not a port (1-65535)", through cfg_error so
 * conf_errfunc (conf.c) adds file and line. Returns -1 for the callbacks. */
__attribute__((format(printf, 3, 4))) static int opt_error(cfg_t *cfg, cfg_opt_t *opt,
							   const char *fmt, ...)
{
	char why[CONF_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	cfg_error(cfg, "option '%s': %s", cfg_opt_name(opt), why);
	return -1;
}

/* ------------------------------------------------------------------------
 * Parse callbacks: text -> value, for the types libconfuse reads itself.
 */

/* Decimal only: libconfuse's own reader takes "010" as octal 8, and tests
 * errno for ERANGE without clearing it first. */
int conf_cb_int(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (end == value || *end != '\0')
		return opt_error(cfg, opt, "'%s' is not a whole number", value);
	if (errno == ERANGE)
		return opt_error(cfg, opt, "'%s' is out of range", value);
	*(long *)result = v;
	return 0;
}

/* The words libconfuse accepts (true/false, yes/no, on/off), with an error
 * in our format. */
int conf_cb_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	int b = cfg_parse_boolean(value);

	if (b < 0)
		return opt_error(cfg, opt, "'%s' is not a boolean (true/false, yes/no, on/off)",
				 value);
	*(int *)result = b;
	return 0;
}

/* ------------------------------------------------------------------------
 * Validation callbacks. libconfuse calls them right after it stores a value
 * (cfg->line is then the value's line), and for a list after each element
 * and once more at the closing brace: so list checks look at the last
 * element only, and the repeat at the brace re-checks one that passed.
 */

static const struct int_limit {
	const char *name;
	const char *noun;
	long min;
	long max;
} int_limits[] = {
	{"listening-port", "a port", 1, 65535},
	{"tls-listening-port", "a port, or 0 for none", 0, 65535},
	{"alt-listening-port", "a port, or 0 for listening-port + 1", 0, 65535},
	{"min-port", "a port", 1, 65535},
	{"max-port", "a port", 1, 65535},
	{"user-quota", "a quota", 0, INT_MAX},
	{"total-quota", "a quota", 0, INT_MAX},
	{"relay-port-quarantine", "a time in seconds (0-3600)", 0, 3600},
	{"max-bps", "a rate in bytes per second", 0, LONG_MAX},
	{"relay-threads", "a thread count", 0, MAX_RELAY_THREADS},
	{"kernel-offload-max-entries", "a channel count", 1, 16777216},
	{"rx-coalesce-us", "a time in microseconds", 0, 1000},
	{"max-allocate-lifetime", "a lifetime in seconds (600-86400)", 600, 86400},
	{"max-permissions", "a count", 0, 65535},
	{"max-channels", "a count", 0, 4096},
	{"max-tcp-connections", "a count", 0, 65535},
	/* Client connections (net/conn_gate.c). */
	{"max-connections-per-ip", "a connection count (0: no cap)", 0, 1000000},
	{"max-connections", "a connection count (0: no cap)", 0, 10000000},
	{"first-message-timeout", "a time in seconds", 1, 300},
	{"max-allocate-timeout", "a time in seconds", 1, 3600},
	/* At least a 548-byte STUN message (RFC 8489 section 6.1), at most a
	 * whole frame: 64 KiB of ChannelData and its 4-byte header. */
	{"preauth-buffer", "a size in bytes", 548, 65540},
	{"shed-allocations", "a count", 0, INT_MAX},
	{"shed-bps", "a rate in bytes per second", 0, LONG_MAX},
	{"metrics-port", "a port (0: off)", 0, 65535},
	{"drain-timeout", "a time in seconds", 1, 604800},
	{"redis-poll-interval", "a time in seconds", 1, 3600},
	{"redis-events-max", "an entry count", 1000, 100000000},
	{"redis-port", "a port", 1, 65535},
	{"redis-db", "a database number", 0, INT_MAX},
	/* Bandwidth capacity and per-user usage (util/bw_share.h's cap). */
	{"bps-capacity", "a rate in bytes per second (0: no cap)", 0, 1099511627776L},
	{"user-max-bps", "a rate in bytes per second (0: no cap)", 0, 1099511627776L},
	{"user-usage-linger", "a time in seconds (0-604800)", 0, 604800},
	{"user-usage-interval", "a time in seconds (0: never)", 0, 86400},
	{"redis-connect-timeout", "a time in milliseconds", 1, 60000},
	{"redis-timeout", "a time in milliseconds", 1, 60000},
	/* At least AUTH_REDIS_CACHE_MIN (auth.h), which conf does not see. */
	{"redis-cache-size", "an entry count", 16, 10000000},
	{"redis-cache-ttl", "a time in seconds", 1, 86400},
	{"redis-negative-ttl", "a time in seconds", 1, 86400},
	{"redis-cache-stale", "a time in seconds", 0, 86400},
	/* The HTTP authorization hook. */
	{"auth-timeout", "a time in milliseconds", 1, 60000},
	{"auth-cache-ttl", "a time in seconds", 1, 86400},
	{"auth-negative-ttl", "a time in seconds", 1, 86400},
	{"auth-max-inflight", "a request count", 1, 4096},
	/* RATE_LIMIT_MAX (util/ratelimit.h). */
	{"unauth-rate", "a rate in answers per second (0: off)", 0, 1000000},
	{"unauth-burst", "a count of answers", 1, 1000000},
};

int conf_check_int(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	for (size_t i = 0; i < sizeof(int_limits) / sizeof(int_limits[0]); i++) {
		const struct int_limit *l = &int_limits[i];

		if (strcmp(l->name, cfg_opt_name(opt)) != 0)
			continue;
		if (v < l->min || v > l->max)
			return opt_error(cfg, opt, "%ld is not %s (%ld-%ld)", v, l->noun, l->min,
					 l->max);
		return 0;
	}
	return 0;
}

/* The element just stored, or NULL for an empty list ("x = {}"). */
static const char *last_str(cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	return n ? cfg_opt_getnstr(opt, n - 1) : NULL;
}

/* One validator per value syntax: parse the element just stored, and
 * report why it is wrong with the file and line libconfuse knows. */
#define VALUE_CHECK(name, parse, type)                                          \
	static int name(cfg_t *cfg, cfg_opt_t *opt)                             \
	{                                                                       \
		const char *text = last_str(opt);                               \
		type value;                                                     \
		char why[CONF_WHY_MAX];                                         \
									\
		if (text && parse(text, &value, why, sizeof(why)) < 0)          \
			return opt_error(cfg, opt, "%s", why);                  \
		return 0;                                                       \
	}

VALUE_CHECK(check_ip, conf_value_ip, struct turn_addr)
VALUE_CHECK(check_server, conf_value_server, struct turn_addr)
VALUE_CHECK(check_external, conf_value_external, struct conf_external)
VALUE_CHECK(check_range, conf_value_range, struct conf_range)
VALUE_CHECK(check_listener_value, conf_value_listener, struct conf_listener)
VALUE_CHECK(check_acme_url, conf_proxy_url, const char *)

/* Kinds of socket per listener and per address: conf_check.h. */
static int check_listener(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct conf_listener a, b;

	if (n == 0)
		return 0;
	if (check_listener_value(cfg, opt) < 0)
		return -1;
	conf_value_listener(cfg_opt_getnstr(opt, n - 1), &a, NULL, 0);
	/* tcp and tls share one socket, told apart by the first byte
	 * (net/tcp_preface.c); a datagram carries no such sign. */
	if ((a.transports & CONF_LISTEN_UDP_KIND) == CONF_LISTEN_UDP_KIND)
		return opt_error(cfg, opt, "'%s': udp and dtls would need one socket each on one "
				 "port; use two ports",
				 cfg_opt_getnstr(opt, n - 1));
	for (unsigned i = 0; i + 1 < n; i++)
		if (conf_value_listener(cfg_opt_getnstr(opt, i), &b, NULL, 0) == 0 &&
		    turn_addr_eq(&a.addr, &b.addr) &&
		    (conf_listen_kinds(a.transports) & conf_listen_kinds(b.transports)))
			return opt_error(cfg, opt, "'%s' listens where '%s' already does",
					 cfg_opt_getnstr(opt, n - 1), cfg_opt_getnstr(opt, i));
	return 0;
}

/* Two sockets on one address and port cannot both bind: refuse the
 * duplicate here, where the line is known, not at bind time. */
int conf_check_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct turn_addr a, b;

	if (n == 0)
		return 0;
	if (check_ip(cfg, opt) < 0)
		return -1;
	conf_value_ip(cfg_opt_getnstr(opt, n - 1), &a, NULL, 0);
	for (unsigned i = 0; i + 1 < n; i++) {
		if (conf_value_ip(cfg_opt_getnstr(opt, i), &b, NULL, 0) == 0 &&
		    turn_addr_ip_eq(&a, &b))
			return opt_error(cfg, opt, "'%s' is given twice",
					 cfg_opt_getnstr(opt, n - 1));
	}
	return 0;
}

/* RFC 5780 discovery answers from a second address of the server's own:
 * not a wildcard, and one per family so that the other address of each
 * pair is known. */
static int check_alt_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct turn_addr a, b;

	if (n == 0)
		return 0;
	if (check_ip(cfg, opt) < 0)
		return -1;
	conf_value_ip(cfg_opt_getnstr(opt, n - 1), &a, NULL, 0);
	if (turn_addr_is_any(&a))
		return opt_error(cfg, opt, "'%s' is a wildcard, not a second address",
				 cfg_opt_getnstr(opt, n - 1));
	for (unsigned i = 0; i + 1 < n; i++)
		if (conf_value_ip(cfg_opt_getnstr(opt, i), &b, NULL, 0) == 0 &&
		    b.family == a.family)
			return opt_error(cfg, opt, "'%s' is a second IPv%u address (one per family)",
					 cfg_opt_getnstr(opt, n - 1), a.family == TURN_AF_INET ? 4 : 6);
	return 0;
}

/* A second entry for one name would leave it to chance which key is used.
 * Earlier entries have passed, so only their names are compared: parsing
 * them again would run SASLprep n^2 times for n users. */
static int check_user(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct conf_user_entry u;
	char why[CONF_WHY_MAX];

	if (n == 0)
		return 0;
	if (conf_value_user(cfg_opt_getnstr(opt, n - 1), &u, why, sizeof(why)) < 0)
		return opt_error(cfg, opt, "%s", why);
	for (unsigned i = 0; i + 1 < n; i++) {
		const char *other = cfg_opt_getnstr(opt, i);

		if (strncmp(other, u.name, u.name_len) == 0 && other[u.name_len] == ':')
			return opt_error(cfg, opt, "user '%.*s' is given twice", (int)u.name_len,
					 u.name);
	}
	return 0;
}

static int check_secret(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = last_str(opt);

	if (text && text[0] == '\0')
		return opt_error(cfg, opt, "a secret is empty");
	return 0;
}

static int check_realm(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[CONF_WHY_MAX];

	if (conf_value_text(cfg_opt_getnstr(opt, 0), false, why, sizeof(why)) < 0)
		return opt_error(cfg, opt, "%s", why);
	return 0;
}

static int check_software(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[CONF_WHY_MAX];

	if (conf_value_text(cfg_opt_getnstr(opt, 0), true, why, sizeof(why)) < 0)
		return opt_error(cfg, opt, "%s", why);
	return 0;
}

static int check_path(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnstr(opt, 0)[0] == '\0')
		return opt_error(cfg, opt, "the path is empty");
	return 0;
}

/* control-socket: "" (off) or an absolute path that fits a unix socket's
 * address (108 bytes with its NUL, unix(7)). Never a network address. */
static int check_control_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *p = cfg_opt_getnstr(opt, 0);

	if (p[0] && (p[0] != '/' || strlen(p) > 107))
		return opt_error(cfg, opt, "'%.80s' is not an absolute path of at most 107 bytes "
				 "(or \"\" for none)", p);
	return 0;
}

/* A build without hiredis has no Redis backend: say so instead of
 * starting without the users the operator expects. */
static int check_redis(cfg_t *cfg, cfg_opt_t *opt)
{
#ifndef HAVE_HIREDIS
	if (cfg_opt_getnbool(opt, 0))
		return opt_error(cfg, opt,
				 "this turnd was built without Redis support (--without-hiredis)");
#else
	(void)cfg;
	(void)opt;
#endif
	return 0;
}

/* hiredis resolves a host name with a blocking getaddrinfo on the event
 * loop, so only an address is taken. */
static int check_redis_host(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = cfg_opt_getnstr(opt, 0);
	struct turn_addr a;

	if (conf_value_ip(text, &a, NULL, 0) < 0)
		return opt_error(cfg, opt, "'%s' is not an IP address (host names are not taken)",
				 text);
	return 0;
}

static int check_auth_url(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *path = NULL;
	char why[CONF_WHY_MAX];
	struct turn_addr a;

	if (conf_value_http_url(cfg_opt_getnstr(opt, 0), &a, &path, why, sizeof(why)) < 0)
		return opt_error(cfg, opt, "%s", why);
	return 0;
}

/* What the Redis server's certificate must name: an IP address or a DNS
 * name (letters, digits, '-', '.'; RFC 1123 section 2.1). */
static int check_server_name(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = cfg_opt_getnstr(opt, 0);
	size_t n = strlen(text);
	struct turn_addr a;

	if (conf_value_ip(text, &a, NULL, 0) == 0)
		return 0;
	if (n == 0 || n > 253 || text[0] == '.' || text[0] == '-' ||
	    strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != n)
		return opt_error(cfg, opt, "'%.80s' is not an IP address or a DNS name", text);
	return 0;
}

/* Never echoes the value: it may be the password. */
static int check_not_empty(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnstr(opt, 0)[0] == '\0')
		return opt_error(cfg, opt, "the value is empty");
	return 0;
}

/* A node id names this server in Redis (hash fields, a key): short, and
 * of characters that read the same in any log or key. */
static int check_node_id(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = cfg_opt_getnstr(opt, 0);
	size_t n = strlen(text);

	if (n == 0 || n > CONF_NODE_ID_MAX ||
	    strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != n)
		return opt_error(cfg, opt,
				 "'%.80s' is not a node id (1-%d letters, digits, '.', '_', ':', '-')",
				 text, CONF_NODE_ID_MAX);
	return 0;
}

static int check_log_level(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = cfg_opt_getnstr(opt, 0);

	if (log_level_parse(text) < 0)
		return opt_error(cfg, opt,
				 "'%s' is not a log level (error, warn, notice, info, debug)",
				 text);
	return 0;
}

static int check_offload(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = cfg_opt_getnstr(opt, 0);

	if (conf_value_offload(text) < 0)
		return opt_error(cfg, opt, "'%.80s' is not auto, on or off", text);
	return 0;
}

/* An interface name as the kernel takes it (IFNAMSIZ, no '/' nor blank). */
static int check_ifname(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *text = last_str(opt);
	size_t n = text ? strlen(text) : 0;

	if (!text)
		return 0; /* an empty list */
	if (n == 0 || n > CONF_IFNAME_MAX || strcspn(text, "/: \t") != n)
		return opt_error(cfg, opt, "'%.80s' is not an interface name (1-%d characters, "
				 "no '/', ':' or blank)", text, CONF_IFNAME_MAX);
	return 0;
}

/* The TLS policy (conf_tls.h): each value as OpenSSL will take it. */
static int check_tls_min_version(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[CONF_WHY_MAX];
	unsigned v;

	if (conf_tls_version(cfg_opt_getnstr(opt, 0), &v, why, sizeof(why)) < 0)
		return opt_error(cfg, opt, "%s", why);
	return 0;
}

static int check_client_cert(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[CONF_WHY_MAX];
	int required;

	if (conf_tls_client_cert(cfg_opt_getnstr(opt, 0), &required, why, sizeof(why)) < 0)
		return opt_error(cfg, opt, "%s", why);
	return 0;
}

#define TLS_CHECK(name, check)                                                  \
	static int name(cfg_t *cfg, cfg_opt_t *opt)                             \
	{                                                                       \
		char why[CONF_WHY_MAX];                                         \
									\
		if (check(cfg_opt_getnstr(opt, 0), why, sizeof(why)) < 0)       \
			return opt_error(cfg, opt, "%s", why);                  \
		return 0;                                                       \
	}

TLS_CHECK(check_cipher_list, conf_tls_cipher_list)
TLS_CHECK(check_ciphersuites, conf_tls_ciphersuites)
TLS_CHECK(check_ecdh_curves, conf_tls_groups)

static const struct {
	const char *name;
	cfg_validate_callback_t check;
} validators[] = {
	{"listening-ip", conf_check_listen},
	{"listening-port", conf_check_int},
	{"tls-listening-port", conf_check_int},
	{"listener", check_listener},
	{"alt-listening-ip", check_alt_listen},
	{"alt-listening-port", conf_check_int},
	{"relay-ip", check_ip},
	{"alternate-server", check_server},
	{"shed-allocations", conf_check_int},
	{"shed-bps", conf_check_int},
	{"bps-capacity", conf_check_int},
	{"user-max-bps", conf_check_int},
	{"user-usage-linger", conf_check_int},
	{"user-usage-interval", conf_check_int},
	{"metrics-port", conf_check_int},
	{"drain-timeout", conf_check_int},
	{"pid-file", check_path},
	{"proc-user", check_not_empty},
	{"proc-group", check_not_empty},
	{"control-socket", check_control_socket},
	{"metrics-ip", check_ip},
	{"external-ip", check_external},
	{"min-port", conf_check_int},
	{"max-port", conf_check_int},
	{"realm", check_realm},
	{"user", check_user},
	{"static-auth-secret", check_secret},
	{"allowed-peer-ip", check_range},
	{"denied-peer-ip", check_range},
	{"user-quota", conf_check_int},
	{"total-quota", conf_check_int},
	{"relay-port-quarantine", conf_check_int},
	{"max-bps", conf_check_int},
	{"cert", check_path},
	{"pkey", check_path},
	{"relay-threads", conf_check_int},
	{"kernel-offload", check_offload},
	{"kernel-offload-interfaces", check_ifname},
	{"kernel-offload-max-entries", conf_check_int},
	{"rx-coalesce-us", conf_check_int},
	{"max-connections-per-ip", conf_check_int},
	{"max-connections", conf_check_int},
	{"first-message-timeout", conf_check_int},
	{"max-allocate-timeout", conf_check_int},
	{"preauth-buffer", conf_check_int},
	{"max-allocate-lifetime", conf_check_int},
	{"max-permissions", conf_check_int},
	{"max-channels", conf_check_int},
	{"max-tcp-connections", conf_check_int},
	{"unauth-rate", conf_check_int},
	{"unauth-burst", conf_check_int},
	{"software", check_software},
	{"log-level", check_log_level},
	{"redis", check_redis},
	{"redis-host", check_redis_host},
	{"redis-port", conf_check_int},
	{"redis-socket", check_path},
	{"redis-db", conf_check_int},
	{"redis-user", check_not_empty},
	{"redis-password", check_not_empty},
	{"redis-tls-ca", check_path},
	{"redis-tls-cert", check_path},
	{"redis-tls-key", check_path},
	{"redis-tls-server-name", check_server_name},
	{"redis-connect-timeout", conf_check_int},
	{"redis-timeout", conf_check_int},
	{"redis-cache-size", conf_check_int},
	{"redis-cache-ttl", conf_check_int},
	{"redis-negative-ttl", conf_check_int},
	{"redis-cache-stale", conf_check_int},
	{"redis-poll-interval", conf_check_int},
	{"redis-events-max", conf_check_int},
	{"node-id", check_node_id},
	{"auth-url", check_auth_url},
	{"trusted-proxy", check_range},
	{"acme-redirect", check_acme_url},
	{"auth-timeout", conf_check_int},
	{"auth-cache-ttl", conf_check_int},
	{"auth-negative-ttl", conf_check_int},
	{"auth-max-inflight", conf_check_int},
	/* The TLS policy. */
	{"tls-min-version", check_tls_min_version},
	{"cipher-list", check_cipher_list},
	{"ciphersuites", check_ciphersuites},
	{"ecdh-curves", check_ecdh_curves},
	{"ca-file", check_path},
	{"client-cert", check_client_cert},
};

void conf_check_install(cfg_t *cfg)
{
	for (size_t i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
		cfg_set_validate_func(cfg, validators[i].name, validators[i].check);
}
