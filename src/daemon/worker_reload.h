/*
 * New settings reaching a running worker (worker_reload.c), for
 * worker_thread.c; private to src/daemon. The main thread posts a reload with
 * worker_reload_post (daemon/reload.h); everything here runs on the worker's
 * own thread.
 */
#ifndef TURND_DAEMON_WORKER_RELOAD_H
#define TURND_DAEMON_WORKER_RELOAD_H

#include <event2/util.h>

struct worker;
struct worker_reload;

/* reload_ev's callback (arg: the worker): take in the reload posted last,
 * if any, between two events of the loop. */
void worker_reload_on_event(evutil_socket_t fd, short what, void *arg);

/* Free a reload that was posted but never taken in (worker_thread_free). NULL is
 * a no-op. */
void worker_reload_discard(struct worker_reload *r);

/* The realm's settings from Redis changed, or the host's addresses did:
 * rebuild this worker's peer policy and set its max-bps (the quotas are
 * shared, and set by worker 0). The previous policy stays if the new one
 * cannot be built. */
void worker_reload_settings(struct worker *w);

#endif
