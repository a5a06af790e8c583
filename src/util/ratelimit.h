/*
 * A fixed-size table of token buckets keyed by a source address, for
 * limiting what a source that has not authenticated can make the server
 * send (SECURITY.md, "What one source may make the server do").
 *
 * The table never grows: a source is hashed (with a seed the caller draws
 * at random, so an outsider cannot aim at a slot) to one slot, and sources
 * that share a slot share its bucket. A flood from many spoofed sources
 * therefore costs no memory; two sources meet in a slot only by chance.
 * Pure: the caller passes the time, the seed and the limits. Not
 * thread-safe: one table per worker.
 */
#ifndef TURND_UTIL_RATELIMIT_H
#define TURND_UTIL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

/* The largest rate (per second) and burst a table accepts. */
#define RATE_LIMIT_MAX 1000000u

struct rate_slot {
	uint32_t stamp_ms; /* when level was last brought up to date (low 32 bits) */
	uint32_t level;    /* thousandths of a token spent and not yet refilled */
};

struct rate_table {
	struct rate_slot *slots;
	uint32_t mask; /* slots - 1 (a power of two) */
	uint32_t seed;
};

/* Fill t with a table of n_slots (rounded up to a power of two, at least
 * 2) empty buckets, owned by t (rate_table_free). Returns 0, or -1 on
 * out-of-memory. */
int rate_table_init(struct rate_table *t, size_t n_slots, uint32_t seed);
void rate_table_free(struct rate_table *t);

/* The limits: rate tokens a second into buckets of burst tokens (each at
 * most RATE_LIMIT_MAX; rate 0 turns the limit off). */
struct rate_limits {
	uint32_t rate;
	uint32_t burst;
};

/*
 * Take one token from src's bucket at now_ms. Returns true when there was
 * one (answer), false when the bucket is empty (suppress). An IPv4 source
 * is keyed by its address, an IPv6 one by its /64 (one host's or one
 * site's prefix: rotating addresses inside it buys no new bucket); the
 * port never counts.
 */
bool rate_table_take(struct rate_table *t, const struct turn_addr *src,
		     const struct rate_limits *lim, uint64_t now_ms);

#endif
