/*
 * Helpers shared by the unit tests: hex decoding, the published STUN test
 * vectors (tests/vectors, /work/shared/vectors/stun-test-vectors.md), and
 * the one-line suite runner every check_*.c main() uses.
 */
#ifndef TURND_TESTS_UNIT_TESTUTIL_H
#define TURND_TESTS_UNIT_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stun/attr.h"

/* RFC 5769 section 2: short-term password of 2.1-2.3. */
#define VEC_SHORT_TERM_PASSWORD "VOkJxbRl1RmTxUk/WvJxBt"

/* RFC 5769 section 2.1, sample request (108 bytes). */
#define VEC_5769_REQUEST                                                                           \
	"000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74"         \
	"002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014"         \
	"9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf"

/* RFC 5769 section 2.2, IPv4 response (80 bytes). */
#define VEC_5769_RESPONSE_V4                                                                       \
	"0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200008"         \
	"0001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96"

/* RFC 5769 section 2.3, IPv6 response (92 bytes). */
#define VEC_5769_RESPONSE_V6                                                                       \
	"010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200014"         \
	"0002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275"         \
	"bfe3ed4180280004c8fb0b4c"

/* RFC 5769 section 2.4, long-term authentication (116 bytes). */
#define VEC_5769_LONG_TERM                                                                         \
	"000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe3"         \
	"82b900000015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b"         \
	"6578616d706c652e6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666"

/* RFC 8489 appendix B.1 as corrected by errata 6268 (164 bytes). */
#define VEC_8489_SHA256                                                                            \
	"000100902112a44278ad3433c6ad72c029da412e001e00204a3cf38fef6992bda952c6780417da0f"         \
	"24819415569e60b205c46e41407f1704001500296f624d61744a6f733241414143662f2f3439396b"         \
	"39353464364f4c33346f4c394653547679363473410000000014000b6578616d706c652e6f726700"         \
	"001d000400020000001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278c"         \
	"c6518e65"

/* Credentials of 2.4 and B.1: U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9,
 * and "The<U+00AD>M<U+00AA>tr<U+2168>". */
#define VEC_LT_USERNAME "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9"
#define VEC_LT_PASSWORD "The\xc2\xadM\xc2\xaatr\xe2\x85\xa8"
#define VEC_LT_REALM "example.org"
#define VEC_LT_NONCE "f//499k954d6OL34oL9FSTvy64sA"
#define VEC_B1_NONCE "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"

static inline int test_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex into out and return the byte count. Whitespace is skipped; a
 * malformed string or one that does not fit aborts, since a broken vector
 * is a bug in the test itself. */
static inline size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*hex) {
		int hi, lo;

		if (*hex == ' ' || *hex == '\n' || *hex == '\t') {
			hex++;
			continue;
		}
		hi = test_hex_nibble(hex[0]);
		lo = hex[1] ? test_hex_nibble(hex[1]) : -1;
		if (hi < 0 || lo < 0 || n >= cap) {
			fprintf(stderr, "hex_decode: bad test vector\n");
			abort();
		}
		out[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	return n;
}

/*
 * The answer in out (parsed from resp, len bytes) to the request with
 * transaction ID tid: its NONCE kept in nonce (cap bytes, NUL-terminated),
 * and its code returned: 0 for a success, else its ERROR-CODE. Fails the
 * test for anything else.
 */
static inline int test_read_answer(struct stun_msg *out, const uint8_t *resp, size_t len,
				   const uint8_t tid[STUN_TID_LEN], char *nonce, size_t cap)
{
	const struct stun_attr *a;
	const uint8_t *reason;
	size_t rlen;
	int code = 0;

	ck_assert_int_eq(stun_msg_parse(out, resp, len), 0);
	ck_assert_mem_eq(out->tid, tid, STUN_TID_LEN);
	a = stun_msg_find(out, STUN_ATTR_NONCE);
	if (a) {
		ck_assert_uint_lt(a->len, cap);
		memcpy(nonce, stun_attr_value(out, a), a->len);
		nonce[a->len] = '\0';
	}
	if (out->cls == STUN_CLASS_SUCCESS)
		return 0;
	ck_assert_uint_eq(out->cls, STUN_CLASS_ERROR);
	a = stun_msg_find(out, STUN_ATTR_ERROR_CODE);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_attr_get_error(out, a, NULL, &code, &reason, &rlen), 0);
	return code;
}

/* Run one suite and turn its result into an exit status. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
