/*
 * Unit tests for the HTTP authorization hook: the strict JSON reader and
 * string writer (src/util/json.c), the request body and the reading of
 * the answer (src/auth/auth_http_body.c), auth-url's grammar, and the
 * backend itself (src/auth/auth_http.c) against an HTTP server on
 * loopback in the same event loop: found, refused, coalesced, cached, and
 * failing closed with a back-off when the hook is down or answers junk.
 */
#include <arpa/inet.h>
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/auth_cache.h"
#include "auth/auth_http_body.h"
#include "conf/conf.h"
#include "conf/conf_reload.h"
#include "conf/conf_value.h"
#include "stun/integrity.h"
#include "util/addr.h"
#include "util/json.h"
#include "testutil.h"

#define NOW 1700000000u

/* ------------------------------------------------------------------------
 * JSON.
 */

static int members(const char *text, struct json_member *m, size_t max)
{
	return json_object_members(text, strlen(text), m, max);
}

START_TEST(test_json_valid)
{
	struct json_member m[8];
	char out[64];

	ck_assert_int_eq(members("{}", m, 8), 0);
	ck_assert_int_eq(members(" {\"a\" : 1 ,\"b\":\"x\\\"y\",\"c\":[1,{\"d\":null}],\"e\":true} ",
				 m, 8),
			 4);
	ck_assert(json_name_is(&m[0], "a"));
	ck_assert_int_eq(m[0].type, JSON_NUMBER);
	ck_assert_int_eq(m[1].type, JSON_STRING);
	ck_assert_int_eq(json_string_decode(m[1].value, m[1].value_len, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "x\"y");
	ck_assert_int_eq(m[2].type, JSON_ARRAY);
	ck_assert_int_eq(m[3].type, JSON_BOOL);
	/* Escapes, a surrogate pair, and UTF-8 as it is. */
	ck_assert_int_eq(members("{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\/\xc3\xa9\"}", m, 8), 1);
	ck_assert_int_eq(json_string_decode(m[0].value, m[0].value_len, out, sizeof(out)), 10);
	ck_assert_str_eq(out, "\xc3\xa9\xf0\x9f\x98\x80\n/\xc3\xa9");
}
END_TEST

START_TEST(test_json_junk)
{
	static const char *const junk[] = {
		"", "[]", "1", "\"s\"", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":nul}",
		"{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\x01\"}",
		"{\"a\":1} x", "{\"a\":1}{}", "{a:1}", "{'a':1}", "{\"a\":[1,]}", "{\"a\":[1}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
	};
	struct json_member m[8];
	char out[16];

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		ck_assert_msg(members(junk[i], m, 8) < 0, "taken: %s", junk[i]);
	/* More members than room. */
	ck_assert_int_eq(members("{\"a\":1,\"b\":2,\"c\":3}", m, 2), -1);
	/* Decoding: NUL, a lone surrogate, invalid UTF-8, too long. */
	ck_assert_int_eq(members("{\"a\":\"\\u0000\",\"b\":\"\\udc00\",\"c\":\"\xff\","
				 "\"d\":\"0123456789abcdefg\"}",
				 m, 8),
			 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_lt(json_string_decode(m[i].value, m[i].value_len, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_json_uint)
{
	struct json_member m[4];
	uint64_t v = 0;

	ck_assert_int_eq(members("{\"a\":600,\"b\":-1,\"c\":1.5,\"d\":\"7\"}", m, 4), 4);
	ck_assert_int_eq(json_uint(&m[0], 1000, &v), 0);
	ck_assert_uint_eq(v, 600);
	ck_assert_int_eq(json_uint(&m[0], 599, &v), -1);
	ck_assert_int_eq(json_uint(&m[1], 1000, &v), -1);
	ck_assert_int_eq(json_uint(&m[2], 1000, &v), -1);
	ck_assert_int_eq(json_uint(&m[3], 1000, &v), -1);
	ck_assert_int_eq(members("{\"a\":18446744073709551616}", m, 4), 1);
	ck_assert_int_eq(json_uint(&m[0], UINT64_MAX, &v), -1);
}
END_TEST

START_TEST(test_json_put_string)
{
	const uint8_t in[] = "a\"b\\c\x01\x1f\x7f\xc3\xa9/";
	char out[64];
	size_t pos = 0;

	ck_assert_int_eq(json_put_string(out, sizeof(out), &pos, in, sizeof(in) - 1), 0);
	ck_assert_str_eq(out, "\"a\\\"b\\\\c\\u0001\\u001f\\u007f\xc3\xa9/\"");
	ck_assert_uint_eq(pos, strlen(out));
	/* Too small: nothing half-written is left. */
	char tiny[8] = "";
	pos = 0;
	ck_assert_int_eq(json_put_string(tiny, sizeof(tiny), &pos, in, sizeof(in) - 1), -1);
	ck_assert_uint_eq(pos, 0);
	ck_assert_str_eq(tiny, "");
}
END_TEST

/* ------------------------------------------------------------------------
 * The request body and the answer.
 */

START_TEST(test_body_build)
{
	/* A username of every awkward kind a client may send, and 600 bytes. */
	uint8_t name[600];
	struct turn_addr client, local;
	char body[AUTH_HTTP_BODY_MAX], out[700];
	struct json_member m[AUTH_HTTP_MEMBERS_MAX];
	struct auth_http_ask ask = { .username = (const uint8_t *)"q\"b\\s\xc3\xa9",
				     .username_len = 7, .realm = "ex\"ample", .transport = "tls",
				     .method = "Allocate" };

	ck_assert_int_eq(turn_addr_parse("[2001:db8::1]:5000", 0, &client), 0);
	ck_assert_int_eq(turn_addr_parse("192.0.2.1:3478", 0, &local), 0);
	ask.client = &client;
	ask.local = &local;
	ck_assert_int_gt(auth_http_body_build(&ask, body, sizeof(body)), 0);
	ck_assert_str_eq(body, "{\"username\":\"q\\\"b\\\\s\xc3\xa9\",\"realm\":\"ex\\\"ample\","
			       "\"client_ip\":\"2001:db8::1\",\"client_port\":5000,"
			       "\"transport\":\"tls\",\"listen_ip\":\"192.0.2.1\","
			       "\"listen_port\":3478,\"method\":\"Allocate\"}");
	/* Unknown facts: null and 0. */
	ask.client = ask.local = NULL;
	ask.transport = ask.method = NULL;
	memset(name, 'x', sizeof(name));
	name[0] = '"';
	name[599] = '\\';
	ask.username = name;
	ask.username_len = sizeof(name);
	ck_assert_int_gt(auth_http_body_build(&ask, body, sizeof(body)), 0);
	ck_assert_int_eq(json_object_members(body, strlen(body), m, AUTH_HTTP_MEMBERS_MAX), 8);
	ck_assert_int_eq(json_string_decode(m[0].value, m[0].value_len, out, sizeof(out)), 600);
	ck_assert_mem_eq(out, name, sizeof(name));
	ck_assert_int_eq(m[2].type, JSON_NULL);
	ck_assert_str_eq(strstr(body, "\"client_port\":"), "\"client_port\":0,\"transport\":null,"
			 "\"listen_ip\":null,\"listen_port\":0,\"method\":null}");
	/* Too small a buffer is an error, not a cut body. */
	ck_assert_int_eq(auth_http_body_build(&ask, body, 100), -1);
}
END_TEST

static int parse(const char *text, struct auth_http_reply *r)
{
	return auth_http_reply_parse(text, strlen(text), r);
}

START_TEST(test_reply_valid)
{
	struct auth_http_reply r;

	ck_assert_int_eq(parse("{\"key\":\"0123456789ABCDEF0123456789abcdef\"}", &r), 0);
	ck_assert(r.has_key && !r.has_password);
	ck_assert_uint_eq(r.md5[0], 0x01);
	ck_assert_uint_eq(r.md5[15], 0xef);
	ck_assert_uint_eq(r.limits.lifetime_s, 0);
	ck_assert_uint_eq(r.limits.max_bps, 0);
	ck_assert_int_eq(parse("{\"password\":\"p\\u00e4ss\",\"lifetime\":600,\"max_bps\":125000,"
			       "\"quota\":3,\"note\":{\"x\":[1]}}",
			       &r),
			 0);
	ck_assert(r.has_password && !r.has_key);
	ck_assert_str_eq(r.password, "p\xc3\xa4ss");
	ck_assert_uint_eq(r.limits.lifetime_s, 600);
	ck_assert_uint_eq(r.limits.quota, 3);
	ck_assert_uint_eq(r.limits.max_bps, 125000);
	/* max_bps at its bound, 2^40. */
	ck_assert_int_eq(parse("{\"password\":\"p\",\"max_bps\":1099511627776}", &r), 0);
	ck_assert_uint_eq(r.limits.max_bps, 1ull << 40);
}
END_TEST

START_TEST(test_reply_junk)
{
	static const char *const junk[] = {
		"", "null", "[\"key\"]", "{}", "{\"lifetime\":600}", /* missing key */
		"{\"key\":\"0123456789abcdef0123456789abcdef\",\"password\":\"p\"}", /* both */
		"{\"key\":\"0123456789abcdef0123456789abcde\"}", /* 31 digits */
		"{\"key\":\"0123456789abcdef0123456789abcdeg\"}", /* not hex */
		"{\"key\":123}", "{\"password\":true}", "{\"password\":\"\"}", /* wrong types */
		"{\"password\":\"p\",\"lifetime\":\"600\"}", "{\"password\":\"p\",\"quota\":-1}",
		"{\"password\":\"p\",\"lifetime\":86401}", "{\"password\":\"p\",\"quota\":1.5}",
		"{\"password\":\"p\",\"password\":\"q\"}", /* twice */
		"{\"password\":\"p\",\"max_bps\":0}", /* 0: no cap is said by leaving it out */
		"{\"password\":\"p\",\"max_bps\":1099511627777}", /* over 2^40 */
		"{\"password\":\"p\",\"max_bps\":\"1000\"}", "{\"password\":\"p\",\"max_bps\":1e6}",
		"{\"password\":\"p\",\"max_bps\":-5}", "{\"password\":\"p\",\"max_bps\":null}",
		"{\"password\":\"p\",\"max_bps\":5,\"max_bps\":5}",
		"{\"password\":\"p\"", "{\"password\":\"p\"} trailing",
	};
	struct auth_http_reply r;
	char huge[2 * AUTH_HTTP_PASSWORD_MAX + 32];

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		ck_assert_msg(parse(junk[i], &r) < 0, "taken: %s", junk[i]);
		ck_assert(!r.has_key && !r.has_password); /* wiped */
	}
	/* A password over AUTH_HTTP_PASSWORD_MAX. */
	snprintf(huge, sizeof(huge), "{\"password\":\"%0*d\"}", AUTH_HTTP_PASSWORD_MAX + 1, 0);
	ck_assert_int_lt(parse(huge, &r), 0);
	ck_assert_int_lt(auth_http_reply_parse(NULL, 0, &r), 0);
}
END_TEST

START_TEST(test_url)
{
	struct turn_addr a;
	const char *path = NULL;
	char why[128];

	ck_assert_int_eq(conf_value_http_url("http://127.0.0.1:8088/turn?x=1", &a, &path, why,
					     sizeof(why)),
			 0);
	ck_assert_uint_eq(a.port, 8088);
	ck_assert_str_eq(path, "/turn?x=1");
	ck_assert_int_eq(conf_value_http_url("http://[::1]", &a, &path, why, sizeof(why)), 0);
	ck_assert_uint_eq(a.port, 80);
	ck_assert_ptr_null(path);
	ck_assert_int_eq(conf_value_http_url("https://127.0.0.1/", &a, &path, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "https"));
	ck_assert_int_eq(conf_value_http_url("http://localhost/", &a, &path, why, sizeof(why)), -1);
	ck_assert_int_eq(conf_value_http_url("http://127.0.0.1/a b", &a, &path, why, sizeof(why)),
			 -1);
	ck_assert_int_eq(conf_value_http_url("ftp://127.0.0.1/", &a, &path, why, sizeof(why)), -1);
	ck_assert_int_eq(conf_value_http_url("http:///x", &a, &path, why, sizeof(why)), -1);
}
END_TEST

static struct conf *conf_of(const char *text, char *err, size_t errlen)
{
	struct conf *c = NULL;

	if (conf_load_string(text, "hook.conf", NULL, &c, err, errlen) < 0)
		return NULL;
	return c;
}

START_TEST(test_conf)
{
	char err[512];
	struct conf *c = conf_of("realm = x\n", err, sizeof(err));

	/* Unset: no hook, the defaults turnd.conf(5) gives. */
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(c->auth_http.url);
	ck_assert_uint_eq(c->auth_http.timeout_ms, 2000);
	ck_assert_uint_eq(c->auth_http.cache_ttl_s, 300);
	ck_assert_uint_eq(c->auth_http.negative_ttl_s, 30);
	ck_assert_uint_eq(c->auth_http.max_inflight, 64);
	conf_free(c);
	c = conf_of("realm = x\nauth-url = \"http://[::1]:8088/t\"\nauth-timeout = 50\n"
		    "auth-max-inflight = 1\n",
		    err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->auth_http.host, "::1");
	ck_assert_uint_eq(c->auth_http.port, 8088);
	ck_assert_str_eq(c->auth_http.path, "/t");
	ck_assert_uint_eq(c->auth_http.timeout_ms, 50);
	conf_free(c);
	/* Errors name the file, the line and the option. */
	ck_assert_ptr_null(conf_of("realm = x\n\nauth-url = \"http://turn.example/\"\n", err,
				   sizeof(err)));
	ck_assert_msg(strstr(err, "hook.conf:3") && strstr(err, "auth-url"), "%s", err);
	ck_assert_ptr_null(conf_of("realm = x\nauth-timeout = 0\n", err, sizeof(err)));
	ck_assert_msg(strstr(err, "hook.conf:2") && strstr(err, "auth-timeout"), "%s", err);
	ck_assert_ptr_null(conf_of("realm = x\nauth-max-inflight = 5000\n", err, sizeof(err)));
	ck_assert_msg(strstr(err, "auth-max-inflight"), "%s", err);
}
END_TEST

START_TEST(test_conf_reload_restart_only)
{
	char err[512];
	struct conf *running = conf_of("realm = x\nauth-url = \"http://127.0.0.1:1/a\"\n", err,
				       sizeof(err));
	struct conf *next = conf_of("realm = x\nauth-url = \"http://127.0.0.2:2/b\"\n"
				    "auth-cache-ttl = 5\n",
				    err, sizeof(err));
	struct conf_reload_diff d;
	char names[256];

	ck_assert_ptr_nonnull(running);
	ck_assert_ptr_nonnull(next);
	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_str_eq(conf_reload_names(d.restart, d.n_restart, names, sizeof(names)),
			 "auth-url");
	ck_assert_str_eq(next->auth_http.url, "http://127.0.0.1:1/a");
	ck_assert_str_eq(next->auth_http.host, "127.0.0.1");
	ck_assert_str_eq(next->auth_http.path, "/a");
	ck_assert_uint_eq(next->auth_http.cache_ttl_s, 300);
	conf_free(next);
	conf_free(running);
}
END_TEST

/* ------------------------------------------------------------------------
 * The backend, against a server in the same loop.
 */

enum hook_mode { HOOK_KEY, HOOK_PASSWORD, HOOK_REFUSE, HOOK_JUNK, HOOK_HUGE, HOOK_HANG };

struct hook {
	struct event_base *base;
	struct evhttp *http;
	uint16_t port;
	enum hook_mode mode;
	int requests;
	char last_body[1024];
	char last_type[64];
};

static void hook_handle(struct evhttp_request *req, void *arg)
{
	struct hook *h = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();
	const char *type =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	size_t n = evbuffer_get_length(in);

	h->requests++;
	if (h->mode == HOOK_HANG) { /* never answered: evhttp_free drops it */
		evbuffer_free(out);
		return;
	}
	n = n < sizeof(h->last_body) - 1 ? n : sizeof(h->last_body) - 1;
	evbuffer_remove(in, h->last_body, n);
	h->last_body[n] = '\0';
	snprintf(h->last_type, sizeof(h->last_type), "%s", type ? type : "");
	if (h->mode == HOOK_REFUSE) {
		evhttp_send_reply(req, 403, "Forbidden", out);
	} else {
		if (h->mode == HOOK_KEY)
			evbuffer_add_printf(out, "{\"key\":\"00112233445566778899aabbccddeeff\","
						 "\"quota\":2,\"lifetime\":900,\"max_bps\":250000}");
		else if (h->mode == HOOK_PASSWORD)
			evbuffer_add_printf(out, "{\"password\":\"secret\"}");
		else if (h->mode == HOOK_JUNK)
			evbuffer_add_printf(out, "<html>not json</html>");
		else
			for (int i = 0; i < 2048; i++)
				evbuffer_add_printf(out, "{\"password\":\"0123456789abcdef\"}");
		evhttp_send_reply(req, 200, "OK", out);
	}
	evbuffer_free(out);
}

static void hook_start(struct hook *h)
{
	struct evhttp_bound_socket *s;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(h, 0, sizeof(*h));
	h->base = event_base_new();
	h->http = evhttp_new(h->base);
	ck_assert_ptr_nonnull(h->http);
	evhttp_set_gencb(h->http, hook_handle, h);
	s = evhttp_bind_socket_with_handle(h->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin, &len),
			 0);
	h->port = ntohs(sin.sin_port);
}

static void hook_stop(struct hook *h)
{
	if (h->http)
		evhttp_free(h->http);
	event_base_free(h->base);
}

static struct auth_backend *hook_backend_shared(struct hook *h, uint16_t port,
						unsigned inflight, struct auth_cache *shared)
{
	const struct auth_http_options o = {
		.realm = "example.org", .host = "127.0.0.1", .port = port, .path = "/turn",
		.timeout_ms = 1000, .cache_ttl_s = 300, .negative_ttl_s = 30,
		.max_inflight = inflight, .cache_size = 64, .shared_cache = shared,
	};
	char err[256];
	struct auth_backend *b = auth_http_new(&o, h->base, err, sizeof(err));

	ck_assert_msg(b != NULL, "%s", err);
	return b;
}

static struct auth_backend *hook_backend_n(struct hook *h, uint16_t port, unsigned inflight)
{
	return hook_backend_shared(h, port, inflight, NULL);
}

static struct auth_backend *hook_backend(struct hook *h, uint16_t port)
{
	return hook_backend_n(h, port, 2);
}

struct waiter {
	struct event_base *base;
	int calls, rc;
};

static void waiter_done(void *arg, int rc)
{
	struct waiter *w = arg;

	w->calls++;
	w->rc = rc;
	event_base_loopbreak(w->base);
}

static int lookup(struct auth_backend *b, const char *name, uint64_t now, struct waiter *w,
		  struct auth_credential *out)
{
	struct turn_addr client;
	struct auth_query q = { .username = (const uint8_t *)name, .len = strlen(name),
				.now_s = now, .done = w ? waiter_done : NULL, .arg = w,
				.client = &client, .transport = "udp", .method = "Allocate" };

	turn_addr_parse("198.51.100.7:4000", 0, &client);
	memset(out, 0, sizeof(*out));
	return b->ops->lookup(b, &q, out);
}

/* Run the loop until w has been called calls times (at most 5 s). */
static void wait_for(struct hook *h, struct waiter *w, int calls)
{
	for (int i = 0; i < 100 && w->calls < calls; i++) {
		struct timeval slice = { 0, 50000 };

		event_base_loopexit(h->base, &slice);
		event_base_dispatch(h->base);
	}
	ck_assert_int_eq(w->calls, calls);
}

START_TEST(test_backend_found_coalesced_cached)
{
	struct hook h;
	struct auth_credential c;
	struct waiter w;
	struct auth_backend *b;
	uint8_t key[STUN_KEY_SHA256_LEN];
	struct auth_http_stats st;

	hook_start(&h);
	w = (struct waiter){ .base = h.base };
	b = hook_backend(&h, h.port);
	/* Two lookups of one name: one request. */
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_PENDING);
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 2);
	ck_assert_int_eq(w.rc, AUTH_FOUND);
	ck_assert_int_eq(h.requests, 1);
	ck_assert_str_eq(h.last_type, "application/json");
	ck_assert_str_eq(h.last_body, "{\"username\":\"alice\",\"realm\":\"example.org\","
				      "\"client_ip\":\"198.51.100.7\",\"client_port\":4000,"
				      "\"transport\":\"udp\",\"listen_ip\":null,\"listen_port\":0,"
				      "\"method\":\"Allocate\"}");
	/* Repeated: from the cache, with the key and the limits. */
	ck_assert_int_eq(lookup(b, "alice", NOW + 1, &w, &c), AUTH_FOUND);
	ck_assert_uint_eq(c.keys[0].md5[1], 0x11);
	ck_assert(!c.keys[0].has_sha256);
	ck_assert_uint_eq(c.limits.quota, 2);
	ck_assert_uint_eq(c.limits.lifetime_s, 900);
	ck_assert_uint_eq(c.limits.max_bps, 250000);
	ck_assert(c.unconfirmed);
	ck_assert_int_eq(h.requests, 1);
	/* A password: both keys derived as for static users. */
	h.mode = HOOK_PASSWORD;
	ck_assert_int_eq(lookup(b, "bob", NOW, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 3);
	ck_assert_int_eq(lookup(b, "bob", NOW, &w, &c), AUTH_FOUND);
	ck_assert(c.keys[0].has_sha256);
	ck_assert_int_eq(stun_key_md5("bob", "example.org", "secret", key), 0);
	ck_assert_mem_eq(c.keys[0].md5, key, STUN_KEY_MD5_LEN);
	ck_assert_int_eq(stun_key_sha256("bob", "example.org", "secret", key), 0);
	ck_assert_mem_eq(c.keys[0].sha256, key, STUN_KEY_SHA256_LEN);
	/* Refused: not found, cached for the negative TTL. */
	h.mode = HOOK_REFUSE;
	ck_assert_int_eq(lookup(b, "mallory", NOW, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 4);
	ck_assert_int_eq(w.rc, AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup(b, "mallory", NOW + 29, &w, &c), AUTH_NOT_FOUND);
	ck_assert_int_eq(h.requests, 3);
	auth_http_stats_read(b, &st);
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.refused, 1);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_eq(st.cache_hits, 3);
	ck_assert_uint_eq(st.in_flight, 0);
	/* A USERHASH is never asked about. */
	uint8_t hash[STUN_USERHASH_LEN] = { 0 };
	const struct auth_query qh = { .userhash = hash, .now_s = NOW };
	ck_assert_int_eq(b->ops->lookup(b, &qh, &c), AUTH_NOT_FOUND);
	b->ops->free(b);
	hook_stop(&h);
}
END_TEST

/* Junk or a huge body: an error, never "no password"; then a back-off
 * during which only confirmed cached users are answered. */
static void check_fails_closed(enum hook_mode mode)
{
	struct hook h;
	struct auth_credential c;
	struct waiter w;
	struct auth_backend *b;
	struct auth_http_stats st;

	hook_start(&h);
	w = (struct waiter){ .base = h.base };
	b = hook_backend(&h, h.port);
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 1);
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_FOUND);
	b->ops->confirm(b, &c);
	h.mode = mode;
	ck_assert_int_eq(lookup(b, "eve", NOW + 301, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 2);
	ck_assert_int_eq(w.rc, AUTH_ERROR);
	/* Backing off: nothing is asked; alice, past her TTL but confirmed,
	 * is still served. */
	ck_assert_int_eq(lookup(b, "eve", NOW + 301, &w, &c), AUTH_ERROR);
	ck_assert_int_eq(lookup(b, "alice", NOW + 301, &w, &c), AUTH_FOUND);
	ck_assert_int_eq(h.requests, 2);
	auth_http_stats_read(b, &st);
	ck_assert_uint_eq(st.errors, 1);
	ck_assert_uint_eq(st.failed_closed, 1);
	ck_assert_uint_eq(st.cache_hits, 2);
	/* An unconfirmed answer is not served stale. */
	h.mode = HOOK_KEY;
	ck_assert_int_eq(lookup(b, "bob", NOW + 302, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 3);
	h.mode = mode;
	ck_assert_int_eq(lookup(b, "carol", NOW + 602, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 4);
	ck_assert_int_eq(lookup(b, "bob", NOW + 602, &w, &c), AUTH_ERROR);
	b->ops->free(b);
	hook_stop(&h);
}

START_TEST(test_backend_junk)
{
	check_fails_closed(HOOK_JUNK);
}
END_TEST

START_TEST(test_backend_huge)
{
	check_fails_closed(HOOK_HUGE);
}
END_TEST

START_TEST(test_backend_down)
{
	struct hook h;
	struct auth_credential c;
	struct waiter w;
	struct auth_backend *b;
	struct auth_http_stats st;
	uint16_t closed;

	/* A port nothing listens on: the server's, once it is gone. */
	hook_start(&h);
	closed = h.port;
	evhttp_free(h.http);
	h.http = NULL;
	w = (struct waiter){ .base = h.base };
	b = hook_backend(&h, closed);
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_PENDING);
	ck_assert_int_eq(lookup(b, "bob", NOW, &w, &c), AUTH_PENDING);
	/* auth-max-inflight 2: a third name fails closed at once. */
	ck_assert_int_eq(lookup(b, "carol", NOW, &w, &c), AUTH_ERROR);
	wait_for(&h, &w, 2);
	ck_assert_int_eq(w.rc, AUTH_ERROR);
	/* Backing off (1 s): refused without a request. */
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_ERROR);
	auth_http_stats_read(b, &st);
	ck_assert_uint_eq(st.requests, 2);
	ck_assert_uint_eq(st.errors, 2);
	ck_assert_uint_eq(st.failed_closed, 2);
	ck_assert_uint_eq(st.in_flight, 0);
	/* Past the back-off it asks again. */
	ck_assert_int_eq(lookup(b, "alice", NOW + 1, &w, &c), AUTH_PENDING);
	auth_http_stats_read(b, &st);
	ck_assert_uint_eq(st.in_flight, 1);
	/* Freed with a request in flight: no callback, no leak. */
	b->ops->free(b);
	ck_assert_int_eq(w.calls, 2);
	hook_stop(&h);
}
END_TEST

/* Two workers' hooks on one cache: an answer one fetched serves the
 * other, and the back-off one started holds for both. */
START_TEST(test_backend_shared)
{
	struct hook h;
	struct auth_credential c;
	struct waiter w;
	struct auth_cache *cache = auth_cache_new(64);
	struct auth_backend *a, *b;
	struct auth_http_stats st;

	hook_start(&h);
	w = (struct waiter){ .base = h.base };
	a = hook_backend_shared(&h, h.port, 2, cache);
	b = hook_backend_shared(&h, h.port, 2, cache);
	ck_assert_int_eq(lookup(a, "alice", NOW, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 1);
	ck_assert_int_eq(lookup(b, "alice", NOW, &w, &c), AUTH_FOUND);
	h.mode = HOOK_JUNK;
	ck_assert_int_eq(lookup(a, "eve", NOW, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 2);
	ck_assert_int_eq(lookup(b, "mallory", NOW, &w, &c), AUTH_ERROR);
	auth_http_stats_read(b, &st);
	ck_assert_uint_eq(st.requests, 0);
	ck_assert_int_eq(h.requests, 2);
	/* Once it answers again (through a), b asks again. */
	h.mode = HOOK_KEY;
	ck_assert_int_eq(lookup(a, "bob", NOW + 1, &w, &c), AUTH_PENDING);
	wait_for(&h, &w, 3);
	ck_assert_int_eq(lookup(b, "mallory", NOW + 1, &w, &c), AUTH_PENDING);
	a->ops->free(a);
	b->ops->free(b);
	auth_cache_free(cache);
	hook_stop(&h);
}
END_TEST

/* A hook that never answers: every lookup fails closed within
 * auth-timeout of its start, those queued behind another request on a
 * connection too (four connections, six names). */
START_TEST(test_backend_hung)
{
	struct hook h;
	struct auth_credential c;
	struct waiter w;
	struct auth_backend *b;
	struct auth_http_stats st;
	struct timespec t0, t1;
	char name[16];

	hook_start(&h);
	h.mode = HOOK_HANG;
	w = (struct waiter){ .base = h.base };
	b = hook_backend_n(&h, h.port, 8);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		ck_assert_int_eq(lookup(b, name, NOW, &w, &c), AUTH_PENDING);
	}
	wait_for(&h, &w, 6);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 900 && ms < 1600, "answered after %ld ms", ms);
	ck_assert_int_eq(w.rc, AUTH_ERROR);
	/* The hook got the four sent; the two queued were never sent. */
	ck_assert_int_le(h.requests, 4);
	auth_http_stats_read(b, &st);
	ck_assert_uint_ge(st.errors, 1);
	b->ops->free(b);
	hook_stop(&h);
}
END_TEST

static Suite *auth_http_suite(void)
{
	Suite *s = suite_create("auth_http");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_json_valid);
	tcase_add_test(tc, test_json_junk);
	tcase_add_test(tc, test_json_uint);
	tcase_add_test(tc, test_json_put_string);
	suite_add_tcase(s, tc);
	tc = tcase_create("body");
	tcase_add_test(tc, test_body_build);
	tcase_add_test(tc, test_reply_valid);
	tcase_add_test(tc, test_reply_junk);
	tcase_add_test(tc, test_url);
	tcase_add_test(tc, test_conf);
	tcase_add_test(tc, test_conf_reload_restart_only);
	suite_add_tcase(s, tc);
	tc = tcase_create("backend");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_backend_found_coalesced_cached);
	tcase_add_test(tc, test_backend_junk);
	tcase_add_test(tc, test_backend_huge);
	tcase_add_test(tc, test_backend_down);
	tcase_add_test(tc, test_backend_hung);
	tcase_add_test(tc, test_backend_shared);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The test's server may write to a connection the hook dropped (the
	 * huge body), as the daemon's peers may: turnd ignores SIGPIPE too. */
	signal(SIGPIPE, SIG_IGN);
	return run_suite(auth_http_suite());
}
