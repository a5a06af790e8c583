/*
 * turnload's TURN client: one state machine per session, one transaction
 * in flight at a time.
 *
 *   Allocate -> (401: credentials) Allocate -> ChannelBind | CreatePermission
 *            -> READY (data; Refresh and re-binding when due)
 *            -> Refresh LIFETIME 0 -> CLOSED
 *
 * With -y the two sessions of a pair wait for each other's relayed address
 * before binding towards it. With -a a session loops on Allocate (a fresh
 * 401 challenge every time) and Refresh LIFETIME 0.
 *
 * Long-term credentials as RFC 8489 section 9.2 has them: the first
 * request goes without, the 401 gives REALM and NONCE (and perhaps
 * PASSWORD-ALGORITHMS, echoed with MD5 chosen), a 438 gives a new NONCE,
 * and every response to an authenticated request must carry a valid
 * MESSAGE-INTEGRITY. Requests are retransmitted over UDP from 100 ms,
 * doubling, until the timeout (RFC 8489 section 6.2.1); over TCP they go
 * once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "stun/attr.h"
#include "stun/msg.h"

#define SESSION_REQ_MAX 4096
/* New credentials per transaction: the 401, then a 438 or two. */
#define SESSION_CHALLENGES 3
#define SESSION_RTO_NS (100 * LOAD_NS_PER_MS)
/* Permissions last 300 s (RFC 8656 section 9), channels 600 s (section
 * 12): re-binding refreshes both well before. */
#define SESSION_PERM_REFRESH_NS (240 * LOAD_NS_PER_S)
/* After a failed refresh, try again this much later. */
#define SESSION_RETRY_NS (5 * LOAD_NS_PER_S)

/* splitmix64 over a seed from getrandom: transaction IDs need to be
 * unpredictable to an off-path attacker, which a test on loopback has not. */
static uint64_t rng_next(struct load_run *r)
{
	uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A transaction's name in messages; method 0 is a TCP connect. */
static const char *method_name(uint16_t method)
{
	return method == 0 ? "connect" : client_method_name(method);
}

/* ---- the pending list: every transaction (and TCP connect) in flight ---- */

static void pending_add(struct load_run *r, struct load_session *s)
{
	s->txn.prev = NULL;
	s->txn.next = r->pending;
	if (r->pending)
		r->pending->txn.prev = s;
	r->pending = s;
	r->n_pending++;
}

static void txn_done(struct load_run *r, struct load_session *s)
{
	struct load_txn *t = &s->txn;

	if (!t->active)
		return;
	if (t->prev)
		t->prev->txn.next = t->next;
	else
		r->pending = t->next;
	if (t->next)
		t->next->txn.prev = t->prev;
	t->prev = t->next = NULL;
	t->active = false;
	r->n_pending--;
}

void load_session_free(struct load_session *s)
{
	client_cred_forget(&s->cred);
	free(s->frame);
	s->frame = NULL;
	load_stream_free(s->tcp);
	s->tcp = NULL;
}

/* ---- requests ---- */

static long build_request(const struct load_run *r, const struct load_session *s, uint8_t *buf,
			  size_t cap)
{
	const struct load_txn *t = &s->txn;
	bool to_peer =
		t->method == TURN_METHOD_CHANNEL_BIND || t->method == TURN_METHOD_CREATE_PERMISSION;
	struct client_request req = {
		.method = t->method,
		.family = t->method == TURN_METHOD_ALLOCATE ? r->relay_family : 0,
		.channel = t->method == TURN_METHOD_CHANNEL_BIND ? LOAD_CHANNEL : 0,
		.peer = to_peer ? &s->peer : NULL,
		.lifetime = t->method == TURN_METHOD_REFRESH ? t->lifetime : -1,
	};

	return client_build_request(&req, t->tid, &s->cred, buf, cap);
}

static void txn_send(struct load_run *r, struct load_session *s, uint64_t now)
{
	struct load_txn *t = &s->txn;
	uint8_t req[SESSION_REQ_MAX];
	long len = build_request(r, s, req, sizeof(req));

	if (len > 0)
		load_data_send_ctrl(r, s, req, (size_t)len);
	if (s->tcp) {
		t->next_send_ns = t->deadline_ns;
	} else {
		t->next_send_ns = now + t->rto_ns;
		t->rto_ns *= 2;
	}
	if (t->next_send_ns < r->txn_check_ns)
		r->txn_check_ns = t->next_send_ns;
}

/* A new transaction ID and a new timeout, then the first send. */
static void txn_renew(struct load_run *r, struct load_session *s, uint64_t now)
{
	struct load_txn *t = &s->txn;
	uint64_t a = rng_next(r), b = rng_next(r);

	memcpy(t->tid, &a, 8);
	memcpy(t->tid + 8, &b, 4);
	t->deadline_ns = now + (uint64_t)r->o->timeout_ms * LOAD_NS_PER_MS;
	t->rto_ns = SESSION_RTO_NS;
	txn_send(r, s, now);
}

static void txn_begin(struct load_run *r, struct load_session *s, uint16_t method,
		      int64_t lifetime, uint64_t now)
{
	struct load_txn *t = &s->txn;

	txn_done(r, s);
	t->active = true;
	t->method = method;
	t->lifetime = lifetime;
	t->challenges = 0;
	pending_add(r, s);
	txn_renew(r, s, now);
}

/* ---- state changes ---- */

static void settle(struct load_run *r, struct load_session *s, bool ok)
{
	if (s->settled)
		return;
	s->settled = true;
	if (ok)
		r->n_ready++;
	else
		r->n_failed++;
}

void load_session_fail(struct load_run *r, struct load_session *s)
{
	txn_done(r, s);
	s->failed = true;
	settle(r, s, false);
	s->state = LOAD_S_CLOSED;
	/* What it was still to send will not be sent. */
	if (s->quota > s->next_seq && s->quota != UINT64_MAX) {
		uint64_t left = s->quota - s->next_seq;
		r->quota_left = r->quota_left > left ? r->quota_left - left : 0;
		s->quota = s->next_seq;
	}
	/* A partner waiting for this one will never get its address. */
	if (r->o->c2c) {
		struct load_session *p = &r->sess[s->id ^ 1];
		if (p->state == LOAD_S_WAIT_PARTNER)
			load_session_fail(r, p);
	}
}

static uint64_t refresh_after_ns(uint32_t lifetime_s)
{
	return (uint64_t)(lifetime_s > 2 ? lifetime_s / 2 : 1) * LOAD_NS_PER_S;
}

static void ready(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (load_data_prepare(r, s) < 0) {
		load_run_error(r, s, "data", "cannot build the frame");
		load_session_fail(r, s);
		return;
	}
	s->state = LOAD_S_READY;
	s->next_refresh_ns = now + refresh_after_ns(s->lifetime_s);
	s->next_perm_ns = now + SESSION_PERM_REFRESH_NS;
	settle(r, s, true);
}

/* After Allocate (and with -y, once the partner's address is known). */
static void bind_peer(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (r->o->indications) {
		s->state = LOAD_S_PERMITTING;
		txn_begin(r, s, TURN_METHOD_CREATE_PERMISSION, -1, now);
	} else {
		s->state = LOAD_S_BINDING;
		txn_begin(r, s, TURN_METHOD_CHANNEL_BIND, -1, now);
	}
}

/* -y: sessions 2k and 2k+1 send to each other's relayed address. */
static void pair(struct load_run *r, struct load_session *s, uint64_t now)
{
	struct load_session *p = &r->sess[s->id ^ 1];

	if (p->failed) {
		load_session_fail(r, s);
		return;
	}
	if (p->state != LOAD_S_WAIT_PARTNER)
		return;
	s->peer = p->relayed;
	p->peer = s->relayed;
	bind_peer(r, s, now);
	bind_peer(r, p, now);
}

void load_session_alloc_round(struct load_run *r, struct load_session *s, uint64_t now)
{
	client_cred_forget(&s->cred); /* every round meets the 401 */
	s->state = LOAD_S_ALLOCATING;
	s->alloc_start_ns = now;
	s->rounds++;
	txn_begin(r, s, TURN_METHOD_ALLOCATE, -1, now);
}

/* -a: the round is over. Another one from a new socket, as a new client
 * would: coturn keeps a deleted allocation's 5-tuple for a while and
 * answers 437 to a new Allocate from it. Or the slot stops. */
static void alloc_next(struct load_run *r, struct load_session *s)
{
	bool more = r->phase == LOAD_PH_ALLOC && (!r->o->count || s->rounds < r->o->count);

	if (!more) {
		s->state = LOAD_S_CLOSED;
		r->n_cycling--;
		s->close = true;
	} else {
		s->state = LOAD_S_IDLE;
		s->reopen = true;
	}
	load_run_defer(r, s);
}

void load_session_start(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (r->o->mode == LOAD_MODE_RAW) {
		ready(r, s, now);
	} else if (r->o->mode == LOAD_MODE_ALLOC) {
		load_session_alloc_round(r, s, now);
	} else {
		s->state = LOAD_S_ALLOCATING;
		s->alloc_start_ns = now;
		txn_begin(r, s, TURN_METHOD_ALLOCATE, -1, now);
	}
}

/* A request failed: an error response, no response, or a bad one. */
static void on_failure(struct load_run *r, struct load_session *s, uint16_t method, uint64_t now)
{
	if (r->o->mode == LOAD_MODE_ALLOC && s->state != LOAD_S_CLOSED) {
		if (s->state == LOAD_S_ALLOCATING)
			r->st.tot.alloc_failed++;
		else
			r->st.tot.delete_failed++;
		s->allocated = false;
		alloc_next(r, s);
		return;
	}
	switch (s->state) {
	case LOAD_S_ALLOCATING:
		r->st.tot.alloc_failed++;
		load_session_fail(r, s);
		break;
	case LOAD_S_PERMITTING:
	case LOAD_S_BINDING:
		load_session_fail(r, s);
		break;
	case LOAD_S_DELETING:
		r->st.tot.delete_failed++;
		s->allocated = false;
		s->state = LOAD_S_CLOSED;
		break;
	case LOAD_S_READY:
		/* A refresh: try again later; the data will tell. */
		if (method == TURN_METHOD_REFRESH)
			s->next_refresh_ns = now + SESSION_RETRY_NS;
		else
			s->next_perm_ns = now + SESSION_RETRY_NS;
		break;
	default:
		break;
	}
}

void load_session_broken(struct load_run *r, struct load_session *s)
{
	bool closed = s->state == LOAD_S_CLOSED;

	/* IDLE: the connect failed, and said so. */
	if (!closed && s->state != LOAD_S_IDLE)
		load_run_error(r, s, "connection", "closed");
	txn_done(r, s);
	/* Over TCP the allocation lives and dies with the connection (RFC
	 * 8656 section 3.1). */
	s->allocated = false;
	if (r->o->mode == LOAD_MODE_ALLOC && !closed) {
		if (s->state == LOAD_S_DELETING)
			r->st.tot.delete_failed++;
		else
			r->st.tot.alloc_failed++;
		alloc_next(r, s);
		return;
	}
	if (!closed && !s->settled && s->allocs == 0)
		r->st.tot.alloc_failed++; /* it never got as far as an allocation */
	if (!closed)
		load_session_fail(r, s);
	s->close = true;
	load_run_defer(r, s);
}

void load_session_connecting(struct load_run *r, struct load_session *s, uint64_t now)
{
	struct load_txn *t = &s->txn;

	txn_done(r, s);
	s->state = LOAD_S_CONNECTING;
	t->active = true;
	t->method = 0;
	t->deadline_ns = now + (uint64_t)r->o->timeout_ms * LOAD_NS_PER_MS;
	t->next_send_ns = t->deadline_ns;
	pending_add(r, s);
	if (t->next_send_ns < r->txn_check_ns)
		r->txn_check_ns = t->next_send_ns;
}

void load_session_connected(struct load_run *r, struct load_session *s, int err, uint64_t now)
{
	txn_done(r, s);
	if (err != 0) {
		load_run_error(r, s, "connect", strerror(err));
		s->state = LOAD_S_IDLE;
		load_session_broken(r, s);
		return;
	}
	load_run_want_out(r, s, false);
	load_session_start(r, s, now);
}

static void txn_timeout(struct load_run *r, struct load_session *s, uint64_t now)
{
	uint16_t method = s->txn.method;

	txn_done(r, s);
	r->st.tot.timeouts++;
	if (method == 0) {
		load_run_error(r, s, "connect", "timed out");
		s->state = LOAD_S_IDLE;
		load_session_broken(r, s);
		return;
	}
	load_run_error(r, s, method_name(method), "no response");
	on_failure(r, s, method, now);
}

void load_session_timers(struct load_run *r, uint64_t now)
{
	struct load_session *s, *next;

	if (now < r->txn_check_ns)
		return;
	r->txn_check_ns = UINT64_MAX;
	/* What a timeout does never touches another session's transaction,
	 * so `next` stays valid; new transactions go in at the head. */
	for (s = r->pending; s; s = next) {
		struct load_txn *t = &s->txn;
		next = t->next;
		if (now >= t->deadline_ns) {
			txn_timeout(r, s, now);
			continue;
		}
		if (now >= t->next_send_ns)
			txn_send(r, s, now);
		if (t->next_send_ns < r->txn_check_ns)
			r->txn_check_ns = t->next_send_ns;
	}
}

bool load_session_maintain(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (s->state != LOAD_S_READY || s->txn.active || s->fd < 0 ||
	    r->o->mode == LOAD_MODE_RAW)
		return false;
	if (now >= s->next_refresh_ns) {
		txn_begin(r, s, TURN_METHOD_REFRESH, -1, now);
		return true;
	}
	if (now >= s->next_perm_ns) {
		txn_begin(r, s,
			  r->o->indications ? TURN_METHOD_CREATE_PERMISSION
					    : TURN_METHOD_CHANNEL_BIND,
			  -1, now);
		return true;
	}
	return false;
}

bool load_session_delete(struct load_run *r, struct load_session *s, uint64_t now)
{
	if (!s->allocated || s->fd < 0 || s->broken) {
		/* Stop whatever it was doing (an interrupted set-up). */
		txn_done(r, s);
		if (s->state != LOAD_S_IDLE)
			s->state = LOAD_S_CLOSED;
		return false;
	}
	s->state = LOAD_S_DELETING;
	txn_begin(r, s, TURN_METHOD_REFRESH, 0, now);
	return true;
}

/* ---- responses ---- */

/* "Allocate: 401 Unauthorized", the reason made printable. */
static void report_error(struct load_run *r, const struct load_session *s, uint16_t method,
			 const struct stun_msg *m, int code)
{
	char text[160];

	load_run_error(r, s, method_name(method), client_error_text(m, code, text, sizeof(text)));
}

/* XOR-RELAYED-ADDRESS of the family asked for, and LIFETIME. */
static int read_allocation(const struct load_run *r, struct load_session *s,
			   const struct stun_msg *m)
{
	uint8_t want = r->relay_family == STUN_FAMILY_IPV6 ? TURN_AF_INET6 : TURN_AF_INET;
	const struct stun_attr *lt = stun_msg_find(m, TURN_ATTR_LIFETIME);
	bool found = client_relayed_address(m, want, &s->relayed) == 0;

	s->lifetime_s = 600; /* RFC 8656 section 7.2's default, if left out */
	if (lt)
		stun_attr_get_u32(m, lt, &s->lifetime_s);
	return found ? 0 : -1;
}

static void on_allocated(struct load_run *r, struct load_session *s, const struct stun_msg *m,
			 uint64_t now)
{
	uint64_t lat = now - s->alloc_start_ns;

	s->allocated = true;
	if (read_allocation(r, s, m) < 0) {
		load_run_error(r, s, "Allocate", "no XOR-RELAYED-ADDRESS of the family asked for");
		on_failure(r, s, TURN_METHOD_ALLOCATE, now);
		return;
	}
	r->st.tot.allocs++;
	r->last_alloc_ns = now;
	s->allocs++;
	load_hist_add(&r->st.alloc, lat);
	load_hist_add(&r->st.alloc_iv, lat);
	if (r->o->mode == LOAD_MODE_ALLOC) {
		s->state = LOAD_S_DELETING;
		txn_begin(r, s, TURN_METHOD_REFRESH, 0, now);
	} else if (r->o->c2c) {
		s->state = LOAD_S_WAIT_PARTNER;
		pair(r, s, now);
	} else {
		bind_peer(r, s, now);
	}
}

static void on_success(struct load_run *r, struct load_session *s, uint16_t method,
		       const struct stun_msg *m, uint64_t now)
{
	const struct stun_attr *lt;

	switch (method) {
	case TURN_METHOD_ALLOCATE:
		on_allocated(r, s, m, now);
		break;
	case TURN_METHOD_CREATE_PERMISSION:
	case TURN_METHOD_CHANNEL_BIND:
		if (s->state == LOAD_S_READY)
			s->next_perm_ns = now + SESSION_PERM_REFRESH_NS;
		else
			ready(r, s, now);
		break;
	case TURN_METHOD_REFRESH:
		if (s->state != LOAD_S_DELETING) {
			lt = stun_msg_find(m, TURN_ATTR_LIFETIME);
			if (lt)
				stun_attr_get_u32(m, lt, &s->lifetime_s);
			s->next_refresh_ns = now + refresh_after_ns(s->lifetime_s);
			break;
		}
		s->allocated = false;
		if (r->o->mode == LOAD_MODE_ALLOC) {
			alloc_next(r, s);
			break;
		}
		s->state = LOAD_S_CLOSED;
		if (s->tcp) {
			s->close = true;
			load_run_defer(r, s);
		}
		break;
	default:
		break;
	}
}

static void on_indication(struct load_run *r, const struct stun_msg *m, uint64_t now)
{
	const struct stun_attr *d = stun_msg_find(m, TURN_ATTR_DATA);

	if (m->method != TURN_METHOD_DATA || !d) {
		r->st.tot.bad++;
		return;
	}
	load_data_on_payload(r, stun_attr_value(m, d), d->len, now);
}

void load_session_on_stun(struct load_run *r, struct load_session *s, const uint8_t *buf,
			  size_t len, uint64_t now)
{
	struct load_txn *t = &s->txn;
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len) < 0) {
		r->st.tot.bad++;
		return;
	}
	if (m.cls == STUN_CLASS_INDICATION) {
		on_indication(r, &m, now);
		return;
	}
	/* Anything else is an answer to the transaction in flight, or a late
	 * one to a retransmission: ignored. */
	if (!t->active || t->method == 0 || !client_is_response(&m, t->tid, t->method))
		return;
	int code = client_response_code(&m);
	if (client_is_challenge(code, s->cred.have_key)) {
		const char *why = NULL;
		if (t->challenges < SESSION_CHALLENGES &&
		    client_cred_take(&s->cred, &m, &why) == 0) {
			t->challenges++;
			txn_renew(r, s, now);
			return;
		}
		if (why)
			load_run_error(r, s, method_name(t->method), why);
		code = -1;
	}
	/* One without a valid MESSAGE-INTEGRITY is not from the server we
	 * share the key with. */
	if (code >= 0 && !client_cred_trusts(&s->cred, &m, code)) {
		load_run_error(r, s, method_name(t->method), "the response fails MESSAGE-INTEGRITY");
		code = -1;
	}
	uint16_t method = t->method;
	txn_done(r, s);
	if (code == 0) {
		on_success(r, s, method, &m, now);
		return;
	}
	if (code > 0)
		report_error(r, s, method, &m, code);
	on_failure(r, s, method, now);
}
