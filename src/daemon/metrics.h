/*
 * /metrics (Prometheus text) and /healthz over libevent's HTTP server, on
 * the main thread (metrics.c). What it serves comes from one snapshot
 * callback per scrape, which the daemon fills (daemon.c): metrics know no
 * worker, relay or fleet.
 */
#ifndef TURND_DAEMON_METRICS_H
#define TURND_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/user_usage.h"
#include "daemon/worker.h"
#include "net/offload.h"

struct event_base;
struct turn_addr;
struct metrics;

/* Everything one scrape shows. */
struct metrics_view {
	struct worker_snapshot sum; /* every worker's, added up */
	unsigned workers, redis_workers, redis_up;
	unsigned http_workers; /* with the HTTP hook; sum.http adds theirs up */
	uint64_t client_connections; /* counted against max-connections */
	uint64_t ports_in_use, ports_taken_early;
	/* The fleet's (Redis) counters. */
	uint64_t quota_checked, quota_refused, quota_unchecked, events_sent, events_dropped;
	uint64_t reloads_applied, reloads_refused;
	bool draining;
	struct offload_totals offload; /* the kernel fast path; zero when not loaded */
	struct user_usage_stats users; /* per-user usage, in aggregate only */
};

/* Add one worker's snapshot into v. */
void metrics_view_add(struct metrics_view *v, const struct worker_snapshot *s);

struct metrics_source {
	/* Fill v (zeroed by the caller) for one scrape or health check. */
	void (*snapshot)(void *ctx, struct metrics_view *v);
	void *ctx;
};

/* Bind and serve on base. Returns NULL with a message in err. */
struct metrics *metrics_new(const struct metrics_source *src, struct event_base *base,
			    const struct turn_addr *addr, char *err, size_t errlen);
void metrics_free(struct metrics *m);

#endif
