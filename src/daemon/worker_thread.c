/*
 * A worker's life (worker_thread.h): created in the main thread with every
 * socket bound (so bind errors surface at start-up, before privileges are
 * dropped), then its own thread running its own event base, a tick once a
 * second, and its end. New settings reach a running worker through
 * worker_reload.c.
 */
#include "daemon/worker_thread.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "daemon/dispatch.h"
#include "daemon/fleet.h"
#include "daemon/park.h"
#include "daemon/reload.h"
#include "daemon/turn_io.h"
#include "daemon/worker.h"
#include "daemon/worker_reload.h"
#include "net/net_loop.h"
#include "io/clock.h"
#include "net/listen.h"
#include "net/nat.h"
#include "net/peer_policy.h"
#include "net/tls.h"
#include "turn/policy.h"
#include "util/log.h"

void worker_thread_free(struct worker *w)
{
	if (!w)
		return;
	pthread_mutex_destroy(&w->snap_lock);
	/* Client connections and listening sockets first: their allocations
	 * end in the core, whose relays the transports still hold. */
	net_loop_close_clients(&w->nw);
	turn_server_free(w->srv);
	offload_sync_fini(&w->offload); /* after every allocation's CLOSING */
	net_loop_fini(&w->nw);
	turn_policy_free(w->policy);
	auth_free(w->auth); /* no callback can come after this */
	park_free_all(w);
	rate_table_free(&w->unauth);
	if (w->tick_ev)
		event_free(w->tick_ev);
	if (w->reload_ev)
		event_free(w->reload_ev);
	if (w->ifaddr_ev)
		event_free(w->ifaddr_ev);
	if (w->ifaddr_fd >= 0)
		close(w->ifaddr_fd);
	/* A reload posted after the loop had stopped. */
	worker_reload_discard(w->reload_next);
	pthread_mutex_destroy(&w->reload_lock);
	reload_snapshot_release(w->conf_snap);
	if (w->nw.base)
		event_base_free(w->nw.base);
	free(w);
}

/* The sockets of each listener: one per datagram transport it names, and
 * one TCP socket for tcp, tls (or both) and proxy. */
static int worker_bind_listeners(struct worker *w, const struct conf *conf, char *err, size_t errlen)
{
	const unsigned stream = CONF_LISTEN_TCP | CONF_LISTEN_TLS | CONF_LISTEN_PROXY;

	for (size_t i = 0; i < conf->n_listeners; i++) {
		const struct conf_listener *l = &conf->listeners[i];

		if ((l->transports & stream) &&
		    listen_open(&w->nw, &l->addr, (l->transports & stream) | LISTEN_ENTRY, err,
				errlen) < 0)
			return -1;
		for (unsigned bit = CONF_LISTEN_UDP; bit <= CONF_LISTEN_DTLS; bit <<= 1)
			if ((l->transports & bit & (CONF_LISTEN_UDP | CONF_LISTEN_DTLS)) &&
			    listen_open(&w->nw, &l->addr, bit | LISTEN_ENTRY, err, errlen) < 0)
				return -1;
	}
	return 0;
}

/* Bind this worker's sockets: one UDP and one TCP socket per listening
 * address, unless that transport is turned off, as many on the TLS port
 * for DTLS and TLS, those of each listener and of NAT discovery. */
static int worker_bind(struct worker *w, const struct conf *conf, char *err, size_t errlen)
{
	for (size_t i = 0; i < conf->n_listen; i++) {
		if (!conf->no_udp && listen_open(&w->nw, &conf->listen[i], CONF_LISTEN_UDP, err, errlen) < 0)
			return -1;
		if (!conf->no_tcp && listen_open(&w->nw, &conf->listen[i], CONF_LISTEN_TCP | LISTEN_MAIN,
						 err, errlen) < 0)
			return -1;
		if (listen_open_tls_port(&w->nw, &conf->listen[i], err, errlen) < 0)
			return -1;
	}
	if (worker_bind_listeners(w, conf, err, errlen) < 0)
		return -1;
	return nat_worker_bind(&w->nw, conf, err, errlen);
}

/* The counters the metrics thread reads, copied once a tick. */
static void worker_snapshot_take(struct worker *w, uint64_t now)
{
	struct worker_snapshot s = { .net = w->nw.stats, .daemon = w->stats,
				    .core = *turn_server_stats(w->srv) };

	turn_server_gauges(w->srv, now, &s.permissions, &s.channels);
	memcpy(s.alloc_hist, w->alloc_hist, sizeof(s.alloc_hist));
	s.alloc_sum_us = w->alloc_sum_us;
#ifdef HAVE_HIREDIS
	s.redis = w->fleet.redis ? (int)auth_redis_ready(w->fleet.redis) : -1;
#else
	s.redis = -1;
#endif
	s.pending = w->n_pending;
	struct auth_backend *hook = auth_backend_named(w->auth, "http");
	s.has_http = hook != NULL;
	if (hook)
		auth_http_stats_read(hook, &s.http);
	pthread_mutex_lock(&w->snap_lock);
	w->snap = s;
	pthread_mutex_unlock(&w->snap_lock);
}

void worker_thread_snapshot_read(struct worker *w, struct worker_snapshot *out)
{
	pthread_mutex_lock(&w->snap_lock);
	*out = w->snap;
	pthread_mutex_unlock(&w->snap_lock);
}

/* Relayed datagrams a second above which rx-coalesce-us applies. */
#define COALESCE_MIN_PPS 5000

static void worker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t now = io_clock_ms(w->clock);
	const struct turn_server_stats *s = turn_server_stats(w->srv);
	uint64_t bytes = s->bytes_to_peer + s->bytes_to_client + w->nw.stats.tcp_relay_bytes[0] +
			 w->nw.stats.tcp_relay_bytes[1];

	(void)fd;
	(void)what;
	atomic_fetch_add_explicit(&w->ticks, 1, memory_order_relaxed);
	turn_server_tick(w->srv, now);
	turn_io_offload_tick(w, now);
	turn_io_usage_tick(w, now);
	net_loop_tick(&w->nw, now);
	/* The relayed byte rate, for shed-bps. */
	if (w->conf->shed_bps && now > w->last_tick_ms && w->last_tick_ms)
		quota_set_worker_bps(w->quota, w->id,
				     (bytes - w->last_relayed_bytes) * 1000 / (now - w->last_tick_ms));
	/* rx-coalesce-us waits only while this worker is busy; the plain
	 * loop is left for worker_loop's (a break) when it starts. */
	uint64_t pkts = s->relayed_to_peer + s->relayed_to_client;
	bool was = w->coalescing;
	w->coalescing = w->conf->rx_coalesce_us > 0 && w->last_tick_ms && now > w->last_tick_ms &&
			(pkts - w->tick_pkts) * 1000 / (now - w->last_tick_ms) > COALESCE_MIN_PPS;
	w->tick_pkts = pkts;
	if (w->coalescing && !was)
		event_base_loopbreak(w->nw.base);
	w->last_tick_ms = now;
	w->last_relayed_bytes = bytes;
	if (fleet_tick(w, now))
		worker_reload_settings(w);
	worker_snapshot_take(w, now);
}

static struct turn_server *worker_server(struct worker *w, const struct worker_env *n)
{
	const struct conf *c = n->conf;
	struct turn_server_options so = {
		.software = c->software,
		.rfc3489_compat = c->stun_backward_compat,
		.stun_only = c->stun_only,
		.realm = c->realm,
		.max_bps = c->max_bps,
		.max_lifetime = c->max_lifetime,
		.max_permissions = c->max_permissions,
		.max_channels = c->max_channels,
		.max_tcp_connections = c->max_tcp_connections,
		.legacy_channels = c->legacy_channels,
		.alternates = c->alternates,
		.n_alternates = c->n_alternates,
		.policy = n->policy,
		.io = &w->turn_io,
		.hash_seed = n->hash_seed,
	};

	memcpy(so.nonce_secret, n->nonce_secret, sizeof(so.nonce_secret));
	nat_pairs(c, so.nat);
	turn_io_init(&w->turn_io, w);
	return turn_server_new(&so);
}

/* The kernel added or removed an address: the host's own addresses, which
 * the peer policy refuses, are read again (SECURITY.md). */
static void on_ifaddr_change(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	if (peer_policy_watch_drain(fd))
		worker_reload_settings(arg);
}

/* Watch address changes; without netlink the policy is still re-read on
 * SIGHUP and on a Redis settings change. */
static void worker_watch_addresses(struct worker *w)
{
	w->ifaddr_fd = peer_policy_watch_open();
	if (w->ifaddr_fd < 0) {
		log_warn("worker %u: cannot watch address changes (%s); own addresses are "
			 "re-read on SIGHUP only",
			 w->id, strerror(errno));
		return;
	}
	w->ifaddr_ev = event_new(w->nw.base, w->ifaddr_fd, EV_READ | EV_PERSIST, on_ifaddr_change, w);
	if (!w->ifaddr_ev || event_add(w->ifaddr_ev, NULL) < 0)
		log_warn("worker %u: cannot watch address changes", w->id);
}

/* The worker's own parts, before its sockets. */
static int worker_init_parts(struct worker *w, const struct worker_env *n, char *err,
			     size_t errlen)
{
	const struct net_loop_params ni = {
		.id = w->id, .base = event_base_new(), .conf = n->conf,
		.relay_shared = n->relay, .tls = n->tls, .conn_gate = n->conn_gate,
		.up = &dispatch_up, .up_ctx = w,
	};

	if (!ni.base || net_loop_init(&w->nw, &ni) < 0) {
		if (ni.base && !w->nw.base)
			event_base_free(ni.base);
		snprintf(err, errlen, "cannot create worker %u", w->id);
		return -1;
	}
	w->srv = worker_server(w, n);
	w->nw.srv = w->srv;
	if (w->srv)
		turn_server_set_capacity(w->srv, n->capacity);
	w->nw.capacity = n->capacity; /* RFC 6062 pipes draw from it too */
	if (!w->srv || rate_table_init(&w->unauth, WORKER_UNAUTH_SLOTS, n->hash_seed ^ w->id) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const struct auth_shared shared = { n->auth_cache, n->auth_http_cache };
	w->auth = auth_new_for_worker(n->conf, w->nw.base, &shared, err, errlen);
	if (!w->auth)
		return -1;
	w->fleet.redis = auth_backend_named(w->auth, "redis");
	return 0;
}

struct worker *worker_thread_new(unsigned id, const struct worker_env *n, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct timeval second = { 1, 0 };

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->id = id;
	w->ifaddr_fd = -1;
	w->nw.reserve_fd = -1;
	pthread_mutex_init(&w->snap_lock, NULL);
	pthread_mutex_init(&w->reload_lock, NULL);
	w->conf = n->conf;
	w->conf_snap = n->snap;
	reload_snapshot_hold(w->conf_snap);
	w->quota = n->quota;
	w->usage = n->usage; /* before the core: its turn_io follows it */
	w->ban = n->ban;
	w->clock = n->clock ? n->clock : &io_clock_system;
	w->fleet.shared = n->fleet;
	w->decide = dispatch_decide;
	LIST_INIT(&w->pending);
	if (worker_init_parts(w, n, err, errlen) < 0) {
		worker_thread_free(w);
		return NULL;
	}
	w->tick_ev = event_new(w->nw.base, -1, EV_PERSIST, worker_tick, w);
	w->reload_ev = event_new(w->nw.base, -1, 0, worker_reload_on_event, w);
	if (!w->tick_ev || !w->reload_ev || event_add(w->tick_ev, &second) < 0 ||
	    worker_bind(w, n->conf, err, errlen) < 0) {
		worker_thread_free(w);
		return NULL;
	}
	worker_watch_addresses(w);
	return w;
}

/*
 * The worker's loop. With rx-coalesce-us, a worker relaying more than
 * COALESCE_MIN_PPS packets a second (over its last tick) waits that long
 * after each loop turn that relayed something, so that the next turn finds
 * several datagrams per socket: one wake-up, one recvmmsg and one sendmmsg
 * serve a batch instead of each datagram paying for its own. This is
 * interrupt moderation, as network cards do it: it trades latency (each
 * relayed datagram may wait that long, plus the kernel's timer slack) for
 * CPU time per packet at moderate rates. Quieter workers, and every
 * worker with 0 (the default), never wait, and run libevent's own loop
 * untouched. Output of a turn is sent before the wait (flush_ev runs
 * within the turn). The stop is a loopexit; a break only means that the
 * tick found the worker busy.
 */
static void worker_loop(struct worker *w)
{
	const struct turn_server_stats *s = turn_server_stats(w->srv);

	for (;;) {
		if (!w->coalescing) {
			if (event_base_loop(w->nw.base, EVLOOP_NO_EXIT_ON_EMPTY) != 0 ||
			    event_base_got_exit(w->nw.base))
				return;
			continue;
		}
		uint64_t before = s->relayed_to_peer + s->relayed_to_client;
		if (event_base_loop(w->nw.base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY) != 0 ||
		    event_base_got_exit(w->nw.base))
			return;
		unsigned us = w->conf->rx_coalesce_us; /* a reload may have changed it */
		if (us > 0 && w->coalescing && s->relayed_to_peer + s->relayed_to_client != before) {
			struct timespec ts = { 0, (long)us * 1000 };
			w->stats.rx_coalesce_waits++;
			nanosleep(&ts, NULL);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* Signals belong to the main thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	worker_loop(w);
	/* From here on a relay that closes is closed, and the spares go, so
	 * that the stop counts no port in use but live allocations'. */
	w->nw.stopping = true;
	relay_spares_free(&w->nw);
	return NULL;
}

int worker_thread_start(struct worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	w->started = true;
	return 0;
}

void worker_thread_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}
