/*
 * Workers and their lifecycle. net_new binds every socket of every worker
 * in the main thread (so bind errors surface at start-up, before privileges
 * are dropped); net_run starts one thread per worker, each running its own
 * event base, while the main thread's base waits for signals. New
 * settings reach a running worker through worker_reload.c.
 */
#include "daemon/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ifaddrs.h>
#include <openssl/rand.h>

#include "auth/auth.h"
#include "net/conn_gate.h"
#include "auth/auth_cache.h"
#include "daemon/listen.h"
#include "daemon/metrics.h"
#include "net/nat.h"
#include "io/notify.h"
#include "net/peer_policy.h"
#include "daemon/daemon.h"
#include "daemon/reload.h"
#include "io/sockaddr.h"
#include "net/tls.h"
#include "daemon/worker_reload.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/msg.h"
#include "turn/policy.h"
#include "util/log.h"

#define NET_MAX_WORKERS RELAY_MAX_WORKERS

struct net {
	const struct conf *conf; /* the start-up one: sockets, threads, Redis */
	struct net_snapshot *current; /* the one in force (main thread) */
	const char *conf_path; /* where a reload reads it again */
	const struct conf_overrides *conf_ov;
	struct event_base *main_base;
	unsigned n_workers;
	struct worker **workers;
	struct relay_shared relay;
	bool relay_ready;
	struct turn_policy *policy;
	struct fleet_shared fleet;
	bool fleet_ready;
	struct tls_shared tls; /* TLS and DTLS contexts, replaced on SIGHUP */
	struct listen_registry listen; /* listeners retired by SIGHUP, still serving */
	struct conn_gate conn_gate; /* client connections per source, over every worker */
	bool tls_ready;
	struct metrics *metrics;
	/* The main thread's once-a-second check: the watchdog and draining. */
	struct event *service_ev;
	uint64_t watchdog_usec;
	uint64_t *last_ticks; /* each worker's tick count at the last check */
	uint64_t *last_advance_ms; /* and when it last moved */
	uint64_t drain_deadline_ms; /* 0: not draining */
	_Atomic uint64_t reloads[2]; /* SIGHUP: [0] applied, [1] refused */
	uint8_t nonce_secret[TURN_NONCE_SECRET_LEN];
	uint32_t hash_seed;
	/* The Redis credential cache every worker's backend shares (each
	 * holds a reference): a user cached by one worker is known to all
	 * (issue 13, item 3). NULL without Redis. */
	struct auth_cache *auth_cache;
};

const uint64_t worker_alloc_bounds_us[WORKER_ALLOC_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

uint64_t worker_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void count_alloc_latency(struct worker *w, uint64_t since_us)
{
	uint64_t us = worker_now_us() - since_us;
	unsigned i = 0;

	while (i < WORKER_ALLOC_BUCKETS && us > worker_alloc_bounds_us[i])
		i++;
	w->alloc_hist[i]++;
	w->alloc_sum_us += us;
}

uint64_t worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One message, with may_park telling what it may still be parked for
 * until Redis answers (PARK_*). */
static size_t process(struct worker *w, const uint8_t *pkt, size_t len,
		     const struct turn_tuple *tuple, const struct client_path *path, uint8_t *out,
		     size_t cap, uint8_t may_park, uint64_t since_us)
{
	struct stun_msg msg;
	struct turn_reply reply = { out, cap, 0 };
	uint64_t now = worker_now_ms();

	w->reply_from = (struct turn_addr){ 0 };
	if (turn_chandata_is_chandata(pkt, len)) {
		/* RFC 8656 section 12.4: malformed, out of the server's
		 * channel range or unbound: dropped. */
		if (turn_server_chandata(w->srv, tuple, pkt, len, now) < 0)
			w->stats.chandata_dropped++;
		return 0;
	}
	if (stun_msg_parse(&msg, pkt, len) < 0)
		return 0; /* RFC 8489 section 6.3: silently discarded */
	if (since_us == 0) /* it arrived now; a resumed one carries its time */
		since_us = worker_now_us();
	struct turn_credential tc = { 0 };
	struct auth_credential ac;
	bool authenticated = false;
	struct turn_input in = { .msg = &msg, .tuple = tuple, .now_ms = now,
				 .authenticated = &authenticated };
	/* The stateless checks first (realm, nonce MAC and age): a request
	 * that fails them is answered without a backend lookup, a key
	 * derivation or a cache entry (RFC 8489 section 9.2.4). */
	if (worker_needs_credential(&msg)) {
		in.precheck = turn_server_auth_precheck(w->srv, &in);
		in.prechecked = in.precheck >= 0;
		if (in.precheck > 0)
			w->stats.auth_refused_early++;
	}
	if (in.prechecked && in.precheck == 0) {
		struct pending_ctx pc = { pkt, len, tuple, path, may_park, since_us };
		if (worker_credential(w, &msg, &pc, &tc, &ac) > 0)
			return 0; /* parked: answered when the backend replies */
		in.cred = &tc;
		/* The user's quota across the fleet: parked until Redis says. */
		if (tc.status == 1 && fleet_reserve(w, &msg, &pc, &ac) > 0) {
			auth_credential_clear(&ac);
			OPENSSL_cleanse(&tc, sizeof(tc));
			return 0;
		}
	}
	w->current_path = *path;
	int rc = turn_server_handle_from(w->srv, &in, &reply, &w->reply_from);
	/* Over UDP the source may be spoofed: an answer to a request that did
	 * not authenticate is reflection, limited per source (unauth-rate). */
	if (reply.len && path->udp && !authenticated && !udp_unauth_answer_ok(w, tuple, now))
		reply.len = 0;
	if (rc == 0 && reply.len && msg.method == TURN_METHOD_ALLOCATE &&
	    msg.cls == STUN_CLASS_REQUEST)
		count_alloc_latency(w, since_us);
	if (in.cred) {
		auth_credential_clear(&ac);
		OPENSSL_cleanse(&tc, sizeof(tc));
	}
	return rc < 0 ? 0 : reply.len;
}

size_t worker_process(struct worker *w, const uint8_t *pkt, size_t len,
		      const struct turn_tuple *tuple, const struct client_path *path, uint8_t *out,
		      size_t cap)
{
	return process(w, pkt, len, tuple, path, out, cap, PARK_ANY, 0);
}

/* A parked request whose credential has arrived: decide it now and send
 * the answer the way the request came. */
void worker_resume(struct worker *w, const uint8_t *pkt, size_t len,
		   const struct turn_tuple *tuple, const struct client_path *path,
		   uint8_t may_park, uint64_t since_us)
{
	uint8_t *out = path->udp ? udp_out_slot(path->udp) : &w->tx[0][0];
	size_t n = process(w, pkt, len, tuple, path, out, WORKER_SLOT, may_park, since_us);

	if (n == 0)
		return;
	if (path->conn)
		tcp_conn_send(path->conn, out, n);
	else if (path->udp)
		udp_out_push(path->udp, n, tuple);
	else if (path->dtls)
		dtls_session_send(path->dtls, out, n);
}

static unsigned worker_count(const struct conf *conf)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = conf->workers ? conf->workers : (cores > 0 ? (unsigned)cores : 1);

	return n > NET_MAX_WORKERS ? NET_MAX_WORKERS : n;
}

/* The loop turn's other events have run: send what they gathered. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->flush_armed = false;
	relay_out_flush(w);
	for (size_t i = 0; i < w->n_udp; i++)
		if (w->udp[i]->out && w->udp[i]->out->n)
			udp_out_flush(w->udp[i]);
}

/* event_active puts the event at the end of the active queue: it runs in
 * this loop turn, after every event already due, so one sendmmsg carries
 * the output of all of them. */
void worker_flush_soon(struct worker *w)
{
	if (!w->flush_armed && w->flush_ev) {
		w->flush_armed = true;
		event_active(w->flush_ev, EV_WRITE, 0);
	}
}

static void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->flush_ev)
		event_free(w->flush_ev);
	w->flush_ev = NULL;
	pthread_mutex_destroy(&w->snap_lock);
	/* From here relays that close are freed, and no longer counted on
	 * their listening socket (which may go first). */
	w->stopping = true;
	tcp_conns_close_all(w);
	listen_close_all(w);
	turn_server_free(w->srv);
	relay_spares_free(w);
	turn_policy_free(w->policy);
	auth_free(w->auth); /* no callback can come after this */
	worker_pending_free_all(w);
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
	net_snapshot_release(w->conf_snap);
	if (w->tcp_wake_ev)
		event_free(w->tcp_wake_ev);
	if (w->reserve_fd >= 0)
		close(w->reserve_fd);
	if (w->base)
		event_base_free(w->base);
	free(w->big);
	free(w);
}

/* The sockets of each listener: one per transport it names. */
static int bind_listeners(struct worker *w, const struct conf *conf, char *err, size_t errlen)
{
	for (size_t i = 0; i < conf->n_listeners; i++) {
		const struct conf_listener *l = &conf->listeners[i];

		for (unsigned bit = CONF_LISTEN_UDP; bit <= CONF_LISTEN_DTLS; bit <<= 1)
			if ((l->transports & bit) &&
			    listen_open(w, &l->addr, bit | LISTEN_ENTRY, err, errlen) < 0)
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
		if (!conf->no_udp && listen_open(w, &conf->listen[i], CONF_LISTEN_UDP, err, errlen) < 0)
			return -1;
		if (!conf->no_tcp && listen_open(w, &conf->listen[i], CONF_LISTEN_TCP, err, errlen) < 0)
			return -1;
		if (tls_worker_bind(w, &conf->listen[i], err, errlen) < 0)
			return -1;
	}
	if (bind_listeners(w, conf, err, errlen) < 0)
		return -1;
	return nat_worker_bind(w, conf, err, errlen);
}

/* The counters the metrics thread reads, copied once a tick. */
static void worker_snapshot_take(struct worker *w, uint64_t now)
{
	struct worker_snapshot s = { .net = w->stats, .core = *turn_server_stats(w->srv) };

	turn_server_gauges(w->srv, now, &s.permissions, &s.channels);
	memcpy(s.alloc_hist, w->alloc_hist, sizeof(s.alloc_hist));
	s.alloc_sum_us = w->alloc_sum_us;
#ifdef HAVE_HIREDIS
	s.redis = w->fleet.redis ? (int)auth_redis_ready(w->fleet.redis) : -1;
#else
	s.redis = -1;
#endif
	s.pending = w->n_pending;
	pthread_mutex_lock(&w->snap_lock);
	w->snap = s;
	pthread_mutex_unlock(&w->snap_lock);
}

/* Relayed datagrams a second above which rx-coalesce-us applies. */
#define COALESCE_MIN_PPS 5000

static void worker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t now = worker_now_ms();
	const struct turn_server_stats *s = turn_server_stats(w->srv);
	uint64_t bytes = s->bytes_to_peer + s->bytes_to_client + w->stats.tcp_relay_bytes[0] +
			 w->stats.tcp_relay_bytes[1];

	(void)fd;
	(void)what;
	atomic_fetch_add_explicit(&w->ticks, 1, memory_order_relaxed);
	turn_server_tick(w->srv, now);
	dtls_tick(w, now);
	tcp_tick(w, now); /* first-message-timeout, max-allocate-timeout */
	listen_service(w); /* retired listening sockets whose allocations ended */
	tcp_relay_service(w, now); /* connections nobody bound in 30 s */
	/* The relayed byte rate, for shed-bps. */
	if (w->conf->shed_bps && now > w->last_tick_ms && w->last_tick_ms)
		relay_set_worker_bps(w->relay_shared, w->id,
				     (bytes - w->last_relayed_bytes) * 1000 / (now - w->last_tick_ms));
	/* rx-coalesce-us waits only while this worker is busy; the plain
	 * loop is left for worker_loop's (a break) when it starts. */
	uint64_t pkts = s->relayed_to_peer + s->relayed_to_client;
	bool was = w->coalescing;
	w->coalescing = w->conf->rx_coalesce_us > 0 && w->last_tick_ms && now > w->last_tick_ms &&
			(pkts - w->tick_pkts) * 1000 / (now - w->last_tick_ms) > COALESCE_MIN_PPS;
	w->tick_pkts = pkts;
	if (w->coalescing && !was)
		event_base_loopbreak(w->base);
	w->last_tick_ms = now;
	w->last_relayed_bytes = bytes;
	if (fleet_tick(w, now))
		worker_apply_settings(w);
	worker_snapshot_take(w, now);
}

static struct turn_server *worker_server(struct worker *w, const struct net *n)
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
		.io = &w->relay_io,
		.hash_seed = n->hash_seed,
	};

	memcpy(so.nonce_secret, n->nonce_secret, sizeof(so.nonce_secret));
	nat_pairs(c, so.nat);
	relay_io_init(&w->relay_io, w);
	return turn_server_new(&so);
}

/* Another worker changed a TCP relay connection of ours (tcp_relay.c). */
static void on_tcp_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tcp_relay_service(arg, worker_now_ms());
}

/* The kernel added or removed an address: the host's own addresses, which
 * the peer policy refuses, are read again (SECURITY.md). */
static void on_ifaddr_change(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	if (peer_policy_watch_drain(fd))
		worker_apply_settings(arg);
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
	w->ifaddr_ev = event_new(w->base, w->ifaddr_fd, EV_READ | EV_PERSIST, on_ifaddr_change, w);
	if (!w->ifaddr_ev || event_add(w->ifaddr_ev, NULL) < 0)
		log_warn("worker %u: cannot watch address changes", w->id);
}

static struct worker *worker_new(unsigned id, struct net *n, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct timeval second = { 1, 0 };

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->id = id;
	w->ifaddr_fd = -1;
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&w->snap_lock, NULL);
	pthread_mutex_init(&w->reload_lock, NULL);
	w->conf = n->conf;
	w->conf_snap = n->current;
	w->pipe_bps = n->conf->max_bps;
	net_snapshot_hold(w->conf_snap);
	w->net = n;
	w->relay_shared = &n->relay;
	w->tls = &n->tls;
	w->conn_gate = &n->conn_gate;
	w->fleet.shared = &n->fleet;
	LIST_INIT(&w->conns);
	LIST_INIT(&w->pending);
	w->base = event_base_new();
	w->big = calloc(1, sizeof(*w->big)); /* pages touched by large datagrams only */
	w->srv = worker_server(w, n);
	if (rate_table_init(&w->unauth, WORKER_UNAUTH_SLOTS, n->hash_seed ^ id) < 0) {
		snprintf(err, errlen, "out of memory");
		worker_free(w);
		return NULL;
	}
	w->auth = auth_new_for_worker(n->conf, w->base, n->auth_cache, err, errlen);
	if (!w->auth) {
		worker_free(w);
		return NULL;
	}
	w->fleet.redis = auth_backend_named(w->auth, "redis");
	if (!w->base || !w->srv || !w->big) {
		snprintf(err, errlen, "cannot create worker %u", id);
		worker_free(w);
		return NULL;
	}
	w->tick_ev = event_new(w->base, -1, EV_PERSIST, worker_tick, w);
	w->flush_ev = event_new(w->base, -1, 0, on_flush, w);
	w->reload_ev = event_new(w->base, -1, 0, worker_on_reload, w);
	w->tcp_wake_ev = event_new(w->base, -1, 0, on_tcp_wake, w);
	if (!w->tick_ev || !w->flush_ev || !w->reload_ev || !w->tcp_wake_ev ||
	    event_add(w->tick_ev, &second) < 0 ||
	    worker_bind(w, n->conf, err, errlen) < 0) {
		worker_free(w);
		return NULL;
	}
	worker_watch_addresses(w);
	return w;
}

struct net *net_new(const struct conf *conf, char *err, size_t errlen)
{
	struct net *n = calloc(1, sizeof(*n));

	if (!n || evthread_use_pthreads() < 0) {
		snprintf(err, errlen, "cannot initialise libevent threads");
		free(n);
		return NULL;
	}
	n->conf = conf;
	n->n_workers = worker_count(conf);
	/* main.c owns the start-up configuration; the snapshot only points
	 * to it. */
	n->current = net_snapshot_new((struct conf *)conf, false, n->n_workers);
	if (!n->current) {
		snprintf(err, errlen, "out of memory");
		free(n);
		return NULL;
	}
	if (relay_shared_init(&n->relay, conf, err, errlen) < 0) {
		net_snapshot_release(n->current);
		free(n);
		return NULL;
	}
	n->relay_ready = true;
	for (size_t i = 0; i < n->relay.n_addrs; i++) {
		char a[TURN_ADDR_STRLEN], e[TURN_ADDR_STRLEN];
		log_notice("relay address %s (told to clients as %s), ports %u-%u",
			   turn_addr_format(&n->relay.addrs[i].addr, false, a, sizeof(a)),
			   turn_addr_format(&n->relay.addrs[i].external, false, e, sizeof(e)),
			   (unsigned)conf->min_port, (unsigned)conf->max_port);
	}
	nat_log_addresses(conf);
	if (n->relay.n_addrs == 0 && !conf->stun_only)
		log_warn("no relay address: Allocate requests will get 440 (set relay-ip)");
	if (fleet_shared_init(&n->fleet, conf, err, errlen) < 0) {
		net_free(n);
		return NULL;
	}
	n->fleet_ready = true;
	if (conf->redis.enabled)
		log_notice("node id %s (in Redis: turn/realm/%s/node/%s)", n->fleet.node_id,
			   conf->realm, n->fleet.node_id);
	n->policy = peer_policy_new(conf, NULL, &n->relay);
	if (!n->policy || RAND_bytes(n->nonce_secret, sizeof(n->nonce_secret)) != 1 ||
	    RAND_bytes((unsigned char *)&n->hash_seed, sizeof(n->hash_seed)) != 1 ||
	    conn_gate_init(&n->conn_gate, n->hash_seed ^ 0x9e3779b9u) < 0) {
		snprintf(err, errlen, "cannot set up the peer policy or the nonce key");
		net_free(n);
		return NULL;
	}
	n->tls_ready = true;
	if (tls_shared_init(&n->tls, conf, err, errlen) < 0) {
		net_free(n);
		return NULL;
	}
	n->workers = calloc(n->n_workers, sizeof(*n->workers));
	n->main_base = event_base_new();
	if (conf->redis.enabled)
		n->auth_cache = auth_cache_new(conf->redis.cache_size);
	if (!n->workers || !n->main_base || (conf->redis.enabled && !n->auth_cache)) {
		snprintf(err, errlen, "out of memory");
		net_free(n);
		return NULL;
	}
	for (unsigned i = 0; i < n->n_workers; i++) {
		n->workers[i] = worker_new(i, n, err, errlen);
		if (!n->workers[i]) {
			net_free(n);
			return NULL;
		}
	}
	if (conf->metrics.port) {
		n->metrics = metrics_new(n, n->main_base, &conf->metrics, err, errlen);
		if (!n->metrics) {
			net_free(n);
			return NULL;
		}
		char a[TURN_ADDR_STRLEN];
		log_notice("metrics on http://%s/metrics",
			   turn_addr_format(&conf->metrics, true, a, sizeof(a)));
	}
	return n;
}

void net_set_conf_source(struct net *n, const char *path, const struct conf_overrides *ov)
{
	n->conf_path = path;
	n->conf_ov = ov;
}

int net_after_fork(struct net *n)
{
	if (event_reinit(n->main_base) < 0)
		return -1;
	for (unsigned i = 0; i < n->n_workers; i++)
		if (event_reinit(n->workers[i]->base) < 0)
			return -1;
	return 0;
}

unsigned net_workers(const struct net *n)
{
	return n->n_workers;
}

struct worker *net_worker(const struct net *n, unsigned i)
{
	return i < n->n_workers ? n->workers[i] : NULL;
}

struct relay_shared *net_relay(struct net *n)
{
	return &n->relay;
}

struct fleet_shared *net_fleet(struct net *n)
{
	return &n->fleet;
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
			if (event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY) != 0 ||
			    event_base_got_exit(w->base))
				return;
			continue;
		}
		uint64_t before = s->relayed_to_peer + s->relayed_to_client;
		if (event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY) != 0 ||
		    event_base_got_exit(w->base))
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
	w->stopping = true;
	relay_spares_free(w);
	return NULL;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct net *n = arg;

	(void)what;
	notify_send("STOPPING=1");
	if (sig)
		log_notice("signal %d: stopping", (int)sig);
	for (unsigned i = 0; i < n->n_workers; i++)
		event_base_loopexit(n->workers[i]->base, NULL);
	event_base_loopexit(n->main_base, NULL);
}

/* SIGUSR1: no new allocations (Allocate gets 300 with an alternate server,
 * or 508); the process exits when the last allocation is gone or after
 * drain-timeout seconds. /healthz says 503 meanwhile. */
static void on_drain(evutil_socket_t sig, short what, void *arg)
{
	struct net *n = arg;

	(void)sig;
	(void)what;
	if (n->drain_deadline_ms)
		return;
	n->drain_deadline_ms = worker_now_ms() + 1000u * n->current->conf->drain_timeout_s;
	relay_set_draining(&n->relay, true);
	notify_send("STATUS=draining: no new allocations");
	log_notice("SIGUSR1: draining: no new allocations; stopping when the last allocation "
		   "is gone, or in %u s",
		   n->current->conf->drain_timeout_s);
}

/* Once a second on the main thread. The watchdog is fed only while every
 * worker's tick still runs: a worker stuck in a loop stops the pings and
 * systemd restarts the service. */
static void on_service(evutil_socket_t fd, short what, void *arg)
{
	struct net *n = arg;
	bool alive = true;
	uint64_t now = worker_now_ms();

	(void)fd;
	(void)what;
	/* A worker ticks once a second: one whose count has not moved for
	 * three is stuck. */
	for (unsigned i = 0; i < n->n_workers; i++) {
		uint64_t t = atomic_load_explicit(&n->workers[i]->ticks, memory_order_relaxed);
		if (t != n->last_ticks[i] || n->last_advance_ms[i] == 0) {
			n->last_ticks[i] = t;
			n->last_advance_ms[i] = now;
		} else if (now - n->last_advance_ms[i] > 3000) {
			alive = false;
		}
	}
	if (n->watchdog_usec && alive)
		notify_send("WATCHDOG=1");
	if (!n->drain_deadline_ms)
		return;
	pthread_mutex_lock(&n->relay.lock);
	unsigned left = n->relay.total;
	pthread_mutex_unlock(&n->relay.lock);
	if (left == 0 || worker_now_ms() >= n->drain_deadline_ms) {
		log_notice("drained: %u allocation%s left; stopping", left, left == 1 ? "" : "s");
		on_stop_signal(0, 0, n);
	}
}

/* SIGHUP: the whole configuration again (daemon/reload.c). */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct net *n = arg;
	const struct net_reload_ctx rc = {
		.path = n->conf_path,
		.ov = n->conf_ov,
		.running = n->current,
		.workers = n->workers,
		.n_workers = n->n_workers,
		.tls = &n->tls,
		.listen = &n->listen,
	};

	(void)sig;
	(void)what;
	/* systemd (Type=notify) shows the unit "reloading" until READY=1. */
	char state[64];
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)worker_now_us());
	notify_send(state);
	struct net_snapshot *s = net_reload(&rc);
	if (s) {
		net_snapshot_release(n->current);
		n->current = s;
	}
	atomic_fetch_add(&n->reloads[s ? 0 : 1], 1);
	notify_send(s ? "READY=1\nSTATUS=configuration reloaded"
		      : "READY=1\nSTATUS=configuration reload refused; the running one is kept");
}

void net_reloads(struct net *n, uint64_t *applied, uint64_t *refused)
{
	*applied = atomic_load(&n->reloads[0]);
	*refused = atomic_load(&n->reloads[1]);
}

static void log_totals(struct net *n)
{
	uint64_t allocs = 0;

	for (unsigned i = 0; i < n->n_workers; i++) {
		const struct worker *w = n->workers[i];
		const struct turn_server_stats *s = turn_server_stats(w->srv);
		log_info("worker %u: udp in %llu out %llu, tcp accepted %llu, requests %llu, "
			 "dropped %llu, allocations %llu (total %llu), relayed to peers %llu, "
			 "to clients %llu, TCP relay connections piped %llu",
			 w->id, (unsigned long long)w->stats.udp_in,
			 (unsigned long long)w->stats.udp_out,
			 (unsigned long long)w->stats.tcp_accepted,
			 (unsigned long long)s->requests, (unsigned long long)s->dropped,
			 (unsigned long long)s->allocations,
			 (unsigned long long)s->allocations_total,
			 (unsigned long long)s->relayed_to_peer,
			 (unsigned long long)s->relayed_to_client,
			 (unsigned long long)w->stats.tcp_relay_pipes_total);
		allocs += s->allocations;
	}
	/* What a stop leaves behind: with every allocation gone, the port
	 * pool and the quota counters must be back at zero. */
	pthread_mutex_lock(&n->relay.lock);
	unsigned quota = n->relay.total;
	pthread_mutex_unlock(&n->relay.lock);
	log_notice("at stop: allocations %llu, relay ports in use %zu, quota in use %u",
		   (unsigned long long)allocs, relay_ports_in_use(&n->relay), quota);
	tls_log_totals(n->workers, n->n_workers);
	if (n->conf->redis.enabled) {
		struct fleet_shared *fs = &n->fleet;
		pthread_mutex_lock(&fs->lock);
		log_notice("redis: quota checks %llu (refused %llu, unchecked %llu), events sent "
			   "%llu, dropped %llu",
			   (unsigned long long)(fs->quota_checked + fs->quota_refused),
			   (unsigned long long)fs->quota_refused,
			   (unsigned long long)fs->quota_unchecked,
			   (unsigned long long)fs->events_sent,
			   (unsigned long long)fs->events_dropped);
		pthread_mutex_unlock(&fs->lock);
	}
}

int net_run(struct net *n)
{
	struct event *sigs[4];
	int rc = 0;
	/* The watchdog is fed twice per interval, and draining checked once a
	 * second. */
	uint64_t period_us = 1000000;

	signal(SIGPIPE, SIG_IGN);
	sigs[0] = evsignal_new(n->main_base, SIGTERM, on_stop_signal, n);
	sigs[1] = evsignal_new(n->main_base, SIGINT, on_stop_signal, n);
	sigs[2] = evsignal_new(n->main_base, SIGHUP, on_hup, n);
	sigs[3] = evsignal_new(n->main_base, SIGUSR1, on_drain, n);
	for (int i = 0; i < 4; i++)
		if (sigs[i])
			event_add(sigs[i], NULL);
	n->watchdog_usec = notify_watchdog_usec();
	if (n->watchdog_usec && n->watchdog_usec / 2 < period_us)
		period_us = n->watchdog_usec / 2;
	struct timeval period = { (time_t)(period_us / 1000000), (suseconds_t)(period_us % 1000000) };
	n->last_ticks = calloc(n->n_workers, sizeof(*n->last_ticks));
	n->last_advance_ms = calloc(n->n_workers, sizeof(*n->last_advance_ms));
	n->service_ev = event_new(n->main_base, -1, EV_PERSIST, on_service, n);
	if (!n->last_ticks || !n->last_advance_ms || !n->service_ev || event_add(n->service_ev, &period) < 0) {
		log_error("cannot start the service timer");
		rc = -1;
	}
	for (unsigned i = 0; rc == 0 && i < n->n_workers; i++) {
		struct worker *w = n->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_error("cannot start worker %u: %s", i, strerror(errno));
			on_stop_signal(0, 0, n);
			rc = -1;
			break;
		}
		w->started = true;
	}
	if (rc == 0) {
		notify_send("READY=1\nSTATUS=serving");
		event_base_loop(n->main_base, EVLOOP_NO_EXIT_ON_EMPTY);
	}
	for (unsigned i = 0; i < n->n_workers; i++)
		if (n->workers[i]->started)
			pthread_join(n->workers[i]->thread, NULL);
	log_totals(n);
	for (int i = 0; i < 4; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (n->service_ev)
		event_free(n->service_ev);
	n->service_ev = NULL;
	free(n->last_ticks);
	free(n->last_advance_ms);
	n->last_ticks = NULL;
	n->last_advance_ms = NULL;
	return rc;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	metrics_free(n->metrics);
	/* Workers go one by one: none may wake another any more. */
	if (n->relay_ready)
		tcp_relay_table_stopping(n->relay.tcp_table);
	for (unsigned i = 0; n->workers && i < n->n_workers; i++)
		worker_free(n->workers[i]);
	free(n->workers);
	if (n->main_base)
		event_base_free(n->main_base);
	turn_policy_free(n->policy);
	auth_cache_free(n->auth_cache); /* the workers' references went with them */
	listen_registry_fini(&n->listen); /* after the workers' sockets */
	net_snapshot_release(n->current);
	if (n->fleet_ready)
		fleet_shared_fini(&n->fleet);
	if (n->tls_ready)
		tls_shared_fini(&n->tls);
	if (n->relay_ready)
		relay_shared_fini(&n->relay);
	conn_gate_fini(&n->conn_gate); /* after the workers' connections */
	OPENSSL_cleanse(n->nonce_secret, sizeof(n->nonce_secret));
	free(n);
}
