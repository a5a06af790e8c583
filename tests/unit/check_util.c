/* Unit tests for src/util: the bounds-checked reader/writer and addresses. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/conn_limit.h"
#include "util/log.h"
#include "util/ratelimit.h"
#include "util/rbuf.h"

START_TEST(rbuf_reads_big_endian_and_stops_at_end)
{
	const uint8_t data[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07 };
	struct rbuf r;

	rbuf_init(&r, data, sizeof(data));
	ck_assert_uint_eq(rbuf_u8(&r), 0x01);
	ck_assert_uint_eq(rbuf_u16(&r), 0x0203);
	ck_assert_uint_eq(rbuf_u32(&r), 0x04050607u);
	ck_assert(!r.err);
	ck_assert_uint_eq(rbuf_left(&r), 0);
	ck_assert_uint_eq(rbuf_u8(&r), 0);
	ck_assert(r.err);
	/* Sticky: later reads fail even if they would fit. */
	ck_assert_ptr_null(rbuf_view(&r, 0 + 1));
}
END_TEST

START_TEST(rbuf_view_never_crosses_end)
{
	const uint8_t data[] = { 1, 2, 3 };
	struct rbuf r;
	uint8_t out[4] = { 9, 9, 9, 9 };

	rbuf_init(&r, data, sizeof(data));
	ck_assert_ptr_nonnull(rbuf_view(&r, 2));
	ck_assert_ptr_null(rbuf_view(&r, 2));
	ck_assert(r.err);
	rbuf_init(&r, data, sizeof(data));
	rbuf_copy(&r, out, 4);
	ck_assert(r.err);
	ck_assert_uint_eq(out[0], 0); /* zeroed, not partially copied */
	rbuf_init(&r, data, sizeof(data));
	ck_assert_uint_eq(rbuf_u32(&r), 0);
	ck_assert(r.err);
}
END_TEST

START_TEST(wbuf_refuses_overflow)
{
	uint8_t buf[5];
	struct wbuf w;

	wbuf_init(&w, buf, sizeof(buf));
	wbuf_u16(&w, 0xABCD);
	wbuf_u16(&w, 0x1234);
	ck_assert(!w.err);
	wbuf_u16(&w, 0x5678);
	ck_assert(w.err);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_uint_eq(buf[0], 0xAB);
	ck_assert_uint_eq(buf[3], 0x34);

	wbuf_init(&w, buf, sizeof(buf));
	wbuf_zero(&w, 3);
	wbuf_set_u16(&w, 1, 0xBEEF);
	ck_assert(!w.err);
	ck_assert_uint_eq(buf[1], 0xBE);
	wbuf_set_u16(&w, 2, 0x1111); /* past what was written */
	ck_assert(w.err);
}
END_TEST

START_TEST(addr_parse_forms)
{
	struct turn_addr a;
	char text[TURN_ADDR_STRLEN];

	ck_assert_int_eq(turn_addr_parse("192.0.2.1", 3478, &a), 0);
	ck_assert_uint_eq(a.family, TURN_AF_INET);
	ck_assert_uint_eq(a.port, 3478);
	ck_assert_str_eq(turn_addr_format(&a, true, text, sizeof(text)), "192.0.2.1:3478");
	ck_assert_int_eq(turn_addr_parse("192.0.2.1:5000", 3478, &a), 0);
	ck_assert_uint_eq(a.port, 5000);
	ck_assert_int_eq(turn_addr_parse("::1", 1, &a), 0);
	ck_assert_uint_eq(a.family, TURN_AF_INET6);
	ck_assert_str_eq(turn_addr_format(&a, true, text, sizeof(text)), "[::1]:1");
	ck_assert_int_eq(turn_addr_parse("[2001:db8::5]:65535", 0, &a), 0);
	ck_assert_uint_eq(a.port, 65535);
	ck_assert_str_eq(turn_addr_format(&a, false, text, sizeof(text)), "2001:db8::5");
}
END_TEST

START_TEST(addr_parse_rejects)
{
	struct turn_addr a;
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:x", "[::1", "[::1]x",
		"[1.2.3.4]:5", "::1:99999x", "example.org", "1.2.3.4.5",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(turn_addr_parse(bad[i], 1, &a) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(addr_compare_and_hash)
{
	struct turn_addr a, b, c;

	turn_addr_parse("10.0.0.1:1000", 0, &a);
	turn_addr_parse("10.0.0.1:1001", 0, &b);
	turn_addr_parse("::ffff:10.0.0.1", 1000, &c);
	ck_assert(turn_addr_ip_eq(&a, &b));
	ck_assert(!turn_addr_eq(&a, &b));
	ck_assert(!turn_addr_ip_eq(&a, &c)); /* mapped form is another family */
	ck_assert(turn_addr_is_v4mapped(&c));
	ck_assert(!turn_addr_is_v4mapped(&a));
	ck_assert_uint_ne(turn_addr_hash(&a, 0), turn_addr_hash(&b, 0));
	ck_assert_uint_eq(turn_addr_hash(&a, 7), turn_addr_hash(&a, 7));
	ck_assert_uint_ne(turn_addr_hash(&a, 7), turn_addr_hash(&a, 8));
}
END_TEST

/* ---- conn_limit: connections per source and in total ---- */

static struct turn_addr addr_of(const char *text)
{
	struct turn_addr a;

	ck_assert_int_eq(turn_addr_parse(text, 0, &a), 0);
	return a;
}

START_TEST(conn_limit_caps_one_source_not_others)
{
	struct conn_limit *t = conn_limit_new(42);
	struct turn_addr attacker = addr_of("127.0.0.3:1000");
	struct turn_addr other_port = addr_of("127.0.0.3:2000");
	struct turn_addr legit = addr_of("127.0.0.2:1000");

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(conn_limit_take(t, &attacker, 3, 10), CONN_LIMIT_OK);
	/* The source is the address: another port is the same source. */
	ck_assert_int_eq(conn_limit_take(t, &other_port, 3, 10), CONN_LIMIT_PER_SOURCE);
	ck_assert_uint_eq(conn_limit_count(t, &attacker), 3);
	ck_assert_int_eq(conn_limit_take(t, &legit, 3, 10), CONN_LIMIT_OK);
	ck_assert_uint_eq(conn_limit_total(t), 4);
	ck_assert_uint_eq(conn_limit_sources(t), 2);
	/* One closes: the source may open one again. */
	conn_limit_put(t, &other_port);
	ck_assert_uint_eq(conn_limit_count(t, &attacker), 2);
	ck_assert_int_eq(conn_limit_take(t, &attacker, 3, 10), CONN_LIMIT_OK);
	conn_limit_free(t);
}
END_TEST

START_TEST(conn_limit_total_cap_and_return_to_zero)
{
	struct conn_limit *t = conn_limit_new(7);
	char text[32];

	for (int i = 0; i < 10; i++) {
		snprintf(text, sizeof(text), "10.0.0.%d:5", i + 1);
		struct turn_addr a = addr_of(text);
		ck_assert_int_eq(conn_limit_take(t, &a, 2, 10), CONN_LIMIT_OK);
	}
	struct turn_addr late = addr_of("10.0.1.1:5");
	ck_assert_int_eq(conn_limit_take(t, &late, 2, 10), CONN_LIMIT_TOTAL);
	ck_assert_uint_eq(conn_limit_count(t, &late), 0);
	/* A refused take counted nothing; putting every one back empties it. */
	for (int i = 0; i < 10; i++) {
		snprintf(text, sizeof(text), "10.0.0.%d:9", i + 1);
		struct turn_addr a = addr_of(text);
		conn_limit_put(t, &a);
	}
	ck_assert_uint_eq(conn_limit_total(t), 0);
	ck_assert_uint_eq(conn_limit_sources(t), 0);
	/* A put of a source never counted changes nothing. */
	conn_limit_put(t, &late);
	ck_assert_uint_eq(conn_limit_total(t), 0);
	ck_assert_int_eq(conn_limit_take(t, &late, 2, 10), CONN_LIMIT_OK);
	conn_limit_free(t);
}
END_TEST

START_TEST(conn_limit_zero_means_no_cap)
{
	struct conn_limit *t = conn_limit_new(1);
	struct turn_addr a = addr_of("192.0.2.1:1");

	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(conn_limit_take(t, &a, 0, 0), CONN_LIMIT_OK);
	ck_assert_uint_eq(conn_limit_count(t, &a), 1000);
	conn_limit_free(t);
	conn_limit_free(NULL);
}
END_TEST

START_TEST(conn_limit_sources_ipv6_prefix_and_mapped)
{
	struct conn_limit *t = conn_limit_new(3);
	struct turn_addr a1 = addr_of("[2001:db8:1:2::1]:1");
	struct turn_addr a2 = addr_of("[2001:db8:1:2:ffff::9]:2");
	struct turn_addr b = addr_of("[2001:db8:1:3::1]:1");
	struct turn_addr v4 = addr_of("192.0.2.7:1");
	struct turn_addr mapped = addr_of("[::ffff:192.0.2.7]:2");

	/* Two addresses of one /64 are one source. */
	ck_assert_int_eq(conn_limit_take(t, &a1, 2, 0), CONN_LIMIT_OK);
	ck_assert_int_eq(conn_limit_take(t, &a2, 2, 0), CONN_LIMIT_OK);
	ck_assert_int_eq(conn_limit_take(t, &a1, 2, 0), CONN_LIMIT_PER_SOURCE);
	ck_assert_int_eq(conn_limit_take(t, &b, 2, 0), CONN_LIMIT_OK);
	/* ::ffff:a.b.c.d is the IPv4 source a.b.c.d. */
	ck_assert_int_eq(conn_limit_take(t, &v4, 1, 0), CONN_LIMIT_OK);
	ck_assert_int_eq(conn_limit_take(t, &mapped, 1, 0), CONN_LIMIT_PER_SOURCE);
	struct turn_addr s = turn_addr_source(&mapped);
	ck_assert_uint_eq(s.family, TURN_AF_INET);
	ck_assert_uint_eq(s.port, 0);
	ck_assert(turn_addr_ip_eq(&s, &v4));
	ck_assert_uint_eq(conn_limit_sources(t), 3);
	conn_limit_free(t);
}
END_TEST

START_TEST(log_levels_parse)
{
	ck_assert_int_eq(log_level_parse("error"), LOG_LVL_ERROR);
	ck_assert_int_eq(log_level_parse("debug"), LOG_LVL_DEBUG);
	ck_assert_int_eq(log_level_parse("warning"), LOG_LVL_WARN);
	ck_assert_int_eq(log_level_parse("loud"), -1);
	ck_assert_str_eq(log_level_name(LOG_LVL_NOTICE), "notice");
	log_set_level(LOG_LVL_DEBUG);
	ck_assert_int_eq(log_get_level(), LOG_LVL_DEBUG);
}
END_TEST

/* util/ratelimit: a burst, then the rate; sources apart; ports ignored;
 * an IPv6 /64 is one source; rate 0 is off; the 32-bit clock wraps. */
static int take_n(struct rate_table *t, const char *src, const struct rate_limits *lim,
		  uint64_t now, int n)
{
	struct turn_addr a;
	int got = 0;

	ck_assert_int_eq(turn_addr_parse(src, 0, &a), 0);
	for (int i = 0; i < n; i++)
		got += rate_table_take(t, &a, lim, now);
	return got;
}

START_TEST(ratelimit_buckets)
{
	struct rate_table t;
	const struct rate_limits lim = { .rate = 10, .burst = 5 };
	const struct rate_limits off = { .rate = 0, .burst = 1 };
	uint64_t now = 0xFFFFFF00u; /* the stamp wraps during the test */

	ck_assert_int_eq(rate_table_init(&t, 1000, 42), 0);
	ck_assert_uint_eq(t.mask, 1023);
	ck_assert_int_eq(take_n(&t, "192.0.2.1:1", &lim, now, 8), 5); /* the burst */
	ck_assert_int_eq(take_n(&t, "192.0.2.1:2", &lim, now, 1), 0); /* any port */
	ck_assert_int_eq(take_n(&t, "192.0.2.1:1", &off, now, 100), 100);
	/* 10 a second: one more token every 100 ms, never more than burst. */
	ck_assert_int_eq(take_n(&t, "192.0.2.1:1", &lim, now + 99, 1), 0);
	ck_assert_int_eq(take_n(&t, "192.0.2.1:1", &lim, now + 200, 3), 2);
	ck_assert_int_eq(take_n(&t, "192.0.2.1:1", &lim, now + 100000, 9), 5);
	/* Another source has its own bucket (seed 42 puts them apart). */
	ck_assert_int_eq(take_n(&t, "192.0.2.2:1", &lim, now + 100000, 9), 5);
	ck_assert_int_eq(take_n(&t, "[2001:db8::1]:1", &lim, now, 5), 5);
	ck_assert_int_eq(take_n(&t, "[2001:db8::2:3]:9", &lim, now, 1), 0); /* same /64 */
	ck_assert_int_eq(take_n(&t, "[2001:db8:0:1::1]:1", &lim, now, 1), 1);
	rate_table_free(&t);
	rate_table_free(&t); /* twice is harmless */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, rbuf_reads_big_endian_and_stops_at_end);
	tcase_add_test(tc, rbuf_view_never_crosses_end);
	tcase_add_test(tc, wbuf_refuses_overflow);
	tcase_add_test(tc, addr_parse_forms);
	tcase_add_test(tc, addr_parse_rejects);
	tcase_add_test(tc, addr_compare_and_hash);
	tcase_add_test(tc, conn_limit_caps_one_source_not_others);
	tcase_add_test(tc, conn_limit_total_cap_and_return_to_zero);
	tcase_add_test(tc, conn_limit_zero_means_no_cap);
	tcase_add_test(tc, conn_limit_sources_ipv6_prefix_and_mapped);
	tcase_add_test(tc, log_levels_parse);
	tcase_add_test(tc, ratelimit_buckets);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
