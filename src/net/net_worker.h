/*
 * What one worker thread's transports share: its event base, its listening
 * sockets and client connections, its relay output queue, its receive and
 * transmit buffers and its transport counters. The daemon's worker
 * (daemon/worker.h) holds one; transports reach the daemon only through
 * the hooks in struct net_up and answer clients through struct net_path
 * (net/path.h), so nothing here knows the daemon.
 */
#ifndef TURND_NET_NET_WORKER_H
#define TURND_NET_NET_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "io/flush.h"
#include "net/path.h"
#include "util/addr.h"
#include "util/bw_share.h"

struct event;
struct event_base;
struct evconnlistener;
struct tcp_conn;
struct tcp_preface;
struct dtls_listener;
struct dtls_session;
struct tls_shared;
struct conn_gate;
struct relay_shared;
struct turn_relay;
struct turn_server;
struct listen_retire;

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

struct udp_out;

struct udp_sock {
	int fd;
	struct turn_addr local; /* bound address (port filled) */
	bool wildcard;          /* bound to 0.0.0.0 or ::: use packet info */
	struct event *ev;
	struct net_worker *w;
	/* Datagrams to clients waiting for one sendmmsg, and their buffers:
	 * replies and relayed data from every event of one loop turn. */
	struct udp_out *out;
	uint8_t (*tx)[WORKER_SLOT];
	struct dtls_listener *dtls; /* set: a DTLS socket (dtls.c) */
	bool listener; /* one of a 'listener' entry's: a reload may retire it */
	/* Set: a reload removed it (net/listen.c). It serves the allocations
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
	struct net_worker *w;
	/* CONF_LISTEN_TCP, CONF_LISTEN_TLS or both (told apart by the first
	 * byte), and CONF_LISTEN_PROXY when a PROXY header comes first
	 * (tcp_preface.c). */
	unsigned kinds;
	/* A socket of listening-port or tls-listening-port: option
	 * proxy-protocol adds CONF_LISTEN_PROXY, as it is at each accept. */
	bool main_port;
	bool listener; /* one of a 'listener' entry's: a reload may close it */
};

/* The transports' counters (the daemon's are in daemon/worker.h). */
struct net_stats {
	uint64_t udp_in, udp_out, udp_truncated, udp_send_errors;
	uint64_t tcp_accepted, tcp_closed_bad_frame, tcp_open, tcp_output_drops;
	/* Client connections by enum conn_kind (net/conn_gate.h: TCP, TLS,
	 * DTLS): refused for max-connections-per-ip, for max-connections;
	 * closed at first-message-timeout, at max-allocate-timeout, for a
	 * frame longer than preauth-buffer before an allocation. */
	uint64_t conn_refused_per_ip[3], conn_refused_total[3];
	uint64_t conn_closed_first_message[3], conn_closed_allocate_timeout[3];
	uint64_t conn_closed_preauth_buffer[3];
	uint64_t relays_open, relay_sent, relay_send_errors;
	/* Too large for the way on (issue 13 item 9): to a peer, a datagram
	 * over the largest UDP payload; to a client, over what its transport
	 * carries (the core counts those). */
	uint64_t relay_oversize;
	uint64_t tls_accepted, tls_failed; /* TLS handshakes begun, failed */
	uint64_t dtls_hello_verify, dtls_sessions, dtls_open, dtls_refused, dtls_failed;
	/* RFC 6062: data connections piped now, ever; Connects that failed. */
	uint64_t tcp_relay_pipes, tcp_relay_pipes_total, tcp_relay_connect_failed;
	uint64_t tcp_relay_bytes[2]; /* piped: [0] to peers, [1] to clients */
	uint64_t tcp_relay_refused_fds; /* peers' connections refused: out of descriptors */
	uint64_t listen_retired; /* UDP and DTLS sockets retired, still serving (listen.c) */
	/* Before the first frame (tcp_preface.c): PROXY headers taken, with
	 * a client address or LOCAL; connections closed for a source not in
	 * trusted-proxy, a missing or broken header, or none in time; ACME
	 * challenges redirected, other HTTP requests closed. */
	uint64_t proxy_client, proxy_local;
	uint64_t proxy_untrusted, proxy_malformed, proxy_timeout;
	uint64_t acme_redirected, acme_refused;
};

/* sum += s, counter by counter: every member is a uint64_t or an array
 * of them. */
static inline void net_stats_add(struct net_stats *sum, const struct net_stats *s)
{
	uint64_t *d = (uint64_t *)sum;
	const uint64_t *v = (const uint64_t *)s;

	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		d[i] += v[i];
}

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

/* What a transport did with a message it handed up. */
enum net_msg_result {
	NET_MSG_DONE,   /* answered, or nothing to answer */
	NET_MSG_PARKED, /* waiting (for Redis): answered later through its path */
};

/* The daemon, as the transports see it (ctx = net_worker.up_ctx). */
struct net_up {
	/* A message (STUN or ChannelData) arrived from tuple on path. Any
	 * answer goes back through the path. */
	enum net_msg_result (*message)(void *ctx, const uint8_t *pkt, size_t len,
				       const struct turn_tuple *tuple, const struct net_path *path);
	/* The transport object t (a connection, a session, a socket) goes
	 * away: what waits to answer through it is not answered. */
	void (*path_gone)(void *ctx, const void *t);
};

struct net_worker {
	unsigned id;
	struct event_base *base;
	const struct conf *conf;        /* the configuration in force for this worker */
	struct turn_server *srv;        /* the core peer data and closes go to */
	const struct net_up *up;
	void *up_ctx;
	struct relay_shared *relay_shared; /* shared by every worker */
	struct tls_shared *tls;            /* TLS and DTLS contexts, shared */
	struct conn_gate *conn_gate;       /* client connections, counted over every worker */
	struct event *tcp_wake_ev; /* another worker has TCP relay news (tcp_relay.c) */
	int reserve_fd; /* /dev/null, given up to refuse a peer's connection when out of fds */
	uint64_t pipe_bps; /* max-bps of RFC 6062 pipes, as the core's */
	/* bps-capacity: the server's budget, shared with every worker's core
	 * (NULL: none), and what this worker's pipes drew from it (tcp.c). */
	struct bw_share *capacity;
	struct bw_local capacity_local;
	/* Listening sockets, each allocated on its own: relays and parked
	 * requests point to them, and a reload adds and removes some
	 * (net/listen.c). */
	struct udp_sock **udp;
	size_t n_udp, cap_udp;
	struct tcp_listener **tcp;
	size_t n_tcp, cap_tcp;
	LIST_HEAD(, tcp_conn) conns;
	/* Accepted connections whose first bytes are still being read: a
	 * PROXY header, TLS or not, an HTTP request (tcp_preface.c). */
	LIST_HEAD(, tcp_preface) prefaces;
	unsigned n_prefaces;
	/* Log lines about refused connections in this second (tcp_preface.c). */
	uint64_t preface_log_second;
	unsigned preface_log_lines;
	struct net_stats stats;
	/* Output gathered during one loop turn (udp_sock.out, relay_out),
	 * sent at its end. */
	struct io_flush flush;
	struct relay_out *relay_out;
	/* Relay sockets kept open for the next Allocate (relay.c). */
	struct turn_relay *spares[RELAY_SPARES];
	unsigned n_spares;
	bool stopping; /* the loop has ended: relays are closed, not kept */
	/* Per-worker buffers, reused for every batch (STYLE.md rule 8): rx and
	 * tx are WORKER_BATCH slots each. Each is a block of its own
	 * (net_loop_init), so that the fields above, and the daemon's after
	 * them in struct worker, share a few cache lines and one page instead
	 * of lying 400 KiB apart. */
	uint8_t (*rx)[WORKER_SLOT];
	uint8_t (*tx)[WORKER_SLOT];
	struct worker_big *big;
};

/* Make the worker send what it gathered once the events already due in
 * this loop turn have run. */
static inline void net_worker_flush_soon(struct net_worker *w)
{
	io_flush_soon(&w->flush);
}

/* Datagram i of a batch read: its slot, then its tail (struct worker_big). */
static inline void net_worker_rx_iov(struct net_worker *w, int i, struct iovec iov[2])
{
	iov[0] = (struct iovec){ w->rx[i], WORKER_SLOT };
	iov[1] = (struct iovec){ w->big->tail[i], sizeof(w->big->tail[i]) };
}

/* Datagram i of len bytes in one piece: in its slot, or joined with its
 * tail in big->whole (valid until the next datagram is joined). */
static inline const uint8_t *net_worker_rx_join(struct net_worker *w, int i, size_t len)
{
	if (len <= WORKER_SLOT)
		return w->rx[i];
	memcpy(w->big->whole, w->rx[i], WORKER_SLOT);
	memcpy(w->big->whole + WORKER_SLOT, w->big->tail[i], len - WORKER_SLOT);
	return w->big->whole;
}

/* A message arrived on path: hand it to the daemon. */
static inline enum net_msg_result net_worker_message(struct net_worker *w, const uint8_t *pkt,
						     size_t len, const struct turn_tuple *tuple,
						     const struct net_path *path)
{
	return w->up->message(w->up_ctx, pkt, len, tuple, path);
}

static inline void net_worker_path_gone(struct net_worker *w, const void *t)
{
	w->up->path_gone(w->up_ctx, t);
}

/* UDP (udp.c). */
extern const struct net_path_ops udp_path_ops;
int udp_sock_open(struct udp_sock *s, const struct turn_addr *addr, char *err, size_t errlen);
int udp_sock_attach(struct net_worker *w, struct udp_sock *s);
void udp_sock_close(struct udp_sock *s);
/* Output to clients on s: udp_out_slot gives the buffer for the next
 * datagram (WORKER_SLOT bytes), udp_out_push queues what was written there
 * for to->client, from to->local. Sent when the batch is full or at the end
 * of the loop turn (net_worker_flush_soon). */
uint8_t *udp_out_slot(struct udp_sock *s);
void udp_out_push(struct udp_sock *s, size_t len, const struct turn_tuple *to);
void udp_out_flush(struct udp_sock *s);
/* A datagram too large for a slot, sent now, after what is gathered. */
void udp_send_big(struct udp_sock *s, const uint8_t *buf, size_t len,
		  const struct turn_tuple *to);

/* relay.c: send the datagrams gathered for peers; close the spare relay
 * sockets. */
void relay_out_flush(struct net_worker *w);
void relay_spares_free(struct net_worker *w);

/* TCP (tcp.c). */
extern const struct net_path_ops tcp_path_ops;
int tcp_listener_open(struct tcp_listener *l, const struct turn_addr *addr, char *err,
		      size_t errlen);
int tcp_listener_attach(struct net_worker *w, struct tcp_listener *l);
void tcp_listener_close(struct tcp_listener *l);
void tcp_conns_close_all(struct net_worker *w);
/* Queue bytes to a client; dropped (and counted) when it is not reading. */
void tcp_conn_send(struct tcp_conn *c, const uint8_t *buf, size_t len);
/* RFC 6062 data connections: once the ConnectionBind's answer is queued,
 * c pipes raw bytes to and from peer_fd (taken over), adding them up in
 * piped[0] (to the peer) and piped[1] (to the client); closing a pipe
 * whose allocation is gone. */
void tcp_conn_set_pipe(struct tcp_conn *c, uint32_t id, int peer_fd, _Atomic uint64_t *piped);
void tcp_conn_close_pipe(struct tcp_conn *c);
/* max-bps for every pipe of this worker's, now and from now on. */
void tcp_pipes_set_max_bps(struct net_worker *w, uint64_t bps);
/* Once a second: close connections past first-message-timeout or
 * max-allocate-timeout. */
void tcp_tick(struct net_worker *w, uint64_t now_ms);

/* tcp_relay.c: a pipe ended (tcp.c tells); the table's news for this
 * worker, on its wake event and every tick. */
void tcp_relay_pipe_closed(struct net_worker *w, uint32_t id);
void tcp_relay_service(struct net_worker *w, uint64_t now);

#endif
