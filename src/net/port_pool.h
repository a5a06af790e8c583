/*
 * The relay ports of one relay address: which are in use, and until when
 * a freed one stays out of use (its quarantine). Ports are picked at
 * random in the range (RFC 8656 section 7.2, RFC 6056 section 3.3.1): an
 * off-path attacker cannot guess the next relayed address, and a port a
 * client just gave up is not handed to the next Allocate, who would
 * receive what peers still send to it (issue 13 item 6).
 *
 * Not thread-safe: the caller holds struct relay_shared's lock, except
 * for port_pool_in_use, which may be called without it.
 */
#ifndef TURND_NET_PORT_POOL_H
#define TURND_NET_PORT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A port put in quarantine, in the order they were: the quarantine being
 * one length (relay-port-quarantine is read at start), the oldest is at
 * the head. */
struct port_quarantined {
	uint16_t off;
	uint32_t free_at;
	uint32_t seq; /* the release it records (stale once seq[off] moved on) */
};

struct port_pool {
	uint16_t min_port;
	size_t span;        /* ports in [min_port, max_port] */
	uint8_t *in_use;    /* bitmap over the span */
	uint32_t *free_at;  /* per port: second (pool clock) it leaves quarantine */
	uint32_t *seq;      /* per port: the number of its latest release */
	uint32_t next_seq;
	size_t n_used;
	/* Ring of span entries, oldest first; an entry is stale once its
	 * port was taken (free_at no longer its). n_quarantined counts the
	 * ports in quarantine, so that a pool with none out of it is seen
	 * without a scan, and its oldest found at the head: under churn that
	 * outruns the quarantine, a pick costs O(1), not two scans. */
	struct port_quarantined *ring;
	size_t head, n_ring, n_quarantined;
};

/* What a pick needs: its constraints, the time, the quarantine, and a
 * source of random numbers (the daemon's, seeded by RAND_bytes). */
struct port_pick {
	bool even;          /* EVEN-PORT (RFC 8656 section 14.6) */
	bool pair;          /* and reserve port + 1 too (R bit) */
	uint64_t now_ms;
	uint64_t quarantine_ms;
	uint32_t (*random)(void *ctx);
	void *random_ctx;
};

int port_pool_init(struct port_pool *p, uint16_t min_port, uint16_t max_port);
void port_pool_fini(struct port_pool *p);

/*
 * A free port out of quarantine, at random, taken (with port + 1 for a
 * pair); 0 when none is free. When every free port is in quarantine, the
 * one that left use longest ago is taken and *early is set: refusing
 * instead (508) would let anyone who can churn allocations turn the
 * quarantine into a denial of service for every other user.
 */
uint16_t port_pool_take(struct port_pool *p, const struct port_pick *pick, bool *early);

/* Give port back. quarantine: it was handed to a client, so it stays out
 * of use until now_ms + quarantine_ms; a port that never reached a client
 * (a failed bind, an unclaimed reservation) is free at once. */
void port_pool_release(struct port_pool *p, uint16_t port, uint64_t now_ms,
		       uint64_t quarantine_ms);

/* Whether port is taken (in use or reserved). Safe without the lock: the
 * answer may then be one take or release out of date. */
bool port_pool_in_use(const struct port_pool *p, uint16_t port);

#endif
