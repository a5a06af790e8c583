/*
 * Token buckets in a fixed table (ratelimit.h). Each slot stores how much
 * it owes rather than how much it holds, so a zeroed slot is a full
 * bucket and the table needs no initialisation beyond calloc.
 */
#include "util/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define MILLI 1000u

int rate_table_init(struct rate_table *t, size_t n_slots, uint32_t seed)
{
	size_t n = 2;

	while (n < n_slots && n < ((size_t)1 << 30))
		n <<= 1;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots)
		return -1;
	t->mask = (uint32_t)(n - 1);
	t->seed = seed;
	return 0;
}

void rate_table_free(struct rate_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

static uint32_t source_slot(const struct rate_table *t, const struct turn_addr *src)
{
	struct turn_addr key = turn_addr_source(src);

	return turn_addr_hash(&key, t->seed) & t->mask;
}

bool rate_table_take(struct rate_table *t, const struct turn_addr *src,
		     const struct rate_limits *lim, uint64_t now_ms)
{
	if (lim->rate == 0 || !t->slots)
		return true;
	struct rate_slot *s = &t->slots[source_slot(t, src)];
	uint32_t now = (uint32_t)now_ms;
	/* rate tokens a second is rate thousandths a millisecond; the
	 * unsigned difference survives the wrap of the 32-bit stamp. */
	uint64_t refill = (uint64_t)(uint32_t)(now - s->stamp_ms) * lim->rate;
	uint32_t level = refill >= s->level ? 0 : s->level - (uint32_t)refill;

	s->stamp_ms = now;
	if ((uint64_t)level + MILLI > (uint64_t)lim->burst * MILLI) {
		s->level = level;
		return false;
	}
	s->level = level + MILLI;
	return true;
}
