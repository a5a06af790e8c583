/*
 * Dispatch (dispatch.c): every message a transport hands up (net_up) is
 * ChannelData for the core's data path, or a STUN message that gets its
 * credential (parked for Redis when it must wait, park.c), the fleet's
 * quota verdict for an Allocate (fleet.c), the core's decision, and its
 * answer back through the path it came on.
 */
#ifndef TURND_DAEMON_DISPATCH_H
#define TURND_DAEMON_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net_worker.h"

struct worker;
struct worker_msg;

/* The hooks every worker's transports call (ctx: the worker). */
extern const struct net_up dispatch_up;

/* Decide m now. Returns true when it was parked again (for the fleet),
 * else whether an allocation used the fleet verdict is in *verdict_used. */
bool dispatch_decide(struct worker *w, const struct worker_msg *m, bool *verdict_used);

#endif
