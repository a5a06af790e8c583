/*
 * libFuzzer target for what the server reads before a TCP connection's
 * first frame: the PROXY protocol header (src/util/proxy_proto.c) and the
 * ACME HTTP-01 request (src/util/http_acme.c).
 *
 * Properties, each a __builtin_trap when broken:
 *  - a header is never longer than what was given nor than PROXY_PROTO_MAX,
 *    and "more" is never asked past PROXY_PROTO_MAX (a bounded read);
 *  - the parse is incremental: a prefix that is refused stays refused with
 *    more bytes, a prefix that is whole gives the same header, and the
 *    header's own bytes without its last one ask for more;
 *  - a client address is IPv4 (its last 12 bytes zero) or IPv6;
 *  - an ACME answer fits its buffer, is a 301, and its Location carries
 *    only the URL and base64url token characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/http_acme.h"
#include "util/proxy_proto.h"

#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define URL "https://acme.example/.well-known/acme-challenge/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_header_facts(const struct proxy_proto_header *h, enum proxy_proto_result r,
			      size_t size)
{
	if (r == PROXY_PROTO_NEED_MORE)
		FUZZ_ASSERT(size < PROXY_PROTO_MAX);
	if (r == PROXY_PROTO_MALFORMED)
		FUZZ_ASSERT(h->why != NULL);
	if (r != PROXY_PROTO_DONE)
		return;
	FUZZ_ASSERT(h->len > 0 && h->len <= size && h->len <= PROXY_PROTO_MAX);
	FUZZ_ASSERT(h->version == 1 || h->version == 2);
	if (!h->local) {
		FUZZ_ASSERT(h->src.family == 4 || h->src.family == 6);
		FUZZ_ASSERT(h->dst.family == 4 || h->dst.family == 6);
		FUZZ_ASSERT(h->src.family == 6 || h->src.ip[15] == 0); /* IPv4: 4 bytes */
	}
}

static void fuzz_proxy(const uint8_t *data, size_t size)
{
	struct proxy_proto_header h, p;
	enum proxy_proto_result r = proxy_proto_parse(data, size, &h);

	fuzz_header_facts(&h, r, size);
	/* Half of it: refused stays refused; whole stays the same header. */
	enum proxy_proto_result rp = proxy_proto_parse(data, size / 2, &p);
	fuzz_header_facts(&p, rp, size / 2);
	if (rp == PROXY_PROTO_MALFORMED)
		FUZZ_ASSERT(r == PROXY_PROTO_MALFORMED);
	if (rp == PROXY_PROTO_DONE)
		FUZZ_ASSERT(r == PROXY_PROTO_DONE && h.len == p.len && h.local == p.local &&
			    memcmp(&h.src, &p.src, sizeof(h.src)) == 0);
	if (r == PROXY_PROTO_DONE)
		FUZZ_ASSERT(proxy_proto_parse(data, h.len - 1, &p) == PROXY_PROTO_NEED_MORE);
}

static bool location_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static void fuzz_acme(const uint8_t *data, size_t size)
{
	char out[HTTP_ACME_ANSWER_MAX];
	size_t out_len = 0;
	enum http_acme_result r = http_acme_answer(data, size, URL, out, sizeof(out), &out_len);

	if (r == HTTP_ACME_NEED_MORE)
		FUZZ_ASSERT(size < HTTP_ACME_REQUEST_MAX);
	if (r != HTTP_ACME_REDIRECT)
		return;
	FUZZ_ASSERT(out_len > 0 && out_len < sizeof(out));
	FUZZ_ASSERT(memcmp(out, "HTTP/1.1 301 ", 13) == 0);
	const char *loc = memmem(out, out_len, "\r\nLocation: " URL, 12 + strlen(URL));
	FUZZ_ASSERT(loc != NULL);
	const char *t = loc + 12 + strlen(URL);
	size_t n = 0;
	while (t + n < out + out_len && location_char(t[n]))
		n++;
	FUZZ_ASSERT(n > 0 && n <= HTTP_ACME_TOKEN_MAX && t[n] == '\r' && t[n + 1] == '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_proxy(data, size);
	fuzz_acme(data, size);
	return 0;
}
