/* One worker: a thread with its own event base, its own sockets and its own
 * protocol state, so the packet path takes no lock (STYLE.md). Its
 * transports are in nw (net/net_worker.h); this is what the daemon adds:
 * the core, the credential chain, parked requests, the fleet, reloads and
 * the counters the metrics read. */
#ifndef TURND_DAEMON_WORKER_H
#define TURND_DAEMON_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "auth/auth.h"
#include "conf/conf.h"
#include "daemon/offload_sync.h"
#include "daemon/quota.h"
#include "net/net_worker.h"
#include "net/path.h"
#include "turn/io.h"
#include "turn/server.h"
#include "util/addr.h"
#include "util/ratelimit.h"

struct event;
struct auth;
struct auth_credential;
struct pending_req;
struct stun_msg;
struct reload_snapshot;
struct daemon;
struct worker_reload;
struct quota_table;
struct io_clock;
struct fleet_shared;
struct auth_backend;
struct worker;
struct user_usage;
struct control_ban;

/* Token buckets of unauth-rate per worker (8 bytes each, 128 KiB): many
 * more than the sources one worker answers at once, so two of them rarely
 * share one, and a fixed size, so spoofed sources cannot grow it. */
#define WORKER_UNAUTH_SLOTS 16384

/* The daemon's counters of one worker (the transports' are net_stats). */
struct worker_stats {
	uint64_t user_channeldata; /* ChannelData from clients, handled here */
	uint64_t chandata_dropped;
	uint64_t auth_errors;
	/* Requests with MESSAGE-INTEGRITY answered on the realm and nonce
	 * alone (401, 438, 400), without asking any backend. */
	uint64_t auth_refused_early;
	uint64_t rx_coalesce_waits; /* loop turns followed by an rx-coalesce-us wait */
	uint64_t unauth_suppressed; /* answers not sent: their source is over unauth-rate */
};

/* The worker's view of the other servers on the same Redis (fleet.c). */
struct fleet_worker {
	struct fleet_shared *shared;
	struct auth_backend *redis; /* the worker's Redis backend, or NULL */
	uint64_t generation;        /* of the settings this worker applied */
	unsigned epoch;             /* of the connection the last resync went on */
	uint64_t next_poll_ms;
	bool polling;
};

/* One message being decided (dispatch.c), parked or not (park.c). */
struct worker_msg {
	const uint8_t *pkt;
	size_t len;
	const struct turn_tuple *tuple;
	const struct net_path *path;
	uint8_t may_park;  /* PARK_* this request may still wait for */
	uint64_t since_us; /* when it arrived (io_now_us), parked or not */
	enum fleet_verdict verdict; /* what Redis said of its user's quota */
};
#define PARK_CREDENTIAL 1 /* its user's credential, from Redis */
#define PARK_FLEET 2      /* its user's quota across the fleet, from Redis */
#define PARK_ANY (PARK_CREDENTIAL | PARK_FLEET)

/* What the core hands back to the turn_io callbacks of one request
 * (turn_input.origin, daemon/turn_io.c): its path, and the fleet's
 * verdict, which quota_take marks as used once an allocation took it. */
struct worker_origin {
	const struct net_path *path;
	enum fleet_verdict verdict;
	bool verdict_used;
	unsigned user_quota; /* the user's own quota from the backend (HTTP hook); 0: none */
};

/* Decide m now (dispatch_decide, set by the worker's creator: park.c,
 * below dispatch, resumes through it). Returns true when m was parked
 * (again); *verdict_used tells whether an allocation took m's verdict. */
typedef bool (*worker_decide_fn)(struct worker *w, const struct worker_msg *m,
				 bool *verdict_used);

/* Upper bounds (microseconds) of the Allocate latency histogram. */
#define WORKER_ALLOC_BUCKETS 13
extern const uint64_t worker_alloc_bounds_us[WORKER_ALLOC_BUCKETS];

/* One worker's counters as of its last tick (daemon/metrics.c). */
struct worker_snapshot {
	struct net_stats net;
	struct worker_stats daemon;
	struct turn_server_stats core;
	uint64_t permissions, channels;
	uint64_t alloc_hist[WORKER_ALLOC_BUCKETS + 1];
	uint64_t alloc_sum_us;
	int redis; /* -1 not configured, 0 down, 1 connected */
	uint64_t pending; /* requests parked for Redis */
	bool has_http; /* the HTTP hook is configured: http holds its counters */
	struct auth_http_stats http;
};

struct worker {
	struct net_worker nw; /* its transports; first: net's hooks get back here */
	unsigned id;
	const struct daemon *daemon;
	pthread_t thread;
	bool started;
	const struct conf *conf;           /* conf_snap->conf */
	struct reload_snapshot *conf_snap;    /* the configuration snapshot it runs with */
	/* A reload (SIGHUP, daemon/reload.c): the main thread posts the next
	 * snapshot and credential chain under reload_lock and activates
	 * reload_ev; the worker swaps them in between two events. */
	pthread_mutex_t reload_lock;
	struct worker_reload *reload_next;
	struct event *reload_ev;
	worker_decide_fn decide;
	struct turn_server *srv;
	struct turn_io turn_io;            /* what the core calls (daemon/turn_io.c) */
	/* The kernel fast path's entries (daemon/offload_sync.h); no ops
	 * until the daemon loaded it (daemon.c), before the thread starts. */
	struct offload_sync offload;
	struct quota_table *quota;         /* the daemon's, shared by every worker */
	struct user_usage *usage;          /* per-user totals and budgets, or NULL */
	uint64_t next_usage_ms, last_usage_ms; /* worker 0: usage events (Redis) */
	struct control_ban *ban;           /* users an operator refused (turnctl), shared */
	const struct io_clock *clock;      /* what "now" is (io/clock.h) */
	struct auth *auth;                 /* this worker's credential chain */
	struct fleet_worker fleet;         /* other servers on the same Redis */
	struct turn_policy *policy;        /* this worker's, once Redis changed the ranges */
	uint64_t last_tick_ms, last_relayed_bytes; /* for the relayed byte rate */
	uint64_t tick_pkts;    /* datagrams relayed as of the last tick */
	bool coalescing;       /* busy enough for rx-coalesce-us to wait */
	_Atomic uint64_t ticks; /* the main thread's watchdog reads it */
	struct event *tick_ev;
	int ifaddr_fd;             /* netlink address changes (net/peer_policy.c), or -1 */
	struct event *ifaddr_ev;
	LIST_HEAD(, pending_req) pending; /* requests waiting for a credential */
	size_t n_pending;
	struct pending_req *pending_spare; /* a copy not needed, kept for the next (park.c) */
	struct worker_stats stats;
	struct rate_table unauth; /* answers to unauthenticated UDP requests (dispatch.c) */
	/* Allocate answers by how long they took, parks included (metrics). */
	uint64_t alloc_hist[WORKER_ALLOC_BUCKETS + 1];
	uint64_t alloc_sum_us;
	/* What the metrics thread reads: a copy made on every tick. */
	pthread_mutex_t snap_lock;
	struct worker_snapshot snap;
};

/* The worker behind its transports (net's hooks carry nw). */
static inline struct worker *worker_of(struct net_worker *nw)
{
	return (struct worker *)nw;
}

#endif
