/*
 * The Redis backend's parts (auth_redis_new in auth.h for the contract):
 * auth_redis.c, the backend (lookup, options, other commands);
 * auth_redis_conn.c, the connection's state machine (handshake, back-off,
 * time limits); auth_redis_fetch.c, the lookups in flight and what their
 * replies mean.
 */
#ifndef TURND_AUTH_AUTH_REDIS_INT_H
#define TURND_AUTH_AUTH_REDIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "auth/auth.h"
#include "auth/auth_cache.h"
#include "util/redis_keys.h"

#define AUTH_REDIS_BACKOFF_MIN_MS 100
#define AUTH_REDIS_BACKOFF_MAX_MS 10000
/* Fetches in flight per worker: beyond them a lookup fails closed rather
 * than grow without bound. */
#define AUTH_REDIS_FETCH_BUCKETS 256
/* More room than a REALM ever needs (RFC 8489 section 14.9: at most 763
 * bytes); a longer one is refused by auth_redis_new. */
#define AUTH_REDIS_REALM_MAX 1024
#define AUTH_REDIS_KEY_MAX REDIS_KEYS_MAX(AUTH_REDIS_REALM_MAX, AUTH_USERNAME_MAX)
#define AUTH_REDIS_WHERE_MAX 128

enum auth_redis_state {
	AUTH_REDIS_DOWN, /* no connection; the retry timer is armed */
	AUTH_REDIS_CONNECTING, /* connect and handshake under way */
	AUTH_REDIS_READY, /* lookups may be sent */
};

struct fetch;
struct redis_conn;

struct auth_redis {
	struct auth_backend base; /* first: the chain holds &base */
	struct auth_redis_options o; /* strings point to the copies below */
	char *realm, *host, *socket, *user, *password;
	char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
	char secret_key[AUTH_REDIS_KEY_MAX];
	char where[AUTH_REDIS_WHERE_MAX]; /* "127.0.0.1:6379" or "unix:/path", for logs */

	struct event_base *evb;
	SSL_CTX *tls; /* NULL without redis-tls */
	struct redis_conn *conn;
	enum auth_redis_state state;
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
	struct fetch *inflight[AUTH_REDIS_FETCH_BUCKETS];
	size_t n_inflight;
};

static inline struct timeval auth_redis_tv(unsigned ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

/* auth_redis_conn.c */

/* The timers, with the first connection made from r's event loop.
 * Returns 0, or -1 out of memory. */
int auth_redis_conn_init(struct auth_redis *r);
/* Drops the connection (failing what is unanswered on it), the timers and
 * the TLS context. */
void auth_redis_conn_fini(struct auth_redis *r);
/* The connection is gone, or is being given up: forget it and retry
 * later. The connection is freed by whoever let go of it. */
void auth_redis_conn_lost(struct auth_redis *r, const char *why);
/* Drop the connection ourselves: the commands still unanswered get their
 * callbacks with no reply. */
void auth_redis_conn_reset(struct auth_redis *r, const char *why);

/* auth_redis_fetch.c */

/* Ask Redis about q's name, or join the fetch already asking. With
 * q->done set, done(arg) follows once the answer is in. Returns 0, or -1
 * when the lookup cannot wait for an answer. */
int auth_redis_fetch_start(struct auth_redis *r, const struct auth_query *q);
/* What a lookup of q gets from the cached answer e: AUTH_FOUND with out
 * filled, AUTH_NOT_FOUND or AUTH_ERROR. */
int auth_redis_fetch_answer(const struct auth_redis *r, const struct auth_cache_answer *e,
			    const struct auth_query *q, struct auth_credential *out);

#endif
