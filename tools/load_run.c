/*
 * turnload's event loop: one thread, one epoll set over every session's
 * socket. Each turn of the loop runs the transaction timers, what the
 * callbacks deferred (sockets to close or reopen), the phase
 * (load_phase.c) and its sending, then sleeps in epoll until the next
 * timer, token or packet, and hands each ready socket to the data path.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "io/sockaddr.h"

#define RUN_EVENTS 256
#define RUN_SOCKBUF (4 * 1024 * 1024)
/* Above this many sessions the kernel's default buffers do. */
#define RUN_SOCKBUF_SESSIONS 1024
#define RUN_ERRORS_SHOWN 10
#define RUN_BIND_TRIES 64

/* SIGINT/SIGTERM: the first ends the run early (allocations are still
 * deleted), the second at once. */
static volatile sig_atomic_t run_signals;

static void on_signal(int sig)
{
	(void)sig;
	if (run_signals < 2)
		run_signals = run_signals + 1;
}

uint64_t load_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * LOAD_NS_PER_S + (uint64_t)ts.tv_nsec;
}

void load_run_error(struct load_run *r, const struct load_session *s, const char *what,
		    const char *detail)
{
	if (r->errors_shown < RUN_ERRORS_SHOWN)
		fprintf(stderr, "turnload: session %u: %s: %s\n", s->id, what, detail);
	else if (r->errors_shown == RUN_ERRORS_SHOWN)
		fprintf(stderr, "turnload: further errors not shown\n");
	if (r->errors_shown <= RUN_ERRORS_SHOWN)
		r->errors_shown++;
}

void load_run_want_out(struct load_run *r, struct load_session *s, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = s->id };

	if (s->fd < 0 || s->want_out == on)
		return;
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
		s->want_out = on;
}

void load_run_defer(struct load_run *r, struct load_session *s)
{
	/* A session is queued at most once, and once more after the loop
	 * took it off: the queue holds 2 x sessions. */
	if (s->queued || r->n_deferred >= 2 * r->nsess + 2)
		return;
	s->queued = true;
	r->deferred[r->n_deferred++] = s->id;
}

/* ---- sockets ---- */

/*
 * -a over UDP: each round is a new client, and a new client has a new
 * port. The kernel picks ephemeral ports at random, and soon picks one
 * used a moment ago; coturn still knows that 5-tuple for up to a second
 * after the Refresh that deleted it and answers 437. Taking the ports in
 * turn puts the whole range between two uses of one port.
 */
static int bind_in_turn(struct load_run *r, const struct load_session *s, int fd)
{
	struct turn_addr a = { .family = r->o->server.family };
	struct sockaddr_storage ss;

	if (r->o->nbind)
		a = r->o->bind[s->id % r->o->nbind];
	for (int tries = 0; tries < RUN_BIND_TRIES; tries++) {
		a.port = r->port_next;
		r->port_next = r->port_next >= r->port_hi ? r->port_lo : r->port_next + 1;
		socklen_t sl = sockaddr_from_turn(&ss, &a);
		if (bind(fd, (struct sockaddr *)&ss, sl) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	return -1;
}

static void read_port_range(struct load_run *r)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned lo = 32768, hi = 60999;

	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo == 0 || lo >= hi || hi > 65535) {
			lo = 32768;
			hi = 60999;
		}
		fclose(f);
	}
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	r->port_next = (uint16_t)(lo + r->rng % (hi - lo + 1));
}

static int tune_socket(struct load_run *r, const struct load_session *s, int fd)
{
	const struct load_opts *o = r->o;
	int size = RUN_SOCKBUF, one = 1;

	if (o->mode == LOAD_MODE_ALLOC && !o->tcp) {
		if (bind_in_turn(r, s, fd) < 0)
			return -1;
	} else if (o->nbind) {
		struct sockaddr_storage ss;
		socklen_t sl = sockaddr_from_turn(&ss, &o->bind[s->id % o->nbind]);
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
			return -1;
	}
	/* Best effort: the kernel caps them at net.core.[rw]mem_max. -a
	 * sends a few requests per socket: the defaults do. */
	if (r->nsess <= RUN_SOCKBUF_SESSIONS && o->mode != LOAD_MODE_ALLOC) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
	if (o->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* A non-blocking socket connected (or connecting) to the server, in the
 * epoll set. Returns 0, or -1 with errno set. */
static int open_socket(struct load_run *r, struct load_session *s)
{
	const struct load_opts *o = r->o;
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_from_turn(&ss, &o->server);
	struct epoll_event ev = { .events = EPOLLIN | (o->tcp ? EPOLLOUT : 0), .data.u32 = s->id };
	int fd = socket(ss.ss_family,
			(o->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (o->tcp && !s->tcp && !(s->tcp = load_stream_new(o)))
		errno = ENOMEM;
	else if (tune_socket(r, s, fd) == 0 &&
		 (connect(fd, (struct sockaddr *)&ss, sl) == 0 || errno == EINPROGRESS) &&
		 epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
		s->fd = fd;
		s->want_out = o->tcp;
		if (s->tcp)
			s->tcp->in_len = s->tcp->out_len = s->tcp->out_off = 0;
		return 0;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void close_socket(struct load_session *s)
{
	if (s->fd >= 0)
		close(s->fd); /* which takes it out of the epoll set */
	s->fd = -1;
	s->want_out = false;
}

void load_run_start_session(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (open_socket(r, s) < 0) {
		load_run_error(r, s, "socket", strerror(errno));
		if (r->o->mode == LOAD_MODE_ALLOC) {
			s->failed = true;
			s->state = LOAD_S_CLOSED;
			r->n_cycling--;
		} else {
			load_session_fail(r, s);
		}
		return;
	}
	if (r->o->tcp)
		load_session_connecting(r, s, now);
	else
		load_session_start(r, s, now);
}

/* What the callbacks left for the loop to do. */
static void run_deferred(struct load_run *r, uint64_t now)
{
	for (size_t i = 0; i < r->n_deferred; i++) {
		struct load_session *s = &r->sess[r->deferred[i]];
		s->queued = false;
		if (s->broken) {
			s->broken = false;
			load_session_broken(r, s);
		}
		if (s->close) {
			s->close = false;
			close_socket(s);
		}
		if (s->reopen) {
			s->reopen = false;
			close_socket(s);
			if (r->phase == LOAD_PH_ALLOC) {
				load_run_start_session(r, s, now);
			} else {
				s->state = LOAD_S_CLOSED;
				r->n_cycling--;
			}
		}
	}
	r->n_deferred = 0;
}

static int wait_events(struct load_run *r, struct epoll_event *ev, uint64_t ns)
{
	int n = -1;

	if (!r->no_pwait2) {
		struct timespec ts = { .tv_sec = (time_t)(ns / LOAD_NS_PER_S),
				       .tv_nsec = (long)(ns % LOAD_NS_PER_S) };
		n = epoll_pwait2(r->epfd, ev, RUN_EVENTS, &ts, NULL);
		if (n < 0 && errno == ENOSYS)
			r->no_pwait2 = true;
	}
	if (r->no_pwait2)
		n = epoll_wait(r->epfd, ev, RUN_EVENTS,
			       (int)((ns + LOAD_NS_PER_MS - 1) / LOAD_NS_PER_MS));
	return n < 0 ? 0 : n;
}

static void dispatch(struct load_run *r, const struct epoll_event *ev)
{
	if (ev->data.u32 >= r->nsess)
		return;
	struct load_session *s = &r->sess[ev->data.u32];
	if (s->state == LOAD_S_CONNECTING || (ev->events & EPOLLOUT)) {
		if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			load_data_on_writable(r, s, load_now_ns());
		if (s->state == LOAD_S_CONNECTING)
			return;
	}
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		load_data_on_readable(r, s);
}

static void loop(struct load_run *r)
{
	struct epoll_event ev[RUN_EVENTS];

	while (r->phase != LOAD_PH_DONE) {
		uint64_t now = load_now_ns();
		load_session_timers(r, now);
		run_deferred(r, now);
		load_phase_step(r, now, run_signals);
		if (r->phase == LOAD_PH_DONE)
			break;
		bool busy = load_phase_send(r, now);
		if (!r->o->quiet && !r->o->json && now >= r->next_progress_ns) {
			load_stats_progress(r, now);
			r->next_progress_ns = now + LOAD_NS_PER_S;
		}
		int n = wait_events(r, ev, busy ? 0 : load_phase_wait_ns(r, now));
		for (int i = 0; i < n; i++)
			dispatch(r, &ev[i]);
	}
}

/* ---- the run ---- */

/* 0 when every session allocated (-a: at least once) and, with traffic,
 * something came back. */
static int exit_status(const struct load_run *r)
{
	for (size_t i = 0; i < r->nsess; i++) {
		const struct load_session *s = &r->sess[i];
		if (r->o->mode == LOAD_MODE_ALLOC ? s->allocs == 0 : s->failed || !s->settled)
			return 1;
	}
	if (r->o->mode != LOAD_MODE_ALLOC && r->st.tot.received == 0)
		return 1;
	return 0;
}

static void run_free(struct load_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->sess && i < r->nsess; i++) {
		close_socket(&r->sess[i]);
		load_session_free(&r->sess[i]);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	free(r->sess);
	free(r->deferred);
	free(r->b.rx_buf);
	free(r);
}

static struct load_run *run_new(const struct load_opts *o)
{
	struct load_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->o = o;
	r->epfd = -1;
	r->nsess = o->mode == LOAD_MODE_ALLOC ? o->sessions * o->window : o->sessions;
	r->sess = calloc(r->nsess, sizeof(*r->sess));
	r->deferred = calloc(2 * r->nsess + 2, sizeof(*r->deferred));
	r->b.rx_slot = o->payload_len + 256 > 2048 ? o->payload_len + 256 : 2048;
	r->b.rx_buf = malloc(LOAD_BATCH_MAX * r->b.rx_slot);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!r->sess || !r->deferred || !r->b.rx_buf || r->epfd < 0) {
		run_free(r);
		return NULL;
	}
	for (size_t i = 0; i < r->nsess; i++) {
		r->sess[i].id = (uint32_t)i;
		r->sess[i].fd = -1;
		r->sess[i].peer = o->peer; /* -y: the partner's relay, once known */
		client_cred_init(&r->sess[i].cred, o->user, o->pass);
	}
	for (unsigned i = 0; i < LOAD_BATCH_MAX; i++) {
		r->b.rx_iov[i] = (struct iovec){ r->b.rx_buf + i * r->b.rx_slot, r->b.rx_slot };
		r->b.rx[i].msg_hdr = (struct msghdr){ .msg_iov = &r->b.rx_iov[i], .msg_iovlen = 1 };
	}
	if (getrandom(&r->rng, sizeof(r->rng), 0) != sizeof(r->rng))
		r->rng = load_now_ns() ^ ((uint64_t)getpid() << 32);
	/* The relay's family: the echo peer's, or with -y and -a the
	 * server's (RFC 8656 section 7.2: IPv4 unless asked). */
	read_port_range(r);
	const struct turn_addr *fam = o->c2c || o->mode == LOAD_MODE_ALLOC ? &o->server : &o->peer;
	r->relay_family = fam->family == TURN_AF_INET6 ? STUN_FAMILY_IPV6 : 0;
	return r;
}

int load_run(const struct load_opts *o)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct load_run *r = run_new(o);

	if (!r) {
		fprintf(stderr, "turnload: out of memory\n");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o->mode != LOAD_MODE_RAW)
		load_cred_warm_up();
	/* Sleeps of tens of microseconds when pacing: ask for 1 us slack. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	uint64_t now = load_now_ns();
	r->start_ns = now;
	r->st.mark_ns = now;
	r->next_progress_ns = now + LOAD_NS_PER_S;
	r->txn_check_ns = UINT64_MAX;
	load_phase_enter(r, o->mode == LOAD_MODE_ALLOC ? LOAD_PH_ALLOC : LOAD_PH_SETUP, now);
	loop(r);
	load_stats_report(r);
	int status = exit_status(r);
	run_free(r);
	return status;
}
