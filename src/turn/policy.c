/* The peer-address policy; see policy.h for the rules and the table. */
#include "turn/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for "ipv6-ipv6" and "ipv6/128" with brackets. */
#define RANGE_TEXT_MAX (2 * TURN_ADDR_STRLEN + 2)

struct turn_policy {
	struct turn_addr_range *allowed;
	size_t n_allowed;
	struct turn_addr_range *denied;
	size_t n_denied;
	struct turn_addr *own;
	size_t n_own;
	bool allow_own;
	uint16_t *listening_ports;
	size_t n_listening_ports;
	bool (*relay_live)(void *ctx, const struct turn_addr *peer);
	void *relay_ctx;
};

/* One row of the default-deny table: a prefix and the name of its class. */
struct special_prefix {
	uint8_t prefix[16];
	uint8_t bits;
	const char *name;
};

/*
 * RFC 6890 section 2.2.2 and the IANA IPv4 special-purpose registry. The
 * first matching row names the class, so a more specific row comes before
 * the prefix that contains it.
 */
static const struct special_prefix special_v4[] = {
	/* RFC 1122 section 3.2.1.3: "this host on this network"; Linux
	 * delivers 0.0.0.0 to the host itself. */
	{{0}, 8, "this-network"},
	{{10}, 8, "rfc1918"},
	/* Alibaba Cloud instance metadata, inside the CGNAT space. */
	{{100, 100, 100, 200}, 32, "metadata"},
	{{100, 64}, 10, "cgnat"}, /* RFC 6598 shared address space */
	{{127}, 8, "loopback"},
	/* Azure WireServer: public, but only reachable from Azure hosts, and
	 * it hands out their configuration. */
	{{168, 63, 129, 16}, 32, "metadata"},
	/* Instance metadata of AWS, GCP, Azure and others (RFC 8656 section
	 * 21 warns that a relay reaches whatever the server can reach). */
	{{169, 254, 169, 254}, 32, "metadata"},
	{{169, 254}, 16, "link-local"}, /* RFC 3927 */
	{{172, 16}, 12, "rfc1918"},
	{{192, 0, 0}, 24, "ietf-protocol"}, /* DS-Lite, 464XLAT host addresses */
	{{192, 88, 99}, 24, "6to4"}, /* RFC 7526: deprecated relay anycast */
	{{192, 168}, 16, "rfc1918"},
	{{198, 18}, 15, "benchmarking"}, /* RFC 2544 */
	{{224}, 4, "multicast"}, /* RFC 5771 */
	{{255, 255, 255, 255}, 32, "broadcast"}, /* RFC 919 limited broadcast */
	{{240}, 4, "reserved"}, /* RFC 1112 section 4 */
};

/*
 * RFC 6890 section 2.2.3 and the IANA IPv6 special-purpose registry. The
 * mapped and NAT64 well-known prefixes never reach this table: they are
 * classified by the IPv4 address they embed.
 */
static const struct special_prefix special_v6[] = {
	{{0}, 128, "unspecified"}, /* RFC 4291 section 2.5.2 */
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"}, /* 2.5.3 */
	/* RFC 4291 section 2.5.5.1: IPv4-compatible, deprecated. Denied
	 * whatever it embeds: no peer needs it, and a stack with automatic
	 * tunnels would send it to the embedded address. */
	{{0}, 96, "ipv4-compatible"},
	/* RFC 8215: local-use NAT64, translating into a private network. */
	{{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "nat64"},
	{{0x01, 0x00}, 64, "discard"}, /* RFC 6666 */
	/* Teredo (RFC 4380) and 6to4 (RFC 3056) embed an IPv4 address and
	 * reach it through relays the server does not control: the final
	 * destination can be any IPv4 host, private ones included. */
	{{0x20, 0x01, 0x00, 0x00}, 32, "teredo"},
	{{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, "benchmarking"}, /* RFC 5180 */
	{{0x20, 0x02}, 16, "6to4"},
	/* Instance metadata over IPv6: AWS fd00:ec2::254, GCP fd20:ce::254. */
	{{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128, "metadata"},
	{{0xfd, 0x20, 0x00, 0xce, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128, "metadata"},
	{{0xfc}, 7, "ula"}, /* RFC 4193 */
	{{0xfe, 0x80}, 10, "link-local"}, /* RFC 4291 section 2.5.6 */
	{{0xfe, 0xc0}, 10, "site-local"}, /* RFC 3879: deprecated, still routed by some */
	{{0xff}, 8, "multicast"}, /* RFC 4291 section 2.7 */
	/* RFC 4291 section 2.4: global unicast is 2000::/3; the rest of the
	 * space is unassigned or reserved, and nothing public lives there. */
	{{0x00}, 3, "reserved"},
	{{0x40}, 2, "reserved"},
	{{0x80}, 1, "reserved"},
};

/* RFC 4291 section 2.5.5.2 (::ffff:0:0/96) and RFC 6052 section 2.1
 * (64:ff9b::/96): the IPv4 address is the last 32 bits. */
static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_prefix[12] = {0x00, 0x64, 0xff, 0x9b};

static bool prefix_match(const uint8_t *ip, const uint8_t *prefix, unsigned bits)
{
	unsigned whole = bits / 8;
	unsigned rest = bits % 8;
	uint8_t mask;

	if (memcmp(ip, prefix, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (ip[whole] & mask) == prefix[whole];
}

static const char *table_lookup(const struct special_prefix *table, size_t n, const uint8_t *ip)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_match(ip, table[i].prefix, table[i].bits))
			return table[i].name;
	return NULL;
}

/* If a is IPv6 under the 96-bit prefix, set out to the IPv4 address it
 * embeds (same port) and return true. */
static bool embedded_v4(const struct turn_addr *a, const uint8_t prefix[12], struct turn_addr *out)
{
	if (a->family != TURN_AF_INET6 || memcmp(a->ip, prefix, 12) != 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = TURN_AF_INET;
	out->port = a->port;
	memcpy(out->ip, a->ip + 12, 4);
	return true;
}

const char *turn_policy_default_class(const struct turn_addr *peer)
{
	struct turn_addr v4;

	if (peer->family == TURN_AF_INET)
		return table_lookup(special_v4, sizeof(special_v4) / sizeof(special_v4[0]),
				    peer->ip);
	if (peer->family != TURN_AF_INET6)
		return "invalid";
	/* RFC 6052 section 3.1: the well-known prefix must not carry
	 * non-global IPv4 addresses; classifying the embedded address
	 * denies exactly those. */
	if (embedded_v4(peer, mapped_prefix, &v4) || embedded_v4(peer, nat64_prefix, &v4))
		return turn_policy_default_class(&v4);
	return table_lookup(special_v6, sizeof(special_v6) / sizeof(special_v6[0]), peer->ip);
}

bool turn_addr_range_contains(const struct turn_addr_range *r, const struct turn_addr *a)
{
	size_t n = turn_addr_iplen(a);

	if (n == 0 || r->lo.family != a->family || r->hi.family != a->family)
		return false;
	return memcmp(r->lo.ip, a->ip, n) <= 0 && memcmp(a->ip, r->hi.ip, n) <= 0;
}

static bool in_ranges(const struct turn_addr_range *r, size_t n, const struct turn_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (turn_addr_range_contains(&r[i], a))
			return true;
	return false;
}

/* Every host's own addresses (policy.h rule 1): Linux delivers the whole
 * of 127.0.0.0/8 locally (RFC 1122 section 3.2.1.3), and a connect or
 * sendto to 0.0.0.0 or :: reaches the host itself. */
static const struct special_prefix host_v4[] = {
	{{127}, 8, "loopback"},
	{{0}, 32, "unspecified"},
};
static const struct special_prefix host_v6[] = {
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
	{{0}, 128, "unspecified"},
};

static bool is_own(const struct turn_policy *p, const struct turn_addr *a)
{
	if (a->family == TURN_AF_INET &&
	    table_lookup(host_v4, sizeof(host_v4) / sizeof(host_v4[0]), a->ip))
		return true;
	if (a->family == TURN_AF_INET6 &&
	    table_lookup(host_v6, sizeof(host_v6) / sizeof(host_v6[0]), a->ip))
		return true;
	for (size_t i = 0; i < p->n_own; i++)
		if (turn_addr_ip_eq(&p->own[i], a))
			return true;
	return false;
}

/* The spellings of one peer that each rule matches (policy.h). */
struct peer_forms {
	const struct turn_addr *direct;
	struct turn_addr mapped; /* valid when has_mapped */
	struct turn_addr nat64; /* valid when has_nat64 */
	bool has_mapped;
	bool has_nat64;
};

/* The form of the peer that is an own address, or NULL. */
static const struct turn_addr *own_form(const struct turn_policy *p, const struct peer_forms *f)
{
	if (is_own(p, f->direct))
		return f->direct;
	if (f->has_mapped && is_own(p, &f->mapped))
		return &f->mapped;
	if (f->has_nat64 && is_own(p, &f->nat64))
		return &f->nat64;
	return NULL;
}

static bool is_listening_port(const struct turn_policy *p, uint16_t port)
{
	for (size_t i = 0; i < p->n_listening_ports; i++)
		if (p->listening_ports[i] == port)
			return true;
	return false;
}

/* Rule 1 (policy.h): an own address, unless it is a relay address on a
 * port with a live allocation (the hairpin), or allow-own-peers is set and
 * the port is not a listening one (a relay loop). */
static bool self_denied(const struct turn_policy *p, const struct peer_forms *f)
{
	const struct turn_addr *own = own_form(p, f);

	if (!own)
		return false;
	if (p->allow_own)
		return is_listening_port(p, own->port);
	return !p->relay_live || !p->relay_live(p->relay_ctx, own);
}

static bool allow_match(const struct turn_policy *p, const struct peer_forms *f)
{
	return in_ranges(p->allowed, p->n_allowed, f->direct) ||
	       (f->has_mapped && in_ranges(p->allowed, p->n_allowed, &f->mapped));
}

static bool deny_match(const struct turn_policy *p, const struct peer_forms *f)
{
	return in_ranges(p->denied, p->n_denied, f->direct) ||
	       (f->has_mapped && in_ranges(p->denied, p->n_denied, &f->mapped)) ||
	       (f->has_nat64 && in_ranges(p->denied, p->n_denied, &f->nat64));
}

static void peer_forms_fill(struct peer_forms *f, const struct turn_addr *peer)
{
	*f = (struct peer_forms){.direct = peer};
	f->has_mapped = embedded_v4(peer, mapped_prefix, &f->mapped);
	f->has_nat64 = embedded_v4(peer, nat64_prefix, &f->nat64);
}

/* Rules 2-5, after rule 1 let the peer through. */
static enum turn_peer_verdict ranges_verdict(const struct turn_policy *p,
					     const struct peer_forms *f)
{
	if (p && allow_match(p, f))
		return TURN_PEER_ALLOW;
	if (p && deny_match(p, f))
		return TURN_PEER_DENY_CONFIG;
	return turn_policy_default_class(f->direct) ? TURN_PEER_DENY_DEFAULT : TURN_PEER_ALLOW;
}

enum turn_peer_verdict turn_policy_check(const struct turn_policy *p, const struct turn_addr *peer)
{
	struct peer_forms f;

	if (turn_addr_iplen(peer) == 0)
		return TURN_PEER_DENY_DEFAULT;
	peer_forms_fill(&f, peer);
	if (p && self_denied(p, &f))
		return TURN_PEER_DENY_SELF;
	return ranges_verdict(p, &f);
}

/* Rule 1 by IP alone: an own address is refused on every port only when
 * neither exception can open one (allow-own-peers opens all but the
 * listening ports; relay_live may find a live relay port). */
enum turn_peer_verdict turn_policy_check_ip(const struct turn_policy *p,
					    const struct turn_addr *peer)
{
	struct peer_forms f;

	if (turn_addr_iplen(peer) == 0)
		return TURN_PEER_DENY_DEFAULT;
	peer_forms_fill(&f, peer);
	if (p && !p->allow_own && !p->relay_live && own_form(p, &f))
		return TURN_PEER_DENY_SELF;
	return ranges_verdict(p, &f);
}

bool turn_policy_live(const struct turn_policy *p, const struct turn_addr *peer)
{
	struct peer_forms f;

	if (!p || p->allow_own || !p->relay_live || turn_addr_iplen(peer) == 0)
		return false;
	peer_forms_fill(&f, peer);
	return own_form(p, &f) != NULL;
}

/* Store a mapped address as the IPv4 address it is (policy.h). */
static void unmap(struct turn_addr *a)
{
	struct turn_addr v4;

	if (embedded_v4(a, mapped_prefix, &v4))
		*a = v4;
}

static int copy_ranges(struct turn_addr_range **dst, const struct turn_addr_range *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = turn_addr_iplen(&src[i].lo);

		if (len == 0 || src[i].hi.family != src[i].lo.family ||
		    memcmp(src[i].lo.ip, src[i].hi.ip, len) > 0) {
			errno = EINVAL;
			return -1;
		}
	}
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return -1;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = src[i];
		/* Both ends mapped: the whole range is, since ::ffff:0:0/96
		 * is contiguous; it is then an IPv4 range. */
		if (turn_addr_is_v4mapped(&src[i].lo) && turn_addr_is_v4mapped(&src[i].hi)) {
			unmap(&(*dst)[i].lo);
			unmap(&(*dst)[i].hi);
		}
	}
	return 0;
}

static int copy_own(struct turn_addr **dst, const struct turn_addr *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (turn_addr_iplen(&src[i]) == 0) {
			errno = EINVAL;
			return -1;
		}
	}
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return -1;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = src[i];
		(*dst)[i].port = 0;
		unmap(&(*dst)[i]);
	}
	return 0;
}

static int copy_ports(uint16_t **dst, const uint16_t *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return -1;
	memcpy(*dst, src, n * sizeof(**dst));
	return 0;
}

struct turn_policy *turn_policy_new(const struct turn_policy_options *opt)
{
	static const struct turn_policy_options none;
	struct turn_policy *p;

	if (!opt)
		opt = &none;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (copy_ranges(&p->allowed, opt->allowed, opt->n_allowed) < 0 ||
	    copy_ranges(&p->denied, opt->denied, opt->n_denied) < 0 ||
	    copy_own(&p->own, opt->own, opt->n_own) < 0 ||
	    copy_ports(&p->listening_ports, opt->listening_ports, opt->n_listening_ports) < 0) {
		int saved = errno;

		turn_policy_free(p);
		errno = saved;
		return NULL;
	}
	p->n_allowed = opt->n_allowed;
	p->n_denied = opt->n_denied;
	p->n_own = opt->n_own;
	p->allow_own = opt->allow_own;
	p->n_listening_ports = opt->n_listening_ports;
	p->relay_live = opt->relay_live;
	p->relay_ctx = opt->relay_ctx;
	return p;
}

void turn_policy_free(struct turn_policy *p)
{
	if (!p)
		return;
	free(p->allowed);
	free(p->denied);
	free(p->own);
	free(p->listening_ports);
	free(p);
}

/* addr.c reads one colon outside brackets as "v4:port" and "]:" as the
 * start of an IPv6 port; a range takes bare addresses only. */
static int parse_ip(const char *text, struct turn_addr *out)
{
	const char *colon = strchr(text, ':');
	bool has_port;

	if (text[0] == '[')
		has_port = strstr(text, "]:") != NULL;
	else
		has_port = colon && !strchr(colon + 1, ':');
	if (has_port)
		return -1;
	if (turn_addr_parse(text, 0, out) < 0)
		return -1;
	return 0;
}

/* A prefix length: 1-3 decimal digits, at most max. */
static int parse_prefix_len(const char *text, unsigned max, unsigned *bits)
{
	size_t n = strlen(text);

	if (n == 0 || n > 3)
		return -1;
	*bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		*bits = *bits * 10 + (unsigned)(text[i] - '0');
	}
	return *bits <= max ? 0 : -1;
}

/* "addr/len": lo keeps the prefix with the host bits cleared, hi with them
 * set. */
static int parse_prefix(char *addr, const char *len_text, struct turn_addr_range *out)
{
	unsigned bits;
	size_t iplen;

	if (parse_ip(addr, &out->lo) < 0)
		return -1;
	iplen = turn_addr_iplen(&out->lo);
	if (parse_prefix_len(len_text, (unsigned)(iplen * 8), &bits) < 0)
		return -1;
	out->hi = out->lo;
	for (size_t i = 0; i < iplen; i++) {
		unsigned keep = bits >= 8 ? 8 : bits;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		bits -= keep;
		out->lo.ip[i] &= mask;
		out->hi.ip[i] |= (uint8_t)~mask;
	}
	return 0;
}

/* "addr" or "lo-hi"; no IPv6 address contains '-', so the first one
 * splits the range. */
static int parse_span(char *buf, struct turn_addr_range *out)
{
	char *dash = strchr(buf, '-');

	if (dash)
		*dash = '\0';
	if (parse_ip(buf, &out->lo) < 0)
		return -1;
	if (!dash) {
		out->hi = out->lo;
		return 0;
	}
	if (parse_ip(dash + 1, &out->hi) < 0 || out->hi.family != out->lo.family)
		return -1;
	return memcmp(out->lo.ip, out->hi.ip, turn_addr_iplen(&out->lo)) <= 0 ? 0 : -1;
}

int turn_addr_range_parse(const char *text, struct turn_addr_range *out)
{
	char buf[RANGE_TEXT_MAX];
	char *slash;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		rc = parse_prefix(buf, slash + 1, out);
	} else {
		rc = parse_span(buf, out);
	}
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
