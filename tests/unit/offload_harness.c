/*
 * The harness of check_offload_bpf: Ethernet frames with UDP datagrams and
 * ChannelData built and checked in plain C (checksums by RFC 768 and RFC
 * 1071, computed over everything, never incrementally), the TC program
 * loaded from its skeleton with its maps filled as user space fills them,
 * and one run of it with BPF_PROG_TEST_RUN.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "offload_harness.h"

/* ---- Plain checksums (RFC 1071): 16-bit big-endian words. */

uint32_t csum_words(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static size_t frame_addr_len(int family)
{
	return family == OFFLOAD_AF_INET ? 4 : 16;
}

/* The pseudo header's sum (RFC 768; RFC 8200 section 8.1). */
uint32_t csum_pseudo(int family, const uint8_t *src, const uint8_t *dst, size_t ulen)
{
	return csum_words(src, frame_addr_len(family), csum_words(dst, frame_addr_len(family), 0)) +
	       17 + (uint32_t)ulen;
}

/* A datagram's UDP checksum computed over all of it, its check field
 * taken as zero; 0 is sent as 0xFFFF. */
static uint16_t csum_udp(int family, const uint8_t *src, const uint8_t *dst, const uint8_t *udp,
			 size_t ulen)
{
	uint32_t s = csum_pseudo(family, src, dst, ulen);
	uint16_t c;

	s = csum_words(udp, 6, s);
	s = csum_words(udp + 8, ulen - 8, s);
	c = (uint16_t)~csum_fold(s);
	return c ? c : 0xffff;
}

void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint64_t ofl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* ---- Frames. */

static const uint8_t frame_mac_dst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t frame_mac_src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

size_t frame_ip_hlen(int family)
{
	return family == OFFLOAD_AF_INET ? 20 : 40;
}

/* An Ethernet frame carrying one UDP datagram, its checksums right. The
 * fields the program must reset are not their defaults (tos, id, ttl,
 * traffic class, flow label), so a rewrite that keeps them shows. */
size_t frame_build(const struct tuple *t, const uint8_t *payload, size_t len, uint8_t *f)
{
	size_t hl = frame_ip_hlen(t->family), ulen = 8 + len;
	uint8_t *ip = f + ETH_LEN, *udp = ip + hl;

	ck_assert_uint_le(ETH_LEN + hl + ulen, FRAME_MAX);
	memset(f, 0, ETH_LEN + hl + ulen);
	memcpy(f, frame_mac_dst, 6);
	memcpy(f + 6, frame_mac_src, 6);
	if (t->family == OFFLOAD_AF_INET) {
		wire_put16(f + 12, 0x0800);
		ip[0] = 0x45;
		ip[1] = 0xb8;
		wire_put16(ip + 2, (uint16_t)(20 + ulen));
		wire_put16(ip + 4, 0x1234);
		ip[8] = 57;
		ip[9] = 17;
		memcpy(ip + 12, t->src, 4);
		memcpy(ip + 16, t->dst, 4);
		wire_put16(ip + 10, (uint16_t)~csum_fold(csum_words(ip, 20, 0)));
	} else {
		wire_put16(f + 12, 0x86dd);
		wire_put16(ip, 0x6b81);
		wire_put16(ip + 2, 0x2345);
		wire_put16(ip + 4, (uint16_t)ulen);
		ip[6] = 17;
		ip[7] = 33;
		memcpy(ip + 8, t->src, 16);
		memcpy(ip + 24, t->dst, 16);
	}
	wire_put16(udp, t->sport);
	wire_put16(udp + 2, t->dport);
	wire_put16(udp + 4, (uint16_t)ulen);
	memcpy(udp + 8, payload, len);
	wire_put16(udp + 6, csum_udp(t->family, t->src, t->dst, udp, ulen));
	return ETH_LEN + hl + ulen;
}

uint8_t *frame_udp(uint8_t *f, int family)
{
	return f + ETH_LEN + frame_ip_hlen(family);
}

/* Application data that is not all one value, so any byte moved shows. */
void frame_data_fill(uint8_t *d, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(seed + i * 37 + (i >> 3));
}

/* ChannelData (RFC 8656 section 12.4): channel, length, data, then pad
 * bytes that are not zero, so a checksum that forgets them shows. */
size_t frame_chandata(uint16_t channel, const uint8_t *data, size_t n, size_t pad, uint8_t *out)
{
	wire_put16(out, channel);
	wire_put16(out + 2, (uint16_t)n);
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
void frame_expect(const uint8_t *f, size_t flen, const struct tuple *t, const uint8_t *payload,
		  size_t len, bool expect_none)
{
	size_t hl = frame_ip_hlen(t->family), ulen = 8 + len;
	const uint8_t *ip = f + ETH_LEN, *udp = ip + hl;

	ck_assert_uint_eq(flen, ETH_LEN + hl + ulen);
	ck_assert_mem_eq(f, frame_mac_dst, 6);
	ck_assert_mem_eq(f + 6, frame_mac_src, 6);
	if (t->family == OFFLOAD_AF_INET) {
		ck_assert_uint_eq(wire_get16(f + 12), 0x0800);
		ck_assert_uint_eq(ip[0], 0x45);
		ck_assert_uint_eq(ip[1], 0);
		ck_assert_uint_eq(wire_get16(ip + 2), 20 + ulen);
		ck_assert_uint_eq(wire_get16(ip + 4), 0);
		ck_assert_uint_eq(wire_get16(ip + 6), 0x4000); /* DF */
		ck_assert_uint_eq(ip[8], 64);
		ck_assert_uint_eq(ip[9], 17);
		ck_assert_uint_eq(csum_fold(csum_words(ip, 20, 0)), 0xffff);
		ck_assert_mem_eq(ip + 12, t->src, 4);
		ck_assert_mem_eq(ip + 16, t->dst, 4);
	} else {
		ck_assert_uint_eq(wire_get16(f + 12), 0x86dd);
		ck_assert_uint_eq(wire_get16(ip), 0x6000);
		ck_assert_uint_eq(wire_get16(ip + 2), 0);
		ck_assert_uint_eq(wire_get16(ip + 4), ulen);
		ck_assert_uint_eq(ip[6], 17);
		ck_assert_uint_eq(ip[7], 64);
		ck_assert_mem_eq(ip + 8, t->src, 16);
		ck_assert_mem_eq(ip + 24, t->dst, 16);
	}
	ck_assert_uint_eq(wire_get16(udp), t->sport);
	ck_assert_uint_eq(wire_get16(udp + 2), t->dport);
	ck_assert_uint_eq(wire_get16(udp + 4), ulen);
	if (len)
		ck_assert_mem_eq(udp + 8, payload, len);
	if (expect_none)
		ck_assert_uint_eq(wire_get16(udp + 6), 0);
	else
		ck_assert_uint_eq(wire_get16(udp + 6),
				  csum_udp(t->family, t->src, t->dst, udp, ulen));
}

/* ---- The loaded program and its maps. */

void ofl_heartbeat(struct ofl *o, uint64_t alive_until)
{
	uint32_t zero = 0;
	struct offload_cfg cfg = {.alive_until_ns = alive_until};

	ck_assert_int_eq(
		bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_cfg), &zero, &cfg, BPF_ANY),
		0);
}

void ofl_open(struct ofl *o)
{
	o->skel = turnd_offload__open_and_load();
	ck_assert_msg(o->skel != NULL, "the verifier refused turnd_offload (or no CAP_BPF)");
	o->prog = bpf_program__fd(o->skel->progs.turnd_offload);
	o->ncpu = libbpf_num_possible_cpus();
	ck_assert_int_gt(o->ncpu, 0);
	ofl_heartbeat(o, ofl_now_ns() + 600 * NSEC);
}

void ofl_close(struct ofl *o)
{
	turnd_offload__destroy(o->skel);
}

/* Run the program once on a frame; the output frame and its length. */
int ofl_run(struct ofl *o, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
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
void *ofl_percpu_new(const struct ofl *o, size_t size)
{
	void *v = calloc((size_t)o->ncpu, size);

	ck_assert_ptr_nonnull(v);
	return v;
}

void ofl_stats(struct ofl *o, uint64_t st[OFFLOAD_ST__COUNT])
{
	uint64_t *v = ofl_percpu_new(o, sizeof(*v));

	for (uint32_t i = 0; i < OFFLOAD_ST__COUNT; i++) {
		ck_assert_int_eq(
			bpf_map_lookup_elem(bpf_map__fd(o->skel->maps.offload_stats), &i, v), 0);
		st[i] = 0;
		for (int c = 0; c < o->ncpu; c++)
			st[i] += v[c];
	}
	free(v);
}

void ofl_traffic(struct ofl *o, uint32_t alloc_id, struct offload_traffic *sum)
{
	struct offload_traffic *v = ofl_percpu_new(o, sizeof(*v));

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
void scen_install(struct ofl *o, const struct scen *s)
{
	struct offload_c2p_key ck;
	struct offload_c2p cv;
	struct offload_p2c_key pk;
	struct offload_p2c pv;
	struct offload_traffic *zero = ofl_percpu_new(o, sizeof(*zero));
	size_t al = frame_addr_len(s->family);

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
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_c2p), &ck, &cv, 0),
			 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_p2c), &pk, &pv, 0),
			 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_traffic),
					     &s->alloc_id, zero, 0),
			 0);
	free(zero);
}

void scen_init(struct scen *s, int family)
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
	s->expires_ns = ofl_now_ns() + 600 * NSEC;
}

struct tuple scen_c2p_in(const struct scen *s)
{
	return (struct tuple){s->family, s->client, s->listen, s->cport, s->lport};
}

struct tuple scen_c2p_out(const struct scen *s)
{
	return (struct tuple){s->family, s->relay, s->peer, s->rport, s->pport};
}

struct tuple scen_p2c_in(const struct scen *s)
{
	return (struct tuple){s->family, s->peer, s->relay, s->pport, s->rport};
}

struct tuple scen_p2c_out(const struct scen *s)
{
	return (struct tuple){s->family, s->listen, s->client, s->lport, s->cport};
}

/* ---- Cases, each through these two: forwarded, or passed up untouched. */

/* Client -> peer with n data bytes and pad bytes of padding: forwarded as
 * the data alone, from the relayed address to the peer. */
void ofl_run_c2p(struct ofl *o, const struct scen *s, size_t n, size_t pad)
{
	uint8_t data[FRAME_MAX], cd[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	struct tuple ti = scen_c2p_in(s), to = scen_c2p_out(s);
	size_t len, out_len;

	frame_data_fill(data, n, (unsigned)(n + pad));
	len = frame_build(&ti, cd, frame_chandata(s->channel, data, n, pad, cd), in);
	ck_assert_int_eq(ofl_run(o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_expect(out, out_len, &to, data, n, false);
}

/* Peer -> client with n data bytes: forwarded as unpadded ChannelData
 * (RFC 8656 section 12.5) from the listening address to the client. */
void ofl_run_p2c(struct ofl *o, const struct scen *s, size_t n)
{
	uint8_t data[FRAME_MAX], cd[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	struct tuple ti = scen_p2c_in(s), to = scen_p2c_out(s);
	size_t len, out_len;

	frame_data_fill(data, n, (unsigned)n * 3);
	len = frame_build(&ti, data, n, in);
	ck_assert_int_eq(ofl_run(o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_expect(out, out_len, &to, cd, frame_chandata(s->channel, data, n, 0, cd), false);
}

/* A frame the program must hand up as it came: TC_ACT_OK, the output the
 * input, and among the counters only stat (or none, OFFLOAD_ST__COUNT)
 * moved, by one. */
void ofl_expect_pass(struct ofl *o, const uint8_t *in, size_t len, uint32_t gso_segs, unsigned stat)
{
	uint8_t out[FRAME_MAX];
	uint64_t before[OFFLOAD_ST__COUNT], after[OFFLOAD_ST__COUNT];
	size_t out_len;

	ofl_stats(o, before);
	ck_assert_int_eq(ofl_run(o, in, len, out, &out_len, gso_segs), TC_ACT_OK);
	ck_assert_uint_eq(out_len, len);
	ck_assert_mem_eq(out, in, len);
	ofl_stats(o, after);
	for (unsigned i = 0; i < OFFLOAD_ST__COUNT; i++)
		ck_assert_msg(after[i] == before[i] + (i == stat), "counter %u: %llu -> %llu", i,
			      (unsigned long long)before[i], (unsigned long long)after[i]);
}

/* A client -> peer frame: data n bytes, pad bytes after it, as chandata
 * says (length field len_field). */
size_t scen_c2p_frame(const struct scen *s, size_t n, size_t pad, uint16_t len_field, uint8_t *in)
{
	uint8_t data[FRAME_MAX], cd[FRAME_MAX];
	struct tuple ti = scen_c2p_in(s);
	size_t cl;

	frame_data_fill(data, n, 1);
	cl = frame_chandata(s->channel, data, n, pad, cd);
	wire_put16(cd + 2, len_field);
	return frame_build(&ti, cd, cl, in);
}

size_t scen_p2c_frame(const struct scen *s, size_t n, uint8_t *in)
{
	uint8_t data[FRAME_MAX];
	struct tuple ti = scen_p2c_in(s);

	frame_data_fill(data, n, 2);
	return frame_build(&ti, data, n, in);
}
