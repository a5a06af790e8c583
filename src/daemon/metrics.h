/*
 * /metrics (Prometheus text format 0.0.4) and /healthz over HTTP, served
 * by libevent's evhttp on the main thread's event base, on their own
 * address (metrics-ip, loopback by default, and metrics-port). Workers
 * copy their counters once a second (struct worker_snapshot); a scrape
 * reads those copies and never touches a worker's live state. Labels take
 * a fixed, small set of values: never a username or an address.
 */
#ifndef TURND_NET_METRICS_H
#define TURND_NET_METRICS_H

#include <stddef.h>

struct net;
struct event_base;
struct turn_addr;
struct metrics;

/* Bind and serve on base. Returns NULL with a message in err. */
struct metrics *metrics_new(struct net *n, struct event_base *base, const struct turn_addr *addr,
			    char *err, size_t errlen);
void metrics_free(struct metrics *m);

#endif
