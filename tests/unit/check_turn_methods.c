/*
 * Unit tests for the TURN methods and the long-term credential mechanism
 * (src/turn/methods.c, src/turn/longterm.c) through turn_server_handle,
 * with the fake io and clock of turn_harness.h: a test for every error
 * code the server can send, and the MESSAGE-INTEGRITY(-SHA256) paths.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "turn/nonce.h"

#include "testutil.h"
#include "turn_harness.h"

/* An Allocate for UDP, ready for more attributes and the signature. */
static struct stun_builder *begin_allocate(struct client *c)
{
	client_begin(c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c->b, TURN_TRANSPORT_UDP);
	return &c->b;
}

static void assert_no_mi(const struct client *c)
{
	ck_assert_int_lt(c->out.idx_integrity, 0);
	ck_assert_int_lt(c->out.idx_integrity_sha256, 0);
}

/* The answer's MESSAGE-INTEGRITY checks out with the client's MD5 key. */
static bool mi_md5_ok(const struct client *c)
{
	uint8_t key[STUN_KEY_MD5_LEN];

	ck_assert_int_eq(stun_key_md5(c->user, c->h->opt.realm, c->store_pass, key), 0);
	return stun_msg_check_integrity(&c->out, key, sizeof(key)) == 1;
}

/* Up, one client "alice" at 192.0.2.7:40000 with a NONCE. */
static void up_with_client(struct harness *h, struct client *c)
{
	harness_up(h);
	client_init(c, h, "alice", "secret", 7, 40000);
	client_challenge(c);
}

/* ---- 401, 400, 438, 500: the long-term credential mechanism ---- */

START_TEST(err_401_without_mi_is_a_challenge)
{
	struct harness h;
	struct client c;
	uint16_t algs[4];
	size_t n = 0;

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_NONE), 401);
	assert_no_mi(&c);
	const struct stun_attr *realm = resp_attr(&c, STUN_ATTR_REALM, 0);
	ck_assert_ptr_nonnull(realm);
	ck_assert_uint_eq(realm->len, strlen("turnd.test"));
	ck_assert_mem_eq(stun_attr_value(&c.out, realm), "turnd.test", realm->len);
	ck_assert_uint_eq(strlen(c.nonce), TURN_NONCE_LEN);
	ck_assert_mem_eq(c.nonce, "obMatJos2", 9);
	const struct stun_attr *pa = resp_attr(&c, STUN_ATTR_PASSWORD_ALGORITHMS, 0);
	ck_assert_ptr_nonnull(pa);
	ck_assert_int_eq(stun_attr_get_pwalgs(&c.out, pa, algs, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(algs[0], STUN_PWALG_MD5);
	ck_assert_uint_eq(algs[1], STUN_PWALG_SHA256);
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->allocations, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_401_wrong_password)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	strcpy(c.pass, "not the secret");
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 401);
	assert_no_mi(&c);
	ck_assert(resp_has(&c, STUN_ATTR_NONCE));
	ck_assert_uint_eq(h.io.opens, 0);
	/* The right password on the next try works. */
	strcpy(c.pass, "secret");
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_401_unknown_user)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	c.cred_status = 0;
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 401);
	assert_no_mi(&c);
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(h.io.total, 0);
	harness_down(&h);
}
END_TEST

/* The core tells net/ which answers went to a client that authenticated
 * (net/ limits the others per source: reflection). An error after the
 * credential check still counts as authenticated; a 401 or 438 never. */
START_TEST(authenticated_flag_follows_the_credential_check)
{
	struct harness h;
	struct client c;

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	c.authenticated = true;
	client_challenge(&c);
	ck_assert(!c.authenticated);
	strcpy(c.pass, "not the secret");
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 401);
	ck_assert(!c.authenticated);
	strcpy(c.pass, "secret");
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	ck_assert(c.authenticated);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 437); /* a new transaction */
	ck_assert(c.authenticated);
	ck_assert_int_eq(client_refresh(&c, 600), 0);
	ck_assert(c.authenticated);
	client_begin(&c, STUN_METHOD_BINDING);
	ck_assert_int_eq(client_send(&c, AUTH_NONE), 0);
	ck_assert(!c.authenticated);
	harness_down(&h);
}
END_TEST

START_TEST(err_500_credential_store_down)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	c.cred_status = -1;
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 500);
	assert_no_mi(&c);
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(h.io.total, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_400_mi_without_nonce_or_realm)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI | AUTH_NO_NONCE), 400);
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI | AUTH_NO_REALM), 400);
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI | AUTH_NO_REALM | AUTH_NO_NONCE), 400);
	ck_assert_uint_eq(h.io.opens, 0);
	harness_down(&h);
}
END_TEST

/* RFC 8489 section 9.2.4: a PASSWORD-ALGORITHMS list other than the one the
 * server sent is a downgrade, and the two attributes come together. */
START_TEST(err_400_password_algorithms_downgrade)
{
	static const uint16_t md5_only[] = { STUN_PWALG_MD5 };
	static const uint16_t reversed[] = { STUN_PWALG_SHA256, STUN_PWALG_MD5 };
	static const uint16_t ours[] = { STUN_PWALG_MD5, STUN_PWALG_SHA256 };
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	stun_build_pwalgs(begin_allocate(&c), md5_only, 1);
	stun_build_pwalg(&c.b, STUN_PWALG_MD5);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	stun_build_pwalgs(begin_allocate(&c), reversed, 2);
	stun_build_pwalg(&c.b, STUN_PWALG_MD5);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	stun_build_pwalg(begin_allocate(&c), STUN_PWALG_MD5);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	stun_build_pwalgs(begin_allocate(&c), ours, 2);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	ck_assert_uint_eq(h.io.opens, 0);
	/* The exact list with MD5 chosen is fine. */
	stun_build_pwalgs(begin_allocate(&c), ours, 2);
	stun_build_pwalg(&c.b, STUN_PWALG_MD5);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_438_stale_nonce_then_retry_succeeds)
{
	struct harness h;
	struct client c, d;
	char old[sizeof(c.nonce)];

	up_with_client(&h, &c);
	client_init(&d, &h, "alice", "secret", 8, 40000);
	client_challenge(&d);
	/* At exactly its lifetime a nonce is still good. */
	harness_advance(&h, TURN_NONCE_DEFAULT_LIFETIME_S * 1000ull);
	ck_assert_int_eq(client_try_allocate(&d, 0, 0, 0), 0);
	/* One second later it is stale. */
	harness_advance(&h, 1000);
	strcpy(old, c.nonce);
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 438);
	assert_no_mi(&c);
	ck_assert(resp_has(&c, STUN_ATTR_REALM));
	ck_assert_str_ne(c.nonce, old);
	ck_assert_uint_eq(h.io.opens, 1);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	ck_assert_uint_eq(h.io.opens, 2);
	harness_down(&h);
}
END_TEST

START_TEST(err_438_nonce_of_another_client)
{
	struct harness h;
	struct client c, d;

	up_with_client(&h, &c);
	client_init(&d, &h, "alice", "secret", 8, 40000);
	/* d signs with c's nonce: bound to c's address, so not valid for d. */
	strcpy(d.nonce, c.nonce);
	begin_allocate(&d);
	ck_assert_int_eq(client_send(&d, AUTH_MI), 438);
	ck_assert_int_eq(client_try_allocate(&d, 0, 0, 0), 0);
	harness_down(&h);
}
END_TEST

/* Sign the request being built, ask turn_server_auth_precheck about it
 * (as net/ does before any backend lookup), then deliver it with the
 * credential store down (status -1): a request the pre-check refuses
 * must get that code, never the 500 a lookup would have led to; one it
 * passes must reach the credential, and so the 500. */
static int precheck_then_deliver(struct client *c, int auth)
{
	struct stun_msg in;
	long n;
	int pre;

	client_sign(c, auth);
	n = stun_build_end(&c->b);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(stun_msg_parse(&in, c->req, (size_t)n), 0);
	const struct turn_input input = { .msg = &in, .tuple = &c->tuple, .now_ms = c->h->now_ms };
	pre = turn_server_auth_precheck(c->h->srv, &input);
	/* As net/ hands it over: the pre-check's answer with the request,
	 * so the core does not check the nonce twice; same answer. */
	const struct turn_credential down = { .status = -1 };
	struct turn_input taken = input;
	taken.cred = auth ? &down : NULL;
	taken.prechecked = pre >= 0;
	taken.precheck = pre;
	c->reply = (struct turn_reply){ c->resp, sizeof(c->resp), 0 };
	ck_assert_int_eq(turn_server_handle(c->h->srv, &taken, &c->reply), 0);
	ck_assert_int_eq(client_read_answer(c, in.method), pre == 0 ? 500 : pre);
	c->cred_status = -1;
	int code = client_deliver(c, auth);
	c->cred_status = 1;
	ck_assert_int_eq(code, pre == 0 ? 500 : pre);
	return pre;
}

/* RFC 8489 section 9.2.4 checks the nonce before the key: realm, nonce
 * MAC and nonce age are decided without the credential, so a forged nonce
 * costs net/ no lookup (issue 13, item 2). */
START_TEST(precheck_decides_before_the_lookup)
{
	struct harness h;
	struct client c, d;

	up_with_client(&h, &c);
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI), 0);
	/* A made-up nonce of the right form, then a byte of a real one
	 * changed: 438. */
	memcpy(c.nonce + TURN_NONCE_PREFIX_LEN, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 32);
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI), 438);
	client_challenge(&c);
	c.nonce[TURN_NONCE_LEN - 1] = c.nonce[TURN_NONCE_LEN - 1] == 'x' ? 'y' : 'x';
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI | AUTH_SHA256), 438);
	/* Another client's nonce: 438. */
	client_challenge(&c);
	client_init(&d, &h, "alice", "secret", 8, 40000);
	strcpy(d.nonce, c.nonce);
	begin_allocate(&d);
	ck_assert_int_eq(precheck_then_deliver(&d, AUTH_MI), 438);
	/* Missing REALM or NONCE: 400; a downgraded algorithm list: 400. */
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI | AUTH_NO_NONCE), 400);
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI | AUTH_NO_REALM), 400);
	static const uint16_t md5_only[] = { STUN_PWALG_MD5 };
	stun_build_pwalgs(begin_allocate(&c), md5_only, 1);
	stun_build_pwalg(&c.b, STUN_PWALG_MD5);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI), 400);
	/* Another realm: 401 with no lookup. */
	begin_allocate(&c);
	stun_build_text(&c.b, STUN_ATTR_USERNAME, c.user);
	stun_build_text(&c.b, STUN_ATTR_REALM, "elsewhere.example");
	stun_build_text(&c.b, STUN_ATTR_NONCE, c.nonce);
	stun_build_integrity(&c.b, (const uint8_t *)"0123456789abcdef", 16);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_NONE), 401);
	/* An expired nonce: 438, and the same nonce was good a second
	 * before. */
	harness_advance(&h, TURN_NONCE_DEFAULT_LIFETIME_S * 1000ull);
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI), 0);
	harness_advance(&h, 1000);
	begin_allocate(&c);
	ck_assert_int_eq(precheck_then_deliver(&c, AUTH_MI), 438);
	/* Binding never authenticates: no credential needed. */
	client_challenge(&c);
	client_begin(&c, STUN_METHOD_BINDING);
	client_sign(&c, AUTH_MI);
	struct stun_msg in;
	ck_assert_int_eq(stun_msg_parse(&in, c.req, (size_t)stun_build_end(&c.b)), 0);
	const struct turn_input input = { .msg = &in, .tuple = &c.tuple, .now_ms = h.now_ms };
	ck_assert_int_eq(turn_server_auth_precheck(h.srv, &input), -1);
	ck_assert_uint_eq(h.io.opens, 0);
	harness_down(&h);
}
END_TEST

START_TEST(sha256_request_gets_sha256_response)
{
	struct harness h;
	struct client c;
	uint8_t key[STUN_KEY_SHA256_LEN], md5[STUN_KEY_MD5_LEN];

	up_with_client(&h, &c);
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_SHA256), 0);
	ck_assert_int_ge(c.out.idx_integrity_sha256, 0);
	ck_assert_int_lt(c.out.idx_integrity, 0);
	ck_assert_int_eq(stun_key_sha256("alice", "turnd.test", "secret", key), 0);
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&c.out, key, sizeof(key)), 1);
	ck_assert_int_eq(stun_key_md5("alice", "turnd.test", "secret", md5), 0);
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&c.out, md5, sizeof(md5)), 0);
	/* A wrong password under SHA-256 is still 401. */
	strcpy(c.pass, "wrong");
	client_begin(&c, TURN_METHOD_REFRESH);
	ck_assert_int_eq(client_send(&c, AUTH_SHA256), 401);
	harness_down(&h);
}
END_TEST

START_TEST(md5_responses_carry_mi)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	ck_assert_int_ge(c.out.idx_integrity, 0);
	ck_assert(mi_md5_ok(&c));
	/* Error answers to an authenticated request are signed too. */
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 437);
	ck_assert(mi_md5_ok(&c));
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:4000"), 0);
	ck_assert(mi_md5_ok(&c));
	/* And the check would catch another key. */
	strcpy(c.store_pass, "other");
	ck_assert(!mi_md5_ok(&c));
	strcpy(c.store_pass, "secret");
	harness_down(&h);
}
END_TEST

/* RFC 8489 section 6.3.1.1: 420 only once the request authenticated. */
START_TEST(err_420_only_after_authentication)
{
	struct harness h;
	struct client c;
	uint16_t types[4];
	size_t n = 0;

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	stun_build_u32(begin_allocate(&c), 0x7FF1, 0);
	ck_assert_int_eq(client_send(&c, AUTH_NONE), 401);
	ck_assert(!resp_has(&c, STUN_ATTR_UNKNOWN_ATTRIBUTES));
	stun_build_u32(begin_allocate(&c), 0x7FF1, 0);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 420);
	const struct stun_attr *u = resp_attr(&c, STUN_ATTR_UNKNOWN_ATTRIBUTES, 0);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(stun_attr_get_unknown(&c.out, u, types, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(types[0], 0x7FF1);
	ck_assert(mi_md5_ok(&c));
	ck_assert_uint_eq(h.io.opens, 0);
	/* A comprehension-optional one is ignored. */
	stun_build_u32(begin_allocate(&c), 0xC0F1, 0);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	harness_down(&h);
}
END_TEST

/* ---- Allocate: 400, 437, 440, 442, 486, 508 ---- */

START_TEST(err_400_missing_requested_transport)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	client_begin(&c, TURN_METHOD_ALLOCATE);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	ck_assert(mi_md5_ok(&c));
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(h.io.total, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_442_tcp_transport)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	client_begin(&c, TURN_METHOD_ALLOCATE);
	stun_build_transport(&c.b, TURN_TRANSPORT_TCP);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 442);
	ck_assert_uint_eq(h.io.opens, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_400_conflicting_allocate_attributes)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	stun_build_u64(begin_allocate(&c), TURN_ATTR_RESERVATION_TOKEN, 0x5E5E000000000001ull);
	stun_build_even_port(&c.b, false);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	stun_build_u64(begin_allocate(&c), TURN_ATTR_RESERVATION_TOKEN, 0x5E5E000000000001ull);
	stun_build_family(&c.b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV4);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	stun_build_family(begin_allocate(&c), TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
			  STUN_FAMILY_IPV4);
	stun_build_family(&c.b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	/* ADDITIONAL-ADDRESS-FAMILY may only ask for IPv6. */
	stun_build_family(begin_allocate(&c), TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
			  STUN_FAMILY_IPV4);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(h.io.total, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_437_requests_without_allocation)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_refresh(&c, 600), 437);
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:4000"), 437);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.1:4000"), 437);
	ck_assert(mi_md5_ok(&c));
	harness_down(&h);
}
END_TEST

/* RFC 8656 section 7.2: an Allocate on a 5-tuple in use is 437, unless it
 * is a retransmission of the one that created it. */
START_TEST(err_437_second_allocate_but_retransmission_succeeds)
{
	struct harness h;
	struct client c;
	uint8_t first_tid[STUN_TID_LEN];
	struct turn_addr relayed;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_try_allocate(&c, 1200, 0, 0), 0);
	memcpy(first_tid, c.tid, STUN_TID_LEN);
	relayed = c.relayed[0];
	begin_allocate(&c);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 437);
	client_begin_tid(&c, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, first_tid);
	stun_build_transport(&c.b, TURN_TRANSPORT_UDP);
	stun_build_u32(&c.b, TURN_ATTR_LIFETIME, 1200);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	struct turn_addr again = resp_xor_addr(&c, TURN_ATTR_XOR_RELAYED_ADDRESS, 0);
	ck_assert(turn_addr_eq(&again, &relayed));
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 1200);
	ck_assert_uint_eq(h.io.opens, 1);
	ck_assert_uint_eq(h.io.total, 1);
	harness_down(&h);
}
END_TEST

START_TEST(err_440_ipv6_relay_unavailable)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert(!h.io.ipv6);
	ck_assert_int_eq(client_try_allocate(&c, 0, TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6),
			 440);
	ck_assert(mi_md5_ok(&c));
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(h.io.total, 0); /* the quota taken was given back */
	ck_assert_uint_eq(turn_server_stats(h.srv)->allocations, 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_486_user_quota)
{
	struct harness h;
	struct client a1, a2, b;

	harness_init(&h);
	h.io.user_limit = 1;
	harness_start(&h);
	client_init(&a1, &h, "alice", "secret", 7, 40000);
	client_init(&a2, &h, "alice", "secret", 7, 40001);
	client_init(&b, &h, "bob", "hunter2", 8, 40000);
	client_allocate(&a1, 0);
	client_challenge(&a2);
	ck_assert_int_eq(client_try_allocate(&a2, 0, 0, 0), 486);
	ck_assert(mi_md5_ok(&a2));
	client_allocate(&b, 0);
	ck_assert_uint_eq(fake_user_quota(&h.io, "alice"), 1);
	ck_assert_uint_eq(h.io.opens, 2);
	harness_down(&h);
}
END_TEST

START_TEST(err_508_total_quota)
{
	struct harness h;
	struct client a, b;

	harness_init(&h);
	h.io.total_limit = 1;
	harness_start(&h);
	client_init(&a, &h, "alice", "secret", 7, 40000);
	client_init(&b, &h, "bob", "hunter2", 8, 40000);
	client_allocate(&a, 0);
	client_challenge(&b);
	ck_assert_int_eq(client_try_allocate(&b, 0, 0, 0), 508);
	ck_assert_uint_eq(h.io.opens, 1);
	ck_assert_uint_eq(fake_user_quota(&h.io, "bob"), 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_508_no_relay_port)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	h.io.fail_code = 508;
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 508);
	ck_assert_uint_eq(h.io.opens, 0);
	ck_assert_uint_eq(fake_user_quota(&h.io, "alice"), 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->allocations, 0);
	/* Nothing was left behind on the 5-tuple: a later try works. */
	h.io.fail_code = 0;
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_508_max_permissions)
{
	struct harness h;
	struct client c;

	harness_init(&h);
	h.opt.max_permissions = 2;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.2:1"), 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.3:1"), 508);
	/* Refreshing one held is not a new one. */
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:2"), 0);
	harness_down(&h);
}
END_TEST

/* A reload's new limits apply to the next request; what an allocation
 * already holds stays. */
START_TEST(limits_change_while_running)
{
	struct harness h;
	struct client c;

	harness_init(&h);
	h.opt.max_permissions = 3;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.2:1"), 0);
	turn_server_set_limits(h.srv, 1200, 1, 0, 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.3:1"), 508);
	/* The two held still work, and can be refreshed. */
	ck_assert_int_eq(client_permit(&c, "198.51.100.2:1"), 0);
	ck_assert_uint_eq(turn_perm_count(client_alloc(&c), (uint32_t)(h.now_ms / 1000)), 2);
	turn_server_set_limits(h.srv, 1200, 0, 0, 0); /* 0: no limit */
	ck_assert_int_eq(client_permit(&c, "198.51.100.3:1"), 0);
	harness_down(&h);
}
END_TEST

/* RFC 8656 section 9.2: a CreatePermission that does not fit installs
 * nothing. */
START_TEST(err_508_create_permission_is_all_or_nothing)
{
	static const char *peers[] = { "198.51.100.1:1", "198.51.100.2:1", "198.51.100.3:1" };
	struct harness h;
	struct client c;
	struct turn_reply r;
	uint8_t buf[256];

	harness_init(&h);
	h.opt.max_permissions = 2;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	client_begin(&c, TURN_METHOD_CREATE_PERMISSION);
	for (int i = 0; i < 3; i++) {
		struct turn_addr p = addr_of(peers[i]);
		stun_build_xor_addr(&c.b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	}
	ck_assert_int_eq(client_send(&c, AUTH_MI), 508);
	r = (struct turn_reply){ buf, sizeof(buf), 0 };
	ck_assert_int_eq(peer_send(&c, peers[0], "x", 1, &r), -1);
	ck_assert_uint_eq(turn_perm_count(client_alloc(&c), (uint32_t)(h.now_ms / 1000)), 0);
	/* Two of them, the same peer twice among them, fit. */
	client_begin(&c, TURN_METHOD_CREATE_PERMISSION);
	for (int i = 0; i < 3; i++) {
		struct turn_addr p = addr_of(peers[i == 2 ? 0 : i]);
		stun_build_xor_addr(&c.b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	}
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	ck_assert_int_eq(peer_send(&c, peers[1], "x", 1, &r), 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_508_max_channels)
{
	struct harness h;
	struct client c;

	harness_init(&h);
	h.opt.max_channels = 1;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_bind(&c, 0x4001, "198.51.100.1:2"), 508);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.1:1"), 0); /* refresh */
	harness_down(&h);
}
END_TEST

/* ChannelBind is all or nothing: a 508 for the permission it would
 * install leaves no channel behind, so ChannelData cannot reach a peer
 * without a permission, past max-permissions (issue 13 item 8). A 400 for
 * the channel installs no permission. */
START_TEST(err_508_channel_bind_is_all_or_nothing)
{
	struct harness h;
	struct client c;
	struct turn_reply r;
	uint8_t buf[256];

	harness_init(&h);
	h.opt.max_permissions = 1;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.2:1"), 508);
	uint32_t now = (uint32_t)(h.now_ms / 1000);
	ck_assert_uint_eq(turn_channel_count(client_alloc(&c), now), 0);
	ck_assert_uint_eq(turn_perm_count(client_alloc(&c), now), 1);
	unsigned sends = h.io.n_sends;
	ck_assert_int_eq(client_chandata(&c, 0x4000, "x", 1), -1);
	ck_assert_uint_eq(h.io.n_sends, sends);
	/* The peer it holds a permission for binds. */
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "x", 1), 0);
	ck_assert_uint_eq(h.io.n_sends, sends + 1);
	/* A 400 (number taken) installs no permission. */
	turn_server_set_limits(h.srv, 1200, 0, 0, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.3:1"), 400);
	r = (struct turn_reply){ buf, sizeof(buf), 0 };
	ck_assert_int_eq(peer_send(&c, "198.51.100.3:1", "x", 1, &r), -1);
	ck_assert_uint_eq(turn_perm_count(client_alloc(&c), now), 1);
	harness_down(&h);
}
END_TEST

/* ---- 441, 443 ---- */

START_TEST(err_441_other_user_on_the_same_5tuple)
{
	struct harness h;
	struct client alice, bob;

	up_with_client(&h, &alice);
	ck_assert_int_eq(client_try_allocate(&alice, 0, 0, 0), 0);
	client_init(&bob, &h, "bob", "hunter2", 7, 40000); /* alice's 5-tuple */
	client_challenge(&bob); /* authentication comes first: 401, not 437 */
	ck_assert_int_eq(client_refresh(&bob, 600), 441);
	ck_assert_int_eq(client_permit(&bob, "198.51.100.1:1"), 441);
	ck_assert_int_eq(client_bind(&bob, 0x4000, "198.51.100.1:1"), 441);
	ck_assert_int_eq(client_refresh(&bob, 0), 441);
	ck_assert_uint_eq(h.io.closes, 0);
	ck_assert_int_eq(client_try_allocate(&bob, 0, 0, 0), 437);
	ck_assert_int_eq(client_refresh(&alice, 600), 0);
	harness_down(&h);
}
END_TEST

START_TEST(err_443_peer_family_mismatch)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	ck_assert_int_eq(client_permit(&c, "[2001:db8::5]:4000"), 443);
	ck_assert_int_eq(client_bind(&c, 0x4000, "[2001:db8::5]:4000"), 443);
	client_begin(&c, TURN_METHOD_REFRESH);
	stun_build_family(&c.b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 443);
	client_begin(&c, TURN_METHOD_REFRESH);
	stun_build_family(&c.b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV4);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	harness_down(&h);
}
END_TEST

/* ---- ChannelBind and peer addresses: 400, 403 ---- */

START_TEST(err_400_channel_numbers)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	ck_assert_int_eq(client_bind(&c, 0x3FFF, "198.51.100.1:1"), 400);
	ck_assert_int_eq(client_bind(&c, 0x5000, "198.51.100.1:1"), 400);
	ck_assert_int_eq(client_bind(&c, 0x7FFF, "198.51.100.1:1"), 400);
	ck_assert_int_eq(client_bind(&c, 0xFFFF, "198.51.100.1:1"), 400);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_bind(&c, 0x4FFF, "198.51.100.1:2"), 0);
	/* No CHANNEL-NUMBER, or no XOR-PEER-ADDRESS. */
	client_begin(&c, TURN_METHOD_CHANNEL_BIND);
	stun_build_channel(&c.b, 0x4001);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	struct turn_addr p = addr_of("198.51.100.1:3");
	client_begin(&c, TURN_METHOD_CHANNEL_BIND);
	stun_build_xor_addr(&c.b, TURN_ATTR_XOR_PEER_ADDRESS, &p);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	harness_down(&h);
}
END_TEST

START_TEST(legacy_channel_numbers)
{
	struct harness h;
	struct client c;

	harness_init(&h);
	h.opt.legacy_channels = true;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x7FFF, "198.51.100.1:1"), 0);
	ck_assert_int_eq(client_bind(&c, 0x5000, "198.51.100.1:2"), 0);
	ck_assert_int_eq(client_bind(&c, 0x8000, "198.51.100.1:3"), 400);
	ck_assert_int_eq(client_bind(&c, 0x3FFF, "198.51.100.1:3"), 400);
	ck_assert_int_eq(client_chandata(&c, 0x7FFF, "x", 1), 0);
	ck_assert_uint_eq(h.io.n_sends, 1);
	harness_down(&h);
}
END_TEST

/* An XOR-PEER-ADDRESS with a raw value. */
static void raw_peer(struct client *c, uint8_t family, size_t len)
{
	uint8_t v[20] = { 0, family, 0x21, 0x12, 0xA1, 0x2B, 0x43, 0x44 };

	stun_build_attr(&c->b, TURN_ATTR_XOR_PEER_ADDRESS, v, len);
}

START_TEST(err_400_malformed_peer_address)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	for (int bind = 0; bind < 2; bind++) {
		const uint8_t family[] = { 0x03, STUN_FAMILY_IPV6, STUN_FAMILY_IPV4 };
		const size_t len[] = { 8, 8, 20 };
		for (int i = 0; i < 3; i++) {
			client_begin(&c, bind ? TURN_METHOD_CHANNEL_BIND
					      : TURN_METHOD_CREATE_PERMISSION);
			if (bind)
				stun_build_channel(&c.b, 0x4000);
			raw_peer(&c, family[i], len[i]);
			ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
		}
	}
	/* CreatePermission with no peer at all. */
	client_begin(&c, TURN_METHOD_CREATE_PERMISSION);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 400);
	ck_assert_uint_eq(turn_perm_count(client_alloc(&c), (uint32_t)(h.now_ms / 1000)), 0);
	harness_down(&h);
}
END_TEST

/* SECURITY.md, "Where a relay may send": both ends of every range of the
 * table (and its named addresses), refused on every path. The policy's own
 * unit test checks the neighbours past each end are allowed. */
#define N_DENIED n_denied_peers

/* A dual-stack allocation, so that every peer family is possible. */
static void dual_client(struct harness *h, struct client *c)
{
	harness_init(h);
	h->io.ipv6 = true;
	harness_start(h);
	client_init(c, h, "alice", "secret", 7, 40000);
	client_challenge(c);
	ck_assert_int_eq(client_try_allocate(c, 0, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6),
			 0);
	ck_assert_uint_eq(c->relayed[1].family, TURN_AF_INET6);
}

START_TEST(err_403_peer_policy)
{
	struct harness h;
	struct client c;

	dual_client(&h, &c);
	for (unsigned i = 0; i < N_DENIED; i++) {
		ck_assert_msg(client_permit(&c, denied_peers[i]) == 403, "%s", denied_peers[i]);
		ck_assert(mi_md5_ok(&c));
		ck_assert_msg(client_bind(&c, (uint16_t)(0x4000 + i), denied_peers[i]) == 403,
			      "%s", denied_peers[i]);
	}
	ck_assert_uint_eq(turn_perm_count(client_alloc(&c), (uint32_t)(h.now_ms / 1000)), 0);
	ck_assert_uint_eq(turn_channel_count(client_alloc(&c), (uint32_t)(h.now_ms / 1000)), 0);
	/* Public peers of both families are fine. */
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:5000"), 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, "[2001:db8::99]:5000"), 0);
	harness_down(&h);
}
END_TEST

/* Even with a permission or channel in place, installed before a policy
 * reload, nothing is sent to a refused peer once the policy is set again
 * (turn_server_set_policy sweeps them). */
START_TEST(send_to_refused_peer_is_dropped)
{
	struct harness h;
	struct client c;

	dual_client(&h, &c);
	uint32_t now = (uint32_t)(h.now_ms / 1000);
	struct turn_alloc *a = client_alloc(&c);
	for (unsigned i = 0; i < N_DENIED; i++) {
		struct turn_addr p = addr_of(denied_peers[i]);
		ck_assert_int_eq(turn_perm_install(a, &p, now, 0), 0);
		ck_assert_int_eq(turn_channel_bind(a, (uint16_t)(0x4000 + i), &p, now, 0), 0);
	}
	turn_server_set_policy(h.srv, h.policy, h.now_ms); /* the reload */
	for (unsigned i = 0; i < N_DENIED; i++) {
		ck_assert_int_eq(client_send_ind(&c, denied_peers[i], "leak", 4), -1);
		ck_assert_int_eq(client_chandata(&c, (uint16_t)(0x4000 + i), "leak", 4), -1);
	}
	ck_assert_uint_eq(h.io.n_sends, 0);
	ck_assert_uint_ge(turn_server_stats(h.srv)->peer_denied, 2 * N_DENIED);
	/* Without a permission a refused peer is dropped too. */
	ck_assert_int_eq(client_send_ind(&c, "192.168.1.1:5000", "leak", 4), -1);
	/* The same path to a permitted public peer does send. */
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:5000"), 0);
	ck_assert_int_eq(client_send_ind(&c, "198.51.100.1:5000", "ok", 2), 0);
	ck_assert_uint_eq(h.io.n_sends, 1);
	harness_down(&h);
}
END_TEST

/* ---- Attributes after MESSAGE-INTEGRITY ---- */

START_TEST(attributes_after_mi_are_ignored)
{
	struct harness h;
	struct client c;

	up_with_client(&h, &c);
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	/* A valid Refresh without LIFETIME, then LIFETIME 0 after its MAC. */
	client_begin(&c, TURN_METHOD_REFRESH);
	client_sign(&c, AUTH_MI);
	stun_build_u32(&c.b, TURN_ATTR_LIFETIME, 0);
	ck_assert_int_eq(client_deliver(&c, AUTH_MI), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), TURN_DEFAULT_LIFETIME);
	ck_assert_uint_eq(h.io.closes, 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:1"), 0);
	/* The same with a long LIFETIME: the allocation still ends at 600 s. */
	client_begin(&c, TURN_METHOD_REFRESH);
	client_sign(&c, AUTH_MI);
	stun_build_u32(&c.b, TURN_ATTR_LIFETIME, 3000);
	ck_assert_int_eq(client_deliver(&c, AUTH_MI), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), TURN_DEFAULT_LIFETIME);
	harness_advance(&h, TURN_DEFAULT_LIFETIME * 1000ull);
	ck_assert_uint_eq(h.io.closes, 1);
	harness_down(&h);
}
END_TEST

/* Metrics: every answer counted by method and code; the gauges walk the
 * allocations and count what is in force at that time. */
START_TEST(answers_and_gauges_are_counted)
{
	struct harness h;
	struct client c, bad;
	uint64_t perms, chans;

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 600); /* a 401 challenge, then the success */
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:4000"), 0);
	ck_assert_int_eq(client_permit(&c, "198.51.100.2:4000"), 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.3:4000"), 0);
	client_init(&bad, &h, "alice", "secret", 8, 40000);
	strcpy(bad.pass, "wrong");
	client_challenge(&bad);
	begin_allocate(&bad);
	ck_assert_int_eq(client_send(&bad, AUTH_MI), 401);
	ck_assert_uint_eq(answers(&h, "allocate", 0), 1);
	ck_assert_uint_eq(answers(&h, "allocate", 401), 3);
	ck_assert_uint_eq(answers(&h, "createpermission", 0), 2);
	ck_assert_uint_eq(answers(&h, "channelbind", 0), 1);
	ck_assert_uint_eq(answers(&h, "refresh", 0), 0);
	ck_assert_int_eq(client_permit(&c, "127.0.0.1:4000"), 403);
	ck_assert_uint_eq(answers(&h, "createpermission", 403), 1);
	/* Two permissions and the channel's own (RFC 8656 section 12.2). */
	turn_server_gauges(h.srv, h.now_ms, &perms, &chans);
	ck_assert_uint_eq(perms, 3);
	ck_assert_uint_eq(chans, 1);
	harness_advance(&h, 301 * 1000); /* permissions lapse, the channel stays */
	turn_server_gauges(h.srv, h.now_ms, &perms, &chans);
	ck_assert_uint_eq(perms, 0);
	ck_assert_uint_eq(chans, 1);
	ck_assert_int_eq(client_refresh(&c, 0), 0);
	ck_assert_uint_eq(answers(&h, "refresh", 0), 1);
	turn_server_gauges(h.srv, h.now_ms, &perms, &chans);
	ck_assert_uint_eq(chans, 0);
	ck_assert_str_eq(turn_stats_method_name(TURN_STATS_METHODS - 1), "other");
	ck_assert_int_eq(turn_stats_code(TURN_STATS_CODES - 1), -1);
	harness_down(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_methods");
	TCase *auth = tcase_create("auth");
	TCase *alloc = tcase_create("allocate");
	TCase *other = tcase_create("methods");

	tcase_add_test(auth, err_401_without_mi_is_a_challenge);
	tcase_add_test(auth, answers_and_gauges_are_counted);
	tcase_add_test(auth, err_401_wrong_password);
	tcase_add_test(auth, err_401_unknown_user);
	tcase_add_test(auth, authenticated_flag_follows_the_credential_check);
	tcase_add_test(auth, err_500_credential_store_down);
	tcase_add_test(auth, err_400_mi_without_nonce_or_realm);
	tcase_add_test(auth, err_400_password_algorithms_downgrade);
	tcase_add_test(auth, err_438_stale_nonce_then_retry_succeeds);
	tcase_add_test(auth, err_438_nonce_of_another_client);
	tcase_add_test(auth, precheck_decides_before_the_lookup);
	tcase_add_test(auth, sha256_request_gets_sha256_response);
	tcase_add_test(auth, md5_responses_carry_mi);
	tcase_add_test(auth, err_420_only_after_authentication);
	tcase_add_test(auth, attributes_after_mi_are_ignored);
	tcase_add_test(alloc, err_400_missing_requested_transport);
	tcase_add_test(alloc, err_442_tcp_transport);
	tcase_add_test(alloc, err_400_conflicting_allocate_attributes);
	tcase_add_test(alloc, err_437_requests_without_allocation);
	tcase_add_test(alloc, err_437_second_allocate_but_retransmission_succeeds);
	tcase_add_test(alloc, err_440_ipv6_relay_unavailable);
	tcase_add_test(alloc, err_486_user_quota);
	tcase_add_test(alloc, err_508_total_quota);
	tcase_add_test(alloc, err_508_no_relay_port);
	tcase_add_test(other, err_508_max_permissions);
	tcase_add_test(other, err_508_channel_bind_is_all_or_nothing);
	tcase_add_test(other, limits_change_while_running);
	tcase_add_test(other, err_508_create_permission_is_all_or_nothing);
	tcase_add_test(other, err_508_max_channels);
	tcase_add_test(other, err_441_other_user_on_the_same_5tuple);
	tcase_add_test(other, err_443_peer_family_mismatch);
	tcase_add_test(other, err_400_channel_numbers);
	tcase_add_test(other, legacy_channel_numbers);
	tcase_add_test(other, err_400_malformed_peer_address);
	tcase_add_test(other, err_403_peer_policy);
	tcase_add_test(other, send_to_refused_peer_is_dropped);
	suite_add_tcase(s, auth);
	suite_add_tcase(s, alloc);
	suite_add_tcase(s, other);
	return run_suite(s);
}
