/*
 * The Redis backend's connection (auth_redis_int.h): one per worker
 * (redis_conn.c: TCP, a unix socket or TLS, on the worker's event base).
 *
 * Faults (SECURITY.md, "Faults: nothing lost"): the loop never waits on
 * Redis. A lookup is sent only on a connection that has answered its
 * handshake (AUTH, SELECT, PING). Reconnects wait 100 ms, doubling to
 * 10 s, and the wait is reset only by an answered lookup, so a Redis that
 * accepts connections but never answers is not retried in a tight loop.
 *
 * TLS (redis-tls): the certificate is checked against redis-tls-ca and
 * must name redis-tls-server-name (default: redis-host). A connection
 * that fails it is one more failed attempt: retried with the same
 * back-off, logged once, and lookups fail closed meanwhile.
 */
#include "auth/auth_redis_int.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "auth/redis_conn.h"
#include "util/log.h"

static void conn_start(struct auth_redis *r);

static void log_lost(const struct auth_redis *r, bool was_ready, const char *why)
{
	if (was_ready)
		log_warn("redis %s: connection lost (%s); cached users keep working, others are "
			 "refused until it is back",
			 r->where, why);
	else if (r->failures == 0)
		log_warn("redis %s: cannot connect (%s); retrying with back-off", r->where, why);
	else
		log_info("redis %s: cannot connect (%s); retrying in %u ms", r->where, why,
			 r->backoff_ms);
}

void auth_redis_conn_lost(struct auth_redis *r, const char *why)
{
	bool was_ready = r->state == AUTH_REDIS_READY;
	struct timeval tv = auth_redis_tv(r->backoff_ms);

	r->conn = NULL;
	r->state = AUTH_REDIS_DOWN;
	if (r->freeing)
		return;
	event_del(r->connect_ev);
	log_lost(r, was_ready, why);
	r->failures++;
	evtimer_add(r->retry_ev, &tv);
	r->backoff_ms = r->backoff_ms >= AUTH_REDIS_BACKOFF_MAX_MS / 2 ? AUTH_REDIS_BACKOFF_MAX_MS
								       : 2 * r->backoff_ms;
}

/* The callbacks of the commands still unanswered run with no reply (now,
 * or when the reply callback we may be in returns), which fails their
 * fetches. */
void auth_redis_conn_reset(struct auth_redis *r, const char *why)
{
	struct redis_conn *c = r->conn;

	if (!c)
		return;
	auth_redis_conn_lost(r, why);
	redis_conn_free(c);
}

static void on_handshake(struct redis_conn *c, struct redisReply *rep, void *priv)
{
	struct auth_redis *r = priv;
	char why[160];

	if (r->freeing || c != r->conn)
		return;
	/* No reply: the connection is going (on_closed has said why). */
	if (!rep) {
		auth_redis_conn_lost(r, "connection closed");
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		/* Redis's own message ("WRONGPASS ...") never holds the
		 * password. */
		snprintf(why, sizeof(why), "handshake: %.100s", rep->str);
		auth_redis_conn_reset(r, why);
		return;
	}
	if (--r->handshake_left > 0)
		return;
	r->state = AUTH_REDIS_READY;
	r->epoch++;
	r->failures = 0;
	event_del(r->connect_ev);
	log_notice("redis %s: connected%s", r->where, r->tls ? " (TLS)" : "");
}

/* One handshake command of argc NUL-terminated strings. */
static int handshake_one(struct auth_redis *r, int argc, const char **argv)
{
	size_t lens[3];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (redis_conn_command(r->conn, on_handshake, r, argc, argv, lens) < 0)
		return -1;
	r->handshake_left++;
	return 0;
}

/* AUTH [user] password, SELECT db, PING: queued at once (sent when the
 * connection, and TLS, is up); ready when the last one answers, so a
 * Redis that accepts connections but does not answer is never "up". */
static int handshake_send(struct auth_redis *r)
{
	const char *argv[3];
	char db[24];
	int argc = 0;

	r->handshake_left = 0;
	if (r->o.password) {
		argv[argc++] = "AUTH";
		if (r->o.user)
			argv[argc++] = r->o.user;
		argv[argc++] = r->o.password;
		if (handshake_one(r, argc, argv) < 0)
			return -1;
	}
	if (r->o.db) {
		snprintf(db, sizeof(db), "%u", r->o.db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (handshake_one(r, 2, argv) < 0)
			return -1;
	}
	argv[0] = "PING";
	return handshake_one(r, 1, argv);
}

/* The connection failed (refused, TLS, closed by Redis); it frees itself
 * after this returns. */
static void on_closed(struct redis_conn *c, const char *why, void *arg)
{
	struct auth_redis *r = arg;

	if (!r->freeing && c == r->conn)
		auth_redis_conn_lost(r, why);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct auth_redis *r = arg;
	char why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no answer in %u ms", r->o.connect_timeout_ms);
	auth_redis_conn_reset(r, why);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_start(arg);
}

/* Start a connection; on any failure the retry timer is armed instead.
 * Runs from the event loop only (on_retry), never inside a lookup. */
static void conn_start(struct auth_redis *r)
{
	struct timeval tv = auth_redis_tv(r->o.connect_timeout_ms);
	const struct redis_conn_options co = {
		.base = r->evb,
		.host = r->o.host,
		.port = r->o.port,
		.socket = r->o.socket,
		.tls = r->tls,
		.tls_server_name = r->o.tls_server_name ? r->o.tls_server_name : r->o.host,
		.closed = on_closed,
		.arg = r,
	};
	char why[128];

	r->conn = redis_conn_new(&co, why, sizeof(why));
	if (!r->conn) {
		auth_redis_conn_lost(r, why);
		return;
	}
	r->state = AUTH_REDIS_CONNECTING;
	if (handshake_send(r) < 0) {
		auth_redis_conn_reset(r, "cannot queue the handshake");
		return;
	}
	evtimer_add(r->connect_ev, &tv);
}

/* The first connection is made by the loop that will use it: the worker's
 * thread, not the one building the chain. Redis down now is not an
 * error; the backend keeps trying. */
int auth_redis_conn_init(struct auth_redis *r)
{
	static const struct timeval now = {0, 0};

	r->backoff_ms = AUTH_REDIS_BACKOFF_MIN_MS;
	r->retry_ev = evtimer_new(r->evb, on_retry, r);
	r->connect_ev = evtimer_new(r->evb, on_connect_timeout, r);
	if (!r->retry_ev || !r->connect_ev)
		return -1;
	return evtimer_add(r->retry_ev, &now) < 0 ? -1 : 0;
}

/* Freeing the connection runs the callbacks of unanswered commands,
 * which free their fetches without calling done (auth.h): r->freeing is
 * set by then. */
void auth_redis_conn_fini(struct auth_redis *r)
{
	if (r->conn) {
		struct redis_conn *c = r->conn;

		r->conn = NULL;
		redis_conn_free(c);
	}
	SSL_CTX_free(r->tls);
	if (r->retry_ev)
		event_free(r->retry_ev);
	if (r->connect_ev)
		event_free(r->connect_ev);
}
