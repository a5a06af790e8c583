/*
 * A worker's upkeep of the kernel fast path (issue 15; docs/OFFLOAD.md):
 * the core says when what an allocation lets through changed or that it
 * is closing (turn_io.alloc_sync), and this keeps the kernel's entries
 * equal to what user space allows: one per bound channel of an eligible
 * allocation, with the channel's, the allocation's and the permission's
 * expiries. Once a tick it folds what the kernel relayed into the core's
 * counters and drops entries past their expiry.
 *
 * The kernel is reached through struct offload_sync_ops, so that a test
 * can record what would be installed (offload_sync_kernel is net/offload.h).
 */
#ifndef TURND_DAEMON_OFFLOAD_SYNC_H
#define TURND_DAEMON_OFFLOAD_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/offload.h"
#include "turn/io.h"

struct turn_alloc;
struct turn_server;

/* net/offload.h's calls a worker makes, with ctx for the struct offload. */
struct offload_sync_ops {
	uint32_t (*new_id)(void *ctx);
	int (*put)(void *ctx, const struct offload_chan *c);
	void (*del)(void *ctx, const struct offload_chan *c);
	int (*bucket_set)(void *ctx, uint32_t alloc_id, uint64_t rate);
	int (*traffic_read)(void *ctx, uint32_t alloc_id, struct offload_count *c);
	void (*alloc_forget)(void *ctx, uint32_t alloc_id);
};

/* The real one: ctx is a struct offload. */
extern const struct offload_sync_ops offload_sync_kernel;

struct offload_rec;

/* One worker's records, by allocation. */
struct offload_sync {
	const struct offload_sync_ops *ops; /* NULL: no fast path, nothing done */
	void *ctx;
	struct offload_rec **buckets;
	size_t n_buckets; /* power of two, or 0 */
	size_t count;     /* records */
	uint64_t entries; /* channels installed by this worker now */
};

/* What the worker knows now. */
struct offload_sync_now {
	uint64_t now_ms;  /* the worker's clock: CLOCK_MONOTONIC */
	bool draining;    /* SIGUSR1: nothing installed, everything removed */
	uint64_t max_bps; /* turn_server_max_bps */
	/* bps-capacity or user-max-bps is set: budgets shared with user
	 * space that the kernel cannot draw from, so nothing is installed
	 * and everything is removed, as when draining. (An allocation whose
	 * user has a rate of its own, the HTTP hook's max_bps, is held back
	 * the same way, by its budget: turn_alloc.user_bw.) */
	bool capped;
};

/* ops NULL: the daemon has no fast path. s holds no record (zeroed, or
 * after offload_sync_fini). */
void offload_sync_init(struct offload_sync *s, const struct offload_sync_ops *ops, void *ctx);
/* Frees what records are left (every allocation's CLOSING normally took
 * them: call after the core is freed). */
void offload_sync_fini(struct offload_sync *s);

/* turn_io.alloc_sync for allocation a (see turn/io.h). */
void offload_sync_alloc(struct offload_sync *s, const struct offload_sync_now *now,
			const struct turn_alloc *a, enum turn_sync why, struct turn_traffic *carried);

/* Once a tick: fold each allocation's traffic since the last fold into
 * srv (turn_server_add_traffic), remove entries whose channel expired,
 * and while draining every entry. */
void offload_sync_tick(struct offload_sync *s, struct turn_server *srv,
		       const struct offload_sync_now *now);

#endif
