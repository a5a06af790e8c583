/*
 * TCP relays (RFC 6062): the connections a TCP allocation makes (Connect)
 * or accepts on its listening relay socket, until the client binds each
 * to a data connection of its own (ConnectionBind) and net/tcp.c pipes
 * the two.
 *
 * The data connection may arrive on any worker (each has its own
 * SO_REUSEPORT listener), not necessarily the allocation's. So the
 * connections live in one table shared by every worker, under its own
 * lock, taken once per connection event, never per byte:
 *
 *   CONNECTING  the allocation's worker is connecting to the peer
 *   WAITING     connected (or accepted), the peer socket unread in the
 *               table, for at most 30 s, until a ConnectionBind takes it
 *   PIPED       the worker of the data connection pipes the two
 *   CLOSED      the pipe ended; the allocation's worker is told
 *   ORPHAN      the allocation ended; the piping worker is told
 *
 * Workers tell each other by activating the other's wake event; the woken
 * worker walks the table for what it must do (tcp_relay_service). An
 * allocation is only ever touched by its own worker, a pipe by its own.
 */
#include "net/relay.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/clock.h"
#include "io/sockaddr.h"
#include "net/net_worker.h"
#include "stun/stun.h"
#include "turn/alloc.h"
#include "turn/server.h"

#define TCP_RELAY_BUCKETS 1024
#define TCP_RELAY_BACKLOG 64
/* RFC 6062 sections 5.2 and 5.3: a connect gives up after at least
 * 30 s, and a connection nobody binds within 30 s is closed. */
#define TCP_RELAY_CONNECT_MS 30000
#define TCP_RELAY_BIND_MS 30000
/* What one walk of the table hands back to a worker at most; the rest
 * waits for the next wake. */
#define TCP_RELAY_BATCH 64

enum tcp_entry_state { TE_CONNECTING, TE_WAITING, TE_PIPED, TE_CLOSED, TE_ORPHAN };

struct tcp_entry {
	struct tcp_entry *next;
	uint32_t id;
	enum tcp_entry_state state;
	struct net_worker *owner;     /* the allocation's worker */
	struct turn_alloc *alloc; /* used by owner only */
	struct turn_relay *relay; /* the allocation's relay: answers go on its path */
	char *user;               /* the allocation's, for ConnectionBind (441) */
	int fd;                   /* CONNECTING, WAITING: the peer socket */
	uint64_t deadline_ms;     /* WAITING */
	struct event *connect_ev; /* CONNECTING, on owner's base */
	struct net_worker *piper;     /* PIPED: the data connection's worker */
	struct tcp_conn *conn;    /* PIPED, ORPHAN: on piper */
	/* Bytes piped to the peer, to the client: added by the piper, read
	 * by the owner into the allocation's totals when either side ends. */
	_Atomic uint64_t piped[2];
};

struct tcp_relay_table {
	pthread_mutex_t lock;
	struct tcp_entry *buckets[TCP_RELAY_BUCKETS];
	bool stopping;
};

struct tcp_relay_table *tcp_relay_table_new(void)
{
	struct tcp_relay_table *t = calloc(1, sizeof(*t));

	if (t)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

static void entry_free(struct tcp_entry *e)
{
	if (e->connect_ev)
		event_free(e->connect_ev);
	if (e->fd >= 0)
		close(e->fd);
	free(e->user);
	free(e);
}

void tcp_relay_table_free(struct tcp_relay_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < TCP_RELAY_BUCKETS; i++) {
		while (t->buckets[i]) {
			struct tcp_entry *e = t->buckets[i];
			t->buckets[i] = e->next;
			e->connect_ev = NULL; /* its base is gone with its worker */
			entry_free(e);
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void tcp_relay_table_stopping(struct tcp_relay_table *t)
{
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_mutex_unlock(&t->lock);
}

static struct tcp_entry **entry_slot(struct tcp_relay_table *t, uint32_t id)
{
	struct tcp_entry **pp = &t->buckets[id % TCP_RELAY_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Unlink (under the lock) and return it. */
static struct tcp_entry *entry_unlink(struct tcp_relay_table *t, uint32_t id)
{
	struct tcp_entry **pp = entry_slot(t, id);
	struct tcp_entry *e = *pp;

	if (e)
		*pp = e->next;
	return e;
}

/* A new entry with a fresh random id (unguessable: a ConnectionBind must
 * also authenticate as the allocation's user), under the lock. */
static struct tcp_entry *entry_new(struct tcp_relay_table *t, struct net_worker *w,
				   struct turn_relay *relay, int fd)
{
	struct tcp_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->user = strdup(relay->owner->username);
	if (!e->user) {
		free(e);
		return NULL;
	}
	do {
		if (RAND_bytes((unsigned char *)&e->id, sizeof(e->id)) != 1) {
			free(e->user);
			free(e);
			return NULL;
		}
	} while (e->id == 0 || *entry_slot(t, e->id));
	e->owner = w;
	e->alloc = relay->owner;
	e->relay = relay;
	e->fd = fd;
	struct tcp_entry **pp = &t->buckets[e->id % TCP_RELAY_BUCKETS];
	e->next = *pp;
	*pp = e;
	return e;
}

static void wake(struct tcp_relay_table *t, struct net_worker *w)
{
	if (!t->stopping && w->tcp_wake_ev)
		event_active(w->tcp_wake_ev, EV_READ, 0);
}

int tcp_relay_listen(const struct turn_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_from_turn(&ss, addr);
	int one = 1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* No SO_REUSEPORT here: another process binding the port would share
	 * its connections (connect_from sets it only while it binds). */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, TCP_RELAY_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Send a message the core built to the allocation's client. */
static void to_client(struct turn_relay *relay, const struct turn_reply *reply)
{
	/* RFC 6062 section 4.1: a TCP allocation's control connection is TCP,
	 * which needs no destination. */
	if (reply->len && relay->path.ops == &tcp_path_ops)
		net_path_send(&relay->path, reply->buf, reply->len, NULL);
}

/* ---- Connect (RFC 6062 section 5.2) ---- */

static void on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_entry *e = arg;
	struct net_worker *w = e->owner;
	struct tcp_relay_table *t = w->relay_shared->tcp_table;
	int err = 0;
	socklen_t el = sizeof(err);

	if (!(what & EV_WRITE) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = err ? err : ETIMEDOUT;
	/* Only this worker touches a CONNECTING entry: e is alive. */
	pthread_mutex_lock(&t->lock);
	struct turn_tcp_event ev = { e->alloc, e->id, NULL, err ? TURN_ERR_CONNECTION_TIMEOUT : 0,
				     io_now_ms() };
	struct turn_relay *relay = e->relay;
	event_free(e->connect_ev);
	e->connect_ev = NULL;
	if (err) {
		entry_unlink(t, e->id);
		entry_free(e);
	} else {
		e->state = TE_WAITING;
		e->deadline_ms = ev.now_ms + TCP_RELAY_BIND_MS;
	}
	pthread_mutex_unlock(&t->lock);
	struct turn_reply reply = { &w->tx[0][0], WORKER_SLOT, 0 };
	if (turn_server_tcp_connected(w->srv, &ev, &reply) == 0)
		to_client(relay, &reply);
	w->stats.tcp_relay_connect_failed += err != 0;
}

/* A socket connecting from the relay's address and port to peer, or -1. */
static int connect_from(const struct turn_relay *relay, const struct turn_addr *peer)
{
	struct turn_addr src = relay->w->relay_shared->addrs[relay->addr_index].addr;
	struct sockaddr_storage ss, ds;
	socklen_t dl = sockaddr_from_turn(&ds, peer);
	int one = 1;
	int fd = socket(ds.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	src.port = relay->port;
	socklen_t sl = sockaddr_from_turn(&ss, &src);
	/* Outgoing connections leave from the relayed address and port
	 * (RFC 6062 section 5.2), where the relay listens: the kernel lets a
	 * socket bind there only while both have SO_REUSEPORT, so the
	 * listener has it for the moment of this bind only. */
	int zero = 0;
	setsockopt(relay->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	int bound = bind(fd, (struct sockaddr *)&ss, sl);
	setsockopt(relay->fd, SOL_SOCKET, SO_REUSEPORT, &zero, sizeof(zero));
	if (bound < 0) {
		/* Another connection to this peer holds that 4-tuple's port
		 * pair: any port of the relay address will do. */
		src.port = 0;
		sl = sockaddr_from_turn(&ss, &src);
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&ds, dl) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int tcp_relay_connect(struct net_worker *w, struct turn_relay *relay, const struct turn_addr *peer,
		      uint32_t *id)
{
	struct tcp_relay_table *t = w->relay_shared->tcp_table;
	struct timeval limit = { TCP_RELAY_CONNECT_MS / 1000, 0 };
	int fd = connect_from(relay, peer);

	if (fd < 0)
		return errno == EMFILE || errno == ENFILE ? TURN_ERR_INSUFFICIENT_CAPACITY
							  : TURN_ERR_CONNECTION_TIMEOUT;
	pthread_mutex_lock(&t->lock);
	struct tcp_entry *e = entry_new(t, w, relay, fd);
	if (e) {
		e->state = TE_CONNECTING;
		e->connect_ev = event_new(w->base, fd, EV_WRITE, on_connected, e);
		if (!e->connect_ev || event_add(e->connect_ev, &limit) < 0) {
			entry_unlink(t, e->id);
			entry_free(e);
			e = NULL;
		}
	} else {
		close(fd);
	}
	if (e)
		*id = e->id;
	pthread_mutex_unlock(&t->lock);
	return e ? 0 : TURN_ERR_INSUFFICIENT_CAPACITY;
}

/* ---- A peer connects to the relay (RFC 6062 section 5.3) ---- */

static void incoming(struct net_worker *w, struct turn_relay *relay, int fd,
		     const struct turn_addr *peer)
{
	struct tcp_relay_table *t = w->relay_shared->tcp_table;
	uint64_t now = io_now_ms();

	pthread_mutex_lock(&t->lock);
	struct tcp_entry *e = entry_new(t, w, relay, fd);
	uint32_t id = e ? e->id : 0;
	if (e) {
		e->state = TE_WAITING;
		e->deadline_ms = now + TCP_RELAY_BIND_MS;
	}
	pthread_mutex_unlock(&t->lock);
	if (!e) {
		close(fd);
		return;
	}
	struct turn_tcp_event ev = { relay->owner, id, peer, 0, now };
	struct turn_reply reply = { &w->tx[0][0], WORKER_SLOT, 0 };
	if (turn_server_tcp_incoming(w->srv, &ev, &reply) == 0) {
		to_client(relay, &reply);
		return;
	}
	/* Refused: nobody has seen the id yet. */
	pthread_mutex_lock(&t->lock);
	e = entry_unlink(t, id);
	pthread_mutex_unlock(&t->lock);
	if (e)
		entry_free(e);
}

void tcp_relay_on_accept(int fd, short what, void *arg)
{
	struct turn_relay *relay = arg;
	struct net_worker *w = relay->w;

	(void)what;
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct turn_addr peer;
		int one = 1;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && w->reserve_fd >= 0) {
			/* Out of descriptors: refuse this peer with the one held in
			 * reserve, rather than leave it queued and the listening
			 * socket readable (a busy loop). */
			close(w->reserve_fd);
			cfd = accept(fd, NULL, NULL);
			if (cfd >= 0)
				close(cfd);
			w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (cfd < 0) /* none left waiting */
				return;
			w->stats.tcp_relay_refused_fds++;
			continue;
		}
		if (cfd < 0)
			return;
		if (!relay->owner || sockaddr_to_turn((struct sockaddr *)&ss, &peer) < 0) {
			close(cfd);
			continue;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		incoming(w, relay, cfd, &peer);
	}
}

/* ---- ConnectionBind (RFC 6062 section 5.4) and the end of it all ---- */

int tcp_relay_bind(struct net_worker *w, uint32_t id, const char *user,
		   const struct net_path *path)
{
	struct tcp_relay_table *t = w->relay_shared->tcp_table;
	struct tcp_conn *conn = path && path->ops == &tcp_path_ops ? path->t : NULL;
	_Atomic uint64_t *counters = NULL;
	int rc = 0, fd = -1;

	if (!conn)
		return STUN_ERR_BAD_REQUEST;
	pthread_mutex_lock(&t->lock);
	struct tcp_entry *e = *entry_slot(t, id);
	if (!e || e->state != TE_WAITING) {
		rc = STUN_ERR_BAD_REQUEST;
	} else if (strcmp(e->user, user) != 0) {
		rc = TURN_ERR_WRONG_CREDENTIALS;
	} else {
		e->state = TE_PIPED;
		e->piper = w;
		e->conn = conn;
		fd = e->fd;
		e->fd = -1;
		/* The entry stays while conn pipes: only this worker frees
		 * a piped (or orphaned) one. */
		counters = e->piped;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc == 0)
		tcp_conn_set_pipe(conn, id, fd, counters); /* piped once the answer is out */
	return rc;
}

void tcp_relay_close(struct net_worker *w, uint32_t id)
{
	struct tcp_relay_table *t = w->relay_shared->tcp_table;

	pthread_mutex_lock(&t->lock);
	struct tcp_entry *e = *entry_slot(t, id);
	if (e && (e->state == TE_CONNECTING || e->state == TE_WAITING || e->state == TE_CLOSED)) {
		entry_unlink(t, id);
		entry_free(e);
	} else if (e && e->state == TE_PIPED) {
		/* The allocation's totals, before its "deleted" line. */
		e->alloc->bytes_out += atomic_load(&e->piped[0]);
		e->alloc->bytes_in += atomic_load(&e->piped[1]);
		e->state = TE_ORPHAN;
		e->alloc = NULL;
		e->relay = NULL;
		wake(t, e->piper);
	}
	pthread_mutex_unlock(&t->lock);
}

void tcp_relay_pipe_closed(struct net_worker *w, uint32_t id)
{
	struct tcp_relay_table *t = w->relay_shared->tcp_table;
	struct tcp_entry *e = NULL;

	pthread_mutex_lock(&t->lock);
	struct tcp_entry *p = *entry_slot(t, id);
	if (p && p->state == TE_ORPHAN) {
		e = entry_unlink(t, id);
	} else if (p && p->state == TE_PIPED) {
		p->state = TE_CLOSED;
		p->conn = NULL;
		wake(t, p->owner);
	}
	pthread_mutex_unlock(&t->lock);
	if (e)
		entry_free(e);
}

struct tcp_relay_todo {
	struct turn_alloc *alloc[TCP_RELAY_BATCH];
	uint32_t closed[TCP_RELAY_BATCH];
	uint64_t piped[TCP_RELAY_BATCH][2];
	size_t n_closed;
	struct tcp_conn *orphans[TCP_RELAY_BATCH];
	size_t n_orphans;
	bool more;
};

/* What the table holds for w (under the lock): connections its
 * allocations lost, and pipes whose allocation is gone. */
static void collect(struct tcp_relay_table *t, struct net_worker *w, uint64_t now,
		    struct tcp_relay_todo *todo)
{
	for (size_t i = 0; i < TCP_RELAY_BUCKETS; i++) {
		for (struct tcp_entry **pp = &t->buckets[i]; *pp;) {
			struct tcp_entry *e = *pp;
			bool lost = e->owner == w &&
				    (e->state == TE_CLOSED ||
				     (e->state == TE_WAITING && e->deadline_ms <= now));
			bool orphan = e->state == TE_ORPHAN && e->piper == w;
			if ((lost && todo->n_closed == TCP_RELAY_BATCH) ||
			    (orphan && todo->n_orphans == TCP_RELAY_BATCH)) {
				todo->more = true;
				lost = orphan = false;
			}
			if (!lost && !orphan) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			if (lost) {
				todo->alloc[todo->n_closed] = e->alloc;
				todo->piped[todo->n_closed][0] = atomic_load(&e->piped[0]);
				todo->piped[todo->n_closed][1] = atomic_load(&e->piped[1]);
				todo->closed[todo->n_closed++] = e->id;
			} else {
				todo->orphans[todo->n_orphans++] = e->conn;
			}
			entry_free(e);
		}
	}
}

void tcp_relay_service(struct net_worker *w, uint64_t now)
{
	struct tcp_relay_table *t = w->relay_shared->tcp_table;
	struct tcp_relay_todo todo = { .n_closed = 0 };

	pthread_mutex_lock(&t->lock);
	collect(t, w, now, &todo);
	if (todo.more)
		wake(t, w);
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < todo.n_closed; i++) {
		struct turn_tcp_event ev = { todo.alloc[i], todo.closed[i], NULL, 0, now };
		/* The allocation's totals (its "deleted" log line) include
		 * what its data connections piped. */
		todo.alloc[i]->bytes_out += todo.piped[i][0];
		todo.alloc[i]->bytes_in += todo.piped[i][1];
		turn_server_tcp_closed(w->srv, &ev);
	}
	for (size_t i = 0; i < todo.n_orphans; i++)
		tcp_conn_close_pipe(todo.orphans[i]);
}
