/*
 * What a configuration reload (SIGHUP) may change. A reload builds a new
 * struct conf from the file and hands it to every worker as the new
 * snapshot (daemon/reload.c). Some options cannot change without binding
 * sockets or starting threads again (listening-ip and its ports, relay
 * addresses and port range, worker count, Redis, ...): for those the new
 * snapshot keeps the running values, and the reload says which ones
 * changed in the file and need a restart. The rest (users, secrets, peer
 * ranges, quotas, limits, log level, certificate files) take effect, and
 * so do 'listener' entries: their sockets are opened or retired live
 * (net/listen.c).
 */
#ifndef TURND_CONF_CONF_RELOAD_H
#define TURND_CONF_CONF_RELOAD_H

#include <stddef.h>

#include "conf/conf.h"

/* More than there are options. */
#define CONF_RELOAD_NAMES_MAX 64

/* Option names (static strings, as in turnd.conf) a reload found changed. */
struct conf_reload_diff {
	const char *restart[CONF_RELOAD_NAMES_MAX]; /* changed, but kept until a restart */
	size_t n_restart;
	const char *applied[CONF_RELOAD_NAMES_MAX]; /* changed, and taking effect */
	size_t n_applied;
};

/*
 * Compare next (just loaded) with running, fill d, and give next the
 * running value of every option that needs a restart (deep copies: next
 * still owns everything it points to and is freed with conf_free). When
 * the realm differs, the keys of users with a password are derived again
 * for the running realm. Returns 0, or -1 on out-of-memory (next is then
 * half updated: free it).
 */
int conf_reload_pin(struct conf *next, const struct conf *running, struct conf_reload_diff *d);

/* listener entries (after pinning): per address, the transports next
 * adds to running's and those it removes. Entries of one address are
 * merged. The bits of the TCP socket (tcp, tls, proxy) are one unit: when
 * they differ, the running set is removed and the next one added (the
 * socket is replaced). The arrays are owned by d (conf_listener_diff_free).
 * Returns 0,
 * or -1 on out-of-memory. */
struct conf_listener_diff {
	struct conf_listener *added;
	size_t n_added;
	struct conf_listener *removed;
	size_t n_removed;
};
int conf_listener_diff(const struct conf *running, const struct conf *next,
		       struct conf_listener_diff *d);
void conf_listener_diff_free(struct conf_listener_diff *d);

/* The pinned snapshot next as it will run: a listener asking for TLS or
 * DTLS when turnd started without a certificate, or one on a port that
 * listening-ip already takes, refuses the reload. 0, or -1 with err. */
int conf_reload_check(const struct conf *next, char *err, size_t errlen);

/* The names of list as "a, b, c" into out (always NUL-terminated, cut
 * when it does not fit); "none" for an empty list. Returns out. */
char *conf_reload_names(const char *const *list, size_t n, char *out, size_t cap);

#endif
