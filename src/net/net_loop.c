/* A worker thread's transports, as one (net_loop.h): set up, ticked,
 * flushed at the end of each loop turn, closed. */
#include "net/net_loop.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/clock.h"
#include "net/net_worker.h"
#include "net/listen.h"
#include "net/tls.h"

/* The loop turn's other events have run: send what they gathered. */
static void net_loop_on_flush(void *arg)
{
	struct net_worker *w = arg;

	relay_out_flush(w);
	for (size_t i = 0; i < w->n_udp; i++)
		if (w->udp[i]->out && w->udp[i]->out->n)
			udp_out_flush(w->udp[i]);
}

/* Another worker changed a TCP relay connection of ours (tcp_relay.c). */
static void net_loop_on_tcp_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tcp_relay_service(arg, io_now_ms());
}

int net_loop_init(struct net_worker *w, const struct net_loop_params *in)
{
	w->id = in->id;
	w->base = in->base;
	w->conf = in->conf;
	w->up = in->up;
	w->up_ctx = in->up_ctx;
	w->relay_shared = in->relay_shared;
	w->tls = in->tls;
	w->conn_gate = in->conn_gate;
	w->pipe_bps = in->conf->max_bps;
	LIST_INIT(&w->conns);
	LIST_INIT(&w->prefaces);
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	w->big = calloc(1, sizeof(*w->big)); /* pages touched by large datagrams only */
	w->rx = calloc(WORKER_BATCH, sizeof(*w->rx));
	w->tx = calloc(WORKER_BATCH, sizeof(*w->tx));
	w->relay_out = calloc(1, sizeof(*w->relay_out));
	w->tcp_wake_ev = event_new(w->base, -1, 0, net_loop_on_tcp_wake, w);
	if (!w->big || !w->rx || !w->tx || !w->relay_out || !w->tcp_wake_ev ||
	    io_flush_init(&w->flush, w->base, net_loop_on_flush, w) < 0)
		return -1;
	return 0;
}

void net_loop_close_clients(struct net_worker *w)
{
	io_flush_fini(&w->flush);
	/* From here relays that close are freed, and no longer counted on
	 * their listening socket (which may go first). */
	w->stopping = true;
	tcp_conns_close_all(w);
	listen_close_all(w);
}

void net_loop_fini(struct net_worker *w)
{
	relay_spares_free(w);
	if (w->tcp_wake_ev)
		event_free(w->tcp_wake_ev);
	w->tcp_wake_ev = NULL;
	if (w->reserve_fd >= 0)
		close(w->reserve_fd);
	w->reserve_fd = -1;
	free(w->big);
	free(w->rx);
	free(w->tx);
	free(w->relay_out);
	w->big = NULL;
	w->rx = w->tx = NULL;
	w->relay_out = NULL;
}

void net_loop_tick(struct net_worker *w, uint64_t now_ms)
{
	dtls_tick(w, now_ms);
	tcp_tick(w, now_ms);       /* first-message-timeout, max-allocate-timeout */
	listen_service(w);         /* retired listening sockets whose allocations ended */
	tcp_relay_service(w, now_ms); /* connections nobody bound in 30 s */
}
