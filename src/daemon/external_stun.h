/*
 * external-ip = auto:stun:HOST:PORT: each relay address asks the STUN
 * server, from that address, what public address it has, and clients are
 * told that one (turnd.conf(5)). At start-up an unanswered relay address
 * stops the start; at a reload the previous answer stays.
 */
#ifndef TURND_DAEMON_EXTERNAL_STUN_H
#define TURND_DAEMON_EXTERNAL_STUN_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "net/relay.h"

/* Three tries of one second each, per relay address (a lost datagram or
 * two is retried; a server that is down costs 3 s per address). */
#define EXTERNAL_STUN_TRIES 3
#define EXTERNAL_STUN_TIMEOUT_MS 1000

/* The auto:stun entry of c's external-ip, or NULL. */
const struct conf_external *external_stun_entry(const struct conf *c);

/* One relay address's answer: 1 learnt (*mapped), 0 nothing to ask (no
 * server address of its family: why says so), -1 no answer (why). */
int external_stun_ask(const struct conf_external *e, const struct turn_addr *relay,
		      struct turn_addr *mapped, char *why, size_t whylen);

/* Start-up: ask for every relay address of rs and set what clients are
 * told. 0 (also without auto:stun), or -1 with err naming the relay
 * address and the server. */
int external_stun_startup(const struct conf *c, struct relay_shared *rs, char *err, size_t errlen);

/* SIGHUP: ask again; a changed answer is logged and set, a missing one
 * logged and the previous kept. */
void external_stun_reload(const struct conf *c, struct relay_shared *rs);

#endif
