/*
 * turnd: argv, configuration, binding, workers, signals. Everything here
 * runs once at start-up; fatal() is allowed only here.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "conf/conf.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/pidfile.h"
#include "daemon/selfcheck.h"
#include "util/log.h"

#define MAX_CLI_LISTEN 16

struct cli {
	const char *config;
	bool check_only;
	bool self_check;
	bool daemonize;
	const char *listen[MAX_CLI_LISTEN + 1];
	size_t n_listen;
	struct conf_overrides ov;
};

static void usage(FILE *to)
{
	fprintf(to,
		"usage: turnd [options]\n"
		"  -c, --config FILE        read configuration from FILE (default: embedded)\n"
		"      --check-config       validate the configuration and exit\n"
		"      --self-check         check the configuration against this host (addresses,\n"
		"                           ports, descriptors, certificate, Redis, clock): one\n"
		"                           finding a line; exit 1 if the server would not work\n"
		"  -L, --listening-ip ADDR  listen on ADDR (repeatable; overrides the file)\n"
		"  -p, --listening-port N   STUN/TURN port for UDP and TCP (default 3478)\n"
		"  -l, --log-level LEVEL    error, warn, notice, info or debug\n"
		"  -f, --foreground         stay in the foreground (the default)\n"
		"  -d, --daemon             detach and log to syslog\n"
		"  -V, --version            print the version\n"
		"  -h, --help               this text\n"
		"See turnd(8) and turnd.conf(5).\n");
}

static void parse_port(const char *arg, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v == 0 || v > 65535)
		fatal("--listening-port: '%s' is not a port (1-65535)", arg);
	*port = (uint16_t)v;
}

static void parse_args(int argc, char **argv, struct cli *cli)
{
	enum { OPT_CHECK = 256, OPT_SELF_CHECK };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "self-check", no_argument, NULL, OPT_SELF_CHECK },
		{ "listening-ip", required_argument, NULL, 'L' },
		{ "listening-port", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	cli->ov.log_level = -1;
	while ((c = getopt_long(argc, argv, "c:L:p:l:fdVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cli->config = optarg; break;
		case OPT_CHECK: cli->check_only = true; break;
		case OPT_SELF_CHECK: cli->self_check = true; break;
		case 'L':
			if (cli->n_listen == MAX_CLI_LISTEN)
				fatal("--listening-ip: at most %d addresses", MAX_CLI_LISTEN);
			cli->listen[cli->n_listen++] = optarg;
			cli->ov.listen = cli->listen;
			break;
		case 'p': parse_port(optarg, &cli->ov.listening_port); break;
		case 'l':
			cli->ov.log_level = log_level_parse(optarg);
			if (cli->ov.log_level < 0)
				fatal("--log-level: '%s' is not error, warn, notice, info or debug", optarg);
			break;
		case 'f': cli->daemonize = false; break;
		case 'd': cli->daemonize = true; break;
		case 'V': printf("turnd %s\n", PACKAGE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "turnd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

/* The embedded default has no users; give it one with a fresh random
 * password so that a first run can be tried at once, and say so. */
static void add_demo_user(struct conf *c)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[16];
	char pass[sizeof(raw) + 1];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatal("cannot generate the demo password");
	for (size_t i = 0; i < sizeof(raw); i++)
		pass[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	pass[sizeof(raw)] = '\0';
	if (conf_add_user(c, "demo", pass) < 0)
		fatal("cannot add the demo user");
	printf("turnd: embedded default configuration (no -c FILE given)\n"
	       "turnd: demo user: demo  password: %s  realm: %s\n",
	       pass, c->realm);
}

static void print_reach(const struct conf *c, unsigned workers)
{
	char text[TURN_ADDR_STRLEN];
	struct turn_addr hint = { 0 };

	for (size_t i = 0; i < c->n_listen; i++)
		log_notice("listening on %s%s%s", turn_addr_format(&c->listen[i], true, text, sizeof(text)),
			   c->no_udp ? "" : " udp", c->no_tcp ? "" : " tcp");
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		log_notice("listening on %s%s%s%s%s%s (listener)",
			   turn_addr_format(&l->addr, true, text, sizeof(text)),
			   l->transports & CONF_LISTEN_UDP ? " udp" : "",
			   l->transports & CONF_LISTEN_TCP ? " tcp" : "",
			   l->transports & CONF_LISTEN_TLS ? " tls" : "",
			   l->transports & CONF_LISTEN_DTLS ? " dtls" : "",
			   l->transports & CONF_LISTEN_PROXY ? " proxy" : "");
	}
	/* The hint names an address turnd listens on: the first, or loopback
	 * of its family in place of a wildcard. */
	if (c->n_listen)
		hint = c->listen[0];
	if (!hint.family || turn_addr_is_any(&hint))
		turn_addr_parse(hint.family == TURN_AF_INET6 ? "::1" : "127.0.0.1", 0, &hint);
	hint.port = c->listening_port;
	turn_addr_format(&hint, true, text, sizeof(text));
	log_notice("%u worker thread%s; try: turnprobe stun %s", workers, workers == 1 ? "" : "s",
		   text);
}

/* Who proc-user and proc-group name (fatal if nobody): the pid file is
 * theirs, and drop_privileges becomes them. */
static void service_owner(const struct conf *c, struct pid_file_owner *o)
{
	struct passwd *pw;

	*o = (struct pid_file_owner){ .has_owner = c->proc_user != NULL, .user = c->proc_user };
	if (!c->proc_user)
		return;
	pw = getpwnam(c->proc_user);
	if (!pw)
		fatal("proc-user: no user '%s'", c->proc_user);
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	if (c->proc_group) {
		struct group *gr = getgrnam(c->proc_group);
		if (!gr)
			fatal("proc-group: no group '%s'", c->proc_group);
		o->gid = gr->gr_gid;
	}
}

/* The pid file, written after detaching and before the privilege drop
 * (pidfile.c says how it stays safe); removed at a clean stop. */
static void write_pid_file(const struct conf *c, struct pid_file *pf)
{
	struct pid_file_owner owner;
	char err[512];

	service_owner(c, &owner);
	if (pid_file_write(pf, c->pid_file, &owner, err, sizeof(err)) < 0)
		fatal("pid-file: %s", err);
	if (pid_file_removal_warning(pf, &owner, err, sizeof(err)))
		log_warn("%s", err);
}

/* The control socket, bound as root (in /run/turnd) and given to the
 * service user, as the pid file is. */
static void open_control(const struct conf *c, struct daemon *d)
{
	struct pid_file_owner po;
	char err[512];

	service_owner(c, &po);
	const struct control_owner o = { .set = po.has_owner, .uid = po.uid, .gid = po.gid };
	if (daemon_control_open(d, &o, err, sizeof(err)) < 0)
		fatal("control-socket: %s", err);
}

/* proc-user / proc-group: every socket is bound, so root (or the bind
 * capability) is no longer needed. Groups first, then the user; and it
 * must not be possible to get back. */
static void drop_privileges(const struct conf *c)
{
	struct passwd *pw = getpwnam(c->proc_user);
	gid_t gid;

	if (!pw)
		fatal("proc-user: no user '%s'", c->proc_user);
	gid = pw->pw_gid;
	if (c->proc_group) {
		struct group *gr = getgrnam(c->proc_group);
		if (!gr)
			fatal("proc-group: no group '%s'", c->proc_group);
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0)
		fatal("cannot become user '%s': %s", c->proc_user, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) == 0)
		fatal("dropped to '%s' but could become root again", c->proc_user);
	log_notice("running as user %s (uid %ld, gid %ld)", c->proc_user, (long)pw->pw_uid,
		   (long)gid);
}

static void daemonize(struct daemon *d)
{
	if (daemon(0, 0) < 0)
		fatal("cannot detach: daemon() failed");
	if (daemon_after_fork(d) < 0)
		fatal("cannot re-initialise the event loops after detaching");
}

/* Every allocation holds a relay socket: take as many descriptors as the
 * hard limit allows (systemd's LimitNOFILE sets it), and say how many. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	log_info("file descriptors: up to %llu (about as many allocations)",
		 (unsigned long long)rl.rlim_cur);
	if (rl.rlim_cur < 4096)
		log_warn("only %llu file descriptors: raise the hard limit (ulimit -Hn, "
			 "LimitNOFILE=) to hold more allocations",
			 (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	struct conf *conf = NULL;
	char err[512];

	parse_args(argc, argv, &cli);
	if (conf_load(cli.config, &cli.ov, &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "turnd: %s\n", err);
		return 1;
	}
	if (cli.check_only) {
		printf("turnd: %s: configuration OK\n", cli.config ? cli.config : "(embedded)");
		conf_free(conf);
		return 0;
	}
	if (cli.self_check) {
		log_setup(LOG_SINK_STDERR, (enum log_level)conf->log_level, "turnd");
		printf("turnd: %s: configuration OK; checking it against this host\n",
		       cli.config ? cli.config : "(embedded)");
		const struct selfcheck_opts so = { .out = stdout };
		unsigned failures = selfcheck_run(conf, &so);
		conf_free(conf);
		return failures ? 1 : 0;
	}
	if (!cli.config)
		add_demo_user(conf);
	fflush(stdout);
	log_setup(cli.daemonize || conf->syslog ? LOG_SINK_SYSLOG : LOG_SINK_STDERR,
		  (enum log_level)conf->log_level, "turnd");
	log_set_json(conf->log_json);
	raise_fd_limit();
	/* The short self-check: cheap findings as log lines (at most about
	 * 1 s, for Redis); it never stops the start. */
	const struct selfcheck_opts quick = { .quick = true };
	selfcheck_run(conf, &quick);

	struct daemon *d = daemon_new(conf, err, sizeof(err));
	if (!d)
		fatal("cannot start: %s", err);
	/* A reload reads the same file, also after daemon() went to /. */
	char *conf_path = cli.config ? realpath(cli.config, NULL) : NULL;
	daemon_set_conf_source(d, conf_path ? conf_path : cli.config, &cli.ov);
	if (cli.daemonize)
		daemonize(d);
	struct pid_file pf = { .dir_fd = -1, .fd = -1 };
	if (conf->pid_file)
		write_pid_file(conf, &pf);
	open_control(conf, d);
	if (conf->proc_user)
		drop_privileges(conf);
	print_reach(conf, daemon_workers(d));
	int rc = daemon_run(d);
	daemon_free(d);
	if (conf->pid_file && pid_file_remove(&pf, err, sizeof(err)) < 0)
		log_warn("%s", err);
	conf_free(conf);
	free(conf_path);
	log_notice("stopped");
	return rc == 0 ? 0 : 1;
}
