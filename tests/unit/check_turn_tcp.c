/*
 * Unit tests for TCP relay allocations (RFC 6062, src/turn/tcp.c) through
 * turn_server_handle and the turn_server_tcp_* calls, with the fake io of
 * turn_harness.h: every error code Connect and ConnectionBind can send,
 * the peer policy checked before any connection is attempted, and
 * ConnectionAttempt for peers that connect to the relay.
 */
#include <check.h>
#include <string.h>

#include "testutil.h"
#include "turn_harness.h"

#define PUBLIC_PEER "198.51.100.1:5000"

static bool mi_md5_ok(const struct client *c)
{
	uint8_t key[STUN_KEY_MD5_LEN];

	ck_assert_int_eq(stun_key_md5(c->user, c->h->opt.realm, c->store_pass, key), 0);
	return stun_msg_check_integrity(&c->out, key, sizeof(key)) == 1;
}

/* An authenticated Allocate with REQUESTED-TRANSPORT TCP; the code. */
static int allocate_tcp(struct client *c)
{
	client_begin(c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c->b, TURN_TRANSPORT_TCP);
	int rc = client_send(c, AUTH_MI);
	if (rc == 0)
		c->relayed[0] = resp_xor_addr(c, TURN_ATTR_XOR_RELAYED_ADDRESS, 0);
	return rc;
}

/* Up, and "alice" over TCP from 192.0.2.7:40000 with a TCP allocation. */
static void tcp_client(struct harness *h, struct client *c)
{
	harness_up(h);
	client_init_tcp(c, h, "alice", "secret", 7, 40000);
	client_challenge(c);
	ck_assert_int_eq(allocate_tcp(c), 0);
	ck_assert(client_alloc(c)->tcp);
}

/* Transaction IDs of the Connects waiting for net/, by fake id order. */
static uint8_t waiting_tid[FAKE_MAX_TCP][STUN_TID_LEN];

/* A Connect to peer; the code, -1 when the answer waits for net/. */
static int connect_to(struct client *c, const char *peer)
{
	struct turn_addr p = addr_of(peer);

	client_begin(c, TURN_METHOD_CONNECT);
	stun_build_xor_addr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	int rc = client_send(c, AUTH_MI);
	if (rc == -1)
		memcpy(waiting_tid[c->h->io.n_tcp - 1], c->tid, STUN_TID_LEN);
	return rc;
}

/* net/ reports the Connect's connection made (code 0) or failed: the
 * answer the client gets. */
static int connect_outcome(struct client *c, uint32_t id, int code)
{
	struct turn_tcp_event ev = { client_alloc(c), id, NULL, code, c->h->now_ms };

	for (unsigned i = 0; i < c->h->io.n_tcp; i++)
		if (c->h->io.tcp[i].id == id)
			memcpy(c->tid, waiting_tid[i], STUN_TID_LEN);
	c->reply = (struct turn_reply){ c->resp, sizeof(c->resp), 0 };
	ck_assert_int_eq(turn_server_tcp_connected(c->h->srv, &ev, &c->reply), 0);
	return client_read_answer(c, TURN_METHOD_CONNECT);
}

/* A ConnectionBind for id (0: without CONNECTION-ID) from c's tuple. */
static int bind_conn(struct client *c, uint32_t id)
{
	client_begin(c, TURN_METHOD_CONNECTION_BIND);
	if (id)
		stun_build_u32(&c->b, TURN_ATTR_CONNECTION_ID, id);
	return client_send(c, AUTH_MI);
}

START_TEST(allocate_tcp_needs_a_stream_and_no_port_options)
{
	struct harness h;
	struct client udp, tcp;

	harness_up(&h);
	client_init(&udp, &h, "alice", "secret", 7, 40000);
	client_challenge(&udp);
	ck_assert_int_eq(allocate_tcp(&udp), 442); /* RFC 6062 section 5.1 */
	client_init_tcp(&tcp, &h, "alice", "secret", 8, 40000);
	client_challenge(&tcp);
	client_begin(&tcp, TURN_METHOD_ALLOCATE);
	stun_build_transport(&tcp.b, TURN_TRANSPORT_TCP);
	stun_build_even_port(&tcp.b, false);
	ck_assert_int_eq(client_send(&tcp, AUTH_MI), 400);
	client_begin(&tcp, TURN_METHOD_ALLOCATE);
	stun_build_transport(&tcp.b, TURN_TRANSPORT_TCP);
	stun_build_flag(&tcp.b, TURN_ATTR_DONT_FRAGMENT);
	ck_assert_int_eq(client_send(&tcp, AUTH_MI), 400);
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_int_eq(allocate_tcp(&tcp), 0);
	ck_assert_uint_eq(h.io.opens, 1);
	harness_down(&h);
}
END_TEST

/* SECURITY.md: a refused peer gets 403 with no connection attempted, even
 * with a permission in place (installed before a policy reload), at both
 * ends of every range, on a dual-stack TCP allocation; a refused peer's
 * connection to the relay is closed, permission or not. */
START_TEST(err_403_connect_policy_before_any_attempt)
{
	struct harness h;
	struct client c;

	harness_init(&h);
	h.io.ipv6 = true;
	harness_start(&h);
	client_init_tcp(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	client_begin(&c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c.b, TURN_TRANSPORT_TCP);
	stun_build_family(&c.b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	c.relayed[0] = resp_xor_addr(&c, TURN_ATTR_XOR_RELAYED_ADDRESS, 0);
	struct turn_alloc *a = client_alloc(&c);
	ck_assert(a->tcp && a->relay[0].io && a->relay[1].io);
	for (size_t i = 0; i < n_denied_peers; i++) {
		struct turn_addr p = addr_of(denied_peers[i]);
		ck_assert_int_eq(turn_perm_install(a, &p, (uint32_t)(h.now_ms / 1000), 0), 0);
		ck_assert_msg(connect_to(&c, denied_peers[i]) == 403, "%s", denied_peers[i]);
		ck_assert(mi_md5_ok(&c));
		struct turn_tcp_event ev = { a, fake_tcp_incoming(&h.io, a), &p, 0, h.now_ms };
		ck_assert_msg(turn_server_tcp_incoming(h.srv, &ev, &c.reply) == -1, "%s",
			      denied_peers[i]);
	}
	ck_assert_uint_eq(h.io.tcp_connects, 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_refused, n_denied_peers);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 0);
	/* Public peers of both families are fine. */
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	ck_assert_int_eq(client_permit(&c, "[2001:db8::99]:5000"), 0);
	ck_assert_int_eq(connect_to(&c, "[2001:db8::99]:5000"), -1);
	ck_assert_uint_eq(h.io.tcp_connects, 2);
	harness_down(&h);
}
END_TEST

START_TEST(err_403_connect_without_permission)
{
	struct harness h;
	struct client c;

	tcp_client(&h, &c);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), 403);
	ck_assert_uint_eq(h.io.tcp_connects, 0);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1); /* answered when connected */
	ck_assert_uint_eq(h.io.tcp_connects, 1);
	harness_down(&h);
}
END_TEST

START_TEST(connect_success_carries_connection_id_and_mi)
{
	struct harness h;
	struct client c;

	tcp_client(&h, &c);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	uint32_t id = h.io.tcp[0].id;
	ck_assert_int_eq(connect_outcome(&c, id, 0), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_CONNECTION_ID), id);
	ck_assert(mi_md5_ok(&c));
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 1);
	/* Reported twice: the second finds no Connect waiting. */
	struct turn_tcp_event ev = { client_alloc(&c), id, NULL, 0, h.now_ms };
	ck_assert_int_eq(turn_server_tcp_connected(h.srv, &ev, &c.reply), -1);
	harness_down(&h);
	ck_assert_uint_eq(h.io.tcp_closes, 1); /* the allocation took it along */
}
END_TEST

START_TEST(err_446_connect_twice_to_one_peer)
{
	struct harness h;
	struct client c;

	tcp_client(&h, &c);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), 446); /* still connecting */
	ck_assert_int_eq(connect_outcome(&c, h.io.tcp[0].id, 0), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), 446); /* connected */
	ck_assert_uint_eq(h.io.tcp_connects, 1);
	/* Another port of the same IP is another connection. */
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:5001"), -1);
	harness_down(&h);
}
END_TEST

START_TEST(err_447_connect_failure)
{
	struct harness h;
	struct client c;

	tcp_client(&h, &c);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	ck_assert_int_eq(connect_outcome(&c, h.io.tcp[0].id, 447), 447);
	ck_assert(mi_md5_ok(&c));
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 0);
	/* The failed one is forgotten: the peer may be tried again. */
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	/* A failure net/ sees at once (no route, no descriptor) is answered
	 * at once. */
	h.io.tcp_connect_code = 447;
	ck_assert_int_eq(connect_to(&c, "198.51.100.2:5000"), 403); /* no permission yet */
	ck_assert_int_eq(client_permit(&c, "198.51.100.2:5000"), 0);
	ck_assert_int_eq(connect_to(&c, "198.51.100.2:5000"), 447);
	/* Answers are counted when they are sent, later ones included. */
	ck_assert_uint_eq(answers(&h, "connect", 447), 2);
	ck_assert_uint_eq(answers(&h, "connect", 403), 1);
	harness_down(&h);
}
END_TEST

START_TEST(err_400_connect_malformed_or_on_udp_allocation)
{
	struct harness h;
	struct client c, u;

	tcp_client(&h, &c);
	client_begin(&c, TURN_METHOD_CONNECT); /* no XOR-PEER-ADDRESS */
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	/* A UDP allocation has no TCP connections. */
	client_init(&u, &h, "bob", "secret", 9, 40000);
	client_allocate(&u, 0);
	ck_assert_int_eq(client_permit(&u, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&u, PUBLIC_PEER), 400);
	/* No allocation on the 5-tuple: 437; IPv6 peer on an IPv4 relay: 443. */
	struct client none;
	client_init_tcp(&none, &h, "alice", "secret", 10, 40000);
	client_challenge(&none);
	ck_assert_int_eq(connect_to(&none, PUBLIC_PEER), 437);
	ck_assert_int_eq(connect_to(&c, "[2001:db8::1]:5000"), 443);
	ck_assert_uint_eq(h.io.tcp_connects, 0);
	/* A TCP allocation has no channels, and Send goes nowhere. */
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, PUBLIC_PEER), 400);
	ck_assert_int_eq(client_send_ind(&c, PUBLIC_PEER, "x", 1), -1);
	ck_assert_uint_eq(h.io.n_sends, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_508_max_tcp_connections)
{
	struct harness h;
	struct client c;

	harness_init(&h);
	h.opt.max_tcp_connections = 2;
	harness_start(&h);
	client_init_tcp(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(allocate_tcp(&c), 0);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:1"), -1);
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:2"), -1);
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:3"), 508);
	ck_assert_uint_eq(h.io.tcp_connects, 2);
	/* A peer's connection is refused too, until one closes. */
	struct turn_addr p = addr_of("198.51.100.1:4");
	struct turn_tcp_event ev = { client_alloc(&c), 0, &p, 0, h.now_ms };
	ev.id = fake_tcp_incoming(&h.io, client_alloc(&c));
	ck_assert_int_eq(turn_server_tcp_incoming(h.srv, &ev, &c.reply), -1);
	ev.id = h.io.tcp[0].id;
	turn_server_tcp_closed(h.srv, &ev);
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:3"), -1);
	harness_down(&h);
}
END_TEST

START_TEST(connection_bind_codes)
{
	struct harness h;
	struct client c, data, mallory, udp;

	tcp_client(&h, &c);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	uint32_t id = h.io.tcp[0].id;
	ck_assert_int_eq(connect_outcome(&c, id, 0), 0);
	/* The data connection: a new TCP connection of the same user. */
	client_init_tcp(&data, &h, "alice", "secret", 7, 40001);
	client_challenge(&data);
	ck_assert_int_eq(bind_conn(&data, 0), 400);         /* no CONNECTION-ID */
	ck_assert_int_eq(bind_conn(&data, id + 1000), 400); /* no such connection */
	ck_assert_int_eq(bind_conn(&c, id), 400); /* the control connection has an allocation */
	client_begin(&data, TURN_METHOD_CONNECTION_BIND); /* unauthenticated */
	stun_build_u32(&data.b, TURN_ATTR_CONNECTION_ID, id);
	ck_assert_int_eq(client_send(&data, AUTH_NONE), 401);
	client_init_tcp(&mallory, &h, "mallory", "secret", 66, 40000);
	client_challenge(&mallory);
	ck_assert_int_eq(bind_conn(&mallory, id), 441); /* another user's */
	client_init(&udp, &h, "alice", "secret", 7, 40002);
	client_challenge(&udp);
	ck_assert_int_eq(bind_conn(&udp, id), 400); /* not over a stream */
	ck_assert_int_eq(bind_conn(&data, id), 0);
	ck_assert(mi_md5_ok(&data));
	ck_assert_int_eq(bind_conn(&data, id), 400); /* bound already */
	ck_assert_uint_eq(answers(&h, "connect", 0), 1);
	ck_assert_uint_eq(answers(&h, "connectionbind", 0), 1);
	ck_assert_uint_eq(answers(&h, "connectionbind", 400), 5);
	ck_assert_uint_eq(answers(&h, "connectionbind", 441), 1);
	harness_down(&h);
}
END_TEST

START_TEST(connection_attempt_needs_a_permission)
{
	struct harness h;
	struct client c;
	struct turn_addr peer = addr_of("198.51.100.7:6000");

	tcp_client(&h, &c);
	struct turn_tcp_event ev = { client_alloc(&c), 0, &peer, 0, h.now_ms };
	ev.id = fake_tcp_incoming(&h.io, client_alloc(&c));
	c.reply = (struct turn_reply){ c.resp, sizeof(c.resp), 0 };
	ck_assert_int_eq(turn_server_tcp_incoming(h.srv, &ev, &c.reply), -1);
	ck_assert_uint_eq(c.reply.len, 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_refused, 1);
	/* A refused address is refused even with a permission. */
	struct turn_addr local = addr_of("10.1.2.3:6000");
	ck_assert_int_eq(turn_perm_install(client_alloc(&c), &local, (uint32_t)(h.now_ms / 1000), 0),
			 0);
	ev.peer = &local;
	ck_assert_int_eq(turn_server_tcp_incoming(h.srv, &ev, &c.reply), -1);
	ev.peer = &peer;
	ck_assert_int_eq(client_permit(&c, "198.51.100.7:1"), 0); /* any port of the IP */
	c.reply = (struct turn_reply){ c.resp, sizeof(c.resp), 0 };
	ck_assert_int_eq(turn_server_tcp_incoming(h.srv, &ev, &c.reply), 0);
	struct stun_msg m;
	ck_assert_int_eq(stun_msg_parse(&m, c.resp, c.reply.len), 0);
	ck_assert_uint_eq(m.method, TURN_METHOD_CONNECTION_ATTEMPT);
	ck_assert_uint_eq(m.cls, STUN_CLASS_INDICATION);
	uint32_t got;
	struct turn_addr got_peer;
	ck_assert_int_eq(stun_attr_get_connection_id(&m, stun_msg_find(&m, TURN_ATTR_CONNECTION_ID),
						     &got),
			 0);
	ck_assert_uint_eq(got, ev.id);
	ck_assert_int_eq(stun_attr_get_xor_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS),
						&got_peer),
			 0);
	ck_assert(turn_addr_eq(&got_peer, &peer));
	/* The client binds it from a new connection. */
	struct client data;
	client_init_tcp(&data, &h, "alice", "secret", 7, 40009);
	client_challenge(&data);
	ck_assert_int_eq(bind_conn(&data, ev.id), 0);
	/* The same peer connecting again while that one lives is refused. */
	ck_assert_int_eq(turn_server_tcp_incoming(h.srv, &ev, &c.reply), -1);
	/* Closed by either end: the core forgets it. */
	turn_server_tcp_closed(h.srv, &ev);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 0);
	harness_down(&h);
	ck_assert_uint_eq(h.io.tcp_closes, 0); /* nothing left to close */
}
END_TEST

/* Refresh 0 (or the control connection closing) closes every connection
 * of the allocation. */
/* A policy change closes the connections to peers it now refuses (the
 * core tells net/ through tcp_close) and keeps the others. */
START_TEST(policy_change_closes_refused_connections)
{
	struct harness h;
	struct client c;
	const char *other = "198.51.100.2:5000";

	tcp_client(&h, &c);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(client_permit(&c, other), 0);
	ck_assert_int_eq(connect_to(&c, PUBLIC_PEER), -1);
	ck_assert_int_eq(connect_outcome(&c, h.io.tcp[0].id, 0), 0);
	ck_assert_int_eq(connect_to(&c, other), -1);
	ck_assert_int_eq(connect_outcome(&c, h.io.tcp[1].id, 0), 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 2);
	harness_deny(&h, "198.51.100.2");
	ck_assert_uint_eq(h.io.tcp_closes, 1);
	ck_assert(h.io.tcp[0].open);
	ck_assert(!h.io.tcp[1].open);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 1);
	/* The connection net/ would report closed is no longer known. */
	turn_server_tcp_closed(h.srv, &(struct turn_tcp_event){ client_alloc(&c), h.io.tcp[1].id,
								  NULL, 0, h.now_ms });
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 1);
	harness_down(&h);
	ck_assert_uint_eq(h.io.tcp_closes, 2);
}
END_TEST

START_TEST(deleting_the_allocation_closes_its_connections)
{
	struct harness h;
	struct client c;

	tcp_client(&h, &c);
	ck_assert_int_eq(client_permit(&c, PUBLIC_PEER), 0);
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:1"), -1);
	ck_assert_int_eq(connect_to(&c, "198.51.100.1:2"), -1);
	ck_assert_int_eq(connect_outcome(&c, h.io.tcp[0].id, 0), 0);
	ck_assert_int_eq(client_refresh(&c, 0), 0);
	ck_assert_uint_eq(h.io.tcp_closes, 2);
	ck_assert(!h.io.tcp[0].open && !h.io.tcp[1].open);
	ck_assert_uint_eq(turn_server_stats(h.srv)->tcp_relay_conns, 0);
	harness_down(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_tcp");
	TCase *tc = tcase_create("rfc6062");

	tcase_add_test(tc, allocate_tcp_needs_a_stream_and_no_port_options);
	tcase_add_test(tc, err_403_connect_policy_before_any_attempt);
	tcase_add_test(tc, err_403_connect_without_permission);
	tcase_add_test(tc, connect_success_carries_connection_id_and_mi);
	tcase_add_test(tc, err_446_connect_twice_to_one_peer);
	tcase_add_test(tc, err_447_connect_failure);
	tcase_add_test(tc, err_400_connect_malformed_or_on_udp_allocation);
	tcase_add_test(tc, err_508_max_tcp_connections);
	tcase_add_test(tc, connection_bind_codes);
	tcase_add_test(tc, connection_attempt_needs_a_permission);
	tcase_add_test(tc, deleting_the_allocation_closes_its_connections);
	tcase_add_test(tc, policy_change_closes_refused_connections);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
