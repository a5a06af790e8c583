/*
 * Several turnd servers on one Redis, acting as one service (daemon/fleet.c):
 *
 *   - per-user allocation quotas counted across every server: each server
 *     keeps its count of a user's allocations in the hash
 *     turn/realm/<realm>/user/<name>/allocations (field: its node id;
 *     value "<seq>:<count>", seq ordering the server's updates), and
 *     counts only the fields of servers whose liveness key
 *     turn/realm/<realm>/node/<id> has not expired, so a server that
 *     crashed stops holding quota within a minute;
 *   - the realm's limits and peer ranges read from Redis while running
 *     (coturn's keys: turn/realm/<realm>/max-bps, user-quota, total-quota,
 *     allowed-peer-ip, denied-peer-ip);
 *   - allocation events (created, refreshed, deleted, with the traffic)
 *     appended to the stream turn/realm/<realm>/events, capped in length,
 *     and dropped with a counter when Redis is slow or away.
 *
 * Everything goes over the worker's Redis credential connection
 * (auth_redis_command) and never blocks the loop. Redis away: quotas are
 * counted on this server alone, the last settings read stay in force, and
 * events are dropped.
 */
#ifndef TURND_DAEMON_FLEET_H
#define TURND_DAEMON_FLEET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "turn/io.h"
#include "turn/policy.h"

struct worker;
struct stun_msg;
struct auth_credential;
struct worker_msg;

/* Shared by every worker of one server. */
struct fleet_shared {
	pthread_mutex_t lock;
	const struct conf *conf;
	bool enabled; /* Redis is configured */
	char node_id[CONF_NODE_ID_MAX + 1];
	/* The realm's settings as last read from Redis; has_* false: the
	 * configuration's value holds. generation counts the changes. */
	uint64_t generation;
	bool has_max_bps, has_user_quota, has_total_quota;
	uint64_t max_bps;
	unsigned user_quota, total_quota;
	struct turn_addr_range *allowed, *denied;
	size_t n_allowed, n_denied;
	/* Counters, for logs and metrics. */
	uint64_t events_sent, events_dropped;
	uint64_t quota_checked, quota_refused, quota_unchecked;
};

int fleet_shared_init(struct fleet_shared *fs, const struct conf *c, char *err, size_t errlen);
void fleet_shared_fini(struct fleet_shared *fs);

/* The shared-quota decision for an Allocate about to be decided, whose
 * MESSAGE-INTEGRITY verified with ac (turn_server_auth: a forged request
 * costs no round trip): returns 1 when the request was parked until Redis
 * answers (it is resumed with the verdict), 0 to go on now. */
int fleet_reserve(struct worker *w, const struct stun_msg *m, const struct worker_msg *pc,
		  const struct auth_credential *ac);

/* This node holds count allocations of user, as of reading seq
 * (quota_user_count): tell Redis, where a later reading is never
 * overwritten by an earlier one sent on another worker's connection. */
void fleet_quota_changed(struct worker *w, const char *user, unsigned count, uint64_t seq);

/* turn_io.alloc_event for the worker (ctx). */
void fleet_alloc_event(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
		       uint32_t lifetime);

/* Each user with allocations here, or whose last one closed at or after
 * since_ms, with its totals (daemon/user_usage.h), as a "usage" entry in
 * the event stream when redis-events is on. */
void fleet_usage_events(struct worker *w, uint64_t since_ms);

/* Once a second from the worker's tick: worker 0 reads the realm's
 * settings and refreshes this node's liveness and counts in Redis.
 * Returns true when the shared settings changed since this worker last
 * applied them (the caller rebuilds its policy, then calls
 * fleet_settings_applied). */
bool fleet_tick(struct worker *w, uint64_t now_ms);
void fleet_settings_applied(struct worker *w, uint64_t generation);

#endif
