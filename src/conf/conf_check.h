/*
 * The callbacks libconfuse calls while it parses (conf_check.c), for the
 * option table in conf.c; private to src/conf. A callback that refuses a
 * value reports it through cfg_error, with the option's name, and returns
 * -1; libconfuse then stops parsing.
 */
#ifndef TURND_CONF_CONF_CHECK_H
#define TURND_CONF_CONF_CHECK_H

#include <confuse.h>

#include "conf/conf.h"

/* Room for the reason a value is refused (conf_value.h's why). */
#define CONF_WHY_MAX 256

/* A UDP socket serves UDP or DTLS, not both: one listener cannot ask for
 * both. A TCP socket serves TCP, TLS, or both (told apart by the first
 * byte). Two listeners on one address and port cannot share a kind
 * (SO_REUSEPORT would let both bind and split the clients between them). */
#define CONF_LISTEN_UDP_KIND (CONF_LISTEN_UDP | CONF_LISTEN_DTLS)
#define CONF_LISTEN_TCP_KIND (CONF_LISTEN_TCP | CONF_LISTEN_TLS)

/* The kinds of socket transports (CONF_LISTEN_* bits) need: 1 UDP, 2 TCP. */
static inline unsigned conf_listen_kinds(unsigned transports)
{
	return (transports & CONF_LISTEN_UDP_KIND ? 1u : 0u) |
	       (transports & CONF_LISTEN_TCP_KIND ? 2u : 0u);
}

/* Parse callbacks (CFG_INT_CB, CFG_BOOL_CB): decimal whole numbers only,
 * and the boolean words libconfuse knows, with errors in our format. */
int conf_cb_int(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result);
int conf_cb_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result);

/* Install the value check of every option that has one on cfg, which
 * must come from the option table (conf.c). */
void conf_check_install(cfg_t *cfg);

/* Two of those checks, run again by conf.c on the command-line overrides
 * so that they cannot bypass them: the range of an integer option, and
 * the last listening-ip (an address, and not given twice). */
int conf_check_int(cfg_t *cfg, cfg_opt_t *opt);
int conf_check_listen(cfg_t *cfg, cfg_opt_t *opt);

#endif
