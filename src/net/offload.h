/*
 * The kernel fast path, user space's side (issue 15; docs/OFFLOAD.md):
 * load the TC program (src/bpf/offload.bpf.c), attach it to the
 * interfaces that carry client and peer traffic, and keep its maps: one
 * entry per bound channel and direction, a traffic counter and, with
 * max-bps, a token bucket per allocation, a heartbeat.
 *
 * One struct offload per daemon, shared by the workers: every call is
 * thread-safe (map updates are system calls; the id and entry counters
 * are atomic). Built without libbpf (configure), offload_open says so and
 * the rest is never reached.
 */
#ifndef TURND_NET_OFFLOAD_H
#define TURND_NET_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

enum offload_mode { OFFLOAD_OFF, OFFLOAD_AUTO, OFFLOAD_ON };

struct offload_params {
	enum offload_mode mode;
	/* Interfaces to attach to (names), or none: every interface that
	 * holds one of addrs, or with a wildcard among them every Ethernet
	 * interface that is up; never loopback. */
	const char *const *ifnames;
	size_t n_ifnames;
	const struct turn_addr *addrs; /* listening and relay addresses */
	size_t n_addrs;
	unsigned max_entries; /* channels offloaded at once */
};

struct offload;

/*
 * Load and attach. Returns 0 with *out set (loaded) or NULL (mode off, or
 * auto where the kernel, the build or the privileges do not allow it: why
 * says what, for one log line); -1 when mode on cannot load (why says
 * what). Call before privileges are dropped.
 */
int offload_open(const struct offload_params *p, struct offload **out, char *why, size_t cap);
/* Detach and free. NULL is a no-op. */
void offload_close(struct offload *o);

/* The heartbeat: the program forwards until now_ns + ttl_ns only. */
void offload_heartbeat(struct offload *o, uint64_t now_ns, uint64_t ttl_ns);

/* Resolve again the way out of every installed entry (egress interface
 * and MTU): call when routes may have changed, and now and then (the
 * daemon: every 10 s). Entries whose destination has no route through an
 * attached interface any more are removed (user space relays them). */
void offload_refresh_routes(struct offload *o);

/* Remove every channel of every worker now (a drain: user space relays
 * from the next datagram on; the workers forget their records at their
 * next tick, deleting what is already gone). */
void offload_clear(struct offload *o);

/* A new allocation id (never 0), for the maps keyed by allocation. */
uint32_t offload_new_id(struct offload *o);

/* One bound channel, both directions. Expiries in CLOCK_MONOTONIC ns. */
struct offload_chan {
	struct turn_addr client, listen; /* the allocation's 5-tuple (UDP) */
	struct turn_addr relay, peer;    /* same family as client */
	uint16_t channel;
	uint32_t alloc_id;
	uint64_t to_peer_expires_ns;   /* the channel's binding, the allocation's end */
	uint64_t to_client_expires_ns; /* also the permission for the peer's IP */
	bool bucket;                   /* the allocation has a token bucket */
};

/* Install or update both directions: 0, or -1 when it stays in user space
 * (map full, no route, a way out the program is not attached to), counted
 * as a fallback by reason. */
int offload_put(struct offload *o, const struct offload_chan *c);
/* Remove both directions (what is not there is ignored). */
void offload_del(struct offload *o, const struct offload_chan *c);

/* The allocation's token bucket at rate bytes/s (0: remove it). */
int offload_bucket_set(struct offload *o, uint32_t alloc_id, uint64_t rate);

/* What the kernel relayed for the allocation, summed over CPUs, since its
 * counter was made: 0, or -1 when there is none. */
struct offload_count {
	uint64_t pkts_to_peer, bytes_to_peer, pkts_to_client, bytes_to_client, bw_drops;
};
int offload_traffic_read(struct offload *o, uint32_t alloc_id, struct offload_count *c);
/* Forget the allocation's counter and bucket. */
void offload_alloc_forget(struct offload *o, uint32_t alloc_id);

/* For /metrics. */
enum offload_fallback { OFFLOAD_FB_MAP_FULL, OFFLOAD_FB_ROUTE, OFFLOAD_FB__COUNT };
struct offload_totals {
	bool loaded;
	unsigned interfaces;
	uint64_t entries;                       /* channels installed now */
	uint64_t stats[16];                     /* enum offload_stat of offload_abi.h */
	uint64_t fallbacks[OFFLOAD_FB__COUNT];
};
void offload_totals(const struct offload *o, struct offload_totals *t);

/* For tests and diagnostics: a map's descriptor by its name in
 * offload_abi.h (or -1), and the loaded program's id (or 0). */
int offload_map_fd(const struct offload *o, const char *name);
uint32_t offload_prog_id(const struct offload *o);

#endif
