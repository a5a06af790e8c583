/*
 * Relay sockets, the port pool and reservation tokens.
 */
#include "net/relay.h"

#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/clock.h"
#include "io/sockaddr.h"
#include "io/udp_send.h"
#include "net/net_worker.h"
#include "stun/stun.h"
#include "turn/alloc.h"
#include "turn/server.h"
#include "util/log.h"

/* ---- Shared state ---- */

static int add_relay_addr(struct relay_shared *rs, const struct turn_addr *a)
{
	struct relay_addr *ra = &rs->addrs[rs->n_addrs];

	memset(ra, 0, sizeof(*ra));
	ra->addr = *a;
	ra->addr.port = 0;
	ra->external_slot[0] = ra->addr;
	atomic_init(&ra->external_cur, 0);
	/* external-ip "public/private" maps that private relay address;
	 * a bare "public" maps every relay address of its family. */
	for (size_t i = 0; i < rs->conf->n_external; i++) {
		const struct conf_external *e = &rs->conf->external[i];
		bool bare = e->private_ip.family == 0 && e->public_ip.family == a->family;
		if (bare || turn_addr_ip_eq(&e->private_ip, a)) {
			ra->external_slot[0] = e->public_ip;
			ra->external_slot[0].port = 0;
		}
	}
	if (port_pool_init(&ra->pool, rs->conf->min_port, rs->conf->max_port) < 0)
		return -1;
	rs->n_addrs++;
	return 0;
}

void relay_addr_external(const struct relay_addr *ra, struct turn_addr *out)
{
	unsigned cur = atomic_load_explicit(&ra->external_cur, memory_order_acquire);

	*out = ra->external_slot[cur & 1];
}

void relay_set_external(struct relay_shared *rs, size_t i, const struct turn_addr *ext)
{
	struct relay_addr *ra = &rs->addrs[i];
	unsigned idle = (atomic_load_explicit(&ra->external_cur, memory_order_relaxed) + 1) & 1;

	ra->external_slot[idle] = *ext;
	ra->external_slot[idle].port = 0;
	atomic_store_explicit(&ra->external_cur, idle, memory_order_release);
}

static bool is_loopback6(const struct turn_addr *a)
{
	static const uint8_t one[16] = { [15] = 1 };
	return memcmp(a->ip, one, 16) == 0;
}

/* Addresses a wildcard listener of this family can relay on: the host's
 * global addresses (not loopback, not link-local); with none, loopback, so
 * a machine without a network still relays locally. */
static size_t host_addresses(uint8_t family, struct turn_addr *out, size_t max)
{
	struct ifaddrs *ifs = NULL;
	size_t n = 0, n_loop = 0;
	struct turn_addr loop[1];

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
		struct turn_addr a;
		if (!i->ifa_addr || sockaddr_to_turn(i->ifa_addr, &a) < 0 || a.family != family)
			continue;
		bool v4 = family == TURN_AF_INET;
		bool loopback = v4 ? a.ip[0] == 127 : is_loopback6(&a);
		bool linklocal = v4 ? (a.ip[0] == 169 && a.ip[1] == 254)
				    : (a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80);
		if (loopback && n_loop == 0)
			loop[n_loop++] = a;
		if (!loopback && !linklocal)
			out[n++] = a;
	}
	freeifaddrs(ifs);
	if (n == 0 && n_loop)
		out[n++] = loop[0];
	return n;
}

int relay_shared_init(struct relay_shared *rs, const struct conf *conf, char *err, size_t errlen)
{
	enum { MAX_HOST = 32 };
	struct turn_addr host[MAX_HOST];
	size_t n = conf->n_relay;
	const struct turn_addr *src = conf->relay;

	memset(rs, 0, sizeof(*rs));
	rs->conf = conf;
	pthread_mutex_init(&rs->lock, NULL);
	rs->tcp_table = tcp_relay_table_new();
	if (!rs->tcp_table) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Without relay-ip, relay on the listening addresses; a wildcard one
	 * stands for the host's own addresses of its family. */
	if (n == 0) {
		for (size_t i = 0; i < conf->n_listen && n < MAX_HOST; i++) {
			if (turn_addr_is_any(&conf->listen[i]))
				n += host_addresses(conf->listen[i].family, host + n, MAX_HOST - n);
			else
				host[n++] = conf->listen[i];
		}
		src = host;
	}
	free(rs->addrs);
	rs->addrs = calloc(n ? n : 1, sizeof(*rs->addrs));
	if (!rs->addrs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (add_relay_addr(rs, &src[i]) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

void relay_shared_fini(struct relay_shared *rs)
{
	for (size_t i = 0; rs->addrs && i < rs->n_addrs; i++)
		port_pool_fini(&rs->addrs[i].pool);
	free(rs->addrs);
	tcp_relay_table_free(rs->tcp_table);
	rs->tcp_table = NULL;
	pthread_mutex_destroy(&rs->lock);
}

size_t relay_ports_in_use(struct relay_shared *rs)
{
	size_t n = 0;

	pthread_mutex_lock(&rs->lock);
	for (size_t i = 0; i < rs->n_addrs; i++)
		n += rs->addrs[i].pool.n_used;
	pthread_mutex_unlock(&rs->lock);
	return n;
}

uint64_t relay_ports_taken_early(struct relay_shared *rs)
{
	pthread_mutex_lock(&rs->lock);
	uint64_t n = rs->ports_taken_early;
	pthread_mutex_unlock(&rs->lock);
	return n;
}

bool relay_port_live(void *ctx, const struct turn_addr *peer)
{
	struct relay_shared *rs = ctx;
	bool live = false;

	/* No lock: this runs for every datagram between two clients of this
	 * server, the relay addresses are fixed at start, and the pool's
	 * bitmap is read atomically (port_pool.h). */
	for (size_t i = 0; i < rs->n_addrs && !live; i++) {
		const struct relay_addr *ra = &rs->addrs[i];
		struct turn_addr ext;
		relay_addr_external(ra, &ext);
		if (turn_addr_ip_eq(&ra->addr, peer) || turn_addr_ip_eq(&ext, peer))
			live = port_pool_in_use(&ra->pool, peer->port);
	}
	return live;
}

/* RAND_bytes a block at a time, under the lock. Should it ever fail,
 * what the block held is used again: still spread, less unpredictable. */
static uint32_t relay_random(void *ctx)
{
	struct relay_shared *rs = ctx;
	size_t n = sizeof(rs->random) / sizeof(rs->random[0]);

	if (rs->random_left == 0) {
		RAND_bytes((unsigned char *)rs->random, sizeof(rs->random));
		rs->random_left = (unsigned)n;
	}
	return rs->random[--rs->random_left];
}

static uint64_t quarantine_ms(const struct relay_shared *rs)
{
	return (uint64_t)rs->conf->port_quarantine_s * 1000;
}

/* Release reservations nobody claimed in time (RFC 8656 section 14.9). */
static void expire_tokens(struct relay_shared *rs, uint64_t now_ms)
{
	for (size_t i = 0; i < RELAY_MAX_TOKENS; i++) {
		struct relay_token *t = &rs->tokens[i];
		if (t->token && t->expires_ms <= now_ms) {
			/* Never reached a client: free at once. */
			port_pool_release(&rs->addrs[t->addr_index].pool, t->port, now_ms, 0);
			t->token = 0;
		}
	}
}

static int claim_token(struct relay_shared *rs, uint64_t token, size_t *idx, uint16_t *port)
{
	for (size_t i = 0; i < RELAY_MAX_TOKENS; i++) {
		if (rs->tokens[i].token == token) {
			*idx = rs->tokens[i].addr_index;
			*port = rs->tokens[i].port;
			rs->tokens[i].token = 0;
			return 0;
		}
	}
	return -1;
}

static int store_token(struct relay_shared *rs, size_t idx, uint16_t port, uint64_t now_ms,
		       uint64_t *token)
{
	for (size_t i = 0; i < RELAY_MAX_TOKENS; i++) {
		struct relay_token *t = &rs->tokens[i];
		if (t->token)
			continue;
		do
			RAND_bytes((unsigned char *)&t->token, sizeof(t->token));
		while (t->token == 0);
		t->addr_index = idx;
		t->port = port;
		t->expires_ms = now_ms + RELAY_TOKEN_LIFETIME_MS;
		*token = t->token;
		return 0;
	}
	return -1;
}

/* Pick a port at random, out of quarantine, on a relay address of the
 * family (under the lock). Returns 0, or the error code for the client. */
static int pick_port(struct relay_shared *rs, const struct turn_relay_request *req,
		     uint64_t now_ms, size_t *idx, uint16_t *port, uint64_t *token)
{
	size_t fam = req->family == TURN_AF_INET6;
	struct port_pick pick = { .even = req->even_port, .pair = req->reserve_next,
				  .now_ms = now_ms, .quarantine_ms = quarantine_ms(rs),
				  .random = relay_random, .random_ctx = rs };

	expire_tokens(rs, now_ms);
	if (req->token)
		return claim_token(rs, req->token, idx, port) == 0 ? 0 : STUN_ERR_BAD_REQUEST;
	for (size_t k = 0; k < rs->n_addrs; k++) {
		size_t i = (rs->next[fam] + k) % rs->n_addrs;
		struct relay_addr *ra = &rs->addrs[i];
		bool early;
		if (ra->addr.family != req->family)
			continue;
		rs->next[fam] = i + 1;
		uint16_t p = port_pool_take(&ra->pool, &pick, &early);
		if (p == 0)
			return TURN_ERR_INSUFFICIENT_CAPACITY;
		rs->ports_taken_early += early;
		if (req->reserve_next && store_token(rs, i, (uint16_t)(p + 1), now_ms, token) < 0) {
			port_pool_release(&ra->pool, (uint16_t)(p + 1), now_ms, 0);
			*token = 0;
		}
		*idx = i;
		*port = p;
		return 0;
	}
	return TURN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED;
}

/* left_ms: when the port's last client let it go, its quarantine
 * counted from then; 0 when it never reached a client (free at once). */
static void release_port(struct relay_shared *rs, size_t idx, uint16_t port, uint64_t left_ms)
{
	pthread_mutex_lock(&rs->lock);
	port_pool_release(&rs->addrs[idx].pool, port, left_ms, left_ms ? quarantine_ms(rs) : 0);
	pthread_mutex_unlock(&rs->lock);
}

static int bind_relay(const struct relay_addr *ra, uint16_t port, bool dont_fragment, bool tcp)
{
	struct turn_addr a = ra->addr;
	struct sockaddr_storage ss;
	int fd, one = 1;

	a.port = port;
	socklen_t sl = sockaddr_from_turn(&ss, &a);
	if (tcp)
		return tcp_relay_listen(&a);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* DONT-FRAGMENT (RFC 8656 section 14.8): set DF on what we send. */
	if (dont_fragment) {
		int pmtu = IP_PMTUDISC_DO;
		if (ss.ss_family == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
		else
			setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	}
	/* ICMP errors about what the relay sends come back on its error
	 * queue, to be relayed to the client (RFC 8656 section 11.5). */
	if (ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- Relay endpoints ---- */


/* Datagrams and queued ICMP errors both: an error left on the queue
 * would keep the socket readable (EPOLLERR) for ever. */
static void spare_discard_input(int fd)
{
	uint8_t byte;

	for (int i = 0; i < 256; i++)
		if (recv(fd, &byte, sizeof(byte), MSG_DONTWAIT | MSG_TRUNC) < 0)
			break;
	for (int i = 0; i < 256; i++)
		if (recv(fd, &byte, sizeof(byte), MSG_DONTWAIT | MSG_TRUNC | MSG_ERRQUEUE) < 0)
			break;
}

/* A Data indication's header and attributes around a peer's datagram
 * (20 + XOR-PEER-ADDRESS of IPv6 + DATA header + padding), rounded up. */
#define RELAY_HEADROOM 64

/* A peer's datagram too large for a slot, to r's client: built in the
 * worker's big buffer and sent on its own. The cap is what the client's
 * transport carries; the core counts a message that does not fit as
 * oversize. */
static void relay_big_to_client(struct turn_relay *r, const struct turn_addr *peer,
				const uint8_t *data, size_t len, uint64_t now)
{
	struct net_worker *w = r->w;
	struct turn_reply reply = { w->big->out, net_path_cap(&r->path, &r->owner->tuple), 0 };
	const struct turn_tuple *to;
	const struct turn_peer_event ev = { .alloc = r->owner, .peer = peer, .data = data,
					    .len = len, .now_ms = now };

	if (turn_server_peer_data(w->srv, &ev, &reply, &to) == 0)
		net_path_send(&r->path, reply.buf, reply.len, to);
}

/* The ICMP errors queued on r's socket (IP_RECVERR): each one about a
 * datagram to a peer becomes a Data indication with an ICMP attribute.
 * Bounded: a flood of errors cannot hold the worker. */
static void relay_read_errors(struct turn_relay *r, int fd, uint64_t now)
{
	for (int k = 0; k < WORKER_BATCH; k++) {
		struct sockaddr_storage dst;
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					       sizeof(struct sockaddr_in6))];
		} control;
		uint8_t junk[64];
		struct iovec iov = { junk, sizeof(junk) };
		struct msghdr mh = { .msg_name = &dst, .msg_namelen = sizeof(dst),
				     .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		struct turn_addr peer;

		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		if (!r->owner || sockaddr_to_turn((struct sockaddr *)&dst, &peer) < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			const struct sock_extended_err *ee;
			if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (const struct sock_extended_err *)CMSG_DATA(c);
			/* Errors of the local stack (EMSGSIZE with DF) are not ICMP. */
			if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			struct turn_reply reply = { net_path_slot(&r->path), WORKER_SLOT, 0 };
			const struct turn_tuple *to;
			const struct turn_peer_event ev = {
				.alloc = r->owner, .peer = &peer, .type = ee->ee_type,
				.code = ee->ee_code, .info = ee->ee_info, .now_ms = now,
			};
			if (turn_server_peer_icmp(r->w->srv, &ev, &reply, &to) == 0)
				net_path_push(&r->path, reply.len, to);
		}
	}
}

/* Peer datagrams on a relay: each goes through the core (permission,
 * channel or Data indication) and the results leave in one batch to the
 * client's UDP socket, or onto its TCP connection. */
static void relay_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct turn_relay *r = arg;
	struct net_worker *w = r->w;
	struct mmsghdr msgs[WORKER_BATCH];
	struct iovec iov[WORKER_BATCH][2]; /* slot and tail (net_worker_rx_iov) */
	struct sockaddr_storage peers[WORKER_BATCH];
	uint64_t now = io_now_ms();

	(void)what;
	if (!r->owner) { /* a spare: nobody to give it to */
		spare_discard_input(fd);
		return;
	}
	for (int i = 0; i < WORKER_BATCH; i++) {
		net_worker_rx_iov(w, i, iov[i]);
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &peers[i],
						   .msg_namelen = sizeof(peers[i]),
						   .msg_iov = iov[i],
						   .msg_iovlen = 2 };
	}
	int n = recvmmsg(fd, msgs, WORKER_BATCH, MSG_DONTWAIT, NULL);
	/* A queued ICMP error makes a read fail once with its errno
	 * (ECONNREFUSED, EHOSTUNREACH ...) after the data before it, and a
	 * non-empty error queue keeps the socket readable with no data
	 * (EAGAIN): only then is the error queue read, so data costs no
	 * extra call. */
	if (n < 0 && errno != EINTR)
		relay_read_errors(r, fd, now);
	for (int i = 0; i < n; i++) {
		struct turn_addr peer;
		/* To a UDP client the message is built where it will be sent
		 * from, with what other relays gather this loop turn. */
		struct turn_reply reply = { net_path_slot(&r->path), WORKER_SLOT, 0 };
		const struct turn_tuple *to;
		size_t len = msgs[i].msg_len;
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC ||
		    sockaddr_to_turn((struct sockaddr *)&peers[i], &peer) < 0)
			continue;
		/* Past a slot (with a header's room): the slow way, one by one
		 * (issue 13 item 9: every size the client's transport carries). */
		if (len > WORKER_SLOT - RELAY_HEADROOM) {
			relay_big_to_client(r, &peer, net_worker_rx_join(w, i, len), len, now);
			continue;
		}
		const struct turn_peer_event ev = { .alloc = r->owner, .peer = &peer,
						    .data = w->rx[i], .len = len, .now_ms = now };
		if (turn_server_peer_data(w->srv, &ev, &reply, &to) < 0)
			continue;
		net_path_push(&r->path, reply.len, to);
	}
}

/* ---- Spare relay sockets ----
 *
 * A deleted allocation's socket stays open, bound and watched, its port
 * held, for the next plain Allocate of its family on this worker: socket,
 * bind, close and two epoll changes saved per allocation. Datagrams that
 * reach a spare are read and thrown away (relay_on_read); one that slips
 * in as it is handed on meets an owner with no permission yet, and is
 * dropped by the core.
 *
 * Only without a port quarantine (relay-port-quarantine = 0): a spare
 * hands the last owner's port straight to the next client, who would
 * receive what peers still send to it, and a handful of ports kept for
 * reuse would undo the random pick (port_pool.h). */

static struct turn_relay *spare_take(struct net_worker *w, const struct turn_relay_request *req)
{
	struct relay_shared *rs = w->relay_shared;

	if (req->even_port || req->reserve_next || req->token || req->dont_fragment || req->tcp)
		return NULL;
	for (unsigned i = w->n_spares; i-- > 0;) {
		struct turn_relay *r = w->spares[i];
		if (rs->addrs[r->addr_index].addr.family != req->family)
			continue;
		w->spares[i] = w->spares[--w->n_spares];
		return r;
	}
	return NULL;
}

static void relay_free(struct net_worker *w, struct turn_relay *r)
{
	if (r->ev)
		event_free(r->ev);
	if (r->fd >= 0) {
		close(r->fd);
		release_port(w->relay_shared, r->addr_index, r->port, r->freed_ms);
	}
	free(r);
}

void relay_spares_free(struct net_worker *w)
{
	while (w->n_spares > 0)
		relay_free(w, w->spares[--w->n_spares]);
}

/* Bind r (a new relay) on a port of the pool: 0, or the error code to
 * answer. A port another process holds fails to bind: try others. Tests
 * that run at once may share a block of ports, so try more than a few. */
static int relay_bind_port(struct net_worker *w, const struct turn_relay_request *req,
			   struct turn_relay *r, uint64_t *token)
{
	struct relay_shared *rs = w->relay_shared;
	int rc = TURN_ERR_INSUFFICIENT_CAPACITY;

	for (int attempt = 0; attempt < 32 && r->fd < 0; attempt++) {
		pthread_mutex_lock(&rs->lock);
		rc = pick_port(rs, req, io_now_ms(), &r->addr_index, &r->port, token);
		pthread_mutex_unlock(&rs->lock);
		/* Out of ports while spares hold some: give those back. */
		if (rc == TURN_ERR_INSUFFICIENT_CAPACITY && w->n_spares > 0) {
			relay_spares_free(w);
			attempt--;
			continue;
		}
		if (rc)
			break;
		r->fd = bind_relay(&rs->addrs[r->addr_index], r->port, req->dont_fragment, req->tcp);
		if (r->fd >= 0)
			break;
		bool no_fds = errno == EMFILE || errno == ENFILE;
		rc = no_fds ? TURN_ERR_INSUFFICIENT_CAPACITY : rc;
		/* Quarantined, not free at once: another process holds it, and
		 * when every other free port is in quarantine a port free at
		 * once would be picked again for each of the tries left (a 508
		 * under churn). */
		release_port(rs, r->addr_index, r->port, io_now_ms());
		/* Out of descriptors while spares hold some: close them. */
		if (no_fds && w->n_spares > 0) {
			relay_spares_free(w);
			attempt--;
			continue;
		}
		if (no_fds || req->token)
			break;
	}
	return r->fd >= 0 ? 0 : rc ? rc : TURN_ERR_INSUFFICIENT_CAPACITY;
}

/* A new relay socket for req, watched by w's loop; NULL with *rc. */
static struct turn_relay *relay_new(struct net_worker *w, const struct turn_relay_request *req,
				    uint64_t *token, int *rc)
{
	struct turn_relay *r = calloc(1, sizeof(*r));

	*rc = TURN_ERR_INSUFFICIENT_CAPACITY;
	if (!r)
		return NULL;
	r->fd = -1;
	r->dont_fragment = req->dont_fragment;
	r->tcp = req->tcp;
	*rc = relay_bind_port(w, req, r, token);
	if (*rc) {
		free(r);
		return NULL;
	}
	r->w = w;
	r->ev = event_new(w->base, r->fd, EV_READ | EV_PERSIST,
			  r->tcp ? tcp_relay_on_accept : relay_on_read, r);
	if (!r->ev) {
		relay_free(w, r);
		*rc = TURN_ERR_INSUFFICIENT_CAPACITY;
		return NULL;
	}
	return r;
}

int relay_open(struct net_worker *w, const struct turn_relay_request *req,
	       const struct net_path *path, struct turn_relay **out, struct turn_addr *addr,
	       uint64_t *token)
{
	struct relay_shared *rs = w->relay_shared;
	struct turn_relay *r = spare_take(w, req);
	int rc = 0;

	if (!r && !(r = relay_new(w, req, token, &rc)))
		return rc;
	r->owner = req->owner;
	/* The client's transport stays while the relay sends through it:
	 * past its pre-allocation limits, and a retired listening socket
	 * waits for it. */
	r->path = *path;
	net_path_hold(&r->path);
	w->stats.relays_open++;
	if (!event_pending(r->ev, EV_READ, NULL) && event_add(r->ev, NULL) < 0) {
		relay_close(w, r);
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	}
	relay_addr_external(&rs->addrs[r->addr_index], addr);
	addr->port = r->port;
	*out = r;
	return 0;
}

bool relay_client_plain_udp(const struct turn_relay *r)
{
	return !r->tcp && r->path.ops && r->path.ops->kind == NET_PATH_UDP;
}

void relay_bound_addr(const struct turn_relay *r, struct turn_addr *out)
{
	*out = r->w->relay_shared->addrs[r->addr_index].addr;
	out->port = r->port;
}

void relay_close(struct net_worker *w, struct turn_relay *r)
{
	net_path_release(&r->path, w->stopping);
	/* What it still has to send goes now: a spare's next owner, or after
	 * close another relay's socket, must not send it. */
	for (int i = 0; i < w->relay_out->n; i++)
		if (w->relay_out->fd[i] == r->fd) {
			relay_out_flush(w);
			break;
		}
	w->stats.relays_open--;
	r->freed_ms = io_now_ms(); /* its quarantine starts (port_pool.h) */
	if (r->fd >= 0 && r->ev && !r->dont_fragment && !r->tcp && !w->stopping &&
	    w->n_spares < RELAY_SPARES && quarantine_ms(w->relay_shared) == 0) {
		r->owner = NULL;
		r->path = (struct net_path){ 0 };
		w->spares[w->n_spares++] = r;
		return;
	}
	relay_free(w, r);
}

/* Send the gathered datagrams: one sendmmsg per run of one relay socket
 * (a client's burst to its peer). ECONNREFUSED (an ICMP error from an
 * earlier datagram), ENOBUFS, EMSGSIZE: counted and skipped, never fatal
 * to the allocation. */
void relay_out_flush(struct net_worker *w)
{
	struct relay_out *o = w->relay_out;
	int i = 0;

	while (i < o->n) {
		int run = 1;
		while (i + run < o->n && o->fd[i + run] == o->fd[i])
			run++;
		udp_send_batch(o->fd[i], o->msgs + i, run, &w->stats.relay_sent,
			       &w->stats.relay_send_errors);
		i += run;
	}
	o->n = 0;
}

void relay_send(struct net_worker *w, struct turn_relay *r, const struct turn_addr *peer,
		const uint8_t *data, size_t len)
{
	struct relay_out *o = w->relay_out;

	if (len > WORKER_SLOT) { /* a large Send or ChannelData: on its own */
		struct sockaddr_storage ss;
		socklen_t sl = sockaddr_from_turn(&ss, peer);
		/* Order: what was gathered for peers goes first. */
		relay_out_flush(w);
		if (sendto(r->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
			/* Over the largest UDP payload (a TCP client's 65,535
			 * bytes), or over the path MTU with DONT-FRAGMENT. */
			if (errno == EMSGSIZE)
				w->stats.relay_oversize++;
			else
				w->stats.relay_send_errors++;
		}
		return;
	}
	if (o->n == WORKER_BATCH)
		relay_out_flush(w);
	int i = o->n++;
	memcpy(o->buf[i], data, len);
	o->fd[i] = r->fd;
	o->iov[i] = (struct iovec){ o->buf[i], len };
	o->msgs[i].msg_hdr = (struct msghdr){
		.msg_name = &o->peers[i],
		.msg_namelen = sockaddr_from_turn(&o->peers[i], peer),
		.msg_iov = &o->iov[i],
		.msg_iovlen = 1,
	};
	if (i == 0)
		net_worker_flush_soon(w);
}
