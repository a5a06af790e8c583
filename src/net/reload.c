/* SIGHUP: a new configuration snapshot for every worker (reload.h). */
#include "net/reload.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/auth.h"
#include "conf/conf_reload.h"
#include "net/tls.h"
#include "util/log.h"

struct net_snapshot *net_snapshot_new(struct conf *c, bool owns_conf, unsigned n_workers)
{
	struct net_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->conf = c;
	s->owns_conf = owns_conf;
	s->n_workers = n_workers;
	atomic_init(&s->refs, 1);
	atomic_init(&s->applied, 0);
	return s;
}

void net_snapshot_hold(struct net_snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void net_snapshot_release(struct net_snapshot *s)
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

/* The loaded and pinned configuration next, its chains built: the
 * certificates, then the hand-over. Returns the snapshot or NULL. */
static struct net_snapshot *install(const struct net_reload_ctx *rc, struct conf *next,
				    struct auth **chains, const struct conf_reload_diff *d)
{
	char msg[512];
	int tls = tls_shared_reload(rc->tls, next, msg, sizeof(msg));
	struct net_snapshot *s = tls < 0 ? NULL : net_snapshot_new(next, true, rc->n_workers);

	if (!s) {
		if (tls < 0) {
			char why[640];
			snprintf(why, sizeof(why), "certificate: %s", msg);
			log_refused(why);
		} else {
			log_refused("out of memory");
		}
		for (unsigned i = 0; i < rc->n_workers; i++)
			auth_free(chains[i]);
		conf_free(next);
		return NULL;
	}
	if (tls > 0)
		log_notice("SIGHUP: TLS certificate reloaded for new connections: %s", msg);
	log_set_level((enum log_level)next->log_level);
	log_outcome(next, d);
	for (unsigned i = 0; i < rc->n_workers; i++)
		worker_reload_post(rc->workers[i], s, chains[i]);
	return s;
}

struct net_snapshot *net_reload(const struct net_reload_ctx *rc)
{
	struct conf *next = NULL;
	struct conf_reload_diff d;
	struct auth **chains;
	char err[640];

	if (!rc->path) {
		log_notice(
			"SIGHUP: running on the embedded default (no -c FILE): nothing to reload");
		return NULL;
	}
	log_notice("SIGHUP: reloading the configuration from %s", rc->path);
	if (conf_load(rc->path, rc->ov, &next, err, sizeof(err)) < 0) {
		log_refused(err);
		return NULL;
	}
	chains = calloc(rc->n_workers, sizeof(*chains));
	if (!chains || conf_reload_pin(next, rc->running->conf, &d) < 0) {
		free(chains);
		conf_free(next);
		log_refused("out of memory");
		return NULL;
	}
	if (build_chains(next, chains, rc->n_workers, err, sizeof(err)) < 0) {
		char why[700];
		snprintf(why, sizeof(why), "%s: %s", rc->path, err);
		free(chains);
		conf_free(next);
		log_refused(why);
		return NULL;
	}
	struct net_snapshot *s = install(rc, next, chains, &d);
	free(chains);
	return s;
}
