/* One worker: a thread with its own event base, its own sockets and its own
 * protocol state, so the packet path takes no lock (STYLE.md). */
#ifndef TURND_NET_WORKER_H
#define TURND_NET_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "daemon/fleet.h"
#include "net/relay.h"
#include "turn/io.h"
#include "turn/server.h"
#include "util/addr.h"
#include "util/ratelimit.h"

struct event;
struct event_base;
struct evconnlistener;
struct tcp_conn;
struct dtls_listener;
struct dtls_session;
struct tls_shared;
struct conn_gate;
struct auth;
struct auth_credential;
struct pending_req;
struct stun_msg;
struct net_snapshot;

/* Datagrams read or written per recvmmsg/sendmmsg call. */
#define WORKER_BATCH 32
/* Relay sockets a worker keeps open for reuse. */
#define RELAY_SPARES 64
/* Slot per datagram; the part of a larger one lands in the worker's
 * struct worker_big. */
#define WORKER_SLOT 4096
/* The largest datagram (a UDP payload) or frame (a STUN message or
 * ChannelData over TCP, RFC 8656 section 12.5) a worker carries, and a
 * message to a client built from one: 20 + 65535 bytes, padded. */
#define WORKER_BIG 65536
#define WORKER_BIG_OUT (WORKER_BIG + 64)

/*
 * Room for datagrams larger than a slot (issue 13 item 9): each read
 * gives datagram i a second iovec, tail[i], for what its slot cannot hold;
 * such a datagram is joined in whole[] to be processed, and a message for
 * a client that does not fit a slot is built in out[]. Allocated once per
 * worker; only large datagrams touch its pages.
 */
struct worker_big {
	uint8_t tail[WORKER_BATCH][WORKER_BIG - WORKER_SLOT];
	uint8_t whole[WORKER_BIG];
	uint8_t out[WORKER_BIG_OUT];
};
/* Token buckets of unauth-rate per worker (8 bytes each, 128 KiB): many
 * more than the sources one worker answers at once, so two of them rarely
 * share one, and a fixed size, so spoofed sources cannot grow it. */
#define WORKER_UNAUTH_SLOTS 16384

struct udp_out;
struct listen_retire;

struct udp_sock {
	int fd;
	struct turn_addr local; /* bound address (port filled) */
	bool wildcard;          /* bound to 0.0.0.0 or ::: use packet info */
	struct event *ev;
	struct worker *w;
	/* Datagrams to clients waiting for one sendmmsg, and their buffers:
	 * replies and relayed data from every event of one loop turn. */
	struct udp_out *out;
	uint8_t (*tx)[WORKER_SLOT];
	struct dtls_listener *dtls; /* set: a DTLS socket (dtls.c) */
	bool listener; /* one of a 'listener' entry's: a reload may retire it */
	/* Set: a reload removed it (daemon/listen.c). It serves the allocations
	 * that use it, refuses new ones, and closes after the last. */
	struct listen_retire *retire;
	bool drained; /* retired, and this worker told the others it has none left */
	unsigned allocs; /* relays whose client path uses it (DTLS: through a session) */
};

struct tcp_listener {
	int fd;
	struct turn_addr local;
	struct evconnlistener *lev;
	struct event *retry_ev; /* re-enables accept after EMFILE/ENFILE */
	struct worker *w;
	bool tls; /* connections start with a TLS handshake */
	bool listener; /* one of a 'listener' entry's: a reload may close it */
};

struct worker_stats {
	uint64_t udp_in, udp_out, udp_truncated, udp_send_errors;
	uint64_t tcp_accepted, tcp_closed_bad_frame, tcp_open, tcp_output_drops;
	/* Client connections by enum conn_kind (net/conn_gate.h: TCP, TLS,
	 * DTLS): refused for max-connections-per-ip, for max-connections;
	 * closed at first-message-timeout, at max-allocate-timeout, for a
	 * frame longer than preauth-buffer before an allocation. */
	uint64_t conn_refused_per_ip[3], conn_refused_total[3];
	uint64_t conn_closed_first_message[3], conn_closed_allocate_timeout[3];
	uint64_t conn_closed_preauth_buffer[3];
	uint64_t chandata_dropped;
	uint64_t relays_open, relay_sent, relay_send_errors;
	/* Too large for the way on (issue 13 item 9): to a peer, a datagram
	 * over the largest UDP payload; to a client, over what its transport
	 * carries (the core counts those). */
	uint64_t relay_oversize;
	uint64_t auth_errors;
	/* Requests with MESSAGE-INTEGRITY answered on the realm and nonce
	 * alone (401, 438, 400), without asking any backend. */
	uint64_t auth_refused_early;
	uint64_t tls_accepted, tls_failed; /* TLS handshakes begun, failed */
	uint64_t dtls_hello_verify, dtls_sessions, dtls_open, dtls_refused, dtls_failed;
	/* RFC 6062: data connections piped now, ever; Connects that failed. */
	uint64_t tcp_relay_pipes, tcp_relay_pipes_total, tcp_relay_connect_failed;
	uint64_t tcp_relay_bytes[2]; /* piped: [0] to peers, [1] to clients */
	uint64_t tcp_relay_refused_fds; /* peers' connections refused: out of descriptors */
	uint64_t rx_coalesce_waits;     /* loop turns followed by an rx-coalesce-us wait */
	uint64_t listen_retired; /* UDP and DTLS sockets retired, still serving (listen.c) */
	uint64_t unauth_suppressed; /* answers not sent: their source is over unauth-rate */
};

/* Upper bounds (microseconds) of the Allocate latency histogram. */
#define WORKER_ALLOC_BUCKETS 13
extern const uint64_t worker_alloc_bounds_us[WORKER_ALLOC_BUCKETS];

/* One worker's counters as of its last tick (daemon/metrics.c). */
struct worker_snapshot {
	struct worker_stats net;
	struct turn_server_stats core;
	uint64_t permissions, channels;
	uint64_t alloc_hist[WORKER_ALLOC_BUCKETS + 1];
	uint64_t alloc_sum_us;
	int redis; /* -1 not configured, 0 down, 1 connected */
	uint64_t pending; /* requests parked for Redis */
};

union pktinfo_cmsg {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/* Datagrams being gathered for one sendmmsg on a UDP socket. */
struct udp_out {
	int n;
	struct mmsghdr msgs[WORKER_BATCH];
	struct iovec iov[WORKER_BATCH];
	struct sockaddr_storage peers[WORKER_BATCH];
	union pktinfo_cmsg ctl[WORKER_BATCH];
};

/* Datagrams from relays to peers, copied, sent at the end of the loop
 * turn with one sendmmsg per run of the same relay socket. */
struct relay_out {
	int n;
	int fd[WORKER_BATCH];
	struct mmsghdr msgs[WORKER_BATCH];
	struct iovec iov[WORKER_BATCH];
	struct sockaddr_storage peers[WORKER_BATCH];
	uint8_t buf[WORKER_BATCH][WORKER_SLOT];
};

struct net;
struct worker_reload;

struct worker {
	unsigned id;
	const struct net *net;
	pthread_t thread;
	bool started;
	struct event_base *base;
	const struct conf *conf;           /* conf_snap->conf */
	struct net_snapshot *conf_snap;    /* the configuration snapshot it runs with */
	/* A reload (SIGHUP, daemon/reload.c): the main thread posts the next
	 * snapshot and credential chain under reload_lock and activates
	 * reload_ev; the worker swaps them in between two events. */
	pthread_mutex_t reload_lock;
	struct worker_reload *reload_next;
	struct event *reload_ev;
	struct turn_server *srv;
	struct turn_io relay_io;
	struct relay_shared *relay_shared; /* the net's, shared by every worker */
	struct tls_shared *tls;            /* the net's TLS and DTLS contexts */
	struct conn_gate *conn_gate;       /* the net's count of client connections */
	struct auth *auth;                 /* this worker's credential chain */
	struct fleet_worker fleet;         /* other servers on the same Redis */
	struct turn_policy *policy;        /* this worker's, once Redis changed the ranges */
	uint64_t last_tick_ms, last_relayed_bytes; /* for the relayed byte rate */
	uint64_t tick_pkts;    /* datagrams relayed as of the last tick */
	bool coalescing;       /* busy enough for rx-coalesce-us to wait */
	_Atomic uint64_t ticks; /* the main thread's watchdog reads it */
	struct client_path current_path;   /* of the message being handled */
	struct turn_addr reply_from;       /* where its response leaves from (net/nat.c) */
	struct event *tick_ev;
	struct event *tcp_wake_ev; /* another worker has TCP relay news (tcp_relay.c) */
	int ifaddr_fd;             /* netlink address changes (net/peer_policy.c), or -1 */
	struct event *ifaddr_ev;
	int reserve_fd; /* /dev/null, given up to refuse a peer's connection when out of fds */
	uint64_t pipe_bps; /* max-bps of RFC 6062 pipes, as the core's (worker_apply_settings) */
	/* Listening sockets, each allocated on its own: relays and parked
	 * requests point to them, and a reload adds and removes some
	 * (daemon/listen.c). */
	struct udp_sock **udp;
	size_t n_udp, cap_udp;
	struct tcp_listener **tcp;
	size_t n_tcp, cap_tcp;
	LIST_HEAD(, tcp_conn) conns;
	LIST_HEAD(, pending_req) pending; /* requests waiting for a credential */
	size_t n_pending;
	struct pending_req *pending_spare; /* a copy not needed, kept for the next (credential.c) */
	struct worker_stats stats;
	struct rate_table unauth; /* answers to unauthenticated UDP requests (udp.c) */
	/* Allocate answers by how long they took, parks included (metrics). */
	uint64_t alloc_hist[WORKER_ALLOC_BUCKETS + 1];
	uint64_t alloc_sum_us;
	/* What the metrics thread reads: a copy made on every tick. */
	pthread_mutex_t snap_lock;
	struct worker_snapshot snap;
	/* Output gathered during one loop turn (udp_sock.out, relay_out),
	 * sent by flush_ev, which runs after the turn's other events. */
	struct event *flush_ev;
	bool flush_armed;
	struct relay_out relay_out;
	/* Relay sockets kept open for the next Allocate (relay.c). */
	struct turn_relay *spares[RELAY_SPARES];
	unsigned n_spares;
	bool stopping; /* the loop has ended: relays are closed, not kept */
	/* Per-worker buffers, reused for every batch (STYLE.md rule 8). */
	uint8_t rx[WORKER_BATCH][WORKER_SLOT];
	uint8_t tx[WORKER_BATCH][WORKER_SLOT];
	struct worker_big *big;
};

/* Datagram i of a batch read: its slot, then its tail (struct worker_big). */
static inline void worker_rx_iov(struct worker *w, int i, struct iovec iov[2])
{
	iov[0] = (struct iovec){ w->rx[i], WORKER_SLOT };
	iov[1] = (struct iovec){ w->big->tail[i], sizeof(w->big->tail[i]) };
}

/* Datagram i of len bytes in one piece: in its slot, or joined with its
 * tail in big->whole (valid until the next datagram is joined). */
static inline const uint8_t *worker_rx_join(struct worker *w, int i, size_t len)
{
	if (len <= WORKER_SLOT)
		return w->rx[i];
	memcpy(w->big->whole, w->rx[i], WORKER_SLOT);
	memcpy(w->big->whole + WORKER_SLOT, w->big->tail[i], len - WORKER_SLOT);
	return w->big->whole;
}

/*
 * Process one message (a datagram or a TCP frame) that arrived on tuple:
 * STUN goes to the protocol core, anything else is dropped for now.
 * Writes a response into out and returns its length (0: nothing to send).
 */
size_t worker_process(struct worker *w, const uint8_t *pkt, size_t len,
		      const struct turn_tuple *tuple, const struct client_path *path, uint8_t *out,
		      size_t cap);

/* credential.c: looking up the request's user, parking the request when
 * an asynchronous backend (Redis) has to be asked. */
struct pending_ctx {
	const uint8_t *pkt;
	size_t len;
	const struct turn_tuple *tuple;
	const struct client_path *path;
	uint8_t may_park; /* PARK_* this request may still wait for */
	uint64_t since_us; /* when it arrived (worker_now_us), parked or not */
};
#define PARK_CREDENTIAL 1 /* its user's credential, from Redis */
#define PARK_FLEET 2      /* its user's quota across the fleet, from Redis */
#define PARK_ANY (PARK_CREDENTIAL | PARK_FLEET)
bool worker_needs_credential(const struct stun_msg *m);
/* Returns 0 with tc filled (found, not found, or error), or 1 when the
 * request was parked and will be resumed (worker_resume). */
/* Whether m's MESSAGE-INTEGRITY(-SHA256) verifies with one of ac's keys
 * (with the PASSWORD-ALGORITHM it names, MD5 without one). */
bool worker_integrity_ok(const struct stun_msg *m, const struct auth_credential *ac);
int worker_credential(struct worker *w, const struct stun_msg *m, const struct pending_ctx *pc,
		      struct turn_credential *tc, struct auth_credential *ac);
/* A TCP connection is going away: its parked requests are not answered. */
void worker_pending_forget_conn(struct worker *w, const struct tcp_conn *c);
void worker_pending_forget_dtls(struct worker *w, const struct dtls_session *d);
void worker_pending_forget_udp(struct worker *w, const struct udp_sock *s);
/* Did the message just processed for c wait for an answer (parked)? */
bool worker_parked_conn(const struct worker *w, const struct tcp_conn *c);
/* Park a request for another reason (daemon/fleet.c): a copy is kept until
 * worker_unpark decides it (resuming it) or worker_park_cancel drops it.
 * NULL when it may not wait or too many are parked. */
struct pending_req *worker_park(struct worker *w, const struct pending_ctx *pc);
void worker_unpark(struct pending_req *p);
void worker_park_cancel(struct pending_req *p);
void worker_pending_free_all(struct worker *w);
void worker_resume(struct worker *w, const uint8_t *pkt, size_t len,
		   const struct turn_tuple *tuple, const struct client_path *path,
		   uint8_t may_park, uint64_t since_us);

/* Milliseconds and microseconds of CLOCK_MONOTONIC. */
uint64_t worker_now_ms(void);
uint64_t worker_now_us(void);

/* UDP (udp.c). */
int udp_sock_open(struct udp_sock *s, const struct turn_addr *addr, char *err, size_t errlen);
int udp_sock_attach(struct worker *w, struct udp_sock *s);
void udp_sock_close(struct udp_sock *s);
/* Output to clients on s: udp_out_slot gives the buffer for the next
 * datagram (WORKER_SLOT bytes), udp_out_push queues what was written there
 * for to->client, from to->local. Sent when the batch is full or at the end
 * of the loop turn (worker_flush_soon). */
uint8_t *udp_out_slot(struct udp_sock *s);
void udp_out_push(struct udp_sock *s, size_t len, const struct turn_tuple *to);
void udp_out_flush(struct udp_sock *s);
/* A datagram too large for a slot, sent now, after what is gathered. */
void udp_send_big(struct udp_sock *s, const uint8_t *buf, size_t len,
		  const struct turn_tuple *to);
/* May the answer to a request that did not authenticate go to tuple's
 * client over UDP now? false when its source is over unauth-rate (the
 * answer is then counted and not sent): answers to unauthenticated
 * requests are the reflection a spoofed source could aim at a victim. */
bool udp_unauth_answer_ok(struct worker *w, const struct turn_tuple *tuple, uint64_t now_ms);

/* Make the worker send what it gathered once the events already due in
 * this loop turn have run. */
void worker_flush_soon(struct worker *w);
/* relay.c: send the datagrams gathered for peers; close the spare relay
 * sockets. */
void relay_out_flush(struct worker *w);
void relay_spares_free(struct worker *w);

/* TCP (tcp.c). */
int tcp_listener_open(struct tcp_listener *l, const struct turn_addr *addr, char *err,
		      size_t errlen);
int tcp_listener_attach(struct worker *w, struct tcp_listener *l);
void tcp_listener_close(struct tcp_listener *l);
void tcp_conns_close_all(struct worker *w);
/* Queue bytes to a client; dropped (and counted) when it is not reading. */
void tcp_conn_send(struct tcp_conn *c, const uint8_t *buf, size_t len);
/* RFC 6062 data connections: once the ConnectionBind's answer is queued,
 * c pipes raw bytes to and from peer_fd (taken over), adding them up in
 * piped[0] (to the peer) and piped[1] (to the client); closing a pipe
 * whose allocation is gone. */
void tcp_conn_set_pipe(struct tcp_conn *c, uint32_t id, int peer_fd, _Atomic uint64_t *piped);
void tcp_conn_close_pipe(struct tcp_conn *c);
/* max-bps for every pipe of this worker's, now and from now on. */
void tcp_pipes_set_max_bps(struct worker *w, uint64_t bps);
/* A relay of an allocation sends through c (relay.c): while one does, c
 * is no longer held to max-allocate-timeout and preauth-buffer. */
void tcp_conn_hold(struct tcp_conn *c);
void tcp_conn_release(struct tcp_conn *c);
/* Once a second: close connections past first-message-timeout or
 * max-allocate-timeout. */
void tcp_tick(struct worker *w, uint64_t now_ms);

/* tcp_relay.c: a pipe ended (tcp.c tells); the table's news for this
 * worker, on its wake event and every tick. */
void tcp_relay_pipe_closed(struct worker *w, uint32_t id);
void tcp_relay_service(struct worker *w, uint64_t now);

#endif
