/*
 * TURN over TLS and DTLS (RFC 8656 section 3, RFC 7350): the certificate
 * and key from the configuration in SSL_CTXs that every worker shares and
 * that SIGHUP replaces, TLS on each worker's own listener of the TLS port
 * (tcp.c then frames STUN and ChannelData as on plain TCP), and DTLS on
 * each worker's own UDP socket of that port (dtls.c).
 */
#ifndef TURND_NET_TLS_H
#define TURND_NET_TLS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "net/path.h"
#include "util/addr.h"

struct net_worker;
struct udp_sock;
struct bufferevent;
struct event_base;
struct turn_tuple;
struct dtls_session;

/* Key of the DTLS cookies (RFC 6347 section 4.2.1). */
#define TLS_COOKIE_KEY_LEN 32

/* Shared by every worker. The contexts are replaced whole on reload; a
 * worker takes a reference under the lock when it needs one (a TLS
 * accept, a new DTLS listener object), never per packet. */
struct tls_shared {
	pthread_mutex_t lock;
	const struct conf *conf;
	SSL_CTX *tls;  /* NULL when TLS is off */
	SSL_CTX *dtls; /* NULL when DTLS is off */
	atomic_uint generation; /* bumped by every successful reload */
	BIO_METHOD *dgram_method; /* dtls.c's datagram BIO */
	uint8_t cookie_key[TLS_COOKIE_KEY_LEN]; /* random, for this process */
	bool lock_ready;
};

/* Whether the configuration turns TLS / DTLS on anywhere (cert, pkey, and
 * tls-listening-port with no-tls / no-dtls, or a listener asking for it). */
bool tls_enabled(const struct conf *c);
bool tls_dtls_enabled(const struct conf *c);
/* Whether TLS / DTLS listen on tls-listening-port. */
bool tls_on_port(const struct conf *c);
bool tls_dtls_on_port(const struct conf *c);

/* Load cert and pkey into new contexts and say, once, what listens.
 * Returns 0, or -1 with a message naming the file in err. ts is ready
 * for tls_shared_fini either way. */
int tls_shared_init(struct tls_shared *ts, const struct conf *c, char *err, size_t errlen);
/* SIGHUP: load the files c names (the reloaded configuration's cert and
 * pkey; c may be freed afterwards) into new contexts for new connections.
 * Which of TLS and DTLS is on follows c's listeners (the tls-listening-port
 * ones stay as at start, pinned). Returns 1 reloaded, 0
 * nothing to reload (TLS and DTLS off), -1 refused (the old contexts
 * stay) with the reason in err. Main thread. */
int tls_shared_reload(struct tls_shared *ts, const struct conf *c, char *err, size_t errlen);
/* A reference to the current context (the caller SSL_CTX_free's it), or
 * NULL when off; *generation (may be NULL) tells which load it is. */
SSL_CTX *tls_shared_ctx(struct tls_shared *ts, bool dtls, unsigned *generation);
void tls_shared_fini(struct tls_shared *ts);

/* The configuration's TLS policy (tls-min-version, cipher-list,
 * ciphersuites, ecdh-curves, ca-file, client-cert) on ctx, a TLS or (dtls)
 * a DTLS server context (tls_policy.c). 0, or -1 with a message naming
 * the option in err. */
int tls_policy_apply(SSL_CTX *ctx, const struct conf *c, bool dtls, char *err, size_t errlen);
/* The policy in one line, for the log. */
void tls_policy_describe(const struct conf *c, char *buf, size_t len);

/* DTLS cookies: an HMAC of the client's address and the time under the
 * process's key; a cookie is good for one to two minutes. */
void tls_cookie_make(const struct tls_shared *ts, const struct turn_addr *client,
		     uint64_t period, uint8_t out[TLS_COOKIE_KEY_LEN]);


/* A server-side TLS bufferevent on an accepted socket, handshake started;
 * NULL on failure (fd is then closed). */
struct bufferevent *tls_bufferevent_new(struct net_worker *w, int fd);
/* Why the TLS handshake or the connection failed, for a log line. */
const char *tls_bufferevent_error(struct bufferevent *bev, char *buf, size_t len);

/* Log what TLS and DTLS did, summed over the workers (at stop). */
struct net_stats;
void tls_log_totals(const struct conf *c, const struct net_stats *sum);

/* ---- DTLS (dtls.c) ---- */

/* The DTLS parts of a new context: cookie callbacks. */
void dtls_ctx_init(SSL_CTX *ctx);

/* Make s (already open on the TLS port) a DTLS socket. 0 or -1. */
int dtls_listener_attach(struct net_worker *w, struct udp_sock *s);
/* Free every session (their allocations go with them) and the listener. */
void dtls_listener_free(struct udp_sock *s);
/* One datagram that arrived on the DTLS socket s from tuple->client. */
void dtls_input(struct udp_sock *s, const uint8_t *pkt, size_t len, const struct turn_tuple *tuple);
/* Encrypt buf as one record to the session's client; dropped and counted
 * when the session cannot send. */
void dtls_session_send(struct dtls_session *d, const uint8_t *buf, size_t len);
/* The way back to a DTLS client (net/path.h): t is its session. */
extern const struct net_path_ops dtls_path_ops;
/* Once a second: retransmit handshakes, close the stale. */
void dtls_tick(struct net_worker *w, uint64_t now_ms);

#endif
