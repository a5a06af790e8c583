/* Unit tests for the protocol core's Binding service (src/turn/server.c):
 * message in, decision out, no sockets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "turn/server.h"

static const uint8_t tid[STUN_TID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* One message through the core, with no credential. */
static int handle(struct turn_server *srv, const struct stun_msg *msg, const struct turn_tuple *t,
		  uint64_t now_ms, struct turn_reply *reply)
{
	struct turn_input in = { .msg = msg, .tuple = t, .now_ms = now_ms };

	return turn_server_handle(srv, &in, reply);
}

struct exchange {
	uint8_t req[512];
	size_t req_len;
	uint8_t resp[1500];
	struct turn_reply reply;
	struct stun_msg out;
	int rc;
};

static struct turn_tuple tuple_v4(void)
{
	struct turn_tuple t = { .transport = TURN_TRANSPORT_UDP };
	turn_addr_parse("192.0.2.7:40000", 0, &t.client);
	turn_addr_parse("192.0.2.1:3478", 0, &t.local);
	return t;
}

/* Send req through a fresh server; parse the reply if there is one. */
static void run(struct exchange *x, const struct turn_server_options *opt,
		const struct turn_tuple *t)
{
	struct turn_server *srv = turn_server_new(opt);
	struct stun_msg in;

	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(stun_msg_parse(&in, x->req, x->req_len), 0);
	x->reply = (struct turn_reply){ x->resp, sizeof(x->resp), 0 };
	x->rc = handle(srv, &in, t, 1000, &x->reply);
	if (x->reply.len > 0)
		ck_assert_int_eq(stun_msg_parse(&x->out, x->resp, x->reply.len), 0);
	turn_server_free(srv);
}

static void build_req(struct exchange *x, uint16_t method, uint8_t cls, bool fingerprint,
		      uint16_t extra_attr)
{
	struct stun_builder b;

	stun_build_begin(&b, x->req, sizeof(x->req), method, cls, tid);
	if (extra_attr)
		stun_build_u32(&b, extra_attr, 0);
	if (fingerprint)
		stun_build_fingerprint(&b);
	long n = stun_build_end(&b);
	ck_assert_int_gt(n, 0);
	x->req_len = (size_t)n;
}

static const struct turn_server_options plain = { .rfc3489_compat = true };

START_TEST(binding_reflects_source_v4)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	struct turn_addr mapped;

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, false, 0);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
	ck_assert_uint_eq(x.out.method, STUN_METHOD_BINDING);
	ck_assert_mem_eq(x.out.tid, tid, STUN_TID_LEN);
	const struct stun_attr *a = stun_msg_find(&x.out, STUN_ATTR_XOR_MAPPED_ADDRESS);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_xor_addr(&x.out, a, &mapped), 0);
	ck_assert(turn_addr_eq(&mapped, &t.client));
	/* No FINGERPRINT asked for, none given; no SOFTWARE unless set. */
	ck_assert_int_eq(x.out.idx_fingerprint, -1);
	ck_assert_ptr_null(stun_msg_find(&x.out, STUN_ATTR_SOFTWARE));
	ck_assert_ptr_null(stun_msg_find(&x.out, STUN_ATTR_MAPPED_ADDRESS));
}
END_TEST

START_TEST(binding_reflects_source_v6_over_tcp)
{
	struct exchange x;
	struct turn_tuple t = { .transport = TURN_TRANSPORT_TCP };
	struct turn_addr mapped;

	turn_addr_parse("[2001:db8::1234]:5555", 0, &t.client);
	turn_addr_parse("[2001:db8::1]:3478", 0, &t.local);
	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, true, 0);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, 0);
	const struct stun_attr *a = stun_msg_find(&x.out, STUN_ATTR_XOR_MAPPED_ADDRESS);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_xor_addr(&x.out, a, &mapped), 0);
	ck_assert(turn_addr_eq(&mapped, &t.client));
	/* The request had a FINGERPRINT: so has the response, and it is right. */
	ck_assert_int_ge(x.out.idx_fingerprint, 0);
	ck_assert_int_eq(stun_msg_check_fingerprint(&x.out), 1);
}
END_TEST

START_TEST(binding_software_only_when_configured)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	struct turn_server_options opt = { .software = "turnd test", .rfc3489_compat = true };
	const uint8_t *text;
	size_t len;

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, true, 0);
	run(&x, &opt, &t);
	const struct stun_attr *a = stun_msg_find(&x.out, STUN_ATTR_SOFTWARE);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_text(&x.out, a, 763, &text, &len), 0);
	ck_assert_uint_eq(len, strlen("turnd test"));
	ck_assert_mem_eq(text, "turnd test", len);
	ck_assert_int_eq(stun_msg_check_fingerprint(&x.out), 1);
}
END_TEST

START_TEST(unknown_comprehension_required_gets_420)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	uint16_t types[4];
	size_t n = 0;
	int code = 0;
	const uint8_t *reason;
	size_t rlen;

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, false, 0x7FF1);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_ERROR);
	const struct stun_attr *e = stun_msg_find(&x.out, STUN_ATTR_ERROR_CODE);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(stun_attr_get_error(&x.out, e, NULL, &code, &reason, &rlen), 0);
	ck_assert_int_eq(code, 420);
	const struct stun_attr *u = stun_msg_find(&x.out, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(stun_attr_get_unknown(&x.out, u, types, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(types[0], 0x7FF1);
}
END_TEST

START_TEST(unknown_comprehension_optional_is_ignored)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, false, 0xC001);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
}
END_TEST

START_TEST(indication_gets_no_answer)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_INDICATION, false, 0);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_uint_eq(x.reply.len, 0);
	/* With an unknown comprehension-required attribute: dropped. */
	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_INDICATION, false, 0x7FF1);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, -1);
	ck_assert_uint_eq(x.reply.len, 0);
}
END_TEST

START_TEST(responses_and_unknown_methods_are_dropped)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, false, 0);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, -1);
	ck_assert_uint_eq(x.reply.len, 0);
	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_ERROR, false, 0);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, -1);
	build_req(&x, 0x0FF, STUN_CLASS_REQUEST, false, 0);
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, -1);
	ck_assert_uint_eq(x.reply.len, 0);
}
END_TEST

START_TEST(bad_fingerprint_is_dropped)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, true, 0);
	x.req[x.req_len - 1] ^= 0x01;
	run(&x, &plain, &t);
	ck_assert_int_eq(x.rc, -1);
	ck_assert_uint_eq(x.reply.len, 0);
}
END_TEST

static void build_rfc3489(struct exchange *x)
{
	struct stun_builder b;
	uint8_t tid16[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

	stun_build_begin_rfc3489(&b, x->req, sizeof(x->req), STUN_METHOD_BINDING,
				 STUN_CLASS_REQUEST, tid16);
	long n = stun_build_end(&b);
	ck_assert_int_eq(n, 20);
	x->req_len = (size_t)n;
}

START_TEST(rfc3489_request_gets_mapped_address)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	struct turn_server *srv = turn_server_new(&plain);
	struct stun_msg in;

	/* The codec parses cookieless messages only as requests (the server's
	 * side), so the classic response is checked byte by byte. */
	build_rfc3489(&x);
	ck_assert_int_eq(stun_msg_parse(&in, x.req, x.req_len), 0);
	ck_assert(in.rfc3489);
	x.reply = (struct turn_reply){ x.resp, sizeof(x.resp), 0 };
	ck_assert_int_eq(handle(srv, &in, &t, 0, &x.reply), 0);
	turn_server_free(srv);
	ck_assert_uint_eq(x.reply.len, 20 + 12);
	ck_assert_uint_eq((x.resp[0] << 8) | x.resp[1], 0x0101);
	ck_assert_uint_eq((x.resp[2] << 8) | x.resp[3], 12);
	ck_assert_mem_eq(x.resp + 4, x.req + 4, 16); /* the whole 16-byte id */
	static const uint8_t mapped[] = { 0x00, 0x01, 0x00, 0x08, 0x00, 0x01,
					  40000 >> 8, 40000 & 0xff, 192, 0, 2, 7 };
	ck_assert_mem_eq(x.resp + 20, mapped, sizeof(mapped));
}
END_TEST

START_TEST(rfc3489_off_drops)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	struct turn_server_options strict = { .rfc3489_compat = false };

	build_rfc3489(&x);
	run(&x, &strict, &t);
	ck_assert_int_eq(x.rc, -1);
	ck_assert_uint_eq(x.reply.len, 0);
}
END_TEST

START_TEST(stats_count_outcomes)
{
	struct turn_server *srv = turn_server_new(&plain);
	struct turn_tuple t = tuple_v4();
	struct exchange x;
	struct stun_msg in;

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, false, 0);
	stun_msg_parse(&in, x.req, x.req_len);
	x.reply = (struct turn_reply){ x.resp, sizeof(x.resp), 0 };
	handle(srv, &in, &t, 0, &x.reply);
	handle(srv, &in, &t, 0, &x.reply);
	build_req(&x, 0x0FF, STUN_CLASS_REQUEST, false, 0);
	stun_msg_parse(&in, x.req, x.req_len);
	handle(srv, &in, &t, 0, &x.reply);
	ck_assert_uint_eq(turn_server_stats(srv)->requests, 2);
	ck_assert_uint_eq(turn_server_stats(srv)->dropped, 1);
	turn_server_free(srv);
	turn_server_free(NULL);
}
END_TEST

START_TEST(reply_too_small_sends_nothing)
{
	struct turn_server *srv = turn_server_new(&plain);
	struct turn_tuple t = tuple_v4();
	struct exchange x;
	struct stun_msg in;
	uint8_t tiny[24];
	struct turn_reply r = { tiny, sizeof(tiny), 0 };

	build_req(&x, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, false, 0);
	stun_msg_parse(&in, x.req, x.req_len);
	ck_assert_int_eq(handle(srv, &in, &t, 0, &r), -1);
	ck_assert_uint_eq(r.len, 0);
	turn_server_free(srv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_server");
	TCase *tc = tcase_create("binding");

	tcase_add_test(tc, binding_reflects_source_v4);
	tcase_add_test(tc, binding_reflects_source_v6_over_tcp);
	tcase_add_test(tc, binding_software_only_when_configured);
	tcase_add_test(tc, unknown_comprehension_required_gets_420);
	tcase_add_test(tc, unknown_comprehension_optional_is_ignored);
	tcase_add_test(tc, indication_gets_no_answer);
	tcase_add_test(tc, responses_and_unknown_methods_are_dropped);
	tcase_add_test(tc, bad_fingerprint_is_dropped);
	tcase_add_test(tc, rfc3489_request_gets_mapped_address);
	tcase_add_test(tc, rfc3489_off_drops);
	tcase_add_test(tc, stats_count_outcomes);
	tcase_add_test(tc, reply_too_small_sends_nothing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
