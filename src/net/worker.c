/*
 * Workers and their lifecycle. net_new binds every socket of every worker
 * in the main thread (so bind errors surface at start-up, before privileges
 * are dropped); net_run starts one thread per worker, each running its own
 * event base, while the main thread's base waits for signals.
 */
#include "net/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "stun/channel.h"
#include "stun/msg.h"
#include "util/log.h"

#define NET_MAX_WORKERS 64

struct net {
	const struct conf *conf;
	struct event_base *main_base;
	unsigned n_workers;
	struct worker **workers;
};

uint64_t worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t worker_process(struct worker *w, const uint8_t *pkt, size_t len,
		      const struct turn_tuple *tuple, uint8_t *out, size_t cap)
{
	struct stun_msg msg;
	struct turn_reply reply = { out, cap, 0 };

	if (turn_chandata_is_chandata(pkt, len)) {
		/* No channels exist before the TURN relay: RFC 8656 section
		 * 12.4, data on an unbound channel is dropped. */
		w->stats.chandata_dropped++;
		return 0;
	}
	if (stun_msg_parse(&msg, pkt, len) < 0)
		return 0; /* RFC 8489 section 6.3: silently discarded */
	struct turn_input in = { .msg = &msg, .tuple = tuple, .now_ms = worker_now_ms() };
	if (turn_server_handle(w->srv, &in, &reply) < 0)
		return 0;
	return reply.len;
}

static unsigned worker_count(const struct conf *conf)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = conf->workers ? conf->workers : (cores > 0 ? (unsigned)cores : 1);

	return n > NET_MAX_WORKERS ? NET_MAX_WORKERS : n;
}

static void worker_free(struct worker *w)
{
	if (!w)
		return;
	tcp_conns_close_all(w);
	for (size_t i = 0; i < w->n_udp; i++)
		udp_sock_close(&w->udp[i]);
	for (size_t i = 0; i < w->n_tcp; i++)
		tcp_listener_close(&w->tcp[i]);
	free(w->udp);
	free(w->tcp);
	turn_server_free(w->srv);
	if (w->base)
		event_base_free(w->base);
	free(w);
}

/* Bind this worker's sockets: one UDP and one TCP socket per listening
 * address, unless that transport is turned off. */
static int worker_bind(struct worker *w, const struct conf *conf, char *err, size_t errlen)
{
	w->udp = calloc(conf->n_listen, sizeof(*w->udp));
	w->tcp = calloc(conf->n_listen, sizeof(*w->tcp));
	if (!w->udp || !w->tcp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < conf->n_listen; i++) {
		if (!conf->no_udp) {
			if (udp_sock_open(&w->udp[w->n_udp], &conf->listen[i], err, errlen) < 0)
				return -1;
			w->n_udp++;
			if (udp_sock_attach(w, &w->udp[w->n_udp - 1]) < 0)
				goto no_event;
		}
		if (!conf->no_tcp) {
			if (tcp_listener_open(&w->tcp[w->n_tcp], &conf->listen[i], err, errlen) < 0)
				return -1;
			w->n_tcp++;
			if (tcp_listener_attach(w, &w->tcp[w->n_tcp - 1]) < 0)
				goto no_event;
		}
	}
	return 0;
no_event:
	snprintf(err, errlen, "cannot register a listening socket with libevent");
	return -1;
}

static struct worker *worker_new(unsigned id, const struct conf *conf, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct turn_server_options so = {
		.software = conf->software,
		.rfc3489_compat = conf->stun_backward_compat,
	};

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->id = id;
	w->conf = conf;
	LIST_INIT(&w->conns);
	w->base = event_base_new();
	w->srv = turn_server_new(&so);
	if (!w->base || !w->srv) {
		snprintf(err, errlen, "cannot create worker %u", id);
		worker_free(w);
		return NULL;
	}
	if (worker_bind(w, conf, err, errlen) < 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

struct net *net_new(const struct conf *conf, char *err, size_t errlen)
{
	struct net *n = calloc(1, sizeof(*n));

	if (!n || evthread_use_pthreads() < 0) {
		snprintf(err, errlen, "cannot initialise libevent threads");
		free(n);
		return NULL;
	}
	n->conf = conf;
	n->n_workers = worker_count(conf);
	n->workers = calloc(n->n_workers, sizeof(*n->workers));
	n->main_base = event_base_new();
	if (!n->workers || !n->main_base) {
		snprintf(err, errlen, "out of memory");
		net_free(n);
		return NULL;
	}
	for (unsigned i = 0; i < n->n_workers; i++) {
		n->workers[i] = worker_new(i, conf, err, errlen);
		if (!n->workers[i]) {
			net_free(n);
			return NULL;
		}
	}
	return n;
}

int net_after_fork(struct net *n)
{
	if (event_reinit(n->main_base) < 0)
		return -1;
	for (unsigned i = 0; i < n->n_workers; i++)
		if (event_reinit(n->workers[i]->base) < 0)
			return -1;
	return 0;
}

unsigned net_workers(const struct net *n)
{
	return n->n_workers;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* Signals belong to the main thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct net *n = arg;

	(void)what;
	log_notice("signal %d: stopping", (int)sig);
	for (unsigned i = 0; i < n->n_workers; i++)
		event_base_loopexit(n->workers[i]->base, NULL);
	event_base_loopexit(n->main_base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_notice("SIGHUP: configuration reload is not supported by this version; "
		   "the running configuration is kept");
}

static void log_totals(const struct net *n)
{
	for (unsigned i = 0; i < n->n_workers; i++) {
		const struct worker *w = n->workers[i];
		const struct turn_server_stats *s = turn_server_stats(w->srv);
		log_info("worker %u: udp in %llu out %llu, tcp accepted %llu, requests %llu, "
			 "dropped %llu",
			 w->id, (unsigned long long)w->stats.udp_in,
			 (unsigned long long)w->stats.udp_out,
			 (unsigned long long)w->stats.tcp_accepted,
			 (unsigned long long)s->requests, (unsigned long long)s->dropped);
	}
}

int net_run(struct net *n)
{
	struct event *sigs[3];
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	sigs[0] = evsignal_new(n->main_base, SIGTERM, on_stop_signal, n);
	sigs[1] = evsignal_new(n->main_base, SIGINT, on_stop_signal, n);
	sigs[2] = evsignal_new(n->main_base, SIGHUP, on_hup, n);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_add(sigs[i], NULL);
	for (unsigned i = 0; i < n->n_workers; i++) {
		struct worker *w = n->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_error("cannot start worker %u: %s", i, strerror(errno));
			on_stop_signal(0, 0, n);
			rc = -1;
			break;
		}
		w->started = true;
	}
	if (rc == 0)
		event_base_loop(n->main_base, EVLOOP_NO_EXIT_ON_EMPTY);
	for (unsigned i = 0; i < n->n_workers; i++)
		if (n->workers[i]->started)
			pthread_join(n->workers[i]->thread, NULL);
	log_totals(n);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	return rc;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	for (unsigned i = 0; n->workers && i < n->n_workers; i++)
		worker_free(n->workers[i]);
	free(n->workers);
	if (n->main_base)
		event_base_free(n->main_base);
	free(n);
}
