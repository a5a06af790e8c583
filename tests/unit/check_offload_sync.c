/*
 * Unit tests for the worker's upkeep of the kernel fast path
 * (src/daemon/offload_sync.c): a real worker (daemon_harness.h) whose
 * offload calls go to a recording fake kernel. What user space allows
 * is what the kernel holds: a bound channel of a plain UDP client, with
 * the channel's, the allocation's and the permission's expiries; nothing
 * for a DTLS client, nothing while draining, nothing past an expiry; the
 * kernel's traffic folded into the core's counters, at the tick and at
 * the end. ChannelData that reaches user space is counted.
 */
#include <check.h>
#include <string.h>

#include "daemon/dispatch.h"
#include "daemon/offload_sync.h"
#include "daemon/user_usage.h"
#include "daemon_harness.h"
#include "stun/channel.h"
#include "testutil.h"

#define FK_MAX 16
#define PEER "127.0.0.1:5000"
#define PEER2 "127.0.0.1:5001"

/* The fake kernel: its entries now, by (alloc id, channel). */
struct fake_kernel {
	struct offload_chan live[FK_MAX];
	unsigned n_live;
	uint32_t next_id;
	unsigned puts, dels, forgets;
	bool put_fails, bucket_fails;
	uint64_t rate;        /* the last bucket set */
	unsigned bucket_sets; /* and how many were */
	unsigned put_before_bucket; /* puts naming a bucket not set yet */
	struct offload_count traffic; /* what every counter reads */
};

static long fk_find(struct fake_kernel *k, const struct offload_chan *c)
{
	for (unsigned i = 0; i < k->n_live; i++)
		if (k->live[i].alloc_id == c->alloc_id && k->live[i].channel == c->channel)
			return i;
	return -1;
}

static uint32_t fk_new_id(void *ctx)
{
	return ++((struct fake_kernel *)ctx)->next_id;
}

static int fk_put(void *ctx, const struct offload_chan *c)
{
	struct fake_kernel *k = ctx;
	long i = fk_find(k, c);

	k->puts++;
	if (k->put_fails)
		return -1;
	if (c->bucket && k->rate == 0)
		k->put_before_bucket++;
	if (i < 0) {
		ck_assert_uint_lt(k->n_live, FK_MAX);
		i = k->n_live++;
	}
	k->live[i] = *c;
	return 0;
}

static void fk_del(void *ctx, const struct offload_chan *c)
{
	struct fake_kernel *k = ctx;
	long i = fk_find(k, c);

	k->dels++;
	if (i >= 0)
		k->live[i] = k->live[--k->n_live];
}

static int fk_bucket_set(void *ctx, uint32_t id, uint64_t rate)
{
	struct fake_kernel *k = ctx;

	(void)id;
	if (k->bucket_fails)
		return -1;
	k->rate = rate;
	k->bucket_sets++;
	return 0;
}

static int fk_traffic_read(void *ctx, uint32_t id, struct offload_count *c)
{
	(void)id;
	*c = ((struct fake_kernel *)ctx)->traffic;
	return 0;
}

static void fk_forget(void *ctx, uint32_t id)
{
	(void)id;
	((struct fake_kernel *)ctx)->forgets++;
}

static const struct offload_sync_ops fk_ops = {
	fk_new_id, fk_put, fk_del, fk_bucket_set, fk_traffic_read, fk_forget,
};

/* A worker with the fake kernel and alice allocated on a path of kind. */
struct fixture {
	struct dh h;
	struct fake_kernel k;
	struct dh_client c;
	struct dh_path p;
};

/* ...whose backend answers with alice_bps as her own rate (max_bps). */
static void up_rate(struct fixture *f, const char *extra, enum net_path_kind kind,
		    uint64_t alice_bps)
{
	memset(&f->k, 0, sizeof(f->k));
	dh_up(&f->h, extra, false);
	offload_sync_init(&f->h.w->offload, &fk_ops, &f->k);
	f->h.backend->users[0].max_bps = alice_bps;
	dh_path_init(&f->p, kind);
	dh_client_init(&f->c, &f->h, "alice", 4000);
	ck_assert_int_eq(dh_allocate(&f->c, &f->p, 0), 0);
}

static void up(struct fixture *f, const char *extra, enum net_path_kind kind)
{
	up_rate(f, extra, kind, 0);
}

static const struct offload_chan *fk_entry(const struct fake_kernel *k, uint16_t channel)
{
	for (unsigned i = 0; i < k->n_live; i++)
		if (k->live[i].channel == channel)
			return &k->live[i];
	ck_abort_msg("no entry for channel %#x", channel);
	return NULL;
}

static uint64_t now_s(const struct fixture *f)
{
	return f->h.clock.us / 1000000u;
}

static int request_once(struct fixture *f, uint16_t method, uint16_t channel, const char *peer,
			uint32_t lifetime)
{
	struct turn_addr a;

	dh_begin(&f->c, method, STUN_CLASS_REQUEST);
	if (peer) {
		ck_assert_int_eq(turn_addr_parse(peer, 0, &a), 0);
		if (channel)
			stun_build_channel(&f->c.b, channel);
		stun_build_xor_addr(&f->c.b, TURN_ATTR_XOR_PEER_ADDRESS, &a);
	} else {
		stun_build_u32(&f->c.b, TURN_ATTR_LIFETIME, lifetime);
	}
	dh_sign(&f->c);
	ck_assert_int_eq(dh_deliver(&f->c, &f->p), NET_MSG_DONE);
	return dh_answer(&f->c, &f->p);
}

/* A request, again with the fresh nonce when the last one aged (438). */
static int request(struct fixture *f, uint16_t method, uint16_t channel, const char *peer,
		   uint32_t lifetime)
{
	int rc = request_once(f, method, channel, peer, lifetime);

	return rc == STUN_ERR_STALE_NONCE ? request_once(f, method, channel, peer, lifetime) : rc;
}

static int chan_bind(struct fixture *f, uint16_t channel, const char *peer)
{
	return request(f, TURN_METHOD_CHANNEL_BIND, channel, peer, 0);
}

/* A ChannelBind from another client of f's worker. */
static int chan_bind_as(struct fixture *f, struct dh_client *c, uint16_t channel, const char *peer)
{
	struct dh_client mine = f->c;

	f->c = *c;
	int rc = chan_bind(f, channel, peer);
	*c = f->c;
	f->c = mine;
	return rc;
}

static int refresh(struct fixture *f, uint32_t lifetime)
{
	return request(f, TURN_METHOD_REFRESH, 0, NULL, lifetime);
}

/* A bound channel is installed with the 5-tuple, the relay's bound
 * address and the expiries: to the peer while the channel and the
 * allocation hold, to the client while the permission also does. Each
 * refresh moves them; the entry count follows. */
START_TEST(bound_channel_installed_with_expiries)
{
	struct fixture f;
	struct turn_addr peer;
	char t[TURN_ADDR_STRLEN];

	up(&f, NULL, NET_PATH_UDP);
	ck_assert_uint_eq(f.k.puts, 0);
	uint64_t t0 = now_s(&f);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.n_live, 1);
	ck_assert_uint_eq(f.h.w->offload.entries, 1);
	const struct offload_chan *e = &f.k.live[0];
	ck_assert_int_eq(turn_addr_parse(PEER, 0, &peer), 0);
	ck_assert(turn_addr_eq(&e->peer, &peer));
	ck_assert(turn_addr_eq(&e->client, &f.c.tuple.client));
	ck_assert(turn_addr_eq(&e->listen, &f.c.tuple.local));
	ck_assert_str_eq(turn_addr_format(&e->relay, false, t, sizeof(t)), "127.0.0.1");
	ck_assert_uint_ge(e->relay.port, 40000);
	ck_assert_uint_eq(e->channel, 0x4000);
	ck_assert_uint_ne(e->alloc_id, 0);
	ck_assert(!e->bucket);
	/* Allocation and channel: 600 s; the permission: 300 s. */
	ck_assert_uint_eq(e->to_peer_expires_ns, (t0 + 600) * 1000000000ull);
	ck_assert_uint_eq(e->to_client_expires_ns, (t0 + 300) * 1000000000ull);
	/* A channel bound later ends with the allocation. */
	dh_advance(&f.h, 100 * 1000);
	ck_assert_int_eq(chan_bind(&f, 0x4001, PEER2), 0);
	ck_assert_uint_eq(f.k.n_live, 2);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4001)->to_peer_expires_ns, (t0 + 600) * 1000000000ull);
	/* A refresh of the allocation lets the channel's own expiry rule. */
	ck_assert_int_eq(refresh(&f, 3600), 0);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4001)->to_peer_expires_ns, (t0 + 700) * 1000000000ull);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4000)->to_peer_expires_ns, (t0 + 600) * 1000000000ull);
	/* A new permission moves the way back only. */
	ck_assert_int_eq(request(&f, TURN_METHOD_CREATE_PERMISSION, 0, PEER, 0), 0);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4000)->to_client_expires_ns,
			  (t0 + 400) * 1000000000ull);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4000)->to_peer_expires_ns, (t0 + 600) * 1000000000ull);
	/* Rebinding refreshes the channel (and its permission). */
	dh_advance(&f.h, 50 * 1000);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4000)->to_peer_expires_ns, (t0 + 750) * 1000000000ull);
	ck_assert_uint_eq(fk_entry(&f.k, 0x4000)->to_client_expires_ns,
			  (t0 + 450) * 1000000000ull);
	ck_assert_uint_eq(f.h.w->offload.entries, 2);
	ck_assert_uint_eq(f.k.dels, 0);
	dh_down(&f.h);
	/* The stop removed everything (CLOSING from the core's free). */
	ck_assert_uint_eq(f.k.n_live, 0);
	ck_assert_uint_eq(f.k.forgets, 1);
}
END_TEST

/* A DTLS client stays in user space: nothing is installed. */
START_TEST(dtls_client_stays_in_user_space)
{
	struct fixture f;

	up(&f, NULL, NET_PATH_DTLS);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.puts, 0);
	ck_assert_uint_eq(f.k.next_id, 0);
	ck_assert_uint_eq(f.h.w->offload.entries, 0);
	dh_down(&f.h);
	ck_assert_uint_eq(f.k.forgets, 0);
}
END_TEST

/* bps-capacity or user-max-bps: budgets shared with user space, which the
 * kernel cannot draw from: nothing is installed (docs/OFFLOAD.md). */
START_TEST(shared_caps_stay_in_user_space)
{
	const char *confs[] = { "bps-capacity = 1000000\n", "user-max-bps = 100000\n" };

	for (int i = 0; i < 2; i++) {
		struct fixture f;
		up(&f, confs[i], NET_PATH_UDP);
		ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
		ck_assert_uint_eq(f.k.puts, 0);
		ck_assert_uint_eq(f.h.w->offload.entries, 0);
		dh_tick(&f.h);
		ck_assert_uint_eq(f.k.n_live, 0);
		dh_down(&f.h);
	}
}
END_TEST

/* A user with a rate of its own (the backend's max_bps, as the HTTP
 * hook gives it), with no server-wide cap: her budget is shared with user
 * space, so her allocations install nothing, and entries installed while
 * she had none go at the next tick; a user without one is not held back. */
START_TEST(user_rate_stays_in_user_space)
{
	struct fixture f;
	struct dh_client bob;

	up_rate(&f, NULL, NET_PATH_UDP, 100000);
	struct user_usage_entry *e = user_usage_attach(f.h.usage, "alice", 0);
	ck_assert_uint_eq(bw_share_rate(user_usage_budget(e)), 100000);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.puts, 0);
	ck_assert_uint_eq(f.h.w->offload.entries, 0);
	dh_client_init(&bob, &f.h, "bob", 4001);
	ck_assert_int_eq(dh_allocate(&bob, &f.p, 0), 0);
	ck_assert_int_eq(chan_bind_as(&f, &bob, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.n_live, 1);
	/* Her rate lifted: the next change installs both her channels; a
	 * rate again: the tick removes hers and keeps bob's. */
	user_usage_set_rate(f.h.usage, e, 0);
	ck_assert_int_eq(chan_bind(&f, 0x4001, PEER2), 0);
	ck_assert_uint_eq(f.k.n_live, 3);
	user_usage_set_rate(f.h.usage, e, 100000);
	dh_tick(&f.h);
	ck_assert_uint_eq(f.k.n_live, 1);
	ck_assert_uint_eq(f.h.w->offload.entries, 1);
	ck_assert_uint_ne(f.k.live[0].alloc_id, 0);
	ck_assert(turn_addr_eq(&f.k.live[0].client, &bob.tuple.client));
	user_usage_detach(f.h.usage, e, 0);
	dh_down(&f.h);
}
END_TEST

/* The tick folds what the kernel relayed since the last fold; the end of
 * the allocation removes its entries, hands the rest to the core (in its
 * counters before the DELETED event) and forgets its counter. */
START_TEST(traffic_folded_at_tick_and_end)
{
	struct fixture f;
	const struct turn_server_stats *s;

	up(&f, NULL, NET_PATH_UDP);
	s = turn_server_stats(f.h.w->srv);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	f.k.traffic = (struct offload_count){ 2, 200, 3, 300, 0 };
	dh_advance(&f.h, 1000);
	dh_tick(&f.h);
	ck_assert_uint_eq(s->relayed_to_peer, 2);
	ck_assert_uint_eq(s->bytes_to_peer, 200);
	ck_assert_uint_eq(s->relayed_to_client, 3);
	ck_assert_uint_eq(s->bytes_to_client, 300);
	dh_tick(&f.h); /* nothing new: nothing added */
	ck_assert_uint_eq(s->relayed_to_peer, 2);
	f.k.traffic = (struct offload_count){ 5, 500, 4, 350, 1 };
	ck_assert_int_eq(refresh(&f, 0), 0);
	ck_assert_uint_eq(s->relayed_to_peer, 5);
	ck_assert_uint_eq(s->bytes_to_peer, 500);
	ck_assert_uint_eq(s->relayed_to_client, 4);
	ck_assert_uint_eq(s->bytes_to_client, 350);
	ck_assert_uint_eq(s->bandwidth_drops, 1);
	ck_assert_uint_eq(f.k.n_live, 0);
	ck_assert_uint_eq(f.k.forgets, 1);
	ck_assert_uint_eq(f.h.w->offload.entries, 0);
	ck_assert_uint_eq(f.h.w->offload.count, 0);
	dh_down(&f.h);
	ck_assert_uint_eq(f.k.forgets, 1);
}
END_TEST

/* An entry whose channel expired goes at the next tick; draining removes
 * every entry at the tick and installs none. */
START_TEST(tick_drops_expired_and_drain_empties)
{
	struct fixture f;

	up(&f, NULL, NET_PATH_UDP);
	ck_assert_int_eq(refresh(&f, 3600), 0);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	dh_advance(&f.h, 300 * 1000);
	ck_assert_int_eq(chan_bind(&f, 0x4001, PEER2), 0);
	ck_assert_uint_eq(f.k.n_live, 2);
	dh_advance(&f.h, 300 * 1000);
	dh_tick(&f.h);
	ck_assert_uint_eq(f.k.n_live, 1);
	ck_assert_uint_eq(f.k.live[0].channel, 0x4001);
	ck_assert_uint_eq(f.h.w->offload.entries, 1);
	/* A change later does not bring the expired channel back. */
	ck_assert_int_eq(request(&f, TURN_METHOD_CREATE_PERMISSION, 0, PEER2, 0), 0);
	ck_assert_uint_eq(f.k.n_live, 1);
	quota_set_draining(&f.h.quota, true);
	dh_tick(&f.h);
	ck_assert_uint_eq(f.k.n_live, 0);
	ck_assert_uint_eq(f.h.w->offload.entries, 0);
	/* What the kernel relayed until its entries went is still folded. */
	const struct turn_server_stats *st = turn_server_stats(f.h.w->srv);
	uint64_t before = st->relayed_to_peer;
	f.k.traffic = (struct offload_count){ 1, 10, 0, 0, 0 };
	dh_tick(&f.h);
	ck_assert_uint_eq(st->relayed_to_peer, before + 1);
	unsigned puts = f.k.puts;
	ck_assert_int_eq(chan_bind(&f, 0x4001, PEER2), 0);
	ck_assert_uint_eq(f.k.puts, puts);
	ck_assert_uint_eq(f.k.n_live, 0);
	dh_down(&f.h);
}
END_TEST

/* With max-bps the kernel's bucket is set before any entry names it; when
 * the kernel cannot hold the bucket the channels stay in user space. */
START_TEST(max_bps_bucket_first)
{
	struct fixture f;

	up(&f, "max-bps = 125000\n", NET_PATH_UDP);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.n_live, 1);
	ck_assert(f.k.live[0].bucket);
	ck_assert_uint_eq(f.k.rate, 125000);
	ck_assert_uint_eq(f.k.put_before_bucket, 0);
	dh_down(&f.h);

	up(&f, "max-bps = 125000\n", NET_PATH_UDP);
	f.k.bucket_fails = true;
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.puts, 0);
	dh_down(&f.h);
}
END_TEST

/* A put the kernel refuses leaves the channel in user space, and an
 * older version of the entry is removed rather than left behind. */
START_TEST(refused_put_removes_older_entry)
{
	struct fixture f;

	up(&f, NULL, NET_PATH_UDP);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.n_live, 1);
	f.k.put_fails = true;
	dh_advance(&f.h, 10 * 1000);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	ck_assert_uint_eq(f.k.n_live, 0);
	ck_assert_uint_eq(f.h.w->offload.entries, 0);
	dh_down(&f.h);
}
END_TEST

/* ChannelData that reaches user space is counted, bound or not. */
START_TEST(user_channeldata_counted)
{
	struct fixture f;
	uint8_t pkt[16];

	up(&f, NULL, NET_PATH_UDP);
	ck_assert_int_eq(chan_bind(&f, 0x4000, PEER), 0);
	long n = turn_chandata_build(pkt, sizeof(pkt), 0x4000, (const uint8_t *)"abcd", 4, false);
	ck_assert_int_gt(n, 0);
	dispatch_up.message(f.h.w, pkt, (size_t)n, &f.c.tuple, &f.p.path);
	pkt[1] = 0x07; /* channel 0x4007: not bound */
	dispatch_up.message(f.h.w, pkt, (size_t)n, &f.c.tuple, &f.p.path);
	ck_assert_uint_eq(f.h.w->stats.user_channeldata, 2);
	ck_assert_uint_eq(f.h.w->stats.chandata_dropped, 1);
	dh_down(&f.h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offload_sync");
	TCase *t = tcase_create("offload_sync");

	tcase_add_test(t, bound_channel_installed_with_expiries);
	tcase_add_test(t, dtls_client_stays_in_user_space);
	tcase_add_test(t, shared_caps_stay_in_user_space);
	tcase_add_test(t, user_rate_stays_in_user_space);
	tcase_add_test(t, traffic_folded_at_tick_and_end);
	tcase_add_test(t, tick_drops_expired_and_drain_empties);
	tcase_add_test(t, max_bps_bucket_first);
	tcase_add_test(t, refused_put_removes_older_entry);
	tcase_add_test(t, user_channeldata_counted);
	suite_add_tcase(s, t);
	return run_suite(s);
}
