/*
 * turnprobe stun: one Binding transaction, printing the mapped address.
 * turnprobe stun-load: a bounded Binding load on one UDP socket.
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

/* Check a response and extract the mapped address. Returns 0 or -1. */
static int read_mapped(const uint8_t *buf, size_t len, const uint8_t tid[STUN_TID_LEN],
		       struct turn_addr *mapped)
{
	struct stun_msg m;
	const struct stun_attr *a;

	if (stun_msg_parse(&m, buf, len) < 0 || !client_is_response(&m, tid, STUN_METHOD_BINDING))
		return -1;
	if (m.cls == STUN_CLASS_ERROR) {
		fprintf(stderr, "turnprobe: error response %d\n", client_response_code(&m));
		return -1;
	}
	a = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	if (a)
		return stun_attr_get_xor_addr(&m, a, mapped);
	a = stun_msg_find(&m, STUN_ATTR_MAPPED_ADDRESS);
	return a ? stun_attr_get_addr(&m, a, mapped) : -1;
}

/* Read one STUN message from a TCP stream: header, then body. */
static long tcp_read_msg(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	size_t have = 0, want = STUN_HDR_LEN;

	while (have < want) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		ssize_t n = recv(fd, buf + have, want - have, 0);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		if (have == STUN_HDR_LEN && want == STUN_HDR_LEN) {
			want += (size_t)((buf[2] << 8) | buf[3]);
			if (want > cap)
				return -1;
		}
	}
	return (long)have;
}

/* One Binding transaction; over UDP retransmitted as RFC 8489 section
 * 6.2.1 says (RTO 500 ms, doubling), over TCP sent once. */
static int binding_once(int fd, bool tcp, int timeout_ms, struct turn_addr *mapped, double *rtt)
{
	uint8_t req[128], resp[2048], tid[STUN_TID_LEN];
	long len;
	int rto = 500;

	RAND_bytes(tid, sizeof(tid));
	len = client_build_binding(req, sizeof(req), tid, 0);
	double start = client_now_s();
	if (tcp) {
		if (send(fd, req, (size_t)len, 0) != len)
			return -1;
		long n = tcp_read_msg(fd, resp, sizeof(resp), timeout_ms);
		*rtt = client_now_s() - start;
		return n > 0 ? read_mapped(resp, (size_t)n, tid, mapped) : -1;
	}
	for (int waited = 0; waited < timeout_ms; waited += rto, rto *= 2) {
		struct pollfd p = { fd, POLLIN, 0 };
		send(fd, req, (size_t)len, 0);
		while (poll(&p, 1, rto) > 0) {
			ssize_t n = recv(fd, resp, sizeof(resp), 0);
			if (n > 0 && read_mapped(resp, (size_t)n, tid, mapped) == 0) {
				*rtt = client_now_s() - start;
				return 0;
			}
		}
	}
	return -1;
}

int probe_cmd_stun(const struct probe_opts *o)
{
	struct turn_addr mapped;
	char text[TURN_ADDR_STRLEN];
	double rtt = 0;
	int fd = probe_connect(o);

	if (fd < 0)
		return 1;
	if (binding_once(fd, o->tcp, o->timeout_ms, &mapped, &rtt) < 0) {
		fprintf(stderr, "turnprobe: no Binding response from %s over %s\n", o->target,
			o->tcp ? "TCP" : "UDP");
		close(fd);
		return 1;
	}
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	struct turn_addr self = { 0 };
	if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0)
		sockaddr_to_turn((struct sockaddr *)&local, &self);
	printf("local address: %s\n", turn_addr_format(&self, true, text, sizeof(text)));
	printf("mapped address: %s\n", turn_addr_format(&mapped, true, text, sizeof(text)));
	printf("rtt: %.3f ms (%s)\n", rtt * 1000.0, o->tcp ? "tcp" : "udp");
	close(fd);
	return 0;
}

/*
 * A bounded load loop: keep `window` Binding requests in flight on one UDP
 * socket until `count` are answered or `seconds` pass; print the rate.
 * After 200 ms of silence the requests in flight are counted as lost.
 */
int probe_cmd_stun_load(const struct probe_opts *o)
{
	uint8_t req[128], resp[2048], tid[STUN_TID_LEN] = { 0 };
	unsigned long sent = 0, answered = 0, lost = 0;
	unsigned inflight = 0;
	int fd = probe_connect(o);
	double start = client_now_s();

	if (fd < 0)
		return 1;
	while (answered < o->count && client_now_s() - start < o->seconds) {
		for (; inflight < o->window; inflight++, sent++) {
			memcpy(tid, &sent, sizeof(sent));
			long len = client_build_binding(req, sizeof(req), tid, 0);
			if (send(fd, req, (size_t)len, 0) < 0)
				break;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 200) <= 0) {
			lost += inflight;
			inflight = 0;
			continue;
		}
		ssize_t n;
		while ((n = recv(fd, resp, sizeof(resp), MSG_DONTWAIT)) > 0) {
			struct stun_msg m;
			if (stun_msg_parse(&m, resp, (size_t)n) == 0 &&
			    m.cls == STUN_CLASS_SUCCESS) {
				answered++;
				if (inflight > 0)
					inflight--;
			}
		}
	}
	double elapsed = client_now_s() - start;
	printf("stun-load: %lu answered, %lu lost in %.2f s: %.0f requests/s (window %u)\n",
	       answered, lost, elapsed, (double)answered / elapsed, o->window);
	close(fd);
	return answered > 0 ? 0 : 1;
}
