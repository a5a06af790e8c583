/*
 * Typed STUN/TURN attribute decoders and encoders (RFC 8489 section 14,
 * RFC 8656 section 18, RFC 5780 section 7, RFC 6062 section 6.2).
 *
 * Decoders read the value through the bounds-checked reader and insist on
 * the exact length the RFC gives, so a malformed value never yields a
 * half-decoded result. Encoders assemble the value in a small local buffer
 * and append it with stun_build_attr, which pads and keeps the length
 * field current.
 */
#include "stun/attr.h"

#include <string.h>

#include "util/rbuf.h"

/* RFC 8489 section 14.8: the reason phrase is under 128 characters, at most
 * 763 bytes of UTF-8. */
#define STUN_REASON_MAX 763

/* Bounds for the list encoders: a list longer than this cannot come from a
 * parsed message (STUN_MAX_ATTRS) and is refused. */
#define STUN_LIST_MAX STUN_MAX_ATTRS

/* A reader over exactly the attribute's value. */
static void value_reader(struct rbuf *r, const struct stun_msg *m, const struct stun_attr *a)
{
	rbuf_init(r, stun_attr_value(m, a), a->len);
}

/* The value was consumed exactly and without overrun. */
static int value_done(const struct rbuf *r)
{
	return r->err || r->off != r->len ? -1 : 0;
}

/* ---- UTF-8 (RFC 3629 section 4) ---- */

/* For a lead byte, the number of continuation bytes and the range allowed
 * for the first of them (which is what excludes overlong forms,
 * surrogates and code points above U+10FFFF). -1 for an invalid lead. */
static int utf8_lead(uint8_t c, uint8_t *lo, uint8_t *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (c < 0x80)
		return 0;
	if (c >= 0xC2 && c <= 0xDF)
		return 1;
	if (c >= 0xE0 && c <= 0xEF) {
		if (c == 0xE0)
			*lo = 0xA0;
		else if (c == 0xED)
			*hi = 0x9F;
		return 2;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (c == 0xF0)
			*lo = 0x90;
		else if (c == 0xF4)
			*hi = 0x8F;
		return 3;
	}
	return -1;
}

bool stun_utf8_valid(const uint8_t *s, size_t len)
{
	struct rbuf r;

	rbuf_init(&r, s, len);
	while (rbuf_left(&r) > 0) {
		uint8_t lo, hi;
		int n = utf8_lead(rbuf_u8(&r), &lo, &hi);

		if (n < 0)
			return false;
		for (int i = 0; i < n; i++) {
			uint8_t c = rbuf_u8(&r);

			if (r.err || c < lo || c > hi)
				return false;
			lo = 0x80;
			hi = 0xBF;
		}
	}
	return !r.err;
}

/* ---- Address decoders (RFC 8489 sections 14.1, 14.2) ---- */

/* Family, port and IP from the value; the family decides the one length
 * that is valid: 8 for IPv4, 20 for IPv6. */
static int read_addr(const struct stun_msg *m, const struct stun_attr *a, struct turn_addr *out)
{
	struct rbuf r;
	uint8_t family;

	memset(out, 0, sizeof(*out));
	value_reader(&r, m, a);
	rbuf_skip(&r, 1);
	family = rbuf_u8(&r);
	out->port = rbuf_u16(&r);
	if (family == STUN_FAMILY_IPV4 && a->len == 8) {
		out->family = TURN_AF_INET;
		rbuf_copy(&r, out->ip, 4);
	} else if (family == STUN_FAMILY_IPV6 && a->len == 20) {
		out->family = TURN_AF_INET6;
		rbuf_copy(&r, out->ip, 16);
	} else {
		return -1;
	}
	return value_done(&r);
}

int stun_attr_get_addr(const struct stun_msg *m, const struct stun_attr *a, struct turn_addr *out)
{
	if (read_addr(m, a, out) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* The 16-byte XOR mask: the magic cookie, then the transaction ID. RFC 3489
 * messages have no cookie, yet RFC 8489 section 14.2 defines the XOR with
 * the constant, so the same mask is used for them. */
static void xor_mask(const uint8_t tid[STUN_TID_LEN], uint8_t mask[16])
{
	struct rbuf r;

	mask[0] = (uint8_t)(STUN_MAGIC_COOKIE >> 24);
	mask[1] = (uint8_t)(STUN_MAGIC_COOKIE >> 16);
	mask[2] = (uint8_t)(STUN_MAGIC_COOKIE >> 8);
	mask[3] = (uint8_t)STUN_MAGIC_COOKIE;
	rbuf_init(&r, tid, STUN_TID_LEN);
	rbuf_copy(&r, mask + 4, STUN_TID_LEN);
}

static void xor_apply(struct turn_addr *addr, const uint8_t tid[STUN_TID_LEN])
{
	uint8_t mask[16];
	size_t n = turn_addr_iplen(addr);

	xor_mask(tid, mask);
	addr->port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	for (size_t i = 0; i < n; i++)
		addr->ip[i] ^= mask[i];
}

int stun_attr_get_xor_addr(const struct stun_msg *m, const struct stun_attr *a,
			   struct turn_addr *out)
{
	if (stun_attr_get_addr(m, a, out) < 0)
		return -1;
	xor_apply(out, m->tid);
	return 0;
}

/* ---- Fixed-size values ---- */

int stun_attr_get_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out)
{
	struct rbuf r;

	value_reader(&r, m, a);
	*out = rbuf_u32(&r);
	return value_done(&r);
}

int stun_attr_get_u64(const struct stun_msg *m, const struct stun_attr *a, uint64_t *out)
{
	struct rbuf r;
	uint64_t hi;

	value_reader(&r, m, a);
	hi = rbuf_u32(&r);
	*out = hi << 32 | rbuf_u32(&r);
	return value_done(&r);
}

/* RFC 8489 section 14.8 (ERROR-CODE) and RFC 8656 section 18.12
 * (ADDRESS-ERROR-CODE): a byte that is reserved or the family, a reserved
 * byte, the class (3 bits) and the number (0-99), then the reason. */
int stun_attr_get_error(const struct stun_msg *m, const struct stun_attr *a, uint8_t *family,
			int *code, const uint8_t **reason, size_t *reason_len)
{
	struct rbuf r;
	uint8_t first, cls, number;
	size_t n;

	value_reader(&r, m, a);
	first = rbuf_u8(&r);
	rbuf_skip(&r, 1);
	cls = rbuf_u8(&r) & 0x07;
	number = rbuf_u8(&r);
	n = rbuf_left(&r);
	if (r.err || cls < 3 || cls > 6 || number > 99 || n > STUN_REASON_MAX)
		return -1;
	*reason = rbuf_view(&r, n);
	if (!stun_utf8_valid(*reason, n))
		return -1;
	*reason_len = n;
	*code = cls * 100 + number;
	if (family)
		*family = first;
	return 0;
}

/* RFC 8489 section 14.9: a list of 16-bit types. */
int stun_attr_get_unknown(const struct stun_msg *m, const struct stun_attr *a, uint16_t *types,
			  size_t max, size_t *n)
{
	struct rbuf r;

	*n = 0;
	if (a->len % 2)
		return -1;
	value_reader(&r, m, a);
	while (rbuf_left(&r) > 0) {
		uint16_t t = rbuf_u16(&r);

		if (*n < max)
			types[(*n)++] = t;
	}
	return value_done(&r);
}

/* RFC 8656 section 18.1: channel number, then 16 RFFU bits. */
int stun_attr_get_channel(const struct stun_msg *m, const struct stun_attr *a, uint16_t *out)
{
	struct rbuf r;

	value_reader(&r, m, a);
	*out = rbuf_u16(&r);
	rbuf_skip(&r, 2);
	return value_done(&r);
}

/* RFC 8656 section 18.11: protocol, then 24 RFFU bits. */
int stun_attr_get_transport(const struct stun_msg *m, const struct stun_attr *a, uint8_t *proto)
{
	struct rbuf r;

	value_reader(&r, m, a);
	*proto = rbuf_u8(&r);
	rbuf_skip(&r, 3);
	return value_done(&r);
}

/* RFC 8656 sections 18.10 and 18.11.1: family, then 24 reserved bits. */
int stun_attr_get_family(const struct stun_msg *m, const struct stun_attr *a, uint8_t *family)
{
	struct rbuf r;

	value_reader(&r, m, a);
	*family = rbuf_u8(&r);
	rbuf_skip(&r, 3);
	if (*family != STUN_FAMILY_IPV4 && *family != STUN_FAMILY_IPV6)
		return -1;
	return value_done(&r);
}

/* RFC 8656 section 18.8: one byte, the R bit on top. */
int stun_attr_get_even_port(const struct stun_msg *m, const struct stun_attr *a, bool *reserve)
{
	struct rbuf r;

	value_reader(&r, m, a);
	*reserve = (rbuf_u8(&r) & 0x80) != 0;
	return value_done(&r);
}

/* RFC 8489 section 14.12: algorithm, parameter length, parameters padded
 * to 4 bytes inside the value. */
int stun_attr_get_pwalg(const struct stun_msg *m, const struct stun_attr *a, uint16_t *alg,
			const uint8_t **params, size_t *params_len)
{
	struct rbuf r;
	uint16_t plen;

	value_reader(&r, m, a);
	*alg = rbuf_u16(&r);
	plen = rbuf_u16(&r);
	*params = rbuf_view(&r, plen);
	*params_len = plen;
	/* The parameter padding may be counted in the value length or left
	 * to the attribute padding: accept both, nothing more. */
	if (rbuf_left(&r) > (((size_t)plen + 3) & ~(size_t)3) - plen)
		return -1;
	rbuf_skip(&r, rbuf_left(&r));
	return value_done(&r);
}

/* RFC 8489 section 14.11: a list of PASSWORD-ALGORITHM bodies. */
int stun_attr_get_pwalgs(const struct stun_msg *m, const struct stun_attr *a, uint16_t *algs,
			 size_t max, size_t *n)
{
	struct rbuf r;

	*n = 0;
	value_reader(&r, m, a);
	while (rbuf_left(&r) > 0) {
		uint16_t alg = rbuf_u16(&r);
		uint16_t plen = rbuf_u16(&r);

		rbuf_skip(&r, ((size_t)plen + 3) & ~(size_t)3);
		if (r.err)
			return -1;
		if (*n < max)
			algs[(*n)++] = alg;
	}
	return value_done(&r);
}

/* RFC 8656 section 18.13: 16 reserved bits, type, code, error data. */
int stun_attr_get_icmp(const struct stun_msg *m, const struct stun_attr *a, uint8_t *type,
		       uint8_t *code, uint32_t *data)
{
	struct rbuf r;

	value_reader(&r, m, a);
	rbuf_skip(&r, 2);
	*type = rbuf_u8(&r);
	*code = rbuf_u8(&r);
	*data = rbuf_u32(&r);
	return value_done(&r);
}

int stun_attr_get_text(const struct stun_msg *m, const struct stun_attr *a, size_t max_len,
		       const uint8_t **text, size_t *len)
{
	struct rbuf r;

	if (a->len > max_len)
		return -1;
	value_reader(&r, m, a);
	*text = rbuf_view(&r, a->len);
	*len = a->len;
	if (!*text || !stun_utf8_valid(*text, *len))
		return -1;
	return 0;
}

/* ---- Encoders ---- */

/* A wbuf over a local value buffer; appended only if it was written
 * without overflow, otherwise the builder's error is set. */
static void append_value(struct stun_builder *b, uint16_t type, const struct wbuf *w)
{
	if (w->err) {
		b->err = true;
		return;
	}
	stun_build_attr(b, type, w->p, w->len);
}

static int addr_value(struct wbuf *w, const struct turn_addr *addr)
{
	size_t n = turn_addr_iplen(addr);

	if (n == 0)
		return -1;
	wbuf_u8(w, 0);
	wbuf_u8(w, n == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6);
	wbuf_u16(w, addr->port);
	wbuf_bytes(w, addr->ip, n);
	return 0;
}

void stun_build_addr(struct stun_builder *b, uint16_t type, const struct turn_addr *addr)
{
	uint8_t v[20];
	struct wbuf w;

	wbuf_init(&w, v, sizeof(v));
	if (addr_value(&w, addr) < 0)
		w.err = true;
	append_value(b, type, &w);
}

void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const struct turn_addr *addr)
{
	struct turn_addr x = *addr;

	/* The builder's copy of the 12 bytes that follow the cookie field:
	 * for RFC 3489 they are the last 12 of the 16-byte ID. */
	xor_apply(&x, b->rfc3489 ? b->tid + 4 : b->tid);
	stun_build_addr(b, type, &x);
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t val[4];
	struct wbuf w;

	wbuf_init(&w, val, sizeof(val));
	wbuf_u32(&w, v);
	append_value(b, type, &w);
}

void stun_build_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t val[8];
	struct wbuf w;

	wbuf_init(&w, val, sizeof(val));
	wbuf_u32(&w, (uint32_t)(v >> 32));
	wbuf_u32(&w, (uint32_t)v);
	append_value(b, type, &w);
}

static void build_error_common(struct stun_builder *b, uint16_t type, uint8_t first, int code,
			       const char *reason)
{
	uint8_t val[4 + STUN_REASON_MAX];
	struct wbuf w;
	size_t n;

	if (!reason)
		reason = stun_error_reason(code);
	n = strlen(reason);
	wbuf_init(&w, val, sizeof(val));
	if (code < 300 || code > 699)
		w.err = true;
	wbuf_u8(&w, first);
	wbuf_u8(&w, 0);
	wbuf_u8(&w, (uint8_t)(code / 100));
	wbuf_u8(&w, (uint8_t)(code % 100));
	wbuf_bytes(&w, reason, n);
	append_value(b, type, &w);
}

void stun_build_error(struct stun_builder *b, int code, const char *reason)
{
	build_error_common(b, STUN_ATTR_ERROR_CODE, 0, code, reason);
}

void stun_build_address_error(struct stun_builder *b, uint8_t family, int code, const char *reason)
{
	build_error_common(b, TURN_ATTR_ADDRESS_ERROR_CODE, family, code, reason);
}

void stun_build_unknown(struct stun_builder *b, const uint16_t *types, size_t n)
{
	uint8_t val[2 * STUN_LIST_MAX];
	struct wbuf w;

	wbuf_init(&w, val, sizeof(val));
	if (n > STUN_LIST_MAX)
		w.err = true;
	for (size_t i = 0; i < n && !w.err; i++)
		wbuf_u16(&w, types[i]);
	append_value(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, &w);
}

void stun_build_channel(struct stun_builder *b, uint16_t channel)
{
	stun_build_u32(b, TURN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
}

void stun_build_transport(struct stun_builder *b, uint8_t proto)
{
	stun_build_u32(b, TURN_ATTR_REQUESTED_TRANSPORT, (uint32_t)proto << 24);
}

void stun_build_family(struct stun_builder *b, uint16_t type, uint8_t family)
{
	if (family != STUN_FAMILY_IPV4 && family != STUN_FAMILY_IPV6) {
		b->err = true;
		return;
	}
	stun_build_u32(b, type, (uint32_t)family << 24);
}

void stun_build_even_port(struct stun_builder *b, bool reserve)
{
	uint8_t v = reserve ? 0x80 : 0x00;

	stun_build_attr(b, TURN_ATTR_EVEN_PORT, &v, 1);
}

/* Both algorithms defined so far (MD5, SHA-256) have no parameters. */
void stun_build_pwalg(struct stun_builder *b, uint16_t alg)
{
	stun_build_u32(b, STUN_ATTR_PASSWORD_ALGORITHM, (uint32_t)alg << 16);
}

void stun_build_pwalgs(struct stun_builder *b, const uint16_t *algs, size_t n)
{
	uint8_t val[4 * STUN_LIST_MAX];
	struct wbuf w;

	wbuf_init(&w, val, sizeof(val));
	if (n > STUN_LIST_MAX)
		w.err = true;
	for (size_t i = 0; i < n && !w.err; i++) {
		wbuf_u16(&w, algs[i]);
		wbuf_u16(&w, 0);
	}
	append_value(b, STUN_ATTR_PASSWORD_ALGORITHMS, &w);
}

void stun_build_icmp(struct stun_builder *b, uint8_t type, uint8_t code, uint32_t data)
{
	stun_build_u64(b, TURN_ATTR_ICMP, (uint64_t)type << 40 | (uint64_t)code << 32 | data);
}

void stun_build_text(struct stun_builder *b, uint16_t type, const char *text)
{
	stun_build_attr(b, type, text, strlen(text));
}

void stun_build_flag(struct stun_builder *b, uint16_t type)
{
	stun_build_attr(b, type, NULL, 0);
}

const char *stun_error_reason(int code)
{
	switch (code) {
	case STUN_ERR_TRY_ALTERNATE: return "Try Alternate";
	case STUN_ERR_BAD_REQUEST: return "Bad Request";
	case STUN_ERR_UNAUTHORIZED: return "Unauthorized";
	case STUN_ERR_FORBIDDEN: return "Forbidden";
	case STUN_ERR_UNKNOWN_ATTRIBUTE: return "Unknown Attribute";
	case TURN_ERR_ALLOCATION_MISMATCH: return "Allocation Mismatch";
	case STUN_ERR_STALE_NONCE: return "Stale Nonce";
	case TURN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED: return "Address Family not Supported";
	case TURN_ERR_WRONG_CREDENTIALS: return "Wrong Credentials";
	case TURN_ERR_UNSUPPORTED_TRANSPORT: return "Unsupported Transport Protocol";
	case TURN_ERR_PEER_ADDRESS_FAMILY_MISMATCH: return "Peer Address Family Mismatch";
	case TURN_ERR_CONNECTION_ALREADY_EXISTS: return "Connection Already Exists";
	case TURN_ERR_CONNECTION_TIMEOUT: return "Connection Timeout or Failure";
	case TURN_ERR_ALLOCATION_QUOTA: return "Allocation Quota Reached";
	case STUN_ERR_ROLE_CONFLICT: return "Role Conflict";
	case STUN_ERR_SERVER_ERROR: return "Server Error";
	case TURN_ERR_INSUFFICIENT_CAPACITY: return "Insufficient Capacity";
	default: return "";
	}
}
