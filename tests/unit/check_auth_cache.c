/*
 * Unit tests for the Redis backend's answer cache (src/auth/auth_cache.c)
 * alone: its bounds and shares (made-up names, and names whose MAC never
 * verified, cannot push confirmed users out), the refresh of a confirmed
 * answer, the shared TURN REST secrets, references, and concurrent use
 * from several threads, as the workers use it (issue 13, item 3).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_cache.h"
#include "testutil.h"

#define NOW 1700000000u
#define THREADS 4
#define ROUNDS 20000

static void put_n(struct auth_cache *cache, const char *prefix, int n, enum auth_cache_kind kind)
{
	struct auth_key key = {.md5 = {1}};
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		ck_assert_int_eq(auth_cache_put(cache, (const uint8_t *)name, strlen(name), kind,
						&key, NOW),
				 0);
	}
}

static void confirm_n(struct auth_cache *cache, const char *prefix, int from, int to)
{
	char name[32];

	for (int i = from; i < to; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		ck_assert(auth_cache_confirm(cache, (const uint8_t *)name, strlen(name)));
	}
}

static bool has(struct auth_cache *cache, const char *name)
{
	struct auth_cache_answer a;

	return auth_cache_get(cache, (const uint8_t *)name, strlen(name), &a);
}

static bool confirmed(struct auth_cache *cache, const char *name)
{
	struct auth_cache_answer a;

	return auth_cache_get(cache, (const uint8_t *)name, strlen(name), &a) && a.confirmed;
}

/* At most max entries: a quarter for "not found", a quarter for answers
 * on probation, half for confirmed users, each share evicting its least
 * recently used. */
START_TEST(cache_is_bounded)
{
	struct auth_cache *cache = auth_cache_new(16);
	size_t neg;

	ck_assert_ptr_nonnull(cache);
	/* 100 users found and confirmed: 8 stay, the most recent. */
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof(name), "user%d", i);
		put_n(cache, name, 1, AUTH_CACHE_USER);
		confirm_n(cache, name, 0, 1);
	}
	ck_assert_uint_eq(auth_cache_count(cache, &neg), 8);
	ck_assert_uint_eq(auth_cache_confirmed(cache), 8);
	ck_assert_uint_eq(neg, 0);
	ck_assert(has(cache, "user990"));
	ck_assert(!has(cache, "user910"));
	ck_assert(has(cache, "user920")); /* now the most recently used */
	/* A flood of "not found" and of names found but never confirmed
	 * (a wrong MAC): each fills its own quarter only. */
	put_n(cache, "junk", 1000, AUTH_CACHE_NONE);
	put_n(cache, "rest", 1000, AUTH_CACHE_REST);
	ck_assert_uint_eq(auth_cache_count(cache, &neg), 16);
	ck_assert_uint_eq(neg, 4);
	ck_assert_uint_eq(auth_cache_confirmed(cache), 8);
	for (int i = 92; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof(name), "user%d0", i);
		ck_assert_msg(confirmed(cache, name), "%s was pushed out", name);
	}
	ck_assert(has(cache, "junk999"));
	ck_assert(!has(cache, "junk995"));
	ck_assert(has(cache, "rest999"));
	ck_assert(!has(cache, "rest995"));
	/* A new confirmed user evicts the least recently used one. */
	put_n(cache, "late", 1, AUTH_CACHE_USER);
	ck_assert(!confirmed(cache, "late0"));
	confirm_n(cache, "late", 0, 1);
	ck_assert(confirmed(cache, "late0"));
	ck_assert(!has(cache, "user920")); /* read first in the loop above */
	ck_assert_uint_eq(auth_cache_confirmed(cache), 8);
	/* Replacing keeps one entry per name, in the share of its kind:
	 * 7 confirmed, 3 on probation (late0 left it), 4 negative. */
	put_n(cache, "late", 1, AUTH_CACHE_NONE);
	ck_assert_uint_eq(auth_cache_count(cache, &neg), 14);
	ck_assert_uint_eq(neg, 4);
	ck_assert(has(cache, "late0") && !confirmed(cache, "late0"));
	ck_assert(!auth_cache_confirm(cache, (const uint8_t *)"nobody", 6));
	auth_cache_free(cache);
	auth_cache_free(NULL);
	ck_assert_ptr_null(auth_cache_new(3));
}
END_TEST

/* A refresh after the TTL with the same key keeps the user confirmed; a
 * changed key must verify a request again. */
START_TEST(refresh_keeps_confirmation_only_for_the_same_key)
{
	struct auth_cache *cache = auth_cache_new(1000);
	struct auth_key k1 = {.md5 = {1}}, k2 = {.md5 = {2}};
	struct auth_cache_answer a;
	const uint8_t *name = (const uint8_t *)"alice";

	ck_assert_int_eq(auth_cache_put(cache, name, 5, AUTH_CACHE_USER, &k1, NOW), 0);
	ck_assert(auth_cache_confirm(cache, name, 5));
	ck_assert_int_eq(auth_cache_put(cache, name, 5, AUTH_CACHE_USER, &k1, NOW + 60), 0);
	ck_assert(auth_cache_get(cache, name, 5, &a));
	ck_assert(a.confirmed);
	ck_assert_uint_eq(a.fetched_s, NOW + 60);
	ck_assert_int_eq(auth_cache_put(cache, name, 5, AUTH_CACHE_USER, &k2, NOW + 120), 0);
	ck_assert(auth_cache_get(cache, name, 5, &a));
	ck_assert(!a.confirmed);
	ck_assert_mem_eq(a.key.md5, k2.md5, sizeof(k2.md5));
	auth_cache_free(cache);
}
END_TEST

/* The TURN REST secrets one backend stored answer every backend, as the
 * secret backend would. */
START_TEST(secrets_are_shared)
{
	static const char *const secrets[] = {"s3cret", "other"};
	static const size_t lens[] = {6, 5};
	static const char *const one[] = {"s3cret"};
	struct auth_cache *cache = auth_cache_new(64);
	struct auth_cache *again = auth_cache_ref(cache);
	struct auth *chain = auth_new();
	char err[256];
	const char *name = "1800000000:bob";
	const struct auth_query q = {.username = (const uint8_t *)name, .len = strlen(name),
				     .now_s = NOW};
	struct auth_credential a, b;

	ck_assert_ptr_eq(again, cache);
	ck_assert_int_eq(auth_cache_rest_lookup(cache, "example.org", &q, &a), AUTH_NOT_FOUND);
	ck_assert_int_eq(auth_cache_set_secrets(cache, secrets, lens, 2), 0);
	ck_assert_uint_eq(auth_cache_secrets(again), 2);
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(auth_cache_rest_lookup(again, "example.org", &q, &a), AUTH_FOUND);
	ck_assert_uint_eq(a.n_keys, 2);
	ck_assert_int_eq(auth_add(chain, auth_secret_new(one, 1, "example.org", err, sizeof(err))),
			 0);
	ck_assert_int_eq(auth_lookup(chain, q.username, q.len, NOW, &b), AUTH_FOUND);
	/* Sorted order is the caller's business; "s3cret" is the first here. */
	ck_assert_mem_eq(a.keys[0].md5, b.keys[0].md5, sizeof(b.keys[0].md5));
	auth_cache_free(cache); /* one reference left */
	ck_assert_int_eq(auth_cache_set_secrets(again, secrets, lens, 0), 0);
	ck_assert_int_eq(auth_cache_rest_lookup(again, "example.org", &q, &a), AUTH_NOT_FOUND);
	auth_cache_free(again);
	auth_free(chain);
	auth_credential_clear(&a);
	auth_credential_clear(&b);
}
END_TEST

struct worker_sim {
	struct auth_cache *cache;
	pthread_barrier_t *start;
	int id;
	unsigned seen_others; /* confirmed users of another thread found */
};

static void sim_name(char *name, size_t cap, int id, int user)
{
	snprintf(name, cap, "t%d-user%d", id, user);
}

/* One worker: confirms its 50 users, waits for the others to have done
 * the same, then at once refreshes its own users, floods made-up names
 * (REST names on probation, names not found) and reads the users of the
 * next thread, which must be there every time. */
static void *worker_sim_run(void *arg)
{
	struct worker_sim *ws = arg;
	struct auth_cache_answer a;
	struct auth_key key = {.md5 = {(uint8_t)(ws->id + 1)}};
	uint8_t other = (uint8_t)((ws->id + 1) % THREADS + 1);
	char name[48];

	for (int u = 0; u < 50; u++) {
		sim_name(name, sizeof(name), ws->id, u);
		if (auth_cache_put(ws->cache, (const uint8_t *)name, strlen(name), AUTH_CACHE_USER,
				   &key, NOW) < 0)
			return NULL;
		auth_cache_confirm(ws->cache, (const uint8_t *)name, strlen(name));
	}
	pthread_barrier_wait(ws->start);
	for (int i = 0; i < ROUNDS; i++) {
		sim_name(name, sizeof(name), ws->id, i % 50);
		auth_cache_put(ws->cache, (const uint8_t *)name, strlen(name), AUTH_CACHE_USER, &key,
			       NOW + 1);
		snprintf(name, sizeof(name), "%d:t%d-junk%d", 1800000000 + i, ws->id, i);
		auth_cache_put(ws->cache, (const uint8_t *)name, strlen(name),
			       i % 2 ? AUTH_CACHE_REST : AUTH_CACHE_NONE, NULL, NOW);
		sim_name(name, sizeof(name), (ws->id + 1) % THREADS, i % 50);
		if (auth_cache_get(ws->cache, (const uint8_t *)name, strlen(name), &a) &&
		    a.confirmed && a.key.md5[0] == other)
			ws->seen_others++;
	}
	return ws;
}

START_TEST(threads_share_one_cache)
{
	struct auth_cache *cache = auth_cache_new(10000);
	struct worker_sim ws[THREADS];
	pthread_barrier_t start;
	pthread_t t[THREADS];
	size_t neg;

	ck_assert_ptr_nonnull(cache);
	ck_assert_int_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		ws[i] = (struct worker_sim){.cache = auth_cache_ref(cache), .start = &start, .id = i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_sim_run, &ws[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *rv;
		ck_assert_int_eq(pthread_join(t[i], &rv), 0);
		ck_assert_ptr_eq(rv, &ws[i]);
		/* Every read of another worker's user found it, confirmed,
		 * with its key, through the floods of all four. */
		ck_assert_uint_eq(ws[i].seen_others, ROUNDS);
		auth_cache_free(ws[i].cache);
	}
	pthread_barrier_destroy(&start);
	for (int id = 0; id < THREADS; id++)
		for (int u = 0; u < 50; u++) {
			char name[48];
			sim_name(name, sizeof(name), id, u);
			ck_assert_msg(confirmed(cache, name), "%s was pushed out", name);
		}
	ck_assert_uint_le(auth_cache_count(cache, &neg), 10000);
	ck_assert_uint_le(neg, 10000 / 4);
	ck_assert_uint_eq(auth_cache_confirmed(cache), THREADS * 50);
	auth_cache_free(cache);
}
END_TEST

static Suite *auth_cache_suite(void)
{
	Suite *s = suite_create("auth_cache");
	TCase *tc = tcase_create("cache");

	tcase_add_test(tc, cache_is_bounded);
	tcase_add_test(tc, refresh_keeps_confirmation_only_for_the_same_key);
	tcase_add_test(tc, secrets_are_shared);
	tcase_add_test(tc, threads_share_one_cache);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(auth_cache_suite());
}
