/*
 * Ask a STUN server, from one local address, what address it sees
 * (RFC 8489 section 3: a Binding request, the XOR-MAPPED-ADDRESS of its
 * success response). Blocking and bounded: used at start-up, at a reload
 * and by --self-check, never on a worker.
 */
#ifndef TURND_IO_STUN_ASK_H
#define TURND_IO_STUN_ASK_H

#include <stddef.h>

#include "util/addr.h"

struct stun_ask_opts {
	unsigned tries; /* Binding requests sent, one after the other's timeout */
	unsigned timeout_ms; /* how long each waits for its answer */
};

/*
 * From local (its port 0: any) to server: *mapped (with its port) on 0;
 * -1 with err ("no answer after 3 tries of 1000 ms", a socket error, an
 * error response) otherwise. The request carries a random transaction ID
 * and a FINGERPRINT; only a success response with that ID counts.
 */
int stun_ask_mapped(const struct turn_addr *local, const struct turn_addr *server,
		    const struct stun_ask_opts *o, struct turn_addr *mapped, char *err,
		    size_t errlen);

/*
 * The addresses of host (a name or a numeric address) and port, one per
 * family: out[0] IPv4, out[1] IPv6, family 0 where there is none.
 * Returns the number found, or -1 with err when the name does not
 * resolve.
 */
int stun_ask_resolve(const char *host, uint16_t port, struct turn_addr out[2], char *err,
		     size_t errlen);

#endif
