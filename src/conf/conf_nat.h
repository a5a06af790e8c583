/* The NAT discovery options (alt-listening-ip, alt-listening-port) against
 * the other listening options; private to src/conf. */
#ifndef TURND_CONF_CONF_NAT_H
#define TURND_CONF_CONF_NAT_H

#include <stddef.h>

#include "conf/conf.h"

/*
 * Once every value is final (command-line overrides included): set
 * alt_listening_port (listening-port + 1 when 0) and the port of each
 * alt-listening-ip, and check them against listening-ip, listening-port
 * and tls-listening-port; and that external-ip = auto:stun:HOST:PORT is
 * the only external-ip value. Returns 0, or -1 with why ("option ...: ...").
 */
int conf_nat_finish(struct conf *c, char *why, size_t whylen);

#endif
