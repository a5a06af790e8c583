/*
 * Unit tests for what the TURN core does over time and on the data path
 * (src/turn/methods.c, datapath.c, server.c): lifetimes and expiry,
 * permissions and channels as seen through the protocol, ChannelData,
 * Send and Data indications, the bandwidth cap, EVEN-PORT reservations,
 * dual allocations, and that every relay and quota is given back however
 * an allocation ends. Fake io and clock from turn_harness.h.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "turn_harness.h"

#define SEC 1000ull /* ms */
#define PEER "198.51.100.1:4000"

/* Up with one allocated UDP client "alice" (LIFETIME lifetime, 0: none). */
static void up_allocated(struct harness *h, struct client *c, uint32_t lifetime)
{
	harness_up(h);
	client_init(c, h, "alice", "secret", 7, 40000);
	client_allocate(c, lifetime);
}

/* The allocation is gone: its relay closed, its quota back, and the
 * server answers 437 for it. */
static void assert_gone(struct harness *h, struct client *c)
{
	ck_assert_uint_eq(h->io.opens, h->io.closes);
	ck_assert_uint_eq(h->io.total, 0);
	ck_assert_uint_eq(turn_server_stats(h->srv)->allocations, 0);
	ck_assert_ptr_null(fake_relay_at(&h->io, &c->relayed[0]));
	client_challenge(c); /* a fresh NONCE, however long it has been */
	ck_assert_int_eq(client_permit(c, PEER), 437);
}

static void assert_alive(struct harness *h, struct client *c)
{
	ck_assert_uint_eq(h->io.closes, 0);
	ck_assert_uint_eq(turn_server_stats(h->srv)->allocations, 1);
	ck_assert_ptr_nonnull(fake_relay_at(&h->io, &c->relayed[0]));
}

/* Peer data from PEER: 0 delivered, -1 dropped. */
static int from_peer(struct client *c, const char *peer)
{
	uint8_t buf[256];
	struct turn_reply r = { buf, sizeof(buf), 0 };

	return peer_send(c, peer, "ping", 4, &r);
}

/* ---- An operator's close (turnctl kill) ---- */

/* turn_server_foreach's callback: ids[0] counts, ids[1..3] the ids. */
static void list_ids(void *arg, const struct turn_alloc *a)
{
	uint64_t *ids = arg;

	if (ids[0] < 3)
		ids[1 + ids[0]] = a->id;
	ids[0]++;
}

/* The DELETED event's reason (the last one recorded). */
static unsigned last_reason(const struct harness *h)
{
	for (unsigned i = h->io.n_syncs; i-- > 0;)
		if (h->io.syncs[i].why == -1)
			return h->io.syncs[i].reason;
	return 99;
}

START_TEST(operator_close_ends_exactly_one)
{
	struct harness h;
	struct client c, d;
	uint64_t ids[4] = { 0 };
	char gone_user[16];

	up_allocated(&h, &c, 0);
	client_init(&d, &h, "bob", "secret", 8, 40000);
	client_allocate(&d, 0);
	turn_server_foreach(h.srv, list_ids, ids);
	ck_assert_uint_eq(ids[0], 2);
	ck_assert_uint_ne(ids[1], ids[2]);
	struct turn_alloc *a = turn_server_alloc_by_id(h.srv, ids[1]);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(turn_server_alloc_by_id(h.srv, ids[1] + ids[2] + 1));
	ck_assert_uint_eq(a->created, T0_MS / 1000);
	snprintf(gone_user, sizeof(gone_user), "%s", a->username);
	bool alice = strcmp(gone_user, "alice") == 0;
	struct client *gone = alice ? &c : &d, *kept = alice ? &d : &c;
	turn_server_close(h.srv, a, TURN_CLOSE_KILLED);
	/* Its relay and quota are given back, its DELETED event says why,
	 * and its client's next request finds no allocation; the other's
	 * stays. */
	ck_assert_ptr_null(turn_server_alloc_by_id(h.srv, ids[1]));
	ck_assert_ptr_nonnull(turn_server_alloc_by_id(h.srv, ids[2]));
	ck_assert_uint_eq(h.io.closes, 1);
	ck_assert_ptr_null(fake_relay_at(&h.io, &gone->relayed[0]));
	ck_assert_uint_eq(fake_user_quota(&h.io, gone_user), 0);
	ck_assert_uint_eq(fake_user_quota(&h.io, alice ? "bob" : "alice"), 1);
	ck_assert_uint_eq(fake_syncs(&h.io, NULL, -1), 1);
	ck_assert_uint_eq(last_reason(&h), TURN_CLOSE_KILLED);
	ck_assert_str_eq(turn_close_reason_name(last_reason(&h)), "killed by operator");
	ck_assert_uint_eq(turn_server_stats(h.srv)->allocations, 1);
	ck_assert_int_eq(client_permit(gone, PEER), 437);
	ck_assert_int_eq(client_permit(kept, PEER), 0);
	/* The other one ends by expiry, and says so. */
	harness_advance(&h, 601 * SEC);
	ck_assert_uint_eq(last_reason(&h), TURN_CLOSE_EXPIRED);
	harness_down(&h);
}
END_TEST

/* ---- Lifetimes ---- */

START_TEST(lifetime_default_when_absent)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 600);
	harness_down(&h);
}
END_TEST

START_TEST(lifetime_clamped_to_maximum)
{
	struct harness h;
	struct client c, d;

	up_allocated(&h, &c, 100000);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 3600);
	harness_down(&h);
	harness_init(&h);
	h.opt.max_lifetime = 1800;
	harness_start(&h);
	client_init(&d, &h, "alice", "secret", 7, 40000);
	client_allocate(&d, 2000);
	ck_assert_uint_eq(resp_u32(&d, TURN_ATTR_LIFETIME), 1800);
	harness_down(&h);
}
END_TEST

START_TEST(lifetime_below_default_is_raised)
{
	struct harness h;
	struct client c, d;

	up_allocated(&h, &c, 60);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 600);
	client_init(&d, &h, "alice", "secret", 8, 40000);
	client_challenge(&d);
	client_begin(&d, TURN_METHOD_ALLOCATE);
	stun_build_transport(&d.b, TURN_TRANSPORT_UDP);
	stun_build_u32(&d.b, TURN_ATTR_LIFETIME, 0);
	ck_assert_int_eq(client_send(&d, AUTH_MI), 0);
	ck_assert_uint_eq(resp_u32(&d, TURN_ATTR_LIFETIME), 600);
	harness_down(&h);
}
END_TEST

/* RFC 8656 section 7.3: the same rule as for an Allocate. */
START_TEST(refresh_lifetimes)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 0);
	ck_assert_int_eq(client_refresh(&c, 1200), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 1200);
	ck_assert_uint_eq(client_alloc(&c)->expires, h.now_ms / 1000 + 1200);
	ck_assert_int_eq(client_refresh(&c, 99999), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 3600);
	ck_assert_int_eq(client_refresh(&c, 30), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 600);
	ck_assert_uint_eq(client_alloc(&c)->expires, h.now_ms / 1000 + 600);
	client_begin(&c, TURN_METHOD_REFRESH);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 600);
	harness_down(&h);
}
END_TEST

START_TEST(refresh_zero_deletes)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 0);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	ck_assert_int_eq(client_refresh(&c, 0), 0);
	ck_assert_uint_eq(resp_u32(&c, TURN_ATTR_LIFETIME), 0);
	ck_assert_uint_eq(h.io.closes, 1);
	assert_gone(&h, &c);
	ck_assert_int_eq(client_refresh(&c, 0), 437);
	/* The 5-tuple is free for a new allocation. */
	ck_assert_int_eq(client_try_allocate(&c, 0, 0, 0), 0);
	harness_down(&h);
}
END_TEST

START_TEST(expiry_at_the_exact_second)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 0);
	harness_advance(&h, 599 * SEC);
	assert_alive(&h, &c);
	harness_advance(&h, SEC);
	ck_assert_uint_eq(h.io.closes, 1);
	assert_gone(&h, &c);
	harness_down(&h);
}
END_TEST

START_TEST(expiry_beyond_the_wheel)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 3600);
	ck_assert_uint_gt(3600, TURN_WHEEL_SLOTS);
	for (int i = 0; i < 3599; i++)
		harness_advance(&h, SEC);
	assert_alive(&h, &c);
	harness_advance(&h, SEC);
	assert_gone(&h, &c);
	harness_down(&h);
}
END_TEST

START_TEST(refresh_moves_the_expiry)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 0);
	harness_advance(&h, 500 * SEC);
	ck_assert_int_eq(client_refresh(&c, 600), 0);
	harness_advance(&h, 599 * SEC);
	assert_alive(&h, &c);
	harness_advance(&h, SEC);
	ck_assert_uint_eq(h.io.closes, 1);
	harness_down(&h);
}
END_TEST

/* ---- Permissions and channels over time ---- */

START_TEST(permission_expires_at_300_seconds)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 3600);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	harness_advance(&h, 299 * SEC);
	ck_assert_int_eq(from_peer(&c, PEER), 0);
	harness_advance(&h, SEC);
	ck_assert_int_eq(from_peer(&c, PEER), -1);
	ck_assert_int_eq(client_send_ind(&c, PEER, "x", 1), -1);
	ck_assert_uint_eq(h.io.n_sends, 0);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	ck_assert_int_eq(from_peer(&c, PEER), 0);
	harness_down(&h);
}
END_TEST

START_TEST(create_permission_refreshes)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 3600);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	harness_advance(&h, 200 * SEC);
	ck_assert_int_eq(client_permit(&c, "198.51.100.1:9"), 0); /* same IP */
	harness_advance(&h, 299 * SEC);
	ck_assert_int_eq(from_peer(&c, PEER), 0);
	harness_advance(&h, SEC);
	ck_assert_int_eq(from_peer(&c, PEER), -1);
	harness_down(&h);
}
END_TEST

START_TEST(channel_bind_refreshes_its_permission)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 3600);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	harness_advance(&h, 250 * SEC);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	harness_advance(&h, 150 * SEC); /* 400 s after CreatePermission */
	ck_assert_int_eq(from_peer(&c, PEER), 0);
	harness_advance(&h, 150 * SEC); /* 300 s after ChannelBind */
	ck_assert_int_eq(from_peer(&c, PEER), -1);
	harness_down(&h);
}
END_TEST

START_TEST(channel_expires_at_600_seconds)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 3600);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	harness_advance(&h, 599 * SEC);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "abc", 3), 0);
	ck_assert_uint_eq(h.io.n_sends, 1);
	harness_advance(&h, SEC);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "abc", 3), -1);
	ck_assert_uint_eq(h.io.n_sends, 1);
	/* A rebind brings it back. */
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "abc", 3), 0);
	harness_down(&h);
}
END_TEST

/* ---- Data path ---- */

START_TEST(chandata_reaches_the_bound_peer)
{
	struct harness h;
	struct client c;
	struct turn_addr peer = addr_of(PEER);

	up_allocated(&h, &c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "hello", 5), 0);
	ck_assert_uint_eq(h.io.n_sends, 1);
	ck_assert(turn_addr_eq(&h.io.sends[0].peer, &peer));
	ck_assert_uint_eq(h.io.sends[0].len, 5);
	ck_assert_mem_eq(h.io.sends[0].data, "hello", 5);
	ck_assert_ptr_eq(h.io.sends[0].relay, fake_relay_at(&h.io, &c.relayed[0]));
	/* Unbound channel: dropped. */
	ck_assert_int_eq(client_chandata(&c, 0x4001, "hello", 5), -1);
	ck_assert_uint_eq(h.io.n_sends, 1);
	/* From another 5-tuple (no allocation): dropped. */
	struct client other;
	client_init(&other, &h, "alice", "secret", 7, 40001);
	ck_assert_int_eq(client_chandata(&other, 0x4000, "hello", 5), -1);
	ck_assert_uint_eq(h.io.n_sends, 1);
	ck_assert_uint_eq(turn_server_stats(h.srv)->relayed_to_peer, 1);
	harness_down(&h);
}
END_TEST

START_TEST(send_indication_reaches_the_peer)
{
	struct harness h;
	struct client c;
	struct turn_addr peer = addr_of(PEER);

	up_allocated(&h, &c, 0);
	ck_assert_int_eq(client_send_ind(&c, PEER, "hello", 5), -1);
	ck_assert_uint_eq(h.io.n_sends, 0);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	ck_assert_int_eq(client_send_ind(&c, PEER, "hello", 5), 0);
	ck_assert_uint_eq(h.io.n_sends, 1);
	ck_assert(turn_addr_eq(&h.io.sends[0].peer, &peer));
	ck_assert_mem_eq(h.io.sends[0].data, "hello", 5);
	/* An IPv6 peer on an IPv4-only allocation: dropped. */
	ck_assert_int_eq(client_send_ind(&c, "[2001:db8::1]:4000", "hello", 5), -1);
	ck_assert_uint_eq(h.io.n_sends, 1);
	harness_down(&h);
}
END_TEST

START_TEST(peer_data_becomes_a_data_indication)
{
	struct harness h;
	struct client c;
	struct turn_addr peer = addr_of(PEER), got;
	uint8_t buf[256];
	struct turn_reply r = { buf, sizeof(buf), 0 };
	struct stun_msg m;

	up_allocated(&h, &c, 0);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	ck_assert_int_eq(peer_send(&c, PEER, "hello", 5, &r), 0);
	ck_assert_int_eq(stun_msg_parse(&m, buf, r.len), 0);
	ck_assert_uint_eq(m.method, TURN_METHOD_DATA);
	ck_assert_uint_eq(m.cls, STUN_CLASS_INDICATION);
	const struct stun_attr *pa = stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS);
	ck_assert_ptr_nonnull(pa);
	ck_assert_int_eq(stun_attr_get_xor_addr(&m, pa, &got), 0);
	ck_assert(turn_addr_eq(&got, &peer));
	const struct stun_attr *d = stun_msg_find(&m, TURN_ATTR_DATA);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->len, 5);
	ck_assert_mem_eq(stun_attr_value(&m, d), "hello", 5);
	ck_assert_uint_eq(turn_server_stats(h.srv)->relayed_to_client, 1);
	harness_down(&h);
}
END_TEST

START_TEST(peer_data_without_permission_is_dropped)
{
	struct harness h;
	struct client c;

	up_allocated(&h, &c, 0);
	ck_assert_int_eq(from_peer(&c, PEER), -1);
	ck_assert_int_eq(client_permit(&c, "198.51.100.2:4000"), 0);
	ck_assert_int_eq(from_peer(&c, PEER), -1);
	ck_assert_int_eq(from_peer(&c, "198.51.100.2:1"), 0); /* any port of it */
	ck_assert_uint_eq(turn_server_stats(h.srv)->peer_denied, 2);
	harness_down(&h);
}
END_TEST

/* With a channel, peer data comes as ChannelData: unpadded over UDP,
 * padded to 4 over TCP (RFC 8656 section 12.5). */
static void check_chandata_framing(bool tcp)
{
	struct harness h;
	struct client c;
	uint8_t buf[256];
	struct turn_reply r = { buf, sizeof(buf), 0 };
	struct turn_chandata cd;

	harness_up(&h);
	if (tcp)
		client_init_tcp(&c, &h, "alice", "secret", 7, 40000);
	else
		client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	ck_assert_int_eq(peer_send(&c, PEER, "hello", 5, &r), 0);
	ck_assert_uint_eq(r.len, tcp ? 12 : 9);
	ck_assert_int_eq(turn_chandata_parse(buf, r.len, &cd), 0);
	ck_assert_uint_eq(cd.channel, 0x4000);
	ck_assert_uint_eq(cd.len, 5);
	ck_assert_mem_eq(cd.data, "hello", 5);
	if (tcp)
		ck_assert_mem_eq(buf + 9, "\0\0\0", 3);
	/* Another port of the same IP has the permission but no channel. */
	ck_assert_int_eq(peer_send(&c, "198.51.100.1:4001", "hello", 5, &r), 0);
	ck_assert(stun_msg_is_stun(buf, r.len));
	harness_down(&h);
}

START_TEST(peer_data_on_a_channel_udp)
{
	check_chandata_framing(false);
}
END_TEST

START_TEST(peer_data_on_a_channel_tcp)
{
	check_chandata_framing(true);
}
END_TEST

/* ---- ICMP (RFC 8656 section 11.5) ---- */

/* A server that can open IPv6 relays, and alice with an IPv6 one only. */
static void up_ipv6(struct harness *h, struct client *c)
{
	harness_init(h);
	h->io.ipv6 = true;
	harness_start(h);
	client_init(c, h, "alice", "secret", 7, 40000);
	client_challenge(c);
	ck_assert_int_eq(client_try_allocate(c, 0, TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6),
			 0);
}

/* An ICMP error about a datagram to peer: 0 relayed (the Data indication
 * parsed into m), -1 dropped. */
static int icmp_from(struct client *c, const char *peer, uint8_t type, uint8_t code,
		     uint32_t info, uint8_t *buf, size_t cap, struct stun_msg *m)
{
	struct turn_addr p = addr_of(peer);
	struct turn_reply r = { buf, cap, 0 };
	const struct turn_tuple *to = NULL;
	const struct turn_peer_event ev = { .alloc = client_alloc(c), .peer = &p, .type = type,
					    .code = code, .info = info, .now_ms = c->h->now_ms };
	int rc = turn_server_peer_icmp(c->h->srv, &ev, &r, &to);

	if (rc < 0) {
		ck_assert_uint_eq(r.len, 0);
		return rc;
	}
	ck_assert_ptr_nonnull(to);
	ck_assert(turn_addr_eq(&to->client, &c->tuple.client));
	ck_assert_int_eq(stun_msg_parse(m, buf, r.len), 0);
	return 0;
}

START_TEST(icmp_becomes_a_data_indication)
{
	struct harness h;
	struct client c;
	struct turn_addr got, peer = addr_of("198.51.100.1:9");
	uint8_t buf[256], type, code;
	uint32_t data;
	struct stun_msg m;

	up_allocated(&h, &c, 0);
	/* Without a permission for the IP: dropped. */
	ck_assert_int_eq(icmp_from(&c, "198.51.100.1:9", 3, 3, 0, buf, sizeof(buf), &m), -1);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	/* Any port of a permitted IP, and a channel changes nothing. */
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	ck_assert_int_eq(icmp_from(&c, "198.51.100.1:9", 3, 3, 1234, buf, sizeof(buf), &m), 0);
	ck_assert_uint_eq(m.method, TURN_METHOD_DATA);
	ck_assert_uint_eq(m.cls, STUN_CLASS_INDICATION);
	ck_assert_int_eq(stun_attr_get_xor_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS),
						&got), 0);
	ck_assert(turn_addr_eq(&got, &peer));
	ck_assert_ptr_null(stun_msg_find(&m, TURN_ATTR_DATA));
	ck_assert_int_eq(stun_attr_get_icmp(&m, stun_msg_find(&m, TURN_ATTR_ICMP), &type, &code,
					    &data), 0);
	ck_assert_uint_eq(type, 3);
	ck_assert_uint_eq(code, 3);
	ck_assert_uint_eq(data, 0); /* no MTU in a port unreachable */
	/* Fragmentation needed: the next hop's MTU. */
	ck_assert_int_eq(icmp_from(&c, PEER, 3, 4, 1280, buf, sizeof(buf), &m), 0);
	ck_assert_int_eq(stun_attr_get_icmp(&m, stun_msg_find(&m, TURN_ATTR_ICMP), &type, &code,
					    &data), 0);
	ck_assert_uint_eq(code, 4);
	ck_assert_uint_eq(data, 1280);
	/* Time exceeded is relayed; echo reply, redirect, source quench are not. */
	ck_assert_int_eq(icmp_from(&c, PEER, 11, 0, 0, buf, sizeof(buf), &m), 0);
	ck_assert_int_eq(icmp_from(&c, PEER, 0, 0, 0, buf, sizeof(buf), &m), -1);
	ck_assert_int_eq(icmp_from(&c, PEER, 5, 1, 0, buf, sizeof(buf), &m), -1);
	ck_assert_int_eq(icmp_from(&c, PEER, 4, 0, 0, buf, sizeof(buf), &m), -1);
	ck_assert_uint_eq(turn_server_stats(h.srv)->icmp_to_client, 3);
	/* No room for the indication: dropped, not truncated. */
	ck_assert_int_eq(icmp_from(&c, PEER, 3, 3, 0, buf, 24, &m), -1);
	harness_down(&h);
}
END_TEST

START_TEST(icmpv6_types)
{
	struct harness h;
	struct client c;
	uint8_t buf[256], type, code;
	uint32_t data;
	struct stun_msg m;

	up_ipv6(&h, &c);
	ck_assert_int_eq(client_permit(&c, "[2001:db8::1]:9"), 0);
	/* Destination unreachable, packet too big (with its MTU), time
	 * exceeded; not echo request (128) nor parameter problem (4). */
	ck_assert_int_eq(icmp_from(&c, "[2001:db8::1]:9", 1, 4, 0, buf, sizeof(buf), &m), 0);
	ck_assert_int_eq(icmp_from(&c, "[2001:db8::1]:9", 2, 0, 1400, buf, sizeof(buf), &m), 0);
	ck_assert_int_eq(stun_attr_get_icmp(&m, stun_msg_find(&m, TURN_ATTR_ICMP), &type, &code,
					    &data), 0);
	ck_assert_uint_eq(type, 2);
	ck_assert_uint_eq(data, 1400);
	ck_assert_int_eq(icmp_from(&c, "[2001:db8::1]:9", 3, 0, 0, buf, sizeof(buf), &m), 0);
	ck_assert_int_eq(icmp_from(&c, "[2001:db8::1]:9", 4, 0, 0, buf, sizeof(buf), &m), -1);
	ck_assert_int_eq(icmp_from(&c, "[2001:db8::1]:9", 128, 0, 0, buf, sizeof(buf), &m), -1);
	harness_down(&h);
}
END_TEST

/* ---- Bandwidth cap ---- */

START_TEST(bandwidth_cap)
{
	struct harness h;
	struct client c;
	uint8_t data[100] = { 0 };

	harness_init(&h);
	h.opt.max_bps = 1000;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	/* 2000 bytes within one millisecond: a second's worth goes. */
	for (int i = 0; i < 20; i++)
		client_chandata(&c, 0x4000, data, sizeof(data));
	ck_assert_uint_eq(h.io.n_sends, 10);
	ck_assert_uint_eq(turn_server_stats(h.srv)->bandwidth_drops, 10);
	/* Peer to client shares the bucket. */
	ck_assert_int_eq(from_peer(&c, PEER), -1);
	harness_advance(&h, SEC);
	for (int i = 0; i < 20; i++)
		client_chandata(&c, 0x4000, data, sizeof(data));
	ck_assert_uint_eq(h.io.n_sends, 20);
	harness_down(&h);
}
END_TEST

/* A rate under 1000 bytes/s refills less than a byte per millisecond;
 * traffic every millisecond must not starve the bucket. */
START_TEST(bandwidth_refill_keeps_fractions)
{
	struct harness h;
	struct client c;
	uint8_t data[500] = { 0 };

	harness_init(&h);
	h.opt.max_bps = 500;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	ck_assert_int_eq(client_chandata(&c, 0x4000, data, sizeof(data)), 0);
	for (int ms = 0; ms < 1000; ms++) {
		h.now_ms++;
		client_chandata(&c, 0x4000, data, 1);
	}
	/* 500 bytes/s for one second: one byte every 2 ms. */
	ck_assert_uint_ge(h.io.n_sends, 1 + 499);
	ck_assert_uint_le(h.io.n_sends, 1 + 500);
	harness_down(&h);
}
END_TEST

/* Long uptimes: the refill must not overflow. */
START_TEST(bandwidth_after_a_long_uptime)
{
	struct harness h;
	struct client c;
	uint8_t data[1000] = { 0 };

	harness_init(&h);
	h.opt.max_bps = 1ull << 32;
	h.now_ms = 1ull << 32; /* 50 days */
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, PEER), 0);
	ck_assert_int_eq(client_chandata(&c, 0x4000, data, sizeof(data)), 0);
	ck_assert_uint_eq(h.io.n_sends, 1);
	harness_down(&h);
}
END_TEST

/* ---- Everything given back, however it ended ---- */

START_TEST(tcp_close_ends_the_allocation)
{
	struct harness h;
	struct client c;

	harness_up(&h);
	client_init_tcp(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	turn_server_client_closed(h.srv, &c.tuple);
	ck_assert_uint_eq(h.io.closes, 1);
	assert_gone(&h, &c);
	/* Closing again, or a 5-tuple without allocation, does nothing. */
	turn_server_client_closed(h.srv, &c.tuple);
	ck_assert_uint_eq(h.io.closes, 1);
	harness_down(&h);
}
END_TEST

START_TEST(server_free_gives_everything_back)
{
	struct harness h;
	struct client a1, a2, b;

	harness_init(&h);
	h.io.ipv6 = true;
	harness_start(&h);
	client_init(&a1, &h, "alice", "secret", 7, 40000);
	client_init_tcp(&a2, &h, "alice", "secret", 7, 40001);
	client_init(&b, &h, "bob", "hunter2", 8, 40000);
	client_allocate(&a1, 0);
	client_allocate(&a2, 3600);
	client_challenge(&b);
	ck_assert_int_eq(client_try_allocate(&b, 0, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6),
			 0);
	ck_assert_int_eq(client_bind(&b, 0x4000, PEER), 0);
	ck_assert_uint_eq(h.io.opens, 4);
	ck_assert_uint_eq(fake_user_quota(&h.io, "alice"), 2);
	ck_assert_uint_eq(h.io.total, 3);
	harness_down(&h); /* checks opens == closes and quotas at 0 */
	ck_assert_uint_eq(h.io.closes, 4);
}
END_TEST

START_TEST(expiry_of_many_gives_everything_back)
{
	struct harness h;
	struct client c[10];

	harness_up(&h);
	for (int i = 0; i < 10; i++) {
		client_init(&c[i], &h, i % 2 ? "alice" : "bob", "pw", 10 + i, 40000);
		client_allocate(&c[i], (uint32_t)(600 + 100 * i));
	}
	ck_assert_uint_eq(h.io.total, 10);
	harness_advance(&h, 1099 * SEC);
	ck_assert_uint_eq(h.io.closes, 5); /* 600 ... 1000 s */
	ck_assert_uint_eq(h.io.total, 5);
	harness_advance(&h, 400 * SEC);
	ck_assert_uint_eq(h.io.closes, 9);
	harness_advance(&h, SEC);
	ck_assert_uint_eq(h.io.closes, 10);
	ck_assert_uint_eq(h.io.total, 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->allocations, 0);
	ck_assert_uint_eq(turn_server_stats(h.srv)->allocations_total, 10);
	harness_down(&h);
}
END_TEST

/* ---- EVEN-PORT, RESERVATION-TOKEN, address families ---- */

START_TEST(even_port_reserves_the_next)
{
	struct harness h;
	struct client a, b, z;
	uint64_t token = 0;

	harness_up(&h);
	client_init(&a, &h, "alice", "secret", 7, 40000);
	client_init(&b, &h, "alice", "secret", 8, 40000);
	client_init(&z, &h, "alice", "secret", 9, 40000);
	h.io.ports = 1; /* the next free port is odd */
	client_challenge(&a);
	stun_build_transport(client_begin(&a, TURN_METHOD_ALLOCATE), TURN_TRANSPORT_UDP);
	stun_build_even_port(&a.b, true);
	ck_assert_int_eq(client_send(&a, AUTH_MI), 0);
	struct turn_addr ra = resp_xor_addr(&a, TURN_ATTR_XOR_RELAYED_ADDRESS, 0);
	ck_assert_uint_eq(ra.port % 2, 0);
	const struct stun_attr *t = resp_attr(&a, TURN_ATTR_RESERVATION_TOKEN, 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(stun_attr_get_u64(&a.out, t, &token), 0);
	/* Another 5-tuple claims the reserved port with the token. */
	client_challenge(&b);
	stun_build_transport(client_begin(&b, TURN_METHOD_ALLOCATE), TURN_TRANSPORT_UDP);
	stun_build_u64(&b.b, TURN_ATTR_RESERVATION_TOKEN, token);
	ck_assert_int_eq(client_send(&b, AUTH_MI), 0);
	struct turn_addr rb = resp_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, 0);
	ck_assert(turn_addr_ip_eq(&ra, &rb));
	ck_assert_uint_eq(rb.port, ra.port + 1);
	ck_assert(!resp_has(&b, TURN_ATTR_RESERVATION_TOKEN));
	/* A token used up, or never issued: 400. */
	client_challenge(&z);
	stun_build_transport(client_begin(&z, TURN_METHOD_ALLOCATE), TURN_TRANSPORT_UDP);
	stun_build_u64(&z.b, TURN_ATTR_RESERVATION_TOKEN, token);
	ck_assert_int_eq(client_send(&z, AUTH_MI), 400);
	stun_build_transport(client_begin(&z, TURN_METHOD_ALLOCATE), TURN_TRANSPORT_UDP);
	stun_build_u64(&z.b, TURN_ATTR_RESERVATION_TOKEN, 0x1234);
	ck_assert_int_eq(client_send(&z, AUTH_MI), 400);
	ck_assert_uint_eq(h.io.total, 2);
	/* EVEN-PORT without R: an even port and no token. */
	stun_build_transport(client_begin(&z, TURN_METHOD_ALLOCATE), TURN_TRANSPORT_UDP);
	stun_build_even_port(&z.b, false);
	ck_assert_int_eq(client_send(&z, AUTH_MI), 0);
	ck_assert_uint_eq(resp_xor_addr(&z, TURN_ATTR_XOR_RELAYED_ADDRESS, 0).port % 2, 0);
	ck_assert(!resp_has(&z, TURN_ATTR_RESERVATION_TOKEN));
	harness_down(&h);
}
END_TEST

START_TEST(dual_allocation)
{
	struct harness h;
	struct client c;
	struct turn_addr v6peer = addr_of("[2001:db8::99]:4000");

	harness_init(&h);
	h.io.ipv6 = true;
	harness_start(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(client_try_allocate(&c, 0, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6),
			 0);
	ck_assert_ptr_nonnull(resp_attr(&c, TURN_ATTR_XOR_RELAYED_ADDRESS, 1));
	ck_assert_uint_eq(c.relayed[0].family, TURN_AF_INET);
	ck_assert_uint_eq(c.relayed[1].family, TURN_AF_INET6);
	ck_assert(!resp_has(&c, TURN_ATTR_ADDRESS_ERROR_CODE));
	ck_assert_uint_eq(h.io.total, 1); /* one allocation, two relays */
	ck_assert_int_eq(client_permit(&c, PEER), 0);
	ck_assert_int_eq(client_permit(&c, "[2001:db8::99]:4000"), 0);
	ck_assert_int_eq(client_send_ind(&c, "[2001:db8::99]:4000", "six", 3), 0);
	ck_assert_int_eq(client_send_ind(&c, PEER, "four", 4), 0);
	ck_assert_uint_eq(h.io.n_sends, 2);
	ck_assert(turn_addr_eq(&h.io.sends[0].peer, &v6peer));
	ck_assert_ptr_eq(h.io.sends[0].relay, fake_relay_at(&h.io, &c.relayed[1]));
	ck_assert_ptr_eq(h.io.sends[1].relay, fake_relay_at(&h.io, &c.relayed[0]));
	/* Refresh 0 closes both. */
	ck_assert_int_eq(client_refresh(&c, 0), 0);
	ck_assert_uint_eq(h.io.closes, 2);
	harness_down(&h);
}
END_TEST

START_TEST(dual_allocation_without_ipv6)
{
	struct harness h;
	struct client c;
	uint8_t family = 0;
	int code = 0;
	const uint8_t *reason;
	size_t rlen;

	harness_up(&h);
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_challenge(&c);
	ck_assert_int_eq(client_try_allocate(&c, 0, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6),
			 0);
	ck_assert_ptr_null(resp_attr(&c, TURN_ATTR_XOR_RELAYED_ADDRESS, 1));
	ck_assert_uint_eq(c.relayed[0].family, TURN_AF_INET);
	const struct stun_attr *e = resp_attr(&c, TURN_ATTR_ADDRESS_ERROR_CODE, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(stun_attr_get_error(&c.out, e, &family, &code, &reason, &rlen), 0);
	ck_assert_uint_eq(family, STUN_FAMILY_IPV6);
	ck_assert_int_eq(code, 440);
	ck_assert_int_eq(client_permit(&c, "[2001:db8::99]:4000"), 443);
	ck_assert_uint_eq(h.io.opens, 1);
	harness_down(&h);
}
END_TEST

START_TEST(ipv6_allocation)
{
	struct harness h;
	struct client c;

	up_ipv6(&h, &c);
	ck_assert_uint_eq(c.relayed[0].family, 0);
	ck_assert_uint_eq(c.relayed[1].family, TURN_AF_INET6);
	ck_assert_int_eq(client_permit(&c, PEER), 443);
	ck_assert_int_eq(client_permit(&c, "[2001:db8::99]:4000"), 0);
	ck_assert_int_eq(from_peer(&c, "[2001:db8::99]:1"), 0);
	client_begin(&c, TURN_METHOD_REFRESH);
	stun_build_family(&c.b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV4);
	ck_assert_int_eq(client_send(&c, AUTH_MI), 443);
	harness_down(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_relay");
	TCase *life = tcase_create("lifetimes");
	TCase *data = tcase_create("datapath");
	TCase *alloc = tcase_create("allocations");

	tcase_add_test(life, lifetime_default_when_absent);
	tcase_add_test(life, lifetime_clamped_to_maximum);
	tcase_add_test(life, lifetime_below_default_is_raised);
	tcase_add_test(life, refresh_lifetimes);
	tcase_add_test(life, refresh_zero_deletes);
	tcase_add_test(life, expiry_at_the_exact_second);
	tcase_add_test(life, expiry_beyond_the_wheel);
	tcase_add_test(life, refresh_moves_the_expiry);
	tcase_add_test(life, permission_expires_at_300_seconds);
	tcase_add_test(life, create_permission_refreshes);
	tcase_add_test(life, channel_bind_refreshes_its_permission);
	tcase_add_test(life, channel_expires_at_600_seconds);
	tcase_add_test(data, chandata_reaches_the_bound_peer);
	tcase_add_test(data, send_indication_reaches_the_peer);
	tcase_add_test(data, peer_data_becomes_a_data_indication);
	tcase_add_test(data, peer_data_without_permission_is_dropped);
	tcase_add_test(data, peer_data_on_a_channel_udp);
	tcase_add_test(data, peer_data_on_a_channel_tcp);
	tcase_add_test(data, icmp_becomes_a_data_indication);
	tcase_add_test(data, icmpv6_types);
	tcase_add_test(data, bandwidth_cap);
	tcase_add_test(data, bandwidth_refill_keeps_fractions);
	tcase_add_test(data, bandwidth_after_a_long_uptime);
	tcase_add_test(alloc, tcp_close_ends_the_allocation);
	tcase_add_test(alloc, server_free_gives_everything_back);
	tcase_add_test(alloc, expiry_of_many_gives_everything_back);
	tcase_add_test(alloc, even_port_reserves_the_next);
	tcase_add_test(alloc, dual_allocation);
	tcase_add_test(alloc, operator_close_ends_exactly_one);
	tcase_add_test(alloc, dual_allocation_without_ipv6);
	tcase_add_test(alloc, ipv6_allocation);
	suite_add_tcase(s, life);
	suite_add_tcase(s, data);
	suite_add_tcase(s, alloc);
	return run_suite(s);
}
