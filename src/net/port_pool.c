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
	p->in_use = calloc((p->span + 7) / 8, 1);
	p->free_at = calloc(p->span, sizeof(*p->free_at));
	if (!p->in_use || !p->free_at) {
		port_pool_fini(p);
		return -1;
	}
	return 0;
}

void port_pool_fini(struct port_pool *p)
{
	free(p->in_use);
	free(p->free_at);
	p->in_use = NULL;
	p->free_at = NULL;
}

static bool used(const struct port_pool *p, size_t off)
{
	return p->in_use[off / 8] & (1u << (off % 8));
}

static void mark(struct port_pool *p, size_t off, bool on)
{
	if (on == used(p, off))
		return;
	p->in_use[off / 8] ^= (uint8_t)(1u << (off % 8));
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

static uint16_t take(struct port_pool *p, const struct port_pick *k, size_t off)
{
	mark(p, off, true);
	if (k->pair)
		mark(p, off + 1, true);
	return (uint16_t)(p->min_port + off);
}

/* Every free port is in quarantine: the one whose quarantine ends first,
 * which has been out of use longest. */
static size_t oldest_quarantined(const struct port_pool *p, const struct port_pick *k)
{
	size_t best = p->span;

	for (size_t off = 0; off < p->span; off++)
		if (usable(p, k, off, true) && (best == p->span || p->free_at[off] < p->free_at[best]))
			best = off;
	return best;
}

uint16_t port_pool_take(struct port_pool *p, const struct port_pick *k, bool *early)
{
	*early = false;
	if (p->n_used >= p->span)
		return 0;
	/* RFC 6056 section 3.3.1 (Algorithm 1): random probes; then, for a
	 * crowded pool, a scan from a random start (Algorithm 2's walk). */
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
	size_t off = oldest_quarantined(p, k);
	if (off == p->span)
		return 0;
	*early = true;
	return take(p, k, off);
}

void port_pool_release(struct port_pool *p, uint16_t port, uint64_t now_ms,
		       uint64_t quarantine_ms)
{
	if (!port_pool_in_use(p, port))
		return;
	size_t off = port - p->min_port;
	mark(p, off, false);
	p->free_at[off] = quarantine_ms ? to_second(now_ms + quarantine_ms) : 0;
}
