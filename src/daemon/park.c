/*
 * Credential lookups for the worker (RFC 8489 section 9.2.4): the
 * request's USERNAME or USERHASH goes to the backend chain before the core
 * sees the request. A backend that must ask a server (Redis) answers
 * AUTH_PENDING; the request is then parked, a copy of its bytes kept, and
 * decided again when the answer is in the backend's cache. The event loop
 * never waits.
 */
#include "daemon/park.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "daemon/worker.h"
#include "io/clock.h"
#include "stun/attr.h"

/* Requests one worker may hold while a backend answers; past this, new
 * ones fail closed at once (500), which clients retry. */
#define PENDING_MAX 4096

struct pending_req {
	LIST_ENTRY(pending_req) link;
	struct worker *w;
	struct turn_tuple tuple;
	struct net_path path;
	bool forgotten; /* its connection, session or socket went: do not answer */
	uint8_t kind; /* PARK_CREDENTIAL or PARK_FLEET: what it waits for */
	uint64_t since_us;
	size_t len;
	size_t cap; /* of buf */
	uint8_t buf[];
};

bool park_needs_credential(const struct stun_msg *m)
{
	return m->cls == STUN_CLASS_REQUEST && m->method != STUN_METHOD_BINDING &&
	       (m->idx_integrity >= 0 || m->idx_integrity_sha256 >= 0);
}

static void fill_credential(int rc, const struct auth_credential *ac, struct turn_credential *tc)
{
	tc->status = rc == AUTH_FOUND ? 1 : rc == AUTH_NOT_FOUND ? 0 : -1;
	if (rc != AUTH_FOUND)
		return;
	tc->username = ac->username;
	tc->max_lifetime = ac->limits.lifetime_s;
	tc->max_bps = ac->limits.max_bps;
	tc->n_keys = (uint8_t)(ac->n_keys < TURN_MAX_KEYS ? ac->n_keys : TURN_MAX_KEYS);
	tc->has_sha256 = true;
	for (uint8_t i = 0; i < tc->n_keys; i++) {
		memcpy(tc->key_md5[i], ac->keys[i].md5, STUN_KEY_MD5_LEN);
		memcpy(tc->key_sha256[i], ac->keys[i].sha256, STUN_KEY_SHA256_LEN);
		tc->has_sha256 = tc->has_sha256 && ac->keys[i].has_sha256;
	}
}

bool park_resume(struct pending_req *p, enum fleet_verdict v)
{
	struct worker *w = p->w;
	/* Past its credential it may still wait for the fleet's quota. */
	struct worker_msg m = { p->buf, p->len, &p->tuple, &p->path,
				  p->kind == PARK_CREDENTIAL ? PARK_FLEET : 0, p->since_us, v };
	bool used = false;

	LIST_REMOVE(p, link);
	w->n_pending--;
	if (!p->forgotten)
		w->decide(w, &m, &used);
	free(p);
	return used;
}

void park_cancel(struct pending_req *p)
{
	LIST_REMOVE(p, link);
	p->w->n_pending--;
	free(p);
}

static void pending_done(void *arg, int rc)
{
	(void)rc; /* the repeated lookup reads the answer from the cache */
	park_resume(arg, FLEET_NONE);
}

/* The copy of a request is made before the backend says whether it must
 * wait; when it need not (static users, secrets, a cached answer), the
 * copy goes back to the worker's one spare instead of free(), so a flood
 * of requests with made-up credentials costs no heap per datagram. */
static struct pending_req *pending_alloc(struct worker *w, size_t len)
{
	struct pending_req *p = w->pending_spare;
	size_t cap = len > WORKER_SLOT ? len : WORKER_SLOT;

	if (p && p->cap >= len) {
		w->pending_spare = NULL;
		return p;
	}
	p = malloc(sizeof(*p) + cap);
	if (p)
		p->cap = cap;
	return p;
}

static void pending_recycle(struct worker *w, struct pending_req *p)
{
	if (p && !w->pending_spare && p->cap == WORKER_SLOT)
		w->pending_spare = p;
	else
		free(p);
}

static struct pending_req *pending_new(struct worker *w, const struct worker_msg *pc,
				       uint8_t kind)
{
	if (!(pc->may_park & kind) || w->n_pending >= PENDING_MAX)
		return NULL;
	struct pending_req *p = pending_alloc(w, pc->len);
	if (!p)
		return NULL;
	p->w = w;
	p->tuple = *pc->tuple;
	p->path = *pc->path;
	p->forgotten = false;
	p->kind = kind;
	p->since_us = pc->since_us;
	p->len = pc->len;
	memcpy(p->buf, pc->pkt, pc->len);
	return p;
}

struct pending_req *park_for_fleet(struct worker *w, const struct worker_msg *pc)
{
	struct pending_req *p = pending_new(w, pc, PARK_FLEET);

	if (p) {
		LIST_INSERT_HEAD(&w->pending, p, link);
		w->n_pending++;
	}
	return p;
}

/* The method authenticated, as the HTTP hook names it. */
static const char *park_method_name(uint16_t method)
{
	switch (method) {
	case TURN_METHOD_ALLOCATE:
		return "Allocate";
	case TURN_METHOD_REFRESH:
		return "Refresh";
	case TURN_METHOD_CREATE_PERMISSION:
		return "CreatePermission";
	case TURN_METHOD_CHANNEL_BIND:
		return "ChannelBind";
	case TURN_METHOD_CONNECT:
		return "Connect";
	case TURN_METHOD_CONNECTION_BIND:
		return "ConnectionBind";
	default:
		return NULL;
	}
}

static const char *park_transport_name(const struct net_path *p)
{
	switch (p->ops->kind) {
	case NET_PATH_UDP:
		return "udp";
	case NET_PATH_DTLS:
		return "dtls";
	default:
		return p->ops->tls && p->ops->tls(p->t) ? "tls" : "tcp";
	}
}

int park_credential(struct worker *w, const struct stun_msg *m, const struct worker_msg *pc,
		    struct turn_credential *tc, struct auth_credential *ac)
{
	const struct stun_attr *u = stun_msg_find(m, STUN_ATTR_USERNAME);
	const struct stun_attr *h = stun_msg_find(m, STUN_ATTR_USERHASH);
	struct pending_req *p = pending_new(w, pc, PARK_CREDENTIAL);
	struct auth_query q = {
		.now_s = io_clock_wall_s(w->clock),
		.done = p ? pending_done : NULL,
		.arg = p,
		.client = &pc->tuple->client,
		.local = &pc->tuple->local,
		.transport = park_transport_name(pc->path),
		.method = park_method_name(m->method),
	};
	int rc = AUTH_NOT_FOUND;

	if (u) {
		q.username = stun_attr_value(m, u);
		q.len = u->len;
	} else if (h && h->len == STUN_USERHASH_LEN) {
		q.userhash = stun_attr_value(m, h);
	}
	if (q.username || q.userhash)
		rc = auth_query_lookup(w->auth, &q, ac);
	if (rc == AUTH_PENDING && p) {
		LIST_INSERT_HEAD(&w->pending, p, link);
		w->n_pending++;
		return 1;
	}
	pending_recycle(w, p);
	if (rc == AUTH_ERROR || rc == AUTH_PENDING)
		w->stats.auth_errors++;
	fill_credential(rc == AUTH_PENDING ? AUTH_ERROR : rc, ac, tc);
	return 0;
}

void park_forget(struct worker *w, const void *t)
{
	struct pending_req *p;

	LIST_FOREACH(p, &w->pending, link)
		if (net_path_same(&p->path, t))
			p->forgotten = true;
}

void park_free_all(struct worker *w)
{
	while (!LIST_EMPTY(&w->pending)) {
		struct pending_req *p = LIST_FIRST(&w->pending);
		LIST_REMOVE(p, link);
		free(p);
	}
	w->n_pending = 0;
	free(w->pending_spare);
	w->pending_spare = NULL;
}
