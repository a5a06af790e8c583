/*
 * TCP and TLS connections (their listeners and accept: tcp_accept.c). A
 * connection carries STUN and ChannelData frames back to back (RFC 8656
 * section 12.5); stun/channel.h tells where each frame ends.
 */
#include "net/net_worker.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/clock.h"
#include "net/conn_gate.h"
#include "io/sockaddr.h"
#include "net/tcp_preface.h"
#include "net/tls.h"
#include "stun/channel.h"
#include "stun/stun.h"
#include "util/log.h"

/* A connection that sends nothing for this long is closed. */
#define TCP_IDLE_SECONDS 300
/* A TLS handshake must be done within this. */
#define TLS_HANDSHAKE_SECONDS 10
/* Stop reading from a client that does not read its answers. */
#define TCP_OUTPUT_HIGH (256 * 1024)

/* A TCP or TLS connection: the same framing over either bufferevent; for
 * TURN its transport is TCP either way (RFC 8656 section 3). */
struct tcp_conn {
	struct bufferevent *bev;
	struct net_worker *w;
	struct turn_tuple tuple;
	bool tls;
	bool handshaking; /* TLS, until the handshake is done */
	struct evbuffer *record; /* TLS: stages one message (conn_write) */
	LIST_ENTRY(tcp_conn) link;
	/* An RFC 6062 data connection: a ConnectionBind took connection
	 * pipe_id's peer socket (pipe_fd until the answer is queued, then the
	 * bufferevent peer), and the rest is raw bytes both ways. */
	uint32_t pipe_id;
	int pipe_fd;
	struct bufferevent *peer;
	bool pipe_closing; /* one end closed: the other's output drains first */
	/* A ConnectionBind waits for its user's credential (Redis): the
	 * bytes behind it may already be the client's raw data, so nothing
	 * more is read as frames until it is answered. */
	bool bind_wait;
	/* max-bps for a pipe: one bucket for both directions (pipe_limit). */
	struct bufferevent_rate_limit_group *limit;
	/* bps-capacity: bytes piped that the server's budget has not granted
	 * yet; while any, neither end is read, and pipe_wait pays them off. */
	uint64_t debt;
	struct event *pipe_wait;
	_Atomic uint64_t *piped; /* the table's byte counts of this pipe */
	/* Limits of a connection that has no allocation (conn_gate.h): it
	 * must bring a whole STUN message within first-message-timeout of
	 * opened_ms, and an allocation within max-allocate-timeout of
	 * unheld_ms (its accept, or its last allocation's end). Its bytes
	 * extend neither. */
	uint64_t opened_ms, unheld_ms;
	unsigned holds; /* relays of allocations that send through it */
	bool first_message; /* a whole STUN message came */
};

/* Stop reading one end of a pipe while the other end has this much to
 * write; read again once it is down to half (backpressure both ways). */
#define PIPE_HIGH (256 * 1024)

static void pipe_limit(struct tcp_conn *c, uint64_t bps);

static void conn_free(struct tcp_conn *c)
{
	/* The allocation of a TCP client ends with its connection
	 * (RFC 8656 section 3.1), and with it the relay pointing here. */
	turn_server_client_closed(c->w->srv, &c->tuple);
	net_worker_path_gone(c->w, c);
	if (c->pipe_id)
		tcp_relay_pipe_closed(c->w, c->pipe_id);
	pipe_limit(c, 0);
	if (c->pipe_wait)
		event_free(c->pipe_wait);
	if (c->pipe_fd >= 0)
		close(c->pipe_fd);
	if (c->peer) {
		bufferevent_free(c->peer);
		c->w->stats.tcp_relay_pipes--;
	}
	LIST_REMOVE(c, link);
	conn_gate_leave(c->w, &c->tuple.client);
	c->w->stats.tcp_open--;
	bufferevent_free(c->bev);
	if (c->record)
		evbuffer_free(c->record);
	free(c);
}

/*
 * Queue one message. Over TLS each message leaves in a TLS record of its
 * own, as coturn sends them: some clients (coturn's uclient among them)
 * take what one SSL_read returns as one message. libevent's TLS
 * bufferevent makes one SSL_write of each chain of the output buffer, and
 * evbuffer_add_buffer appends chains whole, so a message staged alone in
 * c->record stays alone.
 */
static void conn_write(struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	if (c->record && evbuffer_add(c->record, buf, len) == 0 &&
	    evbuffer_add_buffer(bufferevent_get_output(c->bev), c->record) == 0)
		return;
	if (c->record)
		evbuffer_drain(c->record, evbuffer_get_length(c->record));
	bufferevent_write(c->bev, buf, len);
}

/* ---- RFC 6062 data connections: a pipe between c->bev and c->peer ---- */

/*
 * bps-capacity on a pipe (the server's budget, util/bw_share.h, which the
 * UDP path draws from in the core). A pipe's bytes are never dropped:
 * what was read is piped and charged, and while the budget has not
 * granted all of it (c->debt), neither end is read, so the bytes wait in
 * the kernel's buffers and TCP's flow control holds the senders back. A
 * pipe can be ahead of the budget by one read at most.
 */
#define PIPE_SLICE 1500 /* bytes drawn at once: a datagram's worth */
#define PIPE_WAIT_MS 10 /* how soon a pipe in debt asks again */

static void pipe_pay(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	uint64_t now_ms = io_now_ms();

	while (c->debt) {
		size_t n = c->debt < PIPE_SLICE ? (size_t)c->debt : PIPE_SLICE;
		enum bw_verdict v =
			w->capacity ? bw_share_take(w->capacity, &w->capacity_local, n, now_ms) : BW_FREE;
		if (v == BW_OVER)
			return;
		c->debt = v == BW_FREE ? 0 : c->debt - n;
	}
}

/* Read again the ends whose other end is not backed up (PIPE_HIGH). */
static void pipe_resume(struct tcp_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->peer)) < PIPE_HIGH)
		bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) < PIPE_HIGH)
		bufferevent_enable(c->peer, EV_READ);
}

static void pipe_on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	const struct timeval tv = { 0, PIPE_WAIT_MS * 1000 };

	(void)fd;
	(void)what;
	pipe_pay(c);
	if (c->debt)
		evtimer_add(c->pipe_wait, &tv);
	else if (!c->pipe_closing)
		pipe_resume(c);
}

static void pipe_charge(struct tcp_conn *c, size_t len)
{
	const struct timeval tv = { 0, PIPE_WAIT_MS * 1000 };

	if (!c->w->capacity || bw_share_rate(c->w->capacity) == 0) {
		c->debt = 0;
		return;
	}
	c->debt += len;
	pipe_pay(c);
	if (!c->debt)
		return;
	if (!c->pipe_wait)
		c->pipe_wait = evtimer_new(c->w->base, pipe_on_wait, c);
	if (!c->pipe_wait)
		return; /* out of memory: unthrottled rather than stalled for good */
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_disable(c->peer, EV_READ);
	if (!evtimer_pending(c->pipe_wait, NULL))
		evtimer_add(c->pipe_wait, &tv);
}

static void pipe_move(struct tcp_conn *c, struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);

	size_t len = evbuffer_get_length(in);

	c->w->stats.tcp_relay_bytes[from == c->bev ? 0 : 1] += len;
	if (c->piped)
		atomic_fetch_add_explicit(&c->piped[from == c->bev ? 0 : 1], len,
					  memory_order_relaxed);
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= PIPE_HIGH)
		bufferevent_disable(from, EV_READ);
	if (len)
		pipe_charge(c, len);
}

static struct bufferevent *pipe_other(struct tcp_conn *c, struct bufferevent *bev)
{
	return bev == c->bev ? c->peer : c->bev;
}

static void pipe_on_read(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	pipe_move(c, bev, pipe_other(c, bev));
}

/* bev's output is down to its low watermark: the other end may read
 * again, or, closing, everything is out. */
static void pipe_on_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	if (c->pipe_closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	if (!c->debt)
		bufferevent_enable(pipe_other(c, bev), EV_READ);
}

static void pipe_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;
	struct bufferevent *other = pipe_other(c, bev);

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	/* What one end sent before it closed still reaches the other. */
	if (!c->pipe_closing && (what & BEV_EVENT_EOF) &&
	    evbuffer_get_length(bufferevent_get_output(other)) > 0) {
		c->pipe_closing = true;
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		bufferevent_disable(other, EV_READ);
		bufferevent_setwatermark(other, EV_WRITE, 0, 0);
		return;
	}
	conn_free(c);
}

/*
 * max-bps on a pipe, as on the UDP path (turn/datapath.c): one token
 * bucket for both directions together, holding one second's worth. The
 * bytes wait in the kernel's buffers instead of being dropped, so TCP's
 * own flow control slows the sender down. bps 0: no limit.
 */
static void pipe_limit(struct tcp_conn *c, uint64_t bps)
{
	const struct timeval tick = { 0, 100000 }; /* refilled every 100 ms */

	if (bps == 0 || !c->peer) {
		if (!c->limit)
			return;
		/* Out of the group before it goes: a freed bufferevent may
		 * be finalized later, after the group. */
		bufferevent_remove_from_rate_limit_group(c->bev);
		if (c->peer)
			bufferevent_remove_from_rate_limit_group(c->peer);
		bufferevent_rate_limit_group_free(c->limit);
		c->limit = NULL;
		return;
	}
	if (bps > EV_RATE_LIMIT_MAX)
		bps = EV_RATE_LIMIT_MAX;
	size_t per_tick = bps >= 10 ? (size_t)(bps / 10) : 1;
	struct ev_token_bucket_cfg *cfg =
		ev_token_bucket_cfg_new(per_tick, (size_t)bps > per_tick ? (size_t)bps : per_tick,
					EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, &tick);
	if (!cfg)
		return;
	if (c->limit) {
		bufferevent_rate_limit_group_set_cfg(c->limit, cfg);
	} else {
		c->limit = bufferevent_rate_limit_group_new(c->w->base, cfg);
		if (c->limit && (bufferevent_add_to_rate_limit_group(c->bev, c->limit) < 0 ||
				 bufferevent_add_to_rate_limit_group(c->peer, c->limit) < 0))
			log_warn("tcp relay: cannot apply max-bps to a pipe");
	}
	ev_token_bucket_cfg_free(cfg);
}

void tcp_pipes_set_max_bps(struct net_worker *w, uint64_t bps)
{
	struct tcp_conn *c;

	LIST_FOREACH(c, &w->conns, link)
		if (c->peer)
			pipe_limit(c, bps);
}

static int pipe_start(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	int fd = c->pipe_fd;

	c->pipe_fd = -1;
	c->peer = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->peer) {
		close(fd);
		return -1;
	}
	w->stats.tcp_relay_pipes++;
	w->stats.tcp_relay_pipes_total++;
	/* The allocation's lifetime governs a data connection, not idleness. */
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_setwatermark(c->bev, EV_WRITE, PIPE_HIGH / 2, 0);
	bufferevent_setwatermark(c->peer, EV_WRITE, PIPE_HIGH / 2, 0);
	bufferevent_setcb(c->bev, pipe_on_read, pipe_on_write, pipe_on_event, c);
	bufferevent_setcb(c->peer, pipe_on_read, pipe_on_write, pipe_on_event, c);
	pipe_limit(c, w->pipe_bps);
	bufferevent_enable(c->peer, EV_READ | EV_WRITE);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* Bytes the client sent right behind its ConnectionBind. */
	pipe_move(c, c->bev, c->peer);
	return 0;
}

void tcp_conn_set_pipe(struct tcp_conn *c, uint32_t id, int peer_fd, _Atomic uint64_t *piped)
{
	c->pipe_id = id;
	c->pipe_fd = peer_fd;
	c->piped = piped;
}

void tcp_conn_close_pipe(struct tcp_conn *c)
{
	c->pipe_id = 0; /* the table has forgotten it already */
	c->piped = NULL;
	conn_free(c);
}

static enum conn_kind conn_kind(const struct tcp_conn *c)
{
	return c->tls ? CONN_KIND_TLS : CONN_KIND_TCP;
}

/* No allocation sends through c (and it is no data connection): it may
 * buffer only preauth-buffer bytes, a STUN request's worth. */
static bool conn_preauth(const struct tcp_conn *c)
{
	return c->holds == 0 && !c->peer && c->pipe_fd < 0;
}

/* Read no further than the frame being waited for, and before an
 * allocation never past preauth-buffer: the bound on what an
 * unauthenticated connection makes the server hold. */
static void conn_watermark(struct tcp_conn *c, size_t want)
{
	size_t high = conn_preauth(c) ? c->w->conf->preauth_buffer : 0;

	bufferevent_setwatermark(c->bev, EV_READ, want, high);
}

#define DRAIN_BAD_FRAME (-1)
#define DRAIN_PREAUTH (-2) /* a frame longer than preauth-buffer, before an allocation */

/* Handle every complete frame in the input buffer. Returns DRAIN_* (< 0)
 * when the stream must be closed. */
static int conn_drain_frames(struct tcp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct net_worker *w = c->w;
	const uint16_t bind_type = stun_msg_type(TURN_METHOD_CONNECTION_BIND, STUN_CLASS_REQUEST);

	if (c->bind_wait) {
		/* Keep what arrives for the pipe, within the pipe's bound. */
		if (evbuffer_get_length(in) >= PIPE_HIGH)
			bufferevent_disable(c->bev, EV_READ);
		return 0;
	}
	for (;;) {
		uint8_t head[4];
		size_t avail = evbuffer_get_length(in);
		size_t frame_len = 0;

		if (evbuffer_copyout(in, head, avail < 4 ? avail : 4) < 0)
			return -1;
		enum turn_frame_result r = turn_frame_length(head, avail, &frame_len);
		if (r == TURN_FRAME_INVALID)
			return DRAIN_BAD_FRAME;
		/* Refused as soon as its header tells (RFC 8656 section 12.5:
		 * ChannelData needs a channel, so an allocation, first). */
		if (r == TURN_FRAME_READY && conn_preauth(c) &&
		    frame_len > c->w->conf->preauth_buffer)
			return DRAIN_PREAUTH;
		if (r == TURN_FRAME_NEED_MORE || avail < frame_len) {
			/* Wake up only when the whole frame is there. */
			conn_watermark(c, r == TURN_FRAME_READY ? frame_len : 4);
			return 0;
		}
		if (frame_len > WORKER_SLOT * WORKER_BATCH)
			return DRAIN_BAD_FRAME;
		/* The worker's receive area is free between UDP batches and
		 * large enough for the biggest frame (64 KiB + 4). */
		uint8_t *frame = &w->rx[0][0];
		evbuffer_remove(in, frame, frame_len);
		if ((frame[0] & 0xC0) == 0) /* STUN, not ChannelData (RFC 8489 section 5) */
			c->first_message = true;
		struct net_path path = { &tcp_path_ops, c };
		enum net_msg_result rc = net_worker_message(w, frame, frame_len, &c->tuple, &path);
		if (c->pipe_fd >= 0) /* a ConnectionBind succeeded */
			return pipe_start(c);
		if (rc == NET_MSG_PARKED && frame_len >= STUN_HDR_LEN &&
		    (uint16_t)(frame[0] << 8 | frame[1]) == bind_type) {
			c->bind_wait = true; /* tcp_conn_send goes on */
			return 0;
		}
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > TCP_OUTPUT_HIGH) {
			bufferevent_disable(c->bev, EV_READ);
			return 0;
		}
	}
}

/* Handle what arrived; close c if it broke the framing or, before an
 * allocation, sent a frame longer than preauth-buffer. */
static void conn_drain_or_close(struct tcp_conn *c)
{
	int rc = conn_drain_frames(c);

	if (rc == DRAIN_PREAUTH)
		c->w->stats.conn_closed_preauth_buffer[conn_kind(c)]++;
	else if (rc < 0)
		c->w->stats.tcp_closed_bad_frame++;
	if (rc < 0)
		conn_free(c);
}

void tcp_conn_send(struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > TCP_OUTPUT_HIGH)
		c->w->stats.tcp_output_drops++;
	else
		conn_write(c, buf, len);
	/* A parked ConnectionBind answered once its credential came. */
	if (c->pipe_fd >= 0) {
		c->bind_wait = false;
		if (pipe_start(c) < 0)
			conn_free(c);
		return;
	}
	/* It failed: what the client sent behind it is read as frames. */
	if (c->bind_wait && len >= STUN_HDR_LEN &&
	    stun_msg_method((uint16_t)(buf[0] << 8 | buf[1])) == TURN_METHOD_CONNECTION_BIND) {
		c->bind_wait = false;
		bufferevent_enable(c->bev, EV_READ);
		conn_drain_or_close(c);
	}
}

static void conn_on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_drain_or_close(arg);
}

static void conn_on_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	/* Output drained: read again if we had stopped. */
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		conn_on_read(bev, c);
	}
}

/* A TLS handshake that failed or timed out, for the operator. */
static void conn_log_tls_failure(struct tcp_conn *c, short what)
{
	char a[TURN_ADDR_STRLEN], why[160];

	c->w->stats.tls_failed++;
	log_info("tls: handshake with %s failed: %s",
		 turn_addr_format(&c->tuple.client, true, a, sizeof(a)),
		 what & BEV_EVENT_TIMEOUT ? "timed out"
					  : tls_bufferevent_error(c->bev, why, sizeof(why)));
}

static void conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		struct timeval idle = { TCP_IDLE_SECONDS, 0 };
		c->handshaking = false;
		bufferevent_set_timeouts(bev, &idle, NULL);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (c->handshaking)
			conn_log_tls_failure(c, what);
		conn_free(c);
	}
}

/* c's bufferevent on fd, plain or TLS. 0, or -1 with fd closed. */
static int conn_bufferevent(struct tcp_conn *c, int fd)
{
	struct net_worker *w = c->w;

	if (!c->tls) {
		c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			close(fd);
		return c->bev ? 0 : -1;
	}
	c->bev = tls_bufferevent_new(w, fd); /* closes fd on failure */
	c->record = evbuffer_new();
	w->stats.tls_accepted++;
	if (!c->bev || !c->record) {
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->record)
			evbuffer_free(c->record);
		return -1;
	}
	/* A chain is never cut in two SSL_writes (see conn_write). */
	bufferevent_set_max_single_write(c->bev, 2 * TCP_OUTPUT_HIGH);
	return 0;
}

int tcp_conn_open(struct net_worker *w, int fd, const struct turn_tuple *tuple, bool tls,
		  uint64_t opened_ms)
{
	struct timeval idle = { tls ? TLS_HANDSHAKE_SECONDS : TCP_IDLE_SECONDS, 0 };
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		conn_gate_leave(w, &tuple->client);
		close(fd);
		return -1;
	}
	c->w = w;
	c->pipe_fd = -1;
	c->tuple = *tuple;
	c->opened_ms = opened_ms;
	c->unheld_ms = io_now_ms();
	c->tls = c->handshaking = tls;
	if (conn_bufferevent(c, fd) < 0) {
		conn_gate_leave(w, &tuple->client);
		free(c);
		return -1;
	}
	LIST_INSERT_HEAD(&w->conns, c, link);
	w->stats.tcp_accepted++;
	w->stats.tcp_open++;
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	conn_watermark(c, 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

/* ---- The path to a TCP or TLS client (net/path.h) ---- */

/* The worker's transmit area: free outside the UDP batches, and the
 * message is copied into the connection's output at once. */
static uint8_t *tcp_path_slot(void *t)
{
	struct tcp_conn *c = t;

	return &c->w->tx[0][0];
}

static void tcp_path_send(void *t, const uint8_t *buf, size_t len, const struct turn_tuple *to)
{
	(void)to;
	tcp_conn_send(t, buf, len);
}

static void tcp_path_push(void *t, size_t len, const struct turn_tuple *to)
{
	tcp_path_send(t, tcp_path_slot(t), len, to);
}

/* One STUN message or ChannelData (RFC 8656 section 12.5). */
static size_t tcp_path_cap(const void *t, const struct turn_tuple *to)
{
	(void)t;
	(void)to;
	return STUN_HDR_LEN + 65535;
}

/* A relay of an allocation sends through c: while one does, c is no
 * longer held to max-allocate-timeout and preauth-buffer. */
static void tcp_path_hold(void *t)
{
	struct tcp_conn *c = t;

	c->holds++;
}

static void tcp_path_release(void *t, bool stopping)
{
	struct tcp_conn *c = t;

	(void)stopping; /* connections close before the relays */
	if (c->holds > 0 && --c->holds == 0)
		c->unheld_ms = io_now_ms(); /* max-allocate-timeout starts again */
}

static bool tcp_path_retired(const void *t)
{
	(void)t;
	return false; /* a removed TCP listener closes; its connections stay */
}

static bool tcp_path_tls(const void *t)
{
	return ((const struct tcp_conn *)t)->tls;
}

const struct net_path_ops tcp_path_ops = {
	.kind = NET_PATH_TCP,
	.slot_len = WORKER_BATCH * WORKER_SLOT, /* the whole transmit area */
	.slot = tcp_path_slot,
	.push = tcp_path_push,
	.send = tcp_path_send,
	.cap = tcp_path_cap,
	.hold = tcp_path_hold,
	.release = tcp_path_release,
	.retired = tcp_path_retired,
	.tls = tcp_path_tls,
};

/* Why c is past its deadline at now (a conn_kind counter), or NULL. */
static uint64_t *conn_overdue(struct tcp_conn *c, uint64_t now)
{
	const struct conf *conf = c->w->conf;
	struct net_stats *s = &c->w->stats;

	/* Data connections are the allocation's (RFC 6062 section 5.4). */
	if (c->peer || c->pipe_fd >= 0 || c->bind_wait)
		return NULL;
	if (!c->first_message && now - c->opened_ms >= 1000ull * conf->first_message_timeout_s)
		return &s->conn_closed_first_message[conn_kind(c)];
	if (c->holds == 0 && now - c->unheld_ms >= 1000ull * conf->max_allocate_timeout_s)
		return &s->conn_closed_allocate_timeout[conn_kind(c)];
	return NULL;
}

void tcp_tick(struct net_worker *w, uint64_t now_ms)
{
	LIST_HEAD(, tcp_conn) overdue = LIST_HEAD_INITIALIZER(overdue);
	struct tcp_conn *c, *next;

	/* Taken out of w->conns first, then freed one at a time from the
	 * head: freeing one (its allocation, its pipes) never leaves this
	 * walk on a freed neighbour. */
	for (c = LIST_FIRST(&w->conns); c; c = next) {
		next = LIST_NEXT(c, link);
		uint64_t *why = conn_overdue(c, now_ms);
		if (!why)
			continue;
		(*why)++;
		LIST_REMOVE(c, link);
		LIST_INSERT_HEAD(&overdue, c, link);
	}
	while ((c = LIST_FIRST(&overdue))) {
		if (c->handshaking)
			c->w->stats.tls_failed++; /* the handshake never ended */
		conn_free(c);
	}
}

void tcp_conns_close_all(struct net_worker *w)
{
	tcp_prefaces_close_all(w);
	while (!LIST_EMPTY(&w->conns))
		conn_free(LIST_FIRST(&w->conns));
}
