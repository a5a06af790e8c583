/*
 * Per-user usage on this server, shared by every worker (user_usage.c):
 * each user's relayed bytes and packets each way and allocations now,
 * kept while the user has allocations and for user-usage-linger seconds
 * after; and each user's bandwidth budget (user-max-bps, or the user's
 * own rate from the backend when lower), shared by that
 * user's allocations on every worker without a lock (util/bw_share.h).
 *
 * The packet path never comes here: the core counts per allocation, and
 * the worker folds what each allocation relayed since the last fold into
 * its user's totals once a tick and when it closes (atomics, no lock).
 * One mutex guards the table: taken when an allocation opens or closes,
 * on the expiry walk and for a listing, never per packet.
 *
 * Bounded: a user is tracked while it holds allocations (bounded by
 * them), and at most max_lingering users without allocations are kept,
 * the oldest lingering one evicted first.
 */
#ifndef TURND_DAEMON_USER_USAGE_H
#define TURND_DAEMON_USER_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bw_share.h"

/* A USERNAME is under 513 bytes (RFC 8489 section 14.3). */
#define USER_USAGE_NAME_MAX 513
/* Lingering users kept when the configuration sets no bound. */
#define USER_USAGE_LINGER_MAX 4096

struct user_usage;
struct user_usage_entry;

struct user_usage_opts {
	uint64_t user_max_bps; /* bytes per second per user, 0: no cap */
	uint32_t linger_s; /* kept this long after the last allocation */
	size_t max_lingering; /* users without allocations kept, 0: USER_USAGE_LINGER_MAX */
};

/* Traffic each way, as the core counts it (turn_alloc's counters). */
struct user_usage_traffic {
	uint64_t pkts_to_peer, bytes_to_peer, pkts_to_client, bytes_to_client;
};

/* One user, as a listing copies it. */
struct user_usage_row {
	char user[USER_USAGE_NAME_MAX + 1];
	unsigned allocations; /* now */
	uint64_t allocations_total; /* opened since the user was first tracked */
	struct user_usage_traffic traffic;
	uint64_t since_ms; /* first tracked (the caller's clock) */
	uint64_t idle_ms; /* when its last allocation closed; 0 while it has some */
};

/* Aggregate figures (for /metrics: no per-user label). */
struct user_usage_stats {
	uint64_t users; /* tracked now, with allocations or lingering */
	uint64_t active; /* with allocations */
	uint64_t evicted; /* lingering users dropped for room, ever */
};

/* A table owned by the caller (user_usage_free), or NULL on out-of-memory. */
struct user_usage *user_usage_new(const struct user_usage_opts *o);
void user_usage_free(struct user_usage *u);
/* New options (a reload): every user's cap changes now. */
void user_usage_configure(struct user_usage *u, const struct user_usage_opts *o);

/* An allocation of user opens: the user's entry (created, or taken back
 * from lingering), valid until the matching user_usage_detach. NULL on
 * out-of-memory (the allocation then goes untracked and uncapped by user). */
struct user_usage_entry *user_usage_attach(struct user_usage *u, const char *user, uint64_t now_ms);
/* The user's shared budget (user-max-bps, or the user's own rate when
 * lower), for the allocation's packet path; its rate is 0 when no cap is
 * set. */
struct bw_share *user_usage_budget(struct user_usage_entry *e);
/* The user's own rate, from the backend that authorized it (the HTTP
 * hook's "max_bps"; 0: none): the budget gets the lower of it and
 * user-max-bps from the next refill on, for all the user's allocations,
 * and keeps it while the user is tracked (a reload recomputes it). */
void user_usage_set_rate(struct user_usage *u, struct user_usage_entry *e, uint64_t rate);
/* Add what one allocation relayed since its last fold. No lock. */
void user_usage_add(struct user_usage_entry *e, const struct user_usage_traffic *d);
/* The allocation closed (its last traffic added first): the user lingers
 * from now_ms once it has no allocation left. */
void user_usage_detach(struct user_usage *u, struct user_usage_entry *e, uint64_t now_ms);
/* Drop users that lingered user-usage-linger seconds; call once a tick. */
void user_usage_expire(struct user_usage *u, uint64_t now_ms);

/*
 * A copy of the users with allocations now and of those whose last one
 * closed at or after idle_since_ms (0: every tracked user), for a caller
 * on any thread: an array owned by the caller (free()), with *n rows;
 * NULL with *n 0 when there is none or on out-of-memory.
 */
struct user_usage_row *user_usage_list(struct user_usage *u, uint64_t idle_since_ms, size_t *n);
void user_usage_stats(struct user_usage *u, struct user_usage_stats *out);

#endif
