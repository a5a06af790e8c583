/* TURN methods (RFC 8656 sections 7-11, RFC 6156). */
#include "turn/internal.h"

#include <string.h>

#include "turn/policy.h"

static struct turn_alloc *existing_alloc(struct turn_request *req, bool *done);

/* Authenticate, and for methods on an existing allocation find it and
 * check it belongs to this user. Returns the allocation, or NULL with
 * *done set when a response was written. */
struct turn_alloc *turn_existing_alloc(struct turn_request *req)
{
	bool done;

	return existing_alloc(req, &done);
}

static struct turn_alloc *existing_alloc(struct turn_request *req, bool *done)
{
	struct turn_alloc *a;

	*done = true;
	if (turn_authenticate(req) != 0)
		return NULL;
	a = turn_alloc_find(&req->srv->allocs, req->tuple);
	if (!a) {
		turn_send_error(req, TURN_ERR_ALLOCATION_MISMATCH);
		return NULL;
	}
	/* RFC 8656 section 5: later requests must use the credentials the
	 * allocation was created with. */
	if (strcmp(a->username, req->username ? req->username : "") != 0) {
		turn_send_error(req, TURN_ERR_WRONG_CREDENTIALS);
		return NULL;
	}
	*done = false;
	return a;
}

/* RFC 8656 section 7.2 step 9 / 7.3: the lifetime granted. Both methods
 * take min(requested, maximum) and raise it to the default; only a
 * Refresh may ask for 0 (delete). A user's own cap (turn_credential)
 * comes last, below the default if it says so. */
static uint32_t granted_lifetime(const struct turn_request *req, bool allocate)
{
	const struct turn_server *srv = req->srv;
	const struct stun_msg *m = req->msg;
	const struct stun_attr *l = stun_msg_find(m, TURN_ATTR_LIFETIME);
	uint32_t user_max = req->cred ? req->cred->max_lifetime : 0;
	uint32_t want;

	if (!l || stun_attr_get_u32(m, l, &want) < 0)
		want = srv->default_lifetime;
	else if (want == 0 && !allocate)
		return 0;
	if (want > srv->max_lifetime)
		want = srv->max_lifetime;
	if (want < srv->default_lifetime)
		want = srv->default_lifetime;
	if (user_max && want > user_max)
		want = user_max;
	return want;
}

static void build_alloc_success(struct turn_request *req, struct turn_alloc *a, uint64_t token,
				uint16_t addr_error_family, int addr_error)
{
	struct stun_builder b;

	turn_begin_success(req, &b);
	for (int i = 0; i < 2; i++)
		if (a->relay[i].io)
			stun_build_xor_addr(&b, TURN_ATTR_XOR_RELAYED_ADDRESS, &a->relay[i].addr);
	if (addr_error)
		stun_build_address_error(&b, (uint8_t)addr_error_family, addr_error,
					 stun_error_reason(addr_error));
	stun_build_u32(&b, TURN_ATTR_LIFETIME, a->lifetime);
	if (token)
		stun_build_u64(&b, TURN_ATTR_RESERVATION_TOKEN, token);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &req->tuple->client);
	turn_finish_response(req, &b);
}

struct alloc_plan {
	uint8_t family;        /* the first (or only) relay family */
	bool dual;             /* ADDITIONAL-ADDRESS-FAMILY: also IPv6 */
	struct turn_relay_request relay;
};

/* Read and check the Allocate's attributes (RFC 8656 section 7.2 steps
 * 2-8). Returns 0 or the error code. */
static int plan_allocate(struct turn_request *req, struct alloc_plan *p)
{
	const struct stun_msg *m = req->msg;
	const struct stun_attr *rt = stun_msg_find(m, TURN_ATTR_REQUESTED_TRANSPORT);
	const struct stun_attr *raf = stun_msg_find(m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
	const struct stun_attr *aaf = stun_msg_find(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY);
	const struct stun_attr *ep = stun_msg_find(m, TURN_ATTR_EVEN_PORT);
	const struct stun_attr *tok = stun_msg_find(m, TURN_ATTR_RESERVATION_TOKEN);
	uint8_t proto;

	memset(p, 0, sizeof(*p));
	p->relay.origin = req->origin;
	p->family = TURN_AF_INET; /* RFC 8656 section 7.2: IPv4 unless asked */
	if (!rt || stun_attr_get_transport(m, rt, &proto) < 0)
		return STUN_ERR_BAD_REQUEST;
	if (proto == TURN_TRANSPORT_TCP) {
		/* RFC 6062 section 5.1: a TCP relay is for clients over TCP or
		 * TLS only, and takes none of the UDP relay's port options. */
		if (req->tuple->transport != TURN_TRANSPORT_TCP || !req->srv->io->tcp_connect)
			return TURN_ERR_UNSUPPORTED_TRANSPORT;
		if (ep || tok || stun_msg_find(m, TURN_ATTR_DONT_FRAGMENT))
			return STUN_ERR_BAD_REQUEST;
		p->relay.tcp = true;
	} else if (proto != TURN_TRANSPORT_UDP) {
		return TURN_ERR_UNSUPPORTED_TRANSPORT;
	}
	if (tok && (ep || raf || aaf))
		return STUN_ERR_BAD_REQUEST;
	if (raf && aaf)
		return STUN_ERR_BAD_REQUEST;
	if (raf) {
		uint8_t fam;
		if (stun_attr_get_family(m, raf, &fam) < 0)
			return TURN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED;
		p->family = fam == STUN_FAMILY_IPV6 ? TURN_AF_INET6 : TURN_AF_INET;
	}
	if (aaf) {
		uint8_t fam;
		/* Only IPv6 may be asked for in addition (RFC 8656 section 7.2). */
		if (stun_attr_get_family(m, aaf, &fam) < 0 || fam != STUN_FAMILY_IPV6)
			return STUN_ERR_BAD_REQUEST;
		p->family = TURN_AF_INET;
		p->dual = true;
	}
	if (ep && stun_attr_get_even_port(m, ep, &p->relay.reserve_next) < 0)
		return STUN_ERR_BAD_REQUEST;
	p->relay.even_port = ep != NULL;
	if (tok && stun_attr_get_u64(m, tok, &p->relay.token) < 0)
		return STUN_ERR_BAD_REQUEST;
	p->relay.dont_fragment = stun_msg_find(m, TURN_ATTR_DONT_FRAGMENT) != NULL;
	return 0;
}

/* A retransmitted Allocate (same transaction) gets the same success; any
 * other Allocate on a 5-tuple in use gets 437 (RFC 8656 section 7.2). */
static int allocate_again(struct turn_request *req, struct turn_alloc *a)
{
	if (memcmp(a->alloc_tid, req->msg->tid, STUN_TID_LEN) != 0 ||
	    strcmp(a->username, req->username ? req->username : "") != 0)
		return turn_send_error(req, TURN_ERR_ALLOCATION_MISMATCH);
	/* The same answer as the first time, token and address error too. */
	build_alloc_success(req, a, a->token, STUN_FAMILY_IPV6, a->v6_error);
	return 0;
}

/* Open the relay endpoints the plan asks for. Returns 0 or an error code;
 * a failed additional IPv6 relay is not fatal (ADDRESS-ERROR-CODE). The
 * slot follows the address the relay got: with a RESERVATION-TOKEN the
 * family is the reservation's. */
static int open_relays(struct turn_server *srv, struct turn_alloc *a, struct alloc_plan *p,
		       uint64_t *token, int *v6_error)
{
	struct turn_relay_slot r = { 0 };

	p->relay.family = p->family;
	p->relay.owner = a;
	int rc = srv->io->relay_open(srv->io->ctx, &p->relay, &r.io, &r.addr, token);
	if (rc != 0)
		return rc;
	a->relay[r.addr.family == TURN_AF_INET6 ? 1 : 0] = r;
	if (p->dual) {
		struct turn_relay_request r6 = p->relay;
		uint64_t unused;
		r6.family = TURN_AF_INET6;
		r6.even_port = r6.reserve_next = false;
		*v6_error = srv->io->relay_open(srv->io->ctx, &r6, &a->relay[1].io, &a->relay[1].addr,
						&unused);
	}
	return 0;
}

/*
 * 300 Try Alternate with the next ALTERNATE-SERVER (RFC 8489 section 10),
 * after authentication so the client can trust the redirection (the
 * response carries MESSAGE-INTEGRITY). Without alternates: 508.
 */
static int try_alternate(struct turn_request *req)
{
	struct turn_server *srv = req->srv;
	struct stun_builder b;

	if (srv->n_alternates == 0)
		return turn_send_error(req, TURN_ERR_INSUFFICIENT_CAPACITY);
	const struct turn_addr *alt = &srv->alternates[srv->next_alternate++ % srv->n_alternates];
	stun_build_response(&b, req->reply->buf, req->reply->cap, req->msg, STUN_CLASS_ERROR);
	stun_build_error(&b, STUN_ERR_TRY_ALTERNATE, stun_error_reason(STUN_ERR_TRY_ALTERNATE));
	req->answer = STUN_ERR_TRY_ALTERNATE;
	stun_build_addr(&b, STUN_ATTR_ALTERNATE_SERVER, alt);
	srv->stats.errors_sent++;
	return turn_finish_response(req, &b);
}

int turn_allocate(struct turn_request *req)
{
	struct turn_server *srv = req->srv;
	struct alloc_plan plan;
	uint64_t token = 0;
	int rc, v6_error = 0;

	if (turn_authenticate(req) != 0)
		return 0;
	struct turn_alloc *a = turn_alloc_find(&srv->allocs, req->tuple);
	if (a)
		return allocate_again(req, a);
	rc = plan_allocate(req, &plan);
	if (rc)
		return turn_send_error(req, rc);
	rc = srv->io->quota_take ? srv->io->quota_take(srv->io->ctx, req->username, req->origin) : 0;
	if (rc == STUN_ERR_TRY_ALTERNATE)
		return try_alternate(req);
	if (rc)
		return turn_send_error(req, rc);
	a = turn_alloc_new(&srv->allocs, req->tuple, req->username);
	if (!a) {
		if (srv->io->quota_give)
			srv->io->quota_give(srv->io->ctx, req->username);
		return turn_send_error(req, TURN_ERR_INSUFFICIENT_CAPACITY);
	}
	srv->stats.allocations++;
	rc = open_relays(srv, a, &plan, &token, &v6_error);
	if (rc) {
		turn_alloc_delete(srv, a);
		return turn_send_error(req, rc);
	}
	memcpy(a->alloc_tid, req->msg->tid, STUN_TID_LEN);
	a->dont_fragment = plan.relay.dont_fragment;
	a->tcp = plan.relay.tcp;
	a->lifetime = granted_lifetime(req, true);
	a->created = req->now;
	turn_alloc_set_expiry(&srv->allocs, a, req->now + a->lifetime);
	srv->stats.allocations_total++;
	a->token = plan.relay.reserve_next ? token : 0;
	a->v6_error = (uint16_t)v6_error;
	build_alloc_success(req, a, a->token, STUN_FAMILY_IPV6, v6_error);
	turn_user_attach(srv, a, req->cred ? req->cred->max_bps : 0);
	turn_alloc_event(srv, TURN_ALLOC_CREATED, a);
	return 0;
}

int turn_refresh(struct turn_request *req)
{
	struct turn_server *srv = req->srv;
	struct stun_builder b;
	bool done;
	struct turn_alloc *a = existing_alloc(req, &done);

	if (!a)
		return 0;
	/* RFC 8656 section 7.3: a REQUESTED-ADDRESS-FAMILY the allocation
	 * does not have gets 443. */
	const struct stun_attr *raf = stun_msg_find(req->msg, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
	uint8_t fam;
	if (raf && (stun_attr_get_family(req->msg, raf, &fam) < 0 ||
		    !a->relay[fam == STUN_FAMILY_IPV6 ? 1 : 0].io))
		return turn_send_error(req, TURN_ERR_PEER_ADDRESS_FAMILY_MISMATCH);
	uint32_t lifetime = granted_lifetime(req, false);
	turn_begin_success(req, &b);
	stun_build_u32(&b, TURN_ATTR_LIFETIME, lifetime);
	turn_finish_response(req, &b);
	if (lifetime == 0) {
		a->close_reason = TURN_CLOSE_REFRESH;
		turn_alloc_delete(srv, a);
		return 0;
	}
	a->lifetime = lifetime;
	turn_alloc_prune(a, req->now);
	turn_alloc_set_expiry(&srv->allocs, a, req->now + lifetime);
	turn_alloc_sync(srv, a, TURN_SYNC_CHANGED);
	turn_alloc_event(srv, TURN_ALLOC_REFRESHED, a);
	return 0;
}

/* The relay of the peer's family, or NULL (443, RFC 8656 section 9.1). */
static bool alloc_has_family(const struct turn_alloc *a, const struct turn_addr *peer)
{
	return a->relay[peer->family == TURN_AF_INET6 ? 1 : 0].io != NULL;
}

/* Whether an XOR-PEER-ADDRESS before attrs[i] names the same IP. */
static bool peer_seen_before(const struct stun_msg *m, uint8_t i, const struct turn_addr *peer)
{
	for (uint8_t j = 0; j < i; j++) {
		struct turn_addr earlier;
		if (m->attrs[j].type == TURN_ATTR_XOR_PEER_ADDRESS &&
		    stun_attr_get_xor_addr(m, &m->attrs[j], &earlier) == 0 &&
		    turn_addr_ip_eq(&earlier, peer))
			return true;
	}
	return false;
}

/* Check every XOR-PEER-ADDRESS of a CreatePermission before installing
 * any (RFC 8656 section 9.2: all or nothing), capacity included: the
 * permissions it would add must fit under max-permissions. Returns 0 or
 * an error. */
static int check_peers(struct turn_request *req, const struct turn_alloc *a, size_t *n)
{
	const struct stun_msg *m = req->msg;
	size_t fresh = 0;

	*n = 0;
	for (uint8_t i = 0; i < m->n_attrs; i++) {
		struct turn_addr peer;
		if (m->attrs[i].type != TURN_ATTR_XOR_PEER_ADDRESS)
			continue;
		if (stun_attr_get_xor_addr(m, &m->attrs[i], &peer) < 0)
			return STUN_ERR_BAD_REQUEST;
		if (!alloc_has_family(a, &peer))
			return TURN_ERR_PEER_ADDRESS_FAMILY_MISMATCH;
		if (!turn_peer_allowed(req->srv, &peer))
			return STUN_ERR_FORBIDDEN;
		if (!turn_perm_valid(a, &peer, req->now) && !peer_seen_before(m, i, &peer))
			fresh++;
		(*n)++;
	}
	if (*n == 0)
		return STUN_ERR_BAD_REQUEST;
	/* Only new permissions count: refreshing those held always works,
	 * also when a reload lowered max-permissions below them. */
	if (req->srv->max_permissions && fresh &&
	    turn_perm_count(a, req->now) + fresh > req->srv->max_permissions)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	return 0;
}

int turn_create_permission(struct turn_request *req)
{
	const struct stun_msg *m = req->msg;
	struct stun_builder b;
	size_t n;
	bool done;
	struct turn_alloc *a = existing_alloc(req, &done);

	if (!a)
		return 0;
	int rc = check_peers(req, a, &n);
	if (rc)
		return turn_send_error(req, rc);
	for (uint8_t i = 0; i < m->n_attrs; i++) {
		struct turn_addr peer;
		if (m->attrs[i].type != TURN_ATTR_XOR_PEER_ADDRESS)
			continue;
		stun_attr_get_xor_addr(m, &m->attrs[i], &peer);
		if (turn_perm_install(a, &peer, req->now, req->srv->max_permissions) < 0)
			return turn_send_error(req, TURN_ERR_INSUFFICIENT_CAPACITY);
	}
	turn_alloc_sync(req->srv, a, TURN_SYNC_CHANGED);
	turn_begin_success(req, &b);
	return turn_finish_response(req, &b);
}

int turn_channel_bind_request(struct turn_request *req)
{
	const struct stun_msg *m = req->msg;
	const struct stun_attr *ch = stun_msg_find(m, TURN_ATTR_CHANNEL_NUMBER);
	const struct stun_attr *pa = stun_msg_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
	struct turn_addr peer;
	struct stun_builder b;
	uint16_t number;
	bool done;
	struct turn_alloc *a = existing_alloc(req, &done);

	if (!a)
		return 0;
	/* RFC 6062 section 5.1: a TCP allocation has no channels. */
	if (a->tcp || !ch || !pa || stun_attr_get_channel(m, ch, &number) < 0 ||
	    number < TURN_CHANNEL_MIN || number > req->srv->max_channel_number ||
	    stun_attr_get_xor_addr(m, pa, &peer) < 0)
		return turn_send_error(req, STUN_ERR_BAD_REQUEST);
	if (!alloc_has_family(a, &peer))
		return turn_send_error(req, TURN_ERR_PEER_ADDRESS_FAMILY_MISMATCH);
	if (!turn_peer_allowed(req->srv, &peer))
		return turn_send_error(req, STUN_ERR_FORBIDDEN);
	/* A channel binding also installs or refreshes the permission
	 * (RFC 8656 section 11.2), and is all or nothing: a binding left
	 * behind by a 508 would carry ChannelData to a peer without a
	 * permission, past max-permissions. So the permission's room is made
	 * first, the channel bound, and only then the permission installed,
	 * which can no longer fail. */
	if (turn_perm_reserve(a, &peer, req->now, req->srv->max_permissions) < 0)
		return turn_send_error(req, TURN_ERR_INSUFFICIENT_CAPACITY);
	int rc = turn_channel_bind(a, number, &peer, req->now, req->srv->max_channels);
	if (rc)
		return turn_send_error(req, rc);
	turn_channel_judged(req->srv, a, number);
	turn_perm_install(a, &peer, req->now, req->srv->max_permissions);
	turn_alloc_sync(req->srv, a, TURN_SYNC_CHANGED);
	turn_begin_success(req, &b);
	return turn_finish_response(req, &b);
}

/*
 * RFC 8656 section 10.2: a Send indication that is malformed, or without a
 * permission for the peer's IP, is silently dropped; so is one to a peer
 * the policy refuses (the server MAY restrict the address and port). The
 * permission was judged by IP alone (its CreatePermission's port says
 * nothing about this one), so the policy is asked about this IP and port,
 * for each Send: the rules on ports (listening ports, the hairpin) apply.
 * A TCP allocation relays only on its connections (RFC 6062 section 5.1).
 */
int turn_send_indication(struct turn_request *req)
{
	struct turn_server *srv = req->srv;
	const struct stun_msg *m = req->msg;
	struct turn_alloc *a = turn_alloc_find(&srv->allocs, req->tuple);
	const struct stun_attr *pa = stun_msg_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
	const struct stun_attr *data = stun_msg_find(m, TURN_ATTR_DATA);
	struct turn_addr peer;

	if (!a || a->tcp || !pa || !data || stun_attr_get_xor_addr(m, pa, &peer) < 0)
		return -1;
	if (!turn_perm_valid(a, &peer, req->now) || !turn_peer_allowed(srv, &peer)) {
		srv->stats.peer_denied++;
		return -1;
	}
	return turn_relay_to_peer(srv, a, &peer, stun_attr_value(m, data), data->len,
				  req->now_ms);
}
