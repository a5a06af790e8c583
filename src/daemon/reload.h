/*
 * SIGHUP: the whole configuration again, as a new immutable snapshot.
 *
 * The main thread loads the file (with the same command-line overrides),
 * keeps the running value of every option that needs a restart
 * (conf_reload_pin), builds each worker's static credentials, binds the
 * sockets of added listeners (net/listen.c), loads the certificates, and
 * posts the result to every worker. Each worker swaps
 * its configuration, credentials, peer policy and limits between two
 * events of its own loop (worker_reload_post), so nothing is shared
 * without a lock and allocations keep relaying. A snapshot is freed when
 * the last worker holding it has moved on (reference count). A file that
 * does not load, or a listener that cannot bind, is refused with the
 * reason, and nothing changes.
 */
#ifndef TURND_DAEMON_RELOAD_H
#define TURND_DAEMON_RELOAD_H

#include <stdatomic.h>
#include <stdbool.h>

#include "conf/conf.h"

struct worker;
struct tls_shared;
struct auth;
struct listen_change;
struct listen_registry;

/* One configuration, shared read-only by the workers that run with it. */
struct reload_snapshot {
	struct conf *conf;
	bool owns_conf; /* false for the start-up one, which main.c frees */
	atomic_uint refs; /* the net's current one, and each worker's */
	atomic_uint applied; /* workers that switched to it */
	unsigned n_workers;
};

/* A snapshot holding one reference (the caller's). NULL on out-of-memory
 * (then c is not taken). */
struct reload_snapshot *reload_snapshot_new(struct conf *c, bool owns_conf, unsigned n_workers);
void reload_snapshot_hold(struct reload_snapshot *s);
/* Drop one reference; the last one frees s (and its conf when owned).
 * Any thread. NULL is a no-op. */
void reload_snapshot_release(struct reload_snapshot *s);

/* What the main thread needs for a reload. */
struct reload_ctx {
	const char *path; /* the file given with -c; NULL: the embedded default */
	const struct conf_overrides *ov;
	struct reload_snapshot *running;
	struct worker *const *workers;
	unsigned n_workers;
	struct tls_shared *tls;
	struct listen_registry *listen; /* listeners retiring (net/listen.c) */
};

/*
 * Reload (main thread). Returns the new snapshot, holding one reference
 * for the caller, already posted to every worker; or NULL when the
 * reload was refused or there was nothing to load (logged either way),
 * and everything stays as it was.
 */
struct reload_snapshot *reload_run(const struct reload_ctx *rc);

/* worker_reload.c: hand w its new snapshot (taking one reference of snap),
 * credential chain and listener change (NULL: none), both owned by w from
 * here on. Main thread. */
void worker_reload_post(struct worker *w, struct reload_snapshot *snap, struct auth *auth,
			struct listen_change *listen);

#endif
