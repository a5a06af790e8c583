/*
 * UDP listening sockets: SO_REUSEPORT so every worker binds its own socket
 * on the same address and the kernel spreads clients across workers by
 * their 4-tuple (a client always lands on the same worker). Reads and
 * writes are batched with recvmmsg/sendmmsg into per-worker buffers.
 */
#include "net/net_worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/sockaddr.h"
#include "net/tls.h"
#include "io/udp_send.h"
#include "stun/stun.h"

/* Socket buffers of a listening UDP socket. */
#define UDP_LISTEN_BUF (4 * 1024 * 1024)

/* Datagrams one read event may take before yielding to other sockets. */
#define UDP_READ_BUDGET (WORKER_BATCH * 8)

static int set_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

int udp_sock_open(struct udp_sock *s, const struct turn_addr *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_from_turn(&ss, addr);
	char text[TURN_ADDR_STRLEN];
	int fd;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6 && set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)
		goto fail;
	s->wildcard = turn_addr_is_any(addr);
	/* On a wildcard socket, learn the address each datagram was sent to
	 * and answer from it, or a multi-homed host replies from the wrong
	 * address and the client drops the answer. */
	if (s->wildcard) {
		int rc = ss.ss_family == AF_INET6 ? set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
						 : set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1);
		if (rc < 0)
			goto fail;
	}
	/* Every client of this worker arrives through this one socket: room
	 * for bursts while the worker is busy (the kernel caps it at
	 * net.core.rmem_max / wmem_max). */
	set_opt(fd, SOL_SOCKET, SO_RCVBUF, UDP_LISTEN_BUF);
	set_opt(fd, SOL_SOCKET, SO_SNDBUF, UDP_LISTEN_BUF);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	s->out = calloc(1, sizeof(*s->out));
	s->tx = calloc(WORKER_BATCH, sizeof(*s->tx));
	if (!s->out || !s->tx) {
		errno = ENOMEM;
		goto fail;
	}
	s->fd = fd;
	s->local = *addr;
	return 0;
fail:
	snprintf(err, errlen, "UDP %s: %s", turn_addr_format(addr, true, text, sizeof(text)),
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	free(s->out);
	free(s->tx);
	s->out = NULL;
	s->tx = NULL;
	return -1;
}

void udp_sock_close(struct udp_sock *s)
{
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	dtls_listener_free(s); /* before the output batch it writes into */
	free(s->out);
	free(s->tx);
	s->out = NULL;
	s->tx = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

struct udp_batch {
	struct mmsghdr msgs[WORKER_BATCH];
	struct iovec iov[WORKER_BATCH][2]; /* slot and tail (net_worker_rx_iov) */
	struct sockaddr_storage peers[WORKER_BATCH];
	union pktinfo_cmsg ctl[WORKER_BATCH];
};

/* The local address a datagram was sent to, from IP_PKTINFO. */
static void local_from_cmsg(const struct udp_sock *s, struct msghdr *mh, struct turn_addr *local)
{
	*local = s->local;
	if (!s->wildcard)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(local->ip, &pi.ipi_addr, 4);
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(local->ip, &pi.ipi6_addr, 16);
		}
	}
}

/* Set the source address of a reply on a wildcard socket. */
static socklen_t source_cmsg(const struct turn_addr *local, union pktinfo_cmsg *ctl)
{
	struct cmsghdr *c = &ctl->align;

	memset(ctl, 0, sizeof(*ctl));
	if (local->family == TURN_AF_INET) {
		struct in_pktinfo pi = { 0 };
		/* ipi_spec_dst is the source address on sendmsg (ip(7)). */
		memcpy(&pi.ipi_spec_dst, local->ip, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	struct in6_pktinfo pi6 = { 0 };
	memcpy(&pi6.ipi6_addr, local->ip, 16);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
	return CMSG_SPACE(sizeof(pi6));
}

static int udp_recv_batch(struct udp_sock *s, struct udp_batch *in)
{
	struct net_worker *w = s->w;

	for (int i = 0; i < WORKER_BATCH; i++) {
		net_worker_rx_iov(w, i, in->iov[i]);
		in->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &in->peers[i],
			.msg_namelen = sizeof(in->peers[i]),
			.msg_iov = in->iov[i],
			.msg_iovlen = 2,
			.msg_control = s->wildcard ? in->ctl[i].buf : NULL,
			.msg_controllen = s->wildcard ? sizeof(in->ctl[i].buf) : 0,
		};
	}
	return recvmmsg(s->fd, in->msgs, WORKER_BATCH, MSG_DONTWAIT, NULL);
}

/* Send what was gathered; a failed datagram is counted and skipped, never
 * fatal to the socket (ICMP errors, ENOBUFS). */
void udp_out_flush(struct udp_sock *s)
{
	struct udp_out *o = s->out;

	udp_send_batch(s->fd, o->msgs, o->n, &s->w->stats.udp_out, &s->w->stats.udp_send_errors);
	o->n = 0;
}

uint8_t *udp_out_slot(struct udp_sock *s)
{
	if (s->out->n == WORKER_BATCH)
		udp_out_flush(s);
	return s->tx[s->out->n];
}

/* Entry i of the batch: buf for to->client, from to->local. */
static void out_set(struct udp_sock *s, int i, uint8_t *buf, size_t len,
		    const struct turn_tuple *to)
{
	struct udp_out *o = s->out;

	o->iov[i] = (struct iovec){ buf, len };
	o->msgs[i].msg_hdr = (struct msghdr){
		.msg_name = &o->peers[i],
		.msg_namelen = sockaddr_from_turn(&o->peers[i], &to->client),
		.msg_iov = &o->iov[i],
		.msg_iovlen = 1,
	};
	if (s->wildcard) {
		o->msgs[i].msg_hdr.msg_control = o->ctl[i].buf;
		o->msgs[i].msg_hdr.msg_controllen = source_cmsg(&to->local, &o->ctl[i]);
	}
}

void udp_out_push(struct udp_sock *s, size_t len, const struct turn_tuple *to)
{
	out_set(s, s->out->n, s->tx[s->out->n], len, to);
	if (++s->out->n == 1)
		net_worker_flush_soon(s->w);
}

/* On its own, for it is not in a slot of the batch: what was gathered
 * goes first, so that the client sees the peer's datagrams in order. */
void udp_send_big(struct udp_sock *s, const uint8_t *buf, size_t len,
		  const struct turn_tuple *to)
{
	udp_out_flush(s);
	out_set(s, 0, (uint8_t *)buf, len, to);
	s->out->n = 1;
	udp_out_flush(s);
}

/* ---- The path to a UDP client (net/path.h) ---- */

static uint8_t *udp_path_slot(void *t)
{
	return udp_out_slot(t);
}

static void udp_path_push(void *t, size_t len, const struct turn_tuple *to)
{
	udp_out_push(t, len, to);
}

/* A message built elsewhere: copied into a slot, or on its own when it is
 * larger than one. */
static void udp_path_send(void *t, const uint8_t *buf, size_t len, const struct turn_tuple *to)
{
	struct udp_sock *s = t;

	if (len > WORKER_SLOT) {
		udp_send_big(s, buf, len, to);
		return;
	}
	memcpy(udp_out_slot(s), buf, len);
	udp_out_push(s, len, to);
}

/* A UDP payload: 65,535 less the IPv4 and UDP headers; IPv6's payload
 * length leaves out its own header. */
static size_t udp_path_cap(const void *t, const struct turn_tuple *to)
{
	(void)t;
	return to->client.family == TURN_AF_INET6 ? 65527 : 65507;
}

/* A retired listening socket waits for the allocations that use it. */
static void udp_path_hold(void *t)
{
	struct udp_sock *s = t;

	s->allocs++;
}

static void udp_path_release(void *t, bool stopping)
{
	struct udp_sock *s = t;

	/* At the worker's end its sockets may be gone before its relays. */
	if (!stopping && s->allocs > 0)
		s->allocs--;
}

static bool udp_path_retired(const void *t)
{
	const struct udp_sock *s = t;

	return s->retire != NULL;
}

const struct net_path_ops udp_path_ops = {
	.kind = NET_PATH_UDP,
	.slot_len = WORKER_SLOT,
	.slot = udp_path_slot,
	.push = udp_path_push,
	.send = udp_path_send,
	.cap = udp_path_cap,
	.hold = udp_path_hold,
	.release = udp_path_release,
	.retired = udp_path_retired,
};

static void udp_handle_batch(struct udp_sock *s, struct udp_batch *in, int n)
{
	struct net_worker *w = s->w;
	struct net_path path = { &udp_path_ops, s };

	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &in->msgs[i].msg_hdr;
		struct turn_tuple t = { .transport = TURN_TRANSPORT_UDP };

		w->stats.udp_in++;
		if (mh->msg_flags & MSG_TRUNC) {
			w->stats.udp_truncated++;
			continue;
		}
		if (sockaddr_to_turn((struct sockaddr *)&in->peers[i], &t.client) < 0)
			continue;
		local_from_cmsg(s, mh, &t.local);
		/* Up to 64 KiB: a ChannelData or Send for the peer. */
		const uint8_t *pkt = net_worker_rx_join(w, i, in->msgs[i].msg_len);
		if (s->dtls) {
			dtls_input(s, pkt, in->msgs[i].msg_len, &t);
			continue;
		}
		net_worker_message(w, pkt, in->msgs[i].msg_len, &t, &path);
	}
}

static void udp_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *s = arg;
	/* Batch descriptors are per call on the stack (about 20 KiB); the
	 * payload buffers are the worker's. */
	struct udp_batch in;
	int budget = UDP_READ_BUDGET;

	(void)fd;
	(void)what;
	while (budget > 0) {
		int n = udp_recv_batch(s, &in);
		if (n <= 0)
			break; /* EAGAIN, or an error reported by ICMP: try later */
		udp_handle_batch(s, &in, n);
		budget -= n;
		if (n < WORKER_BATCH)
			break;
	}
}

int udp_sock_attach(struct net_worker *w, struct udp_sock *s)
{
	s->w = w;
	s->ev = event_new(w->base, s->fd, EV_READ | EV_PERSIST, udp_on_read, s);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		return -1;
	return 0;
}
