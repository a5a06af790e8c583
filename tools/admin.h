/* turnadmin's parts: turnadmin.c, the commands that write and the command
 * line; admin_util.c, output, entry lists, Redis and key names;
 * admin_report.c, show-realm and events. */
#ifndef TURND_TOOLS_ADMIN_H
#define TURND_TOOLS_ADMIN_H

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
#include "util/redis_keys.h"

enum { ADMIN_OK = 0, ADMIN_FAIL = 1, ADMIN_USAGE = 2 };

/* coturn's STUN_MAX_USERNAME_SIZE; turnd.conf's realm limit; turnd.conf's
 * limit on a static user's name (the `key` command writes such a line). */
#define ADMIN_NAME_MAX 513
#define ADMIN_REALM_MAX REDIS_KEYS_REALM_MAX
#define ADMIN_CONF_NAME_MAX 508
#define ADMIN_PATH_MAX REDIS_KEYS_MAX(ADMIN_REALM_MAX, ADMIN_NAME_MAX)
#define ADMIN_PATTERN_MAX REDIS_KEYS_PATTERN_MAX(ADMIN_REALM_MAX)
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
struct limit {
	const char *leaf;
	unsigned bit;
	unsigned long max;
	unsigned long long redis_max;
};
#define N_LIMITS 3
extern const struct limit limits[N_LIMITS];

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

struct scan_spec {
	char pattern[ADMIN_PATTERN_MAX];
	char prefix[ADMIN_PATH_MAX]; /* turn/realm/<realm>/<dir>/, before a name */
	size_t prefix_len;
	const char *const *suffixes;
	size_t n_suffixes;
};

/* Name suffixes for scan_spec_init: "/<leaf>", or "" for none. */
extern const char *const user_key_leaves[2];
extern const char *const no_suffix[1];
extern const char *const allocations_leaf[1];

/* admin_util.c */
void fprint_text(FILE *to, const char *s, size_t len, bool word);
void print_text(const char *s, size_t len, bool word);
void hex_encode(const uint8_t *in, size_t len, char *out);
int entry_add(struct entry_list *l, const char *s, size_t len);
void entry_list_free(struct entry_list *l);
int entry_cmp(const void *pa, const void *pb);
void entry_list_sort(struct entry_list *l);
bool entry_list_has(const struct entry_list *l, const char *s, size_t len);
void entry_list_print(struct entry_list *l);
int entry_list_add_reply(struct entry_list *l, const redisReply *r);
redisReply *redis_runv(redisContext *redis, int argc, const char **argv, const size_t *lens);
redisReply *redis_run(redisContext *redis, int argc, const char **argv);
redisReply *redis_expect(redisReply *r, int type, const char *cmd);
long long redis_integer(redisContext *redis, int argc, const char **argv);
redisContext *redis_open(const struct admin_opts *o);
int user_path(char *out, size_t cap, const struct admin_opts *o, const char *leaf);
int realm_path(char *out, size_t cap, const struct admin_opts *o, const char *leaf);
int secret_path(char *out, size_t cap, const struct admin_opts *o);
char *key_with(const char *prefix, const struct entry *e, const char *suffix, size_t *len);
int scan_spec_init(struct scan_spec *sp, const char *realm, const char *dir,
		   const char *const *suffixes, size_t n_suffixes);
int scan_names(redisContext *redis, const struct scan_spec *sp, struct entry_list *names);

/* admin_report.c */
int cmd_show_realm(redisContext *redis, const struct admin_opts *o);
int cmd_events(redisContext *redis, const struct admin_opts *o);

#endif
