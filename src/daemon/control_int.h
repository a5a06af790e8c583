/*
 * The control socket's parts (control.c, control_cmd.c, control_worker.c);
 * private to them. A command that reads or ends allocations is a job: the
 * main thread posts it to each worker concerned (a slot under a mutex and
 * event_active on the worker's base, as a reload is posted), each worker
 * answers on its own thread into its own part of the job, and the last
 * one wakes the main base, which replies. The packet path takes no lock.
 */
#ifndef TURND_DAEMON_CONTROL_INT_H
#define TURND_DAEMON_CONTROL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/addr.h"
#include "util/json_out.h"
#include "util/json_tree.h"

struct event;
struct worker;
struct control_conn;
struct control_env;

/* Bounds (docs in turnd(8)): a request line, connections at once, and how
 * long a connection may stay silent. */
#define CONTROL_LINE_MAX 4096
#define CONTROL_MAX_CONNS 32
#define CONTROL_IDLE_S 30

enum control_job_kind {
	CONTROL_JOB_SESSIONS, /* list (user, peer filters) */
	CONTROL_JOB_USERS, /* per-allocation usage, summed by user on the main thread */
	CONTROL_JOB_KILL, /* one allocation, on one worker */
	CONTROL_JOB_KILL_USER, /* every allocation of user */
};

/* One allocation's traffic for `users` (control_users_answer). */
struct control_usage {
	char *user;
	uint64_t to_peer_bytes, to_peer_packets, to_client_bytes, to_client_packets;
};

/* What one worker answers; written by that worker only, read by the main
 * thread after the job's last worker is done. */
struct control_part {
	struct json_out sessions; /* CONTROL_JOB_SESSIONS: objects, comma-separated */
	size_t count; /* allocations listed or closed */
	struct control_usage *usage;
	size_t n_usage, cap_usage;
	bool oom;
};

struct user_usage;

struct control_job {
	enum control_job_kind kind;
	char *user; /* filter (sessions) or whose (kill-user); NULL: none */
	struct turn_addr peer; /* sessions --peer: family 0 none */
	uint64_t alloc_id; /* kill */
	unsigned target; /* kill: the worker */
	unsigned n_parts;
	struct control_part *parts; /* one per worker */
	atomic_uint pending; /* workers still to answer */
	struct event *done_ev; /* on the main base: the last worker activates it */
	struct control_conn *conn; /* who asked; NULL once it went away */
	struct user_usage *usage; /* users: the totals the workers fold into, or NULL */
};

/* One worker's mailbox (control_worker.c). */
struct control_slot {
	struct worker *w;
	pthread_mutex_t lock;
	struct control_job *job; /* posted, not yet taken */
	struct event *ev; /* on the worker's base */
};

/* control_worker.c: make the slot's event (on w's base), post a job to it
 * (main thread), free it. */
int control_slot_init(struct control_slot *s, struct worker *w);
void control_slot_post(struct control_slot *s, struct control_job *job);
void control_slot_fini(struct control_slot *s);
void control_job_free(struct control_job *job);

/* control_cmd.c: the answers, as one JSON line (without its newline)
 * into o. The environment is the daemon's (control.h). */
void control_cmd_status(const struct control_env *env, uint64_t started_ms, unsigned conns,
			struct json_out *o);
int control_cmd_credentials(const struct control_env *env, const struct json_tree *req,
			    struct json_out *o);
void control_cmd_job_answer(const struct control_job *job, struct json_out *o);
/* `users`: allocations and traffic summed by user over the live
 * allocations of every worker (the one place that aggregates them). */
void control_users_answer(const struct control_job *job, struct json_out *o);
/* {"ok":false,"error":why} */
void control_cmd_error(struct json_out *o, const char *why);

#endif
