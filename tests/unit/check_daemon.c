/*
 * Unit tests for src/daemon/ on the fake reactor (daemon_harness.h): a
 * whole worker, driven by the test through its message hook, its decide
 * function, its tick and its loop, on a scripted clock.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/dispatch.h"
#include "daemon/quota.h"
#include "daemon_harness.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "testutil.h"

/* ---- 1. Dispatch ---- */

START_TEST(binding_answered_on_its_path)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p, other;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_path_init(&other, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	dh_begin(&c, STUN_METHOD_BINDING, STUN_CLASS_REQUEST);
	ck_assert_int_eq(dh_deliver(&c, &p), NET_MSG_DONE);
	ck_assert_uint_eq(p.sent, 1);
	ck_assert_uint_eq(other.sent, 0);
	ck_assert_int_eq(dh_answer(&c, &p), 0);
	ck_assert_uint_eq(c.out.method, STUN_METHOD_BINDING);
	const struct stun_attr *a = stun_msg_find(&c.out, STUN_ATTR_XOR_MAPPED_ADDRESS);
	struct turn_addr mapped;
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_xor_addr(&c.out, a, &mapped), 0);
	ck_assert(turn_addr_eq(&mapped, &c.tuple.client));
	ck_assert_uint_eq(h.backend->lookups, 0);
	dh_down(&h);
}
END_TEST

START_TEST(malformed_and_unbound_dropped)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p;
	uint8_t junk[20] = { 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42 };
	uint8_t cd[8] = { 0x40, 0x01, 0x00, 0x04, 'd', 'a', 't', 'a' };

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	/* A STUN header announcing 8 bytes of attributes it does not carry
	 * (RFC 8489 section 6.3). */
	ck_assert_int_eq(dispatch_up.message(h.w, junk, sizeof(junk), &c.tuple, &p.path),
			 NET_MSG_DONE);
	/* ChannelData on a channel nobody bound (RFC 8656 section 12.4). */
	ck_assert_int_eq(dispatch_up.message(h.w, cd, sizeof(cd), &c.tuple, &p.path),
			 NET_MSG_DONE);
	ck_assert_uint_eq(p.sent, 0);
	ck_assert_uint_eq(h.w->stats.chandata_dropped, 1);
	ck_assert_uint_eq(h.backend->lookups, 0);
	dh_down(&h);
}
END_TEST

/* A request that fails the checks needing no credential is answered
 * without a backend lookup (RFC 8489 section 9.2.4). */
START_TEST(stateless_checks_before_backend)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	/* The 401 gives a nonce: no MESSAGE-INTEGRITY, no lookup. */
	dh_begin(&c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c.b, TURN_TRANSPORT_UDP);
	ck_assert_int_eq(dh_deliver(&c, &p), NET_MSG_DONE);
	ck_assert_int_eq(dh_answer(&c, &p), STUN_ERR_UNAUTHORIZED);
	/* A foreign realm: 401. */
	c.realm = "elsewhere.test";
	dh_begin(&c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c.b, TURN_TRANSPORT_UDP);
	dh_sign(&c);
	ck_assert_int_eq(dh_deliver(&c, &p), NET_MSG_DONE);
	ck_assert_int_eq(dh_answer(&c, &p), STUN_ERR_UNAUTHORIZED);
	ck_assert_uint_eq(h.w->stats.auth_refused_early, 1);
	/* The nonce past its lifetime (600 s): 438. */
	c.realm = NULL;
	dh_advance(&h, 601 * 1000);
	dh_begin(&c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c.b, TURN_TRANSPORT_UDP);
	dh_sign(&c);
	ck_assert_int_eq(dh_deliver(&c, &p), NET_MSG_DONE);
	ck_assert_int_eq(dh_answer(&c, &p), STUN_ERR_STALE_NONCE);
	ck_assert_uint_eq(h.w->stats.auth_refused_early, 2);
	ck_assert_uint_eq(h.backend->lookups, 0);
	/* With the fresh nonce the same request reaches the backend. */
	ck_assert_int_eq(dh_allocate(&c, &p, 0), 0);
	ck_assert_uint_eq(h.backend->lookups, 1);
	dh_down(&h);
}
END_TEST

static unsigned bindings_answered(struct dh *h, enum net_path_kind kind, unsigned n)
{
	struct dh_client c;
	struct dh_path p;

	dh_path_init(&p, kind);
	dh_client_init(&c, h, "alice", kind == NET_PATH_UDP ? 5000 : 5001);
	for (unsigned i = 0; i < n; i++) {
		dh_begin(&c, STUN_METHOD_BINDING, STUN_CLASS_REQUEST);
		ck_assert_int_eq(dh_deliver(&c, &p), NET_MSG_DONE);
	}
	return p.sent;
}

/* unauth-rate: over UDP, where the source may be spoofed, answers to
 * requests that did not authenticate are limited per source; over TCP
 * they are not. */
START_TEST(unauth_rate_udp_only)
{
	struct dh h;

	dh_up(&h, "unauth-rate = 1\nunauth-burst = 2\n", false);
	ck_assert_uint_eq(bindings_answered(&h, NET_PATH_UDP, 5), 2);
	ck_assert_uint_eq(h.w->stats.unauth_suppressed, 3);
	ck_assert_uint_eq(bindings_answered(&h, NET_PATH_TCP, 5), 5);
	ck_assert_uint_eq(h.w->stats.unauth_suppressed, 3);
	dh_down(&h);
}
END_TEST

/* ---- 2. Park and resume ---- */

/* An Allocate for a user the backend must fetch: parked. */
static void park_allocate(struct dh *h, struct dh_client *c, struct dh_path *p)
{
	h->backend->async = true;
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	ck_assert_int_eq(dh_deliver(c, p), NET_MSG_DONE);
	ck_assert_int_eq(dh_answer(c, p), STUN_ERR_UNAUTHORIZED);
	p->sent = 0;
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	dh_sign(c);
	ck_assert_int_eq(dh_deliver(c, p), NET_MSG_PARKED);
	ck_assert_uint_eq(p->sent, 0);
	ck_assert_uint_eq(h->w->n_pending, 1);
	ck_assert_uint_eq(h->backend->n_waiting, 1);
}

START_TEST(parked_then_answered)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	park_allocate(&h, &c, &p);
	uint64_t hist[WORKER_ALLOC_BUCKETS + 1], sum = h.w->alloc_sum_us;
	memcpy(hist, h.w->alloc_hist, sizeof(hist));
	/* "Redis" answers 30 ms later. */
	dh_advance(&h, 30);
	dh_backend_answer(h.backend, "alice");
	ck_assert_uint_eq(h.w->n_pending, 0);
	ck_assert_uint_eq(p.sent, 1);
	ck_assert_int_eq(dh_answer(&c, &p), 0);
	ck_assert(stun_msg_find(&c.out, TURN_ATTR_XOR_RELAYED_ADDRESS) != NULL);
	ck_assert_uint_eq(p.holds, 1);
	ck_assert_uint_eq(turn_server_stats(h.w->srv)->allocations, 1);
	/* The Allocate latency histogram counts the wait: 30 ms is in the
	 * (25 ms, 50 ms] bucket (the 401 before was counted at 0). */
	unsigned bucket = 0;
	while (worker_alloc_bounds_us[bucket] < 30000)
		bucket++;
	ck_assert_uint_eq(worker_alloc_bounds_us[bucket], 50000);
	for (unsigned i = 0; i <= WORKER_ALLOC_BUCKETS; i++)
		ck_assert_uint_eq(h.w->alloc_hist[i] - hist[i], (i == bucket ? 1u : 0u));
	ck_assert_uint_eq(h.w->alloc_sum_us - sum, 30000);
	dh_down(&h);
}
END_TEST

START_TEST(parked_path_gone_not_answered)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p, other;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_TCP);
	dh_path_init(&other, NET_PATH_TCP);
	dh_client_init(&c, &h, "alice", 4000);
	park_allocate(&h, &c, &p);
	/* Another connection going changes nothing; this one going does. */
	dispatch_up.path_gone(h.w, &other);
	dispatch_up.path_gone(h.w, &p);
	dh_backend_answer(h.backend, "alice");
	ck_assert_uint_eq(h.w->n_pending, 0);
	ck_assert_uint_eq(p.sent, 0);
	ck_assert_uint_eq(p.holds, 0);
	ck_assert_uint_eq(turn_server_stats(h.w->srv)->allocations, 0);
	dh_down(&h);
}
END_TEST

/* ---- 3. Quotas with the fleet verdict ---- */

/* A signed Allocate from c (which has a nonce), through dispatch_decide
 * with verdict v and no parking: the code, and whether the verdict was
 * used. */
static int decide_allocate(struct dh_client *c, struct dh_path *p, enum fleet_verdict v,
			   bool *used)
{
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	dh_sign(c);
	ck_assert(!dh_decide(c, p, v, used));
	return dh_answer(c, p);
}

static void get_nonce(struct dh_client *c, struct dh_path *p)
{
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	ck_assert_int_eq(dh_deliver(c, p), NET_MSG_DONE);
	ck_assert_int_eq(dh_answer(c, p), STUN_ERR_UNAUTHORIZED);
}

START_TEST(fleet_verdict)
{
	struct dh h;
	struct dh_client c, d;
	struct dh_path p, q;
	bool used = true;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_path_init(&q, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	dh_client_init(&d, &h, "alice", 4001);
	get_nonce(&c, &p);
	get_nonce(&d, &q);
	/* The fleet says alice holds her quota elsewhere: 486. */
	ck_assert_int_eq(decide_allocate(&c, &p, FLEET_REFUSED, &used), TURN_ERR_ALLOCATION_QUOTA);
	ck_assert(!used);
	ck_assert_uint_eq(quota_total(&h.quota), 0);
	/* Granted: allocated, and the verdict reported used. */
	ck_assert_int_eq(decide_allocate(&c, &p, FLEET_GRANTED, &used), 0);
	ck_assert(used);
	ck_assert_uint_eq(quota_total(&h.quota), 1);
	/* A failed Allocate (437: this 5-tuple has one) did not use it. */
	used = true;
	ck_assert_int_eq(decide_allocate(&c, &p, FLEET_GRANTED, &used),
			 TURN_ERR_ALLOCATION_MISMATCH);
	ck_assert(!used);
	/* No verdict (Redis not asked): the local quota alone decides. */
	ck_assert_int_eq(decide_allocate(&d, &q, FLEET_NONE, &used), 0);
	ck_assert_uint_eq(quota_total(&h.quota), 2);
	dh_down(&h);
}
END_TEST

START_TEST(user_and_total_quota)
{
	struct dh h;
	struct dh_client a1, a2, b;
	struct dh_path p1, p2, p3;

	dh_up(&h, "user-quota = 1\ntotal-quota = 2\n", false);
	dh_path_init(&p1, NET_PATH_UDP);
	dh_path_init(&p2, NET_PATH_UDP);
	dh_path_init(&p3, NET_PATH_UDP);
	dh_client_init(&a1, &h, "alice", 4000);
	dh_client_init(&a2, &h, "alice", 4001);
	dh_client_init(&b, &h, "bob", 4002);
	ck_assert_int_eq(dh_allocate(&a1, &p1, 0), 0);
	ck_assert_int_eq(dh_allocate(&a2, &p2, 0), TURN_ERR_ALLOCATION_QUOTA);
	ck_assert_int_eq(dh_allocate(&b, &p3, 0), 0);
	ck_assert_uint_eq(quota_total(&h.quota), 2);
	/* Past total-quota: 508, whoever asks. */
	quota_set_limits(&h.quota, 5, 2);
	ck_assert_int_eq(dh_allocate(&a2, &p2, 0), TURN_ERR_INSUFFICIENT_CAPACITY);
	quota_set_limits(&h.quota, 5, 3);
	ck_assert_int_eq(dh_allocate(&a2, &p2, 0), 0);
	ck_assert_uint_eq(quota_total(&h.quota), 3);
	dh_down(&h);
}
END_TEST

/* The request's path reaches turn_io: one on a retired listener gets 300
 * with ALTERNATE-SERVER (RFC 8489 section 10), or 508 without one. */
START_TEST(retired_path_origin)
{
	struct dh h;
	struct dh_client c, d;
	struct dh_path p, live;

	dh_up(&h, "alternate-server = { \"192.0.2.50:3478\" }\n", false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_path_init(&live, NET_PATH_UDP);
	p.retired = true;
	dh_client_init(&c, &h, "alice", 4000);
	dh_client_init(&d, &h, "alice", 4001);
	ck_assert_int_eq(dh_allocate(&c, &p, 0), STUN_ERR_TRY_ALTERNATE);
	ck_assert(stun_msg_find(&c.out, STUN_ATTR_ALTERNATE_SERVER) != NULL);
	ck_assert_int_eq(dh_allocate(&d, &live, 0), 0);
	ck_assert_uint_eq(live.holds, 1);
	ck_assert_uint_eq(p.holds, 0);
	dh_down(&h);

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	p.retired = true;
	dh_client_init(&c, &h, "alice", 4000);
	ck_assert_int_eq(dh_allocate(&c, &p, 0), TURN_ERR_INSUFFICIENT_CAPACITY);
	ck_assert_uint_eq(quota_total(&h.quota), 0);
	dh_down(&h);
}
END_TEST

/* ---- 4. Listener reload ---- */

static void udp_permit(struct dh_client *c, int fd, uint16_t port, const struct turn_addr *peer)
{
	dh_begin(c, TURN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST);
	stun_build_xor_addr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
	dh_sign(c);
	ck_assert_int_eq(dh_udp_exchange(c, fd, port), 0);
}

static int udp_allocate(struct dh_client *c, int fd, uint16_t port)
{
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	ck_assert_int_eq(dh_udp_exchange(c, fd, port), STUN_ERR_UNAUTHORIZED);
	dh_begin(c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	dh_sign(c);
	return dh_udp_exchange(c, fd, port);
}

/* A Send indication from c to peer; what the peer socket receives. */
static void udp_relay_to_peer(struct dh_client *c, int fd, uint16_t port,
			      const struct turn_addr *peer, int peer_fd)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t got[64];

	dh_begin(c, TURN_METHOD_SEND, STUN_CLASS_INDICATION);
	stun_build_xor_addr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_build_attr(&c->b, TURN_ATTR_DATA, "hello", 5);
	dh_end(c);
	ck_assert_int_eq(sendto(fd, c->req, c->req_len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)c->req_len);
	ck_assert_int_eq(dh_udp_wait(c->h, peer_fd, got, sizeof(got)), 5);
	ck_assert_mem_eq(got, "hello", 5);
}

/* Main thread's part of a reload that drops the 'listener' entry, then
 * the worker's. */
static void reload_without_listener(struct dh *h, struct conf **next)
{
	char text[2048], err[256] = "";
	struct listen_change *changes[1] = { NULL };

	ck_assert_int_eq(conf_load_string(dh_conf_text(h, false, text, sizeof(text)), "next.conf",
					  NULL, next, err, sizeof(err)), 0);
	const struct listen_plan_ctx pc = { &h->listen, h->conf, *next, 1 };
	ck_assert_msg(listen_plan(&pc, changes, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(changes[0]);
	listen_change_apply(&h->w->nw, changes[0]);
}

START_TEST(removed_listener_retires)
{
	struct dh h;
	struct dh_client a, b;
	struct conf *next = NULL;
	uint16_t pa, pb, pp;

	dh_up(&h, NULL, true);
	ck_assert_uint_eq(h.w->nw.n_udp, 2);
	int fa = dh_udp_socket(&pa), fb = dh_udp_socket(&pb), peer_fd = dh_udp_socket(&pp);
	struct turn_addr peer;
	ck_assert_int_eq(turn_addr_parse("127.0.0.1", pp, &peer), 0);
	dh_client_init(&a, &h, "alice", pa);
	dh_client_init(&b, &h, "bob", pb);
	ck_assert_int_eq(udp_allocate(&a, fa, h.port2), 0);
	udp_permit(&a, fa, h.port2, &peer);

	reload_without_listener(&h, &next);
	listen_service(&h.w->nw);
	ck_assert_uint_eq(h.w->nw.n_udp, 2); /* retired, still serving */
	ck_assert_uint_eq(h.w->nw.stats.listen_retired, 1);
	/* A new allocation through it is refused (508: no alternate). */
	ck_assert_int_eq(udp_allocate(&b, fb, h.port2), TURN_ERR_INSUFFICIENT_CAPACITY);
	/* The existing one still relays, and its requests are answered. */
	udp_relay_to_peer(&a, fa, h.port2, &peer, peer_fd);
	udp_permit(&a, fa, h.port2, &peer);
	listen_service(&h.w->nw);
	ck_assert_uint_eq(h.w->nw.n_udp, 2);
	/* Its allocation ends: the socket closes. */
	dh_begin(&a, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_u32(&a.b, TURN_ATTR_LIFETIME, 0);
	dh_sign(&a);
	ck_assert_int_eq(dh_udp_exchange(&a, fa, h.port2), 0);
	dh_loop_once(&h);
	listen_service(&h.w->nw);
	ck_assert_uint_eq(h.w->nw.n_udp, 1);
	ck_assert_uint_eq(h.w->nw.stats.listen_retired, 0);
	/* The listening port stays as it was. */
	ck_assert_int_eq(udp_allocate(&b, fb, h.port), 0);
	close(fa);
	close(fb);
	close(peer_fd);
	dh_down(&h);
	conf_free(next);
}
END_TEST

/* ---- 5. Drain ---- */

static int refresh(struct dh_client *c, struct dh_path *p, uint32_t lifetime)
{
	dh_begin(c, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_u32(&c->b, TURN_ATTR_LIFETIME, lifetime);
	dh_sign(c);
	ck_assert_int_eq(dh_deliver(c, p), NET_MSG_DONE);
	return dh_answer(c, p);
}

static void drain_case(const char *extra, int code, bool alternate)
{
	struct dh h;
	struct dh_client a, b;
	struct dh_path pa, pb;

	dh_up(&h, extra, false);
	dh_path_init(&pa, NET_PATH_UDP);
	dh_path_init(&pb, NET_PATH_UDP);
	dh_client_init(&a, &h, "alice", 4000);
	dh_client_init(&b, &h, "bob", 4001);
	ck_assert_int_eq(dh_allocate(&a, &pa, 0), 0);
	quota_set_draining(&h.quota, true);
	ck_assert_int_eq(dh_allocate(&b, &pb, 0), code);
	ck_assert(stun_msg_find(&b.out, STUN_ATTR_ALTERNATE_SERVER) ? alternate : !alternate);
	ck_assert_uint_eq(pb.holds, 0);
	/* The allocation in place keeps refreshing. */
	ck_assert_int_eq(refresh(&a, &pa, 600), 0);
	ck_assert_uint_eq(dh_lifetime(&a), 600);
	ck_assert_uint_eq(quota_total(&h.quota), 1);
	/* Draining ends: allocations again. */
	quota_set_draining(&h.quota, false);
	ck_assert_int_eq(dh_allocate(&b, &pb, 0), 0);
	dh_down(&h);
}

START_TEST(drain_refuses_allocate)
{
	drain_case("alternate-server = { \"192.0.2.50:3478\" }\n", STUN_ERR_TRY_ALTERNATE, true);
	drain_case(NULL, TURN_ERR_INSUFFICIENT_CAPACITY, false);
}
END_TEST

/* ---- 6. The clock ---- */

START_TEST(nonce_ages_on_scripted_clock)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	ck_assert_int_eq(dh_allocate(&c, &p, 0), 0);
	dh_advance(&h, 599 * 1000);
	ck_assert_int_eq(refresh(&c, &p, 600), 0);
	dh_advance(&h, 2 * 1000);
	ck_assert_int_eq(refresh(&c, &p, 600), STUN_ERR_STALE_NONCE);
	/* The 438 carried a fresh nonce. */
	ck_assert_int_eq(refresh(&c, &p, 600), 0);
	dh_down(&h);
}
END_TEST

START_TEST(allocation_expires_on_tick)
{
	struct dh h;
	struct dh_client c;
	struct dh_path p;

	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&c, &h, "alice", 4000);
	/* RFC 8656 section 7.2: less than 600 s is raised to 600 s. */
	ck_assert_int_eq(dh_allocate(&c, &p, 300), 0);
	ck_assert_uint_eq(dh_lifetime(&c), 600);
	ck_assert_uint_eq(p.holds, 1);
	dh_advance(&h, 599 * 1000);
	dh_tick(&h);
	ck_assert_uint_eq(turn_server_stats(h.w->srv)->allocations, 1);
	ck_assert_uint_eq(quota_total(&h.quota), 1);
	dh_advance(&h, 2 * 1000);
	dh_tick(&h);
	ck_assert_uint_eq(turn_server_stats(h.w->srv)->allocations, 0);
	ck_assert_uint_eq(quota_total(&h.quota), 0);
	dh_loop_once(&h);
	ck_assert_uint_eq(p.releases, 1);
	dh_down(&h);
}
END_TEST

static Suite *daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *t;

	t = tcase_create("dispatch");
	tcase_add_test(t, binding_answered_on_its_path);
	tcase_add_test(t, malformed_and_unbound_dropped);
	tcase_add_test(t, stateless_checks_before_backend);
	tcase_add_test(t, unauth_rate_udp_only);
	suite_add_tcase(s, t);
	t = tcase_create("park");
	tcase_add_test(t, parked_then_answered);
	tcase_add_test(t, parked_path_gone_not_answered);
	suite_add_tcase(s, t);
	t = tcase_create("quota");
	tcase_add_test(t, fleet_verdict);
	tcase_add_test(t, user_and_total_quota);
	tcase_add_test(t, retired_path_origin);
	suite_add_tcase(s, t);
	t = tcase_create("listener_reload");
	tcase_add_test(t, removed_listener_retires);
	tcase_set_timeout(t, 20);
	suite_add_tcase(s, t);
	t = tcase_create("drain");
	tcase_add_test(t, drain_refuses_allocate);
	suite_add_tcase(s, t);
	t = tcase_create("clock");
	tcase_add_test(t, nonce_ages_on_scripted_clock);
	tcase_add_test(t, allocation_expires_on_tick);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(daemon_suite());
}
