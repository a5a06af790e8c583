/* The self-check's certificate and Redis (selfcheck.h). The certificate
 * is read here with OpenSSL directly, not through net/tls.c: the check
 * needs its dates and names, not a context. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/selfcheck_int.h"
#include "io/sockaddr.h"

static X509 *selfcheck_read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static EVP_PKEY *selfcheck_read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

static int64_t selfcheck_asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* The realm, or the certificate's names. */
static void selfcheck_cert_names(struct selfcheck *s, X509 *x)
{
	const char *realm = s->c->realm;
	struct turn_addr ip;
	int match = turn_addr_parse(realm, 0, &ip) == 0 ? X509_check_ip_asc(x, realm, 0)
							: X509_check_host(x, realm, 0, 0, NULL);
	char subject[256];

	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	if (match == 1)
		selfcheck_say(s, VERDICT_OK, "certificate", "names the realm %s", realm);
	else
		selfcheck_say(s, VERDICT_WARN, "certificate",
			      "does not name the realm %s (subject %s): clients that check the "
			      "name against the server's (TURN over TLS, RFC 8656 section 3.1) "
			      "refuse it; get one whose subjectAltName names the host clients use",
			      realm, subject);
}

static void selfcheck_cert_dates(struct selfcheck *s, X509 *x)
{
	int64_t nb = selfcheck_asn1_epoch(X509_get0_notBefore(x));
	int64_t na = selfcheck_asn1_epoch(X509_get0_notAfter(x));
	int64_t now = (int64_t)time(NULL), days = verdict_cert_days(na, now);
	enum verdict_level l = verdict_cert(nb, na, now);

	if (now < nb)
		selfcheck_say(s, l, "certificate",
			      "not valid before %lld days from now: check the clock, or the file",
			      (long long)verdict_cert_days(nb, now));
	else if (now >= na)
		selfcheck_say(s, l, "certificate", "expired %lld day%s ago: renew it",
			      (long long)-days, days == -1 ? "" : "s");
	else
		selfcheck_say(s, l, "certificate", "expires in %lld day%s%s", (long long)days,
			      days == 1 ? "" : "s", l == VERDICT_OK ? "" : ": renew it now");
}

void selfcheck_cert(struct selfcheck *s)
{
	const struct conf *c = s->c;

	if (!c->cert)
		return;
	const char *key_path = c->pkey ? c->pkey : c->cert;
	X509 *x = selfcheck_read_cert(c->cert);
	EVP_PKEY *k = selfcheck_read_key(key_path);

	if (!x)
		selfcheck_say(s, VERDICT_FAIL, "certificate",
			      "%s: no PEM certificate can be read: fix option 'cert'", c->cert);
	else if (!k)
		selfcheck_say(s, VERDICT_FAIL, "certificate",
			      "%s: no PEM private key can be read: fix option 'pkey'", key_path);
	else if (X509_check_private_key(x, k) != 1)
		selfcheck_say(s, VERDICT_FAIL, "certificate",
			      "the key in %s does not match the certificate in %s: give the key "
			      "the certificate was issued for",
			      key_path, c->cert);
	else
		selfcheck_say(s, VERDICT_OK, "certificate", "%s loads, and the key in %s matches",
			      c->cert, key_path);
	if (x) {
		selfcheck_cert_dates(s, x);
		selfcheck_cert_names(s, x);
	}
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
}

/* A connected socket to Redis within timeout_ms, or -1 with err. */
static int selfcheck_redis_connect(const struct conf_redis *r, int timeout_ms, char *err,
				   size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct turn_addr a;

	if (r->socket) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		memset(&ss, 0, sizeof(ss));
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", r->socket);
		len = sizeof(*sun);
	} else if (turn_addr_parse(r->host, r->port, &a) == 0) {
		a.port = r->port;
		len = sockaddr_from_turn(&ss, &a);
	} else {
		snprintf(err, errlen, "'%s' is not an address", r->host);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int e = 0;
	socklen_t el = sizeof(e);
	if (poll(&p, 1, timeout_ms) <= 0) {
		snprintf(err, errlen, "no connection within %d ms", timeout_ms);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
		snprintf(err, errlen, "%s", strerror(e ? e : errno));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* PING in RESP, and the first line of the answer within timeout_ms. */
static int selfcheck_redis_ping(int fd, int timeout_ms, char *reply, size_t len)
{
	static const char ping[] = "*1\r\n$4\r\nPING\r\n";
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (send(fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL) < 0 || poll(&p, 1, timeout_ms) <= 0)
		return -1;
	ssize_t n = recv(fd, reply, len - 1, 0);
	if (n <= 0)
		return -1;
	reply[n] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	return 0;
}

void selfcheck_redis(struct selfcheck *s)
{
	const struct conf_redis *r = &s->c->redis;
	int timeout_ms = s->quick ? 1000 : 2000;
	char err[256], reply[128], where[300];

	if (!r->enabled)
		return;
	if (r->socket)
		snprintf(where, sizeof(where), "%s", r->socket);
	else
		snprintf(where, sizeof(where), "%s%s%s:%u", strchr(r->host, ':') ? "[" : "",
			 r->host, strchr(r->host, ':') ? "]" : "", (unsigned)r->port);
	int fd = selfcheck_redis_connect(r, timeout_ms, err, sizeof(err));
	if (fd < 0) {
		selfcheck_say(s, VERDICT_FAIL, "redis",
			      "%s: %s: start Redis, or fix redis-host/redis-port/redis-socket",
			      where, err);
		return;
	}
	if (r->tls)
		selfcheck_say(s, VERDICT_OK, "redis", "%s accepts a connection (TLS not tried)",
			      where);
	else if (selfcheck_redis_ping(fd, timeout_ms, reply, sizeof(reply)) < 0)
		selfcheck_say(s, VERDICT_FAIL, "redis", "%s: no answer to PING within %d ms", where,
			      timeout_ms);
	else if (strcmp(reply, "+PONG") == 0 || strncmp(reply, "-NOAUTH", 7) == 0)
		selfcheck_say(s, VERDICT_OK, "redis", "%s answers PING (%s)", where, reply);
	else
		selfcheck_say(s, VERDICT_WARN, "redis", "%s answers PING with '%.60s'", where,
			      reply);
	close(fd);
}
