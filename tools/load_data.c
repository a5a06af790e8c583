/*
 * turnload's data path. Each session's frame (a ChannelData message, a Send
 * indication, or a bare payload) is built once; a packet is that frame with
 * its sequence number and send time written in, sent in batches with
 * sendmmsg over UDP (the stamp is an iovec of its own, so the frame itself
 * is never copied) or appended to the session's buffer over TCP.
 *
 * What comes back is cut into datagrams or TCP frames (RFC 8656 section
 * 12.5: ChannelData padded to 4 on a stream), unwrapped, and its payload
 * header read through the bounds-checked reader.
 *
 * The payload: magic (4), session id (4), sequence number (8), send time on
 * CLOCK_MONOTONIC in ns (8), all big-endian, then filler.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/msg.h"
#include "util/rbuf.h"

/* Header room around the payload in a frame: a Send indication with an
 * IPv6 XOR-PEER-ADDRESS is 20 + 24 + 4 bytes, then up to 3 of padding. */
#define DATA_FRAME_EXTRA 64
/* Bytes of a TCP output buffer kept free for requests. */
#define DATA_CTRL_RESERVE 2048
/* recvmmsg batches taken from one socket before the others get a turn. */
#define DATA_RX_ROUNDS 16

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static uint64_t get_u64(struct rbuf *rb)
{
	uint64_t hi = rbuf_u32(rb);
	return hi << 32 | rbuf_u32(rb);
}

static size_t frame_max(const struct load_opts *o)
{
	return o->payload_len + DATA_FRAME_EXTRA;
}

struct load_stream *load_stream_new(const struct load_opts *o)
{
	struct load_stream *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	/* In: responses and whole data frames. Out: a batch of frames and
	 * room for a request beside it. */
	t->in_cap = 4096 + frame_max(o);
	t->out_cap = frame_max(o) * o->batch + DATA_CTRL_RESERVE;
	t->in = malloc(t->in_cap);
	t->out = malloc(t->out_cap);
	if (!t->in || !t->out) {
		load_stream_free(t);
		return NULL;
	}
	return t;
}

void load_stream_free(struct load_stream *t)
{
	if (!t)
		return;
	free(t->in);
	free(t->out);
	free(t);
}

/* Magic, session id, a zero stamp, then letters. */
static void write_payload(uint8_t *p, size_t len, uint32_t id)
{
	put_u32(p, LOAD_MAGIC);
	put_u32(p + 4, id);
	memset(p + LOAD_STAMP_OFF, 0, LOAD_STAMP_LEN);
	for (size_t i = LOAD_HDR_LEN; i < len; i++)
		p[i] = (uint8_t)('a' + i % 26);
}

/* A Send indication towards s->peer (RFC 8656 section 10.1); the
 * transaction ID is drawn once, servers do not look at it. Returns the
 * frame length and sets *payload_off, or -1. */
static long build_send(struct load_run *r, const struct load_session *s, const uint8_t *payload,
		       uint8_t *frame, size_t cap, size_t *payload_off)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	uint64_t rnd = r->rng ^ ((uint64_t)s->id << 32);
	size_t len = r->o->payload_len;

	memcpy(tid, &rnd, sizeof(rnd));
	memcpy(tid + 8, &s->id, sizeof(s->id));
	stun_build_begin(&b, frame, cap, TURN_METHOD_SEND, STUN_CLASS_INDICATION, tid);
	stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &s->peer);
	stun_build_attr(&b, TURN_ATTR_DATA, payload, len);
	long n = stun_build_end(&b);
	/* DATA is the last attribute: its value ends where the padding
	 * starts. */
	if (n >= 0)
		*payload_off = (size_t)n - ((len + 3) & ~(size_t)3);
	return n;
}

int load_data_prepare(struct load_run *r, struct load_session *s)
{
	const struct load_opts *o = r->o;
	size_t len = o->payload_len, cap = frame_max(o), off = 0;
	uint8_t *payload = malloc(len), *frame = malloc(cap);
	long n = -1;

	if (payload && frame) {
		write_payload(payload, len, s->id);
		if (o->mode == LOAD_MODE_RAW) {
			memcpy(frame, payload, len);
			n = (long)len;
		} else if (o->indications) {
			n = build_send(r, s, payload, frame, cap, &off);
		} else {
			n = turn_chandata_build(frame, cap, LOAD_CHANNEL, payload, len, o->tcp);
			off = TURN_CHANDATA_HDR_LEN;
		}
	}
	free(payload);
	if (n < 0) {
		free(frame);
		return -1;
	}
	free(s->frame);
	s->frame = frame;
	s->frame_len = (uint32_t)n;
	s->stamp_off = (uint32_t)(off + LOAD_STAMP_OFF);
	return 0;
}

/* Write what waits in the TCP buffer. Returns 0 (the rest waits for
 * EPOLLOUT), or -1 when the connection is gone. */
static int stream_flush(struct load_run *r, struct load_session *s)
{
	struct load_stream *t = s->tcp;

	while (t->out_off < t->out_len) {
		ssize_t n = send(s->fd, t->out + t->out_off, t->out_len - t->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			t->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			load_run_want_out(r, s, true);
			return 0;
		} else {
			return -1;
		}
	}
	t->out_off = t->out_len = 0;
	if (s->want_out)
		load_run_want_out(r, s, false);
	return 0;
}

static void stream_compact(struct load_stream *t)
{
	if (t->out_off == 0)
		return;
	memmove(t->out, t->out + t->out_off, t->out_len - t->out_off);
	t->out_len -= t->out_off;
	t->out_off = 0;
}

/* The connection failed: the loop deals with it once we are off the
 * stack (load_session_broken). */
static void mark_broken(struct load_run *r, struct load_session *s)
{
	s->broken = true;
	load_run_defer(r, s);
}

static unsigned send_udp(struct load_run *r, struct load_session *s, unsigned k, uint64_t now)
{
	struct load_batch *b = &r->b;
	uint8_t *tail = s->frame + s->stamp_off + LOAD_STAMP_LEN;
	size_t tail_len = s->frame_len - s->stamp_off - LOAD_STAMP_LEN;

	for (unsigned i = 0; i < k; i++) {
		struct iovec *v = &b->tx_iov[3 * i];
		put_u64(b->stamps[i], s->next_seq + i);
		put_u64(b->stamps[i] + 8, now);
		v[0] = (struct iovec){ s->frame, s->stamp_off };
		v[1] = (struct iovec){ b->stamps[i], LOAD_STAMP_LEN };
		v[2] = (struct iovec){ tail, tail_len };
		b->tx[i].msg_hdr = (struct msghdr){ .msg_iov = v, .msg_iovlen = 3 };
	}
	/* A pending ICMP error fails the first call: try once more. A full
	 * socket buffer sends nothing now; the caller comes back. */
	for (int tries = 0; tries < 2; tries++) {
		int n = sendmmsg(s->fd, b->tx, k, MSG_DONTWAIT);
		if (n >= 0)
			return (unsigned)n;
		if (errno != EINTR && errno != ECONNREFUSED)
			return 0;
	}
	return 0;
}

static unsigned send_tcp(struct load_run *r, struct load_session *s, unsigned k, uint64_t now)
{
	struct load_stream *t = s->tcp;
	unsigned n = 0;

	stream_compact(t);
	while (n < k && t->out_cap - t->out_len >= s->frame_len + DATA_CTRL_RESERVE) {
		uint8_t *p = t->out + t->out_len;
		memcpy(p, s->frame, s->frame_len);
		put_u64(p + s->stamp_off, s->next_seq + n);
		put_u64(p + s->stamp_off + 8, now);
		t->out_len += s->frame_len;
		n++;
	}
	if (n > 0 && stream_flush(r, s) < 0)
		mark_broken(r, s);
	return n;
}

unsigned load_data_send(struct load_run *r, struct load_session *s, unsigned k, uint64_t now)
{
	if (s->fd < 0 || s->broken || !s->frame)
		return 0;
	if (k > LOAD_BATCH_MAX)
		k = LOAD_BATCH_MAX;
	unsigned n = s->tcp ? send_tcp(r, s, k, now) : send_udp(r, s, k, now);
	if (n == 0)
		return 0;
	/* The flood window was empty: its stall clock starts now. */
	if (s->next_seq == s->acked)
		s->progress_ns = now;
	s->next_seq += n;
	r->st.tot.sent += n;
	r->last_send_ns = now;
	r->quota_left = r->quota_left > n ? r->quota_left - n : 0;
	return n;
}

void load_data_send_ctrl(struct load_run *r, struct load_session *s, const uint8_t *buf,
			 size_t len)
{
	if (s->fd < 0 || s->broken)
		return;
	if (!s->tcp) {
		/* Lost or refused: the retransmission timer covers it. */
		(void)send(s->fd, buf, len, MSG_DONTWAIT);
		return;
	}
	struct load_stream *t = s->tcp;
	stream_compact(t);
	if (t->out_cap - t->out_len < len)
		return; /* the transaction times out */
	memcpy(t->out + t->out_len, buf, len);
	t->out_len += len;
	if (s->state != LOAD_S_CONNECTING && stream_flush(r, s) < 0)
		mark_broken(r, s);
}

void load_data_on_payload(struct load_run *r, const uint8_t *p, size_t len, uint64_t now)
{
	struct rbuf rb;

	rbuf_init(&rb, p, len);
	uint32_t magic = rbuf_u32(&rb), sid = rbuf_u32(&rb);
	uint64_t seq = get_u64(&rb), sent_ns = get_u64(&rb);
	if (rb.err || magic != LOAD_MAGIC || sid >= r->nsess || len != r->o->payload_len ||
	    seq >= r->sess[sid].next_seq) {
		r->st.tot.bad++;
		return;
	}
	struct load_session *from = &r->sess[sid];
	enum load_rx_result res = load_rx_mark(&from->rx, seq);
	if (res == LOAD_RX_DUPLICATE) {
		r->st.tot.duplicates++;
		return;
	}
	r->st.tot.received++;
	if (res == LOAD_RX_REORDERED)
		r->st.tot.reordered++;
	if (!from->echoed) {
		from->echoed = true;
		r->n_echoed++;
	}
	uint64_t lat = now > sent_ns ? now - sent_ns : 0;
	load_hist_add(&r->st.lat, lat);
	load_hist_add(&r->st.lat_iv, lat);
	/* Everything sent before this one is back or lost: it leaves the
	 * flood window either way. */
	if (seq >= from->acked)
		from->acked = seq + 1;
	from->progress_ns = now;
	r->last_recv_ns = now;
}

/* One datagram or TCP frame from the server (or, raw, from the echo). */
static void on_datagram(struct load_run *r, struct load_session *s, const uint8_t *buf, size_t len,
			uint64_t now)
{
	struct turn_chandata cd;

	if (r->o->mode == LOAD_MODE_RAW) {
		load_data_on_payload(r, buf, len, now);
	} else if (turn_chandata_is_chandata(buf, len)) {
		if (turn_chandata_parse_upto(buf, len, TURN_CHANNEL_MAX_RFC5766, &cd) == 0)
			load_data_on_payload(r, cd.data, cd.len, now);
		else
			r->st.tot.bad++;
	} else if (stun_msg_is_stun(buf, len)) {
		load_session_on_stun(r, s, buf, len, now);
	} else {
		r->st.tot.bad++;
	}
}

static void recv_udp(struct load_run *r, struct load_session *s)
{
	struct load_batch *b = &r->b;

	for (int round = 0; round < DATA_RX_ROUNDS && !s->reopen && !s->close; round++) {
		int n = recvmmsg(s->fd, b->rx, LOAD_BATCH_MAX, MSG_DONTWAIT, NULL);
		if (n < 0 && (errno == EINTR || errno == ECONNREFUSED))
			continue; /* an ICMP error reported, or a signal */
		if (n <= 0)
			return;
		uint64_t now = load_now_ns();
		for (int i = 0; i < n; i++) {
			if (b->rx[i].msg_hdr.msg_flags & MSG_TRUNC)
				r->st.tot.bad++;
			else
				on_datagram(r, s, b->rx_iov[i].iov_base, b->rx[i].msg_len, now);
		}
		if (n < LOAD_BATCH_MAX)
			return;
	}
}

/* Cut whole frames off the front of the input and hand them on. Returns
 * -1 for a stream that cannot be framed. */
static int stream_frames(struct load_run *r, struct load_session *s, uint64_t now)
{
	struct load_stream *t = s->tcp;
	size_t off = 0, flen;

	while (!s->reopen && !s->close) {
		int ready = client_frame_next(t->in + off, t->in_len - off, t->in_cap, &flen);
		if (ready < 0)
			return -1;
		if (ready == 0)
			break;
		on_datagram(r, s, t->in + off, flen, now);
		off += flen;
	}
	memmove(t->in, t->in + off, t->in_len - off);
	t->in_len -= off;
	return 0;
}

static void recv_tcp(struct load_run *r, struct load_session *s)
{
	struct load_stream *t = s->tcp;

	for (int round = 0; round < DATA_RX_ROUNDS && !s->reopen && !s->close; round++) {
		size_t room = t->in_cap - t->in_len;
		ssize_t n = recv(s->fd, t->in + t->in_len, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			mark_broken(r, s);
			return;
		}
		t->in_len += (size_t)n;
		if (stream_frames(r, s, load_now_ns()) < 0) {
			mark_broken(r, s);
			return;
		}
		if ((size_t)n < room)
			return;
	}
}

void load_data_on_readable(struct load_run *r, struct load_session *s)
{
	if (s->fd < 0 || s->broken || s->state == LOAD_S_CONNECTING)
		return;
	if (s->tcp)
		recv_tcp(r, s);
	else
		recv_udp(r, s);
}

void load_data_on_writable(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (s->fd < 0 || s->broken)
		return;
	if (s->state == LOAD_S_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err == 0 && stream_flush(r, s) < 0)
			err = EPIPE;
		load_session_connected(r, s, err, now);
		return;
	}
	if (s->tcp && stream_flush(r, s) < 0)
		mark_broken(r, s);
}
