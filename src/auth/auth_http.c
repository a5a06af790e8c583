/*
 * The HTTP authorization hook: the application decides each login
 * (auth_http_new in auth.h for the contract, auth_http_body.h for what
 * goes over the wire).
 *
 * Shape, as the Redis backend's (auth_redis.c): per worker, a few
 * keep-alive connections with libevent's HTTP client on the worker's
 * event base; one request per name in flight ("fetch"), which every
 * lookup of that name waits on; the answers in a cache shared by every
 * worker's hook (auth_cache.h), with the limits the application gave.
 *
 * Faults (SECURITY.md, fail closed): the loop never waits on the hook. A
 * failure (no connection, no answer within auth-timeout, a status other
 * than 200, 403 and 404, a body over HTTP_REPLY_MAX, junk) is AUTH_ERROR,
 * never "no password", and starts a back-off during which only the cache
 * answers; it is logged once per back-off. Requests in flight are bounded
 * (auth-max-inflight): beyond, a lookup fails closed at once.
 */
#include "auth/auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "auth/auth_cache.h"
#include "auth/auth_http_body.h"
#include "auth/auth_waiters.h"
#include "util/log.h"

/* Connections per worker: the hook's answers overlap this much. */
#define HTTP_POOL_MAX 4
/* The largest answer body read; past it the answer is an error. */
#define HTTP_REPLY_MAX 16384
#define HTTP_HEADERS_MAX 8192
#define HTTP_BACKOFF_MIN_S 1
#define HTTP_BACKOFF_MAX_S 16
/* Lookups waiting on one fetch (as many as a worker parks). */
#define HTTP_WAITERS_MAX 4096
#define HTTP_WHERE_MAX 96

struct http_conn {
	struct evhttp_connection *evcon;
	unsigned busy; /* requests sent on it and not answered */
};

struct auth_http;

struct http_fetch {
	struct http_fetch *next; /* in auth_http.fetches */
	struct auth_http *h;
	struct http_conn *conn;
	uint64_t now_s; /* the latest now_s of the lookups it answers */
	struct event *deadline; /* auth-timeout from its start, queued or not */
	struct evhttp_request *req; /* built, not sent yet: owned by the fetch */
	bool abandoned; /* past its deadline: answered AUTH_ERROR, left to libevent */
	bool starting; /* inside evhttp_make_request */
	bool answered; /* the callback ran while starting: rc holds it */
	int rc;
	enum evhttp_request_error error; /* the reason of a failure, when told */
	bool has_error;
	struct auth_waiters waiters;
	size_t name_len;
	uint8_t name[];
};

struct auth_http {
	struct auth_backend base; /* first: the chain holds &base */
	struct auth_http_options o; /* strings point to the copies below */
	char *realm, *host, *path;
	char where[HTTP_WHERE_MAX]; /* "127.0.0.1:8088", for the Host header and logs */
	struct event_base *evb;
	struct http_conn pool[HTTP_POOL_MAX];
	size_t n_pool;
	struct auth_cache *cache;
	struct http_fetch *fetches;
	size_t n_fetches;
	bool freeing;
	struct auth_http_stats stats;
};

enum http_age { HTTP_FRESH, HTTP_STALE, HTTP_EXPIRED };

/* ------------------------------------------------------------------------
 * Answers from the cache.
 */

static enum http_age http_entry_age(const struct auth_http *h, const struct auth_cache_answer *e,
				    uint64_t now_s)
{
	bool found = e->kind == AUTH_CACHE_USER;
	uint64_t ttl = found ? h->o.cache_ttl_s : h->o.negative_ttl_s;

	/* Stamped after now: another worker's later lookup, or the clock
	 * stepped back. */
	if (now_s < e->fetched_s)
		return e->fetched_s - now_s <= ttl ? HTTP_FRESH : HTTP_EXPIRED;
	if (now_s - e->fetched_s < ttl)
		return HTTP_FRESH;
	/* Only a user whose key has verified a request is served while the
	 * hook cannot answer, and only for one more TTL. */
	if (found && e->confirmed && now_s - e->fetched_s < 2 * ttl)
		return HTTP_STALE;
	return HTTP_EXPIRED;
}

static int http_answer(const struct auth_cache_answer *e, const struct auth_query *q,
		       struct auth_credential *out)
{
	if (e->kind != AUTH_CACHE_USER)
		return e->kind == AUTH_CACHE_NONE ? AUTH_NOT_FOUND : AUTH_ERROR;
	auth_cache_answer_fill(e, q, out);
	return AUTH_FOUND;
}

/* ------------------------------------------------------------------------
 * Back-off.
 */

static const char *http_error_text(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "no answer in time";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid answer headers";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "answer body too long";
	default:
		return "connection failed";
	}
}

/* A failure: count it, and unless a back-off runs already, start the next
 * one (logged once). The back-off lives in the shared cache: every
 * worker's hook leaves the application alone. */
static void http_failed(struct auth_http *h, uint64_t now_s, const char *why)
{
	unsigned s = auth_cache_hold(h->cache, now_s, HTTP_BACKOFF_MIN_S, HTTP_BACKOFF_MAX_S);

	h->stats.errors++;
	if (s)
		log_warn("auth-url %s: %s; users not cached are refused for %u s", h->where, why,
			 s);
}

static void http_answered(struct auth_http *h)
{
	if (auth_cache_release(h->cache))
		log_notice("auth-url %s: answering again", h->where);
}

/* ------------------------------------------------------------------------
 * What an answer means.
 */

/* A 200 body into the cache entry e: AUTH_FOUND, or AUTH_ERROR (junk). */
static int http_read_found(struct auth_http *h, const struct http_fetch *f,
			   struct evbuffer *body, struct auth_cache_answer *e)
{
	struct auth_http_reply rep;
	char user[AUTH_USERNAME_MAX + 1];
	size_t len = evbuffer_get_length(body);
	const char *text;
	int rc = AUTH_ERROR;

	/* libevent stops reading past HTTP_REPLY_MAX already
	 * (evhttp_connection_set_max_body_size). */
	if (len == 0 || len > HTTP_REPLY_MAX)
		return AUTH_ERROR;
	text = (const char *)evbuffer_pullup(body, -1);
	if (!text || auth_http_reply_parse(text, len, &rep) < 0)
		return AUTH_ERROR;
	memcpy(user, f->name, f->name_len);
	user[f->name_len] = '\0';
	e->kind = AUTH_CACHE_USER;
	e->limits = rep.limits;
	if (rep.has_key) {
		memcpy(e->key.md5, rep.md5, sizeof(e->key.md5));
		rc = AUTH_FOUND;
	} else if (stun_key_md5(user, h->realm, rep.password, e->key.md5) == 0 &&
		   stun_key_sha256(user, h->realm, rep.password, e->key.sha256) == 0) {
		/* Derived as for static users (auth_static.c, RFC 8489
		 * section 9.2.2): MD5 and SHA-256. */
		e->key.has_sha256 = true;
		rc = AUTH_FOUND;
	}
	OPENSSL_cleanse(&rep, sizeof(rep));
	return rc;
}

/* The answer to f (req NULL: none came): cached, counted, and what the
 * lookups get. */
static int http_read(struct auth_http *h, struct http_fetch *f, struct evhttp_request *req)
{
	struct auth_cache_answer e = { .kind = AUTH_CACHE_NONE, .fetched_s = f->now_s };
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char why[64];
	int rc = AUTH_ERROR;

	if (code == 200)
		rc = http_read_found(h, f, evhttp_request_get_input_buffer(req), &e);
	else if (code == 403 || code == 404)
		rc = AUTH_NOT_FOUND;
	if (rc != AUTH_ERROR && auth_cache_store(h->cache, f->name, f->name_len, &e) < 0)
		rc = AUTH_ERROR;
	OPENSSL_cleanse(&e, sizeof(e));
	if (rc == AUTH_NOT_FOUND)
		h->stats.refused++;
	if (rc != AUTH_ERROR) {
		http_answered(h);
		return rc;
	}
	if (code == 200)
		snprintf(why, sizeof(why), "answer 200 without a valid key or password");
	else if (code)
		snprintf(why, sizeof(why), "answer %d", code);
	else
		snprintf(why, sizeof(why), "%s",
			 f->has_error ? http_error_text(f->error) : "connection failed");
	http_failed(h, f->now_s, why);
	return AUTH_ERROR;
}

/* ------------------------------------------------------------------------
 * Fetches.
 */

static void http_fetch_free(struct http_fetch *f)
{
	if (f->deadline)
		event_free(f->deadline);
	if (f->req)
		evhttp_request_free(f->req);
	auth_waiters_free(&f->waiters);
	free(f);
}

static void http_fetch_unlink(struct auth_http *h, struct http_fetch *f)
{
	struct http_fetch **pp = &h->fetches;

	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	h->n_fetches--;
	h->stats.in_flight = h->n_fetches;
}

/* Call back every lookup waiting on f, once. */
static void http_fetch_tell(struct http_fetch *f, int rc)
{
	auth_waiters_tell(&f->waiters, rc);
}

static void http_on_error(enum evhttp_request_error error, void *arg)
{
	struct http_fetch *f = arg;

	f->error = error;
	f->has_error = true;
}

/* The answer is in, or the request failed (req NULL). The fetch leaves
 * the table before any done runs, so lookups made from done start afresh. */
static void http_on_reply(struct evhttp_request *req, void *arg)
{
	struct http_fetch *f = arg;
	struct auth_http *h = f->h;
	int rc;

	if (h->freeing)
		return; /* http_free frees f */
	f->conn->busy--;
	if (f->abandoned) { /* its lookups had their answer at the deadline */
		http_fetch_unlink(h, f);
		http_fetch_free(f);
		return;
	}
	rc = http_read(h, f, req);
	if (f->starting) {
		f->answered = true;
		f->rc = rc;
		return;
	}
	http_fetch_unlink(h, f);
	http_fetch_tell(f, rc);
	http_fetch_free(f);
}

/* auth-timeout since the fetch began, and no answer: it may be queued
 * behind a request the application sits on (libevent's own timeout runs
 * from when it is sent). Its lookups fail closed now; libevent keeps the
 * request, and the fetch counts against auth-max-inflight, until it
 * calls back. */
static void http_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_fetch *f = arg;
	struct auth_http *h = f->h;

	(void)fd;
	(void)what;
	f->abandoned = true;
	http_failed(h, f->now_s, "no answer in time");
	http_fetch_tell(f, AUTH_ERROR);
}

/* The connection with the fewest requests waiting on it. */
static struct http_conn *http_pick(struct auth_http *h)
{
	struct http_conn *best = &h->pool[0];

	for (size_t i = 1; i < h->n_pool; i++)
		if (h->pool[i].busy < best->busy)
			best = &h->pool[i];
	return best;
}

/* The request of f, built from q (the first lookup of the name). */
static struct evhttp_request *http_request_new(struct auth_http *h, struct http_fetch *f,
					       const struct auth_query *q)
{
	const struct auth_http_ask ask = {
		.username = q->username, .username_len = q->len, .realm = h->realm,
		.client = q->client, .local = q->local, .transport = q->transport,
		.method = q->method,
	};
	char body[AUTH_HTTP_BODY_MAX];
	int n = auth_http_body_build(&ask, body, sizeof(body));
	struct evhttp_request *req = n < 0 ? NULL : evhttp_request_new(http_on_reply, f);
	struct evkeyvalq *hdr = req ? evhttp_request_get_output_headers(req) : NULL;
	char length[16];

	if (!req)
		return NULL;
	snprintf(length, sizeof(length), "%d", n);
	evhttp_request_set_error_cb(req, http_on_error);
	if (evhttp_add_header(hdr, "Host", h->where) < 0 ||
	    evhttp_add_header(hdr, "Content-Type", "application/json") < 0 ||
	    evhttp_add_header(hdr, "Content-Length", length) < 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body, (size_t)n) < 0) {
		evhttp_request_free(req);
		return NULL;
	}
	return req;
}

/* A fetch of q's name with its request and deadline, not sent yet. */
static struct http_fetch *http_fetch_new(struct auth_http *h, const struct auth_query *q)
{
	struct http_fetch *f = calloc(1, sizeof(*f) + q->len);

	if (!f)
		return NULL;
	f->h = h;
	f->now_s = q->now_s;
	f->name_len = q->len;
	memcpy(f->name, q->username, q->len);
	f->conn = http_pick(h);
	f->deadline = evtimer_new(h->evb, http_on_deadline, f);
	if (!f->deadline || !(f->req = http_request_new(h, f, q))) {
		http_fetch_free(f);
		return NULL;
	}
	return f;
}

/* Send f's request: AUTH_PENDING when libevent will call back, else the
 * answer it gave at once (then f is the caller's to free). */
static int http_fetch_send(struct auth_http *h, struct http_fetch *f, uint64_t now_s)
{
	struct evhttp_request *req = f->req;

	f->req = NULL; /* libevent's from here on */
	f->conn->busy++;
	h->stats.requests++;
	f->starting = true;
	if (evhttp_make_request(f->conn->evcon, req, EVHTTP_REQ_POST, h->path) < 0 &&
	    !f->answered) {
		/* libevent has dropped req without calling back. */
		f->conn->busy--;
		http_failed(h, now_s, "cannot send the request");
		return AUTH_ERROR;
	}
	f->starting = false;
	return f->answered ? f->rc : AUTH_PENDING;
}

/*
 * Ask the hook about q's name, or join the fetch already asking. Returns
 * AUTH_PENDING when done will follow (q->done set), AUTH_ERROR when the
 * lookup cannot be answered now (also for a caller that cannot wait: the
 * answer is fetched for its next try), or the answer itself when the
 * request failed at once.
 */
static int http_fetch_start(struct auth_http *h, const struct auth_query *q)
{
	struct http_fetch *f = h->fetches;
	struct timeval tv = { (time_t)(h->o.timeout_ms / 1000),
			      (suseconds_t)(h->o.timeout_ms % 1000) * 1000 };
	int rc;

	while (f && (f->abandoned || f->name_len != q->len ||
		     memcmp(f->name, q->username, q->len) != 0))
		f = f->next;
	if (!f) {
		if (h->n_fetches >= h->o.max_inflight || !(f = http_fetch_new(h, q)))
			return AUTH_ERROR;
		rc = http_fetch_send(h, f, q->now_s);
		if (rc != AUTH_PENDING) {
			http_fetch_free(f);
			return rc;
		}
		f->next = h->fetches;
		h->fetches = f;
		h->n_fetches++;
		h->stats.in_flight = h->n_fetches;
		evtimer_add(f->deadline, &tv);
	}
	if (f->now_s < q->now_s)
		f->now_s = q->now_s;
	if (!q->done || auth_waiters_add(&f->waiters, HTTP_WAITERS_MAX, q->done, q->arg) < 0)
		return AUTH_ERROR;
	return AUTH_PENDING;
}

/* ------------------------------------------------------------------------
 * The backend.
 */

static int http_lookup(struct auth_backend *b, const struct auth_query *q,
		       struct auth_credential *out)
{
	struct auth_http *h = (struct auth_http *)b;
	struct auth_cache_answer e;
	enum http_age age = HTTP_EXPIRED;
	int rc = AUTH_ERROR;

	if (q->userhash)
		return AUTH_NOT_FOUND; /* the application is asked by name */
	if (auth_cache_get(h->cache, q->username, q->len, &e))
		age = http_entry_age(h, &e, q->now_s);
	if (age == HTTP_FRESH) {
		h->stats.cache_hits++;
		rc = http_answer(&e, q, out);
	} else {
		if (!auth_cache_held(h->cache, q->now_s))
			rc = http_fetch_start(h, q);
		/* Answered at once (rare): the answer is in the cache. */
		if (rc == AUTH_FOUND)
			rc = auth_cache_get(h->cache, q->username, q->len, &e)
				     ? http_answer(&e, q, out)
				     : AUTH_ERROR;
		else if (rc == AUTH_ERROR && age == HTTP_STALE) {
			h->stats.cache_hits++;
			rc = http_answer(&e, q, out);
		}
		if (rc == AUTH_ERROR)
			h->stats.failed_closed++;
	}
	OPENSSL_cleanse(&e, sizeof(e));
	return rc;
}

static void http_confirm(struct auth_backend *b, const struct auth_credential *c)
{
	struct auth_http *h = (struct auth_http *)b;

	auth_cache_confirm(h->cache, (const uint8_t *)c->username, c->username_len);
}

void auth_http_stats_read(const struct auth_backend *b, struct auth_http_stats *out)
{
	*out = ((const struct auth_http *)b)->stats;
}

static void http_free(struct auth_backend *b)
{
	struct auth_http *h = (struct auth_http *)b;

	if (!h)
		return;
	/* libevent drops the requests still queued without calling back;
	 * the flag covers one that would. */
	h->freeing = true;
	for (size_t i = 0; i < h->n_pool; i++)
		evhttp_connection_free(h->pool[i].evcon);
	while (h->fetches) {
		struct http_fetch *f = h->fetches;
		h->fetches = f->next;
		http_fetch_free(f);
	}
	auth_cache_free(h->cache);
	free(h->realm);
	free(h->host);
	free(h->path);
	free(h);
}

static const struct auth_backend_ops http_ops = {
	.name = "http",
	.lookup = http_lookup,
	.free = http_free,
	.confirm = http_confirm,
};

static const char *http_check_options(const struct auth_http_options *o)
{
	uint8_t ip[16];

	if (!o->realm || !o->realm[0])
		return "the realm is empty";
	/* A name would be resolved with a blocking getaddrinfo. */
	if (!o->host || (inet_pton(AF_INET, o->host, ip) != 1 && inet_pton(AF_INET6, o->host, ip) != 1))
		return "the host must be a numeric IP address";
	if (o->port == 0 || !o->path || o->path[0] != '/')
		return "the URL needs a port and a path";
	if (o->timeout_ms == 0 || o->cache_ttl_s == 0 || o->negative_ttl_s == 0 ||
	    o->max_inflight == 0)
		return "the timeout, TTLs and in-flight bound must be at least 1";
	if (o->cache_size < AUTH_HTTP_CACHE_MIN)
		return "the cache is too small";
	return NULL;
}

/* The keep-alive connections (made on first use). */
static int http_pool_init(struct auth_http *h)
{
	struct timeval tv = { (time_t)(h->o.timeout_ms / 1000),
			      (suseconds_t)(h->o.timeout_ms % 1000) * 1000 };

	h->n_pool = h->o.max_inflight < HTTP_POOL_MAX ? h->o.max_inflight : HTTP_POOL_MAX;
	for (size_t i = 0; i < h->n_pool; i++) {
		struct evhttp_connection *c =
			evhttp_connection_base_new(h->evb, NULL, h->host, h->o.port);
		if (!c)
			return -1;
		h->pool[i].evcon = c;
		evhttp_connection_set_timeout_tv(c, &tv);
		evhttp_connection_set_retries(c, 0);
		evhttp_connection_set_max_body_size(c, HTTP_REPLY_MAX);
		evhttp_connection_set_max_headers_size(c, HTTP_HEADERS_MAX);
	}
	return 0;
}

struct auth_backend *auth_http_new(const struct auth_http_options *o, struct event_base *base,
				   char *err, size_t errlen)
{
	const char *why = o ? http_check_options(o) : "no options";
	struct auth_http *h;

	if (!why && !base)
		why = "no event base";
	if (why) {
		snprintf(err, errlen, "auth-url: %s", why);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto oom;
	h->base.ops = &http_ops;
	h->o = *o;
	h->evb = base;
	h->realm = strdup(o->realm);
	h->host = strdup(o->host);
	h->path = strdup(o->path);
	h->cache = o->shared_cache ? auth_cache_ref(o->shared_cache) : auth_cache_new(o->cache_size);
	if (!h->realm || !h->host || !h->path || !h->cache)
		goto oom;
	h->o.realm = h->realm;
	h->o.host = h->host;
	h->o.path = h->path;
	h->o.shared_cache = NULL;
	if (strchr(h->host, ':'))
		snprintf(h->where, sizeof(h->where), "[%s]:%u", h->host, (unsigned)o->port);
	else
		snprintf(h->where, sizeof(h->where), "%s:%u", h->host, (unsigned)o->port);
	if (http_pool_init(h) < 0)
		goto oom;
	return &h->base;
oom:
	snprintf(err, errlen, "auth-url: out of memory");
	http_free(h ? &h->base : NULL);
	return NULL;
}
