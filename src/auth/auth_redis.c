/*
 * Credentials in Redis (coturn's key schema), asked asynchronously on the
 * worker's event base; see auth_redis_new in auth.h for the contract.
 *
 * Shape: one connection per worker (redis_conn.c: TCP, a unix socket or
 * TLS, on the worker's event base), a bounded answer cache shared by
 * every worker's backend (auth_cache.c: a user cached by one worker is
 * known to all while Redis is down), and the requests in flight ("fetches"), one per name:
 * lookups of a name that is already being asked join that fetch. A fetch
 * is MGET of the key and key-sha256 of the name, plus SMEMBERS of the
 * realm's secrets for a name of the TURN REST form, pipelined on one
 * connection: one round trip.
 *
 * Faults (SECURITY.md, "Faults: nothing lost"): the loop never waits on
 * Redis. A lookup is sent only on a connection that has answered its
 * handshake (AUTH, SELECT, PING); otherwise the answer comes from the
 * cache or is AUTH_ERROR at once. Each fetch has a timer: a Redis that
 * stops answering gets its connection reset, which fails every fetch on
 * it. Reconnects wait 100 ms, doubling to 10 s, and the wait is reset only
 * by an answered lookup, so a Redis that accepts connections but never
 * answers is not retried in a tight loop either.
 *
 * A record that is not what the schema says (a key that is not hex, the
 * secret key not a SET, an ACL refusal) is AUTH_ERROR, logged once and
 * cached for the negative TTL like a "not found".
 *
 * TLS (redis-tls): the certificate is checked against redis-tls-ca and
 * must name redis-tls-server-name (default: redis-host). A connection
 * that fails it is one more failed attempt: retried with the same
 * back-off, logged once, and lookups fail closed meanwhile.
 *
 * Every command goes through redis_conn_command, which encodes it with
 * hiredis's redisFormatCommandArgv: a username is one argv element, never
 * part of a format string or of a command line.
 */
#include "auth/auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "auth/auth_cache.h"
#include "auth/redis_conn.h"
#include "util/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* Fetches in flight per worker, and lookups waiting on one fetch: beyond
 * them a lookup fails closed rather than grow without bound. One user's
 * many requests may all wait on one fetch, as many as the worker parks
 * (daemon/park.c). */
#define FETCH_MAX 1024
#define FETCH_BUCKETS 256
#define WAITERS_MAX 4096
/* RFC 8489 section 14.9: a REALM is fewer than 128 characters, at most
 * 763 bytes; more room than that is never needed. */
#define REALM_MAX 1024
#define KEY_MAX                                                                                    \
	(sizeof("turn/realm/") + REALM_MAX + sizeof("/user/") + AUTH_USERNAME_MAX +                \
	 sizeof("/key-sha256"))
#define WHERE_MAX 128

enum conn_state {
	CONN_DOWN, /* no connection; the retry timer is armed */
	CONN_CONNECTING, /* connect and handshake under way */
	CONN_READY, /* lookups may be sent */
};

enum age { AGE_FRESH, AGE_STALE, AGE_EXPIRED };

struct waiter {
	auth_done_fn *done;
	void *arg;
};

struct fetch {
	struct fetch *next; /* in auth_redis.inflight */
	struct auth_redis *r;
	struct event *timer;
	uint64_t now_s; /* the latest now_s of the lookups it answers */
	unsigned replies_left;
	bool failed; /* no answer: the connection went, or out of memory */
	bool bad; /* an answer, but not keys or secrets: cached as such */
	bool rest; /* a TURN REST name: SMEMBERS was sent too */
	bool has_key;
	struct auth_key key;
	struct waiter *waiters;
	size_t n_waiters, cap_waiters;
	size_t name_len;
	uint8_t name[];
};

struct auth_redis {
	struct auth_backend base; /* first: the chain holds &base */
	struct auth_redis_options o; /* strings point to the copies below */
	char *realm, *host, *socket, *user, *password;
	char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
	char secret_key[KEY_MAX];
	char where[WHERE_MAX]; /* "127.0.0.1:6379" or "unix:/path", for logs */

	struct event_base *evb;
	SSL_CTX *tls; /* NULL without redis-tls */
	struct redis_conn *conn;
	enum conn_state state;
	unsigned handshake_left;
	unsigned backoff_ms;
	unsigned failures; /* connection attempts failed in a row */
	struct event *retry_ev;
	struct event *connect_ev; /* connect and handshake time limit */
	bool freeing;

	unsigned epoch; /* handshakes completed */
	size_t n_commands; /* auth_redis_command's, unanswered */

	/* Shared with the other workers' backends (auth_cache.h): answers
	 * and the realm's secrets from the latest SMEMBERS answer. */
	struct auth_cache *cache;
	struct fetch *inflight[FETCH_BUCKETS];
	size_t n_inflight;
};

static void conn_start(struct auth_redis *r);

static struct timeval ms_to_tv(unsigned ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

/* ------------------------------------------------------------------------
 * Connection.
 */

/* The connection r->conn is gone, or is being given up: forget it and
 * retry later. The connection is freed by whoever let go of it (itself
 * when it failed, conn_reset otherwise). */
static void conn_lost(struct auth_redis *r, const char *why)
{
	bool was_ready = r->state == CONN_READY;
	struct timeval tv = ms_to_tv(r->backoff_ms);

	r->conn = NULL;
	r->state = CONN_DOWN;
	if (r->freeing)
		return;
	event_del(r->connect_ev);
	if (was_ready)
		log_warn("redis %s: connection lost (%s); cached users keep working, others are "
			 "refused until it is back",
			 r->where, why);
	else if (r->failures == 0)
		log_warn("redis %s: cannot connect (%s); retrying with back-off", r->where, why);
	else
		log_info("redis %s: cannot connect (%s); retrying in %u ms", r->where, why,
			 r->backoff_ms);
	r->failures++;
	evtimer_add(r->retry_ev, &tv);
	r->backoff_ms = r->backoff_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : 2 * r->backoff_ms;
}

/* Drop the connection ourselves. The callbacks of the commands still
 * unanswered run with no reply (now, or when the reply callback we may be
 * in returns), which fails their fetches. */
static void conn_reset(struct auth_redis *r, const char *why)
{
	struct redis_conn *c = r->conn;

	if (!c)
		return;
	conn_lost(r, why);
	redis_conn_free(c);
}

static int send_argv(struct auth_redis *r, redis_conn_reply_fn *fn, void *priv, int argc,
		     const char **argv, const size_t *lens)
{
	return redis_conn_command(r->conn, fn, priv, argc, argv, lens);
}

static void on_handshake(struct redis_conn *c, struct redisReply *rep, void *priv)
{
	struct auth_redis *r = priv;
	char why[160];

	if (r->freeing || c != r->conn)
		return;
	/* No reply: the connection is going (on_closed has said why). */
	if (!rep) {
		conn_lost(r, "connection closed");
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		/* Redis's own message ("WRONGPASS ...") never holds the
		 * password. */
		snprintf(why, sizeof(why), "handshake: %.100s", rep->str);
		conn_reset(r, why);
		return;
	}
	if (--r->handshake_left > 0)
		return;
	r->state = CONN_READY;
	r->epoch++;
	r->failures = 0;
	event_del(r->connect_ev);
	log_notice("redis %s: connected%s", r->where, r->tls ? " (TLS)" : "");
}

/* AUTH [user] password, SELECT db, PING: queued at once (sent when the
 * connection, and TLS, is up); ready when the last one answers, so a
 * Redis that accepts connections but does not answer is never "up". */
static int handshake_send(struct auth_redis *r)
{
	const char *argv[3];
	size_t lens[3];
	char db[24];
	int argc = 0;

	r->handshake_left = 0;
	if (r->o.password) {
		argv[argc++] = "AUTH";
		if (r->o.user)
			argv[argc++] = r->o.user;
		argv[argc++] = r->o.password;
		for (int i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		if (send_argv(r, on_handshake, r, argc, argv, lens) < 0)
			return -1;
		r->handshake_left++;
	}
	if (r->o.db) {
		snprintf(db, sizeof(db), "%u", r->o.db);
		argv[0] = "SELECT";
		argv[1] = db;
		lens[0] = 6;
		lens[1] = strlen(db);
		if (send_argv(r, on_handshake, r, 2, argv, lens) < 0)
			return -1;
		r->handshake_left++;
	}
	argv[0] = "PING";
	lens[0] = 4;
	if (send_argv(r, on_handshake, r, 1, argv, lens) < 0)
		return -1;
	r->handshake_left++;
	return 0;
}

/* The connection failed (refused, TLS, closed by Redis); it frees itself
 * after this returns. */
static void on_closed(struct redis_conn *c, const char *why, void *arg)
{
	struct auth_redis *r = arg;

	if (!r->freeing && c == r->conn)
		conn_lost(r, why);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct auth_redis *r = arg;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no answer in %u ms", r->o.connect_timeout_ms);
	conn_reset(r, why);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_start(arg);
}

/* Start a connection; on any failure the retry timer is armed instead.
 * Runs from the event loop only (on_retry), never inside a lookup. */
static void conn_start(struct auth_redis *r)
{
	struct timeval tv = ms_to_tv(r->o.connect_timeout_ms);
	const struct redis_conn_options co = {
		.base = r->evb,
		.host = r->o.host,
		.port = r->o.port,
		.socket = r->o.socket,
		.tls = r->tls,
		.tls_server_name = r->o.tls_server_name ? r->o.tls_server_name : r->o.host,
		.closed = on_closed,
		.arg = r,
	};
	char why[128];

	r->conn = redis_conn_new(&co, why, sizeof(why));
	if (!r->conn) {
		conn_lost(r, why);
		return;
	}
	r->state = CONN_CONNECTING;
	if (handshake_send(r) < 0) {
		conn_reset(r, "cannot queue the handshake");
		return;
	}
	evtimer_add(r->connect_ev, &tv);
}

/* ------------------------------------------------------------------------
 * Answers: the cache, the secrets, and what a lookup returns.
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

static int entry_answer(const struct auth_redis *r, const struct auth_cache_answer *e,
			const struct auth_query *q, struct auth_credential *out)
{
	int rc = AUTH_FOUND;

	if (e->kind == AUTH_CACHE_REST)
		rc = auth_cache_rest_lookup(r->cache, r->realm, q, out);
	else if (e->kind == AUTH_CACHE_BAD)
		return AUTH_ERROR;
	else if (e->kind != AUTH_CACHE_USER)
		return AUTH_NOT_FOUND;
	if (e->kind == AUTH_CACHE_USER) {
		/* auth_query_lookup checked the length and that there is no
		 * NUL. */
		memcpy(out->username, q->username, q->len);
		out->username[q->len] = '\0';
		out->username_len = q->len;
		out->expires_s = 0;
		out->n_keys = 1;
		out->keys[0] = e->key;
	}
	out->unconfirmed = !e->confirmed;
	return rc;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A key value: exactly 2 * len hex digits. Returns 0 or -1. */
static int hex_key(const redisReply *rep, uint8_t *key, size_t len)
{
	if (rep->type != REDIS_REPLY_STRING || rep->len != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = hex_nibble(rep->str[2 * i]);
		int lo = hex_nibble(rep->str[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int secret_cmp(const void *pa, const void *pb)
{
	const redisReply *a = *(const redisReply *const *)pa, *b = *(const redisReply *const *)pb;
	int c = memcmp(a->str, b->str, a->len < b->len ? a->len : b->len);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Keep the secrets of an SMEMBERS answer, sorted so that which ones are
 * used does not depend on Redis's order when there are too many. */
static int secrets_store(struct auth_redis *r, const redisReply *rep)
{
	const redisReply **v;
	size_t n = 0;

	v = calloc(rep->elements ? rep->elements : 1, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < rep->elements; i++)
		if (rep->element[i]->type == REDIS_REPLY_STRING && rep->element[i]->len > 0)
			v[n++] = rep->element[i];
	qsort(v, n, sizeof(*v), secret_cmp);
	if (n > AUTH_MAX_KEYS) {
		log_warn("redis %s: %s holds %zu secrets; only the first %d (sorted) are used",
			 r->where, r->secret_key, n, AUTH_MAX_KEYS);
		n = AUTH_MAX_KEYS;
	}
	const char *secrets[AUTH_MAX_KEYS];
	size_t lens[AUTH_MAX_KEYS];
	for (size_t i = 0; i < n; i++) {
		secrets[i] = v[i]->str;
		lens[i] = v[i]->len;
	}
	free(v);
	return auth_cache_set_secrets(r->cache, secrets, lens, n);
}

/* ------------------------------------------------------------------------
 * Fetches.
 */

static struct fetch **fetch_slot(struct auth_redis *r, const uint8_t *name, size_t len)
{
	struct fetch **pp = &r->inflight[auth_cache_hash(r->cache, name, len) % FETCH_BUCKETS];

	while (*pp && !((*pp)->name_len == len && memcmp((*pp)->name, name, len) == 0))
		pp = &(*pp)->next;
	return pp;
}

static void fetch_free(struct fetch *f)
{
	if (f->timer)
		event_free(f->timer);
	OPENSSL_cleanse(&f->key, sizeof(f->key));
	free(f->waiters);
	free(f);
}

/* The answer into the cache; returns what the lookups get. A broken
 * record is cached too (as an error, for redis-negative-ttl): asking
 * again at once would only repeat the warning. */
static int fetch_store(struct auth_redis *r, const struct fetch *f)
{
	const struct auth_query q = {.username = f->name, .len = f->name_len, .now_s = f->now_s};
	struct auth_cache_answer e = {.kind = AUTH_CACHE_NONE, .fetched_s = f->now_s};
	struct auth_credential c;
	int rc;

	if (f->bad)
		e.kind = AUTH_CACHE_BAD;
	else if (f->has_key)
		e.kind = AUTH_CACHE_USER;
	else if (f->rest && auth_cache_secrets(r->cache) > 0)
		e.kind = AUTH_CACHE_REST;
	if (auth_cache_put(r->cache, f->name, f->name_len, e.kind, &f->key, f->now_s) < 0)
		return AUTH_ERROR;
	e.key = f->key;
	memset(&c, 0, sizeof(c));
	rc = entry_answer(r, &e, &q, &c);
	OPENSSL_cleanse(&e, sizeof(e));
	auth_credential_clear(&c);
	return rc;
}

/* All replies are in (or the connection is gone): cache the answer and
 * call back every lookup that waits for it. The fetch leaves the table
 * first, so lookups made from done start afresh. */
static void fetch_finish(struct fetch *f)
{
	struct auth_redis *r = f->r;
	int rc = AUTH_ERROR;

	*fetch_slot(r, f->name, f->name_len) = f->next;
	r->n_inflight--;
	if (r->freeing) {
		fetch_free(f);
		return;
	}
	if (!f->failed) {
		rc = fetch_store(r, f);
		r->backoff_ms = BACKOFF_MIN_MS;
	}
	for (size_t i = 0; i < f->n_waiters; i++)
		f->waiters[i].done(f->waiters[i].arg, rc);
	fetch_free(f);
}

/* No reply means the connection is going: mark it down before any done
 * runs, so lookups made from done do not send on it. (on_closed or
 * conn_reset has done so already; this is the backstop.) */
static bool reply_missing(struct auth_redis *r, struct redis_conn *c, const redisReply *rep)
{
	if (!rep && !r->freeing && c == r->conn)
		conn_lost(r, "connection closed");
	return !rep;
}

static void log_error_reply(const struct fetch *f, const char *what, const redisReply *rep)
{
	char name[AUTH_PRINTABLE_MAX];

	if (rep->type == REDIS_REPLY_ERROR)
		log_warn("redis %s: %s for user \"%s\": %.200s", f->r->where, what,
			 auth_username_printable(f->name, f->name_len, name, sizeof(name)),
			 rep->str);
	else
		log_warn("redis %s: %s for user \"%s\": not a valid key (hex digits)", f->r->where,
			 what, auth_username_printable(f->name, f->name_len, name, sizeof(name)));
}

/* MGET key key-sha256: each nil or hex. The SHA-256 key counts only
 * beside an MD5 key (struct auth_key always has the MD5 one). */
static void on_user_reply(struct redis_conn *c, struct redisReply *rep, void *priv)
{
	struct fetch *f = priv;

	if (reply_missing(f->r, c, rep)) {
		f->failed = true;
	} else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
		log_error_reply(f, "MGET", rep);
		f->bad = true;
	} else if (rep->element[0]->type != REDIS_REPLY_NIL) {
		const redisReply *sha = rep->element[1];

		f->has_key = hex_key(rep->element[0], f->key.md5, STUN_KEY_MD5_LEN) == 0;
		f->key.has_sha256 = sha->type != REDIS_REPLY_NIL &&
				    hex_key(sha, f->key.sha256, STUN_KEY_SHA256_LEN) == 0;
		if (!f->has_key || (sha->type != REDIS_REPLY_NIL && !f->key.has_sha256)) {
			log_error_reply(f, "key", rep->element[f->has_key ? 1 : 0]);
			f->bad = true;
		}
	}
	if (--f->replies_left == 0)
		fetch_finish(f);
}

static void on_secret_reply(struct redis_conn *c, struct redisReply *rep, void *priv)
{
	struct fetch *f = priv;

	if (reply_missing(f->r, c, rep)) {
		f->failed = true;
	} else if (rep->type != REDIS_REPLY_ARRAY) {
		log_error_reply(f, "SMEMBERS", rep);
		f->bad = true;
	} else if (secrets_store(f->r, rep) < 0) {
		f->failed = true;
	}
	if (--f->replies_left == 0)
		fetch_finish(f);
}

/* A Redis that has stopped answering: reset the connection, which fails
 * this fetch and every other one on it. */
static void on_fetch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	struct auth_redis *r = f->r;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no answer in %u ms", r->o.timeout_ms);
	conn_reset(r, why);
}

/* "turn/realm/<realm>/user/<name>/<leaf>" into buf (KEY_MAX bytes). */
static size_t user_key(const struct auth_redis *r, const struct fetch *f, const char *leaf,
		       char *buf)
{
	int n = snprintf(buf, KEY_MAX, "turn/realm/%s/user/", r->o.realm);
	size_t len = (size_t)n;

	memcpy(buf + len, f->name, f->name_len);
	len += f->name_len;
	buf[len++] = '/';
	memcpy(buf + len, leaf, strlen(leaf));
	return len + strlen(leaf);
}

/* Queue the commands of f. Returns how many were queued. */
static unsigned fetch_send(struct auth_redis *r, struct fetch *f)
{
	char key[KEY_MAX], key_sha[KEY_MAX];
	const char *argv[3] = {"MGET", key, key_sha};
	size_t lens[3] = {4, user_key(r, f, "key", key), user_key(r, f, "key-sha256", key_sha)};
	unsigned sent = 0;

	if (send_argv(r, on_user_reply, f, 3, argv, lens) < 0)
		return 0;
	sent++;
	if (f->rest) {
		argv[0] = "SMEMBERS";
		argv[1] = r->secret_key;
		lens[0] = 8;
		lens[1] = strlen(r->secret_key);
		if (send_argv(r, on_secret_reply, f, 2, argv, lens) < 0)
			f->failed = true;
		else
			sent++;
	}
	return sent;
}

static struct fetch *fetch_new(struct auth_redis *r, const struct auth_query *q)
{
	struct timeval tv = ms_to_tv(r->o.timeout_ms);
	struct fetch *f;
	uint64_t expiry;

	if (r->n_inflight >= FETCH_MAX)
		return NULL;
	f = calloc(1, sizeof(*f) + q->len);
	if (!f)
		return NULL;
	f->r = r;
	f->now_s = q->now_s;
	f->name_len = q->len;
	memcpy(f->name, q->username, q->len);
	f->rest = auth_rest_expiry(q->username, q->len, &expiry) == 0;
	f->timer = evtimer_new(r->evb, on_fetch_timeout, f);
	if (!f->timer || evtimer_add(f->timer, &tv) < 0) {
		fetch_free(f);
		return NULL;
	}
	/* Once a command is queued, its callback owns f. */
	f->replies_left = fetch_send(r, f);
	if (f->replies_left == 0) {
		fetch_free(f);
		return NULL;
	}
	return f;
}

static int waiter_add(struct fetch *f, auth_done_fn *done, void *arg)
{
	if (f->n_waiters == f->cap_waiters) {
		size_t cap = f->cap_waiters ? 2 * f->cap_waiters : 4;
		struct waiter *w;

		if (cap > WAITERS_MAX)
			return -1;
		w = realloc(f->waiters, cap * sizeof(*w));
		if (!w)
			return -1;
		f->waiters = w;
		f->cap_waiters = cap;
	}
	f->waiters[f->n_waiters].done = done;
	f->waiters[f->n_waiters].arg = arg;
	f->n_waiters++;
	return 0;
}

/* Ask Redis about q's name, or join the fetch already asking. With
 * q->done set, done(arg) follows once the answer is in. Returns 0, or -1
 * when the lookup cannot wait for an answer. */
static int fetch_start(struct auth_redis *r, const struct auth_query *q)
{
	struct fetch **slot = fetch_slot(r, q->username, q->len);
	struct fetch *f = *slot;

	if (!f) {
		f = fetch_new(r, q);
		if (!f)
			return -1;
		*slot = f;
		r->n_inflight++;
	}
	if (f->now_s < q->now_s)
		f->now_s = q->now_s;
	return q->done ? waiter_add(f, q->done, q->arg) : 0;
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
		rc = entry_answer(r, &e, q, out);
	/* A caller that cannot wait still gets the answer fetched for its
	 * next try (fetch_start without done). */
	else if (r->state == CONN_READY && fetch_start(r, q) == 0 && q->done)
		rc = AUTH_PENDING;
	/* Redis cannot answer now: a confirmed user keeps working for a
	 * bounded time, anyone else is refused (fail closed). */
	else if (age == AGE_STALE)
		rc = entry_answer(r, &e, q, out);
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
	conn_reset(r, why);
}

bool auth_redis_ready(const struct auth_backend *b)
{
	return ((const struct auth_redis *)b)->state == CONN_READY;
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
	struct timeval tv = ms_to_tv(r->o.timeout_ms);
	struct command *c;

	if (r->state != CONN_READY || !(c = calloc(1, sizeof(*c))))
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
	if (send_argv(r, on_command_reply, c, argc, argv, lens) < 0) {
		if (c->timer)
			event_free(c->timer);
		free(c);
		return -1;
	}
	r->n_commands++;
	return 0;
}

/* ------------------------------------------------------------------------
 * The backend (continued).
 */

static void redis_free(struct auth_backend *b)
{
	struct auth_redis *r = (struct auth_redis *)b;

	if (!r)
		return;
	/* Freeing the connection runs the callbacks of unanswered commands,
	 * which free their fetches without calling done (auth.h). */
	r->freeing = true;
	if (r->conn) {
		struct redis_conn *c = r->conn;

		r->conn = NULL;
		redis_conn_free(c);
	}
	SSL_CTX_free(r->tls);
	if (r->retry_ev)
		event_free(r->retry_ev);
	if (r->connect_ev)
		event_free(r->connect_ev);
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
	if (!o->realm || !o->realm[0] || strlen(o->realm) > REALM_MAX)
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
	snprintf(r->secret_key, sizeof(r->secret_key), "turn/realm/%s/secret", r->realm);
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
	static const struct timeval now = {0, 0};
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
	r->backoff_ms = BACKOFF_MIN_MS;
	r->cache = o->shared_cache ? auth_cache_ref(o->shared_cache) : auth_cache_new(o->cache_size);
	r->retry_ev = evtimer_new(base, on_retry, r);
	r->connect_ev = evtimer_new(base, on_connect_timeout, r);
	if (!r->cache || !r->retry_ev || !r->connect_ev)
		goto oom;
	/* The files are read now: a bad one is an error at start, not a
	 * connection that fails later. */
	if (o->tls && !(r->tls = redis_tls_new(o->tls_ca, o->tls_cert, o->tls_key, why_buf,
					       sizeof(why_buf)))) {
		snprintf(err, errlen, "redis: %s", why_buf);
		redis_free(&r->base);
		return NULL;
	}
	/* The first connection is made by the loop that will use it: the
	 * worker's thread, not the one building the chain. Redis down now
	 * is not an error; the backend keeps trying. */
	if (evtimer_add(r->retry_ev, &now) < 0)
		goto oom;
	return &r->base;
oom:
	snprintf(err, errlen, "redis: out of memory");
	redis_free(r ? &r->base : NULL);
	return NULL;
}
