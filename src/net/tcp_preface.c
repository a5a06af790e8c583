/*
 * What comes before a connection's first frame (tcp_preface.h): a PROXY
 * header, then TLS or plain TCP by the first byte, or an ACME HTTP-01
 * request. The bytes are read with recv on the bare socket, before any
 * bufferevent exists: the PROXY header is taken exactly (peeked, parsed,
 * then read up to its last byte), the first byte after it only peeked at,
 * so the TLS library or the framing starts on the stream's own first byte.
 *
 * Every stage is bounded: in bytes (PROXY_PROTO_MAX, HTTP_ACME_REQUEST_MAX),
 * in time (first-message-timeout from the accept, the same deadline the
 * connection keeps afterwards), and in number (PREFACE_MAX per worker).
 */
#include "net/tcp_preface.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/clock.h"
#include "net/conn_gate.h"
#include "net/net_worker.h"
#include "util/http_acme.h"
#include "util/log.h"
#include "util/proxy_proto.h"

/* Connections in their preface on one worker; more are refused. A
 * trusted proxy opens many, but each leaves its preface within one read
 * of a few dozen bytes. */
#define PREFACE_MAX 1024
/* After the ACME answer: how long the client may take to close. */
#define LINGER_MS 2000
/* RFC 8446 section 5.1 (and RFC 5246 section 6.2.1): a TLS connection
 * starts with a handshake record, content type 22. */
#define TLS_HANDSHAKE_RECORD 0x16

enum preface_stage {
	STAGE_PROXY, /* reading a PROXY header */
	STAGE_SNIFF, /* waiting for the first byte of the stream */
	STAGE_HTTP, /* reading an HTTP request (acme-redirect) */
	STAGE_LINGER, /* answered: waiting for the client to close */
};

/* What a step did. */
enum preface_step { STEP_WAIT, STEP_NEXT, STEP_GONE };

struct tcp_preface {
	LIST_ENTRY(tcp_preface) link;
	struct net_worker *w;
	struct event *ev;
	struct tcp_preface_args a;
	enum preface_stage stage;
	uint64_t deadline_ms;
	size_t have; /* bytes of buf read (taken off the socket) */
	uint8_t buf[PROXY_PROTO_MAX];
};

_Static_assert(PROXY_PROTO_MAX >= HTTP_ACME_REQUEST_MAX, "one buffer for either");

void tcp_preface_log(struct net_worker *w, const char *fmt, ...)
{
	uint64_t second = io_now_ms() / 1000;
	va_list ap;

	if (second != w->preface_log_second) {
		w->preface_log_second = second;
		w->preface_log_lines = 0;
	}
	if (w->preface_log_lines++ >= TCP_PREFACE_LOG_RATE)
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_INFO, fmt, ap);
	va_end(ap);
}

static const char *client_text(const struct tcp_preface *p, char *buf, size_t len)
{
	return turn_addr_format(&p->a.tuple.client, true, buf, len);
}

/* Forget p; with its socket closed (a reset when refused) unless it was
 * handed on. */
enum preface_end { END_HANDED, END_RESET, END_CLOSE };
static void preface_end(struct tcp_preface *p, enum preface_end how)
{
	struct net_worker *w = p->w;

	LIST_REMOVE(p, link);
	w->n_prefaces--;
	event_free(p->ev);
	if (how != END_HANDED && p->a.gated)
		conn_gate_leave(w, &p->a.tuple.client);
	if (how == END_RESET)
		tcp_conn_refuse(p->a.fd);
	else if (how == END_CLOSE)
		close(p->a.fd);
	free(p);
}

/* The connection's first bytes are settled: on to tcp.c. */
static enum preface_step preface_hand(struct tcp_preface *p, bool tls)
{
	struct net_worker *w = p->w;
	struct tcp_preface_args a = p->a;

	preface_end(p, END_HANDED);
	tcp_conn_open(w, a.fd, &a.tuple, tls, a.opened_ms);
	return STEP_GONE;
}

static bool would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Take n bytes off the socket into buf at have (they were peeked, so they
 * are there). 0, or -1. */
static int preface_take(struct tcp_preface *p, size_t n)
{
	ssize_t got = n ? recv(p->a.fd, p->buf + p->have, n, 0) : 0;

	if (got < 0 || (size_t)got != n)
		return -1;
	p->have += n;
	return 0;
}

/* ---- The PROXY header ---- */

/* A header was read: its client stands for the TCP peer, and the gate
 * counts that client. */
static enum preface_step proxy_done(struct tcp_preface *p, const struct proxy_proto_header *h)
{
	struct net_worker *w = p->w;
	bool tls_only = (p->a.kinds & (CONF_LISTEN_TCP | CONF_LISTEN_TLS)) == CONF_LISTEN_TLS;
	char via[TURN_ADDR_STRLEN], text[TURN_ADDR_STRLEN];

	turn_addr_format(&p->a.tuple.client, true, via, sizeof(via));
	if (h->local) {
		w->stats.proxy_local++; /* the proxy's own check: its address stands */
	} else {
		w->stats.proxy_client++;
		p->a.tuple.client = h->src;
	}
	log_debug("proxy: v%u header from %s: client %s", h->version, via,
		  h->local ? "(local)" : client_text(p, text, sizeof(text)));
	if (!conn_gate_enter(w, &p->a.tuple.client, tls_only ? CONN_KIND_TLS : CONN_KIND_TCP)) {
		preface_end(p, END_RESET);
		return STEP_GONE;
	}
	p->a.gated = true;
	p->stage = STAGE_SNIFF;
	return STEP_NEXT;
}

static enum preface_step proxy_refuse(struct tcp_preface *p, const char *why)
{
	char text[TURN_ADDR_STRLEN];

	p->w->stats.proxy_malformed++;
	tcp_preface_log(p->w, "proxy: connection from %s closed: %s",
			client_text(p, text, sizeof(text)), why);
	preface_end(p, END_RESET);
	return STEP_GONE;
}

/* Peek at what came, parse it after what was taken, and take the header's
 * bytes and no more. */
static enum preface_step step_proxy(struct tcp_preface *p)
{
	struct proxy_proto_header h;
	ssize_t n = recv(p->a.fd, p->buf + p->have, sizeof(p->buf) - p->have, MSG_PEEK);

	if (n < 0 && would_block())
		return STEP_WAIT;
	if (n == 0 && p->have == 0) {
		/* Opened and closed: a proxy's TCP health check. */
		preface_end(p, END_CLOSE);
		return STEP_GONE;
	}
	if (n <= 0)
		return proxy_refuse(p, n == 0 ? "closed before a whole PROXY header"
					      : "read error before a whole PROXY header");
	switch (proxy_proto_parse(p->buf, p->have + (size_t)n, &h)) {
	case PROXY_PROTO_MALFORMED: return proxy_refuse(p, h.why);
	case PROXY_PROTO_NEED_MORE:
		/* All of it is header (proxy_proto.h): take it, read on. */
		if (preface_take(p, (size_t)n) < 0)
			return proxy_refuse(p, "read error in the PROXY header");
		return STEP_WAIT;
	case PROXY_PROTO_DONE: break;
	}
	if (preface_take(p, h.len - p->have) < 0)
		return proxy_refuse(p, "read error in the PROXY header");
	return proxy_done(p, &h);
}

/* ---- TLS, plain TCP or HTTP: the first byte ---- */

static enum preface_step step_sniff(struct tcp_preface *p)
{
	unsigned t = p->a.kinds & (CONF_LISTEN_TCP | CONF_LISTEN_TLS);
	uint8_t b;
	ssize_t n;

	if (t == CONF_LISTEN_TLS)
		return preface_hand(p, true);
	if (t == CONF_LISTEN_TCP && !p->a.acme)
		return preface_hand(p, false);
	n = recv(p->a.fd, &b, 1, MSG_PEEK);
	if (n < 0 && would_block())
		return STEP_WAIT;
	if (n <= 0) {
		preface_end(p, END_CLOSE); /* gone before a byte: nothing to count */
		return STEP_GONE;
	}
	if (b == TLS_HANDSHAKE_RECORD && (t & CONF_LISTEN_TLS))
		return preface_hand(p, true);
	if (p->a.acme && http_acme_first_byte(b)) {
		p->stage = STAGE_HTTP;
		p->have = 0;
		return STEP_NEXT;
	}
	return preface_hand(p, false);
}

/* ---- acme-redirect ---- */

static enum preface_step http_refuse(struct tcp_preface *p)
{
	char text[TURN_ADDR_STRLEN];

	p->w->stats.acme_refused++;
	tcp_preface_log(p->w,
			"acme-redirect: connection from %s closed: not an ACME challenge "
			"request",
			client_text(p, text, sizeof(text)));
	preface_end(p, END_RESET);
	return STEP_GONE;
}

static enum preface_step step_http(struct tcp_preface *p)
{
	const char *url = p->w->conf->acme_redirect; /* NULL after a reload turned it off */
	char out[HTTP_ACME_ANSWER_MAX], text[TURN_ADDR_STRLEN];
	size_t out_len = 0;
	ssize_t n = recv(p->a.fd, p->buf + p->have, HTTP_ACME_REQUEST_MAX - p->have, 0);

	if (n < 0 && would_block())
		return STEP_WAIT;
	if (n <= 0 || !url)
		return http_refuse(p);
	p->have += (size_t)n;
	switch (http_acme_answer(p->buf, p->have, url, out, sizeof(out), &out_len)) {
	case HTTP_ACME_NEED_MORE: return STEP_WAIT;
	case HTTP_ACME_REFUSE: return http_refuse(p);
	case HTTP_ACME_REDIRECT: break;
	}
	/* A fresh socket's send buffer takes a few hundred bytes at once. */
	if (send(p->a.fd, out, out_len, MSG_NOSIGNAL) != (ssize_t)out_len)
		return http_refuse(p);
	p->w->stats.acme_redirected++;
	tcp_preface_log(p->w, "acme-redirect: challenge from %s redirected",
			client_text(p, text, sizeof(text)));
	shutdown(p->a.fd, SHUT_WR);
	p->stage = STAGE_LINGER;
	p->deadline_ms = io_now_ms() + LINGER_MS;
	return STEP_WAIT;
}

/* Answered: read until the client closes, so the close is not a reset
 * that could destroy the answer before the client reads it. */
static enum preface_step step_linger(struct tcp_preface *p)
{
	ssize_t n = recv(p->a.fd, p->buf, sizeof(p->buf), 0);

	if (n > 0 || (n < 0 && would_block()))
		return STEP_WAIT;
	preface_end(p, END_CLOSE);
	return STEP_GONE;
}

/* ---- The event ---- */

static void preface_arm(struct tcp_preface *p)
{
	uint64_t now = io_now_ms();
	uint64_t left = p->deadline_ms > now ? p->deadline_ms - now : 0;
	struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};

	event_add(p->ev, &tv);
}

static void preface_run(struct tcp_preface *p)
{
	for (;;) {
		enum preface_step r = STEP_GONE;
		switch (p->stage) {
		case STAGE_PROXY: r = step_proxy(p); break;
		case STAGE_SNIFF: r = step_sniff(p); break;
		case STAGE_HTTP: r = step_http(p); break;
		case STAGE_LINGER: r = step_linger(p); break;
		}
		if (r == STEP_GONE)
			return;
		if (r == STEP_WAIT) {
			preface_arm(p);
			return;
		}
	}
}

/* Past the deadline: counted by the stage it stopped in. */
static void preface_timeout(struct tcp_preface *p)
{
	struct net_stats *s = &p->w->stats;
	char text[TURN_ADDR_STRLEN];

	switch (p->stage) {
	case STAGE_PROXY:
		s->proxy_timeout++;
		tcp_preface_log(p->w,
				"proxy: connection from %s closed: no whole PROXY header "
				"within first-message-timeout",
				client_text(p, text, sizeof(text)));
		break;
	case STAGE_SNIFF: s->conn_closed_first_message[CONN_KIND_TCP]++; break;
	case STAGE_HTTP: s->acme_refused++; break;
	case STAGE_LINGER: preface_end(p, END_CLOSE); return;
	}
	preface_end(p, END_RESET);
}

static void preface_on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	if (what & EV_TIMEOUT)
		preface_timeout(arg);
	else
		preface_run(arg);
}

void tcp_preface_start(struct net_worker *w, const struct tcp_preface_args *a)
{
	struct tcp_preface *p = w->n_prefaces < PREFACE_MAX ? calloc(1, sizeof(*p)) : NULL;
	unsigned timeout_s =
		w->conf->first_message_timeout_s ? w->conf->first_message_timeout_s : 1;

	if (p)
		p->ev = event_new(w->base, a->fd, EV_READ, preface_on_event, p);
	if (!p || !p->ev) {
		free(p);
		w->stats.conn_refused_total[CONN_KIND_TCP]++;
		if (a->gated)
			conn_gate_leave(w, &a->tuple.client);
		tcp_conn_refuse(a->fd);
		return;
	}
	p->w = w;
	p->a = *a;
	p->stage = (a->kinds & CONF_LISTEN_PROXY) ? STAGE_PROXY : STAGE_SNIFF;
	p->deadline_ms = a->opened_ms + 1000ull * timeout_s;
	LIST_INSERT_HEAD(&w->prefaces, p, link);
	w->n_prefaces++;
	preface_run(p); /* the first bytes often came with the connection */
}

void tcp_prefaces_close_all(struct net_worker *w)
{
	while (!LIST_EMPTY(&w->prefaces))
		preface_end(LIST_FIRST(&w->prefaces), END_RESET);
}
