/*
 * A worker's listening sockets, and 'listener' entries added or removed by
 * a reload (SIGHUP) without a restart.
 *
 * Each socket is allocated on its own and the worker keeps arrays of
 * pointers to them: relays and parked requests point to a UDP socket, so
 * one may come or go without moving the others.
 *
 * A reload binds the sockets of added entries in the main thread, one per
 * worker (SO_REUSEPORT, as at start-up), so a bind error refuses the
 * reload before anything changes; each worker attaches them to its own
 * loop. Removed TCP and TLS sockets are closed at once (accepted
 * connections keep running). Removed UDP and DTLS sockets are retired:
 * they keep carrying the allocations whose client path is theirs, answer
 * Binding, and refuse Allocate as draining does (300 or 508). When no
 * worker has an allocation left on its socket of that address, every
 * worker closes its own: closing one early would change how the kernel
 * spreads the address's clients over the others' sockets, and send a
 * live allocation's client to a worker that does not know it.
 */
#ifndef TURND_NET_LISTEN_H
#define TURND_NET_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "util/addr.h"

struct net_worker;
struct listen_retire;
struct listen_change;

/* With a CONF_LISTEN_* bit: the socket belongs to a 'listener' entry (a
 * reload may close or retire it). */
#define LISTEN_ENTRY 0x100u
/* With CONF_LISTEN_TCP or CONF_LISTEN_TLS: a socket of listening-port or
 * tls-listening-port, which option proxy-protocol governs. */
#define LISTEN_MAIN 0x200u

/* Open one socket of kind (one CONF_LISTEN_* bit, maybe | LISTEN_ENTRY or
 * LISTEN_MAIN; a TCP socket may have CONF_LISTEN_TCP and CONF_LISTEN_TLS,
 * and CONF_LISTEN_PROXY) on a and attach it to w's loop. Start-up, main thread, before the
 * worker runs. Returns 0, or -1 with err. */
int listen_open(struct net_worker *w, const struct turn_addr *a, unsigned kind, char *err,
		size_t errlen);

/* This worker's TLS listener and DTLS socket on the TLS port of addr's
 * address (when TLS and DTLS are on). Returns 0, or -1 with a message in
 * err. */
int listen_open_tls_port(struct net_worker *w, const struct turn_addr *addr, char *err,
			 size_t errlen);

/* Close and free every listening socket of w (at its end). */
void listen_close_all(struct net_worker *w);

/* Once a second (worker thread): retired sockets whose address has no
 * allocation left on any worker are closed. */
void listen_service(struct net_worker *w);

/* The retiring addresses, seen from the main thread. */
struct listen_registry {
	struct listen_retire **groups;
	size_t n, cap;
};
void listen_registry_fini(struct listen_registry *reg);

/* What a reload changes in the listeners. */
struct listen_plan_ctx {
	struct listen_registry *reg;
	const struct conf *running;
	const struct conf *next;
	unsigned n_workers;
};

/*
 * Main thread: bind the sockets of what next adds to running's listeners
 * for each worker, and list what it removes. changes[i] (n_workers of
 * them) is worker i's part, or NULL for all when nothing changes. Returns
 * 0, or -1 with err naming the listener (nothing stays open, nothing
 * changes). Then either listen_plan_cancel (the reload is refused after
 * all) or hand each change to its worker (worker_reload_post).
 */
int listen_plan(const struct listen_plan_ctx *pc, struct listen_change **changes, char *err,
		size_t errlen);
void listen_plan_cancel(struct listen_change **changes, unsigned n_workers);
/* Log what a reload from running to next does to the listeners. */
void listen_plan_log(const struct conf *running, const struct conf *next);

/* A change posted after an earlier one the worker has not applied yet:
 * both are applied, in order. Returns the chain (first, then later). */
struct listen_change *listen_change_chain(struct listen_change *first, struct listen_change *later);
/* Worker thread: apply c (and the changes chained after it); takes c. */
void listen_change_apply(struct net_worker *w, struct listen_change *c);
/* Free c (and its chain) unapplied: its sockets are closed. NULL: no-op. */
void listen_change_free(struct listen_change *c);

#endif
