/*
 * RFC 5780 NAT behaviour discovery in the Binding service: which address
 * the response leaves from, what RESPONSE-ORIGIN and OTHER-ADDRESS say,
 * and which requests of this usage the server refuses.
 */
#include "turn/internal.h"

#include <string.h>

void turn_nat_addresses(const struct turn_nat_pair *p, struct turn_addr out[TURN_NAT_ADDRS])
{
	for (int i = 0; i < TURN_NAT_ADDRS; i++) {
		out[i] = i & TURN_NAT_CHANGE_IP ? p->alternate : p->primary;
		out[i].port = i & TURN_NAT_CHANGE_PORT ? p->alternate.port : p->primary.port;
	}
}

int turn_nat_index(const struct turn_nat_pair *p, const struct turn_addr *local)
{
	struct turn_addr a[TURN_NAT_ADDRS];

	if (!p->primary.family)
		return -1;
	turn_nat_addresses(p, a);
	for (int i = 0; i < TURN_NAT_ADDRS; i++)
		if (turn_addr_eq(&a[i], local))
			return i;
	return -1;
}

/* The pair of the family a request arrived on, and the request's place
 * in it; -1 when discovery is off for that address. */
static int find_index(const struct turn_server *srv, const struct turn_addr *local,
		      const struct turn_nat_pair **pair)
{
	for (int i = 0; i < TURN_NAT_FAMILIES; i++) {
		int idx = turn_nat_index(&srv->nat[i], local);

		if (idx >= 0) {
			*pair = &srv->nat[i];
			return idx;
		}
	}
	return -1;
}

static void refuse(struct turn_nat_answer *ans, const struct stun_msg *m, uint16_t type)
{
	if (stun_msg_find(m, type) && ans->n_unknown < TURN_NAT_UNKNOWN_MAX)
		ans->unknown[ans->n_unknown++] = type;
}

/* CHANGE-REQUEST's flags as index bits (RFC 5780 section 7.2). */
static int change_bits(uint32_t flags)
{
	return (flags & STUN_CHANGE_IP ? TURN_NAT_CHANGE_IP : 0) |
	       (flags & STUN_CHANGE_PORT ? TURN_NAT_CHANGE_PORT : 0);
}

int turn_nat_binding(const struct turn_request *req, struct turn_nat_answer *ans)
{
	const struct stun_msg *m = req->msg;
	const struct stun_attr *cr = stun_msg_find(m, STUN_ATTR_CHANGE_REQUEST);
	const struct turn_nat_pair *pair = NULL;
	int idx = find_index(req->srv, &req->tuple->local, &pair);
	struct turn_addr addrs[TURN_NAT_ADDRS];
	uint32_t flags = 0;
	int bits;

	memset(ans, 0, sizeof(*ans));
	/* RESPONSE-PORT and PADDING are optional for a server, and a client
	 * must expect 420 for them (RFC 5780 sections 5, 7.5): turnd does
	 * not support them. Without an alternate address and port for the
	 * address the request came to, CHANGE-REQUEST gets 420 too (RFC 5780
	 * section 6). */
	refuse(ans, m, STUN_ATTR_RESPONSE_PORT);
	refuse(ans, m, STUN_ATTR_PADDING);
	if (idx < 0)
		refuse(ans, m, STUN_ATTR_CHANGE_REQUEST);
	if (ans->n_unknown)
		return STUN_ERR_UNKNOWN_ATTRIBUTE;
	if (idx < 0)
		return 0;
	if (cr && stun_attr_get_u32(m, cr, &flags) < 0) {
		ans->reason = "Malformed CHANGE-REQUEST";
		return STUN_ERR_BAD_REQUEST;
	}
	bits = change_bits(flags);
	/* Over TCP (or TLS) the response can only go back on the connection
	 * the request came on (RFC 8489 section 6.2.2), and RFC 5780 section
	 * 3.2 runs the filtering tests over UDP only: a change that cannot
	 * be made is refused, not silently ignored, or the client would
	 * take the answer for endpoint-independent filtering. */
	if (bits && req->tuple->transport != TURN_TRANSPORT_UDP) {
		ans->reason = "CHANGE-REQUEST needs UDP";
		return STUN_ERR_BAD_REQUEST;
	}
	turn_nat_addresses(pair, addrs);
	ans->on = true;
	ans->origin = addrs[idx ^ bits];
	ans->other = addrs[idx ^ (TURN_NAT_CHANGE_IP | TURN_NAT_CHANGE_PORT)];
	return 0;
}
