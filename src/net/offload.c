/*
 * The kernel fast path, user space's side (offload.h): load the TC
 * program, pick the interfaces and attach to their ingress, and the
 * per-daemon upkeep (heartbeat, ids, totals). The entries are in
 * offload_maps.c, the way out in offload_route.c.
 *
 * Attaching: a tcx link first (kernel 6.6 and later), which the kernel
 * detaches by itself when the process ends; else (EINVAL: older kernels,
 * e.g. Debian 12's 6.1) a filter on the clsact qdisc at our own handle
 * and priority, which outlives a crashed turnd, so a stale one is removed
 * before attaching. The environment variable TURND_OFFLOAD_ATTACH=tc
 * forces the clsact filter (the tests use it to cover the fallback on a
 * kernel that has tcx); =tcx forbids the fallback.
 */
#include "net/offload.h"
#include "net/offload_int.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/offload.skel.h"
#include "bpf/offload_abi.h"
#include "util/log.h"

#define OFFLOAD_TCX_INGRESS 46 /* BPF_TCX_INGRESS: not in Debian 12's uapi headers */

/* libbpf's messages go to our log: warnings as warnings, the rest (its
 * chatter about every map and relocation) at debug level, and so do the
 * kernel's netlink messages it relays for an error it returns to us (a
 * qdisc or filter not there yet is expected; we report what fails). */
static int offload_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (level == LIBBPF_WARN && !strstr(line, "Kernel error message"))
		log_warn("%s", line);
	else
		log_debug("%s", line);
	return 0;
}

_Static_assert(OFFLOAD_FB__COUNT <= OFFLOAD_INT_FB_SLOTS, "struct offload counts every fallback");

bool offload_attached(const struct offload *o, uint32_t ifindex)
{
	for (unsigned i = 0; i < o->n_ifs; i++)
		if ((uint32_t)o->ifs[i].ifindex == ifindex)
			return true;
	return false;
}

static int offload_add_if(struct offload *o, int ifindex)
{
	if (offload_attached(o, (uint32_t)ifindex))
		return 0;
	if ((o->n_ifs & (o->n_ifs + 1)) == 0) { /* 0, 1, 3, 7...: full, double */
		struct offload_iface *more = realloc(o->ifs, (2 * o->n_ifs + 1) * sizeof(*more));
		if (!more)
			return -1;
		o->ifs = more;
	}
	o->ifs[o->n_ifs++] = (struct offload_iface){ .ifindex = ifindex, .link_fd = -1 };
	return 0;
}

/* ifa's address is one of p->addrs (or p->addrs has a wildcard). */
static bool offload_if_holds(const struct offload_params *p, const struct sockaddr *sa)
{
	for (size_t i = 0; i < p->n_addrs; i++) {
		const struct turn_addr *a = &p->addrs[i];
		if (turn_addr_is_any(a))
			return true;
		if (!sa)
			continue;
		if (sa->sa_family == AF_INET && a->family == TURN_AF_INET &&
		    memcmp(&((const struct sockaddr_in *)sa)->sin_addr, a->ip, 4) == 0)
			return true;
		if (sa->sa_family == AF_INET6 && a->family == TURN_AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, a->ip, 16) == 0)
			return true;
	}
	return false;
}

/* Up, not loopback, Ethernet: the AF_PACKET entry of getifaddrs has the
 * hardware type (sysfs would show the namespace it was mounted in). */
static bool offload_if_usable(const struct ifaddrs *all, const char *name)
{
	for (const struct ifaddrs *i = all; i; i = i->ifa_next) {
		if (strcmp(i->ifa_name, name) != 0 || !i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET)
			continue;
		const struct sockaddr_ll *ll = (const struct sockaddr_ll *)i->ifa_addr;
		return (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK) &&
		       ll->sll_hatype == ARPHRD_ETHER;
	}
	return false;
}

static int offload_pick_by_addr(struct offload *o, const struct offload_params *p)
{
	struct ifaddrs *all;
	int rc = 0;

	if (getifaddrs(&all) < 0)
		return -1;
	for (struct ifaddrs *i = all; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6 &&
				     i->ifa_addr->sa_family != AF_PACKET))
			continue;
		const struct sockaddr *sa = i->ifa_addr->sa_family == AF_PACKET ? NULL : i->ifa_addr;
		if (offload_if_holds(p, sa) && offload_if_usable(all, i->ifa_name) &&
		    offload_add_if(o, (int)if_nametoindex(i->ifa_name)) < 0)
			rc = -1;
	}
	freeifaddrs(all);
	return rc;
}

static int offload_pick(struct offload *o, const struct offload_params *p, char *why, size_t cap)
{
	for (size_t i = 0; i < p->n_ifnames; i++) {
		unsigned idx = if_nametoindex(p->ifnames[i]);
		if (idx == 0) {
			snprintf(why, cap, "no interface %s", p->ifnames[i]);
			return -1;
		}
		if (offload_add_if(o, (int)idx) < 0) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
	}
	if (p->n_ifnames == 0 && offload_pick_by_addr(o, p) < 0) {
		snprintf(why, cap, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	if (o->n_ifs == 0) {
		snprintf(why, cap, "no interface holds a listening or relay address");
		return -1;
	}
	return 0;
}

static struct bpf_tc_hook offload_hook(int ifindex)
{
	return (struct bpf_tc_hook){ .sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex,
				     .attach_point = BPF_TC_INGRESS };
}

static int offload_attach_tc(struct offload_iface *f, int prog_fd)
{
	struct bpf_tc_hook hook = offload_hook(f->ifindex);
	struct bpf_tc_opts mine = { .sz = sizeof(mine), .handle = OFFLOAD_TC_HANDLE,
				    .priority = OFFLOAD_TC_PRIORITY };

	int err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	f->made_qdisc = err == 0;
	bpf_tc_detach(&hook, &mine); /* a crashed turnd's filter, if any */
	mine.prog_fd = prog_fd;
	err = bpf_tc_attach(&hook, &mine);
	if (err) {
		if (f->made_qdisc) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return err;
	}
	f->tc = true;
	return 0;
}

static int offload_attach_one(struct offload_iface *f, int prog_fd, const char *method)
{
	if (!method || strcmp(method, "tc") != 0) {
		LIBBPF_OPTS(bpf_link_create_opts, opts);
		int fd = bpf_link_create(prog_fd, f->ifindex, OFFLOAD_TCX_INGRESS, &opts);
		if (fd >= 0) {
			f->link_fd = fd;
			return 0;
		}
		int err = -errno;
		if (err != -EINVAL || (method && strcmp(method, "tcx") == 0))
			return err;
	}
	return offload_attach_tc(f, prog_fd);
}

static void offload_detach(struct offload *o)
{
	for (unsigned i = 0; i < o->n_ifs; i++) {
		struct offload_iface *f = &o->ifs[i];
		if (f->link_fd >= 0)
			close(f->link_fd);
		if (f->tc) {
			struct bpf_tc_hook hook = offload_hook(f->ifindex);
			struct bpf_tc_opts mine = { .sz = sizeof(mine), .handle = OFFLOAD_TC_HANDLE,
						    .priority = OFFLOAD_TC_PRIORITY };
			bpf_tc_detach(&hook, &mine);
			if (f->made_qdisc) {
				hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
				bpf_tc_hook_destroy(&hook);
			}
		}
		f->link_fd = -1;
		f->tc = false;
	}
}

static int offload_attach(struct offload *o, char *why, size_t cap)
{
	int prog_fd = bpf_program__fd(o->skel->progs.turnd_offload);
	const char *method = getenv("TURND_OFFLOAD_ATTACH");

	for (unsigned i = 0; i < o->n_ifs; i++) {
		int err = offload_attach_one(&o->ifs[i], prog_fd, method);
		if (err) {
			char name[IF_NAMESIZE] = "?";
			if_indextoname((unsigned)o->ifs[i].ifindex, name);
			snprintf(why, cap, "attaching to %s: %s", name, strerror(-err));
			return -1;
		}
	}
	return 0;
}

static int offload_load(struct offload *o, const struct offload_params *p, char *why, size_t cap)
{
	libbpf_set_print(offload_libbpf_print);
	o->skel = turnd_offload__open();
	if (!o->skel) {
		snprintf(why, cap, "opening the eBPF object: %s", strerror(errno));
		return -1;
	}
	unsigned n = p->max_entries ? p->max_entries : 1;
	struct bpf_map *sized[] = { o->skel->maps.offload_c2p, o->skel->maps.offload_p2c,
				    o->skel->maps.offload_traffic, o->skel->maps.offload_buckets };
	for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++)
		bpf_map__set_max_entries(sized[i], n);
	int err = turnd_offload__load(o->skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			snprintf(why, cap, "no privileges to load the eBPF program (needs CAP_BPF and CAP_NET_ADMIN)");
		else
			snprintf(why, cap, "the eBPF program did not load: %s", strerror(-err));
		return -1;
	}
	o->max_entries = n;
	o->fd_c2p = bpf_map__fd(o->skel->maps.offload_c2p);
	o->fd_p2c = bpf_map__fd(o->skel->maps.offload_p2c);
	o->fd_traffic = bpf_map__fd(o->skel->maps.offload_traffic);
	o->fd_buckets = bpf_map__fd(o->skel->maps.offload_buckets);
	o->fd_cfg = bpf_map__fd(o->skel->maps.offload_cfg);
	o->fd_stats = bpf_map__fd(o->skel->maps.offload_stats);
	o->ncpus = libbpf_num_possible_cpus();
	if (o->ncpus <= 0) {
		snprintf(why, cap, "counting the CPUs: %s", strerror(-o->ncpus));
		return -1;
	}
	return 0;
}

int offload_open(const struct offload_params *p, struct offload **out, char *why, size_t cap)
{
	*out = NULL;
	if (p->mode == OFFLOAD_OFF) {
		snprintf(why, cap, "kernel-offload = off");
		return 0;
	}
	struct offload *o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(why, cap, "out of memory");
		return p->mode == OFFLOAD_ON ? -1 : 0;
	}
	atomic_init(&o->next_id, 0);
	atomic_init(&o->entries, 0);
	if (offload_load(o, p, why, cap) < 0 || offload_pick(o, p, why, cap) < 0 ||
	    offload_attach(o, why, cap) < 0) {
		offload_close(o);
		return p->mode == OFFLOAD_ON ? -1 : 0;
	}
	*out = o;
	return 0;
}

void offload_close(struct offload *o)
{
	if (!o)
		return;
	offload_detach(o);
	turnd_offload__destroy(o->skel);
	free(o->ifs);
	free(o);
}

void offload_heartbeat(struct offload *o, uint64_t now_ns, uint64_t ttl_ns)
{
	uint32_t key = 0;
	struct offload_cfg cfg = { .alive_until_ns = now_ns + ttl_ns };

	bpf_map_update_elem(o->fd_cfg, &key, &cfg, BPF_ANY);
}

uint32_t offload_new_id(struct offload *o)
{
	uint32_t id;

	do /* 0 means none; the counter wraps after 2^32 allocations */
		id = atomic_fetch_add(&o->next_id, 1) + 1;
	while (id == 0);
	return id;
}

int offload_map_fd(const struct offload *o, const char *name)
{
	return bpf_object__find_map_fd_by_name(o->skel->obj, name);
}

uint32_t offload_prog_id(const struct offload *o)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(o->skel->progs.turnd_offload), &info, &len) < 0)
		return 0;
	return info.id;
}

void offload_totals(const struct offload *o, struct offload_totals *t)
{
	memset(t, 0, sizeof(*t));
	if (!o)
		return;
	t->loaded = true;
	t->interfaces = o->n_ifs;
	struct offload *m = (struct offload *)o; /* atomic_load wants it writable */
	t->entries = atomic_load(&m->entries);
	for (int f = 0; f < OFFLOAD_FB__COUNT; f++)
		t->fallbacks[f] = atomic_load(&m->fallbacks[f]);
	uint64_t *v = calloc((size_t)o->ncpus, sizeof(*v));
	if (!v)
		return;
	for (uint32_t k = 0; k < OFFLOAD_ST__COUNT && k < 16; k++) {
		if (bpf_map_lookup_elem(o->fd_stats, &k, v) < 0)
			continue;
		for (int c = 0; c < o->ncpus; c++)
			t->stats[k] += v[c];
	}
	free(v);
}
