/* The relay port pool (src/net/port_pool.c): random picks over the range,
 * the quarantine of freed ports, and what happens when every free port is
 * in quarantine (issue 13 item 6). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/port_pool.h"

#define MIN 40000
#define MAX 40099 /* 100 ports */

/* A deterministic source for the tests: xorshift32. */
static uint32_t test_random(void *ctx)
{
	uint32_t *x = ctx;

	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static uint32_t seed = 2463534242u;

static struct port_pick pick_at(uint64_t now_ms)
{
	return (struct port_pick){ .now_ms = now_ms, .quarantine_ms = 60000,
				   .random = test_random, .random_ctx = &seed };
}

START_TEST(freed_port_waits_out_its_quarantine)
{
	struct port_pool p;
	struct port_pick k = pick_at(1000000);
	bool early;

	ck_assert_int_eq(port_pool_init(&p, MIN, MAX), 0);
	uint16_t first = port_pool_take(&p, &k, &early);
	ck_assert(first >= MIN && first <= MAX);
	ck_assert(!early);
	port_pool_release(&p, first, k.now_ms, k.quarantine_ms);
	ck_assert_uint_eq(p.n_used, 0);
	/* 99 other ports, then none free out of quarantine. */
	for (int i = 0; i < 99; i++) {
		uint16_t q = port_pool_take(&p, &k, &early);
		ck_assert_uint_ne(q, first);
		ck_assert(!early);
	}
	/* Every free port (one) in quarantine: taken anyway, and told. */
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), first);
	ck_assert(early);
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), 0); /* full */
	port_pool_fini(&p);
}
END_TEST

START_TEST(quarantine_ends_and_oldest_goes_first)
{
	struct port_pool p;
	struct port_pick k = pick_at(1000000);
	uint16_t ports[100];
	bool early;

	ck_assert_int_eq(port_pool_init(&p, MIN, MAX), 0);
	for (int i = 0; i < 100; i++)
		ports[i] = port_pool_take(&p, &k, &early);
	/* Freed a second apart: ports[7] first, then ports[3]. */
	port_pool_release(&p, ports[7], k.now_ms, k.quarantine_ms);
	port_pool_release(&p, ports[3], k.now_ms + 1000, k.quarantine_ms);
	k.now_ms += 30000;
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), ports[7]);
	ck_assert(early);
	port_pool_release(&p, ports[7], k.now_ms, k.quarantine_ms);
	/* 60 s after ports[3] was freed it is out of quarantine; ports[7]
	 * (freed again at +30 s) is not. */
	k.now_ms += 31000;
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), ports[3]);
	ck_assert(!early);
	/* A port that never reached a client is free at once. */
	port_pool_release(&p, ports[5], k.now_ms, 0);
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), ports[5]);
	ck_assert(!early);
	port_pool_fini(&p);
}
END_TEST

/* Churn faster than the quarantine: once every port has been used, each
 * pick is the port freed longest ago (first in, first out), found without
 * a scan, and reported early. */
START_TEST(churn_takes_the_oldest_in_order)
{
	struct port_pool p;
	struct port_pick k = pick_at(1000000);
	uint16_t order[100];
	bool early;

	ck_assert_int_eq(port_pool_init(&p, MIN, MAX), 0);
	for (int i = 0; i < 100; i++) {
		order[i] = port_pool_take(&p, &k, &early);
		ck_assert(!early);
		port_pool_release(&p, order[i], k.now_ms, k.quarantine_ms);
		k.now_ms += 10;
	}
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 100; i++) {
			uint16_t q = port_pool_take(&p, &k, &early);
			ck_assert_uint_eq(q, order[i]);
			ck_assert(early);
			port_pool_release(&p, q, k.now_ms, k.quarantine_ms);
			k.now_ms += 10;
		}
	}
	ck_assert_uint_eq(p.n_quarantined, 100);
	/* 60 s after the last release, all are out of quarantine. */
	k.now_ms += 60000;
	ck_assert_uint_ne(port_pool_take(&p, &k, &early), 0);
	ck_assert(!early);
	ck_assert_uint_eq(p.n_quarantined, 0);
	port_pool_fini(&p);
}
END_TEST

/* 10,000 picks, each freed without quarantine: every port is used, and
 * no tenth of the range gets far more than its share (chi-square over ten
 * buckets under 27.9: 9 degrees of freedom, p = 0.001). */
/* A port taken early and released again within the same second (a bind
 * that failed: net/relay.c quarantines such a port) goes to the back of
 * the line: its first, now stale, entry at the ring's head must not pass
 * for the new one, or it would be picked again at once, every time. */
START_TEST(released_again_goes_to_the_back)
{
	struct port_pool p;
	struct port_pick k = pick_at(1000000);
	uint16_t order[4];
	bool early;

	ck_assert_int_eq(port_pool_init(&p, MIN, MIN + 3), 0);
	for (int i = 0; i < 4; i++)
		order[i] = port_pool_take(&p, &k, &early);
	for (int i = 0; i < 4; i++)
		port_pool_release(&p, order[i], k.now_ms, k.quarantine_ms);
	/* All four in quarantine: the oldest, order[0], is taken early; its
	 * bind fails and it is released again in the same millisecond. */
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), order[0]);
	ck_assert(early);
	port_pool_release(&p, order[0], k.now_ms, k.quarantine_ms);
	/* The next tries get the others, oldest first, then order[0]. */
	for (int i = 1; i < 4; i++) {
		ck_assert_uint_eq(port_pool_take(&p, &k, &early), order[i]);
		port_pool_release(&p, order[i], k.now_ms, k.quarantine_ms);
	}
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), order[0]);
	port_pool_fini(&p);
}
END_TEST

START_TEST(picks_spread_over_the_range)
{
	struct port_pool p;
	struct port_pick k = pick_at(1000000);
	unsigned seen[100] = { 0 }, bucket[10] = { 0 };
	bool early;

	k.quarantine_ms = 0;
	ck_assert_int_eq(port_pool_init(&p, MIN, MAX), 0);
	for (int i = 0; i < 10000; i++) {
		uint16_t q = port_pool_take(&p, &k, &early);
		seen[q - MIN]++;
		bucket[(q - MIN) / 10]++;
		port_pool_release(&p, q, k.now_ms, 0);
	}
	double chi = 0;
	for (int i = 0; i < 10; i++)
		chi += (bucket[i] - 1000.0) * (bucket[i] - 1000.0) / 1000.0;
	ck_assert_double_lt(chi, 27.9);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_gt(seen[i], 0);
	port_pool_fini(&p);
}
END_TEST

/* EVEN-PORT with the R bit (RFC 8656 section 14.6): an even port whose
 * next is free too, both taken. */
START_TEST(even_pair)
{
	struct port_pool p;
	struct port_pick k = pick_at(1000000);
	bool early;

	k.even = k.pair = true;
	ck_assert_int_eq(port_pool_init(&p, MIN, MAX), 0);
	for (int i = 0; i < 50; i++) {
		uint16_t q = port_pool_take(&p, &k, &early);
		ck_assert_uint_eq(q % 2, 0);
		ck_assert(port_pool_in_use(&p, q) && port_pool_in_use(&p, (uint16_t)(q + 1)));
	}
	ck_assert_uint_eq(p.n_used, 100);
	ck_assert_uint_eq(port_pool_take(&p, &k, &early), 0);
	port_pool_fini(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("port_pool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, freed_port_waits_out_its_quarantine);
	tcase_add_test(tc, quarantine_ends_and_oldest_goes_first);
	tcase_add_test(tc, churn_takes_the_oldest_in_order);
	tcase_add_test(tc, released_again_goes_to_the_back);
	tcase_add_test(tc, picks_spread_over_the_range);
	tcase_add_test(tc, even_pair);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
