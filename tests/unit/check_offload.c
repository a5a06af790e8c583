/*
 * The kernel fast path, user space's side (src/net/offload*.c): loading,
 * picking and attaching to interfaces (tcx, and the clsact fallback),
 * the entries' exact bytes (src/bpf/offload_abi.h) with the way out
 * resolved by the kernel's routes, the fallbacks, buckets, counters and
 * the route refresh. Every test runs in its own network namespace
 * (unshare in Check's forked child) with a veth pair and a dummy
 * interface, so nothing touches the host's interfaces. Needs root.
 *
 * The namespace: v0 10.99.0.1/24 (mtu 1450; clients), v1 10.99.1.1/24
 * (peers; 10.99.7.0/24 routed there with mtu 1300), d0 10.99.2.1/24 and
 * its veth peer d1 without address (no turnd address on either), lo.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/offload_abi.h"
#include "net/offload.h"
#include "net/offload_int.h"

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS */

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "`%s` failed (%d)", cmd, rc);
}

/* Output lines of a command that contain word. */
static int sh_count(const char *cmd, const char *word)
{
	char line[512];
	int n = 0;
	FILE *f = popen(cmd, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, word) != NULL;
	pclose(f);
	return n;
}

static void netns(void)
{
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	sh("ip link set lo up");
	sh("ip link add v0 mtu 1450 type veth peer name v1");
	sh("ip link add d0 type veth peer name d1"); /* no dummy module in containers */
	sh("ip addr add 10.99.0.1/24 dev v0 && ip addr add 10.99.1.1/24 dev v1");
	sh("ip addr add 10.99.2.1/24 dev d0");
	sh("ip link set v0 up && ip link set v1 up && ip link set d0 up && ip link set d1 up");
	sh("ip route add 10.99.7.0/24 dev v1 mtu 1300");
}

static struct turn_addr v4(const char *text, uint16_t port)
{
	struct turn_addr a;

	ck_assert_int_eq(turn_addr_parse(text, port, &a), 0);
	return a;
}

static struct offload *open_on(const struct turn_addr *addrs, size_t n, unsigned max_entries)
{
	struct offload_params p = { .mode = OFFLOAD_ON, .addrs = addrs, .n_addrs = n,
				    .max_entries = max_entries };
	struct offload *o = NULL;
	char why[256] = "";

	ck_assert_msg(offload_open(&p, &o, why, sizeof(why)) == 0, "open: %s", why);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* The relay's usual pair: listening on v0, relaying on v1. */
static struct offload *open_pair(unsigned max_entries)
{
	struct turn_addr a[] = { v4("10.99.0.1", 3478), v4("10.99.1.1", 0) };

	return open_on(a, 2, max_entries);
}

/* Programs attached to the interface's tcx ingress. */
static unsigned tcx_progs(const char *ifname, uint32_t *first)
{
	uint32_t ids[8] = { 0 }, cnt = 8, flags = 0;
	int ifindex = (int)if_nametoindex(ifname);

	ck_assert_int_ne(ifindex, 0);
	ck_assert_int_eq(bpf_prog_query(ifindex, TCX_INGRESS, 0, &flags, ids, &cnt), 0);
	if (first)
		*first = ids[0];
	return cnt;
}

/* The program id of our clsact filter on the interface, or 0. */
static uint32_t tc_prog(const char *ifname)
{
	struct bpf_tc_hook hook = { .sz = sizeof(hook), .ifindex = (int)if_nametoindex(ifname),
				    .attach_point = BPF_TC_INGRESS };
	struct bpf_tc_opts opts = { .sz = sizeof(opts), .handle = OFFLOAD_TC_HANDLE,
				    .priority = OFFLOAD_TC_PRIORITY };

	return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

static unsigned map_keys(struct offload *o, const char *name, size_t ksize)
{
	uint8_t prev[64], key[64];
	unsigned n = 0;
	int fd = offload_map_fd(o, name);

	ck_assert_int_ge(fd, 0);
	for (const void *p = NULL; n < 1000 && bpf_map_get_next_key(fd, p, key) == 0; p = prev, n++)
		memcpy(prev, key, ksize);
	return n;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Client 10.99.0.2:40000 on v0, peer 10.99.7.<n>:6000 behind v1. */
static struct offload_chan chan(struct offload *o, unsigned n)
{
	struct offload_chan c = {
		.client = v4("10.99.0.2", 40000), .listen = v4("10.99.0.1", 3478),
		.relay = v4("10.99.1.1", 50000), .channel = (uint16_t)(0x4000 + n),
		.alloc_id = o ? 7 : 0, .to_peer_expires_ns = 111, .to_client_expires_ns = 222,
		.bucket = true,
	};
	char peer[32];

	snprintf(peer, sizeof(peer), "10.99.7.%u", n);
	c.peer = v4(peer, 6000);
	return c;
}

START_TEST(open_modes_without_interface)
{
	netns();
	struct turn_addr none = v4("10.77.0.1", 3478);
	struct offload_params p = { .mode = OFFLOAD_AUTO, .addrs = &none, .n_addrs = 1,
				    .max_entries = 16 };
	struct offload *o = (struct offload *)&p;
	char why[256] = "";

	ck_assert_int_eq(offload_open(&p, &o, why, sizeof(why)), 0);
	ck_assert_ptr_null(o);
	ck_assert_msg(strstr(why, "no interface") != NULL, "why: %s", why);
	p.mode = OFFLOAD_ON;
	ck_assert_int_eq(offload_open(&p, &o, why, sizeof(why)), -1);
	ck_assert_ptr_null(o);
	p.mode = OFFLOAD_OFF;
	ck_assert_int_eq(offload_open(&p, &o, why, sizeof(why)), 0);
	ck_assert_ptr_null(o);
	const char *names[] = { "nosuch0" };
	p = (struct offload_params){ .mode = OFFLOAD_ON, .ifnames = names, .n_ifnames = 1,
				     .max_entries = 16 };
	ck_assert_int_eq(offload_open(&p, &o, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "nosuch0") != NULL, "why: %s", why);
}
END_TEST

START_TEST(open_attaches_to_the_holder_only_and_close_detaches)
{
	netns();
	struct turn_addr a = v4("10.99.0.1", 3478);
	struct offload *o = open_on(&a, 1, 16);
	uint32_t id = 0;
	struct offload_totals t;

	ck_assert_uint_eq(tcx_progs("v0", &id), 1);
	ck_assert_uint_eq(id, offload_prog_id(o));
	ck_assert_uint_eq(tcx_progs("v1", NULL), 0);
	ck_assert_uint_eq(tcx_progs("d0", NULL), 0);
	ck_assert_uint_eq(tcx_progs("lo", NULL), 0);
	ck_assert_uint_eq(tc_prog("v0"), 0); /* tcx, not the fallback */
	offload_totals(o, &t);
	ck_assert(t.loaded);
	ck_assert_uint_eq(t.interfaces, 1);
	offload_close(o);
	ck_assert_uint_eq(tcx_progs("v0", NULL), 0);
}
END_TEST

START_TEST(open_wildcard_and_names)
{
	netns();
	sh("ip link add x0 type veth peer name x1"); /* down: not picked */
	struct turn_addr any = v4("0.0.0.0", 3478);
	struct offload *o = open_on(&any, 1, 16);
	struct offload_totals t;

	offload_totals(o, &t);
	ck_assert_uint_eq(t.interfaces, 4);
	ck_assert_uint_eq(tcx_progs("v0", NULL) + tcx_progs("v1", NULL) + tcx_progs("d0", NULL) +
				  tcx_progs("d1", NULL), 4);
	ck_assert_uint_eq(tcx_progs("lo", NULL) + tcx_progs("x0", NULL), 0);
	offload_close(o);

	const char *names[] = { "v1" };
	struct offload_params p = { .mode = OFFLOAD_ON, .ifnames = names, .n_ifnames = 1,
				    .addrs = &any, .n_addrs = 1, .max_entries = 16 };
	char why[256];
	ck_assert_int_eq(offload_open(&p, &o, why, sizeof(why)), 0);
	ck_assert_uint_eq(tcx_progs("v1", NULL), 1);
	ck_assert_uint_eq(tcx_progs("v0", NULL) + tcx_progs("d0", NULL), 0);
	offload_close(o);
}
END_TEST

START_TEST(tc_fallback_attaches_and_close_removes)
{
	netns();
	ck_assert_int_eq(setenv("TURND_OFFLOAD_ATTACH", "tc", 1), 0);
	struct offload *o = open_pair(16);

	ck_assert_uint_eq(tc_prog("v0"), offload_prog_id(o));
	ck_assert_uint_eq(tc_prog("v1"), offload_prog_id(o));
	ck_assert_uint_eq(tcx_progs("v0", NULL), 0);
	ck_assert_int_eq(sh_count("tc qdisc show dev v0", "clsact"), 1);
	offload_close(o);
	ck_assert_uint_eq(tc_prog("v0"), 0);
	ck_assert_uint_eq(tc_prog("v1"), 0);
	ck_assert_int_eq(sh_count("tc qdisc show dev v0", "clsact"), 0); /* ours: destroyed */
}
END_TEST

START_TEST(tc_fallback_replaces_a_stale_filter)
{
	netns();
	ck_assert_int_eq(setenv("TURND_OFFLOAD_ATTACH", "tc", 1), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) { /* a turnd that dies without closing */
		struct offload_params p = { .mode = OFFLOAD_ON, .ifnames = (const char *[]){ "v0" },
					    .n_ifnames = 1, .max_entries = 4 };
		struct offload *dead;
		char why[256];
		_exit(offload_open(&p, &dead, why, sizeof(why)) == 0 && dead ? 0 : 1);
	}
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	uint32_t stale = tc_prog("v0");
	ck_assert_uint_ne(stale, 0);

	struct turn_addr a = v4("10.99.0.1", 3478);
	struct offload *o = open_on(&a, 1, 16);
	ck_assert_uint_ne(offload_prog_id(o), stale);
	ck_assert_uint_eq(tc_prog("v0"), offload_prog_id(o));
	ck_assert_int_eq(sh_count("tc filter show dev v0 ingress", "turnd_offload"), 1);
	offload_close(o);
	ck_assert_int_eq(sh_count("tc filter show dev v0 ingress", "turnd_offload"), 0);
	ck_assert_int_eq(sh_count("tc qdisc show dev v0", "clsact"), 1); /* not ours: kept */
}
END_TEST

static const uint8_t ip_client[4] = { 10, 99, 0, 2 }, ip_listen[4] = { 10, 99, 0, 1 },
		     ip_relay[4] = { 10, 99, 1, 1 }, ip_peer3[4] = { 10, 99, 7, 3 };

/* Built byte by byte from offload_abi.h: network order, IPv4 in the first
 * 4 of 16 bytes, the rest zero; the ways out: the peer behind v1 by the
 * route's mtu metric, the client on v0 by the device's MTU. */
static void want_c2p(struct offload_c2p_key *k, struct offload_c2p *v)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	memcpy(&k->channel, "\x40\x03", 2);
	memcpy(&k->client_port, "\x9c\x40", 2); /* 40000 */
	memcpy(&k->listen_port, "\x0d\x96", 2); /* 3478 */
	memcpy(k->client_ip, ip_client, 4);
	memcpy(k->listen_ip, ip_listen, 4);
	memset(v, 0, sizeof(*v));
	memcpy(v->relay_ip, ip_relay, 4);
	memcpy(v->peer_ip, ip_peer3, 4);
	memcpy(&v->relay_port, "\xc3\x50", 2); /* 50000 */
	memcpy(&v->peer_port, "\x17\x70", 2);  /* 6000 */
	v->alloc_id = 7;
	v->expires_ns = 111;
	v->ifindex = if_nametoindex("v1");
	v->mtu = 1300;
	v->flags = OFFLOAD_F_BUCKET;
}

static void want_p2c(struct offload_p2c_key *k, struct offload_p2c *v)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	memcpy(&k->relay_port, "\xc3\x50", 2);
	memcpy(&k->peer_port, "\x17\x70", 2);
	memcpy(k->relay_ip, ip_relay, 4);
	memcpy(k->peer_ip, ip_peer3, 4);
	memset(v, 0, sizeof(*v));
	memcpy(v->client_ip, ip_client, 4);
	memcpy(v->listen_ip, ip_listen, 4);
	memcpy(&v->client_port, "\x9c\x40", 2);
	memcpy(&v->listen_port, "\x0d\x96", 2);
	memcpy(&v->channel, "\x40\x03", 2);
	v->alloc_id = 7;
	v->expires_ns = 222;
	v->ifindex = if_nametoindex("v0");
	v->mtu = 1450;
	v->flags = OFFLOAD_F_BUCKET;
}

START_TEST(put_writes_the_abi_bytes)
{
	netns();
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3);
	struct offload_c2p_key ck;
	struct offload_p2c_key pk;
	struct offload_c2p cv, want_cv;
	struct offload_p2c pv, want_pv;
	struct offload_totals t;

	ck_assert_int_eq(offload_put(o, &c), 0);
	want_c2p(&ck, &want_cv);
	memset(&cv, 0xee, sizeof(cv));
	ck_assert_int_eq(bpf_map_lookup_elem(offload_map_fd(o, "offload_c2p"), &ck, &cv), 0);
	ck_assert_int_eq(memcmp(&cv, &want_cv, sizeof(cv)), 0);
	want_p2c(&pk, &want_pv);
	memset(&pv, 0xee, sizeof(pv));
	ck_assert_int_eq(bpf_map_lookup_elem(offload_map_fd(o, "offload_p2c"), &pk, &pv), 0);
	ck_assert_int_eq(memcmp(&pv, &want_pv, sizeof(pv)), 0);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 1);
	ck_assert_uint_eq(t.fallbacks[OFFLOAD_FB_ROUTE] + t.fallbacks[OFFLOAD_FB_MAP_FULL], 0);
	offload_close(o);
}
END_TEST

START_TEST(put_ipv6_fills_all_16_bytes)
{
	netns();
	sh("ip addr add fd99::1/64 dev v0 nodad && ip addr add fd99:1::1/64 dev v1 nodad");
	sh("ip -6 route add fd99:7::/64 dev v1 mtu 1320");
	struct turn_addr a[] = { v4("fd99::1", 3478), v4("fd99:1::1", 0) };
	struct offload *o = open_on(a, 2, 16);
	struct offload_chan c = {
		.client = v4("fd99::2", 40000), .listen = a[0], .relay = v4("fd99:1::1", 50000),
		.peer = v4("fd99:7::9", 6000), .channel = 0x7ffe, .alloc_id = 9,
		.to_peer_expires_ns = 5, .to_client_expires_ns = 6,
	};
	struct offload_c2p_key ck = { .family = 6 };
	struct offload_p2c_key pk = { .family = 6 };
	struct offload_c2p cv;
	struct offload_p2c pv;

	ck_assert_int_eq(offload_put(o, &c), 0);
	memcpy(&ck.channel, "\x7f\xfe", 2);
	memcpy(&ck.client_port, "\x9c\x40", 2);
	memcpy(&ck.listen_port, "\x0d\x96", 2);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99::2", ck.client_ip), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99::1", ck.listen_ip), 1);
	ck_assert_int_eq(bpf_map_lookup_elem(offload_map_fd(o, "offload_c2p"), &ck, &cv), 0);
	ck_assert_uint_eq(cv.ifindex, if_nametoindex("v1"));
	ck_assert_uint_eq(cv.mtu, 1320);
	uint8_t peer[16];
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:7::9", peer), 1);
	ck_assert_int_eq(memcmp(cv.peer_ip, peer, 16), 0);
	memcpy(&pk.relay_port, "\xc3\x50", 2);
	memcpy(&pk.peer_port, "\x17\x70", 2);
	memcpy(pk.relay_ip, cv.relay_ip, 16);
	memcpy(pk.peer_ip, peer, 16);
	ck_assert_int_eq(bpf_map_lookup_elem(offload_map_fd(o, "offload_p2c"), &pk, &pv), 0);
	ck_assert_uint_eq(pv.ifindex, if_nametoindex("v0"));
	ck_assert_uint_eq(pv.mtu, 1450);
	ck_assert_int_eq(memcmp(pv.client_ip, ck.client_ip, 16), 0);
	c.peer = v4("10.99.7.3", 6000); /* mixed families: never offloaded */
	ck_assert_int_eq(offload_put(o, &c), -1);
	offload_close(o);
}
END_TEST

START_TEST(open_without_privileges_says_which)
{
	netns();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct turn_addr a = { .family = TURN_AF_INET }; /* any */
		struct offload_params p = { .mode = OFFLOAD_AUTO, .addrs = &a, .n_addrs = 1,
					    .max_entries = 4 };
		struct offload *o = NULL;
		char why[256] = "";
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		int rc = offload_open(&p, &o, why, sizeof(why));
		_exit(rc == 0 && !o && strstr(why, "CAP_BPF") && strstr(why, "CAP_NET_ADMIN") ? 0 : 1);
	}
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

START_TEST(put_refuses_ways_out_not_attached)
{
	netns();
	sh("ip route add 10.99.8.0/24 dev d0");
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3);
	struct offload_totals t;
	/* d0, d0 by route, local x2, no route, v1's broadcast (leaves by v1,
	 * but not a unicast route). */
	const char *peers[] = { "10.99.2.5", "10.99.8.8", "10.99.1.1", "127.0.0.5", "10.200.0.1",
				"10.99.1.255" };

	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		c.peer = v4(peers[i], 6000);
		ck_assert_msg(offload_put(o, &c) == -1, "peer %s", peers[i]);
	}
	c = chan(o, 3);
	c.client = v4("10.99.2.9", 40000); /* the client's side counts too */
	ck_assert_int_eq(offload_put(o, &c), -1);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.fallbacks[OFFLOAD_FB_ROUTE], 7);
	ck_assert_uint_eq(t.fallbacks[OFFLOAD_FB_MAP_FULL], 0);
	ck_assert_uint_eq(t.entries, 0);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 0);
	ck_assert_uint_eq(map_keys(o, "offload_p2c", sizeof(struct offload_p2c_key)), 0);
	offload_close(o);
}
END_TEST

START_TEST(del_removes_both_directions)
{
	netns();
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3), d = chan(o, 4);
	struct offload_totals t;

	ck_assert_int_eq(offload_put(o, &c), 0);
	ck_assert_int_eq(offload_put(o, &d), 0);
	offload_del(o, &c);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 1);
	ck_assert_uint_eq(map_keys(o, "offload_p2c", sizeof(struct offload_p2c_key)), 1);
	offload_del(o, &c); /* not there: ignored, not counted */
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 1);
	offload_del(o, &d);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 0);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 0);
	ck_assert_uint_eq(map_keys(o, "offload_p2c", sizeof(struct offload_p2c_key)), 0);
	offload_close(o);
}
END_TEST

/* A drain (offload_clear): every channel of every worker goes at once,
 * and a worker's later offload_del of one is not counted again. */
START_TEST(clear_removes_every_channel)
{
	netns();
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3), d = chan(o, 4);
	struct offload_totals t;

	ck_assert_int_eq(offload_put(o, &c), 0);
	ck_assert_int_eq(offload_put(o, &d), 0);
	offload_clear(o);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 0);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 0);
	ck_assert_uint_eq(map_keys(o, "offload_p2c", sizeof(struct offload_p2c_key)), 0);
	offload_del(o, &c);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 0);
	ck_assert_int_eq(offload_put(o, &c), 0); /* the maps still work */
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 1);
	offload_close(o);
}
END_TEST

START_TEST(full_map_falls_back_whole)
{
	netns();
	struct offload *o = open_pair(2);
	struct offload_chan c1 = chan(o, 1), c2 = chan(o, 2), c3 = chan(o, 3);
	struct offload_totals t;

	ck_assert_int_eq(offload_put(o, &c1), 0);
	ck_assert_int_eq(offload_put(o, &c2), 0);
	ck_assert_int_eq(offload_put(o, &c3), -1); /* client->peer map full */
	offload_totals(o, &t);
	ck_assert_uint_eq(t.fallbacks[OFFLOAD_FB_MAP_FULL], 1);
	ck_assert_uint_eq(t.entries, 2);
	ck_assert_uint_eq(map_keys(o, "offload_p2c", sizeof(struct offload_p2c_key)), 2);

	/* Peer->client full while client->peer has room: the half made is undone. */
	offload_del(o, &c2);
	struct offload_p2c_key junk = { .family = 4, .relay_port = 1 };
	struct offload_p2c junk_v = { .alloc_id = 7 };
	ck_assert_int_eq(bpf_map_update_elem(offload_map_fd(o, "offload_p2c"), &junk, &junk_v,
					     BPF_NOEXIST), 0);
	ck_assert_int_eq(offload_put(o, &c3), -1);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.fallbacks[OFFLOAD_FB_MAP_FULL], 2);
	ck_assert_uint_eq(t.entries, 1);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 1);
	offload_close(o);
}
END_TEST

START_TEST(update_counts_once)
{
	netns();
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3);
	struct offload_totals t;

	ck_assert_int_eq(offload_put(o, &c), 0);
	c.to_peer_expires_ns = 999;
	c.bucket = false;
	ck_assert_int_eq(offload_put(o, &c), 0);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 1);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 1);
	/* The update took: find the entry and read it back. */
	struct offload_c2p_key k;
	struct offload_c2p v;
	int fd = offload_map_fd(o, "offload_c2p");
	ck_assert_int_eq(bpf_map_get_next_key(fd, NULL, &k), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &k, &v), 0);
	ck_assert_uint_eq(v.expires_ns, 999);
	ck_assert_uint_eq(v.flags, 0);
	offload_close(o);
}
END_TEST

START_TEST(bucket_set_update_delete)
{
	netns();
	struct offload *o = open_pair(16);
	int fd = offload_map_fd(o, "offload_buckets");
	uint32_t id = offload_new_id(o);
	struct offload_bucket b;
	uint64_t before = mono_ns();

	ck_assert_int_eq(offload_bucket_set(o, id, 1000), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &id, &b), 0);
	ck_assert_uint_eq(b.rate, 1000);
	ck_assert_uint_eq(b.tokens, 1000000);
	ck_assert(b.last_ns >= before && b.last_ns <= mono_ns());
	ck_assert_int_eq(offload_bucket_set(o, id, 2500), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &id, &b), 0);
	ck_assert_uint_eq(b.rate, 2500);
	ck_assert_uint_eq(b.tokens, 2500000);
	ck_assert_int_eq(offload_bucket_set(o, id, 0), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &id, &b), -ENOENT);
	ck_assert_int_eq(offload_bucket_set(o, id, 10), 0);
	offload_alloc_forget(o, id);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &id, &b), -ENOENT);
	offload_close(o);
}
END_TEST

START_TEST(traffic_sums_cpus)
{
	netns();
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3);
	struct offload_count n;
	int ncpus = libbpf_num_possible_cpus();

	ck_assert_int_eq(offload_traffic_read(o, 7, &n), -1); /* none yet */
	ck_assert_int_eq(offload_put(o, &c), 0);               /* makes it, zeroed */
	ck_assert_int_eq(offload_traffic_read(o, 7, &n), 0);
	ck_assert_uint_eq(n.pkts_to_peer + n.bytes_to_peer + n.pkts_to_client + n.bytes_to_client +
				  n.bw_drops, 0);
	struct offload_traffic *v = calloc((size_t)ncpus, sizeof(*v));
	for (int i = 0; i < ncpus; i++)
		v[i] = (struct offload_traffic){ i + 1, 10 * (i + 1), 100, 1000 + i, i == ncpus - 1 };
	uint32_t id = 7;
	ck_assert_int_eq(bpf_map_update_elem(offload_map_fd(o, "offload_traffic"), &id, v, BPF_EXIST), 0);
	free(v);
	ck_assert_int_eq(offload_traffic_read(o, 7, &n), 0);
	uint64_t tri = (uint64_t)ncpus * (ncpus + 1) / 2;
	ck_assert_uint_eq(n.pkts_to_peer, tri);
	ck_assert_uint_eq(n.bytes_to_peer, 10 * tri);
	ck_assert_uint_eq(n.pkts_to_client, 100 * (uint64_t)ncpus);
	ck_assert_uint_eq(n.bytes_to_client, 1000 * (uint64_t)ncpus + tri - ncpus);
	ck_assert_uint_eq(n.bw_drops, 1);
	ck_assert_int_eq(offload_put(o, &c), 0); /* an existing counter is kept */
	ck_assert_int_eq(offload_traffic_read(o, 7, &n), 0);
	ck_assert_uint_eq(n.pkts_to_peer, tri);
	offload_alloc_forget(o, 7);
	ck_assert_int_eq(offload_traffic_read(o, 7, &n), -1);
	offload_close(o);
}
END_TEST

START_TEST(refresh_follows_routes)
{
	netns();
	struct offload *o = open_pair(16);
	struct offload_chan c = chan(o, 3), d = chan(o, 4);
	int c2p = offload_map_fd(o, "offload_c2p"), p2c = offload_map_fd(o, "offload_p2c");
	struct offload_totals t;

	ck_assert_int_eq(offload_put(o, &c), 0);
	d.peer = v4("10.99.1.9", 6000); /* on v1's own subnet: unaffected */
	ck_assert_int_eq(offload_put(o, &d), 0);
	sh("ip route replace 10.99.7.0/24 dev v0 mtu 1280");
	offload_refresh_routes(o);
	struct offload_c2p_key k, prev;
	struct offload_c2p v;
	unsigned moved = 0, kept = 0;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(bpf_map_get_next_key(c2p, i ? &prev : NULL, &k), 0);
		ck_assert_int_eq(bpf_map_lookup_elem(c2p, &k, &v), 0);
		if (v.peer_ip[2] == 7)
			moved += v.ifindex == if_nametoindex("v0") && v.mtu == 1280;
		else
			kept += v.ifindex == if_nametoindex("v1") && v.mtu == 1500;
		prev = k;
	}
	ck_assert_uint_eq(moved, 1);
	ck_assert_uint_eq(kept, 1);
	sh("ip route del 10.99.7.0/24");
	offload_refresh_routes(o);
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 1);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 1);
	ck_assert_uint_eq(map_keys(o, "offload_p2c", sizeof(struct offload_p2c_key)), 1);
	ck_assert_int_eq(bpf_map_get_next_key(c2p, NULL, &k), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(c2p, &k, &v), 0);
	ck_assert_uint_eq(v.peer_ip[3], 9);
	/* The client's side moving is seen from the peer->client entries. */
	sh("ip link set v0 mtu 1400");
	offload_refresh_routes(o);
	struct offload_p2c_key pk;
	struct offload_p2c pv;
	ck_assert_int_eq(bpf_map_get_next_key(p2c, NULL, &pk), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(p2c, &pk, &pv), 0);
	ck_assert_uint_eq(pv.mtu, 1400);
	offload_close(o);
}
END_TEST

START_TEST(heartbeat_ids_and_stats)
{
	netns();
	struct offload *o = open_pair(16);
	uint32_t key = 0;
	struct offload_cfg cfg;
	int ncpus = libbpf_num_possible_cpus();

	offload_heartbeat(o, 1000000, 3000000000u);
	ck_assert_int_eq(bpf_map_lookup_elem(offload_map_fd(o, "offload_cfg"), &key, &cfg), 0);
	ck_assert_uint_eq(cfg.alive_until_ns, 3001000000u);
	uint32_t a = offload_new_id(o), b = offload_new_id(o);
	ck_assert_uint_ne(a, 0);
	ck_assert_uint_ne(a, b);
	uint64_t *v = calloc((size_t)ncpus, sizeof(*v));
	for (int i = 0; i < ncpus; i++)
		v[i] = 5;
	key = OFFLOAD_ST_PASS_MTU;
	ck_assert_int_eq(bpf_map_update_elem(offload_map_fd(o, "offload_stats"), &key, v, BPF_ANY), 0);
	free(v);
	struct offload_totals t;
	offload_totals(o, &t);
	ck_assert_uint_eq(t.stats[OFFLOAD_ST_PASS_MTU], 5 * (uint64_t)ncpus);
	ck_assert_uint_eq(t.stats[OFFLOAD_ST_TO_PEER_PKTS], 0);
	offload_close(o);
	offload_totals(NULL, &t);
	ck_assert(!t.loaded);
}
END_TEST

/* Workers put and delete at once: the count stays exact. */
struct worker {
	struct offload *o;
	unsigned first;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (unsigned round = 0; round < 20; round++)
		for (unsigned n = w->first; n < w->first + 10; n++) {
			struct offload_chan c = chan(w->o, n);
			if (offload_put(w->o, &c) != 0)
				return arg;
			if (round % 2)
				offload_del(w->o, &c);
		}
	return NULL;
}

START_TEST(concurrent_puts_count_exactly)
{
	netns();
	struct offload *o = open_pair(64);
	struct worker w[4];
	pthread_t th[4];

	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){ .o = o, .first = 1 + 10 * i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		void *rc;
		ck_assert_int_eq(pthread_join(th[i], &rc), 0);
		ck_assert_ptr_null(rc);
	}
	struct offload_totals t;
	offload_totals(o, &t);
	ck_assert_uint_eq(t.entries, 0);
	ck_assert_uint_eq(map_keys(o, "offload_c2p", sizeof(struct offload_c2p_key)), 0);
	offload_close(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("offload");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_modes_without_interface);
	tcase_add_test(tc, open_attaches_to_the_holder_only_and_close_detaches);
	tcase_add_test(tc, open_wildcard_and_names);
	tcase_add_test(tc, tc_fallback_attaches_and_close_removes);
	tcase_add_test(tc, tc_fallback_replaces_a_stale_filter);
	tcase_add_test(tc, put_writes_the_abi_bytes);
	tcase_add_test(tc, put_ipv6_fills_all_16_bytes);
	tcase_add_test(tc, open_without_privileges_says_which);
	tcase_add_test(tc, put_refuses_ways_out_not_attached);
	tcase_add_test(tc, del_removes_both_directions);
	tcase_add_test(tc, clear_removes_every_channel);
	tcase_add_test(tc, full_map_falls_back_whole);
	tcase_add_test(tc, update_counts_once);
	tcase_add_test(tc, bucket_set_update_delete);
	tcase_add_test(tc, traffic_sums_cpus);
	tcase_add_test(tc, refresh_follows_routes);
	tcase_add_test(tc, heartbeat_ids_and_stats);
	tcase_add_test(tc, concurrent_puts_count_exactly);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* each test's namespace dies with its child */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
