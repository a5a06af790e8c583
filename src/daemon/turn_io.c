/*
 * The core's struct turn_io for one worker (turn_io.h): what an Allocate,
 * a deletion or a datagram asks of the process.
 */
#include "daemon/turn_io.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "daemon/fleet.h"
#include "daemon/quota.h"
#include "daemon/user_usage.h"
#include "daemon/worker.h"
#include "io/clock.h"
#include "net/relay.h"
#include "turn/alloc.h"
#include "util/log.h"

static int turn_io_relay_open(void *ctx, const struct turn_relay_request *req,
			      struct turn_relay **relay, struct turn_addr *addr, uint64_t *token)
{
	struct worker *w = ctx;
	const struct worker_origin *o = req->origin;

	return relay_open(&w->nw, req, o->path, relay, addr, token);
}

static void turn_io_relay_close(void *ctx, struct turn_relay *relay)
{
	struct worker *w = ctx;

	relay_close(&w->nw, relay);
}

static void turn_io_relay_send(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			       const uint8_t *data, size_t len)
{
	struct worker *w = ctx;

	relay_send(&w->nw, relay, peer, data, len);
}

/* Load shedding, the server's and the user's quotas, and the user's
 * across the fleet (the verdict Redis gave this very request). A listener
 * a reload removed takes no new allocation: answered as draining is. */
static int turn_io_quota_take(void *ctx, const char *user, void *origin)
{
	struct worker *w = ctx;
	struct worker_origin *o = origin;
	const struct quota_ask ask = {
		.conf = w->conf, /* this worker's snapshot: shed-* reload */
		.retired = net_path_retired(o->path),
		.fleet_refused = o->verdict == FLEET_REFUSED,
		.user_quota = o->user_quota,
	};
	unsigned count = 0;
	uint64_t seq = 0;
	int rc = quota_take(w->quota, user, &ask, &count, &seq);

	if (rc == 0) {
		o->verdict_used = true;
		fleet_quota_changed(w, user, count, seq);
	}
	return rc;
}

static void turn_io_quota_give(void *ctx, const char *user)
{
	struct worker *w = ctx;
	unsigned count = 0;
	uint64_t seq = 0;

	if (quota_give(w->quota, user, &count, &seq))
		fleet_quota_changed(w, user, count, seq);
}

/* "a" or "a,b" for a dual allocation (RFC 8656 section 7.2). */
static void turn_io_relay_addrs(const struct turn_alloc *a, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < 2 && o < cap; i++) {
		char t[TURN_ADDR_STRLEN];
		if (!a->relay[i].io)
			continue;
		int k = snprintf(out + o, cap - o, "%s%s", o ? "," : "",
				 turn_addr_format(&a->relay[i].addr, true, t, sizeof(t)));
		if (k > 0)
			o += (size_t)k;
	}
	if (!out[0])
		snprintf(out, cap, "-");
}

/* One info line per allocation created and deleted (by Refresh 0, expiry,
 * its TCP connection closing, the stop or an operator), as key=value
 * pairs: the 5-tuple, the user, the relayed address, the traffic each
 * way and, at the end, why it ended. The username is printed escaped: it is data from the client. */
static void turn_io_alloc_log(enum turn_alloc_event ev, const struct turn_alloc *a, uint32_t lifetime)
{
	char user[AUTH_PRINTABLE_MAX], client[TURN_ADDR_STRLEN], server[TURN_ADDR_STRLEN];
	char relay[2 * TURN_ADDR_STRLEN + 2];
	const char *name = a->username ? a->username : "";

	if (log_get_level() < LOG_LVL_INFO)
		return;
	auth_username_printable((const uint8_t *)name, strlen(name), user, sizeof(user));
	turn_addr_format(&a->tuple.client, true, client, sizeof(client));
	turn_addr_format(&a->tuple.local, true, server, sizeof(server));
	turn_io_relay_addrs(a, relay, sizeof(relay));
	const char *transport = a->tuple.transport == TURN_TRANSPORT_TCP ? "tcp" : "udp";
	if (ev == TURN_ALLOC_CREATED)
		log_info("allocation created: user=%s client=%s server=%s transport=%s relay=%s "
			 "lifetime=%" PRIu32,
			 user, client, server, transport, relay, lifetime);
	else
		log_info("allocation deleted: user=%s client=%s server=%s transport=%s relay=%s "
			 "to_peer_bytes=%" PRIu64 " to_peer_packets=%" PRIu64
			 " to_client_bytes=%" PRIu64 " to_client_packets=%" PRIu64 " reason=\"%s\"",
			 user, client, server, transport, relay, a->bytes_out, a->pkts_out,
			 a->bytes_in, a->pkts_in, turn_close_reason_name(a->close_reason));
}

static void turn_io_alloc_event(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
				uint32_t lifetime)
{
	if (ev != TURN_ALLOC_REFRESHED)
		turn_io_alloc_log(ev, a, lifetime);
	fleet_alloc_event(ctx, ev, a, lifetime);
}

static struct offload_sync_now turn_io_offload_now(struct worker *w, uint64_t now_ms)
{
	return (struct offload_sync_now){
		.now_ms = now_ms,
		.draining = quota_draining(w->quota),
		.max_bps = turn_server_max_bps(w->srv),
		/* The worker's snapshot: a reload that sets a cap takes the
		 * entries away on the next tick. */
		.capped = w->conf->bps_capacity || w->conf->user_max_bps,
	};
}

/* What the kernel fast path may relay for a (daemon/offload_sync.c).
 * Without a fast path nothing is done. */
static void turn_io_alloc_sync(void *ctx, const struct turn_alloc *a, enum turn_sync why,
			       struct turn_traffic *carried)
{
	struct worker *w = ctx;

	if (!w->offload.ops)
		return;
	const struct offload_sync_now now = turn_io_offload_now(w, io_clock_ms(w->clock));
	offload_sync_alloc(&w->offload, &now, a, why, carried);
}

void turn_io_offload_tick(struct worker *w, uint64_t now_ms)
{
	if (!w->offload.ops)
		return;
	const struct offload_sync_now now = turn_io_offload_now(w, now_ms);
	offload_sync_tick(&w->offload, w->srv, &now);
}

/* Per-user records (daemon/user_usage.h): the user's entry and budget
 * when an allocation is granted, its traffic folded on the tick and at
 * closing, and let go when it is deleted. The backend's latest word on
 * the user's rate (the HTTP hook's "max_bps", or none) sets the budget
 * every allocation of the user shares. */
static void *turn_io_user_attach(void *ctx, const char *user, uint64_t max_bps,
				 struct bw_share **budget)
{
	struct worker *w = ctx;
	struct user_usage_entry *e = user_usage_attach(w->usage, user, io_clock_ms(w->clock));

	if (e)
		user_usage_set_rate(w->usage, e, max_bps);
	*budget = e ? user_usage_budget(e) : NULL;
	return e;
}

static void turn_io_user_fold(void *ctx, void *user, const struct turn_traffic *d)
{
	const struct user_usage_traffic t = { d->pkts_to_peer, d->bytes_to_peer, d->pkts_to_client,
					      d->bytes_to_client };

	(void)ctx;
	user_usage_add(user, &t);
}

static void turn_io_user_detach(void *ctx, void *user)
{
	struct worker *w = ctx;

	user_usage_detach(w->usage, user, io_clock_ms(w->clock));
}

void turn_io_usage_tick(struct worker *w, uint64_t now_ms)
{
	if (!w->usage)
		return;
	turn_server_fold_usage(w->srv);
	if (w->id != 0)
		return;
	/* One worker keeps the table and writes the events: every worker
	 * folded by its own last tick, so a total is at most a tick old. */
	user_usage_expire(w->usage, now_ms);
	if (!w->conf->usage_interval_s || now_ms < w->next_usage_ms)
		return;
	/* Users gone since the last round get their final entry. */
	fleet_usage_events(w, w->last_usage_ms);
	w->last_usage_ms = now_ms;
	w->next_usage_ms = now_ms + 1000ull * w->conf->usage_interval_s;
}

static int turn_io_tcp_connect(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			       uint32_t *id)
{
	struct worker *w = ctx;

	return tcp_relay_connect(&w->nw, relay, peer, id);
}

static int turn_io_tcp_bind(void *ctx, uint32_t id, const char *user, void *origin)
{
	struct worker *w = ctx;
	const struct worker_origin *o = origin;

	return tcp_relay_bind(&w->nw, id, user, o->path);
}

static void turn_io_tcp_close(void *ctx, uint32_t id)
{
	struct worker *w = ctx;

	tcp_relay_close(&w->nw, id);
}

void turn_io_init(struct turn_io *io, struct worker *w)
{
	*io = (struct turn_io){
		.ctx = w,
		.relay_open = turn_io_relay_open,
		.relay_close = turn_io_relay_close,
		.relay_send = turn_io_relay_send,
		.quota_take = turn_io_quota_take,
		.quota_give = turn_io_quota_give,
		.alloc_event = turn_io_alloc_event,
		.alloc_sync = turn_io_alloc_sync,
		.tcp_connect = turn_io_tcp_connect,
		.tcp_bind = turn_io_tcp_bind,
		.tcp_close = turn_io_tcp_close,
	};
	if (w->usage) {
		io->user_attach = turn_io_user_attach;
		io->user_fold = turn_io_user_fold;
		io->user_detach = turn_io_user_detach;
	}
}
