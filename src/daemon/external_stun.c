/* external-ip = auto:stun:HOST:PORT (external_stun.h). */
#include "daemon/external_stun.h"

#include <stdio.h>

#include "io/stun_ask.h"
#include "util/log.h"

const struct conf_external *external_stun_entry(const struct conf *c)
{
	for (size_t i = 0; i < c->n_external; i++)
		if (c->external[i].auto_stun)
			return &c->external[i];
	return NULL;
}

int external_stun_ask(const struct conf_external *e, const struct turn_addr *relay,
		      struct turn_addr *mapped, char *why, size_t whylen)
{
	const struct stun_ask_opts o = {EXTERNAL_STUN_TRIES, EXTERNAL_STUN_TIMEOUT_MS};
	struct turn_addr server[2], local = *relay;
	char msg[256], text[TURN_ADDR_STRLEN];

	if (stun_ask_resolve(e->stun_host, e->stun_port, server, msg, sizeof(msg)) < 0) {
		snprintf(why, whylen, "%s", msg);
		return -1;
	}
	const struct turn_addr *to = &server[relay->family == TURN_AF_INET ? 0 : 1];
	if (!to->family) {
		snprintf(why, whylen, "%.64s has no IPv%c address", e->stun_host,
			 relay->family == TURN_AF_INET ? '4' : '6');
		return 0;
	}
	local.port = 0;
	if (stun_ask_mapped(&local, to, &o, mapped, msg, sizeof(msg)) < 0) {
		snprintf(why, whylen, "STUN server %s: %s",
			 turn_addr_format(to, true, text, sizeof(text)), msg);
		return -1;
	}
	mapped->port = 0;
	return 1;
}

int external_stun_startup(const struct conf *c, struct relay_shared *rs, char *err, size_t errlen)
{
	const struct conf_external *e = external_stun_entry(c);
	char why[384], a[TURN_ADDR_STRLEN], m[TURN_ADDR_STRLEN];

	for (size_t i = 0; e && i < rs->n_addrs; i++) {
		struct turn_addr mapped;
		const struct turn_addr *relay = &rs->addrs[i].addr;
		int r = external_stun_ask(e, relay, &mapped, why, sizeof(why));
		turn_addr_format(relay, false, a, sizeof(a));
		if (r < 0) {
			snprintf(err, errlen,
				 "external-ip = auto:stun:%.64s:%u: relay address %s: %s (fix the "
				 "server, or set external-ip to the public address)",
				 e->stun_host, (unsigned)e->stun_port, a, why);
			return -1;
		}
		if (r == 0) {
			log_warn("external-ip auto:stun: relay address %s: %s; clients are told "
				 "%s itself",
				 a, why, a);
			continue;
		}
		relay_set_external(rs, i, &mapped);
		log_notice("external-ip auto:stun: relay address %s is %s on the internet", a,
			   turn_addr_format(&mapped, false, m, sizeof(m)));
	}
	return 0;
}

void external_stun_reload(const struct conf *c, struct relay_shared *rs)
{
	const struct conf_external *e = external_stun_entry(c);
	char why[384], a[TURN_ADDR_STRLEN], m[TURN_ADDR_STRLEN], o[TURN_ADDR_STRLEN];

	for (size_t i = 0; e && i < rs->n_addrs; i++) {
		struct turn_addr mapped, old;
		const struct turn_addr *relay = &rs->addrs[i].addr;
		int r = external_stun_ask(e, relay, &mapped, why, sizeof(why));
		turn_addr_format(relay, false, a, sizeof(a));
		relay_addr_external(&rs->addrs[i], &old);
		turn_addr_format(&old, false, o, sizeof(o));
		if (r <= 0) {
			log_warn("SIGHUP: external-ip auto:stun: relay address %s: %s; clients "
				 "are still told %s",
				 a, why, o);
			continue;
		}
		turn_addr_format(&mapped, false, m, sizeof(m));
		if (turn_addr_ip_eq(&mapped, &old)) {
			log_info("SIGHUP: external-ip auto:stun: relay address %s is still %s", a,
				 m);
			continue;
		}
		relay_set_external(rs, i, &mapped);
		log_notice("SIGHUP: external-ip auto:stun: relay address %s is now %s (was %s)", a,
			   m, o);
	}
}
