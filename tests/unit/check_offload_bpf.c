/*
 * The TC program of the kernel fast path (src/bpf/offload.bpf.c), run by
 * the kernel on crafted Ethernet frames with BPF_PROG_TEST_RUN: loading it
 * is the verifier's verdict on this kernel, and each case checks the frame
 * that comes out byte by byte, the UDP checksum against a full computation
 * done here in plain C (RFC 768, RFC 1071), and the counters. Needs root
 * (CAP_BPF): CI and the development machines have it; without it the
 * tests fail, they do not skip.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "bpf/offload.skel.h"
#include "bpf/offload_abi.h"
#include "testutil.h"

#define FRAME_MAX 2048
#define ETH_LEN 14
#define NSEC 1000000000ull

/* ---- Plain checksums (RFC 1071): 16-bit big-endian words. */

static uint32_t sum_words(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static size_t addr_len(int family)
{
	return family == OFFLOAD_AF_INET ? 4 : 16;
}

/* The pseudo header's sum (RFC 768; RFC 8200 section 8.1). */
static uint32_t pseudo_sum(int family, const uint8_t *src, const uint8_t *dst, size_t ulen)
{
	return sum_words(src, addr_len(family), sum_words(dst, addr_len(family), 0)) + 17 +
	       (uint32_t)ulen;
}

/* A datagram's UDP checksum computed over all of it, its check field
 * taken as zero; 0 is sent as 0xFFFF. */
static uint16_t udp_csum(int family, const uint8_t *src, const uint8_t *dst, const uint8_t *udp,
			 size_t ulen)
{
	uint32_t s = pseudo_sum(family, src, dst, ulen);
	uint16_t c;

	s = sum_words(udp, 6, s);
	s = sum_words(udp + 8, ulen - 8, s);
	c = (uint16_t)~fold(s);
	return c ? c : 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* ---- Frames. */

/* One direction of a datagram: addresses of the family, ports host order. */
struct tuple {
	int family;
	const uint8_t *src;
	const uint8_t *dst;
	uint16_t sport;
	uint16_t dport;
};

static const uint8_t mac_dst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t mac_src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

static size_t ip_hlen(int family)
{
	return family == OFFLOAD_AF_INET ? 20 : 40;
}

/* An Ethernet frame carrying one UDP datagram, its checksums right. The
 * fields the program must reset are not their defaults (tos, id, ttl,
 * traffic class, flow label), so a rewrite that keeps them shows. */
static size_t frame_build(const struct tuple *t, const uint8_t *payload, size_t len, uint8_t *f)
{
	size_t hl = ip_hlen(t->family), ulen = 8 + len;
	uint8_t *ip = f + ETH_LEN, *udp = ip + hl;

	ck_assert_uint_le(ETH_LEN + hl + ulen, FRAME_MAX);
	memset(f, 0, ETH_LEN + hl + ulen);
	memcpy(f, mac_dst, 6);
	memcpy(f + 6, mac_src, 6);
	if (t->family == OFFLOAD_AF_INET) {
		put16(f + 12, 0x0800);
		ip[0] = 0x45;
		ip[1] = 0xb8;
		put16(ip + 2, (uint16_t)(20 + ulen));
		put16(ip + 4, 0x1234);
		ip[8] = 57;
		ip[9] = 17;
		memcpy(ip + 12, t->src, 4);
		memcpy(ip + 16, t->dst, 4);
		put16(ip + 10, (uint16_t)~fold(sum_words(ip, 20, 0)));
	} else {
		put16(f + 12, 0x86dd);
		put16(ip, 0x6b81);
		put16(ip + 2, 0x2345);
		put16(ip + 4, (uint16_t)ulen);
		ip[6] = 17;
		ip[7] = 33;
		memcpy(ip + 8, t->src, 16);
		memcpy(ip + 24, t->dst, 16);
	}
	put16(udp, t->sport);
	put16(udp + 2, t->dport);
	put16(udp + 4, (uint16_t)ulen);
	memcpy(udp + 8, payload, len);
	put16(udp + 6, udp_csum(t->family, t->src, t->dst, udp, ulen));
	return ETH_LEN + hl + ulen;
}

static uint8_t *frame_udp(uint8_t *f, int family)
{
	return f + ETH_LEN + ip_hlen(family);
}

/* Application data that is not all one value, so any byte moved shows. */
static void data_fill(uint8_t *d, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(seed + i * 37 + (i >> 3));
}

/* ChannelData (RFC 8656 section 12.4): channel, length, data, then pad
 * bytes that are not zero, so a checksum that forgets them shows. */
static size_t chandata_build(uint16_t channel, const uint8_t *data, size_t n, size_t pad,
			     uint8_t *out)
{
	put16(out, channel);
	put16(out + 2, (uint16_t)n);
	memcpy(out + 4, data, n);
	for (size_t i = 0; i < pad; i++)
		out[4 + n + i] = (uint8_t)(0xa5 + 0x11 * i);
	return 4 + n + pad;
}

/*
 * The frame the program forwarded: the Ethernet header as it came, a fresh
 * IP header (RFC 791 / RFC 8200 fields as the program promises, header
 * checksum right), the UDP header of tuple t, the payload, and a UDP
 * checksum equal to a full computation over the output (0 if expect_none).
 */
static void frame_expect(const uint8_t *f, size_t flen, const struct tuple *t,
			 const uint8_t *payload, size_t len, bool expect_none)
{
	size_t hl = ip_hlen(t->family), ulen = 8 + len;
	const uint8_t *ip = f + ETH_LEN, *udp = ip + hl;

	ck_assert_uint_eq(flen, ETH_LEN + hl + ulen);
	ck_assert_mem_eq(f, mac_dst, 6);
	ck_assert_mem_eq(f + 6, mac_src, 6);
	if (t->family == OFFLOAD_AF_INET) {
		ck_assert_uint_eq(get16(f + 12), 0x0800);
		ck_assert_uint_eq(ip[0], 0x45);
		ck_assert_uint_eq(ip[1], 0);
		ck_assert_uint_eq(get16(ip + 2), 20 + ulen);
		ck_assert_uint_eq(get16(ip + 4), 0);
		ck_assert_uint_eq(get16(ip + 6), 0x4000); /* DF */
		ck_assert_uint_eq(ip[8], 64);
		ck_assert_uint_eq(ip[9], 17);
		ck_assert_uint_eq(fold(sum_words(ip, 20, 0)), 0xffff);
		ck_assert_mem_eq(ip + 12, t->src, 4);
		ck_assert_mem_eq(ip + 16, t->dst, 4);
	} else {
		ck_assert_uint_eq(get16(f + 12), 0x86dd);
		ck_assert_uint_eq(get16(ip), 0x6000);
		ck_assert_uint_eq(get16(ip + 2), 0);
		ck_assert_uint_eq(get16(ip + 4), ulen);
		ck_assert_uint_eq(ip[6], 17);
		ck_assert_uint_eq(ip[7], 64);
		ck_assert_mem_eq(ip + 8, t->src, 16);
		ck_assert_mem_eq(ip + 24, t->dst, 16);
	}
	ck_assert_uint_eq(get16(udp), t->sport);
	ck_assert_uint_eq(get16(udp + 2), t->dport);
	ck_assert_uint_eq(get16(udp + 4), ulen);
	if (len)
		ck_assert_mem_eq(udp + 8, payload, len);
	if (expect_none)
		ck_assert_uint_eq(get16(udp + 6), 0);
	else
		ck_assert_uint_eq(get16(udp + 6), udp_csum(t->family, t->src, t->dst, udp, ulen));
}

/* ---- The loaded program and its maps. */

struct ofl {
	struct turnd_offload *skel;
	int prog;
	int ncpu;
};

/* A relay: a client on a listening address, an allocation, a peer and a
 * channel. Ports and channel host order. */
struct scen {
	int family;
	uint8_t client[16], listen[16], relay[16], peer[16];
	uint16_t cport, lport, rport, pport, channel;
	uint32_t alloc_id, mtu, flags;
	uint64_t expires_ns;
};

static void ofl_heartbeat(struct ofl *o, uint64_t alive_until)
{
	uint32_t zero = 0;
	struct offload_cfg cfg = {.alive_until_ns = alive_until};

	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_cfg), &zero, &cfg,
					     BPF_ANY),
			 0);
}

static void ofl_open(struct ofl *o)
{
	o->skel = turnd_offload__open_and_load();
	ck_assert_msg(o->skel != NULL, "the verifier refused turnd_offload (or no CAP_BPF)");
	o->prog = bpf_program__fd(o->skel->progs.turnd_offload);
	o->ncpu = libbpf_num_possible_cpus();
	ck_assert_int_gt(o->ncpu, 0);
	ofl_heartbeat(o, now_ns() + 600 * NSEC);
}

static void ofl_close(struct ofl *o)
{
	turnd_offload__destroy(o->skel);
}

/* Run the program once on a frame; the output frame and its length. */
static int ofl_run(struct ofl *o, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
		   uint32_t gso_segs)
{
	struct __sk_buff ctx;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	memset(&ctx, 0, sizeof(ctx));
	ctx.gso_segs = gso_segs;
	opts.data_in = in;
	opts.data_size_in = (uint32_t)len;
	opts.data_out = out;
	opts.data_size_out = FRAME_MAX;
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = 1;
	ck_assert_int_eq(bpf_prog_test_run_opts(o->prog, &opts), 0);
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

/* A per-CPU map's value: one slot per possible CPU, zeroed. */
static void *percpu_new(const struct ofl *o, size_t size)
{
	void *v = calloc((size_t)o->ncpu, size);

	ck_assert_ptr_nonnull(v);
	return v;
}

static void stats_read(struct ofl *o, uint64_t st[OFFLOAD_ST__COUNT])
{
	uint64_t *v = percpu_new(o, sizeof(*v));

	for (uint32_t i = 0; i < OFFLOAD_ST__COUNT; i++) {
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(o->skel->maps.offload_stats), &i, v),
				 0);
		st[i] = 0;
		for (int c = 0; c < o->ncpu; c++)
			st[i] += v[c];
	}
	free(v);
}

static void traffic_read(struct ofl *o, uint32_t alloc_id, struct offload_traffic *sum)
{
	struct offload_traffic *v = percpu_new(o, sizeof(*v));

	ck_assert_int_eq(
		bpf_map_lookup_elem(bpf_map__fd(o->skel->maps.offload_traffic), &alloc_id, v), 0);
	memset(sum, 0, sizeof(*sum));
	for (int c = 0; c < o->ncpu; c++) {
		sum->pkts_to_peer += v[c].pkts_to_peer;
		sum->bytes_to_peer += v[c].bytes_to_peer;
		sum->pkts_to_client += v[c].pkts_to_client;
		sum->bytes_to_client += v[c].bytes_to_client;
		sum->bw_drops += v[c].bw_drops;
	}
	free(v);
}

/* What user space stores for a scenario: both directions' entries and the
 * allocation's (zeroed) per-CPU traffic entry. */
static void scen_install(struct ofl *o, const struct scen *s)
{
	struct offload_c2p_key ck;
	struct offload_c2p cv;
	struct offload_p2c_key pk;
	struct offload_p2c pv;
	struct offload_traffic *zero = percpu_new(o, sizeof(*zero));
	size_t al = addr_len(s->family);

	memset(&ck, 0, sizeof(ck));
	memset(&cv, 0, sizeof(cv));
	memset(&pk, 0, sizeof(pk));
	memset(&pv, 0, sizeof(pv));
	ck.family = pk.family = (uint8_t)s->family;
	ck.channel = pv.channel = htons(s->channel);
	ck.client_port = pv.client_port = htons(s->cport);
	ck.listen_port = pv.listen_port = htons(s->lport);
	memcpy(ck.client_ip, s->client, al);
	memcpy(pv.client_ip, s->client, al);
	memcpy(ck.listen_ip, s->listen, al);
	memcpy(pv.listen_ip, s->listen, al);
	pk.relay_port = cv.relay_port = htons(s->rport);
	pk.peer_port = cv.peer_port = htons(s->pport);
	memcpy(pk.relay_ip, s->relay, al);
	memcpy(cv.relay_ip, s->relay, al);
	memcpy(pk.peer_ip, s->peer, al);
	memcpy(cv.peer_ip, s->peer, al);
	cv.alloc_id = pv.alloc_id = s->alloc_id;
	cv.expires_ns = pv.expires_ns = s->expires_ns;
	cv.ifindex = pv.ifindex = 1;
	cv.mtu = pv.mtu = s->mtu;
	cv.flags = pv.flags = s->flags;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_c2p), &ck, &cv, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_p2c), &pk, &pv, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_traffic),
					     &s->alloc_id, zero, 0),
			 0);
	free(zero);
}

static void scen_init(struct scen *s, int family)
{
	static const uint8_t v4[4][4] = {
		{192, 0, 2, 10}, {198, 51, 100, 1}, {198, 51, 100, 2}, {203, 0, 113, 5}};
	uint8_t *addrs[4] = {s->client, s->listen, s->relay, s->peer};

	memset(s, 0, sizeof(*s));
	s->family = family;
	for (int i = 0; i < 4; i++) {
		if (family == OFFLOAD_AF_INET) {
			memcpy(addrs[i], v4[i], 4);
		} else {
			/* 2001:db8::N, documentation range (RFC 3849). */
			addrs[i][0] = 0x20;
			addrs[i][1] = 0x01;
			addrs[i][2] = 0x0d;
			addrs[i][3] = 0xb8;
			addrs[i][15] = (uint8_t)(0x10 + i * 0x31);
		}
	}
	s->cport = 40001;
	s->lport = 3478;
	s->rport = 50003;
	s->pport = 6001;
	s->channel = 0x4001;
	s->alloc_id = 7;
	s->mtu = 1500;
	s->expires_ns = now_ns() + 600 * NSEC;
}

static struct tuple c2p_in(const struct scen *s)
{
	return (struct tuple){s->family, s->client, s->listen, s->cport, s->lport};
}

static struct tuple c2p_out(const struct scen *s)
{
	return (struct tuple){s->family, s->relay, s->peer, s->rport, s->pport};
}

static struct tuple p2c_in(const struct scen *s)
{
	return (struct tuple){s->family, s->peer, s->relay, s->pport, s->rport};
}

static struct tuple p2c_out(const struct scen *s)
{
	return (struct tuple){s->family, s->listen, s->client, s->lport, s->cport};
}

/* ---- Cases, each through these two: forwarded, or passed up untouched. */

/* Client -> peer with n data bytes and pad bytes of padding: forwarded as
 * the data alone, from the relayed address to the peer. */
static void run_c2p(struct ofl *o, const struct scen *s, size_t n, size_t pad)
{
	uint8_t data[FRAME_MAX], cd[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	struct tuple ti = c2p_in(s), to = c2p_out(s);
	size_t len, out_len;

	data_fill(data, n, (unsigned)(n + pad));
	len = frame_build(&ti, cd, chandata_build(s->channel, data, n, pad, cd), in);
	ck_assert_int_eq(ofl_run(o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_expect(out, out_len, &to, data, n, false);
}

/* Peer -> client with n data bytes: forwarded as unpadded ChannelData
 * (RFC 8656 section 12.5) from the listening address to the client. */
static void run_p2c(struct ofl *o, const struct scen *s, size_t n)
{
	uint8_t data[FRAME_MAX], cd[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	struct tuple ti = p2c_in(s), to = p2c_out(s);
	size_t len, out_len;

	data_fill(data, n, (unsigned)n * 3);
	len = frame_build(&ti, data, n, in);
	ck_assert_int_eq(ofl_run(o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_expect(out, out_len, &to, cd, chandata_build(s->channel, data, n, 0, cd), false);
}

/* A frame the program must hand up as it came: TC_ACT_OK, the output the
 * input, and among the counters only stat (or none, OFFLOAD_ST__COUNT)
 * moved, by one. */
static void expect_pass(struct ofl *o, const uint8_t *in, size_t len, uint32_t gso_segs,
			unsigned stat)
{
	uint8_t out[FRAME_MAX];
	uint64_t before[OFFLOAD_ST__COUNT], after[OFFLOAD_ST__COUNT];
	size_t out_len;

	stats_read(o, before);
	ck_assert_int_eq(ofl_run(o, in, len, out, &out_len, gso_segs), TC_ACT_OK);
	ck_assert_uint_eq(out_len, len);
	ck_assert_mem_eq(out, in, len);
	stats_read(o, after);
	for (unsigned i = 0; i < OFFLOAD_ST__COUNT; i++)
		ck_assert_msg(after[i] == before[i] + (i == stat), "counter %u: %llu -> %llu", i,
			      (unsigned long long)before[i], (unsigned long long)after[i]);
}

/* A client -> peer frame: data n bytes, pad bytes after it, as chandata
 * says (length field len_field). */
static size_t c2p_frame(const struct scen *s, size_t n, size_t pad, uint16_t len_field,
			uint8_t *in)
{
	uint8_t data[FRAME_MAX], cd[FRAME_MAX];
	struct tuple ti = c2p_in(s);
	size_t cl;

	data_fill(data, n, 1);
	cl = chandata_build(s->channel, data, n, pad, cd);
	put16(cd + 2, len_field);
	return frame_build(&ti, cd, cl, in);
}

static size_t p2c_frame(const struct scen *s, size_t n, uint8_t *in)
{
	uint8_t data[FRAME_MAX];
	struct tuple ti = p2c_in(s);

	data_fill(data, n, 2);
	return frame_build(&ti, data, n, in);
}

START_TEST(ipv4_both_ways)
{
	struct ofl o;
	struct scen s;
	uint64_t st[OFFLOAD_ST__COUNT];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	run_c2p(&o, &s, 100, 0);
	run_p2c(&o, &s, 57);
	stats_read(&o, st);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_PEER_PKTS], 1);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_PEER_BYTES], 100);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_CLIENT_PKTS], 1);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_CLIENT_BYTES], 57);
	ofl_close(&o);
}
END_TEST

START_TEST(ipv6_both_ways)
{
	struct ofl o;
	struct scen s;
	uint64_t st[OFFLOAD_ST__COUNT];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET6);
	scen_install(&o, &s);
	run_c2p(&o, &s, 64, 0);
	run_c2p(&o, &s, 333, 0);
	run_p2c(&o, &s, 1000);
	run_p2c(&o, &s, 1);
	stats_read(&o, st);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_PEER_PKTS], 2);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_PEER_BYTES], 397);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_CLIENT_PKTS], 2);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_CLIENT_BYTES], 1001);
	ofl_close(&o);
}
END_TEST

/* RFC 8656 section 12.5: up to 3 bytes after the data are trimmed, with
 * odd and even data lengths (the padding then starts mid-word), both
 * families. */
START_TEST(padding_trimmed)
{
	struct ofl o;
	struct scen s;

	ofl_open(&o);
	scen_init(&s, _i ? OFFLOAD_AF_INET6 : OFFLOAD_AF_INET);
	scen_install(&o, &s);
	for (size_t pad = 1; pad <= 3; pad++) {
		run_c2p(&o, &s, 40, pad);
		run_c2p(&o, &s, 41, pad);
		run_c2p(&o, &s, 42, pad);
		run_c2p(&o, &s, 43, pad);
	}
	run_c2p(&o, &s, 0, 3);
	ofl_close(&o);
}
END_TEST

START_TEST(padding_of_four_goes_up)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	expect_pass(&o, in, c2p_frame(&s, 40, 4, 40, in), 0, OFFLOAD_ST_PASS_PADDING);
	expect_pass(&o, in, c2p_frame(&s, 41, 9, 41, in), 0, OFFLOAD_ST_PASS_PADDING);
	ofl_close(&o);
}
END_TEST

/* RFC 8656 section 12.4: a length beyond the datagram; user space drops. */
START_TEST(length_beyond_datagram)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET6);
	scen_install(&o, &s);
	expect_pass(&o, in, c2p_frame(&s, 40, 0, 41, in), 0, OFFLOAD_ST_PASS_MALFORMED);
	expect_pass(&o, in, c2p_frame(&s, 40, 3, 44, in), 0, OFFLOAD_ST_PASS_MALFORMED);
	expect_pass(&o, in, c2p_frame(&s, 0, 0, 0xffff, in), 0, OFFLOAD_ST_PASS_MALFORMED);
	ofl_close(&o);
}
END_TEST

/* No entry: not a counter moves. An unbound channel, a peer's other
 * port, another client port, a STUN message on the listening port. */
START_TEST(no_entry_untouched)
{
	struct ofl o;
	struct scen s, other;
	uint8_t in[FRAME_MAX], stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	struct tuple ti;

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	other = s;
	other.channel = 0x4002;
	expect_pass(&o, in, c2p_frame(&other, 20, 0, 20, in), 0, OFFLOAD_ST__COUNT);
	other = s;
	other.pport = (uint16_t)(s.pport + 1);
	expect_pass(&o, in, p2c_frame(&other, 20, in), 0, OFFLOAD_ST__COUNT);
	other = s;
	other.cport = (uint16_t)(s.cport + 1);
	expect_pass(&o, in, c2p_frame(&other, 20, 0, 20, in), 0, OFFLOAD_ST__COUNT);
	ti = c2p_in(&s);
	expect_pass(&o, in, frame_build(&ti, stun, sizeof(stun), in), 0, OFFLOAD_ST__COUNT);
	/* The same entry, the other family's frame. */
	scen_init(&other, OFFLOAD_AF_INET6);
	expect_pass(&o, in, p2c_frame(&other, 20, in), 0, OFFLOAD_ST__COUNT);
	ofl_close(&o);
}
END_TEST

/* Not an unfragmented UDP datagram the program understands: untouched,
 * uncounted, though the 5-tuple has entries. */
START_TEST(not_ours_untouched)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];
	size_t len;

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	len = c2p_frame(&s, 20, 0, 20, in);
	in[ETH_LEN + 6] = 0x20; /* more fragments */
	expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	len = c2p_frame(&s, 20, 0, 20, in);
	in[ETH_LEN + 9] = 6; /* TCP */
	expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	len = c2p_frame(&s, 20, 0, 20, in);
	put16(frame_udp(in, s.family) + 4, 27); /* UDP length short of the IP payload */
	expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	len = c2p_frame(&s, 20, 0, 20, in);
	put16(in + 12, 0x0806); /* not IP */
	expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	scen_init(&s, OFFLOAD_AF_INET6);
	scen_install(&o, &s);
	len = p2c_frame(&s, 20, in);
	in[ETH_LEN + 6] = 0; /* hop-by-hop options first */
	expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	ofl_close(&o);
}
END_TEST

START_TEST(expired_entry)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];

	ofl_open(&o);
	scen_init(&s, _i ? OFFLOAD_AF_INET6 : OFFLOAD_AF_INET);
	s.expires_ns = now_ns();
	scen_install(&o, &s);
	expect_pass(&o, in, c2p_frame(&s, 20, 0, 20, in), 0, OFFLOAD_ST_PASS_EXPIRED);
	expect_pass(&o, in, p2c_frame(&s, 20, in), 0, OFFLOAD_ST_PASS_EXPIRED);
	ofl_close(&o);
}
END_TEST

/* Past the heartbeat nothing is forwarded; beating again brings it back. */
START_TEST(stale_heartbeat)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	ofl_heartbeat(&o, now_ns());
	expect_pass(&o, in, c2p_frame(&s, 20, 0, 20, in), 0, OFFLOAD_ST_PASS_STALE);
	expect_pass(&o, in, p2c_frame(&s, 20, in), 0, OFFLOAD_ST_PASS_STALE);
	ofl_heartbeat(&o, now_ns() + 60 * NSEC);
	run_c2p(&o, &s, 20, 0);
	ofl_close(&o);
}
END_TEST

START_TEST(gro_packet_goes_up)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET6);
	scen_install(&o, &s);
	expect_pass(&o, in, p2c_frame(&s, 200, in), 2, OFFLOAD_ST_PASS_GSO);
	ofl_close(&o);
}
END_TEST

/* A checksum field holding the folded pseudo-header sum is what a
 * CHECKSUM_PARTIAL skb from a local socket carries: not updatable. So is
 * IPv6's forbidden zero (RFC 8200 section 8.1). */
START_TEST(partial_checksum_goes_up)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX], *udp;
	size_t len;

	ofl_open(&o);
	scen_init(&s, _i ? OFFLOAD_AF_INET6 : OFFLOAD_AF_INET);
	scen_install(&o, &s);
	len = c2p_frame(&s, 21, 0, 21, in);
	udp = frame_udp(in, s.family);
	put16(udp + 6, fold(pseudo_sum(s.family, s.client, s.listen, get16(udp + 4))));
	expect_pass(&o, in, len, 0, OFFLOAD_ST_PASS_CSUM);
	len = p2c_frame(&s, 30, in);
	udp = frame_udp(in, s.family);
	put16(udp + 6, fold(pseudo_sum(s.family, s.peer, s.relay, get16(udp + 4))));
	expect_pass(&o, in, len, 0, OFFLOAD_ST_PASS_CSUM);
	if (s.family == OFFLOAD_AF_INET6) {
		put16(udp + 6, 0);
		expect_pass(&o, in, len, 0, OFFLOAD_ST_PASS_CSUM);
	}
	ofl_close(&o);
}
END_TEST

/* RFC 768: an IPv4 datagram sent without a checksum leaves without one. */
START_TEST(ipv4_zero_checksum_stays_zero)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX], out[FRAME_MAX], data[64], cd[64];
	struct tuple to;
	size_t len, out_len;

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	len = c2p_frame(&s, 33, 2, 33, in);
	put16(frame_udp(in, s.family) + 6, 0);
	ck_assert_int_eq(ofl_run(&o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	data_fill(data, 33, 1);
	to = c2p_out(&s);
	frame_expect(out, out_len, &to, data, 33, true);
	len = p2c_frame(&s, 17, in);
	put16(frame_udp(in, s.family) + 6, 0);
	ck_assert_int_eq(ofl_run(&o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	data_fill(data, 17, 2);
	to = p2c_out(&s);
	frame_expect(out, out_len, &to, cd, chandata_build(s.channel, data, 17, 0, cd), true);
	ofl_close(&o);
}
END_TEST

/* The IP packet that leaves must fit the way out: exactly the MTU is
 * forwarded, one byte more goes up. Towards the client it grows by 4. */
START_TEST(mtu)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX];
	size_t hl;

	ofl_open(&o);
	scen_init(&s, _i ? OFFLOAD_AF_INET6 : OFFLOAD_AF_INET);
	hl = ip_hlen(s.family);
	s.mtu = (uint32_t)(hl + 8 + 300);
	scen_install(&o, &s);
	run_c2p(&o, &s, 300, 2);
	expect_pass(&o, in, c2p_frame(&s, 301, 0, 301, in), 0, OFFLOAD_ST_PASS_MTU);
	run_p2c(&o, &s, 296);
	expect_pass(&o, in, p2c_frame(&s, 297, in), 0, OFFLOAD_ST_PASS_MTU);
	ofl_close(&o);
}
END_TEST

/* Zero-length application data both ways (RFC 8656 section 12.4 allows
 * it), and a short frame with an Ethernet trailer after the IP packet,
 * which must not leave with it. */
START_TEST(zero_length_and_trailer)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX], out[FRAME_MAX], cd[8], data[1];
	struct tuple to;
	size_t len, out_len;

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	run_c2p(&o, &s, 0, 0);
	run_p2c(&o, &s, 0);
	len = c2p_frame(&s, 0, 0, 0, in);
	memset(in + len, 0xee, 60 - len);
	ck_assert_int_eq(ofl_run(&o, in, 60, out, &out_len, 0), TC_ACT_REDIRECT);
	to = c2p_out(&s);
	frame_expect(out, out_len, &to, NULL, 0, false);
	len = p2c_frame(&s, 1, in);
	memset(in + len, 0xee, 60 - len);
	ck_assert_int_eq(ofl_run(&o, in, 60, out, &out_len, 0), TC_ACT_REDIRECT);
	to = p2c_out(&s);
	data_fill(data, 1, 2);
	frame_expect(out, out_len, &to, cd, chandata_build(s.channel, data, 1, 0, cd), false);
	ofl_close(&o);
}
END_TEST

/* ---- max-bps: the core's bucket (turn_bandwidth_take), per allocation. */

static void bucket_set(struct ofl *o, uint32_t alloc_id, uint64_t rate, uint64_t tokens,
		       uint64_t last_ns)
{
	struct offload_bucket b;

	memset(&b, 0, sizeof(b));
	b.rate = rate;
	b.tokens = tokens;
	b.last_ns = last_ns;
	ck_assert_int_eq(
		bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_buckets), &alloc_id, &b, 0), 0);
}

static struct offload_bucket bucket_get(struct ofl *o, uint32_t alloc_id)
{
	struct offload_bucket b;

	ck_assert_int_eq(
		bpf_map_lookup_elem(bpf_map__fd(o->skel->maps.offload_buckets), &alloc_id, &b), 0);
	return b;
}

/* The refill the program must have made from b to a: the elapsed time
 * (at most a second) at rate, in thousandths of a byte, up to a full
 * second's worth. */
static uint64_t bucket_refilled(const struct offload_bucket *b, uint64_t now)
{
	uint64_t full = b->rate * 1000, elapsed = now > b->last_ns ? now - b->last_ns : 0;
	uint64_t t;

	if (elapsed > NSEC)
		elapsed = NSEC;
	t = b->tokens + elapsed * b->rate / 1000000;
	return t > full ? full : t;
}

/* One 100-byte datagram (c2p or p2c) through the bucket: its verdict, and
 * the bucket after it as the rule says. */
static int bucket_step(struct ofl *o, const struct scen *s, bool to_peer)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct offload_bucket b0 = bucket_get(o, s->alloc_id), b1;
	size_t len = to_peer ? c2p_frame(s, 100, 0, 100, in) : p2c_frame(s, 100, in), out_len;
	int rc = ofl_run(o, in, len, out, &out_len, 0);
	uint64_t t;

	b1 = bucket_get(o, s->alloc_id);
	ck_assert_uint_ge(b1.last_ns, b0.last_ns);
	t = bucket_refilled(&b0, b1.last_ns);
	ck_assert_uint_eq(b1.tokens, rc == TC_ACT_REDIRECT ? t - 100000 : t);
	ck_assert_uint_eq(b1.rate, b0.rate);
	return rc;
}

START_TEST(bucket_shared_and_refilled)
{
	struct ofl o;
	struct scen s;
	uint64_t st[OFFLOAD_ST__COUNT];
	struct offload_traffic tr;

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	s.flags = OFFLOAD_F_BUCKET;
	scen_install(&o, &s);
	/* 1000 bytes/s, 200 bytes in the bucket: one datagram each way, then
	 * the third is dropped unless 100 ms passed. */
	bucket_set(&o, s.alloc_id, 1000, 200000, now_ns());
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_REDIRECT);
	ck_assert_int_eq(bucket_step(&o, &s, false), TC_ACT_REDIRECT);
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_SHOT);
	ck_assert_int_eq(bucket_step(&o, &s, false), TC_ACT_SHOT);
	stats_read(&o, st);
	ck_assert_uint_eq(st[OFFLOAD_ST_BW_DROPS], 2);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_PEER_PKTS] + st[OFFLOAD_ST_TO_CLIENT_PKTS], 2);
	traffic_read(&o, s.alloc_id, &tr);
	ck_assert_uint_eq(tr.bw_drops, 2);
	ck_assert_uint_eq(tr.pkts_to_peer, 1);
	/* 150 ms later there are 150 bytes: one more goes. */
	bucket_set(&o, s.alloc_id, 1000, 0, now_ns() - 150000000ull);
	ck_assert_int_eq(bucket_step(&o, &s, false), TC_ACT_REDIRECT);
	/* A long idle fills the bucket to one second's worth, no more. */
	bucket_set(&o, s.alloc_id, 1000, 0, now_ns() - 10 * NSEC);
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_REDIRECT);
	ck_assert_uint_eq(bucket_get(&o, s.alloc_id).tokens, 900000);
	/* Rate 0 is no limit, as in the core. */
	bucket_set(&o, s.alloc_id, 0, 0, now_ns());
	run_c2p(&o, &s, 100, 0);
	ofl_close(&o);
}
END_TEST

/* The per-allocation counters are per CPU: the program adds to this
 * CPU's slot, user space sums them (here: what other CPUs had before). */
START_TEST(traffic_per_allocation)
{
	struct ofl o;
	struct scen s, other;
	struct offload_traffic tr, *pre;

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET6);
	scen_install(&o, &s);
	pre = percpu_new(&o, sizeof(*pre));
	for (int c = 0; c < o.ncpu; c++) {
		pre[c].pkts_to_peer = pre[c].pkts_to_client = 1;
		pre[c].bytes_to_peer = pre[c].bytes_to_client = 1000;
	}
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o.skel->maps.offload_traffic),
					     &s.alloc_id, pre, 0),
			 0);
	free(pre);
	run_c2p(&o, &s, 10, 2);
	run_c2p(&o, &s, 20, 0);
	run_p2c(&o, &s, 30);
	traffic_read(&o, s.alloc_id, &tr);
	ck_assert_uint_eq(tr.pkts_to_peer, (uint64_t)o.ncpu + 2);
	ck_assert_uint_eq(tr.bytes_to_peer, 1000ull * (uint64_t)o.ncpu + 30);
	ck_assert_uint_eq(tr.pkts_to_client, (uint64_t)o.ncpu + 1);
	ck_assert_uint_eq(tr.bytes_to_client, 1000ull * (uint64_t)o.ncpu + 30);
	/* Another allocation without a traffic entry is forwarded, uncounted
	 * there. */
	other = s;
	other.alloc_id = 8;
	other.cport = (uint16_t)(s.cport + 1);
	other.rport = (uint16_t)(s.rport + 1);
	scen_install(&o, &other);
	ck_assert_int_eq(bpf_map_delete_elem(bpf_map__fd(o.skel->maps.offload_traffic),
					     &other.alloc_id),
			 0);
	run_c2p(&o, &other, 10, 0);
	traffic_read(&o, s.alloc_id, &tr);
	ck_assert_uint_eq(tr.pkts_to_peer, (uint64_t)o.ncpu + 2);
	ofl_close(&o);
}
END_TEST

static Suite *offload_bpf_suite(void)
{
	Suite *s = suite_create("offload_bpf");
	TCase *fwd = tcase_create("forward");
	TCase *pass = tcase_create("pass");
	TCase *acct = tcase_create("accounting");

	tcase_add_test(fwd, ipv4_both_ways);
	tcase_add_test(fwd, ipv6_both_ways);
	tcase_add_loop_test(fwd, padding_trimmed, 0, 2);
	tcase_add_test(fwd, ipv4_zero_checksum_stays_zero);
	tcase_add_test(fwd, zero_length_and_trailer);
	tcase_add_test(pass, padding_of_four_goes_up);
	tcase_add_test(pass, length_beyond_datagram);
	tcase_add_test(pass, no_entry_untouched);
	tcase_add_test(pass, not_ours_untouched);
	tcase_add_loop_test(pass, expired_entry, 0, 2);
	tcase_add_test(pass, stale_heartbeat);
	tcase_add_test(pass, gro_packet_goes_up);
	tcase_add_loop_test(pass, partial_checksum_goes_up, 0, 2);
	tcase_add_loop_test(pass, mtu, 0, 2);
	tcase_add_test(acct, bucket_shared_and_refilled);
	tcase_add_test(acct, traffic_per_allocation);
	suite_add_tcase(s, fwd);
	suite_add_tcase(s, pass);
	suite_add_tcase(s, acct);
	return s;
}

int main(void)
{
	return run_suite(offload_bpf_suite());
}
