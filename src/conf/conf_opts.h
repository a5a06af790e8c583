/* The libconfuse option table of turnd.conf (conf_opts.c). */
#ifndef TURND_CONF_CONF_OPTS_H
#define TURND_CONF_CONF_OPTS_H

#include <confuse.h>

/* The file name in messages about text that came from no file. */
#define CONF_STRING_NAME "(string)"

/* A cfg_t of every turnd.conf option, its value checks installed and its
 * errors kept (the first one, with file and line, in cfg->comment). The
 * caller frees it with cfg_free. Returns NULL out of memory. */
cfg_t *conf_opts_cfg_new(void);

#endif
