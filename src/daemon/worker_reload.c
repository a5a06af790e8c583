/*
 * New settings reaching a running worker, applied on its own thread
 * between two events of its loop: the configuration snapshot a SIGHUP
 * posts (daemon/reload.c plans it, worker_reload_post hands it over), and the
 * realm's settings from Redis (daemon/fleet.c). Allocations, their
 * permissions and channels stay; new requests meet the new settings.
 */
#include "daemon/worker_reload.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "auth/auth.h"
#include "net/listen.h"
#include "net/peer_policy.h"
#include "daemon/fleet.h"
#include "daemon/quota.h"
#include "daemon/reload.h"
#include "daemon/worker.h"
#include "io/clock.h"
#include "turn/policy.h"
#include "util/log.h"

/* A reload posted to one worker (reload.h). */
struct worker_reload {
	struct reload_snapshot *snap; /* one reference, the worker's */
	struct auth *auth;         /* static users and secrets of snap */
	struct listen_change *listen; /* sockets to attach, close, retire */
};

void worker_reload_discard(struct worker_reload *r)
{
	if (!r)
		return;
	reload_snapshot_release(r->snap);
	auth_free(r->auth);
	listen_change_free(r->listen);
	free(r);
}

/* The realm's settings from Redis changed: this worker's policy and
 * bandwidth cap follow (the quotas are shared and already set). */
void worker_reload_settings(struct worker *w)
{
	struct fleet_shared *fs = w->fleet.shared;

	pthread_mutex_lock(&fs->lock);
	uint64_t gen = fs->generation;
	uint64_t bps = fs->has_max_bps ? fs->max_bps : w->conf->max_bps;
	const struct peer_policy_ranges realm = { fs->allowed, fs->denied, fs->n_allowed,
						  fs->n_denied };
	struct turn_policy *p = peer_policy_new(w->conf, &realm, w->nw.relay_shared);
	pthread_mutex_unlock(&fs->lock);
	if (!p) {
		log_warn("worker %u: cannot build the peer policy from Redis's ranges; the "
			 "previous one stays",
			 w->id);
		return;
	}
	turn_server_set_policy(w->srv, p, io_clock_ms(w->clock));
	turn_server_set_max_bps(w->srv, bps);
	if (bps != w->nw.pipe_bps) {
		w->nw.pipe_bps = bps;
		tcp_pipes_set_max_bps(&w->nw, bps);
	}
	turn_policy_free(w->policy);
	w->policy = p;
	fleet_settings_applied(w, gen);
}

/* Worker 0 sets the shared quotas, as it does for Redis's (fleet.c), so
 * the two never race: the realm's values from Redis win over the file's. */
static void worker_apply_quotas(struct worker *w)
{
	struct fleet_shared *fs = w->fleet.shared;

	pthread_mutex_lock(&fs->lock);
	unsigned uq = fs->has_user_quota ? fs->user_quota : w->conf->user_quota;
	unsigned tq = fs->has_total_quota ? fs->total_quota : w->conf->total_quota;
	pthread_mutex_unlock(&fs->lock);
	quota_set_limits(w->quota, uq, tq);
}

/* A new snapshot, between two events of this worker's loop: nothing of
 * the old one is in use on the stack. Allocations, their permissions and
 * channels stay; new requests meet the new users, ranges and limits. */
static void worker_reload_apply(struct worker *w, struct worker_reload *r)
{
	const struct conf *c = r->snap->conf;
	struct reload_snapshot *old = w->conf_snap;

	/* The Redis backend and the HTTP hook (connections, caches, lookups
	 * in flight) move to the new chain, in that order; the old static
	 * users and secrets go. (A move fails only on a full chain, which
	 * four backends cannot fill: the first never moves alone.) */
	if (auth_move_backend(r->auth, w->auth, "redis") < 0 ||
	    auth_move_backend(r->auth, w->auth, "http") < 0) {
		log_warn("worker %u: cannot move the Redis backend or the HTTP hook; the "
			 "previous users and secrets stay",
			 w->id);
		auth_free(r->auth);
	} else {
		auth_free(w->auth);
		w->auth = r->auth;
	}
	w->conf_snap = r->snap;
	w->conf = c;
	w->nw.conf = c;
	/* Between two events: no socket's callback is on the stack. */
	listen_change_apply(&w->nw, r->listen);
	free(r);
	turn_server_set_limits(w->srv, c->max_lifetime, c->max_permissions, c->max_channels,
			       c->max_tcp_connections);
	worker_reload_settings(w); /* peer policy and max-bps, with Redis's */
	if (w->id == 0)
		worker_apply_quotas(w);
	if (atomic_fetch_add(&w->conf_snap->applied, 1) + 1 == w->conf_snap->n_workers)
		log_notice("SIGHUP: every worker runs the new configuration");
	reload_snapshot_release(old);
}

void worker_reload_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->reload_lock);
	struct worker_reload *r = w->reload_next;
	w->reload_next = NULL;
	pthread_mutex_unlock(&w->reload_lock);
	if (r)
		worker_reload_apply(w, r);
}

void worker_reload_post(struct worker *w, struct reload_snapshot *snap, struct auth *auth,
			struct listen_change *listen)
{
	struct worker_reload *r = malloc(sizeof(*r));

	if (!r) {
		log_error("SIGHUP: worker %u: out of memory; it keeps the previous configuration",
			  w->id);
		auth_free(auth);
		listen_change_free(listen);
		return;
	}
	reload_snapshot_hold(snap);
	*r = (struct worker_reload){ snap, auth, listen };
	pthread_mutex_lock(&w->reload_lock);
	/* Two SIGHUPs before the worker ran: the later configuration wins,
	 * but the listener changes of both are made, in order (the second
	 * was planned from the first). */
	struct worker_reload *stale = w->reload_next;
	if (stale) {
		r->listen = listen_change_chain(stale->listen, r->listen);
		stale->listen = NULL;
	}
	w->reload_next = r;
	pthread_mutex_unlock(&w->reload_lock);
	worker_reload_discard(stale);
	/* Thread-safe: the base was made after evthread_use_pthreads. */
	event_active(w->reload_ev, EV_READ, 0);
}
