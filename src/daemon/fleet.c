/*
 * Several turnd servers on one Redis (fleet.h). Every command is argv
 * form on the worker's Redis connection; a username is one argv element
 * or part of a key, never part of a command line.
 */
#include "daemon/fleet.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "daemon/park.h"
#include "daemon/quota.h"
#include "daemon/user_usage.h"
#include "daemon/worker.h"
#include "stun/attr.h"
#include "turn/alloc.h"
#include "util/log.h"
#include "util/redis_keys.h"

#ifdef HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

/* Commands a worker leaves unanswered before events are dropped. */
#define FLEET_INFLIGHT_MAX 1024
/* Peer ranges taken from one Redis set. */
#define FLEET_RANGES_MAX 4096
/* Any key of the realm (conf holds it to 763 bytes, RFC 8489 section
 * 14.9): a user's, a username at most AUTH_USERNAME_MAX, or a node's. */
_Static_assert(CONF_NODE_ID_MAX <= AUTH_USERNAME_MAX, "a node id longer than a username");
#define FLEET_KEY_MAX REDIS_KEYS_MAX(REDIS_KEYS_REALM_MAX, AUTH_USERNAME_MAX)

int fleet_shared_init(struct fleet_shared *fs, const struct conf *c, char *err, size_t errlen)
{
	memset(fs, 0, sizeof(*fs));
	fs->conf = c;
	fs->enabled = c->redis.enabled;
	pthread_mutex_init(&fs->lock, NULL);
	if (c->redis.node_id) {
		snprintf(fs->node_id, sizeof(fs->node_id), "%s", c->redis.node_id);
		return 0;
	}
	/* Made up at each start: a restarted server is a new node, and what
	 * the old one held lapses with its liveness key. */
	char host[32] = "turnd";
	uint32_t rnd;
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "cannot make up a node id");
		return -1;
	}
	gethostname(host, sizeof(host) - 1);
	host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")] = '\0';
	snprintf(fs->node_id, sizeof(fs->node_id), "%s-%08" PRIx32, host[0] ? host : "turnd", rnd);
	return 0;
}

void fleet_shared_fini(struct fleet_shared *fs)
{
	free(fs->allowed);
	free(fs->denied);
	pthread_mutex_destroy(&fs->lock);
}

#ifdef HAVE_HIREDIS

static bool shared_quota_on(const struct worker *w)
{
	return w->fleet.redis && w->conf->redis.shared_quota;
}

/* Seconds a node's liveness key lives (three polls, so that one lost
 * refresh does not drop it), and a user's count hash. */
static unsigned node_ttl(const struct conf *c)
{
	return 3 * c->redis.poll_interval_s;
}

static unsigned hash_ttl(const struct conf *c)
{
	unsigned t = 6 * c->redis.poll_interval_s;
	return t < 60 ? 60 : t;
}

/* turn/realm/<realm>/<leaf> (util/redis_keys.h): true if it fits. */
static bool realm_key(const struct worker *w, const char *leaf, char *buf, size_t cap)
{
	return redis_keys_realm(buf, cap, w->conf->realm, leaf) >= 0;
}

/* The user's count hash, turn/realm/<realm>/user/<name>/allocations. */
static bool user_key(const struct worker *w, const char *user, char *buf, size_t cap)
{
	return redis_keys_user(buf, cap, w->conf->realm, user, strlen(user),
			       REDIS_KEYS_LEAF_ALLOCATIONS) >= 0;
}

/* turn/realm/<realm>/node/: a node id after it names its liveness key. */
static bool node_prefix(const struct worker *w, char *buf, size_t cap)
{
	return redis_keys_dir(buf, cap, w->conf->realm, REDIS_KEYS_DIR_NODE) >= 0;
}

static void count(struct fleet_shared *fs, uint64_t *counter)
{
	pthread_mutex_lock(&fs->lock);
	(*counter)++;
	pthread_mutex_unlock(&fs->lock);
}

/* Send argv (NUL-terminated strings). */
static int send_cmd(struct worker *w, int argc, const char **argv, auth_redis_reply_fn *fn,
		    void *arg)
{
	size_t lens[16];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return auth_redis_command(w->fleet.redis, argc, argv, lens, fn, arg);
}

/* ---- Shared quota ---- */

/*
 * A node's field holds "<seq>:<count>". Both scripts store a count only
 * over an earlier seq: the workers of one server send on connections of
 * their own, so their updates may arrive in any order.
 *
 * publish: KEYS[1] the user's hash; ARGV: this node, seq, count, the
 * hash's TTL.
 */
static const char publish_script[] =
	"local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"if cur and (tonumber(string.match(cur, '^(%d+):')) or 0) >= tonumber(ARGV[2]) then\n"
	"  return 0\n"
	"end\n"
	"redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])\n"
	"redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
	"return 1\n";

/*
 * reserve: KEYS[1] the user's hash; ARGV: this node, seq, this node's
 * count with the new allocation, the quota, the liveness key prefix, the
 * hash's TTL. Fields of nodes whose liveness key is gone are dropped, the
 * others summed; if this node's new count fits beside them it is stored
 * and -1 returned, else the others' sum. One script: atomic across the
 * fleet, so two servers cannot both take the last allocation.
 */
static const char reserve_script[] =
	"local others = 0\n"
	"local f = redis.call('HGETALL', KEYS[1])\n"
	"for i = 1, #f, 2 do\n"
	"  if f[i] ~= ARGV[1] then\n"
	"    if redis.call('EXISTS', ARGV[5] .. f[i]) == 1 then\n"
	"      others = others + (tonumber(string.match(f[i + 1], ':(%d+)$')) or 0)\n"
	"    else\n"
	"      redis.call('HDEL', KEYS[1], f[i])\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if others + tonumber(ARGV[3]) > tonumber(ARGV[4]) then return others end\n"
	"local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"if not cur or (tonumber(string.match(cur, '^(%d+):')) or 0) < tonumber(ARGV[2]) then\n"
	"  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
	"end\n"
	"return -1\n";

struct reservation {
	struct worker *w;
	struct pending_req *p;
	char user[];
};

static void on_reserve(void *arg, struct redisReply *rep)
{
	struct reservation *res = arg;
	struct worker *w = res->w;
	struct fleet_shared *fs = w->fleet.shared;
	enum fleet_verdict v = FLEET_NONE;

	if (rep && rep->type == REDIS_REPLY_INTEGER) {
		v = rep->integer < 0 ? FLEET_GRANTED : FLEET_REFUSED;
		count(fs, v == FLEET_REFUSED ? &fs->quota_refused : &fs->quota_checked);
		if (v == FLEET_REFUSED)
			log_info("user-quota reached across the fleet: %lld allocations on other "
				 "servers",
				 (long long)rep->integer);
	} else {
		/* No answer: this server's own count decides alone. */
		count(fs, &fs->quota_unchecked);
		if (rep && rep->type == REDIS_REPLY_ERROR)
			log_warn("redis: quota script refused: %.120s", rep->str);
	}
	bool used = park_resume(res->p, v);
	/* Granted, but no allocation took it (the request failed, or its
	 * connection went): this node's true count goes back. */
	if (v == FLEET_GRANTED && !used) {
		uint64_t seq;
		unsigned n = quota_user_count(w->quota, res->user, &seq);
		fleet_quota_changed(w, res->user, n, seq);
	}
	free(res);
}

int fleet_reserve(struct worker *w, const struct stun_msg *m, const struct worker_msg *pc,
		  const struct auth_credential *ac)
{
	struct fleet_shared *fs = w->fleet.shared;

	if (!shared_quota_on(w) || !(pc->may_park & PARK_FLEET) || m->cls != STUN_CLASS_REQUEST ||
	    m->method != TURN_METHOD_ALLOCATE || ac->username_len == 0)
		return 0;
	unsigned quota = quota_user_limit(w->quota);
	if (quota == 0)
		return 0;
	if (!auth_redis_ready(w->fleet.redis)) {
		count(fs, &fs->quota_unchecked);
		return 0;
	}
	size_t ulen = ac->username_len;
	struct reservation *res = malloc(sizeof(*res) + ulen + 1);
	if (!res)
		return 0;
	res->w = w;
	memcpy(res->user, ac->username, ulen);
	res->user[ulen] = '\0';
	if (strlen(res->user) != ulen) { /* never: valid usernames hold no NUL */
		free(res);
		return 0;
	}

	char key[FLEET_KEY_MAX], prefix[FLEET_KEY_MAX], q[16], next[16], ttl[16], sq[24];
	uint64_t seq;
	unsigned local = quota_user_count(w->quota, res->user, &seq);
	snprintf(q, sizeof(q), "%u", quota);
	snprintf(sq, sizeof(sq), "%" PRIu64, seq);
	snprintf(next, sizeof(next), "%u", local + 1);
	snprintf(ttl, sizeof(ttl), "%u", hash_ttl(w->conf));
	if (!user_key(w, res->user, key, sizeof(key)) ||
	    !node_prefix(w, prefix, sizeof(prefix)) || !(res->p = park_for_fleet(w, pc))) {
		free(res);
		return 0;
	}
	const char *argv[] = { "EVAL", reserve_script, "1", key, fs->node_id, sq, next, q, prefix,
			       ttl };
	if (send_cmd(w, 10, argv, on_reserve, res) < 0) {
		park_cancel(res->p);
		free(res);
		count(fs, &fs->quota_unchecked);
		return 0;
	}
	return 1;
}

void fleet_quota_changed(struct worker *w, const char *user, unsigned n, uint64_t seq)
{
	char key[FLEET_KEY_MAX], val[16], ttl[16], sq[24];

	if (!shared_quota_on(w) || !auth_redis_ready(w->fleet.redis) ||
	    !user_key(w, user, key, sizeof(key)))
		return;
	snprintf(val, sizeof(val), "%u", n);
	snprintf(sq, sizeof(sq), "%" PRIu64, seq);
	snprintf(ttl, sizeof(ttl), "%u", hash_ttl(w->conf));
	const char *argv[] = { "EVAL", publish_script, "1", key, w->fleet.shared->node_id, sq, val,
			       ttl };
	send_cmd(w, 8, argv, NULL, NULL);
}

static void resync_one(void *arg, const char *user, unsigned n, uint64_t seq)
{
	fleet_quota_changed(arg, user, n, seq);
}

/* ---- Events ---- */

static const char *const event_names[] = {
	[TURN_ALLOC_CREATED] = "created",
	[TURN_ALLOC_REFRESHED] = "refreshed",
	[TURN_ALLOC_DELETED] = "deleted",
};

/* The most fields an event carries (name and value each count). */
#define FLEET_EVENT_FIELDS 26

/* Append one entry of n field strings (name, value, ...) to the realm's
 * event stream, capped at redis-events-max; counted sent or dropped
 * (Redis away or slow). */
static void event_send(struct worker *w, const char *const *fields, size_t n)
{
	struct fleet_shared *fs = w->fleet.shared;
	char key[FLEET_KEY_MAX], max[16];
	const char *argv[6 + FLEET_EVENT_FIELDS] = { "XADD", key, "MAXLEN", "~", max, "*" };
	size_t lens[6 + FLEET_EVENT_FIELDS];

	if (n > FLEET_EVENT_FIELDS || !auth_redis_ready(w->fleet.redis) ||
	    auth_redis_in_flight(w->fleet.redis) >= FLEET_INFLIGHT_MAX ||
	    !realm_key(w, REDIS_KEYS_LEAF_EVENTS, key, sizeof(key))) {
		count(fs, &fs->events_dropped);
		return;
	}
	snprintf(max, sizeof(max), "%u", w->conf->redis.events_max);
	memcpy(argv + 6, fields, n * sizeof(*fields));
	for (size_t i = 0; i < 6 + n; i++)
		lens[i] = strlen(argv[i]);
	if (auth_redis_command(w->fleet.redis, (int)(6 + n), argv, lens, NULL, NULL) < 0)
		count(fs, &fs->events_dropped);
	else
		count(fs, &fs->events_sent);
}

void fleet_alloc_event(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
		       uint32_t lifetime)
{
	struct worker *w = ctx;
	struct fleet_shared *fs = w->fleet.shared;
	char life[16], client[TURN_ADDR_STRLEN];
	char relay[2][TURN_ADDR_STRLEN], nums[4][24];

	if (!w->fleet.redis || !w->conf->redis.events)
		return;
	snprintf(life, sizeof(life), "%" PRIu32, lifetime);
	turn_addr_format(&a->tuple.client, true, client, sizeof(client));
	for (int i = 0; i < 2; i++) {
		relay[i][0] = '\0';
		if (a->relay[i].io)
			turn_addr_format(&a->relay[i].addr, true, relay[i], sizeof(relay[i]));
	}
	snprintf(nums[0], sizeof(nums[0]), "%" PRIu64, a->bytes_out);
	snprintf(nums[1], sizeof(nums[1]), "%" PRIu64, a->bytes_in);
	snprintf(nums[2], sizeof(nums[2]), "%" PRIu64, a->pkts_out);
	snprintf(nums[3], sizeof(nums[3]), "%" PRIu64, a->pkts_in);
	const char *fields[] = {
		"event", event_names[ev],
		"node", fs->node_id,
		"user", a->username ? a->username : "",
		"transport", a->tuple.transport == TURN_TRANSPORT_TCP ? "tcp" : "udp",
		"client", client,
		"relay", relay[0][0] ? relay[0] : relay[1],
		"lifetime", life,
		"client_to_peer_bytes", nums[0],
		"peer_to_client_bytes", nums[1],
		"client_to_peer_packets", nums[2],
		"peer_to_client_packets", nums[3],
	};
	event_send(w, fields, sizeof(fields) / sizeof(fields[0]));
}

/*
 * Every user with allocations on this server, and every one whose last
 * allocation closed since the last round (its final totals), as one
 * "usage" entry each in the event stream (user-usage-interval): its totals
 * since it was first tracked (cumulative, so a lost entry loses nothing
 * but its moment). Bounded like the allocation events: past the commands
 * in flight, the rest of this round is dropped and counted.
 */
void fleet_usage_events(struct worker *w, uint64_t since_ms)
{
	size_t n = 0;

	if (!w->fleet.redis || !w->conf->redis.events || !w->usage)
		return;
	struct user_usage_row *rows = user_usage_list(w->usage, since_ms ? since_ms : 1, &n);
	for (size_t i = 0; i < n; i++) {
		const struct user_usage_row *r = &rows[i];
		char nums[6][24];
		snprintf(nums[0], sizeof(nums[0]), "%u", r->allocations);
		snprintf(nums[1], sizeof(nums[1]), "%" PRIu64, r->allocations_total);
		snprintf(nums[2], sizeof(nums[2]), "%" PRIu64, r->traffic.bytes_to_peer);
		snprintf(nums[3], sizeof(nums[3]), "%" PRIu64, r->traffic.bytes_to_client);
		snprintf(nums[4], sizeof(nums[4]), "%" PRIu64, r->traffic.pkts_to_peer);
		snprintf(nums[5], sizeof(nums[5]), "%" PRIu64, r->traffic.pkts_to_client);
		const char *fields[] = {
			"event", "usage", "node", w->fleet.shared->node_id, "user", r->user,
			"allocations", nums[0], "allocations_total", nums[1],
			"client_to_peer_bytes", nums[2], "peer_to_client_bytes", nums[3],
			"client_to_peer_packets", nums[4], "peer_to_client_packets", nums[5],
		};
		event_send(w, fields, sizeof(fields) / sizeof(fields[0]));
	}
	free(rows);
}

/* ---- The realm's settings ---- */

struct poll {
	struct worker *w;
	unsigned left; /* answers still to come */
	bool failed;
	bool has[3];
	uint64_t val[3]; /* max-bps, user-quota, total-quota */
	struct turn_addr_range *ranges[2]; /* allowed, denied */
	size_t n_ranges[2];
};

static const char *const limit_names[3] = { REDIS_KEYS_LEAF_MAX_BPS, REDIS_KEYS_LEAF_USER_QUOTA,
					    REDIS_KEYS_LEAF_TOTAL_QUOTA };
static const char *const range_names[2] = { REDIS_KEYS_LEAF_ALLOWED_PEER_IP,
					    REDIS_KEYS_LEAF_DENIED_PEER_IP };

static void poll_free(struct poll *p)
{
	free(p->ranges[0]);
	free(p->ranges[1]);
	free(p);
}

static bool ranges_equal(const struct turn_addr_range *a, size_t na,
			 const struct turn_addr_range *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Store what the poll read, if it differs from what is in force. */
static void poll_apply(struct poll *p)
{
	struct worker *w = p->w;
	struct fleet_shared *fs = w->fleet.shared;
	const struct conf *c = w->conf;

	pthread_mutex_lock(&fs->lock);
	bool same = fs->has_max_bps == p->has[0] && fs->max_bps == p->val[0] &&
		    fs->has_user_quota == p->has[1] && fs->user_quota == p->val[1] &&
		    fs->has_total_quota == p->has[2] && fs->total_quota == p->val[2] &&
		    ranges_equal(fs->allowed, fs->n_allowed, p->ranges[0], p->n_ranges[0]) &&
		    ranges_equal(fs->denied, fs->n_denied, p->ranges[1], p->n_ranges[1]);
	if (!same) {
		fs->has_max_bps = p->has[0];
		fs->max_bps = p->val[0];
		fs->has_user_quota = p->has[1];
		fs->user_quota = (unsigned)p->val[1];
		fs->has_total_quota = p->has[2];
		fs->total_quota = (unsigned)p->val[2];
		free(fs->allowed);
		free(fs->denied);
		fs->allowed = p->ranges[0];
		fs->n_allowed = p->n_ranges[0];
		fs->denied = p->ranges[1];
		fs->n_denied = p->n_ranges[1];
		p->ranges[0] = p->ranges[1] = NULL;
		fs->generation++;
	}
	pthread_mutex_unlock(&fs->lock);
	if (same)
		return;
	unsigned uq = p->has[1] ? (unsigned)p->val[1] : c->user_quota;
	unsigned tq = p->has[2] ? (unsigned)p->val[2] : c->total_quota;
	quota_set_limits(w->quota, uq, tq);
	log_notice("redis: realm %s settings now max-bps %" PRIu64 " user-quota %u total-quota %u, "
		   "%zu allowed and %zu denied peer ranges from Redis",
		   c->realm, p->has[0] ? p->val[0] : c->max_bps, uq, tq, fs->n_allowed,
		   fs->n_denied);
}

static void poll_answered(struct poll *p)
{
	if (--p->left > 0)
		return;
	p->w->fleet.polling = false;
	if (!p->failed)
		poll_apply(p);
	poll_free(p);
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static void on_limits(void *arg, struct redisReply *rep)
{
	struct poll *p = arg;

	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
		p->failed = true;
	} else {
		for (size_t i = 0; i < 3; i++) {
			const redisReply *e = rep->element[i];
			if (e->type != REDIS_REPLY_STRING)
				continue;
			/* Quotas are counts of allocations: keep them to an unsigned. */
			uint64_t max = i == 0 ? UINT64_MAX : 0xFFFFFFFFu;
			if (parse_u64(e->str, e->len, &p->val[i]) && p->val[i] <= max)
				p->has[i] = true;
			else
				log_warn("redis: " REDIS_KEYS_PREFIX "%s/%s is not a number; the configured "
					 "value stays",
					 p->w->conf->realm, limit_names[i]);
		}
	}
	poll_answered(p);
}

static void on_ranges(struct poll *p, size_t which, const redisReply *rep)
{
	if (!rep || rep->type != REDIS_REPLY_ARRAY) {
		p->failed = true;
		return;
	}
	size_t n = rep->elements < FLEET_RANGES_MAX ? rep->elements : FLEET_RANGES_MAX;
	if (n == 0)
		return;
	p->ranges[which] = calloc(n, sizeof(*p->ranges[which]));
	if (!p->ranges[which]) {
		p->failed = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = rep->element[i];
		char text[128];
		if (e->type != REDIS_REPLY_STRING || e->len >= sizeof(text)) {
			log_warn("redis: an entry of " REDIS_KEYS_PREFIX "%s/%s is not a range; skipped",
				 p->w->conf->realm, range_names[which]);
			continue;
		}
		memcpy(text, e->str, e->len);
		text[e->len] = '\0';
		if (turn_addr_range_parse(text, &p->ranges[which][p->n_ranges[which]]) < 0)
			log_warn("redis: '%s' in " REDIS_KEYS_PREFIX "%s/%s is not an address range; "
				 "skipped",
				 text, p->w->conf->realm, range_names[which]);
		else
			p->n_ranges[which]++;
	}
	/* One order, so that a poll that read the same set compares equal. */
	if (rep->elements > FLEET_RANGES_MAX)
		log_warn("redis: only the first %d peer ranges are taken", FLEET_RANGES_MAX);
}

static int range_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct turn_addr_range));
}

static void on_allowed(void *arg, struct redisReply *rep)
{
	struct poll *p = arg;
	on_ranges(p, 0, rep);
	if (p->n_ranges[0])
		qsort(p->ranges[0], p->n_ranges[0], sizeof(*p->ranges[0]), range_cmp);
	poll_answered(p);
}

static void on_denied(void *arg, struct redisReply *rep)
{
	struct poll *p = arg;
	on_ranges(p, 1, rep);
	if (p->n_ranges[1])
		qsort(p->ranges[1], p->n_ranges[1], sizeof(*p->ranges[1]), range_cmp);
	poll_answered(p);
}

/* Read the realm's settings: MGET of the limits, SMEMBERS of the ranges. */
static void poll_start(struct worker *w)
{
	char k[5][FLEET_KEY_MAX];
	struct poll *p = calloc(1, sizeof(*p));

	if (!p)
		return;
	p->w = w;
	if (!realm_key(w, limit_names[0], k[0], sizeof(k[0])) ||
	    !realm_key(w, limit_names[1], k[1], sizeof(k[1])) ||
	    !realm_key(w, limit_names[2], k[2], sizeof(k[2])) ||
	    !realm_key(w, range_names[0], k[3], sizeof(k[3])) ||
	    !realm_key(w, range_names[1], k[4], sizeof(k[4]))) {
		free(p);
		return;
	}
	const char *mget[] = { "MGET", k[0], k[1], k[2] };
	const char *allowed[] = { "SMEMBERS", k[3] };
	const char *denied[] = { "SMEMBERS", k[4] };
	/* Each command sent holds p until it is answered. */
	p->left = 1;
	w->fleet.polling = true;
	if (send_cmd(w, 4, mget, on_limits, p) == 0)
		p->left++;
	if (send_cmd(w, 2, allowed, on_allowed, p) == 0)
		p->left++;
	if (send_cmd(w, 2, denied, on_denied, p) == 0)
		p->left++;
	if (p->left < 4)
		p->failed = true;
	poll_answered(p);
}

/* This node's liveness key, and its count of every user with allocations
 * (Redis may have restarted empty, and a count sent out of order by two
 * workers is set right). */
static void heartbeat(struct worker *w)
{
	char key[FLEET_KEY_MAX], ttl[16], val[64];

	if (redis_keys_node(key, sizeof(key), w->conf->realm, w->fleet.shared->node_id) < 0)
		return;
	snprintf(ttl, sizeof(ttl), "%u", node_ttl(w->conf));
	snprintf(val, sizeof(val), "pid %ld", (long)getpid());
	const char *argv[] = { "SET", key, val, "EX", ttl };
	send_cmd(w, 5, argv, NULL, NULL);
	if (shared_quota_on(w))
		quota_foreach(w->quota, resync_one, w);
}

bool fleet_tick(struct worker *w, uint64_t now_ms)
{
	struct fleet_shared *fs = w->fleet.shared;

	if (w->id == 0 && w->fleet.redis && auth_redis_ready(w->fleet.redis)) {
		unsigned epoch = auth_redis_epoch(w->fleet.redis);
		if ((now_ms >= w->fleet.next_poll_ms || epoch != w->fleet.epoch) &&
		    !w->fleet.polling) {
			w->fleet.epoch = epoch;
			w->fleet.next_poll_ms = now_ms + 1000u * w->conf->redis.poll_interval_s;
			heartbeat(w);
			poll_start(w);
		}
	}
	pthread_mutex_lock(&fs->lock);
	bool changed = fs->generation != w->fleet.generation;
	pthread_mutex_unlock(&fs->lock);
	return changed;
}

#else /* no hiredis: one server alone */

int fleet_reserve(struct worker *w, const struct stun_msg *m, const struct pending_ctx *pc,
		  const struct auth_credential *ac)
{
	(void)w;
	(void)m;
	(void)pc;
	(void)ac;
	return 0;
}

void fleet_quota_changed(struct worker *w, const char *user, unsigned n, uint64_t seq)
{
	(void)w;
	(void)user;
	(void)n;
	(void)seq;
}

void fleet_alloc_event(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
		       uint32_t lifetime)
{
	(void)ctx;
	(void)ev;
	(void)a;
	(void)lifetime;
}

void fleet_usage_events(struct worker *w, uint64_t since_ms)
{
	(void)w;
	(void)since_ms;
}

bool fleet_tick(struct worker *w, uint64_t now_ms)
{
	(void)w;
	(void)now_ms;
	return false;
}

#endif

void fleet_settings_applied(struct worker *w, uint64_t generation)
{
	w->fleet.generation = generation;
}
