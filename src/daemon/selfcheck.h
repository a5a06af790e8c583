/*
 * turnd --self-check -c FILE, and its short form at start-up: would this
 * configuration work on this host? One finding a line, marked ok, warn or
 * FAIL, saying what to change. The decisions are util/verdict.c's; the
 * probing (interfaces, binds, the certificate, Redis, the clock) is here.
 */
#ifndef TURND_DAEMON_SELFCHECK_H
#define TURND_DAEMON_SELFCHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "conf/conf.h"

struct selfcheck_opts {
	/* The short form: only what is cheap (no port sweep, no bind of the
	 * listening ports, which the start binds anyway; no STUN question,
	 * which the start asks), Redis within 1 s. */
	bool quick;
	/* Where the lines go: a stream ("FAIL relay: ..."), or NULL for log
	 * lines (ok at info, warn and FAIL at warn level). */
	FILE *out;
};

/* Run every check on c. Returns the number of FAIL findings (0: the
 * server would work, warnings allowed). */
unsigned selfcheck_run(const struct conf *c, const struct selfcheck_opts *o);

#endif
