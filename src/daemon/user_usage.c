/* Per-user usage and budgets, shared by every worker (user_usage.h). */
#include "daemon/user_usage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define USER_USAGE_BUCKETS 4096

struct user_usage_entry {
	struct user_usage_entry *next; /* in its hash bucket */
	TAILQ_ENTRY(user_usage_entry) idle; /* in the lingering list, oldest first */
	unsigned allocations; /* under the table's lock */
	uint64_t allocations_total; /* under the table's lock */
	uint64_t since_ms, idle_ms; /* under the table's lock */
	/* Folded by the workers without the lock. */
	_Atomic uint64_t pkts_to_peer, bytes_to_peer, pkts_to_client, bytes_to_client;
	/* The user's budget, read on the packet path (util/bw_share.h), at
	 * the lower of user-max-bps and own_bps (the backend's word on this
	 * user, user_usage_set_rate; 0: none), under the table's lock. */
	struct bw_share budget;
	uint64_t own_bps;
	char name[];
};

TAILQ_HEAD(user_usage_idle, user_usage_entry);

struct user_usage {
	pthread_mutex_t lock;
	struct user_usage_opts opts;
	struct user_usage_entry *buckets[USER_USAGE_BUCKETS];
	struct user_usage_idle lingering; /* allocations 0, by idle_ms */
	size_t n_users, n_lingering;
	uint64_t evicted;
};

struct user_usage *user_usage_new(const struct user_usage_opts *o)
{
	struct user_usage *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	TAILQ_INIT(&u->lingering);
	u->opts = *o;
	return u;
}

void user_usage_free(struct user_usage *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < USER_USAGE_BUCKETS; i++)
		while (u->buckets[i]) {
			struct user_usage_entry *e = u->buckets[i];
			u->buckets[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static size_t user_usage_max_lingering(const struct user_usage *u)
{
	return u->opts.max_lingering ? u->opts.max_lingering : USER_USAGE_LINGER_MAX;
}

/* The rate of e's budget: the lower of the two caps that are set. */
static uint64_t user_usage_rate(const struct user_usage *u, const struct user_usage_entry *e)
{
	uint64_t conf = u->opts.user_max_bps;

	if (!e->own_bps || (conf && conf < e->own_bps))
		return conf;
	return e->own_bps;
}

void user_usage_configure(struct user_usage *u, const struct user_usage_opts *o)
{
	pthread_mutex_lock(&u->lock);
	u->opts = *o;
	for (size_t i = 0; i < USER_USAGE_BUCKETS; i++)
		for (struct user_usage_entry *e = u->buckets[i]; e; e = e->next)
			bw_share_set_rate(&e->budget, user_usage_rate(u, e));
	pthread_mutex_unlock(&u->lock);
}

void user_usage_set_rate(struct user_usage *u, struct user_usage_entry *e, uint64_t rate)
{
	pthread_mutex_lock(&u->lock);
	e->own_bps = rate;
	bw_share_set_rate(&e->budget, user_usage_rate(u, e));
	pthread_mutex_unlock(&u->lock);
}

static struct user_usage_entry **user_usage_slot(struct user_usage *u, const char *user)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = user; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct user_usage_entry **pp = &u->buckets[h % USER_USAGE_BUCKETS];
	while (*pp && strcmp((*pp)->name, user) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Unlink e from its bucket and the lingering list, and free it. Under the
 * lock; e has no allocation, so no worker holds it. */
static void user_usage_drop(struct user_usage *u, struct user_usage_entry *e)
{
	struct user_usage_entry **pp = user_usage_slot(u, e->name);

	*pp = e->next;
	TAILQ_REMOVE(&u->lingering, e, idle);
	u->n_lingering--;
	u->n_users--;
	free(e);
}

struct user_usage_entry *user_usage_attach(struct user_usage *u, const char *user, uint64_t now_ms)
{
	char name[USER_USAGE_NAME_MAX + 1];
	size_t len = strnlen(user, USER_USAGE_NAME_MAX);

	/* A longer name (not a valid USERNAME) is tracked by its start. */
	memcpy(name, user, len);
	name[len] = '\0';
	pthread_mutex_lock(&u->lock);
	struct user_usage_entry **pp = user_usage_slot(u, name);
	struct user_usage_entry *e = *pp;
	if (!e && (e = calloc(1, sizeof(*e) + len + 1))) {
		memcpy(e->name, name, len + 1);
		e->since_ms = now_ms;
		bw_share_init(&e->budget, u->opts.user_max_bps, now_ms);
		*pp = e;
		u->n_users++;
	} else if (e && e->allocations == 0) {
		TAILQ_REMOVE(&u->lingering, e, idle);
		u->n_lingering--;
	}
	if (e) {
		e->allocations++;
		e->allocations_total++;
		e->idle_ms = 0;
	}
	pthread_mutex_unlock(&u->lock);
	return e;
}

struct bw_share *user_usage_budget(struct user_usage_entry *e)
{
	return &e->budget;
}

void user_usage_add(struct user_usage_entry *e, const struct user_usage_traffic *d)
{
	atomic_fetch_add_explicit(&e->pkts_to_peer, d->pkts_to_peer, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->bytes_to_peer, d->bytes_to_peer, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->pkts_to_client, d->pkts_to_client, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->bytes_to_client, d->bytes_to_client, memory_order_relaxed);
}

void user_usage_detach(struct user_usage *u, struct user_usage_entry *e, uint64_t now_ms)
{
	pthread_mutex_lock(&u->lock);
	if (e->allocations && --e->allocations == 0) {
		/* now_ms never runs backwards: the list stays oldest first. */
		e->idle_ms = now_ms ? now_ms : 1;
		TAILQ_INSERT_TAIL(&u->lingering, e, idle);
		u->n_lingering++;
		if (u->opts.linger_s == 0)
			user_usage_drop(u, e);
		else if (u->n_lingering > user_usage_max_lingering(u)) {
			user_usage_drop(u, TAILQ_FIRST(&u->lingering));
			u->evicted++;
		}
	}
	pthread_mutex_unlock(&u->lock);
}

void user_usage_expire(struct user_usage *u, uint64_t now_ms)
{
	uint64_t linger_ms = (uint64_t)u->opts.linger_s * 1000;

	pthread_mutex_lock(&u->lock);
	for (struct user_usage_entry *e; (e = TAILQ_FIRST(&u->lingering));) {
		bool expired = now_ms >= e->idle_ms + linger_ms;
		if (!expired && u->n_lingering <= user_usage_max_lingering(u))
			break;
		if (!expired)
			u->evicted++; /* the bound was lowered by a reload */
		user_usage_drop(u, e);
	}
	pthread_mutex_unlock(&u->lock);
}

static void user_usage_row_fill(struct user_usage_row *r, struct user_usage_entry *e)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->user, e->name, strnlen(e->name, USER_USAGE_NAME_MAX));
	r->allocations = e->allocations;
	r->allocations_total = e->allocations_total;
	r->since_ms = e->since_ms;
	r->idle_ms = e->idle_ms;
	r->traffic = (struct user_usage_traffic){
		atomic_load_explicit(&e->pkts_to_peer, memory_order_relaxed),
		atomic_load_explicit(&e->bytes_to_peer, memory_order_relaxed),
		atomic_load_explicit(&e->pkts_to_client, memory_order_relaxed),
		atomic_load_explicit(&e->bytes_to_client, memory_order_relaxed),
	};
}

struct user_usage_row *user_usage_list(struct user_usage *u, uint64_t idle_since_ms, size_t *n)
{
	struct user_usage_row *rows = NULL;

	*n = 0;
	pthread_mutex_lock(&u->lock);
	size_t cap = u->n_users;
	if (cap && (rows = malloc(cap * sizeof(*rows)))) {
		for (size_t i = 0; i < USER_USAGE_BUCKETS; i++)
			for (struct user_usage_entry *e = u->buckets[i]; e && *n < cap; e = e->next)
				if (e->allocations || e->idle_ms >= idle_since_ms)
					user_usage_row_fill(&rows[(*n)++], e);
	}
	pthread_mutex_unlock(&u->lock);
	if (rows && *n == 0) {
		free(rows);
		rows = NULL;
	}
	return rows;
}

void user_usage_stats(struct user_usage *u, struct user_usage_stats *out)
{
	pthread_mutex_lock(&u->lock);
	out->users = u->n_users;
	out->active = u->n_users - u->n_lingering;
	out->evicted = u->evicted;
	pthread_mutex_unlock(&u->lock);
}
