/*
 * turnprobe's commands and the helpers they share. turnprobe.c parses the
 * command line and opens the socket; probe_stun.c has "stun" and
 * "stun-load", probe_turn.c has "turn", probe_nat.c has "nat"; what they
 * share with the other tools is in client.c.
 */
#ifndef TURND_TOOLS_PROBE_H
#define TURND_TOOLS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* stun-load -s: at most 30 days. */
#define PROBE_SECONDS_MAX (30 * 86400.0)

struct probe_opts {
	const char *target; /* HOST[:PORT] of the server */
	bool tcp;
	unsigned long count; /* stun-load: answers wanted; turn: echoes */
	unsigned window; /* stun-load */
	double seconds; /* stun-load */
	int timeout_ms; /* one transaction, or one echo */
	const char *user; /* turn: long-term credential */
	const char *pass;
	const char *peer; /* turn: ADDR:PORT of the echo peer, or NULL */
	bool ipv6_relay; /* turn: REQUESTED-ADDRESS-FAMILY IPv6 */
};

/* A socket connected to o->target over o->tcp's transport, or -1 after
 * printing why. The caller closes it. */
int probe_connect(const struct probe_opts *o);

/* The commands: each returns the process exit status (0 ok, 1 failed). */
int probe_cmd_stun(const struct probe_opts *o);
int probe_cmd_stun_load(const struct probe_opts *o);
int probe_cmd_turn(const struct probe_opts *o);
int probe_cmd_nat(const struct probe_opts *o);

#endif
