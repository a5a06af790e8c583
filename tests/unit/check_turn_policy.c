/*
 * Unit tests for src/turn/policy: the peer-address policy (SECURITY.md,
 * "Where a relay may send"; RFC 8656 section 21).
 *
 * The default table is walked from an independent copy written as the
 * address space really is, in order and without overlaps: for every
 * segment the first and last address, and the addresses just before and
 * just past it, whose expected class comes from the neighbouring segment
 * or, when there is none, is public (allowed). A sweep then compares the
 * module with that copy across the whole IPv4 space at /20 granularity and
 * the IPv6 space at /16, so a row of that size or larger added to one but
 * not the other fails.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "turn/policy.h"
#include "util/addr.h"

struct segment {
	const char *range; /* in turn_addr_range_parse form */
	const char *cls; /* expected default class */
};

/* IPv4 special-purpose space (RFC 6890), ascending and disjoint. */
static const struct segment segments_v4[] = {
	{"0.0.0.0/8", "this-network"},
	{"10.0.0.0/8", "rfc1918"},
	{"100.64.0.0-100.100.100.199", "cgnat"},
	{"100.100.100.200", "metadata"},
	{"100.100.100.201-100.127.255.255", "cgnat"},
	{"127.0.0.0/8", "loopback"},
	{"168.63.129.16", "metadata"},
	{"169.254.0.0-169.254.169.253", "link-local"},
	{"169.254.169.254", "metadata"},
	{"169.254.169.255-169.254.255.255", "link-local"},
	{"172.16.0.0/12", "rfc1918"},
	{"192.0.0.0/24", "ietf-protocol"},
	{"192.88.99.0/24", "6to4"},
	{"192.168.0.0/16", "rfc1918"},
	{"198.18.0.0/15", "benchmarking"},
	{"224.0.0.0/4", "multicast"},
	{"240.0.0.0-255.255.255.254", "reserved"},
	{"255.255.255.255", "broadcast"},
};

/* IPv6, ascending and disjoint. The two /96 prefixes that embed IPv4
 * (::ffff:0:0/96 and 64:ff9b::/96) are left out: oracle_class() classifies
 * them by the embedded address, and they are walked on their own. */
static const struct segment segments_v6[] = {
	{"::", "unspecified"},
	{"::1", "loopback"},
	{"::2-::ffff:ffff", "ipv4-compatible"},
	{"::1:0:0-::fffe:ffff:ffff", "reserved"},
	{"::1:0:0:0-64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
	{"64:ff9b::1:0:0-64:ff9b:0:ffff:ffff:ffff:ffff:ffff", "reserved"},
	{"64:ff9b:1::/48", "nat64"},
	{"64:ff9b:2::-ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
	{"100::/64", "discard"},
	{"100:0:0:1::-1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
	{"2001::/32", "teredo"},
	{"2001:2::/48", "benchmarking"},
	{"2002::/16", "6to4"},
	{"4000::-fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
	{"fc00::-fd00:ec2::253", "ula"},
	{"fd00:ec2::254", "metadata"},
	{"fd00:ec2::255-fd20:ce::253", "ula"},
	{"fd20:ce::254", "metadata"},
	{"fd20:ce::255-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ula"},
	{"fe00::-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"},
	{"fe80::/10", "link-local"},
	{"fec0::/10", "site-local"},
	{"ff00::/8", "multicast"},
};

#define N_V4 (sizeof(segments_v4) / sizeof(segments_v4[0]))
#define N_V6 (sizeof(segments_v6) / sizeof(segments_v6[0]))

/* The segments parsed once in main(), before the tests fork. */
static struct turn_addr_range parsed_v4[N_V4];
static struct turn_addr_range parsed_v6[N_V6];

static struct turn_addr addr(const char *text)
{
	struct turn_addr a;

	ck_assert_msg(turn_addr_parse(text, 0, &a) == 0, "bad test address %s", text);
	return a;
}

static struct turn_addr_range range(const char *text)
{
	struct turn_addr_range r;

	ck_assert_msg(turn_addr_range_parse(text, &r) == 0, "bad test range %s", text);
	return r;
}

static const char *fmt(const struct turn_addr *a, char *buf)
{
	return turn_addr_format(a, true, buf, TURN_ADDR_STRLEN);
}

/* The IPv4 address embedded under a 96-bit prefix, as in RFC 4291 section
 * 2.5.5.2 and RFC 6052 section 2.2. */
static struct turn_addr with_prefix(const struct turn_addr *v4, const uint8_t prefix[12])
{
	struct turn_addr a = {.family = TURN_AF_INET6, .port = v4->port};

	memcpy(a.ip, prefix, 12);
	memcpy(a.ip + 12, v4->ip, 4);
	return a;
}

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_prefix[12] = {0x00, 0x64, 0xff, 0x9b};

/* The expected class from the segment tables alone. */
static const char *oracle_class(const struct turn_addr *a)
{
	const struct turn_addr_range *segs = a->family == TURN_AF_INET ? parsed_v4 : parsed_v6;
	size_t n = a->family == TURN_AF_INET ? N_V4 : N_V6;
	const struct segment *names = a->family == TURN_AF_INET ? segments_v4 : segments_v6;

	if (a->family == TURN_AF_INET6 &&
	    (memcmp(a->ip, mapped_prefix, 12) == 0 || memcmp(a->ip, nat64_prefix, 12) == 0)) {
		struct turn_addr v4 = {.family = TURN_AF_INET, .port = a->port};

		memcpy(v4.ip, a->ip + 12, 4);
		return oracle_class(&v4);
	}
	for (size_t i = 0; i < n; i++)
		if (turn_addr_range_contains(&segs[i], a))
			return names[i].cls;
	return NULL;
}

/* a + 1 or a - 1 over the address bytes; false when it would wrap. */
static bool step(const struct turn_addr *a, int dir, struct turn_addr *out)
{
	size_t n = turn_addr_iplen(a);
	uint8_t edge = dir > 0 ? 0xff : 0x00;

	*out = *a;
	for (size_t i = n; i-- > 0;) {
		if (out->ip[i] != edge) {
			out->ip[i] = (uint8_t)(out->ip[i] + dir);
			return true;
		}
		out->ip[i] = (uint8_t)(0xff - edge);
	}
	return false;
}

/* The module names a's class as expected, and the bare policy decides
 * accordingly: denied inside the table, allowed outside it. */
static void expect_class(const struct turn_addr *a, const char *cls)
{
	char buf[TURN_ADDR_STRLEN];
	const char *got = turn_policy_default_class(a);

	ck_assert_msg((got == NULL && cls == NULL) || (got && cls && strcmp(got, cls) == 0),
		      "%s: class %s, expected %s", fmt(a, buf), got ? got : "(public)",
		      cls ? cls : "(public)");
	ck_assert_msg(turn_policy_check(NULL, a) ==
			      (cls ? TURN_PEER_DENY_DEFAULT : TURN_PEER_ALLOW),
		      "%s: wrong verdict", fmt(a, buf));
}

static void expect_text(const char *text, const char *cls)
{
	struct turn_addr a = addr(text);

	expect_class(&a, cls);
}

/* Both ends of a segment, and one address past each end. */
static void walk_segment(const struct turn_addr_range *r, const char *cls)
{
	struct turn_addr outside;

	expect_class(&r->lo, cls);
	expect_class(&r->hi, cls);
	if (step(&r->lo, -1, &outside)) {
		ck_assert(!turn_addr_range_contains(r, &outside));
		expect_class(&outside, oracle_class(&outside));
	}
	if (step(&r->hi, +1, &outside)) {
		ck_assert(!turn_addr_range_contains(r, &outside));
		expect_class(&outside, oracle_class(&outside));
	}
}

START_TEST(tables_are_sorted_and_disjoint)
{
	for (size_t i = 1; i < N_V4; i++)
		ck_assert_msg(memcmp(parsed_v4[i - 1].hi.ip, parsed_v4[i].lo.ip, 4) < 0, "v4 %zu",
			      i);
	for (size_t i = 1; i < N_V6; i++)
		ck_assert_msg(memcmp(parsed_v6[i - 1].hi.ip, parsed_v6[i].lo.ip, 16) < 0, "v6 %zu",
			      i);
}
END_TEST

START_TEST(walk_v4)
{
	walk_segment(&parsed_v4[_i], segments_v4[_i].cls);
}
END_TEST

START_TEST(walk_v6)
{
	walk_segment(&parsed_v6[_i], segments_v6[_i].cls);
}
END_TEST

/* Every IPv4 segment spelt as ::ffff:a.b.c.d and 64:ff9b::a.b.c.d is
 * classified, and decided, as the IPv4 address it embeds. */
START_TEST(walk_v4_embedded)
{
	const struct turn_addr_range *r = &parsed_v4[_i];
	struct turn_addr probe[4];
	size_t n = 0;

	probe[n++] = r->lo;
	probe[n++] = r->hi;
	if (step(&r->lo, -1, &probe[n]))
		n++;
	if (step(&r->hi, +1, &probe[n]))
		n++;
	for (size_t k = 0; k < n; k++) {
		struct turn_addr m = with_prefix(&probe[k], mapped_prefix);
		struct turn_addr t = with_prefix(&probe[k], nat64_prefix);

		expect_class(&m, oracle_class(&probe[k]));
		expect_class(&t, oracle_class(&probe[k]));
	}
}
END_TEST

/* The two embedding /96 prefixes: both ends and one past each end. */
START_TEST(walk_embedding_prefixes)
{
	expect_text("::fffe:ffff:ffff", "reserved");
	expect_text("::ffff:0.0.0.0", "this-network");
	expect_text("::ffff:255.255.255.255", "broadcast");
	expect_text("::1:0:0:0", "reserved");
	expect_text("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "reserved");
	expect_text("64:ff9b::", "this-network");
	expect_text("64:ff9b::ffff:ffff", "broadcast");
	expect_text("64:ff9b::1:0:0", "reserved");
	/* Public IPv4 under either prefix is public. */
	expect_text("::ffff:1.0.0.0", NULL);
	expect_text("64:ff9b::1.0.0.0", NULL);
}
END_TEST

/* The module agrees with the tables on a. Plain comparisons, not
 * ck_assert: each passing ck_assert costs a write to Check's pipe. */
static void sweep_compare(const struct turn_addr *a)
{
	const char *want = oracle_class(a);
	const char *got = turn_policy_default_class(a);
	enum turn_peer_verdict v = turn_policy_check(NULL, a);
	char buf[TURN_ADDR_STRLEN];

	if (want != got && (!want || !got || strcmp(want, got) != 0))
		ck_abort_msg("%s: class %s, expected %s", fmt(a, buf), got ? got : "(public)",
			     want ? want : "(public)");
	if (v != (want ? TURN_PEER_DENY_DEFAULT : TURN_PEER_ALLOW))
		ck_abort_msg("%s: wrong verdict", fmt(a, buf));
}

/* Every /20 of IPv4, first and last address, against the tables. */
START_TEST(sweep_v4)
{
	struct turn_addr a = {.family = TURN_AF_INET};

	for (uint32_t block = 0; block < (1u << 20); block++) {
		for (uint32_t last = 0; last < 2; last++) {
			uint32_t ip = block << 12 | (last ? 0xfffu : 0);

			a.ip[0] = (uint8_t)(ip >> 24);
			a.ip[1] = (uint8_t)(ip >> 16);
			a.ip[2] = (uint8_t)(ip >> 8);
			a.ip[3] = (uint8_t)ip;
			sweep_compare(&a);
		}
	}
}
END_TEST

/* Every /16 of IPv6, first and last address, against the tables. */
START_TEST(sweep_v6)
{
	for (uint32_t block = 0; block < (1u << 16); block++) {
		struct turn_addr a = {.family = TURN_AF_INET6};

		a.ip[0] = (uint8_t)(block >> 8);
		a.ip[1] = (uint8_t)block;
		sweep_compare(&a);
		memset(a.ip + 2, 0xff, 14);
		sweep_compare(&a);
	}
}
END_TEST

START_TEST(unknown_family_is_denied)
{
	struct turn_addr none = {0};
	struct turn_policy *p = turn_policy_new(NULL);

	expect_class(&none, "invalid");
	ck_assert_int_eq(turn_policy_check(p, &none), TURN_PEER_DENY_DEFAULT);
	turn_policy_free(p);
}
END_TEST

START_TEST(brief_cases_without_options)
{
	expect_text("169.254.169.254", "metadata");
	expect_text("::ffff:127.0.0.1", "loopback");
	expect_text("::ffff:10.0.0.1", "rfc1918");
	expect_text("::ffff:8.8.8.8", NULL);
	expect_text("64:ff9b::7f00:1", "loopback");
	expect_text("64:ff9b::808:808", NULL);
	expect_text("64:ff9b::a9fe:a9fe", "metadata");
	expect_text("fd00:ec2::254", "metadata");
	expect_text("::127.0.0.1", "ipv4-compatible");
	expect_text("::8.8.8.8", "ipv4-compatible");
	expect_text("2002:c000:0201::1", "6to4");
	expect_text("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo");
	expect_text("2001:db8::1", NULL);
	expect_text("2606:4700:4700::1111", NULL);
	expect_text("8.8.8.8", NULL);
	expect_text("203.0.113.9", NULL);
}
END_TEST

/* The relay port pool, as the daemon's relay_live() sees it: the relay
 * addresses with a live allocation, and every question asked. */
struct fake_pool {
	const char *live[4];
	unsigned asked;
	struct turn_addr last;
};

static bool fake_relay_live(void *ctx, const struct turn_addr *peer)
{
	struct fake_pool *pool = ctx;

	pool->asked++;
	pool->last = *peer;
	for (size_t i = 0; i < 4 && pool->live[i]; i++) {
		struct turn_addr a = addr(pool->live[i]);

		if (turn_addr_eq(&a, peer))
			return true;
	}
	return false;
}

/* A policy written as text: lists end at the first NULL. */
struct policy_spec {
	const char *allowed[4];
	const char *denied[4];
	const char *own[4];
	bool allow_own;
	uint16_t listening[4]; /* ends at the first 0 */
	struct fake_pool *pool;
};

static struct turn_policy *policy(const struct policy_spec *spec)
{
	struct turn_addr_range a[4], d[4];
	struct turn_addr o[4];
	struct turn_policy_options opt = {
		.allowed = a,
		.denied = d,
		.own = o,
		.allow_own = spec->allow_own,
		.listening_ports = spec->listening,
		.relay_live = spec->pool ? fake_relay_live : NULL,
		.relay_ctx = spec->pool,
	};
	struct turn_policy *p;

	for (; opt.n_allowed < 4 && spec->allowed[opt.n_allowed]; opt.n_allowed++)
		a[opt.n_allowed] = range(spec->allowed[opt.n_allowed]);
	for (; opt.n_denied < 4 && spec->denied[opt.n_denied]; opt.n_denied++)
		d[opt.n_denied] = range(spec->denied[opt.n_denied]);
	for (; opt.n_own < 4 && spec->own[opt.n_own]; opt.n_own++)
		o[opt.n_own] = addr(spec->own[opt.n_own]);
	while (opt.n_listening_ports < 4 && spec->listening[opt.n_listening_ports])
		opt.n_listening_ports++;
	p = turn_policy_new(&opt);
	ck_assert_ptr_nonnull(p);
	return p;
}

static void expect(const struct turn_policy *p, const char *peer, enum turn_peer_verdict v)
{
	struct turn_addr a = addr(peer);

	ck_assert_msg(turn_policy_check(p, &a) == v, "%s: verdict %d, expected %d", peer,
		      (int)turn_policy_check(p, &a), (int)v);
}

/* Every host's own addresses, with no own list at all: the whole of
 * 127.0.0.0/8 (Linux delivers it locally), ::1, 0.0.0.0 and ::, on every
 * port and in every spelling, and allowed-peer-ip does not open them. */
START_TEST(loopback_and_unspecified_are_self)
{
	struct turn_policy *p = policy(&(struct policy_spec){
		.allowed = {"127.0.0.0/8", "::/0", "0.0.0.0/8"},
	});

	expect(p, "127.0.0.1:3478", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.1:5555", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.1:1", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.1:65535", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.0:1", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.2:6380", TURN_PEER_DENY_SELF);
	expect(p, "127.255.255.255:1", TURN_PEER_DENY_SELF);
	expect(p, "126.255.255.255:1", TURN_PEER_ALLOW);
	expect(p, "128.0.0.0:1", TURN_PEER_ALLOW);
	expect(p, "0.0.0.0:6380", TURN_PEER_DENY_SELF);
	expect(p, "0.0.0.1:1", TURN_PEER_ALLOW);
	expect(p, "[::1]:5555", TURN_PEER_DENY_SELF);
	expect(p, "[::]:5555", TURN_PEER_DENY_SELF);
	expect(p, "[::2]:5555", TURN_PEER_ALLOW);
	/* The mapped and NAT64 spellings are the same destination. */
	expect(p, "[::ffff:127.0.0.1]:5555", TURN_PEER_DENY_SELF);
	expect(p, "[::ffff:127.1.2.3]:1", TURN_PEER_DENY_SELF);
	expect(p, "[::ffff:0.0.0.0]:1", TURN_PEER_DENY_SELF);
	expect(p, "[64:ff9b::127.0.0.1]:5555", TURN_PEER_DENY_SELF);
	expect(p, "[64:ff9b::0.0.0.0]:5555", TURN_PEER_DENY_SELF);
	turn_policy_free(p);

	/* The same without any option (the default table alone would say
	 * DENY_DEFAULT; self comes first). */
	p = policy(&(struct policy_spec){0});
	expect(p, "127.0.0.1:5555", TURN_PEER_DENY_SELF);
	expect(p, "[::1]:5555", TURN_PEER_DENY_SELF);
	expect(p, "10.0.0.1:5555", TURN_PEER_DENY_DEFAULT);
	turn_policy_free(p);
}
END_TEST

/* A public own address (an interface, external-ip or relay address) is
 * denied on every port, in every spelling that reaches it. */
START_TEST(public_self_on_every_port_and_spelling)
{
	struct turn_policy *p = policy(&(struct policy_spec){
		.allowed = {"::/0", "203.0.113.0/24", "198.51.100.0/24"},
		.own = {"203.0.113.5", "::ffff:198.51.100.7", "2001:db8::1"},
	});

	expect(p, "203.0.113.5:3478", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.5:5555", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.5:1", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.5:65535", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.4:5555", TURN_PEER_ALLOW);
	expect(p, "203.0.113.6:5555", TURN_PEER_ALLOW);
	expect(p, "[::ffff:203.0.113.5]:6380", TURN_PEER_DENY_SELF);
	expect(p, "[64:ff9b::203.0.113.5]:6380", TURN_PEER_DENY_SELF);
	expect(p, "[64:ff9b::203.0.113.6]:6380", TURN_PEER_ALLOW);
	/* An own address given mapped is stored as IPv4. */
	expect(p, "198.51.100.7:9", TURN_PEER_DENY_SELF);
	expect(p, "[::ffff:198.51.100.7]:9", TURN_PEER_DENY_SELF);
	expect(p, "198.51.100.8:9", TURN_PEER_ALLOW);
	expect(p, "[2001:db8::1]:40000", TURN_PEER_DENY_SELF);
	expect(p, "[2001:db8::1]:1", TURN_PEER_DENY_SELF);
	expect(p, "[2001:db8::2]:40000", TURN_PEER_ALLOW);
	expect(p, "[2001:db8::0]:40000", TURN_PEER_ALLOW);
	turn_policy_free(p);
}
END_TEST

/* The hairpin: a relay address on a port with a live allocation is
 * allowed past rule 1, and then meets the other rules like any peer. */
START_TEST(hairpin_through_the_predicate)
{
	struct fake_pool pool = {.live = {"203.0.113.5:50000", "127.0.0.1:50002"}};
	struct turn_policy *p = policy(&(struct policy_spec){
		.allowed = {"127.0.0.1"},
		.own = {"203.0.113.5"},
		.pool = &pool,
	});
	struct turn_addr v4 = addr("203.0.113.5:50000");

	expect(p, "203.0.113.5:50000", TURN_PEER_ALLOW);
	expect(p, "203.0.113.5:50001", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.5:5555", TURN_PEER_DENY_SELF);
	/* The predicate is asked about the IPv4 form of a mapped spelling. */
	pool.asked = 0;
	expect(p, "[::ffff:203.0.113.5]:50000", TURN_PEER_ALLOW);
	ck_assert_uint_ge(pool.asked, 1);
	ck_assert(turn_addr_eq(&pool.last, &v4));
	expect(p, "[64:ff9b::203.0.113.5]:50000", TURN_PEER_ALLOW);
	expect(p, "[64:ff9b::203.0.113.5]:50001", TURN_PEER_DENY_SELF);
	/* Past rule 1, a loopback relay address needs allowed-peer-ip. */
	expect(p, "127.0.0.1:50002", TURN_PEER_ALLOW);
	expect(p, "127.0.0.1:50003", TURN_PEER_DENY_SELF);
	pool.live[2] = "127.0.0.2:50002";
	expect(p, "127.0.0.2:50002", TURN_PEER_DENY_DEFAULT);
	/* It is never asked about a peer that is not an own address. */
	pool.asked = 0;
	expect(p, "203.0.113.6:50000", TURN_PEER_ALLOW);
	expect(p, "10.0.0.1:50000", TURN_PEER_DENY_DEFAULT);
	ck_assert_uint_eq(pool.asked, 0);
	turn_policy_free(p);
}
END_TEST

/* allow-own-peers skips rule 1 but on the listening ports (a relay
 * loop); allowed, denied and the default table still decide. */
START_TEST(allow_own_opens_self_only)
{
	struct turn_policy *p = policy(&(struct policy_spec){
		.allowed = {"127.0.0.0/8", "::1"},
		.denied = {"198.51.100.7"},
		.own = {"203.0.113.5", "198.51.100.7", "10.1.1.1"},
		.allow_own = true,
		.listening = {3478, 5349},
	});

	expect(p, "127.0.0.1:5555", TURN_PEER_ALLOW);
	expect(p, "127.0.0.2:3479", TURN_PEER_ALLOW);
	expect(p, "203.0.113.5:5555", TURN_PEER_ALLOW);
	expect(p, "[::ffff:203.0.113.5]:5555", TURN_PEER_ALLOW);
	expect(p, "198.51.100.7:5555", TURN_PEER_DENY_CONFIG);
	expect(p, "10.1.1.1:5555", TURN_PEER_DENY_DEFAULT);
	expect(p, "[::1]:5555", TURN_PEER_ALLOW);
	expect(p, "[::2]:5555", TURN_PEER_DENY_DEFAULT);
	expect(p, "0.0.0.0:5555", TURN_PEER_DENY_DEFAULT);
	/* The listening ports stay refused on every own address. */
	expect(p, "127.0.0.1:3478", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.9:5349", TURN_PEER_DENY_SELF);
	expect(p, "[::1]:3478", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.5:5349", TURN_PEER_DENY_SELF);
	expect(p, "[::ffff:203.0.113.5]:3478", TURN_PEER_DENY_SELF);
	expect(p, "127.0.0.1:3477", TURN_PEER_ALLOW);
	expect(p, "203.0.113.6:3478", TURN_PEER_ALLOW);
	turn_policy_free(p);
}
END_TEST

static void expect_ip(const struct turn_policy *p, const char *peer, enum turn_peer_verdict v,
		      bool live)
{
	struct turn_addr a = addr(peer);

	ck_assert_msg(turn_policy_check_ip(p, &a) == v, "%s: IP verdict %d, expected %d", peer,
		      (int)turn_policy_check_ip(p, &a), (int)v);
	ck_assert_msg(turn_policy_live(p, &a) == live, "%s: live %d", peer, !live);
}

/* A permission's verdict (the IP on any port) and whether a verdict rests
 * on the relay ports in use: an own address is refused outright only
 * when neither the hairpin nor allow-own-peers can open a port of it. */
START_TEST(ip_verdict_and_live_dependence)
{
	struct fake_pool pool = {.live = {"203.0.113.5:50000"}};
	const struct policy_spec base = {
		.allowed = {"127.0.0.1"}, .denied = {"198.51.100.7"}, .own = {"203.0.113.5"},
	};
	struct policy_spec spec = base;
	struct turn_policy *p = policy(&spec);

	expect_ip(p, "203.0.113.5:50000", TURN_PEER_DENY_SELF, false);
	expect_ip(p, "[::ffff:203.0.113.5]:1", TURN_PEER_DENY_SELF, false);
	expect_ip(p, "127.0.0.1:1", TURN_PEER_DENY_SELF, false);
	expect_ip(p, "198.51.100.7:1", TURN_PEER_DENY_CONFIG, false);
	expect_ip(p, "10.0.0.1:1", TURN_PEER_DENY_DEFAULT, false);
	expect_ip(p, "198.51.100.8:1", TURN_PEER_ALLOW, false);
	turn_policy_free(p);
	spec.pool = &pool; /* the hairpin may open any port of an own address */
	p = policy(&spec);
	expect_ip(p, "203.0.113.5:5555", TURN_PEER_ALLOW, true);
	expect_ip(p, "[64:ff9b::203.0.113.5]:1", TURN_PEER_ALLOW, true);
	expect_ip(p, "127.0.0.1:1", TURN_PEER_ALLOW, true);
	expect_ip(p, "127.0.0.2:1", TURN_PEER_DENY_DEFAULT, true);
	expect_ip(p, "198.51.100.8:1", TURN_PEER_ALLOW, false);
	turn_policy_free(p);
	spec = base;
	spec.allow_own = true; /* all but the listening ports: no live state */
	spec.listening[0] = 3478;
	spec.pool = &pool;
	p = policy(&spec);
	expect_ip(p, "203.0.113.5:3478", TURN_PEER_ALLOW, false);
	expect_ip(p, "198.51.100.7:1", TURN_PEER_DENY_CONFIG, false);
	turn_policy_free(p);
	expect_ip(NULL, "203.0.113.5:1", TURN_PEER_ALLOW, false);
	expect_ip(NULL, "127.0.0.1:1", TURN_PEER_DENY_DEFAULT, false);
}
END_TEST

START_TEST(denied_public_range)
{
	struct turn_policy *p = policy(&(struct policy_spec){
		.denied = {"8.8.8.0/24", "2001:db8::/32", "192.168.0.0/16"},
	});

	expect(p, "8.8.8.0:1", TURN_PEER_DENY_CONFIG);
	expect(p, "8.8.8.255:1", TURN_PEER_DENY_CONFIG);
	expect(p, "8.8.7.255:1", TURN_PEER_ALLOW);
	expect(p, "8.8.9.0:1", TURN_PEER_ALLOW);
	/* Neither the mapped nor the NAT64 spelling gets around a deny. */
	expect(p, "[::ffff:8.8.8.8]:1", TURN_PEER_DENY_CONFIG);
	expect(p, "[64:ff9b::8.8.8.8]:1", TURN_PEER_DENY_CONFIG);
	expect(p, "[2001:db8::1]:1", TURN_PEER_DENY_CONFIG);
	expect(p, "[2001:db9::]:1", TURN_PEER_ALLOW);
	expect(p, "[2001:db7:ffff:ffff:ffff:ffff:ffff:ffff]:1", TURN_PEER_ALLOW);
	/* A configured deny is reported before the default table; outside
	 * the configured ranges the default table still applies. */
	expect(p, "192.168.0.1:1", TURN_PEER_DENY_CONFIG);
	expect(p, "10.0.0.1:1", TURN_PEER_DENY_DEFAULT);
	turn_policy_free(p);
}
END_TEST

START_TEST(allow_beats_deny_and_default)
{
	struct turn_policy *p = policy(&(struct policy_spec){
		.allowed = {"8.8.8.8", "10.0.0.0/8", "fd00::/8", "::ffff:192.168.1.0/120"},
		.denied = {"8.8.8.0/24", "10.1.0.0/16"},
	});

	expect(p, "8.8.8.8:1", TURN_PEER_ALLOW);
	expect(p, "8.8.8.9:1", TURN_PEER_DENY_CONFIG);
	expect(p, "8.8.8.7:1", TURN_PEER_DENY_CONFIG);
	expect(p, "10.1.2.3:1", TURN_PEER_ALLOW);
	expect(p, "10.0.0.0:1", TURN_PEER_ALLOW);
	expect(p, "10.255.255.255:1", TURN_PEER_ALLOW);
	expect(p, "[::ffff:10.0.0.1]:1", TURN_PEER_ALLOW);
	expect(p, "172.16.0.1:1", TURN_PEER_DENY_DEFAULT);
	expect(p, "[fd00:ec2::254]:1", TURN_PEER_ALLOW);
	expect(p, "[fc00::1]:1", TURN_PEER_DENY_DEFAULT);
	/* A mapped range is the IPv4 range it spells. */
	expect(p, "192.168.1.7:1", TURN_PEER_ALLOW);
	expect(p, "[::ffff:192.168.1.7]:1", TURN_PEER_ALLOW);
	expect(p, "192.168.2.7:1", TURN_PEER_DENY_DEFAULT);
	turn_policy_free(p);
}
END_TEST

/* An IPv6 range matches a mapped peer as written; IPv4 peers are not
 * matched against IPv6 ranges. */
START_TEST(ipv6_range_and_mapped_peer)
{
	struct turn_policy *p = policy(&(struct policy_spec){.allowed = {"::/0"}, .allow_own = true});

	expect(p, "[::1]:1", TURN_PEER_ALLOW);
	expect(p, "[::ffff:127.0.0.1]:1", TURN_PEER_ALLOW);
	expect(p, "127.0.0.1:1", TURN_PEER_DENY_DEFAULT);
	turn_policy_free(p);
}
END_TEST

START_TEST(new_copies_and_validates)
{
	struct turn_addr_range r[1] = {range("8.8.8.8")};
	struct turn_addr o[1] = {addr("203.0.113.5")};
	struct turn_policy_options opt = {.denied = r, .n_denied = 1, .own = o, .n_own = 1};
	struct turn_policy *p = turn_policy_new(&opt);

	ck_assert_ptr_nonnull(p);
	r[0] = range("9.9.9.9");
	o[0] = addr("203.0.113.6");
	expect(p, "8.8.8.8:1", TURN_PEER_DENY_CONFIG);
	expect(p, "9.9.9.9:1", TURN_PEER_ALLOW);
	expect(p, "203.0.113.5:3478", TURN_PEER_DENY_SELF);
	expect(p, "203.0.113.6:3478", TURN_PEER_ALLOW);
	turn_policy_free(p);

	p = turn_policy_new(NULL);
	ck_assert_ptr_nonnull(p);
	expect(p, "127.0.0.1:1", TURN_PEER_DENY_SELF);
	expect(p, "8.8.8.8:1", TURN_PEER_ALLOW);
	turn_policy_free(p);
	turn_policy_free(NULL);
}
END_TEST

static void expect_einval(const struct turn_policy_options *opt)
{
	errno = 0;
	ck_assert_ptr_null(turn_policy_new(opt));
	ck_assert_int_eq(errno, EINVAL);
}

START_TEST(new_rejects_malformed_entries)
{
	struct turn_addr_range r = {.lo = addr("10.0.0.2"), .hi = addr("10.0.0.1")};
	struct turn_addr o = {0};
	struct turn_addr_range ok = range("10.0.0.0/8");

	expect_einval(&(struct turn_policy_options){.allowed = &r, .n_allowed = 1});
	expect_einval(&(struct turn_policy_options){
		.allowed = &ok, .n_allowed = 1, .denied = &r, .n_denied = 1});
	r.hi = addr("::1");
	expect_einval(&(struct turn_policy_options){.denied = &r, .n_denied = 1});
	r = (struct turn_addr_range){0};
	expect_einval(&(struct turn_policy_options){.denied = &r, .n_denied = 1});
	/* An own address of no family would protect nothing. */
	expect_einval(&(struct turn_policy_options){.own = &o, .n_own = 1});
}
END_TEST

static void expect_range(const char *text, const char *lo, const char *hi)
{
	struct turn_addr_range r;
	struct turn_addr want_lo = addr(lo), want_hi = addr(hi);

	ck_assert_msg(turn_addr_range_parse(text, &r) == 0, "%s refused", text);
	ck_assert_msg(turn_addr_eq(&r.lo, &want_lo) && turn_addr_eq(&r.hi, &want_hi),
		      "%s: wrong ends", text);
}

START_TEST(range_parse_forms)
{
	expect_range("10.0.0.1", "10.0.0.1", "10.0.0.1");
	expect_range("10.0.0.10-10.0.0.20", "10.0.0.10", "10.0.0.20");
	expect_range("10.0.0.10-10.0.0.10", "10.0.0.10", "10.0.0.10");
	expect_range("10.1.2.3/8", "10.0.0.0", "10.255.255.255");
	expect_range("172.16.0.0/12", "172.16.0.0", "172.31.255.255");
	expect_range("100.64.0.0/10", "100.64.0.0", "100.127.255.255");
	expect_range("0.0.0.0/0", "0.0.0.0", "255.255.255.255");
	expect_range("1.2.3.4/32", "1.2.3.4", "1.2.3.4");
	expect_range("1.2.3.5/31", "1.2.3.4", "1.2.3.5");
	expect_range("1.2.3.4/08", "1.0.0.0", "1.255.255.255");
	expect_range("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	expect_range("2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	expect_range("fe80::/10", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	expect_range("fc00::/7", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	expect_range("::1/128", "::1", "::1");
	expect_range("[2001:db8::1]", "2001:db8::1", "2001:db8::1");
	expect_range("[2001:db8::]/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff");
	expect_range("::1-::2", "::1", "::2");
	expect_range("[::1]-[::2]", "::1", "::2");
	expect_range("::ffff:10.0.0.0/104", "::ffff:10.0.0.0", "::ffff:10.255.255.255");
}
END_TEST

START_TEST(range_parse_errors)
{
	static const char *const bad[] = {
		"",
		"x",
		"10.0.0",
		"10.0.0.256",
		"10.0.0.1-",
		"-10.0.0.1",
		"10.0.0.1--10.0.0.2",
		"10.0.0.2-10.0.0.1",
		"::2-::1",
		"10.0.0.1-::1",
		"::1-10.0.0.1",
		"::ffff:1.2.3.4-1.2.3.5",
		"10.0.0.0/33",
		"::/129",
		"10.0.0.0/",
		"/8",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/8x",
		"10.0.0.0/ 8",
		"10.0.0.0/0008",
		"10.0.0.0/99999999999999999999",
		"1.2.3.4/8/8",
		"10.0.0.1-10.0.0.2/8",
		"1.2.3.4-1.2.3.5-1.2.3.6",
		"10.0.0.1:80",
		"[::1]:80",
		"10.0.0.1:80-10.0.0.2",
		"10.0.0.1-10.0.0.2:80",
		"[::1]:80-[::2]",
		" 10.0.0.1",
		"10.0.0.1 ",
		"10.0.0.1 - 10.0.0.2",
		"[1.2.3.4]",
		"[::1",
		"::1]",
		"[::1]/",
		"fe80::1%eth0",
		"2001:db8::/32x",
	};
	char longtext[400];
	struct turn_addr_range r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0xa5, sizeof(r));
		ck_assert_msg(turn_addr_range_parse(bad[i], &r) == -1, "'%s' accepted", bad[i]);
		ck_assert_msg(r.lo.family == 0 && r.hi.family == 0, "'%s' left output", bad[i]);
	}
	memset(longtext, '1', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	ck_assert_int_eq(turn_addr_range_parse(longtext, &r), -1);
}
END_TEST

START_TEST(range_contains)
{
	struct turn_addr_range r = range("10.0.0.10-10.0.0.20");
	struct turn_addr a = addr("10.0.0.10:5");

	ck_assert(turn_addr_range_contains(&r, &a));
	a = addr("10.0.0.20:65535");
	ck_assert(turn_addr_range_contains(&r, &a));
	a = addr("10.0.0.9");
	ck_assert(!turn_addr_range_contains(&r, &a));
	a = addr("10.0.0.21");
	ck_assert(!turn_addr_range_contains(&r, &a));
	/* No mapping between families here. */
	a = addr("::ffff:10.0.0.15");
	ck_assert(!turn_addr_range_contains(&r, &a));
	a = (struct turn_addr){0};
	ck_assert(!turn_addr_range_contains(&r, &a));
	r = range("::/0");
	a = addr("10.0.0.15");
	ck_assert(!turn_addr_range_contains(&r, &a));
	a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert(turn_addr_range_contains(&r, &a));
}
END_TEST

static void parse_segments(void)
{
	for (size_t i = 0; i < N_V4; i++)
		if (turn_addr_range_parse(segments_v4[i].range, &parsed_v4[i]) < 0 ||
		    parsed_v4[i].lo.family != TURN_AF_INET)
			goto bad_v4;
	for (size_t i = 0; i < N_V6; i++)
		if (turn_addr_range_parse(segments_v6[i].range, &parsed_v6[i]) < 0 ||
		    parsed_v6[i].lo.family != TURN_AF_INET6)
			goto bad_v6;
	return;
bad_v4:
	fprintf(stderr, "check_turn_policy: bad IPv4 segment in the test table\n");
	exit(EXIT_FAILURE);
bad_v6:
	fprintf(stderr, "check_turn_policy: bad IPv6 segment in the test table\n");
	exit(EXIT_FAILURE);
}

static Suite *policy_suite(void)
{
	Suite *s = suite_create("turn_policy");
	TCase *table = tcase_create("default-table");
	TCase *sweep = tcase_create("sweep");
	TCase *rules = tcase_create("rules");
	TCase *parse = tcase_create("range");

	tcase_add_test(table, tables_are_sorted_and_disjoint);
	tcase_add_loop_test(table, walk_v4, 0, (int)N_V4);
	tcase_add_loop_test(table, walk_v6, 0, (int)N_V6);
	tcase_add_loop_test(table, walk_v4_embedded, 0, (int)N_V4);
	tcase_add_test(table, walk_embedding_prefixes);
	tcase_add_test(table, brief_cases_without_options);
	tcase_add_test(table, unknown_family_is_denied);
	/* Two million lookups: give the sanitizer build room. */
	tcase_set_timeout(sweep, 60);
	tcase_add_test(sweep, sweep_v4);
	tcase_add_test(sweep, sweep_v6);
	tcase_add_test(rules, loopback_and_unspecified_are_self);
	tcase_add_test(rules, public_self_on_every_port_and_spelling);
	tcase_add_test(rules, hairpin_through_the_predicate);
	tcase_add_test(rules, allow_own_opens_self_only);
	tcase_add_test(rules, ip_verdict_and_live_dependence);
	tcase_add_test(rules, denied_public_range);
	tcase_add_test(rules, allow_beats_deny_and_default);
	tcase_add_test(rules, ipv6_range_and_mapped_peer);
	tcase_add_test(rules, new_copies_and_validates);
	tcase_add_test(rules, new_rejects_malformed_entries);
	tcase_add_test(parse, range_parse_forms);
	tcase_add_test(parse, range_parse_errors);
	tcase_add_test(parse, range_contains);
	suite_add_tcase(s, table);
	suite_add_tcase(s, sweep);
	suite_add_tcase(s, rules);
	suite_add_tcase(s, parse);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	parse_segments();
	sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
