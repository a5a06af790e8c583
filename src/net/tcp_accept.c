/*
 * TCP and TLS listening sockets and what happens at accept: the caps of
 * the connection gate, or, on a socket that expects a PROXY header, the
 * trusted-proxy check (the gate then counts the client the header names);
 * straight to a connection (tcp.c) when nothing comes before the first
 * frame, else to the preface (tcp_preface.c). Each worker has its own
 * SO_REUSEPORT listening socket, so a connection lives and dies on one
 * worker.
 */
#include "net/tcp_preface.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/clock.h"
#include "io/sockaddr.h"
#include "net/conn_gate.h"
#include "net/net_worker.h"
#include "turn/policy.h"
#include "util/log.h"

#define TCP_BACKLOG 1024

int tcp_listener_open(struct tcp_listener *l, const struct turn_addr *addr, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_from_turn(&ss, addr);
	char text[TURN_ADDR_STRLEN];
	int one = 1;
	int fd;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, TCP_BACKLOG) < 0)
		goto fail;
	l->fd = fd;
	l->local = *addr;
	return 0;
fail:
	snprintf(err, errlen, "TCP %s: %s", turn_addr_format(addr, true, text, sizeof(text)),
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

void tcp_conn_refuse(int fd)
{
	struct linger rst = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(fd);
}

bool tcp_proxy_trusted(const struct conf *c, const struct turn_addr *addr)
{
	for (size_t i = 0; i < c->n_trusted_proxies; i++) {
		const struct turn_addr_range r = {c->trusted_proxies[i].lo,
						  c->trusted_proxies[i].hi};
		if (turn_addr_range_contains(&r, addr))
			return true;
	}
	return false;
}

/* Whether the connection in a may go on (else fd is closed). With a
 * PROXY header: only from trusted-proxy, and the gate counts the client
 * the header names, once it is read. Without: within the gate's caps. */
static bool accept_admit(struct net_worker *w, struct tcp_preface_args *a)
{
	bool tls_only = (a->kinds & (CONF_LISTEN_TCP | CONF_LISTEN_TLS)) == CONF_LISTEN_TLS;
	char text[TURN_ADDR_STRLEN];

	if (a->kinds & CONF_LISTEN_PROXY) {
		if (tcp_proxy_trusted(w->conf, &a->tuple.client))
			return true;
		w->stats.proxy_untrusted++;
		tcp_preface_log(w, "proxy: connection from %s refused: not in trusted-proxy",
				turn_addr_format(&a->tuple.client, true, text, sizeof(text)));
		tcp_conn_refuse(a->fd);
		return false;
	}
	if (!conn_gate_enter(w, &a->tuple.client, tls_only ? CONN_KIND_TLS : CONN_KIND_TCP)) {
		tcp_conn_refuse(a->fd);
		return false;
	}
	a->gated = true;
	return true;
}

static void listener_on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
			       int salen, void *arg)
{
	struct tcp_listener *l = arg;
	struct net_worker *w = l->w;
	const struct conf *conf = w->conf;
	struct tcp_preface_args a = {.fd = fd, .opened_ms = io_now_ms()};
	const unsigned both = CONF_LISTEN_TCP | CONF_LISTEN_TLS;
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	int one = 1;

	(void)lev;
	(void)salen;
	a.kinds = l->kinds | (l->main_port && conf->proxy_protocol ? CONF_LISTEN_PROXY : 0);
	if (sockaddr_to_turn(sa, &a.tuple.client) < 0) {
		close(fd);
		return;
	}
	if (!accept_admit(w, &a))
		return;
	a.tuple.transport = TURN_TRANSPORT_TCP;
	a.tuple.local = l->local;
	if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0)
		sockaddr_to_turn((struct sockaddr *)&local, &a.tuple.local);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	a.acme = (a.kinds & CONF_LISTEN_TCP) && conf->acme_redirect;
	/* Nothing to read before the first frame: as it always was. */
	if (!(a.kinds & CONF_LISTEN_PROXY) && !a.acme && (a.kinds & both) != both) {
		tcp_conn_open(w, fd, &a.tuple, (a.kinds & CONF_LISTEN_TLS) != 0, a.opened_ms);
		return;
	}
	tcp_preface_start(w, &a);
}

static void listener_retry(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_listener *l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

/* Out of descriptors: pause accepting for a second instead of spinning on
 * a listening socket that stays readable. */
static void listener_on_error(struct evconnlistener *lev, void *arg)
{
	struct tcp_listener *l = arg;
	struct timeval pause = {1, 0};

	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		evconnlistener_disable(lev);
		event_add(l->retry_ev, &pause);
	}
}

int tcp_listener_attach(struct net_worker *w, struct tcp_listener *l)
{
	l->w = w;
	l->retry_ev = evtimer_new(w->base, listener_retry, l);
	if (!l->retry_ev)
		return -1;
	l->lev = evconnlistener_new(w->base, listener_on_accept, l, LEV_OPT_CLOSE_ON_FREE, -1,
				    l->fd);
	if (!l->lev)
		return -1;
	evconnlistener_set_error_cb(l->lev, listener_on_error);
	return 0;
}

void tcp_listener_close(struct tcp_listener *l)
{
	if (l->lev)
		evconnlistener_free(l->lev); /* closes the fd */
	else if (l->fd >= 0)
		close(l->fd);
	if (l->retry_ev)
		event_free(l->retry_ev);
	l->lev = NULL;
	l->retry_ev = NULL;
	l->fd = -1;
}
