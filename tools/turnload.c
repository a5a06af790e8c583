/*
 * turnload: a TURN load generator.
 *
 *   turnload [options] SERVER[:PORT]
 *
 * Many sessions, each its own socket and allocation, send stamped packets
 * through the relay to an echo peer (or to each other with -y) and count
 * what comes back: loss, reordering, duplicates and latency. -a measures
 * allocations per second, -m holds many allocations open, --raw measures a
 * plain UDP echo with the same machinery. See turnload(1).
 *
 * This file reads the command line and the credential; load_run.c runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "load.h"

/* Descriptors kept aside for stdio, epoll and the like. */
#define CLI_SPARE_FDS 64
/* USERNAME is at most 513 bytes (RFC 8489 section 14.3). */
#define CLI_USER_MAX 514
/* TURN REST usernames (draft-uberti-behave-turn-rest) carry their expiry;
 * the client picks it. */
#define CLI_REST_LIFETIME_S 86400

struct cli {
	struct load_opts o;
	const char *secret, *peer, *bind;
	unsigned long hold;
	bool alloc, raw, window_given, batch_given;
	char rest_user[CLI_USER_MAX];
	char rest_pass[64];
};

static void usage(FILE *to, bool full)
{
	fprintf(to, "usage: turnload [-u USER -w PASS | -W SECRET [-u USER]] [-t] [-n N]\n"
		    "                [-e ADDR:PORT] [-y] [-s] [-l BYTES] [-r PPS] [-d SECONDS | -c N]\n"
		    "                [-a | -m N | --raw] [-b ADDR[,ADDR...]] [--window N]\n"
		    "                [--batch N] [-T MS] [--json] [-q] [-v] SERVER[:PORT]\n");
	if (!full) {
		fprintf(to, "Try 'turnload --help' for more information.\n");
		return;
	}
	fprintf(to,
		"  -u USER, -w PASS  long-term credential\n"
		"  -W SECRET         TURN REST credential (username \"expiry[:USER]\")\n"
		"  -t                TCP to the server (default UDP)\n"
		"  -n N              sessions, each its own socket and allocation (default 1)\n"
		"  -e ADDR:PORT      echo peer (default " CLIENT_PEER_DEFAULT ")\n"
		"  -y                client to client: sessions send to each other in pairs\n"
		"  -s                Send/Data indications instead of ChannelData\n"
		"  -l BYTES          payload size (default 120, at least 24)\n"
		"  -r PPS            packets per second over all sessions (default 0: flood)\n"
		"  -d SECONDS        traffic time (default 5)\n"
		"  -c N              N messages per session (-a: N allocations) instead\n"
		"  -a                allocation rate: Allocate and delete, over and over\n"
		"  -m N              hold N allocations until -d passes or SIGINT/SIGTERM\n"
		"  --raw             plain UDP to SERVER:PORT and back, no TURN\n"
		"  -b ADDR[,ADDR]    local addresses, round-robin over the sessions\n"
		"  --window N        flood: packets in flight per session (default 64);\n"
		"                    -a: allocations at once per session (default 1)\n"
		"  --batch N         packets per sendmmsg (default 64; 8 when paced)\n"
		"  -T MS             transaction timeout (default 1000)\n"
		"  --json            the summary as one JSON object, no progress lines\n"
		"  -q                no progress lines\n"
		"  -v                a line per session after the summary\n"
		"  -h, --help        show this help\n");
}

/* Options that take a number. Returns 0, or -1 for a bad value. */
static int parse_numeric(struct cli *c, int opt, const char *arg)
{
	struct load_opts *o = &c->o;

	switch (opt) {
	case 'n': return client_parse_ulong(arg, 1, LOAD_MAX_SESSIONS, &o->sessions);
	case 'm': return client_parse_ulong(arg, 1, LOAD_MAX_SESSIONS, &c->hold);
	case 'c': return client_parse_ulong(arg, 1, 1000000000000UL, &o->count);
	case 'l': return client_parse_uint(arg, LOAD_HDR_LEN, LOAD_PAYLOAD_MAX, &o->payload_len);
	case 'r': return client_parse_double(arg, 1e9, &o->rate);
	case 'T': return client_parse_uint(arg, 1, 600000, &o->timeout_ms);
	case 'd':
		o->duration_given = true;
		if (client_parse_double(arg, 30 * 86400.0, &o->duration_s) < 0 || o->duration_s <= 0)
			return -1;
		return 0;
	case 'W' + 256:
		c->window_given = true;
		return client_parse_uint(arg, 1, 1000000, &o->window);
	case 'B' + 256:
		c->batch_given = true;
		return client_parse_uint(arg, 1, LOAD_BATCH_MAX, &o->batch);
	default: return -1;
	}
}

static int parse_opt(struct cli *c, int opt, const char *arg)
{
	struct load_opts *o = &c->o;

	switch (opt) {
	case 'u': o->user = arg; return 0;
	case 'w': o->pass = arg; return 0;
	case 'W': c->secret = arg; return 0;
	case 'e': c->peer = arg; return 0;
	case 'b': c->bind = arg; return 0;
	case 't': o->tcp = true; return 0;
	case 'y': o->c2c = true; return 0;
	case 's': o->indications = true; return 0;
	case 'a': c->alloc = true; return 0;
	case 'q': o->quiet = true; return 0;
	case 'v': o->verbose = true; return 0;
	case 'R' + 256: c->raw = true; return 0;
	case 'J' + 256: o->json = true; return 0;
	default: return parse_numeric(c, opt, arg);
	}
}

/* -b: a comma-separated list of addresses of the server's family. */
static int parse_bind(struct cli *c)
{
	char buf[1024], *save = NULL;

	if (!c->bind)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s", c->bind) >= (int)sizeof(buf))
		return -1;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct turn_addr *a = &c->o.bind[c->o.nbind];
		if (c->o.nbind == LOAD_MAX_BIND || turn_addr_parse(tok, 0, a) < 0 ||
		    a->family != c->o.server.family) {
			fprintf(stderr, "turnload: -b wants up to %d addresses of the server's "
					"family, not '%s'\n", LOAD_MAX_BIND, tok);
			return -1;
		}
		c->o.nbind++;
	}
	return c->o.nbind ? 0 : -1;
}

/* The mode from -a, -m, --raw and -s, and the combinations that make no
 * sense. Returns 0, or -1 after saying why. */
static int pick_mode(struct cli *c)
{
	struct load_opts *o = &c->o;
	const char *why = NULL;

	if ((int)c->alloc + (c->hold > 0) + (int)c->raw > 1)
		why = "-a, -m and --raw exclude each other";
	else if (o->c2c && (c->alloc || c->hold || c->raw))
		why = "-y goes with neither -a, -m nor --raw";
	else if (o->indications && (c->alloc || c->raw))
		why = "-s goes with neither -a nor --raw";
	else if (c->raw && o->tcp)
		why = "--raw is UDP only";
	if (why) {
		fprintf(stderr, "turnload: %s\n", why);
		return -1;
	}
	o->mode = c->alloc     ? LOAD_MODE_ALLOC
		  : c->hold    ? LOAD_MODE_HOLD
		  : c->raw     ? LOAD_MODE_RAW
		  : o->indications ? LOAD_MODE_SEND
				   : LOAD_MODE_CHANNEL;
	if (c->hold)
		o->sessions = c->hold;
	if (o->c2c && o->sessions % 2) {
		fprintf(stderr, "turnload: -y pairs the sessions: -n must be even\n");
		return -1;
	}
	return 0;
}

static int check_credential(struct cli *c)
{
	struct load_opts *o = &c->o;

	if (o->mode == LOAD_MODE_RAW)
		return 0;
	if (c->secret && o->pass) {
		fprintf(stderr, "turnload: -W and -w exclude each other\n");
		return -1;
	}
	if (c->secret) {
		/* A name valid for a day, as coturn's client makes them. */
		long long expiry = (long long)time(NULL) + CLI_REST_LIFETIME_S;
		if (load_cred_rest(c->secret, o->user, expiry, c->rest_user, sizeof(c->rest_user),
				   c->rest_pass, sizeof(c->rest_pass)) < 0) {
			fprintf(stderr, "turnload: -W: cannot make the REST credential\n");
			return -1;
		}
		o->user = c->rest_user;
		o->pass = c->rest_pass;
		return 0;
	}
	if (!o->user || !o->pass) {
		fprintf(stderr, "turnload: TURN needs -u USER -w PASS, or -W SECRET\n");
		return -1;
	}
	return 0;
}

/* Defaults that depend on the mode, and the limits between options. */
static int finish_options(struct cli *c, const char *server)
{
	struct load_opts *o = &c->o;
	const char *peer = c->peer ? c->peer : CLIENT_PEER_DEFAULT;

	if (client_parse_endpoint(server, CLIENT_SERVER_PORT, &o->server) < 0) {
		fprintf(stderr, "turnload: SERVER[:PORT] wants an IP address, not '%s'\n", server);
		return -1;
	}
	if (client_parse_endpoint(peer, 0, &o->peer) < 0) {
		fprintf(stderr, "turnload: -e wants ADDR:PORT (\"[::1]:3480\" for IPv6), not '%s'\n",
			peer);
		return -1;
	}
	if (pick_mode(c) < 0 || parse_bind(c) < 0 || check_credential(c) < 0)
		return -1;
	if (!c->window_given)
		o->window = o->mode == LOAD_MODE_ALLOC ? 1 : 64;
	if (!c->batch_given)
		o->batch = o->rate > 0 || o->mode == LOAD_MODE_HOLD ? 8 : LOAD_BATCH_MAX;
	if (o->mode == LOAD_MODE_ALLOC && o->sessions * o->window > LOAD_MAX_SESSIONS) {
		fprintf(stderr, "turnload: -a: sessions x window must stay within %d\n",
			LOAD_MAX_SESSIONS);
		return -1;
	}
	return 0;
}

/* Returns 0 to run, 1 after --help, 2 for a usage error. */
static int parse_args(int argc, char **argv, struct cli *c)
{
	static const struct option longopts[] = {
		{ "raw", no_argument, NULL, 'R' + 256 },
		{ "json", no_argument, NULL, 'J' + 256 },
		{ "window", required_argument, NULL, 'W' + 256 },
		{ "batch", required_argument, NULL, 'B' + 256 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "u:w:W:tn:e:ysl:r:d:c:am:b:qvT:h", longopts, NULL)) !=
	       -1) {
		if (opt == 'h') {
			usage(stdout, true);
			return 1;
		}
		if (opt == '?' || parse_opt(c, opt, optarg) < 0) {
			if (opt != '?')
				fprintf(stderr, "turnload: bad value '%s'\n", optarg);
			usage(stderr, false);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr, false);
		return 2;
	}
	return finish_options(c, argv[optind]) < 0 ? 2 : 0;
}

/* Up to 50,000 sessions mean as many sockets: take the hard limit. */
static int raise_nofile(size_t sockets)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && sockets + CLI_SPARE_FDS > rl.rlim_cur) {
		fprintf(stderr, "turnload: %zu sockets need %zu descriptors, the limit is %llu "
				"(ulimit -n)\n",
			sockets, sockets + CLI_SPARE_FDS, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { .o = { .sessions = 1, .payload_len = 120, .duration_s = 5,
				.timeout_ms = 1000 } };
	int rc = parse_args(argc, argv, &c);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	size_t sockets = c.o.mode == LOAD_MODE_ALLOC ? c.o.sessions * c.o.window : c.o.sessions;
	if (raise_nofile(sockets) < 0)
		return 1;
	return load_run(&c.o);
}
