/*
 * The kernel fast path (TC ingress, clsact): ChannelData of a bound
 * channel from a UDP client becomes a UDP datagram from the relayed
 * address to the peer, and a peer's datagram becomes ChannelData to the
 * client, without waking user space. offload_abi.h has the maps.
 *
 * Placeholder: passes every packet (the program arrives with issue 15).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

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

SEC("tc")
int turnd_offload(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
