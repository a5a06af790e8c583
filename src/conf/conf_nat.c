/*
 * RFC 5780 section 6: a server doing NAT behaviour discovery answers from
 * two IP addresses and two ports. alt-listening-ip gives the second IP of
 * a family, paired with the first listening-ip of that family, and
 * alt-listening-port the second port. These checks involve several
 * options, so no single line is at fault: they name the options.
 */
#include "conf/conf_nat.h"

#include <stdio.h>

static int alt_port(struct conf *c, char *why, size_t whylen)
{
	unsigned port = c->alt_listening_port ? c->alt_listening_port : c->listening_port + 1u;

	if (port > 65535) {
		snprintf(why, whylen,
			 "option 'alt-listening-port' is not set, and option 'listening-port' + 1 "
			 "(%u) is not a port",
			 port);
		return -1;
	}
	if (port == c->listening_port ||
	    (conf_tls_port_used(c) && port == c->tls_listening_port)) {
		snprintf(why, whylen, "option 'alt-listening-port' (%u) is the same as option '%s'",
			 port, port == c->listening_port ? "listening-port" : "tls-listening-port");
		return -1;
	}
	c->alt_listening_port = (uint16_t)port;
	return 0;
}

/* The first listening-ip of the family, or NULL. */
static const struct turn_addr *primary_of(const struct conf *c, uint8_t family)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].family == family)
			return &c->listen[i];
	return NULL;
}

static int check_pair(const struct conf *c, const struct turn_addr *alt, char *why,
		      size_t whylen)
{
	const struct turn_addr *primary = primary_of(c, alt->family);
	char text[TURN_ADDR_STRLEN];
	unsigned v = alt->family == TURN_AF_INET ? 4 : 6;

	turn_addr_format(alt, false, text, sizeof(text));
	if (!primary || turn_addr_is_any(primary)) {
		snprintf(why, whylen,
			 "option 'alt-listening-ip' ('%s') needs option 'listening-ip' to name an "
			 "IPv%u address (not the wildcard) to pair it with",
			 text, v);
		return -1;
	}
	for (size_t i = 0; i < c->n_listen; i++) {
		if (turn_addr_ip_eq(&c->listen[i], alt)) {
			snprintf(why, whylen,
				 "option 'alt-listening-ip' ('%s') is also in option 'listening-ip'",
				 text);
			return -1;
		}
	}
	return 0;
}

/* external-ip = auto:stun:HOST:PORT learns every relay address's public
 * address, so a fixed mapping beside it would be ambiguous. */
static int check_auto_stun(const struct conf *c, char *why, size_t whylen)
{
	bool any = false;

	for (size_t i = 0; i < c->n_external; i++)
		any = any || c->external[i].auto_stun;
	if (any && c->n_external > 1) {
		snprintf(why, whylen,
			 "option 'external-ip': auto:stun:HOST:PORT must be its only value (it "
			 "learns the public address of every relay address)");
		return -1;
	}
	return 0;
}

int conf_nat_finish(struct conf *c, char *why, size_t whylen)
{
	if (check_auto_stun(c, why, whylen) < 0)
		return -1;
	if (c->n_alt_listen == 0)
		return 0;
	if (alt_port(c, why, whylen) < 0)
		return -1;
	for (size_t i = 0; i < c->n_alt_listen; i++) {
		if (check_pair(c, &c->alt_listen[i], why, whylen) < 0)
			return -1;
		c->alt_listen[i].port = c->alt_listening_port;
	}
	return 0;
}
