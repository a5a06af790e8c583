/*
 * A fake reactor for src/daemon/ (unbound's replay idea, testcode/replay.c):
 * a whole worker built from a configuration text, run by the test instead
 * of by its thread, with
 *   - a scripted clock (io/clock.h) the test moves by hand,
 *   - fake paths (net/path.h) that record what the daemon pushed or sent
 *     back to a client and that can say "retired",
 *   - a fake asynchronous credential backend (auth/auth.h) that answers
 *     AUTH_PENDING until the test scripts "Redis answered", and counts
 *     the lookups it was asked,
 *   - a client that builds requests signed the way a TURN client signs
 *     them (the 401 nonce dance, MESSAGE-INTEGRITY), and reads answers.
 * The worker's own listening sockets are real loopback sockets on free
 * ports, for the tests that need a real transport (listener reload).
 */
#ifndef TURND_TESTS_UNIT_DAEMON_HARNESS_H
#define TURND_TESTS_UNIT_DAEMON_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "daemon/fleet.h"
#include "daemon/quota.h"
#include "daemon/worker.h"
#include "io/clock.h"
#include "net/conn_gate.h"
#include "net/listen.h"
#include "net/net_worker.h"
#include "net/path.h"
#include "net/relay.h"
#include "net/tls.h"
#include "stun/msg.h"
#include "turn/nonce.h"

#define DH_REALM "turnd.test"

/* The scripted clock: monotonic microseconds and the wall clock's
 * seconds, moved together by dh_advance. */
struct dh_clock {
	struct io_clock io;
	uint64_t us;
	uint64_t wall_s;
};

/* A fake path: what the daemon sends to the client lands in last. */
struct dh_path {
	struct net_path path;
	struct net_path_ops ops;
	uint8_t slot[WORKER_SLOT];
	uint8_t last[WORKER_BIG_OUT];
	size_t last_len;
	unsigned sent;   /* messages pushed or sent */
	unsigned holds, releases;
	bool retired;
};

void dh_path_init(struct dh_path *p, enum net_path_kind kind);

/* The fake asynchronous backend. */
#define DH_MAX_USERS 8
#define DH_MAX_WAITING 16
struct dh_user {
	char name[64];
	char pass[64];
	bool fetched; /* in "Redis"'s answer cache: answered at once */
	uint64_t max_bps; /* answered as the HTTP hook's "max_bps" (0: none) */
};
struct dh_waiting {
	auth_done_fn *done;
	void *arg;
	char name[64];
};
struct dh_backend {
	struct auth_backend base;
	bool async; /* users not fetched yet answer AUTH_PENDING */
	unsigned lookups;
	struct dh_user users[DH_MAX_USERS];
	unsigned n_users;
	struct dh_waiting waiting[DH_MAX_WAITING];
	unsigned n_waiting;
};

struct dh {
	struct conf *conf;
	struct reload_snapshot *snap;
	struct relay_shared relay;
	struct quota_table quota;
	struct fleet_shared fleet;
	struct conn_gate gate;
	struct tls_shared tls;
	struct listen_registry listen;
	struct turn_policy *policy;
	uint8_t nonce_secret[TURN_NONCE_SECRET_LEN];
	struct dh_clock clock;
	struct worker *w;
	struct dh_backend *backend; /* owned by w->auth */
	struct user_usage *usage;   /* per-user records, as the daemon keeps them */
	uint16_t port;      /* the listening-port (UDP, 127.0.0.1) */
	uint16_t port2;     /* a 'listener' entry's UDP port, when asked */
};

/* A worker from the base configuration (127.0.0.1 on a free port, UDP
 * only, relays on 127.0.0.1, realm DH_REALM, the loopback peer allowed)
 * plus extra, a libconfuse text appended to it. With listener set, one
 * more 'listener' entry on another free port (h->port2). The worker's
 * credential chain is the fake backend alone, with "alice" and "bob". */
void dh_up(struct dh *h, const char *extra, bool listener);
void dh_down(struct dh *h);
/* Move the scripted clock forward. */
void dh_advance(struct dh *h, uint64_t ms);
/* Run the worker's loop for what is due now, without waiting. */
void dh_loop_once(struct dh *h);
/* Run the worker's once-a-second tick now (at the scripted time). */
void dh_tick(struct dh *h);
/* The configuration text dh_up built (for a reload's next conf). */
const char *dh_conf_text(const struct dh *h, bool listener, char *buf, size_t cap);

/* "Redis answered": name is in the backend's cache from now on, and the
 * lookups waiting for it are told (AUTH_FOUND). */
void dh_backend_answer(struct dh_backend *b, const char *name);

/* A client at tuple, signing as user with pass (dh_up's users: "alice"
 * and "bob" with password "<name>-pw"). */
struct dh_client {
	struct dh *h;
	struct turn_tuple tuple;
	char user[64];
	char pass[64];
	const char *realm; /* NULL: DH_REALM */
	char nonce[128];
	uint32_t seq;
	uint8_t req[1500];
	size_t req_len;
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	uint8_t resp[WORKER_BIG_OUT];
	size_t resp_len;
	struct stun_msg out;
};

void dh_client_init(struct dh_client *c, struct dh *h, const char *user, uint16_t port);
struct stun_builder *dh_begin(struct dh_client *c, uint16_t method, uint8_t cls);
/* USERNAME, REALM, NONCE, MESSAGE-INTEGRITY; then the length built. */
void dh_sign(struct dh_client *c);
size_t dh_end(struct dh_client *c);
/* The message built, to the worker's message hook on path: the hook's
 * result. The answer (if any) is read with dh_answer. */
enum net_msg_result dh_deliver(struct dh_client *c, struct dh_path *p);
/* The last message on p, as an answer to the client's request: 0, its
 * error code, or -1 when p carries nothing. Keeps any NONCE. */
int dh_answer(struct dh_client *c, struct dh_path *p);
/* Parse len bytes of c->resp as the answer: as dh_answer. */
int dh_read(struct dh_client *c, size_t len);
/* An Allocate for UDP: signed (after a 401 when the client has no
 * nonce yet) with LIFETIME lifetime (0: none). Returns the code. */
int dh_allocate(struct dh_client *c, struct dh_path *p, uint32_t lifetime);
/* The request being built, through dispatch_decide with these facts. */
bool dh_decide(struct dh_client *c, struct dh_path *p, enum fleet_verdict v, bool *used);

/* The LIFETIME of the last answer. */
uint32_t dh_lifetime(const struct dh_client *c);

/* Real sockets: a UDP socket on 127.0.0.1 (a free port). */
int dh_udp_socket(uint16_t *port);
/* Send what c built to 127.0.0.1:port from fd, run the worker's loop
 * until an answer comes back on fd (bounded), parse it: as dh_answer. */
int dh_udp_exchange(struct dh_client *c, int fd, uint16_t port);
/* Receive on fd, running the worker's loop meanwhile (bounded): the
 * length, or -1. */
long dh_udp_wait(struct dh *h, int fd, uint8_t *buf, size_t cap);

#endif
