/* The TURN core's test harness: fake io, fake clock, signing client. */
#include "turn_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- The fake struct turn_io ---- */

static struct fake_reservation *find_reservation(struct fake_io *f, uint64_t token)
{
	for (unsigned i = 0; i < f->n_res; i++)
		if (f->res[i].token == token && !f->res[i].claimed)
			return &f->res[i];
	return NULL;
}

/* A fresh port from the pool, even when asked, and port + 1 held back
 * for a RESERVATION-TOKEN when asked (RFC 8656 section 7.2). */
static int fresh_address(struct fake_io *f, const struct turn_relay_request *req,
			 struct turn_addr *a, uint64_t *token)
{
	uint16_t port = (uint16_t)(FAKE_PORT_BASE + f->ports);

	if (req->family == TURN_AF_INET6 && !f->ipv6)
		return TURN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED;
	*a = addr_of(req->family == TURN_AF_INET6 ? "[2001:db8::10]" : "192.0.2.10");
	if (req->even_port && port % 2)
		port++;
	a->port = port;
	f->ports = (unsigned)(port - FAKE_PORT_BASE + 1);
	if (req->reserve_next) {
		struct fake_reservation *r;
		if (f->n_res >= FAKE_MAX_RESERVATIONS)
			return TURN_ERR_INSUFFICIENT_CAPACITY;
		r = &f->res[f->n_res++];
		r->addr = *a;
		r->addr.port = (uint16_t)(port + 1);
		r->token = 0x5E5E000000000000ull + f->n_res;
		r->claimed = false;
		*token = r->token;
		f->ports++;
	}
	return 0;
}

static int fake_relay_open(void *ctx, const struct turn_relay_request *req,
			   struct turn_relay **relay, struct turn_addr *addr, uint64_t *token)
{
	struct fake_io *f = ctx;
	struct turn_addr a;

	f->origin_relay_open = req->origin;
	if (f->fail_code)
		return f->fail_code;
	if (f->n_relays >= FAKE_MAX_RELAYS)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	if (req->token) {
		struct fake_reservation *r = find_reservation(f, req->token);
		if (!r)
			return STUN_ERR_BAD_REQUEST;
		r->claimed = true;
		a = r->addr;
	} else {
		int rc = fresh_address(f, req, &a, token);
		if (rc)
			return rc;
	}
	struct turn_relay *r = &f->relays[f->n_relays++];
	r->addr = a;
	r->owner = req->owner;
	r->open = true;
	f->opens++;
	*relay = r;
	*addr = a;
	return 0;
}

static void fake_relay_close(void *ctx, struct turn_relay *relay)
{
	struct fake_io *f = ctx;

	if (!relay->open) {
		f->double_closes++;
		return;
	}
	relay->open = false;
	f->closes++;
}

static void fake_relay_send(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			    const uint8_t *data, size_t len)
{
	struct fake_io *f = ctx;

	if (f->n_sends < FAKE_MAX_SENDS) {
		struct fake_send *s = &f->sends[f->n_sends];
		s->relay = relay;
		s->peer = *peer;
		s->len = len;
		memcpy(s->data, data, len < sizeof(s->data) ? len : sizeof(s->data));
	}
	f->n_sends++;
}

static struct fake_tcp *fake_tcp_add(struct fake_io *f, const char *user)
{
	ck_assert_uint_lt(f->n_tcp, FAKE_MAX_TCP);
	struct fake_tcp *t = &f->tcp[f->n_tcp++];
	t->id = 0x7C000000u + f->n_tcp;
	snprintf(t->user, sizeof(t->user), "%s", user);
	t->waiting = t->open = true;
	return t;
}

struct fake_tcp *fake_tcp_find(struct fake_io *f, uint32_t id)
{
	for (unsigned i = 0; i < f->n_tcp; i++)
		if (f->tcp[i].id == id)
			return &f->tcp[i];
	return NULL;
}

uint32_t fake_tcp_incoming(struct fake_io *f, const struct turn_alloc *a)
{
	return fake_tcp_add(f, a->username)->id;
}

static int fake_tcp_connect(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			    uint32_t *id)
{
	struct fake_io *f = ctx;

	(void)peer;
	f->tcp_connects++;
	if (f->tcp_connect_code)
		return f->tcp_connect_code;
	*id = fake_tcp_add(f, relay->owner->username)->id;
	return 0;
}

static int fake_tcp_bind(void *ctx, uint32_t id, const char *user, void *origin)
{
	struct fake_tcp *t = fake_tcp_find(ctx, id);

	((struct fake_io *)ctx)->origin_tcp_bind = origin;
	if (!t || !t->open || !t->waiting)
		return STUN_ERR_BAD_REQUEST;
	if (strcmp(t->user, user) != 0)
		return TURN_ERR_WRONG_CREDENTIALS;
	t->waiting = false;
	return 0;
}

static void fake_tcp_close(void *ctx, uint32_t id)
{
	struct fake_io *f = ctx;
	struct fake_tcp *t = fake_tcp_find(f, id);

	ck_assert_ptr_nonnull(t);
	ck_assert(t->open);
	t->open = false;
	f->tcp_closes++;
}

static struct fake_user *find_user(struct fake_io *f, const char *user, bool add)
{
	for (unsigned i = 0; i < FAKE_MAX_USERS; i++)
		if (f->users[i].name[0] && strcmp(f->users[i].name, user) == 0)
			return &f->users[i];
	if (!add)
		return NULL;
	for (unsigned i = 0; i < FAKE_MAX_USERS; i++) {
		if (!f->users[i].name[0]) {
			snprintf(f->users[i].name, sizeof(f->users[i].name), "%s", user);
			return &f->users[i];
		}
	}
	return NULL;
}

static int fake_quota_take(void *ctx, const char *user, void *origin)
{
	struct fake_io *f = ctx;
	struct fake_user *u = find_user(f, user, true);

	f->origin_quota_take = origin;
	ck_assert_ptr_nonnull(u);
	if (f->shed)
		return STUN_ERR_TRY_ALTERNATE;
	if (f->user_limit && u->n >= f->user_limit)
		return TURN_ERR_ALLOCATION_QUOTA;
	if (f->total_limit && f->total >= f->total_limit)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	u->n++;
	f->total++;
	return 0;
}

static void fake_quota_give(void *ctx, const char *user)
{
	struct fake_io *f = ctx;
	struct fake_user *u = find_user(f, user, false);

	if (!u || u->n == 0 || f->total == 0) {
		f->quota_underflows++;
		return;
	}
	u->n--;
	f->total--;
}

static struct fake_sync *fake_sync_add(struct fake_io *f, const struct turn_alloc *a, int why)
{
	unsigned i = f->n_syncs++;

	if (i >= FAKE_MAX_SYNCS)
		return NULL;
	f->syncs[i] = (struct fake_sync){ .a = a, .why = why };
	return &f->syncs[i];
}

static void fake_alloc_sync(void *ctx, const struct turn_alloc *a, enum turn_sync why,
			    struct turn_traffic *carried)
{
	struct fake_io *f = ctx;

	fake_sync_add(f, a, (int)why);
	if (why == TURN_SYNC_CLOSING)
		*carried = f->carry;
}

static void fake_alloc_event(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
			     uint32_t lifetime)
{
	struct fake_sync *s;

	(void)lifetime;
	if (ev != TURN_ALLOC_DELETED || !(s = fake_sync_add(ctx, a, -1)))
		return;
	s->pkts_out = a->pkts_out;
	s->bytes_out = a->bytes_out;
	s->pkts_in = a->pkts_in;
	s->bytes_in = a->bytes_in;
	s->reason = a->close_reason;
}

unsigned fake_syncs(const struct fake_io *f, const struct turn_alloc *a, int why)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n_syncs && i < FAKE_MAX_SYNCS; i++)
		if ((!a || f->syncs[i].a == a) && f->syncs[i].why == why)
			n++;
	return n;
}

void fake_io_init(struct fake_io *f)
{
	memset(f, 0, sizeof(*f));
	f->io = (struct turn_io){
		.ctx = f,
		.relay_open = fake_relay_open,
		.relay_close = fake_relay_close,
		.relay_send = fake_relay_send,
		.quota_take = fake_quota_take,
		.quota_give = fake_quota_give,
		.alloc_event = fake_alloc_event,
		.alloc_sync = fake_alloc_sync,
		.tcp_connect = fake_tcp_connect,
		.tcp_bind = fake_tcp_bind,
		.tcp_close = fake_tcp_close,
	};
}

struct turn_relay *fake_relay_at(struct fake_io *f, const struct turn_addr *addr)
{
	for (unsigned i = 0; i < f->n_relays; i++)
		if (f->relays[i].open && turn_addr_eq(&f->relays[i].addr, addr))
			return &f->relays[i];
	return NULL;
}

unsigned fake_user_quota(const struct fake_io *f, const char *user)
{
	for (unsigned i = 0; i < FAKE_MAX_USERS; i++)
		if (strcmp(f->users[i].name, user) == 0)
			return f->users[i].n;
	return 0;
}

/* Both ends of every range the default policy refuses (SECURITY.md). */
const char *const denied_peers[] = {
	"0.0.0.0:5000", "0.255.255.255:5000", "127.0.0.0:5000", "127.255.255.255:5000",
	"10.0.0.0:5000", "10.255.255.255:5000", "172.16.0.0:5000", "172.31.255.255:5000",
	"192.168.0.0:5000", "192.168.255.255:5000", "100.64.0.0:5000", "100.127.255.255:5000",
	"169.254.0.0:5000", "169.254.255.255:5000", "169.254.169.254:80", "224.0.0.0:5000",
	"239.255.255.255:5000", "240.0.0.0:5000", "255.255.255.255:5000", "[::]:5000",
	"[::1]:5000", "[fc00::]:5000", "[fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:5000",
	"[fe80::]:5000", "[febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:5000", "[ff00::]:5000",
	"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:5000", "[fd00:ec2::254]:80",
	"[::ffff:127.0.0.1]:5000", "[::ffff:10.0.0.1]:5000", "[64:ff9b::a00:1]:5000",
	"[64:ff9b::7f00:1]:5000", "[64:ff9b:1::]:5000",
	"[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]:5000", "[2002::]:5000",
	"[2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:5000", "[2001::]:5000",
	"[2001:0:ffff:ffff:ffff:ffff:ffff:ffff]:5000",
};
const size_t n_denied_peers = sizeof(denied_peers) / sizeof(denied_peers[0]);

/* ---- The harness ---- */

void harness_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	fake_io_init(&h->io);
	h->policy = turn_policy_new(NULL);
	ck_assert_ptr_nonnull(h->policy);
	h->opt.realm = "turnd.test";
	memset(h->opt.nonce_secret, 0x42, sizeof(h->opt.nonce_secret));
	h->opt.policy = h->policy;
	h->opt.io = &h->io.io;
	h->opt.hash_seed = 7;
	h->now_ms = T0_MS;
}

void harness_start(struct harness *h)
{
	h->srv = turn_server_new(&h->opt);
	ck_assert_ptr_nonnull(h->srv);
}

void harness_up(struct harness *h)
{
	harness_init(h);
	harness_start(h);
}

void harness_reload_policy(struct harness *h, const struct turn_policy_options *opt)
{
	struct turn_policy *p = turn_policy_new(opt);

	ck_assert_ptr_nonnull(p);
	turn_server_set_policy(h->srv, p, h->now_ms);
	turn_policy_free(h->policy);
	h->policy = p;
}

void harness_deny(struct harness *h, const char *range)
{
	struct turn_addr_range r;

	ck_assert_int_eq(turn_addr_range_parse(range, &r), 0);
	harness_reload_policy(h, &(struct turn_policy_options){ .denied = &r, .n_denied = 1 });
}

void harness_down(struct harness *h)
{
	turn_server_free(h->srv);
	h->srv = NULL;
	turn_policy_free(h->policy);
	h->policy = NULL;
	ck_assert_uint_eq(h->io.opens, h->io.closes);
	ck_assert_uint_eq(h->io.double_closes, 0);
	ck_assert_uint_eq(h->io.total, 0);
	ck_assert_uint_eq(h->io.quota_underflows, 0);
	for (unsigned i = 0; i < FAKE_MAX_USERS; i++)
		ck_assert_uint_eq(h->io.users[i].n, 0);
}

void harness_advance(struct harness *h, uint64_t ms)
{
	h->now_ms += ms;
	turn_server_tick(h->srv, h->now_ms);
}

uint64_t answers(struct harness *h, const char *method, int code)
{
	const struct turn_server_stats *st = turn_server_stats(h->srv);

	for (unsigned mi = 0; mi < TURN_STATS_METHODS; mi++)
		for (unsigned ci = 0; ci < TURN_STATS_CODES; ci++)
			if (strcmp(turn_stats_method_name(mi), method) == 0 &&
			    turn_stats_code(ci) == code)
				return st->answers[mi][ci];
	ck_abort_msg("no counter for %s %d", method, code);
	return 0;
}

/* ---- The client ---- */

struct turn_addr addr_of(const char *text)
{
	struct turn_addr a;

	ck_assert_msg(turn_addr_parse(text, 0, &a) == 0, "bad address %s", text);
	return a;
}

static void client_setup(struct client *c, struct harness *h, const char *user, const char *pass,
			 const char *client, uint8_t transport)
{
	memset(c, 0, sizeof(*c));
	c->h = h;
	c->tuple.transport = transport;
	c->tuple.client = addr_of(client);
	c->tuple.local = addr_of("192.0.2.1:3478");
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->pass, sizeof(c->pass), "%s", pass);
	snprintf(c->store_pass, sizeof(c->store_pass), "%s", pass);
	c->cred_status = 1;
}

void client_init(struct client *c, struct harness *h, const char *user, const char *pass,
		 int host, uint16_t port)
{
	char text[64];

	snprintf(text, sizeof(text), "192.0.2.%d:%u", host, port);
	client_setup(c, h, user, pass, text, TURN_TRANSPORT_UDP);
}

void client_init_tcp(struct client *c, struct harness *h, const char *user, const char *pass,
		     int host, uint16_t port)
{
	char text[64];

	snprintf(text, sizeof(text), "192.0.2.%d:%u", host, port);
	client_setup(c, h, user, pass, text, TURN_TRANSPORT_TCP);
}

static void next_tid(struct client *c, uint8_t tid[STUN_TID_LEN])
{
	uint32_t s = ++c->seq;

	for (int i = 0; i < 4; i++)
		tid[i] = (uint8_t)(s >> (8 * i));
	tid[4] = c->tuple.client.ip[3];
	tid[5] = (uint8_t)(c->tuple.client.port >> 8);
	tid[6] = (uint8_t)c->tuple.client.port;
	memset(tid + 7, 0xA5, STUN_TID_LEN - 7);
}

struct stun_builder *client_begin_tid(struct client *c, uint16_t method, uint8_t cls,
				      const uint8_t tid[STUN_TID_LEN])
{
	memcpy(c->tid, tid, STUN_TID_LEN);
	stun_build_begin(&c->b, c->req, sizeof(c->req), method, cls, c->tid);
	return &c->b;
}

struct stun_builder *client_begin(struct client *c, uint16_t method)
{
	uint8_t tid[STUN_TID_LEN];

	next_tid(c, tid);
	return client_begin_tid(c, method, STUN_CLASS_REQUEST, tid);
}

void client_sign(struct client *c, int auth)
{
	static const uint16_t algs[] = { STUN_PWALG_MD5, STUN_PWALG_SHA256 };
	const char *realm = c->h->opt.realm;

	if (!(auth & (AUTH_MI | AUTH_SHA256)))
		return;
	stun_build_text(&c->b, STUN_ATTR_USERNAME, c->user);
	if (!(auth & AUTH_NO_REALM))
		stun_build_text(&c->b, STUN_ATTR_REALM, realm);
	if (!(auth & AUTH_NO_NONCE))
		stun_build_text(&c->b, STUN_ATTR_NONCE, c->nonce);
	if (auth & AUTH_SHA256) {
		uint8_t key[STUN_KEY_SHA256_LEN];
		ck_assert_int_eq(stun_key_sha256(c->user, realm, c->pass, key), 0);
		stun_build_pwalgs(&c->b, algs, 2);
		stun_build_pwalg(&c->b, STUN_PWALG_SHA256);
		stun_build_integrity_sha256(&c->b, key, sizeof(key), STUN_HMAC_SHA256_LEN);
	} else {
		uint8_t key[STUN_KEY_MD5_LEN];
		ck_assert_int_eq(stun_key_md5(c->user, realm, c->pass, key), 0);
		stun_build_integrity(&c->b, key, sizeof(key));
	}
}

/* What net/ finds in the credential store for the client's USERNAME. */
static void fill_credential(const struct client *c, struct turn_credential *cred)
{
	const char *realm = c->h->opt.realm;

	memset(cred, 0, sizeof(*cred));
	cred->status = c->cred_status;
	if (cred->status != 1)
		return;
	cred->username = c->user;
	cred->n_keys = 1;
	cred->has_sha256 = true;
	ck_assert_int_eq(stun_key_md5(c->user, realm, c->store_pass, cred->key_md5[0]), 0);
	ck_assert_int_eq(stun_key_sha256(c->user, realm, c->store_pass, cred->key_sha256[0]), 0);
}

/* The answer's code, and its NONCE kept for the next request. */
int client_read_answer(struct client *c, uint16_t method)
{
	if (c->reply.len == 0) {
		memset(&c->out, 0, sizeof(c->out));
		return -1;
	}
	int code = test_read_answer(&c->out, c->resp, c->reply.len, c->tid, c->nonce,
				    sizeof(c->nonce));
	ck_assert_uint_eq(c->out.method, method);
	return code;
}

int client_deliver_as(struct client *c, int auth, const struct client_delivery *how)
{
	struct turn_credential cred;
	struct stun_msg in;
	long n = stun_build_end(&c->b);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(stun_msg_parse(&in, c->req, (size_t)n), 0);
	fill_credential(c, &cred);
	struct turn_input input = {
		.msg = &in,
		.tuple = &c->tuple,
		.now_ms = c->h->now_ms,
		.authenticated = &c->authenticated,
		.origin = how ? how->origin : NULL,
	};
	/* As the daemon does: the entry point before the lookup, then again
	 * with the credential found. */
	if (how && how->pre_auth) {
		c->auth_stages[0] = turn_server_auth(c->h->srv, &input);
		c->auth_stages[1] = -2; /* not asked: no credential needed */
		if (c->auth_stages[0] == 0 && auth) {
			input.cred = &cred;
			c->auth_stages[1] = turn_server_auth(c->h->srv, &input);
		}
		if (how->forget_mac)
			input.mac_key = -1; /* a MAC the caller found wrong */
	}
	input.cred = auth ? &cred : NULL;
	c->reply = (struct turn_reply){ c->resp, sizeof(c->resp), 0 };
	c->rc = turn_server_handle(c->h->srv, &input, &c->reply);
	return client_read_answer(c, in.method);
}

int client_deliver(struct client *c, int auth)
{
	return client_deliver_as(c, auth, NULL);
}

int client_send(struct client *c, int auth)
{
	client_sign(c, auth);
	return client_deliver(c, auth);
}

void client_challenge(struct client *c)
{
	client_begin(c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	ck_assert_int_eq(client_send(c, AUTH_NONE), 401);
	ck_assert_uint_gt(strlen(c->nonce), 0);
}

int client_try_allocate(struct client *c, uint32_t lifetime, uint16_t fam_attr, uint8_t family)
{
	client_begin(c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	if (lifetime)
		stun_build_u32(&c->b, TURN_ATTR_LIFETIME, lifetime);
	if (fam_attr)
		stun_build_family(&c->b, fam_attr, family);
	int code = client_send(c, AUTH_MI);
	if (code != 0)
		return code;
	memset(c->relayed, 0, sizeof(c->relayed));
	for (int i = 0; i < 2; i++) {
		struct turn_addr a = resp_xor_addr(c, TURN_ATTR_XOR_RELAYED_ADDRESS, i);
		if (a.family)
			c->relayed[a.family == TURN_AF_INET6 ? 1 : 0] = a;
	}
	ck_assert(c->relayed[0].family || c->relayed[1].family);
	return 0;
}

void client_allocate(struct client *c, uint32_t lifetime)
{
	client_challenge(c);
	ck_assert_int_eq(client_try_allocate(c, lifetime, 0, 0), 0);
}

int client_permit(struct client *c, const char *peer)
{
	struct turn_addr p = addr_of(peer);

	client_begin(c, TURN_METHOD_CREATE_PERMISSION);
	stun_build_xor_addr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	return client_send(c, AUTH_MI);
}

int client_bind(struct client *c, uint16_t channel, const char *peer)
{
	struct turn_addr p = addr_of(peer);

	client_begin(c, TURN_METHOD_CHANNEL_BIND);
	stun_build_channel(&c->b, channel);
	stun_build_xor_addr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	return client_send(c, AUTH_MI);
}

int client_refresh(struct client *c, uint32_t lifetime)
{
	client_begin(c, TURN_METHOD_REFRESH);
	stun_build_u32(&c->b, TURN_ATTR_LIFETIME, lifetime);
	return client_send(c, AUTH_MI);
}

int client_send_ind(struct client *c, const char *peer, const void *data, size_t len)
{
	struct turn_addr p = addr_of(peer);
	uint8_t tid[STUN_TID_LEN];

	next_tid(c, tid);
	client_begin_tid(c, TURN_METHOD_SEND, STUN_CLASS_INDICATION, tid);
	stun_build_xor_addr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	stun_build_attr(&c->b, TURN_ATTR_DATA, data, len);
	ck_assert_int_eq(client_deliver(c, AUTH_NONE), -1); /* never answered */
	return c->rc;
}

int client_chandata(struct client *c, uint16_t channel, const void *data, size_t len)
{
	/* The header by hand, so any number can be sent (one out of range
	 * too); unpadded, as over UDP. */
	uint8_t *pkt = malloc(TURN_CHANDATA_HDR_LEN + len);

	ck_assert_ptr_nonnull(pkt);
	ck_assert_uint_le(len, 0xFFFF);
	pkt[0] = (uint8_t)(channel >> 8);
	pkt[1] = (uint8_t)channel;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	if (len)
		memcpy(pkt + TURN_CHANDATA_HDR_LEN, data, len);
	int rc = turn_server_chandata(c->h->srv, &c->tuple, pkt, TURN_CHANDATA_HDR_LEN + len,
				      c->h->now_ms);
	free(pkt);
	return rc;
}

struct turn_alloc *client_alloc(struct client *c)
{
	int i = c->relayed[0].family ? 0 : 1;
	struct turn_relay *r = fake_relay_at(&c->h->io, &c->relayed[i]);

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(r->owner);
	return r->owner;
}

int peer_send(struct client *c, const char *peer, const void *data, size_t len,
	      struct turn_reply *reply)
{
	struct turn_addr p = addr_of(peer);
	const struct turn_tuple *to = NULL;
	const struct turn_peer_event ev = { .alloc = client_alloc(c), .peer = &p, .data = data,
					    .len = len, .now_ms = c->h->now_ms };
	int rc = turn_server_peer_data(c->h->srv, &ev, reply, &to);

	if (rc == 0) {
		ck_assert_ptr_nonnull(to);
		ck_assert(turn_addr_eq(&to->client, &c->tuple.client));
		ck_assert_uint_eq(to->transport, c->tuple.transport);
		ck_assert_uint_gt(reply->len, 0);
	} else {
		ck_assert_uint_eq(reply->len, 0);
	}
	return rc;
}

/* ---- Reading answers ---- */

const struct stun_attr *resp_attr(const struct client *c, uint16_t type, int nth)
{
	for (uint8_t i = 0; i < c->out.n_attrs; i++)
		if (c->out.attrs[i].type == type && nth-- == 0)
			return &c->out.attrs[i];
	return NULL;
}

bool resp_has(const struct client *c, uint16_t type)
{
	return resp_attr(c, type, 0) != NULL;
}

uint32_t resp_u32(const struct client *c, uint16_t type)
{
	const struct stun_attr *a = resp_attr(c, type, 0);
	uint32_t v = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_u32(&c->out, a, &v), 0);
	return v;
}

struct turn_addr resp_xor_addr(const struct client *c, uint16_t type, int nth)
{
	const struct stun_attr *a = resp_attr(c, type, nth);
	struct turn_addr addr;

	memset(&addr, 0, sizeof(addr));
	if (a)
		ck_assert_int_eq(stun_attr_get_xor_addr(&c->out, a, &addr), 0);
	return addr;
}
