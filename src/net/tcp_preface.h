/*
 * What comes before a TCP connection's first frame (tcp_accept.c,
 * tcp_preface.c, tcp.c): a PROXY header from a trusted load balancer
 * (HAProxy's proxy-protocol.txt), then, on a socket that takes both, TLS
 * or plain TCP told apart by the first byte, or an ACME HTTP-01 request
 * when acme-redirect is set. Nothing of it is read into a bufferevent:
 * the PROXY header is taken off the socket byte-exact and the rest only
 * peeked at, so that TLS starts on the ClientHello's first byte.
 */
#ifndef TURND_NET_TCP_PREFACE_H
#define TURND_NET_TCP_PREFACE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "turn/server.h"
#include "util/addr.h"

struct net_worker;

/* A connection whose first bytes are settled: fd (taken), its 5-tuple,
 * TLS or not, and when it was accepted (first-message-timeout counts from
 * then). The caller counted tuple->client in the gate (conn_gate_enter).
 * 0, or -1 with fd closed and the gate left. (tcp.c) */
int tcp_conn_open(struct net_worker *w, int fd, const struct turn_tuple *tuple, bool tls,
		  uint64_t opened_ms);

/* Close fd with a reset, so that no TIME_WAIT stays behind on our side: a
 * connection refused by a cap or before its first frame. (tcp_accept.c) */
void tcp_conn_refuse(int fd);

/* Whether addr is in trusted-proxy. (tcp_accept.c) */
bool tcp_proxy_trusted(const struct conf *c, const struct turn_addr *addr);

/* What tcp_preface_start reads. */
struct tcp_preface_args {
	int fd;
	struct turn_tuple tuple; /* client: the TCP peer (the proxy, with PROXY) */
	unsigned kinds; /* the listener's, CONF_LISTEN_PROXY included when it applies */
	bool gated; /* tuple.client is counted in the gate already (no PROXY header) */
	bool acme; /* an HTTP request may come (acme-redirect, and plain TCP taken) */
	uint64_t opened_ms;
};

/* Read the preface of a->fd (taken whatever happens), then hand the
 * connection to tcp_conn_open, or close it. (tcp_preface.c) */
void tcp_preface_start(struct net_worker *w, const struct tcp_preface_args *a);
/* Close every connection still in its preface (the worker's end). */
void tcp_prefaces_close_all(struct net_worker *w);

/* A refused connection, logged at info; at most TCP_PREFACE_LOG_RATE lines
 * a second per worker (the counters keep the rest). */
#define TCP_PREFACE_LOG_RATE 10
void tcp_preface_log(struct net_worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
