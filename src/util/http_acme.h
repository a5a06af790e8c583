/*
 * The ACME HTTP-01 redirect (acme-redirect, as coturn's): a TURN server
 * that owns port 80 (TURN over TCP on 80 for clients behind strict
 * firewalls) answers Let's Encrypt's challenge request on it with a
 * redirect to the web server that holds the token (RFC 8555 section 8.3:
 * the validation server follows redirects). Pure: the caller reads the
 * bytes (net/tcp_preface.c).
 */
#ifndef TURND_UTIL_HTTP_ACME_H
#define TURND_UTIL_HTTP_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The request line and headers, CR LF CR LF included. An ACME validation
 * request is a few hundred bytes. */
#define HTTP_ACME_REQUEST_MAX 1024
/* A token is base64url (RFC 8555 section 8.1), 43 characters for the
 * 128 bits section 8.3 asks for; longer ones are refused. */
#define HTTP_ACME_TOKEN_MAX 128
/* acme-redirect's URL: printable ASCII without spaces. */
#define HTTP_ACME_URL_MAX 512
/* Room for the whole answer. */
#define HTTP_ACME_ANSWER_MAX (HTTP_ACME_URL_MAX + HTTP_ACME_TOKEN_MAX + 128)

enum http_acme_result {
	HTTP_ACME_NEED_MORE, /* an acceptable request so far: read on */
	HTTP_ACME_REDIRECT, /* answer with out, then close */
	HTTP_ACME_REFUSE, /* not a challenge request (or too long): close */
};

/* Whether a connection's first byte may start an HTTP request: methods
 * are upper-case letters (RFC 9110 section 9.1). STUN starts with 0x00 or
 * 0x01 and TLS with 0x16; ChannelData (0x40-0x7F) cannot come first on a
 * new connection, which has no channel yet. */
bool http_acme_first_byte(uint8_t b);

/*
 * The len bytes of a request read so far. REDIRECT once the headers are
 * whole and the request is "GET /.well-known/acme-challenge/TOKEN
 * HTTP/1.x": out (cap at least HTTP_ACME_ANSWER_MAX) then holds a 301
 * whose Location is url followed by TOKEN, and *out_len its length.
 * REFUSE as soon as the bytes cannot be such a request.
 */
enum http_acme_result http_acme_answer(const uint8_t *req, size_t len, const char *url, char *out,
				       size_t cap, size_t *out_len);

#endif
