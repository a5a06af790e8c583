/*
 * RFC 5780 NAT behaviour discovery in the network layer: the listening
 * sockets on the three extra transport addresses, the server's own
 * addresses for the peer policy, and a Binding response sent from the
 * address the core chose (turn_server_handle_from).
 */
#ifndef TURND_NET_NAT_H
#define TURND_NET_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "turn/nat.h"
#include "turn/policy.h"
#include "turn/server.h"

struct net_worker;

/* The pairs for turn_server_options.nat: one per alt-listening-ip, with
 * the first listening-ip of its family (conf checked that it exists). */
void nat_pairs(const struct conf *c, struct turn_nat_pair out[TURN_NAT_FAMILIES]);

/* Bind this worker's UDP and TCP sockets on A1:P2, A2:P1 and A2:P2 of
 * every pair.
 * Returns 0, or -1 with a message in err. */
int nat_worker_bind(struct net_worker *w, const struct conf *c, char *err, size_t errlen);

/* Say at start-up which addresses discovery answers from. */
void nat_log_addresses(const struct conf *c);

/* The core asked for the response in buf to leave from another address
 * (RFC 5780 CHANGE-REQUEST, turn_server_handle_from): queue it on the
 * worker's UDP socket bound there (the send error is counted when there is
 * none, rather than answering from the wrong address, which would
 * mislead the client). */
void nat_send_from(struct net_worker *w, const struct turn_addr *from, const uint8_t *buf,
		   size_t len, const struct turn_tuple *t);

#endif
