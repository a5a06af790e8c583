/* The struct turn_io a worker gives its protocol core (turn_io.c): relay
 * sockets from net/relay.c, quotas from quota.c and the fleet, the
 * allocation log and events. ctx is the worker; each request's facts come
 * back as turn_input.origin (a struct worker_origin). */
#ifndef TURND_DAEMON_TURN_IO_H
#define TURND_DAEMON_TURN_IO_H

#include "turn/io.h"

struct worker;

void turn_io_init(struct turn_io *io, struct worker *w);

#endif
