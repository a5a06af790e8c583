/*
 * The kernel fast path when turnd was built without libbpf (configure:
 * clang, libbpf-dev and bpftool not found): offload_open says so, and no
 * other call is reached without a struct offload.
 */
#include "net/offload.h"

#include <stdio.h>
#include <string.h>

int offload_open(const struct offload_params *p, struct offload **out, char *why, size_t cap)
{
	*out = NULL;
	if (p->mode == OFFLOAD_OFF) {
		snprintf(why, cap, "kernel-offload = off");
		return 0;
	}
	snprintf(why, cap, "turnd was built without the eBPF fast path (clang, libbpf-dev and bpftool at configure)");
	return p->mode == OFFLOAD_ON ? -1 : 0;
}

void offload_close(struct offload *o) { (void)o; }
void offload_heartbeat(struct offload *o, uint64_t now_ns, uint64_t ttl_ns) { (void)o; (void)now_ns; (void)ttl_ns; }
void offload_refresh_routes(struct offload *o) { (void)o; }
void offload_clear(struct offload *o) { (void)o; }
uint32_t offload_new_id(struct offload *o) { (void)o; return 0; }
int offload_put(struct offload *o, const struct offload_chan *c) { (void)o; (void)c; return -1; }
void offload_del(struct offload *o, const struct offload_chan *c) { (void)o; (void)c; }
int offload_bucket_set(struct offload *o, uint32_t id, uint64_t rate) { (void)o; (void)id; (void)rate; return -1; }
int offload_traffic_read(struct offload *o, uint32_t id, struct offload_count *c) { (void)o; (void)id; (void)c; return -1; }
void offload_alloc_forget(struct offload *o, uint32_t id) { (void)o; (void)id; }

void offload_totals(const struct offload *o, struct offload_totals *t)
{
	(void)o;
	memset(t, 0, sizeof(*t));
}

int offload_map_fd(const struct offload *o, const char *name) { (void)o; (void)name; return -1; }
uint32_t offload_prog_id(const struct offload *o) { (void)o; return 0; }
