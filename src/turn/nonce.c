/*
 * Stateless nonces (RFC 8489 section 9.2): cookie, feature set, issue time
 * and a truncated HMAC-SHA256 binding them to the client's IP address.
 * The layout is described in nonce.h.
 */
#include "turn/nonce.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "stun/integrity.h"

#define NONCE_TIME_LEN 8
/* 128 bits of MAC: forging one needs 2^128 tries, and every try costs
 * the attacker a round trip. */
#define NONCE_MAC_LEN 16
#define NONCE_BLOB_LEN (NONCE_TIME_LEN + NONCE_MAC_LEN)
/* What the MAC covers: prefix, time, family, IP. */
#define NONCE_MAC_INPUT_MAX (TURN_NONCE_PREFIX_LEN + NONCE_TIME_LEN + 1 + 16)

/* 24 bytes are 32 base64 characters exactly: no padding, and every bit of
 * every character is used, so each nonce has exactly one spelling. */
_Static_assert(NONCE_BLOB_LEN % 3 == 0, "nonce blob must be a whole number of base64 groups");
_Static_assert(TURN_NONCE_PREFIX_LEN + NONCE_BLOB_LEN / 3 * 4 == TURN_NONCE_LEN,
	       "TURN_NONCE_LEN does not match the layout");
_Static_assert(sizeof(TURN_NONCE_COOKIE) - 1 == TURN_NONCE_COOKIE_LEN, "cookie length");

/* RFC 4648 section 4 for the feature set (RFC 8489 section 9.2 says
 * "base64"); section 5 (URL-safe) for our opaque part. Both are qdtext. */
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_encode3(const uint8_t in[3], const char *alphabet, char out[4])
{
	uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];

	for (int i = 0; i < 4; i++)
		out[i] = alphabet[(v >> (18 - 6 * i)) & 0x3F];
}

/* The 6-bit value of one character of the alphabet, or -1. */
static int b64_value(uint8_t c, const char *alphabet)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (uint8_t)alphabet[62])
		return 62;
	if (c == (uint8_t)alphabet[63])
		return 63;
	return -1;
}

static int b64_decode4(const uint8_t in[4], const char *alphabet, uint8_t out[3])
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		int d = b64_value(in[i], alphabet);

		if (d < 0)
			return -1;
		v = v << 6 | (uint32_t)d;
	}
	out[0] = (uint8_t)(v >> 16);
	out[1] = (uint8_t)(v >> 8);
	out[2] = (uint8_t)v;
	return 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* HMAC-SHA256(key, prefix || time || family || IP). The family is in the
 * input so that an IPv4 address can never collide with the start of an
 * IPv6 one. */
static int nonce_mac(const struct turn_nonce_options *opt, const uint8_t *prefix,
		     const uint8_t *stamp, const struct turn_addr *client, uint8_t *mac)
{
	uint8_t in[NONCE_MAC_INPUT_MAX];
	size_t iplen = turn_addr_iplen(client);
	size_t n = 0;
	unsigned int mac_len = 0;

	if (iplen == 0)
		return -1;
	memcpy(in, prefix, TURN_NONCE_PREFIX_LEN);
	n += TURN_NONCE_PREFIX_LEN;
	memcpy(in + n, stamp, NONCE_TIME_LEN);
	n += NONCE_TIME_LEN;
	in[n++] = client->family;
	memcpy(in + n, client->ip, iplen);
	n += iplen;
	if (opt->mac) {
		size_t out_len = 0;

		/* Same key: init without one restarts the MAC on it. */
		if (EVP_MAC_init(opt->mac, NULL, 0, NULL) != 1 ||
		    EVP_MAC_update(opt->mac, in, n) != 1 ||
		    EVP_MAC_final(opt->mac, mac, &out_len, STUN_HMAC_SHA256_LEN) != 1 ||
		    out_len != STUN_HMAC_SHA256_LEN)
			return -1;
		return 0;
	}
	if (!HMAC(EVP_sha256(), opt->key, sizeof(opt->key), in, n, mac, &mac_len) ||
	    mac_len != STUN_HMAC_SHA256_LEN)
		return -1;
	return 0;
}

int turn_nonce_keyed(struct turn_nonce_options *opt)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;

	/* The context holds its own reference to the algorithm. */
	EVP_MAC_free(hmac);
	if (!ctx || EVP_MAC_init(ctx, opt->key, sizeof(opt->key), params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return -1;
	}
	turn_nonce_unkeyed(opt);
	opt->mac = ctx;
	return 0;
}

void turn_nonce_unkeyed(struct turn_nonce_options *opt)
{
	EVP_MAC_CTX_free(opt->mac);
	opt->mac = NULL;
}

int turn_nonce_make(const struct turn_nonce_options *opt, const struct turn_addr *client,
		    uint64_t now_s, char *out, size_t cap)
{
	uint8_t features[3];
	uint8_t blob[NONCE_BLOB_LEN];
	uint8_t mac[STUN_HMAC_SHA256_LEN];

	if (!opt || !client || !out || cap < TURN_NONCE_BUFLEN ||
	    opt->features > TURN_NONCE_FEATURES_MASK)
		return -1;
	memcpy(out, TURN_NONCE_COOKIE, TURN_NONCE_COOKIE_LEN);
	features[0] = (uint8_t)(opt->features >> 16);
	features[1] = (uint8_t)(opt->features >> 8);
	features[2] = (uint8_t)opt->features;
	b64_encode3(features, b64_std, out + TURN_NONCE_COOKIE_LEN);

	put_be64(blob, now_s);
	if (nonce_mac(opt, (const uint8_t *)out, blob, client, mac) < 0)
		return -1;
	memcpy(blob + NONCE_TIME_LEN, mac, NONCE_MAC_LEN);
	for (size_t i = 0; i < NONCE_BLOB_LEN / 3; i++)
		b64_encode3(blob + 3 * i, b64_url, out + TURN_NONCE_PREFIX_LEN + 4 * i);
	out[TURN_NONCE_LEN] = '\0';
	return TURN_NONCE_LEN;
}

enum turn_nonce_state turn_nonce_check(const struct turn_nonce_options *opt,
				       const struct turn_addr *client, uint64_t now_s,
				       const uint8_t *nonce, size_t len)
{
	uint8_t blob[NONCE_BLOB_LEN];
	uint8_t mac[STUN_HMAC_SHA256_LEN];
	uint32_t features;
	uint64_t issued;

	if (!opt || !client || !nonce || len != TURN_NONCE_LEN)
		return TURN_NONCE_INVALID;
	if (turn_nonce_features(nonce, len, &features) != 1)
		return TURN_NONCE_INVALID;
	for (size_t i = 0; i < NONCE_BLOB_LEN / 3; i++)
		if (b64_decode4(nonce + TURN_NONCE_PREFIX_LEN + 4 * i, b64_url, blob + 3 * i) < 0)
			return TURN_NONCE_INVALID;
	if (nonce_mac(opt, nonce, blob, client, mac) < 0 ||
	    !stun_mac_equal(mac, blob + NONCE_TIME_LEN, NONCE_MAC_LEN))
		return TURN_NONCE_INVALID;

	issued = get_be64(blob);
	if (issued > now_s)
		return issued - now_s > TURN_NONCE_MAX_SKEW_S ? TURN_NONCE_INVALID
							      : TURN_NONCE_VALID;
	return now_s - issued > opt->lifetime_s ? TURN_NONCE_STALE : TURN_NONCE_VALID;
}

int turn_nonce_features(const uint8_t *nonce, size_t len, uint32_t *features)
{
	uint8_t f[3];

	if (!nonce || len < TURN_NONCE_COOKIE_LEN ||
	    memcmp(nonce, TURN_NONCE_COOKIE, TURN_NONCE_COOKIE_LEN) != 0)
		return 0;
	if (len < TURN_NONCE_PREFIX_LEN ||
	    b64_decode4(nonce + TURN_NONCE_COOKIE_LEN, b64_std, f) < 0)
		return -1;
	if (features)
		*features = (uint32_t)f[0] << 16 | (uint32_t)f[1] << 8 | f[2];
	return 1;
}
