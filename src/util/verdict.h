/*
 * The decisions of turnd --self-check (daemon/selfcheck.c), kept pure so
 * that they are unit-tested: what kind of address a relay address is,
 * how many file descriptors a configuration needs, how a certificate's
 * expiry, a port sweep and the clock are judged. The probing (sockets,
 * files, the clock) is the caller's; times are passed in.
 */
#ifndef TURND_UTIL_VERDICT_H
#define TURND_UTIL_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

enum verdict_level { VERDICT_OK, VERDICT_WARN, VERDICT_FAIL };

/* "ok", "warn" or "FAIL": the mark of a finding's line. */
const char *verdict_level_name(enum verdict_level l);

/* What reaches an address. Private: RFC 1918 and fc00::/7 (RFC 4193);
 * shared: 100.64.0.0/10, carrier-grade NAT (RFC 6598); link-local:
 * 169.254.0.0/16 and fe80::/10; loopback: 127.0.0.0/8 and ::1; other:
 * the unspecified, multicast and reserved ranges. IPv4-mapped IPv6
 * addresses are judged by their IPv4 address. */
enum verdict_addr_class {
	VERDICT_ADDR_PUBLIC,
	VERDICT_ADDR_PRIVATE,
	VERDICT_ADDR_SHARED,
	VERDICT_ADDR_LINKLOCAL,
	VERDICT_ADDR_LOOPBACK,
	VERDICT_ADDR_OTHER,
};
enum verdict_addr_class verdict_addr_class(const struct turn_addr *a);
/* "public", "private (RFC 1918)", ... as a finding says it. */
const char *verdict_addr_class_name(enum verdict_addr_class c);

/* What the descriptors are for. */
struct verdict_fd_in {
	unsigned total_quota; /* 0: unlimited */
	bool stream_clients; /* TCP or TLS listens: a connection per allocation */
	unsigned listen_sockets; /* listening sockets of one worker */
	unsigned workers;
};
/* Fixed needs beside the relays: per worker (its event base, wake-up
 * pipes, timers) and per process (logs, Redis, metrics, control). */
#define VERDICT_FD_PER_WORKER 16u
#define VERDICT_FD_BASE 64u
/*
 * need = total-quota x (1 + stream_clients) + workers x (listen_sockets +
 * VERDICT_FD_PER_WORKER) + VERDICT_FD_BASE: one relay socket per
 * allocation (RFC 8656 section 7.2), one client connection more when
 * clients may come over TCP or TLS. UINT64_MAX when total_quota is 0.
 */
uint64_t verdict_fd_need(const struct verdict_fd_in *in);
/* The allocations limit descriptors hold (0 when not even the fixed
 * needs fit): for the "or lower total-quota to N" advice. */
uint64_t verdict_fd_allocations(const struct verdict_fd_in *in, uint64_t limit);

/* Whole days from now to not_after (seconds since the epoch), rounded
 * down: -1 once expired by less than a day. */
int64_t verdict_cert_days(int64_t not_after, int64_t now);
/* Expired or not yet valid: FAIL; under VERDICT_CERT_WARN_DAYS: warn. */
#define VERDICT_CERT_WARN_DAYS 14
enum verdict_level verdict_cert(int64_t not_before, int64_t not_after, int64_t now);

/* A sweep of the relay range: none bindable FAIL, fewer than total_quota
 * (or than all, when it is 0) warn. */
enum verdict_level verdict_ports(size_t bindable, size_t total, unsigned total_quota);

/* The wall clock's year: before this release was made, it is wrong
 * (nonces, certificates and REST credentials would all be judged
 * against it). */
#define VERDICT_MIN_YEAR 2026
enum verdict_level verdict_clock(int year);

#endif
