/*
 * libFuzzer target for the TURN core's state machine (src/turn/): the
 * input is a program. Its first bytes choose the server's limits and how
 * the in-memory io behaves (fuzz_io.h); every later byte group is one
 * operation by one of five clients with fixed 5-tuples (UDP and TCP, IPv4
 * and IPv6): an Allocate, Refresh, CreatePermission, ChannelBind, Connect
 * or ConnectionBind request, a Send indication, ChannelData, data or ICMP
 * from a peer, a TCP relay event, the client's TCP connection closing,
 * the fake clock moving on, or raw bytes handed to the codec and the core
 * unmodified (so the parser stays reached).
 *
 * Requests are built well formed and signed as a real client signs them
 * (USERNAME, REALM, a valid NONCE, MESSAGE-INTEGRITY with the user's long-
 * term key, RFC 8489 section 9.2), so the fuzzer gets past 401; the input
 * chooses the other ways too (no credentials, a wrong key, another user,
 * SHA-256, a stale nonce). After every operation the core's tables are
 * checked against what the io saw (fz_check_state); at the end the clock
 * passes every lifetime and everything must be back to zero
 * (fz_check_empty). A violation calls abort().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_io.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "turn/nonce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CLIENTS 5
#define FZ_PEERS 9
#define FZ_REQ_CAP 2048
#define FZ_REPLY_CAP 8192 /* the largest payload and headers, with room */
#define FZ_PAYLOAD 4096
#define FZ_T0_MS 5000000ull
#define FZ_REALM "fuzz.test"

/* The credential store net/ asks before calling the core. */
struct fz_cred_entry {
	const char *user, *pass;
};
static const struct fz_cred_entry cred_store[] = {
	{ "alice", "alice-pw" }, { "bob", "bob-pw" }, { "carol", "carol-pw" },
};
#define FZ_N_STORE (sizeof(cred_store) / sizeof(cred_store[0]))
static const char *const quota_users[FZ_MAX_USERS] = { "alice", "bob", "carol", NULL };

struct fz_client {
	struct turn_tuple tuple;
	const char *user;
	char nonce[TURN_NONCE_BUFLEN];
	uint32_t seq;
	uint8_t tid[STUN_TID_LEN]; /* of the last request (retransmissions) */
};

struct fz {
	const uint8_t *in;
	size_t len, pos;
	uint64_t now_ms;
	bool store_down; /* lookups for carol fail (status -1) */
	bool shutdown;   /* the end frees the server with allocations live */
	struct turn_policy *policy;
	struct turn_policy *strict; /* also denies 198.51.100.0/24 */
	struct turn_server *srv;
	struct fz_io io;
	struct fz_client clients[FZ_CLIENTS];
	struct turn_addr peers[FZ_PEERS];
	struct turn_addr alternate;
	/* The request being built, and how it is signed. */
	struct stun_builder b;
	uint8_t req[FZ_REQ_CAP];
	uint8_t reply[FZ_REPLY_CAP];
	uint8_t payload[FZ_PAYLOAD];
};

/* ---- Reading the program ---- */

static uint8_t rd8(struct fz *z)
{
	return z->pos < z->len ? z->in[z->pos++] : 0;
}

static uint16_t rd16(struct fz *z)
{
	uint16_t hi = rd8(z);
	return (uint16_t)(hi << 8 | rd8(z));
}

static struct turn_addr addr_of(const char *text)
{
	struct turn_addr a;

	FZ_ASSERT(turn_addr_parse(text, 0, &a) == 0);
	return a;
}

/* A peer: documentation addresses the default policy allows (two ports of
 * one IP, a second IP, IPv6), refused ones (RFC 1918, loopback), and the
 * relayed address of some allocation (the hairpin). */
static struct turn_addr rd_peer(struct fz *z)
{
	uint8_t b = rd8(z);

	if (b % (FZ_PEERS + 1) == FZ_PEERS && z->io.n_relays > 0)
		return z->io.relays[(b / (FZ_PEERS + 1)) % z->io.n_relays].addr;
	return z->peers[b % FZ_PEERS];
}

static uint16_t rd_channel(struct fz *z)
{
	uint8_t b = rd8(z);

	/* Mostly a few valid numbers, so bindings collide; sometimes any. */
	return b < 0xF0 ? (uint16_t)(TURN_CHANNEL_MIN + b % 6) : rd16(z);
}

/* ---- Building, signing and delivering requests ---- */

static void begin(struct fz *z, struct fz_client *c, uint16_t method, uint8_t cls, bool again)
{
	if (!again) {
		uint32_t s = ++c->seq;
		memset(c->tid, 0xA5, sizeof(c->tid));
		memcpy(c->tid, &s, sizeof(s));
		c->tid[4] = (uint8_t)(c - z->clients);
	}
	stun_build_begin(&z->b, z->req, sizeof(z->req), method, cls, c->tid);
}

static const struct fz_cred_entry *store_find(const char *user, size_t len)
{
	for (size_t i = 0; i < FZ_N_STORE; i++)
		if (strlen(cred_store[i].user) == len && memcmp(cred_store[i].user, user, len) == 0)
			return &cred_store[i];
	return NULL;
}

/*
 * Sign as the auth byte says (RFC 8489 section 9.2.4): low 3 bits 0-3 the
 * client's user with MD5 keys, 4 with SHA-256, 5 nothing, 6 a wrong
 * password, 7 another user (alice, bob, carol, or mallory whom the store
 * does not know); 0x08 adds FINGERPRINT; 0x10 sends a forged nonce; 0x20
 * leaves REALM out.
 */
static void sign(struct fz *z, struct fz_client *c, uint8_t auth)
{
	static const uint16_t algs[] = { STUN_PWALG_MD5, STUN_PWALG_SHA256 };
	static const char *const others[] = { "alice", "bob", "carol", "mallory" };
	const char *user = c->user, *pass;
	int mode = auth & 7;

	if (mode == 5)
		goto fingerprint;
	if (mode == 7)
		user = others[(auth >> 6) & 3];
	const struct fz_cred_entry *e = store_find(user, strlen(user));
	pass = mode == 6 || !e ? "wrong" : e->pass;
	stun_build_text(&z->b, STUN_ATTR_USERNAME, user);
	if (!(auth & 0x20))
		stun_build_text(&z->b, STUN_ATTR_REALM, FZ_REALM);
	stun_build_text(&z->b, STUN_ATTR_NONCE, auth & 0x10 ? "forged-nonce-0123456789" : c->nonce);
	if (mode == 4) {
		uint8_t key[STUN_KEY_SHA256_LEN];
		FZ_ASSERT(stun_key_sha256(user, FZ_REALM, pass, key) == 0);
		stun_build_pwalgs(&z->b, algs, 2);
		stun_build_pwalg(&z->b, STUN_PWALG_SHA256);
		stun_build_integrity_sha256(&z->b, key, sizeof(key), STUN_HMAC_SHA256_LEN);
	} else {
		uint8_t key[STUN_KEY_MD5_LEN];
		FZ_ASSERT(stun_key_md5(user, FZ_REALM, pass, key) == 0);
		stun_build_integrity(&z->b, key, sizeof(key));
	}
fingerprint:
	if (auth & 0x08)
		stun_build_fingerprint(&z->b);
}

/* What net/ finds for the USERNAME (credential.c): the store's keys, "no
 * such user", or "store down"; NULL without USERNAME or USERHASH. */
static const struct turn_credential *lookup(struct fz *z, const struct stun_msg *m,
					    struct turn_credential *cred)
{
	const struct stun_attr *u = stun_msg_find(m, STUN_ATTR_USERNAME);
	const struct fz_cred_entry *e = NULL;

	memset(cred, 0, sizeof(*cred));
	if (!u && !stun_msg_find(m, STUN_ATTR_USERHASH))
		return NULL;
	if (u)
		e = store_find((const char *)stun_attr_value(m, u), u->len);
	if (!e)
		return cred; /* status 0 */
	if (z->store_down && strcmp(e->user, "carol") == 0) {
		cred->status = -1;
		return cred;
	}
	cred->status = 1;
	cred->username = e->user;
	cred->n_keys = 1;
	cred->has_sha256 = true;
	FZ_ASSERT(stun_key_md5(e->user, FZ_REALM, e->pass, cred->key_md5[0]) == 0);
	FZ_ASSERT(stun_key_sha256(e->user, FZ_REALM, e->pass, cred->key_sha256[0]) == 0);
	return cred;
}

/* A success to an authenticated TURN request is signed with the key the
 * request used (RFC 8489 section 9.2.4). */
static void check_signed(const struct stun_msg *r, const struct turn_credential *cred)
{
	FZ_ASSERT(cred && cred->status == 1);
	if (r->idx_integrity_sha256 >= 0)
		FZ_ASSERT(stun_msg_check_integrity_sha256(r, cred->key_sha256[0],
							  STUN_KEY_SHA256_LEN) == 1);
	else
		FZ_ASSERT(stun_msg_check_integrity(r, cred->key_md5[0], STUN_KEY_MD5_LEN) == 1);
}

/* Every answer parses, answers the request, and a NONCE in it is kept. */
static void check_answer(struct fz *z, struct fz_client *c, const struct stun_msg *req,
			 const struct turn_credential *cred, size_t len)
{
	struct stun_msg r;

	FZ_ASSERT(req->cls == STUN_CLASS_REQUEST);
	FZ_ASSERT(stun_msg_parse(&r, z->reply, len) == 0);
	FZ_ASSERT(r.method == req->method && memcmp(r.tid, req->tid, STUN_TID_LEN) == 0);
	FZ_ASSERT(r.cls == STUN_CLASS_SUCCESS || r.cls == STUN_CLASS_ERROR);
	if (r.cls == STUN_CLASS_SUCCESS && req->method != STUN_METHOD_BINDING)
		check_signed(&r, cred);
	/* FZ_TRACE=1 in the build: what each request got, to read a seed. */
#ifdef FZ_TRACE
	int code = 0;
	const struct stun_attr *e = stun_msg_find(&r, STUN_ATTR_ERROR_CODE);
	const uint8_t *reason;
	size_t rlen;
	if (e)
		stun_attr_get_error(&r, e, NULL, &code, &reason, &rlen);
	fprintf(stderr, "client %d method %#x: %d\n", (int)(c - z->clients), r.method, code);
#endif
	const struct stun_attr *n = stun_msg_find(&r, STUN_ATTR_NONCE);
	if (n && n->len < sizeof(c->nonce)) {
		memcpy(c->nonce, stun_attr_value(&r, n), n->len);
		c->nonce[n->len] = '\0';
	}
}

/* Hand a message of len bytes in buf to the core, as net/ does. */
static void deliver_bytes(struct fz *z, struct fz_client *c, const uint8_t *buf, size_t len)
{
	struct turn_credential cred_buf;
	struct stun_msg m;
	struct turn_addr from;

	if (stun_msg_parse(&m, buf, len) < 0) {
		if (turn_chandata_is_chandata(buf, len))
			turn_server_chandata(z->srv, &c->tuple, buf, len, z->now_ms);
		return;
	}
	const struct turn_credential *cred = lookup(z, &m, &cred_buf);
	struct turn_input in = { .msg = &m, .tuple = &c->tuple, .cred = cred, .now_ms = z->now_ms };
	struct turn_reply reply = { z->reply, sizeof(z->reply), 0 };
	turn_server_handle_from(z->srv, &in, &reply, &from);
	if (reply.len)
		check_answer(z, c, &m, cred, reply.len);
}

static void deliver(struct fz *z, struct fz_client *c)
{
	long n = stun_build_end(&z->b);

	if (n > 0)
		deliver_bytes(z, c, z->req, (size_t)n);
}

/* ---- Operations ---- */

static void op_allocate(struct fz *z, struct fz_client *c)
{
	uint8_t f = rd8(z), g = rd8(z);

	begin(z, c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, g & 1);
	if (!(g & 2))
		stun_build_transport(&z->b, g & 4 ? 99 : f & 1 ? TURN_TRANSPORT_TCP : TURN_TRANSPORT_UDP);
	switch ((f >> 1) & 3) {
	case 1:
		stun_build_family(&z->b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV4);
		break;
	case 2:
		stun_build_family(&z->b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
		break;
	case 3:
		stun_build_family(&z->b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
		break;
	}
	if (f & 0x08)
		stun_build_even_port(&z->b, f & 0x10);
	if (f & 0x20) /* the newest token, or one never issued */
		stun_build_u64(&z->b, TURN_ATTR_RESERVATION_TOKEN,
			       0x5E5E000000000000ull + z->io.n_tokens - (g >> 6));
	if (f & 0x40)
		stun_build_flag(&z->b, TURN_ATTR_DONT_FRAGMENT);
	if (f & 0x80)
		stun_build_u32(&z->b, TURN_ATTR_LIFETIME, (uint32_t)rd16(z) * (g & 8 ? 1000 : 1));
	sign(z, c, rd8(z));
	deliver(z, c);
}

static void op_refresh(struct fz *z, struct fz_client *c)
{
	uint8_t f = rd8(z);

	begin(z, c, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, false);
	if (f & 1)
		stun_build_u32(&z->b, TURN_ATTR_LIFETIME, f & 2 ? 0 : rd16(z));
	if (f & 4)
		stun_build_family(&z->b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
				  f & 8 ? STUN_FAMILY_IPV6 : STUN_FAMILY_IPV4);
	sign(z, c, rd8(z));
	deliver(z, c);
}

static void op_permission(struct fz *z, struct fz_client *c)
{
	uint8_t n = rd8(z) % 4;

	begin(z, c, TURN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST, false);
	for (uint8_t i = 0; i < n; i++) {
		struct turn_addr p = rd_peer(z);
		stun_build_xor_addr(&z->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	}
	sign(z, c, rd8(z));
	deliver(z, c);
}

static void op_channel_bind(struct fz *z, struct fz_client *c)
{
	uint8_t f = rd8(z);
	uint16_t number = rd_channel(z);
	struct turn_addr p = rd_peer(z);

	begin(z, c, TURN_METHOD_CHANNEL_BIND, STUN_CLASS_REQUEST, false);
	if (!(f & 1))
		stun_build_channel(&z->b, number);
	if (!(f & 2))
		stun_build_xor_addr(&z->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	sign(z, c, rd8(z));
	deliver(z, c);
}

/* Send and Data carry no credentials (RFC 8656 section 10). */
static void op_send(struct fz *z, struct fz_client *c)
{
	uint8_t f = rd8(z);
	struct turn_addr p = rd_peer(z);
	size_t len = rd16(z) % FZ_PAYLOAD;

	begin(z, c, TURN_METHOD_SEND, STUN_CLASS_INDICATION, false);
	if (!(f & 1))
		stun_build_xor_addr(&z->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	if (!(f & 2))
		stun_build_attr(&z->b, TURN_ATTR_DATA, z->payload, len);
	if (f & 4)
		stun_build_fingerprint(&z->b);
	deliver(z, c);
}

/* ChannelData as it arrives: any number, so the server's own channel
 * range (legacy_channels) decides. */
static void op_chandata(struct fz *z, struct fz_client *c)
{
	uint8_t pkt[TURN_CHANDATA_HDR_LEN + FZ_PAYLOAD];
	uint16_t channel = rd_channel(z);
	size_t len = rd16(z) % FZ_PAYLOAD;

	pkt[0] = (uint8_t)(channel >> 8);
	pkt[1] = (uint8_t)channel;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	memcpy(pkt + TURN_CHANDATA_HDR_LEN, z->payload, len);
	turn_server_chandata(z->srv, &c->tuple, pkt, TURN_CHANDATA_HDR_LEN + len, z->now_ms);
}

static struct turn_alloc *client_alloc(struct fz *z, const struct fz_client *c)
{
	return turn_alloc_find(&z->srv->allocs, &c->tuple);
}

/* What the core sends the client for a peer's datagram: a ChannelData
 * on the peer's channel, or a Data indication naming the peer. */
static void check_to_client(struct fz *z, const struct turn_alloc *a, const struct turn_addr *peer,
			    size_t len, size_t out)
{
	uint32_t now = (uint32_t)(z->now_ms / 1000);
	const struct turn_channel *ch = turn_channel_by_peer(a, peer, now);
	struct turn_chandata cd;
	struct stun_msg m;
	struct turn_addr named;

	if (ch) {
		size_t exact = a->tuple.transport == TURN_TRANSPORT_TCP ? ((len + 3) & ~(size_t)3) : len;
		FZ_ASSERT(out == TURN_CHANDATA_HDR_LEN + exact);
		FZ_ASSERT(turn_chandata_parse(z->reply, out, &cd) == 0);
		FZ_ASSERT(cd.channel == ch->number && cd.len == len);
		return;
	}
	FZ_ASSERT(stun_msg_parse(&m, z->reply, out) == 0);
	FZ_ASSERT(m.method == TURN_METHOD_DATA && m.cls == STUN_CLASS_INDICATION);
	const struct stun_attr *pa = stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS);
	FZ_ASSERT(pa && stun_attr_get_xor_addr(&m, pa, &named) == 0 && turn_addr_eq(&named, peer));
}

static void op_peer_data(struct fz *z, struct fz_client *c)
{
	struct turn_addr p = rd_peer(z);
	size_t len = rd16(z) % FZ_PAYLOAD;
	struct turn_alloc *a = client_alloc(z, c);
	struct turn_reply reply = { z->reply, sizeof(z->reply), 0 };
	const struct turn_tuple *to = NULL;

	if (!a || a->tcp)
		return; /* a TCP relay has no datagrams */
	const struct turn_peer_event ev = { .alloc = a, .peer = &p, .data = z->payload, .len = len,
					    .now_ms = z->now_ms };
	if (turn_server_peer_data(z->srv, &ev, &reply, &to) < 0) {
		FZ_ASSERT(reply.len == 0);
		return;
	}
	/* RFC 8656 section 10.3: only with a permission for the peer's IP. */
	FZ_ASSERT(turn_perm_valid(a, &p, (uint32_t)(z->now_ms / 1000)));
	FZ_ASSERT(to == &a->tuple && reply.len > 0);
	check_to_client(z, a, &p, len, reply.len);
}

static void op_icmp(struct fz *z, struct fz_client *c)
{
	struct turn_addr p = rd_peer(z);
	uint8_t type = rd8(z) % 12, code = rd8(z);
	struct turn_alloc *a = client_alloc(z, c);
	struct turn_reply reply = { z->reply, sizeof(z->reply), 0 };
	const struct turn_tuple *to = NULL;
	struct stun_msg m;

	if (!a || a->tcp)
		return;
	const struct turn_peer_event ev = { .alloc = a, .peer = &p, .type = type, .code = code,
					    .info = 1280, .now_ms = z->now_ms };
	if (turn_server_peer_icmp(z->srv, &ev, &reply, &to) < 0)
		return;
	FZ_ASSERT(turn_perm_valid(a, &p, (uint32_t)(z->now_ms / 1000)));
	FZ_ASSERT(to == &a->tuple && stun_msg_parse(&m, z->reply, reply.len) == 0);
	FZ_ASSERT(stun_msg_find(&m, TURN_ATTR_ICMP) != NULL);
}

/* Time passes; net/ runs the core's timer about once a second. */
static void advance(struct fz *z, uint64_t ms)
{
	z->now_ms += ms;
	z->io.in_tick = true;
	turn_server_tick(z->srv, z->now_ms);
	z->io.in_tick = false;
	fz_io_tick(&z->io);
}

static void op_advance(struct fz *z, struct fz_client *c)
{
	static const uint32_t scale[4] = { 10, 1000, 30000, 600000 };
	uint8_t b = rd8(z);

	(void)c;
	advance(z, (uint64_t)(b & 0x3F) * scale[b >> 6]);
}

static void op_connect(struct fz *z, struct fz_client *c)
{
	struct turn_addr p = rd_peer(z);

	begin(z, c, TURN_METHOD_CONNECT, STUN_CLASS_REQUEST, false);
	stun_build_xor_addr(&z->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	sign(z, c, rd8(z));
	deliver(z, c);
}

/* The nth open connection (of every kind when want_connecting is false,
 * else only those whose Connect waits), or NULL. */
static struct fz_tcp *nth_tcp(struct fz *z, uint8_t nth, bool want_connecting)
{
	unsigned n = 0;

	for (unsigned i = 0; i < z->io.n_tcp; i++)
		if (z->io.tcp[i].open && (!want_connecting || z->io.tcp[i].connecting))
			n++;
	for (unsigned i = 0; n && i < z->io.n_tcp; i++) {
		struct fz_tcp *t = &z->io.tcp[i];
		if (t->open && (!want_connecting || t->connecting) && nth-- % n == 0)
			return t;
	}
	return NULL;
}

/* A peer connects to the client's TCP relay (RFC 6062 section 5.3). */
static void tcp_incoming(struct fz *z, struct fz_client *c)
{
	struct turn_addr p = rd_peer(z);
	struct turn_alloc *a = client_alloc(z, c);
	struct turn_reply reply = { z->reply, sizeof(z->reply), 0 };

	if (!a || !a->tcp)
		return;
	struct fz_tcp *t = fz_tcp_new(&z->io, a, &p);
	if (!t)
		return;
	struct turn_tcp_event ev = { .alloc = a, .id = t->id, .peer = &p, .now_ms = z->now_ms };
	if (turn_server_tcp_incoming(z->srv, &ev, &reply) < 0) {
		t->open = false; /* refused: net/ closes it */
		return;
	}
	FZ_ASSERT(turn_perm_valid(a, &p, (uint32_t)(z->now_ms / 1000)));
}

static void op_tcp_event(struct fz *z, struct fz_client *c)
{
	uint8_t b = rd8(z);
	struct turn_reply reply = { z->reply, sizeof(z->reply), 0 };

	if (b % 3 == 0) {
		tcp_incoming(z, c);
		return;
	}
	struct fz_tcp *t = nth_tcp(z, rd8(z), b % 3 == 1);
	if (!t)
		return;
	struct turn_tcp_event ev = { .alloc = t->owner, .id = t->id, .now_ms = z->now_ms };
	if (b % 3 == 1) { /* the Connect's outcome */
		ev.code = b & 0x80 ? TURN_ERR_CONNECTION_TIMEOUT : 0;
		t->connecting = false;
		t->waiting = ev.code == 0;
		FZ_ASSERT(turn_server_tcp_connected(z->srv, &ev, &reply) == 0);
		if (ev.code)
			t->open = false;
		return;
	}
	t->open = t->waiting = t->connecting = false; /* closed by either end */
	turn_server_tcp_closed(z->srv, &ev);
}

static void op_connection_bind(struct fz *z, struct fz_client *c)
{
	uint8_t b = rd8(z);
	struct fz_tcp *t = nth_tcp(z, b, false);

	begin(z, c, TURN_METHOD_CONNECTION_BIND, STUN_CLASS_REQUEST, false);
	if (!(b & 0x80))
		stun_build_u32(&z->b, TURN_ATTR_CONNECTION_ID, t ? t->id : 0x7C000000u + b);
	sign(z, c, rd8(z));
	deliver(z, c);
}

/* A TCP client's connection closes (its allocation goes, RFC 8656
 * section 3.1); for a UDP client the operator reloads the configuration
 * instead: new per-allocation limits, and a peer policy that may now
 * refuse 198.51.100.0/24 (denied-peer-ip). */
static void op_client_closed(struct fz *z, struct fz_client *c)
{
	static const uint32_t max_lifetimes[4] = { 0, 60, 1800, 3600 };
	uint8_t r = rd8(z);

	if (c->tuple.transport == TURN_TRANSPORT_TCP) {
		turn_server_client_closed(z->srv, &c->tuple);
		return;
	}
	turn_server_set_limits(z->srv, max_lifetimes[(r >> 5) & 3], r % 5, (r >> 3) % 5,
			       (r >> 2) % 4);
	fz_io_limits(&z->io, z->srv);
	const struct turn_policy *p = r & 0x80 ? z->strict : z->policy;
	turn_server_set_policy(z->srv, p, z->now_ms);
	z->io.policy = p;
}

static void op_binding(struct fz *z, struct fz_client *c)
{
	uint8_t f = rd8(z);

	begin(z, c, STUN_METHOD_BINDING, f & 1 ? STUN_CLASS_INDICATION : STUN_CLASS_REQUEST, false);
	if (f & 2)
		stun_build_fingerprint(&z->b);
	deliver(z, c);
}

/* Bytes from the input, unmodified: STUN or ChannelData or neither. */
static void op_raw(struct fz *z, struct fz_client *c)
{
	size_t n = rd16(z) % 1024;

	if (n > z->len - z->pos)
		n = z->len - z->pos;
	deliver_bytes(z, c, z->in + z->pos, n);
	z->pos += n;
}

/* A request or indication of any method with attributes from the input,
 * then signed: the attribute readers behind authentication. */
static void op_signed_raw(struct fz *z, struct fz_client *c)
{
	uint16_t method = rd8(z) % 16;
	uint8_t f = rd8(z);

	begin(z, c, method, f & 1 ? STUN_CLASS_INDICATION : STUN_CLASS_REQUEST, false);
	for (int i = (f >> 1) & 3; i >= 0; i--) {
		uint16_t type = rd16(z);
		size_t n = rd8(z) % 40;
		if (n > z->len - z->pos)
			n = z->len - z->pos;
		stun_build_attr(&z->b, type, z->in + z->pos, n);
		z->pos += n;
	}
	sign(z, c, rd8(z));
	deliver(z, c);
}

typedef void (*fz_op)(struct fz *z, struct fz_client *c);
static const fz_op ops[16] = {
	op_allocate, op_refresh,   op_permission,      op_channel_bind,
	op_send,     op_chandata,  op_peer_data,       op_advance,
	op_connect,  op_tcp_event, op_connection_bind, op_client_closed,
	op_binding,  op_raw,       op_signed_raw,      op_icmp,
};

/* ---- Set-up, the run, and the end ---- */

static void client_init(struct fz *z, int i, const char *user, uint8_t transport,
			const char *client, const char *local)
{
	struct fz_client *c = &z->clients[i];

	c->user = user;
	c->tuple.transport = transport;
	c->tuple.client = addr_of(client);
	c->tuple.local = addr_of(local);
	/* The nonce a first 401 would have given it. */
	FZ_ASSERT(turn_nonce_make(&z->srv->nonce, &c->tuple.client, (uint32_t)(z->now_ms / 1000),
				  c->nonce, sizeof(c->nonce)) > 0);
}

static void setup_peers(struct fz *z)
{
	static const char *const text[FZ_PEERS] = {
		"198.51.100.1:5000", "198.51.100.1:6000", "198.51.100.2:5000",
		"203.0.113.9:7000",  "[2001:db8::5]:5000", "[2001:db8::6]:6000",
		"10.0.0.1:5000",     "127.0.0.1:5000",    "[::1]:5000",
	};

	for (int i = 0; i < FZ_PEERS; i++)
		z->peers[i] = addr_of(text[i]);
	z->alternate = addr_of("192.0.2.99:3478");
}

/* The first five bytes: the server's limits and the io's behaviour. */
static void configure(struct fz *z, struct turn_server_options *o)
{
	static const uint32_t lifetimes[4] = { 0, 60, 600, 1200 };
	static const uint32_t max_lifetimes[4] = { 0, 60, 1800, 3600 };
	static const uint64_t bps[4] = { 0, 0, 2000, 100000 };
	static const int fail[8] = { 0, 0, 0, 0, 0, 0, TURN_ERR_INSUFFICIENT_CAPACITY,
				     TURN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED };
	uint8_t b0 = rd8(z), b1 = rd8(z), b2 = rd8(z), b3 = rd8(z), b4 = rd8(z);

	o->realm = FZ_REALM;
	memset(o->nonce_secret, 0x5A, sizeof(o->nonce_secret));
	o->nonce_lifetime = b0 & 0x80 ? 60 : 0;
	o->software = b0 & 1 ? "turnd-fuzz" : NULL;
	o->legacy_channels = b0 & 2;
	o->alternates = b0 & 4 ? &z->alternate : NULL;
	o->n_alternates = b0 & 4 ? 1 : 0;
	o->max_permissions = b1 % 5;
	o->max_channels = (b1 >> 3) % 5;
	o->max_tcp_connections = (b1 >> 6) % 4;
	o->default_lifetime = lifetimes[b3 & 3];
	o->max_lifetime = max_lifetimes[(b3 >> 2) & 3];
	o->max_bps = bps[(b3 >> 4) & 3];
	o->hash_seed = b4;
	z->shutdown = b4 & 2;
	z->io.ipv6 = !(b0 & 8);
	z->io.shed = (b0 & 0x70) == 0x70;
	z->store_down = b0 & 0x10;
	z->io.user_limit = b2 % 4;
	z->io.total_limit = (b2 >> 2) % 6;
	z->io.fail_code = fail[(b2 >> 5) & 7];
	z->io.tcp_connect_code = b3 & 0x40 ? (b3 & 0x80 ? TURN_ERR_INSUFFICIENT_CAPACITY
						    : TURN_ERR_CONNECTION_TIMEOUT) : 0;
	if (b4 & 1) /* no RFC 6062: TCP allocations get 442 */
		z->io.io.tcp_connect = NULL;
}

static void start(struct fz *z, const uint8_t *data, size_t size)
{
	struct turn_server_options o;

	memset(&o, 0, sizeof(o));
	z->in = data;
	z->len = size;
	z->now_ms = FZ_T0_MS;
	struct turn_addr_range deny;
	FZ_ASSERT(turn_addr_range_parse("198.51.100.0/24", &deny) == 0);
	struct turn_policy_options strict = { .denied = &deny, .n_denied = 1 };
	z->policy = turn_policy_new(NULL);
	z->strict = turn_policy_new(&strict);
	FZ_ASSERT(z->policy != NULL && z->strict != NULL);
	fz_io_init(&z->io, z->policy, &z->now_ms, quota_users);
	setup_peers(z);
	configure(z, &o);
	o.policy = z->policy;
	o.io = &z->io.io;
	z->srv = turn_server_new(&o);
	FZ_ASSERT(z->srv != NULL);
	z->io.srv = z->srv;
	fz_io_limits(&z->io, z->srv);
	for (size_t i = 0; i < sizeof(z->payload); i++)
		z->payload[i] = (uint8_t)(i * 7);
	client_init(z, 0, "alice", TURN_TRANSPORT_UDP, "192.0.2.20:40000", "192.0.2.1:3478");
	client_init(z, 1, "alice", TURN_TRANSPORT_UDP, "192.0.2.20:40001", "192.0.2.1:3478");
	client_init(z, 2, "bob", TURN_TRANSPORT_TCP, "192.0.2.21:40002", "192.0.2.1:3478");
	client_init(z, 3, "bob", TURN_TRANSPORT_UDP, "[2001:db8::20]:40003", "[2001:db8::1]:3478");
	client_init(z, 4, "bob", TURN_TRANSPORT_TCP, "192.0.2.21:40004", "192.0.2.1:3478");
}

/* Past every lifetime (allocations at most max-lifetime, reservations
 * 30 s), in two steps as a paused worker would see it, nothing is left.
 * Or the server shuts down with its allocations live: turn_server_free
 * gives everything back (server.h). */
static void finish(struct fz *z)
{
	uint64_t past = ((uint64_t)z->io.loosest_lifetime + 2) * 1000;

	if (!z->shutdown) {
		advance(z, past / 2);
		fz_check_state(z->srv, &z->io, z->now_ms);
		advance(z, past - past / 2 + FZ_RESERVATION_MS);
		fz_check_state(z->srv, &z->io, z->now_ms);
		fz_check_empty(z->srv, &z->io);
	}
	turn_server_free(z->srv);
	FZ_ASSERT(z->io.open_relays == 0 && z->io.total == 0);
	FZ_ASSERT(z->io.created == z->io.deleted);
	for (unsigned i = 0; i < z->io.n_tcp; i++)
		FZ_ASSERT(!z->io.tcp[i].open);
	for (unsigned i = 0; i < FZ_MAX_USERS; i++)
		FZ_ASSERT(z->io.users[i].n == 0);
	turn_policy_free(z->policy);
	turn_policy_free(z->strict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *z = calloc(1, sizeof(*z));

	if (!z)
		return 0;
	start(z, data, size);
	while (z->pos < z->len) {
		uint8_t b = rd8(z);
		ops[b & 15](z, &z->clients[(b >> 4) % FZ_CLIENTS]);
		fz_check_state(z->srv, &z->io, z->now_ms);
	}
	finish(z);
	free(z);
	return 0;
}
