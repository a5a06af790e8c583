/*
 * Unit tests for src/auth: the static backend (keys against md5sum and
 * sha256sum, USERHASH), the TURN REST backend (password against
 * `openssl dgst -sha1 -hmac`, expiry, secret rotation, strict expiry
 * syntax), MESSAGE-INTEGRITY against several candidate keys, the chain's
 * tri-state rules with stand-in backends, hostile usernames, and printing
 * usernames into logs.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "conf/conf.h"
#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "testutil.h"

#define ERR_MAX 512

/* alice has a password, bob only a key; two secrets, the new one first. */
static const char conf_text[] =
	"realm = turnd\n"
	"user = { \"alice:secret\", \"bob:0x0123456789abcdefFEDCBA9876543210\" }\n"
	"static-auth-secret = { \"s3cret\", \"other-secret\" }\n";

/* printf 'alice:turnd:secret' | md5sum */
#define ALICE_MD5 "fdb6e081b8154c94704670e2f1cf75c0"
/* printf 'alice:turnd:secret' | sha256sum */
#define ALICE_SHA256 "6df4faa2b0f5e606247c45a438733eb2490039a32b7f03e14c5a5280366521d1"
/* printf 'alice:turnd' | sha256sum */
#define ALICE_USERHASH "1304012526fc7d5a56c929506fc87bb44d2487a877338b1396c3a2a7c015c4d6"

#define REST_USER "1700000000:alice"
#define REST_EXPIRY 1700000000u
/* printf '1700000000:alice' | openssl dgst -sha1 -hmac s3cret -binary | base64 */
#define REST_PASSWORD "TtElzSjT0GdnTQ9xdcRNxx96yQs="
/* printf '1700000000:alice' | openssl dgst -sha1 -hmac other-secret -binary | base64 */
#define REST_PASSWORD_OLD "tbX7EX5j54Pn+x6MHWowozH6O4g="
/* printf '1700000000:alice:turnd:TtElzSjT0GdnTQ9xdcRNxx96yQs=' | md5sum */
#define REST_MD5 "b22e8ac9689e2e47b809f09a6bc3e53c"
/* ... | sha256sum */
#define REST_SHA256 "50d7756fecf34ad4f5c7837ecb619e54f422cfd658a1c23f6d623cdaa96c6461"
/* printf '1700000000:alice:turnd:tbX7EX5j54Pn+x6MHWowozH6O4g=' | md5sum */
#define REST_MD5_OLD "0718c324e848535b09fdbeabe290de9d"

#define BEFORE (REST_EXPIRY - 3600)

static struct conf *conf;
static struct auth *auth;
static struct auth_credential cred;

static struct conf *load_conf(const char *text)
{
	struct conf *c = NULL;
	char err[ERR_MAX] = "";

	if (conf_load_string(text, "t.conf", NULL, &c, err, sizeof(err)) != 0)
		ck_abort_msg("conf: %s", err);
	return c;
}

static void setup(void)
{
	char err[ERR_MAX] = "";

	conf = load_conf(conf_text);
	auth = auth_new_from_conf(conf, err, sizeof(err));
	if (!auth)
		ck_abort_msg("auth: %s", err);
}

static void teardown(void)
{
	auth_free(auth);
	conf_free(conf);
	auth = NULL;
	conf = NULL;
}

static const char *hex(const uint8_t *p, size_t n, char *buf)
{
	for (size_t i = 0; i < n; i++)
		sprintf(buf + 2 * i, "%02x", p[i]);
	return buf;
}

static int lookup_at(const char *name, uint64_t now)
{
	return auth_lookup(auth, (const uint8_t *)name, strlen(name), now, &cred);
}

static int lookup(const char *name)
{
	return lookup_at(name, BEFORE);
}

/* ---- Static users ---- */

START_TEST(static_found)
{
	char h[65];

	ck_assert_int_eq(lookup("alice"), AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "static");
	ck_assert_str_eq(cred.username, "alice");
	ck_assert_uint_eq(cred.username_len, 5);
	ck_assert_uint_eq(cred.expires_s, 0);
	ck_assert_uint_eq(cred.n_keys, 1);
	ck_assert_str_eq(hex(cred.keys[0].md5, 16, h), ALICE_MD5);
	ck_assert(cred.keys[0].has_sha256);
	ck_assert_str_eq(hex(cred.keys[0].sha256, 32, h), ALICE_SHA256);
}
END_TEST

START_TEST(static_key_only)
{
	char h[65];

	ck_assert_int_eq(lookup("bob"), AUTH_FOUND);
	ck_assert_uint_eq(cred.n_keys, 1);
	ck_assert_str_eq(hex(cred.keys[0].md5, 16, h), "0123456789abcdeffedcba9876543210");
	ck_assert(!cred.keys[0].has_sha256);
}
END_TEST

START_TEST(static_not_found)
{
	const char *names[] = {"carol", "alic", "alicee", "Alice", "bo", "bobb", " alice"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_msg(lookup(names[i]) == AUTH_NOT_FOUND, "%s", names[i]);
		ck_assert_uint_eq(cred.n_keys, 0);
		ck_assert_str_eq(cred.username, "");
	}
}
END_TEST

START_TEST(static_userhash)
{
	uint8_t hash[STUN_USERHASH_LEN];
	char h[65];

	hex_decode(ALICE_USERHASH, hash, sizeof(hash));
	ck_assert_int_eq(auth_lookup_userhash(auth, hash, BEFORE, &cred), AUTH_FOUND);
	ck_assert_str_eq(cred.username, "alice");
	ck_assert_str_eq(hex(cred.keys[0].md5, 16, h), ALICE_MD5);
	hash[0] ^= 1;
	ck_assert_int_eq(auth_lookup_userhash(auth, hash, BEFORE, &cred), AUTH_NOT_FOUND);
	ck_assert_int_eq(auth_lookup_userhash(auth, NULL, BEFORE, &cred), AUTH_NOT_FOUND);
}
END_TEST

/* Many users: both sorted arrays find every one of them. */
START_TEST(static_many_users)
{
	enum { N = 300 };
	struct conf_user *users = calloc(N, sizeof(*users));
	char names[N][16], err[ERR_MAX] = "";
	struct auth *a = auth_new();
	uint8_t hash[STUN_USERHASH_LEN];

	ck_assert_ptr_nonnull(users);
	for (size_t i = 0; i < N; i++) {
		/* Reverse order, so the loader really has to sort. */
		snprintf(names[i], sizeof(names[i]), "user%zu", N - i);
		users[i].name = names[i];
		users[i].password = i % 2 ? "pw" : NULL;
		ck_assert_int_eq(stun_key_md5(names[i], "r", "pw", users[i].key), 0);
	}
	ck_assert_int_eq(auth_add(a, auth_static_new(users, N, "r", err, sizeof(err))), 0);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(
			auth_lookup(a, (const uint8_t *)names[i], strlen(names[i]), 0, &cred),
			AUTH_FOUND);
		ck_assert_str_eq(cred.username, names[i]);
		ck_assert_mem_eq(cred.keys[0].md5, users[i].key, 16);
		ck_assert(cred.keys[0].has_sha256 == (i % 2 == 1));
		ck_assert_int_eq(stun_userhash(names[i], "r", hash), 0);
		ck_assert_int_eq(auth_lookup_userhash(a, hash, 0, &cred), AUTH_FOUND);
		ck_assert_str_eq(cred.username, names[i]);
	}
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"user0", 5, 0, &cred), AUTH_NOT_FOUND);
	auth_free(a);
	free(users);
}
END_TEST

START_TEST(static_duplicate_refused)
{
	struct conf_user users[2] = {{.name = "x"}, {.name = "x"}};
	char err[ERR_MAX] = "";

	ck_assert_ptr_null(auth_static_new(users, 2, "r", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "twice"));
}
END_TEST

/* ---- TURN REST secrets ---- */

START_TEST(rest_password)
{
	uint8_t key[STUN_KEY_MD5_LEN];
	char h[65];

	ck_assert_int_eq(lookup(REST_USER), AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "secret");
	ck_assert_str_eq(cred.username, REST_USER);
	ck_assert_uint_eq(cred.expires_s, REST_EXPIRY);
	ck_assert_uint_eq(cred.n_keys, 2);
	/* The key is MD5(username:realm:password) with the password the
	 * openssl command line computes. */
	ck_assert_int_eq(stun_key_md5(REST_USER, "turnd", REST_PASSWORD, key), 0);
	ck_assert_mem_eq(cred.keys[0].md5, key, sizeof(key));
	ck_assert_str_eq(hex(cred.keys[0].md5, 16, h), REST_MD5);
	ck_assert(cred.keys[0].has_sha256);
	ck_assert_str_eq(hex(cred.keys[0].sha256, 32, h), REST_SHA256);
	ck_assert_int_eq(stun_key_md5(REST_USER, "turnd", REST_PASSWORD_OLD, key), 0);
	ck_assert_mem_eq(cred.keys[1].md5, key, sizeof(key));
	ck_assert_str_eq(hex(cred.keys[1].md5, 16, h), REST_MD5_OLD);
}
END_TEST

START_TEST(rest_expiry)
{
	ck_assert_int_eq(lookup_at(REST_USER, REST_EXPIRY - 1), AUTH_FOUND);
	ck_assert_int_eq(lookup_at(REST_USER, REST_EXPIRY), AUTH_FOUND);
	ck_assert_int_eq(lookup_at(REST_USER, REST_EXPIRY + 1), AUTH_NOT_FOUND);
	ck_assert_uint_eq(cred.n_keys, 0);
	/* Just the time, no user part (coturn accepts it too). */
	ck_assert_int_eq(lookup("1700000000"), AUTH_FOUND);
	ck_assert_int_eq(lookup("1700000000:"), AUTH_FOUND);
	ck_assert_int_eq(lookup("0:alice"), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("18446744073709551615:alice"), AUTH_FOUND);
}
END_TEST

START_TEST(rest_bad_expiry)
{
	const char *names[] = {
		"17000x0000:alice",
		"alice:1700000000",
		":alice",
		"-1:alice",
		"+1700000000:alice",
		" 1700000000:alice",
		"1700000000 :alice",
		"0x65000000:alice",
		"18446744073709551616:alice",
		"99999999999999999999999999:alice",
		"1\xd9\xa7:alice" /* Arabic-Indic 7 */,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(lookup(names[i]) == AUTH_NOT_FOUND, "%s", names[i]);
}
END_TEST

/* A static user whose name looks like a REST username: static comes
 * first in the chain and wins. */
START_TEST(static_before_rest)
{
	struct conf *c = load_conf("realm = turnd\nuser = \"1700000000:alice:pw\"\n"
				   "static-auth-secret = s3cret\n");
	char err[ERR_MAX] = "";
	struct auth *a = auth_new_from_conf(c, err, sizeof(err));

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"1700000000", 10, BEFORE, &cred),
			 AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "static");
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"1700000001", 10, BEFORE, &cred),
			 AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "secret");
	auth_free(a);
	conf_free(c);
}
END_TEST

START_TEST(rest_too_many_secrets)
{
	struct conf *c = load_conf("static-auth-secret = { a, b, c, d, e, f, g, h, i }\n");
	char err[ERR_MAX] = "";

	ck_assert_ptr_null(auth_new_from_conf(c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "at most 8"));
	conf_free(c);
}
END_TEST

START_TEST(empty_chain)
{
	struct conf *c = load_conf("");
	char err[ERR_MAX] = "";
	struct auth *a = auth_new_from_conf(c, err, sizeof(err));

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"alice", 5, 0, &cred), AUTH_NOT_FOUND);
	auth_free(a);
	auth_free(NULL);
	conf_free(c);
}
END_TEST

/* ---- The candidate keys a lookup gives ----
 *
 * The core checks MESSAGE-INTEGRITY against them (turn_server_auth, one
 * entry point); here, that each backend gives the keys the RFC derives. */

static void assert_key(size_t i, const char *user, const char *password, bool sha256)
{
	uint8_t md5[STUN_KEY_MD5_LEN], sha[STUN_KEY_SHA256_LEN];

	ck_assert_int_eq(stun_key_md5(user, "turnd", password, md5), 0);
	ck_assert_mem_eq(cred.keys[i].md5, md5, sizeof(md5));
	ck_assert(cred.keys[i].has_sha256 == sha256);
	if (!sha256)
		return;
	ck_assert_int_eq(stun_key_sha256(user, "turnd", password, sha), 0);
	ck_assert_mem_eq(cred.keys[i].sha256, sha, sizeof(sha));
}

START_TEST(keys_of_either_secret)
{
	ck_assert_int_eq(lookup(REST_USER), AUTH_FOUND);
	/* One candidate per shared secret, in the configuration's order. */
	ck_assert_uint_eq(cred.n_keys, 2);
	assert_key(0, REST_USER, REST_PASSWORD, true);
	assert_key(1, REST_USER, REST_PASSWORD_OLD, true);
}
END_TEST

START_TEST(keys_are_not_a_guess)
{
	uint8_t md5[STUN_KEY_MD5_LEN];

	ck_assert_int_eq(lookup(REST_USER), AUTH_FOUND);
	ck_assert_int_eq(stun_key_md5(REST_USER, "turnd", "guess", md5), 0);
	for (size_t i = 0; i < cred.n_keys; i++)
		ck_assert(memcmp(cred.keys[i].md5, md5, sizeof(md5)) != 0);
	/* A key-only static user has no SHA-256 key. */
	ck_assert_int_eq(lookup("bob"), AUTH_FOUND);
	ck_assert_uint_eq(cred.n_keys, 1);
	ck_assert(!cred.keys[0].has_sha256);
}
END_TEST

START_TEST(keys_of_static_user)
{
	ck_assert_int_eq(lookup("alice"), AUTH_FOUND);
	ck_assert_uint_eq(cred.n_keys, 1);
	assert_key(0, "alice", "secret", true);
}
END_TEST

/* ---- Hostile usernames: data, never a crash ---- */

START_TEST(hostile_usernames)
{
	char big[700];
	static const char nul_name[] = "1700000000:al\0ice";

	ck_assert_int_eq(lookup("a%s%n%x%p"), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("%s%s%s%s%s%s%s%s%s%s%n"), AUTH_NOT_FOUND);
	/* With a valid expiry it is an ordinary REST name: found as data,
	 * byte for byte. */
	ck_assert_int_eq(lookup("1700000000:a%s%n%x%p\"'"), AUTH_FOUND);
	ck_assert_str_eq(cred.username, "1700000000:a%s%n%x%p\"'");

	memset(big, 'a', sizeof(big));
	memcpy(big, "1700000000:", 11);
	ck_assert_int_eq(auth_lookup(auth, (const uint8_t *)big, 600, BEFORE, &cred),
			 AUTH_NOT_FOUND);
	ck_assert_int_eq(
		auth_lookup(auth, (const uint8_t *)big, AUTH_USERNAME_MAX + 1, BEFORE, &cred),
		AUTH_NOT_FOUND);
	ck_assert_int_eq(auth_lookup(auth, (const uint8_t *)big, AUTH_USERNAME_MAX, BEFORE, &cred),
			 AUTH_FOUND);
	ck_assert_uint_eq(strlen(cred.username), AUTH_USERNAME_MAX);

	ck_assert_int_eq(
		auth_lookup(auth, (const uint8_t *)nul_name, sizeof(nul_name) - 1, BEFORE, &cred),
		AUTH_NOT_FOUND);
	ck_assert_int_eq(auth_lookup(auth, (const uint8_t *)"alice\0", 6, BEFORE, &cred),
			 AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("1700000000:alice\r\n"), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("alice\r\nX-Injected: 1"), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("1700000000:al\x7fice"), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("1700000000:\xff\xfe"), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("1700000000:\xc0\xaf"), AUTH_NOT_FOUND); /* overlong */
	ck_assert_int_eq(lookup("1700000000:\xed\xa0\x80"), AUTH_NOT_FOUND); /* surrogate */
	ck_assert_int_eq(lookup("1700000000:\xe3\x83"), AUTH_NOT_FOUND); /* truncated */
	ck_assert_int_eq(lookup(""), AUTH_NOT_FOUND);
	ck_assert_int_eq(auth_lookup(auth, NULL, 5, BEFORE, &cred), AUTH_NOT_FOUND);
	ck_assert_int_eq(auth_lookup(NULL, (const uint8_t *)"alice", 5, BEFORE, &cred), AUTH_ERROR);
	/* Valid non-ASCII UTF-8 is an ordinary name. */
	ck_assert_int_eq(lookup("1700000000:" VEC_LT_USERNAME), AUTH_FOUND);
}
END_TEST

/* ---- The chain: stand-in backends ---- */

struct fake {
	struct auth_backend base;
	int rc; /* what lookup answers */
	size_t n_keys; /* keys claimed on AUTH_FOUND */
	int *calls; /* lookups seen, counted by the test */
};

static int fake_lookup(struct auth_backend *b, const struct auth_query *q,
		       struct auth_credential *out)
{
	struct fake *f = (struct fake *)b;

	(*f->calls)++;
	if (f->rc == AUTH_PENDING && !q->done)
		return AUTH_ERROR;
	if (f->rc == AUTH_FOUND) {
		memcpy(out->username, "fake", 5);
		out->username_len = 4;
		out->n_keys = f->n_keys;
	}
	return f->rc;
}

static void fake_free(struct auth_backend *b)
{
	free(b);
}

static const struct auth_backend_ops fake_ops = {
	.name = "fake",
	.lookup = fake_lookup,
	.free = fake_free,
};

static struct auth_backend *fake_new(int rc, int *calls)
{
	struct fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->base.ops = &fake_ops;
	f->rc = rc;
	f->n_keys = 1;
	f->calls = calls;
	return &f->base;
}

static void fake_done(void *arg, int rc)
{
	(void)rc;
	(*(int *)arg)++;
}

START_TEST(chain_error_then_found)
{
	struct auth *a = auth_new();
	int calls = 0;

	ck_assert_int_eq(auth_add(a, fake_new(AUTH_ERROR, &calls)), 0);
	ck_assert_int_eq(
		auth_add(a, auth_static_new(conf->users, conf->n_users, conf->realm, NULL, 0)), 0);
	/* One backend failed, a later one found: found. */
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"alice", 5, 0, &cred), AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "static");
	/* One failed, none found: error, never "unknown user". */
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"carol", 5, 0, &cred), AUTH_ERROR);
	ck_assert_int_eq(calls, 2);
	auth_free(a);
}
END_TEST

START_TEST(chain_pending_stops)
{
	struct auth *a = auth_new();
	int calls = 0, later = 0, done = 0;
	const struct auth_query q = {
		.username = (const uint8_t *)"carol",
		.len = 5,
		.done = fake_done,
		.arg = &done,
	};

	ck_assert_int_eq(auth_add(a, fake_new(AUTH_PENDING, &calls)), 0);
	ck_assert_int_eq(auth_add(a, fake_new(AUTH_FOUND, &later)), 0);
	ck_assert_int_eq(auth_query_lookup(a, &q, &cred), AUTH_PENDING);
	ck_assert_int_eq(later, 0);
	ck_assert_int_eq(done, 0);
	/* A caller that cannot wait gets the later backend's answer; the
	 * backend that could not answer counts as failed, not as absent. */
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"carol", 5, 0, &cred), AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "fake");
	ck_assert_int_eq(later, 1);
	auth_free(a);
}
END_TEST

START_TEST(chain_insane_found)
{
	struct auth *a = auth_new();
	int calls = 0;
	struct auth_backend *b = fake_new(AUTH_FOUND, &calls);

	((struct fake *)b)->n_keys = 0;
	ck_assert_int_eq(auth_add(a, b), 0);
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"x", 1, 0, &cred), AUTH_ERROR);
	ck_assert_uint_eq(cred.n_keys, 0);
	auth_free(a);
}
END_TEST

START_TEST(chain_full)
{
	struct auth *a = auth_new();
	int calls = 0;

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(auth_add(a, fake_new(AUTH_NOT_FOUND, &calls)), 0);
	/* The ninth is refused and freed (ASan would see a leak). */
	ck_assert_int_eq(auth_add(a, fake_new(AUTH_NOT_FOUND, &calls)), -1);
	ck_assert_int_eq(auth_add(a, NULL), -1);
	ck_assert_int_eq(auth_lookup(a, (const uint8_t *)"x", 1, 0, &cred), AUTH_NOT_FOUND);
	ck_assert_int_eq(calls, 8);
	auth_free(a);
}
END_TEST

/* A reload: the static users and secrets of the new file in a new chain,
 * never Redis, and a backend moved from the old chain to its end. */
START_TEST(reload_chain_and_move)
{
#ifdef HAVE_HIREDIS
	/* Redis in the file: the chain leaves it out (it is moved over). */
	struct conf *c = load_conf("realm = r\nuser = { \"bob:builder\" }\nredis = true\n");
#else
	struct conf *c = load_conf("realm = r\nuser = { \"bob:builder\" }\n");
#endif
	char err[ERR_MAX] = "";
	struct auth *next = auth_new_local(c, err, sizeof(err));
	struct auth *old = auth_new_from_conf(conf, err, sizeof(err));

	ck_assert_ptr_nonnull(next);
	ck_assert_ptr_nonnull(old);
	ck_assert_ptr_nonnull(auth_backend_named(old, "secret"));
	struct auth_backend *secret = auth_backend_named(old, "secret");
	ck_assert_int_eq(auth_move_backend(next, old, "redis"), 0); /* none there */
	ck_assert_int_eq(auth_move_backend(next, old, "secret"), 1);
	ck_assert_ptr_eq(auth_backend_named(next, "secret"), secret);
	ck_assert_ptr_null(auth_backend_named(old, "secret"));
	ck_assert_ptr_nonnull(auth_backend_named(old, "static"));
	/* bob from the new file; REST names through the moved backend. */
	ck_assert_int_eq(auth_lookup(next, (const uint8_t *)"bob", 3, BEFORE, &cred), AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "static");
	auth_free(old); /* the moved backend is not freed with it */
	ck_assert_int_eq(auth_lookup(next, (const uint8_t *)REST_USER, strlen(REST_USER), BEFORE,
				     &cred),
			 AUTH_FOUND);
	ck_assert_str_eq(cred.backend, "secret");
	ck_assert_int_eq(auth_move_backend(NULL, next, "secret"), -1);
	auth_free(next);
	conf_free(c);
}
END_TEST

/* ---- Usernames in logs ---- */

static const char *printable(const char *in, size_t len, size_t cap)
{
	static char out[AUTH_PRINTABLE_MAX];

	memset(out, 'Z', sizeof(out));
	return auth_username_printable((const uint8_t *)in, len, out, cap);
}

START_TEST(username_printable)
{
	char big[600];
	const char *s;

	ck_assert_str_eq(printable("alice", 5, 64), "alice");
	ck_assert_str_eq(printable("a%s%n%x%p", 9, 64), "a%s%n%x%p");
	ck_assert_str_eq(printable("a\r\nb", 4, 64), "a\\x0d\\x0ab");
	ck_assert_str_eq(printable("a\0b", 3, 64), "a\\x00b");
	ck_assert_str_eq(printable("\xff\"\\", 3, 64), "\\xff\\x22\\x5c");
	ck_assert_str_eq(printable("\xe3\x83\x9e", 3, 64), "\\xe3\\x83\\x9e");
	ck_assert_str_eq(printable("", 0, 64), "");
	ck_assert_str_eq(printable(NULL, 5, 64), "");
	/* Exactly fits: no dots. */
	ck_assert_str_eq(printable("abcdef", 6, 7), "abcdef");
	/* One short: cut, and say so. */
	ck_assert_str_eq(printable("abcdefg", 7, 7), "abc...");
	/* An escape is never cut in half. */
	ck_assert_str_eq(printable("\x01\x01\x01", 3, 10), "\\x01...");
	ck_assert_str_eq(printable("abcdef", 6, 4), "...");
	ck_assert_str_eq(printable("abcdef", 6, 3), "..");
	ck_assert_str_eq(printable("abcdef", 6, 1), "");
	/* cap 0 writes nothing at all. */
	s = printable("abc", 3, 0);
	ck_assert_int_eq(s[0], 'Z');

	memset(big, 0x80, sizeof(big));
	s = printable(big, sizeof(big), 128);
	ck_assert_uint_eq(strlen(s), 127 - (127 - 3) % 4);
	ck_assert_str_eq(s + strlen(s) - 3, "...");
	ck_assert_uint_lt(strlen(printable(big, AUTH_USERNAME_MAX, AUTH_PRINTABLE_MAX)),
			  AUTH_PRINTABLE_MAX);
	ck_assert_ptr_null(strstr(printable(big, AUTH_USERNAME_MAX, AUTH_PRINTABLE_MAX), "..."));
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc_static = tcase_create("static");
	TCase *tc_rest = tcase_create("rest");
	TCase *tc_verify = tcase_create("verify");
	TCase *tc_chain = tcase_create("chain");

	tcase_add_checked_fixture(tc_static, setup, teardown);
	tcase_add_test(tc_static, static_found);
	tcase_add_test(tc_static, static_key_only);
	tcase_add_test(tc_static, static_not_found);
	tcase_add_test(tc_static, static_userhash);
	tcase_add_test(tc_static, static_many_users);
	tcase_add_test(tc_static, static_duplicate_refused);
	suite_add_tcase(s, tc_static);

	tcase_add_checked_fixture(tc_rest, setup, teardown);
	tcase_add_test(tc_rest, rest_password);
	tcase_add_test(tc_rest, rest_expiry);
	tcase_add_test(tc_rest, rest_bad_expiry);
	tcase_add_test(tc_rest, static_before_rest);
	tcase_add_test(tc_rest, rest_too_many_secrets);
	tcase_add_test(tc_rest, empty_chain);
	tcase_add_test(tc_rest, reload_chain_and_move);
	suite_add_tcase(s, tc_rest);

	tcase_add_checked_fixture(tc_verify, setup, teardown);
	tcase_add_test(tc_verify, keys_of_either_secret);
	tcase_add_test(tc_verify, keys_are_not_a_guess);
	tcase_add_test(tc_verify, keys_of_static_user);
	tcase_add_test(tc_verify, hostile_usernames);
	suite_add_tcase(s, tc_verify);

	tcase_add_checked_fixture(tc_chain, setup, teardown);
	tcase_add_test(tc_chain, chain_error_then_found);
	tcase_add_test(tc_chain, chain_pending_stops);
	tcase_add_test(tc_chain, chain_insane_found);
	tcase_add_test(tc_chain, chain_full);
	tcase_add_test(tc_chain, username_printable);
	suite_add_tcase(s, tc_chain);
	return s;
}

int main(void)
{
	return run_suite(auth_suite());
}
