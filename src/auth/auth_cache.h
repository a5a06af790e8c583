/*
 * A bounded cache of credential answers for one worker's Redis backend
 * (auth_redis.c): username -> a key, a TURN REST name, or "not found",
 * with the time the answer was fetched. The backend decides what is fresh;
 * the cache only keeps, finds and evicts.
 *
 * Bounded in two shares, so that a flood of made-up names cannot push the
 * real users out (they are what keeps working while Redis is down): a
 * quarter of the entries for "not found" and "bad", three quarters for
 * the users found, each share evicting its least recently used entry when
 * full.
 *
 * Names chosen by clients are the keys of a hash table, so the hash is
 * SipHash-2-4 under a random key drawn when the cache is made: collisions
 * cannot be precomputed.
 *
 * Not thread-safe: one cache per worker.
 */
#ifndef TURND_AUTH_AUTH_CACHE_H
#define TURND_AUTH_AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

enum auth_cache_kind {
	AUTH_CACHE_NONE, /* no key: not found */
	AUTH_CACHE_USER, /* key holds the user's key */
	AUTH_CACHE_REST, /* no key, a TURN REST name: checked against the secrets */
	AUTH_CACHE_BAD, /* Redis answered with something that is not a key */
};

struct auth_cache_entry {
	struct auth_cache_entry *hash_next;
	struct auth_cache_entry *lru_prev, *lru_next; /* most recently used first */
	enum auth_cache_kind kind;
	uint64_t fetched_s; /* UNIX time of the answer */
	struct auth_key key; /* AUTH_CACHE_USER only */
	size_t name_len;
	uint8_t name[]; /* not NUL-terminated */
};

struct auth_cache;

/* A cache of at most max_entries (>= 4) entries, owned by the caller
 * (auth_cache_free). NULL on out-of-memory or a failing random source. */
struct auth_cache *auth_cache_new(size_t max_entries);

/* Wipes the keys and frees; NULL is a no-op. */
void auth_cache_free(struct auth_cache *c);

/* The entry for name, marked as just used, or NULL. It belongs to the
 * cache and lives until the next auth_cache_put. */
struct auth_cache_entry *auth_cache_find(struct auth_cache *c, const uint8_t *name, size_t len);

/*
 * Store an answer for name (len >= 1), replacing an earlier one, evicting
 * another entry when the cache is full. key is read for AUTH_CACHE_USER
 * only (may be NULL otherwise). Returns the entry (as auth_cache_find
 * does), or NULL on out-of-memory.
 */
struct auth_cache_entry *auth_cache_put(struct auth_cache *c, const uint8_t *name, size_t len,
					enum auth_cache_kind kind, const struct auth_key *key,
					uint64_t fetched_s);

/* Entries held: all, and the "not found" and "bad" ones among them. */
size_t auth_cache_count(const struct auth_cache *c, size_t *negative);

/* The cache's keyed hash of name, for other tables indexed by names. */
uint64_t auth_cache_hash(const struct auth_cache *c, const uint8_t *name, size_t len);

#endif
