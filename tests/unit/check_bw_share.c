/*
 * The lock-free shared bandwidth budget (util/bw_share.h): refill at the
 * rate, the burst bound, and two threads taking at once with neither
 * lost nor invented tokens.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "util/bw_share.h"

START_TEST(bw_share_zero_rate_is_free)
{
	struct bw_share s;
	struct bw_local l = {0};

	bw_share_init(&s, 0, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(bw_share_take(&s, &l, 1200, 0), BW_FREE);
	ck_assert_uint_eq(l.tokens, 0);
}
END_TEST

/* Bytes granted by taking len-byte packets until refused, at time now. */
static uint64_t drain(struct bw_share *s, struct bw_local *l, size_t len, uint64_t now)
{
	uint64_t got = 0;

	for (int i = 0; i < 1000000 && bw_share_take(s, l, len, now) == BW_TAKEN; i++)
		got += len;
	return got;
}

START_TEST(bw_share_refills_at_rate_up_to_burst)
{
	const uint64_t rate = 1000000; /* 1 MB/s: burst 100 kB */
	struct bw_share s;
	struct bw_local l = {0};

	bw_share_init(&s, rate, 1000);
	uint64_t first = drain(&s, &l, 1000, 1000);
	ck_assert_uint_eq(first, rate * BW_SHARE_BURST_MS / 1000);
	/* 10 ms later: 10 kB more, to the byte (none held back locally:
	 * every draw was a whole number of packets). */
	ck_assert_uint_eq(drain(&s, &l, 1000, 1010), 10000);
	/* The same millisecond again credits nothing. */
	ck_assert_uint_eq(drain(&s, &l, 1000, 1010), 0);
	/* A long pause fills the budget to its burst, not beyond. */
	ck_assert_uint_eq(drain(&s, &l, 1000, 60000), first);
}
END_TEST

START_TEST(bw_share_low_rate_still_passes_a_full_packet)
{
	struct bw_share s;
	struct bw_local l = {0};

	bw_share_init(&s, 100, 0); /* 100 B/s: burst is the 64 KiB floor */
	ck_assert_int_eq(bw_share_take(&s, &l, 65000, 0), BW_TAKEN);
	ck_assert_int_eq(bw_share_take(&s, &l, 1000, 0), BW_OVER);
	/* 100 B/s: after 10 s, 1000 bytes more (plus what the refused take
	 * left behind, which stays with the holder). */
	ck_assert_int_eq(bw_share_take(&s, &l, 1000, 10000), BW_TAKEN);
}
END_TEST

START_TEST(bw_share_refund_and_rate_change)
{
	struct bw_share s;
	struct bw_local l = {0};

	bw_share_init(&s, 1000000, 0);
	ck_assert_int_eq(bw_share_take(&s, &l, 1000, 0), BW_TAKEN);
	uint64_t held = l.tokens;
	bw_local_refund(&l, 1000);
	ck_assert_uint_eq(l.tokens, held + 1000 * 1000);
	bw_share_set_rate(&s, 0);
	ck_assert_uint_eq(bw_share_rate(&s), 0);
	ck_assert_int_eq(bw_share_take(&s, &l, 1000, 5), BW_FREE);
	bw_share_set_rate(&s, 2000000);
	ck_assert_uint_eq(bw_share_rate(&s), 2000000);
}
END_TEST

/*
 * Two threads take 1200-byte packets as fast as they can while a clock
 * shared by both moves on by a millisecond every few takes (each thread
 * moves it: time passes only while takers run, and they want about five
 * times what a millisecond credits, so the budget never reaches its
 * burst and nothing is capped away). Conservation:
 * every token credited (the initial burst plus rate per millisecond up
 * to the last one credited) is granted, held by a thread, or still in
 * the budget, to the token. A refill that raced (two threads crediting
 * the same interval) or a draw that lost an update would break it.
 */
#define RACE_RATE 1000000ull /* 1 MB/s: 1 kB a millisecond, less than is wanted */
#define RACE_MS 200000
#define RACE_PKT 1200

struct racer {
	struct bw_share *s;
	_Atomic uint64_t *clock;
	pthread_barrier_t *start;
	struct bw_local l;
	uint64_t granted; /* bytes */
	uint64_t takes;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	for (;;) {
		uint64_t now = atomic_load(r->clock);
		if (now >= RACE_MS)
			break;
		if (bw_share_take(r->s, &r->l, RACE_PKT, now) == BW_TAKEN)
			r->granted += RACE_PKT;
		if (++r->takes % 8 == 0)
			atomic_fetch_add(r->clock, 1);
	}
	return NULL;
}

START_TEST(bw_share_two_threads_conserve_tokens)
{
	struct bw_share s;
	_Atomic uint64_t clock = 0;
	pthread_barrier_t start;
	struct racer r[2] = {{.s = &s, .clock = &clock, .start = &start},
			     {.s = &s, .clock = &clock, .start = &start}};
	pthread_t t[2];

	pthread_barrier_init(&start, NULL, 2);
	bw_share_init(&s, RACE_RATE, 0);
	uint64_t initial = atomic_load(&s.tokens);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	uint64_t credited = initial + atomic_load(&s.last_ms) * RACE_RATE;
	uint64_t granted = (r[0].granted + r[1].granted) * 1000;
	uint64_t left = r[0].l.tokens + r[1].l.tokens + atomic_load(&s.tokens);
	ck_assert_uint_eq(granted + left, credited);
	pthread_barrier_destroy(&start);
	/* Both took, and what the holders keep is bounded: one chunk (a
	 * millisecond of the rate) plus one packet each. */
	ck_assert_uint_gt(r[0].takes, 0);
	ck_assert_uint_gt(r[1].takes, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_uint_le(r[i].l.tokens, (RACE_RATE + RACE_PKT * 1000ull));
	/* And so, the bound of the header: granted is at most burst + rate * T. */
	ck_assert_uint_le(granted, credited);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bw_share");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bw_share_zero_rate_is_free);
	tcase_add_test(tc, bw_share_refills_at_rate_up_to_burst);
	tcase_add_test(tc, bw_share_low_rate_still_passes_a_full_packet);
	tcase_add_test(tc, bw_share_refund_and_rate_change);
	tcase_add_test(tc, bw_share_two_threads_conserve_tokens);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
