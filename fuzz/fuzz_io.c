/* The fuzzer's in-memory turn_io and the core's invariants (fuzz_io.h). */
#include "fuzz_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "invariant violated at %s:%d: %s\n", file, line, what);
	abort();
}

static int family_index(uint8_t family)
{
	return family == TURN_AF_INET6 ? 1 : 0;
}

static struct turn_addr relay_addr(uint8_t family, unsigned idx)
{
	struct turn_addr a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	a.port = (uint16_t)(FZ_PORT_BASE + idx);
	if (family == TURN_AF_INET6) {
		static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
		memcpy(a.ip, v6, 16);
	} else {
		static const uint8_t v4[4] = { 192, 0, 2, 10 };
		memcpy(a.ip, v4, 4);
	}
	return a;
}

/* A relay object the core holds: one of ours, never reused in an input. */
static struct turn_relay *our_relay(struct fz_io *f, const struct turn_relay *r)
{
	FZ_ASSERT(r >= f->relays && r < f->relays + f->n_relays);
	return &f->relays[r - f->relays];
}

/* A fresh port of the family: even when asked, with the next one held
 * for a RESERVATION-TOKEN when asked (RFC 8656 section 7.2). Returns the
 * index, or -1 when the pool has none. */
static int pick_port(struct fz_io *f, const struct turn_relay_request *req, int fam)
{
	for (unsigned i = 0; i < FZ_PORTS; i++) {
		if (f->used[fam][i] || (req->even_port && i % 2))
			continue;
		if (req->reserve_next && (i + 1 >= FZ_PORTS || f->used[fam][i + 1]))
			continue;
		return (int)i;
	}
	return -1;
}

static int reserve(struct fz_io *f, uint8_t family, unsigned idx, uint64_t *token)
{
	for (unsigned i = 0; i < FZ_MAX_RES; i++) {
		struct fz_reservation *r = &f->res[i];
		if (r->live)
			continue;
		r->live = true;
		r->token = 0x5E5E000000000000ull + ++f->n_tokens;
		r->addr = relay_addr(family, idx);
		r->expires_ms = *f->now_ms + FZ_RESERVATION_MS;
		f->used[family_index(family)][idx] = true;
		*token = r->token;
		return 0;
	}
	return TURN_ERR_INSUFFICIENT_CAPACITY;
}

/* The address for a request: a claimed reservation or a fresh port. */
static int take_address(struct fz_io *f, const struct turn_relay_request *req,
			struct turn_addr *addr, uint64_t *token)
{
	if (req->token) {
		for (unsigned i = 0; i < FZ_MAX_RES; i++) {
			if (f->res[i].live && f->res[i].token == req->token) {
				f->res[i].live = false; /* the port passes to the relay */
				*addr = f->res[i].addr;
				return 0;
			}
		}
		return STUN_ERR_BAD_REQUEST;
	}
	if (req->family == TURN_AF_INET6 && !f->ipv6)
		return TURN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED;
	int fam = family_index(req->family);
	int idx = pick_port(f, req, fam);
	if (idx < 0)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	if (req->reserve_next && reserve(f, req->family, (unsigned)idx + 1, token) != 0)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	f->used[fam][idx] = true;
	*addr = relay_addr(req->family, (unsigned)idx);
	return 0;
}

static int fz_relay_open(void *ctx, const struct turn_relay_request *req, struct turn_relay **relay,
			 struct turn_addr *addr, uint64_t *token)
{
	struct fz_io *f = ctx;
	struct turn_addr a;

	FZ_ASSERT(req->owner != NULL);
	FZ_ASSERT(req->family == TURN_AF_INET || req->family == TURN_AF_INET6);
	if (f->fail_code)
		return f->fail_code;
	if (f->n_relays >= FZ_MAX_RELAYS)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	int rc = take_address(f, req, &a, token);
	if (rc)
		return rc;
	struct turn_relay *r = &f->relays[f->n_relays++];
	r->open = true;
	r->tcp = req->tcp;
	r->addr = a;
	r->owner = req->owner;
	f->open_relays++;
	*relay = r;
	*addr = a;
	return 0;
}

static void fz_relay_close(void *ctx, struct turn_relay *relay)
{
	struct fz_io *f = ctx;
	struct turn_relay *r = our_relay(f, relay);
	unsigned idx = (unsigned)(r->addr.port - FZ_PORT_BASE);
	int fam = family_index(r->addr.family);

	FZ_ASSERT(r->open); /* closed twice */
	FZ_ASSERT(f->used[fam][idx]);
	r->open = false;
	f->used[fam][idx] = false;
	f->open_relays--;
}

static bool alloc_live(const struct turn_server *srv, const struct turn_alloc *a)
{
	return turn_alloc_find(&srv->allocs, &a->tuple) == a;
}

/*
 * What reaches a peer must come from an open relay of a live allocation
 * that owns it, go to a peer the policy allows, in the relay's family,
 * and be covered by a permission or a channel (RFC 8656 sections 10.2,
 * 12.4; SECURITY.md "Where a relay may send").
 */
static void fz_relay_send(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			  const uint8_t *data, size_t len)
{
	struct fz_io *f = ctx;
	struct turn_relay *r = our_relay(f, relay);
	uint32_t now = (uint32_t)(*f->now_ms / 1000);

	(void)data;
	FZ_ASSERT(r->open);
	FZ_ASSERT(alloc_live(f->srv, r->owner));
	FZ_ASSERT(!r->tcp);
	FZ_ASSERT(len <= 0xFFFF);
	FZ_ASSERT(peer->family == r->addr.family);
	FZ_ASSERT(turn_policy_check(f->policy, peer) == TURN_PEER_ALLOW);
	FZ_ASSERT(r->owner->relay[family_index(peer->family)].io == r);
	FZ_ASSERT(turn_perm_valid(r->owner, peer, now) || turn_channel_by_peer(r->owner, peer, now));
	f->sends++;
}

static struct fz_user *find_user(struct fz_io *f, const char *user)
{
	for (unsigned i = 0; i < FZ_MAX_USERS; i++)
		if (f->users[i].name && strcmp(f->users[i].name, user) == 0)
			return &f->users[i];
	return NULL;
}

static int fz_quota_take(void *ctx, const char *user, void *origin)
{
	struct fz_io *f = ctx;
	struct fz_user *u = find_user(f, user);

	(void)origin; /* the fuzzer's requests carry none */
	FZ_ASSERT(u != NULL); /* only authenticated users allocate */
	if (f->shed)
		return STUN_ERR_TRY_ALTERNATE;
	if (f->user_limit && u->n >= f->user_limit)
		return TURN_ERR_ALLOCATION_QUOTA;
	if (f->total_limit && f->total >= f->total_limit)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	u->n++;
	f->total++;
	return 0;
}

static void fz_quota_give(void *ctx, const char *user)
{
	struct fz_io *f = ctx;
	struct fz_user *u = find_user(f, user);

	FZ_ASSERT(u != NULL && u->n > 0 && f->total > 0); /* given back more than taken */
	u->n--;
	f->total--;
}

static void fz_alloc_event(void *ctx, enum turn_alloc_event ev, const struct turn_alloc *a,
			   uint32_t lifetime)
{
	struct fz_io *f = ctx;

	FZ_ASSERT(a->relay[0].io || a->relay[1].io);
	if (ev == TURN_ALLOC_CREATED) {
		f->created++;
	} else if (ev == TURN_ALLOC_DELETED) {
		FZ_ASSERT(f->deleted < f->created);
		/* The timer takes an allocation only once its time is up. */
		FZ_ASSERT(!f->in_tick || a->expires <= *f->now_ms / 1000);
		f->deleted++;
	} else {
		FZ_ASSERT(lifetime > 0);
	}
}

static struct fz_tcp *tcp_find(struct fz_io *f, uint32_t id)
{
	for (unsigned i = 0; i < f->n_tcp; i++)
		if (f->tcp[i].id == id)
			return &f->tcp[i];
	return NULL;
}

struct fz_tcp *fz_tcp_new(struct fz_io *f, struct turn_alloc *a, const struct turn_addr *peer)
{
	if (f->n_tcp >= FZ_MAX_TCP)
		return NULL;
	struct fz_tcp *t = &f->tcp[f->n_tcp++];
	t->open = t->waiting = true;
	t->connecting = false;
	t->id = 0x7C000000u + f->n_tcp;
	t->owner = a;
	t->peer = *peer;
	return t;
}

static int fz_tcp_connect(void *ctx, struct turn_relay *relay, const struct turn_addr *peer,
			  uint32_t *id)
{
	struct fz_io *f = ctx;
	struct turn_relay *r = our_relay(f, relay);

	FZ_ASSERT(r->open && r->tcp);
	FZ_ASSERT(turn_policy_check(f->policy, peer) == TURN_PEER_ALLOW);
	FZ_ASSERT(turn_perm_valid(r->owner, peer, (uint32_t)(*f->now_ms / 1000)));
	if (f->tcp_connect_code)
		return f->tcp_connect_code;
	struct fz_tcp *t = fz_tcp_new(f, r->owner, peer);
	if (!t)
		return TURN_ERR_INSUFFICIENT_CAPACITY;
	t->connecting = true;
	t->waiting = false;
	*id = t->id;
	return 0;
}

static int fz_tcp_bind(void *ctx, uint32_t id, const char *user, void *origin)
{
	struct fz_tcp *t = tcp_find(ctx, id);

	(void)origin;
	if (!t || !t->open || !t->waiting)
		return STUN_ERR_BAD_REQUEST;
	if (strcmp(t->owner->username, user) != 0)
		return TURN_ERR_WRONG_CREDENTIALS;
	t->waiting = false;
	return 0;
}

static void fz_tcp_close(void *ctx, uint32_t id)
{
	struct fz_tcp *t = tcp_find(ctx, id);

	FZ_ASSERT(t != NULL && t->open); /* unknown, or closed twice */
	t->open = t->waiting = t->connecting = false;
}

void fz_io_init(struct fz_io *f, const struct turn_policy *policy, const uint64_t *now_ms,
		const char *const *users)
{
	memset(f, 0, sizeof(*f));
	f->policy = policy;
	f->now_ms = now_ms;
	for (unsigned i = 0; i < FZ_MAX_USERS; i++)
		f->users[i].name = users[i];
	f->io = (struct turn_io){
		.ctx = f,
		.relay_open = fz_relay_open,
		.relay_close = fz_relay_close,
		.relay_send = fz_relay_send,
		.quota_take = fz_quota_take,
		.quota_give = fz_quota_give,
		.alloc_event = fz_alloc_event,
		.tcp_connect = fz_tcp_connect,
		.tcp_bind = fz_tcp_bind,
		.tcp_close = fz_tcp_close,
	};
}

void fz_io_tick(struct fz_io *f)
{
	for (unsigned i = 0; i < FZ_MAX_RES; i++) {
		struct fz_reservation *r = &f->res[i];
		if (r->live && r->expires_ms <= *f->now_ms) {
			r->live = false;
			f->used[family_index(r->addr.family)][r->addr.port - FZ_PORT_BASE] = false;
		}
	}
}

struct turn_relay *fz_relay_at(struct fz_io *f, const struct turn_addr *addr)
{
	for (unsigned i = 0; i < f->n_relays; i++)
		if (f->relays[i].open && turn_addr_eq(&f->relays[i].addr, addr))
			return &f->relays[i];
	return NULL;
}

unsigned fz_ports_used(const struct fz_io *f)
{
	unsigned n = 0;

	for (int fam = 0; fam < 2; fam++)
		for (unsigned i = 0; i < FZ_PORTS; i++)
			n += f->used[fam][i];
	return n;
}

static unsigned loosest(unsigned held, unsigned now, bool first)
{
	if (first)
		return now;
	return held == 0 || now == 0 ? 0 : held > now ? held : now;
}

void fz_io_limits(struct fz_io *f, const struct turn_server *srv)
{
	bool first = f->loosest_lifetime == 0;

	f->loosest_perms = loosest(f->loosest_perms, srv->max_permissions, first);
	f->loosest_channels = loosest(f->loosest_channels, srv->max_channels, first);
	f->loosest_tcp = loosest(f->loosest_tcp, srv->max_tcp_connections, first);
	if (srv->max_lifetime > f->loosest_lifetime)
		f->loosest_lifetime = srv->max_lifetime;
}

/* ---- Invariants ---- */

/* What the walk of the allocation table found. */
struct fz_tally {
	size_t allocs, relays, tcp_conns;
	uint64_t perms, channels;
	unsigned per_user[FZ_MAX_USERS];
};

static void check_relays(const struct fz_io *f, const struct turn_alloc *a, struct fz_tally *t)
{
	for (int i = 0; i < 2; i++) {
		const struct turn_relay *r = a->relay[i].io;
		if (!r)
			continue;
		FZ_ASSERT(r >= f->relays && r < f->relays + f->n_relays);
		FZ_ASSERT(r->open && r->owner == a);
		FZ_ASSERT(r->tcp == a->tcp);
		FZ_ASSERT(family_index(r->addr.family) == i);
		FZ_ASSERT(turn_addr_eq(&r->addr, &a->relay[i].addr));
		t->relays++;
	}
	FZ_ASSERT(a->relay[0].io || a->relay[1].io);
}

static bool has_perm_until(const struct turn_alloc *a, const struct turn_addr *peer,
			   uint32_t until)
{
	for (uint16_t i = 0; i < a->n_perms; i++)
		if (a->perms[i].family == peer->family &&
		    memcmp(a->perms[i].ip, peer->ip, turn_addr_iplen(peer)) == 0 &&
		    a->perms[i].expires >= until)
			return true;
	return false;
}

/*
 * Channels (RFC 8656 section 12): numbers in range, on a family the
 * allocation relays, no number or peer used twice while reserved, at most
 * max-channels bound, and a binding made or refreshed less than 300 s ago
 * holds a permission at least as long as the one it installed (section
 * 11.2: the binding installs the permission; all or nothing, issue 13
 * item 8).
 */
static void check_channels(const struct turn_server *srv, const struct turn_alloc *a,
			   uint32_t now)
{
	for (uint16_t i = 0; i < a->n_channels; i++) {
		const struct turn_channel *c = &a->channels[i];
		bool reserved = c->expires + TURN_CHANNEL_QUIET > now;
		FZ_ASSERT(c->number >= TURN_CHANNEL_MIN && c->number <= srv->max_channel_number);
		FZ_ASSERT(a->relay[family_index(c->peer.family)].io != NULL);
		for (uint16_t j = 0; reserved && j < i; j++) {
			const struct turn_channel *d = &a->channels[j];
			if (d->expires + TURN_CHANNEL_QUIET <= now)
				continue;
			FZ_ASSERT(d->number != c->number);
			FZ_ASSERT(!turn_addr_eq(&d->peer, &c->peer));
		}
		if (c->expires > now + TURN_PERMISSION_LIFETIME)
			FZ_ASSERT(has_perm_until(a, &c->peer, c->expires - (TURN_CHANNEL_LIFETIME -
									    TURN_PERMISSION_LIFETIME)));
	}
	FZ_ASSERT(a->n_channels <= a->cap_channels);
}

static void check_tcp(const struct fz_io *f, const struct turn_alloc *a)
{
	FZ_ASSERT(a->n_tcp == 0 || a->tcp);
	FZ_ASSERT(!f->loosest_tcp || a->n_tcp <= f->loosest_tcp);
	for (uint16_t i = 0; i < a->n_tcp; i++) {
		const struct fz_tcp *t = tcp_find((struct fz_io *)f, a->tcp_conns[i].id);
		FZ_ASSERT(t != NULL && t->open && t->owner == a);
		FZ_ASSERT(t->connecting == a->tcp_conns[i].connecting);
		for (uint16_t j = 0; j < i; j++)
			FZ_ASSERT(a->tcp_conns[j].id != a->tcp_conns[i].id);
	}
}

static bool in_wheel(const struct turn_alloc_table *t, const struct turn_alloc *a)
{
	if (a->wheel_slot >= TURN_WHEEL_SLOTS)
		return false;
	for (const struct turn_alloc *w = t->wheel[a->wheel_slot]; w; w = w->wheel_next)
		if (w == a)
			return true;
	return false;
}

static void check_alloc(const struct turn_server *srv, const struct fz_io *f,
			const struct turn_alloc *a, uint32_t now, struct fz_tally *t)
{
	bool user_known = false;

	FZ_ASSERT(!a->dead);
	FZ_ASSERT(turn_alloc_find(&srv->allocs, &a->tuple) == a);
	FZ_ASSERT(in_wheel(&srv->allocs, a) && a->wheel_slot == a->expires % TURN_WHEEL_SLOTS);
	/* and once its time is up, the next tick takes it. */
	FZ_ASSERT(a->expires > srv->allocs.wheel_now);
	FZ_ASSERT(a->lifetime > 0 && a->lifetime <= f->loosest_lifetime);
	check_relays(f, a, t);
	FZ_ASSERT(a->n_perms <= a->cap_perms);
	FZ_ASSERT(!f->loosest_perms || turn_perm_count(a, now) <= f->loosest_perms);
	check_channels(srv, a, now);
	FZ_ASSERT(!f->loosest_channels || turn_channel_count(a, now) <= f->loosest_channels);
	check_tcp(f, a);
	for (unsigned i = 0; i < FZ_MAX_USERS; i++) {
		if (f->users[i].name && strcmp(f->users[i].name, a->username) == 0) {
			t->per_user[i]++;
			user_known = true;
		}
	}
	FZ_ASSERT(user_known);
	t->perms += turn_perm_count(a, now);
	t->channels += turn_channel_count(a, now);
	t->tcp_conns += a->n_tcp;
	t->allocs++;
}

static unsigned live_reservations(const struct fz_io *f)
{
	unsigned n = 0;

	for (unsigned i = 0; i < FZ_MAX_RES; i++)
		n += f->res[i].live;
	return n;
}

static unsigned open_tcp(const struct fz_io *f)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n_tcp; i++)
		n += f->tcp[i].open;
	return n;
}

void fz_check_state(const struct turn_server *srv, const struct fz_io *f, uint64_t now_ms)
{
	const struct turn_alloc_table *tab = &srv->allocs;
	uint32_t now = (uint32_t)(now_ms / 1000);
	struct fz_tally t = { 0 };
	uint64_t perms, channels;

	for (size_t b = 0; b < tab->n_buckets; b++)
		for (const struct turn_alloc *a = tab->buckets[b]; a; a = a->hash_next)
			check_alloc(srv, f, a, now, &t);
	FZ_ASSERT(t.allocs == tab->count && t.allocs == srv->stats.allocations);
	FZ_ASSERT(t.relays == f->open_relays);
	FZ_ASSERT(fz_ports_used(f) == f->open_relays + live_reservations(f));
	FZ_ASSERT(f->total == t.allocs);
	for (unsigned i = 0; i < FZ_MAX_USERS; i++)
		FZ_ASSERT(f->users[i].n == t.per_user[i]);
	FZ_ASSERT(f->created - f->deleted == t.allocs);
	FZ_ASSERT(t.tcp_conns == srv->stats.tcp_relay_conns);
	FZ_ASSERT(t.tcp_conns == open_tcp(f));
	turn_server_gauges(srv, now_ms, &perms, &channels);
	FZ_ASSERT(perms == t.perms && channels == t.channels);
}

void fz_check_empty(const struct turn_server *srv, const struct fz_io *f)
{
	FZ_ASSERT(srv->allocs.count == 0 && srv->stats.allocations == 0);
	FZ_ASSERT(f->open_relays == 0);
	FZ_ASSERT(fz_ports_used(f) == 0);
	FZ_ASSERT(f->total == 0);
	for (unsigned i = 0; i < FZ_MAX_USERS; i++)
		FZ_ASSERT(f->users[i].n == 0);
	FZ_ASSERT(f->created == f->deleted);
	FZ_ASSERT(srv->stats.tcp_relay_conns == 0 && open_tcp(f) == 0);
	for (size_t s = 0; s < TURN_WHEEL_SLOTS; s++)
		FZ_ASSERT(srv->allocs.wheel[s] == NULL);
}
