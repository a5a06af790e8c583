/*
 * The TLS policy options (tls-min-version, cipher-list, ciphersuites,
 * ecdh-curves, ca-file, client-cert): their defaults and the checks of
 * their values, made with the OpenSSL library that will use them, so that
 * a value OpenSSL would refuse or half-ignore is a configuration error
 * with its file and line (conf_check.c) rather than a start-up or reload
 * failure. net/tls_policy.c applies them to the TLS and DTLS contexts.
 *
 * Every check returns 0, or -1 with the reason in why (the caller adds
 * file, line and option).
 */
#ifndef TURND_CONF_CONF_TLS_H
#define TURND_CONF_CONF_TLS_H

#include <stddef.h>

/* Mozilla's "intermediate" profile (Server Side TLS guidelines 6.0): TLS
 * 1.2 and 1.3, forward-secret AEAD suites only. 6.0 dropped the DHE-RSA
 * suites of 5.7; an operator who adds them gets the RFC 7919 ffdhe2048
 * group (net/tls_policy.c). Ordered as the profile orders them. */
#define CONF_TLS_DEFAULT_MIN_VERSION "1.2"
#define CONF_TLS_DEFAULT_CIPHER_LIST                                                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* The three TLS 1.3 suites OpenSSL enables by default, in the profile's
 * order. */
#define CONF_TLS_DEFAULT_CIPHERSUITES                                                              \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
/* The profile's groups that OpenSSL 3.0 has (it lists X25519MLKEM768
 * first, which needs OpenSSL 3.5). */
#define CONF_TLS_DEFAULT_ECDH_CURVES "X25519:prime256v1:secp384r1"
#define CONF_TLS_DEFAULT_CLIENT_CERT "required"

/* Protocol versions as on the wire (RFC 8446 section 4.2.1), which are
 * also OpenSSL's TLS1_2_VERSION and TLS1_3_VERSION. */
#define CONF_TLS_1_2 0x0303
#define CONF_TLS_1_3 0x0304

/* tls-min-version: "1.2" or "1.3" (also "TLSv1.2", "TLSv1.3") into *out.
 * TLS 1.0 and 1.1 are refused: RFC 8996 deprecates them. Pure. */
int conf_tls_version(const char *text, unsigned *out, char *why, size_t whylen);

/* client-cert: "required" (1) or "optional" (0) into *required. Pure. */
int conf_tls_client_cert(const char *text, int *required, char *why, size_t whylen);

/* cipher-list: an OpenSSL cipher string for TLS 1.2 and DTLS 1.2. Refused
 * when it selects no TLS 1.2 suite, when one of its positive terms matches
 * no suite (a typo OpenSSL would skip silently), or when it lets in a
 * suite without authentication or encryption (aNULL, eNULL). */
int conf_tls_cipher_list(const char *text, char *why, size_t whylen);

/* ciphersuites: TLS 1.3 suite names joined by ':', each known; "" turns
 * TLS 1.3 off (conf.c refuses that with tls-min-version = 1.3). */
int conf_tls_ciphersuites(const char *text, char *why, size_t whylen);

/* ecdh-curves: group names joined by ':', each known to OpenSSL. */
int conf_tls_groups(const char *text, char *why, size_t whylen);

#endif
