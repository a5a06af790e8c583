/*
 * The phases of a turnload run, and the traffic:
 *
 *   SETUP -> [PROBE, -m] -> TRAFFIC -> DRAIN -> TEARDOWN -> DONE
 *   ALLOC -> ALLOC_END -> DONE                                    (-a)
 *
 * Set-up, maintenance and teardown keep at most PHASE_TXN_WINDOW
 * transactions in flight, so 50,000 sessions do not arrive at the server
 * at once. Traffic is a flood with a window of packets in flight per
 * session, or paced by a token bucket on CLOCK_MONOTONIC and spread
 * round-robin over the sessions.
 */
#include <stdio.h>
#include <string.h>

#include "load.h"

#define PHASE_TXN_WINDOW 256
#define PHASE_DRAIN_NS (500 * LOAD_NS_PER_MS)
/* Flood: a window with nothing back for this long is written off. */
#define PHASE_STALL_NS (200 * LOAD_NS_PER_MS)
#define PHASE_MAX_WAIT_NS (100 * LOAD_NS_PER_MS)
#define PHASE_FLOOD_WAIT_NS LOAD_NS_PER_MS
/* Paced: wake when about this much sending is due, so that batches stay
 * small and the send time stamped is close to the real one; a late wake
 * may catch up at most this much. */
#define PHASE_PACE_SLICE_S 50e-6
#define PHASE_PACE_BURST_S 0.002
/* -m: the probe echo, and then the keep-alive traffic. */
#define PHASE_PROBE_ROUNDS 3
#define PHASE_PROBE_PPS 20000.0
#define PHASE_HOLD_INTERVAL_S 5.0
#define PHASE_HOLD_PPS_MAX 2000.0

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- sending ---- */

static bool can_send(const struct load_session *s)
{
	return s->state == LOAD_S_READY && s->next_seq < s->quota;
}

/* Every session with room in its window sends a batch. Returns true if
 * anything went. */
static bool send_flood(struct load_run *r, uint64_t now)
{
	const struct load_opts *o = r->o;
	uint64_t stall = min_u64((uint64_t)o->timeout_ms * LOAD_NS_PER_MS, PHASE_STALL_NS);
	bool busy = false;

	for (size_t i = 0; i < r->nsess; i++) {
		struct load_session *s = &r->sess[i];
		if (!can_send(s))
			continue;
		uint64_t inflight = s->next_seq - s->acked;
		if (inflight >= o->window) {
			/* Nothing came back for a while: the packets in flight
			 * are lost; do not wait for them any longer. */
			if (now - s->progress_ns < stall)
				continue;
			s->acked = s->next_seq;
			inflight = 0;
		}
		uint64_t k = min_u64(min_u64(o->window - inflight, o->batch), s->quota - s->next_seq);
		if (load_data_send(r, s, (unsigned)k, now) > 0)
			busy = true;
	}
	return busy;
}

/* Spend the tokens earned since the last call, round-robin. */
static void send_paced(struct load_run *r, uint64_t now)
{
	double cap = r->pps * PHASE_PACE_BURST_S;

	r->tokens += (double)(now - r->refill_ns) / 1e9 * r->pps;
	r->refill_ns = now;
	if (cap < r->o->batch)
		cap = r->o->batch;
	if (r->tokens > cap)
		r->tokens = cap;
	uint64_t budget = (uint64_t)r->tokens, sent = 0;
	if (budget == 0 || r->n_ready == 0)
		return;
	uint64_t share = budget / r->n_ready + 1;
	for (size_t scanned = 0; scanned < r->nsess && sent < budget; scanned++) {
		struct load_session *s = &r->sess[r->rr];
		r->rr = (r->rr + 1) % r->nsess;
		if (!can_send(s))
			continue;
		uint64_t k = min_u64(min_u64(budget - sent, share), s->quota - s->next_seq);
		sent += load_data_send(r, s, (unsigned)min_u64(k, r->o->batch), now);
	}
	r->tokens -= (double)sent;
}

/* Returns true if the loop should look at the sockets without waiting. */
bool load_phase_send(struct load_run *r, uint64_t now)
{
	if (r->phase != LOAD_PH_TRAFFIC && r->phase != LOAD_PH_PROBE)
		return false;
	if (r->pps > 0) {
		send_paced(r, now);
		return false;
	}
	return send_flood(r, now);
}

/* ---- phases ---- */

static size_t count_ready(const struct load_run *r, bool echoed)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nsess; i++)
		if (r->sess[i].state == LOAD_S_READY && (!echoed || r->sess[i].echoed))
			n++;
	return n;
}

/* -m: one more packet for each session whose echo has not come back. */
static void probe_round(struct load_run *r, uint64_t now)
{
	r->probe_round++;
	r->quota_left = 0;
	for (size_t i = 0; i < r->nsess; i++) {
		struct load_session *s = &r->sess[i];
		s->quota = s->next_seq;
		if (s->state == LOAD_S_READY && !s->echoed) {
			s->quota++;
			r->quota_left++;
		}
	}
	r->probe_target = count_ready(r, false);
	r->pps = r->o->rate > PHASE_PROBE_PPS ? r->o->rate : PHASE_PROBE_PPS;
	r->tokens = 0;
	r->refill_ns = r->last_send_ns = now;
	r->deadline_ns = now + (uint64_t)((double)r->quota_left / r->pps * 1e9) +
			 2 * (uint64_t)r->o->timeout_ms * LOAD_NS_PER_MS + LOAD_NS_PER_S;
}

static void start_traffic(struct load_run *r, uint64_t now)
{
	const struct load_opts *o = r->o;
	size_t alive = count_ready(r, false);

	r->traffic_start_ns = now;
	r->deadline_ns = o->count && !o->duration_given
				 ? UINT64_MAX
				 : now + (uint64_t)(o->duration_s * (double)LOAD_NS_PER_S);
	r->quota_left = o->count ? (uint64_t)alive * o->count : UINT64_MAX;
	for (size_t i = 0; i < r->nsess; i++) {
		struct load_session *s = &r->sess[i];
		s->quota = o->count ? s->next_seq + o->count : UINT64_MAX;
		s->acked = s->next_seq;
		s->progress_ns = now;
	}
	r->pps = o->rate;
	if (o->mode == LOAD_MODE_HOLD && o->rate <= 0) {
		/* A packet per session every few seconds, a low rate in all. */
		r->pps = (double)alive / PHASE_HOLD_INTERVAL_S;
		r->pps = r->pps < 1 ? 1 : r->pps > PHASE_HOLD_PPS_MAX ? PHASE_HOLD_PPS_MAX : r->pps;
	}
	r->tokens = 0;
	r->refill_ns = now;
	r->st.mark = r->st.tot;
	r->st.mark_ns = now;
	r->next_progress_ns = now + LOAD_NS_PER_S;
	if (o->mode == LOAD_MODE_HOLD) {
		/* The figures are those of the holding: the probe proved the
		 * relay works and is not counted. */
		struct load_totals *t = &r->st.tot;
		t->sent = t->received = t->reordered = t->duplicates = 0;
		r->st.mark = *t;
		memset(&r->st.lat, 0, sizeof(r->st.lat));
		printf("holding %zu allocations\n", alive);
		fflush(stdout);
	}
}

/* With -c the traffic lasts until the last packet is back: a throughput
 * over the sending alone would be a burst's. */
static void count_drain(struct load_run *r)
{
	if (r->o->count && r->o->mode != LOAD_MODE_ALLOC && r->traffic_end_ns &&
	    r->last_recv_ns > r->traffic_end_ns)
		r->traffic_end_ns = r->last_recv_ns;
}

void load_phase_enter(struct load_run *r, enum load_phase phase, uint64_t now)
{
	r->phase = phase;
	r->phase_ns = now;
	switch (phase) {
	case LOAD_PH_PROBE:
		probe_round(r, now);
		break;
	case LOAD_PH_TRAFFIC:
		start_traffic(r, now);
		break;
	case LOAD_PH_DRAIN:
		r->traffic_end_ns = now;
		break;
	case LOAD_PH_TEARDOWN:
		r->next_start = 0;
		count_drain(r);
		break;
	case LOAD_PH_ALLOC:
		r->traffic_start_ns = now;
		r->deadline_ns = r->o->count && !r->o->duration_given
					 ? UINT64_MAX
					 : now + (uint64_t)(r->o->duration_s * (double)LOAD_NS_PER_S);
		r->n_cycling = r->nsess;
		r->st.mark_ns = now;
		for (size_t i = 0; i < r->nsess; i++)
			load_run_start_session(r, &r->sess[i], now);
		break;
	case LOAD_PH_ALLOC_END:
		r->traffic_end_ns = now;
		break;
	case LOAD_PH_DONE:
		count_drain(r);
		if (r->o->mode == LOAD_MODE_ALLOC && r->last_alloc_ns > r->traffic_end_ns)
			r->traffic_end_ns = r->last_alloc_ns;
		break;
	default:
		break;
	}
}

static void step_setup(struct load_run *r, uint64_t now)
{
	while (r->next_start < r->nsess && r->n_pending < PHASE_TXN_WINDOW)
		load_run_start_session(r, &r->sess[r->next_start++], now);
	if (r->n_ready + r->n_failed < r->nsess)
		return;
	if (r->n_ready == 0)
		load_phase_enter(r, LOAD_PH_TEARDOWN, now);
	else
		load_phase_enter(r, r->o->mode == LOAD_MODE_HOLD ? LOAD_PH_PROBE : LOAD_PH_TRAFFIC, now);
}

static void step_probe(struct load_run *r, uint64_t now)
{
	uint64_t wait = (uint64_t)r->o->timeout_ms * LOAD_NS_PER_MS;
	bool all_back = r->n_echoed >= r->probe_target;

	if (now < r->deadline_ns &&
	    (r->quota_left > 0 || (!all_back && now < r->last_send_ns + wait)))
		return;
	if (!all_back && r->probe_round < PHASE_PROBE_ROUNDS) {
		probe_round(r, now);
		return;
	}
	for (size_t i = 0; i < r->nsess; i++) {
		struct load_session *s = &r->sess[i];
		if (s->state == LOAD_S_READY && !s->echoed) {
			load_run_error(r, s, "probe", "the echo did not come back");
			load_session_fail(r, s);
		}
	}
	load_phase_enter(r, count_ready(r, true) ? LOAD_PH_TRAFFIC : LOAD_PH_TEARDOWN, now);
}

/* Refresh what is due, once a second, within the transaction window. */
static void maintain(struct load_run *r, uint64_t now)
{
	if (now < r->next_maint_ns)
		return;
	r->next_maint_ns = now + LOAD_NS_PER_S;
	for (size_t i = 0; i < r->nsess && r->n_pending < PHASE_TXN_WINDOW; i++)
		load_session_maintain(r, &r->sess[i], now);
}

static void step_teardown(struct load_run *r, uint64_t now)
{
	while (r->next_start < r->nsess && r->n_pending < PHASE_TXN_WINDOW)
		load_session_delete(r, &r->sess[r->next_start++], now);
	if (r->next_start == r->nsess && r->n_pending == 0)
		load_phase_enter(r, LOAD_PH_DONE, now);
}

/* A first SIGINT/SIGTERM ends the phase in hand the orderly way. */
static void interrupt(struct load_run *r, uint64_t now)
{
	r->interrupted = true;
	switch (r->phase) {
	case LOAD_PH_SETUP:
	case LOAD_PH_PROBE:
		load_phase_enter(r, LOAD_PH_TEARDOWN, now);
		break;
	case LOAD_PH_TRAFFIC:
		load_phase_enter(r, LOAD_PH_DRAIN, now);
		break;
	case LOAD_PH_ALLOC:
		load_phase_enter(r, LOAD_PH_ALLOC_END, now);
		break;
	default:
		break;
	}
}

static void step_once(struct load_run *r, uint64_t now, int signals)
{
	uint64_t wait = (uint64_t)r->o->timeout_ms * LOAD_NS_PER_MS;

	if (signals >= 2) {
		load_phase_enter(r, LOAD_PH_DONE, now);
		return;
	}
	if (signals == 1 && !r->interrupted)
		interrupt(r, now);
	switch (r->phase) {
	case LOAD_PH_SETUP:
		step_setup(r, now);
		break;
	case LOAD_PH_PROBE:
		maintain(r, now);
		step_probe(r, now);
		break;
	case LOAD_PH_TRAFFIC:
		maintain(r, now);
		if (now >= r->deadline_ns || r->quota_left == 0)
			load_phase_enter(r, LOAD_PH_DRAIN, now);
		break;
	case LOAD_PH_DRAIN:
		if (r->st.tot.received >= r->st.tot.sent || now >= r->traffic_end_ns + PHASE_DRAIN_NS)
			load_phase_enter(r, r->o->mode == LOAD_MODE_RAW ? LOAD_PH_DONE : LOAD_PH_TEARDOWN, now);
		break;
	case LOAD_PH_TEARDOWN:
		step_teardown(r, now);
		break;
	case LOAD_PH_ALLOC:
		if (now >= r->deadline_ns || r->n_cycling == 0)
			load_phase_enter(r, LOAD_PH_ALLOC_END, now);
		break;
	case LOAD_PH_ALLOC_END:
		if (r->n_cycling == 0 || now >= r->phase_ns + 2 * wait + LOAD_NS_PER_S)
			load_phase_enter(r, LOAD_PH_DONE, now);
		break;
	case LOAD_PH_DONE:
		break;
	}
}

/* Phase after phase while each is done at once (an empty drain, a
 * teardown with nothing to delete): no sleep between them. */
void load_phase_step(struct load_run *r, uint64_t now, int signals)
{
	for (int i = 0; i < LOAD_PH_DONE + 1; i++) {
		enum load_phase before = r->phase;
		step_once(r, now, signals);
		if (r->phase == before || r->phase == LOAD_PH_DONE)
			return;
	}
}

/* ---- waiting ---- */

/* How long the loop may sleep: until the next timer, token or line. */
uint64_t load_phase_wait_ns(const struct load_run *r, uint64_t now)
{
	uint64_t wake = min_u64(now + PHASE_MAX_WAIT_NS, r->txn_check_ns);

	if (r->n_deferred)
		return 0;
	if (!r->o->quiet && !r->o->json)
		wake = min_u64(wake, r->next_progress_ns);
	switch (r->phase) {
	case LOAD_PH_PROBE:
	case LOAD_PH_TRAFFIC:
		wake = min_u64(wake, min_u64(r->deadline_ns, r->next_maint_ns));
		if (r->quota_left == 0)
			break;
		if (r->pps <= 0) {
			wake = min_u64(wake, now + PHASE_FLOOD_WAIT_NS);
		} else {
			double need = r->pps * PHASE_PACE_SLICE_S;
			need = need < 1 ? 1 : need > r->o->batch ? r->o->batch : need;
			double s = need > r->tokens ? (need - r->tokens) / r->pps : 0;
			wake = min_u64(wake, now + (uint64_t)(s * 1e9));
		}
		break;
	case LOAD_PH_DRAIN:
		wake = min_u64(wake, r->traffic_end_ns + PHASE_DRAIN_NS);
		break;
	case LOAD_PH_ALLOC:
		wake = min_u64(wake, r->deadline_ns);
		break;
	default:
		break;
	}
	return wake > now ? wake - now : 0;
}
