/*
 * Unit tests for src/turn/nonce.c: round trip, expiry (STALE at
 * lifetime + 1), binding to the client address, tampering at every byte,
 * the RFC 8489 section 9.2 cookie and feature set, times from the future,
 * and malformed input.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "turn/nonce.h"
#include "util/addr.h"

#define NOW 1700000000u
#define LIFETIME 600u

static struct turn_nonce_options opt;
static struct turn_addr client4, client6;

static void setup(void)
{
	memset(&opt, 0, sizeof(opt));
	for (size_t i = 0; i < sizeof(opt.key); i++)
		opt.key[i] = (uint8_t)(0xA5 ^ i);
	opt.lifetime_s = LIFETIME;
	opt.features = 0;
	ck_assert_int_eq(turn_addr_parse("198.51.100.7:40000", 0, &client4), 0);
	ck_assert_int_eq(turn_addr_parse("[2001:db8::7]:40000", 0, &client6), 0);
}

static void teardown(void)
{
	turn_nonce_unkeyed(&opt);
}

/* Issue a nonce into buf for client at t. */
static void make(const struct turn_addr *client, uint64_t t, char buf[TURN_NONCE_BUFLEN])
{
	ck_assert_int_eq(turn_nonce_make(&opt, client, t, buf, TURN_NONCE_BUFLEN), TURN_NONCE_LEN);
	ck_assert_uint_eq(strlen(buf), TURN_NONCE_LEN);
}

static enum turn_nonce_state check(const struct turn_addr *client, uint64_t t, const char *n)
{
	return turn_nonce_check(&opt, client, t, (const uint8_t *)n, strlen(n));
}

START_TEST(round_trip)
{
	char n[TURN_NONCE_BUFLEN];
	char again[TURN_NONCE_BUFLEN];

	make(&client4, NOW, n);
	ck_assert_int_eq(strncmp(n, "obMatJos2", 9), 0);
	ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_VALID);
	ck_assert_int_eq(check(&client4, NOW + LIFETIME, n), TURN_NONCE_VALID);
	/* Pure: the same inputs give the same nonce. */
	make(&client4, NOW, again);
	ck_assert_str_eq(n, again);
	make(&client6, NOW, n);
	ck_assert_int_eq(check(&client6, NOW + 1, n), TURN_NONCE_VALID);
}
END_TEST

/* The exact bytes, against an HMAC-SHA256 computed elsewhere (Python's
 * hmac over prefix || time || family || IP with this test's key): the
 * allocation-free HMAC in nonce.c is RFC 2104's. */
START_TEST(known_answer)
{
	char n[TURN_NONCE_BUFLEN];

	make(&client4, NOW, n);
	ck_assert_str_eq(n, "obMatJos2AAAAAAAAAGVT8QAiVoRbc0gbzg9wZ0PptiCW");
	make(&client6, NOW, n);
	ck_assert_str_eq(n, "obMatJos2AAAAAAAAAGVT8QD4hVapdkYxcbIeU3vcNdKV");
}
END_TEST

/* The keyed HMAC (what the server uses) makes exactly the nonces of the
 * one-shot one, checks them, and can be used again and again. */
START_TEST(keyed_equals_one_shot)
{
	char plain[TURN_NONCE_BUFLEN], keyed[TURN_NONCE_BUFLEN];

	make(&client4, NOW, plain);
	ck_assert_int_eq(turn_nonce_keyed(&opt), 0);
	ck_assert_ptr_nonnull(opt.pads);
	for (int i = 0; i < 3; i++) {
		make(&client4, NOW, keyed);
		ck_assert_str_eq(keyed, plain);
		ck_assert_int_eq(check(&client4, NOW + 1, plain), TURN_NONCE_VALID);
		ck_assert_int_eq(check(&client6, NOW + 1, plain), TURN_NONCE_INVALID);
	}
	make(&client6, NOW, keyed);
	turn_nonce_unkeyed(&opt);
	ck_assert_ptr_null(opt.pads);
	ck_assert_int_eq(check(&client6, NOW, keyed), TURN_NONCE_VALID);
	turn_nonce_unkeyed(&opt);
}
END_TEST

/* Every character is qdtext (RFC 8489 section 14.10) and none needs
 * quoting or escaping. */
START_TEST(charset)
{
	char n[TURN_NONCE_BUFLEN];

	for (uint64_t t = NOW; t < NOW + 64; t++) {
		make(&client4, t, n);
		for (size_t i = 0; i < TURN_NONCE_LEN; i++) {
			char c = n[i];
			bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '+' ||
				  c == '/';

			ck_assert_msg(ok, "character %zu of %s", i, n);
		}
	}
}
END_TEST

START_TEST(stale_after_lifetime)
{
	char n[TURN_NONCE_BUFLEN];

	make(&client4, NOW, n);
	ck_assert_int_eq(check(&client4, NOW + LIFETIME + 1, n), TURN_NONCE_STALE);
	ck_assert_int_eq(check(&client4, NOW + 100 * LIFETIME, n), TURN_NONCE_STALE);
	/* Lifetime 0: valid only within the second it was issued. */
	opt.lifetime_s = 0;
	ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_VALID);
	ck_assert_int_eq(check(&client4, NOW + 1, n), TURN_NONCE_STALE);
}
END_TEST

START_TEST(other_client_invalid)
{
	char n[TURN_NONCE_BUFLEN];
	struct turn_addr other;

	make(&client4, NOW, n);
	ck_assert_int_eq(turn_addr_parse("198.51.100.8:40000", 0, &other), 0);
	ck_assert_int_eq(check(&other, NOW, n), TURN_NONCE_INVALID);
	ck_assert_int_eq(check(&client6, NOW, n), TURN_NONCE_INVALID);
	/* The v4-mapped form of the same address is another address. */
	ck_assert_int_eq(turn_addr_parse("[::ffff:198.51.100.7]:40000", 0, &other), 0);
	ck_assert_int_eq(check(&other, NOW, n), TURN_NONCE_INVALID);
	/* The port is not bound: a new NAT mapping keeps the nonce. */
	other = client4;
	other.port = 1234;
	ck_assert_int_eq(check(&other, NOW, n), TURN_NONCE_VALID);
	/* Nor is a stale nonce for another client merely stale. */
	ck_assert_int_eq(turn_addr_parse("198.51.100.8:40000", 0, &other), 0);
	ck_assert_int_eq(check(&other, NOW + LIFETIME + 1, n), TURN_NONCE_INVALID);
}
END_TEST

/* Change each byte in turn to another base64 character: every one is
 * caught, the cookie, the feature set, the time and the MAC alike. */
START_TEST(tampered_invalid)
{
	char n[TURN_NONCE_BUFLEN];

	make(&client4, NOW, n);
	for (size_t i = 0; i < TURN_NONCE_LEN; i++) {
		char t[TURN_NONCE_BUFLEN];

		memcpy(t, n, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		ck_assert_msg(check(&client4, NOW, t) == TURN_NONCE_INVALID, "byte %zu", i);
		t[i] ^= 0x80;
		ck_assert_msg(check(&client4, NOW, t) == TURN_NONCE_INVALID, "byte %zu", i);
	}
}
END_TEST

START_TEST(other_key_invalid)
{
	char n[TURN_NONCE_BUFLEN];

	make(&client4, NOW, n);
	opt.key[31] ^= 1;
	ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_INVALID);
}
END_TEST

START_TEST(future_invalid)
{
	char n[TURN_NONCE_BUFLEN];

	make(&client4, NOW + TURN_NONCE_MAX_SKEW_S, n);
	ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_VALID);
	make(&client4, NOW + TURN_NONCE_MAX_SKEW_S + 1, n);
	ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_INVALID);
	make(&client4, UINT64_MAX, n);
	ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_INVALID);
	ck_assert_int_eq(check(&client4, UINT64_MAX, n), TURN_NONCE_VALID);
	make(&client4, 0, n);
	ck_assert_int_eq(check(&client4, UINT64_MAX, n), TURN_NONCE_STALE);
}
END_TEST

/* RFC 8489 section 9.2: cookie, then the 24-bit set in 4 base64
 * characters; bit 0 is the least significant (section 18.1). */
START_TEST(features_encoded)
{
	static const struct {
		uint32_t features;
		const char *prefix;
	} cases[] = {
		{0, "obMatJos2AAAA"},
		{TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS, "obMatJos2AAAB"},
		{TURN_NONCE_FEATURE_USERNAME_ANONYMITY, "obMatJos2AAAC"},
		{TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS | TURN_NONCE_FEATURE_USERNAME_ANONYMITY,
		 "obMatJos2AAAD"},
		{0xFFFFFF, "obMatJos2////"},
		{0xFBEFBE, "obMatJos2++++"},
	};
	char n[TURN_NONCE_BUFLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t f = 0xDEADBEEF;

		opt.features = cases[i].features;
		make(&client4, NOW, n);
		ck_assert_int_eq(strncmp(n, cases[i].prefix, TURN_NONCE_PREFIX_LEN), 0);
		ck_assert_int_eq(turn_nonce_features((const uint8_t *)n, strlen(n), &f), 1);
		ck_assert_uint_eq(f, cases[i].features);
		ck_assert_int_eq(check(&client4, NOW, n), TURN_NONCE_VALID);
	}
	opt.features = 0x1000000;
	ck_assert_int_eq(turn_nonce_make(&opt, &client4, NOW, n, sizeof(n)), -1);
}
END_TEST

START_TEST(features_of_other_nonces)
{
	uint32_t f = 0;

	/* RFC 8489 appendix B.1: "obMatJos2AAAC..." has bit 1, Username
	 * anonymity. Not ours, so it never checks valid. */
	ck_assert_int_eq(
		turn_nonce_features((const uint8_t *)VEC_B1_NONCE, strlen(VEC_B1_NONCE), &f), 1);
	ck_assert_uint_eq(f, TURN_NONCE_FEATURE_USERNAME_ANONYMITY);
	ck_assert_int_eq(check(&client4, NOW, VEC_B1_NONCE), TURN_NONCE_INVALID);
	/* RFC 5769 section 2.4: no cookie, no features. */
	ck_assert_int_eq(
		turn_nonce_features((const uint8_t *)VEC_LT_NONCE, strlen(VEC_LT_NONCE), &f), 0);
	ck_assert_int_eq(check(&client4, NOW, VEC_LT_NONCE), TURN_NONCE_INVALID);
	/* Cookie, then too little or not base64. */
	ck_assert_int_eq(turn_nonce_features((const uint8_t *)"obMatJos2AA", 11, &f), -1);
	ck_assert_int_eq(turn_nonce_features((const uint8_t *)"obMatJos2AA-A", 13, &f), -1);
	ck_assert_int_eq(turn_nonce_features((const uint8_t *)"obMatJos", 8, &f), 0);
	ck_assert_int_eq(turn_nonce_features(NULL, 0, &f), 0);
}
END_TEST

START_TEST(malformed_input)
{
	char n[TURN_NONCE_BUFLEN];
	struct turn_addr none;

	make(&client4, NOW, n);
	ck_assert_int_eq(turn_nonce_check(&opt, &client4, NOW, (const uint8_t *)n, 44),
			 TURN_NONCE_INVALID);
	ck_assert_int_eq(turn_nonce_check(&opt, &client4, NOW, (const uint8_t *)n, 46),
			 TURN_NONCE_INVALID);
	ck_assert_int_eq(turn_nonce_check(&opt, &client4, NOW, (const uint8_t *)n, 0),
			 TURN_NONCE_INVALID);
	ck_assert_int_eq(turn_nonce_check(&opt, &client4, NOW, NULL, 45), TURN_NONCE_INVALID);
	ck_assert_int_eq(turn_nonce_check(NULL, &client4, NOW, (const uint8_t *)n, 45),
			 TURN_NONCE_INVALID);
	memset(&none, 0, sizeof(none));
	ck_assert_int_eq(turn_nonce_check(&opt, &none, NOW, (const uint8_t *)n, 45),
			 TURN_NONCE_INVALID);
	/* Making: no room, no family. */
	ck_assert_int_eq(turn_nonce_make(&opt, &client4, NOW, n, TURN_NONCE_LEN), -1);
	ck_assert_int_eq(turn_nonce_make(&opt, &none, NOW, n, sizeof(n)), -1);
	ck_assert_int_eq(turn_nonce_make(&opt, NULL, NOW, n, sizeof(n)), -1);
}
END_TEST

static Suite *nonce_suite(void)
{
	Suite *s = suite_create("turn_nonce");
	TCase *tc = tcase_create("nonce");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, charset);
	tcase_add_test(tc, stale_after_lifetime);
	tcase_add_test(tc, other_client_invalid);
	tcase_add_test(tc, tampered_invalid);
	tcase_add_test(tc, other_key_invalid);
	tcase_add_test(tc, future_invalid);
	tcase_add_test(tc, features_encoded);
	tcase_add_test(tc, features_of_other_nonces);
	tcase_add_test(tc, malformed_input);
	tcase_add_test(tc, known_answer);
	tcase_add_test(tc, keyed_equals_one_shot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(nonce_suite());
}
