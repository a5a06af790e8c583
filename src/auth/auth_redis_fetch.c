/*
 * The Redis backend's lookups in flight, "fetches" (auth_redis_int.h):
 * one per name; lookups of a name that is already being asked join that
 * fetch. A fetch is MGET of the key and key-sha256 of the name, plus
 * SMEMBERS of the realm's secrets for a name of the TURN REST form,
 * pipelined on one connection: one round trip. Each fetch has a timer: a
 * Redis that stops answering gets its connection reset, which fails every
 * fetch on it.
 *
 * A record that is not what the schema says (a key that is not hex, the
 * secret key not a SET, an ACL refusal) is AUTH_ERROR, logged once and
 * cached for the negative TTL like a "not found".
 *
 * Every command goes through redis_conn_command, which encodes it with
 * hiredis's redisFormatCommandArgv: a username is one argv element or
 * part of a key, never part of a format string or of a command line.
 */
#include "auth/auth_redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include "auth/auth_waiters.h"
#include "auth/redis_conn.h"
#include "util/log.h"

/* Fetches in flight per worker, and lookups waiting on one fetch: beyond
 * them a lookup fails closed rather than grow without bound. One user's
 * many requests may all wait on one fetch, as many as the worker parks
 * (daemon/park.c). */
#define FETCH_MAX 1024
#define WAITERS_MAX 4096

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
	struct auth_waiters waiters;
	size_t name_len;
	uint8_t name[];
};

/* ------------------------------------------------------------------------
 * What the replies mean.
 */

int auth_redis_fetch_answer(const struct auth_redis *r, const struct auth_cache_answer *e,
			    const struct auth_query *q, struct auth_credential *out)
{
	int rc = AUTH_FOUND;

	if (e->kind == AUTH_CACHE_REST)
		rc = auth_cache_rest_lookup(r->cache, r->realm, q, out);
	else if (e->kind == AUTH_CACHE_BAD)
		return AUTH_ERROR;
	else if (e->kind != AUTH_CACHE_USER)
		return AUTH_NOT_FOUND;
	if (e->kind == AUTH_CACHE_USER)
		auth_cache_answer_fill(e, q, out);
	else
		out->unconfirmed = !e->confirmed;
	return rc;
}

/* A key value: exactly 2 * len hex digits. Returns 0 or -1. */
static int hex_key(const redisReply *rep, uint8_t *key, size_t len)
{
	if (rep->type != REDIS_REPLY_STRING || rep->len != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)rep->str[2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)rep->str[2 * i + 1]);

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
	struct fetch **pp =
		&r->inflight[auth_cache_hash(r->cache, name, len) % AUTH_REDIS_FETCH_BUCKETS];

	while (*pp && !((*pp)->name_len == len && memcmp((*pp)->name, name, len) == 0))
		pp = &(*pp)->next;
	return pp;
}

static void fetch_free(struct fetch *f)
{
	if (f->timer)
		event_free(f->timer);
	OPENSSL_cleanse(&f->key, sizeof(f->key));
	auth_waiters_free(&f->waiters);
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
	rc = auth_redis_fetch_answer(r, &e, &q, &c);
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
		r->backoff_ms = AUTH_REDIS_BACKOFF_MIN_MS;
	}
	auth_waiters_tell(&f->waiters, rc);
	fetch_free(f);
}

/* No reply means the connection is going: mark it down before any done
 * runs, so lookups made from done do not send on it. (on_closed or
 * auth_redis_conn_reset has done so already; this is the backstop.) */
static bool reply_missing(struct auth_redis *r, struct redis_conn *c, const redisReply *rep)
{
	if (!rep && !r->freeing && c == r->conn)
		auth_redis_conn_lost(r, "connection closed");
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
	auth_redis_conn_reset(r, why);
}

/* Queue the commands of f. Returns how many were queued. */
static unsigned fetch_send(struct auth_redis *r, struct fetch *f)
{
	char key[AUTH_REDIS_KEY_MAX], key_sha[AUTH_REDIS_KEY_MAX];
	const char *name = (const char *)f->name;
	int n_key = redis_keys_user(key, sizeof(key), r->o.realm, name, f->name_len,
				    REDIS_KEYS_LEAF_KEY);
	int n_sha = redis_keys_user(key_sha, sizeof(key_sha), r->o.realm, name, f->name_len,
				    REDIS_KEYS_LEAF_KEY_SHA256);
	const char *argv[3] = {"MGET", key, key_sha};
	size_t lens[3] = {4, (size_t)n_key, (size_t)n_sha};
	unsigned sent = 0;

	/* Never: AUTH_REDIS_KEY_MAX holds the longest realm and name. */
	if (n_key < 0 || n_sha < 0 ||
	    redis_conn_command(r->conn, on_user_reply, f, 3, argv, lens) < 0)
		return 0;
	sent++;
	if (f->rest) {
		argv[0] = "SMEMBERS";
		argv[1] = r->secret_key;
		lens[0] = 8;
		lens[1] = strlen(r->secret_key);
		if (redis_conn_command(r->conn, on_secret_reply, f, 2, argv, lens) < 0)
			f->failed = true;
		else
			sent++;
	}
	return sent;
}

static struct fetch *fetch_new(struct auth_redis *r, const struct auth_query *q)
{
	struct timeval tv = auth_redis_tv(r->o.timeout_ms);
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

int auth_redis_fetch_start(struct auth_redis *r, const struct auth_query *q)
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
	return q->done ? auth_waiters_add(&f->waiters, WAITERS_MAX, q->done, q->arg) : 0;
}
