/*
 * The backend chain and the helpers around credentials: the username
 * checks every backend relies on, MESSAGE-INTEGRITY against several
 * candidate keys, and safe printing of usernames.
 */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf/conf.h"
#include "stun/attr.h"
#include "stun/stun.h"

/* static users, REST secrets, Redis, the HTTP hook: a handful at most. */
#define AUTH_MAX_BACKENDS 8

struct auth {
	struct auth_backend *backends[AUTH_MAX_BACKENDS];
	size_t n;
};

struct auth *auth_new(void)
{
	return calloc(1, sizeof(struct auth));
}

struct auth_backend *auth_backend_named(struct auth *a, const char *name)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (strcmp(a->backends[i]->ops->name, name) == 0)
			return a->backends[i];
	return NULL;
}

int auth_add(struct auth *a, struct auth_backend *b)
{
	if (!b)
		return -1;
	if (!a || a->n == AUTH_MAX_BACKENDS) {
		b->ops->free(b);
		return -1;
	}
	a->backends[a->n++] = b;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		a->backends[i]->ops->free(a->backends[i]);
	free(a);
}

#ifdef HAVE_HIREDIS
static struct auth_backend *redis_from_conf(const struct conf *c, struct event_base *base,
					    struct auth_cache *cache, char *err, size_t errlen)
{
	const struct conf_redis *cr = &c->redis;
	const struct auth_redis_options o = {
		.realm = c->realm,
		.host = cr->host,
		.port = cr->port,
		.socket = cr->socket,
		.db = cr->db,
		.user = cr->user,
		.password = cr->password,
		.tls = cr->tls,
		.tls_ca = cr->tls_ca,
		.tls_cert = cr->tls_cert,
		.tls_key = cr->tls_key,
		.tls_server_name = cr->tls_server_name,
		.connect_timeout_ms = cr->connect_timeout_ms,
		.timeout_ms = cr->timeout_ms,
		.cache_size = cr->cache_size,
		.cache_ttl_s = cr->cache_ttl_s,
		.negative_ttl_s = cr->negative_ttl_s,
		.cache_stale_s = cr->cache_stale_s,
		.shared_cache = cache,
	};

	return auth_redis_new(&o, base, err, errlen);
}
#endif

/* What chain_new adds beyond the configuration's users and secrets. */
struct chain_opts {
	bool with_redis; /* and the HTTP hook: the backends with connections */
	struct event_base *base; /* the worker's, for Redis and the hook */
	struct auth_shared shared; /* caches shared by the workers' backends, or NULL */
};

/* The HTTP hook, last in the chain: the application is asked only about
 * names no other backend knows. */
static int add_http(struct auth *a, const struct conf *c, const struct chain_opts *o, char *err,
		    size_t errlen)
{
	const struct conf_auth_http *h = &c->auth_http;
	const struct auth_http_options ho = {
		.realm = c->realm,
		.host = h->host,
		.port = h->port,
		.path = h->path,
		.timeout_ms = h->timeout_ms,
		.cache_ttl_s = h->cache_ttl_s,
		.negative_ttl_s = h->negative_ttl_s,
		.max_inflight = h->max_inflight,
		.cache_size = AUTH_HTTP_CACHE_SIZE,
		.shared_cache = o->shared.http,
	};

	if (!o->base) {
		snprintf(err, errlen, "option 'auth-url': needs the worker's event loop");
		return -1;
	}
	return auth_add(a, auth_http_new(&ho, o->base, err, errlen));
}

/* The Redis backend, last in the chain: static users and secrets answer
 * without a round trip. */
static int add_redis(struct auth *a, const struct conf *c, const struct chain_opts *o, char *err,
		     size_t errlen)
{
#ifdef HAVE_HIREDIS
	if (!o->base) {
		snprintf(err, errlen, "option 'redis': needs the worker's event loop");
		return -1;
	}
	return auth_add(a, redis_from_conf(c, o->base, o->shared.redis, err, errlen));
#else
	(void)a;
	(void)c;
	(void)o;
	/* conf refuses redis = true in such a build already. */
	snprintf(err, errlen, "option 'redis': this turnd was built without Redis support");
	return -1;
#endif
}

/* The chain of c; Redis only when with_redis. */
static struct auth *chain_new(const struct conf *c, const struct chain_opts *o, char *err,
			      size_t errlen)
{
	struct auth *a;

	if (!c || !c->realm) {
		snprintf(err, errlen, "authentication: no realm configured");
		return NULL;
	}
	a = auth_new();
	if (!a) {
		snprintf(err, errlen, "authentication: out of memory");
		return NULL;
	}
	if (c->n_users &&
	    auth_add(a, auth_static_new(c->users, c->n_users, c->realm, err, errlen)) < 0)
		goto fail;
	/* The cast only adds const: conf owns the strings and they are not
	 * modified. */
	if (c->n_secrets && auth_add(a, auth_secret_new((const char *const *)c->secrets,
							c->n_secrets, c->realm, err, errlen)) < 0)
		goto fail;
	if (o->with_redis && c->redis.enabled && add_redis(a, c, o, err, errlen) < 0)
		goto fail;
	if (o->with_redis && c->auth_http.url && add_http(a, c, o, err, errlen) < 0)
		goto fail;
	return a;
fail:
	/* The constructors wrote err; auth_add fails only for a full chain,
	 * which three backends cannot fill. */
	auth_free(a);
	return NULL;
}

struct auth *auth_new_for_worker(const struct conf *c, struct event_base *base,
				 const struct auth_shared *shared, char *err, size_t errlen)
{
	struct chain_opts o = { .with_redis = true, .base = base };

	if (shared)
		o.shared = *shared;
	return chain_new(c, &o, err, errlen);
}

struct auth *auth_new_local(const struct conf *c, char *err, size_t errlen)
{
	const struct chain_opts o = { .with_redis = false };

	return chain_new(c, &o, err, errlen);
}

int auth_move_backend(struct auth *to, struct auth *from, const char *name)
{
	size_t i = 0;

	while (from && i < from->n && strcmp(from->backends[i]->ops->name, name) != 0)
		i++;
	if (!from || i == from->n)
		return 0;
	if (!to || to->n == AUTH_MAX_BACKENDS)
		return -1;
	to->backends[to->n++] = from->backends[i];
	memmove(&from->backends[i], &from->backends[i + 1],
		(from->n - i - 1) * sizeof(from->backends[0]));
	from->n--;
	return 1;
}

struct auth *auth_new_from_conf(const struct conf *c, char *err, size_t errlen)
{
	return auth_new_for_worker(c, NULL, NULL, err, errlen);
}

bool auth_username_valid(const uint8_t *name, size_t len)
{
	if (!name || len == 0 || len > AUTH_USERNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] == 0x7F)
			return false;
	return stun_utf8_valid(name, len);
}

/* Exactly one of username and userhash, and a username a client could
 * have sent. */
static bool query_valid(const struct auth_query *q)
{
	if (q->username && q->userhash)
		return false;
	if (q->userhash)
		return true;
	return auth_username_valid(q->username, q->len);
}

/* A backend's claim of AUTH_FOUND must come with usable keys and a name
 * that fits; anything else is a backend bug, reported as an error rather
 * than a credential nobody can match. */
static bool credential_sane(const struct auth_credential *c)
{
	return c->n_keys >= 1 && c->n_keys <= AUTH_MAX_KEYS &&
	       c->username_len <= AUTH_USERNAME_MAX && c->username[c->username_len] == '\0';
}

int auth_query_lookup(struct auth *a, const struct auth_query *q, struct auth_credential *out)
{
	bool failed = false;

	if (!a || !q || !out)
		return AUTH_ERROR;
	auth_credential_clear(out);
	if (!query_valid(q))
		return AUTH_NOT_FOUND;
	for (size_t i = 0; i < a->n; i++) {
		struct auth_backend *b = a->backends[i];
		int rc = b->ops->lookup(b, q, out);

		if (rc == AUTH_FOUND && credential_sane(out)) {
			out->backend = b->ops->name;
			return AUTH_FOUND;
		}
		auth_credential_clear(out);
		/* A later backend must not answer for a name an earlier one
		 * may still claim: wait for it. */
		if (rc == AUTH_PENDING && q->done)
			return AUTH_PENDING;
		if (rc != AUTH_NOT_FOUND)
			failed = true;
	}
	return failed ? AUTH_ERROR : AUTH_NOT_FOUND;
}

void auth_confirm(struct auth *a, const struct auth_credential *c)
{
	for (size_t i = 0; a && c && c->unconfirmed && c->backend && i < a->n; i++) {
		struct auth_backend *b = a->backends[i];

		if (strcmp(b->ops->name, c->backend) == 0 && b->ops->confirm)
			b->ops->confirm(b, c);
	}
}

int auth_lookup(struct auth *a, const uint8_t *username, size_t len, uint64_t now_s,
		struct auth_credential *out)
{
	const struct auth_query q = {
		.username = username,
		.len = len,
		.now_s = now_s,
	};

	/* A NULL username would read as a USERHASH query with no hash. */
	if (!username) {
		if (out)
			auth_credential_clear(out);
		return AUTH_NOT_FOUND;
	}
	return auth_query_lookup(a, &q, out);
}

int auth_lookup_userhash(struct auth *a, const uint8_t hash[STUN_USERHASH_LEN], uint64_t now_s,
			 struct auth_credential *out)
{
	const struct auth_query q = {
		.userhash = hash,
		.now_s = now_s,
	};

	if (!hash) {
		if (out)
			auth_credential_clear(out);
		return AUTH_NOT_FOUND;
	}
	return auth_query_lookup(a, &q, out);
}


void auth_credential_clear(struct auth_credential *c)
{
	if (c)
		OPENSSL_cleanse(c, sizeof(*c));
}

/* Bytes that go into a log line as they are. */
static bool byte_plain(uint8_t c)
{
	return c >= 0x20 && c < 0x7F && c != '\\' && c != '"';
}

static size_t escaped_len(const uint8_t *in, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += byte_plain(in[i]) ? 1 : 4;
	return n;
}

char *auth_username_printable(const uint8_t *in, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	bool fits;
	size_t limit, o = 0;

	if (!out || cap == 0)
		return out;
	if (!in)
		len = 0;
	/* Room for the whole text, or for as much as fits before "...". */
	fits = escaped_len(in, len) < cap;
	limit = fits ? cap - 1 : cap > 3 ? cap - 4 : 0;
	for (size_t i = 0; i < len; i++) {
		bool plain = byte_plain(in[i]);

		if (o + (plain ? 1 : 4) > limit)
			break;
		if (plain) {
			out[o++] = (char)in[i];
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 0x0F];
	}
	for (int dots = 0; !fits && dots < 3 && o < cap - 1; dots++)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}
