/*
 * turnload, a TURN load generator: what its files share.
 *
 *   turnload.c      command line, credentials, exit status
 *   load_run.c      sockets, the epoll loop
 *   load_phase.c    the phases of a run, flood and paced sending
 *   load_session.c  the TURN client state machine (RFC 8656 sections 7-11)
 *   load_auth.c     TURN REST credentials, digests warmed up before timing
 *   client.c        (shared with the other tools) requests, responses and
 *                   the long-term credential (RFC 8489 section 9.2)
 *   load_data.c     the data path: stamped payloads out, and back in
 *                   (ChannelData, Data indications, raw UDP, TCP framing)
 *   load_stats.c    sequence tracking, latency histograms, progress, report
 *
 * One thread, one epoll set over every session's socket. Nothing on the
 * data path allocates: each session's outgoing frame is built once and
 * only the sequence number and send time are written per packet.
 */
#ifndef TURND_TOOLS_LOAD_H
#define TURND_TOOLS_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "client.h"
#include "stun/integrity.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "util/addr.h"

/* Every allocation binds one channel: the first number (RFC 8656
 * section 12). Channel numbers are per allocation, so all may share it. */
#define LOAD_CHANNEL TURN_CHANNEL_MIN
#define LOAD_MAX_SESSIONS 100000
#define LOAD_MAX_BIND 16
#define LOAD_BATCH_MAX 64
#define LOAD_PAYLOAD_MAX 65000
/* The payload header: magic, session id, sequence number, send time. */
#define LOAD_HDR_LEN 24
#define LOAD_STAMP_OFF 8 /* sequence number and time, within the payload */
#define LOAD_STAMP_LEN 16
#define LOAD_MAGIC 0x544C4431u /* "TLD1" */
#define LOAD_NS_PER_S 1000000000ull
#define LOAD_NS_PER_MS 1000000ull
/* Latencies are kept up to 2^36 ns (68 s); anything above counts as that. */
#define LOAD_HIST_BUCKETS 1024
/* How far back a sequence number is remembered to tell a duplicate from a
 * late packet. */
#define LOAD_SEQ_WINDOW 2048

enum load_mode {
	LOAD_MODE_CHANNEL, /* ChannelData to an echo peer, or to the partner (-y) */
	LOAD_MODE_SEND,    /* Send and Data indications (-s) */
	LOAD_MODE_RAW,     /* plain UDP to an echo server, no TURN (--raw) */
	LOAD_MODE_ALLOC,   /* Allocate and delete as fast as possible (-a) */
	LOAD_MODE_HOLD,    /* hold N allocations (-m) */
};

/* The command line, validated. Read-only once the run starts. */
struct load_opts {
	struct turn_addr server;
	struct turn_addr peer; /* the echo peer (-e) */
	struct turn_addr bind[LOAD_MAX_BIND]; /* local addresses (-b), or none */
	unsigned nbind;
	const char *user; /* USERNAME as sent (with -W the REST name) */
	const char *pass;
	enum load_mode mode;
	bool tcp, c2c, indications, json, quiet, verbose;
	unsigned long sessions;
	unsigned long count; /* -c: messages (-a: allocations) per session, 0: -d */
	bool duration_given; /* -d on the command line: a limit with -c too */
	unsigned payload_len;
	double rate; /* packets/s over all sessions; 0: flood (hold: a default) */
	double duration_s;
	unsigned window; /* flood: packets in flight; -a: allocations at once */
	unsigned batch;  /* packets per sendmmsg */
	unsigned timeout_ms;
};

/* A log-linear latency histogram in nanoseconds: 32 linear sub-buckets
 * per power of two above 64 ns, so a value is known to within 3%. */
struct load_hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t bucket[LOAD_HIST_BUCKETS];
};

/* What came back of one session's packets (counted at whichever session
 * receives them: the sender itself, or its partner with -y). */
struct load_rx {
	uint64_t received, reordered, duplicates;
	uint64_t top; /* highest sequence number seen + 1; 0 before the first */
	uint64_t seen[LOAD_SEQ_WINDOW / 64];
};

enum load_rx_result { LOAD_RX_DUPLICATE, LOAD_RX_NEW, LOAD_RX_REORDERED };

struct load_totals {
	uint64_t sent, received, reordered, duplicates;
	uint64_t bad; /* datagrams that were neither ours nor a response */
	uint64_t allocs, alloc_failed, delete_failed, timeouts;
};

struct load_stats {
	struct load_totals tot;
	struct load_totals mark; /* tot at the last progress line */
	uint64_t mark_ns;
	struct load_hist lat, lat_iv;     /* data; and since the last line */
	struct load_hist alloc, alloc_iv; /* Allocate, challenge included */
};

enum load_state {
	LOAD_S_IDLE,         /* no socket yet */
	LOAD_S_CONNECTING,   /* TCP connect in progress */
	LOAD_S_ALLOCATING,
	LOAD_S_WAIT_PARTNER, /* -y: allocated, the partner not yet */
	LOAD_S_PERMITTING,   /* CreatePermission (-s) */
	LOAD_S_BINDING,      /* ChannelBind */
	LOAD_S_READY,        /* data may flow */
	LOAD_S_DELETING,     /* Refresh with LIFETIME 0 */
	LOAD_S_CLOSED,       /* done */
};

/* A session's one transaction in flight (or its TCP connect, method 0). */
struct load_txn {
	bool active;
	uint8_t challenges; /* retries after a 401 or 438 */
	uint16_t method;
	int64_t lifetime; /* Refresh: LIFETIME, or -1 to leave it out */
	uint8_t tid[STUN_TID_LEN];
	uint64_t next_send_ns, deadline_ns, rto_ns;
	struct load_session *prev, *next; /* the run's pending list */
};

/* TCP only: the stream in, cut into frames, and what waits to be sent. */
struct load_stream {
	uint8_t *in, *out;
	size_t in_len, in_cap;
	size_t out_off, out_len, out_cap;
};

struct load_session {
	uint32_t id;
	int fd;
	enum load_state state;
	bool allocated;  /* the server holds an allocation of ours */
	bool failed;     /* sticky: counts against the exit status */
	bool settled;    /* set-up finished, well or not */
	bool echoed;     /* -m: the probe came back */
	bool want_out;   /* EPOLLOUT armed */
	bool queued;     /* in the run's deferred queue; then, in this order: */
	bool broken;     /* the TCP connection failed (set by the data path) */
	bool close;      /* close the socket */
	bool reopen;     /* a new socket, then go on */
	struct turn_addr peer, relayed;
	uint32_t lifetime_s;
	struct client_cred cred;
	struct load_txn txn;
	uint64_t alloc_start_ns, next_refresh_ns, next_perm_ns;
	uint64_t allocs; /* allocations made (-a: by this slot) */
	uint64_t rounds; /* -a: rounds begun, failed ones included */
	/* Data out: the frame built once, stamped per packet. */
	uint8_t *frame;
	uint32_t frame_len, stamp_off;
	uint64_t next_seq; /* = packets sent */
	uint64_t quota;    /* send while next_seq < quota */
	uint64_t acked;    /* flood window: every seq below is back or given up */
	uint64_t progress_ns;
	struct load_rx rx; /* what came back of this session's packets */
	struct load_stream *tcp;
};

enum load_phase {
	LOAD_PH_SETUP,     /* allocate, permission, channel */
	LOAD_PH_PROBE,     /* -m: one echo per session */
	LOAD_PH_TRAFFIC,
	LOAD_PH_DRAIN,     /* wait for what is still in flight */
	LOAD_PH_TEARDOWN,  /* Refresh LIFETIME 0 */
	LOAD_PH_ALLOC,     /* -a */
	LOAD_PH_ALLOC_END, /* -a: let the rounds in progress finish */
	LOAD_PH_DONE,
};

/* Batches for sendmmsg and recvmmsg, reused for every call. */
struct load_batch {
	struct mmsghdr tx[LOAD_BATCH_MAX];
	struct iovec tx_iov[LOAD_BATCH_MAX * 3];
	uint8_t stamps[LOAD_BATCH_MAX][LOAD_STAMP_LEN];
	struct mmsghdr rx[LOAD_BATCH_MAX];
	struct iovec rx_iov[LOAD_BATCH_MAX];
	uint8_t *rx_buf; /* LOAD_BATCH_MAX slots of rx_slot bytes */
	size_t rx_slot;
};

struct load_run {
	const struct load_opts *o;
	struct load_session *sess;
	size_t nsess; /* sessions, or with -a sessions x window slots */
	int epfd;
	uint8_t relay_family; /* STUN_FAMILY_* to ask for, or 0 for the default */
	enum load_phase phase;
	uint64_t start_ns, phase_ns, deadline_ns;
	uint64_t traffic_start_ns, traffic_end_ns;
	size_t next_start;     /* setup / teardown: the next session to start */
	size_t n_ready, n_failed, n_echoed, n_cycling;
	size_t n_pending;      /* transactions (and TCP connects) in flight */
	struct load_session *pending;
	uint64_t txn_check_ns; /* the earliest retransmit or timeout */
	uint32_t *deferred;    /* sessions with reopen or close to do */
	size_t n_deferred;
	/* Pacing (-r, and -m's keep-alive): a token bucket. */
	double pps, tokens;
	uint64_t refill_ns;
	size_t rr;
	uint64_t quota_left; /* packets still to send under the quotas */
	uint64_t last_send_ns;
	unsigned probe_round;
	size_t probe_target; /* -m: sessions ready when the probe round began */
	uint64_t last_alloc_ns;
	uint64_t last_recv_ns;
	bool interrupted;    /* SIGINT or SIGTERM seen */
	bool no_pwait2;      /* the kernel lacks epoll_pwait2: millisecond waits */
	uint64_t next_progress_ns, next_maint_ns;
	unsigned errors_shown;
	/* -a over UDP: local ports taken in turn from the kernel's range. */
	uint16_t port_lo, port_hi, port_next;
	uint64_t rng;
	struct load_stats st;
	struct load_batch b;
};

/* ---- load_run.c ---- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t load_now_ns(void);

/* Run the whole test and print the report. Returns the exit status. */
int load_run(const struct load_opts *o);

/* Arm or disarm EPOLLOUT on the session's socket. */
void load_run_want_out(struct load_run *r, struct load_session *s, bool on);

/* Queue the session for its deferred reopen or close, done by the loop
 * once no callback has it on the stack (STYLE.md rule 6). */
void load_run_defer(struct load_run *r, struct load_session *s);

/* Print an error once in a while: the first few, then a note. */
void load_run_error(struct load_run *r, const struct load_session *s, const char *what,
		    const char *detail);

/* Open the session's socket and start it (a TCP connect first). */
void load_run_start_session(struct load_run *r, struct load_session *s, uint64_t now);

/* ---- load_phase.c ---- */

void load_phase_enter(struct load_run *r, enum load_phase phase, uint64_t now);

/* Move the run on; signals is how many SIGINT/SIGTERM arrived so far. */
void load_phase_step(struct load_run *r, uint64_t now, int signals);

/* Send what the phase wants sent. Returns true if the loop should look
 * at the sockets again without sleeping. */
bool load_phase_send(struct load_run *r, uint64_t now);

/* How long the loop may sleep: until the next timer, token or line. */
uint64_t load_phase_wait_ns(const struct load_run *r, uint64_t now);

/* ---- load_session.c ---- */

/* The socket is connected: start with Allocate (raw: ready at once). */
void load_session_start(struct load_run *r, struct load_session *s, uint64_t now);

/* A STUN message arrived on the session's socket: a response to its
 * transaction, or a Data indication. */
void load_session_on_stun(struct load_run *r, struct load_session *s, const uint8_t *buf,
			  size_t len, uint64_t now);

/* Retransmit and time out transactions whose time has come. */
void load_session_timers(struct load_run *r, uint64_t now);

/* TCP connect under way: a timeout, and its result. */
void load_session_connecting(struct load_run *r, struct load_session *s, uint64_t now);
void load_session_connected(struct load_run *r, struct load_session *s, int err, uint64_t now);

/* Refresh the allocation, permission or channel if due (RFC 8656 sections
 * 7.3, 9, 11). Returns true if a transaction started. */
bool load_session_maintain(struct load_run *r, struct load_session *s, uint64_t now);

/* Delete the allocation (Refresh LIFETIME 0). Returns true if started. */
bool load_session_delete(struct load_run *r, struct load_session *s, uint64_t now);

/* -a: begin one round, Allocate with a fresh challenge. */
void load_session_alloc_round(struct load_run *r, struct load_session *s, uint64_t now);

/* The session cannot go on; its allocation, if any, is still deleted. */
void load_session_fail(struct load_run *r, struct load_session *s);

/* The TCP connection broke (or never came up): an -a slot starts over
 * on a new one, any other session has failed. */
void load_session_broken(struct load_run *r, struct load_session *s);

/* Free what the session owns (not its socket). */
void load_session_free(struct load_session *s);

/* ---- load_auth.c ---- */

/* Run the digests once before anything is timed. */
void load_cred_warm_up(void);

/* TURN REST: name = "expiry" or "expiry:user", pass = base64(HMAC-SHA1(
 * secret, name)), both NUL-terminated into the caller's buffers. Returns 0,
 * or -1 if they do not fit or the HMAC fails. */
int load_cred_rest(const char *secret, const char *user, long long expiry, char *name,
		   size_t name_cap, char *pass, size_t pass_cap);

/* ---- load_data.c ---- */

/* Build the session's outgoing frame towards s->peer. Returns 0 or -1. */
int load_data_prepare(struct load_run *r, struct load_session *s);

/* Send up to k stamped packets. Returns how many went. */
unsigned load_data_send(struct load_run *r, struct load_session *s, unsigned k, uint64_t now);

/* Send one control message (a request), or queue it on the TCP stream. */
void load_data_send_ctrl(struct load_run *r, struct load_session *s, const uint8_t *buf,
			 size_t len);

/* The socket is readable / writable. */
void load_data_on_readable(struct load_run *r, struct load_session *s);
void load_data_on_writable(struct load_run *r, struct load_session *s, uint64_t now);

/* A payload came back (the application data of whatever carried it). */
void load_data_on_payload(struct load_run *r, const uint8_t *p, size_t len, uint64_t now);

/* TCP stream buffers for a session; NULL when out of memory. */
struct load_stream *load_stream_new(const struct load_opts *o);
void load_stream_free(struct load_stream *t);

/* ---- load_stats.c ---- */

void load_hist_add(struct load_hist *h, uint64_t ns);
/* The value at quantile q (0..1) in microseconds; 0 when empty. */
double load_hist_quantile_us(const struct load_hist *h, double q);

enum load_rx_result load_rx_mark(struct load_rx *rx, uint64_t seq);

/* The once-a-second line on stderr. */
void load_stats_progress(struct load_run *r, uint64_t now);

/* The final summary on stdout (text or JSON). */
void load_stats_report(const struct load_run *r);

/* "channel", "send", ... as in the report. */
const char *load_mode_name(enum load_mode m);

#endif
