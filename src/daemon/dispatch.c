/*
 * Dispatch: what a transport hands up (dispatch.h). ChannelData goes to
 * the core's data path; a STUN request is checked on its realm and nonce
 * alone first, then its user's credential is looked up (perhaps parked for
 * Redis), an Allocate gets the fleet's verdict on its user's quota (perhaps
 * parked), and the core decides. Every fact about the request travels as
 * an argument: its path and the verdict in turn_input.origin, where the
 * answer leaves from in the core's result.
 */
#include "daemon/dispatch.h"


#include <openssl/crypto.h>

#include "auth/auth.h"
#include "daemon/control_ban.h"
#include "daemon/fleet.h"
#include "daemon/park.h"
#include "daemon/worker.h"
#include "io/clock.h"
#include "net/nat.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/msg.h"

const uint64_t worker_alloc_bounds_us[WORKER_ALLOC_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

static void dispatch_count_latency(struct worker *w, uint64_t since_us)
{
	uint64_t us = io_clock_us(w->clock) - since_us;
	unsigned i = 0;

	while (i < WORKER_ALLOC_BUCKETS && us > worker_alloc_bounds_us[i])
		i++;
	w->alloc_hist[i]++;
	w->alloc_sum_us += us;
}

/* Over UDP the source may be spoofed: an answer to a request that did not
 * authenticate is reflection, limited per source (unauth-rate). */
static bool dispatch_unauth_ok(struct worker *w, const struct turn_tuple *tuple, uint64_t now_ms)
{
	struct rate_limits lim = { w->conf->unauth_rate, w->conf->unauth_burst };

	if (rate_table_take(&w->unauth, &tuple->client, &lim, now_ms))
		return true;
	w->stats.unauth_suppressed++;
	return false;
}

/* The answer, on the path the request came, or from the address the core
 * chose (RFC 5780 CHANGE-REQUEST, over UDP only). */
static void dispatch_answer(struct worker *w, const struct worker_msg *m,
			    const struct turn_reply *reply, const struct turn_addr *from)
{
	if (from->family && m->path->ops->kind == NET_PATH_UDP)
		nat_send_from(&w->nw, from, reply->buf, reply->len, m->tuple);
	else
		net_path_push(m->path, reply->len, m->tuple);
}

/* RFC 8656 section 12.4: malformed or unbound ChannelData is dropped; the
 * core knows the channel range (legacy-channels). */
static void dispatch_chandata(struct worker *w, const struct worker_msg *m, uint64_t now)
{
	/* What the kernel fast path did not take (docs/OFFLOAD.md). */
	w->stats.user_channeldata++;
	if (turn_server_chandata(w->srv, m->tuple, m->pkt, m->len, now) < 0)
		w->stats.chandata_dropped++;
}

/* The credential, then the fleet: 1 when the request was parked. */
static int dispatch_credential(struct worker *w, const struct worker_msg *m,
			       struct turn_input *in, struct turn_credential *tc,
			       struct auth_credential *ac)
{
	const struct stun_msg *msg = in->msg;

	/* The stateless checks first (realm, nonce MAC and age): a request
	 * that fails them is answered without a backend lookup, a key
	 * derivation or a cache entry (RFC 8489 section 9.2.4). */
	int code = park_needs_credential(msg) ? turn_server_auth(w->srv, in) : -1;
	if (code > 0)
		w->stats.auth_refused_early++;
	if (code != 0)
		return 0;
	if (park_credential(w, msg, m, tc, ac) > 0)
		return 1; /* parked: decided when the backend replies */
	in->cred = tc;
	if (tc->status != 1)
		return 0;
	/* An operator refused this user for a while (turnctl kill-user
	 * --ban): answered as a credential that is not known, 401 (RFC 8489
	 * section 9.2.4), whatever the MAC. It tells the client nothing a
	 * wrong password would not, and clients stop on it where they might
	 * retry on a code they do not know (or on 486, which says "later"). */
	if (w->ban && control_ban_check(w->ban, tc->username, in->now_ms)) {
		tc->status = 0;
		return 0;
	}
	bool verified = turn_server_auth(w->srv, in) == 0;
	/* An answer the backend keeps on probation (a Redis answer no request
	 * has verified yet) becomes a user's once a request verifies with
	 * it: names made up by a client whose MAC is wrong never push the
	 * real users out of the shared cache. */
	if (verified && ac->unconfirmed)
		auth_confirm(w->auth, ac);
	/* The user's quota across the fleet: parked until Redis says. */
	if (verified && fleet_reserve(w, msg, m, ac) > 0)
		return 1;
	return 0;
}

/* The core's decision on msg, answered; false when it was parked. */
static bool dispatch_stun(struct worker *w, const struct worker_msg *m,
			  const struct stun_msg *msg, uint64_t now, bool *verdict_used)
{
	struct turn_credential tc = { 0 };
	struct auth_credential ac;
	bool authenticated = false;
	struct worker_origin origin = { m->path, m->verdict, false, 0 };
	struct turn_input in = { .msg = msg, .tuple = m->tuple, .now_ms = now,
				 .authenticated = &authenticated, .origin = &origin };
	uint64_t since_us = m->since_us ? m->since_us : io_clock_us(w->clock);
	struct worker_msg here = *m;

	here.since_us = since_us; /* it arrived now; a resumed one carries its time */
	int parked = dispatch_credential(w, &here, &in, &tc, &ac);
	if (!parked && tc.status == 1)
		origin.user_quota = ac.limits.quota; /* the backend's word on this user */
	if (!parked) {
		struct turn_reply reply = { net_path_slot(m->path), m->path->ops->slot_len, 0 };
		struct turn_addr from;
		int rc = turn_server_handle_from(w->srv, &in, &reply, &from);
		if (reply.len && m->path->ops->kind == NET_PATH_UDP && !authenticated &&
		    !dispatch_unauth_ok(w, m->tuple, now))
			reply.len = 0;
		if (rc == 0 && reply.len && msg->method == TURN_METHOD_ALLOCATE &&
		    msg->cls == STUN_CLASS_REQUEST)
			dispatch_count_latency(w, since_us);
		if (rc >= 0 && reply.len)
			dispatch_answer(w, m, &reply, &from);
	}
	if (in.cred) { /* the keys found go */
		auth_credential_clear(&ac);
		OPENSSL_cleanse(&tc, sizeof(tc));
	}
	*verdict_used = origin.verdict_used;
	return parked;
}

bool dispatch_decide(struct worker *w, const struct worker_msg *m, bool *verdict_used)
{
	struct stun_msg msg;
	uint64_t now = io_clock_ms(w->clock);

	*verdict_used = false;
	if (turn_chandata_is_chandata(m->pkt, m->len)) {
		dispatch_chandata(w, m, now);
		return false;
	}
	if (stun_msg_parse(&msg, m->pkt, m->len) < 0)
		return false; /* RFC 8489 section 6.3: silently discarded */
	return dispatch_stun(w, m, &msg, now, verdict_used);
}

static enum net_msg_result dispatch_on_message(void *ctx, const uint8_t *pkt, size_t len,
					       const struct turn_tuple *tuple,
					       const struct net_path *path)
{
	struct worker_msg m = { pkt, len, tuple, path, PARK_ANY, 0, FLEET_NONE };
	bool used;

	return dispatch_decide(ctx, &m, &used) ? NET_MSG_PARKED : NET_MSG_DONE;
}

static void dispatch_on_path_gone(void *ctx, const void *t)
{
	park_forget(ctx, t);
}

const struct net_up dispatch_up = {
	.message = dispatch_on_message,
	.path_gone = dispatch_on_path_gone,
};
