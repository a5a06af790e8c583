/*
 * turnadmin: manage turnd's long-term credentials and TURN REST secrets in
 * Redis, in coturn's key schema plus a SHA-256 key:
 *
 *   turn/realm/<realm>/user/<name>/key         hex MD5(name:realm:password)
 *   turn/realm/<realm>/user/<name>/key-sha256  hex SHA-256(name:realm:password)
 *   turn/realm/<realm>/secret                  SET of shared secrets
 *
 *   turnadmin add-user|key -r REALM -u NAME -p PASSWORD
 *   turnadmin del-user -r REALM -u NAME
 *   turnadmin add-secret|del-secret -r REALM -s SECRET
 *   turnadmin list-users|list-secrets -r REALM
 *   connection: -H HOST -P PORT | -S SOCKET, -n DB, -a PASSWORD, --redis-user USER
 *
 * Keys are derived with turnd's own functions (SASLprep, RFC 8489 section
 * 9.2.2), so what this tool writes is what the server computes. Every Redis
 * command goes through redisCommandArgv: user data is never part of a
 * format string or of a command line that Redis would split.
 *
 * Exit status: 0 done, 1 Redis or operation error, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "stun/integrity.h"

enum { ADMIN_OK = 0, ADMIN_FAIL = 1, ADMIN_USAGE = 2 };

/* coturn's STUN_MAX_USERNAME_SIZE; turnd.conf's realm limit; turnd.conf's
 * limit on a static user's name (the `key` command writes such a line). */
#define ADMIN_NAME_MAX 513
#define ADMIN_REALM_MAX 763
#define ADMIN_CONF_NAME_MAX 508
#define ADMIN_PATH_MAX (sizeof("turn/realm//user//key-sha256") + ADMIN_REALM_MAX + ADMIN_NAME_MAX)
/* The SCAN pattern: every realm byte may be escaped. */
#define ADMIN_PATTERN_MAX (sizeof("turn/realm//user/*") + 2 * ADMIN_REALM_MAX)
#define ADMIN_TIMEOUT_S 5

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
};
#define OPT_CONN (OPT_TCP | OPT_UNIX | OPT_DB | OPT_AUTH)

struct admin_opts {
	const char *realm, *user, *password, *secret;
	const char *host, *socket, *redis_user, *redis_pass;
	int port;
	long db; /* -1: no SELECT */
	unsigned given; /* OPT_* bits seen on the command line */
	/* Derived from the password before Redis is contacted. */
	char md5_hex[2 * STUN_KEY_MD5_LEN + 1];
	char sha256_hex[2 * STUN_KEY_SHA256_LEN + 1];
};

struct admin_cmd {
	const char *name;
	unsigned required; /* OPT_* bits the command needs */
	unsigned allowed; /* OPT_* bits it accepts, required ones included */
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
	fprintf(to, "usage: turnadmin add-user -r REALM -u NAME -p PASSWORD [connection]\n"
		    "       turnadmin del-user -r REALM -u NAME [connection]\n"
		    "       turnadmin list-users -r REALM [connection]\n"
		    "       turnadmin add-secret -r REALM -s SECRET [connection]\n"
		    "       turnadmin del-secret -r REALM -s SECRET [connection]\n"
		    "       turnadmin list-secrets -r REALM [connection]\n"
		    "       turnadmin key -r REALM -u NAME -p PASSWORD\n"
		    "connection: [-H HOST] [-P PORT] | [-S SOCKET], [-n DB], [-a PASSWORD]\n"
		    "            [--redis-user USER]  (default 127.0.0.1:6379)\n");
}

/* One entry per line: bytes as they are, control characters as \xHH, so
 * that a name stored by another tool cannot break the listing or the
 * terminal. */
static void print_entry(const struct entry *e)
{
	for (size_t i = 0; i < e->len; i++) {
		unsigned char c = (unsigned char)e->s[i];
		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
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

/* Sorted by bytes, each entry once. */
static void entry_list_print(struct entry_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0 && entry_cmp(&l->v[i - 1], &l->v[i]) == 0)
			continue;
		print_entry(&l->v[i]);
	}
}

/* ---- Redis ---- */

/* One command; argv are NUL-terminated strings sent as separate bulk
 * strings. Returns the reply, which the caller frees with freeReplyObject,
 * or NULL after saying why (an error reply is a failure too). */
static redisReply *redis_run(redisContext *redis, int argc, const char **argv)
{
	size_t lens[8];
	redisReply *r;

	if (argc < 1 || argc > 8)
		return NULL;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = redisCommandArgv(redis, argc, argv, lens);
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

static int secret_path(char *out, size_t cap, const struct admin_opts *o)
{
	int n = snprintf(out, cap, "turn/realm/%s/secret", o->realm);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* The SCAN pattern turn/realm/<realm>/user/<any>, the realm's glob characters escaped so that
 * a realm such as "a*" matches only itself. */
static void users_pattern(char *out, size_t cap, const char *realm)
{
	size_t n = (size_t)snprintf(out, cap, "turn/realm/");

	for (const char *p = realm; *p && n + 2 < cap; p++) {
		if (strchr("*?[]\\", *p))
			out[n++] = '\\';
		out[n++] = *p;
	}
	snprintf(out + n, cap - n, "/user/*");
}

/* The name in a key under prefix ending in /key or /key-sha256, or NULL. */
static const char *name_of_key(const redisReply *k, size_t prefix_len, size_t *name_len)
{
	static const char *const leaves[] = {"/key", "/key-sha256"};

	if (k->type != REDIS_REPLY_STRING || k->len <= prefix_len)
		return NULL;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		size_t ll = strlen(leaves[i]);
		if (k->len < prefix_len + ll + 1 ||
		    memcmp(k->str + k->len - ll, leaves[i], ll) != 0)
			continue;
		*name_len = k->len - prefix_len - ll;
		return k->str + prefix_len;
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
static int scan_step(redisContext *redis, const char *pattern, size_t prefix_len, char *cursor,
		     size_t cursor_cap, struct entry_list *names)
{
	const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
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
		const char *name = name_of_key(r->element[1]->element[i], prefix_len, &len);
		if (name && entry_add(names, name, len) < 0) {
			fprintf(stderr, "turnadmin: out of memory\n");
			status = -1;
		}
	}
	freeReplyObject(r);
	return status;
}

/* SCAN, never KEYS: KEYS blocks a server that may hold millions of keys. */
static int cmd_list_users(redisContext *redis, const struct admin_opts *o)
{
	char pattern[ADMIN_PATTERN_MAX], cursor[32] = "0";
	size_t prefix_len = strlen("turn/realm/") + strlen(o->realm) + strlen("/user/");
	struct entry_list names = {0};
	int status = ADMIN_OK;

	users_pattern(pattern, sizeof(pattern), o->realm);
	do {
		if (scan_step(redis, pattern, prefix_len, cursor, sizeof(cursor), &names) < 0) {
			status = ADMIN_FAIL;
			break;
		}
	} while (strcmp(cursor, "0") != 0);
	if (status == ADMIN_OK)
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
	for (size_t i = 0; i < r->elements && status == ADMIN_OK; i++) {
		const redisReply *e = r->element[i];
		if (e->type == REDIS_REPLY_STRING && entry_add(&secrets, e->str, e->len) < 0) {
			fprintf(stderr, "turnadmin: out of memory\n");
			status = ADMIN_FAIL;
		}
	}
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

static const struct admin_cmd commands[] = {
	{"add-user", OPT_REALM | OPT_USER | OPT_PASS, OPT_REALM | OPT_USER | OPT_PASS | OPT_CONN,
	 cmd_add_user},
	{"del-user", OPT_REALM | OPT_USER, OPT_REALM | OPT_USER | OPT_CONN, cmd_del_user},
	{"list-users", OPT_REALM, OPT_REALM | OPT_CONN, cmd_list_users},
	{"add-secret", OPT_REALM | OPT_SECRET, OPT_REALM | OPT_SECRET | OPT_CONN, cmd_add_secret},
	{"del-secret", OPT_REALM | OPT_SECRET, OPT_REALM | OPT_SECRET | OPT_CONN, cmd_del_secret},
	{"list-secrets", OPT_REALM, OPT_REALM | OPT_CONN, cmd_list_secrets},
	{"key", OPT_REALM | OPT_USER | OPT_PASS, OPT_REALM | OPT_USER | OPT_PASS, cmd_key},
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

/* One option. Returns its OPT_* bit, or 0 for a bad option or value. */
static unsigned take_option(struct admin_opts *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'r': o->realm = arg; return OPT_REALM;
	case 'u': o->user = arg; return OPT_USER;
	case 'p': o->password = arg; return OPT_PASS;
	case 's': o->secret = arg; return OPT_SECRET;
	case 'H': o->host = arg; return OPT_TCP;
	case 'S': o->socket = arg; return OPT_UNIX;
	case 'a': o->redis_pass = arg; return OPT_AUTH;
	case 'U': o->redis_user = arg; return OPT_AUTH;
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
	default: return 0;
	}
	fprintf(stderr, "turnadmin: -%c: '%s' is not a number in range\n", c, arg);
	return 0;
}

/* Options after the command. Returns 0 to run, 1 for --help, -1 for a
 * usage error (already explained, except for getopt's own messages). */
static int parse_args(int argc, char **argv, struct admin_opts *o)
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
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "r:u:p:s:H:P:S:n:a:h", longopts, NULL)) != -1) {
		if (c == 'h')
			return 1;
		unsigned bit = take_option(o, c, optarg);
		if (bit == 0)
			return -1;
		o->given |= bit;
	}
	if (optind != argc) {
		fprintf(stderr, "turnadmin: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* The options the command needs are there and it accepts all the others. */
static int check_given(const struct admin_cmd *cmd, const struct admin_opts *o)
{
	static const struct {
		unsigned bit;
		const char *flag;
	} flags[] = {
		{OPT_REALM, "-r"},  {OPT_USER, "-u"},
		{OPT_PASS, "-p"},   {OPT_SECRET, "-s"},
		{OPT_TCP, "-H/-P"}, {OPT_UNIX, "-S"},
		{OPT_DB, "-n"},	    {OPT_AUTH, "-a/--redis-user"},
	};

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
	struct admin_opts o = {.host = "127.0.0.1", .port = 6379, .db = -1};
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
	int parsed = parse_args(argc, argv, &o);
	if (parsed != 0) {
		usage(parsed > 0 ? stdout : stderr);
		return parsed > 0 ? ADMIN_OK : ADMIN_USAGE;
	}
	if (check_given(cmd, &o) < 0 || prepare(cmd, &o) < 0)
		return ADMIN_USAGE;
	return run(cmd, &o);
}
