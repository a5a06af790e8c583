/*
 * Connections per source and in total (conn_limit.h): a chained hash table
 * holding one entry per source that has a connection now, so its size is
 * bounded by the total cap, and an entry goes with its last connection.
 */
#include "util/conn_limit.h"

#include <stdlib.h>
#include <string.h>

/* Sources are few next to the total cap's thousands of connections; more
 * buckets only cost memory that an empty table does not need. */
#define CONN_LIMIT_BUCKETS 4096

struct conn_entry {
	struct turn_addr source;
	unsigned count;
	struct conn_entry *next;
};

struct conn_limit {
	uint32_t seed;
	unsigned total;
	size_t sources;
	struct conn_entry *buckets[CONN_LIMIT_BUCKETS];
};

struct conn_limit *conn_limit_new(uint32_t seed)
{
	struct conn_limit *t = calloc(1, sizeof(*t));

	if (t)
		t->seed = seed;
	return t;
}

void conn_limit_free(struct conn_limit *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < CONN_LIMIT_BUCKETS; i++) {
		while (t->buckets[i]) {
			struct conn_entry *e = t->buckets[i];
			t->buckets[i] = e->next;
			free(e);
		}
	}
	free(t);
}

/* The link that points to source's entry (or the NULL at its chain's end). */
static struct conn_entry **find(const struct conn_limit *t, const struct turn_addr *source)
{
	uint32_t h = turn_addr_hash(source, t->seed);
	struct conn_entry **p = (struct conn_entry **)&t->buckets[h % CONN_LIMIT_BUCKETS];

	while (*p && !turn_addr_eq(&(*p)->source, source))
		p = &(*p)->next;
	return p;
}

enum conn_limit_result conn_limit_take(struct conn_limit *t, const struct turn_addr *src,
				       unsigned per_source, unsigned total)
{
	struct turn_addr source = turn_addr_source(src);
	struct conn_entry **p = find(t, &source);

	if (total && t->total >= total)
		return CONN_LIMIT_TOTAL;
	if (*p && per_source && (*p)->count >= per_source)
		return CONN_LIMIT_PER_SOURCE;
	if (!*p) {
		struct conn_entry *e = calloc(1, sizeof(*e));
		if (!e)
			return CONN_LIMIT_NOMEM;
		e->source = source;
		*p = e;
		t->sources++;
	}
	(*p)->count++;
	t->total++;
	return CONN_LIMIT_OK;
}

void conn_limit_put(struct conn_limit *t, const struct turn_addr *src)
{
	struct turn_addr source = turn_addr_source(src);
	struct conn_entry **p = find(t, &source);
	struct conn_entry *e = *p;

	if (!e) /* never counted: nothing to give back */
		return;
	t->total--;
	if (--e->count == 0) {
		*p = e->next;
		t->sources--;
		free(e);
	}
}

unsigned conn_limit_count(const struct conn_limit *t, const struct turn_addr *src)
{
	struct turn_addr source = turn_addr_source(src);
	struct conn_entry *const *p = find(t, &source);

	return *p ? (*p)->count : 0;
}

unsigned conn_limit_total(const struct conn_limit *t)
{
	return t->total;
}

size_t conn_limit_sources(const struct conn_limit *t)
{
	return t->sources;
}
