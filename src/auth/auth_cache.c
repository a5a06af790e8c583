/* The Redis backend's answer cache; see auth_cache.h. */
#include "auth/auth_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

struct lru {
	struct auth_cache_entry *head, *tail;
	size_t n;
};

struct auth_cache {
	struct auth_cache_entry **buckets;
	size_t mask; /* buckets - 1, a power of two minus one */
	size_t max_found; /* AUTH_CACHE_USER and AUTH_CACHE_REST entries */
	size_t max_negative; /* AUTH_CACHE_NONE and AUTH_CACHE_BAD entries */
	struct lru found; /* AUTH_CACHE_USER and AUTH_CACHE_REST */
	struct lru negative; /* AUTH_CACHE_NONE and AUTH_CACHE_BAD */
	uint64_t k0, k1; /* SipHash key */
};

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) ---- */

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

static void sip_block(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

uint64_t auth_cache_hash(const struct auth_cache *c, const uint8_t *name, size_t len)
{
	uint64_t v[4] = {
		c->k0 ^ 0x736f6d6570736575ull,
		c->k1 ^ 0x646f72616e646f6dull,
		c->k0 ^ 0x6c7967656e657261ull,
		c->k1 ^ 0x7465646279746573ull,
	};
	uint64_t m = 0;
	size_t i;

	/* Little-endian 8-byte words; the last one carries the length in
	 * its top byte. */
	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (unsigned j = 0; j < 8; j++)
			m |= (uint64_t)name[i + j] << (8 * j);
		sip_block(v, m);
	}
	m = (uint64_t)(len & 0xff) << 56;
	for (unsigned j = 0; i + j < len; j++)
		m |= (uint64_t)name[i + j] << (8 * j);
	sip_block(v, m);
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- Lists and table ---- */

static bool negative_kind(enum auth_cache_kind kind)
{
	return kind == AUTH_CACHE_NONE || kind == AUTH_CACHE_BAD;
}

static struct lru *list_of(struct auth_cache *c, enum auth_cache_kind kind)
{
	return negative_kind(kind) ? &c->negative : &c->found;
}

static void lru_unlink(struct lru *l, struct auth_cache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		l->head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		l->tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
	l->n--;
}

static void lru_push(struct lru *l, struct auth_cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = l->head;
	if (l->head)
		l->head->lru_prev = e;
	else
		l->tail = e;
	l->head = e;
	l->n++;
}

static struct auth_cache_entry **bucket_of(const struct auth_cache *c, const uint8_t *name,
					   size_t len)
{
	return &c->buckets[auth_cache_hash(c, name, len) & c->mask];
}

static struct auth_cache_entry *lookup(const struct auth_cache *c, const uint8_t *name, size_t len)
{
	struct auth_cache_entry *e = *bucket_of(c, name, len);

	while (e && !(e->name_len == len && memcmp(e->name, name, len) == 0))
		e = e->hash_next;
	return e;
}

static void entry_drop(struct auth_cache *c, struct auth_cache_entry *e)
{
	struct auth_cache_entry **pp = bucket_of(c, e->name, e->name_len);

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	lru_unlink(list_of(c, e->kind), e);
	OPENSSL_cleanse(&e->key, sizeof(e->key));
	free(e);
}

/* Room for one more entry of kind, in its own share of the cache. */
static void make_room(struct auth_cache *c, enum auth_cache_kind kind)
{
	struct lru *l = list_of(c, kind);
	size_t max = negative_kind(kind) ? c->max_negative : c->max_found;

	while (l->n >= max)
		entry_drop(c, l->tail);
}

static void entry_set(struct auth_cache_entry *e, enum auth_cache_kind kind,
		      const struct auth_key *key, uint64_t fetched_s)
{
	e->kind = kind;
	e->fetched_s = fetched_s;
	if (kind == AUTH_CACHE_USER && key)
		e->key = *key;
	else
		OPENSSL_cleanse(&e->key, sizeof(e->key));
}

/* ---- Public ---- */

struct auth_cache *auth_cache_new(size_t max_entries)
{
	struct auth_cache *c;
	size_t buckets = 1;

	if (max_entries < 4 || max_entries > SIZE_MAX / 4)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* One bucket per entry at least: chains stay short. */
	while (buckets < max_entries)
		buckets <<= 1;
	c->buckets = calloc(buckets, sizeof(*c->buckets));
	c->mask = buckets - 1;
	c->max_negative = max_entries / 4;
	c->max_found = max_entries - c->max_negative;
	if (!c->buckets || RAND_bytes((unsigned char *)&c->k0, sizeof(c->k0)) != 1 ||
	    RAND_bytes((unsigned char *)&c->k1, sizeof(c->k1)) != 1) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	return c;
}

void auth_cache_free(struct auth_cache *c)
{
	if (!c)
		return;
	while (c->found.tail)
		entry_drop(c, c->found.tail);
	while (c->negative.tail)
		entry_drop(c, c->negative.tail);
	free(c->buckets);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

struct auth_cache_entry *auth_cache_find(struct auth_cache *c, const uint8_t *name, size_t len)
{
	struct auth_cache_entry *e = lookup(c, name, len);

	if (e) {
		struct lru *l = list_of(c, e->kind);

		lru_unlink(l, e);
		lru_push(l, e);
	}
	return e;
}

struct auth_cache_entry *auth_cache_put(struct auth_cache *c, const uint8_t *name, size_t len,
					enum auth_cache_kind kind, const struct auth_key *key,
					uint64_t fetched_s)
{
	struct auth_cache_entry *e = lookup(c, name, len);
	struct auth_cache_entry **bucket;

	if (e) {
		/* Out of its list first, so make_room cannot pick it. */
		lru_unlink(list_of(c, e->kind), e);
		make_room(c, kind);
		entry_set(e, kind, key, fetched_s);
		lru_push(list_of(c, kind), e);
		return e;
	}
	if (len == 0 || len > SIZE_MAX - sizeof(*e))
		return NULL;
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		return NULL;
	make_room(c, kind);
	memcpy(e->name, name, len);
	e->name_len = len;
	entry_set(e, kind, key, fetched_s);
	bucket = bucket_of(c, name, len);
	e->hash_next = *bucket;
	*bucket = e;
	lru_push(list_of(c, kind), e);
	return e;
}

size_t auth_cache_count(const struct auth_cache *c, size_t *negative)
{
	if (negative)
		*negative = c ? c->negative.n : 0;
	return c ? c->found.n + c->negative.n : 0;
}
