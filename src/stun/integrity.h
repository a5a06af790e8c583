/*
 * Message integrity and fingerprint (RFC 8489 sections 9, 14.5-14.7, 18.5),
 * long-term key derivation and USERHASH.
 *
 * Verification returns 1 valid, 0 invalid or absent. MACs are compared in
 * constant time.
 */
#ifndef TURND_STUN_INTEGRITY_H
#define TURND_STUN_INTEGRITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/msg.h"

#define STUN_KEY_MD5_LEN 16
#define STUN_KEY_SHA256_LEN 32
#define STUN_USERHASH_LEN 32
#define STUN_HMAC_SHA1_LEN 20
#define STUN_HMAC_SHA256_LEN 32
/* MESSAGE-INTEGRITY-SHA256 may be truncated to 16..32 bytes, multiple of 4. */
#define STUN_HMAC_SHA256_MIN 16

/*
 * SASLprep / OpaqueString preparation of a password (RFC 8489 section 9.2.2
 * refers to RFC 8265 OpaqueString; the RFC 5769 vectors use RFC 4013
 * SASLprep, which gives the same result for the passwords that matter).
 * Writes a NUL-terminated UTF-8 string into out. Returns 0, or -1 if the
 * input is not valid UTF-8, prohibited, or does not fit.
 */
int stun_saslprep(const char *in, char *out, size_t cap);

/* key = MD5(username ":" realm ":" SASLprep(password)). Returns 0 or -1. */
int stun_key_md5(const char *username, const char *realm, const char *password,
		 uint8_t key[STUN_KEY_MD5_LEN]);

/* key = SHA-256(username ":" realm ":" SASLprep(password)). */
int stun_key_sha256(const char *username, const char *realm, const char *password,
		    uint8_t key[STUN_KEY_SHA256_LEN]);

/* USERHASH = SHA-256(username ":" realm) (RFC 8489 section 14.4); the
 * username is expected already prepared. */
int stun_userhash(const char *username, const char *realm, uint8_t out[STUN_USERHASH_LEN]);

/* Constant-time comparison (CRYPTO_memcmp). */
bool stun_mac_equal(const void *a, const void *b, size_t len);

/* CRC-32 as used by FINGERPRINT (before the XOR with 0x5354554e). */
uint32_t stun_crc32(const uint8_t *buf, size_t len);

/* FINGERPRINT: 1 present and valid, 0 absent, -1 present and wrong (or not
 * last). */
int stun_msg_check_fingerprint(const struct stun_msg *m);

/* MESSAGE-INTEGRITY (HMAC-SHA1) with the given key: 1 valid, 0 otherwise.
 * The MAC covers the header (length adjusted to end after the attribute)
 * and everything before MESSAGE-INTEGRITY. */
int stun_msg_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len);

/* MESSAGE-INTEGRITY-SHA256, full or truncated (16..32 bytes). */
int stun_msg_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key,
				    size_t key_len);

/* Append MESSAGE-INTEGRITY / -SHA256 (mac_len 16..32, multiple of 4) /
 * FINGERPRINT to a message being built. Call in that order, last. */
void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len);
void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t key_len,
				 size_t mac_len);
void stun_build_fingerprint(struct stun_builder *b);

#endif
