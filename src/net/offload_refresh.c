/*
 * offload_refresh_routes (offload.h): routes change under a running
 * daemon (a link goes down, a route gets an mtu), and the entries carry
 * the way out resolved when they were made. Walk both maps, resolve each
 * destination once per pass, rewrite what moved and remove the channels
 * whose destination is no longer reached through an attached interface
 * (user space relays those).
 */
#include "net/offload.h"
#include "net/offload_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "bpf/offload_abi.h"

/* One destination's answer within a pass. */
struct refresh_slot {
	bool used, ok;
	uint8_t family;
	uint8_t dst[16], src[16];
	struct offload_way way;
};

struct refresh_cache {
	struct refresh_slot *slots;
	size_t mask;
};

static uint32_t refresh_hash(uint8_t family, const uint8_t *dst, const uint8_t *src)
{
	uint32_t h = 2166136261u ^ family;

	for (int i = 0; i < 16; i++)
		h = (h ^ dst[i]) * 16777619u;
	for (int i = 0; i < 16; i++)
		h = (h ^ src[i]) * 16777619u;
	return h;
}

/* The way out, from the cache or the kernel: 0, or -1 when none. */
static int refresh_way(struct offload *o, struct refresh_cache *rc, uint8_t family,
		       const uint8_t *dst, const uint8_t *src, struct offload_way *w)
{
	static const uint8_t any[16];
	size_t i = refresh_hash(family, dst, src) & rc->mask;

	for (size_t n = 0; n <= rc->mask && rc->slots[i].used; n++, i = (i + 1) & rc->mask) {
		struct refresh_slot *s = &rc->slots[i];
		if (s->family == family && !memcmp(s->dst, dst, 16) && !memcmp(s->src, src, 16)) {
			*w = s->way;
			return s->ok ? 0 : -1;
		}
	}
	struct refresh_slot s = { .used = true, .family = family };
	memcpy(s.dst, dst, 16);
	memcpy(s.src, src, 16);
	s.ok = offload_route_get(family, dst, memcmp(src, any, 16) ? src : NULL, &s.way) == 0 &&
	       offload_attached(o, s.way.ifindex);
	if (!rc->slots[i].used)
		rc->slots[i] = s;
	*w = s.way;
	return s.ok ? 0 : -1;
}

/* Every key of the map now (the walk restarts if a key goes away under
 * it, so the keys are taken first and handled after). */
static size_t refresh_keys(int fd, size_t ksize, size_t cap, uint8_t *keys)
{
	size_t n = 0;
	const void *prev = NULL;

	while (n < cap && bpf_map_get_next_key(fd, prev, keys + n * ksize) == 0) {
		prev = keys + n * ksize;
		n++;
	}
	return n;
}

static void refresh_c2p(struct offload *o, struct refresh_cache *rc, const struct offload_c2p_key *k)
{
	struct offload_c2p v;
	struct offload_way w;

	if (bpf_map_lookup_elem(o->fd_c2p, k, &v) < 0)
		return;
	if (refresh_way(o, rc, k->family, v.peer_ip, v.relay_ip, &w) == 0) {
		if (w.ifindex != v.ifindex || w.mtu != v.mtu) {
			v.ifindex = w.ifindex;
			v.mtu = w.mtu;
			bpf_map_update_elem(o->fd_c2p, k, &v, BPF_EXIST);
		}
		return;
	}
	struct offload_p2c_key pk = { .family = k->family, .relay_port = v.relay_port,
				      .peer_port = v.peer_port };
	memcpy(pk.relay_ip, v.relay_ip, 16);
	memcpy(pk.peer_ip, v.peer_ip, 16);
	if (bpf_map_delete_elem(o->fd_c2p, k) == 0)
		atomic_fetch_sub(&o->entries, 1);
	bpf_map_delete_elem(o->fd_p2c, &pk);
}

static void refresh_p2c(struct offload *o, struct refresh_cache *rc, const struct offload_p2c_key *k)
{
	struct offload_p2c v;
	struct offload_way w;

	if (bpf_map_lookup_elem(o->fd_p2c, k, &v) < 0)
		return;
	if (refresh_way(o, rc, k->family, v.client_ip, v.listen_ip, &w) == 0) {
		if (w.ifindex != v.ifindex || w.mtu != v.mtu) {
			v.ifindex = w.ifindex;
			v.mtu = w.mtu;
			bpf_map_update_elem(o->fd_p2c, k, &v, BPF_EXIST);
		}
		return;
	}
	struct offload_c2p_key ck = { .family = k->family, .channel = v.channel,
				      .client_port = v.client_port, .listen_port = v.listen_port };
	memcpy(ck.client_ip, v.client_ip, 16);
	memcpy(ck.listen_ip, v.listen_ip, 16);
	if (bpf_map_delete_elem(o->fd_c2p, &ck) == 0)
		atomic_fetch_sub(&o->entries, 1);
	bpf_map_delete_elem(o->fd_p2c, k);
}

void offload_refresh_routes(struct offload *o)
{
	size_t cap = o->max_entries, size = 1;
	struct offload_c2p_key *ck = calloc(cap, sizeof(*ck));
	struct offload_p2c_key *pk = calloc(cap, sizeof(*pk));
	struct refresh_cache rc = { 0 };

	if (!ck || !pk)
		goto out;
	size_t nc = refresh_keys(o->fd_c2p, sizeof(*ck), cap, (uint8_t *)ck);
	size_t np = refresh_keys(o->fd_p2c, sizeof(*pk), cap, (uint8_t *)pk);
	/* The cache by what is there: at most one destination per key. */
	while (size < 2 * (nc + np))
		size <<= 1;
	rc.slots = calloc(size, sizeof(struct refresh_slot));
	rc.mask = size - 1;
	if (!rc.slots)
		goto out;
	for (size_t i = 0; i < nc; i++)
		refresh_c2p(o, &rc, &ck[i]);
	for (size_t i = 0; i < np; i++)
		refresh_p2c(o, &rc, &pk[i]);
out:
	free(rc.slots);
	free(ck);
	free(pk);
}

void offload_clear(struct offload *o)
{
	size_t cap = o->max_entries;
	struct offload_c2p_key *ck = calloc(cap, sizeof(*ck));
	struct offload_p2c_key *pk = calloc(cap, sizeof(*pk));

	if (ck && pk) {
		size_t nc = refresh_keys(o->fd_c2p, sizeof(*ck), cap, (uint8_t *)ck);
		size_t np = refresh_keys(o->fd_p2c, sizeof(*pk), cap, (uint8_t *)pk);
		for (size_t i = 0; i < nc; i++)
			if (bpf_map_delete_elem(o->fd_c2p, &ck[i]) == 0)
				atomic_fetch_sub(&o->entries, 1);
		for (size_t i = 0; i < np; i++)
			bpf_map_delete_elem(o->fd_p2c, &pk[i]);
	}
	free(ck);
	free(pk);
}
