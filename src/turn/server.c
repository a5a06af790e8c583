/* Method dispatch, responses, and the STUN Binding service. */
#include "turn/internal.h"

#include <stdlib.h>
#include <string.h>

typedef int (*turn_method_handler)(struct turn_request *req);

struct turn_method {
	uint16_t method;
	bool turn;                         /* a TURN method: off with stun_only */
	turn_method_handler on_request;    /* NULL: requests are dropped */
	turn_method_handler on_indication; /* NULL: indications are dropped */
};

static int binding_request(struct turn_request *req);
static int binding_indication(struct turn_request *req);

static const struct turn_method methods[] = {
	{ STUN_METHOD_BINDING, false, binding_request, binding_indication },
	{ TURN_METHOD_ALLOCATE, true, turn_allocate, NULL },
	{ TURN_METHOD_REFRESH, true, turn_refresh, NULL },
	{ TURN_METHOD_CREATE_PERMISSION, true, turn_create_permission, NULL },
	{ TURN_METHOD_CHANNEL_BIND, true, turn_channel_bind_request, NULL },
	{ TURN_METHOD_SEND, true, NULL, turn_send_indication },
	{ TURN_METHOD_CONNECT, true, turn_connect, NULL },
	{ TURN_METHOD_CONNECTION_BIND, true, turn_connection_bind, NULL },
};

struct turn_server *turn_server_new(const struct turn_server_options *opt)
{
	struct turn_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->rfc3489_compat = opt->rfc3489_compat;
	srv->stun_only = opt->stun_only || !opt->io;
	srv->software = opt->software && *opt->software ? strdup(opt->software) : NULL;
	srv->realm = strdup(opt->realm ? opt->realm : "turnd");
	memcpy(srv->nonce.key, opt->nonce_secret, sizeof(srv->nonce.key));
	srv->nonce.lifetime_s = opt->nonce_lifetime ? opt->nonce_lifetime : TURN_NONCE_DEFAULT_LIFETIME_S;
	/* Every nonce announces password-algorithm negotiation (RFC 8489
	 * section 9.2): clients that know it may choose SHA-256. */
	srv->nonce.features = TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS;
	/* Keyed once: each 401 and each nonce checked costs one short
	 * HMAC. Without it (no memory) the one-shot HMAC still works. */
	(void)turn_nonce_keyed(&srv->nonce);
	srv->default_lifetime = opt->default_lifetime ? opt->default_lifetime : TURN_DEFAULT_LIFETIME;
	srv->max_lifetime = opt->max_lifetime ? opt->max_lifetime : 3600;
	if (srv->max_lifetime < srv->default_lifetime)
		srv->max_lifetime = srv->default_lifetime;
	srv->max_permissions = opt->max_permissions;
	srv->max_channels = opt->max_channels;
	srv->max_tcp_connections = opt->max_tcp_connections;
	srv->max_bps = opt->max_bps;
	srv->max_channel_number = opt->legacy_channels ? TURN_CHANNEL_MAX_RFC5766 : TURN_CHANNEL_MAX;
	srv->policy = opt->policy;
	if (opt->n_alternates) {
		srv->alternates = calloc(opt->n_alternates, sizeof(*srv->alternates));
		if (!srv->alternates) {
			turn_server_free(srv);
			return NULL;
		}
		memcpy(srv->alternates, opt->alternates, opt->n_alternates * sizeof(*srv->alternates));
		srv->n_alternates = opt->n_alternates;
	}
	srv->io = opt->io;
	memcpy(srv->nat, opt->nat, sizeof(srv->nat));
	if ((opt->software && *opt->software && !srv->software) || !srv->realm ||
	    turn_alloc_table_init(&srv->allocs, opt->hash_seed) < 0) {
		turn_server_free(srv);
		return NULL;
	}
	return srv;
}

/* What a relayed since its last fold, to its user's totals. */
static void fold_usage(struct turn_server *srv, struct turn_alloc *a)
{
	const struct turn_traffic d = {
		.pkts_to_peer = a->pkts_out - a->folded_pkts_out,
		.bytes_to_peer = a->bytes_out - a->folded_bytes_out,
		.pkts_to_client = a->pkts_in - a->folded_pkts_in,
		.bytes_to_client = a->bytes_in - a->folded_bytes_in,
	};

	if (!d.pkts_to_peer && !d.pkts_to_client)
		return;
	srv->io->user_fold(srv->io->ctx, a->user, &d);
	a->folded_pkts_out = a->pkts_out;
	a->folded_bytes_out = a->bytes_out;
	a->folded_pkts_in = a->pkts_in;
	a->folded_bytes_in = a->bytes_in;
}

void turn_server_fold_usage(struct turn_server *srv)
{
	const struct turn_alloc_table *t = &srv->allocs;

	for (size_t i = 0; t->buckets && i < t->n_buckets; i++)
		for (struct turn_alloc *a = t->buckets[i]; a; a = a->hash_next)
			if (a->user)
				fold_usage(srv, a);
}

void turn_server_set_capacity(struct turn_server *srv, struct bw_share *capacity)
{
	srv->capacity = capacity;
}

/* An allocation granted to its user: the user's record and budget. */
void turn_user_attach(struct turn_server *srv, struct turn_alloc *a, uint64_t max_bps)
{
	if (srv->io && srv->io->user_attach && a->username)
		a->user = srv->io->user_attach(srv->io->ctx, a->username, max_bps, &a->user_bw);
	if (!a->user)
		a->user_bw = NULL;
}

static void release_alloc(void *arg, struct turn_alloc *a)
{
	struct turn_server *srv = arg;

	/* Its TCP connections first: closing them adds what they piped to
	 * the totals the event reports. */
	turn_tcp_close_all(srv, a);
	/* It was granted: not one whose relay failed to open. What net/
	 * relayed for it outside the core is folded in first, so that the
	 * event's totals hold it too, and its user's. */
	if (a->lifetime) {
		turn_alloc_sync(srv, a, TURN_SYNC_CLOSING);
		turn_alloc_event(srv, TURN_ALLOC_DELETED, a);
	}
	if (a->user) {
		fold_usage(srv, a);
		srv->io->user_detach(srv->io->ctx, a->user);
		a->user = NULL;
		a->user_bw = NULL;
	}
	for (int i = 0; i < 2; i++)
		if (a->relay[i].io)
			srv->io->relay_close(srv->io->ctx, a->relay[i].io);
	if (srv->io && srv->io->quota_give)
		srv->io->quota_give(srv->io->ctx, a->username);
}

void turn_server_free(struct turn_server *srv)
{
	if (!srv)
		return;
	turn_alloc_table_fini(&srv->allocs, release_alloc, srv);
	turn_nonce_unkeyed(&srv->nonce);
	free(srv->software);
	free(srv->realm);
	free(srv->alternates);
	free(srv);
}

const struct turn_server_stats *turn_server_stats(const struct turn_server *srv)
{
	return &srv->stats;
}

/* Every live allocation's data path changed (max-bps): net/ is told. */
static void sync_all(struct turn_server *srv)
{
	const struct turn_alloc_table *t = &srv->allocs;

	for (size_t i = 0; t->buckets && i < t->n_buckets; i++)
		for (struct turn_alloc *a = t->buckets[i]; a; a = a->hash_next)
			if (!a->dead)
				turn_alloc_sync(srv, a, TURN_SYNC_CHANGED);
}

void turn_server_set_max_bps(struct turn_server *srv, uint64_t max_bps)
{
	if (srv->max_bps == max_bps)
		return;
	srv->max_bps = max_bps;
	sync_all(srv);
}

uint64_t turn_server_max_bps(const struct turn_server *srv)
{
	return srv->max_bps;
}

void turn_server_add_traffic(struct turn_server *srv, struct turn_alloc *a,
			     const struct turn_traffic *t)
{
	a->pkts_out += t->pkts_to_peer;
	a->bytes_out += t->bytes_to_peer;
	a->pkts_in += t->pkts_to_client;
	a->bytes_in += t->bytes_to_client;
	srv->stats.relayed_to_peer += t->pkts_to_peer;
	srv->stats.bytes_to_peer += t->bytes_to_peer;
	srv->stats.relayed_to_client += t->pkts_to_client;
	srv->stats.bytes_to_client += t->bytes_to_client;
	srv->stats.bandwidth_drops += t->bw_drops;
}

void turn_alloc_sync(struct turn_server *srv, struct turn_alloc *a, enum turn_sync why)
{
	struct turn_traffic carried = { 0 };

	if (!srv->io || !srv->io->alloc_sync)
		return;
	srv->io->alloc_sync(srv->io->ctx, a, why, &carried);
	if (why == TURN_SYNC_CLOSING)
		turn_server_add_traffic(srv, a, &carried);
}

void turn_server_set_limits(struct turn_server *srv, uint32_t max_lifetime,
			    unsigned max_permissions, unsigned max_channels,
			    unsigned max_tcp_connections)
{
	/* As turn_server_new reads them. */
	srv->max_lifetime = max_lifetime ? max_lifetime : 3600;
	if (srv->max_lifetime < srv->default_lifetime)
		srv->max_lifetime = srv->default_lifetime;
	srv->max_permissions = max_permissions;
	srv->max_channels = max_channels;
	srv->max_tcp_connections = max_tcp_connections;
}

void turn_alloc_event(struct turn_server *srv, enum turn_alloc_event ev, const struct turn_alloc *a)
{
	if (srv->io && srv->io->alloc_event)
		srv->io->alloc_event(srv->io->ctx, ev, a, ev == TURN_ALLOC_DELETED ? 0 : a->lifetime);
}

void turn_alloc_delete(struct turn_server *srv, struct turn_alloc *a)
{
	release_alloc(srv, a);
	turn_alloc_free(&srv->allocs, a);
	srv->stats.allocations--;
}

static void expire_alloc(void *arg, struct turn_alloc *a)
{
	a->close_reason = TURN_CLOSE_EXPIRED;
	turn_alloc_delete(arg, a);
}

const char *turn_close_reason_name(unsigned reason)
{
	static const char *const names[] = {
		[TURN_CLOSE_STOP] = "stop",
		[TURN_CLOSE_REFRESH] = "refresh 0",
		[TURN_CLOSE_EXPIRED] = "expired",
		[TURN_CLOSE_CLIENT_GONE] = "client connection closed",
		[TURN_CLOSE_KILLED] = "killed by operator",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "unknown";
}

void turn_server_foreach(const struct turn_server *srv,
			 void (*fn)(void *arg, const struct turn_alloc *a), void *arg)
{
	const struct turn_alloc_table *t = &srv->allocs;

	for (size_t i = 0; t->buckets && i < t->n_buckets; i++)
		for (const struct turn_alloc *a = t->buckets[i]; a; a = a->hash_next)
			if (!a->dead && a->lifetime)
				fn(arg, a);
}

struct turn_alloc *turn_server_alloc_by_id(const struct turn_server *srv, uint64_t id)
{
	const struct turn_alloc_table *t = &srv->allocs;

	for (size_t i = 0; t->buckets && i < t->n_buckets; i++)
		for (struct turn_alloc *a = t->buckets[i]; a; a = a->hash_next)
			if (a->id == id && !a->dead && a->lifetime)
				return a;
	return NULL;
}

void turn_server_close(struct turn_server *srv, struct turn_alloc *a, unsigned reason)
{
	a->close_reason = (uint8_t)reason;
	turn_alloc_delete(srv, a);
}

void turn_server_tick(struct turn_server *srv, uint64_t now_ms)
{
	turn_alloc_table_advance(&srv->allocs, (uint32_t)(now_ms / 1000), expire_alloc, srv);
}

void turn_server_client_closed(struct turn_server *srv, const struct turn_tuple *tuple)
{
	struct turn_alloc *a = turn_alloc_find(&srv->allocs, tuple);

	if (a) {
		a->close_reason = TURN_CLOSE_CLIENT_GONE;
		turn_alloc_delete(srv, a);
	}
}

void turn_begin_success(struct turn_request *req, struct stun_builder *b)
{
	stun_build_response(b, req->reply->buf, req->reply->cap, req->msg, STUN_CLASS_SUCCESS);
}

/* Finish a response: SOFTWARE if configured, MESSAGE-INTEGRITY of the
 * kind the request used once it has authenticated, FINGERPRINT when the
 * request carried one (RFC 8489 sections 7.3, 9.2.4). */
int turn_finish_response(struct turn_request *req, struct stun_builder *b)
{
	const struct stun_msg *m = req->msg;

	if (req->srv->software && !m->rfc3489)
		stun_build_text(b, STUN_ATTR_SOFTWARE, req->srv->software);
	if (req->key) {
		if (req->mi_sha256)
			stun_build_integrity_sha256(b, req->key, req->key_len, STUN_HMAC_SHA256_LEN);
		else
			stun_build_integrity(b, req->key, req->key_len);
	}
	if (m->idx_fingerprint >= 0 && !m->rfc3489)
		stun_build_fingerprint(b);
	long n = stun_build_end(b);
	if (n < 0) {
		req->reply->len = 0;
		return -1;
	}
	req->reply->len = (size_t)n;
	return 0;
}

/* An error response with reason (NULL: the standard phrase); a 420 lists
 * the n types in unknown. */
static int send_error(struct turn_request *req, int code, const char *reason,
		      const uint16_t *unknown, size_t n)
{
	struct stun_builder b;

	stun_build_response(&b, req->reply->buf, req->reply->cap, req->msg, STUN_CLASS_ERROR);
	stun_build_error(&b, code, reason ? reason : stun_error_reason(code));
	req->answer = code;
	if (code == STUN_ERR_UNKNOWN_ATTRIBUTE)
		stun_build_unknown(&b, unknown, n);
	req->srv->stats.errors_sent++;
	return turn_finish_response(req, &b);
}

int turn_send_error(struct turn_request *req, int code)
{
	return send_error(req, code, NULL, req->msg->unknown, req->msg->n_unknown);
}

/* RFC 8489 section 10: the server reflects the source transport address.
 * A request without the magic cookie is an RFC 3489 client, which only
 * understands MAPPED-ADDRESS (RFC 8489 section 12). Unknown
 * comprehension-required attributes get 420 (section 6.3.1.1); Binding
 * needs no authentication, so that check comes first. With NAT discovery
 * (RFC 5780 section 6.1) the response also carries MAPPED-ADDRESS, where
 * it leaves from and the other address (for an RFC 3489 client under
 * that RFC's names, SOURCE-ADDRESS and CHANGED-ADDRESS), and may leave
 * from another of the server's addresses. */
static int binding_request(struct turn_request *req)
{
	const struct stun_msg *m = req->msg;
	struct turn_nat_answer nat;
	struct stun_builder b;
	int code;

	if (m->rfc3489 && !req->srv->rfc3489_compat)
		return -1;
	if (m->n_unknown > 0)
		return turn_send_error(req, STUN_ERR_UNKNOWN_ATTRIBUTE);
	code = turn_nat_binding(req, &nat);
	if (code)
		return send_error(req, code, nat.reason, nat.unknown, nat.n_unknown);
	turn_begin_success(req, &b);
	if (!m->rfc3489)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &req->tuple->client);
	if (m->rfc3489 || nat.on)
		stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &req->tuple->client);
	if (nat.on) {
		stun_build_addr(&b, m->rfc3489 ? STUN_ATTR_SOURCE_ADDRESS : STUN_ATTR_RESPONSE_ORIGIN,
				&nat.origin);
		stun_build_addr(&b, m->rfc3489 ? STUN_ATTR_CHANGED_ADDRESS : STUN_ATTR_OTHER_ADDRESS,
				&nat.other);
		if (!turn_addr_eq(&nat.origin, &req->tuple->local))
			*req->from = nat.origin;
	}
	return turn_finish_response(req, &b);
}

/* A Binding indication is a keepalive (RFC 8489 section 6.3.2): no answer. */
static int binding_indication(struct turn_request *req)
{
	(void)req;
	return 0;
}

static const struct turn_method *find_method(const struct turn_server *srv, uint16_t method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].method == method)
			return methods[i].turn && srv->stun_only ? NULL : &methods[i];
	return NULL;
}

/* A FINGERPRINT that is present must be right (RFC 8489 section 7.3):
 * otherwise the message is not STUN and is dropped. */
static bool passes_fingerprint(const struct stun_msg *msg)
{
	return msg->idx_fingerprint < 0 || stun_msg_check_fingerprint(msg) == 1;
}

static const uint16_t stats_methods[TURN_STATS_METHODS - 1] = {
	STUN_METHOD_BINDING, TURN_METHOD_ALLOCATE, TURN_METHOD_REFRESH,
	TURN_METHOD_CREATE_PERMISSION, TURN_METHOD_CHANNEL_BIND, TURN_METHOD_CONNECT,
	TURN_METHOD_CONNECTION_BIND,
};
static const char *const stats_method_names[TURN_STATS_METHODS] = {
	"binding", "allocate", "refresh", "createpermission", "channelbind", "connect",
	"connectionbind", "other",
};
static const int16_t stats_codes[TURN_STATS_CODES] = {
	0, 300, 400, 401, 403, 420, 437, 438, 441, 442, 443, 446, 447, 486, 500, 508, -1,
};

const char *turn_stats_method_name(unsigned i)
{
	return i < TURN_STATS_METHODS ? stats_method_names[i] : NULL;
}

int turn_stats_code(unsigned i)
{
	return i < TURN_STATS_CODES ? stats_codes[i] : -1;
}

/* One answer of method with code (0: a success), counted by the code the
 * core recorded when it built the answer. */
void turn_count_answer(struct turn_server *srv, uint16_t method, int code)
{
	unsigned mi = 0, ci = 0;

	while (mi < TURN_STATS_METHODS - 1 && stats_methods[mi] != method)
		mi++;
	while (ci < TURN_STATS_CODES - 1 && stats_codes[ci] != code)
		ci++;
	srv->stats.answers[mi][ci]++;
}

void turn_server_gauges(const struct turn_server *srv, uint64_t now_ms, uint64_t *permissions,
			uint64_t *channels)
{
	uint32_t now = (uint32_t)(now_ms / 1000);
	const struct turn_alloc_table *t = &srv->allocs;

	*permissions = *channels = 0;
	for (size_t i = 0; t->buckets && i < t->n_buckets; i++)
		for (const struct turn_alloc *a = t->buckets[i]; a; a = a->hash_next) {
			*permissions += turn_perm_count(a, now);
			*channels += turn_channel_count(a, now);
		}
}

int turn_server_auth_precheck(const struct turn_server *srv, const struct turn_input *in)
{
	const struct stun_msg *msg = in->msg;
	const struct turn_method *m = find_method(srv, msg->method);
	int alg, code;

	/* What turn_server_handle_from would drop, and Binding, which never
	 * authenticates: no credential is needed. */
	if (!m || msg->cls != STUN_CLASS_REQUEST || !m->on_request ||
	    msg->method == STUN_METHOD_BINDING || msg->rfc3489)
		return -1;
	code = turn_auth_stateless(srv, msg, &in->tuple->client, (uint32_t)(in->now_ms / 1000),
				   &alg);
	/* A bad FINGERPRINT is dropped by turn_server_handle_from before any
	 * answer; its CRC is computed here only for a request that would
	 * otherwise go to the lookup, so a forged one pays it once. */
	if (code == 0 && !passes_fingerprint(msg))
		return -1;
	return code;
}

int turn_server_handle(struct turn_server *srv, const struct turn_input *in,
		       struct turn_reply *reply)
{
	struct turn_addr from;

	return turn_server_handle_from(srv, in, reply, &from);
}

int turn_server_handle_from(struct turn_server *srv, const struct turn_input *in,
			    struct turn_reply *reply, struct turn_addr *from)
{
	const struct stun_msg *msg = in->msg;
	struct turn_request req = {
		.srv = srv, .msg = msg, .tuple = in->tuple, .cred = in->cred,
		.stateless = in->prechecked && in->precheck >= 0 ? in->precheck : -1,
		.now_ms = in->now_ms, .now = (uint32_t)(in->now_ms / 1000), .reply = reply,
		.from = from, .origin = in->origin,
		.mac_checked = in->mac_checked, .mac_key = in->mac_key,
	};
	const struct turn_method *m = find_method(srv, msg->method);
	int rc = -1;

	reply->len = 0;
	*from = (struct turn_addr){ 0 };
	if (in->authenticated)
		*in->authenticated = false;
	if (m && passes_fingerprint(msg) && !(msg->rfc3489 && msg->method != STUN_METHOD_BINDING)) {
		if (msg->cls == STUN_CLASS_REQUEST && m->on_request) {
			rc = m->on_request(&req);
			if (rc == 0)
				srv->stats.requests++;
		} else if (msg->cls == STUN_CLASS_INDICATION && m->on_indication) {
			/* Indications with unknown comprehension-required
			 * attributes are dropped (RFC 8489 section 6.3.2). */
			if (msg->n_unknown == 0)
				rc = m->on_indication(&req);
			if (rc == 0)
				srv->stats.indications++;
		}
	}
	if (in->authenticated)
		*in->authenticated = req.key != NULL;
	if (rc < 0)
		srv->stats.dropped++;
	else if (reply->len >= STUN_HDR_LEN)
		turn_count_answer(srv, msg->method, req.answer);
	return rc;
}
