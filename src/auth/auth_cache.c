/* The Redis backend's answer cache, shared by the workers; see auth_cache.h. */
#include "auth/auth_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Entries per shard at least, before a cache is split further. */
#define SHARD_MIN_ENTRIES 64

struct entry {
	struct entry *hash_next;
	struct entry *lru_prev, *lru_next; /* most recently used first */
	struct auth_cache_answer a;
	size_t name_len;
	uint8_t name[]; /* not NUL-terminated */
};

struct lru {
	struct entry *head, *tail;
	size_t n, max;
};

enum share { SHARE_CONFIRMED, SHARE_PROBATION, SHARE_NEGATIVE, N_SHARES };

struct shard {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t mask; /* buckets - 1, a power of two minus one */
	struct lru share[N_SHARES];
};

struct auth_cache {
	atomic_uint refs;
	/* auth_cache_hold: the pause's end (UNIX seconds) and length. */
	_Atomic uint64_t hold_until_s;
	atomic_uint hold_s;
	uint64_t k0, k1; /* SipHash key; never changes */
	size_t n_shards; /* a power of two */
	struct shard *shards;
	pthread_rwlock_t secrets_lock;
	struct auth_rest rest; /* realm unset: the caller passes it */
	char *secrets[AUTH_MAX_KEYS];
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

/* ---- Lists and table (the shard's lock held) ---- */

static enum share share_of(const struct auth_cache_answer *a)
{
	if (a->kind == AUTH_CACHE_NONE || a->kind == AUTH_CACHE_BAD)
		return SHARE_NEGATIVE;
	return a->confirmed ? SHARE_CONFIRMED : SHARE_PROBATION;
}

static void lru_unlink(struct lru *l, struct entry *e)
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

static void lru_push(struct lru *l, struct entry *e)
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

/* The shard from the hash's top bits, the bucket from its low bits. */
static struct shard *shard_of(const struct auth_cache *c, uint64_t h)
{
	return &c->shards[(h >> 48) & (c->n_shards - 1)];
}

static struct entry **bucket_of(struct shard *s, uint64_t h)
{
	return &s->buckets[h & s->mask];
}

static struct entry *lookup(struct shard *s, uint64_t h, const uint8_t *name, size_t len)
{
	struct entry *e = *bucket_of(s, h);

	while (e && !(e->name_len == len && memcmp(e->name, name, len) == 0))
		e = e->hash_next;
	return e;
}

static void entry_drop(const struct auth_cache *c, struct shard *s, struct entry *e)
{
	struct entry **pp = bucket_of(s, auth_cache_hash(c, e->name, e->name_len));

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	lru_unlink(&s->share[share_of(&e->a)], e);
	OPENSSL_cleanse(&e->a.key, sizeof(e->a.key));
	free(e);
}

/* Room for one more entry in share sh. */
static void make_room(const struct auth_cache *c, struct shard *s, enum share sh)
{
	struct lru *l = &s->share[sh];

	while (l->n >= l->max)
		entry_drop(c, s, l->tail);
}

static void answer_set(struct auth_cache_answer *a, const struct auth_cache_answer *in)
{
	bool user = in->kind == AUTH_CACHE_USER;
	bool keep = a->confirmed && a->kind == in->kind &&
		    (in->kind == AUTH_CACHE_REST ||
		     (user && CRYPTO_memcmp(&a->key, &in->key, sizeof(in->key)) == 0 &&
		      memcmp(&a->limits, &in->limits, sizeof(in->limits)) == 0));

	/* A refresh of a confirmed answer that did not change stays
	 * confirmed; anything else must verify a request again. */
	a->confirmed = keep;
	a->kind = in->kind;
	a->fetched_s = in->fetched_s;
	if (user) {
		a->key = in->key;
		a->limits = in->limits;
	} else {
		OPENSSL_cleanse(&a->key, sizeof(a->key));
		memset(&a->limits, 0, sizeof(a->limits));
	}
}

/* ---- Making and freeing ---- */

static size_t shard_count(size_t max_entries)
{
	size_t n = 1;

	while (n < AUTH_CACHE_SHARDS_MAX && max_entries / (2 * n) >= SHARD_MIN_ENTRIES)
		n <<= 1;
	return n;
}

/* Shares of max entries: a quarter negative, a quarter probation, the
 * rest confirmed (each at least 1). */
static int shard_init(struct shard *s, size_t max)
{
	size_t buckets = 1;

	while (buckets < max)
		buckets <<= 1;
	s->buckets = calloc(buckets, sizeof(*s->buckets));
	if (!s->buckets)
		return -1;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->buckets);
		s->buckets = NULL;
		return -1;
	}
	s->mask = buckets - 1;
	s->share[SHARE_NEGATIVE].max = max / 4;
	s->share[SHARE_PROBATION].max = max / 4;
	s->share[SHARE_CONFIRMED].max = max - 2 * (max / 4);
	return 0;
}

static void shard_fini(const struct auth_cache *c, struct shard *s)
{
	if (!s->buckets)
		return;
	for (int i = 0; i < N_SHARES; i++)
		while (s->share[i].tail)
			entry_drop(c, s, s->share[i].tail);
	free(s->buckets);
	pthread_mutex_destroy(&s->lock);
}

static void secrets_clear(struct auth_cache *c)
{
	for (size_t i = 0; i < c->rest.n; i++) {
		OPENSSL_cleanse(c->secrets[i], c->rest.secret_len[i]);
		free(c->secrets[i]);
		c->secrets[i] = NULL;
	}
	c->rest.n = 0;
}

static void cache_destroy(struct auth_cache *c)
{
	for (size_t i = 0; c->shards && i < c->n_shards; i++)
		shard_fini(c, &c->shards[i]);
	free(c->shards);
	secrets_clear(c);
	pthread_rwlock_destroy(&c->secrets_lock);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

struct auth_cache *auth_cache_new(size_t max_entries)
{
	struct auth_cache *c;

	if (max_entries < 4 || max_entries > SIZE_MAX / 4)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (pthread_rwlock_init(&c->secrets_lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	c->n_shards = shard_count(max_entries);
	c->shards = calloc(c->n_shards, sizeof(*c->shards));
	if (!c->shards || RAND_bytes((unsigned char *)&c->k0, sizeof(c->k0)) != 1 ||
	    RAND_bytes((unsigned char *)&c->k1, sizeof(c->k1)) != 1) {
		cache_destroy(c);
		return NULL;
	}
	for (size_t i = 0; i < c->n_shards; i++)
		if (shard_init(&c->shards[i], max_entries / c->n_shards) < 0) {
			cache_destroy(c);
			return NULL;
		}
	return c;
}

struct auth_cache *auth_cache_ref(struct auth_cache *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void auth_cache_free(struct auth_cache *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		cache_destroy(c);
}

/* ---- Entries ---- */

bool auth_cache_get(struct auth_cache *c, const uint8_t *name, size_t len,
		    struct auth_cache_answer *out)
{
	uint64_t h = auth_cache_hash(c, name, len);
	struct shard *s = shard_of(c, h);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = lookup(s, h, name, len);
	if (e) {
		struct lru *l = &s->share[share_of(&e->a)];

		lru_unlink(l, e);
		lru_push(l, e);
		*out = e->a;
	}
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

int auth_cache_store(struct auth_cache *c, const uint8_t *name, size_t len,
		     const struct auth_cache_answer *a)
{
	uint64_t h = auth_cache_hash(c, name, len);
	struct shard *s = shard_of(c, h);
	struct entry *e, **bucket;

	if (len == 0 || len > SIZE_MAX - sizeof(*e))
		return -1;
	pthread_mutex_lock(&s->lock);
	e = lookup(s, h, name, len);
	if (e) {
		/* Out of its list first, so make_room cannot pick it. */
		lru_unlink(&s->share[share_of(&e->a)], e);
		answer_set(&e->a, a);
		make_room(c, s, share_of(&e->a));
		lru_push(&s->share[share_of(&e->a)], e);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	e = calloc(1, sizeof(*e) + len);
	if (!e) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	memcpy(e->name, name, len);
	e->name_len = len;
	answer_set(&e->a, a);
	make_room(c, s, share_of(&e->a));
	bucket = bucket_of(s, h);
	e->hash_next = *bucket;
	*bucket = e;
	lru_push(&s->share[share_of(&e->a)], e);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int auth_cache_put(struct auth_cache *c, const uint8_t *name, size_t len,
		   enum auth_cache_kind kind, const struct auth_key *key, uint64_t fetched_s)
{
	struct auth_cache_answer a = { .kind = kind, .fetched_s = fetched_s };
	int rc;

	if (kind == AUTH_CACHE_USER && key)
		a.key = *key;
	rc = auth_cache_store(c, name, len, &a);
	OPENSSL_cleanse(&a, sizeof(a));
	return rc;
}

bool auth_cache_confirm(struct auth_cache *c, const uint8_t *name, size_t len)
{
	uint64_t h = auth_cache_hash(c, name, len);
	struct shard *s = shard_of(c, h);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = lookup(s, h, name, len);
	if (e && share_of(&e->a) == SHARE_PROBATION) {
		lru_unlink(&s->share[SHARE_PROBATION], e);
		e->a.confirmed = true;
		make_room(c, s, SHARE_CONFIRMED);
		lru_push(&s->share[SHARE_CONFIRMED], e);
	}
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

/* The sum of the shares' counts, each shard under its lock. */
static size_t count_shares(const struct auth_cache *c, unsigned mask)
{
	size_t n = 0;

	for (size_t i = 0; c && i < c->n_shards; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		for (int k = 0; k < N_SHARES; k++)
			if (mask & (1u << k))
				n += s->share[k].n;
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

size_t auth_cache_count(const struct auth_cache *c, size_t *negative)
{
	if (negative)
		*negative = count_shares(c, 1u << SHARE_NEGATIVE);
	return count_shares(c, (1u << N_SHARES) - 1);
}

size_t auth_cache_confirmed(const struct auth_cache *c)
{
	return count_shares(c, 1u << SHARE_CONFIRMED);
}

/* ---- The TURN REST secrets ---- */

int auth_cache_set_secrets(struct auth_cache *c, const char *const *secrets, const size_t *lens,
			   size_t n)
{
	int rc = 0;

	if (n > AUTH_MAX_KEYS)
		return -1;
	pthread_rwlock_wrlock(&c->secrets_lock);
	secrets_clear(c);
	for (size_t i = 0; i < n; i++) {
		c->secrets[i] = malloc(lens[i] ? lens[i] : 1);
		if (!c->secrets[i]) {
			secrets_clear(c);
			rc = -1;
			break;
		}
		memcpy(c->secrets[i], secrets[i], lens[i]);
		c->rest.secrets[i] = c->secrets[i];
		c->rest.secret_len[i] = lens[i];
		c->rest.n++;
	}
	pthread_rwlock_unlock(&c->secrets_lock);
	return rc;
}

size_t auth_cache_secrets(struct auth_cache *c)
{
	size_t n;

	pthread_rwlock_rdlock(&c->secrets_lock);
	n = c->rest.n;
	pthread_rwlock_unlock(&c->secrets_lock);
	return n;
}

void auth_cache_answer_fill(const struct auth_cache_answer *e, const struct auth_query *q,
			    struct auth_credential *out)
{
	memcpy(out->username, q->username, q->len);
	out->username[q->len] = '\0';
	out->username_len = q->len;
	out->expires_s = 0;
	out->n_keys = 1;
	out->keys[0] = e->key;
	out->limits = e->limits;
	out->unconfirmed = !e->confirmed;
}

int auth_cache_rest_lookup(struct auth_cache *c, const char *realm, const struct auth_query *q,
			   struct auth_credential *out)
{
	struct auth_rest rest;
	int rc;

	/* Derived under the read lock: the views stay valid meanwhile, and
	 * workers only ever wait for a writer (a new SMEMBERS answer). */
	pthread_rwlock_rdlock(&c->secrets_lock);
	rest = c->rest;
	rest.realm = realm;
	rc = auth_rest_lookup(&rest, q, out);
	pthread_rwlock_unlock(&c->secrets_lock);
	OPENSSL_cleanse(&rest, sizeof(rest));
	return rc;
}

bool auth_cache_held(const struct auth_cache *c, uint64_t now_s)
{
	return now_s < atomic_load((_Atomic uint64_t *)&c->hold_until_s);
}

unsigned auth_cache_hold(struct auth_cache *c, uint64_t now_s, unsigned min_s, unsigned max_s)
{
	uint64_t until = atomic_load(&c->hold_until_s);
	unsigned len;

	do {
		if (now_s < until)
			return 0; /* another worker started this one */
		len = atomic_load(&c->hold_s);
		len = len ? 2 * len : min_s;
		if (len > max_s)
			len = max_s;
	} while (!atomic_compare_exchange_weak(&c->hold_until_s, &until, now_s + len));
	atomic_store(&c->hold_s, len);
	return len;
}

bool auth_cache_release(struct auth_cache *c)
{
	atomic_store(&c->hold_until_s, 0);
	return atomic_exchange(&c->hold_s, 0) != 0;
}
