/*
 * The way back to a client: the transport a message came on (a UDP
 * socket, a TCP or TLS connection, a DTLS session) behind one small table
 * of operations, so the daemon and the relays answer a client without
 * knowing which transport it uses. Each transport defines its table
 * (udp.c, tcp.c, dtls.c); a path is the table and the transport's object.
 */
#ifndef TURND_NET_PATH_H
#define TURND_NET_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/server.h" /* struct turn_tuple */

enum net_path_kind {
	NET_PATH_UDP,  /* plain UDP: the source may be spoofed */
	NET_PATH_TCP,  /* TCP or TLS: one connection, framed (RFC 8656 section 12.5) */
	NET_PATH_DTLS, /* a DTLS session over a UDP socket */
};

struct net_path_ops {
	enum net_path_kind kind;
	/* Where the next message to the client is built (slot_len bytes).
	 * Nothing is taken until push: a message never pushed costs nothing. */
	uint8_t *(*slot)(void *t);
	size_t slot_len;
	/* Send the len bytes built in the slot, to to->client from to->local. */
	void (*push)(void *t, size_t len, const struct turn_tuple *to);
	/* Send a message built elsewhere, of up to cap bytes. */
	void (*send)(void *t, const uint8_t *buf, size_t len, const struct turn_tuple *to);
	/* The largest message the transport carries to a client at to. */
	size_t (*cap)(const void *t, const struct turn_tuple *to);
	/* A relay sends through t (hold) until its allocation ends (release):
	 * t stays open and is no longer held to its pre-allocation limits.
	 * stopping: the worker is closing, its listening sockets may be gone. */
	void (*hold)(void *t);
	void (*release)(void *t, bool stopping);
	/* A reload removed the listening socket t came on: no new allocation. */
	bool (*retired)(const void *t);
	/* Whether t is TLS over TCP (what the HTTP hook is told); NULL: no. */
	bool (*tls)(const void *t);
};

struct net_path {
	const struct net_path_ops *ops;
	void *t; /* the transport's: struct udp_sock, tcp_conn or dtls_session */
};

static inline bool net_path_set(const struct net_path *p)
{
	return p->ops != NULL;
}

static inline bool net_path_same(const struct net_path *a, const void *t)
{
	return a->t == t;
}

static inline uint8_t *net_path_slot(const struct net_path *p)
{
	return p->ops->slot(p->t);
}

static inline void net_path_push(const struct net_path *p, size_t len, const struct turn_tuple *to)
{
	p->ops->push(p->t, len, to);
}

static inline void net_path_send(const struct net_path *p, const uint8_t *buf, size_t len,
				 const struct turn_tuple *to)
{
	p->ops->send(p->t, buf, len, to);
}

static inline size_t net_path_cap(const struct net_path *p, const struct turn_tuple *to)
{
	return p->ops->cap(p->t, to);
}

static inline void net_path_hold(const struct net_path *p)
{
	p->ops->hold(p->t);
}

static inline void net_path_release(const struct net_path *p, bool stopping)
{
	p->ops->release(p->t, stopping);
}

static inline bool net_path_retired(const struct net_path *p)
{
	return p->ops && p->ops->retired(p->t);
}

#endif
