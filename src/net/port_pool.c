/* Relay port pool: random picks and a quarantine after free. */
#include "net/port_pool.h"

#include <stdlib.h>

/* Random probes before the scan: at the occupancy a server runs at, one
 * of them almost always lands on a usable port, so picks are uniform. */
#define PORT_POOL_PROBES 16

int port_pool_init(struct port_pool *p, uint16_t min_port, uint16_t max_port)
{
	p->min_port = min_port;
	p->span = (size_t)max_port - min_port + 1;
	p->n_used = 0;
	p->head = p->n_ring = p->n_quarantined = 0;
	p->in_use = calloc((p->span + 7) / 8, 1);
	p->free_at = calloc(p->span, sizeof(*p->free_at));
	p->seq = calloc(p->span, sizeof(*p->seq));
	p->next_seq = 0;
	p->ring = calloc(p->span, sizeof(*p->ring));
	if (!p->in_use || !p->free_at || !p->seq || !p->ring) {
		port_pool_fini(p);
		return -1;
	}
	return 0;
}

void port_pool_fini(struct port_pool *p)
{
	free(p->in_use);
	free(p->free_at);
	free(p->seq);
	free(p->ring);
	p->in_use = NULL;
	p->free_at = NULL;
	p->seq = NULL;
	p->ring = NULL;
}

/* The bitmap's bytes are read and written atomically (relaxed): the
 * writers hold the relay lock, and port_pool_in_use may read without it
 * (the hairpin check, once per datagram to one of the host's own
 * addresses), where a bit one allocation out of date is harmless. */
static bool used(const struct port_pool *p, size_t off)
{
	return __atomic_load_n(&p->in_use[off / 8], __ATOMIC_RELAXED) & (1u << (off % 8));
}

static void mark(struct port_pool *p, size_t off, bool on)
{
	if (on == used(p, off))
		return;
	__atomic_fetch_xor(&p->in_use[off / 8], (uint8_t)(1u << (off % 8)), __ATOMIC_RELAXED);
	p->n_used += on ? 1 : (size_t)-1;
}

bool port_pool_in_use(const struct port_pool *p, uint16_t port)
{
	return port >= p->min_port && (size_t)(port - p->min_port) < p->span &&
	       used(p, port - p->min_port);
}

/* Quarantine ends are kept in whole seconds, rounded up: 4 bytes a port,
 * and a quarantine never shorter than asked. */
static uint32_t to_second(uint64_t ms)
{
	return (uint32_t)((ms + 999) / 1000);
}

/* off (and off + 1 for a pair) can be taken: the constraints hold, it is
 * free, and, unless late is set, out of quarantine. */
static bool usable(const struct port_pool *p, const struct port_pick *k, size_t off,
		   bool late)
{
	uint64_t now = k->now_ms;

	if (used(p, off) || (k->even && (p->min_port + off) % 2))
		return false;
	if (!late && (uint64_t)p->free_at[off] * 1000 > now)
		return false;
	if (k->pair && (off + 1 >= p->span || used(p, off + 1) ||
			(!late && (uint64_t)p->free_at[off + 1] * 1000 > now)))
		return false;
	return true;
}

static void untrack(struct port_pool *p, size_t off);

static uint16_t take(struct port_pool *p, const struct port_pick *k, size_t off)
{
	untrack(p, off);
	mark(p, off, true);
	if (k->pair) {
		untrack(p, off + 1);
		mark(p, off + 1, true);
	}
	return (uint16_t)(p->min_port + off);
}

/* The ring's entry k places after the head. */
static struct port_quarantined *ring_at(const struct port_pool *p, size_t k)
{
	return &p->ring[(p->head + k) % p->span];
}

/* A port's free_at is non-zero while the ring tracks its quarantine;
 * taking the port or ending the quarantine sets it to zero, which makes
 * the entry stale, and so does a later release of the port (its seq
 * moves on). free_at alone would not do: a port taken and released again
 * within one second gets the same free_at, and its old entry, earlier in
 * the ring, would pass for the new one (the port then comes back as the
 * oldest, again and again, when its bind keeps failing). */
static bool ring_valid(const struct port_pool *p, const struct port_quarantined *e)
{
	return p->free_at[e->off] != 0 && p->seq[e->off] == e->seq;
}

static void untrack(struct port_pool *p, size_t off)
{
	if (p->free_at[off] != 0) {
		p->free_at[off] = 0;
		p->n_quarantined--;
	}
}

/* Forget the quarantines that have ended, and stale entries, at the head. */
static void ring_expire(struct port_pool *p, uint64_t now_ms)
{
	while (p->n_ring > 0) {
		const struct port_quarantined *e = ring_at(p, 0);
		if (ring_valid(p, e) && (uint64_t)e->free_at * 1000 > now_ms)
			break;
		if (ring_valid(p, e))
			untrack(p, e->off);
		p->head = (p->head + 1) % p->span;
		p->n_ring--;
	}
}

/* A full ring holds stale entries (a port can be quarantined once at a
 * time, and one is in use to be released): keep the rest, in order. */
static void ring_compact(struct port_pool *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_ring; i++) {
		struct port_quarantined e = *ring_at(p, i);
		if (ring_valid(p, &e))
			*ring_at(p, n++) = e;
	}
	p->n_ring = n;
}

/* Every free port is in quarantine: the one whose quarantine ends first,
 * which has been out of use longest, from the ring's head on. */
static size_t oldest_quarantined(const struct port_pool *p, const struct port_pick *k)
{
	for (size_t i = 0; i < p->n_ring; i++) {
		const struct port_quarantined *e = ring_at(p, i);
		if (ring_valid(p, e) && usable(p, k, e->off, true))
			return e->off;
	}
	return p->span;
}

uint16_t port_pool_take(struct port_pool *p, const struct port_pick *k, bool *early)
{
	*early = false;
	ring_expire(p, k->now_ms);
	if (p->n_used >= p->span)
		return 0;
	/* RFC 6056 section 3.3.1 (Algorithm 1): random probes; then, for a
	 * crowded pool, a scan from a random start (Algorithm 2's walk). No
	 * port out of quarantine: straight to the oldest in it. */
	if (p->n_used + p->n_quarantined < p->span) {
		for (int i = 0; i < PORT_POOL_PROBES; i++) {
			size_t off = k->random(k->random_ctx) % p->span;
			if (usable(p, k, off, false))
				return take(p, k, off);
		}
		size_t start = k->random(k->random_ctx) % p->span;
		for (size_t n = 0; n < p->span; n++) {
			size_t off = (start + n) % p->span;
			if (usable(p, k, off, false))
				return take(p, k, off);
		}
	}
	size_t off = oldest_quarantined(p, k);
	if (off == p->span)
		return 0;
	*early = (uint64_t)p->free_at[off] * 1000 > k->now_ms;
	return take(p, k, off);
}

void port_pool_release(struct port_pool *p, uint16_t port, uint64_t now_ms,
		       uint64_t quarantine_ms)
{
	if (!port_pool_in_use(p, port))
		return;
	size_t off = port - p->min_port;
	mark(p, off, false);
	/* A new release number first: entries of the port's earlier
	 * quarantines are stale from here on, for ring_compact too. */
	p->seq[off] = ++p->next_seq;
	p->free_at[off] = quarantine_ms ? to_second(now_ms + quarantine_ms) : 0;
	if (!quarantine_ms)
		return;
	if (p->n_ring == p->span)
		ring_compact(p);
	*ring_at(p, p->n_ring) =
		(struct port_quarantined){ (uint16_t)off, p->free_at[off], p->seq[off] };
	p->n_ring++;
	p->n_quarantined++;
}
