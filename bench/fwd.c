/*
 * fwd: a bare UDP forwarder, the "what the machine can do" baseline of
 * make bench (docs/BENCHMARKS.md).
 *
 *   bench/fwd -L ADDR:PORT -e PEER_ADDR:PORT [--max-seconds S] [-q]
 *
 * It moves datagrams the way a TURN relay does, without the protocol:
 * each distinct client address that sends to the listening socket gets its
 * own upstream socket (as an allocation gets a relay socket), opened once
 * and connected to the one peer; what the client sends goes out on it
 * unchanged, and what comes back on it goes to that client from the
 * listening socket. One thread, epoll, non-blocking sockets, batches of 64
 * with recvmmsg/sendmmsg, every buffer allocated at start-up.
 *
 * On exit it prints "fwd: clients N rx N tx N drops N" on stdout.
 */
#ifndef _GNU_SOURCE /* config.h, force-included by the build, defines it */
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FWD_BATCH 64
/* Room for the largest UDP payload, so that nothing is truncated. */
#define FWD_DGRAM_MAX 65536
#define FWD_MAX_CLIENTS 65536
/* Open addressing at most half full keeps probe sequences short. */
#define FWD_HASH_SLOTS (2 * FWD_MAX_CLIENTS)
#define FWD_SOCKBUF (4 * 1024 * 1024)
/* Batches taken from one socket before the others get a turn. */
#define FWD_DRAIN_BATCHES 8
#define FWD_EVENTS 256
#define FWD_WAKE_MS 200
/* epoll data of the listening socket; client sockets carry their index. */
#define FWD_LISTEN_TAG UINT32_MAX
#define FWD_NO_CLIENT UINT32_MAX

struct fwd_client {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int fd; /* upstream socket, connected to the peer */
};

struct fwd_counts {
	unsigned long long rx, tx, drops, clients;
};

struct fwd {
	int epfd, listen_fd;
	struct sockaddr_storage listen_addr, peer_addr;
	socklen_t listen_len, peer_len;
	struct fwd_client *clients; /* FWD_MAX_CLIENTS, the first nclients used */
	uint32_t nclients;
	uint32_t *slots; /* FWD_HASH_SLOTS client indexes, FWD_NO_CLIENT when empty */
	/* One batch of datagrams in, and the index of its client for each. */
	struct mmsghdr in[FWD_BATCH], out[FWD_BATCH];
	struct iovec iov[FWD_BATCH];
	struct sockaddr_storage names[FWD_BATCH];
	uint32_t owner[FWD_BATCH];
	uint8_t *bufs;
	struct fwd_counts n;
};

/* Only the signal flag is global (STYLE.md rule 2). */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: fwd -L ADDR:PORT -e PEER_ADDR:PORT [--max-seconds S] [-q]\n"
		    "  ADDR is IPv4 (127.0.0.1:4000) or IPv6 in brackets ([::1]:4000)\n");
}

/* "a.b.c.d:port" or "[v6]:port" into *ss. Returns 0 or -1. */
static int parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(text, ':'), *h = text;
	size_t hl;
	char *end;
	unsigned long port;

	if (!colon)
		return -1;
	hl = (size_t)(colon - text);
	if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
		h = text + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || colon[1] == '\0' || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

/* Address and port of a client as hash key bytes; the rest of the
 * sockaddr (padding, flow info) does not tell clients apart. */
static size_t addr_key(const struct sockaddr_storage *ss, uint8_t key[18])
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
		memcpy(key, &v6->sin6_addr, 16);
		memcpy(key + 16, &v6->sin6_port, 2);
		return 18;
	}
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
	memcpy(key, &v4->sin_addr, 4);
	memcpy(key + 4, &v4->sin_port, 2);
	return 6;
}

/* FNV-1a: the key is a handful of bytes, so anything simple will do. */
static uint32_t addr_hash(const struct sockaddr_storage *ss)
{
	uint8_t key[18];
	size_t n = addr_key(ss, key);
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	uint8_t ka[18], kb[18];
	size_t na, nb;

	if (a->ss_family != b->ss_family)
		return false;
	na = addr_key(a, ka);
	nb = addr_key(b, kb);
	return na == nb && memcmp(ka, kb, na) == 0;
}

static void set_sockbufs(int fd)
{
	int size = FWD_SOCKBUF;

	/* Best effort: the kernel caps these at net.core.[rw]mem_max. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * The upstream socket of a new client: bound to the listening address with
 * a port the kernel picks (as a relay socket is bound to a relay address),
 * connected to the peer. Returns the fd, or -1.
 */
static int open_upstream(struct fwd *f, uint32_t idx)
{
	struct sockaddr_storage local = f->listen_addr;
	int fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (local.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&local)->sin6_port = 0;
	else
		((struct sockaddr_in *)&local)->sin_port = 0;
	set_sockbufs(fd);
	if (bind(fd, (struct sockaddr *)&local, f->listen_len) < 0 ||
	    connect(fd, (struct sockaddr *)&f->peer_addr, f->peer_len) < 0 ||
	    epoll_add(f->epfd, fd, idx) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The index of the client at *addr, added (with its upstream socket) when
 * new. FWD_NO_CLIENT when the table is full or the socket cannot be
 * opened: that datagram is dropped, and the next one tries again.
 */
static uint32_t client_lookup(struct fwd *f, const struct sockaddr_storage *addr, socklen_t len)
{
	uint32_t slot = addr_hash(addr) & (FWD_HASH_SLOTS - 1);

	for (;;) {
		uint32_t idx = f->slots[slot];
		if (idx == FWD_NO_CLIENT)
			break;
		if (addr_equal(&f->clients[idx].addr, addr))
			return idx;
		slot = (slot + 1) & (FWD_HASH_SLOTS - 1);
	}
	if (f->nclients == FWD_MAX_CLIENTS)
		return FWD_NO_CLIENT;
	uint32_t idx = f->nclients;
	int fd = open_upstream(f, idx);
	if (fd < 0)
		return FWD_NO_CLIENT;
	f->clients[idx] = (struct fwd_client){ .addr = *addr, .addrlen = len, .fd = fd };
	f->slots[slot] = idx;
	f->nclients++;
	f->n.clients++;
	return idx;
}

/* Point every slot of the batch at its buffer, ready for recvmmsg; with
 * names only when the socket is not connected. */
static void batch_reset(struct fwd *f, bool names)
{
	for (unsigned i = 0; i < FWD_BATCH; i++) {
		f->iov[i] = (struct iovec){ f->bufs + (size_t)i * FWD_DGRAM_MAX, FWD_DGRAM_MAX };
		f->in[i].msg_hdr = (struct msghdr){
			.msg_name = names ? &f->names[i] : NULL,
			.msg_namelen = names ? sizeof(f->names[i]) : 0,
			.msg_iov = &f->iov[i],
			.msg_iovlen = 1,
		};
	}
}

/*
 * sendmmsg all n messages, counting what went and what was dropped. A full
 * socket buffer (EAGAIN, ENOBUFS) drops the rest, as a relay under
 * overload would; any other error belongs to one message and drops it.
 */
static void send_all(struct fwd *f, int fd, struct mmsghdr *msgs, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int r = sendmmsg(fd, msgs + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			done += (unsigned)r;
			f->n.tx += (unsigned)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			f->n.drops += n - done;
			return;
		} else {
			done++;
			f->n.drops++;
		}
	}
}

/*
 * Forward the n datagrams of a batch read from the listening socket, one
 * sendmmsg per client, each client's datagrams in the order they came.
 */
static void forward_up(struct fwd *f, unsigned n)
{
	bool sent[FWD_BATCH] = { false };

	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &f->in[i].msg_hdr;
		f->iov[i].iov_len = f->in[i].msg_len;
		f->owner[i] = client_lookup(f, &f->names[i], h->msg_namelen);
		if (f->owner[i] == FWD_NO_CLIENT) {
			sent[i] = true;
			f->n.drops++;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned k = 0;
		if (sent[i])
			continue;
		for (unsigned j = i; j < n; j++) {
			if (sent[j] || f->owner[j] != f->owner[i])
				continue;
			sent[j] = true;
			/* The upstream socket is connected: no destination. */
			f->out[k].msg_hdr = (struct msghdr){ .msg_iov = &f->iov[j], .msg_iovlen = 1 };
			k++;
		}
		send_all(f, f->clients[f->owner[i]].fd, f->out, k);
	}
}

/* Datagrams waiting on the listening socket, a bounded number of batches. */
static void drain_listen(struct fwd *f)
{
	for (int b = 0; b < FWD_DRAIN_BATCHES; b++) {
		batch_reset(f, true);
		int n = recvmmsg(f->listen_fd, f->in, FWD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		f->n.rx += (unsigned)n;
		forward_up(f, (unsigned)n);
		if (n < FWD_BATCH)
			return;
	}
}

/* Datagrams from the peer on one client's upstream socket go back to that
 * client, from the listening socket. */
static void drain_upstream(struct fwd *f, uint32_t idx)
{
	struct fwd_client *c = &f->clients[idx];

	for (int b = 0; b < FWD_DRAIN_BATCHES; b++) {
		batch_reset(f, false);
		int n = recvmmsg(c->fd, f->in, FWD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		f->n.rx += (unsigned)n;
		for (int i = 0; i < n; i++) {
			f->iov[i].iov_len = f->in[i].msg_len;
			f->in[i].msg_hdr.msg_name = &c->addr;
			f->in[i].msg_hdr.msg_namelen = c->addrlen;
		}
		send_all(f, f->listen_fd, f->in, (unsigned)n);
		if (n < FWD_BATCH)
			return;
	}
}

/* Enough descriptors for a full client table, as far as the hard limit
 * allows: the forwarder holds one socket per client. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = FWD_MAX_CLIENTS + 64;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int fwd_open(struct fwd *f)
{
	raise_nofile();
	f->bufs = malloc((size_t)FWD_BATCH * FWD_DGRAM_MAX);
	f->clients = calloc(FWD_MAX_CLIENTS, sizeof(*f->clients));
	f->slots = malloc(FWD_HASH_SLOTS * sizeof(*f->slots));
	if (!f->bufs || !f->clients || !f->slots) {
		fprintf(stderr, "fwd: out of memory\n");
		return -1;
	}
	memset(f->slots, 0xff, FWD_HASH_SLOTS * sizeof(*f->slots));
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->listen_fd = socket(f->listen_addr.ss_family,
			      SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->epfd < 0 || f->listen_fd < 0) {
		perror("fwd: socket");
		return -1;
	}
	set_sockbufs(f->listen_fd);
	if (bind(f->listen_fd, (struct sockaddr *)&f->listen_addr, f->listen_len) < 0) {
		perror("fwd: bind");
		return -1;
	}
	if (epoll_add(f->epfd, f->listen_fd, FWD_LISTEN_TAG) < 0) {
		perror("fwd: epoll_ctl");
		return -1;
	}
	return 0;
}

static void fwd_close(struct fwd *f)
{
	for (uint32_t i = 0; i < f->nclients; i++)
		close(f->clients[i].fd);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	if (f->epfd >= 0)
		close(f->epfd);
	free(f->bufs);
	free(f->clients);
	free(f->slots);
}

static void fwd_run(struct fwd *f, double max_s)
{
	struct epoll_event ev[FWD_EVENTS];
	double deadline = max_s > 0 ? now_s() + max_s : 0;

	while (!got_signal && (deadline == 0 || now_s() < deadline)) {
		int n = epoll_wait(f->epfd, ev, FWD_EVENTS, FWD_WAKE_MS);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == FWD_LISTEN_TAG)
				drain_listen(f);
			else
				drain_upstream(f, ev[i].data.u32);
		}
	}
}

/* Returns 0 to run, 1 after --help, 2 for a usage error (the exit status). */
static int parse_args(int argc, char **argv, struct fwd *f, double *max_s, bool *quiet)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'L' },
		{ "peer", required_argument, NULL, 'e' },
		{ "max-seconds", required_argument, NULL, 'M' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_listen = false, have_peer = false;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "L:e:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			have_listen = parse_addr(optarg, &f->listen_addr, &f->listen_len) == 0;
			if (!have_listen)
				goto bad;
			break;
		case 'e':
			have_peer = parse_addr(optarg, &f->peer_addr, &f->peer_len) == 0;
			if (!have_peer)
				goto bad;
			break;
		case 'M':
			*max_s = strtod(optarg, &end);
			if (*end != '\0' || !(*max_s >= 0 && *max_s < 1e9))
				goto bad;
			break;
		case 'q': *quiet = true; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc && have_listen && have_peer &&
	    f->listen_addr.ss_family == f->peer_addr.ss_family)
		return 0;
	usage(stderr);
	return 2;
bad:
	fprintf(stderr, "fwd: bad argument '%s'\n", optarg);
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static struct fwd f = { .epfd = -1, .listen_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	double max_s = 0;
	bool quiet = false;
	int status = parse_args(argc, argv, &f, &max_s, &quiet);

	if (status != 0)
		return status == 1 ? 0 : status;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (fwd_open(&f) < 0) {
		fwd_close(&f);
		return 1;
	}
	if (!quiet) {
		printf("fwd: listening\n");
		fflush(stdout);
	}
	fwd_run(&f, max_s);
	printf("fwd: clients %llu rx %llu tx %llu drops %llu\n", f.n.clients, f.n.rx, f.n.tx,
	       f.n.drops);
	fwd_close(&f);
	return 0;
}
