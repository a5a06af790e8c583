/*
 * TLS and DTLS contexts: loaded from cert and pkey at start-up, replaced
 * on SIGHUP, shared by every worker. A connection or session keeps the
 * context it started with (SSL_new takes a reference), so a reload only
 * changes what new ones get.
 */
#include "net/tls.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf_tls.h"
#include "net/net_worker.h"
#include "util/log.h"

/* RFC 7443 section 4: the ALPN labels of STUN usages, in our preference. */
static const unsigned char alpn_protos[] = "\x09stun.turn\x12stun.nat-discovery";

static bool listeners_want(const struct conf *c, unsigned transport)
{
	for (size_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].transports & transport)
			return true;
	return false;
}

bool tls_on_port(const struct conf *c)
{
	return c->cert && c->pkey && c->tls_listening_port && !c->no_tls;
}

bool tls_dtls_on_port(const struct conf *c)
{
	return c->cert && c->pkey && c->tls_listening_port && !c->no_dtls;
}

bool tls_enabled(const struct conf *c)
{
	return tls_on_port(c) || (c->cert && c->pkey && listeners_want(c, CONF_LISTEN_TLS));
}

bool tls_dtls_enabled(const struct conf *c)
{
	return tls_dtls_on_port(c) || (c->cert && c->pkey && listeners_want(c, CONF_LISTEN_DTLS));
}

/* The oldest error on OpenSSL's queue, the one that tells the cause
 * ("No such file or directory", "key values mismatch"), then clear it. */
/* The text of OpenSSL error e, or of errno (fallback when there is
 * none) when e is 0. */
static const char *tls_error_text(unsigned long e, const char *fallback, char *buf, size_t len)
{
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		snprintf(buf, len, "%s", r);
	else if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno) : fallback);
	return buf;
}

static const char *ssl_reason(char *buf, size_t len)
{
	tls_error_text(ERR_peek_error(), "unknown error", buf, len);
	ERR_clear_error();
	return buf;
}

/* RFC 7443: select "stun.turn" or "stun.nat-discovery" when the client
 * offers one; a client offering neither goes on without ALPN. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *chosen = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&chosen, outlen, alpn_protos, sizeof(alpn_protos) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = chosen;
	return SSL_TLSEXT_ERR_OK;
}

/* cert and pkey into ctx; the error names the file at fault. */
static int ctx_load(SSL_CTX *ctx, const struct conf *c, char *err, size_t errlen)
{
	char why[256];

	ERR_clear_error();
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1) {
		snprintf(err, errlen, "option 'cert': cannot load the certificate %s: %s", c->cert,
			 ssl_reason(why, sizeof(why)));
		return -1;
	}
	errno = 0;
	int loaded = SSL_CTX_use_PrivateKey_file(ctx, c->pkey, SSL_FILETYPE_PEM);
	unsigned long e = ERR_peek_error();
	/* A key of another certificate loads, then fails this check. */
	bool mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 &&
			ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
	if (loaded != 1 && !mismatch) {
		snprintf(err, errlen, "option 'pkey': cannot load the private key %s: %s", c->pkey,
			 ssl_reason(why, sizeof(why)));
		return -1;
	}
	if (loaded != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen,
			 "option 'pkey': the private key %s does not match the certificate %s: %s",
			 c->pkey, c->cert, ssl_reason(why, sizeof(why)));
		return -1;
	}
	return 0;
}

static SSL_CTX *ctx_new(const struct conf *c, bool dtls, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method());
	char why[256];

	if (!ctx) {
		snprintf(err, errlen, "cannot create a %s context: %s", dtls ? "DTLS" : "TLS",
			 ssl_reason(why, sizeof(why)));
		return NULL;
	}
	/* Versions, suites, groups, client certificates (tls_policy.c). */
	if (tls_policy_apply(ctx, c, dtls, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Tickets resume sessions; no server-side cache shared by threads. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (dtls)
		dtls_ctx_init(ctx);
	else
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ctx_load(ctx, c, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Both contexts the configuration asks for, or neither. */
static int ctx_pair(const struct conf *c, SSL_CTX **tls, SSL_CTX **dtls, char *err,
		    size_t errlen)
{
	*tls = tls_enabled(c) ? ctx_new(c, false, err, errlen) : NULL;
	if (tls_enabled(c) && !*tls)
		return -1;
	*dtls = tls_dtls_enabled(c) ? ctx_new(c, true, err, errlen) : NULL;
	if (tls_dtls_enabled(c) && !*dtls) {
		SSL_CTX_free(*tls);
		*tls = NULL;
		return -1;
	}
	return 0;
}

/* "serial 0x1A2B, expires Jan  1 00:00:00 2030 GMT" of ctx's certificate. */
static void describe_cert(SSL_CTX *ctx, char *buf, size_t len)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char until[64] = "?";
	BIO *mem = BIO_new(BIO_s_mem());

	if (x && mem && ASN1_TIME_print(mem, X509_get0_notAfter(x)) == 1) {
		int n = BIO_read(mem, until, sizeof(until) - 1);
		until[n > 0 ? n : 0] = '\0';
	}
	snprintf(buf, len, "serial 0x%s, valid until %s", hex ? hex : "?", until);
	BIO_free(mem);
	OPENSSL_free(hex);
	BN_free(bn);
}

static void log_state(const struct tls_shared *ts, const struct conf *c)
{
	char cert[160];

	if (!c->cert) {
		log_notice("TLS and DTLS: off (no cert and pkey)");
		return;
	}
	if (!tls_enabled(c) && !tls_dtls_enabled(c)) {
		log_notice("TLS and DTLS: off (%s)", c->tls_listening_port == 0
							   ? "tls-listening-port = 0"
							   : "no-tls and no-dtls");
		return;
	}
	describe_cert(ts->tls ? ts->tls : ts->dtls, cert, sizeof(cert));
	char port[64] = "listener only";

	if (tls_on_port(c) || tls_dtls_on_port(c))
		snprintf(port, sizeof(port), "%u", (unsigned)c->tls_listening_port);
	log_notice("TLS (%s): %s; DTLS (1.2; 1.3 is not in %s): %s; port %s; "
		   "certificate %s (%s)",
		   c->tls_min_version == CONF_TLS_1_3 ? "1.3" : "1.2, 1.3",
		   ts->tls ? "on" : "off (no-tls)", OpenSSL_version(OPENSSL_VERSION),
		   ts->dtls ? "on" : "off (no-dtls)", port, c->cert, cert);
	char policy[1024];
	tls_policy_describe(c, policy, sizeof(policy));
	log_notice("TLS policy: %s", policy);
}

int tls_shared_init(struct tls_shared *ts, const struct conf *c, char *err, size_t errlen)
{
	memset(ts, 0, sizeof(*ts));
	ts->conf = c;
	atomic_init(&ts->generation, 1);
	pthread_mutex_init(&ts->lock, NULL);
	ts->lock_ready = true;
	if (RAND_bytes(ts->cookie_key, sizeof(ts->cookie_key)) != 1) {
		snprintf(err, errlen, "cannot make the DTLS cookie key");
		return -1;
	}
	if (ctx_pair(c, &ts->tls, &ts->dtls, err, errlen) < 0)
		return -1;
	log_state(ts, c);
	return 0;
}

int tls_shared_reload(struct tls_shared *ts, const struct conf *c, char *msg, size_t msglen)
{
	SSL_CTX *tls, *dtls, *old_tls, *old_dtls;
	char cert[160];

	/* A reload may add or remove TLS and DTLS listeners (net/listen.c):
	 * the contexts follow what c asks for. */
	if (!ts->tls && !ts->dtls && !tls_enabled(c) && !tls_dtls_enabled(c))
		return 0;
	if (ctx_pair(c, &tls, &dtls, msg, msglen) < 0)
		return -1;
	pthread_mutex_lock(&ts->lock);
	old_tls = ts->tls;
	old_dtls = ts->dtls;
	ts->tls = tls;
	ts->dtls = dtls;
	atomic_fetch_add(&ts->generation, 1);
	pthread_mutex_unlock(&ts->lock);
	/* Connections and sessions that hold the old ones keep them alive. */
	SSL_CTX_free(old_tls);
	SSL_CTX_free(old_dtls);
	if (!tls && !dtls) {
		snprintf(msg, msglen, "none: nothing listens for TLS or DTLS any more");
		return 1;
	}
	describe_cert(tls ? tls : dtls, cert, sizeof(cert));
	snprintf(msg, msglen, "%s (%s)", c->cert, cert);
	char policy[1024];
	tls_policy_describe(c, policy, sizeof(policy));
	log_notice("SIGHUP: TLS policy for new connections: %s", policy);
	return 1;
}

SSL_CTX *tls_shared_ctx(struct tls_shared *ts, bool dtls, unsigned *generation)
{
	pthread_mutex_lock(&ts->lock);
	SSL_CTX *ctx = dtls ? ts->dtls : ts->tls;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	if (generation)
		*generation = atomic_load(&ts->generation);
	pthread_mutex_unlock(&ts->lock);
	return ctx;
}

void tls_shared_fini(struct tls_shared *ts)
{
	SSL_CTX_free(ts->tls);
	SSL_CTX_free(ts->dtls);
	ts->tls = ts->dtls = NULL;
	if (ts->dgram_method)
		BIO_meth_free(ts->dgram_method);
	ts->dgram_method = NULL;
	OPENSSL_cleanse(ts->cookie_key, sizeof(ts->cookie_key));
	if (ts->lock_ready)
		pthread_mutex_destroy(&ts->lock);
	ts->lock_ready = false;
}

void tls_cookie_make(const struct tls_shared *ts, const struct turn_addr *client,
		     uint64_t period, uint8_t out[TLS_COOKIE_KEY_LEN])
{
	uint8_t msg[8 + sizeof(*client)];
	unsigned int len = TLS_COOKIE_KEY_LEN;

	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(period >> (8 * i));
	/* struct turn_addr has no padding that is left unset (pad is a
	 * field, and addresses are built zeroed), so its bytes are its value. */
	memcpy(msg + 8, client, sizeof(*client));
	if (!HMAC(EVP_sha256(), ts->cookie_key, sizeof(ts->cookie_key), msg, sizeof(msg), out,
		  &len))
		memset(out, 0, TLS_COOKIE_KEY_LEN); /* verifies nothing: 0 is never made */
}

struct bufferevent *tls_bufferevent_new(struct net_worker *w, int fd)
{
	SSL_CTX *ctx = tls_shared_ctx(w->tls, false, NULL);
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	struct bufferevent *bev = NULL;

	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	if (ssl) {
		/* On failure libevent frees ssl (BEV_OPT_CLOSE_ON_FREE), not fd. */
		bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE);
	}
	if (!bev) {
		ERR_clear_error();
		close(fd);
		return NULL;
	}
	/* A client that closes without close_notify is just gone (EOF). */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

const char *tls_bufferevent_error(struct bufferevent *bev, char *buf, size_t len)
{
	tls_error_text(bufferevent_get_openssl_error(bev), "closed", buf, len);
	while (bufferevent_get_openssl_error(bev))
		;
	return buf;
}

void tls_log_totals(const struct conf *c, const struct net_stats *t)
{
	if (!tls_enabled(c) && !tls_dtls_enabled(c))
		return;
	log_notice("tls: connections %llu (handshake failed %llu); dtls: cookies sent %llu, "
		   "sessions %llu (failed %llu, refused for the limit %llu), open at stop %llu",
		   (unsigned long long)t->tls_accepted, (unsigned long long)t->tls_failed,
		   (unsigned long long)t->dtls_hello_verify, (unsigned long long)t->dtls_sessions,
		   (unsigned long long)t->dtls_failed, (unsigned long long)t->dtls_refused,
		   (unsigned long long)t->dtls_open);
}
