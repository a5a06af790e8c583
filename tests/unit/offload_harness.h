/*
 * The harness of check_offload_bpf (offload_harness.c): frames built and
 * checked in plain C, and the TC program of src/bpf/offload.bpf.c loaded
 * with its maps and run once per frame with BPF_PROG_TEST_RUN.
 */
#ifndef TURND_TESTS_UNIT_OFFLOAD_HARNESS_H
#define TURND_TESTS_UNIT_OFFLOAD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/offload.skel.h"
#include "bpf/offload_abi.h"

#define FRAME_MAX 2048
#define ETH_LEN 14
#define NSEC 1000000000ull

/* One direction of a datagram: addresses of the family, ports host order. */
struct tuple {
	int family;
	const uint8_t *src;
	const uint8_t *dst;
	uint16_t sport;
	uint16_t dport;
};

/* The loaded program (its skeleton owns the maps). */
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

/* Plain checksums (RFC 1071): 16-bit big-endian words. */
uint32_t csum_words(const uint8_t *p, size_t n, uint32_t s);
uint16_t csum_fold(uint32_t s);
/* The pseudo header's sum (RFC 768; RFC 8200 section 8.1). */
uint32_t csum_pseudo(int family, const uint8_t *src, const uint8_t *dst, size_t ulen);

void wire_put16(uint8_t *p, uint16_t v);
uint16_t wire_get16(const uint8_t *p);

/* Frames: built with their checksums right; frame_expect asserts a
 * forwarded one, the UDP checksum by a full computation. */
size_t frame_ip_hlen(int family);
size_t frame_build(const struct tuple *t, const uint8_t *payload, size_t len, uint8_t *f);
uint8_t *frame_udp(uint8_t *f, int family);
void frame_data_fill(uint8_t *d, size_t n, unsigned seed);
size_t frame_chandata(uint16_t channel, const uint8_t *data, size_t n, size_t pad, uint8_t *out);
void frame_expect(const uint8_t *f, size_t flen, const struct tuple *t, const uint8_t *payload,
		  size_t len, bool expect_none);

/* The program: open (the verifier's verdict) with a live heartbeat, run
 * once, read the counters summed over CPUs. ofl_percpu_new's value is the
 * caller's to free. */
uint64_t ofl_now_ns(void);
void ofl_open(struct ofl *o);
void ofl_close(struct ofl *o);
void ofl_heartbeat(struct ofl *o, uint64_t alive_until);
int ofl_run(struct ofl *o, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
	    uint32_t gso_segs);
void *ofl_percpu_new(const struct ofl *o, size_t size);
void ofl_stats(struct ofl *o, uint64_t st[OFFLOAD_ST__COUNT]);
void ofl_traffic(struct ofl *o, uint32_t alloc_id, struct offload_traffic *sum);

/* A scenario: its entries as user space installs them, its four tuples,
 * frames of each direction. */
void scen_init(struct scen *s, int family);
void scen_install(struct ofl *o, const struct scen *s);
struct tuple scen_c2p_in(const struct scen *s);
struct tuple scen_c2p_out(const struct scen *s);
struct tuple scen_p2c_in(const struct scen *s);
struct tuple scen_p2c_out(const struct scen *s);
size_t scen_c2p_frame(const struct scen *s, size_t n, size_t pad, uint16_t len_field, uint8_t *in);
size_t scen_p2c_frame(const struct scen *s, size_t n, uint8_t *in);

/* Runs that assert: forwarded as the program promises, or passed up
 * untouched with only counter stat moved (OFFLOAD_ST__COUNT: none). */
void ofl_run_c2p(struct ofl *o, const struct scen *s, size_t n, size_t pad);
void ofl_run_p2c(struct ofl *o, const struct scen *s, size_t n);
void ofl_expect_pass(struct ofl *o, const uint8_t *in, size_t len, uint32_t gso_segs,
		     unsigned stat);

#endif
