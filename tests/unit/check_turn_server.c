/* Unit tests for the protocol core's Binding service (src/turn/server.c,
 * and RFC 5780 NAT discovery in src/turn/nat.c): message in, decision
 * out, no sockets. */
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

/* ---- RFC 5780 NAT behaviour discovery ---- */

/* A1 192.0.2.1, A2 192.0.2.2, P1 3478, P2 3479. */
static struct turn_server_options nat_options(void)
{
	struct turn_server_options opt = { .rfc3489_compat = true };

	turn_addr_parse("192.0.2.1:3478", 0, &opt.nat[0].primary);
	turn_addr_parse("192.0.2.2:3479", 0, &opt.nat[0].alternate);
	return opt;
}

/* A Binding request with CHANGE-REQUEST flags (no attribute when flags is
 * -1) and, when extra is set, an empty attribute of that type. */
static void build_change(struct exchange *x, int64_t flags, uint16_t extra)
{
	struct stun_builder b;

	stun_build_begin(&b, x->req, sizeof(x->req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	if (flags >= 0)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, (uint32_t)flags);
	if (extra)
		stun_build_u32(&b, extra, 0);
	stun_build_fingerprint(&b);
	long n = stun_build_end(&b);
	ck_assert_int_gt(n, 0);
	x->req_len = (size_t)n;
}

/* Like run, keeping where the core said the response leaves from. */
static void run_from(struct exchange *x, const struct turn_server_options *opt,
		     const struct turn_tuple *t, struct turn_addr *from)
{
	struct turn_server *srv = turn_server_new(opt);
	struct turn_input in;
	struct stun_msg msg;

	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(stun_msg_parse(&msg, x->req, x->req_len), 0);
	in = (struct turn_input){ .msg = &msg, .tuple = t, .now_ms = 1000 };
	x->reply = (struct turn_reply){ x->resp, sizeof(x->resp), 0 };
	memset(from, 0xee, sizeof(*from)); /* must be overwritten */
	x->rc = turn_server_handle_from(srv, &in, &x->reply, from);
	if (x->reply.len > 0)
		ck_assert_int_eq(stun_msg_parse(&x->out, x->resp, x->reply.len), 0);
	turn_server_free(srv);
}

static int error_code(const struct exchange *x)
{
	const struct stun_attr *e = stun_msg_find(&x->out, STUN_ATTR_ERROR_CODE);
	const uint8_t *reason;
	size_t rlen;
	int code = 0;

	if (x->out.cls != STUN_CLASS_ERROR || !e)
		return 0;
	ck_assert_int_eq(stun_attr_get_error(&x->out, e, NULL, &code, &reason, &rlen), 0);
	return code;
}

static void assert_unknown_is(const struct exchange *x, uint16_t type)
{
	const struct stun_attr *u = stun_msg_find(&x->out, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	uint16_t types[4];
	size_t n = 0;

	ck_assert_int_eq(error_code(x), 420);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(stun_attr_get_unknown(&x->out, u, types, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(types[0], type);
}

static void assert_addr_attr(const struct exchange *x, uint16_t type, const char *want)
{
	const struct stun_attr *a = stun_msg_find(&x->out, type);
	struct turn_addr got, w;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_addr(&x->out, a, &got), 0);
	ck_assert_int_eq(turn_addr_parse(want, 0, &w), 0);
	ck_assert_msg(turn_addr_eq(&got, &w), "attribute 0x%04x is not %s", type, want);
}

START_TEST(nat_off_change_request_gets_420)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	struct turn_addr from;

	/* RFC 5780 section 6: no alternate address, 420 for CHANGE-REQUEST,
	 * even with no flag set; no OTHER-ADDRESS in any response. */
	build_change(&x, 0, 0);
	run_from(&x, &plain, &t, &from);
	ck_assert_int_eq(x.rc, 0);
	assert_unknown_is(&x, STUN_ATTR_CHANGE_REQUEST);
	ck_assert_uint_eq(from.family, 0);
	build_change(&x, STUN_CHANGE_IP | STUN_CHANGE_PORT, 0);
	run(&x, &plain, &t);
	assert_unknown_is(&x, STUN_ATTR_CHANGE_REQUEST);
	build_change(&x, -1, 0);
	run(&x, &plain, &t);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
	ck_assert_ptr_null(stun_msg_find(&x.out, STUN_ATTR_OTHER_ADDRESS));
	ck_assert_ptr_null(stun_msg_find(&x.out, STUN_ATTR_RESPONSE_ORIGIN));
}
END_TEST

START_TEST(nat_plain_binding_names_origin_and_other)
{
	struct exchange x;
	struct turn_tuple t = tuple_v4();
	struct turn_server_options opt = nat_options();
	struct turn_addr from, mapped;

	/* RFC 5780 section 6.1: with no attribute of that RFC, the response
	 * still carries RESPONSE-ORIGIN and OTHER-ADDRESS, and both
	 * MAPPED-ADDRESS and XOR-MAPPED-ADDRESS. */
	build_change(&x, -1, 0);
	run_from(&x, &opt, &t, &from);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
	ck_assert_uint_eq(from.family, 0);
	assert_addr_attr(&x, STUN_ATTR_RESPONSE_ORIGIN, "192.0.2.1:3478");
	assert_addr_attr(&x, STUN_ATTR_OTHER_ADDRESS, "192.0.2.2:3479");
	assert_addr_attr(&x, STUN_ATTR_MAPPED_ADDRESS, "192.0.2.7:40000");
	const struct stun_attr *a = stun_msg_find(&x.out, STUN_ATTR_XOR_MAPPED_ADDRESS);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_xor_addr(&x.out, a, &mapped), 0);
	ck_assert(turn_addr_eq(&mapped, &t.client));
	ck_assert_int_eq(stun_msg_check_fingerprint(&x.out), 1);
}
END_TEST

/* RFC 5780 section 6.1, table 1: from each of the four addresses, each
 * combination of flags. */
START_TEST(nat_table_1)
{
	static const char *const addrs[4] = { "192.0.2.1:3478", "192.0.2.1:3479",
					      "192.0.2.2:3478", "192.0.2.2:3479" };
	static const uint32_t flags[4] = { 0, STUN_CHANGE_PORT, STUN_CHANGE_IP,
					   STUN_CHANGE_IP | STUN_CHANGE_PORT };
	struct turn_server_options opt = nat_options();
	struct turn_tuple t = tuple_v4();
	struct exchange x;
	struct turn_addr from, want;

	for (int d = 0; d < 4; d++) {
		for (int f = 0; f < 4; f++) {
			/* flags[f] changes port (bit 0) and IP (bit 1) of d. */
			int o = d ^ f;
			turn_addr_parse(addrs[d], 0, &t.local);
			build_change(&x, flags[f], 0);
			run_from(&x, &opt, &t, &from);
			ck_assert_int_eq(x.rc, 0);
			ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
			assert_addr_attr(&x, STUN_ATTR_RESPONSE_ORIGIN, addrs[o]);
			assert_addr_attr(&x, STUN_ATTR_OTHER_ADDRESS, addrs[d ^ 3]);
			turn_addr_parse(addrs[o], 0, &want);
			if (o == d)
				ck_assert_uint_eq(from.family, 0);
			else
				ck_assert_msg(turn_addr_eq(&from, &want), "from %d flags %d", d, f);
		}
	}
}
END_TEST

START_TEST(nat_change_over_tcp_is_400)
{
	struct turn_server_options opt = nat_options();
	struct turn_tuple t = tuple_v4();
	struct exchange x;
	struct turn_addr from;

	t.transport = TURN_TRANSPORT_TCP;
	build_change(&x, STUN_CHANGE_PORT, 0);
	run_from(&x, &opt, &t, &from);
	ck_assert_int_eq(error_code(&x), 400);
	ck_assert_uint_eq(from.family, 0);
	/* No flag asks for nothing TCP cannot do: answered as usual. */
	build_change(&x, 0, 0);
	run_from(&x, &opt, &t, &from);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
	assert_addr_attr(&x, STUN_ATTR_OTHER_ADDRESS, "192.0.2.2:3479");
	ck_assert_uint_eq(from.family, 0);
}
END_TEST

START_TEST(nat_other_local_address_is_not_discovery)
{
	struct turn_server_options opt = nat_options();
	struct turn_tuple t = tuple_v4();
	struct exchange x;

	/* The TLS port, or another listening address, is none of the four. */
	turn_addr_parse("192.0.2.1:5349", 0, &t.local);
	build_change(&x, STUN_CHANGE_IP, 0);
	run(&x, &opt, &t);
	assert_unknown_is(&x, STUN_ATTR_CHANGE_REQUEST);
	build_change(&x, -1, 0);
	run(&x, &opt, &t);
	ck_assert_uint_eq(x.out.cls, STUN_CLASS_SUCCESS);
	ck_assert_ptr_null(stun_msg_find(&x.out, STUN_ATTR_OTHER_ADDRESS));
	/* IPv6 has no pair here. */
	turn_addr_parse("[2001:db8::7]:40000", 0, &t.client);
	turn_addr_parse("[2001:db8::1]:3478", 0, &t.local);
	build_change(&x, -1, 0);
	run(&x, &opt, &t);
	ck_assert_ptr_null(stun_msg_find(&x.out, STUN_ATTR_OTHER_ADDRESS));
}
END_TEST

START_TEST(nat_unsupported_attributes_get_420)
{
	struct turn_server_options opt = nat_options();
	struct turn_tuple t = tuple_v4();
	struct exchange x;

	/* RFC 5780 sections 5 and 7.5: optional for a server. */
	build_change(&x, -1, STUN_ATTR_RESPONSE_PORT);
	run(&x, &opt, &t);
	assert_unknown_is(&x, STUN_ATTR_RESPONSE_PORT);
	build_change(&x, -1, STUN_ATTR_PADDING);
	run(&x, &plain, &t);
	assert_unknown_is(&x, STUN_ATTR_PADDING);
}
END_TEST

START_TEST(nat_malformed_change_request_is_400)
{
	struct turn_server_options opt = nat_options();
	struct turn_tuple t = tuple_v4();
	struct exchange x;
	struct stun_builder b;
	static const uint8_t two[2] = { 0, 6 };

	stun_build_begin(&b, x.req, sizeof(x.req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_CHANGE_REQUEST, two, sizeof(two));
	x.req_len = (size_t)stun_build_end(&b);
	run(&x, &opt, &t);
	ck_assert_int_eq(error_code(&x), 400);
}
END_TEST

/* Where an attribute of type sits in a raw message, or 0. */
static size_t raw_find(const uint8_t *m, size_t len, uint16_t type)
{
	for (size_t off = STUN_HDR_LEN; off + 4 <= len;) {
		uint16_t at = (uint16_t)(m[off] << 8 | m[off + 1]);
		uint16_t alen = (uint16_t)(m[off + 2] << 8 | m[off + 3]);
		if (at == type)
			return off;
		off += 4 + (size_t)((alen + 3) & ~3u);
	}
	return 0;
}

START_TEST(nat_rfc3489_client_gets_source_and_changed_address)
{
	struct turn_server_options opt = nat_options();
	struct turn_server *srv = turn_server_new(&opt);
	struct turn_tuple t = tuple_v4();
	uint8_t tid16[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct exchange x;
	struct stun_builder b;
	struct stun_msg in;
	struct turn_addr from, want;

	stun_build_begin_rfc3489(&b, x.req, sizeof(x.req), STUN_METHOD_BINDING,
				 STUN_CLASS_REQUEST, tid16);
	stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, STUN_CHANGE_IP);
	x.req_len = (size_t)stun_build_end(&b);
	ck_assert_int_eq(stun_msg_parse(&in, x.req, x.req_len), 0);
	x.reply = (struct turn_reply){ x.resp, sizeof(x.resp), 0 };
	struct turn_input ti = { .msg = &in, .tuple = &t };
	ck_assert_int_eq(turn_server_handle_from(srv, &ti, &x.reply, &from), 0);
	turn_server_free(srv);
	/* RFC 3489 section 11.2: SOURCE-ADDRESS and CHANGED-ADDRESS, in the
	 * classic message the codec parses only as a request. */
	ck_assert_uint_eq((x.resp[0] << 8) | x.resp[1], 0x0101);
	size_t src = raw_find(x.resp, x.reply.len, STUN_ATTR_SOURCE_ADDRESS);
	size_t chg = raw_find(x.resp, x.reply.len, STUN_ATTR_CHANGED_ADDRESS);
	ck_assert_uint_gt(src, 0);
	ck_assert_uint_gt(chg, 0);
	ck_assert_uint_gt(raw_find(x.resp, x.reply.len, STUN_ATTR_MAPPED_ADDRESS), 0);
	ck_assert_uint_eq(raw_find(x.resp, x.reply.len, STUN_ATTR_XOR_MAPPED_ADDRESS), 0);
	static const uint8_t src_v[] = { 0, 1, 3478 >> 8, 3478 & 0xff, 192, 0, 2, 2 };
	static const uint8_t chg_v[] = { 0, 1, 3479 >> 8, 3479 & 0xff, 192, 0, 2, 2 };
	ck_assert_mem_eq(x.resp + src + 4, src_v, sizeof(src_v));
	ck_assert_mem_eq(x.resp + chg + 4, chg_v, sizeof(chg_v));
	turn_addr_parse("192.0.2.2:3478", 0, &want);
	ck_assert(turn_addr_eq(&from, &want));
}
END_TEST

START_TEST(nat_index_and_addresses)
{
	struct turn_server_options opt = nat_options();
	struct turn_addr a[TURN_NAT_ADDRS], other;
	struct turn_nat_pair unused = { 0 };

	turn_nat_addresses(&opt.nat[0], a);
	for (int i = 0; i < TURN_NAT_ADDRS; i++)
		ck_assert_int_eq(turn_nat_index(&opt.nat[0], &a[i]), i);
	turn_addr_parse("192.0.2.3:3478", 0, &other);
	ck_assert_int_eq(turn_nat_index(&opt.nat[0], &other), -1);
	ck_assert_int_eq(turn_nat_index(&unused, &a[0]), -1);
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
	TCase *nat = tcase_create("nat_discovery");
	tcase_add_test(nat, nat_off_change_request_gets_420);
	tcase_add_test(nat, nat_plain_binding_names_origin_and_other);
	tcase_add_test(nat, nat_table_1);
	tcase_add_test(nat, nat_change_over_tcp_is_400);
	tcase_add_test(nat, nat_other_local_address_is_not_discovery);
	tcase_add_test(nat, nat_unsupported_attributes_get_420);
	tcase_add_test(nat, nat_malformed_change_request_is_400);
	tcase_add_test(nat, nat_rfc3489_client_gets_source_and_changed_address);
	tcase_add_test(nat, nat_index_and_addresses);
	suite_add_tcase(s, nat);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
