/*
 * The control socket's default path, the same for turnd and turnctl
 * (control_path.c): under systemd's RuntimeDirectory= ($RUNTIME_DIRECTORY,
 * /run/turnd in the unit), else /run/turnd as root, else
 * $XDG_RUNTIME_DIR/turnd.
 */
#ifndef TURND_IO_CONTROL_PATH_H
#define TURND_IO_CONTROL_PATH_H

#include <stddef.h>

#define CONTROL_PATH_NAME "control"
#define CONTROL_PATH_ROOT_DIR "/run/turnd"

/* The default path into buf. Returns 0, or -1 when there is none (not
 * root and neither variable set) or it does not fit. */
int control_path_default(char *buf, size_t len);

#endif
