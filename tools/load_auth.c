/*
 * turnload's credentials: the long-term mechanism of RFC 8489 section 9.2
 * as a client sees it (take REALM, NONCE and PASSWORD-ALGORITHMS from a
 * 401 or 438, derive the key, sign requests), and the TURN REST username
 * and password made from a shared secret.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "turn/nonce.h"

/* REALM and NONCE: at most 763 bytes (RFC 8489 sections 14.9, 14.10). */
#define AUTH_TEXT_MAX 763
#define AUTH_PWALGS_MAX 16

void load_cred_clear(struct load_cred *c)
{
	free(c->realm);
	free(c->nonce);
	free(c->pwalgs);
	memset(c, 0, sizeof(*c));
}

/* A text attribute as a new C string, or NULL. */
static char *dup_text(const struct stun_msg *m, uint16_t type)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	const uint8_t *text;
	size_t len;

	if (!a || stun_attr_get_text(m, a, AUTH_TEXT_MAX, &text, &len) < 0 ||
	    memchr(text, 0, len))
		return NULL;
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, text, len);
		s[len] = '\0';
	}
	return s;
}

static bool offers_md5(const struct stun_msg *m, const struct stun_attr *a)
{
	uint16_t algs[AUTH_PWALGS_MAX];
	size_t n = 0;

	if (stun_attr_get_pwalgs(m, a, algs, AUTH_PWALGS_MAX, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (algs[i] == STUN_PWALG_MD5)
			return true;
	return false;
}

/* Is the challenge one we may answer? NULL if so, or why not. */
static const char *challenge_problem(const struct stun_msg *m, const char *nonce, bool realm)
{
	const struct stun_attr *algs = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	uint32_t features = 0;

	if (!nonce || !realm)
		return "challenge without a usable REALM and NONCE";
	/* A nonce announcing password algorithms with the list missing is a
	 * downgrade: do not answer it (RFC 8489 section 9.2.5). */
	if (turn_nonce_features((const uint8_t *)nonce, strlen(nonce), &features) == 1 &&
	    (features & TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS) && !algs)
		return "PASSWORD-ALGORITHMS missing from the challenge";
	if (algs && (algs->len == 0 || !offers_md5(m, algs)))
		return "the server does not offer MD5";
	return NULL;
}

int load_cred_take(struct load_cred *c, const struct load_opts *o, const struct stun_msg *m,
		   const char **why)
{
	const struct stun_attr *algs = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	char *nonce = dup_text(m, STUN_ATTR_NONCE), *realm = dup_text(m, STUN_ATTR_REALM);

	/* A 438 may leave REALM out: the one we have still holds. */
	*why = challenge_problem(m, nonce, realm || c->realm);
	if (*why) {
		free(nonce);
		free(realm);
		return -1;
	}
	if (realm) {
		free(c->realm);
		c->realm = realm;
	}
	free(c->nonce);
	c->nonce = nonce;
	free(c->pwalgs);
	c->pwalgs = NULL;
	c->pwalgs_len = 0;
	if (algs && (c->pwalgs = malloc(algs->len)) != NULL) {
		memcpy(c->pwalgs, stun_attr_value(m, algs), algs->len);
		c->pwalgs_len = algs->len;
	}
	if (stun_key_md5(o->user, c->realm, o->pass, c->key) < 0) {
		*why = "the user name or password is not valid UTF-8";
		return -1;
	}
	c->have_key = true;
	return 0;
}

/* RFC 8489 section 9.2.3: USERNAME, REALM, NONCE, the algorithms the
 * server offered and the one chosen, then MESSAGE-INTEGRITY. */
void load_cred_append(struct stun_builder *b, const struct load_opts *o, const struct load_cred *c)
{
	if (!c->have_key)
		return;
	stun_build_text(b, STUN_ATTR_USERNAME, o->user);
	stun_build_text(b, STUN_ATTR_REALM, c->realm);
	stun_build_text(b, STUN_ATTR_NONCE, c->nonce);
	if (c->pwalgs_len) {
		stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHMS, c->pwalgs, c->pwalgs_len);
		stun_build_pwalg(b, STUN_PWALG_MD5);
	}
	stun_build_integrity(b, c->key, sizeof(c->key));
}

int load_cred_rest(const char *secret, const char *user, long long expiry, char *name,
		   size_t name_cap, char *pass, size_t pass_cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int n = user ? snprintf(name, name_cap, "%lld:%s", expiry, user)
		     : snprintf(name, name_cap, "%lld", expiry);

	if (n < 0 || (size_t)n >= name_cap || pass_cap < 4 * ((STUN_HMAC_SHA1_LEN + 2) / 3) + 1)
		return -1;
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)name, (size_t)n,
		  mac, &mac_len) ||
	    mac_len != STUN_HMAC_SHA1_LEN)
		return -1;
	EVP_EncodeBlock((unsigned char *)pass, mac, (int)mac_len);
	return 0;
}

void load_cred_warm_up(void)
{
	uint8_t key[STUN_KEY_MD5_LEN], buf[128], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct stun_msg m;

	/* OpenSSL 3 loads its providers and fetches each digest on first
	 * use, which takes milliseconds: not to be counted in the first
	 * allocation's latency. */
	if (stun_key_md5("user", "realm", "pass", key) < 0)
		return;
	stun_build_begin(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_integrity(&b, key, sizeof(key));
	stun_build_fingerprint(&b);
	long len = stun_build_end(&b);
	if (len > 0 && stun_msg_parse(&m, buf, (size_t)len) == 0)
		(void)stun_msg_check_integrity(&m, key, sizeof(key));
}
