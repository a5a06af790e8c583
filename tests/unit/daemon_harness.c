/* The daemon's fake reactor: see daemon_harness.h. */
#include "daemon_harness.h"

#include <check.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/dispatch.h"
#include "daemon/reload.h"
#include "daemon/user_usage.h"
#include "daemon/worker_thread.h"
#include "net/peer_policy.h"
#include "stun/attr.h"
#include "stun/integrity.h"
#include "turn/policy.h"

#include "testutil.h"

/* ---- The scripted clock ---- */

static uint64_t dh_clock_us(void *ctx)
{
	return ((struct dh_clock *)ctx)->us;
}

static uint64_t dh_clock_wall(void *ctx)
{
	return ((struct dh_clock *)ctx)->wall_s;
}

void dh_advance(struct dh *h, uint64_t ms)
{
	h->clock.us += ms * 1000u;
	h->clock.wall_s = 1800000000u + (h->clock.us - 5000000000000ull) / 1000000u;
}

/* ---- Fake paths ---- */

static uint8_t *dh_path_slot(void *t)
{
	return ((struct dh_path *)t)->slot;
}

static void dh_path_push(void *t, size_t len, const struct turn_tuple *to)
{
	struct dh_path *p = t;

	(void)to;
	ck_assert_uint_le(len, sizeof(p->slot));
	memcpy(p->last, p->slot, len);
	p->last_len = len;
	p->sent++;
}

static void dh_path_send(void *t, const uint8_t *buf, size_t len, const struct turn_tuple *to)
{
	struct dh_path *p = t;

	(void)to;
	ck_assert_uint_le(len, sizeof(p->last));
	memcpy(p->last, buf, len);
	p->last_len = len;
	p->sent++;
}

static size_t dh_path_cap(const void *t, const struct turn_tuple *to)
{
	(void)t;
	(void)to;
	return WORKER_BIG_OUT;
}

static void dh_path_hold(void *t)
{
	((struct dh_path *)t)->holds++;
}

static void dh_path_release(void *t, bool stopping)
{
	(void)stopping;
	((struct dh_path *)t)->releases++;
}

static bool dh_path_retired(const void *t)
{
	return ((const struct dh_path *)t)->retired;
}

void dh_path_init(struct dh_path *p, enum net_path_kind kind)
{
	memset(p, 0, sizeof(*p));
	p->ops = (struct net_path_ops){
		.kind = kind, .slot = dh_path_slot, .slot_len = WORKER_SLOT,
		.push = dh_path_push, .send = dh_path_send, .cap = dh_path_cap,
		.hold = dh_path_hold, .release = dh_path_release, .retired = dh_path_retired,
	};
	p->path = (struct net_path){ &p->ops, p };
}

/* ---- The fake asynchronous backend ---- */

static struct dh_user *dh_backend_user(struct dh_backend *b, const uint8_t *name, size_t len)
{
	for (unsigned i = 0; i < b->n_users; i++)
		if (strlen(b->users[i].name) == len && memcmp(b->users[i].name, name, len) == 0)
			return &b->users[i];
	return NULL;
}

static int dh_backend_lookup(struct auth_backend *ab, const struct auth_query *q,
			     struct auth_credential *out)
{
	struct dh_backend *b = (struct dh_backend *)ab;
	struct dh_user *u = q->username ? dh_backend_user(b, q->username, q->len) : NULL;

	b->lookups++;
	if (!u)
		return AUTH_NOT_FOUND;
	if (b->async && !u->fetched) {
		if (!q->done || b->n_waiting >= DH_MAX_WAITING)
			return AUTH_ERROR;
		struct dh_waiting *wt = &b->waiting[b->n_waiting++];
		wt->done = q->done;
		wt->arg = q->arg;
		snprintf(wt->name, sizeof(wt->name), "%s", u->name);
		return AUTH_PENDING;
	}
	snprintf(out->username, sizeof(out->username), "%s", u->name);
	out->username_len = strlen(u->name);
	out->backend = "fake";
	out->limits.max_bps = u->max_bps;
	out->n_keys = 1;
	out->keys[0].has_sha256 = true;
	ck_assert_int_eq(stun_key_md5(u->name, DH_REALM, u->pass, out->keys[0].md5), 0);
	ck_assert_int_eq(stun_key_sha256(u->name, DH_REALM, u->pass, out->keys[0].sha256), 0);
	return AUTH_FOUND;
}

static void dh_backend_free(struct auth_backend *ab)
{
	free(ab);
}

static const struct auth_backend_ops dh_backend_ops = {
	.name = "fake",
	.lookup = dh_backend_lookup,
	.free = dh_backend_free,
};

void dh_backend_answer(struct dh_backend *b, const char *name)
{
	struct dh_user *u = dh_backend_user(b, (const uint8_t *)name, strlen(name));
	struct dh_waiting due[DH_MAX_WAITING];
	unsigned n = 0, keep = 0;

	ck_assert_ptr_nonnull(u);
	u->fetched = true;
	for (unsigned i = 0; i < b->n_waiting; i++) {
		if (strcmp(b->waiting[i].name, name) == 0)
			due[n++] = b->waiting[i];
		else
			b->waiting[keep++] = b->waiting[i];
	}
	b->n_waiting = keep;
	/* As a real backend does: from the loop, after its own bookkeeping. */
	for (unsigned i = 0; i < n; i++)
		due[i].done(due[i].arg, AUTH_FOUND);
}

static struct dh_backend *dh_backend_new(void)
{
	struct dh_backend *b = calloc(1, sizeof(*b));
	static const char *const names[] = { "alice", "bob" };

	ck_assert_ptr_nonnull(b);
	b->base.ops = &dh_backend_ops;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(b->users[i].name, sizeof(b->users[i].name), "%s", names[i]);
		snprintf(b->users[i].pass, sizeof(b->users[i].pass), "%s-pw", names[i]);
	}
	b->n_users = 2;
	return b;
}

/* ---- The worker ---- */

int dh_udp_socket(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static uint16_t dh_free_port(void)
{
	uint16_t port;
	int fd = dh_udp_socket(&port);

	close(fd);
	return port;
}

const char *dh_conf_text(const struct dh *h, bool listener, char *buf, size_t cap)
{
	char entry[96] = "";

	if (listener)
		snprintf(entry, sizeof(entry), "listener = { \"127.0.0.1:%u/udp\" }\n", h->port2);
	snprintf(buf, cap,
		 "listening-ip = { \"127.0.0.1\" }\nlistening-port = %u\nno-tcp = true\n"
		 "no-tls = true\nno-dtls = true\nrelay-ip = { \"127.0.0.1\" }\n"
		 "min-port = 40000\nmax-port = 60000\nrealm = \"" DH_REALM "\"\n"
		 "allowed-peer-ip = { \"127.0.0.1\" }\nallow-own-peers = true\n"
		 "relay-threads = 1\n%s",
		 h->port, entry);
	return buf;
}

/* What daemon.c shares with its workers, for one worker. */
static void dh_env(struct dh *h)
{
	char err[256] = "";

	h->snap = reload_snapshot_new(h->conf, false, 1);
	ck_assert_ptr_nonnull(h->snap);
	ck_assert_msg(relay_shared_init(&h->relay, h->conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(quota_init(&h->quota, h->conf), 0);
	ck_assert_msg(fleet_shared_init(&h->fleet, h->conf, err, sizeof(err)) == 0, "%s", err);
	h->policy = peer_policy_new(h->conf, NULL, &h->relay);
	ck_assert_ptr_nonnull(h->policy);
	ck_assert_int_eq(conn_gate_init(&h->gate, 0x5eed), 0);
	ck_assert_msg(tls_shared_init(&h->tls, h->conf, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < sizeof(h->nonce_secret); i++)
		h->nonce_secret[i] = (uint8_t)(i * 7 + 1);
}

void dh_up(struct dh *h, const char *extra, bool listener)
{
	char text[2048], err[256] = "";
	size_t n;

	memset(h, 0, sizeof(*h));
	h->clock = (struct dh_clock){ { dh_clock_us, dh_clock_wall, &h->clock },
				      5000000000000ull, 1800000000u };
	h->port = dh_free_port();
	h->port2 = listener ? dh_free_port() : 0;
	dh_conf_text(h, listener, text, sizeof(text));
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, "%s", extra ? extra : "");
	ck_assert_msg(conf_load_string(text, "daemon.conf", NULL, &h->conf, err, sizeof(err)) == 0,
		      "%s", err);
	dh_env(h);
	h->usage = user_usage_new(&(struct user_usage_opts){ .user_max_bps = h->conf->user_max_bps });
	ck_assert_ptr_nonnull(h->usage);
	const struct worker_env env = {
		.conf = h->conf, .snap = h->snap, .relay = &h->relay, .tls = &h->tls,
		.conn_gate = &h->gate, .fleet = &h->fleet, .quota = &h->quota,
		.policy = h->policy, .nonce_secret = h->nonce_secret, .hash_seed = 0x1234,
		.clock = &h->clock.io, .usage = h->usage,
	};
	h->w = worker_thread_new(0, &env, err, sizeof(err));
	ck_assert_msg(h->w != NULL, "worker_thread_new: %s", err);
	/* The worker's chain: the fake backend alone. */
	struct auth *chain = auth_new();
	h->backend = dh_backend_new();
	ck_assert_ptr_nonnull(chain);
	ck_assert_int_eq(auth_add(chain, &h->backend->base), 0);
	auth_free(h->w->auth);
	h->w->auth = chain;
}

void dh_down(struct dh *h)
{
	worker_thread_free(h->w);
	user_usage_free(h->usage); /* after the worker: its allocations detached */
	turn_policy_free(h->policy);
	listen_registry_fini(&h->listen);
	reload_snapshot_release(h->snap);
	fleet_shared_fini(&h->fleet);
	tls_shared_fini(&h->tls);
	relay_shared_fini(&h->relay);
	quota_fini(&h->quota);
	conn_gate_fini(&h->gate);
	conf_free(h->conf);
}

void dh_loop_once(struct dh *h)
{
	event_base_loop(h->w->nw.base, EVLOOP_NONBLOCK);
}

void dh_tick(struct dh *h)
{
	event_active(h->w->tick_ev, EV_TIMEOUT, 0);
	dh_loop_once(h);
}

/* ---- The client ---- */

void dh_client_init(struct dh_client *c, struct dh *h, const char *user, uint16_t port)
{
	char text[64];

	memset(c, 0, sizeof(*c));
	c->h = h;
	c->tuple.transport = TURN_TRANSPORT_UDP;
	snprintf(text, sizeof(text), "192.0.2.7:%u", port);
	ck_assert_int_eq(turn_addr_parse(text, 0, &c->tuple.client), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u", h->port);
	ck_assert_int_eq(turn_addr_parse(text, 0, &c->tuple.local), 0);
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->pass, sizeof(c->pass), "%s-pw", user);
}

struct stun_builder *dh_begin(struct dh_client *c, uint16_t method, uint8_t cls)
{
	uint32_t s = ++c->seq;

	for (int i = 0; i < 4; i++)
		c->tid[i] = (uint8_t)(s >> (8 * i));
	c->tid[4] = (uint8_t)(c->tuple.client.port >> 8);
	c->tid[5] = (uint8_t)c->tuple.client.port;
	memset(c->tid + 6, 0x5A, STUN_TID_LEN - 6);
	stun_build_begin(&c->b, c->req, sizeof(c->req), method, cls, c->tid);
	return &c->b;
}

void dh_sign(struct dh_client *c)
{
	const char *realm = c->realm ? c->realm : DH_REALM;
	uint8_t key[STUN_KEY_MD5_LEN];

	stun_build_text(&c->b, STUN_ATTR_USERNAME, c->user);
	stun_build_text(&c->b, STUN_ATTR_REALM, realm);
	stun_build_text(&c->b, STUN_ATTR_NONCE, c->nonce);
	ck_assert_int_eq(stun_key_md5(c->user, realm, c->pass, key), 0);
	stun_build_integrity(&c->b, key, sizeof(key));
}

size_t dh_end(struct dh_client *c)
{
	long n = stun_build_end(&c->b);

	ck_assert_int_gt(n, 0);
	c->req_len = (size_t)n;
	return c->req_len;
}

enum net_msg_result dh_deliver(struct dh_client *c, struct dh_path *p)
{
	dh_end(c);
	p->last_len = 0;
	return dispatch_up.message(c->h->w, c->req, c->req_len, &c->tuple, &p->path);
}

int dh_read(struct dh_client *c, size_t len)
{
	c->resp_len = len;
	return test_read_answer(&c->out, c->resp, len, c->tid, c->nonce, sizeof(c->nonce));
}

int dh_answer(struct dh_client *c, struct dh_path *p)
{
	if (p->last_len == 0)
		return -1;
	ck_assert_uint_le(p->last_len, sizeof(c->resp));
	memcpy(c->resp, p->last, p->last_len);
	return dh_read(c, p->last_len);
}

/* An Allocate request for UDP, signed when the client has a nonce. */
static void dh_build_allocate(struct dh_client *c, uint32_t lifetime)
{
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	if (lifetime)
		stun_build_u32(&c->b, TURN_ATTR_LIFETIME, lifetime);
	if (c->nonce[0])
		dh_sign(c);
}

int dh_allocate(struct dh_client *c, struct dh_path *p, uint32_t lifetime)
{
	if (!c->nonce[0]) {
		dh_build_allocate(c, lifetime);
		ck_assert_int_eq(dh_deliver(c, p), NET_MSG_DONE);
		ck_assert_int_eq(dh_answer(c, p), STUN_ERR_UNAUTHORIZED);
		ck_assert(c->nonce[0]);
	}
	dh_build_allocate(c, lifetime);
	ck_assert_int_eq(dh_deliver(c, p), NET_MSG_DONE);
	return dh_answer(c, p);
}

bool dh_decide(struct dh_client *c, struct dh_path *p, enum fleet_verdict v, bool *used)
{
	dh_end(c);
	p->last_len = 0;
	const struct worker_msg m = { c->req, c->req_len, &c->tuple, &p->path, 0, 0, v };
	return c->h->w->decide(c->h->w, &m, used);
}

/* ---- Real sockets ---- */

long dh_udp_wait(struct dh *h, int fd, uint8_t *buf, size_t cap)
{
	for (int i = 0; i < 2000; i++) {
		dh_loop_once(h);
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 1) == 1) {
			ssize_t n = recv(fd, buf, cap, 0);
			return n > 0 ? (long)n : -1;
		}
	}
	return -1;
}

int dh_udp_exchange(struct dh_client *c, int fd, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	dh_end(c);
	ck_assert_int_eq(sendto(fd, c->req, c->req_len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)c->req_len);
	long n = dh_udp_wait(c->h, fd, c->resp, sizeof(c->resp));
	if (n < 0)
		return -1;
	return dh_read(c, (size_t)n);
}

uint32_t dh_lifetime(const struct dh_client *c)
{
	const struct stun_attr *a = stun_msg_find(&c->out, TURN_ATTR_LIFETIME);
	uint32_t v = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_u32(&c->out, a, &v), 0);
	return v;
}
