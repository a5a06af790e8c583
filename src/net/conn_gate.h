/*
 * Client connections (TCP, TLS, DTLS sessions) counted per source address
 * and in total over every worker, against max-connections-per-ip and
 * max-connections (SECURITY.md, "What one source may make the server do").
 *
 * One table for the whole server behind one lock: a connection is counted
 * when it is accepted (a DTLS session: when its cookie comes back) and
 * uncounted when it closes, never per packet, so the packet path stays
 * lock-free. The count is shared rather than divided per worker because
 * SO_REUSEPORT hashes one source's connections over the workers unevenly:
 * a per-worker share would refuse a busy NAT on one worker while another
 * still had room.
 */
#ifndef TURND_NET_CONN_GATE_H
#define TURND_NET_CONN_GATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"

struct net_worker;
struct conn_limit;

/* Which transport a connection uses, for the counters (worker_stats). */
enum conn_kind { CONN_KIND_TCP, CONN_KIND_TLS, CONN_KIND_DTLS, CONN_KINDS };

struct conn_gate {
	pthread_mutex_t lock;
	struct conn_limit *table;
	bool ready;
};

/* 0, or -1 when out of memory. */
int conn_gate_init(struct conn_gate *g, uint32_t seed);
void conn_gate_fini(struct conn_gate *g);

/* Count a new connection of w's from client, under w's configuration's
 * caps. false: refused (counted in w's stats); the caller closes it. */
bool conn_gate_enter(struct net_worker *w, const struct turn_addr *client, enum conn_kind kind);
/* A connection conn_gate_enter let in is gone. */
void conn_gate_leave(struct net_worker *w, const struct turn_addr *client);
/* Client connections counted now (metrics). */
unsigned conn_gate_total(struct conn_gate *g);

#endif
