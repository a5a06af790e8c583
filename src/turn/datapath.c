/*
 * The relay data path (RFC 8656 sections 10-12): ChannelData and Send from
 * clients to peers, and peer data back as ChannelData or Data indications.
 * Runs per packet: no allocation, no logging.
 */
#include "turn/internal.h"

#include <string.h>

#include "turn/policy.h"

bool turn_peer_allowed(const struct turn_server *srv, const struct turn_addr *peer)
{
	return !srv->policy || turn_policy_check(srv->policy, peer) == TURN_PEER_ALLOW;
}

/*
 * Apply a new policy to what allocations already hold (SECURITY.md: a
 * reload applies a changed policy to permissions and channels already
 * made). A permission names an IP (RFC 8656 section 9), so it goes when
 * the policy refuses that IP on every port; a Send indication still asks
 * about its port. A channel and an RFC 6062 connection name IP and port,
 * and go when the policy refuses those: the channel's binding ends now
 * (its number stays reserved for the quiet period, RFC 8656 section 12),
 * the connection is closed. A channel's recheck follows the new policy.
 */
static void sweep_alloc(struct turn_server *srv, struct turn_alloc *a, uint32_t now)
{
	for (uint16_t i = 0; i < a->n_perms; i++) {
		struct turn_perm *p = &a->perms[i];
		struct turn_addr ip = { .family = p->family };
		memcpy(ip.ip, p->ip, sizeof(ip.ip));
		if (turn_policy_check_ip(srv->policy, &ip) != TURN_PEER_ALLOW)
			p->expires = 0;
	}
	for (uint16_t i = 0; i < a->n_channels; i++) {
		struct turn_channel *ch = &a->channels[i];
		if (!turn_peer_allowed(srv, &ch->peer) && ch->expires > now)
			ch->expires = now;
		ch->recheck = turn_policy_live(srv->policy, &ch->peer);
	}
	turn_tcp_sweep(srv, a);
	turn_alloc_sync(srv, a, TURN_SYNC_CHANGED);
}

void turn_server_set_policy(struct turn_server *srv, const struct turn_policy *policy,
			    uint64_t now_ms)
{
	const struct turn_alloc_table *t = &srv->allocs;

	srv->policy = policy;
	if (!policy)
		return; /* every peer allowed */
	for (size_t i = 0; t->buckets && i < t->n_buckets; i++)
		for (struct turn_alloc *a = t->buckets[i]; a; a = a->hash_next)
			if (!a->dead)
				sweep_alloc(srv, a, (uint32_t)(now_ms / 1000));
}

/* A channel bound or refreshed now: whether its ChannelData asks the
 * policy again (turn_policy_live). */
void turn_channel_judged(struct turn_server *srv, struct turn_alloc *a, uint16_t number)
{
	struct turn_channel *ch = turn_channel_slot(a, number);

	if (ch)
		ch->recheck = turn_policy_live(srv->policy, &ch->peer);
}

/*
 * Token bucket per allocation, refilled at max-bps and holding at most one
 * second's worth. Counts both directions together, as an operator's
 * "bandwidth per allocation" does. Tokens are thousandths of a byte, so a
 * refill of less than a byte per millisecond is kept, not rounded away
 * (a rate under 1000 bytes/s would otherwise never refill under steady
 * traffic); elapsed time is capped at the one second a full bucket holds,
 * so the product cannot overflow however long the clock has run.
 */
static bool alloc_bucket_take(struct turn_server *srv, struct turn_alloc *a, size_t len,
			      uint64_t now_ms)
{
	uint64_t rate = srv->max_bps;
	uint64_t full = rate * 1000;

	if (rate == 0)
		return true;
	if (now_ms > a->bucket_ms) {
		uint64_t elapsed = now_ms - a->bucket_ms;
		uint64_t add = (elapsed < 1000 ? elapsed : 1000) * rate;
		a->bucket_tokens = a->bucket_tokens + add > full ? full : a->bucket_tokens + add;
		a->bucket_ms = now_ms;
	}
	if (a->bucket_tokens < (uint64_t)len * 1000)
		return false;
	a->bucket_tokens -= (uint64_t)len * 1000;
	return true;
}

/* Give back what alloc_bucket_take took for a datagram a later cap
 * dropped: the allocation's cap counts what it relayed, not what the
 * server's or the user's refused. */
static void alloc_bucket_refund(const struct turn_server *srv, struct turn_alloc *a, size_t len)
{
	uint64_t full = srv->max_bps * 1000;

	if (srv->max_bps)
		a->bucket_tokens = a->bucket_tokens + (uint64_t)len * 1000 > full
					   ? full
					   : a->bucket_tokens + (uint64_t)len * 1000;
}

/*
 * The three caps, narrowest first: max-bps (the allocation's own bucket),
 * user-max-bps (the user's budget, shared by its allocations on every
 * worker) and bps-capacity (the server's, shared by every worker). The
 * shared ones cost a subtraction per datagram and an atomic operation per
 * chunk (util/bw_share.h). A datagram one cap refuses is not charged to
 * the others.
 */
bool turn_bandwidth_take(struct turn_server *srv, struct turn_alloc *a, size_t len,
			 uint64_t now_ms)
{
	if (!alloc_bucket_take(srv, a, len, now_ms)) {
		srv->stats.bandwidth_drops++;
		return false;
	}
	enum bw_verdict user =
		a->user_bw ? bw_share_take(a->user_bw, &a->user_local, len, now_ms) : BW_FREE;
	if (user == BW_OVER) {
		alloc_bucket_refund(srv, a, len);
		srv->stats.user_bw_drops++;
		return false;
	}
	if (srv->capacity &&
	    bw_share_take(srv->capacity, &srv->capacity_local, len, now_ms) == BW_OVER) {
		alloc_bucket_refund(srv, a, len);
		if (user == BW_TAKEN)
			bw_local_refund(&a->user_local, len);
		srv->stats.capacity_drops++;
		srv->stats.capacity_drop_bytes += len;
		return false;
	}
	return true;
}

/*
 * Application data from the client to peer, for both ways a client sends
 * it (RFC 8656 sections 10.2 and 12.4), once the caller has found what
 * lets it through. What follows is the same for both: the relay of the
 * peer's family (a channel's peer always has one: ChannelBind answers 443
 * otherwise), the bandwidth cap, the send and the counters.
 */
int turn_relay_to_peer(struct turn_server *srv, struct turn_alloc *a, const struct turn_addr *peer,
		       const uint8_t *data, size_t len, uint64_t now_ms)
{
	int slot = peer->family == TURN_AF_INET6 ? 1 : 0;

	if (!a->relay[slot].io) {
		srv->stats.peer_denied++;
		return -1;
	}
	if (!turn_bandwidth_take(srv, a, len, now_ms))
		return -1;
	srv->io->relay_send(srv->io->ctx, a->relay[slot].io, peer, data, len);
	a->pkts_out++;
	a->bytes_out += len;
	srv->stats.relayed_to_peer++;
	srv->stats.bytes_to_peer += len;
	if (a->tuple.transport == TURN_TRANSPORT_TCP) {
		srv->stats.tcp_packets[0]++;
		srv->stats.tcp_bytes[0] += len;
	}
	return 0;
}

/*
 * RFC 8656 section 12.4: data on an unbound channel is dropped. The
 * channel's peer (IP and port, fixed by its ChannelBind) was judged by the
 * policy at ChannelBind and again by every policy change since
 * (turn_server_set_policy sweeps), so it is not asked again here, but for
 * a hairpin peer, whose verdict follows the relay ports in use. A TCP
 * allocation has no channels (ChannelBind answers 400, RFC 6062).
 */
static int client_chandata(struct turn_server *srv, const struct turn_tuple *tuple,
			   const struct turn_chandata *cd, uint64_t now_ms)
{
	uint32_t now = (uint32_t)(now_ms / 1000);
	struct turn_alloc *a = turn_alloc_find(&srv->allocs, tuple);
	const struct turn_channel *ch = a ? turn_channel_by_number(a, cd->channel, now) : NULL;

	if (!ch || (ch->recheck && !turn_peer_allowed(srv, &ch->peer))) {
		srv->stats.peer_denied++;
		return -1;
	}
	return turn_relay_to_peer(srv, a, &ch->peer, cd->data, cd->len, now_ms);
}

int turn_server_chandata(struct turn_server *srv, const struct turn_tuple *tuple,
			 const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	struct turn_chandata cd;

	/* RFC 8656 section 12: channels 0x4000-0x4FFF; RFC 5766's up to
	 * 0x7FFF with legacy-channel-numbers. A malformed one is dropped. */
	if (!srv->io || turn_chandata_parse_upto(pkt, len, srv->max_channel_number, &cd) < 0)
		return -1;
	return client_chandata(srv, tuple, &cd, now_ms);
}

/* ICMP attribute of a Data indication; type 0xff: none (no ICMP type a
 * server relays is 0xff). */
struct icmp_info {
	uint8_t type, code;
	uint32_t data;
};

static int build_data_indication(const struct turn_peer_event *ev, const struct icmp_info *icmp,
				 struct turn_reply *reply)
{
	uint64_t now_ms = ev->now_ms;
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];

	/* An indication's transaction ID need not be random (RFC 8489
	 * section 6: only requests' must be unpredictable); a counter keeps
	 * the core free of randomness. */
	uint64_t seq = ev->alloc->pkts_in;
	for (int i = 0; i < STUN_TID_LEN; i++)
		tid[i] = (uint8_t)((i < 8 ? seq >> (8 * i) : now_ms >> (8 * (i - 8))) & 0xff);
	stun_build_begin(&b, reply->buf, reply->cap, TURN_METHOD_DATA, STUN_CLASS_INDICATION, tid);
	stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, ev->peer);
	if (icmp)
		stun_build_icmp(&b, icmp->type, icmp->code, icmp->data);
	else
		stun_build_attr(&b, TURN_ATTR_DATA, ev->data, ev->len);
	long n = stun_build_end(&b);
	if (n < 0)
		return -1;
	reply->len = (size_t)n;
	return 0;
}

int turn_server_peer_data(struct turn_server *srv, const struct turn_peer_event *ev,
			  struct turn_reply *reply, const struct turn_tuple **to)
{
	struct turn_alloc *a = ev->alloc;
	const struct turn_addr *peer = ev->peer;
	size_t len = ev->len;
	uint64_t now_ms = ev->now_ms;
	uint32_t now = (uint32_t)(now_ms / 1000);

	reply->len = 0;
	/* RFC 8656 section 10.3: without a permission for the peer's IP the
	 * datagram is dropped. */
	if (a->dead || !turn_perm_valid(a, peer, now)) {
		srv->stats.peer_denied++;
		return -1;
	}
	if (!turn_bandwidth_take(srv, a, len, now_ms))
		return -1;
	const struct turn_channel *ch = turn_channel_by_peer(a, peer, now);
	if (ch) {
		bool pad = a->tuple.transport == TURN_TRANSPORT_TCP;
		long n = turn_chandata_build(reply->buf, reply->cap, ch->number, ev->data, len, pad);
		if (n < 0) {
			srv->stats.oversize_to_client++;
			return -1;
		}
		reply->len = (size_t)n;
	} else if (build_data_indication(ev, NULL, reply) < 0) {
		/* The cap is what the client's transport carries (a Data
		 * indication is one STUN message: 65,535 bytes after its
		 * header at most). */
		srv->stats.oversize_to_client++;
		return -1;
	}
	a->pkts_in++;
	a->bytes_in += len;
	srv->stats.relayed_to_client++;
	srv->stats.bytes_to_client += len;
	if (a->tuple.transport == TURN_TRANSPORT_TCP) {
		srv->stats.tcp_packets[1]++;
		srv->stats.tcp_bytes[1] += len;
	}
	*to = &a->tuple;
	return 0;
}

/* RFC 8656 section 11.5: ICMP Destination Unreachable (3) and Time
 * Exceeded (11) for IPv4; Destination Unreachable (1), Packet Too Big (2)
 * and Time Exceeded (3) for ICMPv6. */
static bool icmp_relayed(bool v6, uint8_t type)
{
	return v6 ? type >= 1 && type <= 3 : type == 3 || type == 11;
}

int turn_server_peer_icmp(struct turn_server *srv, const struct turn_peer_event *ev,
			  struct turn_reply *reply, const struct turn_tuple **to)
{
	struct turn_alloc *a = ev->alloc;
	bool v6 = ev->peer->family == TURN_AF_INET6;
	uint8_t type = ev->type;
	struct icmp_info icmp = { type, ev->code, 0 };

	reply->len = 0;
	/* Only the encapsulated destination's IP is checked against the
	 * permissions, never the ICMP packet's source nor the port. */
	if (a->dead || !icmp_relayed(v6, type) ||
	    !turn_perm_valid(a, ev->peer, (uint32_t)(ev->now_ms / 1000)))
		return -1;
	/* RFC 8656 section 18.13: the next hop's MTU for "fragmentation
	 * needed" and "packet too big", zero otherwise. */
	if ((v6 && type == 2) || (!v6 && type == 3 && ev->code == 4))
		icmp.data = ev->info;
	if (build_data_indication(ev, &icmp, reply) < 0)
		return -1;
	srv->stats.icmp_to_client++;
	*to = &a->tuple;
	return 0;
}
