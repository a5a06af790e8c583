/*
 * What the HTTP authorization hook (auth_http.c) sends and reads, apart
 * from the connection: the JSON body of the request, and the meaning of
 * the application's answer. No sockets here, so the unit tests take both
 * directly.
 *
 * The request, POST with Content-Type application/json:
 *   {"username":"...","realm":"...","client_ip":"...","client_port":N,
 *    "transport":"udp|tcp|tls|dtls","listen_ip":"...","listen_port":N,
 *    "method":"Allocate|Refresh|CreatePermission|ChannelBind|..."}
 * with null (or 0 for a port) where turnd does not know.
 *
 * The answer to 200: a JSON object with "key" (the hex MD5 long-term key,
 * 32 digits, RFC 8489 section 9.2.2) or "password" (turnd derives the MD5
 * and SHA-256 keys as for static users), exactly one of them, and
 * optionally "lifetime" (seconds, a cap on the allocation's lifetime),
 * "quota" (the user's allocations at once on this server) and "max_bps"
 * (the user's bandwidth on this server, bytes per second both ways
 * together, as user-max-bps; 1 to 2^40), whole numbers. Other members
 * are ignored.
 */
#ifndef TURND_AUTH_AUTH_HTTP_BODY_H
#define TURND_AUTH_AUTH_HTTP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/* The longest password an answer may carry (bytes of UTF-8). */
#define AUTH_HTTP_PASSWORD_MAX 256
/* The largest request body: every field at its longest, escaped. */
#define AUTH_HTTP_BODY_MAX (6 * AUTH_USERNAME_MAX + 6 * 1024 + 512)
/* Members an answer may have. */
#define AUTH_HTTP_MEMBERS_MAX 32
/* Bounds of the per-user limits. */
#define AUTH_HTTP_LIFETIME_MAX 86400u
#define AUTH_HTTP_QUOTA_MAX 1000000u
#define AUTH_HTTP_MAX_BPS_MAX (1ull << 40) /* BW_SHARE_MAX_RATE */

/* One request's facts (auth_query's, and the realm). */
struct auth_http_ask {
	const uint8_t *username; /* valid UTF-8 (auth_username_valid) */
	size_t username_len;
	const char *realm;
	const struct turn_addr *client; /* NULL: unknown */
	const struct turn_addr *local; /* NULL: unknown */
	const char *transport; /* NULL: unknown */
	const char *method; /* NULL: unknown */
};

/* The body for a into out (cap bytes, NUL-terminated). Returns its
 * length, or -1 when it does not fit. */
int auth_http_body_build(const struct auth_http_ask *a, char *out, size_t cap);

/* What a 200 answer says. */
struct auth_http_reply {
	bool has_key; /* "key": md5 holds it */
	uint8_t md5[STUN_KEY_MD5_LEN];
	bool has_password; /* "password": password holds it */
	char password[AUTH_HTTP_PASSWORD_MAX + 1];
	struct auth_limits limits;
};

/*
 * Read a 200 answer's body. Returns 0 with *out filled, or -1 for junk:
 * not one JSON object, neither or both of "key" and "password", a member
 * given twice, of the wrong type or out of range, a key that is not 32 hex
 * digits, an empty or too long password. out is wiped first.
 */
int auth_http_reply_parse(const char *body, size_t len, struct auth_http_reply *out);

#endif
