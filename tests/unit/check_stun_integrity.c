/*
 * Unit tests for src/stun/integrity.c: SASLprep and key derivation, the
 * MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT checks of the
 * published vectors (RFC 5769, RFC 8489 B.1), byte-exact re-encoding of
 * those vectors with the builder, and the failures SECURITY.md lists.
 */
#include <check.h>
#include <string.h>

#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "testutil.h"

static const uint8_t tid_5769[STUN_TID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
					       0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
static const uint8_t tid_lt[STUN_TID_LEN] = {0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
					     0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e};

#define SHORT_KEY ((const uint8_t *)VEC_SHORT_TERM_PASSWORD)
#define SHORT_KEY_LEN (sizeof(VEC_SHORT_TERM_PASSWORD) - 1)

static uint8_t vec[512];
static size_t vec_len;
static uint8_t out[512];
static struct stun_builder b;
static struct stun_msg m;

static void load(const char *hex)
{
	vec_len = hex_decode(hex, vec, sizeof(vec));
	ck_assert_int_eq(stun_msg_parse(&m, vec, vec_len), 0);
}

static size_t finish(void)
{
	long n = stun_build_end(&b);

	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

/* ---- SASLprep, keys, USERHASH ---- */

START_TEST(test_saslprep)
{
	char s[64];

	ck_assert_int_eq(stun_saslprep(VEC_LT_PASSWORD, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "TheMatrIX");
	ck_assert_int_eq(stun_saslprep("user", s, sizeof(s)), 0);
	ck_assert_str_eq(s, "user");
	ck_assert_int_eq(stun_saslprep("", s, sizeof(s)), 0);
	ck_assert_str_eq(s, "");
	/* RFC 4013 section 2.1: non-ASCII space maps to SPACE, soft hyphen
	 * to nothing. */
	ck_assert_int_eq(stun_saslprep("a\xc2\xa0"
				       "b\xc2\xad"
				       "c",
				       s, sizeof(s)),
			 0);
	ck_assert_str_eq(s, "a bc");
	/* Section 2.3: control characters are prohibited. */
	ck_assert_int_eq(stun_saslprep("a\x07"
				       "b",
				       s, sizeof(s)),
			 -1);
	/* Invalid UTF-8. */
	ck_assert_int_eq(stun_saslprep("a\xff", s, sizeof(s)), -1);
	ck_assert_int_eq(stun_saslprep("\xc0\x80", s, sizeof(s)), -1);
	/* The result and its NUL must fit. */
	ck_assert_int_eq(stun_saslprep(VEC_LT_PASSWORD, s, 9), -1);
	ck_assert_int_eq(stun_saslprep(VEC_LT_PASSWORD, s, 10), 0);
}
END_TEST

START_TEST(test_keys)
{
	uint8_t key[32], want[32];

	ck_assert_int_eq(stun_key_md5(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	hex_decode("e8ca7ad59d5eb0518e312911d2dab2a9", want, sizeof(want));
	ck_assert_mem_eq(key, want, STUN_KEY_MD5_LEN);
	/* SASLprep is applied: the prepared password gives the same key. */
	ck_assert_int_eq(stun_key_md5(VEC_LT_USERNAME, VEC_LT_REALM, "TheMatrIX", key), 0);
	ck_assert_mem_eq(key, want, STUN_KEY_MD5_LEN);

	ck_assert_int_eq(stun_key_sha256(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	hex_decode("dd295a613b9058c3c23d6dc7165bda072304d989c9d0af3a8c7e184b4f9bb4a1", want,
		   sizeof(want));
	ck_assert_mem_eq(key, want, STUN_KEY_SHA256_LEN);

	ck_assert_int_eq(stun_key_md5("u", "r", "a\xff", key), -1);
	ck_assert_int_eq(stun_key_sha256("u", "r", "a\x07", key), -1);
}
END_TEST

START_TEST(test_userhash)
{
	uint8_t hash[STUN_USERHASH_LEN];
	const struct stun_attr *a;

	load(VEC_8489_SHA256);
	ck_assert_int_eq(stun_userhash(VEC_LT_USERNAME, VEC_LT_REALM, hash), 0);
	a = stun_msg_find(&m, STUN_ATTR_USERHASH);
	ck_assert_uint_eq(a->len, STUN_USERHASH_LEN);
	ck_assert(stun_mac_equal(stun_attr_value(&m, a), hash, STUN_USERHASH_LEN));
}
END_TEST

START_TEST(test_crc32_and_mac_equal)
{
	ck_assert_uint_eq(stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926);
	ck_assert_uint_eq(stun_crc32((const uint8_t *)"", 0), 0);
	ck_assert(stun_mac_equal("abcd", "abcd", 4));
	ck_assert(!stun_mac_equal("abcd", "abce", 4));
	ck_assert(stun_mac_equal("abcd", "abce", 3));
}
END_TEST

/* ---- Vectors: verification ---- */

START_TEST(test_vectors_short_term)
{
	static const char *const vecs[] = {VEC_5769_REQUEST, VEC_5769_RESPONSE_V4,
					   VEC_5769_RESPONSE_V6};

	for (size_t i = 0; i < 3; i++) {
		load(vecs[i]);
		ck_assert_int_eq(stun_msg_check_integrity(&m, SHORT_KEY, SHORT_KEY_LEN), 1);
		ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
		ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, SHORT_KEY, SHORT_KEY_LEN), 0);
		/* A wrong key fails. */
		ck_assert_int_eq(stun_msg_check_integrity(&m, (const uint8_t *)"x", 1), 0);
	}
}
END_TEST

START_TEST(test_vector_long_term)
{
	uint8_t key[STUN_KEY_MD5_LEN];

	load(VEC_5769_LONG_TERM);
	ck_assert_int_eq(stun_key_md5(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, sizeof(key)), 1);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 0); /* absent */
}
END_TEST

START_TEST(test_vector_sha256)
{
	uint8_t key[STUN_KEY_SHA256_LEN];

	load(VEC_8489_SHA256);
	ck_assert_int_eq(stun_key_sha256(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, key, sizeof(key)), 1);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, sizeof(key)), 0); /* absent */
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 0);
	key[0] ^= 1;
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, key, sizeof(key)), 0);
}
END_TEST

/* The vector file's negative cases. */
START_TEST(test_vector_flips)
{
	uint8_t key[STUN_KEY_MD5_LEN], key256[STUN_KEY_SHA256_LEN];

	vec_len = hex_decode(VEC_5769_REQUEST, vec, sizeof(vec));
	vec[27] ^= 0x01;
	ck_assert_int_eq(stun_msg_parse(&m, vec, vec_len), 0);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), -1);
	ck_assert_int_eq(stun_msg_check_integrity(&m, SHORT_KEY, SHORT_KEY_LEN), 0);

	vec_len = hex_decode(VEC_5769_LONG_TERM, vec, sizeof(vec));
	vec[32] ^= 0x01;
	ck_assert_int_eq(stun_msg_parse(&m, vec, vec_len), 0);
	ck_assert_int_eq(stun_key_md5(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, sizeof(key)), 0);

	/* Every single-byte change anywhere before MI-SHA256 breaks it. */
	vec_len = hex_decode(VEC_8489_SHA256, vec, sizeof(vec));
	ck_assert_int_eq(stun_key_sha256(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key256),
			 0);
	ck_assert_int_eq(stun_msg_parse(&m, vec, vec_len), 0);
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, key256, sizeof(key256)), 1);
	for (size_t i = 0; i < vec_len; i++) {
		vec[i] ^= 0x40;
		if (stun_msg_parse(&m, vec, vec_len) == 0)
			ck_assert_msg(stun_msg_check_integrity_sha256(&m, key256, sizeof(key256)) !=
					      1,
				      "byte %zu", i);
		vec[i] ^= 0x40;
	}
}
END_TEST

/* ---- Vectors: re-encoding ---- */

/* RFC 5769 pads SOFTWARE and USERNAME with 0x20, which the builder never
 * does. Writing the same padding by hand before MESSAGE-INTEGRITY is
 * appended shows that the builder's MI and FINGERPRINT are byte-exact. */
static void space_pad(size_t from, size_t to)
{
	memset(out + from, 0x20, to - from);
}

START_TEST(test_reencode_request)
{
	size_t n;

	for (int pad = 0; pad < 2; pad++) {
		stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
				 tid_5769);
		stun_build_text(&b, STUN_ATTR_SOFTWARE, "STUN test client");
		stun_build_u32(&b, STUN_ATTR_PRIORITY, 0x6e0001ff);
		stun_build_u64(&b, STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull);
		stun_build_text(&b, STUN_ATTR_USERNAME, "evtj:h6vY");
		if (pad)
			space_pad(73, 76);
		stun_build_integrity(&b, SHORT_KEY, SHORT_KEY_LEN);
		stun_build_fingerprint(&b);
		n = finish();
		load(VEC_5769_REQUEST);
		ck_assert_uint_eq(n, vec_len);
		if (pad) {
			ck_assert_mem_eq(out, vec, n);
			continue;
		}
		/* Zero padding: the same bytes up to it, and a message that
		 * verifies. */
		ck_assert_mem_eq(out, vec, 73);
		ck_assert_mem_eq(out + 73, "\0\0\0", 3);
		ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
		ck_assert_int_eq(stun_msg_check_integrity(&m, SHORT_KEY, SHORT_KEY_LEN), 1);
		ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
	}
}
END_TEST

START_TEST(test_reencode_responses)
{
	struct turn_addr v4 = {.family = TURN_AF_INET, .port = 32853, .ip = {192, 0, 2, 1}};
	struct turn_addr v6 = {.family = TURN_AF_INET6, .port = 32853};
	const struct turn_addr *addrs[2] = {&v4, &v6};
	const char *vecs[2] = {VEC_5769_RESPONSE_V4, VEC_5769_RESPONSE_V6};
	size_t n;

	hex_decode("20010db8123456780011223344556677", v6.ip, 16);
	for (size_t i = 0; i < 2; i++) {
		for (int pad = 0; pad < 2; pad++) {
			stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING,
					 STUN_CLASS_SUCCESS, tid_5769);
			stun_build_text(&b, STUN_ATTR_SOFTWARE, "test vector");
			if (pad)
				space_pad(35, 36);
			stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, addrs[i]);
			stun_build_integrity(&b, SHORT_KEY, SHORT_KEY_LEN);
			stun_build_fingerprint(&b);
			n = finish();
			load(vecs[i]);
			ck_assert_uint_eq(n, vec_len);
			if (pad) {
				ck_assert_mem_eq(out, vec, n);
				continue;
			}
			ck_assert_mem_eq(out, vec, 35);
			ck_assert_uint_eq(out[35], 0);
			/* XOR-MAPPED-ADDRESS is byte-exact too. */
			ck_assert_mem_eq(out + 36, vec + 36, i ? 24 : 12);
			ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
			ck_assert_int_eq(stun_msg_check_integrity(&m, SHORT_KEY, SHORT_KEY_LEN), 1);
			ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
		}
	}
}
END_TEST

/* 2.4 and B.1 pad with zeros: the builder reproduces them as they are. */
START_TEST(test_reencode_long_term)
{
	uint8_t key[STUN_KEY_MD5_LEN];
	size_t n;

	ck_assert_int_eq(stun_key_md5(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid_lt);
	stun_build_text(&b, STUN_ATTR_USERNAME, VEC_LT_USERNAME);
	stun_build_text(&b, STUN_ATTR_NONCE, VEC_LT_NONCE);
	stun_build_text(&b, STUN_ATTR_REALM, VEC_LT_REALM);
	stun_build_integrity(&b, key, sizeof(key));
	n = finish();
	load(VEC_5769_LONG_TERM);
	ck_assert_uint_eq(n, vec_len);
	ck_assert_mem_eq(out, vec, n);
}
END_TEST

START_TEST(test_reencode_sha256)
{
	uint8_t key[STUN_KEY_SHA256_LEN], hash[STUN_USERHASH_LEN];
	size_t n;

	ck_assert_int_eq(stun_key_sha256(VEC_LT_USERNAME, VEC_LT_REALM, VEC_LT_PASSWORD, key), 0);
	ck_assert_int_eq(stun_userhash(VEC_LT_USERNAME, VEC_LT_REALM, hash), 0);
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid_lt);
	stun_build_attr(&b, STUN_ATTR_USERHASH, hash, sizeof(hash));
	stun_build_text(&b, STUN_ATTR_NONCE, VEC_B1_NONCE);
	stun_build_text(&b, STUN_ATTR_REALM, VEC_LT_REALM);
	stun_build_pwalg(&b, STUN_PWALG_SHA256);
	stun_build_integrity_sha256(&b, key, sizeof(key), STUN_HMAC_SHA256_LEN);
	n = finish();
	load(VEC_8489_SHA256);
	ck_assert_uint_eq(n, vec_len);
	ck_assert_mem_eq(out, vec, n);
}
END_TEST

/* ---- Building and checking ---- */

static void begin_allocate(void)
{
	stun_build_begin(&b, out, sizeof(out), TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid_lt);
	stun_build_transport(&b, TURN_TRANSPORT_UDP);
	stun_build_text(&b, STUN_ATTR_USERNAME, "alice");
}

START_TEST(test_sha256_truncated)
{
	static const uint8_t key[] = "secret-key";

	for (size_t len = STUN_HMAC_SHA256_MIN; len <= STUN_HMAC_SHA256_LEN; len += 4) {
		begin_allocate();
		stun_build_integrity_sha256(&b, key, sizeof(key) - 1, len);
		ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
		ck_assert_uint_eq(m.attrs[m.idx_integrity_sha256].len, len);
		ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, key, sizeof(key) - 1), 1);
		ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, key, sizeof(key) - 2), 0);
	}
	for (size_t len = 0; len <= 40; len++) {
		if (len >= 16 && len <= 32 && len % 4 == 0)
			continue;
		begin_allocate();
		stun_build_integrity_sha256(&b, key, sizeof(key) - 1, len);
		ck_assert_int_eq(stun_build_end(&b), -1);
	}
}
END_TEST

/* A MI-SHA256 value of a length the RFC does not allow never verifies,
 * even when its bytes are a correct prefix of the MAC. */
START_TEST(test_sha256_bad_length)
{
	static const uint8_t key[] = "k";
	size_t n;

	begin_allocate();
	stun_build_integrity_sha256(&b, key, 1, 32);
	n = finish();
	/* Shrink the attribute from 32 to 12 bytes in place. */
	out[n - 33] = 12;
	out[3] = (uint8_t)(out[3] - 20);
	ck_assert_int_eq(stun_msg_parse(&m, out, n - 20), 0);
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, key, 1), 0);
}
END_TEST

START_TEST(test_all_three)
{
	static const uint8_t k1[] = "sha1-key", k2[] = "sha256-key";

	begin_allocate();
	stun_build_integrity(&b, k1, sizeof(k1) - 1);
	stun_build_integrity_sha256(&b, k2, sizeof(k2) - 1, 32);
	stun_build_fingerprint(&b);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, k1, sizeof(k1) - 1), 1);
	ck_assert_int_eq(stun_msg_check_integrity_sha256(&m, k2, sizeof(k2) - 1), 1);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
}
END_TEST

START_TEST(test_empty_key)
{
	begin_allocate();
	stun_build_integrity(&b, NULL, 0);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, NULL, 0), 1);
	ck_assert_int_eq(stun_msg_check_integrity(&m, (const uint8_t *)"a", 1), 0);
}
END_TEST

START_TEST(test_rfc3489_integrity)
{
	static const uint8_t tid16[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

	stun_build_begin_rfc3489(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
				 tid16);
	stun_build_text(&b, STUN_ATTR_USERNAME, "bob");
	stun_build_integrity(&b, SHORT_KEY, SHORT_KEY_LEN);
	stun_build_fingerprint(&b);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert(m.rfc3489);
	ck_assert_int_eq(stun_msg_check_integrity(&m, SHORT_KEY, SHORT_KEY_LEN), 1);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
}
END_TEST

/* SECURITY.md: a LIFETIME appended after MESSAGE-INTEGRITY must not take
 * effect, even though the MAC still verifies (it covers only what comes
 * before it, and the length it was computed with). */
START_TEST(test_appended_after_integrity)
{
	static const uint8_t key[] = "k";

	stun_build_begin(&b, out, sizeof(out), TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, tid_lt);
	stun_build_text(&b, STUN_ATTR_USERNAME, "alice");
	stun_build_integrity(&b, key, 1);
	stun_build_u32(&b, TURN_ATTR_LIFETIME, 0);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, 1), 1);
	ck_assert_ptr_null(stun_msg_find(&m, TURN_ATTR_LIFETIME));
	ck_assert_uint_eq(m.n_attrs, 2);

	/* Same with a FINGERPRINT after the LIFETIME: kept, and valid. */
	stun_build_fingerprint(&b);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, 1), 1);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
	ck_assert_ptr_null(stun_msg_find(&m, TURN_ATTR_LIFETIME));
}
END_TEST

/* MESSAGE-INTEGRITY over the wrong bytes: a changed attribute before it,
 * a changed header, a changed MAC, a MAC of the wrong length. */
START_TEST(test_integrity_wrong_bytes)
{
	static const uint8_t key[] = "k";
	uint8_t mac[STUN_HMAC_SHA1_LEN];
	size_t n;

	begin_allocate();
	stun_build_integrity(&b, key, 1);
	stun_build_fingerprint(&b);
	n = finish();
	for (size_t i = 0; i < n - 8; i++) {
		out[i] ^= 0x01;
		if (stun_msg_parse(&m, out, n) == 0)
			ck_assert_msg(stun_msg_check_integrity(&m, key, 1) == 0, "byte %zu", i);
		out[i] ^= 0x01;
	}
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, 1), 1);
	/* The right MAC truncated to 16 bytes, or padded to 24, is wrong. */
	memcpy(mac, out + n - 8 - 20, sizeof(mac));
	begin_allocate();
	stun_build_attr(&b, STUN_ATTR_MESSAGE_INTEGRITY, mac, 16);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, 1), 0);
	begin_allocate();
	stun_build_attr(&b, STUN_ATTR_MESSAGE_INTEGRITY, out, 24);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_integrity(&m, key, 1), 0);
}
END_TEST

START_TEST(test_fingerprint_wrong)
{
	size_t n;

	begin_allocate();
	stun_build_fingerprint(&b);
	n = finish();
	ck_assert_int_eq(stun_msg_parse(&m, out, n), 0);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), 1);
	for (size_t i = 0; i < n; i++) {
		out[i] ^= 0x80;
		if (stun_msg_parse(&m, out, n) == 0)
			ck_assert_msg(stun_msg_check_fingerprint(&m) != 1, "byte %zu", i);
		out[i] ^= 0x80;
	}
	/* A FINGERPRINT that is not 4 bytes long is wrong. */
	stun_build_begin(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid_lt);
	stun_build_attr(&b, STUN_ATTR_FINGERPRINT, "\0\0\0\0\0\0\0\0", 8);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), 0);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), -1);
	/* Not last: the parser drops it; a caller that looks anyway sees
	 * it fail. */
	begin_allocate();
	stun_build_fingerprint(&b);
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	ck_assert_int_eq(stun_msg_parse(&m, out, finish()), -1);
	ck_assert(m.fingerprint_misplaced);
	ck_assert_int_eq(stun_msg_check_fingerprint(&m), -1);
}
END_TEST

START_TEST(test_build_integrity_overflow)
{
	/* 20 + 8 + 12 = 40 bytes before MI: 63 leaves no room for its 24. */
	stun_build_begin(&b, out, 63, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid_lt);
	stun_build_transport(&b, TURN_TRANSPORT_UDP);
	stun_build_text(&b, STUN_ATTR_USERNAME, "alice");
	ck_assert_int_eq(stun_build_end(&b), 40);
	stun_build_integrity(&b, (const uint8_t *)"k", 1);
	ck_assert_int_eq(stun_build_end(&b), -1);

	stun_build_begin(&b, out, 64, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid_lt);
	stun_build_transport(&b, TURN_TRANSPORT_UDP);
	stun_build_text(&b, STUN_ATTR_USERNAME, "alice");
	stun_build_integrity(&b, (const uint8_t *)"k", 1);
	ck_assert_int_eq(stun_build_end(&b), 64);
	stun_build_fingerprint(&b);
	ck_assert_int_eq(stun_build_end(&b), -1);

	stun_build_begin(&b, out, 16, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid_lt);
	stun_build_fingerprint(&b);
	ck_assert_int_eq(stun_build_end(&b), -1);
}
END_TEST

static Suite *integrity_suite(void)
{
	Suite *s = suite_create("stun_integrity");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_saslprep);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_userhash);
	tcase_add_test(tc, test_crc32_and_mac_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("vectors");
	tcase_add_test(tc, test_vectors_short_term);
	tcase_add_test(tc, test_vector_long_term);
	tcase_add_test(tc, test_vector_sha256);
	tcase_add_test(tc, test_vector_flips);
	tcase_add_test(tc, test_reencode_request);
	tcase_add_test(tc, test_reencode_responses);
	tcase_add_test(tc, test_reencode_long_term);
	tcase_add_test(tc, test_reencode_sha256);
	suite_add_tcase(s, tc);

	tc = tcase_create("build_check");
	tcase_add_test(tc, test_sha256_truncated);
	tcase_add_test(tc, test_sha256_bad_length);
	tcase_add_test(tc, test_all_three);
	tcase_add_test(tc, test_empty_key);
	tcase_add_test(tc, test_rfc3489_integrity);
	tcase_add_test(tc, test_appended_after_integrity);
	tcase_add_test(tc, test_integrity_wrong_bytes);
	tcase_add_test(tc, test_fingerprint_wrong);
	tcase_add_test(tc, test_build_integrity_overflow);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(integrity_suite());
}
