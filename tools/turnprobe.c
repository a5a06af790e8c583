/*
 * turnprobe: the operator's "does my server work" client.
 *
 *   turnprobe stun HOST[:PORT] [--tcp]        print the mapped address
 *   turnprobe stun-load HOST[:PORT] [-n N] [-w WINDOW] [-s SECONDS]
 *                                             Binding requests answered/s
 *   turnprobe turn HOST[:PORT] -u USER -w PASS [--peer ADDR:PORT] [--tcp]
 *                  [-n COUNT] [--ipv6-relay]  allocate, echo through a peer
 *   turnprobe nat HOST[:PORT]                 NAT mapping and filtering
 *                                             (RFC 5780)
 *
 * It builds and checks messages with turnd's own codec. This file parses
 * the command line and holds what the commands share; the commands are in
 * probe_stun.c, probe_turn.c and probe_nat.c.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "probe.h"

/* HOST[:PORT], HOST being a name or an address ("[::1]:3478" for IPv6). */
static int resolve(const char *target, bool tcp, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[256], port[8];
	const char *colon = strrchr(target, ':');
	struct addrinfo hints = { .ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM }, *res;

	snprintf(port, sizeof(port), "%d", CLIENT_SERVER_PORT);
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

int probe_connect(const struct probe_opts *o)
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

static void usage(FILE *to)
{
	fprintf(to, "usage: turnprobe stun HOST[:PORT] [--tcp] [--timeout MS]\n"
		    "       turnprobe stun-load HOST[:PORT] [-n COUNT] [-w WINDOW] [-s SECONDS]\n"
		    "       turnprobe turn HOST[:PORT] -u USER -w PASS [--peer ADDR:PORT] [--tcp]\n"
		    "                      [-n COUNT] [--ipv6-relay] [--timeout MS]\n"
		    "       turnprobe nat HOST[:PORT] [--timeout MS]\n");
}

/* One option of command cmd. -w is the window of stun-load and the
 * password of turn. Returns 0, or -1 for a bad option or value. */
static int take_option(struct probe_opts *o, bool turn, int c, const char *arg)
{
	unsigned ms;

	switch (c) {
	case 't': o->tcp = true; return 0;
	case '6': o->ipv6_relay = true; return turn ? 0 : -1;
	case 'u': o->user = arg; return turn ? 0 : -1;
	case 'p': o->peer = arg; return turn ? 0 : -1;
	case 's': return turn ? -1 : client_parse_double(arg, PROBE_SECONDS_MAX, &o->seconds);
	case 'w':
		if (turn) {
			o->pass = arg;
			return 0;
		}
		return client_parse_uint(arg, 1, 1000000, &o->window);
	case 'n': return client_parse_ulong(arg, 1, (unsigned long)-1 >> 1, &o->count);
	case 'T':
		if (client_parse_uint(arg, 1, 3600000, &ms) < 0)
			return -1;
		o->timeout_ms = (int)ms;
		return 0;
	default: return -1;
	}
}

/* Returns 0 to run, 1 for --help, -1 for a usage error. */
static int parse_args(int argc, char **argv, struct probe_opts *o)
{
	static const struct option longopts[] = {
		{ "tcp", no_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'w' },
		{ "peer", required_argument, NULL, 'p' },
		{ "ipv6-relay", no_argument, NULL, '6' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool turn = strcmp(argv[1], "turn") == 0;
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "tT:n:w:s:u:h", longopts, NULL)) != -1) {
		if (c == 'h')
			return 1;
		if (take_option(o, turn, c, optarg) < 0)
			return -1;
	}
	if (optind != argc - 1)
		return -1;
	o->target = argv[optind];
	if (turn && (!o->user || !o->pass))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct probe_opts o = { .count = 0, .window = 64, .seconds = 10, .timeout_ms = 3000 };

	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	int rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "stun") == 0)
		return probe_cmd_stun(&o);
	if (strcmp(cmd, "stun-load") == 0 && !o.tcp) {
		o.count = o.count ? o.count : 100000;
		return probe_cmd_stun_load(&o);
	}
	if (strcmp(cmd, "nat") == 0 && !o.tcp)
		return probe_cmd_nat(&o);
	if (strcmp(cmd, "turn") == 0) {
		o.count = o.count ? o.count : 5;
		return probe_cmd_turn(&o);
	}
	usage(stderr);
	return 2;
}
