/*
 * Relay endpoints (RFC 8656 section 2.2): one UDP socket per allocation
 * and family, bound to a relay address and a port from the shared pool,
 * read by the owning worker's event base. Also the state every worker
 * shares: the port pool and reservation tokens, behind a mutex taken once
 * per Allocate, never per packet. Quotas are the daemon's (daemon/quota.c).
 */
#ifndef TURND_NET_RELAY_H
#define TURND_NET_RELAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "net/path.h"
#include "net/port_pool.h"
#include "turn/io.h"
#include "util/addr.h"

struct net_worker;
struct relay_shared;

/* The address told to clients (== addr without external-ip) may change
 * while workers read it: external-ip = auto:stun learns it again at each
 * reload. Two slots: the main thread writes the idle one and then
 * publishes its index (release); readers load the index (acquire) and
 * read that slot. Reloads come from the main thread only, seconds apart,
 * so a reader is never still in the slot written next. */
struct relay_addr {
	struct turn_addr addr;        /* bound address (port 0) */
	struct turn_addr external_slot[2];
	_Atomic unsigned external_cur; /* index of the slot in force */
	struct port_pool pool;        /* its ports, [min_port, max_port] */
};

/* ra's address as told to clients (port 0). */
void relay_addr_external(const struct relay_addr *ra, struct turn_addr *out);
/* Main thread only: tell clients ext (port ignored) for relay address i
 * from the next Allocate on. */
void relay_set_external(struct relay_shared *rs, size_t i, const struct turn_addr *ext);

struct relay_token {
	uint64_t token;
	size_t addr_index;
	uint16_t port;
	uint64_t expires_ms;
};

#define RELAY_MAX_TOKENS 256
#define RELAY_TOKEN_LIFETIME_MS 30000 /* RFC 8656 section 14.9: about 30 s */

struct tcp_relay_table;

/* A relay endpoint: a UDP socket, or for a TCP allocation (RFC 6062) a
 * listening TCP socket, on a relay address and a port from the pool. */
struct turn_relay {
	int fd;
	struct event *ev;
	struct net_worker *w;
	struct turn_alloc *owner;
	struct net_path path; /* the way to its client (net/path.h) */
	size_t addr_index;
	uint16_t port;
	bool dont_fragment; /* DF set on the socket: never kept as a spare */
	bool tcp;           /* a listening TCP socket: never kept as a spare */
	uint64_t freed_ms;  /* when its owner let it go (0: never had one) */
};

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
	/* TCP relay connections of every worker (net/tcp_relay.c), with a
	 * lock of their own. */
	struct tcp_relay_table *tcp_table;
};

int relay_shared_init(struct relay_shared *rs, const struct conf *conf, char *err, size_t errlen);
void relay_shared_fini(struct relay_shared *rs);

/*
 * The relay side of the core's struct turn_io (daemon/turn_io.c wraps
 * them). relay_open: a relay socket for req, sending to its client
 * through path (held until relay_close); 0 with *out, *addr (as told to
 * clients) and, with req->reserve_next, *token; else the error code to
 * answer (440, 508, 400). relay_send: a datagram to a peer, gathered for
 * one sendmmsg at the end of the loop turn.
 */
int relay_open(struct net_worker *w, const struct turn_relay_request *req,
	       const struct net_path *path, struct turn_relay **out, struct turn_addr *addr,
	       uint64_t *token);
void relay_close(struct net_worker *w, struct turn_relay *r);
void relay_send(struct net_worker *w, struct turn_relay *r, const struct turn_addr *peer,
		const uint8_t *data, size_t len);

/* For the kernel fast path (daemon/offload_sync.c): whether r's client
 * is a plain UDP client (not DTLS, not TCP or TLS), and the address and
 * port r is bound to (what peers' datagrams arrive at, not what clients
 * are told with external-ip). */
bool relay_client_plain_udp(const struct turn_relay *r);
void relay_bound_addr(const struct turn_relay *r, struct turn_addr *out);

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
int tcp_relay_connect(struct net_worker *w, struct turn_relay *relay, const struct turn_addr *peer,
		      uint32_t *id);
/* A ConnectionBind for id from user on the TCP connection path. */
int tcp_relay_bind(struct net_worker *w, uint32_t id, const char *user,
		   const struct net_path *path);
void tcp_relay_close(struct net_worker *w, uint32_t id);

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
