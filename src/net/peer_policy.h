/*
 * The daemon's peer policy (SECURITY.md, "Where a relay may send"): the
 * configured and Redis ranges, and the host's own addresses read from the
 * kernel, with the relay port pool answering the hairpin question
 * (turn/policy.h rule 1). Rebuilt by each worker at start, on SIGHUP, on a
 * Redis settings change, and whenever the kernel reports an address added
 * or removed (a NETLINK_ROUTE RTM_NEWADDR/RTM_DELADDR watch per worker).
 */
#ifndef TURND_NET_PEER_POLICY_H
#define TURND_NET_PEER_POLICY_H

#include <stdbool.h>

#include "conf/conf.h"
#include "turn/policy.h"

struct relay_shared;

/* Ranges beyond the configuration's (the realm's, from Redis). */
struct peer_policy_ranges {
	const struct turn_addr_range *allowed, *denied;
	size_t n_allowed, n_denied;
};

/*
 * Build the policy from c, the extra ranges in fs (NULL: none) and the relay addresses and port pool of rs
 * (which must outlive the policy). The own addresses are every interface
 * address (getifaddrs), the listening, alternate (RFC 5780), relay and
 * external-ip addresses. The caller frees the result with
 * turn_policy_free(). Returns NULL (errno set) on failure.
 */
struct turn_policy *peer_policy_new(const struct conf *c, const struct peer_policy_ranges *fs,
				    struct relay_shared *rs);

/*
 * A non-blocking NETLINK_ROUTE socket subscribed to IPv4 and IPv6 address
 * changes, for the caller's event loop; the caller closes it. Returns -1
 * (errno set) where netlink is unavailable: the policy is then re-read
 * only on SIGHUP and Redis changes.
 */
int peer_policy_watch_open(void);

/* Read every pending notification on fd; true when there was one (or the
 * kernel dropped some: the socket overflowed), so the own addresses may
 * have changed. */
bool peer_policy_watch_drain(int fd);

#endif
