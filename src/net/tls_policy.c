/*
 * The TLS policy of the configuration (conf/conf_tls.h) on a new TLS or
 * DTLS context: protocol versions, suites, groups, the DHE group, and
 * client certificates. tls.c calls it for every context it makes, at
 * start-up and on SIGHUP, so a reload changes what new connections get.
 */
#include <errno.h>
#include <openssl/dh.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf_tls.h"
#include "net/tls.h"

/* The session id context of resumed sessions: OpenSSL refuses to resume
 * a session whose client was verified without one. */
static const unsigned char policy_sid_ctx[] = "turnd";

/* "option 'NAME': WHAT VALUE: REASON", the oldest OpenSSL error as the
 * reason (errno when there is none), then the queue cleared. */
static int policy_error(char *err, size_t errlen, const char *opt, const char *what,
			const char *value)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "option '%s': %s %s: %s", opt, what, value,
		 r ? r : (errno ? strerror(errno) : "refused by OpenSSL"));
	ERR_clear_error();
	return -1;
}

/* RFC 7919 ffdhe2048 for DHE suites an operator adds to cipher-list
 * (Mozilla's intermediate profile asks for 2048-bit ffdhe2048 where DHE
 * is used). A named group instead of a dh-file: nothing to generate or
 * get wrong. Without DH parameters OpenSSL would just skip DHE suites. */
static int policy_dhe(SSL_CTX *ctx)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *dh = NULL;

	if (pctx && EVP_PKEY_paramgen_init(pctx) == 1 &&
	    EVP_PKEY_CTX_set_dh_nid(pctx, NID_ffdhe2048) == 1)
		EVP_PKEY_paramgen(pctx, &dh);
	EVP_PKEY_CTX_free(pctx);
	if (!dh || SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
		EVP_PKEY_free(dh);
		return -1;
	}
	return 0;
}

/* ca-file: ask every client for a certificate, name the CAs in the
 * request (RFC 8446 section 4.3.2, certificate_authorities), verify what
 * comes against them, and refuse a client without one when required. */
static int policy_client_certs(SSL_CTX *ctx, const struct conf *c, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) * names;

	if (!c->ca_file)
		return 0;
	ERR_clear_error();
	errno = 0;
	if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1)
		return policy_error(err, errlen, "ca-file", "cannot load the CA certificates",
				    c->ca_file);
	names = SSL_load_client_CA_file(c->ca_file);
	if (!names)
		return policy_error(err, errlen, "ca-file", "no CA certificate in", c->ca_file);
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx,
			   SSL_VERIFY_PEER |
				   (c->client_cert_required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			   NULL);
	SSL_CTX_set_session_id_context(ctx, policy_sid_ctx, sizeof(policy_sid_ctx) - 1);
	return 0;
}

int tls_policy_apply(SSL_CTX *ctx, const struct conf *c, bool dtls, char *err, size_t errlen)
{
	/* DTLS 1.2 is the only DTLS left: 1.0 is TLS 1.1's twin (RFC 8996),
	 * and OpenSSL 3.0 has no DTLS 1.3. */
	int min = dtls ? DTLS1_2_VERSION : (int)c->tls_min_version;

	ERR_clear_error();
	errno = 0;
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1)
		return policy_error(err, errlen, "tls-min-version", "cannot set",
				    c->tls_min_version == CONF_TLS_1_3 ? "1.3" : "1.2");
	/* The operator's order decides (cipher-list), except that a client
	 * that puts ChaCha20 first (no AES hardware) gets it. No compression
	 * (CRIME), no renegotiation (RFC 5746 attacks, CPU exhaustion). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_cipher_list(ctx, c->cipher_list) != 1)
		return policy_error(err, errlen, "cipher-list", "cannot use", c->cipher_list);
	if (!dtls && SSL_CTX_set_ciphersuites(ctx, c->ciphersuites) != 1)
		return policy_error(err, errlen, "ciphersuites", "cannot use", c->ciphersuites);
	if (SSL_CTX_set1_groups_list(ctx, c->ecdh_curves) != 1)
		return policy_error(err, errlen, "ecdh-curves", "cannot use", c->ecdh_curves);
	if (policy_dhe(ctx) < 0)
		return policy_error(err, errlen, "cipher-list", "cannot make the DHE group for",
				    "ffdhe2048");
	return policy_client_certs(ctx, c, err, errlen);
}

void tls_policy_describe(const struct conf *c, char *buf, size_t len)
{
	char clients[320] = "not asked for";

	if (c->ca_file)
		snprintf(clients, sizeof(clients), "%s, verified against %s",
			 c->client_cert_required ? "required" : "optional", c->ca_file);
	snprintf(buf, len,
		 "TLS %s and up (DTLS 1.2); TLS 1.2 and DTLS suites %s; TLS 1.3 suites %s; "
		 "groups %s; client certificates %s",
		 c->tls_min_version == CONF_TLS_1_3 ? "1.3" : "1.2", c->cipher_list,
		 c->ciphersuites[0] ? c->ciphersuites : "none", c->ecdh_curves, clients);
}
