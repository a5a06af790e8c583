/*
 * Where a relay may send: the peer-address policy (SECURITY.md, "Where a
 * relay may send"; RFC 8656 section 21). A TURN server relays into
 * whatever network it can reach, so every path that names a peer
 * (CreatePermission, ChannelBind, Send indication, a TCP Connect) asks
 * turn_policy_check() first.
 *
 * The decision, in order (the first rule that matches wins):
 *
 *   1. The host's own addresses are denied on every port
 *      (TURN_PEER_DENY_SELF): the kernel delivers them through loopback,
 *      so a relay to them reaches any service bound to 0.0.0.0 on the
 *      host, past firewall rules that trust `lo` (coturn's CVE-2020-26262
 *      class). They are the addresses in `own` (the daemon passes every
 *      interface, listening, alternate, relay and external-ip address)
 *      and, on every host, 127.0.0.0/8 (Linux delivers all of it
 *      locally), ::1, 0.0.0.0 and ::. allowed-peer-ip does not open them.
 *      One exception: relay_live() says the peer is a relay address on a
 *      port that holds a live allocation (two clients of one server
 *      reaching each other, RFC 8656 section 2.1); the receiving
 *      allocation's permissions guard that port. allow_own (the
 *      allow-own-peers option) skips this rule, except on the server's
 *      listening ports (`listening_ports`): a relay feeding a listener is
 *      a relay loop, which nothing opens. Rules 2-5 still apply.
 *   2. An explicitly allowed range (allowed-peer-ip) allows. As in coturn,
 *      an explicit allow beats both a configured deny and the default deny.
 *   3. An explicitly denied range (denied-peer-ip) denies (DENY_CONFIG).
 *   4. An address in the default-deny table below denies (DENY_DEFAULT).
 *   5. Everything else is allowed.
 *
 * The same destination can be spelt several ways, and the policy follows
 * the spelling to where the packet really goes:
 *
 *   - IPv4-mapped ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2) is a.b.c.d on a
 *     dual-stack socket, so it is matched as a.b.c.d by every rule, and as
 *     itself against IPv6 ranges too. Mapped ranges and own addresses given
 *     to turn_policy_new() are stored as IPv4, so an IPv4 peer matches them;
 *     relay_live() is asked about the IPv4 form.
 *   - NAT64 64:ff9b::a.b.c.d (RFC 6052 section 2.2, the well-known prefix)
 *     reaches a.b.c.d through a translator. The default table classifies
 *     it by the embedded address, and rules 1 and 3 match the embedded
 *     address as well, so a deny cannot be bypassed by the NAT64 spelling.
 *     Rule 2 does not: an allow of 10.0.0.0/8 means this network's 10/8,
 *     not the one behind somebody's translator.
 *
 * The default-deny table. IPv4 (RFC 6890 special-purpose registry):
 *   0.0.0.0/8 this-network, 10/8 172.16/12 192.168/16 rfc1918,
 *   100.64/10 cgnat, 127/8 loopback, 169.254/16 link-local, 192.0.0.0/24
 *   ietf-protocol, 192.88.99.0/24 6to4 (relay anycast, RFC 7526),
 *   198.18/15 benchmarking, 224/4 multicast, 240/4 reserved,
 *   255.255.255.255 broadcast; and the cloud metadata services
 *   169.254.169.254, 100.100.100.200 (Alibaba) and 168.63.129.16 (Azure
 *   WireServer, a public address only reachable from inside Azure) as
 *   "metadata".
 * IPv6: :: unspecified, ::1 loopback, ::/96 ipv4-compatible (deprecated by
 *   RFC 4291 section 2.5.5.1, denied whatever it embeds), 64:ff9b:1::/48
 *   nat64 (local-use, RFC 8215: the embedded address is in somebody's
 *   private network), 100::/64 discard (RFC 6666), 2001::/32 teredo,
 *   2001:2::/48 benchmarking, 2002::/16 6to4, fc00::/7 ula, fe80::/10
 *   link-local, fec0::/10 site-local (RFC 3879), ff00::/8 multicast,
 *   fd00:ec2::254 (AWS) and fd20:ce::254 (GCP) metadata, and everything
 *   outside global unicast 2000::/3 (RFC 4291 section 2.4) as reserved.
 *   6to4 and Teredo are denied outright: both embed an IPv4 address and
 *   reach it through a relay gateway the server does not control, so the
 *   real destination can be any IPv4 host, private ones included.
 * The documentation prefixes (192.0.2/24, 198.51.100/24, 203.0.113/24,
 *   2001:db8::/32) are not in the table: they are not routed, and tests use
 *   them as stand-ins for public peers. denied-peer-ip can add them.
 *
 * Pure: no sockets, no I/O, no globals. A check is a linear scan of the
 * own addresses (plus one relay_live() call for an own peer), the
 * configured ranges and a static table of 16-17 rows per family, cheap
 * enough for every Send indication.
 */
#ifndef TURND_TURN_POLICY_H
#define TURND_TURN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

/* An inclusive address range, both ends of one family; ports ignored. */
struct turn_addr_range {
	struct turn_addr lo;
	struct turn_addr hi;
};

/*
 * relay_live(relay_ctx, peer): whether peer (one of the host's own
 * addresses, as IPv4 when it was spelt mapped or NAT64, with its port) is
 * a relay address on a port that holds a live allocation. The daemon
 * answers from its relay port pool. It is called on the packet path, only
 * for peers that are own addresses, possibly from several threads.
 */
struct turn_policy_options {
	const struct turn_addr_range *allowed; /* allowed-peer-ip */
	size_t n_allowed;
	const struct turn_addr_range *denied; /* denied-peer-ip */
	size_t n_denied;
	/* The host's own addresses (ports ignored), refused on every port
	 * besides the built-in 127.0.0.0/8, ::1, 0.0.0.0 and ::. Wildcards
	 * are accepted (they are own addresses too) but match only
	 * themselves: the caller lists each interface address. */
	const struct turn_addr *own;
	size_t n_own;
	bool allow_own; /* allow-own-peers: rule 1 is skipped but for... */
	const uint16_t *listening_ports; /* ...own addresses on these ports */
	size_t n_listening_ports;
	/* NULL: no hairpin exception */
	bool (*relay_live)(void *ctx, const struct turn_addr *peer);
	void *relay_ctx; /* passed to relay_live; must outlive the policy */
};

enum turn_peer_verdict {
	TURN_PEER_ALLOW = 0,
	TURN_PEER_DENY_DEFAULT, /* in the default-deny table */
	TURN_PEER_DENY_CONFIG, /* in a denied-peer-ip range */
	TURN_PEER_DENY_SELF, /* one of the host's own addresses */
};

struct turn_policy;

/*
 * Build a policy from opt, copying every array (opt may be freed after;
 * NULL means no options: the default table alone). The caller owns the
 * result and frees it with turn_policy_free().
 * Returns NULL with errno ENOMEM when out of memory, or with errno EINVAL
 * when an entry is malformed (unknown family, ends of different families,
 * lo > hi): a deny entry that silently matched nothing would fail open.
 */
struct turn_policy *turn_policy_new(const struct turn_policy_options *opt);

/* Free a policy; NULL is a no-op. */
void turn_policy_free(struct turn_policy *p);

/* Decide whether the relay may send to peer (IP and port). p may be NULL
 * (default table only). A peer of unknown family is denied (DENY_DEFAULT). */
enum turn_peer_verdict turn_policy_check(const struct turn_policy *p, const struct turn_addr *peer);

/*
 * The verdict on peer's IP whatever the port, for a permission (RFC 8656
 * section 9: it names an IP only): ALLOW when some port may be allowed.
 * Rule 1 refuses an own address here only when no exception can open a
 * port of it (no allow-own-peers, no relay_live); rules 2-5 ignore ports.
 */
enum turn_peer_verdict turn_policy_check_ip(const struct turn_policy *p,
					    const struct turn_addr *peer);

/*
 * Whether turn_policy_check's verdict on peer rests on relay_live (rule
 * 1's hairpin): an own address, without allow-own-peers. That verdict
 * changes with the relay ports in use, not only with the policy, so a
 * caller that keeps a verdict (a channel) asks again for each packet.
 */
bool turn_policy_live(const struct turn_policy *p, const struct turn_addr *peer);

/*
 * The name of the default-deny class peer falls in ("loopback", "rfc1918",
 * "metadata", "reserved", ...; see the table above), "invalid" for an
 * unknown family, or NULL when the default table allows it. Mapped and
 * NAT64 addresses are named by their embedded IPv4 address. The string is
 * static; the caller does not free it.
 */
const char *turn_policy_default_class(const struct turn_addr *peer);

/*
 * Parse "addr", "lo-hi" (coturn's form) or "addr/len" into out; IPv6
 * addresses may be bracketed. Host bits of a prefix are ignored, as
 * conf_value_range() does: 10.1.2.3/8 is 10.0.0.0-10.255.255.255. Ports
 * are refused and out's ports are 0. Returns 0, or -1 (out zeroed) when
 * the text is not an address, mixes families, has lo > hi or a prefix
 * length that is not 0-32 / 0-128.
 */
int turn_addr_range_parse(const char *text, struct turn_addr_range *out);

/* True when a has r's family and lies within [lo, hi]; ports ignored, and
 * no mapping between families (turn_policy_check does that). */
bool turn_addr_range_contains(const struct turn_addr_range *r, const struct turn_addr *a);

#endif
