/*
 * The core's shared bandwidth caps (turn/datapath.c turn_bandwidth_take):
 * bps-capacity, one budget for two servers (two workers), both
 * directions; user-max-bps through turn_io.user_attach, one budget for a
 * user's allocations on two servers while another user is uncapped; a
 * datagram a later cap drops is not charged to the earlier ones; and the
 * per-user fold (turn_server_fold_usage, and at closing) hands over each
 * byte once.
 */
#include <check.h>
#include <string.h>

#include "testutil.h"
#include "turn_harness.h"
#include "util/bw_share.h"

#define PEER "198.51.100.1:4000"

/* A harness whose turn_io also keeps per-user records: the fake io is
 * the harness's first member, so its ctx leads back here. */
struct bw_harness {
	struct harness h;
	struct bw_share *user_budget; /* handed to every user named "capped" */
	unsigned attached, detached;
	struct turn_traffic folded; /* every fold, summed */
};

static void *user_attach(void *ctx, const char *user, uint64_t max_bps, struct bw_share **budget)
{
	(void)max_bps;
	struct bw_harness *b = ctx;

	b->attached++;
	*budget = strcmp(user, "capped") == 0 ? b->user_budget : NULL;
	return b;
}

static void user_fold(void *ctx, void *user, const struct turn_traffic *d)
{
	struct bw_harness *b = ctx;

	ck_assert_ptr_eq(user, b);
	b->folded.pkts_to_peer += d->pkts_to_peer;
	b->folded.bytes_to_peer += d->bytes_to_peer;
	b->folded.pkts_to_client += d->pkts_to_client;
	b->folded.bytes_to_client += d->bytes_to_client;
}

static void user_detach(void *ctx, void *user)
{
	struct bw_harness *b = ctx;

	ck_assert_ptr_eq(user, b);
	b->detached++;
}

static void bw_up(struct bw_harness *b, struct client *c, const char *user, int host,
		  struct bw_share *user_budget)
{
	memset(b, 0, sizeof(*b));
	b->user_budget = user_budget;
	harness_init(&b->h);
	b->h.io.io.user_attach = user_attach;
	b->h.io.io.user_fold = user_fold;
	b->h.io.io.user_detach = user_detach;
	harness_start(&b->h);
	client_init(c, &b->h, user, "secret", host, 40000);
	client_allocate(c, 0);
	ck_assert_int_eq(client_bind(c, 0x4000, PEER), 0);
}

/* Bytes of len-byte datagrams relayed out of n, client to peer
 * (ChannelData) or peer to client. */
static uint64_t offer(struct client *c, bool to_peer, size_t len, int n)
{
	static uint8_t data[1200], out[1400];
	struct turn_reply r = {.buf = out, .cap = sizeof(out)};
	uint64_t got = 0;

	for (int i = 0; i < n; i++) {
		int rc = to_peer ? client_chandata(c, 0x4000, data, len)
				 : peer_send(c, PEER, data, len, &r);
		if (rc == 0)
			got += len;
	}
	return got;
}

/* 1 MB/s for two servers: 100 kB of burst, then 1 kB a millisecond over
 * both, whichever server and direction asks. */
START_TEST(capacity_is_shared_by_servers_and_directions)
{
	struct bw_harness b1, b2;
	struct client c1, c2;
	struct bw_share cap;

	bw_up(&b1, &c1, "u1", 7, NULL);
	bw_up(&b2, &c2, "u2", 8, NULL);
	bw_share_init(&cap, 1000000, T0_MS);
	turn_server_set_capacity(b1.h.srv, &cap);
	turn_server_set_capacity(b2.h.srv, &cap);
	uint64_t got = offer(&c1, true, 1000, 60) + offer(&c2, false, 1000, 60);
	got += offer(&c1, false, 1000, 60) + offer(&c2, true, 1000, 60);
	ck_assert_uint_eq(got, 100000);
	/* 50 ms later: 50 kB more for the two, no more. */
	b1.h.now_ms += 50;
	b2.h.now_ms += 50;
	got = offer(&c1, true, 1000, 40) + offer(&c2, true, 1000, 40);
	ck_assert_uint_eq(got, 50000);
	const struct turn_server_stats *s1 = turn_server_stats(b1.h.srv);
	const struct turn_server_stats *s2 = turn_server_stats(b2.h.srv);
	ck_assert_uint_eq(s1->capacity_drops + s2->capacity_drops, 240 - 100 + 80 - 50);
	ck_assert_uint_eq(s1->capacity_drop_bytes + s2->capacity_drop_bytes, 1000 * (140 + 30));
	ck_assert_uint_eq(s1->bandwidth_drops + s1->user_bw_drops, 0);
	/* Rate 0 lifts the cap. */
	bw_share_set_rate(&cap, 0);
	ck_assert_uint_eq(offer(&c1, true, 1000, 50), 50000);
	harness_down(&b1.h);
	harness_down(&b2.h);
}
END_TEST

/* user-max-bps: "capped" on two servers shares one budget; "free" on a
 * third is not held back. */
START_TEST(user_budget_spans_servers)
{
	struct bw_harness b1, b2, b3;
	struct client c1, c2, c3;
	struct bw_share user;

	bw_share_init(&user, 500000, T0_MS); /* 64 KiB floor of burst: 65 of 1000 B */
	bw_up(&b1, &c1, "capped", 7, &user);
	bw_up(&b2, &c2, "capped", 8, &user);
	bw_up(&b3, &c3, "free", 9, &user);
	uint64_t got = offer(&c1, true, 1000, 50) + offer(&c2, false, 1000, 50);
	ck_assert_uint_eq(got, 65000);
	ck_assert_uint_eq(offer(&c3, true, 1000, 200), 200000);
	const struct turn_server_stats *s1 = turn_server_stats(b1.h.srv);
	const struct turn_server_stats *s2 = turn_server_stats(b2.h.srv);
	ck_assert_uint_eq(s1->user_bw_drops + s2->user_bw_drops, 35);
	ck_assert_uint_eq(s1->capacity_drops + s2->capacity_drops, 0);
	harness_down(&b1.h);
	harness_down(&b2.h);
	harness_down(&b3.h);
}
END_TEST

/* A datagram the server's cap drops costs the user's budget and the
 * allocation's max-bps nothing. */
START_TEST(refused_by_capacity_is_not_charged)
{
	struct bw_harness b;
	struct client c;
	struct bw_share user, cap;

	bw_share_init(&user, 1000000, T0_MS);
	bw_share_init(&cap, 1, T0_MS); /* the 64 KiB floor */
	bw_up(&b, &c, "capped", 7, &user);
	turn_server_set_max_bps(b.h.srv, 1000000); /* 1 MB of bucket */
	turn_server_set_capacity(b.h.srv, &cap);
	ck_assert_uint_eq(offer(&c, true, 1000, 100), 65000);
	const struct turn_alloc *a = client_alloc(&c);
	/* The allocation's bucket paid for 65 datagrams only. */
	ck_assert_uint_eq(a->bucket_tokens, (1000000 - 65000) * 1000ull);
	/* The user's budget: 100 kB of burst, 65 kB of it granted; what it
	 * handed to this allocation and was refunded is still held. */
	uint64_t user_left = atomic_load(&user.tokens) + a->user_local.tokens;
	ck_assert_uint_eq(user_left, (100000 - 65000) * 1000ull);
	ck_assert_uint_eq(turn_server_stats(b.h.srv)->capacity_drops, 35);
	harness_down(&b.h);
}
END_TEST

/* Each relayed byte reaches the user's totals once: by the tick's fold
 * or at closing, never both. */
START_TEST(fold_hands_each_byte_once)
{
	struct bw_harness b;
	struct client c;

	bw_up(&b, &c, "someone", 7, NULL);
	ck_assert_uint_eq(b.attached, 1);
	offer(&c, true, 100, 3);
	offer(&c, false, 200, 2);
	turn_server_fold_usage(b.h.srv);
	ck_assert_uint_eq(b.folded.pkts_to_peer, 3);
	ck_assert_uint_eq(b.folded.bytes_to_peer, 300);
	ck_assert_uint_eq(b.folded.pkts_to_client, 2);
	ck_assert_uint_eq(b.folded.bytes_to_client, 400);
	turn_server_fold_usage(b.h.srv); /* nothing new: nothing added */
	ck_assert_uint_eq(b.folded.bytes_to_peer, 300);
	offer(&c, true, 50, 1);
	/* What the kernel relayed, handed back at closing, is folded too. */
	b.h.io.carry = (struct turn_traffic){1, 10, 1, 20, 0};
	ck_assert_int_eq(client_refresh(&c, 0), 0);
	ck_assert_uint_eq(b.detached, 1);
	ck_assert_uint_eq(b.folded.pkts_to_peer, 5);
	ck_assert_uint_eq(b.folded.bytes_to_peer, 360);
	ck_assert_uint_eq(b.folded.pkts_to_client, 3);
	ck_assert_uint_eq(b.folded.bytes_to_client, 420);
	harness_down(&b.h);
	ck_assert_uint_eq(b.detached, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_bwcap");
	TCase *t = tcase_create("bwcap");

	tcase_add_test(t, capacity_is_shared_by_servers_and_directions);
	tcase_add_test(t, user_budget_spans_servers);
	tcase_add_test(t, refused_by_capacity_is_not_charged);
	tcase_add_test(t, fold_hands_each_byte_once);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
