/*
 * Unit tests for the client-to-peer data path (src/turn/datapath.c): Send
 * indications and ChannelData share one relay step and give the same
 * outcome and counters; the channel range is the server's own
 * (legacy_channels); a policy change sweeps permissions and channels to
 * peers it refuses, and a hairpin peer is still asked for each packet.
 * turn_io.alloc_sync: net/ is told each change of what an allocation lets
 * through and its closing, and what net/ relayed itself (the kernel's
 * fast path) is counted as the core counts its own.
 */
#include <check.h>
#include <string.h>

#include "testutil.h"
#include "turn_harness.h"

#define PEER "198.51.100.1:4000"
#define OTHER "198.51.100.2:4000"

/* What the server counted for data sent to peers. */
struct relay_counts {
	uint64_t relayed, bytes, denied, bw_drops, pkts_out, bytes_out;
};

static struct relay_counts counts(struct client *c)
{
	const struct turn_server_stats *s = turn_server_stats(c->h->srv);
	const struct turn_alloc *a = client_alloc(c);

	return (struct relay_counts){ s->relayed_to_peer, s->bytes_to_peer, s->peer_denied,
				      s->bandwidth_drops, a->pkts_out, a->bytes_out };
}

static void assert_same_counts(struct client *a, struct client *b)
{
	struct relay_counts x = counts(a), y = counts(b);

	ck_assert_uint_eq(x.relayed, y.relayed);
	ck_assert_uint_eq(x.bytes, y.bytes);
	ck_assert_uint_eq(x.denied, y.denied);
	ck_assert_uint_eq(x.bw_drops, y.bw_drops);
	ck_assert_uint_eq(x.pkts_out, y.pkts_out);
	ck_assert_uint_eq(x.bytes_out, y.bytes_out);
}

/* One server per way of sending, each with "alice" allocated and a
 * channel 0x4000 bound to PEER (which also permits it). */
static void up_bound(struct harness *h, struct client *c)
{
	harness_up(h);
	client_init(c, h, "alice", "secret", 7, 40000);
	client_allocate(c, 0);
	ck_assert_int_eq(client_bind(c, 0x4000, PEER), 0);
}

/* The same data by Send on hs/cs and by ChannelData on hc/cc: the same
 * result and the same counters after. */
static void both_ways(struct client *cs, struct client *cc, size_t len, int expect)
{
	static uint8_t data[2000];

	ck_assert_uint_le(len, sizeof(data));
	ck_assert_int_eq(client_send_ind(cs, PEER, data, len), expect);
	ck_assert_int_eq(client_chandata(cc, 0x4000, data, len), expect);
	ck_assert_uint_eq(cs->h->io.n_sends, cc->h->io.n_sends);
	assert_same_counts(cs, cc);
}

START_TEST(send_and_chandata_agree)
{
	struct harness hs, hc;
	struct client cs, cc;

	up_bound(&hs, &cs);
	up_bound(&hc, &cc);
	both_ways(&cs, &cc, 5, 0);
	ck_assert_uint_eq(counts(&cs).relayed, 1);
	/* Over max-bps: a second holds 1000 bytes. */
	turn_server_set_max_bps(hs.srv, 1000);
	turn_server_set_max_bps(hc.srv, 1000);
	both_ways(&cs, &cc, 1100, -1);
	ck_assert_uint_eq(counts(&cs).bw_drops, 1);
	turn_server_set_max_bps(hs.srv, 0);
	turn_server_set_max_bps(hc.srv, 0);
	/* The policy now refuses the peer. */
	harness_deny(&hs, "198.51.100.1");
	harness_deny(&hc, "198.51.100.1");
	both_ways(&cs, &cc, 5, -1);
	ck_assert_uint_eq(counts(&cs).denied, 1);
	ck_assert_uint_eq(hs.io.n_sends, 1);
	harness_down(&hs);
	harness_down(&hc);
}
END_TEST

/* RFC 8656 section 12: 0x4000-0x4FFF; RFC 5766's range up to 0x7FFF only
 * with legacy_channels. The core parses with its own range: a channel
 * past 0x4FFF that is bound (only a legacy server binds one; the test
 * binds it behind the core's back) carries nothing without the option. */
START_TEST(channel_range_is_the_servers)
{
	for (int legacy = 0; legacy < 2; legacy++) {
		struct harness h;
		struct client c;

		harness_init(&h);
		h.opt.legacy_channels = legacy;
		harness_start(&h);
		client_init(&c, &h, "alice", "secret", 7, 40000);
		client_allocate(&c, 0);
		ck_assert_int_eq(client_bind(&c, 0x4FFF, PEER), 0);
		ck_assert_int_eq(client_bind(&c, 0x6000, OTHER), legacy ? 0 : 400);
		struct turn_addr other = addr_of(OTHER);
		uint32_t now = (uint32_t)(h.now_ms / 1000);
		if (!legacy)
			ck_assert_int_eq(turn_channel_bind(client_alloc(&c), 0x6000, &other, now, 0),
					 0);
		ck_assert_int_eq(client_chandata(&c, 0x4FFF, "x", 1), 0);
		ck_assert_int_eq(client_chandata(&c, 0x6000, "y", 1), legacy ? 0 : -1);
		ck_assert_int_eq(client_chandata(&c, 0x7FFF, "z", 1), -1); /* unbound */
		ck_assert_uint_eq(h.io.n_sends, legacy ? 2 : 1);
		harness_down(&h);
	}
}
END_TEST

static void gauges(struct harness *h, uint64_t *perms, uint64_t *chans)
{
	turn_server_gauges(h->srv, h->now_ms, perms, chans);
}

/* A reload that refuses a peer ends its permission and channel at once
 * (the gauges drop, nothing more goes either way); an allowed peer's
 * stay. */
START_TEST(policy_change_sweeps_refused_peers)
{
	struct harness h;
	struct client c;
	uint8_t buf[256];
	struct turn_reply r = { buf, sizeof(buf), 0 };
	uint64_t perms, chans;

	up_bound(&h, &c);
	ck_assert_int_eq(client_bind(&c, 0x4001, OTHER), 0);
	gauges(&h, &perms, &chans);
	ck_assert_uint_eq(perms, 2);
	ck_assert_uint_eq(chans, 2);
	harness_deny(&h, "198.51.100.2");
	gauges(&h, &perms, &chans);
	ck_assert_uint_eq(perms, 1);
	ck_assert_uint_eq(chans, 1);
	ck_assert_int_eq(client_chandata(&c, 0x4001, "x", 1), -1);
	ck_assert_int_eq(client_send_ind(&c, OTHER, "x", 1), -1);
	ck_assert_int_eq(peer_send(&c, OTHER, "x", 1, &r), -1);
	ck_assert_uint_eq(h.io.n_sends, 0);
	/* The allowed peer: both ways still. */
	ck_assert_int_eq(client_chandata(&c, 0x4000, "y", 1), 0);
	ck_assert_int_eq(client_send_ind(&c, PEER, "y", 1), 0);
	ck_assert_int_eq(peer_send(&c, PEER, "y", 1, &r), 0);
	ck_assert_uint_eq(h.io.n_sends, 2);
	/* The swept number stays reserved for another peer (RFC 8656
	 * section 12), and the refused peer cannot be bound again. */
	ck_assert_int_eq(client_bind(&c, 0x4001, "198.51.100.3:4000"), 400);
	ck_assert_int_eq(client_bind(&c, 0x4002, OTHER), 403);
	harness_down(&h);
}
END_TEST

static bool live_flag(void *ctx, const struct turn_addr *peer)
{
	(void)peer;
	return *(const bool *)ctx;
}

/* The hairpin (policy.h rule 1): a channel to one of the host's own
 * addresses is allowed while a live allocation holds that relay port.
 * That verdict follows the relay ports, not the policy, so each
 * ChannelData asks again: once the port is free, nothing goes, with no
 * reload in between. */
START_TEST(hairpin_channel_is_asked_per_packet)
{
	struct harness h;
	struct client c;
	bool live = true;
	struct turn_addr own = addr_of("198.51.100.9:0");

	harness_up(&h);
	harness_reload_policy(&h, &(struct turn_policy_options){
		.own = &own, .n_own = 1, .relay_live = live_flag, .relay_ctx = &live });
	client_init(&c, &h, "alice", "secret", 7, 40000);
	client_allocate(&c, 0);
	ck_assert_int_eq(client_bind(&c, 0x4000, "198.51.100.9:50000"), 0);
	ck_assert_int_eq(client_bind(&c, 0x4001, PEER), 0);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "x", 1), 0);
	live = false;
	ck_assert_int_eq(client_chandata(&c, 0x4000, "x", 1), -1);
	ck_assert_int_eq(client_send_ind(&c, "198.51.100.9:50000", "x", 1), -1);
	ck_assert_int_eq(client_chandata(&c, 0x4001, "y", 1), 0);
	ck_assert_uint_eq(h.io.n_sends, 2);
	/* A reload while the port is free ends the channel (it names the
	 * port) but keeps the permission (it names the IP alone, which a
	 * live port may open again): a Send asks about its own port. */
	harness_reload_policy(&h, &(struct turn_policy_options){
		.own = &own, .n_own = 1, .relay_live = live_flag, .relay_ctx = &live });
	ck_assert(turn_perm_valid(client_alloc(&c), &own, (uint32_t)(h.now_ms / 1000)));
	live = true;
	ck_assert_int_eq(client_chandata(&c, 0x4000, "x", 1), -1);
	ck_assert_int_eq(client_send_ind(&c, "198.51.100.9:50000", "x", 1), 0);
	ck_assert_uint_eq(h.io.n_sends, 3);
	harness_down(&h);
}
END_TEST

/* Where the first record of (a, why) is in the fake's log, or -1. */
static int sync_index(const struct fake_io *f, const struct turn_alloc *a, int why)
{
	for (unsigned i = 0; i < f->n_syncs && i < FAKE_MAX_SYNCS; i++)
		if (f->syncs[i].a == a && f->syncs[i].why == why)
			return (int)i;
	return -1;
}

/* Each change of what an allocation lets through is told once, with the
 * allocation: ChannelBind, CreatePermission, a Refresh, a policy sweep and
 * a new max-bps; what changes nothing (a refused bind, the same max-bps)
 * is not. */
START_TEST(sync_on_each_change)
{
	struct harness h;
	struct client c;

	up_bound(&h, &c);
	const struct turn_alloc *a = client_alloc(&c);
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 1);
	ck_assert_int_eq(client_bind(&c, 0x4000, OTHER), STUN_ERR_BAD_REQUEST);
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 1);
	ck_assert_int_eq(client_permit(&c, OTHER), 0);
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 2);
	ck_assert_int_eq(client_refresh(&c, 900), 0);
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 3);
	harness_deny(&h, "198.51.100.1");
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 4);
	turn_server_set_max_bps(h.srv, 5000);
	ck_assert_uint_eq(turn_server_max_bps(h.srv), 5000);
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 5);
	turn_server_set_max_bps(h.srv, 5000);
	ck_assert_uint_eq(fake_syncs(&h.io, a, TURN_SYNC_CHANGED), 5);
	ck_assert_uint_eq(fake_syncs(&h.io, NULL, TURN_SYNC_CLOSING), 0);
	harness_down(&h);
}
END_TEST

/* CLOSING comes once per allocation whatever ends it (Refresh 0, expiry,
 * the server freed), always before its DELETED event. */
START_TEST(closing_once_before_deleted)
{
	struct harness h;
	struct client c[3];

	harness_up(&h);
	for (int i = 0; i < 3; i++) {
		client_init(&c[i], &h, "alice", "secret", 7 + i, 40000);
		client_allocate(&c[i], i == 2 ? 3600 : 0);
	}
	const struct turn_alloc *a[3] = { client_alloc(&c[0]), client_alloc(&c[1]),
					  client_alloc(&c[2]) };
	ck_assert_int_eq(client_refresh(&c[0], 0), 0);
	harness_advance(&h, 601000);
	ck_assert_uint_eq(fake_syncs(&h.io, NULL, TURN_SYNC_CLOSING), 2);
	harness_down(&h);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(fake_syncs(&h.io, a[i], TURN_SYNC_CLOSING), 1);
		ck_assert_uint_eq(fake_syncs(&h.io, a[i], -1), 1);
		ck_assert_int_lt(sync_index(&h.io, a[i], TURN_SYNC_CLOSING),
				 sync_index(&h.io, a[i], -1));
	}
}
END_TEST

/* What net/ relayed itself, handed back at CLOSING, is in the DELETED
 * event's totals and the server's counters, with what the core relayed. */
START_TEST(closing_carries_traffic)
{
	struct harness h;
	struct client c;
	struct turn_reply r = { 0 };
	uint8_t out[256];

	up_bound(&h, &c);
	r.buf = out;
	r.cap = sizeof(out);
	const struct turn_alloc *a = client_alloc(&c);
	ck_assert_int_eq(client_chandata(&c, 0x4000, "0123456789", 10), 0);
	ck_assert_int_eq(peer_send(&c, PEER, "abcde", 5, &r), 0);
	h.io.carry = (struct turn_traffic){ 3, 300, 2, 200, 1 };
	ck_assert_int_eq(client_refresh(&c, 0), 0);
	int ev = sync_index(&h.io, a, -1);
	ck_assert_int_ge(ev, 0);
	ck_assert_uint_eq(h.io.syncs[ev].pkts_out, 4);
	ck_assert_uint_eq(h.io.syncs[ev].bytes_out, 310);
	ck_assert_uint_eq(h.io.syncs[ev].pkts_in, 3);
	ck_assert_uint_eq(h.io.syncs[ev].bytes_in, 205);
	const struct turn_server_stats *s = turn_server_stats(h.srv);
	ck_assert_uint_eq(s->relayed_to_peer, 4);
	ck_assert_uint_eq(s->bytes_to_peer, 310);
	ck_assert_uint_eq(s->relayed_to_client, 3);
	ck_assert_uint_eq(s->bytes_to_client, 205);
	ck_assert_uint_eq(s->bandwidth_drops, 1);
	ck_assert_uint_eq(s->tcp_packets[0] + s->tcp_packets[1], 0);
	harness_down(&h);
}
END_TEST

/* The periodic fold adds to what is there, each time. */
START_TEST(add_traffic_folds)
{
	struct harness h;
	struct client c;
	const struct turn_traffic t = { 1, 100, 2, 40, 3 };

	up_bound(&h, &c);
	struct turn_alloc *a = client_alloc(&c);
	turn_server_add_traffic(h.srv, a, &t);
	turn_server_add_traffic(h.srv, a, &t);
	ck_assert_uint_eq(a->pkts_out, 2);
	ck_assert_uint_eq(a->bytes_out, 200);
	ck_assert_uint_eq(a->pkts_in, 4);
	ck_assert_uint_eq(a->bytes_in, 80);
	const struct turn_server_stats *s = turn_server_stats(h.srv);
	ck_assert_uint_eq(s->relayed_to_peer, 2);
	ck_assert_uint_eq(s->bytes_to_peer, 200);
	ck_assert_uint_eq(s->relayed_to_client, 4);
	ck_assert_uint_eq(s->bytes_to_client, 80);
	ck_assert_uint_eq(s->bandwidth_drops, 6);
	harness_down(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_datapath");
	TCase *t = tcase_create("datapath");

	tcase_add_test(t, send_and_chandata_agree);
	tcase_add_test(t, channel_range_is_the_servers);
	tcase_add_test(t, policy_change_sweeps_refused_peers);
	tcase_add_test(t, hairpin_channel_is_asked_per_packet);
	tcase_add_test(t, sync_on_each_change);
	tcase_add_test(t, closing_once_before_deleted);
	tcase_add_test(t, closing_carries_traffic);
	tcase_add_test(t, add_traffic_folds);
	suite_add_tcase(s, t);
	return run_suite(s);
}
