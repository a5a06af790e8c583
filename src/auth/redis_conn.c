/*
 * One connection to Redis on a bufferevent (redis_conn.h).
 *
 * Why not hiredis's own async connection: the hiredis of Debian 12 (0.14)
 * has no TLS, and Redis 7 does. So the bytes move through libevent
 * (bufferevent_socket_new, or bufferevent_openssl_socket_new for TLS, on
 * the worker's event base), and hiredis only encodes the commands and
 * parses the answers.
 *
 * Re-entrancy, the one subtle part: a reply callback may free the
 * connection (the backend resets it on a handshake error) or send more
 * commands on it. A free asked for from inside a callback is carried out
 * when the callback returns; until then nothing else is dispatched.
 */
#include "auth/redis_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#define WHY_MAX 192

/* A command sent and not yet answered. */
struct pending {
	struct pending *next;
	redis_conn_reply_fn *fn;
	void *arg;
};

struct redis_conn {
	struct bufferevent *bev;
	redisReader *reader;
	struct pending *head, *tail; /* in the order the commands were sent */
	redis_conn_closed_fn *closed; /* NULL once the owner let go */
	void *arg;
	bool tls;
	bool answered; /* a reply has come */
	unsigned depth; /* reply callbacks of this connection running now */
	bool free_asked; /* redis_conn_free from inside one of them */
	bool closing; /* failing what waits; freed next */
};

union conn_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
};

/* ------------------------------------------------------------------------
 * Closing.
 */

/* Every command still waiting gets its NULL reply, then c goes. */
static void conn_destroy(struct redis_conn *c)
{
	struct pending *p;

	c->closing = true;
	while ((p = c->head)) {
		c->head = p->next;
		if (p->fn)
			p->fn(c, NULL, p->arg);
		free(p);
	}
	c->tail = NULL;
	/* libevent closes the socket (and frees the SSL) itself. */
	bufferevent_free(c->bev);
	redisReaderFree(c->reader);
	free(c);
}

/* The connection failed under us (never from inside a reply callback):
 * tell the owner first, so that what the NULL replies trigger does not
 * send on c. */
static void conn_fail(struct redis_conn *c, const char *why)
{
	redis_conn_closed_fn *closed = c->closed;

	c->closed = NULL;
	c->closing = true;
	if (closed)
		closed(c, why, c->arg);
	conn_destroy(c);
}

void redis_conn_free(struct redis_conn *c)
{
	if (!c || c->closing)
		return;
	c->closed = NULL;
	if (c->depth > 0) {
		c->free_asked = true;
		return;
	}
	conn_destroy(c);
}

/* ------------------------------------------------------------------------
 * Reading.
 */

/* Hand each complete answer to the command it answers, in order. */
static void conn_dispatch(struct redis_conn *c)
{
	char why[WHY_MAX];
	void *reply;

	for (;;) {
		struct pending *p;

		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
			snprintf(why, sizeof(why), "protocol error: %.128s", c->reader->errstr);
			conn_fail(c, why);
			return;
		}
		if (!reply)
			return;
		p = c->head;
		if (!p) {
			freeReplyObject(reply);
			conn_fail(c, "protocol error: an answer to no command");
			return;
		}
		c->head = p->next;
		if (!c->head)
			c->tail = NULL;
		c->answered = true;
		if (p->fn) {
			c->depth++;
			p->fn(c, reply, p->arg);
			c->depth--;
		}
		freeReplyObject(reply);
		free(p);
		if (c->free_asked) {
			conn_destroy(c);
			return;
		}
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct redis_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	while ((n = evbuffer_get_contiguous_space(in)) > 0) {
		const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);

		if (redisReaderFeed(c->reader, data, n) != REDIS_OK) {
			conn_fail(c, "out of memory");
			return;
		}
		evbuffer_drain(in, n);
	}
	conn_dispatch(c);
}

/* Why the connection failed, for the log: OpenSSL's reason when TLS
 * failed (the certificate's verification result first), else errno's. */
static void conn_error(struct redis_conn *c, char *why, size_t cap)
{
	int e = EVUTIL_SOCKET_ERROR();
	unsigned long ssl_err = 0, next;
	const char *reason = NULL;

	if (c->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

		/* Newest first, so the last one popped is the cause; libevent
		 * also keeps SSL_get_error's code, which is no OpenSSL error. */
		while ((next = bufferevent_get_openssl_error(c->bev)) != 0)
			if (ERR_GET_LIB(next) != 0)
				ssl_err = next;
		if (verify != X509_V_OK) {
			snprintf(why, cap, "TLS: certificate verify failed: %s",
				 X509_verify_cert_error_string(verify));
			return;
		}
		if (ssl_err) {
			reason = ERR_reason_error_string(ssl_err);
			snprintf(why, cap, "TLS: %s", reason ? reason : "error");
			return;
		}
	}
	snprintf(why, cap, "%s", e ? evutil_socket_error_to_string(e) : "connection failed");
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct redis_conn *c = arg;
	char why[WHY_MAX];

	(void)bev;
	/* Connected (and past the TLS handshake): the answers to the
	 * owner's handshake are what counts. */
	if (what & BEV_EVENT_CONNECTED)
		return;
	/* Over TLS, Redis closing before its first answer is most often a
	 * client certificate it wanted (tls-auth-clients) and did not get. */
	if ((what & BEV_EVENT_EOF) && c->tls && !c->answered)
		snprintf(why, sizeof(why),
			 "closed by Redis before answering: a client certificate missing or "
			 "refused?");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by Redis");
	else
		conn_error(c, why, sizeof(why));
	conn_fail(c, why);
}

/* ------------------------------------------------------------------------
 * Connecting.
 */

static int conn_addr_of(const struct redis_conn_options *o, union conn_addr *a, int *len)
{
	memset(a, 0, sizeof(*a));
	if (o->socket) {
		size_t n = strlen(o->socket);

		if (n == 0 || n >= sizeof(a->un.sun_path))
			return -1;
		a->un.sun_family = AF_UNIX;
		memcpy(a->un.sun_path, o->socket, n + 1);
		*len = (int)sizeof(a->un);
		return 0;
	}
	if (o->host && inet_pton(AF_INET, o->host, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(o->port);
		*len = (int)sizeof(a->in4);
		return 0;
	}
	if (o->host && inet_pton(AF_INET6, o->host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(o->port);
		*len = (int)sizeof(a->in6);
		return 0;
	}
	return -1;
}

/* An SSL for one connection: the certificate must name name, an IP
 * address (checked against the iPAddress entries; no SNI, which RFC 6066
 * section 3 does not allow for an address) or a DNS name (also sent as
 * SNI). */
static SSL *conn_ssl(SSL_CTX *ctx, const char *name)
{
	SSL *ssl = SSL_new(ctx);
	uint8_t buf[16];
	bool ip;

	if (!ssl || !name)
		goto fail;
	ip = inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
	if (ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
			goto fail;
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1)
			goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* The socket libevent made: not inherited by what the server may exec,
 * and, for TCP, commands leave at once (they are small and pipelined). */
static void conn_tune(struct redis_conn *c, bool tcp)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int one = 1;

	if (fd < 0)
		return;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (tcp)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct bufferevent *conn_bev(const struct redis_conn_options *o, char *err, size_t errlen)
{
	const int opts = BEV_OPT_CLOSE_ON_FREE;
	struct bufferevent *bev;
	SSL *ssl;

	if (!o->tls || o->socket) {
		bev = bufferevent_socket_new(o->base, -1, opts);
		if (!bev)
			snprintf(err, errlen, "out of memory");
		return bev;
	}
	ssl = conn_ssl(o->tls, o->tls_server_name ? o->tls_server_name : o->host);
	if (!ssl) {
		snprintf(err, errlen, "TLS: cannot set up the server name check");
		return NULL;
	}
	/* On failure (out of memory) libevent 2.1 may or may not have freed
	 * ssl already: a leak then is better than a double free. */
	bev = bufferevent_openssl_socket_new(o->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
	if (!bev) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* A Redis that closes without close_notify has still closed. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct redis_conn *redis_conn_new(const struct redis_conn_options *o, char *err, size_t errlen)
{
	union conn_addr a;
	struct redis_conn *c;
	int len;

	if (conn_addr_of(o, &a, &len) < 0) {
		snprintf(err, errlen, "%s",
			 o->socket ? "the socket path is too long" : "not a numeric IP address");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->reader = redisReaderCreate())) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return NULL;
	}
	c->closed = o->closed;
	c->arg = o->arg;
	c->tls = o->tls && !o->socket;
	c->bev = conn_bev(o, err, errlen);
	if (!c->bev) {
		redisReaderFree(c->reader);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	/* Refused at once is reported later, from the loop, as an event. */
	if (bufferevent_socket_connect(c->bev, &a.sa, len) < 0) {
		snprintf(err, errlen, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		c->closed = NULL;
		conn_destroy(c);
		return NULL;
	}
	conn_tune(c, !o->socket);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0) {
		snprintf(err, errlen, "cannot watch the socket");
		c->closed = NULL;
		conn_destroy(c);
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------------------
 * Writing.
 */

int redis_conn_command(struct redis_conn *c, redis_conn_reply_fn *fn, void *arg, int argc,
		       const char **argv, const size_t *lens)
{
	struct pending *p;
	char *cmd = NULL;
	int len;

	if (c->closing || c->free_asked)
		return -1;
	len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0)
		return -1;
	p = malloc(sizeof(*p));
	if (!p || bufferevent_write(c->bev, cmd, (size_t)len) < 0) {
		free(p);
		redisFreeCommand(cmd);
		return -1;
	}
	redisFreeCommand(cmd);
	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	if (c->tail)
		c->tail->next = p;
	else
		c->head = p;
	c->tail = p;
	return 0;
}

/* ------------------------------------------------------------------------
 * TLS settings.
 */

/* An encrypted key would make OpenSSL ask for its passphrase on the
 * terminal: refuse it instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

/* "<option> '<path>': <why>": errno's reason when the file cannot be
 * opened, else OpenSSL's. */
static void tls_file_error(const char *opt, const char *path, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_error(); /* the first: the cause */
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	FILE *fp = fopen(path, "r");

	if (!fp)
		reason = strerror(errno);
	else
		fclose(fp);
	snprintf(err, errlen, "%s '%s': %s", opt, path, reason ? reason : "not valid");
	ERR_clear_error();
}

SSL_CTX *redis_tls_new(const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "TLS: cannot create a context");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		tls_file_error("redis-tls-ca", ca, err, errlen);
		goto fail;
	}
	if (!ca && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "TLS: cannot load the system's certificate store");
		goto fail;
	}
	if (cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_file_error("redis-tls-cert", cert, err, errlen);
		goto fail;
	}
	if (key && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_file_error("redis-tls-key", key, err, errlen);
		goto fail;
	}
	if (cert && key && SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "redis-tls-key '%s' is not the key of redis-tls-cert '%s'",
			 key, cert);
		goto fail;
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}
