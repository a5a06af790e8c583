/* A bandwidth budget shared without a lock (bw_share.h). */
#include "util/bw_share.h"

static uint64_t bw_share_burst(uint64_t rate)
{
	uint64_t burst = rate * BW_SHARE_BURST_MS;

	return burst < (uint64_t)BW_SHARE_MIN_BURST * 1000 ? (uint64_t)BW_SHARE_MIN_BURST * 1000
							   : burst;
}

static uint64_t bw_share_clamp(uint64_t rate)
{
	return rate > BW_SHARE_MAX_RATE ? BW_SHARE_MAX_RATE : rate;
}

void bw_share_init(struct bw_share *s, uint64_t rate, uint64_t now_ms)
{
	rate = bw_share_clamp(rate);
	atomic_init(&s->rate, rate);
	atomic_init(&s->tokens, bw_share_burst(rate));
	atomic_init(&s->last_ms, now_ms);
}

void bw_share_set_rate(struct bw_share *s, uint64_t rate)
{
	atomic_store_explicit(&s->rate, bw_share_clamp(rate), memory_order_relaxed);
}

uint64_t bw_share_rate(const struct bw_share *s)
{
	return atomic_load_explicit(&s->rate, memory_order_relaxed);
}

/*
 * Credit the time since last_ms. The taker whose compare-and-swap moves
 * last_ms from `last` to now owns the interval (last, now]: no other can
 * credit it, so racing takers neither lose nor double it. A pause longer
 * than the time the burst takes to fill credits the burst, so the product
 * cannot overflow however long the clock ran.
 */
static void bw_share_refill(struct bw_share *s, uint64_t rate, uint64_t now_ms)
{
	uint64_t last = atomic_load_explicit(&s->last_ms, memory_order_relaxed);

	if (now_ms <= last ||
	    !atomic_compare_exchange_strong_explicit(&s->last_ms, &last, now_ms,
						     memory_order_relaxed, memory_order_relaxed))
		return;
	uint64_t elapsed = now_ms - last;
	uint64_t burst = bw_share_burst(rate);
	uint64_t add = elapsed > burst / rate ? burst : elapsed * rate;
	uint64_t old = atomic_load_explicit(&s->tokens, memory_order_relaxed);
	uint64_t next;

	do
		next = old + add > burst ? burst
					 : old + add; /* also lowers it under a new, lower rate */
	while (!atomic_compare_exchange_weak_explicit(&s->tokens, &old, next, memory_order_relaxed,
						      memory_order_relaxed));
}

/* Up to want tokens out of the budget: what it held, if less. */
static uint64_t bw_share_draw(struct bw_share *s, uint64_t want)
{
	uint64_t old = atomic_load_explicit(&s->tokens, memory_order_relaxed);
	uint64_t got;

	do
		got = old < want ? old : want;
	while (got &&
	       !atomic_compare_exchange_weak_explicit(&s->tokens, &old, old - got,
						      memory_order_relaxed, memory_order_relaxed));
	return got;
}

enum bw_verdict bw_share_take(struct bw_share *s, struct bw_local *l, size_t len, uint64_t now_ms)
{
	uint64_t rate = atomic_load_explicit(&s->rate, memory_order_relaxed);
	uint64_t need = (uint64_t)len * 1000;

	if (rate == 0)
		return BW_FREE;
	if (l->tokens < need) {
		/* A chunk of at least a millisecond of the rate: one atomic
		 * operation serves several packets. */
		uint64_t want = need - l->tokens;
		bw_share_refill(s, rate, now_ms);
		l->tokens += bw_share_draw(s, want > rate ? want : rate);
		if (l->tokens < need)
			return BW_OVER;
	}
	l->tokens -= need;
	return BW_TAKEN;
}

void bw_local_refund(struct bw_local *l, size_t len)
{
	l->tokens += (uint64_t)len * 1000;
}
