/*
 * Allocations (RFC 8656 section 2.2), their permissions (section 9) and
 * channels (section 12), owned by one worker's struct turn_server.
 *
 * Sizes are kept small on purpose (BENCHMARK.md: at most 2 KiB of process
 * memory per allocation): permissions and channels live in arrays that
 * grow only when used, addresses are 20-byte struct turn_addr.
 *
 * Time: every expiry is in seconds of the caller's monotonic clock.
 * Allocations sit in a timer wheel (one slot per second); permissions and
 * channels expire lazily, checked when used and pruned when the allocation
 * is refreshed or its wheel slot comes round. One mechanism, no timer
 * object per permission.
 */
#ifndef TURND_TURN_ALLOC_H
#define TURND_TURN_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "util/bw_share.h"
#include "turn/server.h"
#include "util/addr.h"

#define TURN_PERMISSION_LIFETIME 300 /* RFC 8656 section 9 */
#define TURN_CHANNEL_LIFETIME 600    /* RFC 8656 section 12 */
/* After a channel expires its number and peer stay reserved for 5 more
 * minutes (RFC 8656 section 12). */
#define TURN_CHANNEL_QUIET 300
/* Slots of one second. Expiries further out than this wrap round and are
 * re-armed when their slot comes up, so any lifetime works. */
#define TURN_WHEEL_SLOTS 1024

struct turn_relay; /* net's relay endpoint, opaque here */

struct turn_perm {
	uint8_t family;
	uint8_t ip[16];
	uint32_t expires; /* seconds */
};

struct turn_channel {
	uint16_t number;
	/* The policy's verdict on peer rests on live state (the hairpin,
	 * turn_policy_live): each ChannelData asks the policy again. Others
	 * were judged at ChannelBind and by the sweep of a policy change. */
	bool recheck;
	struct turn_addr peer;
	uint32_t expires; /* the binding; the number stays reserved until expires + QUIET */
};

/* A TCP connection of a TCP allocation (RFC 6062): one the client asked
 * for with Connect (its answer waits until the connection is made) or one
 * a peer opened to the relay (announced by ConnectionAttempt). */
struct turn_tcp_conn {
	uint32_t id;          /* CONNECTION-ID, unique in the server (net/ picks it) */
	struct turn_addr peer;
	bool connecting;      /* a Connect waiting for the outcome */
	/* The Connect being answered: its transaction and how to sign. */
	uint8_t tid[STUN_TID_LEN];
	uint8_t key[32];
	uint8_t key_len;
	bool mi_sha256;
	bool fingerprint;
};

struct turn_relay_slot {
	struct turn_relay *io; /* NULL when this family is not allocated */
	struct turn_addr addr; /* the relayed transport address (what clients are told) */
};

struct turn_alloc {
	struct turn_tuple tuple;
	struct turn_alloc *hash_next;
	struct turn_alloc *wheel_next, *wheel_prev;
	uint32_t wheel_slot;
	uint32_t expires;        /* seconds */
	uint32_t lifetime;       /* granted on the last Allocate/Refresh, for retransmissions */
	uint8_t alloc_tid[STUN_TID_LEN]; /* the Allocate that created it (retransmissions) */
	uint16_t v6_error;       /* ADDRESS-ERROR-CODE of that answer, or 0 */
	uint64_t token;          /* RESERVATION-TOKEN of that answer, or 0 */
	bool dont_fragment;
	bool tcp;                /* REQUESTED-TRANSPORT TCP (RFC 6062) */
	bool dead;               /* deleted, waiting to be reaped at the end of the loop turn */
	struct turn_relay_slot relay[2]; /* [0] IPv4, [1] IPv6 (RFC 8656 dual allocation) */
	uint16_t n_perms, cap_perms;
	uint16_t n_channels, cap_channels;
	struct turn_perm *perms;
	struct turn_channel *channels;
	uint16_t n_tcp, cap_tcp;
	struct turn_tcp_conn *tcp_conns;
	char *username;          /* who created it: later requests must match (441) */
	/* Bandwidth cap (token bucket, thousandths of a byte); 0 rate = unlimited. */
	uint64_t bucket_tokens;
	uint64_t bucket_ms;
	/* Traffic, for logs and metrics. */
	uint64_t pkts_in, pkts_out, bytes_in, bytes_out;
	/* The user's record in the process (turn_io.user_attach; NULL:
	 * none), opaque here; the user's shared budget (user-max-bps) and
	 * the tokens this allocation drew from it; and the counters as of
	 * the last fold into the user's totals (turn_server_fold_usage). */
	void *user;
	struct bw_share *user_bw;
	struct bw_local user_local;
	uint64_t folded_pkts_in, folded_pkts_out, folded_bytes_in, folded_bytes_out;
	/* For the operator (turnctl): a number unique in the table, when it
	 * was granted (seconds, 0 until then), and why it ends (enum
	 * turn_close_reason, for the closing line). */
	uint64_t id;
	uint32_t created;
	uint8_t close_reason;
};

struct turn_alloc_table {
	struct turn_alloc **buckets;
	size_t n_buckets; /* power of two */
	size_t count;
	uint32_t seed;
	struct turn_alloc *wheel[TURN_WHEEL_SLOTS];
	uint32_t wheel_now; /* last second the wheel was advanced to */
	uint64_t next_id;   /* turn_alloc.id of the next one, from 1 */
};

int turn_alloc_table_init(struct turn_alloc_table *t, uint32_t seed);
/* Frees every allocation still in the table; calls release for each
 * first so relay sockets and quotas are given back. */
void turn_alloc_table_fini(struct turn_alloc_table *t, void (*release)(void *, struct turn_alloc *),
			   void *arg);

struct turn_alloc *turn_alloc_find(const struct turn_alloc_table *t, const struct turn_tuple *tuple);

/* A new allocation for tuple, inserted in the table (not yet in the wheel).
 * Returns NULL on out-of-memory. */
struct turn_alloc *turn_alloc_new(struct turn_alloc_table *t, const struct turn_tuple *tuple,
				  const char *username);

/* (Re)arm the allocation's expiry at `expires` seconds. */
void turn_alloc_set_expiry(struct turn_alloc_table *t, struct turn_alloc *a, uint32_t expires);

/* Remove from table and wheel and free. The caller released the relay. */
void turn_alloc_free(struct turn_alloc_table *t, struct turn_alloc *a);

/*
 * Advance the wheel to `now` seconds and call expire(arg, a) for every
 * allocation whose time has come. expire must free it (through
 * turn_alloc_free) or re-arm it.
 */
void turn_alloc_table_advance(struct turn_alloc_table *t, uint32_t now,
			      void (*expire)(void *, struct turn_alloc *), void *arg);

/* Permissions: valid means expires > now. */
bool turn_perm_valid(const struct turn_alloc *a, const struct turn_addr *peer, uint32_t now);
/* Install or refresh; -1 when max permissions (0 = no limit) are in use
 * or on out-of-memory. */
int turn_perm_install(struct turn_alloc *a, const struct turn_addr *peer, uint32_t now,
		      unsigned max);
/* 0 when turn_perm_install(a, peer, now, max) would succeed, with the
 * room for it made, so that install cannot fail; -1 as install. Installs
 * nothing: a request that must be all or nothing checks first. */
int turn_perm_reserve(struct turn_alloc *a, const struct turn_addr *peer, uint32_t now,
		      unsigned max);
size_t turn_perm_count(const struct turn_alloc *a, uint32_t now);
/* When the permission for peer's IP expires (seconds), or 0 when there is
 * none. */
uint32_t turn_perm_expires(const struct turn_alloc *a, const struct turn_addr *peer);

/* Channels. */
const struct turn_channel *turn_channel_by_number(const struct turn_alloc *a, uint16_t number,
						  uint32_t now);
const struct turn_channel *turn_channel_by_peer(const struct turn_alloc *a,
						const struct turn_addr *peer, uint32_t now);
/*
 * Bind or refresh (RFC 8656 section 11.2). Returns 0, 400 when the number
 * is bound to another peer or the peer to another number (including during
 * the quiet period), 508 when max channels are in use or out of memory.
 */
int turn_channel_bind(struct turn_alloc *a, uint16_t number, const struct turn_addr *peer,
		      uint32_t now, unsigned max);
size_t turn_channel_count(const struct turn_alloc *a, uint32_t now);
/* The binding of number, expired or not, for the core to annotate; NULL
 * when there is none. */
struct turn_channel *turn_channel_slot(struct turn_alloc *a, uint16_t number);

/* Drop expired permissions and channels past their quiet period. */
void turn_alloc_prune(struct turn_alloc *a, uint32_t now);

#endif
