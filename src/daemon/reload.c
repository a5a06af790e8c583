/* SIGHUP: a new configuration snapshot for every worker (reload.h). */
#include "daemon/reload.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/auth.h"
#include "conf/conf_reload.h"
#include "net/listen.h"
#include "net/tls.h"
#include "util/log.h"

struct reload_snapshot *reload_snapshot_new(struct conf *c, bool owns_conf, unsigned n_workers)
{
	struct reload_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->conf = c;
	s->owns_conf = owns_conf;
	s->n_workers = n_workers;
	atomic_init(&s->refs, 1);
	atomic_init(&s->applied, 0);
	return s;
}

void reload_snapshot_hold(struct reload_snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void reload_snapshot_release(struct reload_snapshot *s)
{
	if (!s)
		return;
	/* acq_rel: every use of the snapshot by the thread that drops it
	 * happens before the free by the thread that drops the last one. */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (s->owns_conf)
		conf_free(s->conf);
	free(s);
}

static void log_refused(const char *why)
{
	log_error("SIGHUP: the new configuration is refused; the running one stays: %s", why);
}

/* One static credential chain per worker, from next. */
static int build_chains(const struct conf *next, struct auth **chains, unsigned n, char *err,
			size_t errlen)
{
	for (unsigned i = 0; i < n; i++) {
		chains[i] = auth_new_local(next, err, errlen);
		if (!chains[i]) {
			for (unsigned k = 0; k < i; k++)
				auth_free(chains[k]);
			return -1;
		}
	}
	return 0;
}

/* What changed, what waits for a restart, and what is now in force. */
static void log_outcome(const struct conf *next, const struct conf_reload_diff *d)
{
	char names[512];

	for (size_t i = 0; i < d->n_restart; i++)
		log_notice("SIGHUP: option '%s' changed in %s, but it takes effect only at a "
			   "restart; the running value stays",
			   d->restart[i], next->path);
	log_notice("SIGHUP: configuration reloaded from %s; changed: %s; now %zu user%s, %zu "
		   "secret%s, %zu allowed and %zu denied peer range%s, log level %s",
		   next->path, conf_reload_names(d->applied, d->n_applied, names, sizeof(names)),
		   next->n_users, next->n_users == 1 ? "" : "s", next->n_secrets,
		   next->n_secrets == 1 ? "" : "s", next->n_allowed_peers, next->n_denied_peers,
		   next->n_denied_peers == 1 ? "" : "s",
		   log_level_name((enum log_level)next->log_level));
}

/* What a reload builds before it hands anything over. */
struct reload_parts {
	struct conf *next;
	struct auth **chains;           /* one per worker */
	struct listen_change **changes; /* one per worker, or all NULL */
};

/* A refused reload: everything built goes, and why is logged. */
static struct reload_snapshot *refuse(const struct reload_ctx *rc, struct reload_parts *p,
				   const char *why)
{
	for (unsigned i = 0; p->chains && i < rc->n_workers; i++)
		auth_free(p->chains[i]);
	if (p->changes)
		listen_plan_cancel(p->changes, rc->n_workers);
	free(p->chains);
	free(p->changes);
	conf_free(p->next);
	log_refused(why);
	return NULL;
}

/* The loaded and pinned configuration, its chains built and its new
 * listeners bound: the certificates, then the hand-over. Returns the
 * snapshot or NULL. */
static struct reload_snapshot *install(const struct reload_ctx *rc, struct reload_parts *p,
				    const struct conf_reload_diff *d)
{
	char msg[512], why[640];
	int tls = tls_shared_reload(rc->tls, p->next, msg, sizeof(msg));

	if (tls < 0) {
		snprintf(why, sizeof(why), "certificate: %s", msg);
		return refuse(rc, p, why);
	}
	struct reload_snapshot *s = reload_snapshot_new(p->next, true, rc->n_workers);
	if (!s)
		return refuse(rc, p, "out of memory");
	if (tls > 0)
		log_notice("SIGHUP: TLS certificate reloaded for new connections: %s", msg);
	log_set_level((enum log_level)p->next->log_level);
	listen_plan_log(rc->running->conf, p->next);
	log_outcome(p->next, d);
	for (unsigned i = 0; i < rc->n_workers; i++)
		worker_reload_post(rc->workers[i], s, p->chains[i], p->changes[i]);
	free(p->chains);
	free(p->changes);
	return s;
}

/* Pinned next: its checks, each worker's credentials, the sockets of its
 * new listeners (bound here, where start-up binds, so that an error
 * refuses the reload before any worker sees it). */
static struct reload_snapshot *prepare(const struct reload_ctx *rc, struct reload_parts *p,
				    const struct conf_reload_diff *d)
{
	char err[640], why[700];

	if (conf_reload_check(p->next, err, sizeof(err)) < 0)
		return refuse(rc, p, err);
	if (build_chains(p->next, p->chains, rc->n_workers, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "%s: %s", rc->path, err);
		free(p->chains);
		p->chains = NULL;
		return refuse(rc, p, why);
	}
	const struct listen_plan_ctx pc = { rc->listen, rc->running->conf, p->next,
					    rc->n_workers };
	if (listen_plan(&pc, p->changes, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "%s: %s", rc->path, err);
		free(p->changes);
		p->changes = NULL;
		return refuse(rc, p, why);
	}
	return install(rc, p, d);
}

struct reload_snapshot *reload_run(const struct reload_ctx *rc)
{
	struct reload_parts p = { 0 };
	struct conf_reload_diff d;
	char err[640];

	if (!rc->path) {
		log_notice(
			"SIGHUP: running on the embedded default (no -c FILE): nothing to reload");
		return NULL;
	}
	log_notice("SIGHUP: reloading the configuration from %s", rc->path);
	if (conf_load(rc->path, rc->ov, &p.next, err, sizeof(err)) < 0) {
		log_refused(err);
		return NULL;
	}
	p.chains = calloc(rc->n_workers, sizeof(*p.chains));
	p.changes = calloc(rc->n_workers, sizeof(*p.changes));
	if (!p.chains || !p.changes || conf_reload_pin(p.next, rc->running->conf, &d) < 0)
		return refuse(rc, &p, "out of memory");
	return prepare(rc, &p, &d);
}
