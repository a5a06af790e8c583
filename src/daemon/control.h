/*
 * The control socket (control-socket; turnctl(1) is its client): a local
 * unix stream socket on the main thread's event base, one JSON request
 * per line and one JSON answer per line. Only root and the service user
 * may talk to it: the file is 0600 and the service user's, and each
 * connection's peer credentials (SO_PEERCRED) are checked as well, so a
 * socket whose mode was widened still refuses everyone else. Never a
 * network address.
 */
#ifndef TURND_DAEMON_CONTROL_H
#define TURND_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "daemon/metrics.h"

struct user_usage;

struct event_base;
struct worker;
struct control_ban;
struct control;

/* Who the process becomes after the privilege drop (proc-user): the
 * socket is theirs, and they may use it. set false: it stays who it is. */
struct control_owner {
	bool set;
	uid_t uid;
	gid_t gid;
	bool make_dir; /* the default path: its directory may be made (0755) */
};

/* What the control socket reaches of the daemon (daemon.c fills it). */
struct control_env {
	struct event_base *base; /* the main thread's */
	struct worker *const *workers;
	unsigned n_workers;
	struct control_ban *ban;
	/* Per-user totals kept after allocations end (daemon/user_usage.h),
	 * what `users` shows; NULL: `users` sums the live allocations. */
	struct user_usage *usage;
	struct metrics_source view; /* status: the figures /metrics shows */
	void *ctx; /* for the calls below */
	void (*drain)(void *ctx); /* as SIGUSR1 */
	bool (*reload)(void *ctx); /* as SIGHUP: true when applied */
	const struct conf *(*conf_now)(void *ctx); /* the configuration in force */
};

/* Where it goes: conf's control-socket, or the default (io/control_path.h)
 * when unset; NULL (with why) when there is none: control-socket = "",
 * or no default for this user. path is buf's. */
const char *control_socket_path(const struct conf *conf, char *buf, size_t len, bool *is_default);

/*
 * Bind the socket at path (mode 0600, given to owner), replacing a stale
 * one left by a turnd that is gone, and serve it on env->base. Returns
 * the object (control_free), or NULL with err set: the path is in use by a
 * running process, or cannot be bound. env must outlive it.
 */
struct control *control_open(const struct control_env *env, const char *path,
			     const struct control_owner *owner, char *err, size_t errlen);
/* Close every connection, drop jobs in flight and remove the file when it
 * is still ours. Call before the workers are freed. NULL is a no-op. */
void control_free(struct control *c);

#endif
