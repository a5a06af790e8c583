/* turnadmin: output, entry lists, Redis and key names (admin.h). */
#include "admin.h"

const char *const user_key_leaves[2] = {"/" REDIS_KEYS_LEAF_KEY, "/" REDIS_KEYS_LEAF_KEY_SHA256};
const char *const no_suffix[1] = {""};
const char *const allocations_leaf[1] = {"/" REDIS_KEYS_LEAF_ALLOCATIONS};

/* Bytes as they are, control characters as \xHH, so that a name stored by
 * another tool cannot break the listing or the terminal. A word, one of
 * several on a line, has its spaces and backslashes escaped too, so that
 * the line still splits into its words. */
void fprint_text(FILE *to, const char *s, size_t len, bool word)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (word && (c == ' ' || c == '\\')))
			fprintf(to, "\\x%02x", c);
		else
			putc(c, to);
	}
}

void print_text(const char *s, size_t len, bool word)
{
	fprint_text(stdout, s, len, word);
}

/* One entry per line. */
static void print_entry(const struct entry *e)
{
	print_text(e->s, e->len, false);
	putchar('\n');
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* ---- entry lists ---- */

int entry_add(struct entry_list *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	l->v[l->n++] = (struct entry){.s = copy, .len = len};
	return 0;
}

void entry_list_free(struct entry_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
}

int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->s, b->s, n);

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* Sorted by bytes, each entry once (SCAN may return a key twice). */
void entry_list_sort(struct entry_list *l)
{
	size_t kept = 0;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (kept > 0 && entry_cmp(&l->v[kept - 1], &l->v[i]) == 0) {
			free(l->v[i].s);
			continue;
		}
		l->v[kept++] = l->v[i];
	}
	l->n = kept;
}

/* In a sorted list. */
bool entry_list_has(const struct entry_list *l, const char *s, size_t len)
{
	struct entry key = {.s = (char *)s, .len = len};

	return l->n > 0 && bsearch(&key, l->v, l->n, sizeof(l->v[0]), entry_cmp) != NULL;
}

void entry_list_print(struct entry_list *l)
{
	entry_list_sort(l);
	for (size_t i = 0; i < l->n; i++)
		print_entry(&l->v[i]);
}

/* The string elements of an array reply, added to l. Returns 0 or -1. */
int entry_list_add_reply(struct entry_list *l, const redisReply *r)
{
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e->type == REDIS_REPLY_STRING && entry_add(l, e->str, e->len) < 0) {
			fprintf(stderr, "turnadmin: out of memory\n");
			return -1;
		}
	}
	return 0;
}

/* ---- Redis ---- */

/* One command; argv[i] is lens[i] bytes, sent as a separate bulk string
 * (argv[0], the command's name, is NUL-terminated). Returns the reply,
 * which the caller frees with freeReplyObject, or NULL after saying why
 * (an error reply is a failure too). */
redisReply *redis_runv(redisContext *redis, int argc, const char **argv, const size_t *lens)
{
	redisReply *r = redisCommandArgv(redis, argc, argv, lens);

	if (!r) {
		fprintf(stderr, "turnadmin: redis %s: %s\n", argv[0],
			redis->err ? redis->errstr : "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "turnadmin: redis %s: %s\n", argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* redis_runv of at most 8 NUL-terminated strings. */
redisReply *redis_run(redisContext *redis, int argc, const char **argv)
{
	size_t lens[8];

	if (argc < 1 || argc > 8)
		return NULL;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return redis_runv(redis, argc, argv, lens);
}

/* A reply of the expected type, or NULL after saying so; frees r if not. */
redisReply *redis_expect(redisReply *r, int type, const char *cmd)
{
	if (!r || r->type == type)
		return r;
	fprintf(stderr, "turnadmin: redis %s: unexpected reply type %d\n", cmd, r->type);
	freeReplyObject(r);
	return NULL;
}

/* Runs a command whose reply is an integer. Returns it (>= 0) or -1. */
long long redis_integer(redisContext *redis, int argc, const char **argv)
{
	redisReply *r = redis_expect(redis_run(redis, argc, argv), REDIS_REPLY_INTEGER, argv[0]);
	long long v;

	if (!r)
		return -1;
	v = r->integer;
	freeReplyObject(r);
	return v < 0 ? -1 : v;
}

/* AUTH (Redis 6 ACL user, or the requirepass password), then SELECT. */
static int redis_login(redisContext *redis, const struct admin_opts *o)
{
	redisReply *r = NULL;

	if (o->redis_pass) {
		const char *with_user[] = {"AUTH", o->redis_user, o->redis_pass};
		const char *without[] = {"AUTH", o->redis_pass};
		r = o->redis_user ? redis_run(redis, 3, with_user) : redis_run(redis, 2, without);
		if (!r)
			return -1;
		freeReplyObject(r);
	}
	if (o->db >= 0) {
		char db[24];
		const char *argv[] = {"SELECT", db};
		snprintf(db, sizeof(db), "%ld", o->db);
		r = redis_run(redis, 2, argv);
		if (!r)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

/* Connects, with a time limit on the connection and on every command.
 * Returns a context the caller frees with redisFree, or NULL. */
redisContext *redis_open(const struct admin_opts *o)
{
	struct timeval tv = {.tv_sec = ADMIN_TIMEOUT_S};
	redisContext *redis;
	char where[300];

	if (o->socket) {
		snprintf(where, sizeof(where), "%s", o->socket);
		redis = redisConnectUnixWithTimeout(o->socket, tv);
	} else {
		snprintf(where, sizeof(where), "%s port %d", o->host, o->port);
		redis = redisConnectWithTimeout(o->host, o->port, tv);
	}
	if (!redis || redis->err) {
		fprintf(stderr, "turnadmin: redis at %s: %s\n", where,
			redis ? redis->errstr : "out of memory");
		redisFree(redis);
		return NULL;
	}
	if (redisSetTimeout(redis, tv) != REDIS_OK || redis_login(redis, o) < 0) {
		redisFree(redis);
		return NULL;
	}
	return redis;
}

/* ---- key names ---- */

/* The schema is util/redis_keys.h's. */

/* turn/realm/<realm>/user/<name>/<leaf>. Returns 0, or -1 if it does not
 * fit (the length checks make that impossible). */
int user_path(char *out, size_t cap, const struct admin_opts *o, const char *leaf)
{
	return redis_keys_user(out, cap, o->realm, o->user, strlen(o->user), leaf) < 0 ? -1 : 0;
}

/* turn/realm/<realm>/<leaf>. */
int realm_path(char *out, size_t cap, const struct admin_opts *o, const char *leaf)
{
	return redis_keys_realm(out, cap, o->realm, leaf) < 0 ? -1 : 0;
}

int secret_path(char *out, size_t cap, const struct admin_opts *o)
{
	return realm_path(out, cap, o, REDIS_KEYS_LEAF_SECRET);
}

/* prefix, the bytes of e, then suffix: a key holding a name that SCAN
 * found (of any length, maybe with a NUL). Returns it, to free, or NULL. */
char *key_with(const char *prefix, const struct entry *e, const char *suffix, size_t *len)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *k = malloc(pl + e->len + sl + 1);

	if (!k) {
		fprintf(stderr, "turnadmin: out of memory\n");
		return NULL;
	}
	memcpy(k, prefix, pl);
	memcpy(k + pl, e->s, e->len);
	memcpy(k + pl + e->len, suffix, sl + 1);
	*len = pl + e->len + sl;
	return k;
}

/* What a SCAN looks for: keys matching pattern, each prefix_len bytes of
 * prefix, a name of at least one byte, then one of the suffixes. */

/* Keys turn/realm/<realm>/<dir>/<name><suffix>, for one of suffixes; the
 * SCAN pattern names the suffix when there is one, and escapes the
 * realm's glob characters. Returns 0, or -1 if the realm is too long. */
int scan_spec_init(struct scan_spec *sp, const char *realm, const char *dir,
		   const char *const *suffixes, size_t n_suffixes)
{
	const char *leaf = n_suffixes == 1 && suffixes[0][0] == '/' ? suffixes[0] + 1 : NULL;
	int n = redis_keys_dir(sp->prefix, sizeof(sp->prefix), realm, dir);

	if (n < 0 || redis_keys_pattern(sp->pattern, sizeof(sp->pattern), realm, dir, leaf) < 0) {
		fprintf(stderr, "turnadmin: the realm is too long for a key\n");
		return -1;
	}
	sp->prefix_len = (size_t)n;
	sp->suffixes = suffixes;
	sp->n_suffixes = n_suffixes;
	return 0;
}

/* The name in key k, as sp describes it, or NULL. */
static const char *name_of_key(const redisReply *k, const struct scan_spec *sp, size_t *name_len)
{
	if (k->type != REDIS_REPLY_STRING || k->len <= sp->prefix_len)
		return NULL;
	for (size_t i = 0; i < sp->n_suffixes; i++) {
		size_t ll = strlen(sp->suffixes[i]);
		if (k->len < sp->prefix_len + ll + 1 ||
		    memcmp(k->str + k->len - ll, sp->suffixes[i], ll) != 0)
			continue;
		*name_len = k->len - sp->prefix_len - ll;
		return k->str + sp->prefix_len;
	}
	return NULL;
}

/* One SCAN step: the names in its reply go into names, the next cursor
 * into cursor. Returns 0 or -1. */
static int scan_step(redisContext *redis, const struct scan_spec *sp, char *cursor,
		     size_t cursor_cap, struct entry_list *names)
{
	const char *argv[] = {"SCAN", cursor, "MATCH", sp->pattern, "COUNT", "1000"};
	redisReply *r = redis_expect(redis_run(redis, 6, argv), REDIS_REPLY_ARRAY, "SCAN");
	int status = 0;

	if (!r)
		return -1;
	if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= cursor_cap || r->element[1]->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "turnadmin: redis SCAN: malformed reply\n");
		freeReplyObject(r);
		return -1;
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
	for (size_t i = 0; i < r->element[1]->elements && status == 0; i++) {
		size_t len;
		const char *name = name_of_key(r->element[1]->element[i], sp, &len);
		if (name && entry_add(names, name, len) < 0) {
			fprintf(stderr, "turnadmin: out of memory\n");
			status = -1;
		}
	}
	freeReplyObject(r);
	return status;
}

/* Every name sp finds, sorted, each once. SCAN, never KEYS: KEYS blocks a
 * server that may hold millions of keys. Returns 0 or -1. */
int scan_names(redisContext *redis, const struct scan_spec *sp, struct entry_list *names)
{
	char cursor[32] = "0";

	do {
		if (scan_step(redis, sp, cursor, sizeof(cursor), names) < 0)
			return -1;
	} while (strcmp(cursor, "0") != 0);
	entry_list_sort(names);
	return 0;
}
