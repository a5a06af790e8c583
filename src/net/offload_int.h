/*
 * What the pieces of the kernel fast path's user-space side share
 * (offload.c: load and attach; offload_maps.c: the entries;
 * offload_route.c: the way out). Not for the daemon: it uses offload.h.
 */
#ifndef TURND_NET_OFFLOAD_INT_H
#define TURND_NET_OFFLOAD_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Not offload.h: it is the interface offload.c implements, and a header of
 * net/ includes no module that includes it back (tests/layering.sh). */
#define OFFLOAD_INT_FB_SLOTS 4 /* >= OFFLOAD_FB__COUNT (checked in offload.c) */

struct turnd_offload;

/* Where our clsact filter sits on every interface (the fallback from
 * tcx): fixed, so a crashed turnd's filter is found and replaced. */
#define OFFLOAD_TC_HANDLE 0x7475u /* "tu" */
#define OFFLOAD_TC_PRIORITY 0x15u /* issue 15 */

/* One interface the program is attached to. */
struct offload_iface {
	int ifindex;
	int link_fd;       /* tcx link, or -1 (tc filter) */
	bool tc;           /* attached as a clsact filter */
	bool made_qdisc;   /* we created the clsact qdisc: destroy it on close */
};

struct offload {
	struct turnd_offload *skel;
	int fd_c2p, fd_p2c, fd_traffic, fd_buckets, fd_cfg, fd_stats;
	int ncpus;
	unsigned max_entries;
	struct offload_iface *ifs; /* fixed after offload_open */
	unsigned n_ifs;
	atomic_uint next_id;
	atomic_ullong entries;
	atomic_ullong fallbacks[OFFLOAD_INT_FB_SLOTS]; /* by enum offload_fallback */
};

/* The way out towards dst (from src, the local address the packet leaves
 * from; src may be NULL): 0 with the egress interface and the MTU of the
 * route (its mtu metric, else the device's), or -1 (no route, or not a
 * unicast route through an interface: a local destination). */
struct offload_way {
	uint32_t ifindex;
	uint32_t mtu;
};
int offload_route_get(uint8_t family, const uint8_t *dst, const uint8_t *src,
		      struct offload_way *w);

/* True when ifindex is an interface the program is attached to. */
bool offload_attached(const struct offload *o, uint32_t ifindex);

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns. */
uint64_t offload_now_ns(void);

#endif
