/*
 * The kernel fast path's entries, kept by each worker (offload_sync.h,
 * docs/OFFLOAD.md). User space stays the authority: an entry exists only
 * while the core would relay the same datagram itself, and carries the
 * moment that stops being true, so that the kernel never outlives what
 * user space allows even between two calls here.
 */
#include "daemon/offload_sync.h"

#include <stdlib.h>
#include <string.h>

#include "net/relay.h"
#include "turn/alloc.h"
#include "turn/server.h"

#define NS_PER_S 1000000000ull
#define SYNC_MIN_BUCKETS 64

struct offload_rec {
	struct offload_rec *next;
	const struct turn_alloc *a;
	uint32_t id;
	uint64_t rate;               /* the kernel's bucket, 0: none */
	struct offload_count folded; /* what was handed to the core so far */
	struct offload_chan *chans;  /* installed */
	size_t n, cap;
	bool unread; /* entries went since the last read: traffic may be left */
};

/* ---- net/offload.h behind the table ---- */

static uint32_t kernel_new_id(void *ctx)
{
	return offload_new_id(ctx);
}

static int kernel_put(void *ctx, const struct offload_chan *c)
{
	return offload_put(ctx, c);
}

static void kernel_del(void *ctx, const struct offload_chan *c)
{
	offload_del(ctx, c);
}

static int kernel_bucket_set(void *ctx, uint32_t id, uint64_t rate)
{
	return offload_bucket_set(ctx, id, rate);
}

static int kernel_traffic_read(void *ctx, uint32_t id, struct offload_count *c)
{
	return offload_traffic_read(ctx, id, c);
}

static void kernel_alloc_forget(void *ctx, uint32_t id)
{
	offload_alloc_forget(ctx, id);
}

const struct offload_sync_ops offload_sync_kernel = {
	kernel_new_id, kernel_put, kernel_del, kernel_bucket_set, kernel_traffic_read,
	kernel_alloc_forget,
};

/* ---- records by allocation ---- */

void offload_sync_init(struct offload_sync *s, const struct offload_sync_ops *ops, void *ctx)
{
	*s = (struct offload_sync){ 0 };
	s->ops = ops;
	s->ctx = ctx;
}

void offload_sync_fini(struct offload_sync *s)
{
	for (size_t i = 0; i < s->n_buckets; i++)
		for (struct offload_rec *r = s->buckets[i], *next; r; r = next) {
			next = r->next;
			free(r->chans);
			free(r);
		}
	free(s->buckets);
	*s = (struct offload_sync){ 0 };
}

static size_t rec_hash(const struct offload_sync *s, const struct turn_alloc *a)
{
	uint64_t h = (uint64_t)(uintptr_t)a * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (s->n_buckets - 1);
}

static struct offload_rec *rec_find(const struct offload_sync *s, const struct turn_alloc *a)
{
	if (!s->n_buckets)
		return NULL;
	for (struct offload_rec *r = s->buckets[rec_hash(s, a)]; r; r = r->next)
		if (r->a == a)
			return r;
	return NULL;
}

/* Twice the buckets once there are as many records: chains stay short. */
static int rec_grow(struct offload_sync *s)
{
	size_t n = s->n_buckets ? 2 * s->n_buckets : SYNC_MIN_BUCKETS;
	struct offload_rec **b = calloc(n, sizeof(*b));
	struct offload_sync old = *s;

	if (!b)
		return s->n_buckets ? 0 : -1; /* a longer chain still works */
	s->buckets = b;
	s->n_buckets = n;
	for (size_t i = 0; i < old.n_buckets; i++)
		for (struct offload_rec *r = old.buckets[i], *next; r; r = next) {
			next = r->next;
			size_t h = rec_hash(s, r->a);
			r->next = b[h];
			b[h] = r;
		}
	free(old.buckets);
	return 0;
}

static struct offload_rec *rec_new(struct offload_sync *s, const struct turn_alloc *a)
{
	struct offload_rec *r;
	uint32_t id;

	if ((s->count >= s->n_buckets && rec_grow(s) < 0) || !(id = s->ops->new_id(s->ctx)) ||
	    !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->a = a;
	r->id = id;
	size_t h = rec_hash(s, a);
	r->next = s->buckets[h];
	s->buckets[h] = r;
	s->count++;
	return r;
}

static void rec_free(struct offload_sync *s, struct offload_rec *rec)
{
	struct offload_rec **p = &s->buckets[rec_hash(s, rec->a)];

	while (*p != rec)
		p = &(*p)->next;
	*p = rec->next;
	s->count--;
	free(rec->chans);
	free(rec);
}

/* ---- the entries ---- */

/* Whether the kernel may relay for a at all (docs/OFFLOAD.md): a plain UDP
 * client; TCP, TLS and DTLS clients stay in user space. */
static bool alloc_eligible(const struct turn_alloc *a)
{
	if (a->tuple.transport != TURN_TRANSPORT_UDP || a->tcp)
		return false;
	for (int i = 0; i < 2; i++)
		if (a->relay[i].io)
			return relay_client_plain_udp(a->relay[i].io);
	return false;
}

/* a's user has a budget with a rate (user-max-bps, or the user's own from
 * the HTTP hook): shared with user space, which the kernel cannot draw
 * from, so a stays in user space as under now->capped. */
static bool alloc_user_capped(const struct turn_alloc *a)
{
	return a->user_bw && bw_share_rate(a->user_bw) != 0;
}

static uint32_t min_u32(uint32_t x, uint32_t y)
{
	return x < y ? x : y;
}

/*
 * The entries user space would relay as the kernel does: a channel bound
 * now (turn_channel_by_number: expires > now), not one the policy asks
 * about for every packet (recheck: a hairpin peer), to a peer of the
 * client's family that has a relay. Client to peer holds while the
 * channel and the allocation do; peer to client also needs the
 * permission for the peer's IP (RFC 8656 sections 9, 12). Returns the
 * array (the caller frees it) or NULL with *n 0.
 */
static struct offload_chan *want_build(const struct offload_rec *rec, const struct turn_alloc *a,
				       uint32_t now, bool bucket, size_t *n)
{
	struct offload_chan *want = a->n_channels ? calloc(a->n_channels, sizeof(*want)) : NULL;

	*n = 0;
	for (uint16_t i = 0; want && i < a->n_channels; i++) {
		const struct turn_channel *ch = &a->channels[i];
		const struct turn_relay *relay = a->relay[ch->peer.family == TURN_AF_INET6 ? 1 : 0].io;
		if (ch->expires <= now || ch->recheck || !relay ||
		    ch->peer.family != a->tuple.client.family)
			continue;
		uint32_t to_peer = min_u32(ch->expires, a->expires);
		uint32_t to_client = min_u32(to_peer, turn_perm_expires(a, &ch->peer));
		struct offload_chan *c = &want[(*n)++];
		*c = (struct offload_chan){
			.client = a->tuple.client, .listen = a->tuple.local, .peer = ch->peer,
			.channel = ch->number, .alloc_id = rec->id,
			.to_peer_expires_ns = to_peer * NS_PER_S,
			.to_client_expires_ns = to_client * NS_PER_S, .bucket = bucket,
		};
		relay_bound_addr(relay, &c->relay);
	}
	return want;
}

/* The same entry (channel and peer: the kernel's keys). */
static bool chan_key_eq(const struct offload_chan *x, const struct offload_chan *y)
{
	return x->channel == y->channel && turn_addr_eq(&x->peer, &y->peer);
}

static bool chan_same(const struct offload_chan *x, const struct offload_chan *y)
{
	return chan_key_eq(x, y) && turn_addr_eq(&x->relay, &y->relay) &&
	       x->to_peer_expires_ns == y->to_peer_expires_ns &&
	       x->to_client_expires_ns == y->to_client_expires_ns && x->bucket == y->bucket;
}

/* The index of c's entry in v, or -1. */
static long chan_index(const struct offload_chan *v, size_t n, const struct offload_chan *c)
{
	for (size_t i = 0; i < n; i++)
		if (chan_key_eq(&v[i], c))
			return (long)i;
	return -1;
}

/* Remove installed entry i from the kernel and the record. */
static void chan_remove(struct offload_sync *s, struct offload_rec *rec, size_t i)
{
	s->ops->del(s->ctx, &rec->chans[i]);
	rec->chans[i] = rec->chans[--rec->n];
	rec->unread = true;
	s->entries--;
}

static int chan_append(struct offload_rec *rec, const struct offload_chan *c)
{
	if (rec->n == rec->cap) {
		size_t cap = rec->cap ? 2 * rec->cap : 4;
		struct offload_chan *v = realloc(rec->chans, cap * sizeof(*v));
		if (!v)
			return -1;
		rec->chans = v;
		rec->cap = cap;
	}
	rec->chans[rec->n++] = *c;
	return 0;
}

/* Install one wanted entry, or update it. A put that fails leaves it in
 * user space (counted there): an older version of it must not stay. */
static void chan_install(struct offload_sync *s, struct offload_rec *rec,
			 const struct offload_chan *c)
{
	long have = chan_index(rec->chans, rec->n, c);

	if (have >= 0 && chan_same(&rec->chans[have], c))
		return;
	if (s->ops->put(s->ctx, c) < 0) {
		if (have >= 0)
			chan_remove(s, rec, (size_t)have);
		return;
	}
	if (have >= 0) {
		rec->chans[have] = *c;
	} else if (chan_append(rec, c) < 0) {
		s->ops->del(s->ctx, c); /* unrecorded, it could never be removed */
	} else {
		s->entries++;
	}
}

/* Make the kernel's entries for rec exactly want (n of them). */
static void chans_apply(struct offload_sync *s, struct offload_rec *rec,
			const struct offload_chan *want, size_t n)
{
	for (size_t i = 0; i < rec->n;)
		if (chan_index(want, n, &rec->chans[i]) < 0)
			chan_remove(s, rec, i);
		else
			i++;
	for (size_t i = 0; i < n; i++)
		chan_install(s, rec, &want[i]);
}

/* What the kernel relayed since the last fold, into *t; rec->folded moves on. */
static void traffic_delta(struct offload_sync *s, struct offload_rec *rec, struct turn_traffic *t)
{
	struct offload_count now, *f = &rec->folded;

	*t = (struct turn_traffic){ 0 };
	rec->unread = false;
	if (s->ops->traffic_read(s->ctx, rec->id, &now) < 0)
		return;
	/* A counter made again (it was missing) starts from 0. */
	if (now.pkts_to_peer < f->pkts_to_peer || now.pkts_to_client < f->pkts_to_client ||
	    now.bytes_to_peer < f->bytes_to_peer || now.bytes_to_client < f->bytes_to_client ||
	    now.bw_drops < f->bw_drops)
		*f = (struct offload_count){ 0 };
	*t = (struct turn_traffic){
		now.pkts_to_peer - f->pkts_to_peer, now.bytes_to_peer - f->bytes_to_peer,
		now.pkts_to_client - f->pkts_to_client, now.bytes_to_client - f->bytes_to_client,
		now.bw_drops - f->bw_drops,
	};
	*f = now;
}

/* The kernel's bucket at rate before entries name it. Returns -1 when the
 * allocation has a cap the kernel cannot hold: then it stays in user
 * space, whose bucket enforces it. */
static int bucket_sync(struct offload_sync *s, struct offload_rec *rec, uint64_t rate)
{
	if (rate == rec->rate)
		return 0;
	if (rate && s->ops->bucket_set(s->ctx, rec->id, rate) < 0)
		return -1;
	if (rate)
		rec->rate = rate;
	return 0;
}

static void sync_changed(struct offload_sync *s, const struct offload_sync_now *now,
			 const struct turn_alloc *a)
{
	bool ok = !now->draining && !now->capped && !alloc_user_capped(a) && alloc_eligible(a);
	struct offload_rec *rec = rec_find(s, a);
	struct offload_chan *want = NULL;
	size_t n = 0;

	if (!rec && (!ok || !(rec = rec_new(s, a))))
		return;
	if (ok && bucket_sync(s, rec, now->max_bps) == 0)
		want = want_build(rec, a, (uint32_t)(now->now_ms / 1000), now->max_bps > 0, &n);
	chans_apply(s, rec, want, n);
	free(want);
	/* No entry names a bucket any more: it can go. */
	if (!now->max_bps && rec->rate && s->ops->bucket_set(s->ctx, rec->id, 0) == 0)
		rec->rate = 0;
}

void offload_sync_alloc(struct offload_sync *s, const struct offload_sync_now *now,
			const struct turn_alloc *a, enum turn_sync why, struct turn_traffic *carried)
{
	if (!s->ops)
		return;
	if (why == TURN_SYNC_CHANGED) {
		sync_changed(s, now, a);
		return;
	}
	struct offload_rec *rec = rec_find(s, a);
	if (!rec)
		return;
	while (rec->n)
		chan_remove(s, rec, rec->n - 1);
	traffic_delta(s, rec, carried);
	s->ops->alloc_forget(s->ctx, rec->id);
	rec_free(s, rec);
}

void offload_sync_tick(struct offload_sync *s, struct turn_server *srv,
		       const struct offload_sync_now *now)
{
	uint64_t now_ns = now->now_ms * 1000000ull;

	if (!s->ops)
		return;
	for (size_t b = 0; b < s->n_buckets; b++)
		for (struct offload_rec *rec = s->buckets[b]; rec; rec = rec->next) {
			struct turn_traffic t;
			/* Without entries the kernel relays nothing: one
			 * last read after the last one went, then none. */
			if (rec->n == 0 && !rec->unread)
				continue;
			traffic_delta(s, rec, &t);
			if (t.pkts_to_peer || t.pkts_to_client || t.bw_drops)
				/* The worker owns the allocation; the record
				 * keeps it const only to say it never changes
				 * what it lets through. */
				turn_server_add_traffic(srv, (struct turn_alloc *)rec->a, &t);
			for (size_t i = 0; i < rec->n;)
				if (now->draining || now->capped || alloc_user_capped(rec->a) ||
				    rec->chans[i].to_peer_expires_ns <= now_ns)
					chan_remove(s, rec, i);
				else
					i++;
		}
}
