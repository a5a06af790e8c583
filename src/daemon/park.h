/*
 * Parked requests (park.c): a request whose user's credential or fleet
 * quota must come from Redis waits as a copy of its bytes, with its tuple
 * and path, and is decided again (the worker's decide) when the answer is in.
 * The event loop never waits.
 */
#ifndef TURND_DAEMON_PARK_H
#define TURND_DAEMON_PARK_H

#include <stdbool.h>

#include "daemon/quota.h"

struct worker;
struct stun_msg;
struct auth_credential;
struct turn_credential;
struct pending_req;
struct worker_msg;

/* Whether m carries MESSAGE-INTEGRITY that needs a credential. */
bool park_needs_credential(const struct stun_msg *m);
/* Look up m's user: 0 with tc filled (found, not found, or error), or 1
 * when the request was parked and will be decided again. */
int park_credential(struct worker *w, const struct stun_msg *m, const struct worker_msg *pc,
		    struct turn_credential *tc, struct auth_credential *ac);
/* Park m for the fleet's quota (fleet.c): a copy is kept until park_resume
 * decides it or park_cancel drops it. NULL when it may not wait or too many
 * are parked. */
struct pending_req *park_for_fleet(struct worker *w, const struct worker_msg *pc);
/* Decide a parked request now, with the fleet's verdict v. Returns whether
 * an allocation took the verdict (false too when its path has gone). */
bool park_resume(struct pending_req *p, enum fleet_verdict v);
void park_cancel(struct pending_req *p);
/* The transport object t went: its parked requests are not answered. */
void park_forget(struct worker *w, const void *t);
void park_free_all(struct worker *w);

#endif
