/* The daemon's peer policy; see peer_policy.h. */
#include "net/peer_policy.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "net/relay.h"
#include "io/sockaddr.h"

/* A growable list of the host's own addresses. */
struct own_list {
	struct turn_addr *a;
	size_t n, max;
};

static void own_add(struct own_list *l, const struct turn_addr *a)
{
	if (a->family == 0 || l->n >= l->max)
		return;
	l->a[l->n] = *a;
	l->a[l->n].port = 0;
	l->n++;
}

/* Every address the kernel delivers locally: each interface address
 * (any interface, up or down, link-local included), then what the
 * configuration names, in case an address is not (yet) on an interface:
 * external-ip's public address reaches the host through the NAT. */
static int own_collect(const struct conf *c, const struct relay_shared *rs, struct own_list *l)
{
	struct ifaddrs *ifs = NULL;
	size_t n_if = 0;

	if (getifaddrs(&ifs) < 0)
		ifs = NULL; /* the configured addresses and the built-ins remain */
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next)
		n_if++;
	l->max = n_if + c->n_listen + c->n_alt_listen + c->n_listeners + 2 * c->n_external +
		 c->n_relay + 2 * rs->n_addrs;
	l->a = calloc(l->max ? l->max : 1, sizeof(*l->a));
	if (!l->a) {
		if (ifs)
			freeifaddrs(ifs);
		return -1;
	}
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		struct turn_addr a;
		if (i->ifa_addr && sockaddr_to_turn(i->ifa_addr, &a) == 0)
			own_add(l, &a);
	}
	if (ifs)
		freeifaddrs(ifs);
	for (size_t i = 0; i < c->n_listen; i++)
		own_add(l, &c->listen[i]);
	for (size_t i = 0; i < c->n_alt_listen; i++)
		own_add(l, &c->alt_listen[i]);
	for (size_t i = 0; i < c->n_listeners; i++)
		own_add(l, &c->listeners[i].addr);
	for (size_t i = 0; i < c->n_external; i++) {
		own_add(l, &c->external[i].public_ip);
		own_add(l, &c->external[i].private_ip);
	}
	for (size_t i = 0; i < c->n_relay; i++)
		own_add(l, &c->relay[i]);
	for (size_t i = 0; i < rs->n_addrs; i++) {
		own_add(l, &rs->addrs[i].addr);
		struct turn_addr ext;
		relay_addr_external(&rs->addrs[i], &ext);
		own_add(l, &ext);
	}
	return 0;
}

/* struct conf_range and struct turn_addr_range are the same pair of
 * addresses; copying keeps conf/ and turn/ independent. The realm's
 * ranges from Redis (fs, under its lock) come after the file's. */
static int copy_conf_ranges(const struct conf_range *r, size_t n,
			    const struct turn_addr_range *extra, size_t n_extra,
			    struct turn_addr_range **out)
{
	*out = calloc(n + n_extra + 1, sizeof(**out));
	if (!*out)
		return -1;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = (struct turn_addr_range){r[i].lo, r[i].hi};
	for (size_t i = 0; i < n_extra; i++)
		(*out)[n + i] = extra[i];
	return 0;
}

/* The ports turnd listens on (RFC 5780's alternate one too): with
 * allow-own-peers an own address is still refused on these, since a relay
 * feeding a listener is a relay loop. Returns how many (at most max). */
enum { LISTENING_PORTS_MAX = 64 };
static size_t listening_ports(const struct conf *c, uint16_t out[LISTENING_PORTS_MAX])
{
	size_t n = 0;

	out[n++] = c->listening_port;
	if (c->tls_listening_port)
		out[n++] = c->tls_listening_port;
	if (c->n_alt_listen)
		out[n++] = c->alt_listening_port;
	for (size_t i = 0; i < c->n_listeners && n < LISTENING_PORTS_MAX; i++)
		out[n++] = c->listeners[i].addr.port;
	return n;
}

struct turn_policy *peer_policy_new(const struct conf *c, const struct peer_policy_ranges *fs,
				    struct relay_shared *rs)
{
	struct own_list own = {0};
	uint16_t ports[LISTENING_PORTS_MAX];
	struct turn_addr_range *allowed = NULL, *denied = NULL;
	struct turn_policy *p = NULL;
	size_t n_fa = fs ? fs->n_allowed : 0, n_fd = fs ? fs->n_denied : 0;

	if (own_collect(c, rs, &own) == 0 &&
	    copy_conf_ranges(c->allowed_peers, c->n_allowed_peers, fs ? fs->allowed : NULL, n_fa,
			     &allowed) == 0 &&
	    copy_conf_ranges(c->denied_peers, c->n_denied_peers, fs ? fs->denied : NULL, n_fd,
			     &denied) == 0) {
		struct turn_policy_options po = {
			.allowed = allowed,
			.n_allowed = c->n_allowed_peers + n_fa,
			.denied = denied,
			.n_denied = c->n_denied_peers + n_fd,
			.own = own.a,
			.n_own = own.n,
			.allow_own = c->allow_own_peers,
			.listening_ports = ports,
			.n_listening_ports = listening_ports(c, ports),
			.relay_live = relay_port_live,
			.relay_ctx = rs,
		};
		p = turn_policy_new(&po);
	}
	int saved = errno;
	free(own.a);
	free(allowed);
	free(denied);
	errno = saved;
	return p;
}

int peer_policy_watch_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

bool peer_policy_watch_drain(int fd)
{
	/* The socket is subscribed to the address groups only, so every
	 * message is an address change: nothing in it needs reading. */
	uint8_t buf[4096];
	bool changed = false;

	/* Bounded: a flood of changes is one rebuild per wakeup. */
	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0 || (n < 0 && errno == ENOBUFS))
			changed = true;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	return changed;
}
