/* Allocation quotas and load shedding (quota.h). */
#include "daemon/quota.h"

#include <stdlib.h>
#include <string.h>

#include "stun/stun.h"
#include "turn/server.h"

struct quota_entry {
	struct quota_entry *next;
	unsigned count;
	char name[];
};

#define QUOTA_BUCKETS 1024

int quota_init(struct quota_table *q, const struct conf *conf)
{
	memset(q, 0, sizeof(*q));
	q->user_quota = conf->user_quota;
	q->total_quota = conf->total_quota;
	pthread_mutex_init(&q->lock, NULL);
	q->users = calloc(QUOTA_BUCKETS, sizeof(*q->users));
	q->n_buckets = QUOTA_BUCKETS;
	return q->users ? 0 : -1;
}

void quota_fini(struct quota_table *q)
{
	for (size_t i = 0; q->users && i < q->n_buckets; i++) {
		while (q->users[i]) {
			struct quota_entry *e = q->users[i];
			q->users[i] = e->next;
			free(e);
		}
	}
	free(q->users);
	q->users = NULL;
	pthread_mutex_destroy(&q->lock);
}

static struct quota_entry **quota_slot(struct quota_table *q, const char *user)
{
	uint32_t h = 2166136261u;

	for (const char *p = user; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct quota_entry **pp = &q->users[h % q->n_buckets];
	while (*pp && strcmp((*pp)->name, user) != 0)
		pp = &(*pp)->next;
	return pp;
}

static uint64_t quota_relayed_bps(const struct quota_table *q)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < QUOTA_MAX_WORKERS; i++)
		sum += q->worker_bps[i];
	return sum;
}

/* Load shedding (300) first, then the server's and the user's quotas; the
 * user's across the fleet is the verdict Redis gave this request. */
static int quota_decide(struct quota_table *q, struct quota_entry **pp, const struct quota_ask *a)
{
	const struct conf *c = a->conf;
	unsigned user_quota = a->user_quota ? a->user_quota : q->user_quota;

	if (a->retired || q->draining || (c->shed_allocations && q->total >= c->shed_allocations) ||
	    (c->shed_bps && quota_relayed_bps(q) >= c->shed_bps))
		return STUN_ERR_TRY_ALTERNATE;
	if (q->total_quota && q->total >= q->total_quota)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	if (user_quota && *pp && (*pp)->count >= user_quota)
		return TURN_ERR_ALLOCATION_QUOTA;
	if (a->fleet_refused)
		return TURN_ERR_ALLOCATION_QUOTA;
	return 0;
}

int quota_take(struct quota_table *q, const char *user, const struct quota_ask *ask,
	       unsigned *count, uint64_t *seq)
{
	pthread_mutex_lock(&q->lock);
	struct quota_entry **pp = quota_slot(q, user);
	int rc = quota_decide(q, pp, ask);
	if (rc == 0 && !*pp && !(*pp = calloc(1, sizeof(**pp) + strlen(user) + 1)))
		rc = TURN_ERR_INSUFFICIENT_CAPACITY;
	if (rc == 0) {
		if ((*pp)->count == 0)
			strcpy((*pp)->name, user);
		*count = ++(*pp)->count;
		q->total++;
		*seq = ++q->seq;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

bool quota_give(struct quota_table *q, const char *user, unsigned *count, uint64_t *seq)
{
	bool gave = false;

	pthread_mutex_lock(&q->lock);
	struct quota_entry **pp = quota_slot(q, user);
	if (*pp && (*pp)->count > 0) {
		gave = true;
		*count = --(*pp)->count;
		q->total--;
		*seq = ++q->seq;
		if ((*pp)->count == 0) {
			struct quota_entry *dead = *pp;
			*pp = dead->next;
			free(dead);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return gave;
}

unsigned quota_user_count(struct quota_table *q, const char *user, uint64_t *seq)
{
	pthread_mutex_lock(&q->lock);
	struct quota_entry **pp = quota_slot(q, user);
	unsigned n = *pp ? (*pp)->count : 0;
	*seq = ++q->seq;
	pthread_mutex_unlock(&q->lock);
	return n;
}

unsigned quota_total(struct quota_table *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned n = q->total;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void quota_set_draining(struct quota_table *q, bool on)
{
	pthread_mutex_lock(&q->lock);
	q->draining = on;
	pthread_mutex_unlock(&q->lock);
}

bool quota_draining(struct quota_table *q)
{
	pthread_mutex_lock(&q->lock);
	bool on = q->draining;
	pthread_mutex_unlock(&q->lock);
	return on;
}

unsigned quota_user_limit(struct quota_table *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned n = q->user_quota;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void quota_set_limits(struct quota_table *q, unsigned user_quota, unsigned total_quota)
{
	pthread_mutex_lock(&q->lock);
	q->user_quota = user_quota;
	q->total_quota = total_quota;
	pthread_mutex_unlock(&q->lock);
}

void quota_set_worker_bps(struct quota_table *q, unsigned worker, uint64_t bps)
{
	if (worker >= QUOTA_MAX_WORKERS)
		return;
	pthread_mutex_lock(&q->lock);
	q->worker_bps[worker] = bps;
	pthread_mutex_unlock(&q->lock);
}

void quota_foreach(struct quota_table *q, void (*fn)(void *, const char *, unsigned, uint64_t),
		   void *arg)
{
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n_buckets; i++)
		for (const struct quota_entry *e = q->users[i]; e; e = e->next)
			fn(arg, e->name, e->count, ++q->seq);
	pthread_mutex_unlock(&q->lock);
}
