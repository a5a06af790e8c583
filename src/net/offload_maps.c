/*
 * The kernel fast path's entries (offload.h): one per bound channel and
 * direction, laid out as offload_abi.h says, each with the way out user
 * space resolved (offload_route.c); the allocations' traffic counters and
 * token buckets. Every call is a map system call or an atomic: the
 * workers call them concurrently.
 */
#include "net/offload.h"
#include "net/offload_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "bpf/offload_abi.h"

static void offload_fallback(struct offload *o, enum offload_fallback why)
{
	atomic_fetch_add(&o->fallbacks[why], 1);
}

static bool offload_full(int err)
{
	return err == E2BIG || err == ENOMEM || err == ENOSPC;
}

static void offload_keys(const struct offload_chan *c, struct offload_c2p_key *ck,
			 struct offload_p2c_key *pk)
{
	uint8_t family = c->client.family == TURN_AF_INET ? OFFLOAD_AF_INET : OFFLOAD_AF_INET6;

	memset(ck, 0, sizeof(*ck));
	ck->family = family;
	ck->channel = htons(c->channel);
	ck->client_port = htons(c->client.port);
	ck->listen_port = htons(c->listen.port);
	memcpy(ck->client_ip, c->client.ip, 16);
	memcpy(ck->listen_ip, c->listen.ip, 16);
	memset(pk, 0, sizeof(*pk));
	pk->family = family;
	pk->relay_port = htons(c->relay.port);
	pk->peer_port = htons(c->peer.port);
	memcpy(pk->relay_ip, c->relay.ip, 16);
	memcpy(pk->peer_ip, c->peer.ip, 16);
}

/* The way out to dst from src, through an interface we are attached to. */
static int offload_way(struct offload *o, uint8_t family, const uint8_t *dst, const uint8_t *src,
		       struct offload_way *w)
{
	static const uint8_t any[16];

	if (offload_route_get(family, dst, memcmp(src, any, 16) ? src : NULL, w) < 0)
		return -1;
	return offload_attached(o, w->ifindex) ? 0 : -1;
}

/* NOEXIST first, so an update of an entry already there is told apart;
 * a delete racing in between (another worker) makes it try again. */
static int offload_upsert(int fd, const void *key, const void *val, bool *created)
{
	for (int tries = 0; tries < 4; tries++) {
		*created = false;
		if (bpf_map_update_elem(fd, key, val, BPF_NOEXIST) == 0) {
			*created = true;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
		if (bpf_map_update_elem(fd, key, val, BPF_EXIST) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
	}
	return -EAGAIN;
}

/* The allocation's counter, zeroed, if it has none yet. */
static int offload_traffic_make(struct offload *o, uint32_t id)
{
	struct offload_traffic *zero = calloc((size_t)o->ncpus, sizeof(*zero));

	if (!zero)
		return -ENOMEM;
	int rc = bpf_map_update_elem(o->fd_traffic, &id, zero, BPF_NOEXIST) == 0 || errno == EEXIST
			 ? 0 : -errno;
	free(zero);
	return rc;
}

static int offload_failed(struct offload *o, int err)
{
	if (offload_full(-err))
		offload_fallback(o, OFFLOAD_FB_MAP_FULL);
	return -1;
}

int offload_put(struct offload *o, const struct offload_chan *c)
{
	struct offload_c2p_key ck;
	struct offload_p2c_key pk;
	struct offload_way to_peer, to_client;

	uint8_t fam = c->client.family;
	if ((fam != TURN_AF_INET && fam != TURN_AF_INET6) || c->peer.family != fam ||
	    c->listen.family != fam || c->relay.family != fam)
		return -1; /* not offloadable (the daemon offers same-family UDP only) */
	offload_keys(c, &ck, &pk);
	if (offload_way(o, ck.family, c->peer.ip, c->relay.ip, &to_peer) < 0 ||
	    offload_way(o, ck.family, c->client.ip, c->listen.ip, &to_client) < 0) {
		offload_fallback(o, OFFLOAD_FB_ROUTE);
		return -1;
	}
	uint32_t flags = c->bucket ? OFFLOAD_F_BUCKET : 0;
	struct offload_c2p cv = { .relay_port = pk.relay_port, .peer_port = pk.peer_port,
				  .alloc_id = c->alloc_id, .expires_ns = c->to_peer_expires_ns,
				  .ifindex = to_peer.ifindex, .mtu = to_peer.mtu, .flags = flags };
	memcpy(cv.relay_ip, pk.relay_ip, 16);
	memcpy(cv.peer_ip, pk.peer_ip, 16);
	struct offload_p2c pv = { .client_port = ck.client_port, .listen_port = ck.listen_port,
				  .channel = ck.channel, .alloc_id = c->alloc_id,
				  .expires_ns = c->to_client_expires_ns, .ifindex = to_client.ifindex,
				  .mtu = to_client.mtu, .flags = flags };
	memcpy(pv.client_ip, ck.client_ip, 16);
	memcpy(pv.listen_ip, ck.listen_ip, 16);

	int err = offload_traffic_make(o, c->alloc_id);
	if (err)
		return offload_failed(o, err);
	bool new_c2p, new_p2c;
	err = offload_upsert(o->fd_c2p, &ck, &cv, &new_c2p);
	if (err)
		return offload_failed(o, err);
	err = offload_upsert(o->fd_p2c, &pk, &pv, &new_p2c);
	if (err) {
		/* Nothing half installed: the channel stays in user space. */
		if (bpf_map_delete_elem(o->fd_c2p, &ck) == 0 && !new_c2p)
			atomic_fetch_sub(&o->entries, 1);
		return offload_failed(o, err);
	}
	if (new_c2p)
		atomic_fetch_add(&o->entries, 1);
	return 0;
}

/* Delete both directions; the count follows the client->peer entry. */
static void offload_del_keys(struct offload *o, const struct offload_c2p_key *ck,
			     const struct offload_p2c_key *pk)
{
	if (bpf_map_delete_elem(o->fd_c2p, ck) == 0)
		atomic_fetch_sub(&o->entries, 1);
	bpf_map_delete_elem(o->fd_p2c, pk);
}

void offload_del(struct offload *o, const struct offload_chan *c)
{
	struct offload_c2p_key ck;
	struct offload_p2c_key pk;

	offload_keys(c, &ck, &pk);
	offload_del_keys(o, &ck, &pk);
}

int offload_bucket_set(struct offload *o, uint32_t alloc_id, uint64_t rate)
{
	if (rate == 0) {
		bpf_map_delete_elem(o->fd_buckets, &alloc_id);
		return 0;
	}
	/* Full at the start, as turn_bandwidth_take's bucket: one second's
	 * worth, in thousandths of a byte. */
	uint64_t full = rate > UINT64_MAX / 1000 ? UINT64_MAX : rate * 1000;
	struct offload_bucket b = { .rate = rate, .tokens = full, .last_ns = offload_now_ns() };
	if (bpf_map_update_elem(o->fd_buckets, &alloc_id, &b, BPF_F_LOCK) == 0)
		return 0;
	if (offload_full(errno))
		offload_fallback(o, OFFLOAD_FB_MAP_FULL);
	return -1;
}

int offload_traffic_read(struct offload *o, uint32_t alloc_id, struct offload_count *c)
{
	struct offload_traffic *v = calloc((size_t)o->ncpus, sizeof(*v));

	memset(c, 0, sizeof(*c));
	if (!v)
		return -1;
	int rc = bpf_map_lookup_elem(o->fd_traffic, &alloc_id, v);
	for (int i = 0; rc == 0 && i < o->ncpus; i++) {
		c->pkts_to_peer += v[i].pkts_to_peer;
		c->bytes_to_peer += v[i].bytes_to_peer;
		c->pkts_to_client += v[i].pkts_to_client;
		c->bytes_to_client += v[i].bytes_to_client;
		c->bw_drops += v[i].bw_drops;
	}
	free(v);
	return rc == 0 ? 0 : -1;
}

void offload_alloc_forget(struct offload *o, uint32_t alloc_id)
{
	bpf_map_delete_elem(o->fd_traffic, &alloc_id);
	bpf_map_delete_elem(o->fd_buckets, &alloc_id);
}
