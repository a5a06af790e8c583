/* The self-check's relay addresses, external-ip and relay port range
 * (selfcheck.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/external_stun.h"
#include "daemon/selfcheck_int.h"
#include "io/sockaddr.h"

/* Whether a is the address of one of this host's interfaces. */
static bool selfcheck_on_host(const struct turn_addr *a)
{
	struct ifaddrs *ifs = NULL;
	bool found = false;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (const struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		struct turn_addr h;
		found = i->ifa_addr && sockaddr_to_turn(i->ifa_addr, &h) == 0 &&
			turn_addr_ip_eq(&h, a);
	}
	freeifaddrs(ifs);
	return found;
}

/* external-ip = auto:stun: what the server sees from this relay address
 * (the full check only: the start asks anyway). */
static void selfcheck_stun(struct selfcheck *s, const struct conf_external *e,
			   const struct turn_addr *relay, const char *a)
{
	struct turn_addr mapped;
	char why[384], m[TURN_ADDR_STRLEN];
	int r = external_stun_ask(e, relay, &mapped, why, sizeof(why));

	if (r < 0) {
		selfcheck_say(s, VERDICT_FAIL, "external-ip",
			      "auto:stun:%s:%u from relay address %s: %s; the start would fail: "
			      "check the server and the route, or set external-ip by hand",
			      e->stun_host, (unsigned)e->stun_port, a, why);
		return;
	}
	if (r == 0) {
		selfcheck_say(s, VERDICT_WARN, "external-ip",
			      "auto:stun from relay address %s: %s; clients would be told %s", a,
			      why, a);
		return;
	}
	enum verdict_addr_class k = verdict_addr_class(&mapped);
	turn_addr_format(&mapped, false, m, sizeof(m));
	selfcheck_say(s, k == VERDICT_ADDR_PUBLIC ? VERDICT_OK : VERDICT_WARN, "external-ip",
		      "auto:stun:%s:%u: relay address %s is %s (%s)%s", e->stun_host,
		      (unsigned)e->stun_port, a, m, verdict_addr_class_name(k),
		      k == VERDICT_ADDR_PUBLIC ? "" : ": the STUN server is not on the internet?");
}

/* A relay address without a mapping: who can reach it. */
static void selfcheck_unmapped(struct selfcheck *s, enum verdict_addr_class k, const char *a)
{
	if (k == VERDICT_ADDR_PUBLIC)
		selfcheck_say(s, VERDICT_OK, "relay", "%s is public; clients are told it", a);
	else if (k == VERDICT_ADDR_LOOPBACK)
		selfcheck_say(s, VERDICT_WARN, "relay",
			      "%s is loopback: only clients on this host can use it; set relay-ip "
			      "or listening-ip to an address of an interface",
			      a);
	else
		selfcheck_say(s, VERDICT_WARN, "relay",
			      "%s is %s and has no external-ip: it is unreachable from the "
			      "internet; behind a NAT set external-ip = PUBLIC/%s (or "
			      "auto:stun:HOST:PORT), else ignore this on a private network",
			      a, verdict_addr_class_name(k), a);
}

static void selfcheck_relay(struct selfcheck *s, const struct relay_addr *ra)
{
	const struct conf_external *e = external_stun_entry(s->c);
	char a[TURN_ADDR_STRLEN], x[TURN_ADDR_STRLEN];
	struct turn_addr ext;
	enum verdict_addr_class k = verdict_addr_class(&ra->addr);

	turn_addr_format(&ra->addr, false, a, sizeof(a));
	if (!selfcheck_on_host(&ra->addr)) {
		selfcheck_say(s, VERDICT_FAIL, "relay",
			      "%s is on no interface of this host: every Allocate would fail; set "
			      "relay-ip (or listening-ip) to an address 'ip -br addr' lists",
			      a);
		return;
	}
	if (e) {
		if (s->quick)
			selfcheck_say(s, VERDICT_OK, "relay",
				      "%s is here (%s); auto:stun asks its "
				      "public address",
				      a, verdict_addr_class_name(k));
		else
			selfcheck_stun(s, e, &ra->addr, a);
		return;
	}
	relay_addr_external(ra, &ext);
	if (turn_addr_ip_eq(&ext, &ra->addr)) {
		selfcheck_unmapped(s, k, a);
		return;
	}
	enum verdict_addr_class ke = verdict_addr_class(&ext);
	turn_addr_format(&ext, false, x, sizeof(x));
	selfcheck_say(s, ke == VERDICT_ADDR_PUBLIC ? VERDICT_OK : VERDICT_WARN, "relay",
		      "%s (%s) is told to clients as %s (%s)%s", a, verdict_addr_class_name(k), x,
		      verdict_addr_class_name(ke),
		      ke == VERDICT_ADDR_PUBLIC ? ""
						: ": external-ip should be the public address");
}

void selfcheck_relays(struct selfcheck *s)
{
	if (s->rs.n_addrs == 0) {
		selfcheck_say(s, s->c->stun_only ? VERDICT_OK : VERDICT_FAIL, "relay",
			      s->c->stun_only
				      ? "none (stun-only)"
				      : "no relay address: Allocate would get 440; set relay-ip");
		return;
	}
	for (size_t i = 0; i < s->rs.n_addrs; i++)
		selfcheck_relay(s, &s->rs.addrs[i]);
}

/* Whether a relay address has ip (port ignored). */
static bool selfcheck_is_relay(const struct selfcheck *s, const struct turn_addr *ip)
{
	for (size_t i = 0; i < s->rs.n_addrs; i++)
		if (turn_addr_ip_eq(&s->rs.addrs[i].addr, ip))
			return true;
	return false;
}

static bool selfcheck_has_family(const struct selfcheck *s, uint8_t family)
{
	for (size_t i = 0; i < s->rs.n_addrs; i++)
		if (s->rs.addrs[i].addr.family == family)
			return true;
	return false;
}

/* external-ip's entries among themselves and against the relay
 * addresses: one bare entry per family, each pair's private address a
 * relay address, every public address public. */
void selfcheck_externals(struct selfcheck *s)
{
	unsigned bare[2] = {0, 0};
	char p[TURN_ADDR_STRLEN], q[TURN_ADDR_STRLEN];

	for (size_t i = 0; i < s->c->n_external; i++) {
		const struct conf_external *e = &s->c->external[i];
		if (e->auto_stun)
			continue;
		turn_addr_format(&e->public_ip, false, p, sizeof(p));
		enum verdict_addr_class k = verdict_addr_class(&e->public_ip);
		if (k != VERDICT_ADDR_PUBLIC)
			selfcheck_say(s, VERDICT_WARN, "external-ip",
				      "%s is %s, not public: clients on the internet cannot reach "
				      "it; give the NAT's public address",
				      p, verdict_addr_class_name(k));
		if (e->private_ip.family) {
			turn_addr_format(&e->private_ip, false, q, sizeof(q));
			if (!selfcheck_is_relay(s, &e->private_ip))
				selfcheck_say(s, VERDICT_WARN, "external-ip",
					      "%s/%s maps %s, which is no relay address: it has no "
					      "effect; name a relay address after the '/'",
					      p, q, q);
			continue;
		}
		bare[e->public_ip.family == TURN_AF_INET ? 0 : 1]++;
		if (!selfcheck_has_family(s, e->public_ip.family))
			selfcheck_say(s, VERDICT_WARN, "external-ip",
				      "%s: no relay address of its family; it has no effect", p);
	}
	for (int f = 0; f < 2; f++)
		if (bare[f] > 1)
			selfcheck_say(s, VERDICT_FAIL, "external-ip",
				      "%u values without '/private' for IPv%c: only the last one "
				      "is used; give one, or write each as PUBLIC/RELAY-ADDRESS",
				      bare[f], f == 0 ? '4' : '6');
}

/* Whether UDP port can be bound on ip now (no SO_REUSEPORT: a port any
 * other socket holds is held). */
static bool selfcheck_udp_free(const struct turn_addr *ip, uint16_t port)
{
	struct turn_addr a = *ip;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(ip->family == TURN_AF_INET ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return false;
	a.port = port;
	len = sockaddr_from_turn(&ss, &a);
	bool ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

/* Every port of min-port..max-port on every relay address, bound and
 * let go at once (at most 65,536 binds an address). */
void selfcheck_port_sweep(struct selfcheck *s)
{
	for (size_t i = 0; i < s->rs.n_addrs; i++) {
		const struct turn_addr *ip = &s->rs.addrs[i].addr;
		if (!selfcheck_on_host(ip))
			continue; /* already a FAIL of its own */
		size_t total = (size_t)s->c->max_port - s->c->min_port + 1, free_n = 0, held_n = 0;
		char a[TURN_ADDR_STRLEN], held[160] = "";
		size_t hl = 0;

		for (unsigned p = s->c->min_port; p <= s->c->max_port; p++) {
			if (selfcheck_udp_free(ip, (uint16_t)p)) {
				free_n++;
				continue;
			}
			if (held_n++ < 8 && hl < sizeof(held))
				hl += (size_t)snprintf(held + hl, sizeof(held) - hl, "%s%u",
						       hl ? ", " : "", p);
		}
		turn_addr_format(ip, false, a, sizeof(a));
		enum verdict_level l = verdict_ports(free_n, total, s->c->total_quota);
		if (held_n == 0)
			selfcheck_say(s, l, "relay-ports",
				      "%s: all %zu ports of %u-%u can be bound", a, total,
				      (unsigned)s->c->min_port, (unsigned)s->c->max_port);
		else
			selfcheck_say(
				s, l, "relay-ports",
				"%s: %zu of %zu ports of %u-%u can be bound; held by other "
				"sockets: %s%s (see ss -uanp); move min-port/max-port off them",
				a, free_n, total, (unsigned)s->c->min_port,
				(unsigned)s->c->max_port, held, held_n > 8 ? ", ..." : "");
	}
}
