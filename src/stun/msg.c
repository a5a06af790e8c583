/*
 * STUN message parsing and building (RFC 8489 sections 5, 6.3, 14).
 *
 * The parser walks the message once with the bounds-checked reader and
 * records, for each attribute it keeps, the type, length and value offset.
 * Nothing is copied: the result is a set of views into the caller's buffer.
 */
#include "stun/msg.h"

#include <string.h>

#include "stun/attr_names.h"
#include "util/rbuf.h"

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/*
 * RFC 8489 section 5: the 14-bit message type interleaves the method bits
 * M0-M11 with the class bits C0 (bit 4) and C1 (bit 8):
 *   M11..M7 | C1 | M6..M4 | C0 | M3..M0
 */
uint16_t stun_msg_type(uint16_t method, uint8_t cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
			  ((cls & 1) << 4) | ((cls & 2) << 7));
}

uint16_t stun_msg_method(uint16_t type)
{
	return (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

uint8_t stun_msg_class(uint16_t type)
{
	return (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
}

bool stun_msg_is_stun(const uint8_t *buf, size_t len)
{
	struct rbuf r;
	uint16_t type, mlen;

	if (len < STUN_HDR_LEN)
		return false;
	rbuf_init(&r, buf, len);
	type = rbuf_u16(&r);
	mlen = rbuf_u16(&r);
	/* RFC 8489 section 6: the two most significant bits are zero and
	 * the length counts the attributes, always padded to 4 bytes. */
	return !r.err && (type & 0xC000) == 0 && (mlen & 3) == 0 &&
	       (size_t)mlen == len - STUN_HDR_LEN;
}

/* Where the attribute walk stands with respect to the integrity
 * attributes (RFC 8489 sections 14.5-14.7). */
enum walk_state {
	WALK_OPEN, /* keep every attribute */
	WALK_AFTER_MI, /* keep only MI-SHA256 and FINGERPRINT */
	WALK_AFTER_MI256, /* keep only FINGERPRINT */
	WALK_AFTER_FP, /* anything more is malformed */
};

/* Decide whether an attribute of this type is kept, and advance the state.
 * Returns 1 keep, 0 ignore, -1 malformed (something after FINGERPRINT). */
static int walk_step(enum walk_state *st, uint16_t type)
{
	if (*st == WALK_AFTER_FP)
		return -1;
	if (type == STUN_ATTR_FINGERPRINT) {
		*st = WALK_AFTER_FP;
		return 1;
	}
	switch (*st) {
	case WALK_OPEN:
		if (type == STUN_ATTR_MESSAGE_INTEGRITY)
			*st = WALK_AFTER_MI;
		else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			*st = WALK_AFTER_MI256;
		return 1;
	case WALK_AFTER_MI:
		if (type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			return 0;
		*st = WALK_AFTER_MI256;
		return 1;
	default: return 0;
	}
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	if (!STUN_ATTR_IS_COMPREHENSION_REQUIRED(type) || stun_attr_known(type))
		return;
	for (uint8_t i = 0; i < m->n_unknown; i++)
		if (m->unknown[i] == type)
			return;
	if (m->n_unknown < STUN_MAX_UNKNOWN)
		m->unknown[m->n_unknown++] = type;
}

static void keep_attr(struct stun_msg *m, uint16_t type, uint16_t alen, size_t off)
{
	int8_t idx = (int8_t)m->n_attrs;

	m->attrs[m->n_attrs++] =
		(struct stun_attr){.type = type, .len = alen, .off = (uint16_t)off};
	if (type == STUN_ATTR_MESSAGE_INTEGRITY)
		m->idx_integrity = idx;
	else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		m->idx_integrity_sha256 = idx;
	else if (type == STUN_ATTR_FINGERPRINT)
		m->idx_fingerprint = idx;
	note_unknown(m, type);
}

/* RFC 8489 section 14: TLV attributes, each value padded to 4 bytes. The
 * padding may hold anything (it is not checked). */
static int parse_attrs(struct stun_msg *m, struct rbuf *r)
{
	enum walk_state st = WALK_OPEN;
	unsigned seen = 0;

	while (rbuf_left(r) > 0) {
		uint16_t type = rbuf_u16(r);
		uint16_t alen = rbuf_u16(r);
		size_t off = r->off;
		int keep;

		rbuf_skip(r, pad4(alen));
		if (r->err)
			return -1;
		if (++seen > STUN_MAX_ATTRS)
			return -1;
		keep = walk_step(&st, type);
		if (keep < 0) {
			m->fingerprint_misplaced = true;
			return -1;
		}
		if (keep)
			keep_attr(m, type, alen, off);
	}
	return 0;
}

int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	struct rbuf r;
	uint16_t mlen;
	uint32_t cookie;

	memset(m, 0, sizeof(*m));
	m->idx_integrity = m->idx_integrity_sha256 = m->idx_fingerprint = -1;
	/* Attribute offsets are 16-bit: a message longer than 65535 bytes
	 * (possible only over TCP) is refused rather than mis-indexed. */
	if (len < STUN_HDR_LEN || len > STUN_MAX_MSG_LEN)
		return -1;
	rbuf_init(&r, buf, len);
	m->type = rbuf_u16(&r);
	mlen = rbuf_u16(&r);
	cookie = rbuf_u32(&r);
	m->tid = rbuf_view(&r, STUN_TID_LEN);
	if (r.err || (m->type & 0xC000) != 0 || (mlen & 3) != 0 ||
	    (size_t)mlen != len - STUN_HDR_LEN)
		return -1;
	m->buf = buf;
	m->len = len;
	m->method = stun_msg_method(m->type);
	m->cls = stun_msg_class(m->type);
	/* RFC 8489 section 12: without the cookie this can only be an
	 * RFC 3489 client's Binding request; nothing else is answered. */
	m->rfc3489 = cookie != STUN_MAGIC_COOKIE;
	if (m->rfc3489 && (m->method != STUN_METHOD_BINDING || m->cls != STUN_CLASS_REQUEST))
		return -1;
	return parse_attrs(m, &r);
}

const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type)
{
	for (uint8_t i = 0; i < m->n_attrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

/* ---- Builder ---- */

/* The builder writes through struct wbuf: open one over the builder's
 * buffer, write, and fold the result back. */
static struct wbuf builder_wbuf(const struct stun_builder *b)
{
	return (struct wbuf){.p = b->buf, .cap = b->cap, .len = b->len, .err = b->err};
}

static void builder_sync(struct stun_builder *b, const struct wbuf *w)
{
	b->len = w->len;
	b->err = w->err;
}

static void build_header(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
			 uint8_t cls, bool rfc3489)
{
	struct wbuf w;

	b->buf = buf;
	b->cap = cap < STUN_MAX_MSG_LEN ? cap : STUN_MAX_MSG_LEN;
	b->len = 0;
	b->err = method > 0x0FFF || cls > STUN_CLASS_ERROR;
	b->rfc3489 = rfc3489;
	w = builder_wbuf(b);
	wbuf_u16(&w, stun_msg_type(method, cls));
	wbuf_u16(&w, 0);
	if (rfc3489) {
		wbuf_bytes(&w, b->tid, 16);
	} else {
		wbuf_u32(&w, STUN_MAGIC_COOKIE);
		wbuf_bytes(&w, b->tid, STUN_TID_LEN);
	}
	builder_sync(b, &w);
}

void stun_build_begin(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		      uint8_t cls, const uint8_t tid[STUN_TID_LEN])
{
	memset(b->tid, 0, sizeof(b->tid));
	memcpy(b->tid, tid, STUN_TID_LEN);
	build_header(b, buf, cap, method, cls, false);
}

void stun_build_begin_rfc3489(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
			      uint8_t cls, const uint8_t tid16[16])
{
	memcpy(b->tid, tid16, 16);
	build_header(b, buf, cap, method, cls, true);
}

void stun_build_response(struct stun_builder *b, uint8_t *buf, size_t cap, const struct stun_msg *m,
			 uint8_t cls)
{
	struct rbuf r;
	uint8_t tid16[16];

	/* An RFC 3489 transaction ID is the 16 bytes after the length. */
	rbuf_init(&r, m->buf, m->len);
	rbuf_skip(&r, 4);
	rbuf_copy(&r, tid16, sizeof(tid16));
	if (m->rfc3489)
		stun_build_begin_rfc3489(b, buf, cap, m->method, cls, tid16);
	else
		stun_build_begin(b, buf, cap, m->method, cls, tid16 + 4);
	if (r.err)
		b->err = true;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
	struct wbuf w = builder_wbuf(b);

	if (len > 0xFFFF || (!val && len) || b->len < STUN_HDR_LEN)
		w.err = true;
	/* Room for the whole padded attribute, or nothing is written. */
	if (wbuf_room(&w, 4 + pad4(len))) {
		wbuf_u16(&w, type);
		wbuf_u16(&w, (uint16_t)len);
		wbuf_bytes(&w, val, len);
		wbuf_zero(&w, pad4(len) - len);
		/* Keep the header length current so that integrity and
		 * fingerprint can be computed at any point. */
		wbuf_set_u16(&w, 2, (uint16_t)(w.len - STUN_HDR_LEN));
	}
	builder_sync(b, &w);
}

long stun_build_end(const struct stun_builder *b)
{
	return b->err ? -1 : (long)b->len;
}
