/*
 * turnprobe turn: a whole TURN session against a server and an echo peer
 * (turnpeer): Allocate with the long-term credential (RFC 8656 section 7,
 * RFC 8489 section 9.2), CreatePermission and ChannelBind towards the
 * peer, COUNT ChannelData messages each waited for as they come back, and
 * Refresh with LIFETIME 0 to delete the allocation.
 *
 * Over TCP every message shares one connection and ChannelData is padded
 * to a multiple of 4 (RFC 8656 section 12.5); the frames coming back are
 * cut with turn_frame_length.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "probe.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "util/addr.h"

/* The one channel the probe binds: the first number (RFC 8656 section 12). */
#define PROBE_CHANNEL TURN_CHANNEL_MIN
/* The largest frame a stream may carry: a STUN message of 20 + 65535
 * bytes (the codec refuses more), or a padded ChannelData message. */
#define PROBE_FRAME_MAX (STUN_HDR_LEN + STUN_MAX_MSG_LEN)
#define PROBE_REQ_MAX 2048
/* Attempts of one request: the first goes without credentials, then one
 * retry for the 401 and one for a 438. */
#define PROBE_AUTH_TRIES 3

struct probe_turn {
	const struct probe_opts *o;
	int fd;
	struct turn_addr peer, relayed, mapped;
	uint32_t lifetime;
	struct client_cred cred; /* as the last challenge set it up */
	/* TCP: bytes read from the stream and not yet cut into frames. */
	size_t have;
	uint8_t stream[PROBE_FRAME_MAX];
	uint8_t rx[PROBE_FRAME_MAX]; /* the last frame or datagram received */
};

static int send_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait until the deadline for fd to be readable: 1 ready, 0 timed out. */
static int wait_readable(int fd, double deadline)
{
	double left = deadline - client_now_s();
	struct pollfd p = { fd, POLLIN, 0 };

	if (left <= 0)
		return 0;
	int rc = poll(&p, 1, (int)(left * 1000.0) + 1);
	return rc > 0 ? 1 : rc < 0 && errno != EINTR ? -1 : 0;
}

/* Cut the next frame off the TCP stream into t->rx: its length, 0 when
 * more bytes are needed, -1 for a stream that cannot be framed. */
static long stream_take(struct probe_turn *t)
{
	size_t flen;
	int ready = client_frame_next(t->stream, t->have, sizeof(t->stream), &flen);

	if (ready <= 0)
		return ready;
	memcpy(t->rx, t->stream, flen);
	t->have -= flen;
	memmove(t->stream, t->stream + flen, t->have);
	return (long)flen;
}

/* The next datagram (UDP) or frame (TCP) into t->rx before the deadline.
 * Returns its length, 0 on timeout, -1 when the connection is gone. */
static long recv_frame(struct probe_turn *t, double deadline)
{
	for (;;) {
		if (t->o->tcp) {
			long n = stream_take(t);
			if (n != 0)
				return n;
		}
		int ready = wait_readable(t->fd, deadline);
		if (ready <= 0)
			return ready;
		uint8_t *into = t->o->tcp ? t->stream + t->have : t->rx;
		size_t room = t->o->tcp ? sizeof(t->stream) - t->have : sizeof(t->rx);
		ssize_t n = recv(t->fd, into, room, 0);
		if (n == 0 && t->o->tcp)
			return -1;
		if (n < 0 && errno != EINTR && errno != ECONNREFUSED)
			return -1;
		if (n > 0 && !t->o->tcp)
			return (long)n;
		if (n > 0)
			t->have += (size_t)n;
	}
}

/* One transaction (RFC 8489 section 6.2): over UDP retransmitted with an
 * RTO of 500 ms, doubling, until the timeout; over TCP sent once. Returns 0
 * with the response in *m (a view of t->rx), -1 without one. Anything
 * else arriving meanwhile (a late echo) is skipped. */
static int transact(struct probe_turn *t, const struct client_request *r, struct stun_msg *m)
{
	uint8_t req[PROBE_REQ_MAX], tid[STUN_TID_LEN];
	double now = client_now_s(), deadline = now + t->o->timeout_ms / 1000.0, resend = now;
	double rto = 0.5;

	if (RAND_bytes(tid, sizeof(tid)) != 1)
		return -1;
	long len = client_build_request(r, tid, &t->cred, req, sizeof(req));
	if (len < 0) {
		fprintf(stderr, "turnprobe: %s: the request does not fit\n",
			client_method_name(r->method));
		return -1;
	}
	while (now < deadline) {
		if (now >= resend) {
			if (send_all(t->fd, req, (size_t)len) < 0)
				return -1;
			resend = t->o->tcp ? deadline : now + rto;
			rto *= 2;
		}
		long n = recv_frame(t, resend < deadline ? resend : deadline);
		if (n < 0)
			return -1;
		if (n > 0 && stun_msg_is_stun(t->rx, (size_t)n) &&
		    stun_msg_parse(m, t->rx, (size_t)n) == 0 && client_is_response(m, tid, r->method))
			return 0;
		now = client_now_s();
	}
	return -1;
}

/*
 * A request with the long-term credential: the first attempt goes without
 * one (or with the one the session has), a 401 to a request without
 * credentials or a 438 sets the credential up and the request goes again
 * (RFC 8489 section 9.2.5). Returns 0 for a success response in *m with
 * its MESSAGE-INTEGRITY checked, the error code after printing it, or -1.
 */
static int request(struct probe_turn *t, const struct client_request *r, struct stun_msg *m)
{
	const char *name = client_method_name(r->method), *why = NULL;
	char text[160];
	int code = -1;

	for (int attempt = 0; attempt < PROBE_AUTH_TRIES; attempt++) {
		bool had_key = t->cred.have_key;
		if (transact(t, r, m) < 0) {
			fprintf(stderr, "turnprobe: %s: no response from %s over %s\n", name,
				t->o->target, t->o->tcp ? "TCP" : "UDP");
			return -1;
		}
		code = client_response_code(m);
		if (!client_is_challenge(code, had_key) || attempt == PROBE_AUTH_TRIES - 1)
			break;
		if (client_cred_take(&t->cred, m, &why) < 0) {
			fprintf(stderr, "turnprobe: %s: %s\n", name, why);
			return -1;
		}
	}
	/* A success without a valid MESSAGE-INTEGRITY is not from the
	 * server we share the key with. */
	if (!client_cred_trusts(&t->cred, m, code)) {
		fprintf(stderr, "turnprobe: %s: the response fails MESSAGE-INTEGRITY\n", name);
		return -1;
	}
	if (code != 0)
		fprintf(stderr, "turnprobe: %s: %s\n", name,
			client_error_text(m, code, text, sizeof(text)));
	return code;
}

/* Allocate, and read the relayed and mapped addresses and the lifetime. */
static int allocate(struct probe_turn *t)
{
	struct client_request r = { TURN_METHOD_ALLOCATE, .lifetime = -1,
				    .family = t->o->ipv6_relay ? STUN_FAMILY_IPV6 : 0 };
	uint8_t want = t->o->ipv6_relay ? TURN_AF_INET6 : TURN_AF_INET;
	struct stun_msg m;

	if (request(t, &r, &m) != 0)
		return -1;
	bool found = client_relayed_address(&m, want, &t->relayed) == 0;
	const struct stun_attr *xm = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	const struct stun_attr *lt = stun_msg_find(&m, TURN_ATTR_LIFETIME);
	if (!found || !xm || stun_attr_get_xor_addr(&m, xm, &t->mapped) < 0 || !lt ||
	    stun_attr_get_u32(&m, lt, &t->lifetime) < 0) {
		fprintf(stderr, "turnprobe: Allocate: the success response lacks "
				"XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS or LIFETIME\n");
		return -1;
	}
	return 0;
}

/* Send one ChannelData message and wait for the same bytes to come back
 * on the channel. Returns 0 with the round-trip time, -1 if lost. */
static int echo_one(struct probe_turn *t, unsigned long seq, double *rtt)
{
	uint8_t payload[96], frame[128];
	char head[64];
	uint64_t rnd;
	/* Lengths 60..63 in turn, so every amount of TCP padding is used. */
	size_t len = 60 + seq % 4;
	struct turn_chandata cd;

	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		return -1;
	int n_head = snprintf(head, sizeof(head), "turnprobe %lu %016llx", seq,
			      (unsigned long long)rnd);
	memset(payload, '.', sizeof(payload));
	memcpy(payload, head, (size_t)n_head < len ? (size_t)n_head : len);
	long flen =
		turn_chandata_build(frame, sizeof(frame), PROBE_CHANNEL, payload, len, t->o->tcp);
	double start = client_now_s(), deadline = start + t->o->timeout_ms / 1000.0;
	if (flen < 0 || send_all(t->fd, frame, (size_t)flen) < 0)
		return -1;
	for (;;) {
		long n = recv_frame(t, deadline);
		if (n <= 0)
			return -1;
		if (turn_chandata_is_chandata(t->rx, (size_t)n) &&
		    turn_chandata_parse(t->rx, (size_t)n, &cd) == 0 &&
		    cd.channel == PROBE_CHANNEL && cd.len == len &&
		    memcmp(cd.data, payload, len) == 0) {
			*rtt = client_now_s() - start;
			return 0;
		}
	}
}

/* Permission and channel towards the peer, then COUNT echoes. Returns the
 * number that came back, or -1 when the set-up failed. */
static long run_echoes(struct probe_turn *t)
{
	struct client_request perm = { TURN_METHOD_CREATE_PERMISSION, .peer = &t->peer,
				       .lifetime = -1 };
	struct client_request bind = { TURN_METHOD_CHANNEL_BIND, .peer = &t->peer,
				       .channel = PROBE_CHANNEL, .lifetime = -1 };
	struct stun_msg m;
	long back = 0;

	if (request(t, &perm, &m) != 0 || request(t, &bind, &m) != 0)
		return -1;
	for (unsigned long i = 1; i <= t->o->count; i++) {
		double rtt;
		if (echo_one(t, i, &rtt) == 0) {
			printf("echo %lu: %.3f ms\n", i, rtt * 1000.0);
			back++;
		} else {
			printf("echo %lu: lost\n", i);
		}
		fflush(stdout);
	}
	return back;
}

/* The peer from --peer, or turnpeer's default of the relay's family. */
static int parse_peer(struct probe_turn *t)
{
	const char *text = t->o->peer;

	if (!text)
		text = t->o->ipv6_relay ? CLIENT_PEER_DEFAULT6 : CLIENT_PEER_DEFAULT;
	if (client_parse_endpoint(text, 0, &t->peer) < 0) {
		fprintf(stderr, "turnprobe: --peer wants ADDR:PORT (\"[::1]:3480\" for IPv6), "
				"not '%s'\n", text);
		return -1;
	}
	return 0;
}

/* The session once the socket is open. Returns the exit status. */
static int session(struct probe_turn *t)
{
	char text[TURN_ADDR_STRLEN];
	/* RFC 8656 section 7.3: a Refresh with LIFETIME 0 deletes. */
	struct client_request del = { TURN_METHOD_REFRESH, .lifetime = 0 };
	struct stun_msg m;

	double start = client_now_s();
	if (allocate(t) < 0)
		return 1;
	/* Challenge and authenticated Allocate together: what a client
	 * waits before it has a relay (the credential lookup included). */
	printf("allocate: %.3f ms\n", (client_now_s() - start) * 1000.0);
	printf("relayed address: %s\n", turn_addr_format(&t->relayed, true, text, sizeof(text)));
	printf("mapped address: %s\n", turn_addr_format(&t->mapped, true, text, sizeof(text)));
	printf("lifetime: %u s\n", (unsigned)t->lifetime);
	printf("peer address: %s\n", turn_addr_format(&t->peer, true, text, sizeof(text)));
	fflush(stdout);
	long back = run_echoes(t);
	if (back >= 0)
		printf("%ld/%lu echoed over %s (channel 0x%04X)\n", back, t->o->count,
		       t->o->tcp ? "tcp" : "udp", PROBE_CHANNEL);
	int deleted = request(t, &del, &m) == 0;
	if (deleted)
		printf("allocation deleted\n");
	return back == (long)t->o->count && deleted ? 0 : 1;
}

int probe_cmd_turn(const struct probe_opts *o)
{
	struct probe_turn *t = calloc(1, sizeof(*t));
	int rc = 1;

	if (!t) {
		fprintf(stderr, "turnprobe: out of memory\n");
		return 1;
	}
	t->o = o;
	client_cred_init(&t->cred, o->user, o->pass);
	if (parse_peer(t) == 0) {
		t->fd = probe_connect(o);
		if (t->fd >= 0) {
			rc = session(t);
			close(t->fd);
		}
	}
	OPENSSL_cleanse(t->cred.key, sizeof(t->cred.key));
	client_cred_forget(&t->cred);
	free(t);
	return rc;
}
