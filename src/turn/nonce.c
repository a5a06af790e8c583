/*
 * Stateless nonces (RFC 8489 section 9.2): cookie, feature set, issue time
 * and a truncated HMAC-SHA256 binding them to the client's IP address.
 * The layout is described in nonce.h.
 */
/* The SHA256_CTX interface is deprecated in OpenSSL 3.0 but kept, and it
 * is the one that computes on the caller's stack (hmac_sha256 below). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "turn/nonce.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

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

/* SHA-256's block: HMAC pads its key to this (RFC 2104 section 2). */
#define SHA256_BLOCK 64
_Static_assert(TURN_NONCE_KEY_LEN <= SHA256_BLOCK, "a nonce key longer than a block");

/* The two padded keys of RFC 2104 section 2 (0x36 inner, 0x5c outer). */
static void hmac_pad(const uint8_t key[TURN_NONCE_KEY_LEN], uint8_t fill, uint8_t pad[SHA256_BLOCK])
{
	memset(pad, fill, SHA256_BLOCK);
	for (size_t i = 0; i < TURN_NONCE_KEY_LEN; i++)
		pad[i] ^= key[i];
}

/* SHA-256 states that have absorbed the inner and the outer padded key:
 * made once by turn_nonce_keyed, read-only afterwards, so one set serves
 * every thread. */
struct turn_nonce_pads {
	SHA256_CTX inner;
	SHA256_CTX outer;
};

static void pads_init(struct turn_nonce_pads *p, const uint8_t key[TURN_NONCE_KEY_LEN])
{
	uint8_t pad[SHA256_BLOCK];

	hmac_pad(key, 0x36, pad);
	SHA256_Init(&p->inner);
	SHA256_Update(&p->inner, pad, sizeof(pad));
	hmac_pad(key, 0x5c, pad);
	SHA256_Init(&p->outer);
	SHA256_Update(&p->outer, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
}

/*
 * HMAC-SHA256 (RFC 2104) of in[0..n) under the nonce key, with nothing on
 * the heap. A nonce is made for every 401 and checked for every request
 * that carries one, whoever sent it: OpenSSL 3's HMAC() fetches the
 * algorithm and allocates its contexts on each call (about 50 heap
 * allocations per nonce, measured with a breakpoint on malloc, and about
 * six times the time), work a flood of spoofed sources could make the
 * server do per datagram. With the padded keys absorbed once
 * (turn_nonce_keyed), a MAC is two short SHA-256 runs on copies of them.
 */
static void hmac_sha256(const struct turn_nonce_options *opt, const uint8_t *in, size_t n,
			uint8_t mac[STUN_HMAC_SHA256_LEN])
{
	struct turn_nonce_pads local;
	const struct turn_nonce_pads *pads = opt->pads;
	SHA256_CTX ctx;

	if (!pads) {
		pads_init(&local, opt->key);
		pads = &local;
	}
	ctx = pads->inner;
	SHA256_Update(&ctx, in, n);
	SHA256_Final(mac, &ctx);
	ctx = pads->outer;
	SHA256_Update(&ctx, mac, STUN_HMAC_SHA256_LEN);
	SHA256_Final(mac, &ctx);
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	if (pads == &local)
		OPENSSL_cleanse(&local, sizeof(local));
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

	if (iplen == 0)
		return -1;
	memcpy(in, prefix, TURN_NONCE_PREFIX_LEN);
	n += TURN_NONCE_PREFIX_LEN;
	memcpy(in + n, stamp, NONCE_TIME_LEN);
	n += NONCE_TIME_LEN;
	in[n++] = client->family;
	memcpy(in + n, client->ip, iplen);
	n += iplen;
	hmac_sha256(opt, in, n, mac);
	return 0;
}

int turn_nonce_keyed(struct turn_nonce_options *opt)
{
	struct turn_nonce_pads *p = malloc(sizeof(*p));

	if (!p)
		return -1;
	pads_init(p, opt->key);
	turn_nonce_unkeyed(opt);
	opt->pads = p;
	return 0;
}

void turn_nonce_unkeyed(struct turn_nonce_options *opt)
{
	if (opt->pads)
		OPENSSL_cleanse(opt->pads, sizeof(*opt->pads));
	free(opt->pads);
	opt->pads = NULL;
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
