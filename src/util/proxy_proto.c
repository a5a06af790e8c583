/* The PROXY protocol header, versions 1 and 2 (proxy_proto.h). Section
 * numbers are those of HAProxy's proxy-protocol.txt. */
#include "util/proxy_proto.h"

#include <string.h>

#include "util/rbuf.h"

/* Section 2.1: the text header starts with these six bytes. */
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN 6
/* Section 2.2: the binary header's twelve-byte signature. */
static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_TCP4 0x11 /* AF_INET, STREAM */
#define V2_TCP6 0x21 /* AF_INET6, STREAM */
#define V2_TCP4_LEN 12 /* two IPv4 addresses, two ports */
#define V2_TCP6_LEN 36

/* A dual-stack proxy (HAProxy bound to [::] with v4v6) sees an IPv4
 * client as ::ffff:a.b.c.d: the client is IPv4, and XOR-MAPPED-ADDRESS
 * and the per-source limits must say so. */
static void v4_unmap(struct turn_addr *a)
{
	uint8_t v4[4];

	if (!turn_addr_is_v4mapped(a))
		return;
	memcpy(v4, a->ip + 12, 4);
	memset(a->ip, 0, sizeof(a->ip));
	memcpy(a->ip, v4, 4);
	a->family = TURN_AF_INET;
}

static enum proxy_proto_result done(struct proxy_proto_header *out)
{
	v4_unmap(&out->src);
	v4_unmap(&out->dst);
	return PROXY_PROTO_DONE;
}

static enum proxy_proto_result malformed(struct proxy_proto_header *out, const char *why)
{
	out->why = why;
	return PROXY_PROTO_MALFORMED;
}

/* ---- Version 1 ---- */

/* A port: one to five decimal digits, at most 65535. */
static int v1_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* An address of the family the protocol token named, in its bare text
 * form: no brackets, no port. */
static int v1_addr(const char *s, unsigned family, struct turn_addr *a)
{
	if (strchr(s, '[') || strchr(s, ']'))
		return -1;
	if (family == TURN_AF_INET && strchr(s, ':'))
		return -1;
	if (turn_addr_parse(s, 0, a) < 0 || a->family != family)
		return -1;
	return 0;
}

/* Split line at single spaces into at most max fields; -1 on an empty
 * field (two spaces) or more than max. */
static int v1_split(char *line, char **f, int max)
{
	int n = 0;

	for (char *p = line;;) {
		char *sp = strchr(p, ' ');
		if (n == max || (sp == p) || *p == '\0')
			return -1;
		f[n++] = p;
		if (!sp)
			return n;
		*sp = '\0';
		p = sp + 1;
	}
}

/* The fields after "PROXY " of a whole line (CR LF cut off). */
static enum proxy_proto_result v1_fields(char *line, struct proxy_proto_header *out)
{
	char *f[5];
	int n;

	/* Section 2.1: after UNKNOWN the receiver ignores the rest. */
	if (strncmp(line, "UNKNOWN", 7) == 0 && (line[7] == '\0' || line[7] == ' ')) {
		out->local = true;
		return PROXY_PROTO_DONE;
	}
	n = v1_split(line, f, 5);
	if (n != 5)
		return malformed(out, "version 1: not PROTOCOL SRC DST SPORT DPORT");
	unsigned family = strcmp(f[0], "TCP4") == 0   ? TURN_AF_INET
			  : strcmp(f[0], "TCP6") == 0 ? TURN_AF_INET6
						      : 0;
	if (!family)
		return malformed(out, "version 1: protocol not TCP4, TCP6 or UNKNOWN");
	if (v1_addr(f[1], family, &out->src) < 0 || v1_addr(f[2], family, &out->dst) < 0)
		return malformed(out, "version 1: an address is not of the protocol's family");
	if (v1_port(f[3], &out->src.port) < 0 || v1_port(f[4], &out->dst.port) < 0)
		return malformed(out, "version 1: a port is not 0-65535");
	return done(out);
}

static enum proxy_proto_result parse_v1(const uint8_t *buf, size_t len,
					struct proxy_proto_header *out)
{
	/* The CR is at most the 106th byte, so that the LF is the 107th. */
	size_t lim = len < PROXY_PROTO_V1_MAX - 1 ? len : PROXY_PROTO_V1_MAX - 1;
	char line[PROXY_PROTO_V1_MAX + 1];

	out->version = 1;
	if (memcmp(buf, v1_sig, len < V1_SIG_LEN ? len : V1_SIG_LEN) != 0)
		return malformed(out, "no PROXY header");
	for (size_t i = V1_SIG_LEN; i < lim; i++) {
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return PROXY_PROTO_NEED_MORE;
			if (buf[i + 1] != '\n')
				return malformed(out, "version 1: CR without LF");
			memcpy(line, buf + V1_SIG_LEN, i - V1_SIG_LEN);
			line[i - V1_SIG_LEN] = '\0';
			out->len = i + 2;
			return v1_fields(line, out);
		}
		if (buf[i] < 0x20 || buf[i] > 0x7E)
			return malformed(out, "version 1: a byte that is not printable ASCII");
	}
	if (lim == PROXY_PROTO_V1_MAX - 1)
		return malformed(out, "version 1: no CR LF within 107 bytes");
	return PROXY_PROTO_NEED_MORE;
}

/* ---- Version 2 ---- */

static void v2_addr(struct rbuf *r, unsigned family, struct turn_addr *a)
{
	const uint8_t *ip = rbuf_view(r, family == TURN_AF_INET ? 4 : 16);

	a->family = (uint8_t)family;
	if (ip)
		memcpy(a->ip, ip, family == TURN_AF_INET ? 4 : 16);
}

/* The address block of a PROXY command (section 2.2): source and
 * destination addresses, then their ports. TLVs after it are skipped. */
static enum proxy_proto_result v2_addresses(struct rbuf *r, uint8_t fam, size_t block,
					    struct proxy_proto_header *out)
{
	unsigned family;

	if (fam == V2_TCP4 && block >= V2_TCP4_LEN)
		family = TURN_AF_INET;
	else if (fam == V2_TCP6 && block >= V2_TCP6_LEN)
		family = TURN_AF_INET6;
	else if (fam == V2_TCP4 || fam == V2_TCP6)
		return malformed(out, "version 2: address block shorter than its family's");
	else
		return malformed(out, "version 2: not TCP over IPv4 or IPv6");
	v2_addr(r, family, &out->src);
	v2_addr(r, family, &out->dst);
	out->src.port = rbuf_u16(r);
	out->dst.port = rbuf_u16(r);
	if (r->err) /* never: block was checked against the bytes there */
		return malformed(out, "version 2: truncated");
	return done(out);
}

static enum proxy_proto_result parse_v2(const uint8_t *buf, size_t len,
					struct proxy_proto_header *out)
{
	struct rbuf r;

	out->version = 2;
	if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) != 0)
		return malformed(out, "no PROXY header");
	/* Version and command as soon as they are there: the high four bits
	 * are the version (2), the low four the command. */
	if (len > 12 && ((buf[12] >> 4) != 2 || (buf[12] & 0xF) > V2_CMD_PROXY))
		return malformed(out, "version 2: unknown version or command");
	if (len < PROXY_PROTO_V2_HDR)
		return PROXY_PROTO_NEED_MORE;
	rbuf_init(&r, buf, len);
	rbuf_view(&r, 12);
	uint8_t cmd = rbuf_u8(&r) & 0xF;
	uint8_t fam = rbuf_u8(&r);
	size_t block = rbuf_u16(&r);
	if (PROXY_PROTO_V2_HDR + block > PROXY_PROTO_V2_MAX)
		return malformed(out, "version 2: longer than 1040 bytes");
	if (len < PROXY_PROTO_V2_HDR + block)
		return PROXY_PROTO_NEED_MORE;
	out->len = PROXY_PROTO_V2_HDR + block;
	/* LOCAL: the proxy speaks for itself; the block is ignored. */
	if (cmd == V2_CMD_LOCAL) {
		out->local = true;
		return PROXY_PROTO_DONE;
	}
	return v2_addresses(&r, fam, block, out);
}

enum proxy_proto_result proxy_proto_parse(const uint8_t *buf, size_t len,
					  struct proxy_proto_header *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return PROXY_PROTO_NEED_MORE;
	if (buf[0] == (uint8_t)v1_sig[0])
		return parse_v1(buf, len, out);
	if (buf[0] == v2_sig[0])
		return parse_v2(buf, len, out);
	return malformed(out, "no PROXY header");
}
