/*
 * turnadmin: manage turnd's long-term credentials, TURN REST secrets and
 * realm settings in Redis, in coturn's key schema plus a SHA-256 key, and
 * show what the servers sharing that Redis report. The keys are listed,
 * and built, in util/redis_keys.h, the one home of the schema turnd reads:
 * this tool writes the credentials, secrets and realm settings there, and
 * only reads the servers' liveness keys, allocation counts and events.
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
#include "admin.h"
#include "client.h"

const struct limit limits[N_LIMITS] = {
	{REDIS_KEYS_LEAF_MAX_BPS, OPT_MAX_BPS, LONG_MAX, 9999999999999999999ull},
	{REDIS_KEYS_LEAF_USER_QUOTA, OPT_USER_QUOTA, INT_MAX, 0xFFFFFFFFull},
	{REDIS_KEYS_LEAF_TOTAL_QUOTA, OPT_TOTAL_QUOTA, INT_MAX, 0xFFFFFFFFull},
};

/* ---- usage ---- */

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

/* ---- commands ---- */

static int cmd_add_user(redisContext *redis, const struct admin_opts *o)
{
	char k_md5[ADMIN_PATH_MAX], k_sha[ADMIN_PATH_MAX];
	redisReply *r;

	if (user_path(k_md5, sizeof(k_md5), o, REDIS_KEYS_LEAF_KEY) < 0 ||
	    user_path(k_sha, sizeof(k_sha), o, REDIS_KEYS_LEAF_KEY_SHA256) < 0)
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

	if (user_path(k_md5, sizeof(k_md5), o, REDIS_KEYS_LEAF_KEY) < 0 ||
	    user_path(k_sha, sizeof(k_sha), o, REDIS_KEYS_LEAF_KEY_SHA256) < 0)
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

static int cmd_list_users(redisContext *redis, const struct admin_opts *o)
{
	struct scan_spec sp;
	struct entry_list names = {0};
	int status = ADMIN_OK;

	if (scan_spec_init(&sp, o->realm, REDIS_KEYS_DIR_USER, user_key_leaves, 2) < 0 ||
	    scan_names(redis, &sp, &names) < 0)
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
	return (o->given & OPT_ALLOWED) ? REDIS_KEYS_LEAF_ALLOWED_PEER_IP
					: REDIS_KEYS_LEAF_DENIED_PEER_IP;
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
		fprintf(stderr, "turnadmin: no range %s in " REDIS_KEYS_PREFIX "%s/%s\n", o->range, o->realm,
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
	if (client_parse_ulong(arg, 0, limits[i].max, &v) < 0) {
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
		if (client_parse_ulong(arg, 1, 65535, &v) < 0)
			break;
		o->port = (int)v;
		return OPT_TCP;
	case 'n':
		if (client_parse_ulong(arg, 0, 1000000, &v) < 0)
			break;
		o->db = (long)v;
		return OPT_DB;
	case 'c':
		if (client_parse_ulong(arg, 1, ADMIN_EVENTS_MAX, &v) < 0)
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
