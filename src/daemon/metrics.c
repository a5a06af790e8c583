/*
 * /metrics and /healthz (metrics.h).
 */
#include "daemon/metrics.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/offload_abi.h"
#include "net/conn_gate.h"
#include "util/addr.h"

struct metrics {
	struct metrics_source src;
	struct evhttp *http;
};

/* metrics_view_add adds these up as arrays of counters. */
_Static_assert(sizeof(struct worker_stats) % sizeof(uint64_t) == 0, "worker_stats: counters only");
_Static_assert(sizeof(struct net_stats) % sizeof(uint64_t) == 0, "net_stats: counters only");
_Static_assert(sizeof(struct turn_server_stats) % sizeof(uint64_t) == 0,
	       "turn_server_stats: counters only");

static void metrics_add_counters(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += src[i];
}

void metrics_view_add(struct metrics_view *v, const struct worker_snapshot *s)
{
	struct worker_snapshot *t = &v->sum;

	/* Every field of the stats structs is a uint64_t counter. */
	metrics_add_counters((uint64_t *)&t->net, (const uint64_t *)&s->net,
			     sizeof(s->net) / sizeof(uint64_t));
	metrics_add_counters((uint64_t *)&t->daemon, (const uint64_t *)&s->daemon,
			     sizeof(s->daemon) / sizeof(uint64_t));
	metrics_add_counters((uint64_t *)&t->core, (const uint64_t *)&s->core,
			     sizeof(s->core) / sizeof(uint64_t));
	t->permissions += s->permissions;
	t->channels += s->channels;
	metrics_add_counters(t->alloc_hist, s->alloc_hist, WORKER_ALLOC_BUCKETS + 1);
	t->alloc_sum_us += s->alloc_sum_us;
	t->pending += s->pending;
	if (s->redis >= 0) {
		v->redis_workers++;
		v->redis_up += (unsigned)s->redis;
	}
	if (s->has_http) {
		_Static_assert(sizeof(s->http) % sizeof(uint64_t) == 0, "auth_http_stats: counters");
		metrics_add_counters((uint64_t *)&t->http, (const uint64_t *)&s->http,
				     sizeof(s->http) / sizeof(uint64_t));
		v->http_workers++;
	}
	v->workers++;
}

static void head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct evbuffer *b, const char *name, const char *type, const char *help,
		uint64_t v)
{
	head(b, name, type, help);
	evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* One counter by direction and the client's transport: the TCP share is
 * counted apart, the UDP one is the rest. */
static void relay_series(struct evbuffer *b, const char *name, const char *help,
			 const uint64_t total[2], const uint64_t tcp[2])
{
	static const char *const dir[2] = { "to_peer", "to_client" };

	head(b, name, "counter", help);
	for (int d = 0; d < 2; d++) {
		evbuffer_add_printf(b, "%s{direction=\"%s\",transport=\"udp\"} %" PRIu64 "\n", name,
				    dir[d], total[d] - tcp[d]);
		evbuffer_add_printf(b, "%s{direction=\"%s\",transport=\"tcp\"} %" PRIu64 "\n", name,
				    dir[d], tcp[d]);
	}
}

/* Bytes piped by RFC 6062 data connections count as relayed over TCP;
 * being a stream, they make no packets. */
static void write_relay(struct evbuffer *b, const struct turn_server_stats *c,
			const uint64_t piped[2])
{
	const uint64_t pkts[2] = { c->relayed_to_peer, c->relayed_to_client };
	const uint64_t bytes[2] = { c->bytes_to_peer + piped[0], c->bytes_to_client + piped[1] };
	const uint64_t tcp_bytes[2] = { c->tcp_bytes[0] + piped[0], c->tcp_bytes[1] + piped[1] };

	relay_series(b, "turnd_relayed_packets_total",
		     "Application datagrams relayed, by direction and the client's transport.", pkts,
		     c->tcp_packets);
	relay_series(b, "turnd_relayed_bytes_total",
		     "Application bytes relayed, by direction and the client's transport.", bytes,
		     tcp_bytes);
}

/* TCP relay allocations (RFC 6062). */
static void write_tcp_relay(struct evbuffer *b, const struct metrics_view *t)
{
	one(b, "turnd_tcp_relay_connections", "gauge",
	    "Peer TCP connections of TCP allocations now: connecting, waiting for a "
	    "ConnectionBind, or piped.",
	    t->sum.core.tcp_relay_conns);
	one(b, "turnd_tcp_relay_connections_total", "counter",
	    "Peer TCP connections made by Connect or accepted from peers.",
	    t->sum.core.tcp_relay_conns_total);
	one(b, "turnd_tcp_relay_pipes", "gauge",
	    "Client data connections piped to a peer connection now.", t->sum.net.tcp_relay_pipes);
	one(b, "turnd_tcp_relay_refused_total", "counter",
	    "Peer connections to a relay closed: no permission, refused peer, "
	    "max-tcp-connections, or no descriptor left.",
	    t->sum.core.tcp_relay_refused + t->sum.net.tcp_relay_refused_fds);
	one(b, "turnd_tcp_relay_connect_failures_total", "counter",
	    "Connect requests answered 447: the connection failed or timed out.",
	    t->sum.net.tcp_relay_connect_failed);
	head(b, "turnd_tcp_relay_bytes_total", "counter",
	     "Bytes piped between data connections and peers, by direction.");
	evbuffer_add_printf(b, "turnd_tcp_relay_bytes_total{direction=\"to_peer\"} %" PRIu64 "\n",
			    t->sum.net.tcp_relay_bytes[0]);
	evbuffer_add_printf(b, "turnd_tcp_relay_bytes_total{direction=\"to_client\"} %" PRIu64 "\n",
			    t->sum.net.tcp_relay_bytes[1]);
}

static void write_answers(struct evbuffer *b, const struct turn_server_stats *c)
{
	head(b, "turnd_responses_total", "counter",
	     "Responses sent, by request method and code (0: success).");
	for (unsigned mi = 0; mi < TURN_STATS_METHODS; mi++)
		for (unsigned ci = 0; ci < TURN_STATS_CODES; ci++) {
			int code = turn_stats_code(ci);
			/* Every method's successes always; errors once seen. */
			if (ci != 0 && c->answers[mi][ci] == 0)
				continue;
			if (code < 0)
				evbuffer_add_printf(b,
						    "turnd_responses_total{method=\"%s\",code=\"other\"} "
						    "%" PRIu64 "\n",
						    turn_stats_method_name(mi), c->answers[mi][ci]);
			else
				evbuffer_add_printf(b,
						    "turnd_responses_total{method=\"%s\",code=\"%d\"} "
						    "%" PRIu64 "\n",
						    turn_stats_method_name(mi), code, c->answers[mi][ci]);
		}
}

static void write_drops(struct evbuffer *b, const struct metrics_view *t)
{
	const struct net_stats *n = &t->sum.net;
	const struct worker_stats *d = &t->sum.daemon;
	const struct turn_server_stats *c = &t->sum.core;
	const struct {
		const char *reason;
		uint64_t v;
	} rows[] = {
		{ "malformed", c->dropped },
		{ "peer_denied", c->peer_denied },
		{ "bandwidth", c->bandwidth_drops },
		{ "bps_per_credential", c->user_bw_drops },
		{ "bps_capacity", c->capacity_drops },
		{ "chandata_unbound", d->chandata_dropped },
		{ "udp_truncated", n->udp_truncated },
		{ "udp_send_error", n->udp_send_errors },
		{ "relay_send_error", n->relay_send_errors },
		{ "tcp_output_full", n->tcp_output_drops },
		{ "tcp_bad_frame", n->tcp_closed_bad_frame },
		{ "redis_event", t->events_dropped },
	};

	head(b, "turnd_drops_total", "counter", "Messages dropped, by reason.");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		evbuffer_add_printf(b, "turnd_drops_total{reason=\"%s\"} %" PRIu64 "\n",
				    rows[i].reason, rows[i].v);
}

/* Client connections against max-connections-per-ip, max-connections,
 * first-message-timeout, max-allocate-timeout and preauth-buffer. */
static void write_conn_limits(struct evbuffer *b, const struct metrics_view *t)
{
	static const char *const kind[CONN_KINDS] = { "tcp", "tls", "dtls" };
	const struct net_stats *n = &t->sum.net;

	_Static_assert(CONN_KINDS == sizeof(n->conn_refused_per_ip) / sizeof(uint64_t),
		       "one counter per conn_kind");
	one(b, "turnd_client_connections", "gauge",
	    "TCP and TLS connections and DTLS sessions counted against max-connections now.",
	    t->client_connections);
	head(b, "turnd_connections_refused_total", "counter",
	     "Client connections refused, by cap and transport.");
	for (int k = 0; k < CONN_KINDS; k++) {
		evbuffer_add_printf(b,
				    "turnd_connections_refused_total{cap=\"max-connections-per-ip\","
				    "transport=\"%s\"} %" PRIu64 "\n",
				    kind[k], n->conn_refused_per_ip[k]);
		evbuffer_add_printf(b,
				    "turnd_connections_refused_total{cap=\"max-connections\","
				    "transport=\"%s\"} %" PRIu64 "\n",
				    kind[k], n->conn_refused_total[k]);
	}
	head(b, "turnd_connections_closed_total", "counter",
	     "Client connections without an allocation closed, by the limit they passed and "
	     "transport.");
	for (int k = 0; k < CONN_KINDS; k++) {
		const uint64_t v[3] = { n->conn_closed_first_message[k],
					n->conn_closed_allocate_timeout[k],
					n->conn_closed_preauth_buffer[k] };
		static const char *const why[3] = { "first-message-timeout",
						     "max-allocate-timeout", "preauth-buffer" };
		for (int i = 0; i < 3; i++)
			evbuffer_add_printf(b,
					    "turnd_connections_closed_total{limit=\"%s\","
					    "transport=\"%s\"} %" PRIu64 "\n",
					    why[i], kind[k], v[i]);
	}
}

/* Before a connection's first frame (net/tcp_preface.c): PROXY headers
 * and the ACME redirect. */
static void write_preface(struct evbuffer *b, const struct metrics_view *t)
{
	const struct net_stats *n = &t->sum.net;
	const struct {
		const char *result;
		uint64_t v;
	} proxy[] = {
		{ "client", n->proxy_client },       { "local", n->proxy_local },
		{ "untrusted", n->proxy_untrusted }, { "malformed", n->proxy_malformed },
		{ "timeout", n->proxy_timeout },
	};

	head(b, "turnd_proxy_protocol_total", "counter",
	     "Connections on sockets that expect a PROXY header, by outcome: a client address "
	     "taken, LOCAL (the proxy's own), closed for a source not in trusted-proxy, a "
	     "missing or broken header, or none in time.");
	for (size_t i = 0; i < sizeof(proxy) / sizeof(proxy[0]); i++)
		evbuffer_add_printf(b, "turnd_proxy_protocol_total{result=\"%s\"} %" PRIu64 "\n",
				    proxy[i].result, proxy[i].v);
	head(b, "turnd_acme_requests_total", "counter",
	     "HTTP requests on TCP sockets with acme-redirect: ACME challenges redirected, "
	     "others closed.");
	evbuffer_add_printf(b, "turnd_acme_requests_total{result=\"redirected\"} %" PRIu64 "\n",
			    n->acme_redirected);
	evbuffer_add_printf(b, "turnd_acme_requests_total{result=\"refused\"} %" PRIu64 "\n",
			    n->acme_refused);
}

static void write_histogram(struct evbuffer *b, const struct metrics_view *t)
{
	uint64_t cum = 0;

	head(b, "turnd_allocate_seconds", "histogram",
	     "Time from an Allocate request's arrival to its answer, Redis waits included.");
	for (size_t i = 0; i < WORKER_ALLOC_BUCKETS; i++) {
		cum += t->sum.alloc_hist[i];
		evbuffer_add_printf(b, "turnd_allocate_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
				    (double)worker_alloc_bounds_us[i] / 1e6, cum);
	}
	cum += t->sum.alloc_hist[WORKER_ALLOC_BUCKETS];
	evbuffer_add_printf(b, "turnd_allocate_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	evbuffer_add_printf(b, "turnd_allocate_seconds_sum %.6f\n",
			    (double)t->sum.alloc_sum_us / 1e6);
	evbuffer_add_printf(b, "turnd_allocate_seconds_count %" PRIu64 "\n", cum);
}

static void write_redis(struct evbuffer *b, const struct metrics_view *t)
{
	if (t->redis_workers == 0)
		return;
	one(b, "turnd_redis_connections", "gauge",
	    "Worker connections to Redis past their handshake.", t->redis_up);
	one(b, "turnd_redis_parked_requests", "gauge", "Requests waiting for Redis now.",
	    t->sum.pending);
	uint64_t ok = t->quota_checked, refused = t->quota_refused, unchecked = t->quota_unchecked;
	uint64_t sent = t->events_sent;
	head(b, "turnd_redis_quota_checks_total", "counter",
	     "Allocates checked against the user's quota across servers, by result.");
	evbuffer_add_printf(b, "turnd_redis_quota_checks_total{result=\"granted\"} %" PRIu64 "\n",
			    ok);
	evbuffer_add_printf(b, "turnd_redis_quota_checks_total{result=\"refused\"} %" PRIu64 "\n",
			    refused);
	evbuffer_add_printf(b,
			    "turnd_redis_quota_checks_total{result=\"unchecked\"} %" PRIu64 "\n",
			    unchecked);
	one(b, "turnd_redis_events_total", "counter", "Allocation events added to the stream.",
	    sent);
}

/* The HTTP authorization hook (auth-url), when configured. */
static void write_auth_http(struct evbuffer *b, const struct metrics_view *t)
{
	const struct auth_http_stats *h = &t->sum.http;

	if (t->http_workers == 0)
		return;
	one(b, "turnd_auth_http_requests_total", "counter",
	    "Requests sent to the HTTP authorization hook.", h->requests);
	one(b, "turnd_auth_http_errors_total", "counter",
	    "Hook requests that failed: no connection, timeout, bad status or body.", h->errors);
	one(b, "turnd_auth_http_refused_total", "counter", "Hook answers 403 or 404.",
	    h->refused);
	one(b, "turnd_auth_http_cache_hits_total", "counter",
	    "Lookups the hook's shared cache answered.", h->cache_hits);
	one(b, "turnd_auth_http_failed_closed_total", "counter",
	    "Lookups refused at once: hook backing off, or over auth-max-inflight.",
	    h->failed_closed);
	one(b, "turnd_auth_http_in_flight", "gauge", "Hook requests in flight now.",
	    h->in_flight);
}

/* What the port pool and the datagram sizes turned away (issue 13 items
 * 6 and 9). */
static void write_pool(struct evbuffer *b, const struct metrics_view *t)
{
	head(b, "turnd_relay_oversize_dropped_total", "counter",
	     "Datagrams too large for the transport on: to a peer over the largest UDP payload, "
	     "to a client over what its transport carries.");
	evbuffer_add_printf(b, "turnd_relay_oversize_dropped_total{direction=\"to_peer\"} %" PRIu64
			    "\n", t->sum.net.relay_oversize);
	evbuffer_add_printf(b, "turnd_relay_oversize_dropped_total{direction=\"to_client\"} %" PRIu64
			    "\n", t->sum.core.oversize_to_client);
	one(b, "turnd_relay_port_quarantine_early_total", "counter",
	    "Relay ports handed out before their quarantine ended, every free port being in it.",
	    t->ports_taken_early);
}

/* Allocations, permissions, channels, relay ports and traffic. */
static void write_allocations(struct evbuffer *b, const struct metrics_view *t)
{
	one(b, "turnd_workers", "gauge", "Worker threads.", t->workers);
	one(b, "turnd_allocations", "gauge", "Allocations held now.", t->sum.core.allocations);
	one(b, "turnd_allocations_total", "counter", "Allocations made since start.",
	    t->sum.core.allocations_total);
	one(b, "turnd_permissions", "gauge", "Permissions in force now.", t->sum.permissions);
	one(b, "turnd_channels", "gauge", "Channels bound now.", t->sum.channels);
	one(b, "turnd_relay_ports_in_use", "gauge", "Relay ports taken from the pool.",
	    t->ports_in_use);
	write_pool(b, t);
	write_relay(b, &t->sum.core, t->sum.net.tcp_relay_bytes);
	one(b, "turnd_rx_coalesce_waits_total", "counter",
	    "Loop turns after which a busy worker waited rx-coalesce-us for more datagrams.",
	    t->sum.daemon.rx_coalesce_waits);
	one(b, "turnd_icmp_relayed_total", "counter",
	    "ICMP errors about relayed datagrams passed to clients in Data indications.",
	    t->sum.core.icmp_to_client);
}

/* The listening sockets and client connections. */
static void write_listeners(struct evbuffer *b, const struct metrics_view *t)
{
	head(b, "turnd_udp_datagrams_total", "counter",
	     "Datagrams on the listening UDP sockets, by direction.");
	evbuffer_add_printf(b, "turnd_udp_datagrams_total{direction=\"in\"} %" PRIu64 "\n",
			    t->sum.net.udp_in);
	evbuffer_add_printf(b, "turnd_udp_datagrams_total{direction=\"out\"} %" PRIu64 "\n",
			    t->sum.net.udp_out);
	one(b, "turnd_tcp_connections_total", "counter", "TCP connections accepted.",
	    t->sum.net.tcp_accepted);
	one(b, "turnd_tcp_connections", "gauge", "TCP connections open now.", t->sum.net.tcp_open);
	one(b, "turnd_listeners_retired", "gauge",
	    "Listening UDP and DTLS sockets (one per worker) a reload removed, still carrying "
	    "their allocations.",
	    t->sum.net.listen_retired);
}

/* Answers not sent, and credentials. */
static void write_auth(struct evbuffer *b, const struct metrics_view *t)
{
	one(b, "turnd_unauth_answers_suppressed_total", "counter",
	    "Answers to unauthenticated UDP requests not sent: their source address was over "
	    "unauth-rate (reflection limit).",
	    t->sum.daemon.unauth_suppressed);
	one(b, "turnd_auth_backend_errors_total", "counter",
	    "Credential lookups that failed because a backend could not answer.",
	    t->sum.daemon.auth_errors);
	one(b, "turnd_auth_refused_before_lookup_total", "counter",
	    "Requests with MESSAGE-INTEGRITY answered on their realm and nonce alone (401, 438, "
	    "400), without a credential lookup: forged or expired nonces among them.",
	    t->sum.daemon.auth_refused_early);
}

static void write_reloads(struct evbuffer *b, const struct metrics_view *t)
{
	head(b, "turnd_config_reloads_total", "counter",
	     "Configuration reloads (SIGHUP), by result.");
	evbuffer_add_printf(b, "turnd_config_reloads_total{result=\"applied\"} %" PRIu64 "\n",
			    t->reloads_applied);
	evbuffer_add_printf(b, "turnd_config_reloads_total{result=\"refused\"} %" PRIu64 "\n",
			    t->reloads_refused);
}

/* One family with a label of n values (name{label="values[i]"} v[i]). */
static void labelled(struct evbuffer *b, const char *name, const char *help, const char *label,
		     const char *const *values, const uint64_t *v, size_t n)
{
	head(b, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, values[i], v[i]);
}

/* The kernel fast path (docs/OFFLOAD.md); its traffic is also in the
 * relayed counters above, folded in once a second. */
static void write_offload(struct evbuffer *b, const struct metrics_view *t)
{
	static const char *const dir[2] = { "to_peer", "to_client" };
	static const char *const passed[] = { "expired", "stale", "malformed", "padding",
					      "mtu", "checksum", "gso" };
	static const char *const fb[OFFLOAD_FB__COUNT] = { "map_full", "route" };
	const struct offload_totals *o = &t->offload;
	const uint64_t *st = o->stats;
	const uint64_t pkts[2] = { st[OFFLOAD_ST_TO_PEER_PKTS], st[OFFLOAD_ST_TO_CLIENT_PKTS] };
	const uint64_t bytes[2] = { st[OFFLOAD_ST_TO_PEER_BYTES], st[OFFLOAD_ST_TO_CLIENT_BYTES] };

	_Static_assert(OFFLOAD_ST__COUNT <= sizeof(o->stats) / sizeof(o->stats[0]), "stats fit");
	_Static_assert(OFFLOAD_ST_PASS_GSO - OFFLOAD_ST_PASS_EXPIRED + 1 ==
			       sizeof(passed) / sizeof(passed[0]), "one label per reason");
	one(b, "turnd_kernel_offload_loaded", "gauge",
	    "1 when the kernel fast path is loaded and attached, 0 when user space relays all.",
	    o->loaded);
	one(b, "turnd_kernel_offload_interfaces", "gauge",
	    "Interfaces the fast path's program is attached to.", o->interfaces);
	one(b, "turnd_kernel_offload_entries", "gauge",
	    "Bound channels the kernel relays now (both directions each).", o->entries);
	labelled(b, "turnd_kernel_offload_packets_total", "Datagrams relayed in the kernel.",
		 "direction", dir, pkts, 2);
	labelled(b, "turnd_kernel_offload_bytes_total",
		 "Application data bytes relayed in the kernel.", "direction", dir, bytes, 2);
	labelled(b, "turnd_kernel_offload_passed_total",
		 "Datagrams of an offloaded flow the kernel left to user space, by reason.",
		 "reason", passed, st + OFFLOAD_ST_PASS_EXPIRED, sizeof(passed) / sizeof(passed[0]));
	one(b, "turnd_kernel_offload_bandwidth_drops_total", "counter",
	    "Datagrams the kernel dropped over max-bps.", st[OFFLOAD_ST_BW_DROPS]);
	one(b, "turnd_kernel_offload_errors_total", "counter",
	    "Datagrams dropped because a kernel helper failed after the packet was rewritten.",
	    st[OFFLOAD_ST_ERRORS]);
	labelled(b, "turnd_kernel_offload_fallbacks_total",
		 "Channels left to user space when they were bound, by reason.", "reason", fb,
		 o->fallbacks, OFFLOAD_FB__COUNT);
	one(b, "turnd_user_channeldata_total", "counter",
	    "ChannelData messages from clients handled in user space.",
	    t->sum.daemon.user_channeldata);
}

/* bps-capacity, user-max-bps and the per-user table, in aggregate: no
 * label names a user, so the series stay bounded. */
static void write_bandwidth(struct evbuffer *b, const struct metrics_view *t)
{
	const struct turn_server_stats *c = &t->sum.core;

	one(b, "turnd_bps_capacity_dropped_packets_total", "counter",
	    "Datagrams dropped over bps-capacity (the server's relayed bandwidth).",
	    c->capacity_drops);
	one(b, "turnd_bps_capacity_dropped_bytes_total", "counter",
	    "Bytes of the datagrams dropped over bps-capacity.", c->capacity_drop_bytes);
	one(b, "turnd_user_max_bps_dropped_packets_total", "counter",
	    "Datagrams dropped over user-max-bps (one user's allocations together).",
	    c->user_bw_drops);
	one(b, "turnd_users_tracked", "gauge",
	    "Users whose totals are kept: with allocations, or lingering after them.",
	    t->users.users);
	one(b, "turnd_users_active", "gauge", "Users with allocations on this server.",
	    t->users.active);
	one(b, "turnd_users_evicted_total", "counter",
	    "Lingering users' totals dropped early to bound the table.", t->users.evicted);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b = evbuffer_new();
	struct metrics_view t = { 0 };

	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	m->src.snapshot(m->src.ctx, &t);
	write_allocations(b, &t);
	write_listeners(b, &t);
	write_tcp_relay(b, &t);
	write_conn_limits(b, &t);
	write_preface(b, &t);
	write_answers(b, &t.sum.core);
	write_auth(b, &t);
	write_drops(b, &t);
	write_histogram(b, &t);
	write_redis(b, &t);
	write_auth_http(b, &t);
	write_reloads(b, &t);
	write_offload(b, &t);
	write_bandwidth(b, &t);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

/* 200 ok while taking allocations; 503 draining, so that a load balancer
 * sends new clients elsewhere. */
static void on_healthz(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b = evbuffer_new();
	struct metrics_view v = { 0 };

	m->src.snapshot(m->src.ctx, &v);
	bool draining = v.draining;

	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, draining ? "draining\n" : "ok\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, draining ? 503 : HTTP_OK, draining ? "Service Unavailable" : "OK",
			  b);
	evbuffer_free(b);
}

struct metrics *metrics_new(const struct metrics_source *src, struct event_base *base,
			    const struct turn_addr *addr, char *err, size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));
	char ip[TURN_ADDR_STRLEN];

	if (!m || !(m->http = evhttp_new(base))) {
		snprintf(err, errlen, "metrics: out of memory");
		free(m);
		return NULL;
	}
	m->src = *src;
	turn_addr_format(addr, false, ip, sizeof(ip));
	/* A scraper needs little: GET and HEAD, small headers, no body, and
	 * a connection that goes quiet is closed. */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, 10);
	if (evhttp_set_cb(m->http, "/metrics", on_metrics, m) != 0 ||
	    evhttp_set_cb(m->http, "/healthz", on_healthz, m) != 0 ||
	    !evhttp_bind_socket_with_handle(m->http, ip, addr->port)) {
		char text[TURN_ADDR_STRLEN];
		snprintf(err, errlen, "metrics: cannot listen on %s",
			 turn_addr_format(addr, true, text, sizeof(text)));
		metrics_free(m);
		return NULL;
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	free(m);
}
