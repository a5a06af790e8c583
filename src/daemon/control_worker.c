/*
 * The workers' side of the control socket's jobs (control_int.h): each
 * worker lists or ends its own allocations on its own thread, between two
 * events of its loop (nothing of the core is on the stack), and the last
 * one to answer wakes the main thread.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control_ban.h"
#include "daemon/control_int.h"
#include "daemon/turn_io.h"
#include "daemon/worker.h"
#include "io/clock.h"
#include "turn/alloc.h"
#include "turn/server.h"

/* What one walk of the table needs. */
struct control_walk {
	const struct control_job *job;
	struct control_part *part;
	const struct worker *w;
	uint32_t now_s;
	struct turn_alloc **victims; /* kill-user: collected, closed after the walk */
	size_t n_victims, cap_victims;
};

static void control_addr(struct json_out *o, const char *key, const struct turn_addr *a,
			 bool with_port)
{
	char t[TURN_ADDR_STRLEN];

	json_out_str(o, key, turn_addr_format(a, with_port, t, sizeof(t)));
}

/* Does a's client, or one of its permissions or channels, have peer's IP? */
static bool control_touches(const struct turn_alloc *a, const struct turn_addr *peer,
			    uint32_t now_s)
{
	if (turn_addr_ip_eq(&a->tuple.client, peer))
		return true;
	for (size_t i = 0; i < a->n_perms; i++) {
		const struct turn_perm *p = &a->perms[i];
		if (p->expires > now_s && p->family == peer->family &&
		    memcmp(p->ip, peer->ip, turn_addr_iplen(peer)) == 0)
			return true;
	}
	for (size_t i = 0; i < a->n_channels; i++)
		if (a->channels[i].expires > now_s && turn_addr_ip_eq(&a->channels[i].peer, peer))
			return true;
	return false;
}

static void control_perms(struct json_out *o, const struct turn_alloc *a, uint32_t now_s)
{
	json_out_open(o, "permissions", '[');
	for (size_t i = 0; i < a->n_perms; i++) {
		const struct turn_perm *p = &a->perms[i];
		struct turn_addr ip = {.family = p->family};
		if (p->expires <= now_s)
			continue;
		memcpy(ip.ip, p->ip, sizeof(ip.ip));
		control_addr(o, NULL, &ip, false);
	}
	json_out_close(o, ']');
	json_out_open(o, "channels", '[');
	for (size_t i = 0; i < a->n_channels; i++) {
		const struct turn_channel *c = &a->channels[i];
		char t[TURN_ADDR_STRLEN + 8], p[TURN_ADDR_STRLEN];
		if (c->expires <= now_s)
			continue;
		snprintf(t, sizeof(t), "0x%04x=%s", c->number,
			 turn_addr_format(&c->peer, true, p, sizeof(p)));
		json_out_str(o, NULL, t);
	}
	json_out_close(o, ']');
}

/* One session, as `sessions` shows it (turnctl(1) lists the members). */
static void control_session(struct control_walk *cw, const struct turn_alloc *a)
{
	struct json_out *o = &cw->part->sessions;
	char id[48];
	const char *user = a->username ? a->username : "";

	snprintf(id, sizeof(id), "%u-%llu", cw->w->id, (unsigned long long)a->id);
	json_out_open(o, NULL, '{');
	json_out_str(o, "id", id);
	json_out_str(o, "user", user);
	json_out_str(o, "realm", cw->w->conf->realm ? cw->w->conf->realm : "");
	control_addr(o, "client", &a->tuple.client, true);
	control_addr(o, "server", &a->tuple.local, true);
	json_out_str(o, "transport", a->tuple.transport == TURN_TRANSPORT_TCP ? "tcp" : "udp");
	json_out_str(o, "relay_transport", a->tcp ? "tcp" : "udp");
	json_out_open(o, "relayed", '[');
	for (int i = 0; i < 2; i++)
		if (a->relay[i].io)
			control_addr(o, NULL, &a->relay[i].addr, true);
	json_out_close(o, ']');
	json_out_u64(o, "age_s", cw->now_s >= a->created ? cw->now_s - a->created : 0);
	json_out_u64(o, "lifetime_left_s", a->expires > cw->now_s ? a->expires - cw->now_s : 0);
	control_perms(o, a, cw->now_s);
	json_out_u64(o, "to_peer_bytes", a->bytes_out);
	json_out_u64(o, "to_peer_packets", a->pkts_out);
	json_out_u64(o, "to_client_bytes", a->bytes_in);
	json_out_u64(o, "to_client_packets", a->pkts_in);
	json_out_close(o, '}');
}

static int control_usage_add(struct control_part *p, const struct turn_alloc *a)
{
	if (p->n_usage == p->cap_usage) {
		size_t cap = p->cap_usage ? p->cap_usage * 2 : 16;
		struct control_usage *u = realloc(p->usage, cap * sizeof(*u));
		if (!u)
			return -1;
		p->usage = u;
		p->cap_usage = cap;
	}
	struct control_usage *u = &p->usage[p->n_usage];
	u->user = strdup(a->username ? a->username : "");
	if (!u->user)
		return -1;
	u->to_peer_bytes = a->bytes_out;
	u->to_peer_packets = a->pkts_out;
	u->to_client_bytes = a->bytes_in;
	u->to_client_packets = a->pkts_in;
	p->n_usage++;
	return 0;
}

static int control_victim_add(struct control_walk *cw, const struct turn_alloc *a)
{
	if (cw->n_victims == cw->cap_victims) {
		size_t cap = cw->cap_victims ? cw->cap_victims * 2 : 16;
		struct turn_alloc **v = realloc(cw->victims, cap * sizeof(*v));
		if (!v)
			return -1;
		cw->victims = v;
		cw->cap_victims = cap;
	}
	/* The worker owns it; the walk only hands it out const. */
	cw->victims[cw->n_victims++] = (struct turn_alloc *)a;
	return 0;
}

static void control_visit(void *arg, const struct turn_alloc *a)
{
	struct control_walk *cw = arg;
	const struct control_job *job = cw->job;
	bool mine = !job->user || (a->username && control_user_is(a->username, job->user));
	int rc = 0;

	if (!mine || (job->peer.family && !control_touches(a, &job->peer, cw->now_s)))
		return;
	if (job->kind == CONTROL_JOB_SESSIONS) {
		control_session(cw, a);
		cw->part->count++;
	} else if (job->kind == CONTROL_JOB_USERS) {
		rc = control_usage_add(cw->part, a);
	} else if (job->kind == CONTROL_JOB_KILL_USER) {
		rc = control_victim_add(cw, a);
	}
	if (rc < 0)
		cw->part->oom = true;
}

/* The job, on w's thread. */
static void control_job_run(struct worker *w, const struct control_job *job,
			    struct control_part *part)
{
	uint64_t now_ms = io_clock_ms(w->clock);
	struct control_walk cw = {job, part, w, (uint32_t)(now_ms / 1000), NULL, 0, 0};

	if (job->kind == CONTROL_JOB_KILL) {
		struct turn_alloc *a = turn_server_alloc_by_id(w->srv, job->alloc_id);
		if (a) {
			turn_server_close(w->srv, a, TURN_CLOSE_KILLED);
			part->count = 1;
		}
		return;
	}
	/* What the kernel fast path relayed, folded in now rather than at
	 * the next tick, so the counters are those of this moment. */
	if (job->kind != CONTROL_JOB_KILL_USER)
		turn_io_offload_tick(w, now_ms);
	/* users: every allocation's traffic into its user's totals now, not at
	 * the next tick; the main thread lists them once every worker did. */
	if (job->kind == CONTROL_JOB_USERS && job->usage) {
		turn_server_fold_usage(w->srv);
		return;
	}
	turn_server_foreach(w->srv, control_visit, &cw);
	for (size_t i = 0; i < cw.n_victims; i++)
		turn_server_close(w->srv, cw.victims[i], TURN_CLOSE_KILLED);
	part->count += cw.n_victims;
	free(cw.victims);
}

static void control_slot_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct control_slot *s = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&s->lock);
	struct control_job *job = s->job;
	s->job = NULL;
	pthread_mutex_unlock(&s->lock);
	if (!job)
		return;
	control_job_run(s->w, job, &job->parts[s->w->id]);
	/* acq_rel: this worker's part is written before the main thread,
	 * woken by the last decrement, reads it. */
	if (atomic_fetch_sub_explicit(&job->pending, 1, memory_order_acq_rel) == 1)
		event_active(job->done_ev, EV_READ, 0);
}

int control_slot_init(struct control_slot *s, struct worker *w)
{
	s->w = w;
	s->job = NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->ev = event_new(w->nw.base, -1, 0, control_slot_on_event, s);
	return s->ev ? 0 : -1;
}

void control_slot_post(struct control_slot *s, struct control_job *job)
{
	pthread_mutex_lock(&s->lock);
	s->job = job;
	pthread_mutex_unlock(&s->lock);
	/* Thread-safe: the base was made after evthread_use_pthreads. */
	event_active(s->ev, EV_READ, 0);
}

void control_slot_fini(struct control_slot *s)
{
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	pthread_mutex_destroy(&s->lock);
}

void control_job_free(struct control_job *job)
{
	if (!job)
		return;
	for (unsigned i = 0; job->parts && i < job->n_parts; i++) {
		struct control_part *p = &job->parts[i];
		json_out_free(&p->sessions);
		for (size_t k = 0; k < p->n_usage; k++)
			free(p->usage[k].user);
		free(p->usage);
	}
	free(job->parts);
	free(job->user);
	if (job->done_ev)
		event_free(job->done_ev);
	free(job);
}
