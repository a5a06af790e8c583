/* A worker thread's transports as one (net_loop.c): what the daemon's
 * worker calls to set them up, tick them and close them. */
#ifndef TURND_NET_NET_LOOP_H
#define TURND_NET_NET_LOOP_H

#include <stdint.h>

#include "net/net_worker.h"

/* What net_loop_init needs from the daemon. */
struct net_loop_params {
	unsigned id;
	struct event_base *base;
	const struct conf *conf;
	struct relay_shared *relay_shared;
	struct tls_shared *tls;
	struct conn_gate *conn_gate;
	const struct net_up *up;
	void *up_ctx;
};

/* 0, or -1 (out of memory, or libevent). srv is set later (net_worker.srv). */
int net_loop_init(struct net_worker *w, const struct net_loop_params *in);
/* The worker stops: client connections and listening sockets close (their
 * allocations end in the core, which must still be there). */
void net_loop_close_clients(struct net_worker *w);
/* After the core is gone: spares, events, buffers. */
void net_loop_fini(struct net_worker *w);
/* Once a second: the transports' deadlines. */
void net_loop_tick(struct net_worker *w, uint64_t now_ms);

#endif
