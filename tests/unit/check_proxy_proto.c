/* Unit tests for src/util/proxy_proto (the PROXY protocol header, versions
 * 1 and 2, as HAProxy sends them) and src/util/http_acme (the ACME
 * HTTP-01 redirect). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/http_acme.h"
#include "util/proxy_proto.h"

/* What HAProxy 2.6 sends with send-proxy-v2 for 127.0.0.5:40000 ->
 * 127.0.0.1:443 (captured from the test's HAProxy). */
static const uint8_t v2_tcp4[] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, /* signature */
	0x21, 0x11, 0x00, 0x0C, /* v2 PROXY, AF_INET STREAM, 12 bytes */
	127,  0,    0,	  5,	127,  0,    0,	  1,	0x9C, 0x40, 0x01, 0xBB,
};

/* [2001:db8::5]:40000 -> [2001:db8::1]:443, then two TLVs (ALPN "h2" and
 * a NOOP of 3 bytes) that are skipped. */
static const uint8_t v2_tcp6_tlv[] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
	0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 0x24 + 5 + 6,
	0x20, 0x01, 0x0D, 0xB8, 0,    0,    0,	  0,
	0,    0,    0,	  0,	0,    0,    0,	  5,
	0x20, 0x01, 0x0D, 0xB8, 0,    0,    0,	  0,
	0,    0,    0,	  0,	0,    0,    0,	  1,
	0x9C, 0x40, 0x01, 0xBB, 0x01, 0x00, 0x02, 'h',
	'2',  0x04, 0x00, 0x03, 0,    0,    0,
};

/* HAProxy's health check with check-send-proxy: LOCAL, no addresses. */
static const uint8_t v2_local[] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
	0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00,
};

static enum proxy_proto_result parse(const void *buf, size_t len, struct proxy_proto_header *h)
{
	return proxy_proto_parse(buf, len, h);
}

static void assert_addr(const struct turn_addr *a, const char *want)
{
	char text[TURN_ADDR_STRLEN];

	ck_assert_str_eq(turn_addr_format(a, true, text, sizeof(text)), want);
}

/* Every proper prefix of a header asks for more. */
static void assert_prefixes_need_more(const uint8_t *buf, size_t len)
{
	struct proxy_proto_header h;

	for (size_t n = 0; n < len; n++)
		ck_assert_msg(parse(buf, n, &h) == PROXY_PROTO_NEED_MORE, "prefix of %zu bytes", n);
}

START_TEST(v2_tcp4_as_haproxy_sends_it)
{
	uint8_t buf[sizeof(v2_tcp4) + 3];
	struct proxy_proto_header h;

	memcpy(buf, v2_tcp4, sizeof(v2_tcp4));
	memcpy(buf + sizeof(v2_tcp4), "\x16\x03\x01", 3); /* a ClientHello behind it */
	ck_assert_int_eq(parse(buf, sizeof(buf), &h), PROXY_PROTO_DONE);
	ck_assert_uint_eq(h.version, 2);
	ck_assert(!h.local);
	ck_assert_uint_eq(h.len, sizeof(v2_tcp4));
	assert_addr(&h.src, "127.0.0.5:40000");
	assert_addr(&h.dst, "127.0.0.1:443");
	assert_prefixes_need_more(v2_tcp4, sizeof(v2_tcp4));
}
END_TEST

START_TEST(v2_tcp6_with_tlvs_skipped)
{
	struct proxy_proto_header h;

	ck_assert_int_eq(parse(v2_tcp6_tlv, sizeof(v2_tcp6_tlv), &h), PROXY_PROTO_DONE);
	ck_assert_uint_eq(h.len, sizeof(v2_tcp6_tlv));
	assert_addr(&h.src, "[2001:db8::5]:40000");
	assert_addr(&h.dst, "[2001:db8::1]:443");
	assert_prefixes_need_more(v2_tcp6_tlv, sizeof(v2_tcp6_tlv));
}
END_TEST

START_TEST(v2_local_keeps_the_connection_address)
{
	struct proxy_proto_header h;
	uint8_t buf[sizeof(v2_local) + 12];

	ck_assert_int_eq(parse(v2_local, sizeof(v2_local), &h), PROXY_PROTO_DONE);
	ck_assert(h.local);
	ck_assert_uint_eq(h.len, 16);
	ck_assert_uint_eq(h.src.family, 0);
	/* LOCAL with an address block (allowed): the block is skipped. */
	memcpy(buf, v2_tcp4, sizeof(v2_tcp4));
	buf[12] = 0x20;
	ck_assert_int_eq(parse(buf, sizeof(v2_tcp4), &h), PROXY_PROTO_DONE);
	ck_assert(h.local);
	ck_assert_uint_eq(h.len, sizeof(v2_tcp4));
}
END_TEST

START_TEST(v2_bad_signature_at_every_byte)
{
	struct proxy_proto_header h;
	uint8_t buf[sizeof(v2_tcp4)];

	for (size_t i = 1; i < 12; i++) {
		memcpy(buf, v2_tcp4, sizeof(buf));
		buf[i] ^= 0x20;
		/* Refused as soon as the wrong byte is there. */
		ck_assert_int_eq(parse(buf, i + 1, &h), PROXY_PROTO_MALFORMED);
		ck_assert_str_eq(h.why, "no PROXY header");
	}
}
END_TEST

START_TEST(v2_bad_version_command_family)
{
	static const uint8_t bad[][2] = {
		{0x11, 0x11}, /* version 1 in the binary form */
		{0x31, 0x11}, /* version 3 */
		{0x22, 0x11}, /* command 2 */
		{0x21, 0x31}, /* AF_UNIX */
		{0x21, 0x12}, /* AF_INET over DGRAM */
		{0x21, 0x01}, /* AF_UNSPEC with PROXY: no client to use */
		{0x21, 0x21}, /* AF_INET6 in a 12-byte block */
	};
	struct proxy_proto_header h;
	uint8_t buf[sizeof(v2_tcp4)];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, v2_tcp4, sizeof(buf));
		buf[12] = bad[i][0];
		buf[13] = bad[i][1];
		ck_assert_msg(parse(buf, sizeof(buf), &h) == PROXY_PROTO_MALFORMED, "case %zu", i);
		ck_assert_ptr_nonnull(h.why);
	}
}
END_TEST

START_TEST(v2_oversize_refused_at_sixteen_bytes)
{
	struct proxy_proto_header h;
	uint8_t buf[PROXY_PROTO_V2_MAX + 1];

	memset(buf, 0, sizeof(buf));
	memcpy(buf, v2_tcp4, 16);
	buf[14] = 0xFF;
	buf[15] = 0xFF;
	ck_assert_int_eq(parse(buf, 16, &h), PROXY_PROTO_MALFORMED);
	/* The largest accepted: 1024 bytes of TLVs after the addresses. */
	buf[14] = 0x04;
	buf[15] = 0x00;
	memcpy(buf + 16, v2_tcp4 + 16, 12);
	ck_assert_int_eq(parse(buf, PROXY_PROTO_V2_MAX - 1, &h), PROXY_PROTO_NEED_MORE);
	ck_assert_int_eq(parse(buf, PROXY_PROTO_V2_MAX, &h), PROXY_PROTO_DONE);
	ck_assert_uint_eq(h.len, PROXY_PROTO_V2_MAX);
	buf[15] = 0x01;
	ck_assert_int_eq(parse(buf, 16, &h), PROXY_PROTO_MALFORMED);
}
END_TEST

START_TEST(v1_tcp4_tcp6_as_haproxy_sends_them)
{
	static const char v4[] = "PROXY TCP4 127.0.0.5 127.0.0.1 40000 443\r\n";
	static const char v6[] = "PROXY TCP6 2001:db8::5 ::1 1 65535\r\nSTUN";
	struct proxy_proto_header h;

	ck_assert_int_eq(parse(v4, strlen(v4), &h), PROXY_PROTO_DONE);
	ck_assert_uint_eq(h.version, 1);
	ck_assert_uint_eq(h.len, strlen(v4));
	assert_addr(&h.src, "127.0.0.5:40000");
	assert_addr(&h.dst, "127.0.0.1:443");
	assert_prefixes_need_more((const uint8_t *)v4, strlen(v4));
	ck_assert_int_eq(parse(v6, strlen(v6), &h), PROXY_PROTO_DONE);
	ck_assert_uint_eq(h.len, strlen(v6) - 4);
	assert_addr(&h.src, "[2001:db8::5]:1");
	assert_addr(&h.dst, "[::1]:65535");
}
END_TEST

/* A dual-stack proxy's IPv4 client arrives as ::ffff:a.b.c.d: it is an
 * IPv4 client. */
START_TEST(v4_mapped_client_is_ipv4)
{
	static const char v1[] = "PROXY TCP6 ::ffff:192.0.2.7 ::ffff:198.51.100.1 5000 443\r\n";
	uint8_t v2[sizeof(v2_tcp6_tlv)];
	struct proxy_proto_header h;

	ck_assert_int_eq(parse(v1, strlen(v1), &h), PROXY_PROTO_DONE);
	assert_addr(&h.src, "192.0.2.7:5000");
	assert_addr(&h.dst, "198.51.100.1:443");
	memcpy(v2, v2_tcp6_tlv, sizeof(v2));
	memcpy(v2 + 16, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x07", 16);
	ck_assert_int_eq(parse(v2, sizeof(v2), &h), PROXY_PROTO_DONE);
	assert_addr(&h.src, "192.0.2.7:40000");
	assert_addr(&h.dst, "[2001:db8::1]:443");
}
END_TEST

START_TEST(v1_unknown_keeps_the_connection_address)
{
	static const char *ok[] = {
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n",
	};
	struct proxy_proto_header h;

	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(parse(ok[i], strlen(ok[i]), &h), PROXY_PROTO_DONE);
		ck_assert(h.local);
		ck_assert_uint_eq(h.len, strlen(ok[i]));
	}
}
END_TEST

START_TEST(v1_malformed_lines)
{
	static const char *bad[] = {
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", /* LF without CR */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", /* CR without LF */
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", /* no such protocol */
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", /* IPv6 under TCP4 */
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", /* IPv4 under TCP6 */
		"PROXY TCP4 1.2.3.4:5 5.6.7.8 1 2\r\n", /* a port in the address */
		"PROXY TCP6 [::1] ::1 1 2\r\n", /* brackets */
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /* port out of range */
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", /* empty port */
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", /* two spaces */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", /* a field too many */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", /* one too few */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x01\r\n", /* not printable */
		"PROXY\r\n",
		"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	};
	struct proxy_proto_header h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], strlen(bad[i]), &h) == PROXY_PROTO_MALFORMED, "%s",
			      bad[i]);
		ck_assert_ptr_nonnull(h.why);
	}
}
END_TEST

START_TEST(v1_at_most_107_bytes)
{
	char line[200];
	struct proxy_proto_header h;

	/* 107 bytes with CR LF: the longest accepted. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	ck_assert_int_eq(parse(line, 107, &h), PROXY_PROTO_DONE);
	ck_assert_uint_eq(h.len, 107);
	/* 108: refused once the 107th byte is not the LF. */
	memset(line + 105, 'x', 2);
	memcpy(line + 106, "\r\n", 2);
	ck_assert_int_eq(parse(line, 105, &h), PROXY_PROTO_NEED_MORE);
	ck_assert_int_eq(parse(line, 106, &h), PROXY_PROTO_MALFORMED);
	ck_assert_int_eq(parse(line, 108, &h), PROXY_PROTO_MALFORMED);
	/* A stream of bytes without CR LF: refused at 106. */
	memset(line + 14, 'y', sizeof(line) - 14);
	ck_assert_int_eq(parse(line, sizeof(line), &h), PROXY_PROTO_MALFORMED);
}
END_TEST

START_TEST(missing_header_refused_at_the_first_byte)
{
	static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
	static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00};
	struct proxy_proto_header h;

	ck_assert_int_eq(parse(stun, 1, &h), PROXY_PROTO_MALFORMED);
	ck_assert_int_eq(parse(stun, sizeof(stun), &h), PROXY_PROTO_MALFORMED);
	ck_assert_int_eq(parse(tls, 1, &h), PROXY_PROTO_MALFORMED);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n", 16, &h), PROXY_PROTO_MALFORMED);
	ck_assert_int_eq(parse("", 0, &h), PROXY_PROTO_NEED_MORE);
}
END_TEST

/* ---- http_acme ---- */

#define URL "https://acme.example.net/.well-known/acme-challenge/"
#define TOKEN "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

static enum http_acme_result acme(const char *req, size_t len, char *out, size_t *out_len)
{
	return http_acme_answer((const uint8_t *)req, len, URL, out, HTTP_ACME_ANSWER_MAX, out_len);
}

START_TEST(acme_challenge_redirected)
{
	static const char req[] = "GET /.well-known/acme-challenge/" TOKEN " HTTP/1.1\r\n"
				  "Host: turn.example.net\r\nUser-Agent: Mozilla/5.0 (compatible; "
				  "Let's Encrypt validation server)\r\nAccept: */*\r\n\r\n";
	char out[HTTP_ACME_ANSWER_MAX];
	size_t out_len = 0;

	ck_assert_int_eq(acme(req, strlen(req), out, &out_len), HTTP_ACME_REDIRECT);
	out[out_len] = '\0';
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 301 Moved Permanently\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nLocation: " URL TOKEN "\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 0\r\n"));
	ck_assert_ptr_eq(strstr(out, "\r\n\r\n"), out + out_len - 4);
	/* Every prefix: more, since the headers are not over. */
	for (size_t n = 0; n < strlen(req); n++)
		ck_assert_msg(acme(req, n, out, &out_len) == HTTP_ACME_NEED_MORE, "prefix %zu", n);
	ck_assert_int_eq(
		acme("GET /.well-known/acme-challenge/x HTTP/1.0\r\n\r\n", 46, out, &out_len),
		HTTP_ACME_REDIRECT);
}
END_TEST

START_TEST(acme_other_requests_refused)
{
	static const char *bad[] = {
		"POST /.well-known/acme-challenge/abc HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET /.well-known/acme-challenge/ HTTP/1.1\r\n\r\n", /* no token */
		"GET /.well-known/acme-challenge/a/b HTTP/1.1\r\n\r\n", /* not base64url */
		"GET /.well-known/acme-challenge/a%0d%0aX: y HTTP/1.1\r\n\r\n",
		"GET /.well-known/acme-challenge/abc HTTP/2.0\r\n\r\n",
		"GET /.well-known/acme-challenge/abc HTTP/1.1 x\r\n\r\n",
		"GET /.well-known/acme-challenge/abc?x=1 HTTP/1.1\r\n\r\n",
		"HEAD /.well-known/acme-challenge/abc HTTP/1.1\r\n\r\n",
	};
	char out[HTTP_ACME_ANSWER_MAX];
	size_t out_len = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(acme(bad[i], strlen(bad[i]), out, &out_len) == HTTP_ACME_REFUSE, "%s",
			      bad[i]);
	/* Refused from its first differing byte. */
	ck_assert_int_eq(acme("P", 1, out, &out_len), HTTP_ACME_REFUSE);
	ck_assert_int_eq(acme("GET /i", 6, out, &out_len), HTTP_ACME_REFUSE);
}
END_TEST

START_TEST(acme_bounds)
{
	char req[HTTP_ACME_REQUEST_MAX + 256], out[HTTP_ACME_ANSWER_MAX];
	size_t out_len = 0;
	int n;

	/* A token of 128 characters is taken, 129 is not. */
	for (int len = HTTP_ACME_TOKEN_MAX; len <= HTTP_ACME_TOKEN_MAX + 1; len++) {
		n = snprintf(req, sizeof(req),
			     "GET /.well-known/acme-challenge/%0*d HTTP/1.1\r\n\r\n", len, 7);
		ck_assert_int_eq(acme(req, (size_t)n, out, &out_len), len == HTTP_ACME_TOKEN_MAX
									      ? HTTP_ACME_REDIRECT
									      : HTTP_ACME_REFUSE);
	}
	/* Headers that never end: refused at HTTP_ACME_REQUEST_MAX. */
	n = snprintf(req, sizeof(req), "GET /.well-known/acme-challenge/abc HTTP/1.1\r\nX: ");
	memset(req + n, 'a', sizeof(req) - (size_t)n);
	ck_assert_int_eq(acme(req, HTTP_ACME_REQUEST_MAX - 1, out, &out_len), HTTP_ACME_NEED_MORE);
	ck_assert_int_eq(acme(req, HTTP_ACME_REQUEST_MAX, out, &out_len), HTTP_ACME_REFUSE);
	/* A request line that never ends. */
	memset(req, 'A', sizeof(req));
	memcpy(req, "GET /.well-known/acme-challenge/", 32);
	ck_assert_int_eq(acme(req, HTTP_ACME_REQUEST_MAX, out, &out_len), HTTP_ACME_REFUSE);
}
END_TEST

START_TEST(acme_first_byte)
{
	ck_assert(http_acme_first_byte('G'));
	ck_assert(http_acme_first_byte('P'));
	ck_assert(!http_acme_first_byte(0x00)); /* STUN */
	ck_assert(!http_acme_first_byte(0x01));
	ck_assert(!http_acme_first_byte(0x16)); /* TLS */
	ck_assert(!http_acme_first_byte(0x40)); /* ChannelData 0x4000 */
	ck_assert(!http_acme_first_byte('g'));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy_proto");
	TCase *tc = tcase_create("proxy_proto");
	TCase *ta = tcase_create("http_acme");

	tcase_add_test(tc, v2_tcp4_as_haproxy_sends_it);
	tcase_add_test(tc, v2_tcp6_with_tlvs_skipped);
	tcase_add_test(tc, v2_local_keeps_the_connection_address);
	tcase_add_test(tc, v2_bad_signature_at_every_byte);
	tcase_add_test(tc, v2_bad_version_command_family);
	tcase_add_test(tc, v2_oversize_refused_at_sixteen_bytes);
	tcase_add_test(tc, v1_tcp4_tcp6_as_haproxy_sends_them);
	tcase_add_test(tc, v1_unknown_keeps_the_connection_address);
	tcase_add_test(tc, v4_mapped_client_is_ipv4);
	tcase_add_test(tc, v1_malformed_lines);
	tcase_add_test(tc, v1_at_most_107_bytes);
	tcase_add_test(tc, missing_header_refused_at_the_first_byte);
	tcase_add_test(ta, acme_challenge_redirected);
	tcase_add_test(ta, acme_other_requests_refused);
	tcase_add_test(ta, acme_bounds);
	tcase_add_test(ta, acme_first_byte);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, ta);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
