/* Conversions between the core's struct turn_addr and socket addresses. */
#ifndef TURND_IO_SOCKADDR_H
#define TURND_IO_SOCKADDR_H

#include <sys/socket.h>

#include "util/addr.h"

/* Fill ss from a; returns the sockaddr length, or 0 for an unset family. */
socklen_t sockaddr_from_turn(struct sockaddr_storage *ss, const struct turn_addr *a);

/* Fill a from sa; returns 0, or -1 for a family other than IPv4/IPv6. */
int sockaddr_to_turn(const struct sockaddr *sa, struct turn_addr *a);

#endif
