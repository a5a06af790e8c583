/*
 * The protocol core: a deterministic state machine. net/ hands it one
 * parsed message with its 5-tuple, the credential it looked up and the
 * time; the core decides once, writes the response (if any) into the
 * caller's buffer and asks net/ for sockets through struct turn_io.
 * No sockets, no clock, no randomness in here (STYLE.md).
 *
 * STUN Binding (RFC 8489 section 10) and the TURN UDP relay (RFC 8656,
 * RFC 6156) are served from one method table.
 */
#ifndef TURND_TURN_SERVER_H
#define TURND_TURN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "turn/nat.h"
#include "util/addr.h"

struct turn_io;
struct turn_policy;
struct turn_alloc;

#define TURN_DEFAULT_LIFETIME 600 /* RFC 8656 section 2.2 */
#define TURN_MAX_KEYS 8           /* candidate keys of one credential lookup */
#define TURN_NONCE_SECRET_LEN 32

struct turn_server_options {
	const char *software; /* SOFTWARE attribute value, or NULL for none */
	bool rfc3489_compat;  /* answer RFC 3489 Binding requests */
	bool stun_only;       /* no TURN methods */
	const char *realm;
	/* Stateless nonce key (random, chosen by the caller) and how long a
	 * nonce stays valid. */
	uint8_t nonce_secret[TURN_NONCE_SECRET_LEN];
	uint32_t nonce_lifetime;
	uint32_t default_lifetime; /* 0: TURN_DEFAULT_LIFETIME */
	uint32_t max_lifetime;     /* 0: 3600 */
	unsigned max_permissions;  /* per allocation, 0 = no limit */
	unsigned max_channels;     /* per allocation, 0 = no limit */
	unsigned max_tcp_connections; /* per TCP allocation (RFC 6062), 0 = no limit */
	uint64_t max_bps;          /* bytes per second per allocation, 0 = no cap */
	bool legacy_channels;      /* accept RFC 5766 channel numbers up to 0x7FFF */
	/* Servers to send clients to when quota_take answers 300 (load
	 * shedding, RFC 8489 section 10); copied. */
	const struct turn_addr *alternates;
	size_t n_alternates;
	const struct turn_policy *policy; /* NULL: allow every peer (tests only) */
	const struct turn_io *io;  /* NULL: STUN only */
	uint32_t hash_seed;
	/* RFC 5780 NAT behaviour discovery, per address family (copied;
	 * family 0: off). Binding requests to one of a pair's four
	 * addresses get RESPONSE-ORIGIN and OTHER-ADDRESS, and CHANGE-REQUEST
	 * is honoured; elsewhere CHANGE-REQUEST gets 420. */
	struct turn_nat_pair nat[TURN_NAT_FAMILIES];
};

/* Answers counted by method and code (metrics): a small fixed set, so a
 * label never carries what a client chose. */
enum {
	/* binding, allocate, refresh, createpermission, channelbind, connect,
	 * connectionbind, other */
	TURN_STATS_METHODS = 8,
	TURN_STATS_CODES = 17, /* 0 (success), the codes below, and "other" */
};
/* The method label of index i, and the code of index i (0 success, -1 other). */
const char *turn_stats_method_name(unsigned i);
int turn_stats_code(unsigned i);

/* Counters a worker reads for logs and metrics. */
struct turn_server_stats {
	uint64_t requests;    /* requests answered (success or error) */
	uint64_t indications; /* indications accepted */
	uint64_t errors_sent; /* error responses among them */
	uint64_t dropped;     /* messages dropped without answer */
	uint64_t allocations; /* current */
	uint64_t allocations_total;
	uint64_t relayed_to_peer, relayed_to_client;
	uint64_t bytes_to_peer, bytes_to_client; /* application data relayed */
	/* The share of those for clients over TCP: [0] to peers, [1] to clients. */
	uint64_t tcp_packets[2], tcp_bytes[2];
	uint64_t peer_denied;     /* Send/ChannelData refused by policy or permission */
	/* RFC 6062: TCP connections relayed now, and ever; peer connections
	 * refused (no permission, policy, limit). */
	uint64_t tcp_relay_conns, tcp_relay_conns_total, tcp_relay_refused;
	uint64_t bandwidth_drops; /* over max-bps */
	/* Over the user's user-max-bps; over the server's bps-capacity
	 * (datagrams, and their bytes). */
	uint64_t user_bw_drops, capacity_drops, capacity_drop_bytes;
	uint64_t icmp_to_client;  /* ICMP errors relayed in Data indications */
	/* Peer data, permitted, that does not fit the reply's cap: more than
	 * the client's transport carries (net/ sets the cap). */
	uint64_t oversize_to_client;
	uint64_t answers[TURN_STATS_METHODS][TURN_STATS_CODES];
};

struct turn_server;

/* The 5-tuple a message came on. */
struct turn_tuple {
	struct turn_addr client; /* source of the message */
	struct turn_addr local;  /* our address it arrived at */
	uint8_t transport;       /* TURN_TRANSPORT_UDP or TURN_TRANSPORT_TCP */
};

/* What net/ found for the request's USERNAME (or USERHASH) before calling
 * the core. Several keys when several REST secrets are configured: the
 * core tries each against the MAC. */
struct turn_credential {
	int status; /* 1 found, 0 no such user, -1 lookup failed (store down) */
	const char *username;
	uint8_t n_keys;
	bool has_sha256;
	uint8_t key_md5[TURN_MAX_KEYS][STUN_KEY_MD5_LEN];
	uint8_t key_sha256[TURN_MAX_KEYS][STUN_KEY_SHA256_LEN];
	/* The user's own cap on an allocation's lifetime (seconds; 0: none),
	 * from the backend (the HTTP hook's "lifetime"): below max-lifetime,
	 * it wins over the default too (RFC 8656 section 7.2 step 9 lets the
	 * server grant less than asked). */
	uint32_t max_lifetime;
	/* The user's own bandwidth (bytes per second; 0: none), from the
	 * backend (the HTTP hook's "max_bps"): the budget its allocations
	 * share gets it (turn_io.user_attach). */
	uint64_t max_bps;
};

struct turn_input {
	const struct stun_msg *msg;
	const struct turn_tuple *tuple;
	const struct turn_credential *cred; /* NULL: no USERNAME/USERHASH */
	uint64_t now_ms;
	/* NULL, or set by turn_server_handle*: whether the request passed the
	 * long-term credential check (RFC 8489 section 9.2.4). net/ limits
	 * the answers to the others per source (reflection). */
	bool *authenticated;
	/* net/ ran turn_server_auth_precheck on this very input (same msg,
	 * tuple and now_ms) and got precheck >= 0: the core takes that
	 * answer instead of checking the nonce a second time. false: the
	 * core runs the checks itself. */
	bool prechecked;
	int precheck;
	/* The caller's facts about this request (the way back to its client,
	 * the fleet's verdict), opaque to the core and handed back to the
	 * turn_io callbacks the request causes (relay_open, quota_take,
	 * tcp_bind): nothing of the request is parked on the caller's side. */
	void *origin;
	/* Set by turn_server_verify_mac: the MAC was checked against cred's
	 * keys (mac_key: the one that verified, or -1), so the core does not
	 * check it again. */
	bool mac_checked;
	int mac_key;
};

/* Where a message goes. The core fills buf and sets len (0: nothing to
 * send). buf is the caller's. */
struct turn_reply {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

/* Returns a server owned by the caller (turn_server_free), or NULL on
 * out-of-memory. Strings are copied; policy and io must outlive it. */
struct turn_server *turn_server_new(const struct turn_server_options *opt);
/* Frees every allocation (closing relays, giving quotas back) and the
 * server. NULL is a no-op. */
void turn_server_free(struct turn_server *srv);

/*
 * Decide on one parsed STUN message. A response (success or error) is
 * written to reply. Returns 0 if handled (reply->len may still be 0 for
 * an indication), -1 if the message was dropped (RFC 8489 section 6.3).
 */
int turn_server_handle(struct turn_server *srv, const struct turn_input *in,
		       struct turn_reply *reply);

/*
 * The long-term credential check (RFC 8489 section 9.2.4) for a caller
 * that must know before the core decides: the one entry point, called
 * twice. Without in->cred: the checks that need no credential (realm,
 * nonce MAC and age, the attributes, the password algorithm), so that a
 * request failing them costs no backend lookup; with in->cred (after the
 * lookup): whether one of its keys verifies the MESSAGE-INTEGRITY(-SHA256),
 * so that a request that may cost a Redis round trip is sent only when it
 * authenticates. Each answer is kept in in, and turn_server_handle_from
 * uses it instead of deciding again. Returns -1 (no credential involved:
 * not a request that authenticates), 0 (passes so far), or the error
 * code the core will answer.
 */
int turn_server_auth(const struct turn_server *srv, struct turn_input *in);

/*
 * Whether the core needs a credential to decide on in->msg (in->cred is
 * not read): run by net/ before it asks any backend (RFC 8489 section
 * 9.2.4, the checks that come before the key). Returns 0 when the request
 * passed every check that needs no credential (MESSAGE-INTEGRITY,
 * USERNAME or USERHASH, REALM and NONCE present, the nonce ours, for this
 * client and not expired, the password algorithm acceptable, the realm
 * ours), so only the credential can decide; the error code (400, 401,
 * 438) that turn_server_handle will answer whatever the credential, when
 * it failed one; -1 when the message is not a request that authenticates
 * (Binding, unknown method, bad FINGERPRINT). Pure, like the core: a
 * forged or expired nonce is refused without a lookup (SECURITY.md).
 */
int turn_server_auth_precheck(const struct turn_server *srv, const struct turn_input *in);

/* The same, telling where the response must leave from: *from gets
 * another of the server's addresses when a Binding request asked for a
 * change (RFC 5780 CHANGE-REQUEST, over UDP), family 0 otherwise (from
 * the address the request came to). */
int turn_server_handle_from(struct turn_server *srv, const struct turn_input *in,
			    struct turn_reply *reply, struct turn_addr *from);

/* A ChannelData message from a client, as it came (pkt, len: one message,
 * padding allowed): parsed with the server's channel range (RFC 8656
 * section 12; legacy_channels: RFC 5766's) and relayed to the channel's
 * peer (section 12.4). Returns 0 relayed, -1 dropped (malformed, a number
 * out of range or unbound, a refused peer, over max-bps). */
int turn_server_chandata(struct turn_server *srv, const struct turn_tuple *tuple,
			 const uint8_t *pkt, size_t len, uint64_t now_ms);

/* What arrived on an allocation's relay from a peer: a datagram (data,
 * len) or an ICMP error about one the relay sent (type, code and info of
 * the ICMP or ICMPv6 message, by peer's family; info the MTU it reports
 * where there is one). */
struct turn_peer_event {
	struct turn_alloc *alloc;
	const struct turn_addr *peer;
	const uint8_t *data;
	size_t len;
	uint8_t type, code;
	uint32_t info;
	uint64_t now_ms;
};

/*
 * A peer's datagram (RFC 8656 sections 10.3 and 12.5): with a permission,
 * builds a ChannelData (padded over TCP) or a Data indication into reply
 * and sets *to to the client's tuple. Returns 0 when reply holds a message
 * to send, -1 when dropped.
 */
int turn_server_peer_data(struct turn_server *srv, const struct turn_peer_event *ev,
			  struct turn_reply *reply, const struct turn_tuple **to);

/* An ICMP error (RFC 8656 section 11.5): fills reply with a Data
 * indication carrying XOR-PEER-ADDRESS and ICMP for the client at *to and
 * returns 0; -1: not relayed (a type the RFC leaves out, or no permission
 * for the peer's IP). */
int turn_server_peer_icmp(struct turn_server *srv, const struct turn_peer_event *ev,
			  struct turn_reply *reply, const struct turn_tuple **to);

/* The outcome of a TCP connection on a TCP allocation (RFC 6062), for
 * the turn_server_tcp_* calls below. */
struct turn_tcp_event {
	struct turn_alloc *alloc;
	uint32_t id;
	const struct turn_addr *peer; /* turn_server_tcp_incoming */
	int code;                     /* turn_server_tcp_connected: 0 or 447 */
	uint64_t now_ms;
};

/* A connection net/ started for a Connect (turn_io.tcp_connect) is made
 * (code 0) or failed (447): reply gets the Connect's answer, for the
 * allocation's client connection. Returns 0 when reply holds it, -1 when
 * the connection is unknown (its allocation closed it). */
int turn_server_tcp_connected(struct turn_server *srv, const struct turn_tcp_event *ev,
			      struct turn_reply *reply);
/* A peer connected to the relay of ev->alloc (RFC 6062 section 5.3).
 * Returns 0 with a ConnectionAttempt indication in reply (net/ then holds
 * the connection for a ConnectionBind), or -1: refused (no permission,
 * the policy, max-tcp-connections), close it. */
int turn_server_tcp_incoming(struct turn_server *srv, const struct turn_tcp_event *ev,
			     struct turn_reply *reply);
/* Connection ev->id of ev->alloc is gone (closed by either end, or never
 * bound within 30 s). */
void turn_server_tcp_closed(struct turn_server *srv, const struct turn_tcp_event *ev);

/* Expire allocations whose time has come; call about once a second. */
void turn_server_tick(struct turn_server *srv, uint64_t now_ms);

/* For the operator (daemon/control_worker.c): call fn for every granted
 * allocation; fn must not change the table. An allocation by its
 * turn_alloc.id, or NULL. Closing one (reason: enum turn_close_reason)
 * frees everything it holds, as its expiry does: relays and ports, the
 * quota, channels and TCP connections, the fast path's entries (through
 * turn_io), and reports its traffic in the DELETED event. Never from a
 * callback of the core itself. */
void turn_server_foreach(const struct turn_server *srv,
			 void (*fn)(void *arg, const struct turn_alloc *a), void *arg);
struct turn_alloc *turn_server_alloc_by_id(const struct turn_server *srv, uint64_t id);
void turn_server_close(struct turn_server *srv, struct turn_alloc *a, unsigned reason);

/* The client's TCP connection closed: its allocation goes with it
 * (RFC 8656 section 3.1). */
void turn_server_client_closed(struct turn_server *srv, const struct turn_tuple *tuple);

const struct turn_server_stats *turn_server_stats(const struct turn_server *srv);

/* Permissions and channels in force now, over every allocation: a walk
 * of the table, for a gauge read about once a second. */
void turn_server_gauges(const struct turn_server *srv, uint64_t now_ms, uint64_t *permissions,
			uint64_t *channels);

/* Settings that may change while running (the realm's limits and peer
 * ranges from Redis). policy must outlive its use, as in the options;
 * max_bps applies to every allocation from the next packet on.
 * set_policy also sweeps what allocations hold against the new policy:
 * permissions for an IP it refuses on every port, channels and RFC 6062
 * connections to a peer it refuses end at now_ms (turn_io.tcp_close is
 * called for those), so the data path need not ask it for every packet. Call it
 * whenever the policy or what it reads (the own addresses) changes. */
void turn_server_set_policy(struct turn_server *srv, const struct turn_policy *policy,
			    uint64_t now_ms);
void turn_server_set_max_bps(struct turn_server *srv, uint64_t max_bps);
/* The cap in force (bytes per second per allocation, 0: none). */
uint64_t turn_server_max_bps(const struct turn_server *srv);
struct bw_share;
/* The server's relayed bandwidth cap (bps-capacity), a budget shared with
 * the other workers' servers (util/bw_share.h; its rate 0: no cap), or
 * NULL: none. Both directions of every allocation draw from it, after
 * max-bps and the user's budget. It must outlive srv. */
void turn_server_set_capacity(struct turn_server *srv, struct bw_share *capacity);
/* Hand what each allocation with a user record relayed since its last
 * fold to turn_io.user_fold: call once a tick (after the kernel's traffic
 * was folded in), so the per-user totals cost nothing per packet. */
void turn_server_fold_usage(struct turn_server *srv);
struct turn_traffic;
/* Traffic relayed for a outside the core (turn_io.alloc_sync): added to
 * its counters and the server's as the core's data path adds its own. */
void turn_server_add_traffic(struct turn_server *srv, struct turn_alloc *a,
			     const struct turn_traffic *t);
/* The per-allocation limits of the options (a configuration reload): they
 * apply to the next request; what allocations already hold stays. */
void turn_server_set_limits(struct turn_server *srv, uint32_t max_lifetime,
			    unsigned max_permissions, unsigned max_channels,
			    unsigned max_tcp_connections);

#endif
