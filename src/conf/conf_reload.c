/*
 * Reload: which options a new snapshot may change, and the running values
 * it keeps for the others (conf_reload.h).
 */
#include "conf/conf_reload.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "stun/integrity.h"

static void note(const char **list, size_t *n, const char *name)
{
	if (*n < CONF_RELOAD_NAMES_MAX)
		list[(*n)++] = name;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* *dst becomes a copy of src (NULL stays NULL). */
static int pin_str(char **dst, const char *src)
{
	char *copy = src ? strdup(src) : NULL;

	if (src && !copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

/* *dst becomes a copy of the n elements of src. */
static int pin_array(void **dst, size_t *dst_n, const void *src, size_t n, size_t size)
{
	void *copy = n ? calloc(n, size) : NULL;

	if (n && !copy)
		return -1;
	if (n)
		memcpy(copy, src, n * size);
	free(*dst);
	*dst = copy;
	*dst_n = n;
	return 0;
}

static bool addrs_eq(const struct turn_addr *a, size_t na, const struct turn_addr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!turn_addr_eq(&a[i], &b[i]))
			return false;
	return true;
}

static bool externals_eq(const struct conf *a, const struct conf *b)
{
	if (a->n_external != b->n_external)
		return false;
	for (size_t i = 0; i < a->n_external; i++)
		if (!turn_addr_eq(&a->external[i].public_ip, &b->external[i].public_ip) ||
		    !turn_addr_eq(&a->external[i].private_ip, &b->external[i].private_ip) ||
		    a->external[i].auto_stun != b->external[i].auto_stun ||
		    a->external[i].stun_port != b->external[i].stun_port ||
		    strcmp(a->external[i].stun_host, b->external[i].stun_host) != 0)
			return false;
	return true;
}

static bool listeners_eq(const struct conf *a, const struct conf *b)
{
	if (a->n_listeners != b->n_listeners)
		return false;
	for (size_t i = 0; i < a->n_listeners; i++)
		if (!turn_addr_eq(&a->listeners[i].addr, &b->listeners[i].addr) ||
		    a->listeners[i].transports != b->listeners[i].transports)
			return false;
	return true;
}

static bool ranges_eq(const struct conf_range *a, size_t na, const struct conf_range *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!turn_addr_eq(&a[i].lo, &b[i].lo) || !turn_addr_eq(&a[i].hi, &b[i].hi))
			return false;
	return true;
}

static bool users_eq(const struct conf *a, const struct conf *b)
{
	if (a->n_users != b->n_users)
		return false;
	for (size_t i = 0; i < a->n_users; i++)
		if (!str_eq(a->users[i].name, b->users[i].name) ||
		    !str_eq(a->users[i].password, b->users[i].password) ||
		    CRYPTO_memcmp(a->users[i].key, b->users[i].key, sizeof(a->users[i].key)) != 0)
			return false;
	return true;
}

static bool strs_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool secrets_eq(const struct conf *a, const struct conf *b)
{
	return strs_eq(a->secrets, a->n_secrets, b->secrets, b->n_secrets);
}

static bool redis_eq(const struct conf_redis *a, const struct conf_redis *b)
{
	return a->enabled == b->enabled && str_eq(a->host, b->host) && a->port == b->port &&
	       str_eq(a->socket, b->socket) && a->db == b->db && str_eq(a->user, b->user) &&
	       str_eq(a->password, b->password) && a->tls == b->tls &&
	       str_eq(a->tls_ca, b->tls_ca) && str_eq(a->tls_cert, b->tls_cert) &&
	       str_eq(a->tls_key, b->tls_key) && str_eq(a->tls_server_name, b->tls_server_name) &&
	       a->connect_timeout_ms == b->connect_timeout_ms && a->timeout_ms == b->timeout_ms &&
	       a->cache_size == b->cache_size && a->cache_ttl_s == b->cache_ttl_s &&
	       a->negative_ttl_s == b->negative_ttl_s && a->cache_stale_s == b->cache_stale_s &&
	       a->shared_quota == b->shared_quota && a->poll_interval_s == b->poll_interval_s &&
	       a->events == b->events && a->events_max == b->events_max &&
	       str_eq(a->node_id, b->node_id);
}

static void redis_strings_free(struct conf_redis *r)
{
	if (r->password)
		OPENSSL_cleanse(r->password, strlen(r->password));
	free(r->host);
	free(r->socket);
	free(r->user);
	free(r->password);
	free(r->tls_ca);
	free(r->tls_cert);
	free(r->tls_key);
	free(r->tls_server_name);
	free(r->node_id);
}

/* The Redis connection lives in every worker's credential chain: all of
 * its options stay as they are. */
static int pin_redis(struct conf_redis *dst, const struct conf_redis *src)
{
	struct conf_redis r = *src;

	r.host = r.socket = r.user = r.password = NULL;
	r.tls_ca = r.tls_cert = r.tls_key = r.tls_server_name = r.node_id = NULL;
	if (pin_str(&r.host, src->host) < 0 || pin_str(&r.socket, src->socket) < 0 ||
	    pin_str(&r.user, src->user) < 0 || pin_str(&r.password, src->password) < 0 ||
	    pin_str(&r.tls_ca, src->tls_ca) < 0 || pin_str(&r.tls_cert, src->tls_cert) < 0 ||
	    pin_str(&r.tls_key, src->tls_key) < 0 ||
	    pin_str(&r.tls_server_name, src->tls_server_name) < 0 ||
	    pin_str(&r.node_id, src->node_id) < 0) {
		redis_strings_free(&r);
		return -1;
	}
	redis_strings_free(dst);
	*dst = r;
	return 0;
}

/* The HTTP hook lives in every worker's credential chain, as Redis does:
 * its options stay as they are until a restart. */
static bool auth_http_eq(const struct conf_auth_http *a, const struct conf_auth_http *b)
{
	return str_eq(a->url, b->url) && a->timeout_ms == b->timeout_ms &&
	       a->cache_ttl_s == b->cache_ttl_s && a->negative_ttl_s == b->negative_ttl_s &&
	       a->max_inflight == b->max_inflight;
}

static int pin_auth_http(struct conf_auth_http *dst, const struct conf_auth_http *src)
{
	struct conf_auth_http h = *src;

	h.url = h.host = h.path = NULL;
	if (pin_str(&h.url, src->url) < 0 || pin_str(&h.host, src->host) < 0 ||
	    pin_str(&h.path, src->path) < 0) {
		free(h.url);
		free(h.host);
		free(h.path);
		return -1;
	}
	free(dst->url);
	free(dst->host);
	free(dst->path);
	*dst = h;
	return 0;
}

/* The realm is part of every user's key (RFC 8489 section 9.2.2). */
static int pin_realm(struct conf *next, const struct conf *running)
{
	if (pin_str(&next->realm, running->realm) < 0)
		return -1;
	for (size_t i = 0; i < next->n_users; i++) {
		struct conf_user *u = &next->users[i];
		if (u->password && stun_key_md5(u->name, next->realm, u->password, u->key) < 0)
			return -1;
	}
	return 0;
}

#define PIN_SCALAR(field, name)                                                                    \
	do {                                                                                       \
		if (next->field != running->field) {                                               \
			note(d->restart, &d->n_restart, name);                                     \
			next->field = running->field;                                              \
		}                                                                                  \
	} while (0)

/* Sockets, threads and the protocol core's fixed settings. */
static int pin_network(struct conf *next, const struct conf *running, struct conf_reload_diff *d)
{
	if (!addrs_eq(next->listen, next->n_listen, running->listen, running->n_listen)) {
		note(d->restart, &d->n_restart, "listening-ip");
		if (pin_array((void **)&next->listen, &next->n_listen, running->listen,
			      running->n_listen, sizeof(*running->listen)) < 0)
			return -1;
	}
	if (!addrs_eq(next->alt_listen, next->n_alt_listen, running->alt_listen,
		      running->n_alt_listen)) {
		note(d->restart, &d->n_restart, "alt-listening-ip");
		if (pin_array((void **)&next->alt_listen, &next->n_alt_listen, running->alt_listen,
			      running->n_alt_listen, sizeof(*running->alt_listen)) < 0)
			return -1;
	}
	PIN_SCALAR(alt_listening_port, "alt-listening-port");
	if (!addrs_eq(next->relay, next->n_relay, running->relay, running->n_relay)) {
		note(d->restart, &d->n_restart, "relay-ip");
		if (pin_array((void **)&next->relay, &next->n_relay, running->relay,
			      running->n_relay, sizeof(*running->relay)) < 0)
			return -1;
	}
	if (!externals_eq(next, running)) {
		note(d->restart, &d->n_restart, "external-ip");
		if (pin_array((void **)&next->external, &next->n_external, running->external,
			      running->n_external, sizeof(*running->external)) < 0)
			return -1;
	}
	if (!addrs_eq(next->alternates, next->n_alternates, running->alternates,
		      running->n_alternates)) {
		note(d->restart, &d->n_restart, "alternate-server");
		if (pin_array((void **)&next->alternates, &next->n_alternates, running->alternates,
			      running->n_alternates, sizeof(*running->alternates)) < 0)
			return -1;
	}
	if (!turn_addr_ip_eq(&next->metrics, &running->metrics) ||
	    next->metrics.port != running->metrics.port) {
		note(d->restart, &d->n_restart,
		     next->metrics.port != running->metrics.port ? "metrics-port" : "metrics-ip");
		next->metrics = running->metrics;
	}
	PIN_SCALAR(listening_port, "listening-port");
	PIN_SCALAR(no_udp, "no-udp");
	PIN_SCALAR(no_tcp, "no-tcp");
	PIN_SCALAR(min_port, "min-port");
	PIN_SCALAR(max_port, "max-port");
	PIN_SCALAR(port_quarantine_s, "relay-port-quarantine"); /* the pool's, read at start */
	PIN_SCALAR(tls_listening_port, "tls-listening-port");
	PIN_SCALAR(no_tls, "no-tls");
	PIN_SCALAR(no_dtls, "no-dtls");
	PIN_SCALAR(workers, "relay-threads");
	PIN_SCALAR(stun_only, "stun-only");
	PIN_SCALAR(stun_backward_compat, "stun-backward-compatibility");
	PIN_SCALAR(legacy_channels, "legacy-channel-numbers");
	return 0;
}

/* The kernel fast path is loaded and attached at start, before the
 * privileges that load it are dropped: none of its options can change. */
static int pin_offload(struct conf *next, const struct conf *running, struct conf_reload_diff *d)
{
	PIN_SCALAR(kernel_offload, "kernel-offload");
	PIN_SCALAR(offload_max_entries, "kernel-offload-max-entries");
	if (strs_eq(next->offload_ifnames, next->n_offload_ifnames, running->offload_ifnames,
		    running->n_offload_ifnames))
		return 0;
	note(d->restart, &d->n_restart, "kernel-offload-interfaces");
	char **copy = running->n_offload_ifnames
			      ? calloc(running->n_offload_ifnames, sizeof(*copy))
			      : NULL;
	if (running->n_offload_ifnames && !copy)
		return -1;
	for (size_t i = 0; i < running->n_offload_ifnames; i++)
		if (pin_str(&copy[i], running->offload_ifnames[i]) < 0) {
			while (i--)
				free(copy[i]);
			free(copy);
			return -1;
		}
	for (size_t i = 0; i < next->n_offload_ifnames; i++)
		free(next->offload_ifnames[i]);
	free(next->offload_ifnames);
	next->offload_ifnames = copy;
	next->n_offload_ifnames = running->n_offload_ifnames;
	return 0;
}

/* The process: files written at start, identity, where logs go. */
static int pin_process(struct conf *next, const struct conf *running, struct conf_reload_diff *d)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{"software", offsetof(struct conf, software)},
		{"pid-file", offsetof(struct conf, pid_file)},
		{"proc-user", offsetof(struct conf, proc_user)},
		{"proc-group", offsetof(struct conf, proc_group)},
		{"control-socket", offsetof(struct conf, control_socket)},
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char **dst = (char **)((char *)next + strs[i].off);
		char *const *src = (char *const *)((const char *)running + strs[i].off);
		if (str_eq(*dst, *src))
			continue;
		note(d->restart, &d->n_restart, strs[i].name);
		if (pin_str(dst, *src) < 0)
			return -1;
	}
	PIN_SCALAR(syslog, "syslog");
	PIN_SCALAR(log_json, "log-json");
	/* TLS listeners exist only when a certificate was given at start:
	 * the files may change, having one or not may not. */
	if (!next->cert != !running->cert) {
		note(d->restart, &d->n_restart, "cert");
		if (pin_str(&next->cert, running->cert) < 0 ||
		    pin_str(&next->pkey, running->pkey) < 0)
			return -1;
	}
	if (!str_eq(next->realm, running->realm)) {
		note(d->restart, &d->n_restart, "realm");
		if (pin_realm(next, running) < 0)
			return -1;
	}
	if (!redis_eq(&next->redis, &running->redis)) {
		note(d->restart, &d->n_restart, "redis");
		if (pin_redis(&next->redis, &running->redis) < 0)
			return -1;
	}
	if (!auth_http_eq(&next->auth_http, &running->auth_http)) {
		note(d->restart, &d->n_restart, "auth-url");
		if (pin_auth_http(&next->auth_http, &running->auth_http) < 0)
			return -1;
	}
	return 0;
}

#define APPLIED_IF(cond, name)                                                                     \
	do {                                                                                       \
		if (cond)                                                                          \
			note(d->applied, &d->n_applied, name);                                     \
	} while (0)

/* What the new snapshot changes (after pinning: realm-derived keys are
 * compared as they will be used). */
static void list_applied(const struct conf *next, const struct conf *running,
			 struct conf_reload_diff *d)
{
	/* Listening sockets are opened and retired live (net/listen.c). */
	APPLIED_IF(!listeners_eq(next, running), "listener");
	APPLIED_IF(!users_eq(next, running), "user");
	APPLIED_IF(!secrets_eq(next, running), "static-auth-secret");
	APPLIED_IF(!ranges_eq(next->allowed_peers, next->n_allowed_peers, running->allowed_peers,
			      running->n_allowed_peers),
		   "allowed-peer-ip");
	APPLIED_IF(!ranges_eq(next->denied_peers, next->n_denied_peers, running->denied_peers,
			      running->n_denied_peers),
		   "denied-peer-ip");
	/* The peer policy is rebuilt from the new snapshot (net/peer_policy.c). */
	APPLIED_IF(next->allow_own_peers != running->allow_own_peers, "allow-own-peers");
	APPLIED_IF(next->user_quota != running->user_quota, "user-quota");
	APPLIED_IF(next->total_quota != running->total_quota, "total-quota");
	APPLIED_IF(next->max_bps != running->max_bps, "max-bps");
	APPLIED_IF(next->max_lifetime != running->max_lifetime, "max-allocate-lifetime");
	APPLIED_IF(next->max_permissions != running->max_permissions, "max-permissions");
	APPLIED_IF(next->max_channels != running->max_channels, "max-channels");
	APPLIED_IF(next->max_tcp_connections != running->max_tcp_connections,
		   "max-tcp-connections");
	APPLIED_IF(next->unauth_rate != running->unauth_rate, "unauth-rate");
	APPLIED_IF(next->unauth_burst != running->unauth_burst, "unauth-burst");
	APPLIED_IF(next->shed_allocations != running->shed_allocations, "shed-allocations");
	APPLIED_IF(next->shed_bps != running->shed_bps, "shed-bps");
	APPLIED_IF(next->bps_capacity != running->bps_capacity, "bps-capacity");
	APPLIED_IF(next->user_max_bps != running->user_max_bps, "user-max-bps");
	APPLIED_IF(next->usage_linger_s != running->usage_linger_s, "user-usage-linger");
	APPLIED_IF(next->usage_interval_s != running->usage_interval_s, "user-usage-interval");
	APPLIED_IF(next->drain_timeout_s != running->drain_timeout_s, "drain-timeout");
	APPLIED_IF(next->rx_coalesce_us != running->rx_coalesce_us, "rx-coalesce-us");
	/* Connection limits: new caps apply to new connections, new deadlines
	 * and preauth-buffer from the next tick and frame. */
	APPLIED_IF(next->max_connections_per_ip != running->max_connections_per_ip,
		   "max-connections-per-ip");
	APPLIED_IF(next->max_connections != running->max_connections, "max-connections");
	APPLIED_IF(next->first_message_timeout_s != running->first_message_timeout_s,
		   "first-message-timeout");
	APPLIED_IF(next->max_allocate_timeout_s != running->max_allocate_timeout_s,
		   "max-allocate-timeout");
	APPLIED_IF(next->preauth_buffer != running->preauth_buffer, "preauth-buffer");
	APPLIED_IF(next->log_level != running->log_level, "log-level");
	APPLIED_IF(!str_eq(next->cert, running->cert), "cert");
	APPLIED_IF(!str_eq(next->pkey, running->pkey), "pkey");
	/* The TLS policy: new contexts for new connections (net/tls.c). */
	APPLIED_IF(next->tls_min_version != running->tls_min_version, "tls-min-version");
	APPLIED_IF(!str_eq(next->cipher_list, running->cipher_list), "cipher-list");
	APPLIED_IF(!str_eq(next->ciphersuites, running->ciphersuites), "ciphersuites");
	APPLIED_IF(!str_eq(next->ecdh_curves, running->ecdh_curves), "ecdh-curves");
	APPLIED_IF(!str_eq(next->ca_file, running->ca_file), "ca-file");
	APPLIED_IF(next->client_cert_required != running->client_cert_required, "client-cert");
	/* Read at each accept (net/tcp_accept.c): new connections follow. */
	APPLIED_IF(!ranges_eq(next->trusted_proxies, next->n_trusted_proxies,
			      running->trusted_proxies, running->n_trusted_proxies),
		   "trusted-proxy");
	APPLIED_IF(next->proxy_protocol != running->proxy_protocol, "proxy-protocol");
	APPLIED_IF(!str_eq(next->acme_redirect, running->acme_redirect), "acme-redirect");
}

int conf_reload_pin(struct conf *next, const struct conf *running, struct conf_reload_diff *d)
{
	memset(d, 0, sizeof(*d));
	if (pin_network(next, running, d) < 0 || pin_process(next, running, d) < 0 ||
	    pin_offload(next, running, d) < 0)
		return -1;
	list_applied(next, running, d);
	return 0;
}

char *conf_reload_names(const char *const *list, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (!out || cap == 0)
		return out;
	out[0] = '\0';
	if (n == 0) {
		snprintf(out, cap, "none");
		return out;
	}
	for (size_t i = 0; i < n && o < cap; i++) {
		int k = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", list[i]);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	return out;
}

/* The transports of every entry of addr in c (entries of one address are
 * merged: two lines for one port are one set of sockets). */
static unsigned transports_of(const struct conf *c, const struct turn_addr *addr)
{
	unsigned t = 0;

	for (size_t i = 0; i < c->n_listeners; i++)
		if (turn_addr_eq(&c->listeners[i].addr, addr))
			t |= c->listeners[i].transports;
	return t;
}

/* The bits of one TCP socket: what it takes (tcp, tls or both) and
 * whether a PROXY header comes first. */
#define STREAM_BITS (CONF_LISTEN_TCP | CONF_LISTEN_TLS | CONF_LISTEN_PROXY)

/* The addresses of a (each once) with the transports a has and b has not.
 * A TCP socket is one unit: when its bits differ, a's whole set is "only
 * in a" (the socket is replaced). */
static size_t only_in(const struct conf *a, const struct conf *b, struct conf_listener *out)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_listeners; i++) {
		const struct turn_addr *addr = &a->listeners[i].addr;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = turn_addr_eq(&a->listeners[k].addr, addr);
		unsigned ta = transports_of(a, addr), tb = transports_of(b, addr);
		unsigned t = ta & ~tb & ~STREAM_BITS;
		if ((ta & STREAM_BITS) != (tb & STREAM_BITS))
			t |= ta & STREAM_BITS;
		if (!seen && t)
			out[n++] = (struct conf_listener){ *addr, t };
	}
	return n;
}

int conf_listener_diff(const struct conf *running, const struct conf *next,
		       struct conf_listener_diff *d)
{
	memset(d, 0, sizeof(*d));
	d->added = calloc(next->n_listeners + 1, sizeof(*d->added));
	d->removed = calloc(running->n_listeners + 1, sizeof(*d->removed));
	if (!d->added || !d->removed) {
		conf_listener_diff_free(d);
		return -1;
	}
	d->n_added = only_in(next, running, d->added);
	d->n_removed = only_in(running, next, d->removed);
	return 0;
}

void conf_listener_diff_free(struct conf_listener_diff *d)
{
	free(d->added);
	free(d->removed);
	memset(d, 0, sizeof(*d));
}

int conf_reload_check(const struct conf *next, char *err, size_t errlen)
{
	char text[TURN_ADDR_STRLEN];

	/* Whether TLS and DTLS exist at all is fixed at start (pin_process
	 * keeps 'cert' as it was): a listener may not ask for them later. */
	for (size_t i = 0; !next->cert && i < next->n_listeners; i++) {
		const struct conf_listener *l = &next->listeners[i];
		if (!(l->transports & (CONF_LISTEN_TLS | CONF_LISTEN_DTLS)))
			continue;
		snprintf(err, errlen,
			 "%s: option 'listener' (%s) asks for TLS or DTLS, but turnd was started "
			 "without options 'cert' and 'pkey': TLS needs a restart",
			 next->path ? next->path : "(default)",
			 turn_addr_format(&l->addr, true, text, sizeof(text)));
		return -1;
	}
	/* The running listening-ip and ports, pinned back, may now meet a
	 * listener: the file's own checks again, on what will run. */
	return conf_listeners_check(next, err, errlen);
}
