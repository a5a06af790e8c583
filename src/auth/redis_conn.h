/*
 * One connection to Redis on a libevent event base: TCP, a unix socket,
 * or TLS (bufferevent_openssl). hiredis is only the codec here: commands
 * are encoded with redisFormatCommandArgv (argv form, never a format
 * string) and answers parsed with a redisReader, so the replies handed
 * out are hiredis's struct redisReply. Redis answers in order, so the
 * reply callbacks wait in a FIFO: reply N answers command N.
 *
 * Used by the Redis credential backend (auth_redis.c), which owns the
 * policy: handshake, timeouts, back-off. This file only moves bytes.
 */
#ifndef TURND_AUTH_REDIS_CONN_H
#define TURND_AUTH_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct event_base;
struct redisReply;
struct redis_conn;

/* The answer to one command, or rep NULL when the connection went before
 * it came (closed, failed, or freed). rep belongs to the connection and
 * is freed when the callback returns. */
typedef void redis_conn_reply_fn(struct redis_conn *c, struct redisReply *rep, void *arg);

/* The connection failed or the other end closed it; why is for a log
 * line. Called before the commands still waiting get their NULL reply,
 * and c is freed right after: forget it, do not free it. */
typedef void redis_conn_closed_fn(struct redis_conn *c, const char *why, void *arg);

struct redis_conn_options {
	struct event_base *base;
	const char *host; /* numeric IP address; unused when socket is set */
	uint16_t port;
	const char *socket; /* unix socket path, or NULL */
	SSL_CTX *tls; /* NULL: no TLS; else from redis_tls_new (not with socket) */
	const char *tls_server_name; /* IP address or DNS name the certificate must name */
	redis_conn_closed_fn *closed;
	void *arg; /* for closed */
};

/*
 * Start connecting (non-blocking; nothing is resolved). Commands may be
 * sent at once: they go out once the connection (and the TLS handshake)
 * is up. Returns a connection owned by the caller, or NULL with the
 * reason in err. No callback is ever called from inside this function.
 */
struct redis_conn *redis_conn_new(const struct redis_conn_options *o, char *err, size_t errlen);

/*
 * Queue one command in argv form; fn(c, reply, arg) follows from the event
 * loop, never from inside this call. fn may be NULL (no answer wanted).
 * Returns 0, or -1 (out of memory, or the connection is closing): fn is
 * then not called.
 */
int redis_conn_command(struct redis_conn *c, redis_conn_reply_fn *fn, void *arg, int argc,
		       const char **argv, const size_t *lens);

/*
 * Close c: every command still waiting gets its NULL reply (now, or, when
 * called from inside one of c's reply callbacks, as soon as that callback
 * returns), and closed is not called. redis_conn_free(NULL) is a no-op.
 */
void redis_conn_free(struct redis_conn *c);

/*
 * The TLS settings of every connection of one backend: TLS 1.2 or later,
 * the server's certificate verified against the PEM bundle ca (NULL: the
 * system's store), and, when cert is set, the client certificate chain
 * cert with its key (Redis's tls-auth-clients). The files are read now:
 * a missing or bad one is an error here, with its name in err. Returns a
 * context owned by the caller (SSL_CTX_free), or NULL.
 */
SSL_CTX *redis_tls_new(const char *ca, const char *cert, const char *key, char *err, size_t errlen);

#endif
