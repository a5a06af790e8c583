/*
 * The in-memory struct turn_io of fuzz/fuzz_turn_server.c, and the
 * invariants it checks on the TURN core (src/turn/).
 *
 * Like tests/unit/turn_harness.c, but without Check and with a real port
 * pool: relay ports are handed out and taken back, RESERVATION-TOKENs hold
 * the next port for 30 s (RFC 8656 section 7.2, as net/relay.c does), and
 * every call the core makes is checked against what the io knows. A
 * violation prints where and calls abort(), so libFuzzer reports it.
 */
#ifndef TURND_FUZZ_FUZZ_IO_H
#define TURND_FUZZ_FUZZ_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/internal.h"
#include "turn/policy.h"

void fz_fail(const char *what, const char *file, int line) __attribute__((noreturn));
#define FZ_ASSERT(c)                                                                               \
	do {                                                                                       \
		if (!(c))                                                                          \
			fz_fail(#c, __FILE__, __LINE__);                                           \
	} while (0)

#define FZ_PORTS 16        /* relay ports per family */
#define FZ_PORT_BASE 50000 /* even, so EVEN-PORT means an even index */
#define FZ_MAX_RELAYS 128  /* relay objects per input; never reused */
#define FZ_MAX_RES 8
#define FZ_MAX_TCP 64
#define FZ_MAX_USERS 4
#define FZ_RESERVATION_MS 30000 /* RFC 8656 section 7.2: held 30 s */

struct turn_relay {
	bool open;
	bool tcp;
	struct turn_addr addr;
	struct turn_alloc *owner;
};

struct fz_reservation {
	bool live;
	uint64_t token;
	struct turn_addr addr;
	uint64_t expires_ms;
};

/* A TCP connection of a TCP relay (RFC 6062) as net/ keeps it. */
struct fz_tcp {
	bool open;
	bool connecting; /* a Connect whose outcome the core waits for */
	bool waiting;    /* for a ConnectionBind */
	uint32_t id;
	struct turn_alloc *owner;
	struct turn_addr peer;
};

struct fz_user {
	const char *name;
	unsigned n;
};

struct fz_io {
	struct turn_io io;
	const struct turn_policy *policy;
	const uint64_t *now_ms;
	const struct turn_server *srv; /* set once it exists */
	/* Behaviour chosen by the input. */
	bool ipv6;
	int fail_code;             /* relay_open answers this when non-zero */
	int tcp_connect_code;      /* tcp_connect answers this when non-zero */
	unsigned user_limit, total_limit; /* 0: no limit */
	bool shed;                 /* quota_take answers 300 */
	/* The loosest limits the server has had (0: none): a reload that
	 * lowers a limit leaves what allocations hold (server.h). */
	unsigned loosest_perms, loosest_channels, loosest_tcp;
	uint32_t loosest_lifetime;
	/* The pool. */
	bool used[2][FZ_PORTS];
	struct turn_relay relays[FZ_MAX_RELAYS];
	unsigned n_relays, open_relays;
	struct fz_reservation res[FZ_MAX_RES];
	unsigned n_tokens;
	/* Quotas. */
	struct fz_user users[FZ_MAX_USERS];
	unsigned total;
	/* TCP relay connections. */
	struct fz_tcp tcp[FZ_MAX_TCP];
	unsigned n_tcp;
	bool in_tick; /* deletions now are expiries */
	/* alloc_event, and what was relayed. */
	unsigned created, deleted;
	uint64_t sends;
};

/* users: FZ_MAX_USERS names (NULL-terminated early is fine), static. */
void fz_io_init(struct fz_io *f, const struct turn_policy *policy, const uint64_t *now_ms,
		const char *const *users);
/* Drop reservations whose 30 s are over (net/ does this on its timer). */
void fz_io_tick(struct fz_io *f);
/* The fake's relay with this address, open, or NULL. */
struct turn_relay *fz_relay_at(struct fz_io *f, const struct turn_addr *addr);
/* A peer connection net/ accepted on a's relay: registered, waiting. */
struct fz_tcp *fz_tcp_new(struct fz_io *f, struct turn_alloc *a, const struct turn_addr *peer);
/* Ports in use: by open relays and live reservations. */
unsigned fz_ports_used(const struct fz_io *f);

/* The server's limits now (at start and after every reload). */
void fz_io_limits(struct fz_io *f, const struct turn_server *srv);

/* The core's state against the io's, after every operation. */
void fz_check_state(const struct turn_server *srv, const struct fz_io *f, uint64_t now_ms);
/* Once every lifetime has passed: nothing left anywhere. */
void fz_check_empty(const struct turn_server *srv, const struct fz_io *f);

#endif
