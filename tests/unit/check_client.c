/*
 * tools/client.c: what the tools share as clients. Command-line numbers
 * and endpoints, TURN requests, responses, and the long-term credential a
 * 401 or 438 sets up (RFC 8489 section 9.2), against messages built here
 * with the core's own builder.
 */
#include <check.h>
#include <string.h>

#include "client.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "testutil.h"
#include "turn/nonce.h"

static const uint8_t TID[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
/* A nonce with RFC 8489's cookie announcing password algorithms (bit 0). */
#define NONCE_PWALGS "obMatJos2AAABrest-of-nonce"

/* A response to TID: cls, code (0: none), REALM, NONCE, and
 * PASSWORD-ALGORITHMS (n of algs) when given; parsed into *m. */
struct reply {
	uint16_t method;
	uint16_t cls;
	int code;
	const char *reason, *realm, *nonce;
	const uint16_t *algs;
	size_t n_algs;
};

static void build_reply(const struct reply *r, uint8_t *buf, size_t cap, struct stun_msg *m)
{
	struct stun_builder b;

	stun_build_begin(&b, buf, cap, r->method ? r->method : TURN_METHOD_ALLOCATE, r->cls, TID);
	if (r->code)
		stun_build_error(&b, r->code, r->reason);
	if (r->realm)
		stun_build_text(&b, STUN_ATTR_REALM, r->realm);
	if (r->nonce)
		stun_build_text(&b, STUN_ATTR_NONCE, r->nonce);
	if (r->algs)
		stun_build_pwalgs(&b, r->algs, r->n_algs);
	stun_build_fingerprint(&b);
	long len = stun_build_end(&b);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(stun_msg_parse(m, buf, (size_t)len), 0);
}

START_TEST(test_parse_numbers)
{
	unsigned long v;
	unsigned u;
	double d;

	ck_assert_int_eq(client_parse_ulong("42", 1, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(client_parse_ulong("0", 1, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong("101", 1, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong("", 0, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong("-1", 0, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong("+1", 0, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong(" 1", 0, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong("4x", 0, 100, &v), -1);
	ck_assert_int_eq(client_parse_ulong("99999999999999999999999", 0, (unsigned long)-1, &v),
			 -1);
	ck_assert_int_eq(client_parse_uint("65535", 0, 65535, &u), 0);
	ck_assert_uint_eq(u, 65535);
	ck_assert_int_eq(client_parse_uint("65536", 0, 65535, &u), -1);
	ck_assert_int_eq(client_parse_double("1.5", 10, &d), 0);
	ck_assert_double_eq(d, 1.5);
	ck_assert_int_eq(client_parse_double(".25", 10, &d), 0);
	ck_assert_double_eq(d, 0.25);
	ck_assert_int_eq(client_parse_double("10", 10, &d), 0);
	ck_assert_int_eq(client_parse_double("10.5", 10, &d), -1);
	ck_assert_int_eq(client_parse_double("-1", 10, &d), -1);
	ck_assert_int_eq(client_parse_double("1s", 10, &d), -1);
	ck_assert_int_eq(client_parse_double("nan", 10, &d), -1);
}
END_TEST

START_TEST(test_parse_endpoint)
{
	struct turn_addr a;

	ck_assert_int_eq(client_parse_endpoint("127.0.0.1:3480", 0, &a), 0);
	ck_assert_uint_eq(a.port, 3480);
	ck_assert_uint_eq(a.family, TURN_AF_INET);
	ck_assert_int_eq(client_parse_endpoint("[::1]:3480", 0, &a), 0);
	ck_assert_uint_eq(a.family, TURN_AF_INET6);
	/* No port and no default: not an endpoint. */
	ck_assert_int_eq(client_parse_endpoint("127.0.0.1", 0, &a), -1);
	ck_assert_int_eq(client_parse_endpoint("127.0.0.1", CLIENT_SERVER_PORT, &a), 0);
	ck_assert_uint_eq(a.port, CLIENT_SERVER_PORT);
	ck_assert_int_eq(client_parse_endpoint("localhost:3478", 0, &a), -1);
	ck_assert_int_eq(client_parse_endpoint(CLIENT_PEER_DEFAULT6, 0, &a), 0);
	ck_assert_uint_eq(a.port, CLIENT_PEER_PORT);
}
END_TEST

START_TEST(test_challenge_rules)
{
	/* RFC 8489 section 9.2.5: a 401 is a challenge only to a request
	 * that went without a key; a 438 always is. */
	ck_assert(client_is_challenge(STUN_ERR_UNAUTHORIZED, false));
	ck_assert(!client_is_challenge(STUN_ERR_UNAUTHORIZED, true));
	ck_assert(client_is_challenge(STUN_ERR_STALE_NONCE, false));
	ck_assert(client_is_challenge(STUN_ERR_STALE_NONCE, true));
	ck_assert(!client_is_challenge(0, false));
	ck_assert(!client_is_challenge(STUN_ERR_FORBIDDEN, false));
}
END_TEST

START_TEST(test_cred_take_and_sign)
{
	uint8_t buf[512], req[512], key[STUN_KEY_MD5_LEN];
	struct client_cred c;
	struct stun_msg m;
	const char *why = NULL;
	struct reply r401 = {
		.cls = STUN_CLASS_ERROR, .code = 401, .realm = "example.org", .nonce = "n1"};
	struct reply r438 = {.cls = STUN_CLASS_ERROR, .code = 438, .nonce = "n2"};

	client_cred_init(&c, "alice", "secret");
	ck_assert(!c.have_key);
	build_reply(&r401, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_cred_take(&c, &m, &why), 0);
	ck_assert(c.have_key);
	ck_assert_str_eq(c.realm, "example.org");
	ck_assert_str_eq(c.nonce, "n1");
	ck_assert_int_eq(stun_key_md5("alice", "example.org", "secret", key), 0);
	ck_assert_mem_eq(c.key, key, sizeof(key));
	/* A 438 may leave REALM out: the one from the 401 holds. */
	build_reply(&r438, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_cred_take(&c, &m, &why), 0);
	ck_assert_str_eq(c.realm, "example.org");
	ck_assert_str_eq(c.nonce, "n2");

	/* The signed request carries the credential and a MESSAGE-INTEGRITY
	 * the key verifies (RFC 8489 section 9.2.3). */
	struct client_request q = {TURN_METHOD_REFRESH, .lifetime = 0};
	long len = client_build_request(&q, TID, &c, req, sizeof(req));
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	ck_assert_ptr_nonnull(stun_msg_find(&m, STUN_ATTR_USERNAME));
	ck_assert_ptr_nonnull(stun_msg_find(&m, STUN_ATTR_NONCE));
	ck_assert_ptr_null(stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS));
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, sizeof(key)), 1);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);

	/* Forgetting keeps who we are, not the challenge. */
	client_cred_forget(&c);
	ck_assert(!c.have_key);
	ck_assert_ptr_null(c.realm);
	ck_assert_str_eq(c.user, "alice");
	len = client_build_request(&q, TID, &c, req, sizeof(req));
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	ck_assert_ptr_null(stun_msg_find(&m, STUN_ATTR_USERNAME));
	ck_assert_int_lt(m.idx_integrity, 0);
}
END_TEST

START_TEST(test_cred_refusals)
{
	uint8_t buf[512];
	static const uint16_t sha256_only[] = {STUN_PWALG_SHA256};
	struct client_cred c;
	struct stun_msg m;
	const char *why = NULL;
	struct reply no_realm = {.cls = STUN_CLASS_ERROR, .code = 401, .nonce = "n"};
	struct reply downgrade = {
		.cls = STUN_CLASS_ERROR, .code = 401, .realm = "r", .nonce = NONCE_PWALGS};
	struct reply no_md5 = {.cls = STUN_CLASS_ERROR,
			       .code = 401,
			       .realm = "r",
			       .nonce = NONCE_PWALGS,
			       .algs = sha256_only,
			       .n_algs = 1};

	client_cred_init(&c, "alice", "secret");
	build_reply(&no_realm, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_cred_take(&c, &m, &why), -1);
	ck_assert_str_eq(why, "challenge without a usable REALM and NONCE");
	/* RFC 8489 section 9.2.5: the nonce announces password algorithms
	 * and the list is missing: a downgrade, not answered. */
	build_reply(&downgrade, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_cred_take(&c, &m, &why), -1);
	ck_assert_str_eq(why, "PASSWORD-ALGORITHMS missing from the challenge");
	build_reply(&no_md5, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_cred_take(&c, &m, &why), -1);
	ck_assert_str_eq(why, "the server does not offer MD5");
	ck_assert(!c.have_key);
	client_cred_forget(&c);
}
END_TEST

START_TEST(test_cred_password_algorithms)
{
	uint8_t buf[512], req[512];
	static const uint16_t both[] = {STUN_PWALG_SHA256, STUN_PWALG_MD5};
	struct client_cred c;
	struct stun_msg m;
	const char *why = NULL;
	struct reply r401 = {.cls = STUN_CLASS_ERROR,
			     .code = 401,
			     .realm = "r",
			     .nonce = NONCE_PWALGS,
			     .algs = both,
			     .n_algs = 2};
	struct client_request q = {TURN_METHOD_ALLOCATE, .lifetime = -1};

	client_cred_init(&c, "alice", "secret");
	build_reply(&r401, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_cred_take(&c, &m, &why), 0);
	const struct stun_attr *offered = stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS);
	ck_assert_uint_eq(c.pwalgs_len, offered->len);
	/* Echoed as offered, with MD5 chosen (RFC 8489 section 9.2.3.1). */
	long len = client_build_request(&q, TID, &c, req, sizeof(req));
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	const struct stun_attr *echo = stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS);
	const struct stun_attr *chosen = stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHM);
	ck_assert_ptr_nonnull(echo);
	ck_assert_ptr_nonnull(chosen);
	ck_assert_mem_eq(stun_attr_value(&m, echo), c.pwalgs, c.pwalgs_len);
	ck_assert_uint_eq((stun_attr_value(&m, chosen)[0] << 8) | stun_attr_value(&m, chosen)[1],
			  STUN_PWALG_MD5);
	client_cred_forget(&c);
}
END_TEST

START_TEST(test_cred_trusts)
{
	uint8_t buf[512];
	struct client_cred c;
	struct stun_msg m;
	struct stun_builder b;
	struct reply ok_plain = {.cls = STUN_CLASS_SUCCESS};
	struct reply err_plain = {.cls = STUN_CLASS_ERROR, .code = 403};

	client_cred_init(&c, "alice", "secret");
	build_reply(&ok_plain, buf, sizeof(buf), &m);
	ck_assert(client_cred_trusts(&c, &m, 0)); /* no key yet: nothing to check */
	c.have_key = true;
	memset(c.key, 7, sizeof(c.key));
	/* RFC 8489 section 9.2.4: with a key, a success must carry a valid
	 * MESSAGE-INTEGRITY; an error without one is believed. */
	ck_assert(!client_cred_trusts(&c, &m, 0));
	build_reply(&err_plain, buf, sizeof(buf), &m);
	ck_assert(client_cred_trusts(&c, &m, 403));
	stun_build_begin(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, TID);
	stun_build_integrity(&b, c.key, sizeof(c.key));
	long len = stun_build_end(&b);
	ck_assert_int_eq(stun_msg_parse(&m, buf, (size_t)len), 0);
	ck_assert(client_cred_trusts(&c, &m, 0));
	c.key[0] ^= 1;
	ck_assert(!client_cred_trusts(&c, &m, 0));
	c.have_key = false;
	client_cred_forget(&c);
}
END_TEST

START_TEST(test_request_attributes)
{
	uint8_t req[512];
	struct turn_addr peer;
	struct stun_msg m;
	uint32_t v;

	ck_assert_int_eq(turn_addr_parse("192.0.2.1:9", 0, &peer), 0);
	struct client_request alloc = {TURN_METHOD_ALLOCATE, .family = STUN_FAMILY_IPV6,
				       .lifetime = -1};
	long len = client_build_request(&alloc, TID, NULL, req, sizeof(req));
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	ck_assert(client_is_response(&m, TID, TURN_METHOD_ALLOCATE) == false); /* a request */
	ck_assert_ptr_nonnull(stun_msg_find(&m, TURN_ATTR_REQUESTED_TRANSPORT));
	ck_assert_ptr_nonnull(stun_msg_find(&m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY));
	ck_assert_ptr_null(stun_msg_find(&m, TURN_ATTR_LIFETIME));

	struct client_request bind = {TURN_METHOD_CHANNEL_BIND, .channel = 0x4001, .peer = &peer,
				      .lifetime = -1};
	len = client_build_request(&bind, TID, NULL, req, sizeof(req));
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	ck_assert_ptr_null(stun_msg_find(&m, TURN_ATTR_REQUESTED_TRANSPORT));
	ck_assert_int_eq(stun_attr_get_u32(&m, stun_msg_find(&m, TURN_ATTR_CHANNEL_NUMBER), &v), 0);
	ck_assert_uint_eq(v, 0x40010000u);
	struct turn_addr back;
	ck_assert_int_eq(
		stun_attr_get_xor_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS), &back),
		0);
	ck_assert(turn_addr_eq(&back, &peer));

	struct client_request del = {TURN_METHOD_REFRESH, .lifetime = 0};
	len = client_build_request(&del, TID, NULL, req, sizeof(req));
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	ck_assert_int_eq(stun_attr_get_u32(&m, stun_msg_find(&m, TURN_ATTR_LIFETIME), &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(client_build_request(&del, TID, NULL, req, 20), -1);

	len = client_build_binding(req, sizeof(req), TID, STUN_CHANGE_IP);
	ck_assert_int_eq(stun_msg_parse(&m, req, (size_t)len), 0);
	ck_assert_uint_eq(m.method, STUN_METHOD_BINDING);
	ck_assert_ptr_nonnull(stun_msg_find(&m, STUN_ATTR_CHANGE_REQUEST));
	ck_assert_str_eq(client_method_name(TURN_METHOD_CREATE_PERMISSION), "CreatePermission");
}
END_TEST

START_TEST(test_responses)
{
	uint8_t buf[512];
	char text[64];
	struct stun_msg m;
	static const uint8_t other[STUN_TID_LEN] = {0};
	struct reply ok = {.cls = STUN_CLASS_SUCCESS};
	struct reply stale = {.cls = STUN_CLASS_ERROR, .code = 438};
	struct reply odd = {.cls = STUN_CLASS_ERROR, .code = 400, .reason = "Bad\x01\xc3\xa9"};
	struct reply no_code = {.cls = STUN_CLASS_ERROR};

	build_reply(&ok, buf, sizeof(buf), &m);
	ck_assert(client_is_response(&m, TID, TURN_METHOD_ALLOCATE));
	ck_assert(!client_is_response(&m, other, TURN_METHOD_ALLOCATE));
	ck_assert(!client_is_response(&m, TID, TURN_METHOD_REFRESH));
	ck_assert_int_eq(client_response_code(&m), 0);
	build_reply(&stale, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_response_code(&m), 438);
	ck_assert_str_eq(client_error_text(&m, 438, text, sizeof(text)), "438 Stale Nonce");
	/* The server's phrase, made printable. */
	build_reply(&odd, buf, sizeof(buf), &m);
	ck_assert_str_eq(client_error_text(&m, 400, text, sizeof(text)), "400 Bad???");
	ck_assert_str_eq(client_error_text(&m, 400, text, 6), "400 B");
	build_reply(&no_code, buf, sizeof(buf), &m);
	ck_assert_int_eq(client_response_code(&m), STUN_ERR_SERVER_ERROR);
	/* A broken FINGERPRINT: not the answer. */
	build_reply(&ok, buf, sizeof(buf), &m);
	buf[m.len - 1] ^= 1;
	ck_assert(!client_is_response(&m, TID, TURN_METHOD_ALLOCATE));
}
END_TEST

START_TEST(test_relayed_address)
{
	uint8_t buf[512];
	struct stun_builder b;
	struct stun_msg m;
	struct turn_addr v4, v6, out;

	ck_assert_int_eq(turn_addr_parse("192.0.2.7:50000", 0, &v4), 0);
	ck_assert_int_eq(turn_addr_parse("[2001:db8::7]:50001", 0, &v6), 0);
	stun_build_begin(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, TID);
	stun_build_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &v4);
	stun_build_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &v6);
	long len = stun_build_end(&b);
	ck_assert_int_eq(stun_msg_parse(&m, buf, (size_t)len), 0);
	ck_assert_int_eq(client_relayed_address(&m, TURN_AF_INET6, &out), 0);
	ck_assert(turn_addr_eq(&out, &v6));
	ck_assert_int_eq(client_relayed_address(&m, TURN_AF_INET, &out), 0);
	ck_assert(turn_addr_eq(&out, &v4));
	stun_build_begin(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, TID);
	len = stun_build_end(&b);
	ck_assert_int_eq(stun_msg_parse(&m, buf, (size_t)len), 0);
	ck_assert_int_eq(client_relayed_address(&m, TURN_AF_INET, &out), -1);
}
END_TEST

START_TEST(test_frame_next)
{
	uint8_t stream[64];
	size_t flen = 0;
	static const uint8_t data[5] = {1, 2, 3, 4, 5};

	/* ChannelData over a stream is padded to 4 (RFC 8656 section 12.5). */
	long n = turn_chandata_build(stream, sizeof(stream), 0x4000, data, sizeof(data), true);
	ck_assert_int_eq(n, 12);
	ck_assert_int_eq(client_frame_next(stream, 3, sizeof(stream), &flen), 0);
	ck_assert_int_eq(client_frame_next(stream, 11, sizeof(stream), &flen), 0);
	ck_assert_int_eq(client_frame_next(stream, 12, sizeof(stream), &flen), 1);
	ck_assert_uint_eq(flen, 12);
	ck_assert_int_eq(client_frame_next(stream, 20, sizeof(stream), &flen), 1);
	ck_assert_uint_eq(flen, 12);
	ck_assert_int_eq(client_frame_next(stream, 12, 8, &flen), -1); /* over the cap */
	stream[0] = 0x80; /* neither STUN nor ChannelData */
	ck_assert_int_eq(client_frame_next(stream, 12, sizeof(stream), &flen), -1);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_numbers);
	tcase_add_test(tc, test_parse_endpoint);
	tcase_add_test(tc, test_challenge_rules);
	tcase_add_test(tc, test_cred_take_and_sign);
	tcase_add_test(tc, test_cred_refusals);
	tcase_add_test(tc, test_cred_password_algorithms);
	tcase_add_test(tc, test_cred_trusts);
	tcase_add_test(tc, test_request_attributes);
	tcase_add_test(tc, test_responses);
	tcase_add_test(tc, test_relayed_address);
	tcase_add_test(tc, test_frame_next);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(client_suite());
}
