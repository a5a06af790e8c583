/* util/redis_keys: the Redis key schema, byte for byte. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util/redis_keys.h"

/* The longest realm and name a buffer of REDIS_KEYS_MAX is made for. */
#define T_REALM_MAX 40
#define T_NAME_MAX 20

static void fill(char *s, char c, size_t n)
{
	memset(s, c, n);
	s[n] = '\0';
}

START_TEST(realm_keys_exact)
{
	char k[128];

	ck_assert_int_eq(redis_keys_realm(k, sizeof(k), "example.org", REDIS_KEYS_LEAF_SECRET),
			 (int)strlen("turn/realm/example.org/secret"));
	ck_assert_str_eq(k, "turn/realm/example.org/secret");
	ck_assert_int_ge(redis_keys_realm(k, sizeof(k), "r", REDIS_KEYS_LEAF_MAX_BPS), 0);
	ck_assert_str_eq(k, "turn/realm/r/max-bps");
	ck_assert_int_ge(redis_keys_realm(k, sizeof(k), "r", REDIS_KEYS_LEAF_USER_QUOTA), 0);
	ck_assert_str_eq(k, "turn/realm/r/user-quota");
	ck_assert_int_ge(redis_keys_realm(k, sizeof(k), "r", REDIS_KEYS_LEAF_TOTAL_QUOTA), 0);
	ck_assert_str_eq(k, "turn/realm/r/total-quota");
	ck_assert_int_ge(redis_keys_realm(k, sizeof(k), "r", REDIS_KEYS_LEAF_ALLOWED_PEER_IP), 0);
	ck_assert_str_eq(k, "turn/realm/r/allowed-peer-ip");
	ck_assert_int_ge(redis_keys_realm(k, sizeof(k), "r", REDIS_KEYS_LEAF_DENIED_PEER_IP), 0);
	ck_assert_str_eq(k, "turn/realm/r/denied-peer-ip");
	ck_assert_int_ge(redis_keys_realm(k, sizeof(k), "r", REDIS_KEYS_LEAF_EVENTS), 0);
	ck_assert_str_eq(k, "turn/realm/r/events");
	ck_assert_int_eq(redis_keys_dir(k, sizeof(k), "r", REDIS_KEYS_DIR_NODE), 18);
	ck_assert_str_eq(k, "turn/realm/r/node/");
	ck_assert_int_eq(redis_keys_node(k, sizeof(k), "r", "host-0a1b2c3d"), 31);
	ck_assert_str_eq(k, "turn/realm/r/node/host-0a1b2c3d");
}
END_TEST

START_TEST(user_keys_exact)
{
	char k[128];

	ck_assert_int_eq(redis_keys_user(k, sizeof(k), "r", "alice", 5, REDIS_KEYS_LEAF_KEY), 27);
	ck_assert_str_eq(k, "turn/realm/r/user/alice/key");
	ck_assert_int_ge(redis_keys_user(k, sizeof(k), "r", "alice", 5, REDIS_KEYS_LEAF_KEY_SHA256),
			 0);
	ck_assert_str_eq(k, "turn/realm/r/user/alice/key-sha256");
	ck_assert_int_ge(redis_keys_user(k, sizeof(k), "r", "alice", 5, REDIS_KEYS_LEAF_ALLOCATIONS),
			 0);
	ck_assert_str_eq(k, "turn/realm/r/user/alice/allocations");
	/* Only name_len bytes of the name: a view into a longer buffer. */
	ck_assert_int_eq(redis_keys_user(k, sizeof(k), "r", "bobby", 3, REDIS_KEYS_LEAF_KEY), 25);
	ck_assert_str_eq(k, "turn/realm/r/user/bob/key");
	/* A TURN REST name is a name like any other. */
	ck_assert_int_ge(redis_keys_user(k, sizeof(k), "a b", "1700000000:x", 12, "key"), 0);
	ck_assert_str_eq(k, "turn/realm/a b/user/1700000000:x/key");
}
END_TEST

/* A key one byte too long for its buffer is refused, never cut short:
 * a cut key would name another user's key. */
START_TEST(keys_refuse_overflow)
{
	char k[64];
	int n = redis_keys_user(k, sizeof(k), "r", "alice", 5, "key"); /* 27 bytes */

	ck_assert_int_eq(n, 27);
	ck_assert_int_eq(redis_keys_user(k, 28, "r", "alice", 5, "key"), 27);
	ck_assert_int_eq(redis_keys_user(k, 27, "r", "alice", 5, "key"), -1);
	ck_assert_str_eq(k, "");
	ck_assert_int_eq(redis_keys_user(k, 20, "r", "alice", 5, "key"), -1); /* in the name */
	ck_assert_str_eq(k, "");
	ck_assert_int_eq(redis_keys_user(k, 5, "r", "alice", 5, "key"), -1); /* in the prefix */
	ck_assert_int_eq(redis_keys_user(k, 0, "r", "alice", 5, "key"), -1);
	ck_assert_int_eq(redis_keys_realm(k, 20, "r", "secret"), 19);
	ck_assert_int_eq(redis_keys_realm(k, 19, "r", "secret"), -1);
	ck_assert_int_eq(redis_keys_dir(k, 19, "r", "node"), 18);
	ck_assert_int_eq(redis_keys_dir(k, 18, "r", "node"), -1);
	ck_assert_int_eq(redis_keys_node(k, 21, "r", "n1"), 20);
	ck_assert_int_eq(redis_keys_node(k, 20, "r", "n1"), -1);
	ck_assert_int_eq(redis_keys_pattern(k, 20, "r", "node", NULL), 19);
	ck_assert_int_eq(redis_keys_pattern(k, 19, "r", "node", NULL), -1);
	ck_assert_str_eq(k, "");
}
END_TEST

/* REDIS_KEYS_MAX is exact: the longest key of the longest realm and name
 * fills it to the NUL. */
START_TEST(key_max_holds_longest_key)
{
	char realm[T_REALM_MAX + 1], name[T_NAME_MAX + 1];
	char k[REDIS_KEYS_MAX(T_REALM_MAX, T_NAME_MAX)];

	fill(realm, 'r', T_REALM_MAX);
	fill(name, 'n', T_NAME_MAX);
	ck_assert_int_eq(redis_keys_user(k, sizeof(k), realm, name, T_NAME_MAX,
					 REDIS_KEYS_LEAF_ALLOCATIONS),
			 (int)sizeof(k) - 1);
	ck_assert_int_eq(redis_keys_user(k, sizeof(k) - 1, realm, name, T_NAME_MAX,
					 REDIS_KEYS_LEAF_ALLOCATIONS),
			 -1);
	ck_assert_int_gt(redis_keys_user(k, sizeof(k), realm, name, T_NAME_MAX,
					 REDIS_KEYS_LEAF_KEY_SHA256),
			 0);
	ck_assert_int_gt(redis_keys_node(k, sizeof(k), realm, name), 0);
	ck_assert_int_gt(redis_keys_realm(k, sizeof(k), realm, REDIS_KEYS_LEAF_ALLOWED_PEER_IP), 0);
}
END_TEST

START_TEST(pattern_escapes_realm_globs)
{
	char k[REDIS_KEYS_PATTERN_MAX(T_REALM_MAX)];
	char realm[T_REALM_MAX / 2 + 1];

	ck_assert_int_ge(redis_keys_pattern(k, sizeof(k), "plain.org", "user", "key"), 0);
	ck_assert_str_eq(k, "turn/realm/plain.org/user/*/key");
	ck_assert_int_ge(redis_keys_pattern(k, sizeof(k), "r", "node", NULL), 0);
	ck_assert_str_eq(k, "turn/realm/r/node/*");
	ck_assert_int_ge(redis_keys_pattern(k, sizeof(k), "a*b?c[d]e\\f", "user", NULL), 0);
	ck_assert_str_eq(k, "turn/realm/a\\*b\\?c\\[d\\]e\\\\f/user/*");
	/* A realm of nothing but glob characters doubles; the bound holds it. */
	fill(realm, '*', T_REALM_MAX / 2);
	ck_assert_int_eq(redis_keys_pattern(k, sizeof(k), realm, REDIS_KEYS_DIR_USER,
					    REDIS_KEYS_LEAF_ALLOCATIONS),
			 (int)(strlen("turn/realm//user/*/allocations") + T_REALM_MAX));
	fill(realm, '[', T_REALM_MAX / 2);
	ck_assert_int_gt(redis_keys_pattern(k, sizeof(k), realm, REDIS_KEYS_DIR_USER, NULL), 0);
	/* No room for an escape and its byte: refused, not half-escaped. */
	ck_assert_int_eq(redis_keys_pattern(k, 13, "a*", "user", NULL), -1);
	ck_assert_int_eq(redis_keys_pattern(k, 14, "a*", "user", NULL), -1);
	ck_assert_str_eq(k, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_keys");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, realm_keys_exact);
	tcase_add_test(tc, user_keys_exact);
	tcase_add_test(tc, keys_refuse_overflow);
	tcase_add_test(tc, key_max_holds_longest_key);
	tcase_add_test(tc, pattern_escapes_realm_globs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
