/* turnadmin: what the servers sharing a Redis report: show-realm and
 * events (admin.h). */
#include "admin.h"

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

/* "node ID ttl 57 pid 1234" for the node whose liveness key is key, and
 * its id added to live; nothing if the key expired since the SCAN.
 * Returns 0 or -1. */
static int show_node(redisContext *redis, const char *key, size_t klen, const struct entry *node,
		     struct entry_list *live)
{
	const char *ttl_argv[] = {"TTL", key}, *get_argv[] = {"GET", key};
	const size_t lens[] = {3, klen};
	redisReply *ttl =
		redis_expect(redis_runv(redis, 2, ttl_argv, lens), REDIS_REPLY_INTEGER, "TTL");
	redisReply *val = NULL;
	int status = 0;

	/* TTL -2: the key expired since the SCAN. The value is turnd's
	 * "pid N"; a key that is not a string has none, and is still there. */
	if (!ttl || ttl->integer == -2) {
		freeReplyObject(ttl);
		return ttl ? 0 : -1;
	}
	if (!(val = redisCommandArgv(redis, 2, get_argv, lens))) {
		fprintf(stderr, "turnadmin: redis GET: %s\n",
			redis->err ? redis->errstr : "no reply");
		freeReplyObject(ttl);
		return -1;
	}
	fputs("node ", stdout);
	print_text(node->s, node->len, true);
	if (ttl->integer >= 0)
		printf(" ttl %lld", ttl->integer);
	else
		fputs(" ttl none", stdout);
	if (val->type == REDIS_REPLY_STRING) {
		putchar(' ');
		print_text(val->str, val->len, false);
	}
	putchar('\n');
	if (entry_add(live, node->s, node->len) < 0) {
		fprintf(stderr, "turnadmin: out of memory\n");
		status = -1;
	}
	freeReplyObject(ttl);
	freeReplyObject(val);
	return status;
}

/* Every server whose liveness key exists, with its time to live in
 * seconds and its value; live gets their ids, sorted. */
static int show_nodes(redisContext *redis, const struct admin_opts *o, struct entry_list *live)
{
	struct scan_spec sp;
	struct entry_list found = {0};
	int status = 0;

	if (scan_spec_init(&sp, o->realm, REDIS_KEYS_DIR_NODE, no_suffix, 1) < 0 ||
	    scan_names(redis, &sp, &found) < 0) {
		entry_list_free(&found);
		return -1;
	}
	for (size_t i = 0; status == 0 && i < found.n; i++) {
		size_t klen;
		char *key = key_with(sp.prefix, &found.v[i], "", &klen);
		if (!key || show_node(redis, key, klen, &found.v[i], live) < 0)
			status = -1;
		free(key);
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
	struct scan_spec sp;
	struct entry_list users = {0};
	int status = 0;

	if (scan_spec_init(&sp, o->realm, REDIS_KEYS_DIR_USER, allocations_leaf, 1) < 0 ||
	    scan_names(redis, &sp, &users) < 0) {
		entry_list_free(&users);
		return -1;
	}
	for (size_t i = 0; i < users.n; i++) {
		size_t klen;
		char *key = key_with(sp.prefix, &users.v[i], allocations_leaf[0], &klen);
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

int cmd_show_realm(redisContext *redis, const struct admin_opts *o)
{
	struct entry_list live = {0};
	int status = ADMIN_OK;

	fputs("realm ", stdout);
	print_text(o->realm, strlen(o->realm), true);
	putchar('\n');
	if (show_limits(redis, o) < 0 || show_ranges(redis, o, REDIS_KEYS_LEAF_ALLOWED_PEER_IP) < 0 ||
	    show_ranges(redis, o, REDIS_KEYS_LEAF_DENIED_PEER_IP) < 0 || show_nodes(redis, o, &live) < 0)
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
int cmd_events(redisContext *redis, const struct admin_opts *o)
{
	char key[ADMIN_PATH_MAX], count[24];

	if (realm_path(key, sizeof(key), o, REDIS_KEYS_LEAF_EVENTS) < 0)
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
