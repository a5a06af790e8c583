/*
 * turnload's measurements: which packets came back (a sliding bitmap per
 * sender tells new from duplicate and late), latency histograms, the
 * progress line each second and the final report, as text or one JSON
 * object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "load.h"

/* 32 sub-buckets per power of two: bucket widths are at most 1/32 of the
 * values they hold. Below 64 ns every nanosecond has its own bucket. */
#define HIST_SUB 32
#define HIST_LINEAR 64
#define HIST_MAX_NS ((1ull << 36) - 1)

static unsigned hist_index(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (unsigned)v;
	if (v > HIST_MAX_NS)
		v = HIST_MAX_NS;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - 5; /* v >> shift is in [32, 64) */
	return HIST_SUB * shift + (unsigned)(v >> shift);
}

/* The middle of a bucket's range. */
static uint64_t hist_value(unsigned idx)
{
	if (idx < HIST_LINEAR)
		return idx;
	unsigned shift = idx / HIST_SUB - 1;
	uint64_t mant = idx - HIST_SUB * shift;
	return (mant << shift) + ((1ull << shift) >> 1);
}

void load_hist_add(struct load_hist *h, uint64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

double load_hist_quantile_us(const struct load_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return (double)h->max_ns / 1000.0;
	uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < LOAD_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return (double)(v < h->max_ns ? v : h->max_ns) / 1000.0;
		}
	}
	return (double)h->max_ns / 1000.0;
}

static void seen_set(struct load_rx *rx, uint64_t seq, bool on)
{
	uint64_t bit = 1ull << (seq % 64);
	uint64_t *w = &rx->seen[(seq / 64) % (LOAD_SEQ_WINDOW / 64)];

	*w = on ? *w | bit : *w & ~bit;
}

static bool seen_get(const struct load_rx *rx, uint64_t seq)
{
	return (rx->seen[(seq / 64) % (LOAD_SEQ_WINDOW / 64)] >> (seq % 64)) & 1;
}

/* The bitmap covers [top - LOAD_SEQ_WINDOW, top). A packet older than
 * that cannot be told from a duplicate; it counts as a late one. */
enum load_rx_result load_rx_mark(struct load_rx *rx, uint64_t seq)
{
	if (seq >= rx->top) {
		if (seq - rx->top >= LOAD_SEQ_WINDOW) {
			memset(rx->seen, 0, sizeof(rx->seen));
		} else {
			/* The slots of the numbers skipped held numbers that
			 * have just left the window. */
			for (uint64_t s = rx->top; s < seq; s++)
				seen_set(rx, s, false);
		}
		seen_set(rx, seq, true);
		rx->top = seq + 1;
		rx->received++;
		return LOAD_RX_NEW;
	}
	if (rx->top - seq <= LOAD_SEQ_WINDOW) {
		if (seen_get(rx, seq)) {
			rx->duplicates++;
			return LOAD_RX_DUPLICATE;
		}
		seen_set(rx, seq, true);
	}
	rx->received++;
	rx->reordered++;
	return LOAD_RX_REORDERED;
}

const char *load_mode_name(enum load_mode m)
{
	switch (m) {
	case LOAD_MODE_CHANNEL: return "channel";
	case LOAD_MODE_SEND: return "send";
	case LOAD_MODE_RAW: return "raw";
	case LOAD_MODE_ALLOC: return "alloc";
	case LOAD_MODE_HOLD: return "hold";
	}
	return "?";
}

/* Microseconds as the text output shows them: one decimal below 10. */
static const char *fmt_us(double us, char *buf, size_t cap)
{
	snprintf(buf, cap, us < 10 ? "%.1f" : "%.0f", us);
	return buf;
}

static double per_s(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

/* Once a second on stderr, for the phase the run is in. */
void load_stats_progress(struct load_run *r, uint64_t now)
{
	struct load_stats *st = &r->st;
	const struct load_totals *t = &st->tot, *m = &st->mark;
	double dt = (double)(now - st->mark_ns) / 1e9;
	unsigned secs = (unsigned)((now - (r->traffic_start_ns ? r->traffic_start_ns : r->start_ns) +
				    LOAD_NS_PER_S / 2) / LOAD_NS_PER_S);
	char p99[32];

	switch (r->phase) {
	case LOAD_PH_SETUP:
		fprintf(stderr, "setup: %zu/%zu ready, %zu failed\n", r->n_ready, r->nsess,
			r->n_failed);
		break;
	case LOAD_PH_PROBE:
		fprintf(stderr, "probe: %zu/%zu echoed\n", r->n_echoed, r->n_ready);
		break;
	case LOAD_PH_ALLOC:
	case LOAD_PH_ALLOC_END:
		fprintf(stderr, "t=%us alloc %.0f/s failed %" PRIu64 " p99 %sus\n", secs,
			per_s(t->allocs - m->allocs, dt), t->alloc_failed,
			fmt_us(load_hist_quantile_us(&st->alloc_iv, 0.99), p99, sizeof(p99)));
		break;
	case LOAD_PH_TRAFFIC:
	case LOAD_PH_DRAIN: {
		uint64_t sent = t->sent - m->sent, recv = t->received - m->received;
		double loss = sent > recv ? 100.0 * (double)(sent - recv) / (double)sent : 0;
		fprintf(stderr, "t=%us sent %.0f/s recv %.0f/s loss %.2f%% p99 %sus\n", secs,
			per_s(sent, dt), per_s(recv, dt), loss,
			fmt_us(load_hist_quantile_us(&st->lat_iv, 0.99), p99, sizeof(p99)));
		break;
	}
	case LOAD_PH_TEARDOWN:
		fprintf(stderr, "teardown: %zu/%zu deleting\n", r->n_pending, r->nsess);
		break;
	case LOAD_PH_DONE: break;
	}
	st->mark = *t;
	st->mark_ns = now;
	memset(&st->lat_iv, 0, sizeof(st->lat_iv));
	memset(&st->alloc_iv, 0, sizeof(st->alloc_iv));
}

/* The figures the report shows, worked out once. */
struct load_summary {
	double duration_s, send_pps, recv_pps, loss_pct, alloc_per_s;
	uint64_t lost;
	double lat[5], alloc[5]; /* p50 p90 p99 p99.9 max */
};

static const double quantiles[5] = { 0.5, 0.9, 0.99, 0.999, 1.0 };

static void summarise(const struct load_run *r, struct load_summary *s)
{
	const struct load_totals *t = &r->st.tot;
	bool alloc = r->o->mode == LOAD_MODE_ALLOC;

	memset(s, 0, sizeof(*s));
	if (r->traffic_start_ns && r->traffic_end_ns > r->traffic_start_ns)
		s->duration_s = (double)(r->traffic_end_ns - r->traffic_start_ns) / 1e9;
	s->lost = t->sent > t->received ? t->sent - t->received : 0;
	s->loss_pct = t->sent ? 100.0 * (double)s->lost / (double)t->sent : 0;
	s->send_pps = per_s(t->sent, s->duration_s);
	s->recv_pps = per_s(t->received, s->duration_s);
	s->alloc_per_s = alloc ? per_s(t->allocs, s->duration_s) : 0;
	for (int i = 0; i < 5; i++) {
		s->lat[i] = load_hist_quantile_us(&r->st.lat, quantiles[i]);
		s->alloc[i] = load_hist_quantile_us(&r->st.alloc, quantiles[i]);
	}
}

static void print_quantiles_json(const char *key, const double v[5])
{
	printf("\"%s\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}", key,
	       v[0], v[1], v[2], v[3], v[4]);
}

static void report_json(const struct load_run *r, const struct load_summary *s)
{
	const struct load_totals *t = &r->st.tot;
	const struct load_opts *o = r->o;

	printf("{\"mode\":\"%s\",\"transport\":\"%s\",\"sessions\":%lu,\"duration_s\":%.3f,",
	       load_mode_name(o->mode), o->tcp ? "tcp" : "udp", o->sessions, s->duration_s);
	printf("\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"loss_pct\":%.4f,\"reordered\":%" PRIu64 ",\"duplicates\":%" PRIu64
	       ",\"send_pps\":%.1f,\"recv_pps\":%.1f,",
	       t->sent, t->received, s->lost, s->loss_pct, t->reordered, t->duplicates,
	       s->send_pps, s->recv_pps);
	print_quantiles_json("latency_us", s->lat);
	printf(",\"allocations\":%" PRIu64 ",\"alloc_failed\":%" PRIu64 ",\"alloc_per_s\":%.1f,",
	       t->allocs, t->alloc_failed, s->alloc_per_s);
	print_quantiles_json("alloc_latency_us", s->alloc);
	printf("}\n");
}

static void print_quantiles_text(const double v[5])
{
	static const char *const names[5] = { "p50", "p90", "p99", "p99.9", "max" };
	char buf[32];

	for (int i = 0; i < 5; i++)
		printf(" %s %s", names[i], fmt_us(v[i], buf, sizeof(buf)));
	printf("\n");
}

/* One line per session with -v: what came back of what it sent. */
static void report_sessions(const struct load_run *r)
{
	for (size_t i = 0; i < r->nsess; i++) {
		const struct load_session *s = &r->sess[i];
		uint64_t lost = s->next_seq > s->rx.received ? s->next_seq - s->rx.received : 0;
		if (r->o->mode == LOAD_MODE_ALLOC) {
			printf("slot %zu: allocations %" PRIu64 "%s\n", i, s->allocs,
			       s->failed ? " (failed)" : "");
			continue;
		}
		printf("session %zu: sent %" PRIu64 " received %" PRIu64 " lost %" PRIu64
		       " reordered %" PRIu64 " duplicates %" PRIu64 "%s\n",
		       i, s->next_seq, s->rx.received, lost, s->rx.reordered, s->rx.duplicates,
		       s->failed ? " (failed)" : "");
	}
}

static void report_text(const struct load_run *r, const struct load_summary *s)
{
	const struct load_totals *t = &r->st.tot;
	const struct load_opts *o = r->o;

	printf("sessions %lu mode %s transport %s duration %.2f s\n", o->sessions,
	       load_mode_name(o->mode), o->tcp ? "tcp" : "udp", s->duration_s);
	if (o->mode != LOAD_MODE_ALLOC) {
		printf("sent %" PRIu64 " (%.0f/s) received %" PRIu64 " (%.0f/s) lost %" PRIu64
		       " (%.3f%%) reordered %" PRIu64 " duplicates %" PRIu64 "\n",
		       t->sent, s->send_pps, t->received, s->recv_pps, s->lost, s->loss_pct,
		       t->reordered, t->duplicates);
		printf("latency us:");
		print_quantiles_text(s->lat);
	}
	if (o->mode == LOAD_MODE_ALLOC)
		printf("allocations %" PRIu64 " (%.0f/s) failed %" PRIu64 " allocate latency us:",
		       t->allocs, s->alloc_per_s, t->alloc_failed);
	else if (o->mode != LOAD_MODE_RAW)
		printf("allocations %" PRIu64 " failed %" PRIu64 " allocate latency us:", t->allocs,
		       t->alloc_failed);
	if (o->mode != LOAD_MODE_RAW)
		print_quantiles_text(s->alloc);
	if (t->timeouts || t->delete_failed || t->bad)
		printf("timeouts %" PRIu64 " delete failed %" PRIu64 " unrecognised %" PRIu64 "\n",
		       t->timeouts, t->delete_failed, t->bad);
	if (o->verbose)
		report_sessions(r);
}

void load_stats_report(const struct load_run *r)
{
	struct load_summary s;

	summarise(r, &s);
	if (r->o->json)
		report_json(r, &s);
	else
		report_text(r, &s);
	fflush(stdout);
}
