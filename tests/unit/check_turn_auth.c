/*
 * Unit tests for what the core offers the daemon around a request (issue
 * 14): one authentication entry point (turn_server_auth, asked before and
 * after the credential lookup, whose answers the core then uses instead of
 * deciding again), the request's origin handed back to the turn_io
 * callbacks it causes, and answers counted by the code recorded when they
 * were built. Through the fake io and clock of turn_harness.h.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "turn/nonce.h"

#include "testutil.h"
#include "turn_harness.h"

/* An Allocate for UDP, ready for more attributes and the signature. */
static void begin_allocate(struct client *c)
{
	client_begin(c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
}

static int allocate_as(struct client *c, int auth, const struct client_delivery *how)
{
	begin_allocate(c);
	client_sign(c, auth);
	return client_deliver_as(c, auth, how);
}

/* ---- turn_server_auth ---- */

START_TEST(auth_entry_point_passes_a_good_mac)
{
	struct harness h;
	struct client c;
	const struct client_delivery how = { .pre_auth = true };

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 0);
	ck_assert_int_eq(c.auth_stages[0], 0); /* the stateless checks pass */
	ck_assert_int_eq(c.auth_stages[1], 0); /* the MAC verifies */
	ck_assert(c.authenticated);
	harness_down(&h);
}
END_TEST

START_TEST(auth_entry_point_refuses_what_the_core_would)
{
	struct harness h;
	struct client c;
	const struct client_delivery how = { .pre_auth = true };

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	/* A wrong password: the MAC fails after the lookup, and the core's
	 * answer is the same 401. */
	strcpy(c.pass, "wrong");
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 401);
	ck_assert_int_eq(c.auth_stages[0], 0);
	ck_assert_int_eq(c.auth_stages[1], 401);
	strcpy(c.pass, "secret");
	/* An unknown user (401) and a credential store that did not answer
	 * (500), decided by the entry point as by the core. */
	c.cred_status = 0;
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 401);
	ck_assert_int_eq(c.auth_stages[1], 401);
	c.cred_status = -1;
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 500);
	ck_assert_int_eq(c.auth_stages[1], 500);
	c.cred_status = 1;
	/* A stale nonce is refused before any lookup: no second stage. */
	h.now_ms += TURN_NONCE_DEFAULT_LIFETIME_S * 1000ull + 1000;
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 438);
	ck_assert_int_eq(c.auth_stages[0], 438);
	ck_assert_int_eq(c.auth_stages[1], -2);
	/* Binding never authenticates: nothing to decide. */
	client_begin(&c, STUN_METHOD_BINDING);
	client_sign(&c, AUTH_NONE);
	ck_assert_int_eq(client_deliver_as(&c, AUTH_NONE, &how), 0);
	ck_assert_int_eq(c.auth_stages[0], -1);
	harness_down(&h);
}
END_TEST

/* TURN REST secret rotation: a credential holds one key per secret, and
 * the request verifies with the one its password came from. */
START_TEST(auth_entry_point_tries_every_key)
{
	struct harness h;
	struct client c;
	struct turn_credential cred = { .status = 1, .username = "alice", .n_keys = 2,
					.has_sha256 = true };
	struct stun_msg in;

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	for (int which = 0; which < 2; which++) {
		const char *pw[2] = { which ? "old" : "secret", which ? "secret" : "old" };
		for (int i = 0; i < 2; i++) {
			ck_assert_int_eq(stun_key_md5("alice", h.opt.realm, pw[i], cred.key_md5[i]), 0);
			ck_assert_int_eq(stun_key_sha256("alice", h.opt.realm, pw[i],
							 cred.key_sha256[i]), 0);
		}
		begin_allocate(&c);
		client_sign(&c, AUTH_MI);
		long n = stun_build_end(&c.b);
		ck_assert_int_eq(stun_msg_parse(&in, c.req, (size_t)n), 0);
		struct turn_input input = { .msg = &in, .tuple = &c.tuple, .now_ms = h.now_ms };
		ck_assert_int_eq(turn_server_auth(h.srv, &input), 0);
		input.cred = &cred;
		ck_assert_int_eq(turn_server_auth(h.srv, &input), 0);
		ck_assert_int_eq(input.mac_key, which);
	}
	/* Neither key: 401. */
	strcpy(c.pass, "guess");
	begin_allocate(&c);
	client_sign(&c, AUTH_MI);
	ck_assert_int_eq(stun_msg_parse(&in, c.req, (size_t)stun_build_end(&c.b)), 0);
	struct turn_input input = { .msg = &in, .tuple = &c.tuple, .now_ms = h.now_ms };
	ck_assert_int_eq(turn_server_auth(h.srv, &input), 0);
	input.cred = &cred;
	ck_assert_int_eq(turn_server_auth(h.srv, &input), 401);
	ck_assert_int_eq(input.mac_key, -1);
	harness_down(&h);
}
END_TEST

/* The core takes the entry point's answer about the MAC instead of
 * checking it a second time: told it failed, a request signed with the
 * right password is refused. */
START_TEST(core_uses_the_mac_answer_it_was_given)
{
	struct harness h;
	struct client c;
	const struct client_delivery how = { .pre_auth = true, .forget_mac = true };

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 401);
	ck_assert_int_eq(c.auth_stages[1], 0);
	ck_assert(!c.authenticated);
	ck_assert_uint_eq(h.io.opens, 0);
	harness_down(&h);
}
END_TEST

/* ---- turn_input.origin ---- */

START_TEST(origin_reaches_the_callbacks_it_causes)
{
	struct harness h;
	struct client c;
	int marker = 0;
	const struct client_delivery how = { .origin = &marker };

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, &how), 0);
	ck_assert_ptr_eq(h.io.origin_quota_take, &marker);
	ck_assert_ptr_eq(h.io.origin_relay_open, &marker);
	/* Another request's origin, for the next one. */
	int other = 0;
	const struct client_delivery how2 = { .origin = &other };
	struct client d;
	client_init(&d, &h, "alice", "secret", 8, 40001);
	client_challenge(&d);
	ck_assert_int_eq(allocate_as(&d, AUTH_MI, &how2), 0);
	ck_assert_ptr_eq(h.io.origin_relay_open, &other);
	harness_down(&h);
}
END_TEST

START_TEST(origin_reaches_tcp_bind)
{
	struct harness h;
	struct client c;
	int marker = 0;
	const struct client_delivery how = { .origin = &marker };

	harness_up(&h);
	client_init_tcp(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	/* A ConnectionBind for a connection nobody made: 400, after the
	 * callback was asked with this request's origin. */
	client_begin(&c, TURN_METHOD_CONNECTION_BIND);
	stun_build_u32(&c.b, TURN_ATTR_CONNECTION_ID, 12345);
	client_sign(&c, AUTH_MI);
	ck_assert_int_eq(client_deliver_as(&c, AUTH_MI, &how), 400);
	ck_assert_ptr_eq(h.io.origin_tcp_bind, &marker);
	harness_down(&h);
}
END_TEST

/* ---- Answers counted by the code they were built with ---- */

START_TEST(try_alternate_is_counted_as_300)
{
	struct harness h;
	struct client c;
	const struct turn_addr alt = { .family = TURN_AF_INET, .ip = { 198, 51, 100, 9 },
				       .port = 3478 };

	harness_init(&h);
	h.opt.alternates = &alt;
	h.opt.n_alternates = 1;
	harness_start(&h);
	h.io.shed = true;
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, NULL), 300);
	ck_assert_int_ge(stun_msg_find(&c.out, STUN_ATTR_ALTERNATE_SERVER) ? 1 : 0, 1);
	ck_assert_uint_eq(answers(&h, "allocate", 300), 1);
	ck_assert_uint_eq(answers(&h, "allocate", 401), 1);
	ck_assert_uint_eq(answers(&h, "allocate", 0), 0);
	harness_down(&h);
}
END_TEST

START_TEST(shedding_without_alternates_is_508)
{
	struct harness h;
	struct client c;

	harness_up(&h);
	h.io.shed = true;
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(allocate_as(&c, AUTH_MI, NULL), 508);
	ck_assert_uint_eq(answers(&h, "allocate", 508), 1);
	ck_assert_uint_eq(answers(&h, "allocate", 300), 0);
	harness_down(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_auth");
	TCase *auth = tcase_create("entry point");
	TCase *origin = tcase_create("origin");
	TCase *count = tcase_create("answers");

	tcase_add_test(auth, auth_entry_point_passes_a_good_mac);
	tcase_add_test(auth, auth_entry_point_refuses_what_the_core_would);
	tcase_add_test(auth, core_uses_the_mac_answer_it_was_given);
	tcase_add_test(auth, auth_entry_point_tries_every_key);
	tcase_add_test(origin, origin_reaches_the_callbacks_it_causes);
	tcase_add_test(origin, origin_reaches_tcp_bind);
	tcase_add_test(count, try_alternate_is_counted_as_300);
	tcase_add_test(count, shedding_without_alternates_is_508);
	suite_add_tcase(s, auth);
	suite_add_tcase(s, origin);
	suite_add_tcase(s, count);
	return run_suite(s);
}
