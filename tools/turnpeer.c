/*
 * turnpeer: a UDP echo peer for tests and benchmarks.
 *
 *   turnpeer [-L ADDR[:PORT]]... [-p PORT] [-t THREADS] [-s SECONDS]
 *            [--max-seconds S] [-q]
 *
 * Every datagram received is sent back to its sender unchanged. Datagrams
 * move in batches of 64 with recvmmsg/sendmmsg, so that the peer is never
 * the bottleneck of a relay benchmark (BENCHMARK.md). With -t N each of N
 * threads binds its own SO_REUSEPORT socket per address and the kernel
 * spreads senders over them.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "client.h"
#include "io/sockaddr.h"
#include "util/addr.h"

#define PEER_DEFAULT_ADDR "127.0.0.1"
#define PEER_MAX_LISTEN 16
#define PEER_MAX_THREADS 64
#define PEER_BATCH 64
/* Room for the largest UDP payload, so nothing is ever truncated. */
#define PEER_DGRAM_MAX 65536
/* Batches taken from one socket before the others get a turn. */
#define PEER_DRAIN_BATCHES 16
#define PEER_WAKE_MS 200
#define PEER_SOCKBUF (4 * 1024 * 1024)
/* -s and --max-seconds: a sanity bound (30 years). */
#define PEER_SECONDS_MAX 1e9

struct peer_opts {
	const char *listen[PEER_MAX_LISTEN];
	struct turn_addr addrs[PEER_MAX_LISTEN]; /* listen[], parsed once -p is known */
	unsigned nlisten;
	uint16_t port;
	unsigned threads;
	bool quiet;
	double stats_s;
	double max_s;
};

/* One thread's sockets, batch buffers and counters. The counters are
 * written by the worker and read by the main thread for the stats line. */
struct peer_worker {
	pthread_t thread;
	const atomic_bool *stop;
	struct pollfd pfd[PEER_MAX_LISTEN];
	unsigned nfds;
	struct mmsghdr msgs[PEER_BATCH];
	struct iovec iov[PEER_BATCH];
	struct sockaddr_storage names[PEER_BATCH];
	uint8_t *bufs;
	atomic_uint_fast64_t rx, tx, drops;
};

struct peer {
	atomic_bool stop;
	unsigned nworkers;
	struct peer_worker *workers;
};

/* Set from the signal handler; lock-free atomics are allowed there (C11 7.14.1.1). */
static atomic_bool got_signal;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&got_signal, true);
}

static void usage(FILE *to, bool full)
{
	fprintf(to, "usage: turnpeer [-L ADDR[:PORT]]... [-p PORT] [-t THREADS] [-s SECONDS]\n"
		    "                [--max-seconds S] [-q] [-h]\n");
	if (!full) {
		fprintf(to, "Try 'turnpeer --help' for more information.\n");
		return;
	}
	fprintf(to,
		"  -L, --listen ADDR    address to echo on, repeatable (default 127.0.0.1);\n"
		"                       \"::1\", \"127.0.0.1:3480\", \"[::1]:3480\"\n"
		"  -p, --port N         port for addresses given without one (default 3480)\n"
		"  -t, --threads N      echo threads, one SO_REUSEPORT socket each (default 1)\n"
		"  -s, --stats SECONDS  print \"turnpeer: rx N tx N drops N\" every SECONDS\n"
		"      --max-seconds S  exit after S seconds (default 0: until SIGTERM/SIGINT)\n"
		"  -q, --quiet          print neither the listening lines nor the totals\n"
		"  -h, --help           show this help\n");
}

/* Handle one option; returns 0 to go on, -1 for a usage error. */
static int parse_opt(int c, const char *arg, struct peer_opts *o)
{
	unsigned v;

	switch (c) {
	case 'L':
		if (o->nlisten == PEER_MAX_LISTEN)
			return -1;
		o->listen[o->nlisten++] = arg;
		return 0;
	case 'p':
		if (client_parse_uint(arg, 0, 65535, &v) < 0)
			return -1;
		o->port = (uint16_t)v;
		return 0;
	case 't': return client_parse_uint(arg, 1, PEER_MAX_THREADS, &o->threads);
	case 'q': o->quiet = true; return 0;
	case 's': return client_parse_double(arg, PEER_SECONDS_MAX, &o->stats_s);
	case 'M': return client_parse_double(arg, PEER_SECONDS_MAX, &o->max_s);
	default: return -1;
	}
}

/* Returns 0 to run, 1 after --help, 2 for a usage error (the exit status). */
static int parse_args(int argc, char **argv, struct peer_opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "stats", required_argument, NULL, 's' },
		{ "max-seconds", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "L:p:t:qs:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout, true);
			return 1;
		}
		if (parse_opt(c, optarg, o) < 0) {
			if (c == 'L')
				fprintf(stderr, "turnpeer: at most %d -L addresses\n",
					PEER_MAX_LISTEN);
			else if (c != '?')
				fprintf(stderr, "turnpeer: bad argument '%s'\n", optarg);
			usage(stderr, false);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, false);
		return 2;
	}
	if (o->nlisten == 0)
		o->listen[o->nlisten++] = PEER_DEFAULT_ADDR;
	for (unsigned i = 0; i < o->nlisten; i++) {
		if (turn_addr_parse(o->listen[i], o->port, &o->addrs[i]) < 0) {
			fprintf(stderr, "turnpeer: not an IPv4 or IPv6 address: '%s'\n",
				o->listen[i]);
			return 2;
		}
	}
	return 0;
}

static void set_sockbufs(int fd)
{
	int size = PEER_SOCKBUF;

	/* Best effort: the kernel caps these at net.core.[rw]mem_max. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/*
 * Set up and bind fd to *a. When a->port is 0 the kernel picks one and *a
 * is updated, so that the other threads' sockets join the same port.
 * Returns 0, or -1 with errno set.
 */
static int bind_socket(int fd, struct turn_addr *a, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_from_turn(&ss, a), bl = sizeof(ss);
	int one = 1;

	/* "::" and "0.0.0.0" on one port must not collide. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return -1;
	set_sockbufs(fd);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &bl) < 0)
		return -1;
	return sockaddr_to_turn((struct sockaddr *)&ss, a);
}

/* A non-blocking UDP socket bound to *a; returns it, or -1 with errno set. */
static int open_socket(struct turn_addr *a, bool reuseport)
{
	int fd = socket(a->family == TURN_AF_INET6 ? AF_INET6 : AF_INET,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind_socket(fd, a, reuseport) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Bind every address in every worker and announce each address once. */
static int open_all(struct peer *p, const struct peer_opts *o)
{
	char text[TURN_ADDR_STRLEN];

	for (unsigned i = 0; i < o->nlisten; i++) {
		struct turn_addr a = o->addrs[i];
		for (unsigned t = 0; t < p->nworkers; t++) {
			struct peer_worker *w = &p->workers[t];
			int fd = open_socket(&a, p->nworkers > 1);
			if (fd < 0) {
				fprintf(stderr, "turnpeer: %s: %s\n",
					turn_addr_format(&a, true, text, sizeof(text)),
					strerror(errno));
				return -1;
			}
			w->pfd[w->nfds++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		if (!o->quiet)
			printf("turnpeer: listening on %s\n",
			       turn_addr_format(&a, true, text, sizeof(text)));
	}
	fflush(stdout);
	return 0;
}

/* Point every slot of the batch back at its buffer, ready for recvmmsg. */
static void batch_reset(struct peer_worker *w)
{
	for (unsigned i = 0; i < PEER_BATCH; i++) {
		w->iov[i] = (struct iovec){ w->bufs + (size_t)i * PEER_DGRAM_MAX, PEER_DGRAM_MAX };
		w->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &w->names[i],
			.msg_namelen = sizeof(w->names[i]),
			.msg_iov = &w->iov[i],
			.msg_iovlen = 1,
		};
	}
}

/*
 * Send the n datagrams just received back where they came from. Send
 * errors are drops, never fatal: a full socket buffer (EAGAIN, ENOBUFS)
 * drops the rest of the batch; any other error (ECONNREFUSED, EPERM...)
 * belongs to one destination and drops only that message.
 */
static void echo_back(struct peer_worker *w, int fd, unsigned n)
{
	unsigned done = 0, sent = 0;

	for (unsigned i = 0; i < n; i++)
		w->iov[i].iov_len = w->msgs[i].msg_len;
	while (done < n) {
		int r = sendmmsg(fd, &w->msgs[done], n - done, MSG_DONTWAIT);
		if (r > 0) {
			done += (unsigned)r;
			sent += (unsigned)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			break;
		} else {
			done++; /* sendmmsg stopped at the message at `done` */
		}
	}
	atomic_fetch_add_explicit(&w->tx, sent, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->drops, n - sent, memory_order_relaxed);
}

/* Echo what is queued on fd, a bounded number of batches. */
static void echo_drain(struct peer_worker *w, int fd)
{
	for (int b = 0; b < PEER_DRAIN_BATCHES; b++) {
		batch_reset(w);
		int n = recvmmsg(fd, w->msgs, PEER_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN, or an error the next poll will show again */
		atomic_fetch_add_explicit(&w->rx, (unsigned)n, memory_order_relaxed);
		echo_back(w, fd, (unsigned)n);
		if (n < PEER_BATCH)
			return;
	}
}

static void *worker_run(void *arg)
{
	struct peer_worker *w = arg;

	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		int n = poll(w->pfd, w->nfds, PEER_WAKE_MS);
		if (n <= 0)
			continue;
		for (unsigned i = 0; i < w->nfds; i++) {
			if (w->pfd[i].revents & (POLLIN | POLLERR))
				echo_drain(w, w->pfd[i].fd);
		}
	}
	return NULL;
}

static void peer_free(struct peer *p)
{
	if (!p->workers)
		return;
	for (unsigned t = 0; t < p->nworkers; t++) {
		struct peer_worker *w = &p->workers[t];
		for (unsigned i = 0; i < w->nfds; i++)
			close(w->pfd[i].fd);
		free(w->bufs);
	}
	free(p->workers);
	p->workers = NULL;
}

static int peer_init(struct peer *p, unsigned nworkers)
{
	atomic_init(&p->stop, false);
	p->nworkers = nworkers;
	p->workers = calloc(nworkers, sizeof(*p->workers));
	if (!p->workers)
		return -1;
	for (unsigned t = 0; t < nworkers; t++) {
		struct peer_worker *w = &p->workers[t];
		w->stop = &p->stop;
		atomic_init(&w->rx, 0);
		atomic_init(&w->tx, 0);
		atomic_init(&w->drops, 0);
		w->bufs = malloc((size_t)PEER_BATCH * PEER_DGRAM_MAX);
		if (!w->bufs)
			return -1;
	}
	return 0;
}

static void print_counts(const struct peer *p)
{
	uint_fast64_t rx = 0, tx = 0, drops = 0;

	for (unsigned t = 0; t < p->nworkers; t++) {
		rx += atomic_load_explicit(&p->workers[t].rx, memory_order_relaxed);
		tx += atomic_load_explicit(&p->workers[t].tx, memory_order_relaxed);
		drops += atomic_load_explicit(&p->workers[t].drops, memory_order_relaxed);
	}
	printf("turnpeer: rx %llu tx %llu drops %llu\n", (unsigned long long)rx,
	       (unsigned long long)tx, (unsigned long long)drops);
	fflush(stdout);
}

/*
 * Start the workers with SIGTERM/SIGINT blocked, so that the signals land
 * on the main thread and cut its sleep short. Returns how many started.
 */
static unsigned start_workers(struct peer *p)
{
	sigset_t block, old;
	unsigned started = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (; started < p->nworkers; started++) {
		int err = pthread_create(&p->workers[started].thread, NULL, worker_run,
					 &p->workers[started]);
		if (err != 0) {
			fprintf(stderr, "turnpeer: pthread_create: %s\n", strerror(err));
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}

/* Milliseconds until `when`, at most PEER_WAKE_MS; when <= 0 means never. */
static int wait_ms(double when, double now)
{
	if (when <= 0 || when - now >= PEER_WAKE_MS / 1000.0)
		return PEER_WAKE_MS;
	return when > now ? (int)((when - now) * 1000.0) + 1 : 0;
}

/* Sleep in short steps until a signal or the deadline; print the stats. */
static void supervise(const struct peer *p, const struct peer_opts *o)
{
	double start = client_now_s(), next_stats = o->stats_s > 0 ? start + o->stats_s : 0;
	double deadline = o->max_s > 0 ? start + o->max_s : 0;

	while (!atomic_load(&got_signal)) {
		double now = client_now_s();
		if (deadline > 0 && now >= deadline)
			return;
		if (next_stats > 0 && now >= next_stats) {
			print_counts(p);
			next_stats += o->stats_s;
			if (next_stats < now)
				next_stats = now + o->stats_s;
		}
		int ms = wait_ms(deadline, now), ms_stats = wait_ms(next_stats, now);
		poll(NULL, 0, ms < ms_stats ? ms : ms_stats);
	}
}

static int run(struct peer *p, const struct peer_opts *o)
{
	unsigned started;
	int status = 0;

	if (open_all(p, o) < 0)
		return 1;
	started = start_workers(p);
	if (started == p->nworkers)
		supervise(p, o);
	else
		status = 1;
	atomic_store(&p->stop, true);
	for (unsigned t = 0; t < started; t++)
		pthread_join(p->workers[t].thread, NULL);
	if (!o->quiet || o->stats_s > 0)
		print_counts(p);
	return status;
}

int main(int argc, char **argv)
{
	struct peer_opts o = { .port = CLIENT_PEER_PORT, .threads = 1 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct peer p = { .workers = NULL };
	int status = parse_args(argc, argv, &o);

	if (status != 0)
		return status == 1 ? 0 : status;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (peer_init(&p, o.threads) < 0) {
		fprintf(stderr, "turnpeer: out of memory\n");
		peer_free(&p);
		return 1;
	}
	status = run(&p, &o);
	peer_free(&p);
	return status;
}
