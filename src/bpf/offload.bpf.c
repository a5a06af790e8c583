/*
 * The kernel fast path (TC ingress, clsact or tcx): ChannelData of a bound
 * channel from a UDP client becomes a UDP datagram from the relayed
 * address to the peer (RFC 8656 section 12.4), and a peer's datagram
 * becomes ChannelData to the client (section 12.5), without waking user
 * space. offload_abi.h has the maps; user space (net/offload.c) fills them
 * and stays the authority: whatever this program does not fully
 * understand goes up untouched, and it does exactly what the core would
 * (src/turn/datapath.c) with what it forwards.
 *
 * skb->data starts at the Ethernet header. The application data never
 * moves: the headers in front of it are rewritten in place (room added or
 * removed between the IP and UDP headers), and the UDP checksum is updated
 * incrementally from the one the sender computed (RFC 1624), so data
 * corrupted on the way in stays detectably corrupt on the way out.
 *
 * Only uapi headers and libbpf's helpers: no vmlinux.h, no CO-RE, so the
 * object loads on any kernel from 5.10 (bpf_redirect_neigh) on.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "offload_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct offload_c2p_key);
	__type(value, struct offload_c2p);
} offload_c2p SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct offload_p2c_key);
	__type(value, struct offload_p2c);
} offload_p2c SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct offload_traffic);
} offload_traffic SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct offload_bucket);
} offload_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offload_cfg);
} offload_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OFFLOAD_ST__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} offload_stats SEC(".maps");

/* Not in the uapi headers (RFC 791 section 3.1 flags, in frag_off). */
#define OFFLOAD_IP_DF 0x4000
#define OFFLOAD_IP_MF 0x2000
#define OFFLOAD_IP_OFFSET 0x1fff

#define OFFLOAD_IP4_HLEN 20 /* ihl 5: bpf_skb_adjust_room assumes it */
#define OFFLOAD_IP6_HLEN 40 /* no extension headers, for the same reason */
#define OFFLOAD_UDP_HLEN 8
#define OFFLOAD_CD_HLEN 4 /* channel number, length: RFC 8656 section 12.4 */
#define OFFLOAD_MAX_PAD 3 /* RFC 8656 section 12.5: to a multiple of four */
#define OFFLOAD_TTL 64
#define OFFLOAD_NSEC_PER_SEC 1000000000ull

/* Stores keep skb->csum right for CHECKSUM_COMPLETE skbs, and the flow
 * hash is stale once the addresses change. */
#define OFFLOAD_STORE_FLAGS (BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)

/* What the program's checks ask for: go on, or pass up counting this. */
#define OFFLOAD_GO OFFLOAD_ST__COUNT

/*
 * The bytes a UDP checksum covers besides the application data, laid out
 * so that one bpf_csum_diff takes a packet's out and puts the new ones in:
 * the pseudo header (RFC 768; RFC 8200 section 8.1), the UDP header with
 * its checksum zero, the ChannelData header, and the padding. IPv4's
 * pseudo header and IPv6's add up to the same sum (zero words add
 * nothing), so one layout serves both: addresses zero-padded to 16 bytes,
 * the protocol and the length as 32-bit words. Whatever a packet does not
 * have (a ChannelData header, padding) stays zero and adds nothing.
 */
struct offload_csum_view {
	__u8 src[16];
	__u8 dst[16];
	__be32 proto;
	__be32 len;
	__be16 sport;
	__be16 dport;
	__be16 ulen;
	__be16 check0;
	__u8 cd[OFFLOAD_CD_HLEN];
	__u8 tail[8]; /* the padding at its 16-bit positions, zeros around it */
};

#define OFFLOAD_PSEUDO_LEN 40 /* src, dst, proto, len: the pseudo header */

/* One packet on its way: what was parsed, what it becomes, and the entry
 * that allowed it (copied: user space may delete it meanwhile). */
struct offload_plan {
	struct offload_csum_view old;
	struct offload_csum_view new;
	__u8 head[OFFLOAD_CD_HLEN]; /* the UDP payload's first bytes, if any */
	__u8 family;
	__u8 ip_hlen;
	__u8 to_peer;
	__u8 trim; /* padding to drop, client -> peer */
	__u16 udp_len; /* the datagram as received, host order */
	__u16 data_len; /* application data: what the core counts */
	__be16 check; /* the datagram's UDP checksum */
	__be16 channel;
	__u32 alloc_id;
	__u32 ifindex;
	__u32 mtu;
	__u32 flags;
	__u64 expires_ns;
};

static __always_inline void offload_stat_add(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&offload_stats, &idx);

	if (c)
		*c += n;
}

/* RFC 1071: fold a 32-bit ones' complement sum to 16 bits. */
static __always_inline __u16 offload_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* ---- Parsing: every packet on the host comes here, so it stays cheap. */

static __always_inline int offload_parse_ip4(struct offload_plan *pl, void *l3, void *end)
{
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > end)
		return -1;
	if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return -1;
	if (ip->frag_off & bpf_htons(OFFLOAD_IP_MF | OFFLOAD_IP_OFFSET))
		return -1;
	if (bpf_ntohs(ip->tot_len) < OFFLOAD_IP4_HLEN + OFFLOAD_UDP_HLEN)
		return -1;
	pl->family = OFFLOAD_AF_INET;
	pl->ip_hlen = OFFLOAD_IP4_HLEN;
	pl->udp_len = bpf_ntohs(ip->tot_len) - OFFLOAD_IP4_HLEN;
	__builtin_memcpy(pl->old.src, &ip->saddr, 4);
	__builtin_memcpy(pl->old.dst, &ip->daddr, 4);
	return 0;
}

static __always_inline int offload_parse_ip6(struct offload_plan *pl, void *l3, void *end)
{
	struct ipv6hdr *ip6 = l3;

	if ((void *)(ip6 + 1) > end)
		return -1;
	/* Extension headers (and jumbograms) go up: adjust_room needs the
	 * UDP header right after the fixed one. */
	if (ip6->version != 6 || ip6->nexthdr != IPPROTO_UDP)
		return -1;
	if (bpf_ntohs(ip6->payload_len) < OFFLOAD_UDP_HLEN)
		return -1;
	pl->family = OFFLOAD_AF_INET6;
	pl->ip_hlen = OFFLOAD_IP6_HLEN;
	pl->udp_len = bpf_ntohs(ip6->payload_len);
	__builtin_memcpy(pl->old.src, &ip6->saddr, 16);
	__builtin_memcpy(pl->old.dst, &ip6->daddr, 16);
	return 0;
}

/*
 * An unfragmented UDP datagram whose length fields agree. The headers are
 * read in the linear part, where every driver puts them; one that does not
 * (or a frame shorter than its IP length says) goes up.
 */
static __always_inline int offload_parse(struct __sk_buff *skb, struct offload_plan *pl)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	void *head;

	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		if (offload_parse_ip4(pl, eth + 1, end))
			return -1;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		if (offload_parse_ip6(pl, eth + 1, end))
			return -1;
	} else {
		return -1;
	}
	udp = data + ETH_HLEN + pl->ip_hlen;
	if ((void *)(udp + 1) > end || bpf_ntohs(udp->len) != pl->udp_len)
		return -1;
	if (ETH_HLEN + pl->ip_hlen + pl->udp_len > skb->len)
		return -1;
	pl->old.sport = udp->source;
	pl->old.dport = udp->dest;
	pl->old.ulen = udp->len;
	pl->old.proto = bpf_htonl(IPPROTO_UDP);
	pl->old.len = bpf_htonl(pl->udp_len);
	pl->check = udp->check;
	if (pl->udp_len < OFFLOAD_UDP_HLEN + OFFLOAD_CD_HLEN)
		return 0;
	head = (void *)(udp + 1);
	if (head + OFFLOAD_CD_HLEN <= end)
		__builtin_memcpy(pl->head, head, OFFLOAD_CD_HLEN);
	else if (bpf_skb_load_bytes(skb, ETH_HLEN + pl->ip_hlen + OFFLOAD_UDP_HLEN, pl->head,
				    OFFLOAD_CD_HLEN))
		return -1;
	return 0;
}

/* ---- The entries. */

/*
 * Client -> peer: a ChannelData message (RFC 8656 section 12.4: the first
 * two bits 01, a channel number 0x4000 through 0x7FFF as far as the
 * first byte tells) on a client's 5-tuple with that channel bound.
 */
static __always_inline int offload_find_c2p(struct offload_plan *pl)
{
	struct offload_c2p_key k;
	const struct offload_c2p *e;

	if (pl->udp_len < OFFLOAD_UDP_HLEN + OFFLOAD_CD_HLEN || (pl->head[0] & 0xc0) != 0x40)
		return 0;
	__builtin_memset(&k, 0, sizeof(k));
	k.family = pl->family;
	__builtin_memcpy(&k.channel, pl->head, 2);
	k.client_port = pl->old.sport;
	k.listen_port = pl->old.dport;
	__builtin_memcpy(k.client_ip, pl->old.src, 16);
	__builtin_memcpy(k.listen_ip, pl->old.dst, 16);
	e = bpf_map_lookup_elem(&offload_c2p, &k);
	if (!e)
		return 0;
	pl->to_peer = 1;
	__builtin_memcpy(pl->new.src, e->relay_ip, 16);
	__builtin_memcpy(pl->new.dst, e->peer_ip, 16);
	pl->new.sport = e->relay_port;
	pl->new.dport = e->peer_port;
	pl->alloc_id = e->alloc_id;
	pl->expires_ns = e->expires_ns;
	pl->ifindex = e->ifindex;
	pl->mtu = e->mtu;
	pl->flags = e->flags;
	return 1;
}

/* Peer -> client: a datagram to a relayed address from a peer that has a
 * channel (user space keys it only while the permission holds too). */
static __always_inline int offload_find_p2c(struct offload_plan *pl)
{
	struct offload_p2c_key k;
	const struct offload_p2c *e;

	__builtin_memset(&k, 0, sizeof(k));
	k.family = pl->family;
	k.relay_port = pl->old.dport;
	k.peer_port = pl->old.sport;
	__builtin_memcpy(k.relay_ip, pl->old.dst, 16);
	__builtin_memcpy(k.peer_ip, pl->old.src, 16);
	e = bpf_map_lookup_elem(&offload_p2c, &k);
	if (!e)
		return 0;
	pl->to_peer = 0;
	__builtin_memcpy(pl->new.src, e->listen_ip, 16);
	__builtin_memcpy(pl->new.dst, e->client_ip, 16);
	pl->new.sport = e->listen_port;
	pl->new.dport = e->client_port;
	pl->channel = e->channel;
	pl->alloc_id = e->alloc_id;
	pl->expires_ns = e->expires_ns;
	pl->ifindex = e->ifindex;
	pl->mtu = e->mtu;
	pl->flags = e->flags;
	return 1;
}

/* ---- The checks, in order; each failure sends the packet up untouched. */

/* User space's word: the heartbeat, the entry's time, and no GRO packet
 * (its segments would need splitting, which is user space's job). */
static __always_inline __u32 offload_check_entry(struct __sk_buff *skb,
						 const struct offload_plan *pl, __u64 now)
{
	__u32 zero = 0;
	const struct offload_cfg *cfg = bpf_map_lookup_elem(&offload_cfg, &zero);

	if (!cfg || cfg->alive_until_ns <= now)
		return OFFLOAD_ST_PASS_STALE;
	if (pl->expires_ns <= now)
		return OFFLOAD_ST_PASS_EXPIRED;
	if (skb->gso_segs > 1)
		return OFFLOAD_ST_PASS_GSO;
	return OFFLOAD_GO;
}

/*
 * RFC 8656 section 12.4: a length beyond the datagram is dropped (user
 * space does it); section 12.5: over UDP up to 3 bytes of padding may
 * follow the data, which are not relayed. More than that is not a
 * ChannelData message this program vouches for: user space decides.
 */
static __always_inline __u32 offload_check_chandata(struct offload_plan *pl)
{
	__u32 payload = pl->udp_len - OFFLOAD_UDP_HLEN;
	__u32 len = ((__u32)pl->head[2] << 8) | pl->head[3];

	if (OFFLOAD_CD_HLEN + len > payload)
		return OFFLOAD_ST_PASS_MALFORMED;
	if (payload - OFFLOAD_CD_HLEN - len > OFFLOAD_MAX_PAD)
		return OFFLOAD_ST_PASS_PADDING;
	pl->data_len = len;
	pl->trim = payload - OFFLOAD_CD_HLEN - len;
	__builtin_memcpy(pl->old.cd, pl->head, OFFLOAD_CD_HLEN);
	return OFFLOAD_GO;
}

/*
 * A checksum we can update. A CHECKSUM_PARTIAL skb (from a socket on this
 * host, over a veth or lo) carries the folded pseudo-header sum, not a
 * checksum, and __sk_buff does not show ip_summed: such a value goes up
 * (a genuine checksum equal to it, 1 in 65536, just takes the slow way).
 * IPv6 forbids a zero checksum (RFC 8200 section 8.1): the stack drops it.
 */
static __always_inline __u32 offload_check_csum(const struct offload_plan *pl)
{
	__s64 sum;

	if (pl->check == 0)
		return pl->family == OFFLOAD_AF_INET ? OFFLOAD_GO : OFFLOAD_ST_PASS_CSUM;
	sum = bpf_csum_diff(0, 0, (__be32 *)&pl->old, OFFLOAD_PSEUDO_LEN, 0);
	if (sum < 0 || offload_csum_fold((__u32)sum) == pl->check)
		return OFFLOAD_ST_PASS_CSUM;
	return OFFLOAD_GO;
}

/* All the checks, in the order the counters are documented. */
static __always_inline __u32 offload_judge(struct __sk_buff *skb, struct offload_plan *pl,
					   __u64 now)
{
	__u32 st = offload_check_entry(skb, pl, now);

	if (st != OFFLOAD_GO)
		return st;
	if (pl->to_peer) {
		st = offload_check_chandata(pl);
		if (st != OFFLOAD_GO)
			return st;
	} else {
		pl->data_len = pl->udp_len - OFFLOAD_UDP_HLEN;
	}
	st = offload_check_csum(pl);
	if (st != OFFLOAD_GO)
		return st;
	/* The IP packet that leaves: a UDP header and the data, plus the
	 * ChannelData header towards the client. */
	if (pl->ip_hlen + OFFLOAD_UDP_HLEN + (pl->to_peer ? 0 : OFFLOAD_CD_HLEN) + pl->data_len >
	    pl->mtu)
		return OFFLOAD_ST_PASS_MTU;
	return OFFLOAD_GO;
}

/*
 * max-bps: the core's token bucket (turn_bandwidth_take in
 * src/turn/datapath.c), both directions of an allocation together. Tokens
 * are thousandths of a byte, refilled at rate, at most one second's worth;
 * nanoseconds here, so the refill is elapsed * rate / 10^6 (elapsed is
 * capped at a second, so the product fits for any rate below 18 GB/s).
 * Returns 1 to send, 0 to drop, -1 when the bucket is gone (the
 * allocation is being torn down: user space decides).
 */
static __always_inline int offload_bucket_take(__u32 alloc_id, __u32 len, __u64 now)
{
	struct offload_bucket *b = bpf_map_lookup_elem(&offload_buckets, &alloc_id);
	__u64 need = (__u64)len * 1000;
	__u64 full, add;
	int ok;

	if (!b)
		return -1;
	bpf_spin_lock(&b->lock);
	full = b->rate * 1000;
	if (now > b->last_ns) {
		__u64 elapsed = now - b->last_ns;

		if (elapsed > OFFLOAD_NSEC_PER_SEC)
			elapsed = OFFLOAD_NSEC_PER_SEC;
		add = elapsed * b->rate / 1000000;
		b->tokens = b->tokens + add > full ? full : b->tokens + add;
		b->last_ns = now;
	}
	ok = b->rate == 0 || b->tokens >= need;
	if (ok && b->rate)
		b->tokens -= need;
	bpf_spin_unlock(&b->lock);
	return ok;
}

static __always_inline void offload_count_drop(__u32 alloc_id)
{
	struct offload_traffic *t = bpf_map_lookup_elem(&offload_traffic, &alloc_id);

	offload_stat_add(OFFLOAD_ST_BW_DROPS, 1);
	if (t)
		t->bw_drops++;
}

/* ---- The checksum, updated, never summed over the data. */

/*
 * RFC 8656 section 12.5: the padding a client sent is covered by its
 * checksum, so what trimming removes must come out of it. Read the block
 * that ends the datagram, starting at an even offset (8 bytes, or 7 and a
 * zero when the end is odd: the data length may be odd), and keep only
 * the padding bytes: each sits at its 16-bit position in the packet.
 */
static __always_inline int offload_read_padding(struct __sk_buff *skb, struct offload_plan *pl)
{
	__u32 end = ETH_HLEN + pl->ip_hlen + pl->udp_len; /* even at the UDP header */
	__u32 odd = end & 1;
	__u32 keep = 8 - odd - pl->trim; /* leading bytes that are not padding */

	if (odd) {
		if (bpf_skb_load_bytes(skb, end - 7, pl->old.tail, 7))
			return -1;
		pl->old.tail[7] = 0;
	} else if (bpf_skb_load_bytes(skb, end - 8, pl->old.tail, 8)) {
		return -1;
	}
#pragma unroll
	for (__u32 i = 0; i < 8; i++)
		if (i < keep)
			pl->old.tail[i] = 0;
	return 0;
}

/*
 * The new datagram's checksum (RFC 1624): from the old one, take out the
 * old pseudo header, UDP header, ChannelData header and padding, put in
 * the new ones; the data between is the same bytes at the same 16-bit
 * positions (the headers in front of it are 8 or 12 bytes). RFC 768: an
 * IPv4 datagram sent without a checksum (0) keeps none, and a computed 0
 * is sent as 0xFFFF.
 */
static __always_inline int offload_new_check(struct offload_plan *pl, __be16 *check)
{
	__s64 sum;
	__u16 c;

	if (pl->check == 0) {
		*check = 0;
		return 0;
	}
	sum = bpf_csum_diff((__be32 *)&pl->old, sizeof(pl->old), (__be32 *)&pl->new,
			    sizeof(pl->new), (__u16)~pl->check);
	if (sum < 0)
		return -1;
	c = ~offload_csum_fold((__u32)sum);
	*check = c ? c : 0xffff;
	return 0;
}

/* Fill in the new headers' view and compute the checksum the new UDP
 * header carries. Only reads the packet. */
static __always_inline int offload_prepare(struct __sk_buff *skb, struct offload_plan *pl,
					   __be16 *check)
{
	__u16 ulen = OFFLOAD_UDP_HLEN + (pl->to_peer ? 0 : OFFLOAD_CD_HLEN) + pl->data_len;

	pl->new.proto = bpf_htonl(IPPROTO_UDP);
	pl->new.len = bpf_htonl(ulen);
	pl->new.ulen = bpf_htons(ulen);
	if (!pl->to_peer) {
		/* RFC 8656 section 12.5: over UDP, ChannelData to a client is
		 * not padded. */
		__u16 n = bpf_htons(pl->data_len);

		__builtin_memcpy(pl->new.cd, &pl->channel, 2);
		__builtin_memcpy(pl->new.cd + 2, &n, 2);
	}
	if (pl->trim && offload_read_padding(skb, pl))
		return -1;
	return offload_new_check(pl, check);
}

/* ---- The rewrite. */

static __always_inline int offload_store_ip4(struct __sk_buff *skb, const struct offload_plan *pl,
					     __u16 ulen)
{
	struct iphdr ip;
	__s64 sum;

	__builtin_memset(&ip, 0, sizeof(ip));
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = bpf_htons(OFFLOAD_IP4_HLEN + ulen);
	/* DONT-FRAGMENT in effect always: the MTU was checked instead. */
	ip.frag_off = bpf_htons(OFFLOAD_IP_DF);
	ip.ttl = OFFLOAD_TTL;
	ip.protocol = IPPROTO_UDP;
	__builtin_memcpy(&ip.saddr, pl->new.src, 4);
	__builtin_memcpy(&ip.daddr, pl->new.dst, 4);
	sum = bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0);
	if (sum < 0)
		return -1;
	ip.check = ~offload_csum_fold((__u32)sum);
	return bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), OFFLOAD_STORE_FLAGS);
}

static __always_inline int offload_store_ip6(struct __sk_buff *skb, const struct offload_plan *pl,
					     __u16 ulen)
{
	struct ipv6hdr ip6;

	__builtin_memset(&ip6, 0, sizeof(ip6));
	ip6.version = 6;
	ip6.payload_len = bpf_htons(ulen);
	ip6.nexthdr = IPPROTO_UDP;
	ip6.hop_limit = OFFLOAD_TTL;
	__builtin_memcpy(&ip6.saddr, pl->new.src, 16);
	__builtin_memcpy(&ip6.daddr, pl->new.dst, 16);
	return bpf_skb_store_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6), OFFLOAD_STORE_FLAGS);
}

/* The UDP header, and towards the client the ChannelData header after it. */
static __always_inline int offload_store_udp(struct __sk_buff *skb, const struct offload_plan *pl,
					     __be16 check)
{
	struct {
		struct udphdr udp;
		__u8 cd[OFFLOAD_CD_HLEN];
	} h;
	__u32 off = ETH_HLEN + pl->ip_hlen;

	h.udp.source = pl->new.sport;
	h.udp.dest = pl->new.dport;
	h.udp.len = pl->new.ulen;
	h.udp.check = check;
	__builtin_memcpy(h.cd, pl->new.cd, OFFLOAD_CD_HLEN);
	if (pl->to_peer)
		return bpf_skb_store_bytes(skb, off, &h, sizeof(h.udp), OFFLOAD_STORE_FLAGS);
	return bpf_skb_store_bytes(skb, off, &h, sizeof(h), OFFLOAD_STORE_FLAGS);
}

/*
 * Client -> peer: the padding and any Ethernet trailer off the end, then
 * the 4 bytes after the IP header out (BPF_ADJ_ROOM_NET: the first half of
 * the old UDP header; the rest of it and the ChannelData header are
 * overwritten). Peer -> client: 4 bytes in there. The data stays put.
 * Returns 0 done, -1 failed before the packet changed, -2 after.
 */
static __always_inline int offload_rewrite(struct __sk_buff *skb, const struct offload_plan *pl,
					   __be16 check)
{
	__u32 len = ETH_HLEN + pl->ip_hlen + pl->udp_len - pl->trim;
	__u16 ulen = bpf_ntohs(pl->new.ulen);
	int changed = 0;

	if (skb->len != len) {
		if (bpf_skb_change_tail(skb, len, 0))
			return -1;
		changed = 1;
	}
	if (bpf_skb_adjust_room(skb, pl->to_peer ? -OFFLOAD_CD_HLEN : OFFLOAD_CD_HLEN,
				BPF_ADJ_ROOM_NET, 0))
		return changed ? -2 : -1;
	if (pl->family == OFFLOAD_AF_INET) {
		if (offload_store_ip4(skb, pl, ulen))
			return -2;
	} else if (offload_store_ip6(skb, pl, ulen)) {
		return -2;
	}
	if (offload_store_udp(skb, pl, check))
		return -2;
	return 0;
}

/* What the core counts per relayed datagram: packets and application
 * data bytes, in total and per allocation (the per-CPU entry user space
 * made with the allocation's first channel; none yet: not counted). */
static __always_inline void offload_count(const struct offload_plan *pl)
{
	struct offload_traffic *t = bpf_map_lookup_elem(&offload_traffic, &pl->alloc_id);

	if (pl->to_peer) {
		offload_stat_add(OFFLOAD_ST_TO_PEER_PKTS, 1);
		offload_stat_add(OFFLOAD_ST_TO_PEER_BYTES, pl->data_len);
		if (t) {
			t->pkts_to_peer++;
			t->bytes_to_peer += pl->data_len;
		}
	} else {
		offload_stat_add(OFFLOAD_ST_TO_CLIENT_PKTS, 1);
		offload_stat_add(OFFLOAD_ST_TO_CLIENT_BYTES, pl->data_len);
		if (t) {
			t->pkts_to_client++;
			t->bytes_to_client += pl->data_len;
		}
	}
}

/* Once the checks passed: the bucket, the new headers, out. */
static __always_inline int offload_forward(struct __sk_buff *skb, struct offload_plan *pl,
					   __u64 now)
{
	__be16 check;
	int rc;

	if (offload_prepare(skb, pl, &check)) {
		offload_stat_add(OFFLOAD_ST_ERRORS, 1);
		return TC_ACT_OK;
	}
	if (pl->flags & OFFLOAD_F_BUCKET) {
		rc = offload_bucket_take(pl->alloc_id, pl->data_len, now);
		if (rc < 0)
			return TC_ACT_OK;
		if (rc == 0) {
			offload_count_drop(pl->alloc_id);
			return TC_ACT_SHOT;
		}
	}
	rc = offload_rewrite(skb, pl, check);
	if (rc) {
		offload_stat_add(OFFLOAD_ST_ERRORS, 1);
		return rc == -1 ? TC_ACT_OK : TC_ACT_SHOT;
	}
	offload_count(pl);
	/* The way out was resolved by user space (ifindex, MTU); the kernel
	 * routes and resolves the neighbour itself. */
	return bpf_redirect_neigh(pl->ifindex, 0, 0, 0);
}

SEC("tc")
int turnd_offload(struct __sk_buff *skb)
{
	struct offload_plan pl;
	__u64 now;
	__u32 st;

	__builtin_memset(&pl, 0, sizeof(pl));
	if (offload_parse(skb, &pl))
		return TC_ACT_OK;
	if (!offload_find_c2p(&pl) && !offload_find_p2c(&pl))
		return TC_ACT_OK;
	now = bpf_ktime_get_ns();
	st = offload_judge(skb, &pl, now);
	if (st != OFFLOAD_GO) {
		offload_stat_add(st, 1);
		return TC_ACT_OK;
	}
	return offload_forward(skb, &pl, now);
}

char LICENSE[] SEC("license") = "GPL";
