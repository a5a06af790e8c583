/* A worker's life (worker_thread.c): creation with its sockets bound, its
 * thread and event loop, its tick, its end. */
#ifndef TURND_DAEMON_WORKER_THREAD_H
#define TURND_DAEMON_WORKER_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

struct worker;
struct worker_snapshot;
struct reload_snapshot;
struct relay_shared;
struct tls_shared;
struct conn_gate;
struct fleet_shared;
struct quota_table;
struct auth_cache;
struct turn_policy;
struct io_clock;
struct bw_share;
struct user_usage;
struct control_ban;

/* What the process shares with each worker it creates (daemon.c). */
struct worker_env {
	const struct conf *conf;      /* the start-up configuration */
	struct reload_snapshot *snap;    /* the configuration in force */
	struct relay_shared *relay;   /* relay addresses, ports, tokens */
	struct tls_shared *tls;       /* TLS and DTLS contexts */
	struct conn_gate *conn_gate;  /* client connections per source */
	struct fleet_shared *fleet;   /* other servers on the same Redis */
	struct quota_table *quota;    /* allocation quotas */
	struct auth_cache *auth_cache; /* Redis answers shared by every worker, or NULL */
	struct auth_cache *auth_http_cache; /* the HTTP hook's, or NULL */
	struct turn_policy *policy;   /* the peer policy */
	const uint8_t *nonce_secret;  /* TURN_NONCE_SECRET_LEN bytes */
	uint32_t hash_seed;
	struct control_ban *ban;      /* users refused by an operator (turnctl) */
	const struct io_clock *clock; /* NULL: the system's (io/clock.h) */
	struct bw_share *capacity;    /* bps-capacity's budget, or NULL: none */
	struct user_usage *usage;     /* per-user totals and budgets, or NULL: none */
};

/* Worker id, with every socket bound, or NULL with a message in err. */
struct worker *worker_thread_new(unsigned id, const struct worker_env *env, char *err, size_t errlen);
/* Start its thread: 0, or -1. */
int worker_thread_start(struct worker *w);
/* Wait for its thread (after event_base_loopexit on its base). */
void worker_thread_join(struct worker *w);
void worker_thread_free(struct worker *w);
/* A copy of the worker's counters, as of its last tick. */
void worker_thread_snapshot_read(struct worker *w, struct worker_snapshot *out);

#endif
