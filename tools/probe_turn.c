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

#include "probe.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "turn/nonce.h"
#include "util/addr.h"

/* The one channel the probe binds: the first number (RFC 8656 section 12). */
#define PROBE_CHANNEL TURN_CHANNEL_MIN
/* The largest frame a stream may carry: a STUN message of 20 + 65535
 * bytes (the codec refuses more), or a padded ChannelData message. */
#define PROBE_FRAME_MAX (STUN_HDR_LEN + STUN_MAX_MSG_LEN)
/* REALM and NONCE: at most 763 bytes (RFC 8489 sections 14.9, 14.10). */
#define PROBE_TEXT_MAX 763
#define PROBE_PWALGS_MAX 64
#define PROBE_REQ_MAX 2048
/* Attempts of one request: the first goes without credentials, then one
 * retry for the 401 and one for a 438. */
#define PROBE_AUTH_TRIES 3

struct probe_turn {
	const struct probe_opts *o;
	int fd;
	struct turn_addr peer, relayed, mapped;
	uint32_t lifetime;
	/* The long-term credential as the last challenge set it up. */
	bool have_key;
	uint8_t key[STUN_KEY_MD5_LEN];
	char realm[PROBE_TEXT_MAX + 1];
	char nonce[PROBE_TEXT_MAX + 1];
	uint8_t pwalgs[PROBE_PWALGS_MAX]; /* PASSWORD-ALGORITHMS to echo, raw */
	size_t pwalgs_len;
	/* TCP: bytes read from the stream and not yet cut into frames. */
	size_t have;
	uint8_t stream[PROBE_FRAME_MAX];
	uint8_t rx[PROBE_FRAME_MAX]; /* the last frame or datagram received */
};

/* One request: the method and the attributes it carries. */
struct probe_request {
	const char *name; /* for messages: "Allocate" */
	uint16_t method;
	uint8_t family; /* Allocate: REQUESTED-ADDRESS-FAMILY, or 0 */
	bool with_lifetime;
	uint32_t lifetime;
	const struct turn_addr *peer; /* XOR-PEER-ADDRESS, or NULL */
	uint16_t channel; /* CHANNEL-NUMBER, or 0 */
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
	double left = deadline - probe_now_s();
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
	enum turn_frame_result fr = turn_frame_length(t->stream, t->have, &flen);

	if (fr == TURN_FRAME_INVALID || (fr == TURN_FRAME_READY && flen > sizeof(t->stream)))
		return -1;
	if (fr == TURN_FRAME_NEED_MORE || t->have < flen)
		return 0;
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

/* The request's own attributes, then the credential (RFC 8489 section
 * 9.2.3: USERNAME, REALM, NONCE, the password algorithms the server
 * offered and the one chosen, MESSAGE-INTEGRITY), then FINGERPRINT. */
static long build_request(const struct probe_turn *t, const struct probe_request *r,
			  const uint8_t tid[STUN_TID_LEN], uint8_t *buf, size_t cap)
{
	struct stun_builder b;

	stun_build_begin(&b, buf, cap, r->method, STUN_CLASS_REQUEST, tid);
	if (r->method == TURN_METHOD_ALLOCATE) {
		stun_build_transport(&b, TURN_TRANSPORT_UDP);
		if (r->family)
			stun_build_family(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, r->family);
	}
	if (r->channel)
		stun_build_channel(&b, r->channel);
	if (r->peer)
		stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, r->peer);
	if (r->with_lifetime)
		stun_build_u32(&b, TURN_ATTR_LIFETIME, r->lifetime);
	if (t->have_key) {
		stun_build_text(&b, STUN_ATTR_USERNAME, t->o->user);
		stun_build_text(&b, STUN_ATTR_REALM, t->realm);
		stun_build_text(&b, STUN_ATTR_NONCE, t->nonce);
		if (t->pwalgs_len) {
			stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHMS, t->pwalgs,
					t->pwalgs_len);
			stun_build_pwalg(&b, STUN_PWALG_MD5);
		}
		stun_build_integrity(&b, t->key, sizeof(t->key));
	}
	stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

/* A response to this transaction, parsed into *m (a view of buf). */
static bool is_response(const uint8_t *buf, size_t len, const uint8_t tid[STUN_TID_LEN],
			uint16_t method, struct stun_msg *m)
{
	if (!stun_msg_is_stun(buf, len) || stun_msg_parse(m, buf, len) < 0)
		return false;
	if (m->method != method || memcmp(m->tid, tid, STUN_TID_LEN) != 0 ||
	    (m->cls != STUN_CLASS_SUCCESS && m->cls != STUN_CLASS_ERROR))
		return false;
	return m->idx_fingerprint < 0 || stun_msg_check_fingerprint(m) == 1;
}

/* One transaction (RFC 8489 section 6.2): over UDP retransmitted with an
 * RTO of 500 ms, doubling, until the timeout; over TCP sent once. Returns 0
 * with the response in *m (a view of t->rx), -1 without one. Anything
 * else arriving meanwhile (a late echo) is skipped. */
static int transact(struct probe_turn *t, const struct probe_request *r, struct stun_msg *m)
{
	uint8_t req[PROBE_REQ_MAX], tid[STUN_TID_LEN];
	double now = probe_now_s(), deadline = now + t->o->timeout_ms / 1000.0, resend = now;
	double rto = 0.5;

	if (RAND_bytes(tid, sizeof(tid)) != 1)
		return -1;
	long len = build_request(t, r, tid, req, sizeof(req));
	if (len < 0) {
		fprintf(stderr, "turnprobe: %s: the request does not fit\n", r->name);
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
		if (n > 0 && is_response(t->rx, (size_t)n, tid, r->method, m))
			return 0;
		now = probe_now_s();
	}
	return -1;
}

/* Copy a text attribute into out as a C string. Returns 0 or -1. */
static int copy_text(const struct stun_msg *m, uint16_t type, char *out, size_t cap)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	const uint8_t *text;
	size_t len;

	if (!a || stun_attr_get_text(m, a, cap - 1, &text, &len) < 0 || memchr(text, 0, len))
		return -1;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}

/* True if the raw PASSWORD-ALGORITHMS value lists MD5. */
static bool offers_md5(const struct stun_msg *m, const struct stun_attr *a)
{
	uint16_t algs[16];
	size_t n = 0;

	if (stun_attr_get_pwalgs(m, a, algs, 16, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (algs[i] == STUN_PWALG_MD5)
			return true;
	return false;
}

/* Take REALM, NONCE and PASSWORD-ALGORITHMS from a 401 or 438 and derive
 * the MD5 key (RFC 8489 section 9.2.5). Returns 0, or -1 after printing. */
static int take_challenge(struct probe_turn *t, const struct probe_request *r,
			  const struct stun_msg *m)
{
	const struct stun_attr *algs = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	uint32_t features = 0;

	if (copy_text(m, STUN_ATTR_NONCE, t->nonce, sizeof(t->nonce)) < 0 ||
	    (copy_text(m, STUN_ATTR_REALM, t->realm, sizeof(t->realm)) < 0 && !t->have_key)) {
		fprintf(stderr, "turnprobe: %s: challenge without a usable REALM and NONCE\n",
			r->name);
		return -1;
	}
	/* A nonce announcing password algorithms with the list missing is a
	 * downgrade: the client must not retry (RFC 8489 section 9.2.5). */
	if (turn_nonce_features((const uint8_t *)t->nonce, strlen(t->nonce), &features) == 1 &&
	    (features & TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS) && !algs) {
		fprintf(stderr, "turnprobe: %s: PASSWORD-ALGORITHMS missing from the challenge\n",
			r->name);
		return -1;
	}
	t->pwalgs_len = 0;
	if (algs) {
		if (!offers_md5(m, algs) || algs->len > sizeof(t->pwalgs)) {
			fprintf(stderr, "turnprobe: %s: the server does not offer MD5\n", r->name);
			return -1;
		}
		memcpy(t->pwalgs, stun_attr_value(m, algs), algs->len);
		t->pwalgs_len = algs->len;
	}
	if (stun_key_md5(t->o->user, t->realm, t->o->pass, t->key) < 0) {
		fprintf(stderr, "turnprobe: the user name or password is not valid UTF-8 text\n");
		return -1;
	}
	t->have_key = true;
	return 0;
}

/* The error code of a response, 0 for a success. */
static int response_code(const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	const uint8_t *reason;
	size_t rlen;
	int code = 0;

	if (m->cls == STUN_CLASS_SUCCESS)
		return 0;
	if (!a || stun_attr_get_error(m, a, NULL, &code, &reason, &rlen) < 0)
		return STUN_ERR_SERVER_ERROR;
	return code;
}

/* "turnprobe: Allocate: 401 Unauthorized", with the server's reason
 * phrase made printable, or the standard one. */
static void print_error(const char *name, const struct stun_msg *m, int code)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	const uint8_t *reason = NULL;
	size_t rlen = 0;
	char text[128];
	size_t n = 0;

	if (a)
		stun_attr_get_error(m, a, NULL, &code, &reason, &rlen);
	for (size_t i = 0; i < rlen && n < sizeof(text) - 1; i++)
		text[n++] = reason[i] >= 0x20 && reason[i] < 0x7F ? (char)reason[i] : '?';
	text[n] = '\0';
	fprintf(stderr, "turnprobe: %s: %d %s\n", name, code, n ? text : stun_error_reason(code));
}

/*
 * A request with the long-term credential: the first attempt goes without
 * one (or with the one the session has), a 401 to a request without
 * credentials or a 438 sets the credential up and the request goes again
 * (RFC 8489 section 9.2.5). Returns 0 for a success response in *m with
 * its MESSAGE-INTEGRITY checked, the error code after printing it, or -1.
 */
static int request(struct probe_turn *t, const struct probe_request *r, struct stun_msg *m)
{
	int code = -1;

	for (int attempt = 0; attempt < PROBE_AUTH_TRIES; attempt++) {
		bool had_key = t->have_key;
		if (transact(t, r, m) < 0) {
			fprintf(stderr, "turnprobe: %s: no response from %s over %s\n", r->name,
				t->o->target, t->o->tcp ? "TCP" : "UDP");
			return -1;
		}
		code = response_code(m);
		bool retry =
			(code == STUN_ERR_UNAUTHORIZED && !had_key) || code == STUN_ERR_STALE_NONCE;
		if (!retry || attempt == PROBE_AUTH_TRIES - 1)
			break;
		if (take_challenge(t, r, m) < 0)
			return -1;
	}
	/* Responses to an authenticated request carry MESSAGE-INTEGRITY
	 * (RFC 8489 section 9.2.4); a success without a valid one is not
	 * from the server we share the key with. */
	if (t->have_key && (code == 0 || m->idx_integrity >= 0) &&
	    stun_msg_check_integrity(m, t->key, sizeof(t->key)) != 1) {
		fprintf(stderr, "turnprobe: %s: the response fails MESSAGE-INTEGRITY\n", r->name);
		return -1;
	}
	if (code != 0)
		print_error(r->name, m, code);
	return code;
}

/* Allocate, and read the relayed and mapped addresses and the lifetime. */
static int allocate(struct probe_turn *t)
{
	/* Without REQUESTED-ADDRESS-FAMILY the relay is IPv4 (RFC 8656
	 * section 7.2). */
	struct probe_request r = { "Allocate", TURN_METHOD_ALLOCATE,
				   .family = t->o->ipv6_relay ? STUN_FAMILY_IPV6 : 0 };
	uint8_t want = t->o->ipv6_relay ? TURN_AF_INET6 : TURN_AF_INET;
	struct stun_msg m;
	bool found = false;

	if (request(t, &r, &m) != 0)
		return -1;
	for (uint8_t i = 0; i < m.n_attrs; i++) {
		struct turn_addr a;
		if (m.attrs[i].type == TURN_ATTR_XOR_RELAYED_ADDRESS &&
		    stun_attr_get_xor_addr(&m, &m.attrs[i], &a) == 0 && !found &&
		    a.family == want) {
			t->relayed = a;
			found = true;
		}
	}
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
	double start = probe_now_s(), deadline = start + t->o->timeout_ms / 1000.0;
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
			*rtt = probe_now_s() - start;
			return 0;
		}
	}
}

/* Permission and channel towards the peer, then COUNT echoes. Returns the
 * number that came back, or -1 when the set-up failed. */
static long run_echoes(struct probe_turn *t)
{
	struct probe_request perm = { "CreatePermission", TURN_METHOD_CREATE_PERMISSION,
				      .peer = &t->peer };
	struct probe_request bind = { "ChannelBind", TURN_METHOD_CHANNEL_BIND, .peer = &t->peer,
				      .channel = PROBE_CHANNEL };
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
		text = t->o->ipv6_relay ? PROBE_DEFAULT_PEER6 : PROBE_DEFAULT_PEER;
	if (turn_addr_parse(text, 0, &t->peer) < 0 || t->peer.port == 0) {
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
	struct probe_request del = { "Refresh", TURN_METHOD_REFRESH, .with_lifetime = true };
	struct stun_msg m;

	double start = probe_now_s();
	if (allocate(t) < 0)
		return 1;
	/* Challenge and authenticated Allocate together: what a client
	 * waits before it has a relay (the credential lookup included). */
	printf("allocate: %.3f ms\n", (probe_now_s() - start) * 1000.0);
	printf("relayed address: %s\n", turn_addr_format(&t->relayed, true, text, sizeof(text)));
	printf("mapped address: %s\n", turn_addr_format(&t->mapped, true, text, sizeof(text)));
	printf("lifetime: %u s\n", (unsigned)t->lifetime);
	printf("peer address: %s\n", turn_addr_format(&t->peer, true, text, sizeof(text)));
	fflush(stdout);
	long back = run_echoes(t);
	if (back >= 0)
		printf("%ld/%lu echoed over %s (channel 0x%04X)\n", back, t->o->count,
		       t->o->tcp ? "tcp" : "udp", PROBE_CHANNEL);
	/* RFC 8656 section 7.3: a Refresh with LIFETIME 0 deletes. */
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
	if (parse_peer(t) == 0) {
		t->fd = probe_connect(o);
		if (t->fd >= 0) {
			rc = session(t);
			close(t->fd);
		}
	}
	OPENSSL_cleanse(t->key, sizeof(t->key));
	free(t);
	return rc;
}
