/*
 * libFuzzer target for the STUN codec: parse, run every decoder on every
 * kept attribute, check FINGERPRINT and both integrity attributes with a
 * fixed key, then build a response echoing what decoded and check that it
 * parses back to the same values and verifies.
 *
 * Invariants that must hold are checked with __builtin_trap so that a
 * violation is a crash the fuzzer reports, even without sanitizers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "stun/stun.h"

#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* The key the seed corpus (fuzz/seeds/make_seeds.py) signs with. */
static const uint8_t fuzz_key[] = "fuzz-key";
#define FUZZ_KEY_LEN (sizeof(fuzz_key) - 1)

/* At most this many attributes are echoed, leaving room for MI, MI-SHA256,
 * FINGERPRINT and UNKNOWN-ATTRIBUTES under STUN_MAX_ATTRS. */
#define ECHO_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_value(const struct stun_msg *m, const struct stun_attr *a, const uint8_t *p,
		     size_t n)
{
	const uint8_t *v = stun_attr_value(m, a);

	return p >= v && n <= a->len && (size_t)(p - v) <= a->len - n;
}

static void check_parsed(const struct stun_msg *m, const uint8_t *data, size_t size)
{
	FUZZ_ASSERT(m->buf == data && m->len == size);
	FUZZ_ASSERT(stun_msg_is_stun(data, size));
	FUZZ_ASSERT(m->n_attrs <= STUN_MAX_ATTRS && m->n_unknown <= STUN_MAX_UNKNOWN);
	FUZZ_ASSERT(!m->fingerprint_misplaced);
	for (uint8_t i = 0; i < m->n_attrs; i++) {
		const struct stun_attr *a = &m->attrs[i];

		FUZZ_ASSERT(a->off >= STUN_HDR_LEN + 4 && a->off % 4 == 0);
		FUZZ_ASSERT((size_t)a->off + a->len <= size);
	}
	if (m->idx_integrity >= 0)
		FUZZ_ASSERT(m->attrs[m->idx_integrity].type == STUN_ATTR_MESSAGE_INTEGRITY);
	if (m->idx_integrity_sha256 >= 0)
		FUZZ_ASSERT(m->attrs[m->idx_integrity_sha256].type ==
			    STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
	if (m->idx_fingerprint >= 0)
		FUZZ_ASSERT(m->idx_fingerprint == m->n_attrs - 1);
	/* TCP framing agrees with the parser on where the message ends. */
	if (size >= 4) {
		size_t fl = 0;

		FUZZ_ASSERT(turn_frame_length(data, size, &fl) == TURN_FRAME_READY && fl == size);
	}
}

/* Every decoder on one attribute, whatever its type: a decoder must cope
 * with any value, and what it returns must lie inside the value. */
static void decode_all(const struct stun_msg *m, const struct stun_attr *a)
{
	struct turn_addr addr;
	uint32_t u32;
	uint64_t u64;
	uint16_t u16, list[8];
	uint8_t u8, u8b;
	bool flag;
	int code;
	const uint8_t *p;
	size_t n;

	if (stun_attr_get_addr(m, a, &addr) == 0)
		FUZZ_ASSERT(turn_addr_iplen(&addr) == (size_t)a->len - 4);
	if (stun_attr_get_xor_addr(m, a, &addr) == 0)
		FUZZ_ASSERT(turn_addr_iplen(&addr) == (size_t)a->len - 4);
	if (stun_attr_get_u32(m, a, &u32) == 0)
		FUZZ_ASSERT(a->len == 4);
	(void)stun_attr_get_connection_id(m, a, &u32);
	if (stun_attr_get_u64(m, a, &u64) == 0)
		FUZZ_ASSERT(a->len == 8);
	if (stun_attr_get_error(m, a, &u8, &code, &p, &n) == 0)
		FUZZ_ASSERT(code >= 300 && code <= 699 && in_value(m, a, p, n) &&
			    stun_utf8_valid(p, n));
	(void)stun_attr_get_error(m, a, NULL, &code, &p, &n);
	if (stun_attr_get_unknown(m, a, list, 8, &n) == 0)
		FUZZ_ASSERT(n <= 8 && n <= a->len / 2u);
	(void)stun_attr_get_channel(m, a, &u16);
	(void)stun_attr_get_transport(m, a, &u8);
	if (stun_attr_get_family(m, a, &u8) == 0)
		FUZZ_ASSERT(u8 == STUN_FAMILY_IPV4 || u8 == STUN_FAMILY_IPV6);
	(void)stun_attr_get_even_port(m, a, &flag);
	if (stun_attr_get_pwalg(m, a, &u16, &p, &n) == 0)
		FUZZ_ASSERT(in_value(m, a, p, n));
	if (stun_attr_get_pwalgs(m, a, list, 8, &n) == 0)
		FUZZ_ASSERT(n <= 8);
	(void)stun_attr_get_icmp(m, a, &u8, &u8b, &u32);
	if (stun_attr_get_text(m, a, 763, &p, &n) == 0)
		FUZZ_ASSERT(n == a->len && in_value(m, a, p, n) && stun_utf8_valid(p, n));
	(void)stun_attr_name(a->type);
}

static bool is_xor_addr(uint16_t t)
{
	return t == STUN_ATTR_XOR_MAPPED_ADDRESS || t == TURN_ATTR_XOR_PEER_ADDRESS ||
	       t == TURN_ATTR_XOR_RELAYED_ADDRESS;
}

static bool is_text(uint16_t t)
{
	return t == STUN_ATTR_USERNAME || t == STUN_ATTR_REALM || t == STUN_ATTR_NONCE ||
	       t == STUN_ATTR_SOFTWARE;
}

/* Re-encode one attribute of the request into the response if it decodes.
 * Returns true if something was appended. */
static bool echo_attr(struct stun_builder *b, const struct stun_msg *m, const struct stun_attr *a)
{
	struct turn_addr addr;
	const uint8_t *p;
	size_t n;
	uint32_t u32;
	int code;

	if (is_xor_addr(a->type) && stun_attr_get_xor_addr(m, a, &addr) == 0) {
		stun_build_xor_addr(b, a->type, &addr);
		return true;
	}
	if (a->type == STUN_ATTR_MAPPED_ADDRESS && stun_attr_get_addr(m, a, &addr) == 0) {
		stun_build_addr(b, a->type, &addr);
		return true;
	}
	if (is_text(a->type) && stun_attr_get_text(m, a, 763, &p, &n) == 0) {
		stun_build_attr(b, a->type, p, n);
		return true;
	}
	if (a->type == TURN_ATTR_LIFETIME && stun_attr_get_u32(m, a, &u32) == 0) {
		stun_build_u32(b, a->type, u32);
		return true;
	}
	if (a->type == STUN_ATTR_ERROR_CODE &&
	    stun_attr_get_error(m, a, NULL, &code, &p, &n) == 0) {
		stun_build_error(b, code, NULL);
		return true;
	}
	return false;
}

/* The echoed attribute came back with the same decoded value. */
static void check_echo(const struct stun_msg *m, const struct stun_attr *a,
		       const struct stun_msg *r, const struct stun_attr *ra)
{
	struct turn_addr x, y;

	FUZZ_ASSERT(ra->type == a->type);
	if (is_xor_addr(a->type)) {
		FUZZ_ASSERT(stun_attr_get_xor_addr(m, a, &x) == 0);
		FUZZ_ASSERT(stun_attr_get_xor_addr(r, ra, &y) == 0);
		FUZZ_ASSERT(memcmp(&x, &y, sizeof(x)) == 0);
	} else if (is_text(a->type)) {
		FUZZ_ASSERT(ra->len == a->len);
		FUZZ_ASSERT(memcmp(stun_attr_value(m, a), stun_attr_value(r, ra), a->len) == 0);
	}
}

static void build_echo(const struct stun_msg *m, size_t mac_len)
{
	static uint8_t out[STUN_MAX_MSG_LEN];
	uint8_t echoed[ECHO_MAX];
	size_t n_echo = 0;
	struct stun_builder b;
	struct stun_msg r;
	long len;

	stun_build_response(&b, out, sizeof(out), m, STUN_CLASS_REQUEST);
	for (uint8_t i = 0; i < m->n_attrs && n_echo < ECHO_MAX; i++)
		if (echo_attr(&b, m, &m->attrs[i]))
			echoed[n_echo++] = i;
	if (m->n_unknown)
		stun_build_unknown(&b, m->unknown, m->n_unknown);
	stun_build_integrity(&b, fuzz_key, FUZZ_KEY_LEN);
	stun_build_integrity_sha256(&b, fuzz_key, FUZZ_KEY_LEN, mac_len);
	stun_build_fingerprint(&b);
	len = stun_build_end(&b);
	if (len < 0)
		return; /* did not fit: nothing to check */
	FUZZ_ASSERT(stun_msg_parse(&r, out, (size_t)len) == 0);
	FUZZ_ASSERT(r.method == m->method && r.rfc3489 == m->rfc3489);
	FUZZ_ASSERT(memcmp(r.tid, m->tid, STUN_TID_LEN) == 0);
	FUZZ_ASSERT(stun_msg_check_integrity(&r, fuzz_key, FUZZ_KEY_LEN) == 1);
	FUZZ_ASSERT(stun_msg_check_integrity_sha256(&r, fuzz_key, FUZZ_KEY_LEN) == 1);
	FUZZ_ASSERT(stun_msg_check_fingerprint(&r) == 1);
	FUZZ_ASSERT(r.n_unknown == 0);
	FUZZ_ASSERT(r.n_attrs == n_echo + (m->n_unknown ? 1 : 0) + 3);
	for (size_t i = 0; i < n_echo; i++)
		check_echo(m, &m->attrs[echoed[i]], &r, &r.attrs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	int fp, mi, mi256;

	if (stun_msg_parse(&m, data, size) < 0)
		return 0;
	check_parsed(&m, data, size);
	for (uint8_t i = 0; i < m.n_attrs; i++)
		decode_all(&m, &m.attrs[i]);
	(void)stun_msg_find(&m, TURN_ATTR_LIFETIME);

	fp = stun_msg_check_fingerprint(&m);
	FUZZ_ASSERT(fp >= -1 && fp <= 1 && (m.idx_fingerprint >= 0 || fp == 0));
	mi = stun_msg_check_integrity(&m, fuzz_key, FUZZ_KEY_LEN);
	FUZZ_ASSERT(mi == 0 || (mi == 1 && m.idx_integrity >= 0));
	mi256 = stun_msg_check_integrity_sha256(&m, fuzz_key, FUZZ_KEY_LEN);
	FUZZ_ASSERT(mi256 == 0 || (mi256 == 1 && m.idx_integrity_sha256 >= 0));

	build_echo(&m, STUN_HMAC_SHA256_MIN + 4 * (size % 5));
	return 0;
}
