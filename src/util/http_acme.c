/* The ACME HTTP-01 redirect (http_acme.h). */
#include "util/http_acme.h"

#include <stdio.h>
#include <string.h>

static const char prefix[] = "GET /.well-known/acme-challenge/";
#define PREFIX_LEN (sizeof(prefix) - 1)

bool http_acme_first_byte(uint8_t b)
{
	return b >= 'A' && b <= 'Z';
}

/* RFC 8555 section 8.1: the base64url alphabet, no padding. */
static bool token_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Where the first n bytes of what a matches b's start, or -1. */
static bool starts(const uint8_t *a, size_t n, const char *b, size_t blen)
{
	return memcmp(a, b, n < blen ? n : blen) == 0;
}

/* The request line req[0..eol): the token's length, or 0 when it is not a
 * challenge request. */
static size_t request_token(const uint8_t *req, size_t eol)
{
	size_t t = PREFIX_LEN, n = 0;

	while (t + n < eol && token_char(req[t + n]))
		n++;
	if (n == 0 || n > HTTP_ACME_TOKEN_MAX)
		return 0;
	/* " HTTP/1.0" or " HTTP/1.1", and nothing after it. */
	if (eol - (t + n) != 9 || memcmp(req + t + n, " HTTP/1.", 8) != 0 ||
	    (req[eol - 1] != '0' && req[eol - 1] != '1'))
		return 0;
	return n;
}

/* The end of the headers (the index after CR LF CR LF), or 0. */
static size_t headers_end(const uint8_t *req, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (req[i] == '\n' && req[i - 1] == '\r' && req[i - 2] == '\n' &&
		    req[i - 3] == '\r')
			return i + 1;
	return 0;
}

enum http_acme_result http_acme_answer(const uint8_t *req, size_t len, const char *url, char *out,
				       size_t cap, size_t *out_len)
{
	const uint8_t *eol = memchr(req, '\r', len);
	size_t line = eol ? (size_t)(eol - req) : len;

	if (!starts(req, line, prefix, PREFIX_LEN))
		return HTTP_ACME_REFUSE; /* another method or path */
	if (!eol)
		return len >= HTTP_ACME_REQUEST_MAX ? HTTP_ACME_REFUSE : HTTP_ACME_NEED_MORE;
	size_t token = request_token(req, line);
	if (token == 0)
		return HTTP_ACME_REFUSE;
	/* The whole request, so that nothing is left unread when the
	 * connection closes (unread bytes would make it a reset, which may
	 * destroy the answer before the client reads it). */
	if (headers_end(req, len) == 0)
		return len >= HTTP_ACME_REQUEST_MAX ? HTTP_ACME_REFUSE : HTTP_ACME_NEED_MORE;
	int n = snprintf(out, cap,
			 "HTTP/1.1 301 Moved Permanently\r\n"
			 "Location: %s%.*s\r\n"
			 "Content-Length: 0\r\n"
			 "Connection: close\r\n\r\n",
			 url, (int)token, (const char *)req + PREFIX_LEN);
	if (n < 0 || (size_t)n >= cap)
		return HTTP_ACME_REFUSE;
	*out_len = (size_t)n;
	return HTTP_ACME_REDIRECT;
}
