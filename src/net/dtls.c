/*
 * TURN over DTLS 1.2 (RFC 7350, RFC 8656 section 3): one UDP socket per
 * worker on the TLS port (SO_REUSEPORT keeps a client on one worker).
 *
 * A datagram from an address without a session goes to the worker's one
 * listening SSL object and DTLSv1_listen: a ClientHello without a valid
 * cookie is answered with a HelloVerifyRequest whose cookie is an HMAC of
 * the client's address (RFC 6347 section 4.2.1), and nothing is kept, so
 * a flood of ClientHellos from spoofed addresses costs no memory. When a
 * ClientHello returns a valid cookie, that SSL object becomes the client's
 * session and the worker takes a fresh one for listening.
 *
 * The SSL objects read and write through a datagram BIO of ours: it reads
 * the datagram being handled (recvmmsg's buffer) and writes each record as
 * one datagram into the socket's sendmmsg batch. Decrypted records are
 * STUN messages or ChannelData, handled like UDP ones (worker_process);
 * everything the core sends back, and what relays send to the client,
 * goes through dtls_session_send.
 */
#include "net/tls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "io/clock.h"
#include "net/conn_gate.h"
#include "net/net_worker.h"
#include "util/log.h"

/* Sessions count against max-connections-per-ip and max-connections,
 * over every worker (conn_gate.h), from when their cookie comes back: a
 * client past either is not answered. The handshake and the first STUN
 * message must be done within first-message-timeout, and an allocation
 * made within max-allocate-timeout (of the session's start or its last
 * allocation's end); datagrams extend neither. A session with an
 * allocation lives as long as the allocation. */
#define DTLS_BUCKETS 1024
/* Record bytes per datagram while handshaking (the certificate chain is
 * cut to fit): fits the IPv6 minimum MTU of 1280 with its headers. */
#define DTLS_MTU 1200
/* A cookie is good in the period it was made and the next one. */
#define DTLS_COOKIE_PERIOD_MS 60000

/* Where the datagram BIO of one SSL object reads and writes. */
struct dtls_link {
	struct udp_sock *s;
	struct turn_tuple tuple; /* of the client, or of the datagram being listened to */
	const uint8_t *in;       /* the datagram being handled, or NULL */
	size_t in_len;
	bool peek; /* DTLSv1_listen reads without consuming */
};

struct dtls_session {
	struct dtls_link link; /* the SSL's app data */
	SSL *ssl;
	struct dtls_listener *l;
	LIST_ENTRY(dtls_session) bucket;
	LIST_ENTRY(dtls_session) all;
	uint64_t created_ms, last_ms;
	uint64_t unheld_ms; /* created, or its last allocation ended */
	unsigned holds; /* relays of allocations that send through it */
	bool established;
	bool first_message; /* a whole STUN message came */
};

LIST_HEAD(dtls_list, dtls_session);

struct dtls_listener {
	struct dtls_link link;
	struct net_worker *w;
	SSL *ssl;            /* DTLSv1_listen's; becomes the next session */
	unsigned generation; /* of its context: a reload makes a new one */
	BIO_ADDR *peer;
	uint32_t seed;
	struct dtls_list sessions;
	struct dtls_list buckets[DTLS_BUCKETS];
	uint8_t plain[WORKER_SLOT]; /* a decrypted record */
};

/* ---- The datagram BIO ---- */

static int bio_write(BIO *b, const char *buf, int len)
{
	struct dtls_link *k = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (!k || len <= 0)
		return 0;
	/* Too big for a slot: lost, as a datagram may be. */
	if ((size_t)len > WORKER_SLOT) {
		k->s->w->stats.udp_send_errors++;
		return len;
	}
	memcpy(udp_out_slot(k->s), buf, (size_t)len);
	udp_out_push(k->s, (size_t)len, &k->tuple);
	return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct dtls_link *k = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (!k || !k->in || len <= 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	size_t n = k->in_len < (size_t)len ? k->in_len : (size_t)len;
	memcpy(buf, k->in, n);
	if (!k->peek)
		k->in = NULL;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct dtls_link *k = BIO_get_data(b);

	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_SET_PEEK_MODE:
		if (k)
			k->peek = num != 0;
		return 1;
	default:
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int bio_destroy(BIO *b)
{
	BIO_set_data(b, NULL);
	return 1;
}

static BIO *bio_new(struct tls_shared *ts, struct dtls_link *k)
{
	if (!ts->dgram_method) {
		/* Made by the first worker to attach, in the main thread. */
		BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
					     "turnd datagram");
		if (!m || !BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
		    !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
		    !BIO_meth_set_destroy(m, bio_destroy)) {
			BIO_meth_free(m);
			return NULL;
		}
		ts->dgram_method = m;
	}
	BIO *b = BIO_new(ts->dgram_method);
	if (b)
		BIO_set_data(b, k);
	return b;
}

/* ---- Cookies ---- */

static uint64_t cookie_period(void)
{
	return io_now_ms() / DTLS_COOKIE_PERIOD_MS;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	struct dtls_link *k = SSL_get_app_data(ssl);

	if (!k)
		return 0;
	tls_cookie_make(k->s->w->tls, &k->tuple.client, cookie_period(), cookie);
	*len = TLS_COOKIE_KEY_LEN;
	k->s->w->stats.dtls_hello_verify++;
	return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	struct dtls_link *k = SSL_get_app_data(ssl);
	uint8_t want[TLS_COOKIE_KEY_LEN];
	uint64_t now = cookie_period();

	if (!k || len != TLS_COOKIE_KEY_LEN)
		return 0;
	/* Made in this period or the one before. */
	for (int back = 0; back < 2 && back <= (int)(now > 0); back++) {
		tls_cookie_make(k->s->w->tls, &k->tuple.client, now - (uint64_t)back, want);
		if (CRYPTO_memcmp(want, cookie, len) == 0)
			return 1;
	}
	return 0;
}

void dtls_ctx_init(SSL_CTX *ctx)
{
	SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
	SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
}

/* ---- The listening SSL object ---- */

/* A fresh SSL object for DTLSv1_listen, on the current context. */
static int listener_renew(struct dtls_listener *l)
{
	struct tls_shared *ts = l->w->tls;

	SSL_free(l->ssl);
	l->ssl = NULL;
	SSL_CTX *ctx = tls_shared_ctx(ts, true, &l->generation);
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	SSL_CTX_free(ctx);
	BIO *b = ssl ? bio_new(ts, &l->link) : NULL;
	if (!b) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_bio(ssl, b, b);
	SSL_set_accept_state(ssl);
	/* Our BIO knows no path MTU: use a safe one. */
	SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU | SSL_OP_COOKIE_EXCHANGE);
	SSL_set_mtu(ssl, DTLS_MTU);
	SSL_set_app_data(ssl, &l->link);
	l->ssl = ssl;
	return 0;
}

int dtls_listener_attach(struct net_worker *w, struct udp_sock *s)
{
	struct dtls_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return -1;
	l->w = w;
	l->link.s = s;
	LIST_INIT(&l->sessions);
	for (size_t i = 0; i < DTLS_BUCKETS; i++)
		LIST_INIT(&l->buckets[i]);
	l->peer = BIO_ADDR_new();
	s->dtls = l;
	if (!l->peer || RAND_bytes((unsigned char *)&l->seed, sizeof(l->seed)) != 1 ||
	    listener_renew(l) < 0)
		return -1; /* udp_sock_close frees it */
	return 0;
}

/* ---- Sessions ---- */

static struct dtls_list *bucket_of(struct dtls_listener *l, const struct turn_tuple *t)
{
	uint32_t h = turn_addr_hash(&t->client, l->seed);

	return &l->buckets[turn_addr_hash(&t->local, h) % DTLS_BUCKETS];
}

static struct dtls_session *session_find(struct dtls_listener *l, const struct turn_tuple *t)
{
	struct dtls_session *d;

	LIST_FOREACH(d, bucket_of(l, t), bucket)
		if (turn_addr_eq(&d->link.tuple.client, &t->client) &&
		    turn_addr_eq(&d->link.tuple.local, &t->local))
			return d;
	return NULL;
}

static const char *peer_text(const struct dtls_session *d, char *buf, size_t len)
{
	return turn_addr_format(&d->link.tuple.client, true, buf, len);
}

static void log_failure(const struct dtls_session *d, const char *what)
{
	char a[TURN_ADDR_STRLEN], why[160];
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "no reason given");
	log_info("dtls: %s %s: %s", what, peer_text(d, a, sizeof(a)), why);
	ERR_clear_error();
}

/*
 * The session goes, and with it its allocation, as with a TCP connection
 * (RFC 8656 section 3.1): the relay sends through the session. notify:
 * tell the client with a close_notify alert.
 */
static void session_close(struct dtls_session *d, bool notify)
{
	struct dtls_listener *l = d->l;
	struct net_worker *w = l->w;

	ERR_clear_error();
	if (notify && d->established)
		SSL_shutdown(d->ssl);
	turn_server_client_closed(w->srv, &d->link.tuple);
	net_worker_path_gone(w, d);
	LIST_REMOVE(d, bucket);
	LIST_REMOVE(d, all);
	conn_gate_leave(w, &d->link.tuple.client);
	w->stats.dtls_open--;
	SSL_free(d->ssl);
	ERR_clear_error();
	free(d);
}

/* The listening SSL object has a verified ClientHello from t: it becomes
 * the session of t, still holding that datagram to handshake with. */
static struct dtls_session *session_adopt(struct dtls_listener *l, const struct turn_tuple *t,
					  const uint8_t *pkt, size_t len)
{
	struct net_worker *w = l->w;
	struct dtls_session *d = NULL;
	char a[TURN_ADDR_STRLEN];

	if (conn_gate_enter(w, &t->client, CONN_KIND_DTLS)) {
		d = calloc(1, sizeof(*d));
		if (!d)
			conn_gate_leave(w, &t->client);
	}
	if (!d) {
		w->stats.dtls_refused++;
		listener_renew(l); /* drops what it learnt of this client */
		return NULL;
	}
	d->l = l;
	d->ssl = l->ssl;
	l->ssl = NULL;
	d->link = (struct dtls_link){ .s = l->link.s, .tuple = *t, .in = pkt, .in_len = len };
	BIO_set_data(SSL_get_rbio(d->ssl), &d->link);
	SSL_set_app_data(d->ssl, &d->link);
	d->created_ms = d->last_ms = d->unheld_ms = io_now_ms();
	LIST_INSERT_HEAD(bucket_of(l, t), d, bucket);
	LIST_INSERT_HEAD(&l->sessions, d, all);
	w->stats.dtls_sessions++;
	w->stats.dtls_open++;
	log_info("dtls: new session with %s (cookie returned)", peer_text(d, a, sizeof(a)));
	listener_renew(l);
	return d;
}

/* One decrypted record: a STUN message or ChannelData, as over UDP. */
static void session_message(struct dtls_session *d, const uint8_t *msg, size_t len)
{
	struct net_path path = { &dtls_path_ops, d };

	if (len > 0 && (msg[0] & 0xC0) == 0) /* STUN, not ChannelData (RFC 8489 section 5) */
		d->first_message = true;
	net_worker_message(d->l->w, msg, len, &d->link.tuple, &path);
}

static bool want_more(SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* Handshake, then read every record the datagram held. Returns -1 when
 * the session is over (close_notify, a fatal alert or error). */
static int session_drive(struct dtls_session *d)
{
	struct dtls_listener *l = d->l;

	if (!d->established) {
		ERR_clear_error();
		int rc = SSL_do_handshake(d->ssl);
		if (rc <= 0) {
			if (want_more(d->ssl, rc))
				return 0;
			l->w->stats.dtls_failed++;
			log_failure(d, "handshake failed with");
			return -1;
		}
		d->established = true;
		const unsigned char *alpn = NULL;
		unsigned alpn_len = 0;
		char a[TURN_ADDR_STRLEN];
		SSL_get0_alpn_selected(d->ssl, &alpn, &alpn_len);
		log_info("dtls: session with %s established (%s, %s, ALPN %.*s)",
			 peer_text(d, a, sizeof(a)), SSL_get_version(d->ssl),
			 SSL_get_cipher_name(d->ssl), alpn_len ? (int)alpn_len : 4,
			 alpn_len ? (const char *)alpn : "none");
	}
	for (;;) {
		ERR_clear_error();
		int n = SSL_read(d->ssl, l->plain, sizeof(l->plain));
		if (n <= 0) {
			if (want_more(d->ssl, n))
				return 0;
			if (SSL_get_error(d->ssl, n) != SSL_ERROR_ZERO_RETURN)
				log_failure(d, "session ended with");
			return -1;
		}
		session_message(d, l->plain, (size_t)n);
	}
}

/* A DTLS handshake record of epoch 0 carrying a ClientHello: a client
 * starting over (RFC 6347 section 4.2.8) or the first flight. */
static bool is_client_hello(const uint8_t *p, size_t len)
{
	return len > 25 && p[0] == 22 && p[1] == 0xfe && p[3] == 0 && p[4] == 0 && p[13] == 1;
}

/* A datagram from an address without a session (or a ClientHello that
 * starts one over): answered statelessly until its cookie is good. */
static void listen_input(struct dtls_listener *l, const uint8_t *pkt, size_t len,
			 const struct turn_tuple *t, struct dtls_session *old)
{
	if (!is_client_hello(pkt, len))
		return; /* not a ClientHello, and no session: dropped */
	if (atomic_load(&l->w->tls->generation) != l->generation || !l->ssl) {
		if (listener_renew(l) < 0)
			return;
	}
	l->link.tuple = *t;
	l->link.in = pkt;
	l->link.in_len = len;
	ERR_clear_error();
	int rc = DTLSv1_listen(l->ssl, l->peer);
	ERR_clear_error();
	l->link.in = NULL;
	if (rc < 0)
		listener_renew(l);
	if (rc <= 0)
		return; /* a HelloVerifyRequest went out, or the datagram is dropped */
	if (old)
		session_close(old, false);
	struct dtls_session *d = session_adopt(l, t, pkt, len);
	if (!d)
		return;
	if (session_drive(d) < 0)
		session_close(d, false);
	else
		d->link.in = NULL;
}

void dtls_input(struct udp_sock *s, const uint8_t *pkt, size_t len, const struct turn_tuple *t)
{
	struct dtls_listener *l = s->dtls;
	struct dtls_session *d = session_find(l, t);

	if (!d || (d->established && is_client_hello(pkt, len))) {
		listen_input(l, pkt, len, t, d);
		return;
	}
	d->last_ms = io_now_ms();
	d->link.in = pkt;
	d->link.in_len = len;
	if (session_drive(d) < 0) {
		session_close(d, false);
		return;
	}
	d->link.in = NULL;
}

void dtls_session_send(struct dtls_session *d, const uint8_t *buf, size_t len)
{
	struct net_worker *w = d->l->w;

	if (!d->established || len > WORKER_SLOT) {
		w->stats.udp_send_errors++;
		return;
	}
	ERR_clear_error();
	if (SSL_write(d->ssl, buf, (int)len) <= 0) {
		w->stats.udp_send_errors++;
		ERR_clear_error();
	}
}

/* ---- The path to a DTLS client (net/path.h) ---- */

/* The worker's transmit area: free outside the UDP batches, and
 * SSL_write takes the message at once. */
static uint8_t *dtls_path_slot(void *t)
{
	struct dtls_session *d = t;

	return &d->l->w->tx[0][0];
}

static void dtls_path_send(void *t, const uint8_t *buf, size_t len, const struct turn_tuple *to)
{
	(void)to;
	dtls_session_send(t, buf, len);
}

static void dtls_path_push(void *t, size_t len, const struct turn_tuple *to)
{
	dtls_path_send(t, dtls_path_slot(t), len, to);
}

/* One record of a slot (dtls_session_send). */
static size_t dtls_path_cap(const void *t, const struct turn_tuple *to)
{
	(void)t;
	(void)to;
	return WORKER_SLOT;
}

/* The session stays while a relay sends through it, and so does its
 * socket when a reload retires it. */
static void dtls_path_hold(void *t)
{
	struct dtls_session *d = t;

	d->holds++;
	d->l->link.s->allocs++;
}

static void dtls_path_release(void *t, bool stopping)
{
	struct dtls_session *d = t;

	/* At the worker's end its sockets may be gone before its relays. */
	if (!stopping && d->l->link.s->allocs > 0)
		d->l->link.s->allocs--;
	if (d->holds > 0 && --d->holds == 0)
		d->unheld_ms = io_now_ms(); /* max-allocate-timeout starts again */
	d->last_ms = io_now_ms();
}

static bool dtls_path_retired(const void *t)
{
	const struct dtls_session *d = t;

	return d->l->link.s->retire != NULL;
}

const struct net_path_ops dtls_path_ops = {
	.kind = NET_PATH_DTLS,
	.slot_len = WORKER_SLOT,
	.slot = dtls_path_slot,
	.push = dtls_path_push,
	.send = dtls_path_send,
	.cap = dtls_path_cap,
	.hold = dtls_path_hold,
	.release = dtls_path_release,
	.retired = dtls_path_retired,
};

/* Closes d if it is past a deadline; true when it did. */
static bool session_overdue(struct dtls_session *d, uint64_t now)
{
	const struct conf *c = d->l->w->conf;
	struct net_stats *s = &d->l->w->stats;

	if (d->holds > 0)
		return false;
	if (!d->first_message && now - d->created_ms >= 1000ull * c->first_message_timeout_s) {
		s->conn_closed_first_message[CONN_KIND_DTLS]++;
		if (!d->established) {
			s->dtls_failed++;
			log_failure(d, "handshake timed out with");
		}
		session_close(d, d->established);
		return true;
	}
	if (now - d->unheld_ms >= 1000ull * c->max_allocate_timeout_s) {
		s->conn_closed_allocate_timeout[CONN_KIND_DTLS]++;
		session_close(d, true);
		return true;
	}
	return false;
}

static void listener_tick(struct dtls_listener *l, uint64_t now)
{
	struct dtls_session *d, *next;

	for (d = LIST_FIRST(&l->sessions); d; d = next) {
		next = LIST_NEXT(d, all);
		if (session_overdue(d, now))
			continue;
		if (!d->established) {
			/* Our flight may have been lost: send it again when due. */
			ERR_clear_error();
			if (DTLSv1_handle_timeout(d->ssl) < 0) {
				l->w->stats.dtls_failed++;
				log_failure(d, "handshake gave up on");
				session_close(d, false);
			}
		}
	}
}

void dtls_tick(struct net_worker *w, uint64_t now_ms)
{
	for (size_t i = 0; i < w->n_udp; i++)
		if (w->udp[i]->dtls)
			listener_tick(w->udp[i]->dtls, now_ms);
}

void dtls_listener_free(struct udp_sock *s)
{
	struct dtls_listener *l = s->dtls;

	if (!l)
		return;
	while (!LIST_EMPTY(&l->sessions))
		session_close(LIST_FIRST(&l->sessions), true);
	if (s->out && s->out->n)
		udp_out_flush(s); /* the close_notify alerts */
	SSL_free(l->ssl);
	BIO_ADDR_free(l->peer);
	free(l);
	s->dtls = NULL;
	ERR_clear_error();
}
