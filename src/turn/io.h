/*
 * What the protocol core asks of the network layer. The core never touches
 * a socket; when a decision needs one (a relay port for an Allocate, a
 * datagram to a peer), it calls these functions, which net/ implements
 * and unit tests implement with plain memory.
 */
#ifndef TURND_TURN_IO_H
#define TURND_TURN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

struct turn_alloc;
struct turn_relay;
struct bw_share;

/* What happened to an allocation, for accounting (turn_io.alloc_event). */
enum turn_alloc_event {
	TURN_ALLOC_CREATED,
	TURN_ALLOC_REFRESHED,
	TURN_ALLOC_DELETED, /* by Refresh 0, expiry, its TCP connection closing, or shutdown */
};

/* Why an allocation ends (turn_alloc.close_reason), for its closing line. */
enum turn_close_reason {
	TURN_CLOSE_STOP = 0,  /* the server is freed (the daemon stops) */
	TURN_CLOSE_REFRESH,   /* a Refresh with LIFETIME 0 (RFC 8656 section 7.3) */
	TURN_CLOSE_EXPIRED,   /* its lifetime ran out (RFC 8656 section 2.2) */
	TURN_CLOSE_CLIENT_GONE, /* its client's TCP connection closed (section 3.1) */
	TURN_CLOSE_KILLED,    /* an operator ended it (turnctl kill, kill-user) */
};
/* The reason's words in the closing line. */
const char *turn_close_reason_name(unsigned reason);

/* Why the core calls turn_io.alloc_sync. */
enum turn_sync {
	/* What the allocation lets through changed: a ChannelBind or a
	 * CreatePermission succeeded, a Refresh changed its lifetime, a
	 * policy change swept it, max-bps changed. */
	TURN_SYNC_CHANGED,
	/* It is going (any way: Refresh 0, expiry, its TCP connection
	 * closing, the server freed), before its DELETED alloc_event. */
	TURN_SYNC_CLOSING,
};

/* Traffic relayed for an allocation outside the core (the kernel's fast
 * path, docs/OFFLOAD.md), counted as the core's data path counts it. */
struct turn_traffic {
	uint64_t pkts_to_peer, bytes_to_peer, pkts_to_client, bytes_to_client, bw_drops;
};

struct turn_relay_request {
	uint8_t family;       /* TURN_AF_INET or TURN_AF_INET6 */
	bool even_port;       /* EVEN-PORT (RFC 8656 section 14.6) */
	bool reserve_next;    /* its R bit: hold port + 1 for a RESERVATION-TOKEN */
	uint64_t token;       /* a RESERVATION-TOKEN to claim, or 0 */
	bool dont_fragment;   /* set DF on what the relay sends */
	bool tcp;             /* a listening TCP relay (RFC 6062), not a UDP one */
	struct turn_alloc *owner; /* for net to hand peer data back */
	void *origin;         /* the request's turn_input.origin */
};

struct turn_io {
	void *ctx;
	/*
	 * Open a relay endpoint. Returns 0 and fills *relay, *addr (the
	 * address to tell the client, after external-ip mapping) and, with
	 * reserve_next, *token; otherwise the error code to answer: 440 (no
	 * relay address of that family), 508 (no port or descriptor left),
	 * 400 (unknown or expired token).
	 */
	int (*relay_open)(void *ctx, const struct turn_relay_request *req, struct turn_relay **relay,
			  struct turn_addr *addr, uint64_t *token);
	void (*relay_close)(void *ctx, struct turn_relay *relay);
	/* Send application data from the relay to a peer. Failures are the
	 * network's business (counted there), never the allocation's. */
	void (*relay_send)(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			   const uint8_t *data, size_t len);
	/* Allocation quotas shared by every worker: take one for user (0, or
	 * 486 user quota / 508 total quota reached, or 300 when this server is
	 * over its load-shedding threshold), and give it back. origin: the
	 * request's turn_input.origin. */
	int (*quota_take)(void *ctx, const char *user, void *origin);
	void (*quota_give)(void *ctx, const char *user);
	/* An allocation was created, refreshed (lifetime is the new one) or
	 * is about to be deleted (its traffic counters are final). Optional;
	 * must not call back into the core. */
	void (*alloc_event)(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
			    uint32_t lifetime);
	/* What the allocation lets through changed, or it is closing
	 * (enum turn_sync). Optional; must not call back into the core. With
	 * CLOSING the callee fills *carried (zeroed by the core) with what
	 * it relayed since it last handed traffic over
	 * (turn_server_add_traffic); the core adds it to the allocation and
	 * the server's stats before the DELETED event. */
	void (*alloc_sync)(void *ctx, const struct turn_alloc *a, enum turn_sync why,
			   struct turn_traffic *carried);
	/*
	 * TCP relays (RFC 6062). Optional: without tcp_connect an Allocate for
	 * TCP gets 442.
	 *
	 * tcp_connect: start a connection from relay to peer (policy and
	 * permission already checked). Returns 0 with *id set (the outcome
	 * comes later through turn_server_tcp_connected), or the error code
	 * to answer now (447, 508).
	 */
	int (*tcp_connect)(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			   uint32_t *id);
	/* tcp_bind: the connection id named by a ConnectionBind from user on
	 * the current client connection. Returns 0 (net pipes the two once the
	 * answer is sent), 400 (no such connection waiting for a bind) or 441
	 * (it belongs to another user's allocation). origin: the request's
	 * turn_input.origin, which tells the client connection. */
	int (*tcp_bind)(void *ctx, uint32_t id, const char *user, void *origin);
	/* tcp_close: the allocation is going: close the connection id, whatever
	 * its state. */
	void (*tcp_close)(void *ctx, uint32_t id);
	/*
	 * Per-user records (user-max-bps and per-user usage). Optional, all
	 * three or none. user_attach: an allocation of user was granted;
	 * returns the process's record of user, opaque to the core (NULL:
	 * none, and then neither of the others is called for it), and sets
	 * *budget to the user's bandwidth budget shared by all its
	 * allocations (or NULL); max_bps is the user's own rate from the
	 * request's credential (turn_credential.max_bps; 0: none). user_fold: what the allocation relayed since
	 * its last fold (turn_server_fold_usage, and once more when it
	 * closes), bw_drops unused. user_detach: the allocation is gone.
	 */
	void *(*user_attach)(void *ctx, const char *user, uint64_t max_bps,
			     struct bw_share **budget);
	void (*user_fold)(void *ctx, void *user, const struct turn_traffic *delta);
	void (*user_detach)(void *ctx, void *user);
};

#endif
