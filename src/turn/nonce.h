/*
 * Stateless nonces for the long-term credential mechanism (RFC 8489
 * section 9.2, RFC 8656 section 7.2).
 *
 * Nothing is stored for a client that has not authenticated (SECURITY.md):
 * the nonce carries its own issue time and an HMAC that binds it to the
 * client's IP address, so any worker holding the same key can check it.
 *
 * Wire form, always 45 characters, all of them qdtext (RFC 8489 section
 * 14.10):
 *
 *   "obMatJos2"   nonce cookie (RFC 8489 section 9.2)
 *   FFFF          the 24-bit security-feature set in base64 (section 9.2;
 *                 bit 0 is the least significant, IANA "STUN Security
 *                 Features" registry, section 18.1)
 *   T...M...      base64url, no padding, of 24 bytes: the issue time as
 *                 8 bytes big-endian, then the first 16 bytes of
 *                 HMAC-SHA256(key, cookie+features || time || family || IP)
 *
 * The MAC covers the feature bits as well, so a man in the middle cannot
 * clear "Password algorithms" to bid the client down to MD5 (RFC 8489
 * section 9.2.5). The port is not covered: a client whose NAT picks a new
 * port for its TCP and UDP flows keeps its nonce.
 *
 * Pure: no clock, no randomness. The caller passes now (seconds on any
 * clock shared by every worker using the key) and a key it drew from a
 * CSPRNG at start-up.
 */
#ifndef TURND_TURN_NONCE_H
#define TURND_TURN_NONCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define TURN_NONCE_COOKIE "obMatJos2"
#define TURN_NONCE_COOKIE_LEN 9
/* Cookie and the 4 base64 characters of the feature set. */
#define TURN_NONCE_PREFIX_LEN 13
#define TURN_NONCE_LEN 45
/* A buffer for turn_nonce_make: the nonce and its NUL. */
#define TURN_NONCE_BUFLEN (TURN_NONCE_LEN + 1)
#define TURN_NONCE_KEY_LEN 32

/* Security features (RFC 8489 section 18.1). */
#define TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS (1u << 0)
#define TURN_NONCE_FEATURE_USERNAME_ANONYMITY (1u << 1)
#define TURN_NONCE_FEATURES_MASK 0xFFFFFFu

/* coturn's stale-nonce default; RFC 8489 leaves the lifetime to the server. */
#define TURN_NONCE_DEFAULT_LIFETIME_S 600
/*
 * How far in the future an issue time may lie and still be accepted.
 * Workers read their clocks at slightly different moments; anything
 * beyond a few seconds is a forgery attempt or a clock stepped backwards,
 * and either way the client just gets a fresh nonce.
 */
#define TURN_NONCE_MAX_SKEW_S 10

/* What one server instance issues and accepts. The server keeps one and
 * passes it by pointer; nothing here is modified by the functions. */
struct turn_nonce_pads;
struct turn_nonce_options {
	uint8_t key[TURN_NONCE_KEY_LEN]; /* from a CSPRNG; shared by all workers */
	uint64_t lifetime_s; /* older nonces are STALE */
	uint32_t features; /* TURN_NONCE_FEATURE_*, advertised in new nonces */
	/* HMAC-SHA256's padded keys absorbed once (turn_nonce_keyed), so a
	 * MAC costs two short SHA-256 runs and no heap: every 401 and every
	 * forged nonce is made or checked with it (issue 13). Read-only once
	 * made. NULL: the pads are computed for each MAC (same result). */
	struct turn_nonce_pads *pads;
};

/* Absorb opt->key into opt->pads for the calls below; the caller frees
 * them with turn_nonce_unkeyed. Returns 0, or -1 when out of memory
 * (opt->pads stays as it was, and each MAC computes its pads). */
int turn_nonce_keyed(struct turn_nonce_options *opt);
/* Free opt->pads (NULL is fine) and set it NULL. */
void turn_nonce_unkeyed(struct turn_nonce_options *opt);

enum turn_nonce_state {
	TURN_NONCE_VALID,
	TURN_NONCE_STALE, /* ours, for this client, but older than lifetime_s */
	TURN_NONCE_INVALID, /* not ours, another client's, malformed, or from the future */
};

/*
 * Issue a nonce for client at now_s into out (cap >= TURN_NONCE_BUFLEN),
 * NUL-terminated. Returns its length (TURN_NONCE_LEN), or -1 if cap is too
 * small, the client has no address family, the features do not fit in 24
 * bits, or the HMAC fails.
 */
int turn_nonce_make(const struct turn_nonce_options *opt, const struct turn_addr *client,
		    uint64_t now_s, char *out, size_t cap);

/*
 * Check a NONCE attribute value (a view of len bytes, not NUL-terminated)
 * from client at now_s. The MAC is checked first, in constant time, and
 * only then the age: a forged nonce never learns whether its time was
 * acceptable.
 *
 * RFC 8489 section 9.2.4 answers a nonce that is "no longer valid" with
 * 438 and a fresh nonce; that fits STALE, and also INVALID after a key
 * change (restart) or a client address change. The core decides.
 */
enum turn_nonce_state turn_nonce_check(const struct turn_nonce_options *opt,
				       const struct turn_addr *client, uint64_t now_s,
				       const uint8_t *nonce, size_t len);

/*
 * The security-feature set of any nonce with the RFC 8489 cookie, ours or
 * another server's (a client reads it from a 401). Not authenticated by
 * itself: a server trusts it only after turn_nonce_check said VALID.
 * Returns 1 and *features, 0 if the nonce has no cookie (then no features
 * apply, section 9.2), -1 if the cookie is followed by fewer than 4
 * characters or by characters outside the base64 alphabet.
 */
int turn_nonce_features(const uint8_t *nonce, size_t len, uint32_t *features);

#endif
