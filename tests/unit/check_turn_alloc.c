/* Unit tests for src/turn/alloc.c: the allocation table, the timer wheel,
 * permissions (RFC 8656 section 9) and channels (section 12), as plain data
 * structures driven by a clock in seconds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "turn/alloc.h"

#include "testutil.h"

#define NOW 100000u /* any second of the caller's monotonic clock */

/* A distinct UDP 5-tuple for every n: client 10.n.n.n, port from n. */
static struct turn_tuple tuple_n(uint32_t n)
{
	struct turn_tuple t = { .transport = TURN_TRANSPORT_UDP };

	t.client.family = TURN_AF_INET;
	t.client.ip[0] = 10;
	t.client.ip[1] = (uint8_t)(n >> 16);
	t.client.ip[2] = (uint8_t)(n >> 8);
	t.client.ip[3] = (uint8_t)n;
	t.client.port = (uint16_t)(1024 + n % 60000);
	t.local.family = TURN_AF_INET;
	t.local.ip[0] = 192;
	t.local.ip[2] = 2;
	t.local.ip[3] = 1;
	t.local.port = 3478;
	return t;
}

static struct turn_addr addr(const char *text)
{
	struct turn_addr a;

	ck_assert_msg(turn_addr_parse(text, 0, &a) == 0, "bad address %s", text);
	return a;
}

/* What the wheel reported: each expiry frees (or re-arms) the allocation. */
struct expiry_log {
	struct turn_alloc_table *t;
	unsigned n;
	struct turn_alloc *last;
	uint32_t rearm_by; /* re-arm this many seconds later instead of freeing, once */
};

static void on_expire(void *arg, struct turn_alloc *a)
{
	struct expiry_log *log = arg;

	log->n++;
	log->last = a;
	if (log->rearm_by) {
		turn_alloc_set_expiry(log->t, a, a->expires + log->rearm_by);
		log->rearm_by = 0;
		return;
	}
	turn_alloc_free(log->t, a);
}

static void on_release(void *arg, struct turn_alloc *a)
{
	unsigned *n = arg;

	ck_assert_ptr_nonnull(a->username);
	(*n)++;
}

static void table_up(struct turn_alloc_table *t, struct expiry_log *log)
{
	ck_assert_int_eq(turn_alloc_table_init(t, 12345), 0);
	memset(log, 0, sizeof(*log));
	log->t = t;
}

static void table_down(struct turn_alloc_table *t)
{
	turn_alloc_table_fini(t, NULL, NULL);
	ck_assert_ptr_null(t->buckets);
}

/* An allocation for tuple n, armed to expire at `expires`. */
static struct turn_alloc *armed(struct turn_alloc_table *t, uint32_t n, uint32_t expires)
{
	struct turn_tuple tu = tuple_n(n);
	struct turn_alloc *a = turn_alloc_new(t, &tu, "alice");

	ck_assert_ptr_nonnull(a);
	turn_alloc_set_expiry(t, a, expires);
	return a;
}

/* ---- Table ---- */

START_TEST(find_new_free)
{
	struct turn_alloc_table t;
	struct expiry_log log;
	struct turn_tuple tu = tuple_n(1), other;

	table_up(&t, &log);
	ck_assert_ptr_null(turn_alloc_find(&t, &tu));
	struct turn_alloc *a = turn_alloc_new(&t, &tu, "alice");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(turn_alloc_find(&t, &tu), a);
	ck_assert_str_eq(a->username, "alice");
	ck_assert_uint_eq(t.count, 1);
	/* Every element of the 5-tuple counts. */
	other = tu;
	other.client.port++;
	ck_assert_ptr_null(turn_alloc_find(&t, &other));
	other = tu;
	other.local.port++;
	ck_assert_ptr_null(turn_alloc_find(&t, &other));
	other = tu;
	other.transport = TURN_TRANSPORT_TCP;
	ck_assert_ptr_null(turn_alloc_find(&t, &other));
	turn_alloc_free(&t, a);
	ck_assert_ptr_null(turn_alloc_find(&t, &tu));
	ck_assert_uint_eq(t.count, 0);
	table_down(&t);
}
END_TEST

START_TEST(null_username_is_empty)
{
	struct turn_alloc_table t;
	struct expiry_log log;
	struct turn_tuple tu = tuple_n(2);

	table_up(&t, &log);
	struct turn_alloc *a = turn_alloc_new(&t, &tu, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->username, "");
	table_down(&t);
}
END_TEST

START_TEST(dead_allocation_is_not_found)
{
	struct turn_alloc_table t;
	struct expiry_log log;
	struct turn_tuple tu = tuple_n(3);

	table_up(&t, &log);
	struct turn_alloc *a = turn_alloc_new(&t, &tu, "alice");
	a->dead = true;
	ck_assert_ptr_null(turn_alloc_find(&t, &tu));
	table_down(&t);
}
END_TEST

START_TEST(table_grows_with_10k_allocations)
{
	enum { N = 10000 };
	struct turn_alloc_table t;
	struct expiry_log log;
	static struct turn_alloc *all[N];
	unsigned released = 0;

	table_up(&t, &log);
	size_t first_buckets = t.n_buckets;
	for (uint32_t i = 0; i < N; i++)
		all[i] = armed(&t, i, NOW + 600 + i % 2000);
	ck_assert_uint_eq(t.count, N);
	/* Load stays at most 1, and the bucket count a power of two. */
	ck_assert_uint_gt(t.n_buckets, first_buckets);
	ck_assert_uint_ge(t.n_buckets, N);
	ck_assert_uint_eq(t.n_buckets & (t.n_buckets - 1), 0);
	for (uint32_t i = 0; i < N; i++) {
		struct turn_tuple tu = tuple_n(i);
		ck_assert_ptr_eq(turn_alloc_find(&t, &tu), all[i]);
	}
	for (uint32_t i = 0; i < N; i += 2)
		turn_alloc_free(&t, all[i]);
	ck_assert_uint_eq(t.count, N / 2);
	for (uint32_t i = 0; i < N; i++) {
		struct turn_tuple tu = tuple_n(i);
		ck_assert_ptr_eq(turn_alloc_find(&t, &tu), i % 2 ? all[i] : NULL);
	}
	/* fini hands every survivor to release first. */
	turn_alloc_table_fini(&t, on_release, &released);
	ck_assert_uint_eq(released, N / 2);
	ck_assert_ptr_null(t.buckets);
}
END_TEST

/* ---- Timer wheel ---- */

START_TEST(wheel_expires_at_the_exact_second)
{
	struct turn_alloc_table t;
	struct expiry_log log;

	table_up(&t, &log);
	turn_alloc_table_advance(&t, NOW, on_expire, &log);
	struct turn_alloc *a = armed(&t, 1, NOW + 600);
	turn_alloc_table_advance(&t, NOW + 599, on_expire, &log);
	ck_assert_uint_eq(log.n, 0);
	ck_assert_uint_eq(t.count, 1);
	turn_alloc_table_advance(&t, NOW + 600, on_expire, &log);
	ck_assert_uint_eq(log.n, 1);
	ck_assert_ptr_eq(log.last, a);
	ck_assert_uint_eq(t.count, 0);
	table_down(&t);
}
END_TEST

START_TEST(wheel_lifetime_beyond_its_slots)
{
	struct turn_alloc_table t;
	struct expiry_log log;
	uint32_t life = 3600; /* more than three turns of the wheel */

	ck_assert_uint_gt(life, TURN_WHEEL_SLOTS);
	table_up(&t, &log);
	turn_alloc_table_advance(&t, NOW, on_expire, &log);
	struct turn_alloc *a = armed(&t, 1, NOW + life);
	/* A neighbour in the same slot, one turn earlier. */
	struct turn_alloc *b = armed(&t, 2, NOW + life - TURN_WHEEL_SLOTS);
	ck_assert_uint_eq(a->wheel_slot, b->wheel_slot);
	for (uint32_t s = NOW + 1; s < NOW + life; s++) {
		turn_alloc_table_advance(&t, s, on_expire, &log);
		ck_assert_uint_eq(log.n, s >= NOW + life - TURN_WHEEL_SLOTS ? 1 : 0);
	}
	ck_assert_ptr_eq(log.last, b);
	ck_assert_ptr_eq(turn_alloc_find(&t, &a->tuple), a);
	turn_alloc_table_advance(&t, NOW + life, on_expire, &log);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_ptr_eq(log.last, a);
	ck_assert_uint_eq(t.count, 0);
	table_down(&t);
}
END_TEST

START_TEST(wheel_catches_up_after_a_long_pause)
{
	struct turn_alloc_table t;
	struct expiry_log log;

	table_up(&t, &log);
	turn_alloc_table_advance(&t, NOW, on_expire, &log);
	for (uint32_t i = 0; i < 50; i++)
		armed(&t, i, NOW + 1 + i * 97); /* spread over several turns */
	armed(&t, 99, NOW + 20000);
	/* One call, far ahead: everything due goes exactly once. */
	turn_alloc_table_advance(&t, NOW + 10000, on_expire, &log);
	ck_assert_uint_eq(log.n, 50);
	ck_assert_uint_eq(t.count, 1);
	turn_alloc_table_advance(&t, NOW + 19999, on_expire, &log);
	ck_assert_uint_eq(log.n, 50);
	turn_alloc_table_advance(&t, NOW + 20000, on_expire, &log);
	ck_assert_uint_eq(log.n, 51);
	table_down(&t);
}
END_TEST

START_TEST(wheel_first_advance_covers_every_slot)
{
	struct turn_alloc_table t;
	struct expiry_log log;

	/* Armed before the wheel ever moved: its first advance, far from
	 * second 0, still finds them. */
	table_up(&t, &log);
	armed(&t, 1, NOW - 5);
	armed(&t, 2, NOW);
	armed(&t, 3, NOW + 1);
	turn_alloc_table_advance(&t, NOW, on_expire, &log);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_uint_eq(t.count, 1);
	table_down(&t);
}
END_TEST

START_TEST(wheel_rearm_moves_the_expiry)
{
	struct turn_alloc_table t;
	struct expiry_log log;

	table_up(&t, &log);
	turn_alloc_table_advance(&t, NOW, on_expire, &log);
	struct turn_alloc *a = armed(&t, 1, NOW + 600);
	turn_alloc_set_expiry(&t, a, NOW + 900); /* a Refresh */
	turn_alloc_table_advance(&t, NOW + 899, on_expire, &log);
	ck_assert_uint_eq(log.n, 0);
	/* The expiry callback may re-arm instead of freeing. */
	log.rearm_by = 100;
	turn_alloc_table_advance(&t, NOW + 900, on_expire, &log);
	ck_assert_uint_eq(log.n, 1);
	ck_assert_uint_eq(t.count, 1);
	ck_assert_uint_eq(a->expires, NOW + 1000);
	turn_alloc_table_advance(&t, NOW + 999, on_expire, &log);
	ck_assert_uint_eq(log.n, 1);
	turn_alloc_table_advance(&t, NOW + 1000, on_expire, &log);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_uint_eq(t.count, 0);
	table_down(&t);
}
END_TEST

START_TEST(wheel_frees_a_whole_slot)
{
	struct turn_alloc_table t;
	struct expiry_log log;

	table_up(&t, &log);
	turn_alloc_table_advance(&t, NOW, on_expire, &log);
	for (uint32_t i = 0; i < 100; i++)
		armed(&t, i, NOW + 10);
	/* Freeing one in the middle of the chain keeps the rest linked. */
	struct turn_tuple mid = tuple_n(50);
	turn_alloc_free(&t, turn_alloc_find(&t, &mid));
	turn_alloc_table_advance(&t, NOW + 10, on_expire, &log);
	ck_assert_uint_eq(log.n, 99);
	ck_assert_uint_eq(t.count, 0);
	table_down(&t);
}
END_TEST

START_TEST(fini_releases_every_allocation)
{
	struct turn_alloc_table t;
	struct expiry_log log;
	unsigned released = 0;

	table_up(&t, &log);
	for (uint32_t i = 0; i < 10; i++)
		armed(&t, i, NOW + 600);
	turn_alloc_table_fini(&t, on_release, &released);
	ck_assert_uint_eq(released, 10);
	ck_assert_uint_eq(t.count, 0);
}
END_TEST

/* ---- Permissions ---- */

/* A bare allocation for permission and channel tests. */
static struct turn_alloc *bare(struct turn_alloc_table *t)
{
	struct turn_tuple tu = tuple_n(1);
	struct turn_alloc *a;

	ck_assert_int_eq(turn_alloc_table_init(t, 1), 0);
	a = turn_alloc_new(t, &tu, "alice");
	ck_assert_ptr_nonnull(a);
	return a;
}

START_TEST(permission_lasts_300_seconds)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr peer = addr("198.51.100.1:4000");
	struct turn_addr other_port = addr("198.51.100.1:4001");

	ck_assert(!turn_perm_valid(a, &peer, NOW));
	ck_assert_int_eq(turn_perm_install(a, &peer, NOW, 0), 0);
	ck_assert(turn_perm_valid(a, &peer, NOW + 299));
	/* A permission is for the IP; the port does not matter. */
	ck_assert(turn_perm_valid(a, &other_port, NOW + 299));
	ck_assert_uint_eq(turn_perm_count(a, NOW + 299), 1);
	ck_assert(!turn_perm_valid(a, &peer, NOW + 300));
	ck_assert_uint_eq(turn_perm_count(a, NOW + 300), 0);
	ck_assert_uint_eq(TURN_PERMISSION_LIFETIME, 300);
	table_down(&t);
}
END_TEST

START_TEST(permission_matches_family_and_ip)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr v4 = addr("198.51.100.1");
	struct turn_addr mapped = addr("::ffff:198.51.100.1");
	struct turn_addr next = addr("198.51.100.2");
	struct turn_addr v6 = addr("2001:db8::1");
	struct turn_addr v6b = addr("2001:db8::2");

	ck_assert_int_eq(turn_perm_install(a, &v4, NOW, 0), 0);
	ck_assert_int_eq(turn_perm_install(a, &v6, NOW, 0), 0);
	ck_assert(turn_perm_valid(a, &v4, NOW));
	ck_assert(turn_perm_valid(a, &v6, NOW));
	ck_assert(!turn_perm_valid(a, &mapped, NOW));
	ck_assert(!turn_perm_valid(a, &next, NOW));
	ck_assert(!turn_perm_valid(a, &v6b, NOW));
	table_down(&t);
}
END_TEST

START_TEST(permission_refresh_extends_it)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr peer = addr("198.51.100.1");

	ck_assert_int_eq(turn_perm_install(a, &peer, NOW, 0), 0);
	ck_assert_int_eq(turn_perm_install(a, &peer, NOW + 200, 0), 0);
	ck_assert_uint_eq(a->n_perms, 1);
	ck_assert(turn_perm_valid(a, &peer, NOW + 499));
	ck_assert(!turn_perm_valid(a, &peer, NOW + 500));
	table_down(&t);
}
END_TEST

START_TEST(permission_limit)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1"), p2 = addr("198.51.100.2");
	struct turn_addr p3 = addr("198.51.100.3");

	ck_assert_int_eq(turn_perm_install(a, &p1, NOW, 2), 0);
	ck_assert_int_eq(turn_perm_install(a, &p2, NOW + 10, 2), 0);
	ck_assert_int_eq(turn_perm_install(a, &p3, NOW + 20, 2), -1);
	ck_assert(!turn_perm_valid(a, &p3, NOW + 20));
	/* Refreshing one already held is not a new one. */
	ck_assert_int_eq(turn_perm_install(a, &p1, NOW + 20, 2), 0);
	/* Once p2 expired (p1 was refreshed), p3 fits, in p2's old slot. */
	ck_assert_int_eq(turn_perm_install(a, &p3, NOW + 310, 2), 0);
	ck_assert_uint_eq(a->n_perms, 2);
	ck_assert(turn_perm_valid(a, &p1, NOW + 310));
	ck_assert(!turn_perm_valid(a, &p2, NOW + 310));
	ck_assert(turn_perm_valid(a, &p3, NOW + 310));
	table_down(&t);
}
END_TEST

START_TEST(permissions_grow_without_limit)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);

	for (int i = 0; i < 1000; i++) {
		struct turn_addr p = addr("2001:db8::");
		p.ip[14] = (uint8_t)(i >> 8);
		p.ip[15] = (uint8_t)i;
		ck_assert_int_eq(turn_perm_install(a, &p, NOW, 0), 0);
	}
	ck_assert_uint_eq(turn_perm_count(a, NOW), 1000);
	table_down(&t);
}
END_TEST

/* ---- Channels ---- */

START_TEST(channel_lasts_600_seconds)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr peer = addr("198.51.100.1:4000");
	struct turn_addr other_port = addr("198.51.100.1:4001");

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &peer, NOW, 0), 0);
	ck_assert_ptr_nonnull(turn_channel_by_number(a, 0x4000, NOW + 599));
	ck_assert_ptr_nonnull(turn_channel_by_peer(a, &peer, NOW + 599));
	/* A channel is for the exact transport address. */
	ck_assert_ptr_null(turn_channel_by_peer(a, &other_port, NOW));
	ck_assert_ptr_null(turn_channel_by_number(a, 0x4001, NOW));
	ck_assert_uint_eq(turn_channel_count(a, NOW + 599), 1);
	ck_assert_ptr_null(turn_channel_by_number(a, 0x4000, NOW + 600));
	ck_assert_ptr_null(turn_channel_by_peer(a, &peer, NOW + 600));
	ck_assert_uint_eq(turn_channel_count(a, NOW + 600), 0);
	table_down(&t);
}
END_TEST

START_TEST(channel_refresh_extends_it)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr peer = addr("198.51.100.1:4000");

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &peer, NOW, 0), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &peer, NOW + 500, 0), 0);
	ck_assert_uint_eq(a->n_channels, 1);
	ck_assert_ptr_nonnull(turn_channel_by_number(a, 0x4000, NOW + 1099));
	ck_assert_ptr_null(turn_channel_by_number(a, 0x4000, NOW + 1100));
	table_down(&t);
}
END_TEST

START_TEST(channel_number_and_peer_are_unique)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1:4000"), p2 = addr("198.51.100.2:4000");

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW, 0), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p2, NOW, 0), STUN_ERR_BAD_REQUEST);
	ck_assert_int_eq(turn_channel_bind(a, 0x4001, &p1, NOW, 0), STUN_ERR_BAD_REQUEST);
	ck_assert_int_eq(turn_channel_bind(a, 0x4001, &p2, NOW, 0), 0);
	ck_assert_uint_eq(turn_channel_by_peer(a, &p2, NOW)->number, 0x4001);
	table_down(&t);
}
END_TEST

/* RFC 8656 section 12: after a binding expires, neither its number nor its
 * peer may be bound to anything else for 5 more minutes. */
START_TEST(channel_quiet_period)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1:4000"), p2 = addr("198.51.100.2:4000");
	uint32_t expired = NOW + TURN_CHANNEL_LIFETIME;

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW, 0), 0);
	ck_assert_ptr_null(turn_channel_by_number(a, 0x4000, expired));
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p2, expired, 0), STUN_ERR_BAD_REQUEST);
	ck_assert_int_eq(turn_channel_bind(a, 0x4001, &p1, expired + 299, 0),
			 STUN_ERR_BAD_REQUEST);
	/* The prune of a Refresh keeps the reservation. */
	turn_alloc_prune(a, expired + 299);
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p2, expired + 299, 0),
			 STUN_ERR_BAD_REQUEST);
	/* After the quiet period both are free again, and the slot is reused. */
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p2, expired + 300, 0), 0);
	ck_assert_uint_eq(a->n_channels, 1);
	ck_assert(turn_addr_eq(&turn_channel_by_number(a, 0x4000, expired + 300)->peer, &p2));
	table_down(&t);
}
END_TEST

START_TEST(channel_rebind_same_pair_in_quiet_period)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1:4000");
	uint32_t later = NOW + TURN_CHANNEL_LIFETIME + 100;

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW, 0), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, later, 0), 0);
	ck_assert_ptr_nonnull(turn_channel_by_number(a, 0x4000, later + 599));
	ck_assert_ptr_null(turn_channel_by_number(a, 0x4000, later + 600));
	table_down(&t);
}
END_TEST

START_TEST(channel_limit)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1:1"), p2 = addr("198.51.100.1:2");
	struct turn_addr p3 = addr("198.51.100.1:3");

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW, 2), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4001, &p2, NOW, 2), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4002, &p3, NOW, 2),
			 TURN_ERR_INSUFFICIENT_CAPACITY);
	/* Refreshing a bound channel at the limit is fine. */
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW + 100, 2), 0);
	/* p2's channel expired: it no longer counts against the limit. */
	ck_assert_int_eq(turn_channel_bind(a, 0x4002, &p3, NOW + 600, 2), 0);
	ck_assert_uint_eq(turn_channel_count(a, NOW + 600), 2);
	table_down(&t);
}
END_TEST

/* Found by fuzz/fuzz_turn_server: rebinding an expired channel (in its
 * quiet period) skipped the max-channels check, so an allocation held
 * more live channels than max-channels allows. */
START_TEST(channel_rebind_after_expiry_counts_against_limit)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1:1"), p2 = addr("198.51.100.1:2");
	uint32_t expired = NOW + TURN_CHANNEL_LIFETIME;

	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW, 1), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4001, &p2, expired, 1), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, expired + 1, 1),
			 TURN_ERR_INSUFFICIENT_CAPACITY);
	ck_assert_uint_eq(turn_channel_count(a, expired + 1), 1);
	ck_assert_ptr_null(turn_channel_by_number(a, 0x4000, expired + 1));
	/* Without a limit the same rebind works. */
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, expired + 1, 0), 0);
	ck_assert_uint_eq(turn_channel_count(a, expired + 1), 2);
	table_down(&t);
}
END_TEST

START_TEST(prune_drops_only_what_is_over)
{
	struct turn_alloc_table t;
	struct turn_alloc *a = bare(&t);
	struct turn_addr p1 = addr("198.51.100.1:1"), p2 = addr("198.51.100.2:2");

	ck_assert_int_eq(turn_perm_install(a, &p1, NOW, 0), 0);
	ck_assert_int_eq(turn_perm_install(a, &p2, NOW + 100, 0), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4000, &p1, NOW, 0), 0);
	ck_assert_int_eq(turn_channel_bind(a, 0x4001, &p2, NOW + 400, 0), 0);
	turn_alloc_prune(a, NOW + 300);
	ck_assert_uint_eq(a->n_perms, 1);
	ck_assert(turn_perm_valid(a, &p2, NOW + 300));
	/* Channel 0x4000 expired at +600, reserved until +900. */
	turn_alloc_prune(a, NOW + 899);
	ck_assert_uint_eq(a->n_channels, 2);
	turn_alloc_prune(a, NOW + 900);
	ck_assert_uint_eq(a->n_channels, 1);
	ck_assert_uint_eq(a->n_perms, 0);
	ck_assert_uint_eq(a->channels[0].number, 0x4001);
	table_down(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_alloc");
	TCase *table = tcase_create("table");
	TCase *wheel = tcase_create("wheel");
	TCase *perm = tcase_create("permissions");
	TCase *chan = tcase_create("channels");

	tcase_add_test(table, find_new_free);
	tcase_add_test(table, null_username_is_empty);
	tcase_add_test(table, dead_allocation_is_not_found);
	tcase_add_test(table, table_grows_with_10k_allocations);
	tcase_add_test(wheel, wheel_expires_at_the_exact_second);
	tcase_add_test(wheel, wheel_lifetime_beyond_its_slots);
	tcase_add_test(wheel, wheel_catches_up_after_a_long_pause);
	tcase_add_test(wheel, wheel_first_advance_covers_every_slot);
	tcase_add_test(wheel, wheel_rearm_moves_the_expiry);
	tcase_add_test(wheel, wheel_frees_a_whole_slot);
	tcase_add_test(wheel, fini_releases_every_allocation);
	tcase_add_test(perm, permission_lasts_300_seconds);
	tcase_add_test(perm, permission_matches_family_and_ip);
	tcase_add_test(perm, permission_refresh_extends_it);
	tcase_add_test(perm, permission_limit);
	tcase_add_test(perm, permissions_grow_without_limit);
	tcase_add_test(chan, channel_lasts_600_seconds);
	tcase_add_test(chan, channel_refresh_extends_it);
	tcase_add_test(chan, channel_number_and_peer_are_unique);
	tcase_add_test(chan, channel_quiet_period);
	tcase_add_test(chan, channel_rebind_same_pair_in_quiet_period);
	tcase_add_test(chan, channel_limit);
	tcase_add_test(chan, channel_rebind_after_expiry_counts_against_limit);
	tcase_add_test(chan, prune_drops_only_what_is_over);
	suite_add_tcase(s, table);
	suite_add_tcase(s, wheel);
	suite_add_tcase(s, perm);
	suite_add_tcase(s, chan);
	return run_suite(s);
}
