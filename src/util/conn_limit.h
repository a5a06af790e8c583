/*
 * Counting client connections per source and in total, so that one source
 * address cannot take every connection slot of the server (SECURITY.md,
 * "What one source may make the server do"; issue 13 items 4 and 5).
 *
 * Pure bookkeeping: no lock, no clock. The caller (net/conn_gate.c) holds
 * one lock around these calls, so that every worker counts in the same
 * table: SO_REUSEPORT spreads one source's connections over the workers by
 * a hash of the 4-tuple, so a cap divided per worker would refuse a busy
 * NAT on one worker while another still had room.
 *
 * A source is an IPv4 address, or an IPv6 /64 (one site's prefix: a host
 * can pick any address in its /64, so counting single IPv6 addresses
 * would bound nothing). An IPv4-mapped IPv6 address counts as its IPv4.
 */
#ifndef TURND_UTIL_CONN_LIMIT_H
#define TURND_UTIL_CONN_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

struct conn_limit;

enum conn_limit_result {
	CONN_LIMIT_OK = 0,
	CONN_LIMIT_PER_SOURCE, /* the source has per_source connections already */
	CONN_LIMIT_TOTAL,      /* the server has total connections already */
	CONN_LIMIT_NOMEM,      /* no memory for a new source's entry */
};

/* A new, empty table; seed keys its hash (pass a random one). The caller
 * frees it with conn_limit_free. NULL when out of memory. */
struct conn_limit *conn_limit_new(uint32_t seed);
void conn_limit_free(struct conn_limit *t);

/* Count one more connection from src, unless the source already has
 * per_source or the table total (0 for either: no cap). Nothing is
 * counted unless the result is CONN_LIMIT_OK. */
enum conn_limit_result conn_limit_take(struct conn_limit *t, const struct turn_addr *src,
				       unsigned per_source, unsigned total);
/* A connection counted by conn_limit_take from src is gone. */
void conn_limit_put(struct conn_limit *t, const struct turn_addr *src);

/* Connections counted now for src's source, and in all. */
unsigned conn_limit_count(const struct conn_limit *t, const struct turn_addr *src);
unsigned conn_limit_total(const struct conn_limit *t);
/* Sources with at least one connection (entries in the table). */
size_t conn_limit_sources(const struct conn_limit *t);

#endif
