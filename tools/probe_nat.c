/*
 * turnprobe nat: NAT behaviour discovery (RFC 5780) against a server with
 * two addresses. The mapping tests of section 4.3 and the filtering tests
 * of section 4.4 each run on a fresh UDP socket (the filtering tests are
 * sensitive to what the NAT has seen from a port before), and the result
 * is printed in plain words.
 */
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "io/sockaddr.h"
#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "probe.h"
#include "util/addr.h"

/* One Binding transaction's outcome. */
struct nat_answer {
	bool answered;
	int code;                /* 0 for a success, else the error code */
	struct turn_addr source; /* where the answer came from */
	struct turn_addr mapped; /* XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) */
	struct turn_addr origin; /* RESPONSE-ORIGIN; family 0 when absent */
	struct turn_addr other;  /* OTHER-ADDRESS; family 0 when absent */
};

/* A UDP socket bound to the local address that routes to the server, so
 * that the address it sends from is known before the first test. */
static int open_socket(const struct probe_opts *o, struct turn_addr *server,
		       struct turn_addr *local)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int probe = probe_connect(o);
	int fd = -1;

	if (probe < 0)
		return -1;
	if (getpeername(probe, (struct sockaddr *)&ss, &sl) == 0 &&
	    sockaddr_to_turn((struct sockaddr *)&ss, server) == 0) {
		sl = sizeof(ss);
		if (getsockname(probe, (struct sockaddr *)&ss, &sl) == 0 &&
		    sockaddr_to_turn((struct sockaddr *)&ss, local) == 0) {
			local->port = 0;
			sl = sockaddr_from_turn(&ss, local);
			fd = socket(ss.ss_family, SOCK_DGRAM, 0);
		}
	}
	close(probe);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, sl) == 0) {
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    sockaddr_to_turn((struct sockaddr *)&ss, local) == 0)
			return fd;
	}
	perror("turnprobe: UDP socket");
	if (fd >= 0)
		close(fd);
	return -1;
}

static void get_addr(const struct stun_msg *m, uint16_t type, bool xor, struct turn_addr *out)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	memset(out, 0, sizeof(*out));
	if (a && (xor ? stun_attr_get_xor_addr(m, a, out) : stun_attr_get_addr(m, a, out)) < 0)
		memset(out, 0, sizeof(*out));
}

/* The answer to our transaction, or -1 for anything else (dropped). */
static int read_answer(const uint8_t *buf, size_t len, const uint8_t tid[STUN_TID_LEN],
		       struct nat_answer *r)
{
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len) < 0 || !client_is_response(&m, tid, STUN_METHOD_BINDING))
		return -1;
	if (m.cls == STUN_CLASS_ERROR) {
		r->code = client_response_code(&m);
		return 0;
	}
	get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, true, &r->mapped);
	if (!r->mapped.family)
		get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, false, &r->mapped);
	get_addr(&m, STUN_ATTR_RESPONSE_ORIGIN, false, &r->origin);
	get_addr(&m, STUN_ATTR_OTHER_ADDRESS, false, &r->other);
	return r->mapped.family ? 0 : -1;
}

/* One Binding request to `to`, with CHANGE-REQUEST flags when change is
 * not 0, retransmitted as RFC 8489 section 6.2.1 says (500 ms, doubling)
 * for timeout_ms. No answer is an answer too: r->answered is false. */
static void transact(int fd, const struct turn_addr *to, uint32_t change, int timeout_ms,
		     struct nat_answer *r)
{
	uint8_t req[128], resp[2048], tid[STUN_TID_LEN];
	struct sockaddr_storage dst, src;
	socklen_t dl = sockaddr_from_turn(&dst, to);
	long len;

	memset(r, 0, sizeof(*r));
	RAND_bytes(tid, sizeof(tid));
	len = client_build_binding(req, sizeof(req), tid, change);
	for (int waited = 0, rto = 500; waited < timeout_ms; waited += rto, rto *= 2) {
		struct pollfd p = { fd, POLLIN, 0 };
		sendto(fd, req, (size_t)len, 0, (struct sockaddr *)&dst, dl);
		while (poll(&p, 1, rto) > 0) {
			socklen_t sl = sizeof(src);
			ssize_t n = recvfrom(fd, resp, sizeof(resp), 0, (struct sockaddr *)&src, &sl);
			if (n > 0 && read_answer(resp, (size_t)n, tid, r) == 0 &&
			    sockaddr_to_turn((struct sockaddr *)&src, &r->source) == 0) {
				r->answered = true;
				return;
			}
		}
	}
}

static const char *fmt(const struct turn_addr *a, char buf[TURN_ADDR_STRLEN])
{
	return turn_addr_format(a, true, buf, TURN_ADDR_STRLEN);
}

/* Test I of both sections: the server must answer and name its other
 * address. Returns 0, or -1 after saying why not. */
static int test_one(const struct probe_opts *o, int fd, const struct turn_addr *server,
		    struct nat_answer *r)
{
	char a[TURN_ADDR_STRLEN], b[TURN_ADDR_STRLEN];

	transact(fd, server, 0, o->timeout_ms, r);
	if (!r->answered) {
		fprintf(stderr, "turnprobe: no Binding response from %s over UDP\n", o->target);
		return -1;
	}
	if (r->code) {
		fprintf(stderr, "turnprobe: Binding: error response %d\n", r->code);
		return -1;
	}
	if (!r->other.family) {
		printf("NAT discovery: not supported by %s (no OTHER-ADDRESS in its Binding "
		       "response: it has no second address configured)\n",
		       fmt(server, a));
		return -1;
	}
	if (r->origin.family && !turn_addr_eq(&r->origin, &r->source))
		printf("note: the response came from %s but says it was sent from %s: a NAT in "
		       "front of the server?\n",
		       fmt(&r->source, a), fmt(&r->origin, b));
	return 0;
}

/* RFC 5780 section 4.3. */
static int mapping_tests(const struct probe_opts *o)
{
	struct turn_addr server, local, to;
	struct nat_answer r1, r2, r3;
	char a[TURN_ADDR_STRLEN], b[TURN_ADDR_STRLEN];
	int fd = open_socket(o, &server, &local);

	if (fd < 0)
		return -1;
	if (test_one(o, fd, &server, &r1) < 0) {
		close(fd);
		return -1;
	}
	printf("server address: %s, other address: %s\n", fmt(&server, a), fmt(&r1.other, b));
	printf("local address: %s\n", fmt(&local, a));
	printf("mapped address: %s%s\n", fmt(&r1.mapped, a),
	       turn_addr_eq(&r1.mapped, &local) ? " (the local address: no NAT)" : "");
	/* Test II: the other IP, the port already used. */
	to = r1.other;
	to.port = server.port;
	transact(fd, &to, 0, o->timeout_ms, &r2);
	if (!r2.answered || r2.code) {
		printf("mapping test II: no answer from %s: mapping not determined\n", fmt(&to, a));
		close(fd);
		return -1;
	}
	printf("mapping test II (to %s): mapped address %s\n", fmt(&to, a), fmt(&r2.mapped, b));
	if (turn_addr_eq(&r2.mapped, &r1.mapped)) {
		printf("mapping: endpoint-independent (one mapped address for every destination)\n");
		close(fd);
		return 0;
	}
	/* Test III: the other IP and port. */
	transact(fd, &r1.other, 0, o->timeout_ms, &r3);
	close(fd);
	if (!r3.answered || r3.code) {
		printf("mapping test III: no answer from %s: mapping not determined\n",
		       fmt(&r1.other, a));
		return -1;
	}
	printf("mapping test III (to %s): mapped address %s\n", fmt(&r1.other, a),
	       fmt(&r3.mapped, b));
	if (turn_addr_eq(&r3.mapped, &r2.mapped))
		printf("mapping: address-dependent (a new mapped address for each destination "
		       "IP address)\n");
	else
		printf("mapping: address and port-dependent (a new mapped address for each "
		       "destination IP address and port)\n");
	return 0;
}

/* Filtering tests II and III: the answer, if one comes, must be from the
 * address asked for, or the server did not honour CHANGE-REQUEST and the
 * test says nothing. Returns 1 answered, 0 not, -1 after saying why. */
static int changed_answer(const struct probe_opts *o, int fd, const struct turn_addr *server,
			  uint32_t change, const struct turn_addr *want)
{
	struct nat_answer r;
	char a[TURN_ADDR_STRLEN], b[TURN_ADDR_STRLEN];

	transact(fd, server, change, o->timeout_ms, &r);
	if (r.answered && r.code) {
		printf("filtering: the server refuses CHANGE-REQUEST (error %d): filtering not "
		       "determined\n",
		       r.code);
		return -1;
	}
	if (r.answered && !turn_addr_eq(&r.source, want)) {
		printf("filtering: asked for an answer from %s, got one from %s: the server does "
		       "not honour CHANGE-REQUEST\n",
		       fmt(want, a), fmt(&r.source, b));
		return -1;
	}
	printf("filtering test %s (answer asked from %s): %s\n",
	       change & STUN_CHANGE_IP ? "II" : "III", fmt(want, a),
	       r.answered ? "answered" : "no answer");
	return r.answered ? 1 : 0;
}

/* RFC 5780 section 4.4, on a socket of its own. */
static int filtering_tests(const struct probe_opts *o)
{
	struct turn_addr server, local, want;
	struct nat_answer r1;
	int fd = open_socket(o, &server, &local);
	int rc;

	if (fd < 0)
		return -1;
	if (test_one(o, fd, &server, &r1) < 0) {
		close(fd);
		return -1;
	}
	rc = changed_answer(o, fd, &server, STUN_CHANGE_IP | STUN_CHANGE_PORT, &r1.other);
	if (rc == 1)
		printf("filtering: endpoint-independent (answers from any address get "
		       "through)\n");
	if (rc == 0) {
		want = server;
		want.port = r1.other.port;
		rc = changed_answer(o, fd, &server, STUN_CHANGE_PORT, &want);
		if (rc == 1)
			printf("filtering: address-dependent (answers get through from an IP "
			       "address already sent to, from any port)\n");
		else if (rc == 0)
			printf("filtering: address and port-dependent (answers get through only "
			       "from an IP address and port already sent to)\n");
	}
	close(fd);
	return rc < 0 ? -1 : 0;
}

int probe_cmd_nat(const struct probe_opts *o)
{
	if (mapping_tests(o) < 0)
		return 1;
	return filtering_tests(o) < 0 ? 1 : 0;
}
