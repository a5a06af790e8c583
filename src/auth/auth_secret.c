/*
 * TURN REST credentials (draft-uberti-behave-turn-rest-00 section 2.2, as
 * coturn implements it for use-auth-secret / static-auth-secret).
 *
 * A web service that shares a secret with the TURN server hands a client
 * username = "<expiry>:<user>" and password = base64(HMAC-SHA1(secret,
 * username)). The server keeps no user list: any well-formed, unexpired
 * username is "found", and the MESSAGE-INTEGRITY check decides. With
 * several secrets (rotation) the request does not say which one the
 * password came from, so the credential carries one key per secret.
 *
 * The check itself (auth_rest_lookup) is shared with the Redis backend,
 * which reads its secrets from Redis instead of the configuration.
 */
#include "auth/auth.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* coturn's default rest-api-separator. */
#define REST_SEPARATOR ':'
/* base64 of a 20-byte HMAC-SHA1: 28 characters (with one '=' of padding),
 * then the NUL EVP_EncodeBlock writes. */
#define REST_PASSWORD_LEN 28

struct auth_secret {
	struct auth_backend base; /* first: the chain holds &base */
	struct auth_rest rest; /* views of realm and secrets below */
	char *realm;
	char *secrets[AUTH_MAX_KEYS];
};

/*
 * The expiry of "expiry" or "expiry:user": decimal digits only, at least
 * one, no sign or space, up to the first separator, and within uint64_t.
 * coturn also takes "user:expiry"; we do not, so a user name of digits can
 * never be read as a time.
 */
int auth_rest_expiry(const uint8_t *name, size_t len, uint64_t *expiry)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && name[i] != REST_SEPARATOR; i++) {
		unsigned d;

		if (name[i] < '0' || name[i] > '9')
			return -1;
		d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i == 0)
		return -1;
	*expiry = v;
	return 0;
}

int auth_rest_password(const char *secret, size_t secret_len, const char *username, size_t len,
		       char out[AUTH_REST_PASSWORD_LEN + 1])
{
	uint8_t mac[STUN_HMAC_SHA1_LEN];
	unsigned int mac_len = 0;
	int rc = -1;

	if (secret_len <= INT_MAX &&
	    HMAC(EVP_sha1(), secret, (int)secret_len, (const uint8_t *)username, len, mac,
		 &mac_len) &&
	    mac_len == sizeof(mac) &&
	    EVP_EncodeBlock((unsigned char *)out, mac, (int)sizeof(mac)) == REST_PASSWORD_LEN)
		rc = 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* The key a client holding secret i would use for username: MD5 and
 * SHA-256 of "username:realm:password" (RFC 8489 section 9.2.2). */
static int derive_key(const struct auth_rest *s, size_t i, const char *username, size_t len,
		      struct auth_key *k)
{
	char password[REST_PASSWORD_LEN + 1];
	int rc = -1;

	if (auth_rest_password(s->secrets[i], s->secret_len[i], username, len, password) < 0)
		goto out;
	if (stun_key_md5(username, s->realm, password, k->md5) < 0 ||
	    stun_key_sha256(username, s->realm, password, k->sha256) < 0)
		goto out;
	k->has_sha256 = true;
	rc = 0;
out:
	OPENSSL_cleanse(password, sizeof(password));
	return rc;
}

int auth_rest_lookup(const struct auth_rest *s, const struct auth_query *q,
		     struct auth_credential *out)
{
	uint64_t expiry;

	/* A USERHASH cannot be turned back into "expiry:user". */
	if (q->userhash || s->n == 0 || s->n > AUTH_MAX_KEYS ||
	    auth_rest_expiry(q->username, q->len, &expiry) < 0)
		return AUTH_NOT_FOUND;
	if (expiry < q->now_s)
		return AUTH_NOT_FOUND;
	/* auth_query_lookup checked the length and that there is no NUL. */
	memcpy(out->username, q->username, q->len);
	out->username[q->len] = '\0';
	out->username_len = q->len;
	out->expires_s = expiry;
	/* Every secret, always: the work does not depend on which one the
	 * client used. */
	for (size_t i = 0; i < s->n; i++)
		if (derive_key(s, i, out->username, q->len, &out->keys[i]) < 0)
			return AUTH_ERROR;
	out->n_keys = s->n;
	return AUTH_FOUND;
}

static int secret_lookup(struct auth_backend *b, const struct auth_query *q,
			 struct auth_credential *out)
{
	return auth_rest_lookup(&((const struct auth_secret *)b)->rest, q, out);
}

static void secret_free(struct auth_backend *b)
{
	struct auth_secret *s = (struct auth_secret *)b;

	if (!s)
		return;
	for (size_t i = 0; i < s->rest.n; i++) {
		OPENSSL_cleanse(s->secrets[i], s->rest.secret_len[i]);
		free(s->secrets[i]);
	}
	free(s->realm);
	free(s);
}

static const struct auth_backend_ops secret_ops = {
	.name = "secret",
	.lookup = secret_lookup,
	.free = secret_free,
};

static int secret_check_args(const char *const *secrets, size_t n, const char *realm, char *err,
			     size_t errlen)
{
	if (!secrets || !realm || n == 0) {
		snprintf(err, errlen, "static-auth-secret: no secret given");
		return -1;
	}
	if (n > AUTH_MAX_KEYS) {
		snprintf(err, errlen, "static-auth-secret: %zu secrets given, at most %d", n,
			 AUTH_MAX_KEYS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = secrets[i] ? strlen(secrets[i]) : 0;

		if (len == 0 || len > INT_MAX) {
			snprintf(err, errlen, "static-auth-secret: secret %zu is empty or too long",
				 i + 1);
			return -1;
		}
	}
	return 0;
}

struct auth_backend *auth_secret_new(const char *const *secrets, size_t n, const char *realm,
				     char *err, size_t errlen)
{
	struct auth_secret *s;

	if (secret_check_args(secrets, n, realm, err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->base.ops = &secret_ops;
	s->realm = strdup(realm);
	if (!s->realm)
		goto oom;
	s->rest.realm = s->realm;
	for (; s->rest.n < n; s->rest.n++) {
		size_t i = s->rest.n;

		s->secrets[i] = strdup(secrets[i]);
		if (!s->secrets[i])
			goto oom;
		s->rest.secrets[i] = s->secrets[i];
		s->rest.secret_len[i] = strlen(secrets[i]);
	}
	return &s->base;
oom:
	snprintf(err, errlen, "static-auth-secret: out of memory");
	secret_free(s ? &s->base : NULL);
	return NULL;
}
