/*
 * The kernel fast path's maps, shared by the TC program (offload.bpf.c)
 * and user space (net/offload.c): the one place their layout is written.
 *
 * Addresses: 16 bytes, IPv4 in the first 4 (the rest zero). Ports and
 * channel numbers in network byte order, as on the wire, so the program
 * compares without swapping. Times: CLOCK_MONOTONIC nanoseconds
 * (bpf_ktime_get_ns), the clock the core's seconds come from.
 *
 * User space is the authority: it installs an entry when a ChannelBind
 * succeeds and deletes it whenever what allowed it ends. expires_ns and
 * the heartbeat are a second fence: an entry past its time, or any entry
 * once user space stops beating, sends the packet to user space untouched.
 */
#ifndef TURND_BPF_OFFLOAD_ABI_H
#define TURND_BPF_OFFLOAD_ABI_H

#include <linux/bpf.h>
#include <linux/types.h>

#define OFFLOAD_AF_INET 4
#define OFFLOAD_AF_INET6 6

/* Client -> peer: a ChannelData to a listening address (RFC 8656 section
 * 12.4), found by the client's 5-tuple and the channel number. */
struct offload_c2p_key {
	__u8 family; /* OFFLOAD_AF_* */
	__u8 pad;
	__be16 channel;
	__be16 client_port;
	__be16 listen_port;
	__u8 client_ip[16];
	__u8 listen_ip[16];
};

struct offload_c2p {
	__u8 relay_ip[16];
	__u8 peer_ip[16];
	__be16 relay_port;
	__be16 peer_port;
	__u32 alloc_id;    /* offload_traffic and offload_buckets key */
	__u64 expires_ns;  /* the channel's binding (and the allocation's) end */
	__u32 ifindex;     /* where the peer is reached (resolved by user space) */
	__u32 mtu;         /* the largest IP packet that leaves there */
	__u32 flags;       /* OFFLOAD_F_* */
	__u32 pad2;
};

/* Peer -> client: a datagram to a relayed address from a peer with a
 * bound channel (RFC 8656 section 12.5), found by relayed address and
 * peer. */
struct offload_p2c_key {
	__u8 family;
	__u8 pad[3];
	__be16 relay_port;
	__be16 peer_port;
	__u8 relay_ip[16];
	__u8 peer_ip[16];
};

struct offload_p2c {
	__u8 client_ip[16];
	__u8 listen_ip[16];
	__be16 client_port;
	__be16 listen_port;
	__be16 channel;
	__u16 pad;
	__u32 alloc_id;
	__u64 expires_ns;  /* min(channel, permission for the peer's IP, allocation) */
	__u32 ifindex;     /* where the client is reached */
	__u32 mtu;
	__u32 flags;
	__u32 pad2;
};

/* The allocation has a max-bps token bucket in offload_buckets. */
#define OFFLOAD_F_BUCKET 1u

/* Per allocation, per CPU (offload_traffic, key alloc_id): what the kernel
 * relayed. Bytes are application data, as the core counts them. */
struct offload_traffic {
	__u64 pkts_to_peer;
	__u64 bytes_to_peer;
	__u64 pkts_to_client;
	__u64 bytes_to_client;
	__u64 bw_drops; /* over max-bps, dropped */
};

/* Per allocation with max-bps (offload_buckets, key alloc_id): the core's
 * token bucket (turn_bandwidth_take), both directions together: tokens in
 * thousandths of a byte, at most one second's worth. */
struct offload_bucket {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 rate;   /* bytes per second */
	__u64 tokens; /* thousandths of a byte */
	__u64 last_ns;
};

/* offload_cfg, one entry: the heartbeat. Past alive_until_ns every packet
 * goes to user space, so nothing outlives a daemon that stopped beating. */
struct offload_cfg {
	__u64 alive_until_ns;
};

/* offload_stats, a per-CPU array indexed by these. PASS_* count packets
 * that matched an entry but were handed to user space untouched. */
enum offload_stat {
	OFFLOAD_ST_TO_PEER_PKTS,
	OFFLOAD_ST_TO_PEER_BYTES,
	OFFLOAD_ST_TO_CLIENT_PKTS,
	OFFLOAD_ST_TO_CLIENT_BYTES,
	OFFLOAD_ST_BW_DROPS,
	OFFLOAD_ST_PASS_EXPIRED,   /* entry past expires_ns */
	OFFLOAD_ST_PASS_STALE,     /* heartbeat lapsed */
	OFFLOAD_ST_PASS_MALFORMED, /* ChannelData length beyond the datagram */
	OFFLOAD_ST_PASS_PADDING,   /* more than 3 bytes after the data */
	OFFLOAD_ST_PASS_MTU,       /* larger than the way out carries */
	OFFLOAD_ST_PASS_CSUM,      /* checksum not final (CHECKSUM_PARTIAL) */
	OFFLOAD_ST_PASS_GSO,       /* an aggregated (GRO) packet */
	OFFLOAD_ST_ERRORS,         /* a helper failed after the packet changed: dropped */
	OFFLOAD_ST__COUNT,
};

#endif
