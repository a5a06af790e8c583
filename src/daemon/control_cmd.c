/*
 * The control socket's answers (control_int.h): status from the figures
 * /metrics shows, TURN REST credentials, and the answers of the jobs the
 * workers ran. Every string that came from a client (a username) goes
 * through the JSON writer's escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "config.h"
#include "daemon/control.h"
#include "daemon/control_ban.h"
#include "daemon/control_int.h"
#include "daemon/user_usage.h"
#include "io/clock.h"

void control_cmd_error(struct json_out *o, const char *why)
{
	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", false);
	json_out_str(o, "error", why);
	json_out_close(o, '}');
}

/* Redis as the workers see it: off, up (every worker connected), down,
 * or partial. */
static const char *control_redis_state(const struct conf *c, const struct metrics_view *v)
{
	if (!c->redis.enabled)
		return "off";
	if (v->redis_up == v->redis_workers)
		return "up";
	return v->redis_up ? "partial" : "down";
}

void control_cmd_status(const struct control_env *env, uint64_t started_ms, unsigned conns,
			struct json_out *o)
{
	struct metrics_view v;
	const struct turn_server_stats *s = &v.sum.core;

	memset(&v, 0, sizeof(v));
	env->view.snapshot(env->view.ctx, &v);
	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", true);
	json_out_str(o, "version", PACKAGE_VERSION);
	json_out_u64(o, "uptime_s", (io_now_ms() - started_ms) / 1000);
	json_out_u64(o, "workers", env->n_workers);
	json_out_u64(o, "allocations", s->allocations);
	json_out_u64(o, "allocations_total", s->allocations_total);
	json_out_u64(o, "to_peer_bytes", s->bytes_to_peer);
	json_out_u64(o, "to_peer_packets", s->relayed_to_peer);
	json_out_u64(o, "to_client_bytes", s->bytes_to_client);
	json_out_u64(o, "to_client_packets", s->relayed_to_client);
	json_out_u64(o, "client_connections", v.client_connections);
	json_out_bool(o, "draining", v.draining);
	json_out_str(o, "offload", v.offload.loaded ? "on" : "off");
	json_out_u64(o, "offload_interfaces", v.offload.interfaces);
	json_out_u64(o, "offload_channels", v.offload.entries);
	json_out_str(o, "redis", control_redis_state(env->conf_now(env->ctx), &v));
	json_out_u64(o, "control_connections", conns);
	json_out_close(o, '}');
}

/* TURN REST credentials (draft-uberti-behave-turn-rest-00 section 2.2):
 * "expiry:user" (or "expiry" without a user) and its password from the
 * first static-auth-secret. Returns 0, or -1 with an error answer in o. */
int control_cmd_credentials(const struct control_env *env, const struct json_tree *req,
			    struct json_out *o)
{
	const struct conf *c = env->conf_now(env->ctx);
	const char *user = json_tree_get_string(req, "user");
	const struct json_tree *ttl_v = json_tree_get(req, "ttl");
	double ttl = ttl_v ? ttl_v->number : 86400;
	char name[600], pass[AUTH_REST_PASSWORD_LEN + 1];

	if (!c->n_secrets) {
		control_cmd_error(o, "no static-auth-secret is configured");
		return -1;
	}
	if ((ttl_v && ttl_v->type != JSON_TREE_NUMBER) || ttl < 1 || ttl > 31536000 ||
	    ttl != (double)(uint64_t)ttl) {
		control_cmd_error(o, "ttl: not a number of seconds (1-31536000)");
		return -1;
	}
	/* The separator is ':' (auth_secret.c): a user holding one would
	 * still parse, but is refused here to keep the name unambiguous. */
	if (user && (strlen(user) > 512 || strchr(user, ':'))) {
		control_cmd_error(o, "user: at most 512 bytes, without ':'");
		return -1;
	}
	uint64_t expiry = (uint64_t)time(NULL) + (uint64_t)ttl;
	int n = user && user[0]
			? snprintf(name, sizeof(name), "%llu:%s", (unsigned long long)expiry, user)
			: snprintf(name, sizeof(name), "%llu", (unsigned long long)expiry);
	if (n < 0 || (size_t)n >= sizeof(name) ||
	    auth_rest_password(c->secrets[0], strlen(c->secrets[0]), name, (size_t)n, pass) < 0) {
		control_cmd_error(o, "cannot derive the password");
		return -1;
	}
	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", true);
	json_out_str(o, "username", name);
	json_out_str(o, "password", pass);
	json_out_u64(o, "ttl", (uint64_t)ttl);
	json_out_str(o, "realm", c->realm ? c->realm : "");
	json_out_close(o, '}');
	OPENSSL_cleanse(pass, sizeof(pass));
	return 0;
}

/* One user's sums in control_users_answer. */
struct control_user_sum {
	const char *user;
	struct control_usage sum;
	uint64_t allocations;
};

static int control_sum_cmp(const void *a, const void *b)
{
	return strcmp(((const struct control_user_sum *)a)->user,
		      ((const struct control_user_sum *)b)->user);
}

static int control_row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct user_usage_row *)a)->user,
		      ((const struct user_usage_row *)b)->user);
}

/* The per-user totals (user_usage), which every worker has just folded
 * its allocations into (control_worker.c): users with allocations now and
 * those that linger after their last one (user-usage-linger), sorted by
 * name, the user filter applied as sessions --user does. */
static void control_users_totals(const struct control_job *job, struct json_out *o)
{
	uint64_t now_ms = io_now_ms();
	size_t n = 0;
	struct user_usage_row *v = user_usage_list(job->usage, 0, &n);

	if (n)
		qsort(v, n, sizeof(*v), control_row_cmp);
	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", true);
	json_out_open(o, "users", '[');
	for (size_t i = 0; i < n; i++) {
		const struct user_usage_row *r = &v[i];
		if (job->user && !control_user_is(r->user, job->user))
			continue;
		json_out_open(o, NULL, '{');
		json_out_str(o, "user", r->user);
		json_out_u64(o, "allocations", r->allocations);
		json_out_u64(o, "allocations_total", r->allocations_total);
		json_out_u64(o, "to_peer_bytes", r->traffic.bytes_to_peer);
		json_out_u64(o, "to_peer_packets", r->traffic.pkts_to_peer);
		json_out_u64(o, "to_client_bytes", r->traffic.bytes_to_client);
		json_out_u64(o, "to_client_packets", r->traffic.pkts_to_client);
		json_out_u64(o, "idle_s",
			     r->idle_ms && now_ms > r->idle_ms ? (now_ms - r->idle_ms) / 1000 : 0);
		json_out_close(o, '}');
	}
	json_out_close(o, ']');
	json_out_close(o, '}');
	free(v);
}

/* The users of every worker's allocations, sorted by name, each with its
 * allocations and traffic summed; from the per-user totals when the
 * daemon keeps them (it always does; a test's worker may not). */
void control_users_answer(const struct control_job *job, struct json_out *o)
{
	size_t n = 0, k = 0;

	if (job->usage)
		return control_users_totals(job, o);

	for (unsigned i = 0; i < job->n_parts; i++)
		n += job->parts[i].n_usage;
	struct control_user_sum *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return control_cmd_error(o, "out of memory");
	for (unsigned i = 0; i < job->n_parts; i++)
		for (size_t j = 0; j < job->parts[i].n_usage; j++)
			v[k++].sum = job->parts[i].usage[j];
	for (size_t i = 0; i < n; i++)
		v[i].user = v[i].sum.user;
	qsort(v, n, sizeof(*v), control_sum_cmp);
	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", true);
	json_out_open(o, "users", '[');
	for (size_t i = 0; i < n;) {
		struct control_usage t = {0};
		size_t j = i;
		for (; j < n && strcmp(v[j].user, v[i].user) == 0; j++) {
			t.to_peer_bytes += v[j].sum.to_peer_bytes;
			t.to_peer_packets += v[j].sum.to_peer_packets;
			t.to_client_bytes += v[j].sum.to_client_bytes;
			t.to_client_packets += v[j].sum.to_client_packets;
		}
		json_out_open(o, NULL, '{');
		json_out_str(o, "user", v[i].user);
		json_out_u64(o, "allocations", j - i);
		json_out_u64(o, "to_peer_bytes", t.to_peer_bytes);
		json_out_u64(o, "to_peer_packets", t.to_peer_packets);
		json_out_u64(o, "to_client_bytes", t.to_client_bytes);
		json_out_u64(o, "to_client_packets", t.to_client_packets);
		json_out_close(o, '}');
		i = j;
	}
	json_out_close(o, ']');
	json_out_close(o, '}');
	free(v);
}

/* The sessions the workers wrote, one array. */
static void control_sessions_answer(const struct control_job *job, struct json_out *o)
{
	size_t n = 0;

	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", true);
	json_out_open(o, "sessions", '[');
	for (unsigned i = 0; i < job->n_parts; i++) {
		const struct control_part *p = &job->parts[i];
		if (!p->count || !p->sessions.buf)
			continue;
		/* Already JSON, escaped by the worker's writer. */
		json_out_raw(o, p->sessions.buf, p->sessions.len);
		n += p->count;
	}
	json_out_close(o, ']');
	json_out_u64(o, "count", n);
	json_out_close(o, '}');
}

void control_cmd_job_answer(const struct control_job *job, struct json_out *o)
{
	size_t n = 0;

	for (unsigned i = 0; i < job->n_parts; i++) {
		if (job->parts[i].oom || job->parts[i].sessions.failed)
			return control_cmd_error(o, "out of memory");
		n += job->parts[i].count;
	}
	if (job->kind == CONTROL_JOB_SESSIONS)
		return control_sessions_answer(job, o);
	if (job->kind == CONTROL_JOB_USERS)
		return control_users_answer(job, o);
	if (job->kind == CONTROL_JOB_KILL && n == 0)
		return control_cmd_error(o, "no such session");
	json_out_open(o, NULL, '{');
	json_out_bool(o, "ok", true);
	json_out_u64(o, "killed", n);
	json_out_close(o, '}');
}
