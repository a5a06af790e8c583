/*
 * Credential backends for the long-term credential mechanism (RFC 8489
 * section 9.2, RFC 8656 section 7): given a USERNAME (or a USERHASH), find
 * the key(s) that MESSAGE-INTEGRITY may have been computed with.
 *
 * Backends sit behind one table of function pointers (OpenSMTPD's table
 * backends are the model) and form a chain: static users from the file
 * first, then the TURN REST secrets, then Redis. The first backend that
 * finds the name wins.
 *
 * Lookups are tri-state, so "Redis is down" is never mistaken for "unknown
 * user" (STYLE.md rule 5): AUTH_ERROR -1, AUTH_NOT_FOUND 0, AUTH_FOUND 1,
 * plus AUTH_PENDING 2 for a backend that must ask the network first.
 *
 * Several keys per credential. The TURN REST scheme derives the password
 * from the username with a shared secret, and operators rotate secrets by
 * listing the new and the old one together. The request does not say
 * which secret the client's password came from, so a credential carries
 * one candidate key per secret (AUTH_MAX_KEYS at most) and the core
 * checks MESSAGE-INTEGRITY against each (turn_server_auth), every
 * candidate, each in constant time, without stopping at the first match.
 * Static users have exactly one key.
 *
 * Asynchronous backends (Redis) answer from what they already hold or
 * return AUTH_PENDING and call back once the answer is in; the caller then
 * repeats the lookup (struct auth_query). The core never waits: lookups
 * happen in net/ before turn_server_handle is called (STYLE.md).
 *
 * Threads: the static and secret backends are read-only once built, so
 * one chain may serve every worker. A backend with connections (Redis) is
 * built per worker, on that worker's event base, and used only from the
 * thread that runs it: auth_new_for_worker. Its answer cache is the one
 * thread-safe exception, shared by every worker's backend (auth_cache.h).
 *
 * Order: net/ asks the chain only for a request that passed the checks
 * needing no credential (turn_server_auth_precheck: realm, nonce MAC and
 * age), so a forged nonce never reaches a backend.
 */
#ifndef TURND_AUTH_AUTH_H
#define TURND_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/integrity.h"
#include "stun/msg.h"

struct conf;
struct conf_user;
struct event_base;
struct turn_addr;

/* RFC 5389 section 15.3 allowed 513 bytes, RFC 8489 section 14.3 fewer
 * than 509; the older limit is accepted so older clients still work, as
 * stun_attr_get_text does for USERNAME. */
#define AUTH_USERNAME_MAX 513
/* Candidate keys per credential: one per static-auth-secret. */
#define AUTH_MAX_KEYS 8
/* A buffer for auth_username_printable that holds any username escaped
 * (4 characters per byte at worst) and its NUL. */
#define AUTH_PRINTABLE_MAX (4 * AUTH_USERNAME_MAX + 1)

#define AUTH_ERROR (-1)
#define AUTH_NOT_FOUND 0
#define AUTH_FOUND 1
#define AUTH_PENDING 2

/* One candidate long-term key (RFC 8489 section 9.2.2). */
struct auth_key {
	uint8_t md5[STUN_KEY_MD5_LEN]; /* PASSWORD-ALGORITHM MD5 */
	uint8_t sha256[STUN_KEY_SHA256_LEN]; /* PASSWORD-ALGORITHM SHA-256 */
	bool has_sha256; /* false for users configured by key alone: MD5 only */
};

/* Per-user limits a backend may give with a credential (the HTTP hook's
 * "lifetime", "quota" and "max_bps"); 0 means none: the server's own
 * apply. */
struct auth_limits {
	uint32_t lifetime_s; /* a cap on the allocation's lifetime */
	uint32_t quota; /* this user's allocations on this server at once */
	uint64_t max_bps; /* the user's bandwidth, bytes per second, as user-max-bps */
};

/* What a lookup fills in. About 1 KiB: keep it on the stack or in the
 * request, never per packet. auth_credential_clear wipes it. */
struct auth_credential {
	char username[AUTH_USERNAME_MAX + 1]; /* NUL-terminated, the name as looked up */
	size_t username_len;
	const char *backend; /* name of the backend that answered (static string) */
	uint64_t expires_s; /* TURN REST expiry time, 0 when it does not expire */
	size_t n_keys; /* 1..AUTH_MAX_KEYS when found */
	struct auth_key keys[AUTH_MAX_KEYS];
	/* The backend keeps this answer on probation until a request's
	 * MESSAGE-INTEGRITY verifies with it: tell it with auth_confirm. */
	bool unconfirmed;
	struct auth_limits limits; /* all 0 unless the backend gave some */
};

/* Called by an asynchronous backend when the answer to a lookup that
 * returned AUTH_PENDING has arrived (rc AUTH_FOUND, AUTH_NOT_FOUND or
 * AUTH_ERROR). The backend keeps the answer; the caller runs the same
 * lookup again and gets it without waiting. */
typedef void auth_done_fn(void *arg, int rc);

/* One question to the chain: a username or a USERHASH. */
struct auth_query {
	const uint8_t *username; /* USERNAME view (not NUL-terminated), or NULL */
	size_t len;
	const uint8_t *userhash; /* STUN_USERHASH_LEN bytes, or NULL */
	uint64_t now_s; /* UNIX time, for TURN REST expiry and caches */
	/* NULL: the caller cannot wait, and a backend that would have to
	 * answers AUTH_ERROR instead (fail closed). Otherwise done(arg, rc)
	 * follows every AUTH_PENDING exactly once, from the event loop and
	 * never from inside the lookup, unless the backend is freed first. */
	auth_done_fn *done;
	void *arg;
	/* What the HTTP hook tells the application about the request; NULL
	 * where the caller does not know (auth_lookup, tests). */
	const struct turn_addr *client; /* its source address and port */
	const struct turn_addr *local; /* the address and port it came to */
	const char *transport; /* "udp", "tcp", "tls" or "dtls" */
	const char *method; /* "Allocate", "Refresh", ...: what it authenticates */
};

struct auth_backend;

struct auth_backend_ops {
	const char *name; /* "static", "secret", "redis", "http": for logs */
	/*
	 * Answer q into out. Backends see only queries that passed the
	 * checks of auth_lookup (exactly one of username and userhash; a
	 * username that is valid UTF-8, 1..AUTH_USERNAME_MAX bytes, with no
	 * control character). out arrives zeroed; fill username,
	 * username_len, expires_s, n_keys and keys on AUTH_FOUND.
	 * A synchronous backend answers -1, 0 or 1 and ignores done; an
	 * asynchronous one answers from memory when it can, else starts a
	 * request and returns AUTH_PENDING (only when q->done is set).
	 */
	int (*lookup)(struct auth_backend *b, const struct auth_query *q,
		      struct auth_credential *out);
	/* Release b and everything it owns; wipe key material. */
	void (*free)(struct auth_backend *b);
	/* A request verified with c, an answer of this backend that was
	 * unconfirmed (auth_confirm); NULL for backends that keep nothing. */
	void (*confirm)(struct auth_backend *b, const struct auth_credential *c);
};

/* Every backend starts with this; the backend's own state follows. */
struct auth_backend {
	const struct auth_backend_ops *ops;
};

struct auth;

/* An empty chain, owned by the caller (auth_free). NULL on out-of-memory. */
struct auth *auth_new(void);

/* Append b to the chain. The chain owns b from here on, also on failure
 * (then b is freed). Returns 0 or -1. */
int auth_add(struct auth *a, struct auth_backend *b);

/*
 * The chain the configuration asks for: the static users (if any), then
 * the static-auth-secret list (if any), both for c->realm. The result
 * copies what it needs and does not point into c. Returns a chain owned by
 * the caller, or NULL with a message in err.
 */
struct auth *auth_new_from_conf(const struct conf *c, char *err, size_t errlen);

/*
 * The same chain for one worker: when c->redis.enabled, the Redis backend
 * is appended after the static users and secrets, then the HTTP hook when
 * c->auth_http.url is set (last: every other backend answers without a
 * round trip to an application), each with its connection
 * and cache on base (the worker's event base; the chain must then be
 * used and freed from the thread that runs base, and freed before base).
 * With base NULL this is auth_new_from_conf, and a configuration that
 * asks for Redis or the hook is an error. shared (auth_cache.h) holds the
 * answer caches every worker's backends share (each backend takes a
 * reference), or is NULL for caches of their own. Returns a chain owned by the caller, or
 * NULL with a message in err.
 */
struct auth_cache;
/* The answer caches every worker's backends share (NULL: each its own). */
struct auth_shared {
	struct auth_cache *redis;
	struct auth_cache *http; /* the HTTP hook's (auth-url) */
};
struct auth *auth_new_for_worker(const struct conf *c, struct event_base *base,
				 const struct auth_shared *shared, char *err, size_t errlen);

/*
 * The static users and secrets of c alone, never Redis, whatever c says:
 * what a configuration reload (SIGHUP) builds in the main thread for each
 * worker, which then moves its Redis backend over (auth_move_backend).
 * Returns a chain owned by the caller, or NULL with a message in err.
 */
struct auth *auth_new_local(const struct conf *c, char *err, size_t errlen);

/*
 * Move the backend called name from the chain from to the end of the
 * chain to, keeping its connection, cache and requests in flight (the
 * pointer stays the same). Returns 1 when moved, 0 when from has none,
 * -1 when to is full (the backend then stays in from).
 */
int auth_move_backend(struct auth *to, struct auth *from, const char *name);

/*
 * Walk the chain with q. Returns AUTH_FOUND with *out filled from the
 * first backend that found the name; AUTH_PENDING if a backend must be
 * waited for before any later one may answer; AUTH_ERROR if some backend
 * failed and none found it; otherwise AUTH_NOT_FOUND. Usernames that no
 * client may send (empty, too long, invalid UTF-8, control characters,
 * NUL) are AUTH_NOT_FOUND without asking any backend.
 */
int auth_query_lookup(struct auth *a, const struct auth_query *q, struct auth_credential *out);

/* A request's MESSAGE-INTEGRITY verified with c, an answer of a's that
 * had c->unconfirmed set: the backend that gave it may now keep it as a
 * user's (so that requests with a wrong MAC never fill its cache with
 * names that push real users out). */
void auth_confirm(struct auth *a, const struct auth_credential *c);

/* Synchronous shorthands for auth_query_lookup (done NULL). */
int auth_lookup(struct auth *a, const uint8_t *username, size_t len, uint64_t now_s,
		struct auth_credential *out);
int auth_lookup_userhash(struct auth *a, const uint8_t hash[STUN_USERHASH_LEN], uint64_t now_s,
			 struct auth_credential *out);

void auth_free(struct auth *a);

/* ---- Backends ---- */

/*
 * Users from the configuration, in sorted arrays: O(log n) by name and by
 * USERHASH = SHA-256(name ":" realm) (RFC 8489 section 14.4). Each has the
 * MD5 key from the file and, when the password is known, the SHA-256 key.
 * Returns a backend for auth_add, or NULL with a message in err.
 */
struct auth_backend *auth_static_new(const struct conf_user *users, size_t n, const char *realm,
				     char *err, size_t errlen);

/*
 * TURN REST credentials (draft-uberti-behave-turn-rest-00 section 2.2,
 * coturn's use-auth-secret): the username is "expiry" or "expiry:user"
 * with expiry a UNIX time in decimal, and the password is
 * base64(HMAC-SHA1(secret, username)). An expired username (expiry <
 * now_s) is not found. One candidate key per secret (1..AUTH_MAX_KEYS
 * secrets). USERHASH cannot be reversed to such a name: not found.
 * Returns a backend for auth_add, or NULL with a message in err.
 */
struct auth_backend *auth_secret_new(const char *const *secrets, size_t n, const char *realm,
				     char *err, size_t errlen);

#ifdef HAVE_HIREDIS
/* What auth_redis_new needs; the strings are copied. */
struct auth_redis_options {
	const char *realm;
	const char *host; /* numeric IP address; unused when socket is set */
	uint16_t port;
	const char *socket; /* unix socket path, or NULL for host and port */
	unsigned db; /* SELECT db when not 0 */
	const char *user; /* ACL user (Redis 6+), or NULL; needs password */
	const char *password; /* AUTH [user] password, or NULL for none */
	/* TLS 1.2 or later to host and port (Redis's tls-port); not with
	 * socket. The server's certificate must chain to tls_ca and name
	 * tls_server_name, or the connection fails (and is retried). */
	bool tls;
	const char *tls_ca; /* CA bundle (PEM file); NULL: the system's store */
	const char *tls_cert; /* client certificate chain (PEM), for Redis's */
	const char *tls_key; /* tls-auth-clients; NULL, or both set */
	const char *tls_server_name; /* IP address or DNS name (also SNI); NULL: host */
	unsigned connect_timeout_ms; /* connect, TLS, AUTH, SELECT and PING */
	unsigned timeout_ms; /* one lookup's answer */
	size_t cache_size; /* entries, at least AUTH_REDIS_CACHE_MIN */
	unsigned cache_ttl_s; /* found, at least 1 */
	unsigned negative_ttl_s; /* not found, at least 1 */
	unsigned cache_stale_s; /* found entries past their TTL while Redis is down */
	/* The answer cache to share with the other workers' backends (a
	 * reference is taken); NULL: a cache of cache_size of its own. */
	struct auth_cache *shared_cache;
};

/* Smaller caches could drop an answer before the lookup it was fetched
 * for is repeated (the asynchronous contract above). */
#define AUTH_REDIS_CACHE_MIN 16

/*
 * Credentials in Redis, in coturn's key schema (util/redis_keys.h): a
 * user's key, the hex MD5 long-term key (32 digits), and key-sha256, the
 * hex SHA-256 one (64 digits, ours); the realm's secret, a SET of TURN
 * REST shared secrets.
 * A name without a key that has the TURN REST form is checked against the
 * secrets as auth_secret_new does. USERHASH is not found (the schema has
 * no index by hash).
 *
 * One asynchronous connection on base, which must be the event base of
 * the thread that will call lookup; the backend never blocks it. Redis
 * down at start is not an error: the backend connects in the background
 * and reconnects with back-off (100 ms doubling to 10 s); so is a TLS
 * certificate that does not verify (lookups fail closed meanwhile). The
 * TLS files are read here: one that cannot be read or used is an error,
 * named in err. Answers are
 * cached (found for cache_ttl_s, not found for negative_ttl_s); while
 * Redis cannot answer, found entries serve cache_stale_s longer and
 * anything else is AUTH_ERROR at once (fail closed). A lookup that has
 * to ask Redis returns AUTH_PENDING when q->done is set; without done it
 * answers AUTH_ERROR (or a stale entry) and fetches the answer for the
 * next try. done must not free the chain. Returns a backend for
 * auth_add, or NULL with a message in err.
 */
struct auth_backend *auth_redis_new(const struct auth_redis_options *o, struct event_base *base,
				    char *err, size_t errlen);

/*
 * The backend's connection, for the other things a fleet of servers keeps
 * in the same Redis (daemon/fleet.c: shared quotas, realm settings, events).
 * Same thread rules as the lookups.
 */
struct redisReply;
/* An answer, or rep NULL when none came: the connection was lost, or the
 * command had no answer within timeout_ms (the connection is then reset,
 * as for a lookup). Never called from inside auth_redis_command, nor
 * while the backend is being freed. */
typedef void auth_redis_reply_fn(void *arg, struct redisReply *rep);
/* Whether commands can be sent now (connected and past the handshake). */
bool auth_redis_ready(const struct auth_backend *b);
/* How many connections have completed their handshake so far: a change
 * means Redis came back (and may have lost what it held). */
unsigned auth_redis_epoch(const struct auth_backend *b);
/* Commands sent with auth_redis_command and not yet answered. */
size_t auth_redis_in_flight(const struct auth_backend *b);
/* Send one command in argv form. fn may be NULL (no answer wanted).
 * Returns 0 when sent, -1 when not ready or out of memory (fn is then
 * not called). */
int auth_redis_command(struct auth_backend *b, int argc, const char **argv, const size_t *lens,
		       auth_redis_reply_fn *fn, void *arg);
#endif

/* As AUTH_REDIS_CACHE_MIN, for the HTTP hook's own cache. */
#define AUTH_HTTP_CACHE_MIN 16
/* The hook's cache, shared by the workers: the users it keeps working
 * while the application is down. */
#define AUTH_HTTP_CACHE_SIZE 16384

/* What auth_http_new needs; the strings are copied. */
struct auth_http_options {
	const char *realm;
	const char *host; /* numeric IP address, without brackets */
	uint16_t port;
	const char *path; /* the URL's path, from its '/' on */
	unsigned timeout_ms; /* connect, send and answer, each */
	unsigned cache_ttl_s; /* found, at least 1 */
	unsigned negative_ttl_s; /* refused (403, 404), at least 1 */
	unsigned max_inflight; /* requests in flight at once, at least 1 */
	size_t cache_size; /* entries, at least AUTH_HTTP_CACHE_MIN */
	/* The answer cache shared with the other workers' hooks (a reference
	 * is taken); NULL: one of cache_size of its own. */
	struct auth_cache *shared_cache;
};

/*
 * The HTTP authorization hook (auth_http.c; the body in
 * auth_http_body.h): a name no earlier backend knows is POSTed, with the
 * request's facts (auth_query), to http://host:port/path; 200 with a key
 * or a password is found (with per-user limits, auth_limits), 403 or 404
 * not found, anything else an error (fail closed). Asynchronous on base,
 * which must be the event base of the thread that calls lookup, over a
 * few keep-alive connections; lookups of one name share one request;
 * answers are cached (found for cache_ttl_s, refused for negative_ttl_s)
 * and, once confirmed, served up to cache_ttl_s past their TTL while the
 * hook cannot answer. A failing hook is left alone for a back-off (1 s
 * doubling to 16 s; kept in the cache, so every worker's hook that shares
 * it backs off), during which only the cache answers. Beyond
 * max_inflight requests a lookup fails closed. USERHASH is not found.
 * Returns a backend for auth_add, or NULL with a message in err.
 */
struct auth_backend *auth_http_new(const struct auth_http_options *o, struct event_base *base,
				   char *err, size_t errlen);

/* The hook's counters, for /metrics (read from the backend's thread). */
struct auth_http_stats {
	uint64_t requests; /* HTTP requests sent */
	uint64_t errors; /* requests that failed: connection, timeout, status, junk */
	uint64_t refused; /* answers 403 or 404 */
	uint64_t cache_hits; /* lookups answered from the cache */
	uint64_t failed_closed; /* lookups answered AUTH_ERROR at once: back-off, over
				 * max_inflight, or a request that could not be sent */
	uint64_t in_flight; /* requests now: a gauge */
};
void auth_http_stats_read(const struct auth_backend *b, struct auth_http_stats *out);

/* The chain's backend of that name ("static", "secret", "redis", "http"), or NULL. */
struct auth_backend *auth_backend_named(struct auth *a, const char *name);

/* ---- TURN REST, shared by the secret and Redis backends ---- */

/* One realm's shared secrets, as views (not owned). */
struct auth_rest {
	const char *realm;
	size_t n; /* 0..AUTH_MAX_KEYS; 0 finds nothing */
	const char *secrets[AUTH_MAX_KEYS];
	size_t secret_len[AUTH_MAX_KEYS];
};

/* The expiry of a TURN REST username "expiry" or "expiry:user" (decimal
 * UNIX time, nothing else before the ':'). Returns 0, or -1 for a name of
 * another form. */
int auth_rest_expiry(const uint8_t *name, size_t len, uint64_t *expiry);

/* The TURN REST password of username under secret: base64 of
 * HMAC-SHA1(secret, username), 28 characters and a NUL into out. Returns
 * 0, or -1. */
#define AUTH_REST_PASSWORD_LEN 28
int auth_rest_password(const char *secret, size_t secret_len, const char *username, size_t len,
		       char out[AUTH_REST_PASSWORD_LEN + 1]);

/*
 * The TURN REST check of q against s: a username of the REST form whose
 * expiry is not before q->now_s is AUTH_FOUND with one candidate key per
 * secret; another form, an expired name, a USERHASH or no secret is
 * AUTH_NOT_FOUND; AUTH_ERROR if a key cannot be derived. out as for a
 * backend's lookup.
 */
int auth_rest_lookup(const struct auth_rest *s, const struct auth_query *q,
		     struct auth_credential *out);

/* ---- Helpers ---- */

/* A USERNAME a client may send: 1..AUTH_USERNAME_MAX bytes of UTF-8
 * without control characters (OpaqueString, RFC 8265 section 4.2, has
 * none) and so without NUL. */
bool auth_username_valid(const uint8_t *name, size_t len);


/* Zero a credential in a way the compiler keeps (key material). */
void auth_credential_clear(struct auth_credential *c);

/*
 * A username made safe for a log line: printable ASCII is kept, every
 * other byte and the characters \ and " become \xHH; output longer than
 * cap - 1 is cut at a whole character and ends in "...". Always
 * NUL-terminates when cap > 0. The username is only ever data: log it as
 * log_info("... %s", out), never as a format. Returns out.
 */
char *auth_username_printable(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
