/* Shared between the core's files (server.c, longterm.c, methods.c,
 * datapath.c); not part of its interface. */
#ifndef TURND_TURN_INTERNAL_H
#define TURND_TURN_INTERNAL_H

#include "stun/attr.h"
#include "stun/integrity.h"
#include "turn/alloc.h"
#include "turn/io.h"
#include "turn/nat.h"
#include "turn/nonce.h"
#include "turn/server.h"

struct turn_server {
	char *software;
	char *realm;
	bool rfc3489_compat;
	bool stun_only;
	struct turn_nonce_options nonce;
	uint32_t default_lifetime;
	uint32_t max_lifetime;
	unsigned max_permissions;
	unsigned max_channels;
	unsigned max_tcp_connections;
	uint64_t max_bps;
	/* bps-capacity: the budget shared by every worker's server, and the
	 * tokens this one drew from it (util/bw_share.h). */
	struct bw_share *capacity;
	struct bw_local capacity_local;
	uint16_t max_channel_number;
	struct turn_addr *alternates;
	size_t n_alternates;
	size_t next_alternate;
	const struct turn_policy *policy;
	const struct turn_io *io;
	struct turn_nat_pair nat[TURN_NAT_FAMILIES]; /* RFC 5780 discovery; family 0: off */
	struct turn_alloc_table allocs;
	struct turn_server_stats stats;
};

/* One request being decided. */
struct turn_request {
	struct turn_server *srv;
	const struct stun_msg *msg;
	const struct turn_tuple *tuple;
	const struct turn_credential *cred;
	/* turn_auth_stateless's answer from net/ (turn_input.prechecked),
	 * or -1: not known yet. */
	int stateless;
	uint64_t now_ms;
	uint32_t now; /* seconds */
	struct turn_reply *reply;
	struct turn_addr *from; /* where the response leaves from; family 0: local */
	/* Set once the request has authenticated: responses carry the same
	 * kind of MESSAGE-INTEGRITY with this key (RFC 8489 section 9.2.4). */
	const uint8_t *key;
	size_t key_len;
	bool mi_sha256;
	const char *username;
	void *origin; /* turn_input.origin */
	int answer; /* the response's code, recorded when it is built: 0 success */
	/* turn_input.mac_checked/mac_key: the caller verified the MAC. */
	bool mac_checked;
	int mac_key;
};

/* server.c: building responses. Each returns 0 when a response was
 * written, -1 when it did not fit. */
int turn_send_error(struct turn_request *req, int code);
/* Start a success response; finish with turn_finish_response. */
void turn_begin_success(struct turn_request *req, struct stun_builder *b);
int turn_finish_response(struct turn_request *req, struct stun_builder *b);

/* nat.c: the RFC 5780 part of a Binding request. */
#define TURN_NAT_UNKNOWN_MAX 3
struct turn_nat_answer {
	bool on;                 /* discovery: MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS */
	struct turn_addr origin; /* the address the response leaves from */
	struct turn_addr other;  /* OTHER-ADDRESS: the alternate IP and port */
	const char *reason;      /* of a 400 */
	uint16_t unknown[TURN_NAT_UNKNOWN_MAX]; /* of a 420 */
	size_t n_unknown;
};
/* Returns 0 with ans filled, or the error code to answer (400 with
 * ans->reason, 420 with ans->unknown). */
int turn_nat_binding(const struct turn_request *req, struct turn_nat_answer *ans);

/* longterm.c: RFC 8489 section 9.2.4. Returns 0 when authenticated (req's
 * key and username set), otherwise the error response (400, 401, 438, 500)
 * was written and it returns 1. */
int turn_authenticate(struct turn_request *req);
/* longterm.c: the credential-free part of the decision; see there. */
int turn_auth_stateless(const struct turn_server *srv, const struct stun_msg *m,
			const struct turn_addr *client, uint32_t now, int *alg);

/* methods.c */
int turn_allocate(struct turn_request *req);
int turn_refresh(struct turn_request *req);
int turn_create_permission(struct turn_request *req);
int turn_channel_bind_request(struct turn_request *req);
int turn_send_indication(struct turn_request *req);
/* tcp.c: RFC 6062. */
int turn_connect(struct turn_request *req);
int turn_connection_bind(struct turn_request *req);
/* Close every TCP connection of an allocation being deleted. */
void turn_tcp_close_all(struct turn_server *srv, struct turn_alloc *a);
/* Shared with tcp.c. */
struct turn_alloc *turn_existing_alloc(struct turn_request *req);
/* server.c: tell net/ what happened to a (turn_io.alloc_event). */
void turn_alloc_event(struct turn_server *srv, enum turn_alloc_event ev, const struct turn_alloc *a);
/* server.c: tell net/ what a lets through changed, or that it is closing
 * (turn_io.alloc_sync; CLOSING folds what net/ carried into its counters). */
void turn_alloc_sync(struct turn_server *srv, struct turn_alloc *a, enum turn_sync why);
/* Count an answer the core built (metrics: by method and code). */
void turn_count_answer(struct turn_server *srv, uint16_t method, int code);
/* server.c: the user's record and budget for a granted allocation
 * (turn_io.user_attach). */
void turn_user_attach(struct turn_server *srv, struct turn_alloc *a, uint64_t max_bps);
/* Delete an allocation: close its relays, give its quota back, free it. */
void turn_alloc_delete(struct turn_server *srv, struct turn_alloc *a);

/* datapath.c: whether the policy lets this peer (IP and port) be reached. */
bool turn_peer_allowed(const struct turn_server *srv, const struct turn_addr *peer);
bool turn_bandwidth_take(struct turn_server *srv, struct turn_alloc *a, size_t len,
			 uint64_t now_ms);
/* Relay client data to peer, for Send and ChannelData alike, once the
 * caller has checked what is theirs (a permission and the policy, or a
 * bound channel). Returns 0 sent, -1 dropped (counted). */
int turn_relay_to_peer(struct turn_server *srv, struct turn_alloc *a, const struct turn_addr *peer,
		       const uint8_t *data, size_t len, uint64_t now_ms);
/* Set channel number's recheck for the current policy (after a bind). */
void turn_channel_judged(struct turn_server *srv, struct turn_alloc *a, uint16_t number);
/* tcp.c: close the connections whose peer the current policy refuses. */
void turn_tcp_sweep(struct turn_server *srv, struct turn_alloc *a);

#endif
