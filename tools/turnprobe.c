/*
 * turnprobe: the operator's "does my server work" client.
 *
 *   turnprobe stun HOST[:PORT] [--tcp]        print the mapped address
 *   turnprobe stun-load HOST[:PORT] [-n N] [-w WINDOW] [-s SECONDS]
 *                                             Binding requests answered/s
 *
 * It builds and checks messages with turnd's own codec.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/sockaddr.h"
#include "stun/attr.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "util/addr.h"

#define PROBE_DEFAULT_PORT 3478

struct probe_opts {
	const char *target;
	bool tcp;
	unsigned long count;
	unsigned window;
	double seconds;
	int timeout_ms;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* HOST[:PORT], HOST being a name or an address ("[::1]:3478" for IPv6). */
static int resolve(const char *target, bool tcp, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[256], port[8] = "3478";
	const char *colon = strrchr(target, ':');
	struct addrinfo hints = { .ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM }, *res;

	snprintf(host, sizeof(host), "%s", target);
	if (target[0] == '[') {
		char *close = strchr(host, ']');
		if (!close)
			return -1;
		*close = '\0';
		if (close[1] == ':')
			snprintf(port, sizeof(port), "%s", close + 2);
		memmove(host, host + 1, strlen(host));
	} else if (colon && strchr(target, ':') == colon) {
		host[colon - target] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	}
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static long build_binding(uint8_t *buf, size_t cap, uint8_t tid[STUN_TID_LEN])
{
	struct stun_builder b;

	stun_build_begin(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

/* Check a response and extract the mapped address. Returns 0 or -1. */
static int read_mapped(const uint8_t *buf, size_t len, const uint8_t tid[STUN_TID_LEN],
		       struct turn_addr *mapped)
{
	struct stun_msg m;
	const struct stun_attr *a;

	if (stun_msg_parse(&m, buf, len) < 0 || m.method != STUN_METHOD_BINDING ||
	    memcmp(m.tid, tid, STUN_TID_LEN) != 0)
		return -1;
	if (m.idx_fingerprint >= 0 && stun_msg_check_fingerprint(&m) != 1)
		return -1;
	if (m.cls == STUN_CLASS_ERROR) {
		int code = 0;
		const uint8_t *reason;
		size_t rlen = 0;
		a = stun_msg_find(&m, STUN_ATTR_ERROR_CODE);
		if (a)
			stun_attr_get_error(&m, a, NULL, &code, &reason, &rlen);
		fprintf(stderr, "turnprobe: error response %d\n", code);
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
	len = build_binding(req, sizeof(req), tid);
	double start = now_s();
	if (tcp) {
		if (send(fd, req, (size_t)len, 0) != len)
			return -1;
		long n = tcp_read_msg(fd, resp, sizeof(resp), timeout_ms);
		*rtt = now_s() - start;
		return n > 0 ? read_mapped(resp, (size_t)n, tid, mapped) : -1;
	}
	for (int waited = 0; waited < timeout_ms; waited += rto, rto *= 2) {
		struct pollfd p = { fd, POLLIN, 0 };
		send(fd, req, (size_t)len, 0);
		while (poll(&p, 1, rto) > 0) {
			ssize_t n = recv(fd, resp, sizeof(resp), 0);
			if (n > 0 && read_mapped(resp, (size_t)n, tid, mapped) == 0) {
				*rtt = now_s() - start;
				return 0;
			}
		}
	}
	return -1;
}

static int connect_to(const struct probe_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (resolve(o->target, o->tcp, &ss, &sl) < 0) {
		fprintf(stderr, "turnprobe: cannot resolve '%s'\n", o->target);
		return -1;
	}
	fd = socket(ss.ss_family, o->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		fprintf(stderr, "turnprobe: %s: %s\n", o->target, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int cmd_stun(const struct probe_opts *o)
{
	struct turn_addr mapped;
	char text[TURN_ADDR_STRLEN];
	double rtt = 0;
	int fd = connect_to(o);

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
static int cmd_stun_load(const struct probe_opts *o)
{
	uint8_t req[128], resp[2048], tid[STUN_TID_LEN] = { 0 };
	unsigned long sent = 0, answered = 0, lost = 0;
	unsigned inflight = 0;
	int fd = connect_to(o);
	double start = now_s();

	if (fd < 0)
		return 1;
	while (answered < o->count && now_s() - start < o->seconds) {
		for (; inflight < o->window; inflight++, sent++) {
			memcpy(tid, &sent, sizeof(sent));
			long len = build_binding(req, sizeof(req), tid);
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
			if (stun_msg_parse(&m, resp, (size_t)n) == 0 && m.cls == STUN_CLASS_SUCCESS) {
				answered++;
				if (inflight > 0)
					inflight--;
			}
		}
	}
	double elapsed = now_s() - start;
	printf("stun-load: %lu answered, %lu lost in %.2f s: %.0f requests/s (window %u)\n",
	       answered, lost, elapsed, (double)answered / elapsed, o->window);
	close(fd);
	return answered > 0 ? 0 : 1;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: turnprobe stun HOST[:PORT] [--tcp] [--timeout MS]\n"
		    "       turnprobe stun-load HOST[:PORT] [-n COUNT] [-w WINDOW] [-s SECONDS]\n");
}

int main(int argc, char **argv)
{
	struct probe_opts o = { .count = 100000, .window = 64, .seconds = 10, .timeout_ms = 3000 };
	static const struct option longopts[] = {
		{ "tcp", no_argument, NULL, 't' },   { "timeout", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' }, { "window", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "tT:n:w:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o.tcp = true; break;
		case 'T': o.timeout_ms = atoi(optarg); break;
		case 'n': o.count = strtoul(optarg, NULL, 10); break;
		case 'w': o.window = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o.seconds = atof(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || o.window == 0 || o.timeout_ms <= 0) {
		usage(stderr);
		return 2;
	}
	o.target = argv[optind];
	if (strcmp(cmd, "stun") == 0)
		return cmd_stun(&o);
	if (strcmp(cmd, "stun-load") == 0 && !o.tcp)
		return cmd_stun_load(&o);
	usage(stderr);
	return 2;
}
