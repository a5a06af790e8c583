/*
 * Unit tests for the Redis credential backend (src/auth/auth_redis.c)
 * against a real redis-server, started by each test on a free loopback
 * port (REDIS_SERVER, default /usr/bin/redis-server) and written to with
 * redis-cli (REDIS_CLI, default /usr/bin/redis-cli), as an operator would:
 * keys against md5sum, sha256sum and stun_key_*, TURN REST secrets
 * against the secret backend, negative caching, hostile usernames, Redis
 * killed, stalled, restarted and down at start, AUTH, ACL users, SELECT,
 * a unix socket, TLS (a throwaway CA and certificates made with the
 * openssl command at test time), and the answer cache's bounds.
 *
 * Each test runs its own event loop with bounded waits. redis-server is
 * started with PR_SET_PDEATHSIG, so it dies with the test process even
 * when a failing test never reaches its teardown.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "auth/auth.h"
#include "auth/auth_cache.h"
#include "conf/conf.h"
#include "stun/integrity.h"
#include "testutil.h"

#define REALM "example.org"
#define NOW 1700000000u
#define ERR_MAX 512
#define OUT_MAX 8192
#define ARGS_MAX 32
#define PATH_MAX_LEN 192

struct redis_srv {
	pid_t pid;
	uint16_t port; /* 0 with a unix socket only */
	char sock[128]; /* unix socket path, or "" */
	const char *password; /* for redis-cli; NULL for none */
	const char *tls_dir; /* the certificates of a TLS Redis, or NULL */
};

struct wait_state {
	int calls;
	int rc;
};

static struct event_base *base;
static struct auth *chain;
static struct redis_srv srv;
static char tmpdir[64];
static bool in_lookup;

/* ------------------------------------------------------------------------
 * Time, processes, redis-server and redis-cli.
 */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && v[0] ? v : fallback;
}

/* A port nobody listens on now: the kernel's pick for a bound socket. */
static uint16_t free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Fork and exec argv with stdout into the pipe out_fd (or /dev/null);
 * the child dies with us. */
static pid_t spawn(const char *const *argv, int out_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Run redis-cli with args (NULL-terminated) against srv; its output into
 * out. Returns the exit status. Every argument is one argv element: no
 * shell, no quoting. */
static int cli_v(char *out, size_t cap, const char *const *args)
{
	const char *argv[ARGS_MAX];
	char port[8], ca[PATH_MAX_LEN], cert[PATH_MAX_LEN], key[PATH_MAX_LEN];
	int n = 0, fds[2], status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = env_or("REDIS_CLI", "/usr/bin/redis-cli");
	if (srv.tls_dir) {
		snprintf(ca, sizeof(ca), "%s/ca.pem", srv.tls_dir);
		snprintf(cert, sizeof(cert), "%s/client.pem", srv.tls_dir);
		snprintf(key, sizeof(key), "%s/client.key", srv.tls_dir);
		argv[n++] = "--tls";
		argv[n++] = "--cacert";
		argv[n++] = ca;
		argv[n++] = "--cert";
		argv[n++] = cert;
		argv[n++] = "--key";
		argv[n++] = key;
	}
	if (srv.sock[0]) {
		argv[n++] = "-s";
		argv[n++] = srv.sock;
	} else {
		snprintf(port, sizeof(port), "%u", (unsigned)srv.port);
		argv[n++] = "-h";
		argv[n++] = "127.0.0.1";
		argv[n++] = "-p";
		argv[n++] = port;
	}
	if (srv.password) {
		argv[n++] = "-a";
		argv[n++] = srv.password;
		argv[n++] = "--no-auth-warning";
	}
	while (*args && n < ARGS_MAX - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(fds), 0);
	pid = spawn(argv, fds[1]);
	close(fds[1]);
	while (cap > 1 && (r = read(fds[0], out + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	close(fds[0]);
	if (cap)
		out[got < cap ? got : cap - 1] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define cli(...)                                                                                   \
	do {                                                                                       \
		const char *args_[] = {__VA_ARGS__, NULL};                                         \
		char out_[OUT_MAX];                                                                \
		ck_assert_int_eq(cli_v(out_, sizeof(out_), args_), 0);                             \
	} while (0)

/* redis-cli PING until it answers (PONG, or NOAUTH with a password
 * required): at most 5 s. */
static void redis_wait_up(void)
{
	const char *args[] = {"PING", NULL};
	uint64_t end = now_ms() + 5000;
	char out[OUT_MAX];

	while (now_ms() < end) {
		if (cli_v(out, sizeof(out), args) == 0 && strstr(out, "PONG"))
			return;
		usleep(20000);
	}
	ck_abort_msg("redis-server did not come up");
}

/* Start redis-server on srv.port (or srv.sock), with extra arguments. */
static void redis_start_args(const char *const *extra)
{
	const char *argv[ARGS_MAX];
	char port[8];
	int n = 0;

	argv[n++] = env_or("REDIS_SERVER", "/usr/bin/redis-server");
	if (access(argv[0], X_OK) != 0)
		ck_abort_msg("%s is missing: install redis-server (scripts/deps.sh)", argv[0]);
	snprintf(port, sizeof(port), "%u", (unsigned)srv.port);
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--daemonize";
	argv[n++] = "no";
	while (extra && *extra && n < ARGS_MAX - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;
	srv.pid = spawn(argv, -1);
	redis_wait_up();
}

static void redis_start(void)
{
	redis_start_args(NULL);
}

static void redis_signal(int sig)
{
	if (srv.pid > 0)
		kill(srv.pid, sig);
}

static void redis_kill(void)
{
	if (srv.pid <= 0)
		return;
	kill(srv.pid, SIGKILL);
	waitpid(srv.pid, NULL, 0);
	srv.pid = 0;
}

/* ------------------------------------------------------------------------
 * The event loop and lookups.
 */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until *flag or ms pass. Returns *flag != 0. */
static bool run_until(const int *flag, unsigned ms)
{
	static const struct timeval tick_tv = {0, 10000};
	struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	uint64_t end = now_ms() + ms;

	ck_assert_ptr_nonnull(tick);
	event_add(tick, &tick_tv);
	while (!(flag && *flag) && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return flag && *flag;
}

static void run_for(unsigned ms)
{
	run_until(NULL, ms);
}

static void on_done(void *arg, int rc)
{
	struct wait_state *w = arg;

	/* auth.h: done comes from the event loop, never from inside the
	 * lookup. */
	ck_assert(!in_lookup);
	w->calls++;
	w->rc = rc;
}

static int query(const char *name, size_t len, uint64_t now, struct wait_state *w,
		 struct auth_credential *out)
{
	const struct auth_query q = {
		.username = (const uint8_t *)name,
		.len = len,
		.now_s = now,
		.done = w ? on_done : NULL,
		.arg = w,
	};
	int rc;

	in_lookup = true;
	rc = auth_query_lookup(chain, &q, out);
	in_lookup = false;
	return rc;
}

/* A lookup as the worker makes it: on AUTH_PENDING wait for done (once),
 * then repeat the lookup, which must answer from the cache. */
static int lookup_len(const char *name, size_t len, uint64_t now, struct auth_credential *out)
{
	struct wait_state w = {0, 0};
	int rc = query(name, len, now, &w, out);

	if (rc != AUTH_PENDING) {
		ck_assert_int_eq(w.calls, 0);
		return rc;
	}
	ck_assert_msg(run_until(&w.calls, 5000), "done was not called");
	rc = query(name, len, now, NULL, out);
	ck_assert_int_ne(rc, AUTH_PENDING);
	ck_assert_int_eq(rc, w.rc);
	run_for(20);
	ck_assert_int_eq(w.calls, 1);
	return rc;
}

static int lookup(const char *name, uint64_t now, struct auth_credential *out)
{
	return lookup_len(name, strlen(name), now, out);
}

/* Until name is found (the backend reconnects by itself): at most ms. */
static bool wait_found(const char *name, uint64_t now, unsigned ms)
{
	struct auth_credential c;
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		if (lookup(name, now, &c) == AUTH_FOUND)
			return true;
		run_for(50);
	}
	return false;
}

/* Until the backend answers from Redis (not AUTH_ERROR): at most 5 s. */
static void wait_ready(void)
{
	struct auth_credential c;
	uint64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (lookup("readiness-probe", NOW, &c) != AUTH_ERROR)
			return;
		run_for(20);
	}
	ck_abort_msg("the backend never reached Redis");
}

/* ------------------------------------------------------------------------
 * Fixtures.
 */

static struct auth_redis_options default_options(void)
{
	struct auth_redis_options o = {
		.realm = REALM,
		.host = "127.0.0.1",
		.port = srv.port,
		.connect_timeout_ms = 1000,
		.timeout_ms = 1000,
		.cache_size = 100,
		.cache_ttl_s = 60,
		.negative_ttl_s = 5,
		.cache_stale_s = 300,
	};

	return o;
}

static void chain_new(const struct auth_redis_options *o)
{
	char err[ERR_MAX] = "";
	struct auth_backend *b = auth_redis_new(o, base, err, sizeof(err));

	ck_assert_msg(b != NULL, "auth_redis_new: %s", err);
	chain = auth_new();
	ck_assert_ptr_nonnull(chain);
	ck_assert_int_eq(auth_add(chain, b), 0);
}

/* redis-server up, a chain of the Redis backend alone, connected. */
static void setup(void)
{
	struct auth_redis_options o;

	memset(&srv, 0, sizeof(srv));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	srv.port = free_port();
	redis_start();
	o = default_options();
	chain_new(&o);
	wait_ready();
}

/* Only the port and the loop: the test starts what it needs. */
static void setup_bare(void)
{
	memset(&srv, 0, sizeof(srv));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	srv.port = free_port();
}

static void teardown(void)
{
	auth_free(chain);
	chain = NULL;
	redis_kill();
	if (srv.sock[0])
		unlink(srv.sock);
	if (tmpdir[0])
		rmdir(tmpdir);
	tmpdir[0] = '\0';
	event_base_free(base);
	base = NULL;
}

/* ------------------------------------------------------------------------
 * Keys.
 */

/* The hex digest of text by an outside tool (md5sum, sha256sum), as the
 * operator would compute it. text is a fixed string of these tests. */
static void tool_hex(const char *tool, const char *text, char *hex, size_t len)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | %s", text, tool);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(hex, (int)len + 1, p));
	pclose(p);
	ck_assert_uint_eq(strlen(hex), len);
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void user_key_name(const char *name, const char *leaf, char *out, size_t cap)
{
	snprintf(out, cap, "turn/realm/" REALM "/user/%s/%s", name, leaf);
}

/* SET the MD5 key of name:realm:password with redis-cli. */
static void set_user(const char *name, const char *password)
{
	uint8_t key[STUN_KEY_MD5_LEN];
	char hex[2 * STUN_KEY_MD5_LEN + 1], k[1024];

	ck_assert_int_eq(stun_key_md5(name, REALM, password, key), 0);
	to_hex(key, sizeof(key), hex);
	user_key_name(name, "key", k, sizeof(k));
	cli("SET", k, hex);
}

static void assert_md5(const struct auth_credential *c, const char *name, const char *password)
{
	uint8_t key[STUN_KEY_MD5_LEN];

	ck_assert_int_eq(stun_key_md5(name, REALM, password, key), 0);
	ck_assert_uint_eq(c->n_keys, 1);
	ck_assert_mem_eq(c->keys[0].md5, key, sizeof(key));
	ck_assert_str_eq(c->username, name);
	ck_assert_uint_eq(c->username_len, strlen(name));
}

/* cmdstat_mget calls so far: how many lookups reached Redis. */
static long mget_calls(void)
{
	const char *args[] = {"INFO", "commandstats", NULL};
	char out[OUT_MAX];
	const char *p;

	ck_assert_int_eq(cli_v(out, sizeof(out), args), 0);
	p = strstr(out, "cmdstat_mget:calls=");
	return p ? strtol(p + strlen("cmdstat_mget:calls="), NULL, 10) : 0;
}

/* ------------------------------------------------------------------------
 * Tests: answers.
 */

/* The README's recipe: redis-cli set .../key $(printf 'alice:realm:pass' |
 * md5sum | cut -d' ' -f1). The key found is stun_key_md5's, byte for
 * byte, and the chain names the backend. */
START_TEST(key_set_with_redis_cli_is_found)
{
	char hex[2 * STUN_KEY_MD5_LEN + 1], k[256];
	uint8_t want[STUN_KEY_MD5_LEN];
	struct auth_credential c;

	tool_hex("md5sum", "alice:" REALM ":pass", hex, 2 * STUN_KEY_MD5_LEN);
	user_key_name("alice", "key", k, sizeof(k));
	cli("SET", k, hex);
	ck_assert_int_eq(lookup("alice", NOW, &c), AUTH_FOUND);
	assert_md5(&c, "alice", "pass");
	ck_assert(!c.keys[0].has_sha256);
	ck_assert_uint_eq(c.expires_s, 0);
	ck_assert_str_eq(c.backend, "redis");
	/* Upper-case hex is the same key. */
	for (char *p = hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	user_key_name("alice2", "key", k, sizeof(k));
	cli("SET", k, hex);
	ck_assert_int_eq(lookup("alice2", NOW, &c), AUTH_FOUND);
	ck_assert_int_eq(stun_key_md5("alice", REALM, "pass", want), 0);
	ck_assert_mem_eq(c.keys[0].md5, want, sizeof(want));
	auth_credential_clear(&c);
}
END_TEST

/* key-sha256 beside key: has_sha256 with stun_key_sha256's key. */
START_TEST(sha256_key_is_found)
{
	char hex[2 * STUN_KEY_SHA256_LEN + 1], k[256];
	uint8_t want[STUN_KEY_SHA256_LEN];
	struct auth_credential c;
	struct wait_state w = {0, 0};
	long calls;

	set_user("bob", "builder");
	tool_hex("sha256sum", "bob:" REALM ":builder", hex, 2 * STUN_KEY_SHA256_LEN);
	user_key_name("bob", "key-sha256", k, sizeof(k));
	cli("SET", k, hex);
	ck_assert_int_eq(lookup("bob", NOW, &c), AUTH_FOUND);
	assert_md5(&c, "bob", "builder");
	ck_assert(c.keys[0].has_sha256);
	ck_assert_int_eq(stun_key_sha256("bob", REALM, "builder", want), 0);
	ck_assert_mem_eq(c.keys[0].sha256, want, sizeof(want));
	/* A key that is not hex is an error, not a user nobody can match;
	 * cached as such for redis-negative-ttl (no round trip, no second
	 * warning). */
	user_key_name("mallory", "key", k, sizeof(k));
	cli("SET", k, "not-a-key");
	ck_assert_int_eq(lookup("mallory", NOW, &c), AUTH_ERROR);
	calls = mget_calls();
	ck_assert_int_eq(query("mallory", 7, NOW + 4, &w, &c), AUTH_ERROR);
	ck_assert_int_eq(mget_calls(), calls);
	ck_assert_int_eq(lookup("mallory", NOW + 5, &c), AUTH_ERROR);
	ck_assert_int_eq(mget_calls(), calls + 1);
	ck_assert_int_eq(w.calls, 0);
	/* USERHASH: the schema has no index by hash. */
	{
		uint8_t hash[STUN_USERHASH_LEN];

		ck_assert_int_eq(stun_userhash("bob", REALM, hash), 0);
		ck_assert_int_eq(auth_lookup_userhash(chain, hash, NOW, &c), AUTH_NOT_FOUND);
	}
	auth_credential_clear(&c);
}
END_TEST

/* The realm's secret SET: a REST name without a key gets one candidate
 * key per secret, the same keys the secret backend derives. */
START_TEST(rest_secrets_from_redis)
{
	static const char *const secrets[] = {"other-secret", "s3cret"}; /* sorted */
	char err[ERR_MAX];
	struct auth_backend *sb = auth_secret_new(secrets, 2, REALM, err, sizeof(err));
	struct auth *sa = auth_new();
	struct auth_credential c, want;
	const char *name = "1800000000:carol";

	ck_assert_int_eq(auth_add(sa, sb), 0);
	cli("SADD", "turn/realm/" REALM "/secret", "s3cret", "other-secret");
	ck_assert_int_eq(lookup(name, NOW, &c), AUTH_FOUND);
	ck_assert_int_eq(auth_lookup(sa, (const uint8_t *)name, strlen(name), NOW, &want),
			 AUTH_FOUND);
	ck_assert_uint_eq(c.n_keys, 2);
	ck_assert_uint_eq(c.expires_s, 1800000000u);
	ck_assert_mem_eq(c.keys, want.keys, 2 * sizeof(c.keys[0]));
	/* Expired, and of another form: not found. */
	ck_assert_int_eq(lookup("1600000000:carol", NOW, &c), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("carol:1800000000", NOW, &c), AUTH_NOT_FOUND);
	/* The same name later than its expiry, from the cache. */
	ck_assert_int_eq(lookup(name, 1800000001u, &c), AUTH_NOT_FOUND);
	/* A REST-form name with a key of its own is that user. */
	set_user("1900000000:dave", "pw");
	ck_assert_int_eq(lookup("1900000000:dave", NOW, &c), AUTH_FOUND);
	assert_md5(&c, "1900000000:dave", "pw");
	ck_assert_uint_eq(c.expires_s, 0);
	/* The secret key holding a string, not a SET: an error. */
	cli("DEL", "turn/realm/" REALM "/secret");
	cli("SET", "turn/realm/" REALM "/secret", "s3cret");
	ck_assert_int_eq(lookup("1800000000:zoe", NOW, &c), AUTH_ERROR);
	auth_free(sa);
	auth_credential_clear(&c);
	auth_credential_clear(&want);
}
END_TEST

/* Not found is cached for redis-negative-ttl, found for redis-cache-ttl;
 * then Redis is asked again. */
START_TEST(unknown_user_and_negative_cache)
{
	struct auth_credential c;
	struct wait_state w = {0, 0};

	ck_assert_int_eq(lookup("nobody", NOW, &c), AUTH_NOT_FOUND);
	set_user("nobody", "pw");
	/* Cached: answered at once, without waiting. */
	ck_assert_int_eq(query("nobody", 6, NOW, &w, &c), AUTH_NOT_FOUND);
	ck_assert_int_eq(query("nobody", 6, NOW + 4, &w, &c), AUTH_NOT_FOUND);
	ck_assert_int_eq(lookup("nobody", NOW + 5, &c), AUTH_FOUND);
	cli("DEL", "turn/realm/" REALM "/user/nobody/key");
	ck_assert_int_eq(query("nobody", 6, NOW + 64, &w, &c), AUTH_FOUND);
	ck_assert_int_eq(lookup("nobody", NOW + 65, &c), AUTH_NOT_FOUND);
	ck_assert_int_eq(w.calls, 0);
	auth_credential_clear(&c);
}
END_TEST

/* A caller that cannot wait (done NULL) is refused, and the answer is
 * fetched for its next try. */
START_TEST(caller_that_cannot_wait)
{
	struct auth_credential c;

	set_user("erin", "pw");
	ck_assert_int_eq(query("erin", 4, NOW, NULL, &c), AUTH_ERROR);
	run_for(200);
	ck_assert_int_eq(query("erin", 4, NOW, NULL, &c), AUTH_FOUND);
	assert_md5(&c, "erin", "pw");
	auth_credential_clear(&c);
}
END_TEST

/* Names are data: a format string and a name with spaces and quotes are
 * one argv element each (set with redis-cli, found); what no client may
 * send is refused by the chain and never reaches Redis. */
START_TEST(hostile_usernames)
{
	static const char fmt[] = "a%s%n%x%p";
	static const char quoted[] = "o'brien \"the\" user / x";
	char long_name[601], bad[32];
	struct auth_credential c;
	long before;

	set_user(fmt, "pw");
	set_user(quoted, "pw");
	ck_assert_int_eq(lookup(fmt, NOW, &c), AUTH_FOUND);
	assert_md5(&c, fmt, "pw");
	ck_assert_int_eq(lookup(quoted, NOW, &c), AUTH_FOUND);
	assert_md5(&c, quoted, "pw");
	ck_assert_int_eq(lookup("b%s%n%x%p", NOW, &c), AUTH_NOT_FOUND);

	before = mget_calls();
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[600] = '\0';
	ck_assert_int_eq(query(long_name, 600, NOW, NULL, &c), AUTH_NOT_FOUND);
	memcpy(bad, "alice\r\nFLUSHALL\r\n", 18);
	ck_assert_int_eq(query(bad, 17, NOW, NULL, &c), AUTH_NOT_FOUND);
	memcpy(bad, "ali\0ce", 6);
	ck_assert_int_eq(query(bad, 6, NOW, NULL, &c), AUTH_NOT_FOUND);
	memcpy(bad, "\xff\xfe", 2);
	ck_assert_int_eq(query(bad, 2, NOW, NULL, &c), AUTH_NOT_FOUND);
	run_for(100);
	ck_assert_int_eq(mget_calls(), before);
	/* And Redis still holds its data. */
	ck_assert_int_eq(lookup(fmt, NOW + 61, &c), AUTH_FOUND);
	auth_credential_clear(&c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Tests: faults.
 */

static uint64_t cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
}

/* An unknown user while Redis is down: AUTH_ERROR at once, never a
 * PENDING that would not complete. */
static void assert_fails_fast(const char *name, uint64_t now)
{
	struct auth_credential c;
	struct wait_state w = {0, 0};
	uint64_t t0 = now_ms();

	ck_assert_int_eq(query(name, strlen(name), now, &w, &c), AUTH_ERROR);
	ck_assert_int_eq(query(name, strlen(name), now, NULL, &c), AUTH_ERROR);
	ck_assert_uint_lt(now_ms() - t0, 50);
	run_for(20);
	ck_assert_int_eq(w.calls, 0);
}

/* Redis killed: cached users keep working for a bounded time, unknown
 * ones fail closed without blocking, the loop does not spin; Redis back
 * on the same port: a new user is found, nothing restarted. */
START_TEST(redis_killed_then_restarted)
{
	struct auth_credential c;
	uint64_t cpu;

	set_user("alice", "pass");
	set_user("bob", "pass");
	ck_assert_int_eq(lookup("bob", NOW, &c), AUTH_FOUND);
	ck_assert(c.unconfirmed);
	ck_assert_int_eq(lookup("alice", NOW, &c), AUTH_FOUND);
	/* The worker confirms an answer once a request verified with it. */
	ck_assert(c.unconfirmed);
	auth_confirm(chain, &c);
	ck_assert_int_eq(lookup("alice", NOW, &c), AUTH_FOUND);
	ck_assert(!c.unconfirmed);
	redis_kill();
	run_for(200);
	ck_assert_int_eq(lookup("alice", NOW, &c), AUTH_FOUND);
	/* Past the TTL: stale but usable while Redis is down, for a user
	 * whose answer verified a request ... */
	ck_assert_int_eq(lookup("alice", NOW + 61, &c), AUTH_FOUND);
	assert_md5(&c, "alice", "pass");
	ck_assert_int_eq(lookup("bob", NOW + 61, &c), AUTH_ERROR);
	/* ... up to redis-cache-stale past it. */
	ck_assert_int_eq(lookup("alice", NOW + 60 + 300, &c), AUTH_ERROR);
	assert_fails_fast("unknown", NOW);
	cpu = cpu_ms();
	run_for(1000);
	ck_assert_uint_lt(cpu_ms() - cpu, 200);

	redis_start();
	set_user("newcomer", "pw");
	ck_assert(wait_found("newcomer", NOW, 15000));
	ck_assert_int_eq(lookup("newcomer", NOW, &c), AUTH_FOUND);
	assert_md5(&c, "newcomer", "pw");
	auth_credential_clear(&c);
}
END_TEST

/* A stalled Redis (SIGSTOP): the lookup gets AUTH_ERROR after
 * redis-timeout, the connection is reset, and a reconnect that gets no
 * answer to its handshake is not "up"; after SIGCONT it recovers. */
START_TEST(stalled_redis_times_out)
{
	struct auth_redis_options o = default_options();
	struct auth_credential c;
	struct wait_state w = {0, 0};
	uint64_t t0;

	auth_free(chain);
	o.timeout_ms = 200;
	o.connect_timeout_ms = 300;
	chain_new(&o);
	wait_ready();
	redis_signal(SIGSTOP);
	t0 = now_ms();
	ck_assert_int_eq(query("frank", 5, NOW, &w, &c), AUTH_PENDING);
	ck_assert(run_until(&w.calls, 3000));
	ck_assert_int_eq(w.rc, AUTH_ERROR);
	ck_assert_uint_ge(now_ms() - t0, 150);
	ck_assert_uint_lt(now_ms() - t0, 1500);
	ck_assert_int_eq(query("frank", 5, NOW, NULL, &c), AUTH_ERROR);
	/* Reconnects reach the kernel's backlog but never the handshake. */
	run_for(1000);
	assert_fails_fast("frank", NOW);
	redis_signal(SIGCONT);
	set_user("frank", "pw");
	ck_assert(wait_found("frank", NOW, 15000));
	auth_credential_clear(&c);
}
END_TEST

/* Redis down when the backend starts: not an error; it connects once
 * Redis is there. */
START_TEST(redis_down_at_start)
{
	struct auth_redis_options o = default_options();

	chain_new(&o);
	run_for(300);
	assert_fails_fast("grace", NOW);
	redis_start();
	set_user("grace", "pw");
	ck_assert(wait_found("grace", NOW, 15000));
}
END_TEST

/* Lookups waiting when the chain is freed: done is never called. */
START_TEST(free_with_lookups_waiting)
{
	struct auth_credential c;
	struct wait_state w = {0, 0};

	redis_signal(SIGSTOP);
	ck_assert_int_eq(query("heidi", 5, NOW, &w, &c), AUTH_PENDING);
	ck_assert_int_eq(query("heidi", 5, NOW, &w, &c), AUTH_PENDING);
	ck_assert_int_eq(query("ivan", 4, NOW, &w, &c), AUTH_PENDING);
	auth_free(chain);
	chain = NULL;
	run_for(100);
	ck_assert_int_eq(w.calls, 0);
	redis_signal(SIGCONT);
}
END_TEST

/* ------------------------------------------------------------------------
 * Tests: other commands on the connection (auth_redis_command).
 */

struct cmd_state {
	int calls;
	bool got_reply;
	long long integer;
	char str[64];
};

static void on_cmd(void *arg, struct redisReply *rep)
{
	struct cmd_state *c = arg;

	ck_assert(!in_lookup);
	c->calls++;
	c->got_reply = rep != NULL;
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		c->integer = rep->integer;
	if (rep && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS))
		snprintf(c->str, sizeof(c->str), "%.*s", (int)rep->len, rep->str);
}

static int cmd(struct cmd_state *st, int argc, const char **argv)
{
	size_t lens[8];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return auth_redis_command(auth_backend_named(chain, "redis"), argc, argv, lens,
				  st ? on_cmd : NULL, st);
}

/* Commands in argv form: a value with spaces and '%' is one argument;
 * the answer comes from the loop; fire-and-forget ones are counted. */
START_TEST(commands_on_the_connection)
{
	struct auth_backend *b = auth_backend_named(chain, "redis");
	struct cmd_state st = { 0 };
	const char *set[] = { "SET", "fleet/x", "a %s b" };
	const char *get[] = { "GET", "fleet/x" };
	const char *incr[] = { "INCRBY", "fleet/n", "41" };

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(auth_backend_named(chain, "static"));
	ck_assert(auth_redis_ready(b));
	ck_assert_uint_eq(auth_redis_epoch(b), 1);
	ck_assert_int_eq(cmd(NULL, 3, set), 0);
	ck_assert_uint_eq(auth_redis_in_flight(b), 1);
	ck_assert_int_eq(cmd(&st, 2, get), 0);
	ck_assert_int_eq(st.calls, 0); /* never from inside the call */
	ck_assert(run_until(&st.calls, 2000));
	ck_assert(st.got_reply);
	ck_assert_str_eq(st.str, "a %s b");
	ck_assert_uint_eq(auth_redis_in_flight(b), 0);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(cmd(&st, 3, incr), 0);
	ck_assert(run_until(&st.calls, 2000));
	ck_assert_int_eq(st.integer, 41);
}
END_TEST

/* A stalled Redis: the command's callback gets no reply after
 * redis-timeout, once; the connection is reset, and a later connection
 * counts a new epoch. Not ready: refused at once. Freed with commands
 * waiting: their callbacks are never called. */
START_TEST(command_timeout_and_reconnect)
{
	struct auth_redis_options o = default_options();
	struct cmd_state st = { 0 }, late = { 0 };
	const char *ping[] = { "PING" };

	auth_free(chain);
	o.timeout_ms = 200;
	o.connect_timeout_ms = 300;
	chain_new(&o);
	wait_ready();
	struct auth_backend *b = auth_backend_named(chain, "redis");
	unsigned epoch = auth_redis_epoch(b);
	redis_signal(SIGSTOP);
	uint64_t t0 = now_ms();
	ck_assert_int_eq(cmd(&st, 1, ping), 0);
	ck_assert(run_until(&st.calls, 3000));
	ck_assert(!st.got_reply);
	ck_assert_uint_ge(now_ms() - t0, 150);
	ck_assert(!auth_redis_ready(b));
	ck_assert_int_eq(cmd(&late, 1, ping), -1);
	run_for(300);
	ck_assert_int_eq(st.calls, 1);
	redis_signal(SIGCONT);
	uint64_t end = now_ms() + 15000;
	while (!auth_redis_ready(b) && now_ms() < end)
		run_for(50);
	ck_assert(auth_redis_ready(b));
	ck_assert_uint_eq(auth_redis_epoch(b), epoch + 1);
	redis_signal(SIGSTOP);
	ck_assert_int_eq(cmd(&late, 1, ping), 0);
	auth_free(chain);
	chain = NULL;
	run_for(100);
	ck_assert_int_eq(late.calls, 0);
	redis_signal(SIGCONT);
}
END_TEST

/* ------------------------------------------------------------------------
 * Tests: connection options.
 */

/* requirepass and SELECT: AUTH password, then the keys of db 3. A wrong
 * password never makes the connection usable. */
START_TEST(password_and_database)
{
	static const char *const extra[] = {"--requirepass", "pw1", NULL};
	struct auth_redis_options o = default_options();
	struct auth_credential c;

	srv.password = "pw1";
	redis_start_args(extra);
	cli("-n", "3", "SET", "turn/realm/" REALM "/user/judy/key",
	    "00112233445566778899aabbccddeeff");
	o.password = "pw1";
	o.db = 3;
	chain_new(&o);
	ck_assert(wait_found("judy", NOW, 5000));
	ck_assert_int_eq(lookup("judy", NOW, &c), AUTH_FOUND);
	ck_assert_uint_eq(c.keys[0].md5[0], 0x00);
	ck_assert_uint_eq(c.keys[0].md5[15], 0xff);
	auth_free(chain);

	o.password = "wrong";
	chain_new(&o);
	run_for(500);
	assert_fails_fast("judy", NOW);
	auth_credential_clear(&c);
}
END_TEST

/* A Redis 6 ACL user: AUTH user password. */
START_TEST(acl_user)
{
	struct auth_redis_options o = default_options();

	redis_start();
	cli("ACL", "SETUSER", "turnd", "on", ">pw2", "~turn/*", "+@all");
	set_user("kate", "pw");
	o.user = "turnd";
	o.password = "pw2";
	chain_new(&o);
	ck_assert(wait_found("kate", NOW, 5000));
}
END_TEST

/* redis-socket: a unix socket instead of host and port. */
START_TEST(unix_socket)
{
	const char *extra[] = {"--unixsocket", NULL, "--unixsocketperm", "700", NULL};
	struct auth_redis_options o = default_options();

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/turnd-redis-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(srv.sock, sizeof(srv.sock), "%s/redis.sock", tmpdir);
	extra[1] = srv.sock;
	redis_start_args(extra);
	set_user("leo", "pw");
	o.socket = srv.sock;
	o.host = NULL;
	chain_new(&o);
	ck_assert(wait_found("leo", NOW, 5000));
}
END_TEST

/* The configuration path: redis = true appends the backend after the
 * static users; without an event base it is refused. */
START_TEST(chain_from_conf)
{
	char text[256], err[ERR_MAX] = "";
	struct conf *conf = NULL;
	struct auth_credential c;

	redis_start();
	set_user("mike", "pw");
	snprintf(text, sizeof(text),
		 "realm = " REALM "\nuser = \"static:pw\"\nredis = true\n"
		 "redis-host = 127.0.0.1\nredis-port = %u\n",
		 (unsigned)srv.port);
	ck_assert_msg(conf_load_string(text, "t.conf", NULL, &conf, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_ptr_null(auth_new_from_conf(conf, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "'redis'"));
	chain = auth_new_for_worker(conf, base, NULL, err, sizeof(err));
	ck_assert_msg(chain != NULL, "%s", err);
	ck_assert(wait_found("mike", NOW, 5000));
	ck_assert_int_eq(lookup("static", NOW, &c), AUTH_FOUND);
	ck_assert_str_eq(c.backend, "static");
	ck_assert_int_eq(lookup("mike", NOW, &c), AUTH_FOUND);
	ck_assert_str_eq(c.backend, "redis");
	conf_free(conf);
	auth_credential_clear(&c);
}
END_TEST

START_TEST(bad_options_are_refused)
{
	struct auth_redis_options o = default_options();
	char err[ERR_MAX] = "";

	o.host = "localhost"; /* would be resolved on the loop */
	ck_assert_ptr_null(auth_redis_new(&o, base, err, sizeof(err)));
	ck_assert_str_eq(err, "redis: redis-host must be a numeric IP address");
	o = default_options();
	o.user = "u";
	ck_assert_ptr_null(auth_redis_new(&o, base, err, sizeof(err)));
	ck_assert_str_eq(err, "redis: redis-user needs redis-password");
	o = default_options();
	o.cache_size = AUTH_REDIS_CACHE_MIN - 1;
	ck_assert_ptr_null(auth_redis_new(&o, base, err, sizeof(err)));
	o = default_options();
	ck_assert_ptr_null(auth_redis_new(&o, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "redis: no event base");
	{
		char path[200];

		memset(path, 'a', sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		o.socket = path;
		ck_assert_ptr_null(auth_redis_new(&o, base, err, sizeof(err)));
		ck_assert_str_eq(err, "redis: redis-socket is too long for a unix socket path");
	}
}
END_TEST

/* ------------------------------------------------------------------------
 * TLS: a throwaway CA, a server certificate for 127.0.0.1 (and the name
 * redis.test), a client certificate, and another CA that signed neither,
 * made at test time with the openssl command into tmpdir.
 */

static const char pki_script[] =
	"set -e\n"
	"cd \"$1\"\n"
	"ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
	"ca() {\n"
	"  openssl req -x509 $ec -keyout \"$1.key\" -out \"$1.pem\" -days 2 \\\n"
	"    -subj \"/CN=turnd test $1\" -addext basicConstraints=critical,CA:TRUE \\\n"
	"    -addext keyUsage=critical,keyCertSign\n"
	"}\n"
	"leaf() {\n"
	"  n=$1 cn=$2; shift 2\n"
	"  openssl req $ec -keyout \"$n.key\" -out \"$n.csr\" -subj \"/CN=$cn\" \"$@\"\n"
	"  openssl x509 -req -in \"$n.csr\" -CA ca.pem -CAkey ca.key -CAcreateserial \\\n"
	"    -days 2 -copy_extensions copy -out \"$n.pem\"\n"
	"}\n"
	"ca ca\n"
	"ca other\n"
	"leaf server 127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:redis.test \\\n"
	"  -addext extendedKeyUsage=serverAuth\n"
	"leaf client turnd-client -addext extendedKeyUsage=clientAuth\n"
	"printf 'not a certificate\\n' > garbage.pem\n";

/* tmpdir/name into buf (PATH_MAX_LEN bytes); returns buf. */
static const char *pki(const char *name, char *buf)
{
	snprintf(buf, PATH_MAX_LEN, "%s/%s", tmpdir, name);
	return buf;
}

static void run_sh(const char *script, const char *arg)
{
	const char *argv[] = {"/bin/sh", "-c", script, "sh", arg, NULL};
	int status;
	pid_t pid = spawn(argv, -1);

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%.40s... failed", script);
}

/* The loop, a port, and the certificates; no Redis yet. */
static void setup_tls(void)
{
	setup_bare();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/turnd-redis-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	run_sh(pki_script, tmpdir);
	srv.tls_dir = tmpdir;
}

static void teardown_tls(void)
{
	char dir[sizeof(tmpdir)];

	snprintf(dir, sizeof(dir), "%s", tmpdir);
	teardown();
	if (dir[0])
		run_sh("rm -rf \"$1\"", dir);
}

/* redis-server on TLS alone (--port 0): srv.port is its tls-port. */
static void redis_start_tls(bool auth_clients, const char *password)
{
	char port[8], cert[PATH_MAX_LEN], key[PATH_MAX_LEN], ca[PATH_MAX_LEN];
	const char *const opts[][2] = {
		{"--port", "0"},
		{"--tls-port", port},
		{"--tls-cert-file", pki("server.pem", cert)},
		{"--tls-key-file", pki("server.key", key)},
		{"--tls-ca-cert-file", pki("ca.pem", ca)},
		{"--tls-auth-clients", auth_clients ? "yes" : "no"},
		{password ? "--requirepass" : NULL, password},
	};
	const char *extra[2 * sizeof(opts) / sizeof(opts[0]) + 1];
	size_t n = 0;

	snprintf(port, sizeof(port), "%u", (unsigned)srv.port);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		extra[n++] = opts[i][0];
		extra[n++] = opts[i][1];
	}
	extra[n] = NULL;
	srv.password = password;
	redis_start_args(extra);
}

static struct auth_redis_options tls_options(char *ca)
{
	struct auth_redis_options o = default_options();

	o.tls = true;
	o.tls_ca = pki("ca.pem", ca);
	return o;
}

/* Over TLS the backend finds a user set with redis-cli --tls, and other
 * commands go over the same connection; the certificate is checked
 * against redis-host by default, or against redis-tls-server-name, an
 * address or a DNS name (sent as SNI too). */
START_TEST(tls_user_is_found)
{
	char ca[PATH_MAX_LEN], hex[2 * STUN_KEY_MD5_LEN + 1];
	struct auth_redis_options o = tls_options(ca);
	uint8_t key[STUN_KEY_MD5_LEN];
	struct auth_credential c;
	struct cmd_state st = {0};
	const char *get[] = {"GET", "turn/realm/" REALM "/user/olga/key"};

	redis_start_tls(false, NULL);
	set_user("olga", "pw");
	chain_new(&o);
	ck_assert(wait_found("olga", NOW, 5000));
	ck_assert_int_eq(lookup("olga", NOW, &c), AUTH_FOUND);
	assert_md5(&c, "olga", "pw");
	ck_assert_uint_eq(auth_redis_epoch(auth_backend_named(chain, "redis")), 1);
	ck_assert_int_eq(cmd(&st, 2, get), 0);
	ck_assert(run_until(&st.calls, 2000));
	ck_assert_int_eq(stun_key_md5("olga", REALM, "pw", key), 0);
	to_hex(key, sizeof(key), hex);
	ck_assert_str_eq(st.str, hex);
	auth_free(chain);

	o.tls_server_name = "redis.test";
	chain_new(&o);
	ck_assert(wait_found("olga", NOW, 5000));
	auth_free(chain);
	o.tls_server_name = "127.0.0.1";
	chain_new(&o);
	ck_assert(wait_found("olga", NOW, 5000));
	auth_credential_clear(&c);
}
END_TEST

/* A certificate that does not verify (another CA; a name or an address
 * it does not carry): never ready, nothing reaches Redis, lookups fail
 * closed at once, and the retries back off instead of spinning. */
START_TEST(tls_certificate_not_verified)
{
	static const char *const names[] = {NULL, "other.test", "127.0.0.2"};
	char ca[PATH_MAX_LEN], other[PATH_MAX_LEN];
	const char *ping[] = {"PING"};
	struct cmd_state st = {0};

	redis_start_tls(false, NULL);
	set_user("pat", "pw");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct auth_redis_options o = tls_options(ca);
		struct auth_backend *b;
		uint64_t cpu;

		if (i == 0)
			o.tls_ca = pki("other.pem", other);
		o.tls_server_name = names[i];
		chain_new(&o);
		b = auth_backend_named(chain, "redis");
		run_for(300);
		assert_fails_fast("pat", NOW);
		cpu = cpu_ms();
		run_for(1200);
		ck_assert_uint_lt(cpu_ms() - cpu, 200);
		ck_assert(!auth_redis_ready(b));
		ck_assert_uint_eq(auth_redis_epoch(b), 0);
		ck_assert_int_eq(cmd(&st, 1, ping), -1);
		assert_fails_fast("pat", NOW);
		auth_free(chain);
		chain = NULL;
	}
	ck_assert_int_eq(mget_calls(), 0);
	ck_assert_int_eq(st.calls, 0);
}
END_TEST

/* tls-auth-clients yes: without a client certificate the connection is
 * refused (never ready); with one it works, AUTH included. */
START_TEST(tls_client_certificate)
{
	char ca[PATH_MAX_LEN], cert[PATH_MAX_LEN], key[PATH_MAX_LEN];
	struct auth_redis_options o = tls_options(ca);

	redis_start_tls(true, "pw3");
	set_user("quinn", "pw");
	o.password = "pw3";
	chain_new(&o);
	run_for(800);
	ck_assert(!auth_redis_ready(auth_backend_named(chain, "redis")));
	assert_fails_fast("quinn", NOW);
	auth_free(chain);

	o.tls_cert = pki("client.pem", cert);
	o.tls_key = pki("client.key", key);
	chain_new(&o);
	ck_assert(wait_found("quinn", NOW, 5000));
}
END_TEST

/* auth_redis_new fails, err naming the option and the file, when a TLS
 * file is missing or unusable; without redis-tls the files are not read. */
static void assert_refused(const struct auth_redis_options *o, const char *want)
{
	char err[ERR_MAX] = "";

	ck_assert_ptr_null(auth_redis_new(o, base, err, sizeof(err)));
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" does not contain \"%s\"", err, want);
}

START_TEST(tls_bad_files_are_refused)
{
	char ca[PATH_MAX_LEN], path[PATH_MAX_LEN], path2[PATH_MAX_LEN], want[2 * PATH_MAX_LEN];
	struct auth_redis_options o = tls_options(ca);
	char err[ERR_MAX] = "";
	struct auth_backend *b;

	o.tls_ca = pki("missing.pem", path);
	snprintf(want, sizeof(want), "redis: redis-tls-ca '%s': No such file or directory", path);
	assert_refused(&o, want);
	o.tls_ca = pki("garbage.pem", path);
	snprintf(want, sizeof(want), "redis: redis-tls-ca '%s': ", path);
	assert_refused(&o, want);

	o = tls_options(ca);
	o.tls_cert = pki("client.pem", path);
	assert_refused(&o, "redis: redis-tls-cert needs redis-tls-key");
	o.tls_key = pki("missing.key", path2);
	snprintf(want, sizeof(want), "redis: redis-tls-key '%s': No such file or directory", path2);
	assert_refused(&o, want);
	o.tls_key = pki("server.key", path2); /* not client.pem's key */
	assert_refused(&o, "redis-tls-key");
	o.tls_cert = pki("garbage.pem", path);
	o.tls_key = pki("client.key", path2);
	snprintf(want, sizeof(want), "redis: redis-tls-cert '%s': ", path);
	assert_refused(&o, want);

	o = tls_options(ca);
	o.socket = "/tmp/redis.sock";
	assert_refused(&o, "redis: redis-tls needs redis-host");

	/* redis-tls off: the TLS files are not looked at. */
	o = default_options();
	o.tls_ca = pki("missing.pem", path);
	b = auth_redis_new(&o, base, err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);
	b->ops->free(b);
}
END_TEST

/* ------------------------------------------------------------------------
 * One cache shared by several workers' backends (issue 13, item 3).
 */

#define SHARED_USERS 16
#define SHARED_ROUNDS 400

/* A worker of its own: a thread with its event base and its chain, the
 * Redis backend on the shared cache. No ck_assert off the main thread:
 * it counts, and the test checks the counts. */
struct sim_worker {
	struct auth_cache *cache;
	bool confirm; /* as net/ does once a request verified */
	unsigned found, wrong, failed;
};

static void sim_done(void *arg, int rc)
{
	(void)rc;
	*(int *)arg = 1;
}

/* Run b for ms at most, or until *flag. */
static void sim_run(struct event_base *b, const int *flag, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	const struct timeval tv = {0, 5000};

	while (!(flag && *flag) && now_ms() < end) {
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
}

/* A lookup as net/ makes it; retried while the backend is connecting. */
static int sim_lookup(struct auth *ch, struct event_base *b, const char *name,
		      struct auth_credential *c)
{
	uint64_t end = now_ms() + 5000;
	int rc = AUTH_ERROR;

	while (rc == AUTH_ERROR && now_ms() < end) {
		int called = 0;
		const struct auth_query q = {.username = (const uint8_t *)name, .len = strlen(name),
					     .now_s = NOW, .done = sim_done, .arg = &called};

		rc = auth_query_lookup(ch, &q, c);
		if (rc == AUTH_PENDING) {
			sim_run(b, &called, 3000);
			rc = auth_lookup(ch, q.username, q.len, NOW, c);
		}
		if (rc == AUTH_ERROR)
			sim_run(b, NULL, 20);
	}
	return rc;
}

static void *sim_worker_run(void *arg)
{
	struct sim_worker *sw = arg;
	struct event_base *b = event_base_new();
	struct auth_redis_options o = default_options();
	struct auth *ch = auth_new();
	struct auth_credential c;
	char err[ERR_MAX], name[32], hex[2 * STUN_KEY_MD5_LEN + 1], want[2 * STUN_KEY_MD5_LEN + 1];
	uint8_t key[STUN_KEY_MD5_LEN];

	o.shared_cache = sw->cache;
	if (!b || !ch || auth_add(ch, auth_redis_new(&o, b, err, sizeof(err))) < 0) {
		sw->failed = SHARED_ROUNDS;
		goto out;
	}
	for (unsigned i = 0; i < SHARED_ROUNDS; i++) {
		snprintf(name, sizeof(name), "shared%u", i % SHARED_USERS);
		if (sim_lookup(ch, b, name, &c) != AUTH_FOUND) {
			sw->failed++;
			continue;
		}
		stun_key_md5(name, REALM, "pw", key);
		to_hex(key, sizeof(key), want);
		to_hex(c.keys[0].md5, sizeof(key), hex);
		if (strcmp(hex, want) != 0 || strcmp(c.username, name) != 0)
			sw->wrong++;
		else
			sw->found++;
		if (sw->confirm)
			auth_confirm(ch, &c);
	}
	auth_credential_clear(&c);
out:
	auth_free(ch);
	if (b)
		event_base_free(b);
	return NULL;
}

/* Two workers look the same users up at once, each on its thread; one of
 * them confirms them. Redis killed past the TTL: a third backend on the
 * same cache, that never asked Redis about anyone, serves every one of
 * them (relay-threads = N: any worker may get a user's next request). */
START_TEST(shared_cache_across_workers)
{
	struct auth_cache *cache = auth_cache_new(100);
	struct sim_worker sw[2] = {{.cache = cache, .confirm = true}, {.cache = cache}};
	pthread_t t[2];
	struct auth_credential c;
	char name[32];

	ck_assert_ptr_nonnull(cache);
	for (unsigned i = 0; i < SHARED_USERS; i++) {
		snprintf(name, sizeof(name), "shared%u", i);
		set_user(name, "pw");
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, sim_worker_run, &sw[i]), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_uint_eq(sw[i].failed, 0);
		ck_assert_uint_eq(sw[i].wrong, 0);
		ck_assert_uint_eq(sw[i].found, SHARED_ROUNDS);
	}
	ck_assert_uint_eq(auth_cache_confirmed(cache), SHARED_USERS);
	redis_kill();
	/* The fixture's chain becomes the third worker. */
	auth_free(chain);
	struct auth_redis_options o = default_options();
	o.shared_cache = cache;
	chain_new(&o);
	auth_cache_free(cache); /* the backend holds its own reference */
	run_for(100);
	for (unsigned i = 0; i < SHARED_USERS; i++) {
		snprintf(name, sizeof(name), "shared%u", i);
		ck_assert_int_eq(lookup(name, NOW + 61, &c), AUTH_FOUND);
		assert_md5(&c, name, "pw");
	}
	assert_fails_fast("never-seen", NOW);
	auth_credential_clear(&c);
}
END_TEST

static Suite *auth_redis_suite(void)
{
	Suite *s = suite_create("auth_redis");
	TCase *tc = tcase_create("redis");
	TCase *bare = tcase_create("bare");
	TCase *tls = tcase_create("tls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, key_set_with_redis_cli_is_found);
	tcase_add_test(tc, sha256_key_is_found);
	tcase_add_test(tc, rest_secrets_from_redis);
	tcase_add_test(tc, unknown_user_and_negative_cache);
	tcase_add_test(tc, caller_that_cannot_wait);
	tcase_add_test(tc, hostile_usernames);
	tcase_add_test(tc, redis_killed_then_restarted);
	tcase_add_test(tc, stalled_redis_times_out);
	tcase_add_test(tc, free_with_lookups_waiting);
	tcase_add_test(tc, commands_on_the_connection);
	tcase_add_test(tc, command_timeout_and_reconnect);
	tcase_add_test(tc, shared_cache_across_workers);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(bare, setup_bare, teardown);
	tcase_add_test(bare, redis_down_at_start);
	tcase_add_test(bare, password_and_database);
	tcase_add_test(bare, acl_user);
	tcase_add_test(bare, unix_socket);
	tcase_add_test(bare, chain_from_conf);
	tcase_add_test(bare, bad_options_are_refused);
	tcase_set_timeout(bare, 30);
	suite_add_tcase(s, bare);

	tcase_add_checked_fixture(tls, setup_tls, teardown_tls);
	tcase_add_test(tls, tls_user_is_found);
	tcase_add_test(tls, tls_certificate_not_verified);
	tcase_add_test(tls, tls_client_certificate);
	tcase_add_test(tls, tls_bad_files_are_refused);
	tcase_set_timeout(tls, 30);
	suite_add_tcase(s, tls);
	return s;
}

int main(void)
{
	/* As turnd does (main.c): a write to a connection Redis has just
	 * closed is an error to handle, not a signal that kills. */
	signal(SIGPIPE, SIG_IGN);
	return run_suite(auth_redis_suite());
}
