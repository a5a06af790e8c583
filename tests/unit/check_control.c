/*
 * Unit tests for the control socket's pure parts: the JSON reader that
 * parses requests (util/json_tree.c), the writer's escaping of what
 * clients chose (util/json_out.c: usernames with quotes, backslashes,
 * control bytes, bytes that are not UTF-8), and the table of banned users
 * (daemon/control_ban.c).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control_ban.h"
#include "util/json_out.h"
#include "util/json_tree.h"

static struct json_tree *parse_ok(const char *text)
{
	struct json_tree *v = NULL;
	char err[128] = "";

	ck_assert_msg(json_tree_parse(text, strlen(text), &v, err, sizeof(err)) == 0, "%s: %s",
		      text, err);
	return v;
}

static void parse_fails(const char *text, const char *why)
{
	struct json_tree *v = NULL;
	char err[128] = "";

	ck_assert_msg(json_tree_parse(text, strlen(text), &v, err, sizeof(err)) < 0, "accepted: %s",
		      text);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(err, why) != NULL, "%s: '%s', not '%s'", text, err, why);
}

START_TEST(request_members_are_read)
{
	struct json_tree *v =
		parse_ok(" {\"cmd\":\"kill-user\", \"user\":\"al\\\"ice\",\"ban\":60,\"x\":[1,{}],"
			 "\"t\":true,\"n\":null} ");

	ck_assert_int_eq(v->type, JSON_TREE_OBJECT);
	ck_assert_str_eq(json_tree_get_string(v, "cmd"), "kill-user");
	ck_assert_str_eq(json_tree_get_string(v, "user"), "al\"ice");
	ck_assert_int_eq(json_tree_get(v, "ban")->type, JSON_TREE_NUMBER);
	ck_assert(json_tree_get(v, "ban")->number == 60.0);
	ck_assert_ptr_null(json_tree_get_string(v, "ban")); /* not a string */
	ck_assert_ptr_null(json_tree_get(v, "missing"));
	ck_assert_int_eq(json_tree_get(v, "x")->n, 2);
	ck_assert_int_eq(json_tree_get(v, "t")->type, JSON_TREE_TRUE);
	ck_assert_int_eq(json_tree_get(v, "n")->type, JSON_TREE_NULL);
	json_tree_free(v);
}
END_TEST

START_TEST(string_escapes_are_decoded)
{
	struct json_tree *v = parse_ok("[\"a\\\\b\\/c\\n\\t\\u00e9\\ud83d\\ude00\"]");

	/* é as UTF-8, and the surrogate pair as one 4-byte character. */
	ck_assert_str_eq(v->items[0].string, "a\\b/c\n\t\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_uint_eq(v->items[0].len, strlen(v->items[0].string));
	json_tree_free(v);
}
END_TEST

START_TEST(malformed_requests_are_refused)
{
	parse_fails("", "unexpected end");
	parse_fails("{\"cmd\":", "unexpected end");
	parse_fails("{\"cmd\" \"x\"}", "expected ':'");
	parse_fails("{\"cmd\":\"x\",}", "expected a member name");
	parse_fails("{\"cmd\":\"x\"} trailing", "text after the value");
	parse_fails("[1 2]", "expected ',' or ']'");
	parse_fails("\"unterminated", "unterminated string");
	parse_fails("\"raw\ncontrol\"", "control byte");
	/* A NUL would cut the C string: refused, as lone surrogates are. */
	parse_fails("\"a\\u0000b\"", "bad escape");
	parse_fails("\"\\ud800\"", "bad escape");
	parse_fails("\"\\udc00\"", "bad escape");
	parse_fails("\"\\q\"", "bad escape");
	parse_fails("01", "text after the value");
	parse_fails("-", "bad number");
	parse_fails("1.", "bad number");
	parse_fails("tru", "unexpected character");
	parse_fails("[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", "nested too deep");
}
END_TEST

/* Write s as a member, parse the line back: the same bytes. */
static void round_trip(const char *s, size_t len, const char *want_text)
{
	struct json_out o = {0};
	size_t n;

	json_out_open(&o, NULL, '{');
	json_out_strn(&o, "user", s, len);
	json_out_close(&o, '}');
	char *line = json_out_take(&o, &n);
	ck_assert_ptr_nonnull(line);
	if (want_text)
		ck_assert_str_eq(line, want_text);
	/* One line: no raw newline or other control byte survives. */
	for (size_t i = 0; i < n; i++)
		ck_assert_msg((unsigned char)line[i] >= 0x20 && line[i] != 0x7f, "byte %zu raw", i);
	struct json_tree *v = parse_ok(line);
	const struct json_tree *u = json_tree_get(v, "user");
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(u->len, len);
	ck_assert_int_eq(memcmp(u->string, s, len), 0);
	json_tree_free(v);
	free(line);
}

START_TEST(hostile_usernames_stay_one_string)
{
	round_trip("al\"ice", 6, "{\"user\":\"al\\\"ice\"}");
	round_trip("back\\slash", 10, "{\"user\":\"back\\\\slash\"}");
	round_trip("a\nb\r\tc\x01\x1f\x7f", 9,
		   "{\"user\":\"a\\u000ab\\u000d\\u0009c\\u0001\\u001f\\u007f\"}");
	round_trip("\",\"ok\":true,\"x\":\"", 17, NULL);
	round_trip("caf\xc3\xa9 \xf0\x9f\x98\x80", 10,
		   "{\"user\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
	/* 600 bytes of quotes and backslashes. */
	char big[600];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = i % 2 ? '"' : '\\';
	round_trip(big, sizeof(big), NULL);
}
END_TEST

START_TEST(bytes_that_are_not_utf8_are_escaped)
{
	struct json_out o = {0};
	size_t n;

	/* A lone continuation byte, a truncated sequence, an overlong '/',
	 * a surrogate encoded in UTF-8: each byte on its own as \u00XX. */
	json_out_strn(&o, NULL, "\x80|\xc3|\xc0\xaf|\xed\xa0\x80", 10);
	char *line = json_out_take(&o, &n);
	ck_assert_str_eq(line, "\"\\u0080|\\u00c3|\\u00c0\\u00af|\\u00ed\\u00a0\\u0080\"");
	free(line);
}
END_TEST

START_TEST(writer_places_commas)
{
	struct json_out o = {0};
	size_t n;

	json_out_open(&o, NULL, '{');
	json_out_bool(&o, "ok", true);
	json_out_open(&o, "list", '[');
	json_out_u64(&o, NULL, 1);
	json_out_open(&o, NULL, '{');
	json_out_close(&o, '}');
	json_out_raw(&o, "{\"a\":2}", 7);
	json_out_close(&o, ']');
	json_out_u64(&o, "count", 18446744073709551615ull);
	json_out_close(&o, '}');
	char *line = json_out_take(&o, &n);
	ck_assert_str_eq(line,
			 "{\"ok\":true,\"list\":[1,{},{\"a\":2}],\"count\":18446744073709551615}");
	ck_assert_uint_eq(n, strlen(line));
	free(line);
}
END_TEST

START_TEST(ban_refuses_until_its_time)
{
	struct control_ban b;

	control_ban_init(&b);
	ck_assert(!control_ban_check(&b, "alice", 1000));
	ck_assert_int_eq(control_ban_add(&b, "alice", 5000, 1000), 0);
	ck_assert(control_ban_check(&b, "alice", 1000));
	ck_assert(control_ban_check(&b, "alice", 4999));
	ck_assert(!control_ban_check(&b, "alice", 5000));
	ck_assert(!control_ban_check(&b, "bob", 1000));
	ck_assert(!control_ban_check(&b, "alic", 1000));
	/* alice's TURN REST logins too, and nobody else's. */
	ck_assert(control_ban_check(&b, "1796646062:alice", 1000));
	ck_assert(!control_ban_check(&b, "1796646062:alicea", 1000));
	ck_assert(!control_ban_check(&b, "x1:alice", 1000));
	ck_assert(!control_ban_check(&b, ":alice", 1000));
	/* A later ban of the same user replaces the first. */
	ck_assert_int_eq(control_ban_add(&b, "alice", 9000, 1000), 0);
	ck_assert(control_ban_check(&b, "alice", 8000));
	ck_assert_uint_eq(atomic_load(&b.n), 1);
	control_ban_fini(&b);
}
END_TEST

START_TEST(ban_table_is_bounded_and_reclaims)
{
	struct control_ban b;
	char name[16];

	control_ban_init(&b);
	for (int i = 0; i < CONTROL_BAN_MAX; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		ck_assert_int_eq(control_ban_add(&b, name, 2000, 1000), 0);
	}
	ck_assert_int_eq(control_ban_add(&b, "one-more", 2000, 1000), -1);
	ck_assert(!control_ban_check(&b, "one-more", 1000));
	/* Once they expire, their room is taken back. */
	ck_assert_int_eq(control_ban_add(&b, "one-more", 9000, 2000), 0);
	ck_assert_uint_eq(atomic_load(&b.n), 1);
	ck_assert(control_ban_check(&b, "one-more", 2000));
	ck_assert(!control_ban_check(&b, "u0", 2000));
	control_ban_fini(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, request_members_are_read);
	tcase_add_test(tc, string_escapes_are_decoded);
	tcase_add_test(tc, malformed_requests_are_refused);
	tcase_add_test(tc, hostile_usernames_stay_one_string);
	tcase_add_test(tc, bytes_that_are_not_utf8_are_escaped);
	tcase_add_test(tc, writer_places_commas);
	suite_add_tcase(s, tc);
	tc = tcase_create("ban");
	tcase_add_test(tc, ban_refuses_until_its_time);
	tcase_add_test(tc, ban_table_is_bounded_and_reclaims);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
