/* The struct turn_io a worker gives its protocol core (turn_io.c): relay
 * sockets from net/relay.c, quotas from quota.c and the fleet, the
 * allocation log and events. ctx is the worker; each request's facts come
 * back as turn_input.origin (a struct worker_origin). */
#ifndef TURND_DAEMON_TURN_IO_H
#define TURND_DAEMON_TURN_IO_H

#include <stdint.h>

#include "turn/io.h"

struct worker;

void turn_io_init(struct turn_io *io, struct worker *w);
/* The worker's tick for the kernel fast path (daemon/offload_sync.h):
 * fold what it relayed, drop expired entries, all of them when draining. */
void turn_io_offload_tick(struct worker *w, uint64_t now_ms);
/* The worker's tick for per-user usage (daemon/user_usage.h): fold what
 * each allocation relayed into its user's totals; on worker 0 also expire
 * lingering users and, every user-usage-interval, write the usage events. */
void turn_io_usage_tick(struct worker *w, uint64_t now_ms);

#endif
