/*
 * STUN message parsing and building (RFC 8489 sections 5, 6.3, 14).
 *
 * Parsing produces views into the caller's buffer: struct stun_msg holds
 * offsets, never copies, and must not outlive the buffer it was parsed from.
 * Building writes into a caller-owned buffer with all padding zeroed.
 */
#ifndef TURND_STUN_MSG_H
#define TURND_STUN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "util/addr.h"

/* More attributes than this and the message is dropped as malformed: no
 * legitimate STUN or TURN message comes near it, and it bounds the work a
 * single datagram can cause. */
#define STUN_MAX_ATTRS 48
#define STUN_MAX_UNKNOWN 16

struct stun_attr {
	uint16_t type;
	uint16_t len; /* value length without padding */
	uint16_t off; /* offset of the value from the start of the message */
};

struct stun_msg {
	const uint8_t *buf; /* view of the whole message (header included) */
	size_t len;         /* STUN_HDR_LEN + length field */
	uint16_t type;      /* raw message type */
	uint16_t method;
	uint8_t cls; /* enum stun_class */
	bool rfc3489; /* no magic cookie: a classic RFC 3489 message */
	/* Transaction ID: 12 bytes at buf + 8 (with rfc3489, 16 bytes at
	 * buf + 4, of which the last 12 are also at buf + 8). */
	const uint8_t *tid;
	/* Attributes in wire order, up to and including MESSAGE-INTEGRITY;
	 * after it only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are kept
	 * (RFC 8489 section 14.5: everything else after it is ignored). */
	uint8_t n_attrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	int8_t idx_integrity;        /* index into attrs, or -1 */
	int8_t idx_integrity_sha256; /* index into attrs, or -1 */
	int8_t idx_fingerprint;      /* index into attrs, or -1 */
	bool fingerprint_misplaced;  /* a FINGERPRINT that was not last */
	/* Comprehension-required attribute types this codec does not know,
	 * among the attributes kept above (first STUN_MAX_UNKNOWN). */
	uint8_t n_unknown;
	uint16_t unknown[STUN_MAX_UNKNOWN];
};

/*
 * Quick test whether a datagram looks like STUN: at least 20 bytes, first two
 * bits zero, length a multiple of 4 equal to len - 20. Magic cookie not
 * checked. Use it to tell STUN from ChannelData on a socket.
 */
bool stun_msg_is_stun(const uint8_t *buf, size_t len);

/*
 * Parse a datagram (or one TCP frame) of exactly len bytes.
 * Returns 0 and fills *m, or -1 if the message is malformed and must be
 * silently dropped (RFC 8489 section 6.3): shorter than 20 bytes or longer
 * than STUN_MAX_MSG_LEN (attribute offsets are 16-bit), first two
 * bits not zero, length field not equal to len - 20 or not a multiple of 4,
 * an attribute running past the end, more than STUN_MAX_ATTRS attributes,
 * a FINGERPRINT present and not last (the message then fails its
 * fingerprint check: dropped), or no magic cookie on anything but a Binding
 * request (only those can be RFC 3489 requests).
 * Zero-length attributes and non-zero padding are accepted.
 */
int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

/* First attribute of that type among those kept, or NULL. Duplicates: the
 * first one counts (SECURITY.md). */
const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type);

/* View of an attribute's value. */
static inline const uint8_t *stun_attr_value(const struct stun_msg *m, const struct stun_attr *a)
{
	return m->buf + a->off;
}

/* Message type from method and class, and back. */
uint16_t stun_msg_type(uint16_t method, uint8_t cls);
uint16_t stun_msg_method(uint16_t type);
uint8_t stun_msg_class(uint16_t type);

/* ---- Builder ---- */

struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool err; /* sticky: something did not fit or was invalid */
	bool rfc3489;
	uint8_t tid[16]; /* a copy: 12 bytes, or 16 for rfc3489 */
};

/* Start a message with the magic cookie and a 12-byte transaction ID. */
void stun_build_begin(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		      uint8_t cls, const uint8_t tid[STUN_TID_LEN]);

/* Start an RFC 3489 message: 16-byte transaction ID, no magic cookie. */
void stun_build_begin_rfc3489(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
			      uint8_t cls, const uint8_t tid16[16]);

/* Start a response to m (same method, same transaction ID, cookie or not). */
void stun_build_response(struct stun_builder *b, uint8_t *buf, size_t cap,
			 const struct stun_msg *m, uint8_t cls);

/* Append a raw attribute, padding zeroed. */
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);

/* Length in bytes of the finished message, or -1 if err. The header length
 * field is kept current by every append. */
long stun_build_end(const struct stun_builder *b);

#endif
