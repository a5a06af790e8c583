/*
 * Configuration: libconfuse option table -> a validated, immutable
 * struct conf, passed down as const (STYLE.md rule 2). Reload (SIGHUP,
 * later) builds a new snapshot; nothing edits one in place.
 *
 * Option names follow coturn's where the meaning is the same, so operators
 * carry their knowledge over.
 */
#ifndef TURND_CONF_CONF_H
#define TURND_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/integrity.h"
#include "util/addr.h"

#define CONF_DEFAULT_PORT 3478
/* Finite by default (issue 13 item 11): one credential handed to a browser
 * must not take the port range. A browser needs a few relays per
 * RTCPeerConnection (UDP, TCP, TLS, per family): 32 covers an 8-way mesh.
 * The total is half the default range (16,384 ports), so the other half
 * absorbs the quarantine of freed ports (relay-port-quarantine). */
#define CONF_DEFAULT_USER_QUOTA 32
#define CONF_DEFAULT_TOTAL_QUOTA 8192
/* Seconds a freed relay port stays out of use: twice the 30 s after which
 * ICE consent freshness (RFC 7675 section 5.1) stops a browser peer
 * sending to an address that no longer answers. */
#define CONF_DEFAULT_PORT_QUARANTINE 60
/* A user's totals outlive its last allocation by 10 minutes (a reconnect
 * keeps counting on), and go to the Redis event stream once a minute. */
#define CONF_DEFAULT_USAGE_LINGER 600
#define CONF_DEFAULT_USAGE_INTERVAL 60

/* unauth-rate and unauth-burst: answers to requests that did not
 * authenticate, per source address (turnd.conf(5) says why these). */
#define CONF_UNAUTH_RATE 200
#define CONF_UNAUTH_BURST 1000

struct conf_user {
	char *name;
	char *password; /* NULL when the file gave a key ("name:0x<hex>") */
	uint8_t key[STUN_KEY_MD5_LEN]; /* MD5(name:realm:password), always set */
};

/* An inclusive address range, both ends of one family, port ignored. */
struct conf_range {
	struct turn_addr lo;
	struct turn_addr hi;
};

/* external-ip: "public" or "public/private" (coturn's form), or
 * "auto:stun:HOST:PORT": each relay address asks that STUN server for its
 * public address at start-up and at each reload (daemon/external_stun.c);
 * then public_ip and private_ip have family 0 and it is the only entry. */
#define CONF_STUN_HOST_MAX 256
struct conf_external {
	struct turn_addr public_ip;
	struct turn_addr private_ip; /* family 0 when not given */
	bool auto_stun;
	char stun_host[CONF_STUN_HOST_MAX]; /* a name or a numeric address, no brackets */
	uint16_t stun_port;
};

/* listener: one more listening socket set, "ADDR:PORT/udp,tcp,tls,dtls". */
#define CONF_LISTEN_UDP 0x1u
#define CONF_LISTEN_TCP 0x2u
#define CONF_LISTEN_TLS 0x4u
#define CONF_LISTEN_DTLS 0x8u
/* Not a socket: the entry's TCP and TLS socket reads a PROXY header first
 * (conf_proxy.c). With both tcp and tls, one socket takes both, told
 * apart by the first byte. */
#define CONF_LISTEN_PROXY 0x10u
struct conf_listener {
	struct turn_addr addr; /* with its port; may be a wildcard */
	unsigned transports;   /* CONF_LISTEN_* bits, at least one */
};

/* The Redis credential backend (src/auth/auth_redis.c); turnd.conf(5). */
struct conf_redis {
	bool enabled; /* redis */
	char *host; /* a numeric IP address, as text without brackets */
	uint16_t port;
	char *socket; /* unix socket path; NULL: host and port */
	unsigned db;
	char *user; /* ACL user; NULL: none */
	char *password; /* NULL: no AUTH */
	bool tls; /* redis-tls: TLS to redis-host and redis-port */
	char *tls_ca; /* CA bundle file; NULL: the system's store */
	char *tls_cert; /* client certificate file; NULL, or set with tls_key */
	char *tls_key;
	char *tls_server_name; /* IP address (as text, no brackets) or DNS name; NULL: host */
	unsigned connect_timeout_ms;
	unsigned timeout_ms;
	unsigned cache_size; /* entries */
	unsigned cache_ttl_s;
	unsigned negative_ttl_s;
	unsigned cache_stale_s;
	/* A fleet of servers on one Redis (daemon/fleet.c). */
	bool shared_quota; /* redis-shared-quota: user-quota counts every node's allocations */
	unsigned poll_interval_s; /* how often the realm's settings are read */
	bool events; /* redis-events: allocation events to a stream */
	unsigned events_max; /* the stream's approximate length cap */
	char *node_id; /* NULL: made up at start */
};

/* The HTTP authorization hook (src/auth/auth_http.c); turnd.conf(5). */
struct conf_auth_http {
	char *url; /* auth-url as written; NULL: no hook */
	char *host; /* its numeric IP address, as text without brackets */
	uint16_t port;
	char *path; /* from its '/' on */
	unsigned timeout_ms; /* auth-timeout */
	unsigned cache_ttl_s; /* auth-cache-ttl */
	unsigned negative_ttl_s; /* auth-negative-ttl */
	unsigned max_inflight; /* auth-max-inflight, per worker */
};

/* node-id: at most this many characters. */
#define CONF_NODE_ID_MAX 64

/* kernel-offload (docs/OFFLOAD.md). */
enum conf_offload { CONF_OFFLOAD_AUTO, CONF_OFFLOAD_ON, CONF_OFFLOAD_OFF };
#define CONF_OFFLOAD_MAX_ENTRIES 65536
#define CONF_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

struct conf {
	char *path; /* the file it came from; NULL for the embedded default */

	/* Listening: each address with port = listening_port. Empty in the
	 * file means the wildcard addresses 0.0.0.0 and ::. */
	struct turn_addr *listen;
	size_t n_listen;
	uint16_t listening_port;
	bool no_udp;
	bool no_tcp;
	/* RFC 5780 NAT discovery: alt-listening-ip, at most one per family,
	 * each with port = alt_listening_port (listening-port + 1 unless
	 * set); paired with the first listening-ip of its family. */
	/* listener: further addresses and ports, each with its own
	 * transports (for example TLS on 443 beside 3478 and 5349). */
	struct conf_listener *listeners;
	size_t n_listeners;
	struct turn_addr *alt_listen;
	size_t n_alt_listen;
	uint16_t alt_listening_port;

	/* Relay. */
	struct turn_addr *relay;
	size_t n_relay;
	struct conf_external *external;
	size_t n_external;
	uint16_t min_port;
	uint16_t max_port;
	unsigned port_quarantine_s; /* relay-port-quarantine; 0: none */

	/* Authentication. */
	char *realm;
	struct conf_user *users;
	size_t n_users;
	char **secrets; /* static-auth-secret, several for rotation */
	size_t n_secrets;
	struct conf_redis redis;
	struct conf_auth_http auth_http;

	/* Peer policy. */
	struct conf_range *allowed_peers;
	size_t n_allowed_peers;
	struct conf_range *denied_peers;
	size_t n_denied_peers;
	bool allow_own_peers;     /* the host's own addresses may be peers */

	/* Client connections: TCP, TLS and DTLS (net/conn_gate.c). Caps per
	 * source address (IPv6: per /64) and in total, over every worker
	 * (0: no cap); deadlines of a connection without an allocation, which
	 * its bytes do not extend; what it may buffer meanwhile. */
	unsigned max_connections_per_ip;
	unsigned max_connections;
	unsigned first_message_timeout_s; /* accept to the first whole STUN message */
	unsigned max_allocate_timeout_s;  /* accept (or last allocation gone) to an allocation */
	unsigned preauth_buffer; /* bytes: longest frame before an allocation */

	/* Allocations. */
	uint32_t max_lifetime;    /* max-allocate-lifetime, seconds */
	unsigned max_permissions; /* per allocation, 0 = no limit */
	unsigned max_channels;    /* per allocation, 0 = no limit */
	unsigned max_tcp_connections; /* per TCP allocation (RFC 6062), 0 = no limit */
	bool legacy_channels;     /* accept RFC 5766 channels 0x5000-0x7FFF */

	/* Answers to requests that did not authenticate (401, other errors,
	 * Binding), per source address and UDP worker: unauth_rate a second
	 * (0 = no limit) with bursts of unauth_burst. The defaults' reasoning
	 * is in turnd.conf(5). */
	unsigned unauth_rate;
	unsigned unauth_burst;

	/* Load shedding: past shed_allocations allocations on this server,
	 * Allocate gets 300 Try Alternate with the next alternate server. */
	struct turn_addr *alternates;
	size_t n_alternates;
	unsigned shed_allocations; /* 0 = never */
	uint64_t shed_bps; /* relayed bytes per second, both ways, 0 = never */

	/* /metrics and /healthz: metrics-ip and metrics-port (port 0: off). */
	struct turn_addr metrics;

	/* Running as a service. */
	unsigned drain_timeout_s; /* SIGUSR1: stop at the latest this long after */
	bool log_json; /* log lines as JSON objects */
	char *pid_file; /* NULL: none */
	char *proc_user; /* drop to this user after binding; NULL: stay */
	char *proc_group; /* and this group; NULL: the user's */
	/* control-socket (turnctl): NULL the default path, "" off. */
	char *control_socket;

	/* Limits (0 = unlimited, the defaults are finite). */
	unsigned user_quota;
	unsigned total_quota;
	uint64_t max_bps;
	/* Bandwidth capacity and per-user usage (issue 16): bytes per second
	 * relayed by the whole server and by one user's allocations, 0 = no
	 * cap; how long a user's totals outlive its last allocation; how
	 * often they go to the Redis event stream (seconds, 0 = never). */
	uint64_t bps_capacity;
	uint64_t user_max_bps;
	unsigned usage_linger_s;
	unsigned usage_interval_s;
	/* The kernel fast path (docs/OFFLOAD.md), read at start only. */
	enum conf_offload kernel_offload;
	char **offload_ifnames;        /* kernel-offload-interfaces; none: from the addresses */
	size_t n_offload_ifnames;
	unsigned offload_max_entries;  /* channels offloaded at once */

	/* TLS material. */
	char *cert;
	char *pkey;
	uint16_t tls_listening_port; /* TLS and DTLS, 0 = off (net/tls.c) */
	bool no_tls;
	bool no_dtls;
	/* TLS policy (conf/conf_tls.h; net/tls_policy.c applies it to the TLS
	 * and the DTLS contexts, again on reload). */
	unsigned tls_min_version; /* CONF_TLS_1_2 or CONF_TLS_1_3; DTLS stays 1.2 */
	char *cipher_list;        /* TLS 1.2 and DTLS 1.2 suites */
	char *ciphersuites;       /* TLS 1.3 suites; "" none */
	char *ecdh_curves;        /* key exchange groups */
	char *ca_file;            /* NULL: no client certificate asked for */
	bool client_cert_required; /* with ca_file: a client without one is refused */

	/* Behind a load balancer (conf_proxy.c): the sources whose PROXY
	 * header is believed (trusted-proxy), whether the sockets of
	 * listening-port and tls-listening-port expect one (proxy-protocol),
	 * and the ACME HTTP-01 redirect on plain TCP sockets (acme-redirect,
	 * NULL: off). */
	struct conf_range *trusted_proxies;
	size_t n_trusted_proxies;
	bool proxy_protocol;
	char *acme_redirect;

	/* Process. */
	unsigned workers; /* relay-threads; 0 = one per core */
	unsigned rx_coalesce_us; /* a busy worker waits this long between reads; 0: never */
	bool stun_only;
	bool stun_backward_compat; /* answer RFC 3489 Binding requests */
	char *software;            /* SOFTWARE attribute; NULL sends none */
	int log_level;             /* enum log_level */
	bool syslog;
};

/* Command-line values that take precedence over the file. Zero/NULL fields
 * leave the file's value. */
struct conf_overrides {
	const char *const *listen; /* NULL-terminated list of addresses */
	uint16_t listening_port;
	int log_level; /* -1 to keep */
};

/*
 * Load and validate path (NULL: the embedded default, no file read).
 * Not thread-safe: libconfuse's scanner has global state, so load from one
 * thread at a time (start-up and reload both run in the main thread).
 * Returns 0 and *out (caller frees with conf_free), or -1 with a message in
 * err naming the file, line and option: "turnd.conf:12: option 'min-port':
 * 70000 is not a port (1-65535)".
 */
int conf_load(const char *path, const struct conf_overrides *ov, struct conf **out, char *err,
	      size_t errlen);

/* Parse text as if it were a file called name (for tests and reload). */
int conf_load_string(const char *text, const char *name, const struct conf_overrides *ov,
		     struct conf **out, char *err, size_t errlen);

/* Add a user to a conf that is still being set up (main uses it for the
 * demo user of the embedded default). Returns 0 or -1. */
int conf_add_user(struct conf *c, const char *name, const char *password);

void conf_free(struct conf *c);

/* The checks of option 'listener' against the rest of c (TLS without a
 * certificate, a port listening-ip already takes), as conf_load makes
 * them; reload makes them again after pinning. 0, or -1 with err. */
int conf_listeners_check(const struct conf *c, char *err, size_t errlen);

/* Whether anything listens on tls-listening-port (a certificate, the port,
 * and TLS or DTLS not both turned off). */
static inline bool conf_tls_port_used(const struct conf *c)
{
	return c->cert && c->tls_listening_port && !(c->no_tls && c->no_dtls);
}

#endif
