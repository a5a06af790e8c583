/* Allocation table, timer wheel, permissions and channels. */
#include "turn/alloc.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_MIN_BUCKETS 64

static uint32_t tuple_hash(const struct turn_tuple *t, uint32_t seed)
{
	uint32_t h = turn_addr_hash(&t->client, seed);

	h = turn_addr_hash(&t->local, h);
	return (h ^ t->transport) * 16777619u;
}

static bool tuple_eq(const struct turn_tuple *a, const struct turn_tuple *b)
{
	return a->transport == b->transport && turn_addr_eq(&a->client, &b->client) &&
	       turn_addr_eq(&a->local, &b->local);
}

int turn_alloc_table_init(struct turn_alloc_table *t, uint32_t seed)
{
	memset(t, 0, sizeof(*t));
	t->n_buckets = TABLE_MIN_BUCKETS;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	t->seed = seed;
	return t->buckets ? 0 : -1;
}

static void wheel_unlink(struct turn_alloc_table *t, struct turn_alloc *a)
{
	if (a->wheel_prev)
		a->wheel_prev->wheel_next = a->wheel_next;
	else if (t->wheel[a->wheel_slot] == a)
		t->wheel[a->wheel_slot] = a->wheel_next;
	if (a->wheel_next)
		a->wheel_next->wheel_prev = a->wheel_prev;
	a->wheel_next = a->wheel_prev = NULL;
}

static void wheel_link(struct turn_alloc_table *t, struct turn_alloc *a)
{
	uint32_t slot = a->expires % TURN_WHEEL_SLOTS;

	a->wheel_slot = slot;
	a->wheel_prev = NULL;
	a->wheel_next = t->wheel[slot];
	if (a->wheel_next)
		a->wheel_next->wheel_prev = a;
	t->wheel[slot] = a;
}

/* Double the buckets when the load passes 1, so lookups stay O(1). */
static void table_grow(struct turn_alloc_table *t)
{
	size_t n = t->n_buckets * 2;
	struct turn_alloc **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct turn_alloc *a = t->buckets[i];
		while (a) {
			struct turn_alloc *next = a->hash_next;
			size_t b = tuple_hash(&a->tuple, t->seed) & (n - 1);
			a->hash_next = nb[b];
			nb[b] = a;
			a = next;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->n_buckets = n;
}

struct turn_alloc *turn_alloc_find(const struct turn_alloc_table *t, const struct turn_tuple *tuple)
{
	size_t b = tuple_hash(tuple, t->seed) & (t->n_buckets - 1);

	for (struct turn_alloc *a = t->buckets[b]; a; a = a->hash_next)
		if (!a->dead && tuple_eq(&a->tuple, tuple))
			return a;
	return NULL;
}

struct turn_alloc *turn_alloc_new(struct turn_alloc_table *t, const struct turn_tuple *tuple,
				  const char *username)
{
	struct turn_alloc *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->username = strdup(username ? username : "");
	if (!a->username) {
		free(a);
		return NULL;
	}
	a->tuple = *tuple;
	a->id = ++t->next_id;
	if (t->count >= t->n_buckets)
		table_grow(t);
	size_t b = tuple_hash(tuple, t->seed) & (t->n_buckets - 1);
	a->hash_next = t->buckets[b];
	t->buckets[b] = a;
	a->wheel_slot = UINT32_MAX; /* not in the wheel yet */
	t->count++;
	return a;
}

void turn_alloc_set_expiry(struct turn_alloc_table *t, struct turn_alloc *a, uint32_t expires)
{
	if (a->wheel_slot != UINT32_MAX)
		wheel_unlink(t, a);
	a->expires = expires;
	wheel_link(t, a);
}

void turn_alloc_free(struct turn_alloc_table *t, struct turn_alloc *a)
{
	size_t b = tuple_hash(&a->tuple, t->seed) & (t->n_buckets - 1);

	for (struct turn_alloc **pp = &t->buckets[b]; *pp; pp = &(*pp)->hash_next) {
		if (*pp == a) {
			*pp = a->hash_next;
			t->count--;
			break;
		}
	}
	if (a->wheel_slot != UINT32_MAX)
		wheel_unlink(t, a);
	free(a->perms);
	free(a->channels);
	free(a->tcp_conns);
	free(a->username);
	free(a);
}

void turn_alloc_table_advance(struct turn_alloc_table *t, uint32_t now,
			      void (*expire)(void *, struct turn_alloc *), void *arg)
{
	/* After a long pause, one full turn of the wheel covers every slot. */
	if (now - t->wheel_now > TURN_WHEEL_SLOTS)
		t->wheel_now = now - TURN_WHEEL_SLOTS;
	while (t->wheel_now != now) {
		t->wheel_now++;
		uint32_t slot = t->wheel_now % TURN_WHEEL_SLOTS;
		struct turn_alloc *a = t->wheel[slot], *next;
		for (; a; a = next) {
			next = a->wheel_next;
			if (a->expires <= now)
				expire(arg, a);
		}
	}
}

void turn_alloc_table_fini(struct turn_alloc_table *t, void (*release)(void *, struct turn_alloc *),
			   void *arg)
{
	for (size_t i = 0; t->buckets && i < t->n_buckets; i++) {
		while (t->buckets[i]) {
			struct turn_alloc *a = t->buckets[i];
			if (release)
				release(arg, a);
			turn_alloc_free(t, a);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
}

static bool perm_matches(const struct turn_perm *p, const struct turn_addr *peer)
{
	return p->family == peer->family && memcmp(p->ip, peer->ip, turn_addr_iplen(peer)) == 0;
}

bool turn_perm_valid(const struct turn_alloc *a, const struct turn_addr *peer, uint32_t now)
{
	for (uint16_t i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires > now && perm_matches(&a->perms[i], peer))
			return true;
	return false;
}

uint32_t turn_perm_expires(const struct turn_alloc *a, const struct turn_addr *peer)
{
	for (uint16_t i = 0; i < a->n_perms; i++)
		if (perm_matches(&a->perms[i], peer))
			return a->perms[i].expires;
	return 0;
}

size_t turn_perm_count(const struct turn_alloc *a, uint32_t now)
{
	size_t n = 0;

	for (uint16_t i = 0; i < a->n_perms; i++)
		n += a->perms[i].expires > now;
	return n;
}

/* Grow an array of `size`-byte items to hold one more. */
static int grow(void **items, uint16_t *cap, uint16_t n, size_t size)
{
	if (n < *cap)
		return 0;
	if (*cap >= UINT16_MAX / 2)
		return -1;
	uint16_t ncap = *cap ? (uint16_t)(*cap * 2) : 2;
	void *p = realloc(*items, ncap * size);
	if (!p)
		return -1;
	*items = p;
	*cap = ncap;
	return 0;
}

/* Where peer's permission goes: its own entry (*found), an expired one,
 * or a new one at the end, the array grown for it; NULL when max
 * permissions are in use or out of memory. Changes nothing the client
 * can see, so a request may check before it commits. */
static struct turn_perm *perm_slot(struct turn_alloc *a, const struct turn_addr *peer,
				   uint32_t now, unsigned max, bool *found)
{
	struct turn_perm *slot = NULL;

	*found = false;
	for (uint16_t i = 0; i < a->n_perms; i++) {
		if (perm_matches(&a->perms[i], peer)) {
			*found = true;
			return &a->perms[i];
		}
		if (!slot && a->perms[i].expires <= now)
			slot = &a->perms[i];
	}
	if (max && turn_perm_count(a, now) >= max)
		return NULL;
	if (!slot) {
		if (grow((void **)&a->perms, &a->cap_perms, a->n_perms, sizeof(*a->perms)) < 0)
			return NULL;
		slot = &a->perms[a->n_perms];
	}
	return slot;
}

int turn_perm_reserve(struct turn_alloc *a, const struct turn_addr *peer, uint32_t now,
		      unsigned max)
{
	bool found;

	return perm_slot(a, peer, now, max, &found) ? 0 : -1;
}

int turn_perm_install(struct turn_alloc *a, const struct turn_addr *peer, uint32_t now,
		      unsigned max)
{
	bool found;
	struct turn_perm *slot = perm_slot(a, peer, now, max, &found);

	if (!slot)
		return -1;
	if (found) {
		slot->expires = now + TURN_PERMISSION_LIFETIME;
		return 0;
	}
	if (slot == &a->perms[a->n_perms])
		a->n_perms++;
	slot->family = peer->family;
	memcpy(slot->ip, peer->ip, sizeof(slot->ip));
	slot->expires = now + TURN_PERMISSION_LIFETIME;
	return 0;
}

const struct turn_channel *turn_channel_by_number(const struct turn_alloc *a, uint16_t number,
						  uint32_t now)
{
	for (uint16_t i = 0; i < a->n_channels; i++)
		if (a->channels[i].number == number && a->channels[i].expires > now)
			return &a->channels[i];
	return NULL;
}

const struct turn_channel *turn_channel_by_peer(const struct turn_alloc *a,
						const struct turn_addr *peer, uint32_t now)
{
	for (uint16_t i = 0; i < a->n_channels; i++)
		if (a->channels[i].expires > now && turn_addr_eq(&a->channels[i].peer, peer))
			return &a->channels[i];
	return NULL;
}

size_t turn_channel_count(const struct turn_alloc *a, uint32_t now)
{
	size_t n = 0;

	for (uint16_t i = 0; i < a->n_channels; i++)
		n += a->channels[i].expires > now;
	return n;
}

struct turn_channel *turn_channel_slot(struct turn_alloc *a, uint16_t number)
{
	for (uint16_t i = 0; i < a->n_channels; i++)
		if (a->channels[i].number == number)
			return &a->channels[i];
	return NULL;
}

int turn_channel_bind(struct turn_alloc *a, uint16_t number, const struct turn_addr *peer,
		      uint32_t now, unsigned max)
{
	struct turn_channel *slot = NULL;

	for (uint16_t i = 0; i < a->n_channels; i++) {
		struct turn_channel *c = &a->channels[i];
		bool reserved = c->expires + TURN_CHANNEL_QUIET > now;
		bool same_number = c->number == number, same_peer = turn_addr_eq(&c->peer, peer);
		if (same_number && same_peer) {
			/* A refresh; but once the binding has expired (its
			 * number still reserved, RFC 8656 section 12) this binds
			 * it again, and it counts against max like a new one. */
			if (c->expires <= now && max && turn_channel_count(a, now) >= max)
				return TURN_ERR_INSUFFICIENT_CAPACITY;
			c->expires = now + TURN_CHANNEL_LIFETIME;
			return 0;
		}
		if (reserved && (same_number || same_peer))
			return STUN_ERR_BAD_REQUEST; /* RFC 8656 section 11.2 */
		if (!slot && !reserved)
			slot = c;
	}
	if (max && turn_channel_count(a, now) >= max)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	if (!slot) {
		if (grow((void **)&a->channels, &a->cap_channels, a->n_channels,
			 sizeof(*a->channels)) < 0)
			return TURN_ERR_INSUFFICIENT_CAPACITY;
		slot = &a->channels[a->n_channels++];
	}
	slot->number = number;
	slot->recheck = false;
	slot->peer = *peer;
	slot->expires = now + TURN_CHANNEL_LIFETIME;
	return 0;
}

void turn_alloc_prune(struct turn_alloc *a, uint32_t now)
{
	uint16_t n = 0;

	for (uint16_t i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires > now)
			a->perms[n++] = a->perms[i];
	a->n_perms = n;
	n = 0;
	for (uint16_t i = 0; i < a->n_channels; i++)
		if (a->channels[i].expires + TURN_CHANNEL_QUIET > now)
			a->channels[n++] = a->channels[i];
	a->n_channels = n;
}
