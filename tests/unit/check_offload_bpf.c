/*
 * The TC program of the kernel fast path (src/bpf/offload.bpf.c), run by
 * the kernel on crafted Ethernet frames with BPF_PROG_TEST_RUN: loading it
 * is the verifier's verdict on this kernel, and each case checks the frame
 * that comes out byte by byte, the UDP checksum against a full computation
 * done here in plain C (RFC 768, RFC 1071), and the counters. Needs root
 * (CAP_BPF): CI and the development machines have it; without it the
 * tests fail, they do not skip.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "offload_harness.h"
#include "testutil.h"

START_TEST(ipv4_both_ways)
{
	struct ofl o;
	struct scen s;
	uint64_t st[OFFLOAD_ST__COUNT];

	ofl_open(&o);
	scen_init(&s, OFFLOAD_AF_INET);
	scen_install(&o, &s);
	ofl_run_c2p(&o, &s, 100, 0);
	ofl_run_p2c(&o, &s, 57);
	ofl_stats(&o, st);
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
	ofl_run_c2p(&o, &s, 64, 0);
	ofl_run_c2p(&o, &s, 333, 0);
	ofl_run_p2c(&o, &s, 1000);
	ofl_run_p2c(&o, &s, 1);
	ofl_stats(&o, st);
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
		ofl_run_c2p(&o, &s, 40, pad);
		ofl_run_c2p(&o, &s, 41, pad);
		ofl_run_c2p(&o, &s, 42, pad);
		ofl_run_c2p(&o, &s, 43, pad);
	}
	ofl_run_c2p(&o, &s, 0, 3);
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
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 40, 4, 40, in), 0, OFFLOAD_ST_PASS_PADDING);
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 41, 9, 41, in), 0, OFFLOAD_ST_PASS_PADDING);
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
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 40, 0, 41, in), 0, OFFLOAD_ST_PASS_MALFORMED);
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 40, 3, 44, in), 0, OFFLOAD_ST_PASS_MALFORMED);
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 0, 0, 0xffff, in), 0, OFFLOAD_ST_PASS_MALFORMED);
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
	ofl_expect_pass(&o, in, scen_c2p_frame(&other, 20, 0, 20, in), 0, OFFLOAD_ST__COUNT);
	other = s;
	other.pport = (uint16_t)(s.pport + 1);
	ofl_expect_pass(&o, in, scen_p2c_frame(&other, 20, in), 0, OFFLOAD_ST__COUNT);
	other = s;
	other.cport = (uint16_t)(s.cport + 1);
	ofl_expect_pass(&o, in, scen_c2p_frame(&other, 20, 0, 20, in), 0, OFFLOAD_ST__COUNT);
	ti = scen_c2p_in(&s);
	ofl_expect_pass(&o, in, frame_build(&ti, stun, sizeof(stun), in), 0, OFFLOAD_ST__COUNT);
	/* The same entry, the other family's frame. */
	scen_init(&other, OFFLOAD_AF_INET6);
	ofl_expect_pass(&o, in, scen_p2c_frame(&other, 20, in), 0, OFFLOAD_ST__COUNT);
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
	len = scen_c2p_frame(&s, 20, 0, 20, in);
	in[ETH_LEN + 6] = 0x20; /* more fragments */
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	len = scen_c2p_frame(&s, 20, 0, 20, in);
	in[ETH_LEN + 9] = 6; /* TCP */
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	len = scen_c2p_frame(&s, 20, 0, 20, in);
	wire_put16(frame_udp(in, s.family) + 4, 27); /* UDP length short of the IP payload */
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	len = scen_c2p_frame(&s, 20, 0, 20, in);
	wire_put16(in + 12, 0x0806); /* not IP */
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
	scen_init(&s, OFFLOAD_AF_INET6);
	scen_install(&o, &s);
	len = scen_p2c_frame(&s, 20, in);
	in[ETH_LEN + 6] = 0; /* hop-by-hop options first */
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST__COUNT);
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
	s.expires_ns = ofl_now_ns();
	scen_install(&o, &s);
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 20, 0, 20, in), 0, OFFLOAD_ST_PASS_EXPIRED);
	ofl_expect_pass(&o, in, scen_p2c_frame(&s, 20, in), 0, OFFLOAD_ST_PASS_EXPIRED);
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
	ofl_heartbeat(&o, ofl_now_ns());
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 20, 0, 20, in), 0, OFFLOAD_ST_PASS_STALE);
	ofl_expect_pass(&o, in, scen_p2c_frame(&s, 20, in), 0, OFFLOAD_ST_PASS_STALE);
	ofl_heartbeat(&o, ofl_now_ns() + 60 * NSEC);
	ofl_run_c2p(&o, &s, 20, 0);
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
	ofl_expect_pass(&o, in, scen_p2c_frame(&s, 200, in), 2, OFFLOAD_ST_PASS_GSO);
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
	len = scen_c2p_frame(&s, 21, 0, 21, in);
	udp = frame_udp(in, s.family);
	wire_put16(udp + 6,
		   csum_fold(csum_pseudo(s.family, s.client, s.listen, wire_get16(udp + 4))));
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST_PASS_CSUM);
	len = scen_p2c_frame(&s, 30, in);
	udp = frame_udp(in, s.family);
	wire_put16(udp + 6, csum_fold(csum_pseudo(s.family, s.peer, s.relay, wire_get16(udp + 4))));
	ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST_PASS_CSUM);
	if (s.family == OFFLOAD_AF_INET6) {
		wire_put16(udp + 6, 0);
		ofl_expect_pass(&o, in, len, 0, OFFLOAD_ST_PASS_CSUM);
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
	len = scen_c2p_frame(&s, 33, 2, 33, in);
	wire_put16(frame_udp(in, s.family) + 6, 0);
	ck_assert_int_eq(ofl_run(&o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_data_fill(data, 33, 1);
	to = scen_c2p_out(&s);
	frame_expect(out, out_len, &to, data, 33, true);
	len = scen_p2c_frame(&s, 17, in);
	wire_put16(frame_udp(in, s.family) + 6, 0);
	ck_assert_int_eq(ofl_run(&o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_data_fill(data, 17, 2);
	to = scen_p2c_out(&s);
	frame_expect(out, out_len, &to, cd, frame_chandata(s.channel, data, 17, 0, cd), true);
	ofl_close(&o);
}
END_TEST

/* Set the last two bytes of payload (an even length) so that the datagram
 * t would carry sums to 0xFFFF: its checksum computes as 0, which RFC 768
 * sends as 0xFFFF (a 0 would say "no checksum"). */
static void payload_for_ffff(const struct tuple *t, uint8_t *payload, size_t len)
{
	uint8_t udp[FRAME_MAX];
	size_t ulen = 8 + len;

	ck_assert_uint_eq(len % 2, 0);
	payload[len - 2] = payload[len - 1] = 0;
	memset(udp, 0, 8);
	wire_put16(udp, t->sport);
	wire_put16(udp + 2, t->dport);
	wire_put16(udp + 4, (uint16_t)ulen);
	memcpy(udp + 8, payload, len);
	wire_put16(payload + len - 2,
		   (uint16_t)(0xffff -
			      csum_fold(csum_words(udp, ulen,
						   csum_pseudo(t->family, t->src, t->dst, ulen)))));
}

START_TEST(checksum_zero_sent_as_ffff)
{
	struct ofl o;
	struct scen s;
	uint8_t in[FRAME_MAX], out[FRAME_MAX], data[64], cd[64];
	struct tuple ti, to;
	size_t len, out_len;

	ofl_open(&o);
	scen_init(&s, _i ? OFFLOAD_AF_INET6 : OFFLOAD_AF_INET);
	scen_install(&o, &s);
	ti = scen_c2p_in(&s);
	to = scen_c2p_out(&s);
	frame_data_fill(data, 40, 5);
	payload_for_ffff(&to, data, 40);
	len = frame_build(&ti, cd, frame_chandata(s.channel, data, 40, 1, cd), in);
	ck_assert_int_eq(ofl_run(&o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_expect(out, out_len, &to, data, 40, false);
	ck_assert_uint_eq(wire_get16(frame_udp(out, s.family) + 6), 0xffff);
	ti = scen_p2c_in(&s);
	to = scen_p2c_out(&s);
	frame_data_fill(data, 40, 6);
	payload_for_ffff(&to, cd, frame_chandata(s.channel, data, 40, 0, cd));
	len = frame_build(&ti, cd + 4, 40, in);
	ck_assert_int_eq(ofl_run(&o, in, len, out, &out_len, 0), TC_ACT_REDIRECT);
	frame_expect(out, out_len, &to, cd, 44, false);
	ck_assert_uint_eq(wire_get16(frame_udp(out, s.family) + 6), 0xffff);
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
	hl = frame_ip_hlen(s.family);
	s.mtu = (uint32_t)(hl + 8 + 300);
	scen_install(&o, &s);
	ofl_run_c2p(&o, &s, 300, 2);
	ofl_expect_pass(&o, in, scen_c2p_frame(&s, 301, 0, 301, in), 0, OFFLOAD_ST_PASS_MTU);
	ofl_run_p2c(&o, &s, 296);
	ofl_expect_pass(&o, in, scen_p2c_frame(&s, 297, in), 0, OFFLOAD_ST_PASS_MTU);
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
	ofl_run_c2p(&o, &s, 0, 0);
	ofl_run_p2c(&o, &s, 0);
	len = scen_c2p_frame(&s, 0, 0, 0, in);
	memset(in + len, 0xee, 60 - len);
	ck_assert_int_eq(ofl_run(&o, in, 60, out, &out_len, 0), TC_ACT_REDIRECT);
	to = scen_c2p_out(&s);
	frame_expect(out, out_len, &to, NULL, 0, false);
	len = scen_p2c_frame(&s, 1, in);
	memset(in + len, 0xee, 60 - len);
	ck_assert_int_eq(ofl_run(&o, in, 60, out, &out_len, 0), TC_ACT_REDIRECT);
	to = scen_p2c_out(&s);
	frame_data_fill(data, 1, 2);
	frame_expect(out, out_len, &to, cd, frame_chandata(s.channel, data, 1, 0, cd), false);
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
		bpf_map_update_elem(bpf_map__fd(o->skel->maps.offload_buckets), &alloc_id, &b, 0),
		0);
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
	size_t len = to_peer ? scen_c2p_frame(s, 100, 0, 100, in) : scen_p2c_frame(s, 100, in),
	       out_len;
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
	bucket_set(&o, s.alloc_id, 1000, 200000, ofl_now_ns());
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_REDIRECT);
	ck_assert_int_eq(bucket_step(&o, &s, false), TC_ACT_REDIRECT);
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_SHOT);
	ck_assert_int_eq(bucket_step(&o, &s, false), TC_ACT_SHOT);
	ofl_stats(&o, st);
	ck_assert_uint_eq(st[OFFLOAD_ST_BW_DROPS], 2);
	ck_assert_uint_eq(st[OFFLOAD_ST_TO_PEER_PKTS] + st[OFFLOAD_ST_TO_CLIENT_PKTS], 2);
	ofl_traffic(&o, s.alloc_id, &tr);
	ck_assert_uint_eq(tr.bw_drops, 2);
	ck_assert_uint_eq(tr.pkts_to_peer, 1);
	/* 150 ms later there are 150 bytes: one more goes. */
	bucket_set(&o, s.alloc_id, 1000, 0, ofl_now_ns() - 150000000ull);
	ck_assert_int_eq(bucket_step(&o, &s, false), TC_ACT_REDIRECT);
	/* A long idle fills the bucket to one second's worth, no more. */
	bucket_set(&o, s.alloc_id, 1000, 500000, ofl_now_ns() - 10 * NSEC);
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_REDIRECT);
	ck_assert_uint_eq(bucket_get(&o, s.alloc_id).tokens, 900000);
	/* The elapsed time counts up to a second, so elapsed * rate cannot
	 * wrap: at 2^34 bytes/s two idle seconds would. */
	bucket_set(&o, s.alloc_id, 1ull << 34, 0, ofl_now_ns() - 2 * NSEC);
	ck_assert_int_eq(bucket_step(&o, &s, true), TC_ACT_REDIRECT);
	ck_assert_uint_eq(bucket_get(&o, s.alloc_id).tokens, (1000ull << 34) - 100000);
	/* Rate 0 is no limit, as in the core. */
	bucket_set(&o, s.alloc_id, 0, 0, ofl_now_ns());
	ofl_run_c2p(&o, &s, 100, 0);
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
	pre = ofl_percpu_new(&o, sizeof(*pre));
	for (int c = 0; c < o.ncpu; c++) {
		pre[c].pkts_to_peer = pre[c].pkts_to_client = 1;
		pre[c].bytes_to_peer = pre[c].bytes_to_client = 1000;
	}
	ck_assert_int_eq(
		bpf_map_update_elem(bpf_map__fd(o.skel->maps.offload_traffic), &s.alloc_id, pre, 0),
		0);
	free(pre);
	ofl_run_c2p(&o, &s, 10, 2);
	ofl_run_c2p(&o, &s, 20, 0);
	ofl_run_p2c(&o, &s, 30);
	ofl_traffic(&o, s.alloc_id, &tr);
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
	ck_assert_int_eq(
		bpf_map_delete_elem(bpf_map__fd(o.skel->maps.offload_traffic), &other.alloc_id), 0);
	ofl_run_c2p(&o, &other, 10, 0);
	ofl_traffic(&o, s.alloc_id, &tr);
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
	tcase_add_loop_test(fwd, checksum_zero_sent_as_ffff, 0, 2);
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
