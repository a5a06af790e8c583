/*
 * Per-user usage (daemon/user_usage.h): folding, lingering, eviction of
 * the oldest lingering user, the listing, the shared budget's rate, and
 * folds from two threads at once.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/user_usage.h"

static const struct user_usage_row *row_of(const struct user_usage_row *rows, size_t n,
					   const char *user)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].user, user) == 0)
			return &rows[i];
	return NULL;
}

START_TEST(user_usage_folds_per_user)
{
	const struct user_usage_opts o = {.linger_s = 600};
	struct user_usage *u = user_usage_new(&o);
	struct user_usage_entry *a1 = user_usage_attach(u, "alice", 1000);
	struct user_usage_entry *a2 = user_usage_attach(u, "alice", 1100);
	struct user_usage_entry *b = user_usage_attach(u, "bob", 1200);
	size_t n;

	ck_assert_ptr_eq(a1, a2); /* one entry per user */
	ck_assert_ptr_ne(a1, b);
	user_usage_add(a1, &(struct user_usage_traffic){1, 100, 2, 200});
	user_usage_add(a2, &(struct user_usage_traffic){10, 1000, 20, 2000});
	user_usage_add(b, &(struct user_usage_traffic){3, 300, 0, 0});
	struct user_usage_row *rows = user_usage_list(u, 0, &n);
	ck_assert_uint_eq(n, 2);
	const struct user_usage_row *r = row_of(rows, n, "alice");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->allocations, 2);
	ck_assert_uint_eq(r->allocations_total, 2);
	ck_assert_uint_eq(r->traffic.pkts_to_peer, 11);
	ck_assert_uint_eq(r->traffic.bytes_to_peer, 1100);
	ck_assert_uint_eq(r->traffic.pkts_to_client, 22);
	ck_assert_uint_eq(r->traffic.bytes_to_client, 2200);
	ck_assert_uint_eq(r->since_ms, 1000);
	ck_assert_uint_eq(r->idle_ms, 0);
	r = row_of(rows, n, "bob");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->traffic.bytes_to_peer, 300);
	free(rows);
	user_usage_free(u);
}
END_TEST

START_TEST(user_usage_lingers_then_expires)
{
	const struct user_usage_opts o = {.linger_s = 600};
	struct user_usage *u = user_usage_new(&o);
	struct user_usage_entry *e = user_usage_attach(u, "alice", 1000);
	struct user_usage_stats st;
	size_t n;

	user_usage_add(e, &(struct user_usage_traffic){1, 100, 1, 100});
	user_usage_detach(u, e, 5000);
	/* Gone from the active listing, still in the full one and in one
	 * of those gone since 5000. */
	ck_assert_ptr_null(user_usage_list(u, UINT64_MAX, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(user_usage_list(u, 5001, &n));
	struct user_usage_row *since = user_usage_list(u, 5000, &n);
	ck_assert_uint_eq(n, 1);
	free(since);
	struct user_usage_row *rows = user_usage_list(u, 0, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(rows[0].idle_ms, 5000);
	ck_assert_uint_eq(rows[0].traffic.bytes_to_peer, 100);
	free(rows);
	/* Back before the linger ends: the totals go on from where they were. */
	e = user_usage_attach(u, "alice", 6000);
	user_usage_add(e, &(struct user_usage_traffic){1, 50, 0, 0});
	user_usage_detach(u, e, 7000);
	user_usage_expire(u, 7000 + 599999);
	rows = user_usage_list(u, 0, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(rows[0].traffic.bytes_to_peer, 150);
	ck_assert_uint_eq(rows[0].allocations_total, 2);
	free(rows);
	user_usage_expire(u, 7000 + 600000);
	user_usage_stats(u, &st);
	ck_assert_uint_eq(st.users, 0);
	ck_assert_uint_eq(st.evicted, 0);
	user_usage_free(u);
}
END_TEST

START_TEST(user_usage_evicts_oldest_lingering)
{
	const struct user_usage_opts o = {.linger_s = 600, .max_lingering = 3};
	struct user_usage *u = user_usage_new(&o);
	struct user_usage_entry *active = user_usage_attach(u, "active", 0);
	struct user_usage_stats st;
	char name[16];
	size_t n;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		user_usage_detach(u, user_usage_attach(u, name, 100 + i), 200 + i);
	}
	user_usage_stats(u, &st);
	ck_assert_uint_eq(st.users, 4); /* 3 lingering, 1 active */
	ck_assert_uint_eq(st.active, 1);
	ck_assert_uint_eq(st.evicted, 2);
	struct user_usage_row *rows = user_usage_list(u, 0, &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_null(row_of(rows, n, "u0"));
	ck_assert_ptr_null(row_of(rows, n, "u1"));
	ck_assert_ptr_nonnull(row_of(rows, n, "u2"));
	ck_assert_ptr_nonnull(row_of(rows, n, "u4"));
	ck_assert_ptr_nonnull(row_of(rows, n, "active")); /* never evicted */
	free(rows);
	/* linger 0: a user goes with its last allocation. */
	user_usage_configure(u, &(struct user_usage_opts){.linger_s = 0, .max_lingering = 3});
	user_usage_detach(u, active, 300);
	user_usage_stats(u, &st);
	ck_assert_uint_eq(st.users, 3);
	user_usage_free(u);
}
END_TEST

START_TEST(user_usage_budget_follows_configuration)
{
	struct user_usage *u = user_usage_new(&(struct user_usage_opts){.user_max_bps = 1000000});
	struct user_usage_entry *e = user_usage_attach(u, "alice", 0);
	struct bw_local l1 = {0}, l2 = {0};
	uint64_t got = 0;

	/* Two allocations of one user share one budget: 100 kB of burst. */
	for (int i = 0; i < 1000; i++) {
		if (bw_share_take(user_usage_budget(e), i % 2 ? &l1 : &l2, 1000, 0) == BW_TAKEN)
			got += 1000;
	}
	ck_assert_uint_eq(got, 100000);
	user_usage_configure(u, &(struct user_usage_opts){.user_max_bps = 0});
	ck_assert_int_eq(bw_share_take(user_usage_budget(e), &l1, 1000, 0), BW_FREE);
	user_usage_free(u);
}
END_TEST

/* The user's own rate (the HTTP hook's max_bps): the budget takes the
 * lower of it and user-max-bps, for every allocation of the user, and a
 * reload recomputes it; other users keep user-max-bps. */
START_TEST(user_usage_own_rate_lower_wins)
{
	struct user_usage *u = user_usage_new(&(struct user_usage_opts){0});
	struct user_usage_entry *e = user_usage_attach(u, "alice", 0);
	struct user_usage_entry *b = user_usage_attach(u, "bob", 0);

	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 0);
	user_usage_set_rate(u, e, 50000);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 50000);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(b)), 0);
	/* A second allocation of alice shares the same budget. */
	ck_assert_ptr_eq(user_usage_attach(u, "alice", 0), e);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 50000);
	/* user-max-bps lower: it wins; higher: the own rate does. */
	user_usage_configure(u, &(struct user_usage_opts){.user_max_bps = 20000});
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 20000);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(b)), 20000);
	user_usage_configure(u, &(struct user_usage_opts){.user_max_bps = 80000});
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 50000);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(b)), 80000);
	/* The backend's word changes: none left, user-max-bps applies. */
	user_usage_set_rate(u, e, 0);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 80000);
	user_usage_configure(u, &(struct user_usage_opts){0});
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 0);
	user_usage_free(u);
}
END_TEST

START_TEST(user_usage_long_name_is_truncated)
{
	struct user_usage *u = user_usage_new(&(struct user_usage_opts){.linger_s = 10});
	char *big = malloc(2000);
	size_t n;

	memset(big, 'x', 1999);
	big[1999] = '\0';
	struct user_usage_entry *a = user_usage_attach(u, big, 0);
	struct user_usage_entry *b = user_usage_attach(u, big, 0);
	ck_assert_ptr_eq(a, b);
	struct user_usage_row *rows = user_usage_list(u, 0, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(strlen(rows[0].user), USER_USAGE_NAME_MAX);
	free(rows);
	free(big);
	user_usage_free(u);
}
END_TEST

/* Two workers folding into one user at once lose nothing. */
#define FOLDS 200000
static void *fold_many(void *arg)
{
	for (int i = 0; i < FOLDS; i++)
		user_usage_add(arg, &(struct user_usage_traffic){1, 3, 1, 5});
	return NULL;
}

START_TEST(user_usage_concurrent_folds)
{
	struct user_usage *u = user_usage_new(&(struct user_usage_opts){.linger_s = 10});
	struct user_usage_entry *e = user_usage_attach(u, "alice", 0);
	pthread_t t[2];
	size_t n;

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fold_many, e), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	struct user_usage_row *rows = user_usage_list(u, UINT64_MAX, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(rows[0].traffic.pkts_to_peer, 2 * FOLDS);
	ck_assert_uint_eq(rows[0].traffic.bytes_to_peer, 6 * FOLDS);
	ck_assert_uint_eq(rows[0].traffic.bytes_to_client, 10 * FOLDS);
	free(rows);
	user_usage_free(u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("user_usage");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, user_usage_folds_per_user);
	tcase_add_test(tc, user_usage_lingers_then_expires);
	tcase_add_test(tc, user_usage_evicts_oldest_lingering);
	tcase_add_test(tc, user_usage_budget_follows_configuration);
	tcase_add_test(tc, user_usage_long_name_is_truncated);
	tcase_add_test(tc, user_usage_own_rate_lower_wins);
	tcase_add_test(tc, user_usage_concurrent_folds);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
