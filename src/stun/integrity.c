/*
 * MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489
 * sections 14.5-14.7), long-term key derivation (section 9.2.2) and
 * USERHASH (section 14.4).
 *
 * Each of the three is computed over the message as it stood when the
 * attribute was appended: the header with its length field covering up to
 * the end of the attribute, then every byte before the attribute. The
 * header copy is patched locally, so a parsed message is never modified.
 */
#include "stun/integrity.h"

#include <string.h>

#include <idn-free.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stringprep.h>

#include "stun/attr.h"
#include "util/rbuf.h"

/* RFC 8489 section 14.7. */
#define STUN_FINGERPRINT_XOR 0x5354554eu

/* FINGERPRINT on the wire, attribute header included. */
#define FP_ATTR_LEN (4 + 4)

/* ---- SASLprep and key derivation ---- */

/* RFC 4013 SASLprep via libidn. Returns a string the caller releases with
 * idn_free, or NULL. Invalid UTF-8 is refused before libidn sees it. */
static char *saslprep_alloc(const char *in)
{
	char *out = NULL;

	if (!stun_utf8_valid((const uint8_t *)in, strlen(in)))
		return NULL;
	if (stringprep_profile(in, &out, "SASLprep", 0) != STRINGPREP_OK) {
		idn_free(out);
		return NULL;
	}
	return out;
}

int stun_saslprep(const char *in, char *out, size_t cap)
{
	char *prepped = saslprep_alloc(in);
	size_t n;

	if (!prepped)
		return -1;
	n = strlen(prepped);
	if (n >= cap) {
		idn_free(prepped);
		return -1;
	}
	memcpy(out, prepped, n + 1);
	idn_free(prepped);
	return 0;
}

/* Digest of "a:b" or "a:b:c" (c may be NULL). */
static int digest_joined(const EVP_MD *md, const char *a, const char *b, const char *c,
			 uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL;

	ok = ok && EVP_DigestInit_ex(ctx, md, NULL);
	ok = ok && EVP_DigestUpdate(ctx, a, strlen(a));
	ok = ok && EVP_DigestUpdate(ctx, ":", 1);
	ok = ok && EVP_DigestUpdate(ctx, b, strlen(b));
	if (c) {
		ok = ok && EVP_DigestUpdate(ctx, ":", 1);
		ok = ok && EVP_DigestUpdate(ctx, c, strlen(c));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* RFC 8489 section 9.2.2 (RFC 5389 section 15.4 for MD5). */
static int derive_key(const EVP_MD *md, const char *username, const char *realm,
		      const char *password, uint8_t *key)
{
	char *prepped = saslprep_alloc(password);
	int rc;

	if (!prepped)
		return -1;
	rc = digest_joined(md, username, realm, prepped, key);
	idn_free(prepped);
	return rc;
}

int stun_key_md5(const char *username, const char *realm, const char *password,
		 uint8_t key[STUN_KEY_MD5_LEN])
{
	return derive_key(EVP_md5(), username, realm, password, key);
}

int stun_key_sha256(const char *username, const char *realm, const char *password,
		    uint8_t key[STUN_KEY_SHA256_LEN])
{
	return derive_key(EVP_sha256(), username, realm, password, key);
}

int stun_userhash(const char *username, const char *realm, uint8_t out[STUN_USERHASH_LEN])
{
	return digest_joined(EVP_sha256(), username, realm, NULL, out);
}

bool stun_mac_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/* ---- CRC-32 (ISO 3309 / ITU-T V.42, as RFC 8489 section 14.7 asks) ---- */

/* Reflected polynomial 0xEDB88320, four bits at a time: a 16-entry table
 * is small enough to be a constant and fast enough for one CRC per
 * message. */
static const uint32_t crc32_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static uint32_t crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		crc = (crc >> 4) ^ crc32_nibble[crc & 0x0F];
		crc = (crc >> 4) ^ crc32_nibble[crc & 0x0F];
	}
	return crc;
}

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	return crc32_update(0xFFFFFFFFu, buf, len) ^ 0xFFFFFFFFu;
}

/* ---- The bytes an integrity attribute covers ---- */

struct covered {
	uint8_t hdr[STUN_HDR_LEN]; /* header with the length patched */
	const uint8_t *body; /* attributes before the one checked */
	size_t body_len;
	const uint8_t *value; /* the checked attribute's value */
};

/* Collect, through the reader, what attribute a of m covers. */
static int covered_of(const struct stun_msg *m, const struct stun_attr *a, struct covered *c)
{
	struct rbuf r;
	size_t start = (size_t)a->off - 4;
	size_t end = (size_t)a->off + a->len;

	if (a->off < STUN_HDR_LEN + 4)
		return -1;
	rbuf_init(&r, m->buf, m->len);
	rbuf_copy(&r, c->hdr, STUN_HDR_LEN);
	c->hdr[2] = (uint8_t)((end - STUN_HDR_LEN) >> 8);
	c->hdr[3] = (uint8_t)(end - STUN_HDR_LEN);
	c->body_len = start - STUN_HDR_LEN;
	c->body = rbuf_view(&r, c->body_len);
	rbuf_skip(&r, 4);
	c->value = rbuf_view(&r, a->len);
	return r.err ? -1 : 0;
}

/* HMAC (RFC 2104) with the named digest over hdr || body. Returns the MAC
 * length, or -1. */
static int hmac_covered(const char *digest, const uint8_t *key, size_t key_len, const uint8_t *hdr,
			const uint8_t *body, size_t body_len, uint8_t out[EVP_MAX_MD_SIZE])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t out_len = 0;
	int ok = ctx != NULL;

	/* A NULL key would mean "reuse the previous key" to OpenSSL: an
	 * empty key is passed as a zero-length non-NULL one. */
	ok = ok && EVP_MAC_init(ctx, key_len ? key : (const uint8_t *)"", key_len, params);
	ok = ok && EVP_MAC_update(ctx, hdr, STUN_HDR_LEN);
	ok = ok && EVP_MAC_update(ctx, body, body_len);
	ok = ok && EVP_MAC_final(ctx, out, &out_len, EVP_MAX_MD_SIZE);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? (int)out_len : -1;
}

/* ---- Verification ---- */

int stun_msg_check_fingerprint(const struct stun_msg *m)
{
	const struct stun_attr *a;
	struct covered c;
	struct rbuf r;
	uint32_t crc;

	if (m->fingerprint_misplaced)
		return -1;
	if (m->idx_fingerprint < 0)
		return 0;
	a = &m->attrs[m->idx_fingerprint];
	if (a->len != 4 || a->off + a->len != m->len || covered_of(m, a, &c) < 0)
		return -1;
	crc = crc32_update(0xFFFFFFFFu, c.hdr, STUN_HDR_LEN);
	crc = crc32_update(crc, c.body, c.body_len) ^ 0xFFFFFFFFu;
	rbuf_init(&r, c.value, 4);
	return rbuf_u32(&r) == (crc ^ STUN_FINGERPRINT_XOR) ? 1 : -1;
}

static int check_mac(const struct stun_msg *m, int idx, const char *digest, size_t min_len,
		     size_t max_len, const uint8_t *key, size_t key_len)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	const struct stun_attr *a;
	struct covered c;
	int n;

	if (idx < 0)
		return 0;
	a = &m->attrs[idx];
	/* RFC 8489 section 14.6: a truncated SHA-256 MAC keeps a multiple of
	 * 4 bytes and at least 16. */
	if (a->len < min_len || a->len > max_len || a->len % 4 || covered_of(m, a, &c) < 0)
		return 0;
	n = hmac_covered(digest, key, key_len, c.hdr, c.body, c.body_len, mac);
	if (n < (int)a->len)
		return 0;
	return stun_mac_equal(mac, c.value, a->len) ? 1 : 0;
}

int stun_msg_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	return check_mac(m, m->idx_integrity, "SHA1", STUN_HMAC_SHA1_LEN, STUN_HMAC_SHA1_LEN, key,
			 key_len);
}

int stun_msg_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	return check_mac(m, m->idx_integrity_sha256, "SHA256", STUN_HMAC_SHA256_MIN,
			 STUN_HMAC_SHA256_LEN, key, key_len);
}

/* ---- Building ---- */

/* Set the header length as it will be once an attribute of attr_len bytes
 * (header included) is appended, or fail if it will not fit. */
static int builder_expect(struct stun_builder *b, size_t attr_len)
{
	struct wbuf w = {.p = b->buf, .cap = b->cap, .len = b->len, .err = b->err};

	if (b->len < STUN_HDR_LEN || !wbuf_room(&w, attr_len)) {
		b->err = true;
		return -1;
	}
	wbuf_set_u16(&w, 2, (uint16_t)(b->len + attr_len - STUN_HDR_LEN));
	b->err = w.err;
	return b->err ? -1 : 0;
}

static void build_mac(struct stun_builder *b, uint16_t type, const char *digest, const uint8_t *key,
		      size_t key_len, size_t mac_len)
{
	uint8_t mac[EVP_MAX_MD_SIZE];

	if (builder_expect(b, 4 + mac_len) < 0)
		return;
	if (hmac_covered(digest, key, key_len, b->buf, b->buf + STUN_HDR_LEN, b->len - STUN_HDR_LEN,
			 mac) < (int)mac_len) {
		b->err = true;
		return;
	}
	stun_build_attr(b, type, mac, mac_len);
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
	build_mac(b, STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", key, key_len, STUN_HMAC_SHA1_LEN);
}

void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t key_len,
				 size_t mac_len)
{
	if (mac_len < STUN_HMAC_SHA256_MIN || mac_len > STUN_HMAC_SHA256_LEN || mac_len % 4) {
		b->err = true;
		return;
	}
	build_mac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", key, key_len, mac_len);
}

void stun_build_fingerprint(struct stun_builder *b)
{
	uint8_t val[4];
	uint32_t crc;

	if (builder_expect(b, FP_ATTR_LEN) < 0)
		return;
	crc = stun_crc32(b->buf, b->len) ^ STUN_FINGERPRINT_XOR;
	val[0] = (uint8_t)(crc >> 24);
	val[1] = (uint8_t)(crc >> 16);
	val[2] = (uint8_t)(crc >> 8);
	val[3] = (uint8_t)crc;
	stun_build_attr(b, STUN_ATTR_FINGERPRINT, val, sizeof(val));
}
