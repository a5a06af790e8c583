/*
 * Allocation quotas and load shedding, shared by every worker of the
 * process (quota.c): allocations per user (user-quota) and in total
 * (total-quota), draining (SIGUSR1), and the shed-allocations / shed-bps
 * thresholds. One mutex, taken once per Allocate and once per deletion,
 * never per packet. The fleet's view across servers is daemon/fleet.c's.
 */
#ifndef TURND_DAEMON_QUOTA_H
#define TURND_DAEMON_QUOTA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* What Redis said of a user's quota across the fleet (daemon/fleet.c), for
 * quota_take: an Allocate parked for it is decided with it. */
enum fleet_verdict {
	FLEET_NONE = 0, /* not asked (no shared quota, or Redis away) */
	FLEET_GRANTED,  /* the fleet's count had room; this node's field was raised */
	FLEET_REFUSED,  /* the user holds user-quota allocations across the fleet */
};

/* Workers a server may run (relay-threads), for per-worker tables. */
#define QUOTA_MAX_WORKERS 64

struct quota_entry;

struct quota_table {
	pthread_mutex_t lock;
	/* The configuration's quotas, or the realm's from Redis. */
	unsigned user_quota, total_quota;
	unsigned total; /* allocations now */
	/* Orders this server's count updates in Redis (daemon/fleet.c): every
	 * count read for Redis takes the next number. */
	uint64_t seq;
	struct quota_entry **users;
	size_t n_buckets;
	bool draining; /* SIGUSR1: no new allocations */
	/* Bytes per second each worker relayed over its last tick (shed-bps). */
	uint64_t worker_bps[QUOTA_MAX_WORKERS];
};

int quota_init(struct quota_table *q, const struct conf *conf);
void quota_fini(struct quota_table *q);

/* What quota_take decides on besides the counts. */
struct quota_ask {
	const struct conf *conf; /* the worker's snapshot: shed-* reload */
	bool retired;            /* the request came on a listener a reload removed */
	bool fleet_refused;      /* Redis said the user is at user-quota across the fleet */
	unsigned user_quota;     /* this user's own, from the HTTP hook; 0: user-quota's */
};

/*
 * Take one allocation for user: 0, 300 (draining, shedding, or a retired
 * listener: try another server), 508 (total-quota) or 486 (user-quota,
 * here or across the fleet). On 0, *count and *seq are the user's new
 * count here and the reading's sequence number (for Redis).
 */
int quota_take(struct quota_table *q, const char *user, const struct quota_ask *ask,
	       unsigned *count, uint64_t *seq);
/* Give one back: true when user had one (then *count and *seq as above). */
bool quota_give(struct quota_table *q, const char *user, unsigned *count, uint64_t *seq);

/* For daemon/fleet.c: user's allocations on this server (and the sequence
 * number of that reading); the user-quota in force; setting both quotas
 * (the realm's from Redis); each user with allocations, with a sequence
 * number, under the lock (fn must not take it). */
unsigned quota_user_count(struct quota_table *q, const char *user, uint64_t *seq);
unsigned quota_user_limit(struct quota_table *q);
void quota_set_limits(struct quota_table *q, unsigned user_quota, unsigned total_quota);
void quota_foreach(struct quota_table *q, void (*fn)(void *, const char *, unsigned, uint64_t),
		   void *arg);
/* Allocations now, over every user. */
unsigned quota_total(struct quota_table *q);
/* Draining (SIGUSR1): Allocate answers 300 (or 508 without alternates). */
void quota_set_draining(struct quota_table *q, bool on);
bool quota_draining(struct quota_table *q);
/* The bytes per second worker relayed over its last tick. */
void quota_set_worker_bps(struct quota_table *q, unsigned worker, uint64_t bps);

#endif
