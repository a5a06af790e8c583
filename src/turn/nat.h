/*
 * RFC 5780 NAT behaviour discovery: the server's four transport addresses
 * for one address family, and which of them a Binding response leaves
 * from (RFC 5780 section 6.1, table 1). Pure: the core decides an
 * address, net/ sends from the socket bound to it.
 */
#ifndef TURND_TURN_NAT_H
#define TURND_TURN_NAT_H

#include "util/addr.h"

/* For one address family: A1:P1 (listening-ip, listening-port) and A2:P2
 * (alt-listening-ip, alt-listening-port). The server listens on A1:P1,
 * A1:P2, A2:P1 and A2:P2. A pair whose primary family is 0 is unused. */
struct turn_nat_pair {
	struct turn_addr primary;
	struct turn_addr alternate;
};

/* One pair per address family at most. */
#define TURN_NAT_FAMILIES 2

/* Bits of an index into the four addresses: the index of A1:P1 is 0, and
 * flipping a bit changes the port or the IP, so "change IP and port" from
 * index i is i ^ 3 (RFC 5780 section 6.1). */
#define TURN_NAT_CHANGE_PORT 1
#define TURN_NAT_CHANGE_IP 2
#define TURN_NAT_ADDRS 4

/* The four addresses: [0] A1:P1, [1] A1:P2, [2] A2:P1, [3] A2:P2. */
void turn_nat_addresses(const struct turn_nat_pair *p, struct turn_addr out[TURN_NAT_ADDRS]);

/* The index of local among the pair's four addresses, or -1 when it is
 * none of them (another listening address, the TLS port, another family). */
int turn_nat_index(const struct turn_nat_pair *p, const struct turn_addr *local);

#endif
