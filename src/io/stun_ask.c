/* A bounded Binding request from a chosen local address (stun_ask.h). */
#include "io/stun_ask.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/sockaddr.h"
#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "stun/stun.h"

/* A socket bound to local and connected to server, so that only the
 * server's datagrams arrive. */
static int stun_ask_socket(const struct turn_addr *local, const struct turn_addr *server, char *err,
			   size_t errlen)
{
	struct sockaddr_storage l, s;
	socklen_t llen = sockaddr_from_turn(&l, local);
	socklen_t slen = sockaddr_from_turn(&s, server);
	int fd = socket(l.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&l, llen) < 0 ||
	    connect(fd, (struct sockaddr *)&s, slen) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* 1: *mapped from the answer to tid; 0: not that answer; -1: an error
 * response to tid (err says which). */
static int stun_ask_answer(const uint8_t *buf, size_t len, const uint8_t *tid,
			   struct turn_addr *mapped, char *err, size_t errlen)
{
	struct stun_msg m;
	const struct stun_attr *a;

	if (stun_msg_parse(&m, buf, len) < 0 || m.method != STUN_METHOD_BINDING ||
	    memcmp(m.tid, tid, STUN_TID_LEN) != 0 ||
	    (m.idx_fingerprint >= 0 && stun_msg_check_fingerprint(&m) != 1))
		return 0;
	if (m.cls == STUN_CLASS_ERROR) {
		snprintf(err, errlen, "the server answered with an error response");
		return -1;
	}
	a = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	if (m.cls != STUN_CLASS_SUCCESS || !a || stun_attr_get_xor_addr(&m, a, mapped) < 0)
		return 0;
	return 1;
}

/* One request and its wait: 1 answered, 0 timed out, -1 failed. */
static int stun_ask_once(int fd, unsigned timeout_ms, struct turn_addr *mapped, char *err,
			 size_t errlen)
{
	uint8_t req[128], buf[1500], tid[STUN_TID_LEN];
	struct stun_builder b;

	if (RAND_bytes(tid, sizeof(tid)) != 1) {
		snprintf(err, errlen, "no random transaction ID");
		return -1;
	}
	stun_build_begin(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_fingerprint(&b);
	long n = stun_build_end(&b);
	if (n < 0 || send(fd, req, (size_t)n, 0) < 0) {
		snprintf(err, errlen, "cannot send: %s", n < 0 ? "no room" : strerror(errno));
		return -1;
	}
	/* Bounded: each poll waits at most timeout_ms, and at most 8 stray
	 * datagrams are read before the try counts as timed out. */
	for (int k = 0; k < 8; k++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)timeout_ms);
		if (r <= 0)
			return 0;
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0)
			continue; /* an ICMP error (ECONNREFUSED): wait on */
		r = stun_ask_answer(buf, (size_t)got, tid, mapped, err, errlen);
		if (r != 0)
			return r;
	}
	return 0;
}

int stun_ask_mapped(const struct turn_addr *local, const struct turn_addr *server,
		    const struct stun_ask_opts *o, struct turn_addr *mapped, char *err,
		    size_t errlen)
{
	int fd = stun_ask_socket(local, server, err, errlen);
	int r = 0;

	if (fd < 0)
		return -1;
	for (unsigned i = 0; i < o->tries && r == 0; i++)
		r = stun_ask_once(fd, o->timeout_ms, mapped, err, errlen);
	close(fd);
	if (r == 0)
		snprintf(err, errlen, "no answer after %u tr%s of %u ms", o->tries,
			 o->tries == 1 ? "y" : "ies", o->timeout_ms);
	return r == 1 ? 0 : -1;
}

int stun_ask_resolve(const char *host, uint16_t port, struct turn_addr out[2], char *err,
		     size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	int n = 0;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	memset(out, 0, 2 * sizeof(*out));
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct turn_addr a;
		if (sockaddr_to_turn(ai->ai_addr, &a) < 0)
			continue;
		struct turn_addr *slot = &out[a.family == TURN_AF_INET ? 0 : 1];
		if (slot->family)
			continue;
		*slot = a;
		slot->port = port;
		n++;
	}
	freeaddrinfo(res);
	return n;
}
