/* The control socket's default path (control_path.h). */
#include "io/control_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int control_path_default(char *buf, size_t len)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rd && rd[0] == '/') {
		/* systemd lists several directories separated by ':': the first. */
		size_t k = strcspn(rd, ":");
		n = snprintf(buf, len, "%.*s/%s", (int)k, rd, CONTROL_PATH_NAME);
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "%s/%s", CONTROL_PATH_ROOT_DIR, CONTROL_PATH_NAME);
	} else if (xdg && xdg[0] == '/') {
		n = snprintf(buf, len, "%s/turnd/%s", xdg, CONTROL_PATH_NAME);
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < len ? 0 : -1;
}
