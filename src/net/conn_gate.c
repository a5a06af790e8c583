/*
 * The server's count of client connections (conn_gate.h), over the pure
 * table of util/conn_limit.c.
 */
#include "net/conn_gate.h"

#include "net/net_worker.h"
#include "util/conn_limit.h"
#include "util/log.h"

int conn_gate_init(struct conn_gate *g, uint32_t seed)
{
	g->table = conn_limit_new(seed);
	if (!g->table)
		return -1;
	pthread_mutex_init(&g->lock, NULL);
	g->ready = true;
	return 0;
}

void conn_gate_fini(struct conn_gate *g)
{
	if (!g->ready)
		return;
	conn_limit_free(g->table);
	pthread_mutex_destroy(&g->lock);
	g->table = NULL;
	g->ready = false;
}

bool conn_gate_enter(struct net_worker *w, const struct turn_addr *client, enum conn_kind kind)
{
	struct conn_gate *g = w->conn_gate;
	char a[TURN_ADDR_STRLEN];

	pthread_mutex_lock(&g->lock);
	enum conn_limit_result r = conn_limit_take(g->table, client, w->conf->max_connections_per_ip,
						   w->conf->max_connections);
	pthread_mutex_unlock(&g->lock);
	switch (r) {
	case CONN_LIMIT_OK:
		return true;
	case CONN_LIMIT_PER_SOURCE:
		/* Debug only: a source at its cap would fill the log. */
		w->stats.conn_refused_per_ip[kind]++;
		log_debug("connection from %s refused: max-connections-per-ip",
			  turn_addr_format(client, false, a, sizeof(a)));
		return false;
	case CONN_LIMIT_TOTAL:
	case CONN_LIMIT_NOMEM:
		break;
	}
	w->stats.conn_refused_total[kind]++;
	log_debug("connection from %s refused: max-connections",
		  turn_addr_format(client, false, a, sizeof(a)));
	return false;
}

void conn_gate_leave(struct net_worker *w, const struct turn_addr *client)
{
	struct conn_gate *g = w->conn_gate;

	pthread_mutex_lock(&g->lock);
	conn_limit_put(g->table, client);
	pthread_mutex_unlock(&g->lock);
}

unsigned conn_gate_total(struct conn_gate *g)
{
	pthread_mutex_lock(&g->lock);
	unsigned n = conn_limit_total(g->table);
	pthread_mutex_unlock(&g->lock);
	return n;
}
