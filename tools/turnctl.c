/*
 * turnctl: talk to a running turnd over its control socket (control-socket
 * in turnd.conf(5); daemon/control.c): one JSON request line, one JSON
 * answer line. Tables for people, or the daemon's JSON as it is (--json)
 * for scripts.
 *
 *   turnctl [-s PATH] [--json] status
 *   turnctl ... sessions [--user U] [--peer ADDR]
 *   turnctl ... kill SESSION
 *   turnctl ... kill-user USER [--ban SECONDS]
 *   turnctl ... credentials [--user U] [--ttl SECONDS]
 *   turnctl ... drain | reload | users
 *
 * Exit status: 0 done, 1 the daemon answered with an error, 2 usage
 * error, 3 cannot reach the daemon (no socket, refused, no answer).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/control_path.h"
#include "util/json_out.h"
#include "util/json_tree.h"

#define TURNCTL_EXIT_ERROR 1
#define TURNCTL_EXIT_USAGE 2
#define TURNCTL_EXIT_CONNECT 3
#define TURNCTL_TIMEOUT_MS 10000
#define TURNCTL_ANSWER_MAX (256u << 20) /* a sessions list of a very busy server */

static void turnctl_usage(FILE *to)
{
	fprintf(to,
		"usage: turnctl [-s PATH] [--json] COMMAND [ARGS]\n"
		"  status                                 version, uptime, allocations, traffic\n"
		"  sessions [--user U] [--peer ADDR]      every allocation (ADDR: an IP)\n"
		"  kill SESSION                           end one allocation (its id)\n"
		"  kill-user USER [--ban SECONDS]         end every allocation of USER\n"
		"  credentials [--user U] [--ttl SECONDS] a TURN REST username and password\n"
		"  drain                                  no new allocations (as SIGUSR1)\n"
		"  reload                                 the configuration again (as SIGHUP)\n"
		"  users                                  allocations and traffic by user\n"
		"  -s, --socket PATH  the control socket (default: turnd's default)\n"
		"  -j, --json         print the daemon's JSON answer as it is\n"
		"Exit status: 0 ok, 1 the daemon said error, 2 usage, 3 cannot connect.\n"
		"See turnctl(1).\n");
}

static _Noreturn void turnctl_bad(const char *what, const char *arg)
{
	fprintf(stderr, "turnctl: %s%s\n", arg, what);
	turnctl_usage(stderr);
	exit(TURNCTL_EXIT_USAGE);
}

/* A whole number for a JSON member: digits only. */
static void turnctl_number(struct json_out *o, const char *key, const char *text)
{
	char *end;
	unsigned long long v = strtoull(text, &end, 10);

	if (!*text || *end || text[0] == '-')
		turnctl_bad(": not a whole number", text);
	json_out_u64(o, key, v);
}

/* What the command line says. */
struct turnctl_cli {
	const char *path; /* NULL: the default */
	bool raw; /* --json */
	const char *cmd;
	const char *arg; /* kill's SESSION, kill-user's USER */
	const char *user, *peer, *ban, *ttl;
};

/* Options may come before or after the command (GNU getopt permutes);
 * each command takes only its own. */
static void turnctl_parse(int argc, char **argv, struct turnctl_cli *cli)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},	  {"user", required_argument, NULL, 'u'},
		{"peer", required_argument, NULL, 'p'},	  {"ban", required_argument, NULL, 'b'},
		{"ttl", required_argument, NULL, 't'},	  {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': cli->path = optarg; break;
		case 'j': cli->raw = true; break;
		case 'h': turnctl_usage(stdout); exit(0);
		case 'u': cli->user = optarg; break;
		case 'p': cli->peer = optarg; break;
		case 'b': cli->ban = optarg; break;
		case 't': cli->ttl = optarg; break;
		default: turnctl_usage(stderr); exit(TURNCTL_EXIT_USAGE);
		}
	}
	if (optind >= argc)
		turnctl_bad("a command is needed", "");
	cli->cmd = argv[optind++];
	if (optind < argc)
		cli->arg = argv[optind++];
	if (optind < argc)
		turnctl_bad(": unexpected argument", argv[optind]);
}

/* The request line for cli, checked against what its command takes. */
static void turnctl_request(const struct turnctl_cli *cli, struct json_out *o)
{
	static const char *const cmds[] = {"status",	  "sessions", "kill",	"kill-user",
					   "credentials", "drain",    "reload", "users"};
	const char *cmd = cli->cmd;
	bool sessions = strcmp(cmd, "sessions") == 0, creds = strcmp(cmd, "credentials") == 0;
	bool kill_user = strcmp(cmd, "kill-user") == 0, kill = strcmp(cmd, "kill") == 0;
	size_t i = 0;

	while (i < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmd, cmds[i]) != 0)
		i++;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		turnctl_bad(": unknown command", cmd);
	if ((cli->user && !sessions && !creds) || (cli->peer && !sessions) ||
	    (cli->ban && !kill_user) || (cli->ttl && !creds))
		turnctl_bad(": an option this command does not take", cmd);
	if (!cli->arg != !(kill || kill_user))
		turnctl_bad(kill || kill_user ? ": one argument expected"
					      : ": no argument expected",
			    cmd);
	json_out_open(o, NULL, '{');
	json_out_str(o, "cmd", cmd);
	if (cli->arg)
		json_out_str(o, kill ? "session" : "user", cli->arg);
	if (cli->user)
		json_out_str(o, "user", cli->user);
	if (cli->peer)
		json_out_str(o, "peer", cli->peer);
	if (cli->ban)
		turnctl_number(o, "ban", cli->ban);
	if (cli->ttl)
		turnctl_number(o, "ttl", cli->ttl);
	json_out_close(o, '}');
	o->comma = false; /* the end of the line, not another value */
	json_out_raw(o, "\n", 1);
}

/* Connect to path; -1 with a message printed. */
static int turnctl_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "turnctl: %s: path too long\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "turnctl: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send the request line and read the answer line (malloc'd, without its
 * newline); NULL with a message printed. */
static char *turnctl_exchange(int fd, const char *req, size_t len, size_t *alen)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	for (size_t off = 0; buf && off < len;) {
		ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			/* The daemon may have refused us and closed: what it
			 * said before that is still to be read. */
			break;
		}
		off += (size_t)k;
	}
	while (buf) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, TURNCTL_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "turnctl: no answer within %d s\n",
				TURNCTL_TIMEOUT_MS / 1000);
			break;
		}
		if (n + 1 >= cap) {
			char *b = cap < TURNCTL_ANSWER_MAX ? realloc(buf, cap * 2) : NULL;
			if (!b) {
				fprintf(stderr, "turnctl: answer too long\n");
				break;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			fprintf(stderr,
				"turnctl: the daemon closed the connection without an answer\n");
			break;
		}
		char *eol = memchr(buf + n, '\n', (size_t)k);
		n += (size_t)k;
		if (eol) {
			*eol = '\0';
			*alen = (size_t)(eol - buf);
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* ---- tables ---- */

/* A cell: a scalar as text, an array as its items joined by ','. */
static void turnctl_cell(const struct json_tree *v, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	switch (v->type) {
	case JSON_TREE_STRING: snprintf(out, cap, "%s", v->string); return;
	case JSON_TREE_NUMBER: snprintf(out, cap, "%.0f", v->number); return;
	case JSON_TREE_TRUE: snprintf(out, cap, "yes"); return;
	case JSON_TREE_FALSE: snprintf(out, cap, "no"); return;
	case JSON_TREE_NULL: snprintf(out, cap, "-"); return;
	default: break;
	}
	for (size_t i = 0; i < v->n && o + 1 < cap; i++) {
		char item[256];
		turnctl_cell(&v->items[i], item, sizeof(item));
		int k = snprintf(out + o, cap - o, "%s%s", i ? "," : "", item);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	if (!v->n)
		snprintf(out, cap, "-");
}

/* Columns a table leaves to --json: the same for every row. */
static bool turnctl_hidden(const char *key)
{
	return strcmp(key, "realm") == 0 || strcmp(key, "server") == 0 ||
	       strcmp(key, "relay_transport") == 0;
}

#define TURNCTL_CELL 512

/* An array of objects as a table: the first row's members as columns. */
static void turnctl_table(const struct json_tree *rows)
{
	if (!rows->n || rows->items[0].type != JSON_TREE_OBJECT)
		return;
	const struct json_tree *head = &rows->items[0];
	size_t cols = head->n;
	size_t *width = calloc(cols ? cols : 1, sizeof(*width));
	char cell[TURNCTL_CELL];

	if (!width)
		return;
	for (size_t c = 0; c < cols; c++)
		width[c] = strlen(head->keys[c]);
	for (size_t r = 0; r < rows->n; r++)
		for (size_t c = 0; c < cols; c++) {
			const struct json_tree *v = json_tree_get(&rows->items[r], head->keys[c]);
			turnctl_cell(v ? v : &(struct json_tree){.type = JSON_TREE_NULL}, cell,
				     sizeof(cell));
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	for (size_t c = 0; c < cols; c++)
		if (!turnctl_hidden(head->keys[c]))
			printf("%-*s  ", (int)width[c], head->keys[c]);
	printf("\n");
	for (size_t r = 0; r < rows->n; r++) {
		for (size_t c = 0; c < cols; c++) {
			const struct json_tree *v = json_tree_get(&rows->items[r], head->keys[c]);
			if (turnctl_hidden(head->keys[c]))
				continue;
			turnctl_cell(v ? v : &(struct json_tree){.type = JSON_TREE_NULL}, cell,
				     sizeof(cell));
			printf("%-*s  ", (int)width[c], cell);
		}
		printf("\n");
	}
	free(width);
}

/* The answer for people: scalars as "key: value" lines, lists as tables. */
static void turnctl_print(const struct json_tree *ans)
{
	char cell[TURNCTL_CELL];

	for (size_t i = 0; i < ans->n; i++) {
		const struct json_tree *v = &ans->items[i];
		if (strcmp(ans->keys[i], "ok") == 0)
			continue;
		if (v->type == JSON_TREE_ARRAY && v->n && v->items[0].type == JSON_TREE_OBJECT) {
			turnctl_table(v);
			continue;
		}
		if (v->type == JSON_TREE_ARRAY && !v->n) {
			printf("(no %s)\n", ans->keys[i]);
			continue;
		}
		turnctl_cell(v, cell, sizeof(cell));
		printf("%s: %s\n", ans->keys[i], cell);
	}
}

/* Print the answer; the exit status it means. */
static int turnctl_answer(const char *line, size_t len, bool raw)
{
	struct json_tree *ans;
	char err[128];

	if (json_tree_parse(line, len, &ans, err, sizeof(err)) < 0 ||
	    ans->type != JSON_TREE_OBJECT) {
		fprintf(stderr, "turnctl: the daemon's answer is not a JSON object (%s)\n", err);
		json_tree_free(ans);
		return TURNCTL_EXIT_CONNECT;
	}
	const struct json_tree *ok = json_tree_get(ans, "ok");
	int rc = ok && ok->type == JSON_TREE_TRUE ? 0 : TURNCTL_EXIT_ERROR;
	const char *why = json_tree_get_string(ans, "error");
	if (raw)
		printf("%s\n", line);
	else if (rc == 0)
		turnctl_print(ans);
	if (rc && !raw)
		fprintf(stderr, "turnctl: %s\n", why ? why : "the daemon refused");
	json_tree_free(ans);
	return rc;
}

int main(int argc, char **argv)
{
	struct turnctl_cli cli = {0};
	struct json_out o = {0};
	char dflt[256];
	size_t len, alen = 0;

	turnctl_parse(argc, argv, &cli);
	turnctl_request(&cli, &o);
	if (!cli.path && control_path_default(dflt, sizeof(dflt)) < 0) {
		fprintf(stderr, "turnctl: no default socket for this user: give -s PATH\n");
		json_out_free(&o);
		return TURNCTL_EXIT_CONNECT;
	}
	int fd = turnctl_connect(cli.path ? cli.path : dflt);
	char *req = json_out_take(&o, &len);
	char *answer = fd >= 0 && req ? turnctl_exchange(fd, req, len, &alen) : NULL;
	free(req);
	if (fd >= 0)
		close(fd);
	int rc = answer ? turnctl_answer(answer, alen, cli.raw) : TURNCTL_EXIT_CONNECT;
	free(answer);
	return rc;
}
