/*
 * Unit tests for src/stun/attr.c: every decoder and encoder of attr.h in a
 * build-parse-decode round trip (IPv4 and IPv6 for the address forms), the
 * values in the published vectors, and malformed values of each kind.
 */
#include <check.h>
#include <string.h>

#include "stun/attr.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "testutil.h"

static const uint8_t test_tid[STUN_TID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
					       0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static uint8_t out[4096];
static struct stun_builder b;
static struct stun_msg m;

static void begin(void)
{
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, test_tid);
}

/* Parse what was built and return the first attribute of that type. */
static const struct stun_attr *finish(uint16_t type)
{
	long n = stun_build_end(&b);
	const struct stun_attr *a;

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(stun_msg_parse(&m, out, (size_t)n), 0);
	a = stun_msg_find(&m, type);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* A message holding one attribute with exactly these value bytes. */
static const struct stun_attr *raw_attr(uint16_t type, const void *val, size_t len)
{
	begin();
	stun_build_attr(&b, type, val, len);
	return finish(type);
}

static const struct stun_attr *raw_attr_hex(uint16_t type, const char *hex)
{
	uint8_t val[1024];
	size_t n = hex_decode(hex, val, sizeof(val));

	return raw_attr(type, val, n);
}

static struct turn_addr addr_v4(void)
{
	struct turn_addr a = {.family = TURN_AF_INET, .port = 32853, .ip = {192, 0, 2, 1}};

	return a;
}

static struct turn_addr addr_v6(void)
{
	struct turn_addr a = {.family = TURN_AF_INET6, .port = 3478};
	static const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
				       0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

	memcpy(a.ip, ip, sizeof(ip));
	return a;
}

/* ---- Type table ---- */

static const uint16_t all_types[] = {
	STUN_ATTR_MAPPED_ADDRESS,
	STUN_ATTR_CHANGE_REQUEST,
	STUN_ATTR_USERNAME,
	STUN_ATTR_MESSAGE_INTEGRITY,
	STUN_ATTR_ERROR_CODE,
	STUN_ATTR_UNKNOWN_ATTRIBUTES,
	TURN_ATTR_CHANNEL_NUMBER,
	TURN_ATTR_LIFETIME,
	TURN_ATTR_XOR_PEER_ADDRESS,
	TURN_ATTR_DATA,
	STUN_ATTR_REALM,
	STUN_ATTR_NONCE,
	TURN_ATTR_XOR_RELAYED_ADDRESS,
	TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
	TURN_ATTR_EVEN_PORT,
	TURN_ATTR_REQUESTED_TRANSPORT,
	TURN_ATTR_DONT_FRAGMENT,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256,
	STUN_ATTR_PASSWORD_ALGORITHM,
	STUN_ATTR_USERHASH,
	STUN_ATTR_XOR_MAPPED_ADDRESS,
	TURN_ATTR_RESERVATION_TOKEN,
	STUN_ATTR_PRIORITY,
	STUN_ATTR_USE_CANDIDATE,
	STUN_ATTR_PADDING,
	STUN_ATTR_RESPONSE_PORT,
	TURN_ATTR_CONNECTION_ID,
	TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
	TURN_ATTR_ADDRESS_ERROR_CODE,
	STUN_ATTR_PASSWORD_ALGORITHMS,
	STUN_ATTR_ALTERNATE_DOMAIN,
	TURN_ATTR_ICMP,
	STUN_ATTR_SOFTWARE,
	STUN_ATTR_ALTERNATE_SERVER,
	STUN_ATTR_CACHE_TIMEOUT,
	STUN_ATTR_FINGERPRINT,
	STUN_ATTR_ICE_CONTROLLED,
	STUN_ATTR_ICE_CONTROLLING,
	STUN_ATTR_RESPONSE_ORIGIN,
	STUN_ATTR_OTHER_ADDRESS,
};

START_TEST(test_known_types)
{
	size_t n = sizeof(all_types) / sizeof(all_types[0]);

	ck_assert_uint_eq(n, 40);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(stun_attr_known(all_types[i]), "type 0x%04x", all_types[i]);
		ck_assert_str_ne(stun_attr_name(all_types[i]), "UNKNOWN");
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(stun_attr_name(all_types[i]),
					 stun_attr_name(all_types[j]));
	}
	ck_assert(!stun_attr_known(0x0000));
	ck_assert(!stun_attr_known(0x0002));
	ck_assert(!stun_attr_known(0x7fff));
	ck_assert(!stun_attr_known(0x8005));
	ck_assert(!stun_attr_known(0xffff));
	ck_assert_str_eq(stun_attr_name(0x7fff), "UNKNOWN");
	ck_assert_str_eq(stun_attr_name(STUN_ATTR_XOR_MAPPED_ADDRESS), "XOR-MAPPED-ADDRESS");
	ck_assert_str_eq(stun_attr_name(STUN_ATTR_MESSAGE_INTEGRITY_SHA256),
			 "MESSAGE-INTEGRITY-SHA256");
	ck_assert_str_eq(stun_attr_name(TURN_ATTR_LIFETIME), "LIFETIME");
}
END_TEST

/* ---- Addresses ---- */

static const uint16_t plain_addr_types[] = {
	STUN_ATTR_MAPPED_ADDRESS,
	STUN_ATTR_ALTERNATE_SERVER,
	STUN_ATTR_RESPONSE_ORIGIN,
	STUN_ATTR_OTHER_ADDRESS,
};

static const uint16_t xor_addr_types[] = {
	STUN_ATTR_XOR_MAPPED_ADDRESS,
	TURN_ATTR_XOR_PEER_ADDRESS,
	TURN_ATTR_XOR_RELAYED_ADDRESS,
};

START_TEST(test_addr_round_trip)
{
	struct turn_addr in[2] = {addr_v4(), addr_v6()};

	for (size_t t = 0; t < 4; t++) {
		for (size_t f = 0; f < 2; f++) {
			struct turn_addr got;
			const struct stun_attr *a;

			begin();
			stun_build_addr(&b, plain_addr_types[t], &in[f]);
			a = finish(plain_addr_types[t]);
			ck_assert_uint_eq(a->len, f ? 20 : 8);
			ck_assert_int_eq(stun_attr_get_addr(&m, a, &got), 0);
			ck_assert(turn_addr_eq(&got, &in[f]));
			ck_assert_mem_eq(&got, &in[f], sizeof(got));
		}
	}
	/* IPv4 wire form: reserved, family 1, port, address. */
	begin();
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &in[0]);
	hex_decode("0001000800018055c0000201", out + 64, 12);
	ck_assert_mem_eq(out + 20, out + 64, 12);
}
END_TEST

START_TEST(test_xor_addr_round_trip)
{
	struct turn_addr in[2] = {addr_v4(), addr_v6()};

	for (size_t t = 0; t < 3; t++) {
		for (size_t f = 0; f < 2; f++) {
			struct turn_addr got, raw;
			const struct stun_attr *a;

			begin();
			stun_build_xor_addr(&b, xor_addr_types[t], &in[f]);
			a = finish(xor_addr_types[t]);
			ck_assert_int_eq(stun_attr_get_xor_addr(&m, a, &got), 0);
			ck_assert_mem_eq(&got, &in[f], sizeof(got));
			/* On the wire the port is XORed with 0x2112. */
			ck_assert_int_eq(stun_attr_get_addr(&m, a, &raw), 0);
			ck_assert_uint_eq(raw.port, in[f].port ^ 0x2112);
			ck_assert_uint_eq(raw.ip[0], in[f].ip[0] ^ 0x21);
		}
	}
}
END_TEST

/* RFC 3489 messages have no cookie; XOR still uses the constant and the
 * 12 bytes at offset 8. */
START_TEST(test_xor_addr_rfc3489)
{
	static const uint8_t tid16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct turn_addr in = addr_v6(), got, raw;
	const struct stun_attr *a;

	stun_build_begin_rfc3489(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
				 tid16);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &in);
	a = finish(STUN_ATTR_XOR_MAPPED_ADDRESS);
	ck_assert(m.rfc3489);
	ck_assert_int_eq(stun_attr_get_xor_addr(&m, a, &got), 0);
	ck_assert_mem_eq(&got, &in, sizeof(got));
	ck_assert_int_eq(stun_attr_get_addr(&m, a, &raw), 0);
	ck_assert_uint_eq(raw.ip[4], in.ip[4] ^ 5);
	ck_assert_uint_eq(raw.ip[15], in.ip[15] ^ 16);
}
END_TEST

START_TEST(test_xor_addr_vectors)
{
	struct turn_addr got, want = addr_v4();
	size_t n;

	n = hex_decode(VEC_5769_RESPONSE_V4, out, sizeof(out));
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(
		stun_attr_get_xor_addr(&m, stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &got),
		0);
	ck_assert_mem_eq(&got, &want, sizeof(got));

	n = hex_decode(VEC_5769_RESPONSE_V6, out, sizeof(out));
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(
		stun_attr_get_xor_addr(&m, stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &got),
		0);
	want = addr_v6();
	want.port = 32853;
	ck_assert_mem_eq(&got, &want, sizeof(got));
}
END_TEST

/* SECURITY.md: family 0x03, or an IPv6 family with an 8-byte value, is a
 * malformed address (the server answers 400). */
START_TEST(test_addr_malformed)
{
	static const char *const bad[] = {
		"00030001c0000201", /* family 3 */
		"0002805520010db8", /* IPv6, 8 bytes */
		"00018055c000020100000000000000000000000000", /* IPv4, 21 bytes */
		"0001805520010db81234567800112233445566770000", /* IPv4 family, 22 */
		"0001805520010db8123456780011223344556677", /* IPv4 family, 20 */
		"0002805520010db81234567800112233445566", /* IPv6, 19 bytes */
		"00028055c0000201c0000201", /* IPv6, 12 bytes */
		"", /* empty */
		"0001", /* 2 bytes */
		"00018055", /* 4 bytes */
		"00008055c0000201", /* family 0 */
		"00ff8055c0000201", /* family 0xff */
	};
	struct turn_addr got;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *hex = bad[i];
		uint8_t val[64];
		size_t n = hex_decode(hex, val, sizeof(val));
		const struct stun_attr *a;

		a = raw_attr(STUN_ATTR_MAPPED_ADDRESS, val, n);
		ck_assert_msg(stun_attr_get_addr(&m, a, &got) == -1, "case %zu", i);
		a = raw_attr(STUN_ATTR_XOR_MAPPED_ADDRESS, val, n);
		ck_assert_msg(stun_attr_get_xor_addr(&m, a, &got) == -1, "case %zu", i);
	}
	/* The good lengths, for contrast. */
	ck_assert_int_eq(
		stun_attr_get_addr(&m, raw_attr_hex(STUN_ATTR_MAPPED_ADDRESS, "00018055c0000201"),
				   &got),
		0);
	/* The reserved byte is ignored. */
	ck_assert_int_eq(
		stun_attr_get_addr(&m, raw_attr_hex(STUN_ATTR_MAPPED_ADDRESS, "ff018055c0000201"),
				   &got),
		0);
}
END_TEST

START_TEST(test_addr_encode_invalid)
{
	struct turn_addr none = {0};

	begin();
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &none);
	ck_assert_int_eq(stun_build_end(&b), -1);
	begin();
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &none);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

/* ---- Numbers ---- */

START_TEST(test_u32_round_trip)
{
	static const uint16_t types[] = {TURN_ATTR_LIFETIME, STUN_ATTR_CHANGE_REQUEST,
					 STUN_ATTR_PRIORITY, STUN_ATTR_CACHE_TIMEOUT,
					 TURN_ATTR_CONNECTION_ID};
	uint32_t v;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		begin();
		stun_build_u32(&b, types[i], 0xdeadbeef);
		ck_assert_int_eq(stun_attr_get_u32(&m, finish(types[i]), &v), 0);
		ck_assert_uint_eq(v, 0xdeadbeef);
	}
	begin();
	stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	ck_assert_int_eq(stun_attr_get_u32(&m, finish(STUN_ATTR_CHANGE_REQUEST), &v), 0);
	ck_assert_uint_eq(v, 0x06);
	begin();
	stun_build_u32(&b, TURN_ATTR_CONNECTION_ID, 42);
	ck_assert_int_eq(stun_attr_get_connection_id(&m, finish(TURN_ATTR_CONNECTION_ID), &v), 0);
	ck_assert_uint_eq(v, 42);

	ck_assert_int_eq(stun_attr_get_u32(&m, raw_attr_hex(TURN_ATTR_LIFETIME, "000258"), &v), -1);
	ck_assert_int_eq(stun_attr_get_u32(&m, raw_attr_hex(TURN_ATTR_LIFETIME, "0000025800"), &v),
			 -1);
	ck_assert_int_eq(stun_attr_get_u32(&m, raw_attr(TURN_ATTR_LIFETIME, NULL, 0), &v), -1);
}
END_TEST

START_TEST(test_u64_round_trip)
{
	static const uint16_t types[] = {TURN_ATTR_RESERVATION_TOKEN, STUN_ATTR_ICE_CONTROLLED,
					 STUN_ATTR_ICE_CONTROLLING};
	uint64_t v;

	for (size_t i = 0; i < 3; i++) {
		begin();
		stun_build_u64(&b, types[i], 0x0123456789abcdefull);
		ck_assert_int_eq(stun_attr_get_u64(&m, finish(types[i]), &v), 0);
		ck_assert_uint_eq(v, 0x0123456789abcdefull);
	}
	ck_assert_int_eq(
		stun_attr_get_u64(&m, raw_attr_hex(TURN_ATTR_RESERVATION_TOKEN, "01234567"), &v),
		-1);
	ck_assert_int_eq(
		stun_attr_get_u64(
			&m, raw_attr_hex(TURN_ATTR_RESERVATION_TOKEN, "0123456789abcdef01"), &v),
		-1);
}
END_TEST

START_TEST(test_vector_values)
{
	const uint8_t *text;
	size_t len, n;
	uint32_t u32;
	uint64_t u64;
	uint16_t alg;
	const uint8_t *params;

	n = hex_decode(VEC_5769_REQUEST, out, sizeof(out));
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(stun_attr_get_u32(&m, stun_msg_find(&m, STUN_ATTR_PRIORITY), &u32), 0);
	ck_assert_uint_eq(u32, 0x6e0001ff);
	ck_assert_int_eq(stun_attr_get_u64(&m, stun_msg_find(&m, STUN_ATTR_ICE_CONTROLLED), &u64),
			 0);
	ck_assert_uint_eq(u64, 0x932ff9b151263b36ull);
	ck_assert_int_eq(
		stun_attr_get_text(&m, stun_msg_find(&m, STUN_ATTR_SOFTWARE), 763, &text, &len), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_mem_eq(text, "STUN test client", 16);
	ck_assert_int_eq(
		stun_attr_get_text(&m, stun_msg_find(&m, STUN_ATTR_USERNAME), 513, &text, &len), 0);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(text, "evtj:h6vY", 9);

	n = hex_decode(VEC_5769_LONG_TERM, out, sizeof(out));
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(
		stun_attr_get_text(&m, stun_msg_find(&m, STUN_ATTR_USERNAME), 513, &text, &len), 0);
	ck_assert_uint_eq(len, strlen(VEC_LT_USERNAME));
	ck_assert_mem_eq(text, VEC_LT_USERNAME, len);
	ck_assert_int_eq(
		stun_attr_get_text(&m, stun_msg_find(&m, STUN_ATTR_REALM), 763, &text, &len), 0);
	ck_assert_mem_eq(text, VEC_LT_REALM, len);
	ck_assert_int_eq(
		stun_attr_get_text(&m, stun_msg_find(&m, STUN_ATTR_NONCE), 763, &text, &len), 0);
	ck_assert_uint_eq(len, strlen(VEC_LT_NONCE));
	ck_assert_mem_eq(text, VEC_LT_NONCE, len);

	n = hex_decode(VEC_8489_SHA256, out, sizeof(out));
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(stun_attr_get_pwalg(&m, stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHM),
					     &alg, &params, &len),
			 0);
	ck_assert_uint_eq(alg, STUN_PWALG_SHA256);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(
		stun_attr_get_text(&m, stun_msg_find(&m, STUN_ATTR_NONCE), 763, &text, &len), 0);
	ck_assert_mem_eq(text, VEC_B1_NONCE, len);
}
END_TEST

/* ---- ERROR-CODE, ADDRESS-ERROR-CODE ---- */

static const int all_codes[] = {300, 400, 401, 403, 420, 437, 438, 440, 441,
				442, 443, 446, 447, 486, 487, 500, 508};

START_TEST(test_error_round_trip)
{
	const uint8_t *reason;
	size_t len;
	int code;
	uint8_t family;

	for (size_t i = 0; i < sizeof(all_codes) / sizeof(all_codes[0]); i++) {
		const char *want = stun_error_reason(all_codes[i]);

		ck_assert_str_ne(want, "");
		begin();
		stun_build_error(&b, all_codes[i], NULL);
		ck_assert_int_eq(stun_attr_get_error(&m, finish(STUN_ATTR_ERROR_CODE), NULL, &code,
						     &reason, &len),
				 0);
		ck_assert_int_eq(code, all_codes[i]);
		ck_assert_uint_eq(len, strlen(want));
		ck_assert_mem_eq(reason, want, len);
	}
	begin();
	stun_build_error(&b, 699, "");
	ck_assert_int_eq(
		stun_attr_get_error(&m, finish(STUN_ATTR_ERROR_CODE), NULL, &code, &reason, &len),
		0);
	ck_assert_int_eq(code, 699);
	ck_assert_uint_eq(len, 0);

	begin();
	stun_build_address_error(&b, STUN_FAMILY_IPV6, 440, NULL);
	ck_assert_int_eq(stun_attr_get_error(&m, finish(TURN_ATTR_ADDRESS_ERROR_CODE), &family,
					     &code, &reason, &len),
			 0);
	ck_assert_uint_eq(family, STUN_FAMILY_IPV6);
	ck_assert_int_eq(code, 440);
	ck_assert_mem_eq(reason, "Address Family not Supported", len);
	/* Wire form: class in the low 3 bits of byte 2, number in byte 3. */
	ck_assert_mem_eq(out + 24, "\x02\x00\x04\x28", 4);
}
END_TEST

START_TEST(test_error_malformed)
{
	static const char *const bad[] = {
		"",
		"000004",
		"00000263" /* class 2 */,
		"00000700" /* class 7 */,
		"00000464" /* number 100 */,
		"00000400ff" /* invalid UTF-8 reason */,
	};
	const uint8_t *reason;
	size_t len;
	int code;
	char big[800];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(stun_attr_get_error(&m, raw_attr_hex(STUN_ATTR_ERROR_CODE, bad[i]),
						  NULL, &code, &reason, &len) == -1,
			      "case %zu", i);
	/* Reserved bits are ignored. */
	ck_assert_int_eq(stun_attr_get_error(&m, raw_attr_hex(STUN_ATTR_ERROR_CODE, "fffffc01"),
					     NULL, &code, &reason, &len),
			 0);
	ck_assert_int_eq(code, 401);
	/* A reason of 763 bytes is the most allowed. */
	memset(big, 'r', sizeof(big));
	memcpy(big, "\x00\x00\x04\x00", 4);
	ck_assert_int_eq(stun_attr_get_error(&m, raw_attr(STUN_ATTR_ERROR_CODE, big, 4 + 763), NULL,
					     &code, &reason, &len),
			 0);
	ck_assert_uint_eq(len, 763);
	ck_assert_int_eq(stun_attr_get_error(&m, raw_attr(STUN_ATTR_ERROR_CODE, big, 4 + 764), NULL,
					     &code, &reason, &len),
			 -1);
	/* The encoder refuses what the decoder would. */
	begin();
	stun_build_error(&b, 299, NULL);
	ck_assert_int_eq(stun_build_end(&b), -1);
	begin();
	stun_build_error(&b, 700, NULL);
	ck_assert_int_eq(stun_build_end(&b), -1);
	memset(big, 'r', 764);
	big[764] = '\0';
	begin();
	stun_build_error(&b, 400, big);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

START_TEST(test_error_reasons)
{
	ck_assert_str_eq(stun_error_reason(300), "Try Alternate");
	ck_assert_str_eq(stun_error_reason(400), "Bad Request");
	ck_assert_str_eq(stun_error_reason(401), "Unauthorized");
	ck_assert_str_eq(stun_error_reason(403), "Forbidden");
	ck_assert_str_eq(stun_error_reason(420), "Unknown Attribute");
	ck_assert_str_eq(stun_error_reason(437), "Allocation Mismatch");
	ck_assert_str_eq(stun_error_reason(438), "Stale Nonce");
	ck_assert_str_eq(stun_error_reason(440), "Address Family not Supported");
	ck_assert_str_eq(stun_error_reason(441), "Wrong Credentials");
	ck_assert_str_eq(stun_error_reason(442), "Unsupported Transport Protocol");
	ck_assert_str_eq(stun_error_reason(443), "Peer Address Family Mismatch");
	ck_assert_str_eq(stun_error_reason(446), "Connection Already Exists");
	ck_assert_str_eq(stun_error_reason(447), "Connection Timeout or Failure");
	ck_assert_str_eq(stun_error_reason(486), "Allocation Quota Reached");
	ck_assert_str_eq(stun_error_reason(487), "Role Conflict");
	ck_assert_str_eq(stun_error_reason(500), "Server Error");
	ck_assert_str_eq(stun_error_reason(508), "Insufficient Capacity");
	ck_assert_str_eq(stun_error_reason(499), "");
	ck_assert_str_eq(stun_error_reason(0), "");
}
END_TEST

/* ---- Lists ---- */

START_TEST(test_unknown_round_trip)
{
	static const uint16_t in[] = {0x7fff, 0x0002, 0x0031};
	static const uint16_t many[STUN_MAX_ATTRS + 1];
	uint16_t got[8];
	size_t n;
	const struct stun_attr *a;

	begin();
	stun_build_unknown(&b, in, 3);
	a = finish(STUN_ATTR_UNKNOWN_ATTRIBUTES);
	ck_assert_uint_eq(a->len, 6);
	ck_assert_int_eq(stun_attr_get_unknown(&m, a, got, 8, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(got, in, sizeof(in));
	/* Fewer slots than types: the first ones are kept. */
	ck_assert_int_eq(stun_attr_get_unknown(&m, a, got, 2, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(got[1], 0x0002);
	ck_assert_int_eq(stun_attr_get_unknown(&m,
					       raw_attr_hex(STUN_ATTR_UNKNOWN_ATTRIBUTES, "7fff00"),
					       got, 8, &n),
			 -1);
	begin();
	stun_build_unknown(&b, many, STUN_MAX_ATTRS);
	ck_assert_int_eq(stun_build_end(&b), 20 + 4 + 2 * STUN_MAX_ATTRS);
	begin();
	stun_build_unknown(&b, many, STUN_MAX_ATTRS + 1);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

START_TEST(test_pwalg_round_trip)
{
	static const uint16_t in[] = {STUN_PWALG_SHA256, STUN_PWALG_MD5};
	static const uint16_t many[STUN_MAX_ATTRS + 1];
	uint16_t algs[4], alg;
	const uint8_t *params;
	size_t n;

	begin();
	stun_build_pwalg(&b, STUN_PWALG_MD5);
	ck_assert_int_eq(
		stun_attr_get_pwalg(&m, finish(STUN_ATTR_PASSWORD_ALGORITHM), &alg, &params, &n),
		0);
	ck_assert_uint_eq(alg, STUN_PWALG_MD5);
	ck_assert_uint_eq(n, 0);

	begin();
	stun_build_pwalgs(&b, in, 2);
	ck_assert_int_eq(
		stun_attr_get_pwalgs(&m, finish(STUN_ATTR_PASSWORD_ALGORITHMS), algs, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(algs, in, sizeof(in));
	ck_assert_int_eq(
		stun_attr_get_pwalgs(&m, finish(STUN_ATTR_PASSWORD_ALGORITHMS), algs, 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	begin();
	stun_build_pwalgs(&b, many, STUN_MAX_ATTRS);
	ck_assert_int_eq(stun_build_end(&b), 20 + 4 + 4 * STUN_MAX_ATTRS);
	begin();
	stun_build_pwalgs(&b, many, STUN_MAX_ATTRS + 1);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

START_TEST(test_pwalg_params)
{
	uint16_t algs[4], alg;
	const uint8_t *params;
	size_t n;
	const struct stun_attr *a;

	/* Parameters of 3 bytes, padded inside the value or not. */
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHM, "00090003abcdef00");
	ck_assert_int_eq(stun_attr_get_pwalg(&m, a, &alg, &params, &n), 0);
	ck_assert_uint_eq(alg, 9);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(params, "\xab\xcd\xef", 3);
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHM, "00090003abcdef");
	ck_assert_int_eq(stun_attr_get_pwalg(&m, a, &alg, &params, &n), 0);
	/* Parameter length past the value, or junk after the padding. */
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHM, "00090008abcdef00");
	ck_assert_int_eq(stun_attr_get_pwalg(&m, a, &alg, &params, &n), -1);
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHM, "00020000 00010000");
	ck_assert_int_eq(stun_attr_get_pwalg(&m, a, &alg, &params, &n), -1);
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHM, "0002");
	ck_assert_int_eq(stun_attr_get_pwalg(&m, a, &alg, &params, &n), -1);

	/* A list entry with parameters is skipped over. */
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHMS, "00090003abcdef00 00020000");
	ck_assert_int_eq(stun_attr_get_pwalgs(&m, a, algs, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(algs[0], 9);
	ck_assert_uint_eq(algs[1], STUN_PWALG_SHA256);
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHMS, "00010000 0002");
	ck_assert_int_eq(stun_attr_get_pwalgs(&m, a, algs, 4, &n), -1);
	a = raw_attr_hex(STUN_ATTR_PASSWORD_ALGORITHMS, "00010004abcd");
	ck_assert_int_eq(stun_attr_get_pwalgs(&m, a, algs, 4, &n), -1);
}
END_TEST

/* ---- Small TURN values ---- */

START_TEST(test_channel_transport_family)
{
	uint16_t ch;
	uint8_t v;

	begin();
	stun_build_channel(&b, 0x4001);
	ck_assert_int_eq(stun_attr_get_channel(&m, finish(TURN_ATTR_CHANNEL_NUMBER), &ch), 0);
	ck_assert_uint_eq(ch, 0x4001);
	ck_assert_mem_eq(out + 24, "\x40\x01\x00\x00", 4);
	ck_assert_int_eq(
		stun_attr_get_channel(&m, raw_attr_hex(TURN_ATTR_CHANNEL_NUMBER, "4001"), &ch), -1);

	begin();
	stun_build_transport(&b, TURN_TRANSPORT_UDP);
	ck_assert_int_eq(stun_attr_get_transport(&m, finish(TURN_ATTR_REQUESTED_TRANSPORT), &v), 0);
	ck_assert_uint_eq(v, TURN_TRANSPORT_UDP);
	ck_assert_mem_eq(out + 24, "\x11\x00\x00\x00", 4);
	ck_assert_int_eq(
		stun_attr_get_transport(&m, raw_attr_hex(TURN_ATTR_REQUESTED_TRANSPORT, "11"), &v),
		-1);

	for (uint8_t fam = STUN_FAMILY_IPV4; fam <= STUN_FAMILY_IPV6; fam++) {
		begin();
		stun_build_family(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, fam);
		stun_build_family(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, fam);
		ck_assert_int_eq(
			stun_attr_get_family(&m, finish(TURN_ATTR_REQUESTED_ADDRESS_FAMILY), &v),
			0);
		ck_assert_uint_eq(v, fam);
		ck_assert_int_eq(
			stun_attr_get_family(
				&m, stun_msg_find(&m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY), &v),
			0);
		ck_assert_uint_eq(v, fam);
	}
	ck_assert_int_eq(
		stun_attr_get_family(
			&m, raw_attr_hex(TURN_ATTR_REQUESTED_ADDRESS_FAMILY, "03000000"), &v),
		-1);
	ck_assert_int_eq(stun_attr_get_family(
				 &m, raw_attr_hex(TURN_ATTR_REQUESTED_ADDRESS_FAMILY, "01"), &v),
			 -1);
	begin();
	stun_build_family(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, 3);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

START_TEST(test_even_port_icmp)
{
	bool reserve;
	uint8_t type, code;
	uint32_t data;

	begin();
	stun_build_even_port(&b, true);
	ck_assert_int_eq(stun_attr_get_even_port(&m, finish(TURN_ATTR_EVEN_PORT), &reserve), 0);
	ck_assert(reserve);
	ck_assert_uint_eq(m.attrs[0].len, 1);
	begin();
	stun_build_even_port(&b, false);
	ck_assert_int_eq(stun_attr_get_even_port(&m, finish(TURN_ATTR_EVEN_PORT), &reserve), 0);
	ck_assert(!reserve);
	ck_assert_int_eq(
		stun_attr_get_even_port(&m, raw_attr(TURN_ATTR_EVEN_PORT, NULL, 0), &reserve), -1);
	ck_assert_int_eq(stun_attr_get_even_port(&m, raw_attr_hex(TURN_ATTR_EVEN_PORT, "80000000"),
						 &reserve),
			 -1);

	begin();
	stun_build_icmp(&b, 3, 13, 0x01020304);
	ck_assert_int_eq(stun_attr_get_icmp(&m, finish(TURN_ATTR_ICMP), &type, &code, &data), 0);
	ck_assert_uint_eq(type, 3);
	ck_assert_uint_eq(code, 13);
	ck_assert_uint_eq(data, 0x01020304);
	ck_assert_mem_eq(out + 24, "\x00\x00\x03\x0d\x01\x02\x03\x04", 8);
	ck_assert_int_eq(stun_attr_get_icmp(&m, raw_attr_hex(TURN_ATTR_ICMP, "0000030d"), &type,
					    &code, &data),
			 -1);
}
END_TEST

/* ---- Text and flags ---- */

START_TEST(test_text_round_trip)
{
	static const uint16_t types[] = {STUN_ATTR_USERNAME, STUN_ATTR_REALM, STUN_ATTR_NONCE,
					 STUN_ATTR_SOFTWARE, STUN_ATTR_ALTERNATE_DOMAIN};
	const uint8_t *text;
	size_t len;

	for (size_t i = 0; i < 5; i++) {
		begin();
		stun_build_text(&b, types[i], VEC_LT_USERNAME);
		ck_assert_int_eq(stun_attr_get_text(&m, finish(types[i]), 763, &text, &len), 0);
		ck_assert_uint_eq(len, 18);
		ck_assert_mem_eq(text, VEC_LT_USERNAME, 18);
	}
	begin();
	stun_build_text(&b, STUN_ATTR_USERNAME, "");
	ck_assert_int_eq(stun_attr_get_text(&m, finish(STUN_ATTR_USERNAME), 513, &text, &len), 0);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_text_limits)
{
	char big[600];
	const uint8_t *text;
	size_t len;

	memset(big, 'u', sizeof(big));
	ck_assert_int_eq(
		stun_attr_get_text(&m, raw_attr(STUN_ATTR_USERNAME, big, 513), 513, &text, &len),
		0);
	ck_assert_int_eq(
		stun_attr_get_text(&m, raw_attr(STUN_ATTR_USERNAME, big, 514), 513, &text, &len),
		-1);
	ck_assert_int_eq(
		stun_attr_get_text(&m, raw_attr(STUN_ATTR_USERNAME, big, 600), 763, &text, &len),
		0);
	/* Format directives, quotes and CR LF are data. */
	ck_assert_int_eq(stun_attr_get_text(&m, raw_attr(STUN_ATTR_USERNAME, "%s%n\"'\r\n", 8), 513,
					    &text, &len),
			 0);
	ck_assert_int_eq(stun_attr_get_text(&m, raw_attr_hex(STUN_ATTR_USERNAME, "61ff62"), 513,
					    &text, &len),
			 -1);
}
END_TEST

START_TEST(test_utf8)
{
	static const struct {
		const char *hex;
		bool ok;
	} cases[] = {
		{"", true},
		{"00", true}, /* U+0000 is well-formed */
		{"7f", true},
		{"c280", true}, /* U+0080 */
		{"dfbf", true},
		{"e0a080", true}, /* U+0800 */
		{"ed9fbf", true}, /* U+D7FF */
		{"ee8080", true}, /* U+E000 */
		{"efbfbf", true},
		{"f0908080", true}, /* U+10000 */
		{"f48fbfbf", true}, /* U+10FFFF */
		{"e3839ee38388", true},
		{"80", false}, /* lone continuation */
		{"bf", false},
		{"c0", false}, /* truncated */
		{"c080", false}, /* overlong NUL */
		{"c1bf", false}, /* overlong */
		{"e08080", false}, /* overlong */
		{"e09fbf", false}, /* overlong */
		{"eda080", false}, /* surrogate U+D800 */
		{"edbfbf", false}, /* surrogate U+DFFF */
		{"f08f8080", false}, /* overlong */
		{"f4908080", false}, /* above U+10FFFF */
		{"f5808080", false},
		{"ff", false},
		{"fe", false},
		{"e383", false}, /* truncated at the end */
		{"e3834141", false}, /* continuation missing */
		{"f09080", false},
		{"41c2", false},
	};
	uint8_t s[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = hex_decode(cases[i].hex, s, sizeof(s));

		ck_assert_msg(stun_utf8_valid(s, n) == cases[i].ok, "case %s", cases[i].hex);
	}
}
END_TEST

START_TEST(test_flags_and_data)
{
	const struct stun_attr *a;

	begin();
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	stun_build_flag(&b, STUN_ATTR_USE_CANDIDATE);
	stun_build_attr(&b, TURN_ATTR_DATA, "payload", 7);
	a = finish(TURN_ATTR_DONT_FRAGMENT);
	ck_assert_uint_eq(a->len, 0);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_USE_CANDIDATE)->len, 0);
	a = stun_msg_find(&m, TURN_ATTR_DATA);
	ck_assert_uint_eq(a->len, 7);
	ck_assert_mem_eq(stun_attr_value(&m, a), "payload", 7);
	ck_assert_int_eq(stun_build_end(&b), 20 + 4 + 4 + 12);
}
END_TEST

static Suite *attr_suite(void)
{
	Suite *s = suite_create("stun_attr");
	TCase *tc = tcase_create("types");

	tcase_add_test(tc, test_known_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("addresses");
	tcase_add_test(tc, test_addr_round_trip);
	tcase_add_test(tc, test_xor_addr_round_trip);
	tcase_add_test(tc, test_xor_addr_rfc3489);
	tcase_add_test(tc, test_xor_addr_vectors);
	tcase_add_test(tc, test_addr_malformed);
	tcase_add_test(tc, test_addr_encode_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_u32_round_trip);
	tcase_add_test(tc, test_u64_round_trip);
	tcase_add_test(tc, test_vector_values);
	tcase_add_test(tc, test_error_round_trip);
	tcase_add_test(tc, test_error_malformed);
	tcase_add_test(tc, test_error_reasons);
	tcase_add_test(tc, test_unknown_round_trip);
	tcase_add_test(tc, test_pwalg_round_trip);
	tcase_add_test(tc, test_pwalg_params);
	tcase_add_test(tc, test_channel_transport_family);
	tcase_add_test(tc, test_even_port_icmp);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_text_round_trip);
	tcase_add_test(tc, test_text_limits);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_flags_and_data);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(attr_suite());
}
