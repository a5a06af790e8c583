/*
 * Unit tests for src/stun/msg.c: message type encoding, parsing of the
 * published vectors, every malformed-input class of SECURITY.md "Bad input"
 * that the parser decides, and the builder.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "stun/attr.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "testutil.h"

/* A header with the magic cookie and transaction ID 000102...0b. */
#define TID_HEX "000102030405060708090a0b"
#define HDR(type, len) type len "2112a442" TID_HEX

static const uint8_t test_tid[STUN_TID_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static uint8_t buf[2048];

/* Decode hex into the shared buffer and parse it. */
static int parse_hex(struct stun_msg *m, const char *hex)
{
	size_t n = hex_decode(hex, buf, sizeof(buf));

	return stun_msg_parse(m, buf, n);
}

/* ---- Message type (RFC 8489 section 5) ---- */

START_TEST(test_type_known_values)
{
	ck_assert_uint_eq(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), 0x0001);
	ck_assert_uint_eq(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), 0x0011);
	ck_assert_uint_eq(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
	ck_assert_uint_eq(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
	ck_assert_uint_eq(stun_msg_type(TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST), 0x0003);
	ck_assert_uint_eq(stun_msg_type(TURN_METHOD_ALLOCATE, STUN_CLASS_ERROR), 0x0113);
	ck_assert_uint_eq(stun_msg_type(TURN_METHOD_SEND, STUN_CLASS_INDICATION), 0x0016);
	ck_assert_uint_eq(stun_msg_type(TURN_METHOD_DATA, STUN_CLASS_INDICATION), 0x0017);
	ck_assert_uint_eq(stun_msg_type(TURN_METHOD_CHANNEL_BIND, STUN_CLASS_SUCCESS), 0x0109);
	ck_assert_uint_eq(stun_msg_type(TURN_METHOD_CONNECTION_ATTEMPT, STUN_CLASS_INDICATION),
			  0x001C);
	ck_assert_uint_eq(stun_msg_type(0x0FFF, STUN_CLASS_ERROR), 0x3FFF);
	ck_assert_uint_eq(stun_msg_type(0x0080, STUN_CLASS_REQUEST), 0x0200);
}
END_TEST

START_TEST(test_type_round_trip)
{
	for (uint16_t method = 0; method <= 0x0FFF; method++) {
		for (uint8_t cls = 0; cls <= 3; cls++) {
			uint16_t t = stun_msg_type(method, cls);

			ck_assert_uint_eq(t & 0xC000, 0);
			ck_assert_uint_eq(stun_msg_method(t), method);
			ck_assert_uint_eq(stun_msg_class(t), cls);
		}
	}
}
END_TEST

/* ---- The published vectors ---- */

START_TEST(test_parse_vector_request)
{
	struct stun_msg m;
	static const uint16_t types[] = {
		STUN_ATTR_SOFTWARE, STUN_ATTR_PRIORITY,		 STUN_ATTR_ICE_CONTROLLED,
		STUN_ATTR_USERNAME, STUN_ATTR_MESSAGE_INTEGRITY, STUN_ATTR_FINGERPRINT,
	};
	static const uint8_t tid[] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
				      0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

	ck_assert_int_eq(parse_hex(&m, VEC_5769_REQUEST), 0);
	ck_assert_uint_eq(m.len, 108);
	ck_assert_uint_eq(m.type, 0x0001);
	ck_assert_uint_eq(m.method, STUN_METHOD_BINDING);
	ck_assert_uint_eq(m.cls, STUN_CLASS_REQUEST);
	ck_assert(!m.rfc3489);
	ck_assert_mem_eq(m.tid, tid, sizeof(tid));
	ck_assert_uint_eq(m.n_attrs, 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(m.attrs[i].type, types[i]);
	ck_assert_int_eq(m.idx_integrity, 4);
	ck_assert_int_eq(m.idx_integrity_sha256, -1);
	ck_assert_int_eq(m.idx_fingerprint, 5);
	ck_assert(!m.fingerprint_misplaced);
	ck_assert_uint_eq(m.n_unknown, 0);
	/* USERNAME "evtj:h6vY": 9 bytes, value at 64. */
	const struct stun_attr *u = stun_msg_find(&m, STUN_ATTR_USERNAME);
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(u->len, 9);
	ck_assert_uint_eq(u->off, 64);
	ck_assert_mem_eq(stun_attr_value(&m, u), "evtj:h6vY", 9);
	ck_assert_ptr_null(stun_msg_find(&m, STUN_ATTR_REALM));
}
END_TEST

START_TEST(test_parse_vector_responses)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, VEC_5769_RESPONSE_V4), 0);
	ck_assert_uint_eq(m.cls, STUN_CLASS_SUCCESS);
	ck_assert_uint_eq(m.method, STUN_METHOD_BINDING);
	ck_assert_uint_eq(m.n_attrs, 4);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS)->len, 8);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_SOFTWARE)->len, 11);

	ck_assert_int_eq(parse_hex(&m, VEC_5769_RESPONSE_V6), 0);
	ck_assert_uint_eq(m.len, 92);
	ck_assert_uint_eq(m.n_attrs, 4);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS)->len, 20);
	ck_assert_int_eq(m.idx_integrity, 2);
	ck_assert_int_eq(m.idx_fingerprint, 3);
}
END_TEST

START_TEST(test_parse_vector_long_term)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, VEC_5769_LONG_TERM), 0);
	ck_assert_uint_eq(m.len, 116);
	ck_assert_uint_eq(m.n_attrs, 4);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_USERNAME)->len, 18);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_NONCE)->len, 28);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_REALM)->len, 11);
	ck_assert_int_eq(m.idx_integrity, 3);
	ck_assert_int_eq(m.idx_fingerprint, -1);
}
END_TEST

START_TEST(test_parse_vector_sha256)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, VEC_8489_SHA256), 0);
	ck_assert_uint_eq(m.len, 164);
	ck_assert_uint_eq(m.n_attrs, 5);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_USERHASH)->len, 32);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_NONCE)->len, 41);
	ck_assert_uint_eq(stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHM)->len, 4);
	ck_assert_int_eq(m.idx_integrity, -1);
	ck_assert_int_eq(m.idx_integrity_sha256, 4);
	ck_assert_uint_eq(m.attrs[4].len, 32);
	ck_assert_uint_eq(m.n_unknown, 0);
}
END_TEST

/* ---- stun_msg_is_stun ---- */

START_TEST(test_is_stun)
{
	uint8_t b[64] = {0};
	size_t n;

	ck_assert(!stun_msg_is_stun(b, 0));
	n = hex_decode(HDR("0001", "0000"), b, sizeof(b));
	ck_assert(stun_msg_is_stun(b, n));
	ck_assert(!stun_msg_is_stun(b, n - 1));
	ck_assert(!stun_msg_is_stun(b, n + 4)); /* length field says 0 */
	/* The cookie is not looked at: an RFC 3489 header still counts. */
	n = hex_decode("00010000 00000000" TID_HEX, b, sizeof(b));
	ck_assert(stun_msg_is_stun(b, n));
	n = hex_decode(HDR("4001", "0000"), b, sizeof(b));
	ck_assert(!stun_msg_is_stun(b, n));
	n = hex_decode(HDR("0001", "0002") "0000", b, sizeof(b));
	ck_assert(!stun_msg_is_stun(b, n));
	n = hex_decode(HDR("0001", "0004") "80220000", b, sizeof(b));
	ck_assert(stun_msg_is_stun(b, n));
}
END_TEST

/* ---- SECURITY.md "Bad input": what the parser decides ---- */

/* 0, 1 and 19 bytes are short of a header: dropped. 20 bytes that are a
 * header with length 0 are a valid message with no attributes. */
START_TEST(test_short_datagrams)
{
	struct stun_msg m;
	size_t n = hex_decode(HDR("0001", "0000"), buf, sizeof(buf));

	ck_assert_uint_eq(n, 20);
	ck_assert_int_eq(stun_msg_parse(&m, buf, 0), -1);
	ck_assert_int_eq(stun_msg_parse(&m, buf, 1), -1);
	ck_assert_int_eq(stun_msg_parse(&m, buf, 19), -1);
	ck_assert_int_eq(stun_msg_parse(&m, buf, 20), 0);
	ck_assert_uint_eq(m.n_attrs, 0);
	ck_assert_uint_eq(m.len, 20);
	ck_assert_int_eq(m.idx_integrity, -1);
	ck_assert_int_eq(m.idx_fingerprint, -1);
}
END_TEST

START_TEST(test_length_mismatch)
{
	struct stun_msg m;
	size_t n;

	/* Length field 4, datagram ends after the header. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0004")), -1);
	/* Length field 0, 4 bytes more received. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0000") "80220000"), -1);
	/* Length field 8, 4 bytes received. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0008") "80220000"), -1);
	/* A correct message, handed over one byte short. */
	n = hex_decode(HDR("0001", "0008") "000d000400000258", buf, sizeof(buf));
	ck_assert_int_eq(stun_msg_parse(&m, buf, n - 1), -1);
	ck_assert_int_eq(stun_msg_parse(&m, buf, n), 0);
}
END_TEST

START_TEST(test_length_not_multiple_of_4)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0002") "0000"), -1);
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0005") "0006000161"), -1);
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0007") "00060003616263"), -1);
}
END_TEST

START_TEST(test_first_bits_not_zero)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, HDR("4001", "0000")), -1);
	ck_assert_int_eq(parse_hex(&m, HDR("8001", "0000")), -1);
	ck_assert_int_eq(parse_hex(&m, HDR("c001", "0000")), -1);
}
END_TEST

/* RFC 8489 section 12: no cookie is allowed only on a Binding request,
 * the one message an RFC 3489 client sends. */
START_TEST(test_magic_cookie)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, "00010000 2112a443" TID_HEX), 0);
	ck_assert(m.rfc3489);
	ck_assert_uint_eq(m.method, STUN_METHOD_BINDING);
	ck_assert_ptr_eq(m.tid, buf + 8);
	ck_assert_int_eq(parse_hex(&m, "00010000 00000000" TID_HEX), 0);
	ck_assert(m.rfc3489);
	/* Wrong cookie on everything else: dropped. */
	ck_assert_int_eq(parse_hex(&m, "00030000 2112a443" TID_HEX), -1); /* Allocate */
	ck_assert_int_eq(parse_hex(&m, "01010000 00000000" TID_HEX), -1); /* success */
	ck_assert_int_eq(parse_hex(&m, "01110000 00000000" TID_HEX), -1); /* error */
	ck_assert_int_eq(parse_hex(&m, "00110000 00000000" TID_HEX), -1); /* indication */
	ck_assert_int_eq(parse_hex(&m, "00160000 00000000" TID_HEX), -1); /* Send */
	ck_assert_int_eq(parse_hex(&m, HDR("0003", "0000")), 0);
	ck_assert(!m.rfc3489);
}
END_TEST

START_TEST(test_attr_past_end)
{
	struct stun_msg m;

	/* Value length 8 with 4 bytes left. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0008") "000d000800000258"), -1);
	/* Value length 5: padded to 8, runs past a 8-byte body. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0008") "0006000561626364"), -1);
	/* The second attribute is the one running past. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "000c") "001a0000 0006000561626364"), -1);
	/* Length 0xFFFF can never fit (the body is at most 65515 bytes). */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0008") "0006ffff61626364"), -1);
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0004") "8022ffff"), -1);
}
END_TEST

START_TEST(test_zero_length_attrs)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, HDR("0003", "0010") "001a0000 00060000 80220000 00250000"),
			 0);
	ck_assert_uint_eq(m.n_attrs, 4);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(m.attrs[i].len, 0);
		ck_assert_uint_eq(m.attrs[i].off, 24 + 4 * i);
	}
	ck_assert_ptr_nonnull(stun_msg_find(&m, TURN_ATTR_DONT_FRAGMENT));
}
END_TEST

/* Values of 1, 3 and 5 bytes end at odd offsets; each is padded so the
 * next attribute starts on a multiple of 4. */
START_TEST(test_odd_lengths)
{
	struct stun_msg m;
	const struct stun_attr *a;

	ck_assert_int_eq(parse_hex(&m, HDR("0001", "001c") "00060001 61000000 00140003 62636400 "
							   "00150005 6566676869000000"),
			 0);
	ck_assert_uint_eq(m.n_attrs, 3);
	a = stun_msg_find(&m, STUN_ATTR_USERNAME);
	ck_assert_uint_eq(a->len, 1);
	ck_assert_uint_eq(a->off, 24);
	ck_assert_mem_eq(stun_attr_value(&m, a), "a", 1);
	a = stun_msg_find(&m, STUN_ATTR_REALM);
	ck_assert_uint_eq(a->len, 3);
	ck_assert_uint_eq(a->off, 32);
	ck_assert_mem_eq(stun_attr_value(&m, a), "bcd", 3);
	a = stun_msg_find(&m, STUN_ATTR_NONCE);
	ck_assert_uint_eq(a->len, 5);
	ck_assert_uint_eq(a->off, 40);
	ck_assert_mem_eq(stun_attr_value(&m, a), "efghi", 5);
}
END_TEST

START_TEST(test_nonzero_padding_accepted)
{
	struct stun_msg m;
	const struct stun_attr *a;

	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0010") "00060001 61ffffff 000d0004 00000258"),
			 0);
	a = stun_msg_find(&m, STUN_ATTR_USERNAME);
	ck_assert_uint_eq(a->len, 1);
	ck_assert_mem_eq(stun_attr_value(&m, a), "a", 1);
	a = stun_msg_find(&m, TURN_ATTR_LIFETIME);
	ck_assert_uint_eq(a->off, 32);
}
END_TEST

START_TEST(test_duplicates_first_counts)
{
	struct stun_msg m;
	const struct stun_attr *a;

	ck_assert_int_eq(parse_hex(&m, HDR("0004", "0010") "000d0004 00000258 000d0004 00000000"),
			 0);
	ck_assert_uint_eq(m.n_attrs, 2);
	a = stun_msg_find(&m, TURN_ATTR_LIFETIME);
	ck_assert_ptr_eq(a, &m.attrs[0]);
	ck_assert_uint_eq(stun_attr_value(&m, a)[3], 0x58);
}
END_TEST

/* RFC 8489 section 14.5: after MESSAGE-INTEGRITY only MI-SHA256 and
 * FINGERPRINT are kept; section 14.6: after MI-SHA256 only FINGERPRINT. */
START_TEST(test_attrs_after_integrity_ignored)
{
	struct stun_msg m;
	char hex[1024];

	snprintf(hex, sizeof(hex), "%s%s%s%s%s%s", HDR("0003", "0060"),
		 "000d000400000258", /* LIFETIME */
		 "00080014 0000000000000000000000000000000000000000", /* MI */
		 "000d000400000000 7fff0000", /* ignored */
		 "001c0010 00000000000000000000000000000000", /* MI-SHA256 */
		 "000d000400000001 00080014 0000000000000000000000000000000000000000");
	ck_assert_int_eq(parse_hex(&m, hex), 0);
	ck_assert_uint_eq(m.n_attrs, 3);
	ck_assert_uint_eq(m.attrs[0].type, TURN_ATTR_LIFETIME);
	ck_assert_int_eq(m.idx_integrity, 1);
	ck_assert_int_eq(m.idx_integrity_sha256, 2);
	ck_assert_ptr_eq(stun_msg_find(&m, TURN_ATTR_LIFETIME), &m.attrs[0]);
	/* The unknown type after MI is ignored, not reported. */
	ck_assert_uint_eq(m.n_unknown, 0);

	/* A LIFETIME that only follows MI is not found at all. */
	snprintf(hex, sizeof(hex), "%s%s%s", HDR("0004", "0028"),
		 "00080014 0000000000000000000000000000000000000000",
		 "000d000400000000 80280004 00000000");
	ck_assert_int_eq(parse_hex(&m, hex), 0);
	ck_assert_ptr_null(stun_msg_find(&m, TURN_ATTR_LIFETIME));
	ck_assert_uint_eq(m.n_attrs, 2);
	ck_assert_int_eq(m.idx_fingerprint, 1);

	/* After MI-SHA256 even a MESSAGE-INTEGRITY is ignored. */
	snprintf(hex, sizeof(hex), "%s%s%s%s", HDR("0004", "0034"),
		 "001c0010 00000000000000000000000000000000",
		 "00080014 0000000000000000000000000000000000000000", "000d000400000000");
	ck_assert_int_eq(parse_hex(&m, hex), 0);
	ck_assert_uint_eq(m.n_attrs, 1);
	ck_assert_int_eq(m.idx_integrity, -1);
	ck_assert_int_eq(m.idx_integrity_sha256, 0);
}
END_TEST

START_TEST(test_fingerprint_not_last)
{
	struct stun_msg m;

	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0010") "8028000400000000 000d000400000258"),
			 -1);
	ck_assert(m.fingerprint_misplaced);
	/* A second FINGERPRINT is something after the first. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0010") "8028000400000000 8028000400000000"),
			 -1);
	/* Even an attribute that would be ignored after MI. */
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0010") "8028000400000000 80220000 80220000"),
			 -1);
	ck_assert_int_eq(parse_hex(&m, HDR("0001", "0008") "8028000400000000"), 0);
	ck_assert_int_eq(m.idx_fingerprint, 0);
	ck_assert(!m.fingerprint_misplaced);
}
END_TEST

START_TEST(test_unknown_attributes)
{
	struct stun_msg m;

	/* 0x7fff and 0x0002 are comprehension-required and unknown (0x7fff
	 * twice: reported once); 0xc001 and 0x8005 are optional; 0x000d is
	 * known. */
	ck_assert_int_eq(parse_hex(&m, HDR("0003", "001c") "7fff0000 c0010000 00020000 "
							   "000d000400000258 7fff0000 80050000"),
			 0);
	ck_assert_uint_eq(m.n_attrs, 6);
	ck_assert_uint_eq(m.n_unknown, 2);
	ck_assert_uint_eq(m.unknown[0], 0x7fff);
	ck_assert_uint_eq(m.unknown[1], 0x0002);
}
END_TEST

START_TEST(test_unknown_capped)
{
	struct stun_msg m;
	struct stun_builder b;
	uint8_t out[512];

	stun_build_begin(&b, out, sizeof(out), TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, test_tid);
	for (uint16_t t = 0x7000; t < 0x7000 + STUN_MAX_UNKNOWN + 4; t++)
		stun_build_flag(&b, t);
	ck_assert_int_eq(stun_msg_parse(&m, out, (size_t)stun_build_end(&b)), 0);
	ck_assert_uint_eq(m.n_unknown, STUN_MAX_UNKNOWN);
	ck_assert_uint_eq(m.unknown[STUN_MAX_UNKNOWN - 1], 0x7000 + STUN_MAX_UNKNOWN - 1);
}
END_TEST

START_TEST(test_too_many_attrs)
{
	struct stun_msg m;
	struct stun_builder b;
	uint8_t out[512];
	long n;

	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		stun_build_flag(&b, STUN_ATTR_SOFTWARE);
	n = stun_build_end(&b);
	ck_assert_int_eq(stun_msg_parse(&m, out, (size_t)n), 0);
	ck_assert_uint_eq(m.n_attrs, STUN_MAX_ATTRS);
	stun_build_flag(&b, STUN_ATTR_SOFTWARE);
	n = stun_build_end(&b);
	ck_assert_int_eq(stun_msg_parse(&m, out, (size_t)n), -1);
	/* Ignored attributes after MESSAGE-INTEGRITY count too: the bound
	 * is on work done per datagram. */
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	stun_build_attr(&b, STUN_ATTR_MESSAGE_INTEGRITY, out, 20);
	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		stun_build_flag(&b, STUN_ATTR_SOFTWARE);
	ck_assert_int_eq(stun_msg_parse(&m, out, (size_t)stun_build_end(&b)), -1);
}
END_TEST

/* Attribute offsets are 16-bit: a stream frame over 65535 bytes is refused
 * rather than mis-indexed. */
START_TEST(test_oversized_message)
{
	struct stun_msg m;
	size_t len = STUN_HDR_LEN + 65520;
	uint8_t *big = calloc(1, len);

	ck_assert_ptr_nonnull(big);
	hex_decode(HDR("0001", "fff0"), big, 20);
	/* One PADDING attribute of 65516 bytes fills the body. */
	big[20] = 0x00;
	big[21] = 0x26;
	big[22] = 0xff;
	big[23] = 0xec;
	ck_assert(stun_msg_is_stun(big, len));
	ck_assert_int_eq(stun_msg_parse(&m, big, len), -1);
	/* 65532 bytes in all is fine. */
	big[3] = 0xe8;
	big[23] = 0xe4;
	ck_assert_int_eq(stun_msg_parse(&m, big, STUN_HDR_LEN + 0xffe8), 0);
	ck_assert_uint_eq(m.attrs[0].len, 0xffe4);
	free(big);
}
END_TEST

/* ---- Builder ---- */

START_TEST(test_build_header_and_length)
{
	struct stun_builder b;
	struct stun_msg m;
	uint8_t out[128];

	stun_build_begin(&b, out, sizeof(out), TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, test_tid);
	ck_assert_int_eq(stun_build_end(&b), 20);
	hex_decode(HDR("0004", "0000"), buf, 20);
	ck_assert_mem_eq(out, buf, 20);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "abcde", 5);
	ck_assert_int_eq(stun_build_end(&b), 32);
	ck_assert_uint_eq(out[3], 12);
	/* Padding is zeroed even where the buffer held something else. */
	ck_assert_mem_eq(out + 24, "abcde\0\0\0", 8);
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	ck_assert_uint_eq(out[3], 16);
	ck_assert_int_eq(stun_msg_parse(&m, out, (size_t)stun_build_end(&b)), 0);
	ck_assert_uint_eq(m.method, TURN_METHOD_REFRESH);
	ck_assert_uint_eq(m.n_attrs, 2);
}
END_TEST

START_TEST(test_build_padding_zeroed)
{
	struct stun_builder b;
	uint8_t out[64];

	memset(out, 0xAA, sizeof(out));
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	stun_build_attr(&b, STUN_ATTR_REALM, "x", 1);
	ck_assert_int_eq(stun_build_end(&b), 28);
	ck_assert_mem_eq(out + 24, "x\0\0\0", 4);
}
END_TEST

START_TEST(test_build_overflow_sticky)
{
	struct stun_builder b;
	uint8_t out[32];

	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "abcd", 4); /* 28 bytes */
	ck_assert_int_eq(stun_build_end(&b), 28);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "a", 1); /* 36: does not fit */
	ck_assert_int_eq(stun_build_end(&b), -1);
	ck_assert_uint_eq(b.len, 28);
	ck_assert_uint_eq(out[3], 8);
	/* Sticky: a small attribute that would fit is refused too. */
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	ck_assert_int_eq(stun_build_end(&b), -1);
	ck_assert_uint_eq(b.len, 28);

	stun_build_begin(&b, out, 19, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	ck_assert_int_eq(stun_build_end(&b), -1);
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	ck_assert_int_eq(stun_build_end(&b), -1);

	stun_build_begin(&b, out, sizeof(out), 0x1000, STUN_CLASS_REQUEST, test_tid);
	ck_assert_int_eq(stun_build_end(&b), -1);
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, 4, test_tid);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

START_TEST(test_build_attr_too_long)
{
	struct stun_builder b;
	size_t cap = 70000;
	uint8_t *out = malloc(cap);
	uint8_t *val = calloc(1, 0x10000);

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(val);
	stun_build_begin(&b, out, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	stun_build_attr(&b, STUN_ATTR_PADDING, val, 0x10000);
	ck_assert_int_eq(stun_build_end(&b), -1);
	/* A message never grows past 65535 bytes, whatever the buffer. */
	stun_build_begin(&b, out, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, test_tid);
	stun_build_attr(&b, STUN_ATTR_PADDING, val, 65508);
	ck_assert_int_eq(stun_build_end(&b), 65532);
	stun_build_flag(&b, STUN_ATTR_SOFTWARE);
	ck_assert_int_eq(stun_build_end(&b), -1);
	free(val);
	free(out);
}
END_TEST

START_TEST(test_build_response)
{
	struct stun_builder b;
	struct stun_msg m, r;
	uint8_t out[128];

	ck_assert_int_eq(parse_hex(&m, VEC_5769_REQUEST), 0);
	stun_build_response(&b, out, sizeof(out), &m, STUN_CLASS_SUCCESS);
	ck_assert_int_eq(stun_msg_parse(&r, out, (size_t)stun_build_end(&b)), 0);
	ck_assert_uint_eq(r.type, 0x0101);
	ck_assert_mem_eq(r.tid, m.tid, STUN_TID_LEN);
	ck_assert_mem_eq(out + 4, buf + 4, 16);
}
END_TEST

/* RFC 3489: a response echoes all 16 bytes after the length, no cookie. */
START_TEST(test_build_response_rfc3489)
{
	struct stun_builder b;
	struct stun_msg m, r;
	uint8_t out[128];

	ck_assert_int_eq(parse_hex(&m, "00010000 a1a2a3a4" TID_HEX), 0);
	ck_assert(m.rfc3489);
	stun_build_response(&b, out, sizeof(out), &m, STUN_CLASS_ERROR);
	stun_build_error(&b, 400, NULL);
	ck_assert_int_gt(stun_build_end(&b), 20);
	ck_assert_mem_eq(out + 4, buf + 4, 16);
	ck_assert(b.rfc3489);
	/* It is not a request, so without a cookie it does not parse. */
	ck_assert_int_eq(stun_msg_parse(&r, out, (size_t)stun_build_end(&b)), -1);

	stun_build_response(&b, out, sizeof(out), &m, STUN_CLASS_REQUEST);
	ck_assert_int_eq(stun_msg_parse(&r, out, (size_t)stun_build_end(&b)), 0);
	ck_assert(r.rfc3489);
	ck_assert_mem_eq(r.tid, m.tid, STUN_TID_LEN);
}
END_TEST

static Suite *msg_suite(void)
{
	Suite *s = suite_create("stun_msg");
	TCase *tc = tcase_create("type");

	tcase_add_test(tc, test_type_known_values);
	tcase_add_test(tc, test_type_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("vectors");
	tcase_add_test(tc, test_parse_vector_request);
	tcase_add_test(tc, test_parse_vector_responses);
	tcase_add_test(tc, test_parse_vector_long_term);
	tcase_add_test(tc, test_parse_vector_sha256);
	tcase_add_test(tc, test_is_stun);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad_input");
	tcase_add_test(tc, test_short_datagrams);
	tcase_add_test(tc, test_length_mismatch);
	tcase_add_test(tc, test_length_not_multiple_of_4);
	tcase_add_test(tc, test_first_bits_not_zero);
	tcase_add_test(tc, test_magic_cookie);
	tcase_add_test(tc, test_attr_past_end);
	tcase_add_test(tc, test_zero_length_attrs);
	tcase_add_test(tc, test_odd_lengths);
	tcase_add_test(tc, test_nonzero_padding_accepted);
	tcase_add_test(tc, test_duplicates_first_counts);
	tcase_add_test(tc, test_attrs_after_integrity_ignored);
	tcase_add_test(tc, test_fingerprint_not_last);
	tcase_add_test(tc, test_unknown_attributes);
	tcase_add_test(tc, test_unknown_capped);
	tcase_add_test(tc, test_too_many_attrs);
	tcase_add_test(tc, test_oversized_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("builder");
	tcase_add_test(tc, test_build_header_and_length);
	tcase_add_test(tc, test_build_padding_zeroed);
	tcase_add_test(tc, test_build_overflow_sticky);
	tcase_add_test(tc, test_build_attr_too_long);
	tcase_add_test(tc, test_build_response);
	tcase_add_test(tc, test_build_response_rfc3489);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(msg_suite());
}
