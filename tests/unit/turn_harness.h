/*
 * A test harness for the TURN core (src/turn/): an in-memory struct
 * turn_io that hands out relay addresses, records what the core sends and
 * keeps quota counters, a fake clock, and a client that builds requests
 * with the STUN codec and signs them the way a real TURN client does
 * (after a 401 it has a NONCE; every later request carries USERNAME,
 * REALM, NONCE and MESSAGE-INTEGRITY).
 *
 * The harness fills struct turn_credential itself, as net/ does after its
 * credential lookup. Shared by check_turn_methods and check_turn_relay.
 */
#ifndef TURND_TESTS_UNIT_TURN_HARNESS_H
#define TURND_TESTS_UNIT_TURN_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/attr.h"
#include "stun/channel.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "turn/alloc.h"
#include "turn/io.h"
#include "turn/policy.h"
#include "turn/server.h"

#define FAKE_MAX_RELAYS 64
#define FAKE_MAX_SENDS 64
#define FAKE_MAX_USERS 8
#define FAKE_MAX_RESERVATIONS 8
#define FAKE_PORT_BASE 50000
/* The fake clock starts here: any monotonic clock reads something large. */
#define T0_MS 5000000ull

/* The fake's relay endpoint: the core only ever holds pointers to it. */
struct turn_relay {
	struct turn_addr addr;
	struct turn_alloc *owner;
	bool open;
};

struct fake_send {
	struct turn_relay *relay;
	struct turn_addr peer;
	size_t len;
	uint8_t data[1500];
};

struct fake_reservation {
	uint64_t token;
	struct turn_addr addr;
	bool claimed;
};

struct fake_user {
	char name[64];
	unsigned n;
};

#define FAKE_MAX_TCP 64

/* A TCP relay connection as the fake's net/ keeps it (RFC 6062). */
struct fake_tcp {
	uint32_t id;
	char user[64];
	bool waiting; /* for a ConnectionBind */
	bool open;
};

/* One alloc_sync or DELETED alloc_event, in the order they came. */
#define FAKE_MAX_SYNCS 64
struct fake_sync {
	const struct turn_alloc *a;
	int why;  /* enum turn_sync, or -1: the DELETED alloc_event */
	/* For the event: the allocation's counters as it reported them. */
	uint64_t pkts_out, bytes_out, pkts_in, bytes_in;
	uint8_t reason; /* the event's: turn_alloc.close_reason */
};

struct fake_io {
	struct turn_io io;
	/* alloc_sync and the DELETED alloc_event, the first FAKE_MAX_SYNCS
	 * kept; each CLOSING hands back carry. */
	struct fake_sync syncs[FAKE_MAX_SYNCS];
	unsigned n_syncs;
	struct turn_traffic carry;
	int tcp_connect_code; /* tcp_connect answers this when non-zero (447) */
	unsigned tcp_connects, tcp_closes;
	struct fake_tcp tcp[FAKE_MAX_TCP];
	unsigned n_tcp;
	bool ipv6;      /* can open IPv6 relays; otherwise 440 */
	int fail_code;  /* relay_open answers this when non-zero (508, 440) */
	unsigned ports; /* ports handed out so far, of either family */
	unsigned opens, closes, double_closes;
	struct turn_relay relays[FAKE_MAX_RELAYS];
	unsigned n_relays;
	struct fake_reservation res[FAKE_MAX_RESERVATIONS];
	unsigned n_res;
	/* Every relay_send, the first FAKE_MAX_SENDS kept in full. */
	struct fake_send sends[FAKE_MAX_SENDS];
	unsigned n_sends;
	/* Quotas: 0 is no limit. */
	unsigned user_limit, total_limit;
	unsigned total, quota_underflows;
	struct fake_user users[FAKE_MAX_USERS];
	/* The turn_input.origin each callback was last given (the caller's
	 * facts about the request, handed back by the core). */
	void *origin_relay_open, *origin_quota_take, *origin_tcp_bind;
	bool shed; /* quota_take answers 300: over a load-shedding threshold */
};

void fake_io_init(struct fake_io *f);
/* The relay the fake handed out with this address, or NULL. */
struct turn_relay *fake_relay_at(struct fake_io *f, const struct turn_addr *addr);
/* A connection from a peer to alloc's relay, as net/ registers it before
 * it asks the core (turn_server_tcp_incoming). Returns its id. */
uint32_t fake_tcp_incoming(struct fake_io *f, const struct turn_alloc *a);
struct fake_tcp *fake_tcp_find(struct fake_io *f, uint32_t id);
/* How many alloc_sync calls (why) or DELETED events (-1) were recorded for
 * a (NULL: for any allocation). */
unsigned fake_syncs(const struct fake_io *f, const struct turn_alloc *a, int why);
/* Allocations currently counted against user. */
unsigned fake_user_quota(const struct fake_io *f, const char *user);

struct harness {
	struct fake_io io;
	struct turn_server_options opt;
	struct turn_policy *policy;
	struct turn_server *srv;
	uint64_t now_ms;
};

/* Defaults: realm "turnd.test", the real default peer policy, the fake io,
 * the clock at T0_MS. Tests change h->opt or h->io, then harness_start. */
void harness_init(struct harness *h);
void harness_start(struct harness *h);
/* harness_init + harness_start. */
void harness_up(struct harness *h);
/* Free the server and check that everything it took was given back:
 * every relay opened was closed once, and every quota counter is 0. */
void harness_down(struct harness *h);
/* A reload: the server's policy becomes one built from opt (the old one
 * freed once the server has the new one, as the daemon does). */
void harness_reload_policy(struct harness *h, const struct turn_policy_options *opt);
/* The same with denied-peer-ip range (text) and nothing else. */
void harness_deny(struct harness *h, const char *range);
/* Move the clock forward and let the server expire what is due. */
void harness_advance(struct harness *h, uint64_t ms);
/* The server's count of answers to method ("allocate", ...) with code (0:
 * success); aborts the test for a pair it does not count. */
uint64_t answers(struct harness *h, const char *method, int code);

/* How a request is signed (flags). */
enum {
	AUTH_NONE = 0,      /* no USERNAME, no MESSAGE-INTEGRITY, no credential */
	AUTH_MI = 1 << 0,   /* USERNAME, REALM, NONCE, MESSAGE-INTEGRITY (MD5 key) */
	AUTH_SHA256 = 1 << 1, /* also PASSWORD-ALGORITHMS + -ALGORITHM SHA-256, MI-SHA256 */
	AUTH_NO_NONCE = 1 << 2,
	AUTH_NO_REALM = 1 << 3,
};

struct client {
	struct harness *h;
	struct turn_tuple tuple;
	char user[64];
	char pass[64];       /* what the client signs with */
	char store_pass[64]; /* what the credential store holds */
	int cred_status;     /* what net's lookup found: 1, 0 or -1 */
	char nonce[128];     /* the last NONCE the server sent */
	uint32_t seq;        /* for transaction IDs */
	/* The request being built. */
	uint8_t req[1500];
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	/* The last answer. */
	uint8_t resp[1500];
	struct turn_reply reply;
	struct stun_msg out;
	int rc;
	bool authenticated; /* the core's turn_input.authenticated for it */
	/* The relayed addresses of its allocation (IPv4, IPv6). */
	struct turn_addr relayed[2];
	/* turn_server_auth's answers for the last client_deliver_as with
	 * pre_auth: before the lookup, and with the credential (-2: not
	 * asked). */
	int auth_stages[2];
};

/* How client_deliver_as hands the request over, as the daemon does. */
struct client_delivery {
	void *origin;  /* turn_input.origin */
	bool pre_auth; /* ask turn_server_auth before and after the lookup */
	bool forget_mac; /* then say the MAC did not verify, whatever it is */
};

/* A UDP client at 192.0.2.<host>:<port> talking to 192.0.2.1:3478. */
void client_init(struct client *c, struct harness *h, const char *user, const char *pass,
		 int host, uint16_t port);
/* The same over TCP. */
void client_init_tcp(struct client *c, struct harness *h, const char *user, const char *pass,
		     int host, uint16_t port);

/* Start a request (a fresh transaction ID) or a request with a given one;
 * the caller appends attributes to c->b. */
struct stun_builder *client_begin(struct client *c, uint16_t method);
struct stun_builder *client_begin_tid(struct client *c, uint16_t method, uint8_t cls,
				      const uint8_t tid[STUN_TID_LEN]);
/* Append what auth asks for (USERNAME, REALM, NONCE, MI...). */
void client_sign(struct client *c, int auth);
/* Finish the message, hand it to the core, parse the answer (storing any
 * NONCE it carries). Returns the answer's code: 0 success, the
 * ERROR-CODE, or -1 when there was no answer. */
int client_deliver(struct client *c, int auth);
/* client_deliver, handed over as how says. */
int client_deliver_as(struct client *c, int auth, const struct client_delivery *how);
/* Parse an answer the core wrote into c->resp (c->reply.len) for method,
 * as client_deliver does. */
int client_read_answer(struct client *c, uint16_t method);
/* client_sign + client_deliver. */
int client_send(struct client *c, int auth);

/* An unauthenticated Allocate: expects 401 and keeps its NONCE. */
void client_challenge(struct client *c);
/* Challenge, then an authenticated Allocate for UDP with LIFETIME
 * `lifetime` (0: none); expects success and records the relayed
 * addresses. */
void client_allocate(struct client *c, uint32_t lifetime);
/* An authenticated Allocate for UDP (the client already has a NONCE),
 * with LIFETIME when non-zero and fam_attr (REQUESTED- or
 * ADDITIONAL-ADDRESS-FAMILY) carrying family when non-zero. Returns the
 * code; on success records the relayed addresses. */
int client_try_allocate(struct client *c, uint32_t lifetime, uint16_t fam_attr, uint8_t family);
/* Authenticated CreatePermission / ChannelBind / Refresh; return the code. */
int client_permit(struct client *c, const char *peer);
int client_bind(struct client *c, uint16_t channel, const char *peer);
int client_refresh(struct client *c, uint32_t lifetime);
/* A Send indication; returns turn_server_handle's result. */
int client_send_ind(struct client *c, const char *peer, const void *data, size_t len);
/* ChannelData on channel from the client, as raw bytes; returns
 * turn_server_chandata's. */
int client_chandata(struct client *c, uint16_t channel, const void *data, size_t len);
/* The allocation that owns the client's IPv4 (or else IPv6) relay. */
struct turn_alloc *client_alloc(struct client *c);
/* Data from peer to the client's relay; reply receives what goes to the
 * client. Returns turn_server_peer_data's result. */
int peer_send(struct client *c, const char *peer, const void *data, size_t len,
	      struct turn_reply *reply);

/* Reading the last answer. */
const struct stun_attr *resp_attr(const struct client *c, uint16_t type, int nth);
uint32_t resp_u32(const struct client *c, uint16_t type);
/* The nth XOR address of that type, or a zeroed address. */
struct turn_addr resp_xor_addr(const struct client *c, uint16_t type, int nth);
bool resp_has(const struct client *c, uint16_t type);

/* Peers the default policy refuses: both ends of every range of
 * SECURITY.md (IPv4 and IPv6). */
extern const char *const denied_peers[];
extern const size_t n_denied_peers;

/* An address from text; the test fails if it does not parse. */
struct turn_addr addr_of(const char *text);

#endif
