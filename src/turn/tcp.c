/*
 * TCP relay allocations (RFC 6062): Connect, ConnectionBind, and the
 * ConnectionAttempt indication for connections peers open to the relay.
 * The core decides who may connect where; net/ makes and pipes the
 * connections and tells the core how they end.
 */
#include "turn/internal.h"

#include <stdlib.h>
#include <string.h>

static struct turn_tcp_conn *conn_by_id(struct turn_alloc *a, uint32_t id)
{
	for (uint16_t i = 0; i < a->n_tcp; i++)
		if (a->tcp_conns[i].id == id)
			return &a->tcp_conns[i];
	return NULL;
}

static struct turn_tcp_conn *conn_by_peer(struct turn_alloc *a, const struct turn_addr *peer)
{
	for (uint16_t i = 0; i < a->n_tcp; i++)
		if (turn_addr_eq(&a->tcp_conns[i].peer, peer))
			return &a->tcp_conns[i];
	return NULL;
}

/* A new record, or NULL when max-tcp-connections are in use or out of
 * memory. */
static struct turn_tcp_conn *conn_add(struct turn_server *srv, struct turn_alloc *a, uint32_t id,
				      const struct turn_addr *peer)
{
	if (srv->max_tcp_connections && a->n_tcp >= srv->max_tcp_connections)
		return NULL;
	if (a->n_tcp == a->cap_tcp) {
		uint16_t cap = a->cap_tcp ? (uint16_t)(a->cap_tcp * 2) : 4;
		struct turn_tcp_conn *n = realloc(a->tcp_conns, cap * sizeof(*n));
		if (!n || cap <= a->cap_tcp)
			return NULL;
		a->tcp_conns = n;
		a->cap_tcp = cap;
	}
	struct turn_tcp_conn *c = &a->tcp_conns[a->n_tcp++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->peer = *peer;
	srv->stats.tcp_relay_conns++;
	srv->stats.tcp_relay_conns_total++;
	return c;
}

static void conn_remove(struct turn_server *srv, struct turn_alloc *a, struct turn_tcp_conn *c)
{
	*c = a->tcp_conns[--a->n_tcp];
	srv->stats.tcp_relay_conns--;
}

void turn_tcp_close_all(struct turn_server *srv, struct turn_alloc *a)
{
	while (a->n_tcp > 0) {
		uint32_t id = a->tcp_conns[a->n_tcp - 1].id;
		conn_remove(srv, a, &a->tcp_conns[a->n_tcp - 1]);
		if (srv->io && srv->io->tcp_close)
			srv->io->tcp_close(srv->io->ctx, id);
	}
}

void turn_tcp_sweep(struct turn_server *srv, struct turn_alloc *a)
{
	for (uint16_t i = 0; i < a->n_tcp;) {
		uint32_t id = a->tcp_conns[i].id;
		if (turn_peer_allowed(srv, &a->tcp_conns[i].peer)) {
			i++;
			continue;
		}
		conn_remove(srv, a, &a->tcp_conns[i]); /* the last one moves to i */
		if (srv->io && srv->io->tcp_close)
			srv->io->tcp_close(srv->io->ctx, id);
	}
}

/* Read and check a Connect's peer (RFC 6062 section 5.2) before anything
 * is attempted: 400 malformed, 443 family, 403 policy or no permission,
 * 446 a connection to that peer exists, 508 max-tcp-connections. */
static int check_connect(struct turn_request *req, struct turn_alloc *a, struct turn_addr *peer)
{
	const struct stun_attr *pa = stun_msg_find(req->msg, TURN_ATTR_XOR_PEER_ADDRESS);
	struct turn_server *srv = req->srv;

	if (!a->tcp || !pa || stun_attr_get_xor_addr(req->msg, pa, peer) < 0)
		return STUN_ERR_BAD_REQUEST;
	if (!a->relay[peer->family == TURN_AF_INET6 ? 1 : 0].io)
		return TURN_ERR_PEER_ADDRESS_FAMILY_MISMATCH;
	/* SECURITY.md: a refused peer is never connected to. */
	if (!turn_peer_allowed(srv, peer) || !turn_perm_valid(a, peer, req->now))
		return STUN_ERR_FORBIDDEN;
	if (conn_by_peer(a, peer))
		return TURN_ERR_CONNECTION_ALREADY_EXISTS;
	if (srv->max_tcp_connections && a->n_tcp >= srv->max_tcp_connections)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	return 0;
}

/* RFC 6062 section 5.2. The answer is sent when the connection is made
 * or has failed (turn_server_tcp_connected): nothing is written now. */
int turn_connect(struct turn_request *req)
{
	struct turn_server *srv = req->srv;
	struct turn_alloc *a = turn_existing_alloc(req);
	struct turn_addr peer;
	uint32_t id = 0;

	if (!a)
		return 0;
	int rc = check_connect(req, a, &peer);
	if (rc)
		return turn_send_error(req, rc);
	int slot = peer.family == TURN_AF_INET6 ? 1 : 0;
	rc = srv->io->tcp_connect(srv->io->ctx, a->relay[slot].io, &peer, &id);
	if (rc)
		return turn_send_error(req, rc);
	struct turn_tcp_conn *c = conn_add(srv, a, id, &peer);
	if (!c) {
		srv->io->tcp_close(srv->io->ctx, id);
		return turn_send_error(req, TURN_ERR_INSUFFICIENT_CAPACITY);
	}
	c->connecting = true;
	memcpy(c->tid, req->msg->tid, STUN_TID_LEN);
	if (req->key && req->key_len <= sizeof(c->key)) {
		memcpy(c->key, req->key, req->key_len);
		c->key_len = (uint8_t)req->key_len;
	}
	c->mi_sha256 = req->mi_sha256;
	c->fingerprint = req->msg->idx_fingerprint >= 0;
	return 0;
}

/* RFC 6062 section 5.4: on a new client data connection, authenticated
 * with the allocation's credentials. */
int turn_connection_bind(struct turn_request *req)
{
	struct turn_server *srv = req->srv;
	const struct stun_attr *ci = stun_msg_find(req->msg, TURN_ATTR_CONNECTION_ID);
	uint32_t id;

	if (turn_authenticate(req) != 0)
		return 0;
	/* A data connection carries nothing else: not UDP, not a connection
	 * that has an allocation. */
	if (!ci || stun_attr_get_connection_id(req->msg, ci, &id) < 0 ||
	    req->tuple->transport != TURN_TRANSPORT_TCP || !srv->io->tcp_bind ||
	    turn_alloc_find(&srv->allocs, req->tuple))
		return turn_send_error(req, STUN_ERR_BAD_REQUEST);
	int rc = srv->io->tcp_bind(srv->io->ctx, id, req->username ? req->username : "", req->origin);
	if (rc)
		return turn_send_error(req, rc);
	struct stun_builder b;
	turn_begin_success(req, &b);
	return turn_finish_response(req, &b);
}

/* The Connect's answer, signed as the request was (RFC 8489 9.2.4). */
static int build_connect_answer(struct turn_server *srv, const struct turn_tcp_conn *c, int code,
				struct turn_reply *reply)
{
	struct stun_builder b;

	stun_build_begin(&b, reply->buf, reply->cap, TURN_METHOD_CONNECT,
			 code ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS, c->tid);
	if (code) {
		stun_build_error(&b, code, stun_error_reason(code));
		srv->stats.errors_sent++;
	} else {
		stun_build_u32(&b, TURN_ATTR_CONNECTION_ID, c->id);
	}
	if (srv->software)
		stun_build_text(&b, STUN_ATTR_SOFTWARE, srv->software);
	if (c->key_len && c->mi_sha256)
		stun_build_integrity_sha256(&b, c->key, c->key_len, STUN_HMAC_SHA256_LEN);
	else if (c->key_len)
		stun_build_integrity(&b, c->key, c->key_len);
	if (c->fingerprint)
		stun_build_fingerprint(&b);
	long n = stun_build_end(&b);
	reply->len = n < 0 ? 0 : (size_t)n;
	return n < 0 ? -1 : 0;
}

int turn_server_tcp_connected(struct turn_server *srv, const struct turn_tcp_event *ev,
			      struct turn_reply *reply)
{
	struct turn_tcp_conn *c = conn_by_id(ev->alloc, ev->id);

	reply->len = 0;
	if (!c || !c->connecting)
		return -1;
	int rc = build_connect_answer(srv, c, ev->code, reply);
	if (rc == 0) /* the Connect's answer, at last */
		turn_count_answer(srv, TURN_METHOD_CONNECT, ev->code);
	/* The key is not needed any more. */
	memset(c->key, 0, sizeof(c->key));
	c->key_len = 0;
	c->connecting = false;
	if (ev->code)
		conn_remove(srv, ev->alloc, c);
	return rc;
}

int turn_server_tcp_incoming(struct turn_server *srv, const struct turn_tcp_event *ev,
			     struct turn_reply *reply)
{
	struct turn_alloc *a = ev->alloc;
	uint32_t now = (uint32_t)(ev->now_ms / 1000);
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];

	reply->len = 0;
	/* RFC 6062 section 5.3: only peers with a permission (and that the
	 * policy allows) may reach the client. */
	if (a->dead || !turn_perm_valid(a, ev->peer, now) || !turn_peer_allowed(srv, ev->peer) ||
	    conn_by_id(a, ev->id) || !conn_add(srv, a, ev->id, ev->peer)) {
		srv->stats.tcp_relay_refused++;
		return -1;
	}
	/* An indication's transaction ID need not be random (RFC 8489
	 * section 6); the connection id and the clock make it unique. */
	for (int i = 0; i < STUN_TID_LEN; i++)
		tid[i] = (uint8_t)((i < 4 ? ev->id >> (8 * i) : ev->now_ms >> (8 * (i - 4))) & 0xff);
	stun_build_begin(&b, reply->buf, reply->cap, TURN_METHOD_CONNECTION_ATTEMPT,
			 STUN_CLASS_INDICATION, tid);
	stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, ev->peer);
	stun_build_u32(&b, TURN_ATTR_CONNECTION_ID, ev->id);
	long n = stun_build_end(&b);
	if (n < 0) {
		conn_remove(srv, a, conn_by_id(a, ev->id));
		return -1;
	}
	reply->len = (size_t)n;
	return 0;
}

void turn_server_tcp_closed(struct turn_server *srv, const struct turn_tcp_event *ev)
{
	struct turn_tcp_conn *c = conn_by_id(ev->alloc, ev->id);

	if (c)
		conn_remove(srv, ev->alloc, c);
}
