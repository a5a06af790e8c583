/* The self-check's listening ports, metrics port and control socket
 * (selfcheck.h): each bound for a moment, as the start would. */
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"
#include "daemon/selfcheck_int.h"
#include "io/sockaddr.h"

/* 0 when a socket of type can be bound on a now, else errno. A wildcard
 * IPv6 address stays IPv6-only, as turnd's sockets are; no SO_REUSEPORT,
 * so another process's socket (turnd's included) shows as held. */
static int selfcheck_bind_errno(const struct turn_addr *a, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_from_turn(&ss, a);
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0), one = 1, e = 0;

	if (fd < 0)
		return errno;
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		e = errno;
	close(fd);
	return e;
}

/* One listening socket: ok, or FAIL with what holds it. */
static void selfcheck_bind_one(struct selfcheck *s, const char *topic, const struct turn_addr *a,
			       int type)
{
	char text[TURN_ADDR_STRLEN];
	const char *proto = type == SOCK_DGRAM ? "udp" : "tcp";
	int e = selfcheck_bind_errno(a, type);

	turn_addr_format(a, true, text, sizeof(text));
	if (e == 0)
		selfcheck_say(s, VERDICT_OK, topic, "%s/%s can be bound", text, proto);
	else if (e == EADDRINUSE)
		selfcheck_say(s, VERDICT_FAIL, topic,
			      "%s/%s is held by another process (ss -%canp 'sport = :%u'): stop "
			      "it, or choose another port",
			      text, proto, type == SOCK_DGRAM ? 'u' : 't', (unsigned)a->port);
	else
		selfcheck_say(s, VERDICT_FAIL, topic, "%s/%s cannot be bound: %s", text, proto,
			      strerror(e));
}

static void selfcheck_bind_both(struct selfcheck *s, const struct turn_addr *a, bool udp, bool tcp)
{
	if (udp)
		selfcheck_bind_one(s, "listening", a, SOCK_DGRAM);
	if (tcp)
		selfcheck_bind_one(s, "listening", a, SOCK_STREAM);
}

void selfcheck_listening(struct selfcheck *s)
{
	const struct conf *c = s->c;
	bool tls = conf_tls_port_used(c);

	for (size_t i = 0; i < c->n_listen; i++) {
		struct turn_addr a = c->listen[i];
		if (!a.family)
			continue;
		a.port = c->listening_port;
		selfcheck_bind_both(s, &a, !c->no_udp, !c->no_tcp);
		a.port = c->tls_listening_port;
		if (tls)
			selfcheck_bind_both(s, &a, !c->no_dtls, !c->no_tls);
	}
	for (size_t i = 0; i < c->n_alt_listen; i++)
		selfcheck_bind_both(s, &c->alt_listen[i], true, false);
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		selfcheck_bind_both(s, &l->addr,
				    l->transports & (CONF_LISTEN_UDP | CONF_LISTEN_DTLS),
				    l->transports & (CONF_LISTEN_TCP | CONF_LISTEN_TLS));
	}
}

void selfcheck_metrics(struct selfcheck *s)
{
	if (s->c->metrics.port)
		selfcheck_bind_one(s, "metrics", &s->c->metrics, SOCK_STREAM);
}

/* Whether a process answers on the unix socket at path. */
static bool selfcheck_unix_live(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sun.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	bool live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return live;
}

/* The control socket: its directory writable (or, for the default, its
 * parent, where the start makes it), and no live process on the path. */
void selfcheck_control(struct selfcheck *s)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)], dir[sizeof(buf)],
		parent[sizeof(buf)];
	bool is_default;
	const char *path = control_socket_path(s->c, buf, sizeof(buf), &is_default);

	if (!path) {
		selfcheck_say(s, VERDICT_OK, "control-socket",
			      s->c->control_socket ? "off" : "no default path here (off)");
		return;
	}
	if (selfcheck_unix_live(path)) {
		selfcheck_say(s, is_default ? VERDICT_WARN : VERDICT_FAIL, "control-socket",
			      "%s is in use by a running process (another turnd?): stop it, or set "
			      "control-socket to another path",
			      path);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	const char *d = dirname(dir);
	struct stat st;
	bool made_at_start = is_default && stat(d, &st) < 0;
	if (made_at_start) {
		snprintf(parent, sizeof(parent), "%s", d);
		d = dirname(parent);
	}
	if (access(d, W_OK | X_OK) == 0)
		selfcheck_say(s, VERDICT_OK, "control-socket", "%s can be made", path);
	else
		selfcheck_say(s, VERDICT_FAIL, "control-socket",
			      "%s: directory %s is not writable (%s): fix its owner, or set "
			      "control-socket elsewhere (\"\" turns it off)",
			      path, d, strerror(errno));
}
