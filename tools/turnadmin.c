/*
 * turnadmin: manage turnd's long-term credentials, TURN REST secrets and
 * realm settings in Redis, in coturn's key schema plus a SHA-256 key, and
 * show what the servers sharing that Redis report:
 *
 *   turn/realm/<realm>/user/<name>/key         hex MD5(name:realm:password)
 *   turn/realm/<realm>/user/<name>/key-sha256  hex SHA-256(name:realm:password)
 *   turn/realm/<realm>/secret                  SET of shared secrets
 *   turn/realm/<realm>/user-quota, total-quota, max-bps
 *                                              decimal strings overriding turnd.conf
 *   turn/realm/<realm>/allowed-peer-ip, denied-peer-ip
 *                                              SETs of peer ranges added to turnd.conf's
 *   turn/realm/<realm>/node/<id>               a running server's liveness key (read only)
 *   turn/realm/<realm>/user/<name>/allocations HASH node id -> "seq:count" (read only)
 *   turn/realm/<realm>/events                  STREAM of allocation events (read only)
 *
 *   turnadmin add-user|key -r REALM -u NAME -p PASSWORD
 *   turnadmin del-user -r REALM -u NAME
 *   turnadmin add-secret|del-secret -r REALM -s SECRET
 *   turnadmin list-users|list-secrets -r REALM
 *   turnadmin set-limit -r REALM [--user-quota N] [--total-quota N] [--max-bps N]
 *             (at least one; N decimal, or "unset" to delete the key)
 *   turnadmin add-peer-range|del-peer-range -r REALM --allowed|--denied RANGE
 *   turnadmin show-realm -r REALM
 *   turnadmin events -r REALM [-c COUNT]
 *   connection: -H HOST -P PORT | -S SOCKET, -n DB, -a PASSWORD, --redis-user USER
 *
 * Keys are derived with turnd's own functions (SASLprep, RFC 8489 section
 * 9.2.2), and peer ranges checked with its own parser, so what this tool
 * writes is what the server reads. Every Redis command goes through
 * redisCommandArgv: user data is never part of a format string or of a
 * command line that Redis would split. Keys are walked with SCAN, never
 * KEYS.
 *
 * Exit status: 0 done, 1 Redis or operation error, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "stun/integrity.h"
#include "turn/policy.h"

enum { ADMIN_OK = 0, ADMIN_FAIL = 1, ADMIN_USAGE = 2 };

/* coturn's STUN_MAX_USERNAME_SIZE; turnd.conf's realm limit; turnd.conf's
 * limit on a static user's name (the `key` command writes such a line). */
#define ADMIN_NAME_MAX 513
#define ADMIN_REALM_MAX 763
#define ADMIN_CONF_NAME_MAX 508
#define ADMIN_PATH_MAX (sizeof("turn/realm//user//key-sha256") + ADMIN_REALM_MAX + ADMIN_NAME_MAX)
/* The longest SCAN pattern: every realm byte may be escaped. */
#define ADMIN_PATTERN_MAX (sizeof("turn/realm//user/*/allocations") + 2 * ADMIN_REALM_MAX)
#define ADMIN_TIMEOUT_S 5
/* events: the default and the largest -c. */
#define ADMIN_EVENTS_DEFAULT 20
#define ADMIN_EVENTS_MAX 100000

/* Options, as bits: what a command requires and what it accepts. */
enum {
	OPT_REALM = 1u << 0,
	OPT_USER = 1u << 1,
	OPT_PASS = 1u << 2,
	OPT_SECRET = 1u << 3,
	OPT_TCP = 1u << 4, /* -H, -P */
	OPT_UNIX = 1u << 5, /* -S */
	OPT_DB = 1u << 6,
	OPT_AUTH = 1u << 7, /* -a, --redis-user */
	OPT_USER_QUOTA = 1u << 8, /* --user-quota */
	OPT_TOTAL_QUOTA = 1u << 9, /* --total-quota */
	OPT_MAX_BPS = 1u << 10, /* --max-bps */
	OPT_ALLOWED = 1u << 11, /* --allowed */
	OPT_DENIED = 1u << 12, /* --denied */
	OPT_COUNT = 1u << 13, /* -c */
};
#define OPT_CONN (OPT_TCP | OPT_UNIX | OPT_DB | OPT_AUTH)
#define OPT_LIMITS (OPT_USER_QUOTA | OPT_TOTAL_QUOTA | OPT_MAX_BPS)
#define OPT_LISTS (OPT_ALLOWED | OPT_DENIED)

/*
 * The realm's limits: key leaf (also the option's name), option bit, the
 * largest value set-limit writes (turnd.conf's own bound for the option),
 * and the largest turnd takes from Redis (show-realm flags the others).
 * In the order turnd reads them.
 */
static const struct limit {
	const char *leaf;
	unsigned bit;
	unsigned long max;
	unsigned long long redis_max;
} limits[] = {
	{"max-bps", OPT_MAX_BPS, LONG_MAX, 9999999999999999999ull},
	{"user-quota", OPT_USER_QUOTA, INT_MAX, 0xFFFFFFFFull},
	{"total-quota", OPT_TOTAL_QUOTA, INT_MAX, 0xFFFFFFFFull},
};
#define N_LIMITS (sizeof(limits) / sizeof(limits[0]))

/* getopt_long codes of the options that have no short form. */
enum {
	LONG_LIMIT = 0x100, /* + index in limits[] */
	LONG_ALLOWED = 0x110,
	LONG_DENIED,
};

struct admin_opts {
	const char *realm, *user, *password, *secret;
	const char *host, *socket, *redis_user, *redis_pass;
	int port;
	long db; /* -1: no SELECT */
	unsigned given; /* OPT_* bits seen on the command line */
	/* set-limit: a limit's value in decimal, or "" to delete its key. */
	char limit[N_LIMITS][24];
	const char *range; /* the operand of add-peer-range and del-peer-range */
	struct turn_addr_range parsed; /* range, parsed */
	unsigned long count; /* events -c */
	/* Derived from the password before Redis is contacted. */
	char md5_hex[2 * STUN_KEY_MD5_LEN + 1];
	char sha256_hex[2 * STUN_KEY_SHA256_LEN + 1];
};

struct admin_cmd {
	const char *name;
	unsigned required; /* OPT_* bits the command needs */
	unsigned allowed; /* OPT_* bits it accepts, required ones included */
	unsigned any_of; /* OPT_* bits of which it needs at least one */
	unsigned one_of; /* OPT_* bits of which it needs exactly one */
	const char *operand; /* the name of its one operand, or NULL for none */
	/* redis is NULL for a command that does not accept OPT_CONN. */
	int (*run)(redisContext *redis, const struct admin_opts *o);
};

/* An entry read from Redis: bytes and length (a key may hold a NUL). */
struct entry {
	char *s;
	size_t len;
};

struct entry_list {
	struct entry *v;
	size_t n, cap;
};

/* ---- output ---- */

static void usage(FILE *to)
{
	fprintf(to,
		"usage: turnadmin add-user -r REALM -u NAME -p PASSWORD [connection]\n"
		"       turnadmin del-user -r REALM -u NAME [connection]\n"
		"       turnadmin list-users -r REALM [connection]\n"
		"       turnadmin add-secret -r REALM -s SECRET [connection]\n"
		"       turnadmin del-secret -r REALM -s SECRET [connection]\n"
		"       turnadmin list-secrets -r REALM [connection]\n"
		"       turnadmin key -r REALM -u NAME -p PASSWORD\n"
		"       turnadmin set-limit -r REALM [--user-quota N] [--total-quota N]\n"
		"                 [--max-bps N] [connection]   (N: a number, or unset)\n"
		"       turnadmin add-peer-range -r REALM --allowed|--denied RANGE [connection]\n"
		"       turnadmin del-peer-range -r REALM --allowed|--denied RANGE [connection]\n"
		"       turnadmin show-realm -r REALM [connection]\n"
		"       turnadmin events -r REALM [-c COUNT] [connection]\n"
		"RANGE: ADDR, LO-HI or ADDR/LEN\n"
		"connection: [-H HOST] [-P PORT] | [-S SOCKET], [-n DB], [-a PASSWORD]\n"
		"            [--redis-user USER]  (default 127.0.0.1:6379)\n");
}

/* Bytes as they are, control characters as \xHH, so that a name stored by
 * another tool cannot break the listing or the terminal. A word, one of
 * several on a line, has its spaces and backslashes escaped too, so that
 * the line still splits into its words. */
static void fprint_text(FILE *to, const char *s, size_t len, bool word)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (word && (c == ' ' || c == '\\')))
			fprintf(to, "\\x%02x", c);
		else
			putc(c, to);
	}
}

static void print_text(const char *s, size_t len, bool word)
{
	fprint_text(stdout, s, len, word);
}

/* One entry per line. */
static void print_entry(const struct entry *e)
{
	print_text(e->s, e->len, false);
	putchar('\n');
}

static void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* ---- entry lists ---- */

static int entry_add(struct entry_list *l, const char *s, size_t len)
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

static void entry_list_free(struct entry_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->s, b->s, n);

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* Sorted by bytes, each entry once (SCAN may return a key twice). */
static void entry_list_sort(struct entry_list *l)
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
static bool entry_list_has(const struct entry_list *l, const char *s, size_t len)
{
	struct entry key = {.s = (char *)s, .len = len};

	return l->n > 0 && bsearch(&key, l->v, l->n, sizeof(l->v[0]), entry_cmp) != NULL;
}

static void entry_list_print(struct entry_list *l)
{
	entry_list_sort(l);
	for (size_t i = 0; i < l->n; i++)
		print_entry(&l->v[i]);
}

/* The string elements of an array reply, added to l. Returns 0 or -1. */
static int entry_list_add_reply(struct entry_list *l, const redisReply *r)
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
static redisReply *redis_runv(redisContext *redis, int argc, const char **argv, const size_t *lens)
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
static redisReply *redis_run(redisContext *redis, int argc, const char **argv)
{
	size_t lens[8];

	if (argc < 1 || argc > 8)
		return NULL;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return redis_runv(redis, argc, argv, lens);
}

/* A reply of the expected type, or NULL after saying so; frees r if not. */
static redisReply *redis_expect(redisReply *r, int type, const char *cmd)
{
	if (!r || r->type == type)
		return r;
	fprintf(stderr, "turnadmin: redis %s: unexpected reply type %d\n", cmd, r->type);
	freeReplyObject(r);
	return NULL;
}

/* Runs a command whose reply is an integer. Returns it (>= 0) or -1. */
static long long redis_integer(redisContext *redis, int argc, const char **argv)
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
static redisContext *redis_open(const struct admin_opts *o)
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

/* turn/realm/<realm>/user/<name>/<leaf>. Returns 0, or -1 if it does not
 * fit (the length checks make that impossible). */
static int user_path(char *out, size_t cap, const struct admin_opts *o, const char *leaf)
{
	int n = snprintf(out, cap, "turn/realm/%s/user/%s/%s", o->realm, o->user, leaf);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* turn/realm/<realm>/<leaf>. */
static int realm_path(char *out, size_t cap, const struct admin_opts *o, const char *leaf)
{
	int n = snprintf(out, cap, "turn/realm/%s/%s", o->realm, leaf);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int secret_path(char *out, size_t cap, const struct admin_opts *o)
{
	return realm_path(out, cap, o, "secret");
}

/* prefix, the bytes of e, then suffix: a key holding a name that SCAN
 * found (of any length, maybe with a NUL). Returns it, to free, or NULL. */
static char *key_with(const char *prefix, const struct entry *e, const char *suffix, size_t *len)
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

/* The SCAN pattern turn/realm/<realm><tail>, the realm's glob characters
 * escaped so that a realm such as "a*" matches only itself. */
static void realm_pattern(char *out, size_t cap, const char *realm, const char *tail)
{
	size_t n = (size_t)snprintf(out, cap, "turn/realm/");

	for (const char *p = realm; *p && n + 2 < cap; p++) {
		if (strchr("*?[]\\", *p))
			out[n++] = '\\';
		out[n++] = *p;
	}
	snprintf(out + n, cap - n, "%s", tail);
}

/* What a SCAN looks for: keys matching pattern, each prefix_len bytes of
 * prefix, a name of at least one byte, then one of the suffixes. */
struct scan_spec {
	char pattern[ADMIN_PATTERN_MAX];
	size_t prefix_len;
	const char *const *suffixes;
	size_t n_suffixes;
};

static const char *const user_key_leaves[] = {"/key", "/key-sha256"};
static const char *const no_suffix[] = {""};
static const char *const allocations_leaf[] = {"/allocations"};

/* Keys turn/realm/<realm>/<dir>/<name><suffix>, for one of suffixes. */
static void scan_spec_init(struct scan_spec *sp, const char *realm, const char *dir,
			   const char *const *suffixes, size_t n_suffixes)
{
	char tail[64];

	snprintf(tail, sizeof(tail), "/%s/*%s", dir, n_suffixes == 1 ? suffixes[0] : "");
	realm_pattern(sp->pattern, sizeof(sp->pattern), realm, tail);
	sp->prefix_len = strlen("turn/realm/") + strlen(realm) + 1 + strlen(dir) + 1;
	sp->suffixes = suffixes;
	sp->n_suffixes = n_suffixes;
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

/* ---- commands ---- */

static int cmd_add_user(redisContext *redis, const struct admin_opts *o)
{
	char k_md5[ADMIN_PATH_MAX], k_sha[ADMIN_PATH_MAX];
	redisReply *r;

	if (user_path(k_md5, sizeof(k_md5), o, "key") < 0 ||
	    user_path(k_sha, sizeof(k_sha), o, "key-sha256") < 0)
		return ADMIN_FAIL;
	/* One MSET: both keys change together or neither does. */
	const char *argv[] = {"MSET", k_md5, o->md5_hex, k_sha, o->sha256_hex};
	r = redis_run(redis, 5, argv);
	if (!r)
		return ADMIN_FAIL;
	freeReplyObject(r);
	return ADMIN_OK;
}

static int cmd_del_user(redisContext *redis, const struct admin_opts *o)
{
	char k_md5[ADMIN_PATH_MAX], k_sha[ADMIN_PATH_MAX];
	long long n;

	if (user_path(k_md5, sizeof(k_md5), o, "key") < 0 ||
	    user_path(k_sha, sizeof(k_sha), o, "key-sha256") < 0)
		return ADMIN_FAIL;
	const char *argv[] = {"DEL", k_md5, k_sha};
	n = redis_integer(redis, 3, argv);
	if (n < 0)
		return ADMIN_FAIL;
	if (n == 0) {
		fprintf(stderr, "turnadmin: no user '%s' in realm '%s'\n", o->user, o->realm);
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
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
static int scan_names(redisContext *redis, const struct scan_spec *sp, struct entry_list *names)
{
	char cursor[32] = "0";

	do {
		if (scan_step(redis, sp, cursor, sizeof(cursor), names) < 0)
			return -1;
	} while (strcmp(cursor, "0") != 0);
	entry_list_sort(names);
	return 0;
}

static int cmd_list_users(redisContext *redis, const struct admin_opts *o)
{
	struct scan_spec sp;
	struct entry_list names = {0};
	int status = ADMIN_OK;

	scan_spec_init(&sp, o->realm, "user", user_key_leaves, 2);
	if (scan_names(redis, &sp, &names) < 0)
		status = ADMIN_FAIL;
	else
		entry_list_print(&names);
	entry_list_free(&names);
	return status;
}

/* SADD or SREM of the secret; SREM of an absent secret is an error. */
static int secret_change(redisContext *redis, const struct admin_opts *o, const char *verb)
{
	char key[ADMIN_PATH_MAX];
	long long n;

	if (secret_path(key, sizeof(key), o) < 0)
		return ADMIN_FAIL;
	const char *argv[] = {verb, key, o->secret};
	n = redis_integer(redis, 3, argv);
	if (n < 0)
		return ADMIN_FAIL;
	if (n == 0 && strcmp(verb, "SREM") == 0) {
		fprintf(stderr, "turnadmin: no such secret in realm '%s'\n", o->realm);
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
}

static int cmd_add_secret(redisContext *redis, const struct admin_opts *o)
{
	return secret_change(redis, o, "SADD");
}

static int cmd_del_secret(redisContext *redis, const struct admin_opts *o)
{
	return secret_change(redis, o, "SREM");
}

static int cmd_list_secrets(redisContext *redis, const struct admin_opts *o)
{
	char key[ADMIN_PATH_MAX];
	struct entry_list secrets = {0};
	redisReply *r;
	int status = ADMIN_OK;

	if (secret_path(key, sizeof(key), o) < 0)
		return ADMIN_FAIL;
	const char *argv[] = {"SMEMBERS", key};
	r = redis_expect(redis_run(redis, 2, argv), REDIS_REPLY_ARRAY, "SMEMBERS");
	if (!r)
		return ADMIN_FAIL;
	if (entry_list_add_reply(&secrets, r) < 0)
		status = ADMIN_FAIL;
	freeReplyObject(r);
	if (status == ADMIN_OK)
		entry_list_print(&secrets);
	entry_list_free(&secrets);
	return status;
}

/* The static-user line of turnd.conf(5), in double quotes: '"' and '\'
 * escaped, and '$' written as \x24 so that "${" is not read as an
 * environment variable. */
static int cmd_key(redisContext *redis, const struct admin_opts *o)
{
	(void)redis;
	fputs("user = { \"", stdout);
	for (const char *p = o->user; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '$')
			fputs("\\x24", stdout);
		else
			putchar(*p);
	}
	printf(":0x%s\" }\n", o->md5_hex);
	return ADMIN_OK;
}

/* ---- the realm's settings ---- */

/* Runs a command whose reply is not needed (inside MULTI: +QUEUED); a
 * command of its name alone is skipped. Returns 0 or -1. */
static int redis_queue(redisContext *redis, int argc, const char **argv)
{
	redisReply *r;

	if (argc < 2)
		return 0;
	if (!(r = redis_run(redis, argc, argv)))
		return -1;
	freeReplyObject(r);
	return 0;
}

/* MULTI, MSET of the limits given a value, DEL of those given "unset",
 * EXEC: all change together or none does. */
static int cmd_set_limit(redisContext *redis, const struct admin_opts *o)
{
	char keys[N_LIMITS][ADMIN_PATH_MAX];
	const char *mset[1 + 2 * N_LIMITS] = {"MSET"}, *del[1 + N_LIMITS] = {"DEL"};
	int n_mset = 1, n_del = 1, status = ADMIN_OK;
	redisReply *r;

	for (size_t i = 0; i < N_LIMITS; i++) {
		if (!(o->given & limits[i].bit))
			continue;
		if (realm_path(keys[i], sizeof(keys[i]), o, limits[i].leaf) < 0)
			return ADMIN_FAIL;
		if (o->limit[i][0] != '\0') {
			mset[n_mset++] = keys[i];
			mset[n_mset++] = o->limit[i];
		} else {
			del[n_del++] = keys[i];
		}
	}
	const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"}, *discard[] = {"DISCARD"};
	if (!(r = redis_run(redis, 1, multi)))
		return ADMIN_FAIL;
	freeReplyObject(r);
	if (redis_queue(redis, n_mset, mset) < 0 || redis_queue(redis, n_del, del) < 0) {
		if ((r = redis_run(redis, 1, discard)))
			freeReplyObject(r);
		return ADMIN_FAIL;
	}
	r = redis_expect(redis_run(redis, 1, exec), REDIS_REPLY_ARRAY, "EXEC");
	if (!r)
		return ADMIN_FAIL;
	for (size_t i = 0; i < r->elements; i++) {
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "turnadmin: redis EXEC: %s\n", r->element[i]->str);
			status = ADMIN_FAIL;
		}
	}
	freeReplyObject(r);
	return status;
}

static const char *range_leaf(const struct admin_opts *o)
{
	return (o->given & OPT_ALLOWED) ? "allowed-peer-ip" : "denied-peer-ip";
}

/* Adding a range that is already there is not an error. */
static int cmd_add_peer_range(redisContext *redis, const struct admin_opts *o)
{
	char key[ADMIN_PATH_MAX];

	if (realm_path(key, sizeof(key), o, range_leaf(o)) < 0)
		return ADMIN_FAIL;
	const char *argv[] = {"SADD", key, o->range};
	return redis_integer(redis, 3, argv) < 0 ? ADMIN_FAIL : ADMIN_OK;
}

/* Whether a member of the set is o's range: the same text, or text that
 * turnd reads as the same addresses (10.0.0.0/8 and 10.0.0.0-10.255.255.255). */
static bool same_range(const struct admin_opts *o, const redisReply *e)
{
	char text[128];
	struct turn_addr_range r;

	if (e->type != REDIS_REPLY_STRING)
		return false;
	if (e->len == strlen(o->range) && memcmp(e->str, o->range, e->len) == 0)
		return true;
	if (e->len >= sizeof(text) || memchr(e->str, '\0', e->len))
		return false;
	memcpy(text, e->str, e->len);
	text[e->len] = '\0';
	return turn_addr_range_parse(text, &r) == 0 && turn_addr_eq(&r.lo, &o->parsed.lo) &&
	       turn_addr_eq(&r.hi, &o->parsed.hi);
}

/* SREM of every member that is the range; none is an error. */
static int cmd_del_peer_range(redisContext *redis, const struct admin_opts *o)
{
	char key[ADMIN_PATH_MAX];
	redisReply *r;
	int status = ADMIN_OK;

	if (realm_path(key, sizeof(key), o, range_leaf(o)) < 0)
		return ADMIN_FAIL;
	const char *members[] = {"SMEMBERS", key};
	r = redis_expect(redis_run(redis, 2, members), REDIS_REPLY_ARRAY, "SMEMBERS");
	if (!r)
		return ADMIN_FAIL;
	/* SREM key member...: at most every member of the set. */
	const char **argv = malloc((r->elements + 2) * sizeof(*argv));
	size_t *lens = malloc((r->elements + 2) * sizeof(*lens));
	int argc = 2;
	if (!argv || !lens) {
		fprintf(stderr, "turnadmin: out of memory\n");
		status = ADMIN_FAIL;
	} else {
		argv[0] = "SREM";
		lens[0] = 4;
		argv[1] = key;
		lens[1] = strlen(key);
		for (size_t i = 0; i < r->elements; i++) {
			if (same_range(o, r->element[i])) {
				argv[argc] = r->element[i]->str;
				lens[argc++] = r->element[i]->len;
			}
		}
	}
	if (status == ADMIN_OK && argc == 2) {
		fprintf(stderr, "turnadmin: no range %s in turn/realm/%s/%s\n", o->range, o->realm,
			range_leaf(o));
		status = ADMIN_FAIL;
	} else if (status == ADMIN_OK) {
		redisReply *rem = redis_expect(redis_runv(redis, argc, argv, lens),
					       REDIS_REPLY_INTEGER, "SREM");
		if (!rem)
			status = ADMIN_FAIL;
		freeReplyObject(rem);
	}
	free(argv);
	free(lens);
	freeReplyObject(r);
	return status;
}

/* A limit's value as turnd reads it: 1-19 decimal digits, at most max. */
static bool limit_value_ok(const redisReply *e, unsigned long long max)
{
	unsigned long long v = 0;

	if (e->len == 0 || e->len > 19)
		return false;
	for (size_t i = 0; i < e->len; i++) {
		if (e->str[i] < '0' || e->str[i] > '9')
			return false;
		v = v * 10 + (unsigned long long)(e->str[i] - '0');
	}
	return v <= max;
}

/* "max-bps 1000000" or "max-bps (config)", each limit a line. */
static int show_limits(redisContext *redis, const struct admin_opts *o)
{
	char keys[N_LIMITS][ADMIN_PATH_MAX];
	const char *argv[1 + N_LIMITS] = {"MGET"};

	for (size_t i = 0; i < N_LIMITS; i++) {
		if (realm_path(keys[i], sizeof(keys[i]), o, limits[i].leaf) < 0)
			return -1;
		argv[1 + i] = keys[i];
	}
	redisReply *r =
		redis_expect(redis_run(redis, 1 + N_LIMITS, argv), REDIS_REPLY_ARRAY, "MGET");
	if (!r)
		return -1;
	for (size_t i = 0; i < N_LIMITS && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		printf("%s ", limits[i].leaf);
		if (e->type != REDIS_REPLY_STRING) {
			fputs("(config)\n", stdout);
			continue;
		}
		print_text(e->str, e->len, true);
		if (!limit_value_ok(e, limits[i].redis_max))
			fputs(" (not a number turnd takes: the config's value holds)", stdout);
		putchar('\n');
	}
	freeReplyObject(r);
	return 0;
}

/* "allowed-peer-ip RANGE", each member a line, sorted by bytes; a member
 * that is not a range is marked, since turnd skips it. */
static int show_ranges(redisContext *redis, const struct admin_opts *o, const char *leaf)
{
	char key[ADMIN_PATH_MAX];
	struct entry_list ranges = {0};
	int status = 0;

	if (realm_path(key, sizeof(key), o, leaf) < 0)
		return -1;
	const char *argv[] = {"SMEMBERS", key};
	redisReply *r = redis_expect(redis_run(redis, 2, argv), REDIS_REPLY_ARRAY, "SMEMBERS");
	if (!r)
		return -1;
	if (entry_list_add_reply(&ranges, r) < 0)
		status = -1;
	freeReplyObject(r);
	entry_list_sort(&ranges);
	for (size_t i = 0; status == 0 && i < ranges.n; i++) {
		struct turn_addr_range parsed;
		const struct entry *e = &ranges.v[i];
		printf("%s ", leaf);
		print_text(e->s, e->len, true);
		if (strlen(e->s) != e->len || turn_addr_range_parse(e->s, &parsed) < 0)
			fputs(" (not a range: turnd skips it)", stdout);
		putchar('\n');
	}
	if (status == 0 && ranges.n == 0)
		printf("%s (none)\n", leaf);
	entry_list_free(&ranges);
	return status;
}

/* "node ID ttl 57 pid 1234": the servers whose liveness key exists, with
 * its time to live in seconds and its value; live gets their ids. */
static int show_nodes(redisContext *redis, const struct admin_opts *o, struct entry_list *live)
{
	char prefix[ADMIN_PATH_MAX];
	struct scan_spec sp;
	struct entry_list found = {0};
	int status = 0;

	scan_spec_init(&sp, o->realm, "node", no_suffix, 1);
	if (realm_path(prefix, sizeof(prefix), o, "node/") < 0 ||
	    scan_names(redis, &sp, &found) < 0) {
		entry_list_free(&found);
		return -1;
	}
	for (size_t i = 0; status == 0 && i < found.n; i++) {
		size_t klen;
		char *key = key_with(prefix, &found.v[i], "", &klen);
		if (!key) {
			status = -1;
			break;
		}
		const char *ttl_argv[] = {"TTL", key}, *get_argv[] = {"GET", key};
		const size_t lens[] = {3, klen};
		redisReply *ttl = redis_expect(redis_runv(redis, 2, ttl_argv, lens),
					       REDIS_REPLY_INTEGER, "TTL");
		redisReply *val = NULL;
		/* TTL -2: the key expired since the SCAN. The value is turnd's
		 * "pid N"; a key that is not a string has none, and is still there. */
		if (ttl && ttl->integer != -2 &&
		    !(val = redisCommandArgv(redis, 2, get_argv, lens))) {
			fprintf(stderr, "turnadmin: redis GET: %s\n",
				redis->err ? redis->errstr : "no reply");
			status = -1;
		}
		free(key);
		if (!ttl)
			status = -1;
		if (status == 0 && ttl->integer != -2) {
			fputs("node ", stdout);
			print_text(found.v[i].s, found.v[i].len, true);
			if (ttl->integer >= 0)
				printf(" ttl %lld", ttl->integer);
			else
				fputs(" ttl none", stdout);
			if (val && val->type == REDIS_REPLY_STRING) {
				putchar(' ');
				print_text(val->str, val->len, false);
			}
			putchar('\n');
			if (entry_add(live, found.v[i].s, found.v[i].len) < 0) {
				fprintf(stderr, "turnadmin: out of memory\n");
				status = -1;
			}
		}
		freeReplyObject(ttl);
		freeReplyObject(val);
	}
	if (status == 0 && live->n == 0)
		fputs("node (none)\n", stdout);
	entry_list_sort(live);
	entry_list_free(&found);
	return status;
}

/* A node's field in a user's allocations hash: "<seq>:<count>", the
 * count being the digits after the last ':' (as turnd's script reads it).
 * Returns the count, or -1 when the value is not of that form. */
static long long field_count(const redisReply *v)
{
	size_t start;
	long long n = 0;

	if (v->type != REDIS_REPLY_STRING)
		return -1;
	for (start = v->len; start > 0 && v->str[start - 1] != ':'; start--)
		;
	if (start == 0 || start == v->len || v->len - start > 18)
		return -1;
	for (size_t i = start; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return -1;
		n = n * 10 + (v->str[i] - '0');
	}
	return n;
}

struct field {
	const redisReply *node, *value;
};

static int field_cmp(const void *pa, const void *pb)
{
	const struct field *a = pa, *b = pb;
	struct entry ea = {.s = a->node->str, .len = a->node->len};
	struct entry eb = {.s = b->node->str, .len = b->node->len};

	return entry_cmp(&ea, &eb);
}

/* "user NAME allocations TOTAL: n1 2, n2 1 (not live)": the total counts
 * the live servers only, as turnd does; then each server's own count. */
static int show_user(redisContext *redis, const char *key, size_t klen, const struct entry *user,
		     const struct entry_list *live)
{
	const char *argv[] = {"HGETALL", key};
	const size_t lens[] = {7, klen};
	redisReply *r =
		redis_expect(redis_runv(redis, 2, argv, lens), REDIS_REPLY_ARRAY, "HGETALL");
	size_t n;
	long long total = 0;

	if (!r) {
		fputs("turnadmin: cannot read the allocations of user ", stderr);
		fprint_text(stderr, user->s, user->len, true);
		fputs("\n", stderr);
		return -1;
	}
	n = r->elements / 2;
	if (n == 0) { /* expired since the SCAN */
		freeReplyObject(r);
		return 0;
	}
	struct field *f = calloc(n, sizeof(*f));
	if (!f) {
		fprintf(stderr, "turnadmin: out of memory\n");
		freeReplyObject(r);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		f[i] = (struct field){.node = r->element[2 * i], .value = r->element[2 * i + 1]};
		long long c = field_count(f[i].value);
		if (c > 0 && f[i].node->type == REDIS_REPLY_STRING &&
		    entry_list_has(live, f[i].node->str, f[i].node->len))
			total += c;
	}
	qsort(f, n, sizeof(*f), field_cmp);
	fputs("user ", stdout);
	print_text(user->s, user->len, true);
	printf(" allocations %lld:", total);
	for (size_t i = 0; i < n; i++) {
		long long c = field_count(f[i].value);
		fputs(i ? ", " : " ", stdout);
		print_text(f[i].node->str, f[i].node->len, true);
		if (c >= 0)
			printf(" %lld", c);
		else
			fputs(" ? (not a count)", stdout);
		if (!entry_list_has(live, f[i].node->str, f[i].node->len))
			fputs(" (not live)", stdout);
	}
	putchar('\n');
	free(f);
	freeReplyObject(r);
	return 0;
}

/* Every user with an allocations hash, sorted by name. */
static int show_users(redisContext *redis, const struct admin_opts *o,
		      const struct entry_list *live)
{
	char prefix[ADMIN_PATH_MAX];
	struct scan_spec sp;
	struct entry_list users = {0};
	int status = 0;

	scan_spec_init(&sp, o->realm, "user", allocations_leaf, 1);
	if (realm_path(prefix, sizeof(prefix), o, "user/") < 0 ||
	    scan_names(redis, &sp, &users) < 0) {
		entry_list_free(&users);
		return -1;
	}
	for (size_t i = 0; i < users.n; i++) {
		size_t klen;
		char *key = key_with(prefix, &users.v[i], "/allocations", &klen);
		/* A key of the wrong type is reported, and the others shown. */
		if (!key || show_user(redis, key, klen, &users.v[i], live) < 0)
			status = -1;
		free(key);
	}
	if (users.n == 0)
		fputs("user (none)\n", stdout);
	entry_list_free(&users);
	return status;
}

static int cmd_show_realm(redisContext *redis, const struct admin_opts *o)
{
	struct entry_list live = {0};
	int status = ADMIN_OK;

	fputs("realm ", stdout);
	print_text(o->realm, strlen(o->realm), true);
	putchar('\n');
	if (show_limits(redis, o) < 0 || show_ranges(redis, o, "allowed-peer-ip") < 0 ||
	    show_ranges(redis, o, "denied-peer-ip") < 0 || show_nodes(redis, o, &live) < 0)
		status = ADMIN_FAIL;
	else if (show_users(redis, o, &live) < 0)
		status = ADMIN_FAIL;
	entry_list_free(&live);
	return status;
}

/* ---- events ---- */

/* The value of field name in a stream entry's [field, value, ...]. */
static const redisReply *event_field(const redisReply *fields, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; fields && i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && k->len == nl && memcmp(k->str, name, nl) == 0)
			return v->type == REDIS_REPLY_STRING ? v : NULL;
	}
	return NULL;
}

/* A field's value as a word; "-" when it is absent or empty. */
static void print_field(const redisReply *fields, const char *name)
{
	const redisReply *v = event_field(fields, name);

	if (v && v->len > 0)
		print_text(v->str, v->len, true);
	else
		putchar('-');
}

/* ID EVENT user=U node=N transport=T client=C relay=R lifetime=S
 * to-peer=BYTES/PACKETS from-peer=BYTES/PACKETS */
static void print_event(const redisReply *e)
{
	static const struct {
		const char *label, *field;
	} words[] = {
		{"user", "user"},     {"node", "node"},	  {"transport", "transport"},
		{"client", "client"}, {"relay", "relay"}, {"lifetime", "lifetime"},
	};
	const redisReply *fields;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return;
	fields = e->element[1]->type == REDIS_REPLY_ARRAY ? e->element[1] : NULL;
	print_text(e->element[0]->str, e->element[0]->len, true);
	putchar(' ');
	print_field(fields, "event");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		printf(" %s=", words[i].label);
		print_field(fields, words[i].field);
	}
	fputs(" to-peer=", stdout);
	print_field(fields, "client_to_peer_bytes");
	putchar('/');
	print_field(fields, "client_to_peer_packets");
	fputs(" from-peer=", stdout);
	print_field(fields, "peer_to_client_bytes");
	putchar('/');
	print_field(fields, "peer_to_client_packets");
	putchar('\n');
}

/* The last COUNT entries (XREVRANGE), printed oldest first. */
static int cmd_events(redisContext *redis, const struct admin_opts *o)
{
	char key[ADMIN_PATH_MAX], count[24];

	if (realm_path(key, sizeof(key), o, "events") < 0)
		return ADMIN_FAIL;
	snprintf(count, sizeof(count), "%lu", o->count);
	const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", count};
	redisReply *r = redis_expect(redis_run(redis, 6, argv), REDIS_REPLY_ARRAY, "XREVRANGE");
	if (!r)
		return ADMIN_FAIL;
	for (size_t i = r->elements; i > 0; i--)
		print_event(r->element[i - 1]);
	freeReplyObject(r);
	return ADMIN_OK;
}

static const struct admin_cmd commands[] = {
	{.name = "add-user",
	 .required = OPT_REALM | OPT_USER | OPT_PASS,
	 .allowed = OPT_REALM | OPT_USER | OPT_PASS | OPT_CONN,
	 .run = cmd_add_user},
	{.name = "del-user",
	 .required = OPT_REALM | OPT_USER,
	 .allowed = OPT_REALM | OPT_USER | OPT_CONN,
	 .run = cmd_del_user},
	{.name = "list-users",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_CONN,
	 .run = cmd_list_users},
	{.name = "add-secret",
	 .required = OPT_REALM | OPT_SECRET,
	 .allowed = OPT_REALM | OPT_SECRET | OPT_CONN,
	 .run = cmd_add_secret},
	{.name = "del-secret",
	 .required = OPT_REALM | OPT_SECRET,
	 .allowed = OPT_REALM | OPT_SECRET | OPT_CONN,
	 .run = cmd_del_secret},
	{.name = "list-secrets",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_CONN,
	 .run = cmd_list_secrets},
	{.name = "key",
	 .required = OPT_REALM | OPT_USER | OPT_PASS,
	 .allowed = OPT_REALM | OPT_USER | OPT_PASS,
	 .run = cmd_key},
	{.name = "set-limit",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_LIMITS | OPT_CONN,
	 .any_of = OPT_LIMITS,
	 .run = cmd_set_limit},
	{.name = "add-peer-range",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_LISTS | OPT_CONN,
	 .one_of = OPT_LISTS,
	 .operand = "RANGE",
	 .run = cmd_add_peer_range},
	{.name = "del-peer-range",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_LISTS | OPT_CONN,
	 .one_of = OPT_LISTS,
	 .operand = "RANGE",
	 .run = cmd_del_peer_range},
	{.name = "show-realm",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_CONN,
	 .run = cmd_show_realm},
	{.name = "events",
	 .required = OPT_REALM,
	 .allowed = OPT_REALM | OPT_COUNT | OPT_CONN,
	 .run = cmd_events},
};

/* ---- command line ---- */

/* A whole decimal number in [min, max]. Returns 0 or -1. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno != 0 || *end != '\0' || *out < min || *out > max) ? -1 : 0;
}

/* --user-quota, --total-quota, --max-bps: a decimal number in range,
 * stored as written back without leading zeros, or "unset" (stored as "").
 * Returns the limit's OPT_* bit, or 0. */
static unsigned take_limit(struct admin_opts *o, size_t i, const char *arg)
{
	unsigned long v;

	if (strcmp(arg, "unset") == 0) {
		o->limit[i][0] = '\0';
		return limits[i].bit;
	}
	if (parse_ulong(arg, 0, limits[i].max, &v) < 0) {
		fprintf(stderr,
			"turnadmin: --%s: '%s' is neither a number from 0 to %lu nor unset\n",
			limits[i].leaf, arg, limits[i].max);
		return 0;
	}
	snprintf(o->limit[i], sizeof(o->limit[i]), "%lu", v);
	return limits[i].bit;
}

/* One option. Returns its OPT_* bit, or 0 for a bad option or value. */
static unsigned take_option(struct admin_opts *o, int c, const char *arg)
{
	unsigned long v;

	if (c >= LONG_LIMIT && (size_t)(c - LONG_LIMIT) < N_LIMITS)
		return take_limit(o, (size_t)(c - LONG_LIMIT), arg);
	switch (c) {
	case 'r': o->realm = arg; return OPT_REALM;
	case 'u': o->user = arg; return OPT_USER;
	case 'p': o->password = arg; return OPT_PASS;
	case 's': o->secret = arg; return OPT_SECRET;
	case 'H': o->host = arg; return OPT_TCP;
	case 'S': o->socket = arg; return OPT_UNIX;
	case 'a': o->redis_pass = arg; return OPT_AUTH;
	case 'U': o->redis_user = arg; return OPT_AUTH;
	case LONG_ALLOWED: return OPT_ALLOWED;
	case LONG_DENIED: return OPT_DENIED;
	case 'P':
		if (parse_ulong(arg, 1, 65535, &v) < 0)
			break;
		o->port = (int)v;
		return OPT_TCP;
	case 'n':
		if (parse_ulong(arg, 0, 1000000, &v) < 0)
			break;
		o->db = (long)v;
		return OPT_DB;
	case 'c':
		if (parse_ulong(arg, 1, ADMIN_EVENTS_MAX, &v) < 0)
			break;
		o->count = v;
		return OPT_COUNT;
	default: return 0;
	}
	fprintf(stderr, "turnadmin: -%c: '%s' is not a number in range\n", c, arg);
	return 0;
}

/* Options after the command, and its operand. Returns 0 to run, 1 for
 * --help, -1 for a usage error (already explained, except for getopt's
 * own messages). */
static int parse_args(int argc, char **argv, const struct admin_cmd *cmd, struct admin_opts *o)
{
	static const struct option longopts[] = {
		{"realm", required_argument, NULL, 'r'},
		{"user", required_argument, NULL, 'u'},
		{"password", required_argument, NULL, 'p'},
		{"secret", required_argument, NULL, 's'},
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'P'},
		{"socket", required_argument, NULL, 'S'},
		{"db", required_argument, NULL, 'n'},
		{"redis-password", required_argument, NULL, 'a'},
		{"redis-user", required_argument, NULL, 'U'},
		/* LONG_LIMIT + the index in limits[] */
		{"max-bps", required_argument, NULL, LONG_LIMIT + 0},
		{"user-quota", required_argument, NULL, LONG_LIMIT + 1},
		{"total-quota", required_argument, NULL, LONG_LIMIT + 2},
		{"allowed", no_argument, NULL, LONG_ALLOWED},
		{"denied", no_argument, NULL, LONG_DENIED},
		{"count", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "r:u:p:s:H:P:S:n:a:c:h", longopts, NULL)) != -1) {
		if (c == 'h')
			return 1;
		unsigned bit = take_option(o, c, optarg);
		if (bit == 0)
			return -1;
		o->given |= bit;
	}
	if (cmd->operand && optind == argc) {
		fprintf(stderr, "turnadmin %s: %s is required\n", cmd->name, cmd->operand);
		return -1;
	}
	if (cmd->operand)
		o->range = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "turnadmin: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* Each OPT_* bit and how it is written. */
static const struct {
	unsigned bit;
	const char *flag;
} flags[] = {
	{OPT_REALM, "-r"},
	{OPT_USER, "-u"},
	{OPT_PASS, "-p"},
	{OPT_SECRET, "-s"},
	{OPT_TCP, "-H/-P"},
	{OPT_UNIX, "-S"},
	{OPT_DB, "-n"},
	{OPT_AUTH, "-a/--redis-user"},
	{OPT_USER_QUOTA, "--user-quota"},
	{OPT_TOTAL_QUOTA, "--total-quota"},
	{OPT_MAX_BPS, "--max-bps"},
	{OPT_ALLOWED, "--allowed"},
	{OPT_DENIED, "--denied"},
	{OPT_COUNT, "-c"},
};

/* The flags of the bits in mask: "a, b and c" (conj "and"), "a or b". */
static void flag_names(unsigned mask, const char *conj, char *out, size_t cap)
{
	size_t n = 0, left = 0;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		left += (mask & flags[i].bit) != 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && n < cap; i++) {
		if (!(mask & flags[i].bit))
			continue;
		left--;
		int k = snprintf(out + n, cap - n, "%s%s", flags[i].flag,
				 left > 1    ? ", "
				 : left == 1 ? " "
					     : "");
		if (k < 0)
			return;
		n += (size_t)k;
		if (left == 1 && n < cap) {
			k = snprintf(out + n, cap - n, "%s ", conj);
			if (k < 0)
				return;
			n += (size_t)k;
		}
	}
}

/* The options the command needs are there and it accepts all the others. */
static int check_given(const struct admin_cmd *cmd, const struct admin_opts *o)
{
	char names[128];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		unsigned bit = flags[i].bit;
		if ((cmd->required & bit) && !(o->given & bit)) {
			fprintf(stderr, "turnadmin %s: %s is required\n", cmd->name, flags[i].flag);
			return -1;
		}
		if (!(cmd->allowed & bit) && (o->given & bit)) {
			fprintf(stderr, "turnadmin %s: %s does not apply\n", cmd->name,
				flags[i].flag);
			return -1;
		}
	}
	if (cmd->any_of && !(o->given & cmd->any_of)) {
		flag_names(cmd->any_of, "and", names, sizeof(names));
		fprintf(stderr, "turnadmin %s: at least one of %s is required\n", cmd->name, names);
		return -1;
	}
	unsigned chosen = o->given & cmd->one_of;
	if (cmd->one_of && (chosen == 0 || (chosen & (chosen - 1)) != 0)) {
		if (chosen == 0) {
			flag_names(cmd->one_of, "or", names, sizeof(names));
			fprintf(stderr, "turnadmin %s: %s is required\n", cmd->name, names);
		} else {
			flag_names(chosen, "and", names, sizeof(names));
			fprintf(stderr, "turnadmin %s: %s exclude each other\n", cmd->name, names);
		}
		return -1;
	}
	if ((o->given & OPT_TCP) && (o->given & OPT_UNIX)) {
		fprintf(stderr, "turnadmin: -S excludes -H and -P\n");
		return -1;
	}
	return 0;
}

/* What coturn stores and turnd accepts: not empty, at most max bytes, no
 * control characters (they would break listings, logs and config lines). */
static int check_text(const char *what, const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0) {
		fprintf(stderr, "turnadmin: the %s is empty\n", what);
		return -1;
	}
	if (len > max) {
		fprintf(stderr, "turnadmin: the %s is %zu bytes, more than %zu\n", what, len, max);
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "turnadmin: the %s holds a control character\n", what);
			return -1;
		}
	}
	return 0;
}

/* Both keys, with the same derivation as the server. */
static int derive_keys(struct admin_opts *o)
{
	uint8_t md5[STUN_KEY_MD5_LEN], sha256[STUN_KEY_SHA256_LEN];

	if (o->password[0] == '\0') {
		fprintf(stderr, "turnadmin: the password is empty\n");
		return -1;
	}
	if (stun_key_md5(o->user, o->realm, o->password, md5) < 0 ||
	    stun_key_sha256(o->user, o->realm, o->password, sha256) < 0) {
		fprintf(stderr, "turnadmin: the password is not valid UTF-8 or SASLprep "
				"(RFC 4013) refuses it\n");
		return -1;
	}
	hex_encode(md5, sizeof(md5), o->md5_hex);
	hex_encode(sha256, sizeof(sha256), o->sha256_hex);
	return 0;
}

/* Checks the values and derives the keys, before any connection. */
static int prepare(const struct admin_cmd *cmd, struct admin_opts *o)
{
	bool conf_line = cmd->run == cmd_key;

	if (!o->redis_pass && (cmd->allowed & OPT_AUTH))
		o->redis_pass = getenv("REDISCLI_AUTH");
	if (o->redis_user && !o->redis_pass) {
		fprintf(stderr, "turnadmin: --redis-user needs a password (-a or REDISCLI_AUTH)\n");
		return -1;
	}
	if (check_text("realm", o->realm, ADMIN_REALM_MAX) < 0)
		return -1;
	if (o->user &&
	    check_text("user name", o->user, conf_line ? ADMIN_CONF_NAME_MAX : ADMIN_NAME_MAX) < 0)
		return -1;
	if (conf_line && strchr(o->user, ':')) {
		fprintf(stderr, "turnadmin: a turnd.conf user name cannot hold ':'\n");
		return -1;
	}
	if (o->secret && check_text("secret", o->secret, SIZE_MAX) < 0)
		return -1;
	if (o->range && check_text("range", o->range, SIZE_MAX) < 0)
		return -1;
	if (o->range && turn_addr_range_parse(o->range, &o->parsed) < 0) {
		fprintf(stderr,
			"turnadmin: '%s' is not an address range (an address, LO-HI or "
			"ADDR/LEN)\n",
			o->range);
		return -1;
	}
	return o->password ? derive_keys(o) : 0;
}

static int run(const struct admin_cmd *cmd, const struct admin_opts *o)
{
	redisContext *redis = NULL;
	int status;

	if ((cmd->allowed & OPT_CONN) && !(redis = redis_open(o)))
		return ADMIN_FAIL;
	status = cmd->run(redis, o);
	redisFree(redis);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "turnadmin: writing the output: %s\n", strerror(errno));
		return ADMIN_FAIL;
	}
	return status;
}

int main(int argc, char **argv)
{
	struct admin_opts o = {
		.host = "127.0.0.1", .port = 6379, .db = -1, .count = ADMIN_EVENTS_DEFAULT};
	const struct admin_cmd *cmd = NULL;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return ADMIN_OK;
	}
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		if (argc >= 2)
			fprintf(stderr, "turnadmin: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return ADMIN_USAGE;
	}
	int parsed = parse_args(argc, argv, cmd, &o);
	if (parsed != 0) {
		usage(parsed > 0 ? stdout : stderr);
		return parsed > 0 ? ADMIN_OK : ADMIN_USAGE;
	}
	if (check_given(cmd, &o) < 0 || prepare(cmd, &o) < 0)
		return ADMIN_USAGE;
	return run(cmd, &o);
}
