/*
 * The service manager's notification protocol (sd_notify(3)), spoken
 * directly: one datagram on the unix socket named by $NOTIFY_SOCKET
 * ("@name" is in the abstract namespace). No libsystemd needed; without
 * the variable every call does nothing.
 */
#include "io/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;

	if (!path || (path[0] != '/' && path[0] != '@') || (n = strlen(path)) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	ssize_t rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
	return rc < 0 ? -1 : 1;
}

uint64_t notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;

	if (!usec)
		return 0;
	/* A watchdog meant for another process (the variable was inherited). */
	if (pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	unsigned long long v = strtoull(usec, &end, 10);
	return *end == '\0' ? (uint64_t)v : 0;
}
