/*
 * The TLS policy options' values (conf_tls.h), checked with a scratch
 * SSL_CTX of the OpenSSL library that will use them.
 */
#include "conf/conf_tls.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* Longest single term of a cipher or group list that is echoed back. */
#define TERM_MAX 128

int conf_tls_version(const char *text, unsigned *out, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		unsigned version; /* 0: refused */
	} names[] = {
		{"1.2", CONF_TLS_1_2},
		{"TLSv1.2", CONF_TLS_1_2},
		{"1.3", CONF_TLS_1_3},
		{"TLSv1.3", CONF_TLS_1_3},
		{"1.0", 0},
		{"TLSv1", 0},
		{"TLSv1.0", 0},
		{"1.1", 0},
		{"TLSv1.1", 0},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) != 0)
			continue;
		if (names[i].version == 0)
			break;
		*out = names[i].version;
		return 0;
	}
	if (why)
		snprintf(why, whylen, "'%.40s' is not 1.2 or 1.3%s", text,
			 strstr(text, "1.0") || strstr(text, "1.1") ||
					 strcasecmp(text, "TLSv1") == 0
				 ? " (TLS 1.0 and 1.1 are deprecated by RFC 8996)"
				 : "");
	return -1;
}

int conf_tls_client_cert(const char *text, int *required, char *why, size_t whylen)
{
	if (strcmp(text, "required") == 0 || strcmp(text, "optional") == 0) {
		*required = text[0] == 'r';
		return 0;
	}
	if (why)
		snprintf(why, whylen, "'%.40s' is not required or optional", text);
	return -1;
}

/* A scratch server context, or NULL (why set). */
static SSL_CTX *scratch(char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx && why)
		snprintf(why, whylen, "cannot create a TLS context to check the value");
	return ctx;
}

/* The next term of list (separated by any of seps) into term, advancing
 * *pos; false at the end. Terms longer than TERM_MAX - 1 are cut. */
static bool next_term(const char *list, size_t *pos, const char *seps, char term[TERM_MAX])
{
	size_t p = *pos + strspn(list + *pos, seps);
	size_t n = strcspn(list + p, seps);

	if (n == 0)
		return false;
	snprintf(term, TERM_MAX, "%.*s", (int)n, list + p);
	*pos = p + n;
	return true;
}

/* Whether OpenSSL's cipher-string term matches at least one suite. A
 * removal ('!', '-') or a directive ('@STRENGTH') selects nothing and is
 * not looked at: "!RC4" is fine where RC4 is not even built. */
static bool term_matches(SSL_CTX *ctx, const char *term)
{
	if (term[0] == '!' || term[0] == '-' || term[0] == '@')
		return true;
	if (term[0] == '+')
		term++;
	return SSL_CTX_set_cipher_list(ctx, term) == 1;
}

/* The first suite of ctx's list that TLS 1.2 could pick without
 * authenticating the server or without encrypting, or NULL. */
static const char *insecure_suite(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);

	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		if (SSL_CIPHER_get_auth_nid(c) == NID_auth_null ||
		    SSL_CIPHER_get_cipher_nid(c) == NID_undef)
			return SSL_CIPHER_get_name(c);
	}
	return NULL;
}

static int cipher_list_check(SSL_CTX *ctx, const char *text, char *why, size_t whylen)
{
	char term[TERM_MAX];
	size_t pos = 0;

	while (next_term(text, &pos, ": ,", term)) {
		if (term_matches(ctx, term))
			continue;
		bool v13 = SSL_CTX_set_ciphersuites(ctx, term) == 1;
		snprintf(why, whylen, "'%s' matches no TLS 1.2 cipher suite%s", term,
			 v13 ? " (it is a TLS 1.3 suite: put it in option 'ciphersuites')" : "");
		return -1;
	}
	if (SSL_CTX_set_cipher_list(ctx, text) != 1) {
		snprintf(why, whylen, "'%.80s' selects no TLS 1.2 cipher suite", text);
		return -1;
	}
	const char *bad = insecure_suite(ctx);
	if (bad) {
		snprintf(why, whylen,
			 "'%.80s' lets in %s, which has no authentication or no encryption: "
			 "add !aNULL:!eNULL",
			 text, bad);
		return -1;
	}
	return 0;
}

int conf_tls_cipher_list(const char *text, char *why, size_t whylen)
{
	char buf[256];
	SSL_CTX *ctx = scratch(why, whylen);

	if (!ctx)
		return -1;
	/* why may be NULL: the checks write to a buffer of their own. */
	int rc = cipher_list_check(ctx, text, buf, sizeof(buf));
	if (rc < 0 && why)
		snprintf(why, whylen, "%s", buf);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* Each term of list (joined by ':') accepted alone by set, then the whole:
 * OpenSSL skips unknown TLS 1.3 suite names when one is known. */
static int names_check(const char *text, int (*set)(SSL_CTX *, const char *), const char *noun,
		       char *why, size_t whylen)
{
	char term[TERM_MAX], buf[256] = "";
	size_t pos = 0;
	SSL_CTX *ctx = scratch(why, whylen);

	if (!ctx)
		return -1;
	if (strstr(text, "::") || text[0] == ':' || (text[0] && text[strlen(text) - 1] == ':'))
		snprintf(buf, sizeof(buf), "'%.80s' has an empty name", text);
	while (!buf[0] && next_term(text, &pos, ":", term))
		if (set(ctx, term) != 1)
			snprintf(buf, sizeof(buf), "'%s' is not a %s OpenSSL knows", term, noun);
	if (!buf[0] && text[0] && set(ctx, text) != 1)
		snprintf(buf, sizeof(buf), "'%.80s' is refused by OpenSSL", text);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (!buf[0])
		return 0;
	if (why)
		snprintf(why, whylen, "%s", buf);
	return -1;
}

static int set_suites(SSL_CTX *ctx, const char *s)
{
	return SSL_CTX_set_ciphersuites(ctx, s);
}

static int set_groups(SSL_CTX *ctx, const char *s)
{
	return (int)SSL_CTX_set1_groups_list(ctx, s);
}

int conf_tls_ciphersuites(const char *text, char *why, size_t whylen)
{
	return names_check(text, set_suites, "TLS 1.3 cipher suite", why, whylen);
}

int conf_tls_groups(const char *text, char *why, size_t whylen)
{
	if (text[0] == '\0') {
		if (why)
			snprintf(why, whylen, "the list is empty");
		return -1;
	}
	return names_check(text, set_groups, "group (curve)", why, whylen);
}
