/* Unit tests of the TLS policy: the values of its options (conf/conf_tls.c),
 * their errors with file:line: option through conf_load_string, the
 * reload's list of changes, and the policy on real OpenSSL contexts
 * (net/tls_policy.c): versions, suites, groups, client certificates. */
#include <check.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_reload.h"
#include "conf/conf_tls.h"
#include "net/tls.h"

#define ERR_MAX 512

static struct conf *load_ok(const char *text)
{
	struct conf *c = NULL;
	char err[ERR_MAX] = "";

	if (conf_load_string(text, "t.conf", NULL, &c, err, sizeof(err)) != 0)
		ck_abort_msg("unexpected error: %s", err);
	return c;
}

static void load_fails(const char *text, const char *want)
{
	struct conf *c = NULL;
	char err[ERR_MAX] = "";

	ck_assert_int_eq(conf_load_string(text, "t.conf", NULL, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c);
	if (!strstr(err, want))
		ck_abort_msg("error \"%s\" does not contain \"%s\"", err, want);
}

/* check(text) fails and why contains want. */
static void value_fails(int (*check)(const char *, char *, size_t), const char *text,
			const char *want)
{
	char why[256] = "";

	ck_assert_int_eq(check(text, why, sizeof(why)), -1);
	if (!strstr(why, want))
		ck_abort_msg("\"%s\": reason \"%s\" does not contain \"%s\"", text, why, want);
}

START_TEST(version_values)
{
	unsigned v = 0;
	char why[256] = "";

	ck_assert_int_eq(conf_tls_version("1.2", &v, why, sizeof(why)), 0);
	ck_assert_uint_eq(v, TLS1_2_VERSION);
	ck_assert_int_eq(conf_tls_version("TLSv1.3", &v, why, sizeof(why)), 0);
	ck_assert_uint_eq(v, TLS1_3_VERSION);
	ck_assert_int_eq(conf_tls_version("tlsv1.2", &v, NULL, 0), 0);
	ck_assert_uint_eq(v, TLS1_2_VERSION);
	const char *old[] = {"1.0", "1.1", "TLSv1", "TLSv1.1"};
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		ck_assert_int_eq(conf_tls_version(old[i], &v, why, sizeof(why)), -1);
		ck_assert_ptr_nonnull(strstr(why, "RFC 8996"));
	}
	ck_assert_int_eq(conf_tls_version("1.4", &v, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "'1.4' is not 1.2 or 1.3"));
	ck_assert_ptr_null(strstr(why, "RFC 8996"));
	ck_assert_int_eq(conf_tls_version("", &v, NULL, 0), -1);
}
END_TEST

START_TEST(client_cert_values)
{
	int required = -1;
	char why[256];

	ck_assert_int_eq(conf_tls_client_cert("required", &required, why, sizeof(why)), 0);
	ck_assert_int_eq(required, 1);
	ck_assert_int_eq(conf_tls_client_cert("optional", &required, why, sizeof(why)), 0);
	ck_assert_int_eq(required, 0);
	ck_assert_int_eq(conf_tls_client_cert("yes", &required, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "'yes' is not required or optional");
}
END_TEST

START_TEST(cipher_list_values)
{
	ck_assert_int_eq(conf_tls_cipher_list(CONF_TLS_DEFAULT_CIPHER_LIST, NULL, 0), 0);
	/* Removals of what this OpenSSL lacks, directives, aliases: fine. */
	ck_assert_int_eq(conf_tls_cipher_list("HIGH:!aNULL:!MD5:!RC4:@STRENGTH", NULL, 0), 0);
	ck_assert_int_eq(
		conf_tls_cipher_list("ECDHE+AESGCM, +ECDHE-RSA-AES128-GCM-SHA256", NULL, 0), 0);
	value_fails(conf_tls_cipher_list, "NOPE", "'NOPE' matches no TLS 1.2 cipher suite");
	/* OpenSSL alone would skip the typo and keep the rest. */
	value_fails(conf_tls_cipher_list, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA257",
		    "'ECDHE-RSA-AES128-GCM-SHA257' matches no");
	value_fails(conf_tls_cipher_list, "TLS_AES_128_GCM_SHA256",
		    "put it in option 'ciphersuites'");
	value_fails(conf_tls_cipher_list, "ALL", "no authentication or no encryption");
	value_fails(conf_tls_cipher_list, "ECDHE-RSA-AES128-GCM-SHA256:eNULL", "add !aNULL:!eNULL");
	value_fails(conf_tls_cipher_list, "", "selects no TLS 1.2 cipher suite");
	value_fails(conf_tls_cipher_list, "!aNULL", "selects no TLS 1.2 cipher suite");
}
END_TEST

START_TEST(ciphersuites_and_groups)
{
	ck_assert_int_eq(conf_tls_ciphersuites(CONF_TLS_DEFAULT_CIPHERSUITES, NULL, 0), 0);
	ck_assert_int_eq(conf_tls_ciphersuites("", NULL, 0), 0); /* TLS 1.3 off */
	value_fails(conf_tls_ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA384",
		    "'TLS_AES_128_GCM_SHA384' is not a TLS 1.3 cipher suite");
	value_fails(conf_tls_ciphersuites, "ECDHE-RSA-AES128-GCM-SHA256", "is not a TLS 1.3");
	value_fails(conf_tls_ciphersuites, "TLS_AES_128_GCM_SHA256::TLS_AES_256_GCM_SHA384",
		    "has an empty name");
	ck_assert_int_eq(conf_tls_groups(CONF_TLS_DEFAULT_ECDH_CURVES, NULL, 0), 0);
	ck_assert_int_eq(conf_tls_groups("P-384:x25519", NULL, 0), 0);
	value_fails(conf_tls_groups, "X25519:P-999", "'P-999' is not a group (curve)");
	value_fails(conf_tls_groups, "", "the list is empty");
	value_fails(conf_tls_groups, "X25519:", "has an empty name");
}
END_TEST

START_TEST(conf_defaults_and_values)
{
	struct conf *c = load_ok("");

	ck_assert_uint_eq(c->tls_min_version, CONF_TLS_1_2);
	ck_assert_str_eq(c->cipher_list, CONF_TLS_DEFAULT_CIPHER_LIST);
	ck_assert_str_eq(c->ciphersuites, CONF_TLS_DEFAULT_CIPHERSUITES);
	ck_assert_str_eq(c->ecdh_curves, CONF_TLS_DEFAULT_ECDH_CURVES);
	ck_assert_ptr_null(c->ca_file);
	ck_assert(c->client_cert_required);
	conf_free(c);
	c = load_ok("tls-min-version = 1.3\ncipher-list = \"ECDHE-RSA-AES256-GCM-SHA384\"\n"
		    "ciphersuites = \"TLS_AES_256_GCM_SHA384\"\necdh-curves = \"secp384r1\"\n"
		    "ca-file = \"/etc/turnd/clients.pem\"\nclient-cert = optional\n");
	ck_assert_uint_eq(c->tls_min_version, CONF_TLS_1_3);
	ck_assert_str_eq(c->cipher_list, "ECDHE-RSA-AES256-GCM-SHA384");
	ck_assert_str_eq(c->ciphersuites, "TLS_AES_256_GCM_SHA384");
	ck_assert_str_eq(c->ecdh_curves, "secp384r1");
	ck_assert_str_eq(c->ca_file, "/etc/turnd/clients.pem");
	ck_assert(!c->client_cert_required);
	conf_free(c);
}
END_TEST

START_TEST(conf_errors_name_file_line_option)
{
	load_fails("realm = x\ntls-min-version = 1.1\n",
		   "t.conf:2: option 'tls-min-version': '1.1' is not 1.2 or 1.3");
	load_fails("\n\ncipher-list = \"ECDHE-RSA-AES128-GCM-SHA256:TYPO\"\n",
		   "t.conf:3: option 'cipher-list': 'TYPO' matches no");
	load_fails("ciphersuites = \"TLS_AES_999\"\n", "t.conf:1: option 'ciphersuites'");
	load_fails("ecdh-curves = \"X25519:nope\"\n", "t.conf:1: option 'ecdh-curves': 'nope'");
	load_fails("ca-file = \"\"\n", "t.conf:1: option 'ca-file': the path is empty");
	load_fails("client-cert = sometimes\n", "t.conf:1: option 'client-cert'");
	load_fails("tls-min-version = 1.3\nciphersuites = \"\"\n",
		   "t.conf: option 'tls-min-version' is 1.3 and option 'ciphersuites' is empty");
}
END_TEST

START_TEST(reload_lists_the_policy)
{
	struct conf *running = load_ok("");
	struct conf *next = load_ok("tls-min-version = 1.3\necdh-curves = \"X25519\"\n"
				    "ca-file = \"/c.pem\"\nclient-cert = optional\n");
	struct conf_reload_diff d;
	char names[256];

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_str_eq(conf_reload_names(d.applied, d.n_applied, names, sizeof(names)),
			 "tls-min-version, ecdh-curves, ca-file, client-cert");
	ck_assert_uint_eq(next->tls_min_version, CONF_TLS_1_3); /* not pinned */
	conf_free(next);
	conf_free(running);
}
END_TEST

/* ---- The policy on real contexts. ---- */

static bool is_tls13(const SSL_CIPHER *c)
{
	return strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
}

/* The TLS 1.2 suite names of ctx, joined by ':'. */
static void tls12_suites(SSL_CTX *ctx, char *out, size_t len)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		if (is_tls13(c))
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ":" : "",
				      SSL_CIPHER_get_name(c));
	}
}

/* The TLS 1.3 suite names of ctx, joined by ':'. */
static void tls13_suites(SSL_CTX *ctx, char *out, size_t len)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		if (!is_tls13(c))
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ":" : "",
				      SSL_CIPHER_get_name(c));
	}
}

START_TEST(policy_defaults_on_contexts)
{
	struct conf *c = load_ok("");
	SSL_CTX *tls = SSL_CTX_new(TLS_server_method());
	SSL_CTX *dtls = SSL_CTX_new(DTLS_server_method());
	char err[ERR_MAX] = "", names[1024];

	ck_assert_int_eq(tls_policy_apply(tls, c, false, err, sizeof(err)), 0);
	ck_assert_int_eq(tls_policy_apply(dtls, c, true, err, sizeof(err)), 0);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(tls), TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(dtls), DTLS1_2_VERSION);
	tls12_suites(tls, names, sizeof(names));
	ck_assert_str_eq(names, CONF_TLS_DEFAULT_CIPHER_LIST);
	tls12_suites(dtls, names, sizeof(names));
	ck_assert_str_eq(names, CONF_TLS_DEFAULT_CIPHER_LIST);
	tls13_suites(tls, names, sizeof(names));
	ck_assert_str_eq(names, CONF_TLS_DEFAULT_CIPHERSUITES);
	uint64_t want =
		SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION;
	ck_assert((SSL_CTX_get_options(tls) & want) == want);
	ck_assert((SSL_CTX_get_options(dtls) & want) == want);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(tls), SSL_VERIFY_NONE);
	SSL_CTX_free(tls);
	SSL_CTX_free(dtls);
	conf_free(c);
}
END_TEST

START_TEST(policy_min_13_keeps_dtls_12)
{
	struct conf *c = load_ok(
		"tls-min-version = 1.3\n"
		"cipher-list = \"ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256\"\n"
		"ciphersuites = \"TLS_CHACHA20_POLY1305_SHA256\"\n");
	SSL_CTX *tls = SSL_CTX_new(TLS_server_method());
	SSL_CTX *dtls = SSL_CTX_new(DTLS_server_method());
	char err[ERR_MAX] = "", names[1024];

	ck_assert_int_eq(tls_policy_apply(tls, c, false, err, sizeof(err)), 0);
	ck_assert_int_eq(tls_policy_apply(dtls, c, true, err, sizeof(err)), 0);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(tls), TLS1_3_VERSION);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(dtls), DTLS1_2_VERSION);
	tls12_suites(dtls, names, sizeof(names));
	ck_assert_str_eq(names, "ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256");
	tls13_suites(tls, names, sizeof(names));
	ck_assert_str_eq(names, "TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_free(tls);
	SSL_CTX_free(dtls);
	conf_free(c);
}
END_TEST

/* A self-signed P-256 CA certificate into a new temporary file, whose
 * path is written to path. */
static void write_ca(char *path, size_t len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test-ca", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	snprintf(path, len, "/tmp/check_tls_policy.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* The verify mode tls_policy_apply gives a TLS context for text. */
static int verify_mode_of(const char *text, int *n_names)
{
	struct conf *c = load_ok(text);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char err[ERR_MAX] = "";

	ck_assert_int_eq(tls_policy_apply(ctx, c, false, err, sizeof(err)), 0);
	int mode = SSL_CTX_get_verify_mode(ctx);
	*n_names = sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx));
	SSL_CTX_free(ctx);
	conf_free(c);
	return mode;
}

START_TEST(policy_client_certificates)
{
	char path[64], text[256];
	int names = 0;

	write_ca(path, sizeof(path));
	snprintf(text, sizeof(text), "ca-file = \"%s\"\n", path);
	ck_assert_int_eq(verify_mode_of(text, &names),
			 SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	ck_assert_int_eq(names, 1); /* the CA named in the CertificateRequest */
	snprintf(text, sizeof(text), "ca-file = \"%s\"\nclient-cert = optional\n", path);
	ck_assert_int_eq(verify_mode_of(text, &names), SSL_VERIFY_PEER);
	ck_assert_int_eq(names, 1);
	unlink(path);

	/* A file that is not there: the error names the option and the file. */
	struct conf *c = load_ok("ca-file = \"/nonexistent/turnd-ca.pem\"\n");
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char err[ERR_MAX] = "";
	ck_assert_int_eq(tls_policy_apply(ctx, c, false, err, sizeof(err)), -1);
	if (!strstr(err, "option 'ca-file': cannot load the CA certificates "
			 "/nonexistent/turnd-ca.pem"))
		ck_abort_msg("unexpected error: %s", err);
	SSL_CTX_free(ctx);
	conf_free(c);
}
END_TEST

START_TEST(policy_describe)
{
	struct conf *c =
		load_ok("tls-min-version = 1.3\nciphersuites = \"TLS_AES_128_GCM_SHA256\"\n"
			"ca-file = \"/x/ca.pem\"\n");
	char line[1024];

	tls_policy_describe(c, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "TLS 1.3 and up (DTLS 1.2)"));
	ck_assert_ptr_nonnull(strstr(line, "TLS 1.3 suites TLS_AES_128_GCM_SHA256;"));
	ck_assert_ptr_nonnull(strstr(line, "client certificates required, verified against "
					   "/x/ca.pem"));
	conf_free(c);
}
END_TEST

static Suite *tls_policy_suite(void)
{
	Suite *s = suite_create("tls_policy");
	TCase *tc = tcase_create("all");

	tcase_add_test(tc, version_values);
	tcase_add_test(tc, client_cert_values);
	tcase_add_test(tc, cipher_list_values);
	tcase_add_test(tc, ciphersuites_and_groups);
	tcase_add_test(tc, conf_defaults_and_values);
	tcase_add_test(tc, conf_errors_name_file_line_option);
	tcase_add_test(tc, reload_lists_the_policy);
	tcase_add_test(tc, policy_defaults_on_contexts);
	tcase_add_test(tc, policy_min_13_keeps_dtls_12);
	tcase_add_test(tc, policy_client_certificates);
	tcase_add_test(tc, policy_describe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
