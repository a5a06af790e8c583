/*
 * A bounded cache of credential answers for the Redis backend
 * (auth_redis.c), shared by every worker's backend: username -> a key, a
 * TURN REST name, or "not found", with the time the answer was fetched,
 * and the realm's TURN REST secrets from the latest SMEMBERS answer. The
 * backend decides what is fresh; the cache only keeps, finds and evicts.
 *
 * Shared (issue 13, item 3): a user who authenticated on one worker keeps
 * working from any worker while Redis is down, whichever worker the
 * kernel hands a new source port to. Thread-safe: the entries sit in
 * shards, each under its own mutex, chosen by the keyed hash of the name,
 * so workers authenticating different users rarely wait on each other;
 * the secrets sit under a read-write lock. Only authentication consults
 * it: the relay path never takes these locks.
 *
 * Bounded in three shares per shard, so that made-up names cannot push
 * the real users out (they are what keeps working while Redis is down):
 * a quarter for "not found" and "bad", a quarter for answers found but
 * not yet confirmed by a request whose MESSAGE-INTEGRITY verified with
 * them ("probation"), and half for confirmed users. A request with a
 * wrong MAC can only ever add to the first two; each share evicts its
 * least recently used entry when full.
 *
 * Names chosen by clients are the keys of a hash table, so the hash is
 * SipHash-2-4 under a random key drawn when the cache is made: collisions
 * cannot be precomputed.
 */
#ifndef TURND_AUTH_AUTH_CACHE_H
#define TURND_AUTH_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/* Shards at most; a small cache has fewer (at least 64 entries each), so
 * that its shares stay meaningful. A power of two. */
#define AUTH_CACHE_SHARDS_MAX 16

enum auth_cache_kind {
	AUTH_CACHE_NONE, /* no key: not found */
	AUTH_CACHE_USER, /* key holds the user's key */
	AUTH_CACHE_REST, /* no key, a TURN REST name: checked against the secrets */
	AUTH_CACHE_BAD, /* Redis answered with something that is not a key */
};

/* A copy of one entry: nothing the caller holds points into the cache. */
struct auth_cache_answer {
	enum auth_cache_kind kind;
	uint64_t fetched_s; /* UNIX time of the answer */
	bool confirmed; /* USER or REST whose key has verified a request */
	struct auth_key key; /* AUTH_CACHE_USER only */
	struct auth_limits limits; /* AUTH_CACHE_USER only: the HTTP hook's */
};

struct auth_cache;

/* A cache of at most max_entries (>= 4) entries with one reference, owned
 * by the caller (auth_cache_free). NULL on out-of-memory or a failing
 * random source. */
struct auth_cache *auth_cache_new(size_t max_entries);

/* One more reference to c (every backend sharing it holds one). Returns c. */
struct auth_cache *auth_cache_ref(struct auth_cache *c);

/* Drops a reference; the last one wipes the keys and secrets and frees.
 * NULL is a no-op. */
void auth_cache_free(struct auth_cache *c);

/* The answer for name, copied into *out and marked as just used. Returns
 * true when there is one. */
bool auth_cache_get(struct auth_cache *c, const uint8_t *name, size_t len,
		    struct auth_cache_answer *out);

/*
 * Store an answer for name (len >= 1), replacing an earlier one, evicting
 * another entry of its share when that is full. key is read for
 * AUTH_CACHE_USER only (may be NULL otherwise). A found answer starts in
 * probation, unless it replaces a confirmed one of the same kind and key
 * (a refresh after the TTL). Returns 0, or -1 on out-of-memory.
 */
int auth_cache_put(struct auth_cache *c, const uint8_t *name, size_t len,
		   enum auth_cache_kind kind, const struct auth_key *key, uint64_t fetched_s);

/* auth_cache_put with the answer's kind, key, limits and fetched_s. */
int auth_cache_store(struct auth_cache *c, const uint8_t *name, size_t len,
		     const struct auth_cache_answer *a);

/* A request's MESSAGE-INTEGRITY verified with name's answer: move it to
 * the confirmed share. Returns true when an entry was found. */
bool auth_cache_confirm(struct auth_cache *c, const uint8_t *name, size_t len);

/* Entries held: all, and the "not found" and "bad" ones among them. */
size_t auth_cache_count(const struct auth_cache *c, size_t *negative);

/* Confirmed entries held. */
size_t auth_cache_confirmed(const struct auth_cache *c);

/* The cache's keyed hash of name, for other tables indexed by names. */
uint64_t auth_cache_hash(const struct auth_cache *c, const uint8_t *name, size_t len);

/* Replace the realm's TURN REST secrets (n <= AUTH_MAX_KEYS, each
 * copied). Returns 0, or -1 on out-of-memory (then none are kept). */
int auth_cache_set_secrets(struct auth_cache *c, const char *const *secrets, const size_t *lens,
			   size_t n);

/*
 * A pause shared by every backend using c: the HTTP hook's back-off
 * (auth_http.c), so that what one worker learnt of a failing application
 * holds for all. Lock-free. auth_cache_held: whether one runs at now_s.
 * auth_cache_hold: start the next one at now_s, doubling from min_s to at
 * most max_s, unless one runs already; returns its length in seconds, or
 * 0 when one was running. auth_cache_release: end it and reset the
 * doubling; returns whether there was one to end.
 */
bool auth_cache_held(const struct auth_cache *c, uint64_t now_s);
unsigned auth_cache_hold(struct auth_cache *c, uint64_t now_s, unsigned min_s, unsigned max_s);
bool auth_cache_release(struct auth_cache *c);

/* How many secrets are held. */
size_t auth_cache_secrets(struct auth_cache *c);

/* auth_rest_lookup (auth.h) of q against the secrets held, for realm. */
/* A USER answer (e) as the credential for q: q's name (auth_query_lookup
 * checked its length and that it holds no NUL), e's one key and limits,
 * unconfirmed until a request verified with it. */
void auth_cache_answer_fill(const struct auth_cache_answer *e, const struct auth_query *q,
			    struct auth_credential *out);

int auth_cache_rest_lookup(struct auth_cache *c, const char *realm, const struct auth_query *q,
			   struct auth_credential *out);

#endif
