/*
 * A bandwidth budget shared by several threads without a lock on the
 * packet path (bps-capacity for the whole server, user-max-bps for one
 * user's allocations across workers).
 *
 * The budget (struct bw_share) is a token bucket in atomics, refilled at
 * its rate by whichever taker finds time has passed: the one that moves
 * last_ms forward with a compare-and-swap credits that interval, so each
 * millisecond is credited exactly once however many threads race. Takers
 * do not touch it per packet: each holds local tokens (struct bw_local,
 * owned by one thread) and draws from the shared budget in chunks of at
 * least one millisecond of the rate, so a packet costs a subtraction and
 * the budget one atomic operation per chunk.
 *
 * Bounds: the budget holds at most BW_SHARE_BURST_MS of the rate (and
 * never less than one largest datagram, so that a low rate still passes
 * a full packet); each holder keeps at most one chunk plus one packet
 * locally. So over any interval T the bytes granted are at most
 * burst + rate * T + holders * (rate / 1000 + largest packet), and while
 * takers want more than the rate, no token is lost: what was credited is
 * either granted or still held (check_bw_share tests both).
 *
 * Pure: the caller passes the time (milliseconds of one monotonic clock
 * shared by every taker).
 */
#ifndef TURND_UTIL_BW_SHARE_H
#define TURND_UTIL_BW_SHARE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The budget holds this much of its rate at most. */
#define BW_SHARE_BURST_MS 100
/* ...and never less than this (bytes): the largest datagram relayed. */
#define BW_SHARE_MIN_BURST 65536
/* The largest rate accepted (bytes per second): tokens are thousandths
 * of a byte, and a second of this rate fits 64 bits with room. */
#define BW_SHARE_MAX_RATE (1ull << 40)

struct bw_share {
	_Atomic uint64_t rate; /* bytes per second; 0: no cap */
	_Atomic uint64_t tokens; /* thousandths of a byte */
	_Atomic uint64_t last_ms; /* credited up to here */
};

/* One holder's tokens (thousandths of a byte), drawn from a share. */
struct bw_local {
	uint64_t tokens;
};

/* A full budget at rate (clamped to BW_SHARE_MAX_RATE), credited up to now_ms. */
void bw_share_init(struct bw_share *s, uint64_t rate, uint64_t now_ms);
/* A new rate from the next refill on (a reload); 0 lifts the cap. */
void bw_share_set_rate(struct bw_share *s, uint64_t rate);
uint64_t bw_share_rate(const struct bw_share *s);

enum bw_verdict {
	BW_OVER = 0, /* over the budget: drop it (what was drawn stays in l) */
	BW_TAKEN, /* len bytes taken from l: send it */
	BW_FREE, /* no cap (rate 0): send it, nothing taken */
};

/* Take len bytes for one packet from l, drawing from s when l runs short. */
enum bw_verdict bw_share_take(struct bw_share *s, struct bw_local *l, size_t len, uint64_t now_ms);
/* Give back what a take granted (BW_TAKEN) for a packet that was not sent
 * after all (a later cap refused it): to l, which drew it. */
void bw_local_refund(struct bw_local *l, size_t len);

#endif
