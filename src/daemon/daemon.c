/*
 * The process (daemon.h): the state every worker shares, the workers, and
 * the main thread's loop: signals (stop, reload, drain), the watchdog and
 * the metrics. The workers live in worker_thread.c.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/auth_cache.h"
#include "daemon/control.h"
#include "daemon/control_ban.h"
#include "daemon/external_stun.h"
#include "daemon/fleet.h"
#include "daemon/metrics.h"
#include "daemon/offload_sync.h"
#include "daemon/quota.h"
#include "daemon/reload.h"
#include "daemon/user_usage.h"
#include "daemon/worker.h"
#include "daemon/worker_thread.h"
#include "io/clock.h"
#include "io/notify.h"
#include "net/conn_gate.h"
#include "net/listen.h"
#include "net/nat.h"
#include "net/offload.h"
#include "net/peer_policy.h"
#include "net/relay.h"
#include "net/tls.h"
#include "turn/nonce.h"
#include "turn/policy.h"
#include "util/log.h"
#include "util/bw_share.h"
#include "util/redis_keys.h"

#define DAEMON_MAX_WORKERS QUOTA_MAX_WORKERS
/* The kernel fast path forwards only this long past the last heartbeat
 * (once a second): a daemon that stopped or hangs stops it within 3 s. */
#define DAEMON_OFFLOAD_TTL_NS 3000000000ull
#define DAEMON_ROUTES_MS 10000 /* the fast path's ways out, resolved again */

struct daemon {
	const struct conf *conf; /* the start-up one: sockets, threads, Redis */
	struct reload_snapshot *current; /* the one in force (main thread) */
	const char *conf_path; /* where a reload reads it again */
	const struct conf_overrides *conf_ov;
	struct event_base *main_base;
	unsigned n_workers;
	struct worker **workers;
	struct relay_shared relay;
	bool relay_ready;
	struct quota_table quota; /* allocation quotas, draining, shedding */
	bool quota_ready;
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
	struct auth_cache *auth_http_cache; /* the HTTP hook's, shared by the workers */
	/* The kernel fast path (docs/OFFLOAD.md), or NULL: user space alone. */
	struct offload *offload;
	uint64_t routes_ms; /* when its ways out were last resolved */
	/* bps-capacity: the budget every worker's core draws from without a
	 * lock (util/bw_share.h); per-user totals and user-max-bps budgets. */
	struct bw_share capacity;
	struct user_usage *usage;
	/* The control socket (turnctl), or NULL; and the users it banned,
	 * which every worker checks (dispatch.c). */
	struct control *control;
	struct control_ban ban;
};

static unsigned worker_count(const struct conf *conf)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = conf->workers ? conf->workers : (cores > 0 ? (unsigned)cores : 1);

	return n > DAEMON_MAX_WORKERS ? DAEMON_MAX_WORKERS : n;
}

/* What one scrape of /metrics or /healthz shows (metrics.h). */
static void daemon_metrics_view(void *ctx, struct metrics_view *v)
{
	struct daemon *n = ctx;
	struct fleet_shared *fs = &n->fleet;

	for (unsigned i = 0; i < n->n_workers; i++) {
		struct worker_snapshot s;
		worker_thread_snapshot_read(n->workers[i], &s);
		metrics_view_add(v, &s);
	}
	v->client_connections = conn_gate_total(&n->conn_gate);
	v->ports_in_use = relay_ports_in_use(&n->relay);
	v->ports_taken_early = relay_ports_taken_early(&n->relay);
	pthread_mutex_lock(&fs->lock);
	v->quota_checked = fs->quota_checked;
	v->quota_refused = fs->quota_refused;
	v->quota_unchecked = fs->quota_unchecked;
	v->events_sent = fs->events_sent;
	v->events_dropped = fs->events_dropped;
	pthread_mutex_unlock(&fs->lock);
	daemon_reloads(n, &v->reloads_applied, &v->reloads_refused);
	v->draining = quota_draining(&n->quota);
	if (n->offload)
		offload_totals(n->offload, &v->offload);
	user_usage_stats(n->usage, &v->users);
}

/* Say at start-up where allocations are relayed from. */
static void daemon_log_relays(const struct daemon *n, const struct conf *conf)
{
	for (size_t i = 0; i < n->relay.n_addrs; i++) {
		char a[TURN_ADDR_STRLEN], e[TURN_ADDR_STRLEN];
		struct turn_addr ext;
		relay_addr_external(&n->relay.addrs[i], &ext);
		log_notice("relay address %s (told to clients as %s), ports %u-%u",
			   turn_addr_format(&n->relay.addrs[i].addr, false, a, sizeof(a)),
			   turn_addr_format(&ext, false, e, sizeof(e)),
			   (unsigned)conf->min_port, (unsigned)conf->max_port);
	}
	nat_log_addresses(conf);
	if (n->relay.n_addrs == 0 && !conf->stun_only)
		log_warn("no relay address: Allocate requests will get 440 (set relay-ip)");
}

/* The per-user table's options from a configuration: lingering users are
 * bounded by total-quota (or USER_USAGE_LINGER_MAX without one). */
static struct user_usage_opts daemon_usage_opts(const struct conf *c)
{
	return (struct user_usage_opts){
		.user_max_bps = c->user_max_bps,
		.linger_s = c->usage_linger_s,
		.max_lingering = c->total_quota,
	};
}

/* bps-capacity and user-max-bps from c, replacing old (NULL at start-up;
 * the new rates apply from the next refill). The kernel fast path cannot
 * see the shared budgets, so with either set it installs nothing
 * (offload_sync_now.capped, docs/OFFLOAD.md): said once when it starts. */
static void daemon_bandwidth_apply(struct daemon *n, const struct conf *c, const struct conf *old)
{
	bool capped = c->bps_capacity || c->user_max_bps;
	bool was = old && (old->bps_capacity || old->user_max_bps);
	const struct user_usage_opts o = daemon_usage_opts(c);

	bw_share_set_rate(&n->capacity, c->bps_capacity);
	user_usage_configure(n->usage, &o);
	if (!n->offload || capped == was)
		return;
	if (capped)
		log_notice("kernel-offload: no channel is offloaded while bps-capacity or "
			   "user-max-bps is set: those caps are enforced in user space");
	else
		log_notice("kernel-offload: bps-capacity and user-max-bps are off: bound UDP "
			   "channels are offloaded again");
}

/* What every worker shares: relay addresses and ports, quotas, the fleet,
 * the peer policy, the nonce key, the connection counts, TLS. */
static int daemon_shared_init(struct daemon *n, const struct conf *conf, char *err,
			      size_t errlen)
{
	if (relay_shared_init(&n->relay, conf, err, errlen) < 0)
		return -1;
	n->relay_ready = true;
	/* external-ip = auto:stun: before the relay addresses are logged and
	 * the peer policy counts them among the host's own. */
	if (external_stun_startup(conf, &n->relay, err, errlen) < 0)
		return -1;
	if (quota_init(&n->quota, conf) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->quota_ready = true;
	/* Credited from time 0 of the workers' clock: the first refill
	 * fills it (a full budget, as at start). */
	bw_share_init(&n->capacity, conf->bps_capacity, 0);
	const struct user_usage_opts uo = daemon_usage_opts(conf);
	n->usage = user_usage_new(&uo);
	if (!n->usage) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	daemon_log_relays(n, conf);
	if (fleet_shared_init(&n->fleet, conf, err, errlen) < 0)
		return -1;
	n->fleet_ready = true;
	char key[REDIS_KEYS_MAX(REDIS_KEYS_REALM_MAX, CONF_NODE_ID_MAX)];
	if (conf->redis.enabled &&
	    redis_keys_node(key, sizeof(key), conf->realm, n->fleet.node_id) >= 0)
		log_notice("node id %s (in Redis: %s)", n->fleet.node_id, key);
	n->policy = peer_policy_new(conf, NULL, &n->relay);
	if (!n->policy || RAND_bytes(n->nonce_secret, sizeof(n->nonce_secret)) != 1 ||
	    RAND_bytes((unsigned char *)&n->hash_seed, sizeof(n->hash_seed)) != 1 ||
	    conn_gate_init(&n->conn_gate, n->hash_seed ^ 0x9e3779b9u) < 0) {
		snprintf(err, errlen, "cannot set up the peer policy or the nonce key");
		return -1;
	}
	n->tls_ready = true;
	return tls_shared_init(&n->tls, conf, err, errlen);
}

/* The workers, each with its sockets bound, and the main thread's base. */
static int daemon_workers_init(struct daemon *n, const struct conf *conf, char *err,
			       size_t errlen)
{
	n->workers = calloc(n->n_workers, sizeof(*n->workers));
	n->main_base = event_base_new();
	if (conf->redis.enabled)
		n->auth_cache = auth_cache_new(conf->redis.cache_size);
	if (conf->auth_http.url) {
		n->auth_http_cache = auth_cache_new(AUTH_HTTP_CACHE_SIZE);
		log_notice("auth-url: users no other backend knows are asked about at %s "
			   "(timeout %u ms)",
			   conf->auth_http.url, conf->auth_http.timeout_ms);
	}
	if (!n->workers || !n->main_base || (conf->redis.enabled && !n->auth_cache) ||
	    (conf->auth_http.url && !n->auth_http_cache)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const struct worker_env env = {
		.conf = conf, .snap = n->current, .relay = &n->relay, .tls = &n->tls,
		.conn_gate = &n->conn_gate, .fleet = &n->fleet, .quota = &n->quota,
		.auth_cache = n->auth_cache, .auth_http_cache = n->auth_http_cache,
		.policy = n->policy,
		.nonce_secret = n->nonce_secret, .hash_seed = n->hash_seed,
		.capacity = &n->capacity, .usage = n->usage,
		.ban = &n->ban,
	};
	for (unsigned i = 0; i < n->n_workers; i++) {
		n->workers[i] = worker_thread_new(i, &env, err, errlen);
		if (!n->workers[i])
			return -1;
	}
	return 0;
}

static enum offload_mode daemon_offload_mode(enum conf_offload m)
{
	return m == CONF_OFFLOAD_ON ? OFFLOAD_ON : m == CONF_OFFLOAD_OFF ? OFFLOAD_OFF : OFFLOAD_AUTO;
}

/* The addresses the fast path sees traffic on: every listening address
 * (clients) and relay address (peers). The caller frees it. */
static struct turn_addr *daemon_offload_addrs(const struct daemon *n, const struct conf *conf,
					      size_t *count)
{
	size_t k = 0, max = conf->n_listen + conf->n_listeners + n->relay.n_addrs;
	struct turn_addr *v = calloc(max ? max : 1, sizeof(*v));

	for (size_t i = 0; v && i < conf->n_listen; i++)
		v[k++] = conf->listen[i];
	for (size_t i = 0; v && i < conf->n_listeners; i++)
		v[k++] = conf->listeners[i].addr;
	for (size_t i = 0; v && i < n->relay.n_addrs; i++)
		v[k++] = n->relay.addrs[i].addr;
	*count = k;
	return v;
}

/* Load and attach the kernel fast path: after the workers' sockets are
 * bound, before main.c drops the privileges that loading needs. With
 * kernel-offload = on a failure stops the start; with auto it says why
 * in one line and user space relays everything, as with off. */
static int daemon_offload_init(struct daemon *n, const struct conf *conf, char *err,
			       size_t errlen)
{
	struct offload_params p = {
		.mode = daemon_offload_mode(conf->kernel_offload),
		.ifnames = (const char *const *)conf->offload_ifnames,
		.n_ifnames = conf->n_offload_ifnames,
		.max_entries = conf->offload_max_entries,
	};
	char why[256] = "";
	struct turn_addr *addrs = daemon_offload_addrs(n, conf, &p.n_addrs);

	if (!addrs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p.addrs = addrs;
	int rc = offload_open(&p, &n->offload, why, sizeof(why));
	free(addrs);
	if (rc < 0) {
		snprintf(err, errlen, "kernel-offload = on: %s", why);
		return -1;
	}
	if (!n->offload) {
		log_notice("kernel-offload: off: %s; relaying in user space", why);
		return 0;
	}
	struct offload_totals t;
	offload_totals(n->offload, &t);
	log_notice("kernel-offload: loaded on %u interface%s (TC ingress): bound UDP channels "
		   "are relayed in the kernel",
		   t.interfaces, t.interfaces == 1 ? "" : "s");
	offload_heartbeat(n->offload, io_now_us() * 1000u, DAEMON_OFFLOAD_TTL_NS);
	n->routes_ms = io_now_ms();
	for (unsigned i = 0; i < n->n_workers; i++)
		offload_sync_init(&n->workers[i]->offload, &offload_sync_kernel, n->offload);
	return 0;
}

/* Once a second: the fast path goes on only while the main thread runs,
 * and follows route changes every DAEMON_ROUTES_MS. */
static void daemon_offload_service(struct daemon *n, uint64_t now_ms)
{
	if (!n->offload)
		return;
	offload_heartbeat(n->offload, io_now_us() * 1000u, DAEMON_OFFLOAD_TTL_NS);
	if (now_ms - n->routes_ms >= DAEMON_ROUTES_MS) {
		n->routes_ms = now_ms;
		offload_refresh_routes(n->offload);
	}
}

static int daemon_metrics_init(struct daemon *n, const struct conf *conf, char *err,
			       size_t errlen)
{
	const struct metrics_source src = { daemon_metrics_view, n };
	char a[TURN_ADDR_STRLEN];

	if (!conf->metrics.port)
		return 0;
	n->metrics = metrics_new(&src, n->main_base, &conf->metrics, err, errlen);
	if (!n->metrics)
		return -1;
	log_notice("metrics on http://%s/metrics",
		   turn_addr_format(&conf->metrics, true, a, sizeof(a)));
	return 0;
}

struct daemon *daemon_new(const struct conf *conf, char *err, size_t errlen)
{
	struct daemon *n = calloc(1, sizeof(*n));

	if (!n || evthread_use_pthreads() < 0) {
		snprintf(err, errlen, "cannot initialise libevent threads");
		free(n);
		return NULL;
	}
	n->conf = conf;
	n->n_workers = worker_count(conf);
	control_ban_init(&n->ban);
	/* main.c owns the start-up configuration; the snapshot only points
	 * to it. */
	n->current = reload_snapshot_new((struct conf *)conf, false, n->n_workers);
	if (!n->current) {
		snprintf(err, errlen, "out of memory");
		free(n);
		return NULL;
	}
	if (daemon_shared_init(n, conf, err, errlen) < 0 ||
	    daemon_workers_init(n, conf, err, errlen) < 0 ||
	    daemon_offload_init(n, conf, err, errlen) < 0 ||
	    daemon_metrics_init(n, conf, err, errlen) < 0) {
		daemon_free(n);
		return NULL;
	}
	daemon_bandwidth_apply(n, conf, NULL);
	return n;
}

void daemon_set_conf_source(struct daemon *n, const char *path, const struct conf_overrides *ov)
{
	n->conf_path = path;
	n->conf_ov = ov;
}

int daemon_after_fork(struct daemon *n)
{
	if (event_reinit(n->main_base) < 0)
		return -1;
	for (unsigned i = 0; i < n->n_workers; i++)
		if (event_reinit(n->workers[i]->nw.base) < 0)
			return -1;
	return 0;
}

unsigned daemon_workers(const struct daemon *n)
{
	return n->n_workers;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *n = arg;

	(void)what;
	notify_send("STOPPING=1");
	if (sig)
		log_notice("signal %d: stopping", (int)sig);
	for (unsigned i = 0; i < n->n_workers; i++)
		event_base_loopexit(n->workers[i]->nw.base, NULL);
	event_base_loopexit(n->main_base, NULL);
}

/* SIGUSR1: no new allocations (Allocate gets 300 with an alternate server,
 * or 508); the process exits when the last allocation is gone or after
 * drain-timeout seconds. /healthz says 503 meanwhile. */
static void on_drain(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *n = arg;

	(void)sig;
	(void)what;
	if (n->drain_deadline_ms)
		return;
	n->drain_deadline_ms = io_now_ms() + 1000u * n->current->conf->drain_timeout_s;
	quota_set_draining(&n->quota, true);
	/* The kernel fast path hands every channel back to user space now,
	 * not at the workers' next tick (docs/OFFLOAD.md): the flag above
	 * is set first, so no worker installs one after this. */
	if (n->offload)
		offload_clear(n->offload);
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
	struct daemon *n = arg;
	bool alive = true;
	uint64_t now = io_now_ms();

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
	daemon_offload_service(n, now);
	if (!n->drain_deadline_ms)
		return;
	unsigned left = quota_total(&n->quota);
	if (left == 0 || io_now_ms() >= n->drain_deadline_ms) {
		log_notice("drained: %u allocation%s left; stopping", left, left == 1 ? "" : "s");
		on_stop_signal(0, 0, n);
	}
}

/* SIGHUP or turnctl reload: the whole configuration again
 * (daemon/reload.c). Returns true when the new one is in force. */
static bool daemon_reload(struct daemon *n)
{
	const struct reload_ctx rc = {
		.path = n->conf_path,
		.ov = n->conf_ov,
		.running = n->current,
		.workers = n->workers,
		.n_workers = n->n_workers,
		.tls = &n->tls,
		.listen = &n->listen,
	};

	/* systemd (Type=notify) shows the unit "reloading" until READY=1. */
	char state[64];
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)io_now_us());
	notify_send(state);
	/* Asked again first, so that the workers' new peer policies count
	 * the learnt addresses among the host's own. */
	external_stun_reload(n->current->conf, &n->relay);
	struct reload_snapshot *s = reload_run(&rc);
	if (s) {
		daemon_bandwidth_apply(n, s->conf, n->current->conf);
		reload_snapshot_release(n->current);
		n->current = s;
	}
	atomic_fetch_add(&n->reloads[s ? 0 : 1], 1);
	notify_send(s ? "READY=1\nSTATUS=configuration reloaded"
		      : "READY=1\nSTATUS=configuration reload refused; the running one is kept");
	return s != NULL;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	daemon_reload(arg);
}

/* ---- the control socket's reach into the daemon (control.h) ---- */

static void daemon_control_drain(void *ctx)
{
	on_drain(0, 0, ctx);
}

static bool daemon_control_reload(void *ctx)
{
	return daemon_reload(ctx);
}

static const struct conf *daemon_control_conf(void *ctx)
{
	const struct daemon *n = ctx;

	return n->current->conf;
}

int daemon_control_open(struct daemon *n, const struct control_owner *owner, char *err,
			size_t errlen)
{
	const struct control_env env = {
		.base = n->main_base, .workers = n->workers, .n_workers = n->n_workers,
		.ban = &n->ban, .usage = n->usage, .view = { daemon_metrics_view, n }, .ctx = n,
		.drain = daemon_control_drain, .reload = daemon_control_reload,
		.conf_now = daemon_control_conf,
	};
	struct control_owner o = *owner;
	char buf[256];
	bool is_default;
	const char *path = control_socket_path(n->conf, buf, sizeof(buf), &is_default);

	if (!path) {
		if (is_default)
			log_notice("control socket: no default path for this user (set "
				   "control-socket, or XDG_RUNTIME_DIR); turnctl cannot reach turnd");
		else
			log_info("control socket: off (control-socket = \"\")");
		return 0;
	}
	o.make_dir = is_default;
	n->control = control_open(&env, path, &o, err, errlen);
	if (n->control || !is_default)
		return n->control ? 0 : -1;
	/* The default is a convenience: another turnd may hold it. */
	log_warn("control socket: %s; running without one (set control-socket)", err);
	return 0;
}

void daemon_reloads(struct daemon *n, uint64_t *applied, uint64_t *refused)
{
	*applied = atomic_load(&n->reloads[0]);
	*refused = atomic_load(&n->reloads[1]);
}

static void log_totals(struct daemon *n)
{
	uint64_t allocs = 0;
	struct net_stats sum = { 0 };

	for (unsigned i = 0; i < n->n_workers; i++) {
		const struct worker *w = n->workers[i];
		const struct turn_server_stats *s = turn_server_stats(w->srv);
		log_info("worker %u: udp in %llu out %llu, tcp accepted %llu, requests %llu, "
			 "dropped %llu, allocations %llu (total %llu), relayed to peers %llu, "
			 "to clients %llu, TCP relay connections piped %llu",
			 w->id, (unsigned long long)w->nw.stats.udp_in,
			 (unsigned long long)w->nw.stats.udp_out,
			 (unsigned long long)w->nw.stats.tcp_accepted,
			 (unsigned long long)s->requests, (unsigned long long)s->dropped,
			 (unsigned long long)s->allocations,
			 (unsigned long long)s->allocations_total,
			 (unsigned long long)s->relayed_to_peer,
			 (unsigned long long)s->relayed_to_client,
			 (unsigned long long)w->nw.stats.tcp_relay_pipes_total);
		net_stats_add(&sum, &w->nw.stats);
		allocs += s->allocations;
	}
	/* What a stop leaves behind: with every allocation gone, the port
	 * pool and the quota counters must be back at zero. */
	unsigned quota = quota_total(&n->quota);
	log_notice("at stop: allocations %llu, relay ports in use %zu, quota in use %u",
		   (unsigned long long)allocs, relay_ports_in_use(&n->relay), quota);
	tls_log_totals(n->conf, &sum);
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

int daemon_run(struct daemon *n)
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
		if (worker_thread_start(w) < 0) {
			log_error("cannot start worker %u: %s", i, strerror(errno));
			on_stop_signal(0, 0, n);
			rc = -1;
			break;
		}
	}
	if (rc == 0) {
		notify_send("READY=1\nSTATUS=serving");
		event_base_loop(n->main_base, EVLOOP_NO_EXIT_ON_EMPTY);
	}
	for (unsigned i = 0; i < n->n_workers; i++)
		worker_thread_join(n->workers[i]);
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

void daemon_free(struct daemon *n)
{
	if (!n)
		return;
	metrics_free(n->metrics);
	control_free(n->control); /* its events live on the workers' bases */
	/* Workers go one by one: none may wake another any more. */
	if (n->relay_ready)
		tcp_relay_table_stopping(n->relay.tcp_table);
	for (unsigned i = 0; n->workers && i < n->n_workers; i++)
		worker_thread_free(n->workers[i]);
	free(n->workers);
	/* Every allocation's entries went with its worker's core. */
	offload_close(n->offload);
	if (n->main_base)
		event_base_free(n->main_base);
	turn_policy_free(n->policy);
	auth_cache_free(n->auth_cache); /* the workers' references went with them */
	auth_cache_free(n->auth_http_cache);
	listen_registry_fini(&n->listen); /* after the workers' sockets */
	reload_snapshot_release(n->current);
	if (n->fleet_ready)
		fleet_shared_fini(&n->fleet);
	if (n->tls_ready)
		tls_shared_fini(&n->tls);
	if (n->relay_ready)
		relay_shared_fini(&n->relay);
	if (n->quota_ready)
		quota_fini(&n->quota);
	user_usage_free(n->usage); /* after the workers: their allocations detached */
	conn_gate_fini(&n->conn_gate); /* after the workers' connections */
	OPENSSL_cleanse(n->nonce_secret, sizeof(n->nonce_secret));
	control_ban_fini(&n->ban);
	free(n);
}
