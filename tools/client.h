/*
 * What turnprobe, turnload, turnpeer and turnadmin share as clients of a
 * STUN/TURN server: command-line numbers and addresses, TURN requests,
 * the responses' codes, and the long-term credential a 401 challenge sets
 * up (RFC 8489 section 9.2). Built on the pure core only, so every tool
 * links it as it is.
 */
#ifndef TURND_TOOLS_CLIENT_H
#define TURND_TOOLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/integrity.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "util/addr.h"

#define CLIENT_SERVER_PORT 3478
/* Where turnpeer listens by default (turnpeer(1)). */
#define CLIENT_PEER_PORT 3480
#define CLIENT_PEER_DEFAULT "127.0.0.1:3480"
#define CLIENT_PEER_DEFAULT6 "[::1]:3480"

/* ---- the command line ---- */

/* A whole decimal number in [min, max]. Returns 0 or -1. */
int client_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* The same, into an unsigned. */
int client_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* A non-negative decimal number, fractions allowed, at most max. Returns
 * 0 or -1. */
int client_parse_double(const char *s, double max, double *out);

/* An IP address with a port ("1.2.3.4:3478", "[::1]:3480"), default_port
 * when the text has none. Returns 0, or -1 for anything else, port 0
 * included. */
int client_parse_endpoint(const char *text, uint16_t default_port, struct turn_addr *out);

/* Seconds on the monotonic clock. */
double client_now_s(void);

/* ---- requests ---- */

/* One TURN request and the attributes it carries (RFC 8656 sections 7, 9
 * and 11). */
struct client_request {
	uint16_t method;
	uint8_t family; /* Allocate: REQUESTED-ADDRESS-FAMILY, or 0 */
	uint16_t channel; /* CHANNEL-NUMBER, or 0 */
	const struct turn_addr *peer; /* XOR-PEER-ADDRESS, or NULL */
	int64_t lifetime; /* LIFETIME, or -1 to leave it out */
};

/* "Allocate", "Refresh", ...: the method as messages name it. */
const char *client_method_name(uint16_t method);

struct client_cred;

/* The request's own attributes, then the credential if c has a key, then
 * FINGERPRINT, into buf. Returns the length, or -1 if it does not fit. */
long client_build_request(const struct client_request *r, const uint8_t tid[STUN_TID_LEN],
			  const struct client_cred *c, uint8_t *buf, size_t cap);

/* A Binding request with FINGERPRINT, and CHANGE-REQUEST when change is
 * not 0 (RFC 5780 section 7.2). Returns the length, or -1. */
long client_build_binding(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			  uint32_t change);

/* ---- responses ---- */

/* Whether m answers the transaction tid of method: a success or error
 * response with a FINGERPRINT, if any, that holds. */
bool client_is_response(const struct stun_msg *m, const uint8_t tid[STUN_TID_LEN], uint16_t method);

/* The error code of a response, 0 for a success, 500 for an error
 * response without a readable ERROR-CODE. */
int client_response_code(const struct stun_msg *m);

/* "401 Unauthorized": the code and the server's reason phrase made
 * printable, or the standard phrase, into out. Returns out. */
const char *client_error_text(const struct stun_msg *m, int code, char *out, size_t cap);

/* The first XOR-RELAYED-ADDRESS of family af (TURN_AF_*) in an Allocate
 * success (RFC 8656 section 7.2: one per family). Returns 0 or -1. */
int client_relayed_address(const struct stun_msg *m, uint8_t af, struct turn_addr *out);

/* Cut the next frame (a STUN or ChannelData message, RFC 8656 section
 * 12.5) off the front of a stream of len bytes, cap the most it may hold:
 * 1 with its length in *flen, 0 when more bytes are needed, -1 for a
 * stream that cannot be framed. */
int client_frame_next(const uint8_t *buf, size_t len, size_t cap, size_t *flen);

/* ---- the long-term credential (RFC 8489 section 9.2) ---- */

/* The credential as the last 401 or 438 set it up. Heap strings, replaced
 * at each challenge (never per packet): a load test holds many. */
struct client_cred {
	const char *user, *pass; /* the caller's, not owned */
	bool have_key;
	uint8_t key[STUN_KEY_MD5_LEN];
	char *realm, *nonce;
	uint8_t *pwalgs; /* PASSWORD-ALGORITHMS to echo back, raw */
	uint16_t pwalgs_len;
};

/* A credential for user and pass, before any challenge. */
void client_cred_init(struct client_cred *c, const char *user, const char *pass);

/* Forget what challenges set up (the next request goes without a key);
 * user and pass stay. Frees what c owns. */
void client_cred_forget(struct client_cred *c);

/* Whether a response with this code is a challenge to answer with new
 * credentials (RFC 8489 section 9.2.5): a 401 to a request sent without
 * a key, or a 438 (stale nonce). */
bool client_is_challenge(int code, bool had_key);

/* Take REALM, NONCE and PASSWORD-ALGORITHMS from a 401 or 438 and derive
 * the key MD5(user:realm:password). Returns 0, or -1 with *why set to a
 * static message. */
int client_cred_take(struct client_cred *c, const struct stun_msg *m, const char **why);

/* Sign a request: USERNAME, REALM, NONCE, the password algorithms and
 * MESSAGE-INTEGRITY, if c has a key. FINGERPRINT, if any, goes after. */
void client_cred_append(struct stun_builder *b, const struct client_cred *c);

/* Whether a response with this code may be believed: with a key, a
 * success and any response carrying MESSAGE-INTEGRITY must carry a valid
 * one (RFC 8489 section 9.2.4). */
bool client_cred_trusts(const struct client_cred *c, const struct stun_msg *m, int code);

#endif
