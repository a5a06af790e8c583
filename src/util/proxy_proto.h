/*
 * The PROXY protocol header a load balancer puts in front of a TCP
 * connection to tell the server who the client is (HAProxy's
 * "proxy-protocol.txt", versions 1 and 2). Pure: the caller reads the
 * bytes and decides what to trust (net/tcp_preface.c).
 *
 * Incremental: call proxy_proto_parse with every byte received so far from
 * the start of the connection. While the answer is PROXY_PROTO_NEED_MORE,
 * every byte given belongs to the header (neither version can end before
 * its last byte), so a reader may take them all off the socket and read
 * on; once it is PROXY_PROTO_DONE, out->len bytes were the header and what
 * follows is the client's own stream.
 */
#ifndef TURND_UTIL_PROXY_PROTO_H
#define TURND_UTIL_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

/* Version 1: "PROXY TCP6 <39> <39> 65535 65535\r\n" is the longest line
 * (section 2.1). */
#define PROXY_PROTO_V1_MAX 107
/* Version 2: the 16-byte fixed part. */
#define PROXY_PROTO_V2_HDR 16
/* Version 2: a 16-bit length would allow 64 KiB of TLVs; load balancers
 * send a few dozen bytes (AWS, Azure and GCP endpoint IDs, HAProxy's
 * unique-id and SSL notes). More than this is refused: the bound on what
 * one connection makes the server hold before it knows its client. */
#define PROXY_PROTO_V2_MAX (PROXY_PROTO_V2_HDR + 1024)
/* The longest header of either version. */
#define PROXY_PROTO_MAX PROXY_PROTO_V2_MAX

enum proxy_proto_result {
	PROXY_PROTO_NEED_MORE, /* a header so far: read on */
	PROXY_PROTO_DONE, /* a whole header: see out */
	PROXY_PROTO_MALFORMED, /* no header, a broken one, or one too long: out->why says */
};

struct proxy_proto_header {
	unsigned version; /* 1 or 2, once known */
	/* No client address to use: version 2's LOCAL command (the proxy's
	 * own health check) or version 1's UNKNOWN. The connection's own
	 * addresses stand. */
	bool local;
	/* The client, with its port (unless local); an IPv4-mapped IPv6
	 * address (::ffff:a.b.c.d) is given as the IPv4 address. */
	struct turn_addr src;
	struct turn_addr dst; /* where the client connected: the proxy's (the same) */
	size_t len; /* bytes of the header (DONE) */
	const char *why; /* MALFORMED: a static reason, for a log line */
};

/* Parse the first len bytes of a connection (see above). out is filled
 * on DONE, and out->why on MALFORMED. */
enum proxy_proto_result proxy_proto_parse(const uint8_t *buf, size_t len,
					  struct proxy_proto_header *out);

#endif
