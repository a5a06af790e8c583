/*
 * Credentials in Redis (coturn's key schema, util/redis_keys.h), asked
 * asynchronously on the worker's event base; see auth_redis_new in auth.h
 * for the contract.
 *
 * Shape: one connection per worker (auth_redis_conn.c), a bounded answer
 * cache shared by every worker's backend (auth_cache.c: a user cached by
 * one worker is known to all while Redis is down), and the requests in
 * flight, one per name (auth_redis_fetch.c). This file is the backend:
 * the lookup that picks between the cache and a fetch, the other
 * commands (auth_redis_command, for the fleet), and the options.
 *
 * Faults (SECURITY.md, "Faults: nothing lost"): the loop never waits on
 * Redis. A lookup is sent only on a connection that has answered its
 * handshake; otherwise the answer comes from the cache or is AUTH_ERROR
 * at once.
 */
#include "auth/auth_redis_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "auth/redis_conn.h"
#include "util/log.h"

enum age { AGE_FRESH, AGE_STALE, AGE_EXPIRED };

/* ------------------------------------------------------------------------
 * Answers from the cache.
 */

static enum age entry_age(const struct auth_redis *r, const struct auth_cache_answer *e,
			  uint64_t now_s)
{
	bool found = e->kind == AUTH_CACHE_USER || e->kind == AUTH_CACHE_REST;
	/* Only a confirmed user is served past its TTL while Redis is down:
	 * an answer no request has verified is worth nothing then. */
	bool may_be_stale = found && e->confirmed;
	uint64_t ttl = found ? r->o.cache_ttl_s : r->o.negative_ttl_s;

	/* An answer stamped after now: the clock stepped back, or another
	 * lookup of the same fetch came a little later. Fresh, within a
	 * TTL of it. */
	if (now_s < e->fetched_s)
		return e->fetched_s - now_s <= ttl ? AGE_FRESH : AGE_EXPIRED;
	if (now_s - e->fetched_s < ttl)
		return AGE_FRESH;
	if (may_be_stale && now_s - e->fetched_s < ttl + r->o.cache_stale_s)
		return AGE_STALE;
	return AGE_EXPIRED;
}

/* ------------------------------------------------------------------------
 * The backend.
 */

static int redis_lookup(struct auth_backend *b, const struct auth_query *q,
			struct auth_credential *out)
{
	struct auth_redis *r = (struct auth_redis *)b;
	struct auth_cache_answer e;
	enum age age;
	int rc = AUTH_ERROR;

	/* The schema has no index by USERHASH. */
	if (q->userhash)
		return AUTH_NOT_FOUND;
	age = auth_cache_get(r->cache, q->username, q->len, &e) ? entry_age(r, &e, q->now_s)
								: AGE_EXPIRED;
	if (age == AGE_FRESH)
		rc = auth_redis_fetch_answer(r, &e, q, out);
	/* A caller that cannot wait still gets the answer fetched for its
	 * next try (auth_redis_fetch_start without done). */
	else if (r->state == AUTH_REDIS_READY && auth_redis_fetch_start(r, q) == 0 && q->done)
		rc = AUTH_PENDING;
	/* Redis cannot answer now: a confirmed user keeps working for a
	 * bounded time, anyone else is refused (fail closed). */
	else if (age == AGE_STALE)
		rc = auth_redis_fetch_answer(r, &e, q, out);
	OPENSSL_cleanse(&e, sizeof(e));
	return rc;
}

static void redis_confirm(struct auth_backend *b, const struct auth_credential *c)
{
	struct auth_redis *r = (struct auth_redis *)b;

	auth_cache_confirm(r->cache, (const uint8_t *)c->username, c->username_len);
}

/* ------------------------------------------------------------------------
 * Other commands (auth.h, auth_redis_command).
 */

struct command {
	struct auth_redis *r;
	auth_redis_reply_fn *fn; /* NULL once told (timed out) or not wanted */
	void *arg;
	struct event *timer;
};

static void on_command_reply(struct redis_conn *conn, struct redisReply *rep, void *priv)
{
	struct command *c = priv;
	struct auth_redis *r = c->r;

	(void)conn;
	r->n_commands--;
	if (c->fn && !r->freeing)
		c->fn(c->arg, rep);
	if (c->timer)
		event_free(c->timer);
	free(c);
}

static void on_command_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct command *c = arg;
	struct auth_redis *r = c->r;
	auth_redis_reply_fn *fn = c->fn;
	char why[64];

	(void)fd;
	(void)what;
	c->fn = NULL;
	fn(c->arg, NULL);
	/* c is freed by on_command_reply when the reset fails it. */
	snprintf(why, sizeof(why), "no answer in %u ms", r->o.timeout_ms);
	auth_redis_conn_reset(r, why);
}

bool auth_redis_ready(const struct auth_backend *b)
{
	return ((const struct auth_redis *)b)->state == AUTH_REDIS_READY;
}

unsigned auth_redis_epoch(const struct auth_backend *b)
{
	return ((const struct auth_redis *)b)->epoch;
}

size_t auth_redis_in_flight(const struct auth_backend *b)
{
	return ((const struct auth_redis *)b)->n_commands;
}

int auth_redis_command(struct auth_backend *b, int argc, const char **argv, const size_t *lens,
		       auth_redis_reply_fn *fn, void *arg)
{
	struct auth_redis *r = (struct auth_redis *)b;
	struct timeval tv = auth_redis_tv(r->o.timeout_ms);
	struct command *c;

	if (r->state != AUTH_REDIS_READY || !(c = calloc(1, sizeof(*c))))
		return -1;
	c->r = r;
	c->fn = fn;
	c->arg = arg;
	if (fn && (!(c->timer = evtimer_new(r->evb, on_command_timeout, c)) ||
		   evtimer_add(c->timer, &tv) < 0)) {
		if (c->timer)
			event_free(c->timer);
		free(c);
		return -1;
	}
	if (redis_conn_command(r->conn, on_command_reply, c, argc, argv, lens) < 0) {
		if (c->timer)
			event_free(c->timer);
		free(c);
		return -1;
	}
	r->n_commands++;
	return 0;
}

static void redis_free(struct auth_backend *b)
{
	struct auth_redis *r = (struct auth_redis *)b;

	if (!r)
		return;
	r->freeing = true;
	auth_redis_conn_fini(r);
	auth_cache_free(r->cache);
	free(r->realm);
	free(r->host);
	free(r->socket);
	free(r->user);
	free(r->tls_ca);
	free(r->tls_cert);
	free(r->tls_key);
	free(r->tls_server_name);
	if (r->password) {
		OPENSSL_cleanse(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

static const struct auth_backend_ops redis_ops = {
	.name = "redis",
	.lookup = redis_lookup,
	.free = redis_free,
	.confirm = redis_confirm,
};

/* A host name would have to be resolved with getaddrinfo, blocking the
 * event loop: only numeric addresses are taken. */
static bool numeric_host(const char *host)
{
	uint8_t buf[16];

	return host && (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1);
}

static const char *check_options(const struct auth_redis_options *o)
{
	if (!o->realm || !o->realm[0] || strlen(o->realm) > AUTH_REDIS_REALM_MAX)
		return "the realm is empty or too long";
	if (!o->socket && !numeric_host(o->host))
		return "redis-host must be a numeric IP address";
	if (!o->socket && o->port == 0)
		return "redis-port must be 1-65535";
	if (o->socket && !o->socket[0])
		return "redis-socket is empty";
	if (o->socket && strlen(o->socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return "redis-socket is too long for a unix socket path";
	if (o->user && !o->password)
		return "redis-user needs redis-password";
	if (o->tls && o->socket)
		return "redis-tls needs redis-host: Redis has no TLS on its unix socket";
	if (!o->tls_cert != !o->tls_key)
		return o->tls_cert ? "redis-tls-cert needs redis-tls-key"
				   : "redis-tls-key needs redis-tls-cert";
	if (o->tls_server_name && !o->tls_server_name[0])
		return "redis-tls-server-name is empty";
	if (o->connect_timeout_ms == 0 || o->timeout_ms == 0)
		return "the timeouts must be at least 1 ms";
	if (o->cache_size < AUTH_REDIS_CACHE_MIN)
		return "redis-cache-size is too small";
	if (o->cache_ttl_s == 0 || o->negative_ttl_s == 0)
		return "the cache TTLs must be at least 1 s";
	return NULL;
}

/* A copy of an optional string into *copy; 0, or -1 out of memory. */
static int copy_str(const char *s, char **copy)
{
	*copy = s ? strdup(s) : NULL;
	return s && !*copy ? -1 : 0;
}

/* Copy the strings of o into r; r->o points to the copies. */
static int copy_options(struct auth_redis *r, const struct auth_redis_options *o)
{
	r->o = *o;
	if (copy_str(o->realm, &r->realm) < 0 || copy_str(o->host, &r->host) < 0 ||
	    copy_str(o->socket, &r->socket) < 0 || copy_str(o->user, &r->user) < 0 ||
	    copy_str(o->password, &r->password) < 0 || copy_str(o->tls_ca, &r->tls_ca) < 0 ||
	    copy_str(o->tls_cert, &r->tls_cert) < 0 || copy_str(o->tls_key, &r->tls_key) < 0 ||
	    copy_str(o->tls_server_name, &r->tls_server_name) < 0)
		return -1;
	r->o.realm = r->realm;
	r->o.host = r->host;
	r->o.socket = r->socket;
	r->o.user = r->user;
	r->o.password = r->password;
	r->o.tls_ca = r->tls_ca;
	r->o.tls_cert = r->tls_cert;
	r->o.tls_key = r->tls_key;
	r->o.tls_server_name = r->tls_server_name;
	/* check_options bounds the realm: it fits. */
	if (redis_keys_realm(r->secret_key, sizeof(r->secret_key), r->realm,
			     REDIS_KEYS_LEAF_SECRET) < 0)
		return -1;
	if (r->socket)
		snprintf(r->where, sizeof(r->where), "unix:%s", r->socket);
	else if (strchr(r->host, ':'))
		snprintf(r->where, sizeof(r->where), "[%s]:%u", r->host, (unsigned)r->o.port);
	else
		snprintf(r->where, sizeof(r->where), "%s:%u", r->host, (unsigned)r->o.port);
	return 0;
}

struct auth_backend *auth_redis_new(const struct auth_redis_options *o, struct event_base *base,
				    char *err, size_t errlen)
{
	const char *why = o ? check_options(o) : "no options";
	char why_buf[512];
	struct auth_redis *r;

	if (!why && !base)
		why = "no event base";
	if (why) {
		snprintf(err, errlen, "redis: %s", why);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r || copy_options(r, o) < 0)
		goto oom;
	r->base.ops = &redis_ops;
	r->evb = base;
	r->cache = o->shared_cache ? auth_cache_ref(o->shared_cache) : auth_cache_new(o->cache_size);
	if (!r->cache)
		goto oom;
	/* The files are read now: a bad one is an error at start, not a
	 * connection that fails later. */
	if (o->tls && !(r->tls = redis_tls_new(o->tls_ca, o->tls_cert, o->tls_key, why_buf,
					       sizeof(why_buf)))) {
		snprintf(err, errlen, "redis: %s", why_buf);
		redis_free(&r->base);
		return NULL;
	}
	if (auth_redis_conn_init(r) < 0)
		goto oom;
	return &r->base;
oom:
	snprintf(err, errlen, "redis: out of memory");
	redis_free(r ? &r->base : NULL);
	return NULL;
}
