/* The Redis key schema (redis_keys.h). */
#include "util/redis_keys.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

/* REDIS_KEYS_MAX holds a user's longest key. */
_Static_assert(sizeof(REDIS_KEYS_LEAF_USER_LONGEST) >= sizeof(REDIS_KEYS_LEAF_KEY) &&
		       sizeof(REDIS_KEYS_LEAF_USER_LONGEST) >= sizeof(REDIS_KEYS_LEAF_KEY_SHA256),
	       "REDIS_KEYS_LEAF_USER_LONGEST is not the longest user leaf");

/* A key being built: out, cap bytes, len of them used; full once a piece
 * did not fit (the NUL always keeps its byte). */
struct key_buf {
	char *out;
	size_t cap, len;
	bool full;
};

static void put(struct key_buf *k, const char *s, size_t n)
{
	if (k->full || n >= k->cap - k->len) {
		k->full = true;
		return;
	}
	memcpy(k->out + k->len, s, n);
	k->len += n;
}

static void put_str(struct key_buf *k, const char *s)
{
	put(k, s, strlen(s));
}

/* A realm in a SCAN pattern: Redis's glob (stringmatchlen) takes a
 * backslash to make the next byte literal. */
static void put_glob_escaped(struct key_buf *k, const char *s)
{
	for (; *s && !k->full; s++) {
		if (strchr("*?[]\\", *s))
			put(k, "\\", 1);
		put(k, s, 1);
	}
}

static struct key_buf start(char *out, size_t cap)
{
	struct key_buf k = {.out = out, .cap = cap, .full = cap == 0};

	put_str(&k, REDIS_KEYS_PREFIX);
	return k;
}

static int finish(struct key_buf *k)
{
	if (k->full || k->len > INT_MAX) {
		if (k->cap > 0)
			k->out[0] = '\0';
		return -1;
	}
	k->out[k->len] = '\0';
	return (int)k->len;
}

int redis_keys_realm(char *out, size_t cap, const char *realm, const char *leaf)
{
	struct key_buf k = start(out, cap);

	put_str(&k, realm);
	put(&k, "/", 1);
	put_str(&k, leaf);
	return finish(&k);
}

int redis_keys_dir(char *out, size_t cap, const char *realm, const char *dir)
{
	struct key_buf k = start(out, cap);

	put_str(&k, realm);
	put(&k, "/", 1);
	put_str(&k, dir);
	put(&k, "/", 1);
	return finish(&k);
}

int redis_keys_user(char *out, size_t cap, const char *realm, const char *name, size_t name_len,
		    const char *leaf)
{
	int n = redis_keys_dir(out, cap, realm, REDIS_KEYS_DIR_USER);
	struct key_buf k = {.out = out, .cap = cap, .len = (size_t)n, .full = n < 0};

	put(&k, name, name_len);
	put(&k, "/", 1);
	put_str(&k, leaf);
	return finish(&k);
}

int redis_keys_node(char *out, size_t cap, const char *realm, const char *node_id)
{
	int n = redis_keys_dir(out, cap, realm, REDIS_KEYS_DIR_NODE);
	struct key_buf k = {.out = out, .cap = cap, .len = (size_t)n, .full = n < 0};

	put_str(&k, node_id);
	return finish(&k);
}

int redis_keys_pattern(char *out, size_t cap, const char *realm, const char *dir,
		       const char *leaf)
{
	struct key_buf k = start(out, cap);

	put_glob_escaped(&k, realm);
	put(&k, "/", 1);
	put_str(&k, dir);
	put(&k, "/*", 2);
	if (leaf) {
		put(&k, "/", 1);
		put_str(&k, leaf);
	}
	return finish(&k);
}
