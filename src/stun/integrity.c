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

/* Reflected polynomial 0xEDB88320, a byte at a time: the 1 KiB table is a
 * constant (no start-up state), and every request and response carries a
 * FINGERPRINT to check or build. */
static const uint32_t crc32_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
	0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
	0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
	0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
	0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
	0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
	0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
	0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
	0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
	0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
	0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
	0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
	0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
	0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
	0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
	0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
	0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
	0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
	0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
	0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
	0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
	0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		crc = (crc >> 8) ^ crc32_table[(crc ^ buf[i]) & 0xFF];
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
/* What a MAC is computed over: the header (its length patched) and the
 * attributes before the MAC. */
struct mac_span {
	const uint8_t *hdr; /* STUN_HDR_LEN bytes */
	const uint8_t *body;
	size_t body_len;
};

static int hmac_covered(const char *digest, const uint8_t *key, size_t key_len,
			const struct mac_span *span, uint8_t out[EVP_MAX_MD_SIZE])
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
	ok = ok && EVP_MAC_update(ctx, span->hdr, STUN_HDR_LEN);
	ok = ok && EVP_MAC_update(ctx, span->body, span->body_len);
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

/* A MAC attribute's algorithm and the lengths it may have. */
struct mac_kind {
	const char *digest;
	size_t min_len, max_len;
};

static const struct mac_kind mac_sha1 = { "SHA1", STUN_HMAC_SHA1_LEN, STUN_HMAC_SHA1_LEN };
static const struct mac_kind mac_sha256 = { "SHA256", STUN_HMAC_SHA256_MIN, STUN_HMAC_SHA256_LEN };

static int check_mac(const struct stun_msg *m, int idx, const struct mac_kind *k,
		     const uint8_t *key, size_t key_len)
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
	if (a->len < k->min_len || a->len > k->max_len || a->len % 4 || covered_of(m, a, &c) < 0)
		return 0;
	const struct mac_span span = { c.hdr, c.body, c.body_len };
	n = hmac_covered(k->digest, key, key_len, &span, mac);
	if (n < (int)a->len)
		return 0;
	return stun_mac_equal(mac, c.value, a->len) ? 1 : 0;
}

int stun_msg_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	return check_mac(m, m->idx_integrity, &mac_sha1, key, key_len);
}

int stun_msg_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	return check_mac(m, m->idx_integrity_sha256, &mac_sha256, key, key_len);
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
	const struct mac_span span = { b->buf, b->buf + STUN_HDR_LEN, b->len - STUN_HDR_LEN };
	if (hmac_covered(digest, key, key_len, &span, mac) < (int)mac_len) {
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
