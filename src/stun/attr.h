/*
 * Typed decoding and encoding of every STUN/TURN attribute turnd knows
 * (RFC 8489 section 14, RFC 8656 section 18, RFC 5780 section 7,
 * RFC 6062 section 6.2). Decoders return 0 on success and -1 when the value
 * is malformed (wrong length, bad family, ...): the caller answers 400 in a
 * request or drops the message, as the RFC says for its context.
 */
#ifndef TURND_STUN_ATTR_H
#define TURND_STUN_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/attr_names.h"
#include "stun/msg.h"
#include "util/addr.h"


/* ---- Decoders ---- */

/* MAPPED-ADDRESS, ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS.
 * -1 for family other than 1/2 or a length that does not fit the family. */
int stun_attr_get_addr(const struct stun_msg *m, const struct stun_attr *a, struct turn_addr *out);

/* XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (XOR with the
 * magic cookie and, for IPv6, the transaction ID). */
int stun_attr_get_xor_addr(const struct stun_msg *m, const struct stun_attr *a,
			   struct turn_addr *out);

/* A 4-byte value: LIFETIME, CHANGE-REQUEST flags, PRIORITY. */
int stun_attr_get_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out);

/* A 8-byte value: RESERVATION-TOKEN, ICE-CONTROLL(ED|ING). */
int stun_attr_get_u64(const struct stun_msg *m, const struct stun_attr *a, uint64_t *out);

/* ERROR-CODE and ADDRESS-ERROR-CODE: code 300-699, reason is a view. For
 * ADDRESS-ERROR-CODE *family gets the family byte; pass NULL otherwise. */
int stun_attr_get_error(const struct stun_msg *m, const struct stun_attr *a, uint8_t *family,
			int *code, const uint8_t **reason, size_t *reason_len);

/* UNKNOWN-ATTRIBUTES: up to max types; *n gets how many were stored. */
int stun_attr_get_unknown(const struct stun_msg *m, const struct stun_attr *a, uint16_t *types,
			  size_t max, size_t *n);

/* CHANNEL-NUMBER: the 16-bit number (range not checked here). */
int stun_attr_get_channel(const struct stun_msg *m, const struct stun_attr *a, uint16_t *out);

/* REQUESTED-TRANSPORT: the protocol byte. */
int stun_attr_get_transport(const struct stun_msg *m, const struct stun_attr *a, uint8_t *proto);

/* REQUESTED-ADDRESS-FAMILY, ADDITIONAL-ADDRESS-FAMILY: 1 or 2 (others -1). */
int stun_attr_get_family(const struct stun_msg *m, const struct stun_attr *a, uint8_t *family);

/* EVEN-PORT: the R bit. */
int stun_attr_get_even_port(const struct stun_msg *m, const struct stun_attr *a, bool *reserve);

/* PASSWORD-ALGORITHM: algorithm number and a view of its parameters. */
int stun_attr_get_pwalg(const struct stun_msg *m, const struct stun_attr *a, uint16_t *alg,
			const uint8_t **params, size_t *params_len);

/* PASSWORD-ALGORITHMS: the list of algorithm numbers (parameters skipped). */
int stun_attr_get_pwalgs(const struct stun_msg *m, const struct stun_attr *a, uint16_t *algs,
			 size_t max, size_t *n);

/* ICMP (RFC 8656 section 18.13): type and code, and the error data word. */
int stun_attr_get_icmp(const struct stun_msg *m, const struct stun_attr *a, uint8_t *type,
		       uint8_t *code, uint32_t *data);

/* CONNECTION-ID (RFC 6062). */
static inline int stun_attr_get_connection_id(const struct stun_msg *m, const struct stun_attr *a,
					      uint32_t *out)
{
	return stun_attr_get_u32(m, a, out);
}

/* A text attribute (USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN) as a
 * view; -1 if longer than max_len bytes (RFC 8489 limits: USERNAME 513,
 * REALM/NONCE/SOFTWARE 763) or not valid UTF-8. */
int stun_attr_get_text(const struct stun_msg *m, const struct stun_attr *a, size_t max_len,
		       const uint8_t **text, size_t *len);

/* ---- Encoders (append to a builder; errors are sticky in b->err) ---- */

void stun_build_addr(struct stun_builder *b, uint16_t type, const struct turn_addr *addr);
void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const struct turn_addr *addr);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_build_u64(struct stun_builder *b, uint16_t type, uint64_t v);
void stun_build_error(struct stun_builder *b, int code, const char *reason);
void stun_build_address_error(struct stun_builder *b, uint8_t family, int code,
			      const char *reason);
void stun_build_unknown(struct stun_builder *b, const uint16_t *types, size_t n);
void stun_build_channel(struct stun_builder *b, uint16_t channel);
void stun_build_transport(struct stun_builder *b, uint8_t proto);
void stun_build_family(struct stun_builder *b, uint16_t type, uint8_t family);
void stun_build_even_port(struct stun_builder *b, bool reserve);
void stun_build_pwalg(struct stun_builder *b, uint16_t alg);
void stun_build_pwalgs(struct stun_builder *b, const uint16_t *algs, size_t n);
void stun_build_icmp(struct stun_builder *b, uint8_t type, uint8_t code, uint32_t data);
void stun_build_text(struct stun_builder *b, uint16_t type, const char *text);
/* DONT-FRAGMENT and other zero-length flags. */
void stun_build_flag(struct stun_builder *b, uint16_t type);

/* True if s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool stun_utf8_valid(const uint8_t *s, size_t len);

/* Standard reason phrase for an error code ("Unauthorized"), or "". */
const char *stun_error_reason(int code);

#endif
