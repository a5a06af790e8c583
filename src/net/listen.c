/* A worker's listening sockets, and listeners added or removed on SIGHUP
 * (listen.h). */
#include "net/listen.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_reload.h"
#include "net/tls.h"
#include "net/net_worker.h"
#include "util/log.h"

/* One retired address and transport (UDP or DTLS), shared by the workers
 * that each have a socket on it. */
enum { RETIRE_WAITING, RETIRE_CLOSING, RETIRE_KEPT };
struct listen_retire {
	struct turn_addr addr;
	unsigned kind; /* CONF_LISTEN_UDP or CONF_LISTEN_DTLS */
	atomic_uint busy; /* workers with allocations left on their socket */
	atomic_uint refs; /* workers' sockets or unapplied changes, and the registry */
	atomic_int state; /* RETIRE_*: CLOSING and KEPT are final, set once by CAS */
};

/* A socket bound in the main thread, not yet attached. */
struct listen_sock {
	unsigned kind;
	struct udp_sock *udp;
	struct tcp_listener *tcp;
};

struct listen_change {
	struct listen_change *next;
	struct listen_sock *add;
	size_t n_add;
	struct conf_listener *close; /* TCP and TLS sockets to close */
	size_t n_close;
	struct listen_retire **retire; /* UDP and DTLS sockets to retire */
	size_t n_retire;
	struct listen_retire **keep; /* retiring ones listened on again */
	size_t n_keep;
};

/* The bits of one TCP socket (conf_reload.c treats them as one unit). */
#define STREAM_BITS (CONF_LISTEN_TCP | CONF_LISTEN_TLS | CONF_LISTEN_PROXY)

static const char *kind_name(unsigned kind)
{
	switch (kind & ~(LISTEN_ENTRY | LISTEN_MAIN | CONF_LISTEN_PROXY)) {
	case CONF_LISTEN_UDP: return "udp";
	case CONF_LISTEN_TCP: return "tcp";
	case CONF_LISTEN_TLS: return "tls";
	case CONF_LISTEN_TCP | CONF_LISTEN_TLS: return "tcp,tls";
	case CONF_LISTEN_DTLS: return "dtls";
	default: return "proxy";
	}
}

static bool is_datagram(unsigned kind)
{
	return (kind & (CONF_LISTEN_UDP | CONF_LISTEN_DTLS)) != 0;
}

static void retire_release(struct listen_retire *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		free(g);
}

/* ---- The worker's sets ---- */

/* Room for one more pointer in *arr. 0 or -1. */
static int grow(void ***arr, size_t n, size_t *cap)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 8;
	void **p = realloc(*arr, c * sizeof(*p));
	if (!p)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

static int sock_open(struct listen_sock *ls, const struct turn_addr *a, unsigned kind, char *err,
		     size_t errlen)
{
	*ls = (struct listen_sock){.kind = kind};
	if (is_datagram(kind)) {
		ls->udp = calloc(1, sizeof(*ls->udp));
		if (ls->udp && udp_sock_open(ls->udp, a, err, errlen) == 0) {
			ls->udp->listener = (kind & LISTEN_ENTRY) != 0;
			return 0;
		}
	} else {
		ls->tcp = calloc(1, sizeof(*ls->tcp));
		if (ls->tcp && tcp_listener_open(ls->tcp, a, err, errlen) == 0) {
			ls->tcp->listener = (kind & LISTEN_ENTRY) != 0;
			ls->tcp->main_port = (kind & LISTEN_MAIN) != 0;
			ls->tcp->kinds = kind & STREAM_BITS;
			return 0;
		}
	}
	if (!ls->udp && !ls->tcp)
		snprintf(err, errlen, "out of memory");
	free(ls->udp);
	free(ls->tcp);
	*ls = (struct listen_sock){0};
	return -1;
}

static void udp_free(struct udp_sock *s)
{
	if (!s)
		return;
	udp_sock_close(s);
	retire_release(s->retire);
	free(s);
}

static void tcp_free(struct tcp_listener *l)
{
	if (!l)
		return;
	tcp_listener_close(l);
	free(l);
}

static void sock_free(struct listen_sock *ls)
{
	udp_free(ls->udp);
	tcp_free(ls->tcp);
	*ls = (struct listen_sock){0};
}

/* Attach ls to w's loop and take it into w's set; on failure it is left
 * to sock_free. */
static int sock_attach(struct net_worker *w, struct listen_sock *ls)
{
	if (ls->udp) {
		if (((ls->kind & CONF_LISTEN_DTLS) && dtls_listener_attach(w, ls->udp) < 0) ||
		    udp_sock_attach(w, ls->udp) < 0 ||
		    grow((void ***)&w->udp, w->n_udp, &w->cap_udp) < 0)
			return -1;
		w->udp[w->n_udp++] = ls->udp;
	} else {
		if (tcp_listener_attach(w, ls->tcp) < 0 ||
		    grow((void ***)&w->tcp, w->n_tcp, &w->cap_tcp) < 0)
			return -1;
		w->tcp[w->n_tcp++] = ls->tcp;
	}
	*ls = (struct listen_sock){0};
	return 0;
}

int listen_open(struct net_worker *w, const struct turn_addr *a, unsigned kind, char *err,
		size_t errlen)
{
	struct listen_sock ls;

	if (sock_open(&ls, a, kind, err, errlen) < 0)
		return -1;
	if (sock_attach(w, &ls) < 0) {
		sock_free(&ls);
		snprintf(err, errlen, "cannot register a listening socket with libevent");
		return -1;
	}
	return 0;
}

int listen_open_tls_port(struct net_worker *w, const struct turn_addr *addr, char *err,
			 size_t errlen)
{
	const struct conf *c = w->conf;
	struct turn_addr a = *addr;

	a.port = c->tls_listening_port;
	if (tls_on_port(c) && listen_open(w, &a, CONF_LISTEN_TLS | LISTEN_MAIN, err, errlen) < 0)
		return -1;
	if (tls_dtls_on_port(c) && listen_open(w, &a, CONF_LISTEN_DTLS, err, errlen) < 0)
		return -1;
	return 0;
}

void listen_close_all(struct net_worker *w)
{
	for (size_t i = 0; i < w->n_udp; i++)
		udp_free(w->udp[i]);
	for (size_t i = 0; i < w->n_tcp; i++)
		tcp_free(w->tcp[i]);
	free(w->udp);
	free(w->tcp);
	w->udp = NULL;
	w->tcp = NULL;
	w->n_udp = w->n_tcp = w->cap_udp = w->cap_tcp = 0;
}

/* ---- Retiring, in the worker ---- */

static void udp_remove(struct net_worker *w, size_t i)
{
	struct udp_sock *s = w->udp[i];

	/* Order does not matter: everyone holds pointers, not indexes. */
	w->udp[i] = w->udp[--w->n_udp];
	net_worker_path_gone(w, s);
	if (s->out && s->out->n)
		udp_out_flush(s); /* the answers of this loop turn */
	udp_free(s);
}

/* Retired s: tell the group once this worker has no allocation left on
 * it, and close it once no worker has. Returns true when s is closing. */
static bool retire_step(struct udp_sock *s)
{
	struct listen_retire *g = s->retire;
	char a[TURN_ADDR_STRLEN];

	if (!s->drained && s->allocs == 0) {
		s->drained = true;
		atomic_fetch_sub(&g->busy, 1);
	}
	int waiting = RETIRE_WAITING;
	if (atomic_load(&g->busy) == 0 &&
	    atomic_compare_exchange_strong(&g->state, &waiting, RETIRE_CLOSING))
		log_notice("listener %s/%s removed: its last allocation ended; its sockets close",
			   turn_addr_format(&g->addr, true, a, sizeof(a)), kind_name(g->kind));
	return atomic_load(&g->state) == RETIRE_CLOSING;
}

void listen_service(struct net_worker *w)
{
	unsigned retired = 0;

	for (size_t i = w->n_udp; i-- > 0;) {
		struct udp_sock *s = w->udp[i];
		if (!s->retire)
			continue;
		if (retire_step(s))
			udp_remove(w, i);
		else
			retired++;
	}
	w->stats.listen_retired = retired;
}

static bool matches(const struct turn_addr *a, unsigned kind, const struct turn_addr *local,
		    bool listener, bool tls_or_dtls)
{
	return listener && turn_addr_eq(a, local) &&
	       tls_or_dtls == ((kind & (CONF_LISTEN_TLS | CONF_LISTEN_DTLS)) != 0);
}

/* The TCP socket of e: the one with exactly e's bits (a reload that
 * changes them adds the new socket before it closes the old one). */
static void close_tcp(struct net_worker *w, const struct conf_listener *e)
{
	for (size_t i = w->n_tcp; i-- > 0;) {
		struct tcp_listener *l = w->tcp[i];
		if (!l->listener || l->kinds != (e->transports & STREAM_BITS) ||
		    !turn_addr_eq(&e->addr, &l->local))
			continue;
		w->tcp[i] = w->tcp[--w->n_tcp];
		tcp_free(l);
	}
}

static void retire_udp(struct net_worker *w, struct listen_retire *g)
{
	for (size_t i = 0; i < w->n_udp; i++) {
		struct udp_sock *s = w->udp[i];
		if (s->retire ||
		    !matches(&g->addr, g->kind, &s->local, s->listener, s->dtls != NULL))
			continue;
		s->retire = g; /* the change's reference passes to s */
		s->drained = false;
		return;
	}
	/* Nothing of ours to retire. */
	atomic_fetch_sub(&g->busy, 1);
	retire_release(g);
}

static void keep_udp(struct net_worker *w, struct listen_retire *g)
{
	for (size_t i = 0; i < w->n_udp; i++) {
		struct udp_sock *s = w->udp[i];
		if (s->retire != g)
			continue;
		s->retire = NULL;
		retire_release(g); /* s's */
	}
	retire_release(g); /* the change's */
}

static void change_apply_one(struct net_worker *w, struct listen_change *c)
{
	char a[TURN_ADDR_STRLEN];

	for (size_t i = 0; i < c->n_add; i++) {
		struct listen_sock *ls = &c->add[i];
		const struct turn_addr *at = ls->udp ? &ls->udp->local : &ls->tcp->local;
		if (sock_attach(w, ls) == 0)
			continue;
		log_error("worker %u: listener %s/%s: cannot register the socket with libevent; "
			  "it stays closed",
			  w->id, turn_addr_format(at, true, a, sizeof(a)), kind_name(ls->kind));
		sock_free(ls);
	}
	for (size_t i = 0; i < c->n_close; i++)
		close_tcp(w, &c->close[i]);
	for (size_t i = 0; i < c->n_retire; i++)
		retire_udp(w, c->retire[i]);
	for (size_t i = 0; i < c->n_keep; i++)
		keep_udp(w, c->keep[i]);
	c->n_add = c->n_retire = c->n_keep = 0; /* taken */
}

void listen_change_apply(struct net_worker *w, struct listen_change *c)
{
	for (struct listen_change *k = c; k; k = k->next)
		change_apply_one(w, k);
	listen_change_free(c);
	listen_service(w);
}

struct listen_change *listen_change_chain(struct listen_change *first, struct listen_change *later)
{
	struct listen_change *k = first;

	if (!first)
		return later;
	while (k->next)
		k = k->next;
	k->next = later;
	return first;
}

void listen_change_free(struct listen_change *c)
{
	while (c) {
		struct listen_change *next = c->next;
		for (size_t i = 0; i < c->n_add; i++)
			sock_free(&c->add[i]);
		for (size_t i = 0; i < c->n_retire; i++) {
			atomic_fetch_sub(&c->retire[i]->busy, 1);
			retire_release(c->retire[i]);
		}
		for (size_t i = 0; i < c->n_keep; i++)
			retire_release(c->keep[i]);
		free(c->add);
		free(c->close);
		free(c->retire);
		free(c->keep);
		free(c);
		c = next;
	}
}

/* ---- Planning, in the main thread ---- */

void listen_registry_fini(struct listen_registry *reg)
{
	for (size_t i = 0; i < reg->n; i++)
		retire_release(reg->groups[i]);
	free(reg->groups);
	*reg = (struct listen_registry){0};
}

/* Forget the groups nothing can keep any more: closing or kept, or with
 * no socket left but the registry's reference. */
static void registry_prune(struct listen_registry *reg)
{
	for (size_t i = reg->n; i-- > 0;) {
		struct listen_retire *g = reg->groups[i];
		if (atomic_load(&g->state) == RETIRE_WAITING && atomic_load(&g->refs) > 1)
			continue;
		reg->groups[i] = reg->groups[--reg->n];
		retire_release(g);
	}
}

/* A retiring group of a and kind that the reload can take back: it stays
 * open for good (KEPT), or NULL. */
static struct listen_retire *registry_keep(struct listen_registry *reg, const struct turn_addr *a,
					   unsigned kind)
{
	for (size_t i = 0; i < reg->n; i++) {
		struct listen_retire *g = reg->groups[i];
		int waiting = RETIRE_WAITING;
		if (g->kind != kind || !turn_addr_eq(&g->addr, a) ||
		    !atomic_compare_exchange_strong(&g->state, &waiting, RETIRE_KEPT))
			continue;
		/* No worker may close it now; still, it has sockets only if
		 * someone besides the registry holds it. */
		if (atomic_load(&g->refs) > 1)
			return g;
		atomic_store(&g->state, RETIRE_CLOSING);
	}
	return NULL;
}

static struct listen_retire *registry_add(struct listen_registry *reg, const struct turn_addr *a,
					  unsigned kind, unsigned n_workers)
{
	struct listen_retire *g = calloc(1, sizeof(*g));

	if (!g || grow((void ***)&reg->groups, reg->n, &reg->cap) < 0) {
		free(g);
		return NULL;
	}
	g->addr = *a;
	g->kind = kind;
	atomic_init(&g->busy, n_workers);
	atomic_init(&g->refs, n_workers + 1);
	atomic_init(&g->state, RETIRE_WAITING);
	reg->groups[reg->n++] = g;
	return g;
}

static struct listen_change *change_new(const struct conf_listener_diff *d)
{
	struct listen_change *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->add = calloc(4 * d->n_added + 1, sizeof(*c->add));
	c->close = calloc(d->n_removed + 1, sizeof(*c->close));
	c->retire = calloc(2 * d->n_removed + 1, sizeof(*c->retire));
	c->keep = calloc(2 * d->n_added + 1, sizeof(*c->keep));
	if (!c->add || !c->close || !c->retire || !c->keep) {
		listen_change_free(c);
		return NULL;
	}
	return c;
}

/* One transport of an added entry: take a retiring group back, or bind
 * one socket per worker. */
static int plan_add(const struct listen_plan_ctx *pc, struct listen_change **ch,
		    const struct conf_listener *e, unsigned kind, char *err, size_t errlen)
{
	struct listen_retire *g = is_datagram(kind) ? registry_keep(pc->reg, &e->addr, kind) : NULL;

	for (unsigned i = 0; i < pc->n_workers; i++) {
		if (g) {
			atomic_fetch_add(&g->refs, 1);
			ch[i]->keep[ch[i]->n_keep++] = g;
			continue;
		}
		char why[256];
		if (sock_open(&ch[i]->add[ch[i]->n_add], &e->addr, kind | LISTEN_ENTRY, why,
			      sizeof(why)) < 0) {
			/* After proc-user only CAP_NET_BIND_SERVICE binds those. */
			bool low = errno == EACCES && e->addr.port < 1024;
			snprintf(err, errlen, "option 'listener' (%s): %s%s", kind_name(kind), why,
				 low ? " (a port below 1024 needs CAP_NET_BIND_SERVICE once "
				       "privileges are dropped: restart turnd)"
				     : "");
			return -1;
		}
		ch[i]->n_add++;
	}
	return 0;
}

/* The UDP and DTLS sockets of a removed entry: one group for each. */
static int plan_remove(const struct listen_plan_ctx *pc, struct listen_change **ch,
		       const struct conf_listener *e)
{
	static const unsigned kinds[] = {CONF_LISTEN_UDP, CONF_LISTEN_DTLS};

	for (unsigned i = 0; i < pc->n_workers; i++)
		if (e->transports & STREAM_BITS)
			ch[i]->close[ch[i]->n_close++] =
				(struct conf_listener){e->addr, e->transports & STREAM_BITS};
	for (size_t k = 0; k < 2; k++) {
		if (!(e->transports & kinds[k]))
			continue;
		struct listen_retire *g = registry_add(pc->reg, &e->addr, kinds[k], pc->n_workers);
		if (!g)
			return -1;
		for (unsigned i = 0; i < pc->n_workers; i++)
			ch[i]->retire[ch[i]->n_retire++] = g;
	}
	return 0;
}

static int plan_fill(const struct listen_plan_ctx *pc, const struct conf_listener_diff *d,
		     struct listen_change **ch, char *err, size_t errlen)
{
	for (size_t k = 0; k < d->n_added; k++) {
		unsigned t = d->added[k].transports;
		/* One socket for the TCP bits together. */
		if ((t & STREAM_BITS) && plan_add(pc, ch, &d->added[k], t & STREAM_BITS, err, errlen) < 0)
			return -1;
		for (unsigned bit = CONF_LISTEN_UDP; bit <= CONF_LISTEN_DTLS; bit <<= 1)
			if ((t & bit) && is_datagram(bit) &&
			    plan_add(pc, ch, &d->added[k], bit, err, errlen) < 0)
				return -1;
	}
	for (size_t k = 0; k < d->n_removed; k++)
		if (plan_remove(pc, ch, &d->removed[k]) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	return 0;
}

int listen_plan(const struct listen_plan_ctx *pc, struct listen_change **ch, char *err,
		size_t errlen)
{
	struct conf_listener_diff d;

	memset(ch, 0, pc->n_workers * sizeof(*ch));
	registry_prune(pc->reg);
	if (conf_listener_diff(pc->running, pc->next, &d) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = 0;
	if (d.n_added + d.n_removed > 0) {
		for (unsigned i = 0; i < pc->n_workers && rc == 0; i++)
			if (!(ch[i] = change_new(&d))) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
			}
		if (rc == 0)
			rc = plan_fill(pc, &d, ch, err, errlen);
		if (rc < 0)
			listen_plan_cancel(ch, pc->n_workers);
	}
	conf_listener_diff_free(&d);
	return rc;
}

void listen_plan_cancel(struct listen_change **ch, unsigned n_workers)
{
	/* Every worker's part names the same groups: undo them once. */
	for (size_t i = 0; n_workers && ch[0] && i < ch[0]->n_retire; i++)
		atomic_store(&ch[0]->retire[i]->state, RETIRE_CLOSING);
	for (size_t i = 0; n_workers && ch[0] && i < ch[0]->n_keep; i++)
		atomic_store(&ch[0]->keep[i]->state, RETIRE_WAITING);
	for (unsigned i = 0; i < n_workers; i++) {
		listen_change_free(ch[i]);
		ch[i] = NULL;
	}
}

/* "udp, tcp" of the CONF_LISTEN_* bits t. */
static const char *kinds_text(unsigned t, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned bit = CONF_LISTEN_UDP; bit <= CONF_LISTEN_PROXY; bit <<= 1)
		if ((t & bit) && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
					      kind_name(bit));
	return buf;
}

void listen_plan_log(const struct conf *running, const struct conf *next)
{
	struct conf_listener_diff d;
	char a[TURN_ADDR_STRLEN], k[32];

	if (conf_listener_diff(running, next, &d) < 0)
		return;
	for (size_t i = 0; i < d.n_added; i++)
		log_notice("SIGHUP: listener %s/%s added",
			   turn_addr_format(&d.added[i].addr, true, a, sizeof(a)),
			   kinds_text(d.added[i].transports, k, sizeof(k)));
	for (size_t i = 0; i < d.n_removed; i++) {
		unsigned t = d.removed[i].transports;
		log_notice("SIGHUP: listener %s/%s removed%s%s",
			   turn_addr_format(&d.removed[i].addr, true, a, sizeof(a)),
			   kinds_text(t, k, sizeof(k)),
			   (t & (CONF_LISTEN_TCP | CONF_LISTEN_TLS)) ? "; tcp/tls: closed now" : "",
			   is_datagram(t) ? "; udp/dtls: retired, no new allocations, closed when "
					    "the last allocation on it ends"
					  : "");
	}
	conf_listener_diff_free(&d);
}
