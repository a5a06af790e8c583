/*
 * Relay endpoints (RFC 8656 section 2.2): one UDP socket per allocation
 * and family, bound to a relay address and a port from the shared pool,
 * read by the owning worker's event base. Also the state every worker
 * shares: the port pool, reservation tokens and allocation quotas, each
 * behind a mutex taken once per Allocate, never per packet.
 */
#ifndef TURND_NET_RELAY_H
#define TURND_NET_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "net/port_pool.h"
#include "turn/io.h"
#include "util/addr.h"

struct worker;
struct udp_sock;
struct tcp_conn;
struct dtls_session;

/* How a worker reaches a client: its listening UDP socket, its TCP (or
 * TLS) connection, or its DTLS session. */
struct client_path {
	struct udp_sock *udp;
	struct tcp_conn *conn;
	struct dtls_session *dtls;
};

struct relay_addr {
	struct turn_addr addr;     /* bound address (port 0) */
	struct turn_addr external; /* told to clients; == addr without external-ip */
	struct port_pool pool;     /* its ports, [min_port, max_port] */
};

struct relay_token {
	uint64_t token;
	size_t addr_index;
	uint16_t port;
	uint64_t expires_ms;
};

#define RELAY_MAX_TOKENS 256
#define RELAY_TOKEN_LIFETIME_MS 30000 /* RFC 8656 section 14.9: about 30 s */

struct quota_entry;
struct tcp_relay_table;

/* A relay endpoint: a UDP socket, or for a TCP allocation (RFC 6062) a
 * listening TCP socket, on a relay address and a port from the pool. */
struct turn_relay {
	int fd;
	struct event *ev;
	struct worker *w;
	struct turn_alloc *owner;
	struct client_path path;
	size_t addr_index;
	uint16_t port;
	bool dont_fragment; /* DF set on the socket: never kept as a spare */
	bool tcp;           /* a listening TCP socket: never kept as a spare */
	uint64_t freed_ms;  /* when its owner let it go (0: never had one) */
};

/* Workers a server may run (relay-threads), for per-worker tables. */
#define RELAY_MAX_WORKERS 64

/* Shared by every worker. */
struct relay_shared {
	pthread_mutex_t lock;
	const struct conf *conf;
	struct relay_addr *addrs;
	size_t n_addrs;
	size_t next[2]; /* round robin per family */
	/* Random numbers for port picks, from RAND_bytes a block at a time
	 * (RFC 6056: an off-path attacker must not guess the next port). */
	uint32_t random[64];
	unsigned random_left;
	/* Ports taken while still in quarantine, every free one being in it
	 * (turnd_relay_port_quarantine_early_total). */
	uint64_t ports_taken_early;
	struct relay_token tokens[RELAY_MAX_TOKENS];
	/* Quotas: the configuration's, or the realm's from Redis. */
	unsigned user_quota, total_quota;
	unsigned total;
	/* Orders this server's count updates in Redis (daemon/fleet.c): every
	 * count read for Redis takes the next number. */
	uint64_t quota_seq;
	struct quota_entry **users;
	size_t n_user_buckets;
	bool draining; /* SIGUSR1: no new allocations */
	/* Bytes per second each worker relayed over its last tick (shed-bps). */
	uint64_t worker_bps[RELAY_MAX_WORKERS];
	/* TCP relay connections of every worker (net/tcp_relay.c), with a
	 * lock of their own. */
	struct tcp_relay_table *tcp_table;
};

int relay_shared_init(struct relay_shared *rs, const struct conf *conf, char *err, size_t errlen);
void relay_shared_fini(struct relay_shared *rs);

/* The struct turn_io a worker gives its protocol core (ctx = worker). */
void relay_io_init(struct turn_io *io, struct worker *w);

/* Quotas, for daemon/fleet.c: user's allocations on this server (and the
 * sequence number of that reading); the user-quota in force; setting both
 * quotas (the realm's from Redis); each user with allocations, with a
 * sequence number, under the lock (fn must not take it). */
unsigned relay_user_count(struct relay_shared *rs, const char *user, uint64_t *seq);
unsigned relay_user_quota(struct relay_shared *rs);
void relay_set_quotas(struct relay_shared *rs, unsigned user_quota, unsigned total_quota);
void relay_quota_foreach(struct relay_shared *rs,
			 void (*fn)(void *, const char *, unsigned, uint64_t), void *arg);
/* Draining (SIGUSR1): Allocate answers 300 (or 508 without alternates). */
void relay_set_draining(struct relay_shared *rs, bool on);
bool relay_draining(struct relay_shared *rs);

/* The bytes per second worker relayed over its last tick. */
void relay_set_worker_bps(struct relay_shared *rs, unsigned worker, uint64_t bps);

/* TCP relays (net/tcp_relay.c, RFC 6062). The table of every worker's
 * TCP relay connections, by CONNECTION-ID; a listening relay socket; the
 * turn_io callbacks (ctx = worker). */
struct tcp_relay_table *tcp_relay_table_new(void);
/* Closes what is left; after every worker is gone. NULL is a no-op. */
void tcp_relay_table_free(struct tcp_relay_table *t);
/* From now on no worker wakes another (they are being freed). */
void tcp_relay_table_stopping(struct tcp_relay_table *t);
int tcp_relay_listen(const struct turn_addr *addr);
void tcp_relay_on_accept(int fd, short what, void *arg);
int tcp_relay_connect(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
		      uint32_t *id);
int tcp_relay_bind(void *ctx, uint32_t id, const char *user);
void tcp_relay_close(void *ctx, uint32_t id);

/* Ports in use across every relay address (for tests and metrics). */
size_t relay_ports_in_use(struct relay_shared *rs);
/* Ports handed out before their quarantine ended (for metrics). */
uint64_t relay_ports_taken_early(struct relay_shared *rs);

/* The peer policy's hairpin question (turn/policy.h rule 1; ctx is the
 * struct relay_shared): whether peer is a relay address (bound or told to
 * clients) on a port of the pool that holds an allocation. Lock-free (see
 * port_pool_in_use); the policy asks only for peers that are the host's own
 * addresses. */
bool relay_port_live(void *ctx, const struct turn_addr *peer);

#endif
