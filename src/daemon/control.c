/*
 * The control socket (control.h): the socket file, its connections, one
 * JSON request per line, and the jobs that the workers answer
 * (control_worker.c). One job runs at a time; connections that need one
 * meanwhile wait in a queue, each reading nothing more until answered.
 */
#include "daemon/control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/auth.h"
#include "daemon/control_ban.h"
#include "daemon/control_int.h"
#include "io/clock.h"
#include "io/control_path.h"
#include "util/log.h"

struct control_conn {
	struct control *ctl;
	struct bufferevent *bev;
	TAILQ_ENTRY(control_conn) link;
	TAILQ_ENTRY(control_conn) wait;
	struct control_job *job; /* queued or running for this connection */
	bool busy; /* a request is being answered: read nothing more */
	bool closing; /* close once the answer is out */
	bool eof; /* the client sent all it will: close once answered */
};

struct control {
	struct control_env env;
	char *path;
	dev_t dev;
	ino_t ino;
	uid_t service_uid;
	struct evconnlistener *lst;
	unsigned n_conns;
	TAILQ_HEAD(, control_conn) conns;
	TAILQ_HEAD(, control_conn) queue;
	struct control_job *running;
	struct control_slot *slots;
	uint64_t started_ms;
};

static void control_conn_free(struct control_conn *cc);
static void control_conn_read(struct bufferevent *bev, void *arg);
static void control_conn_maybe_done(struct control_conn *cc);

const char *control_socket_path(const struct conf *conf, char *buf, size_t len, bool *is_default)
{
	*is_default = conf->control_socket == NULL;
	if (conf->control_socket) {
		if (!conf->control_socket[0] || strlen(conf->control_socket) >= len)
			return NULL;
		memcpy(buf, conf->control_socket, strlen(conf->control_socket) + 1);
		return buf;
	}
	return control_path_default(buf, len) < 0 ? NULL : buf;
}

/* ---- answers ---- */

/* Send o as one line; with close, close the connection once it is out. */
static void control_reply(struct control_conn *cc, struct json_out *o, bool close)
{
	size_t len;
	char *line = json_out_take(o, &len);

	if (!line || bufferevent_write(cc->bev, line, len) < 0 ||
	    bufferevent_write(cc->bev, "\n", 1) < 0)
		close = true;
	free(line);
	if (close) {
		cc->closing = true;
		bufferevent_disable(cc->bev, EV_READ);
	}
}

static void control_error(struct control_conn *cc, const char *why, bool close)
{
	struct json_out o = {0};

	control_cmd_error(&o, why);
	control_reply(cc, &o, close);
}

/* ---- jobs ---- */

static void control_job_start(struct control *c);

/* What a kill did, in one line; the username escaped (it came from a
 * client). */
static void control_log_kill(const struct control_job *job)
{
	char user[AUTH_PRINTABLE_MAX] = "";
	size_t n = 0;

	for (unsigned i = 0; i < job->n_parts; i++)
		n += job->parts[i].count;
	if (job->user)
		auth_username_printable((const uint8_t *)job->user, strlen(job->user), user,
					sizeof(user));
	if (job->kind == CONTROL_JOB_KILL)
		log_notice("control: kill %u-%llu: %s", job->target,
			   (unsigned long long)job->alloc_id,
			   n ? "killed by operator" : "no such session");
	else
		log_notice("control: kill-user %s: %zu allocation%s killed by operator", user, n,
			   n == 1 ? "" : "s");
}

static void control_job_done(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;
	struct control_job *job = c->running;
	struct control_conn *cc = job->conn;

	(void)fd;
	(void)what;
	c->running = NULL;
	if (job->kind == CONTROL_JOB_KILL || job->kind == CONTROL_JOB_KILL_USER)
		control_log_kill(job);
	if (cc) {
		struct json_out o = {0};
		control_cmd_job_answer(job, &o);
		cc->job = NULL;
		cc->busy = false;
		control_reply(cc, &o, false);
	}
	control_job_free(job);
	if (cc && !cc->closing)
		control_conn_read(cc->bev, cc); /* the lines that waited */
	if (cc)
		control_conn_maybe_done(cc);
	control_job_start(c);
}

/* The next queued job, if none runs. */
static void control_job_start(struct control *c)
{
	struct control_conn *cc = TAILQ_FIRST(&c->queue);

	if (c->running || !cc)
		return;
	TAILQ_REMOVE(&c->queue, cc, wait);
	struct control_job *job = cc->job;
	job->done_ev = event_new(c->env.base, -1, 0, control_job_done, c);
	if (!job->done_ev) {
		cc->job = NULL;
		cc->busy = false;
		control_job_free(job);
		control_error(cc, "out of memory", true);
		control_job_start(c);
		return;
	}
	c->running = job;
	if (job->kind == CONTROL_JOB_KILL) {
		atomic_init(&job->pending, 1);
		control_slot_post(&c->slots[job->target], job);
		return;
	}
	atomic_init(&job->pending, c->env.n_workers);
	for (unsigned i = 0; i < c->env.n_workers; i++)
		control_slot_post(&c->slots[i], job);
}

static struct control_job *control_job_new(struct control *c, enum control_job_kind kind,
					   const char *user)
{
	struct control_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->kind = kind;
	job->usage = c->env.usage;
	job->n_parts = c->env.n_workers;
	job->parts = calloc(job->n_parts, sizeof(*job->parts));
	job->user = user ? strdup(user) : NULL;
	if (!job->parts || (user && !job->user)) {
		control_job_free(job);
		return NULL;
	}
	return job;
}

static void control_enqueue(struct control_conn *cc, struct control_job *job)
{
	job->conn = cc;
	cc->job = job;
	cc->busy = true;
	TAILQ_INSERT_TAIL(&cc->ctl->queue, cc, wait);
	control_job_start(cc->ctl);
}

/* ---- requests ---- */

/* A whole number in [min, max] from member key; def when absent.
 * Returns 0, or -1 with why. */
static int control_number(const struct json_tree *req, const char *key, uint64_t min, uint64_t max,
			  uint64_t *out)
{
	const struct json_tree *v = json_tree_get(req, key);

	if (!v)
		return 0;
	if (v->type != JSON_TREE_NUMBER || v->number < (double)min || v->number > (double)max ||
	    v->number != (double)(uint64_t)v->number)
		return -1;
	*out = (uint64_t)v->number;
	return 0;
}

/* "W-N": worker W's allocation N. */
static int control_session_id(const char *s, unsigned n_workers, unsigned *w, uint64_t *id)
{
	char *end;
	unsigned long long a, b;

	if (!s || *s < '0' || *s > '9')
		return -1;
	a = strtoull(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return -1;
	b = strtoull(end + 1, &end, 10);
	if (*end || a >= n_workers || b == 0)
		return -1;
	*w = (unsigned)a;
	*id = b;
	return 0;
}

/* sessions, users, kill, kill-user: a job. Returns NULL with why. */
static struct control_job *control_job_of(struct control *c, const char *cmd,
					  const struct json_tree *req, const char **why)
{
	const char *user = json_tree_get_string(req, "user");
	const char *peer = json_tree_get_string(req, "peer");
	struct control_job *job = NULL;
	uint64_t ban = 0;

	if (strcmp(cmd, "sessions") == 0 || strcmp(cmd, "users") == 0) {
		job = control_job_new(c, cmd[0] == 's' ? CONTROL_JOB_SESSIONS : CONTROL_JOB_USERS,
				      user);
		if (job && peer && turn_addr_parse(peer, 0, &job->peer) < 0) {
			*why = "peer: not an IP address";
			control_job_free(job);
			return NULL;
		}
	} else if (strcmp(cmd, "kill") == 0) {
		unsigned w;
		uint64_t id;
		if (control_session_id(json_tree_get_string(req, "session"), c->env.n_workers, &w,
				       &id) < 0) {
			*why = "session: not a session id (WORKER-NUMBER, as sessions lists them)";
			return NULL;
		}
		job = control_job_new(c, CONTROL_JOB_KILL, NULL);
		if (job) {
			job->target = w;
			job->alloc_id = id;
		}
	} else {
		if (!user || !user[0]) {
			*why = "kill-user: user missing";
			return NULL;
		}
		if (control_number(req, "ban", 1, 31536000, &ban) < 0) {
			*why = "ban: not a number of seconds (1-31536000)";
			return NULL;
		}
		/* The ban first, so that no new allocation of the user slips in
		 * between the kill and the refusal. */
		if (ban &&
		    control_ban_add(c->env.ban, user, io_now_ms() + ban * 1000, io_now_ms()) < 0) {
			*why = "ban: the table of banned users is full";
			return NULL;
		}
		if (ban) {
			char p[AUTH_PRINTABLE_MAX];
			auth_username_printable((const uint8_t *)user, strlen(user), p, sizeof(p));
			log_notice("control: kill-user %s: the user's requests refused for %llu s",
				   p, (unsigned long long)ban);
		}
		job = control_job_new(c, CONTROL_JOB_KILL_USER, user);
	}
	if (!job)
		*why = "out of memory";
	return job;
}

static void control_simple(struct control_conn *cc, const char *cmd, const struct json_tree *req)
{
	struct control *c = cc->ctl;
	struct json_out o = {0};

	if (strcmp(cmd, "status") == 0) {
		control_cmd_status(&c->env, c->started_ms, c->n_conns, &o);
	} else if (strcmp(cmd, "credentials") == 0) {
		if (control_cmd_credentials(&c->env, req, &o) < 0)
			return control_reply(cc, &o, false);
	} else if (strcmp(cmd, "drain") == 0) {
		log_notice("control: drain");
		c->env.drain(c->env.ctx);
		json_out_open(&o, NULL, '{');
		json_out_bool(&o, "ok", true);
		json_out_bool(&o, "draining", true);
		json_out_close(&o, '}');
	} else {
		log_notice("control: reload");
		if (!c->env.reload(c->env.ctx))
			return control_error(cc,
					     "reload refused: the running configuration stays "
					     "(the log says why)",
					     false);
		json_out_open(&o, NULL, '{');
		json_out_bool(&o, "ok", true);
		json_out_bool(&o, "reloaded", true);
		json_out_close(&o, '}');
	}
	control_reply(cc, &o, false);
}

static void control_request(struct control_conn *cc, const char *line, size_t len)
{
	static const char *const simple[] = {"status", "credentials", "drain", "reload"};
	static const char *const jobs[] = {"sessions", "users", "kill", "kill-user"};
	struct json_tree *req;
	char err[128], why[160];

	if (json_tree_parse(line, len, &req, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "malformed request: %s", err);
		return control_error(cc, why, false);
	}
	const char *cmd = json_tree_get_string(req, "cmd");
	if (!cmd) {
		control_error(cc, "malformed request: expected an object with \"cmd\"", false);
		json_tree_free(req);
		return;
	}
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcmp(cmd, simple[i]) == 0) {
			control_simple(cc, cmd, req);
			json_tree_free(req);
			return;
		}
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
		if (strcmp(cmd, jobs[i]) == 0) {
			const char *e = NULL;
			struct control_job *job = control_job_of(cc->ctl, cmd, req, &e);
			json_tree_free(req);
			if (!job)
				return control_error(cc, e, false);
			return control_enqueue(cc, job);
		}
	json_tree_free(req);
	control_error(cc,
		      "unknown command (status, sessions, kill, kill-user, credentials, "
		      "drain, reload, users)",
		      false);
}

/* ---- connections ---- */

/* Every complete line, one at a time; a request that waits for the
 * workers stops the reading until it is answered. */
static void control_conn_read(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[CONTROL_LINE_MAX + 1];

	while (!cc->busy && !cc->closing) {
		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			/* No end of line within the bound: nothing sensible can
			 * follow on this connection. */
			if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
				control_error(cc, "request too long (the limit is 4096 bytes)",
					      true);
			return;
		}
		size_t n = (size_t)eol.pos;
		if (n > CONTROL_LINE_MAX) {
			evbuffer_drain(in, n + eol_len);
			control_error(cc, "request too long (the limit is 4096 bytes)", false);
			continue;
		}
		evbuffer_remove(in, line, n);
		evbuffer_drain(in, eol_len);
		if (n && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		if (n)
			control_request(cc, line, n);
	}
}

/* Free cc once it has nothing more to say: closing (after an error that
 * ends it) or at the client's end of file, with no request in flight and
 * every answer written. */
static void control_conn_maybe_done(struct control_conn *cc)
{
	if ((cc->closing || cc->eof) && !cc->busy &&
	    evbuffer_get_length(bufferevent_get_output(cc->bev)) == 0)
		control_conn_free(cc);
}

static void control_conn_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	control_conn_maybe_done(arg);
}

/* The client's end of file still gets the answers to what it sent
 * (printf '...' | nc -U); an error or the idle timeout ends it now. */
static void control_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_conn *cc = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
		cc->eof = true;
		control_conn_maybe_done(cc);
		return;
	}
	control_conn_free(cc);
}

static void control_conn_free(struct control_conn *cc)
{
	struct control *c = cc->ctl;

	if (cc->job) {
		if (cc->job == c->running) {
			cc->job->conn = NULL; /* the workers still answer it */
		} else {
			TAILQ_REMOVE(&c->queue, cc, wait);
			control_job_free(cc->job);
		}
	}
	TAILQ_REMOVE(&c->conns, cc, link);
	bufferevent_free(cc->bev);
	free(cc);
	if (c->n_conns-- == CONTROL_MAX_CONNS)
		evconnlistener_enable(c->lst);
}

/* Root and the service user only, by the peer's credentials. */
static bool control_peer_allowed(const struct control *c, evutil_socket_t fd, struct ucred *cr)
{
	socklen_t len = sizeof(*cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) < 0 || len != sizeof(*cr))
		return false;
	return cr->uid == 0 || cr->uid == c->service_uid;
}

static void control_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			   int salen, void *arg)
{
	struct control *c = arg;
	struct control_conn *cc = calloc(1, sizeof(*cc));
	struct timeval idle = {CONTROL_IDLE_S, 0};
	struct ucred cr = {0, (uid_t)-1, (gid_t)-1};

	(void)l;
	(void)sa;
	(void)salen;
	if (cc)
		cc->bev = bufferevent_socket_new(c->env.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cc || !cc->bev) {
		free(cc);
		evutil_closesocket(fd);
		return;
	}
	cc->ctl = c;
	TAILQ_INSERT_TAIL(&c->conns, cc, link);
	if (++c->n_conns == CONTROL_MAX_CONNS)
		evconnlistener_disable(c->lst); /* the rest wait in the backlog */
	bufferevent_setcb(cc->bev, control_conn_read, control_conn_write, control_conn_event, cc);
	bufferevent_set_timeouts(cc->bev, &idle, &idle);
	/* Lines the client sent ahead wait in the socket, not here. */
	bufferevent_setwatermark(cc->bev, EV_READ, 0, 4 * CONTROL_LINE_MAX);
	bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
	if (!control_peer_allowed(c, fd, &cr)) {
		log_warn("control: refused a connection from uid %ld (pid %ld): only root and the "
			 "service user may use the control socket",
			 (long)(int)cr.uid, (long)cr.pid);
		control_error(cc,
			      "permission denied: only root and the service user may use the "
			      "control socket",
			      true);
	}
}

/* ---- the socket file ---- */

/* A file at path: a socket nobody answers on is removed (a turnd that
 * is gone left it); anything else is refused. */
static int control_clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT
			       ? 0
			       : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	int e = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s is in use by a running process (another turnd?)", path);
		return -1;
	}
	if (e != ECONNREFUSED || unlink(path) < 0) {
		snprintf(err, errlen, "%s: cannot replace it: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

/* The default's directory, made when missing (root's /run/turnd). */
static void control_make_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (mkdir(dir, 0755) == 0)
		log_info("control: made directory %s", dir);
}

static int control_bind(struct control *c, const char *path, const struct control_owner *o,
			char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(path) >= sizeof(sun.sun_path) || path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path of at most %zu bytes", path,
			 sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (control_clear_stale(path, err, errlen) < 0)
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* 0600 from the start: no moment where others could connect. Start-up
	 * is single-threaded, so the process umask may change for the bind. */
	mode_t old = umask(0177);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || (o->set && lchown(path, o->uid, o->gid) < 0) || lstat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	/* The backlog holds the clients beyond CONTROL_MAX_CONNS meanwhile (a
	 * unix socket's connect waits for room in it, or fails with EAGAIN
	 * when non-blocking). */
	c->lst = evconnlistener_new(c->env.base, control_accept, c, LEV_OPT_CLOSE_ON_FREE, 128, fd);
	if (!c->lst) {
		snprintf(err, errlen, "%s: cannot listen", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return 0;
}

struct control *control_open(const struct control_env *env, const char *path,
			     const struct control_owner *owner, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));

	if (!c || !(c->path = strdup(path)) ||
	    !(c->slots = calloc(env->n_workers, sizeof(*c->slots)))) {
		snprintf(err, errlen, "out of memory");
		if (c)
			free(c->path);
		free(c);
		return NULL;
	}
	c->env = *env;
	c->service_uid = owner->set ? owner->uid : geteuid();
	c->started_ms = io_now_ms();
	TAILQ_INIT(&c->conns);
	TAILQ_INIT(&c->queue);
	for (unsigned i = 0; i < env->n_workers; i++)
		if (control_slot_init(&c->slots[i], env->workers[i]) < 0) {
			snprintf(err, errlen, "out of memory");
			c->env.n_workers = i + 1;
			control_free(c);
			return NULL;
		}
	if (owner->make_dir)
		control_make_dir(path);
	if (control_bind(c, path, owner, err, errlen) < 0) {
		c->ino = 0;
		control_free(c);
		return NULL;
	}
	log_notice("control socket %s (turnctl -s %s)", path, path);
	return c;
}

void control_free(struct control *c)
{
	struct stat st;

	if (!c)
		return;
	while (!TAILQ_EMPTY(&c->conns))
		control_conn_free(TAILQ_FIRST(&c->conns));
	/* A job still posted but not taken (the workers stopped first). */
	for (unsigned i = 0; c->slots && i < c->env.n_workers; i++)
		control_slot_fini(&c->slots[i]);
	control_job_free(c->running);
	if (c->lst)
		evconnlistener_free(c->lst);
	/* Only the file this process made: another turnd may have replaced
	 * it since. */
	if (c->ino && lstat(c->path, &st) == 0 && st.st_ino == c->ino && st.st_dev == c->dev &&
	    unlink(c->path) < 0)
		log_info("control: cannot remove %s: %s", c->path, strerror(errno));
	free(c->slots);
	free(c->path);
	free(c);
}
