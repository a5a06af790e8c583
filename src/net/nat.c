/*
 * RFC 5780 section 6: the server listens on the four combinations of its
 * two IP addresses and two ports, and sends a response from the one the
 * core chose for the request's CHANGE-REQUEST.
 */
#include "net/nat.h"

#include <stdio.h>
#include <string.h>

#include "net/listen.h"
#include "net/net_worker.h"
#include "util/log.h"

void nat_pairs(const struct conf *c, struct turn_nat_pair out[TURN_NAT_FAMILIES])
{
	size_t n = 0;

	memset(out, 0, TURN_NAT_FAMILIES * sizeof(*out));
	for (size_t i = 0; i < c->n_alt_listen && n < TURN_NAT_FAMILIES; i++) {
		for (size_t k = 0; k < c->n_listen; k++) {
			if (c->listen[k].family != c->alt_listen[i].family)
				continue;
			out[n].primary = c->listen[k];
			out[n].alternate = c->alt_listen[i];
			n++;
			break;
		}
	}
}

/* One address of a pair: UDP and TCP, unless that transport is off. */
static int bind_one(struct net_worker *w, const struct conf *c, const struct turn_addr *a, char *err,
		    size_t errlen)
{
	if (!c->no_udp && listen_open(w, a, CONF_LISTEN_UDP, err, errlen) < 0)
		return -1;
	if (!c->no_tcp && listen_open(w, a, CONF_LISTEN_TCP, err, errlen) < 0)
		return -1;
	return 0;
}

/* A1:P2, A2:P1 and A2:P2 of every pair: the addresses beyond listening-ip's
 * own sockets. Returns how many. */
#define NAT_EXTRA_MAX (TURN_NAT_FAMILIES * (TURN_NAT_ADDRS - 1))
static size_t extra_addresses(const struct conf *c, struct turn_addr out[NAT_EXTRA_MAX])
{
	struct turn_nat_pair pairs[TURN_NAT_FAMILIES];
	struct turn_addr a[TURN_NAT_ADDRS];
	size_t n = 0;

	nat_pairs(c, pairs);
	for (int i = 0; i < TURN_NAT_FAMILIES; i++) {
		if (!pairs[i].primary.family)
			continue;
		turn_nat_addresses(&pairs[i], a);
		/* a[0], A1:P1, is listening-ip's own socket. */
		for (int k = 1; k < TURN_NAT_ADDRS; k++)
			out[n++] = a[k];
	}
	return n;
}

int nat_worker_bind(struct net_worker *w, const struct conf *c, char *err, size_t errlen)
{
	struct turn_addr a[NAT_EXTRA_MAX];
	size_t n = extra_addresses(c, a);

	for (size_t i = 0; i < n; i++)
		if (bind_one(w, c, &a[i], err, errlen) < 0)
			return -1;
	return 0;
}

void nat_log_addresses(const struct conf *c)
{
	struct turn_nat_pair pairs[TURN_NAT_FAMILIES];
	char a[TURN_ADDR_STRLEN], b[TURN_ADDR_STRLEN];

	nat_pairs(c, pairs);
	for (int i = 0; i < TURN_NAT_FAMILIES; i++)
		if (pairs[i].primary.family)
			log_notice("NAT discovery (RFC 5780): %s with %s%s",
				   turn_addr_format(&pairs[i].primary, true, a, sizeof(a)),
				   turn_addr_format(&pairs[i].alternate, true, b, sizeof(b)),
				   c->no_udp ? " (TCP only: no CHANGE-REQUEST)" : "");
}

void nat_send_from(struct net_worker *w, const struct turn_addr *from, const uint8_t *buf,
		   size_t len, const struct turn_tuple *t)
{
	for (size_t i = 0; i < w->n_udp; i++) {
		struct udp_sock *s = w->udp[i];

		if (s->dtls || !turn_addr_eq(&s->local, from))
			continue;
		/* A copy: buf may be a slot of the socket the request came on. */
		uint8_t *slot = udp_out_slot(s);
		struct turn_tuple to = *t;
		to.local = *from;
		memcpy(slot, buf, len);
		udp_out_push(s, len, &to);
		return;
	}
	w->stats.udp_send_errors++;
}
