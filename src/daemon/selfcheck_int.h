/* Shared by the self-check's files (selfcheck.h); private to them. */
#ifndef TURND_DAEMON_SELFCHECK_INT_H
#define TURND_DAEMON_SELFCHECK_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "conf/conf.h"
#include "net/relay.h"
#include "util/verdict.h"

struct selfcheck {
	const struct conf *c;
	bool quick;
	FILE *out;
	unsigned n[3]; /* findings per enum verdict_level */
	struct relay_shared rs; /* the relay addresses as the server would take them */
};

/* One finding: "LEVEL TOPIC: text". */
__attribute__((format(printf, 4, 5))) void selfcheck_say(struct selfcheck *s, enum verdict_level l,
							 const char *topic, const char *fmt, ...);

/* selfcheck_addr.c: relay addresses, external-ip, the relay port range. */
void selfcheck_relays(struct selfcheck *s);
void selfcheck_externals(struct selfcheck *s);
void selfcheck_port_sweep(struct selfcheck *s);

/* selfcheck_bind.c: listening ports, metrics port, control socket. */
void selfcheck_listening(struct selfcheck *s);
void selfcheck_metrics(struct selfcheck *s);
void selfcheck_control(struct selfcheck *s);

/* selfcheck_ext.c: the certificate and Redis. */
void selfcheck_cert(struct selfcheck *s);
void selfcheck_redis(struct selfcheck *s);

#endif
