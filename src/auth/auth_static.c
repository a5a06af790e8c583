/*
 * Users listed in the configuration ("user = name:password" or
 * "name:0x<key>"). Everything is computed once here, at load time: the
 * SHA-256 key (RFC 8489 section 9.2.2) and the USERHASH (section 14.4),
 * so a lookup is a binary search and a copy.
 */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf/conf.h"

struct static_user {
	char *name;
	size_t name_len;
	struct auth_key key;
	uint8_t userhash[STUN_USERHASH_LEN];
};

struct auth_static {
	struct auth_backend base; /* first: the chain holds &base */
	struct static_user *users; /* sorted by name */
	struct static_user **by_hash; /* the same users, sorted by USERHASH */
	size_t n;
};

/* Names are byte strings, not C strings: order by bytes, then length. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int user_cmp(const void *pa, const void *pb)
{
	const struct static_user *a = pa, *b = pb;

	return name_cmp(a->name, a->name_len, b->name, b->name_len);
}

static int hash_cmp(const void *pa, const void *pb)
{
	const struct static_user *const *a = pa, *const *b = pb;

	return memcmp((*a)->userhash, (*b)->userhash, STUN_USERHASH_LEN);
}

/* The key of a search: a name and its length, or a USERHASH. */
struct static_key {
	const uint8_t *name;
	size_t len;
};

static int key_user_cmp(const void *pk, const void *pu)
{
	const struct static_key *k = pk;
	const struct static_user *u = pu;

	return name_cmp((const char *)k->name, k->len, u->name, u->name_len);
}

static int key_hash_cmp(const void *pk, const void *pu)
{
	const struct static_user *const *u = pu;

	return memcmp(pk, (*u)->userhash, STUN_USERHASH_LEN);
}

/* Both tables are sorted once at build (user_cmp, hash_cmp). */
static const struct static_user *find_name(const struct auth_static *s, const uint8_t *name,
					   size_t len)
{
	const struct static_key k = { name, len };

	return s->n ? bsearch(&k, s->users, s->n, sizeof(s->users[0]), key_user_cmp) : NULL;
}

static const struct static_user *find_hash(const struct auth_static *s, const uint8_t *hash)
{
	const struct static_user *const *u =
		s->n ? bsearch(hash, s->by_hash, s->n, sizeof(s->by_hash[0]), key_hash_cmp) : NULL;

	return u ? *u : NULL;
}

static int static_lookup(struct auth_backend *b, const struct auth_query *q,
			 struct auth_credential *out)
{
	const struct auth_static *s = (const struct auth_static *)b;
	const struct static_user *u;

	u = q->userhash ? find_hash(s, q->userhash) : find_name(s, q->username, q->len);
	if (!u)
		return AUTH_NOT_FOUND;
	/* The loader refused longer names. */
	memcpy(out->username, u->name, u->name_len + 1);
	out->username_len = u->name_len;
	out->expires_s = 0;
	out->n_keys = 1;
	out->keys[0] = u->key;
	return AUTH_FOUND;
}

static void static_free(struct auth_backend *b)
{
	struct auth_static *s = (struct auth_static *)b;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->users[i].name);
	if (s->users)
		OPENSSL_cleanse(s->users, s->n * sizeof(*s->users));
	free(s->users);
	free(s->by_hash);
	free(s);
}

static const struct auth_backend_ops static_ops = {
	.name = "static",
	.lookup = static_lookup,
	.free = static_free,
};

/* Copy one configured user and derive what a lookup will need. */
static int user_load(struct static_user *u, const struct conf_user *cu, const char *realm,
		     char *err, size_t errlen)
{
	u->name_len = strlen(cu->name);
	if (u->name_len == 0 || u->name_len > AUTH_USERNAME_MAX) {
		snprintf(err, errlen, "user '%.32s': name is empty or too long", cu->name);
		return -1;
	}
	u->name = strdup(cu->name);
	if (!u->name) {
		snprintf(err, errlen, "static users: out of memory");
		return -1;
	}
	memcpy(u->key.md5, cu->key, STUN_KEY_MD5_LEN);
	/* A user given by MD5 key alone has no SHA-256 key: that needs the
	 * password (RFC 8489 section 9.2.2). */
	u->key.has_sha256 = cu->password != NULL;
	if ((cu->password && stun_key_sha256(cu->name, realm, cu->password, u->key.sha256) < 0) ||
	    stun_userhash(cu->name, realm, u->userhash) < 0) {
		snprintf(err, errlen, "user '%.32s': cannot derive the keys", cu->name);
		return -1;
	}
	return 0;
}

struct auth_backend *auth_static_new(const struct conf_user *users, size_t n, const char *realm,
				     char *err, size_t errlen)
{
	struct auth_static *s = calloc(1, sizeof(*s));

	if (!s || (n && !users) || !realm)
		goto fail_msg;
	s->base.ops = &static_ops;
	s->users = calloc(n ? n : 1, sizeof(*s->users));
	s->by_hash = calloc(n ? n : 1, sizeof(*s->by_hash));
	if (!s->users || !s->by_hash)
		goto fail_msg;
	for (size_t i = 0; i < n; i++) {
		s->n++; /* counted before loading, so a half-loaded user is freed */
		if (user_load(&s->users[i], &users[i], realm, err, errlen) < 0)
			goto fail;
	}
	qsort(s->users, n, sizeof(*s->users), user_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && user_cmp(&s->users[i - 1], &s->users[i]) == 0) {
			snprintf(err, errlen, "user '%.32s' is given twice", s->users[i].name);
			goto fail;
		}
		s->by_hash[i] = &s->users[i];
	}
	qsort(s->by_hash, n, sizeof(*s->by_hash), hash_cmp);
	return &s->base;
fail_msg:
	snprintf(err, errlen, "static users: %s",
		 s ? "bad arguments or out of memory" : "out of memory");
fail:
	static_free(s ? &s->base : NULL);
	return NULL;
}
