/* Unit tests for src/conf: defaults, every option, list syntax, every kind
 * of error with its file:line:option text, overrides, user keys, peer
 * ranges, and the sample file shipped in conf/turnd.conf. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "util/log.h"

#define ERR_MAX 512

/* The overrides that change nothing (log_level -1 means keep). */
static const struct conf_overrides no_overrides = {.log_level = -1};

static struct conf *load_ok(const char *text, const struct conf_overrides *ov)
{
	struct conf *c = NULL;
	char err[ERR_MAX] = "";

	if (conf_load_string(text, "t.conf", ov, &c, err, sizeof(err)) != 0)
		ck_abort_msg("unexpected error: %s", err);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Loading fails and the message contains want (file:line: option ...). */
static void load_fails_ov(const char *text, const struct conf_overrides *ov, const char *want)
{
	struct conf *c = (struct conf *)&c; /* must be reset to NULL */
	char err[ERR_MAX] = "";

	ck_assert_int_eq(conf_load_string(text, "t.conf", ov, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c);
	if (!strstr(err, want))
		ck_abort_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void load_fails(const char *text, const char *want)
{
	load_fails_ov(text, NULL, want);
}

static const char *ip(const struct turn_addr *a, char *buf)
{
	return turn_addr_format(a, false, buf, TURN_ADDR_STRLEN);
}

static const char *ipport(const struct turn_addr *a, char *buf)
{
	return turn_addr_format(a, true, buf, TURN_ADDR_STRLEN);
}

static const char *hex(const uint8_t *key, char *buf)
{
	for (size_t i = 0; i < STUN_KEY_MD5_LEN; i++)
		sprintf(buf + 2 * i, "%02x", key[i]);
	return buf;
}

START_TEST(defaults_without_file)
{
	struct conf *c = NULL;
	char err[ERR_MAX] = "";
	char b[TURN_ADDR_STRLEN];

	ck_assert_int_eq(conf_load(NULL, NULL, &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c->path);
	ck_assert_uint_eq(c->listening_port, CONF_DEFAULT_PORT);
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(ipport(&c->listen[0], b), "0.0.0.0:3478");
	ck_assert_str_eq(ipport(&c->listen[1], b), "[::]:3478");
	ck_assert(!c->no_udp);
	ck_assert(!c->no_tcp);
	ck_assert_uint_eq(c->n_relay, 0);
	ck_assert_uint_eq(c->n_external, 0);
	ck_assert_uint_eq(c->min_port, 49152);
	ck_assert_uint_eq(c->max_port, 65535);
	ck_assert_str_eq(c->realm, "turnd");
	ck_assert_uint_eq(c->n_users, 0);
	ck_assert_uint_eq(c->n_secrets, 0);
	ck_assert_uint_eq(c->n_allowed_peers, 0);
	ck_assert_uint_eq(c->n_denied_peers, 0);
	ck_assert(!c->allow_own_peers);
	/* Finite defaults (issue 13 item 11); a freed port waits 60 s. */
	ck_assert_uint_eq(c->user_quota, 32);
	ck_assert_uint_eq(c->total_quota, 8192);
	ck_assert_uint_eq(c->port_quarantine_s, 60);
	ck_assert_uint_eq(c->max_bps, 0);
	ck_assert_uint_eq(c->max_tcp_connections, 64);
	ck_assert_int_eq(c->kernel_offload, CONF_OFFLOAD_AUTO);
	ck_assert_uint_eq(c->n_offload_ifnames, 0);
	ck_assert_uint_eq(c->offload_max_entries, 65536);
	ck_assert_ptr_null(c->cert);
	ck_assert_ptr_null(c->pkey);
	ck_assert_uint_eq(c->workers, 0);
	ck_assert(!c->stun_only);
	ck_assert(c->stun_backward_compat);
	ck_assert_ptr_null(c->software);
	ck_assert_int_eq(c->log_level, LOG_LVL_NOTICE);
	ck_assert(!c->syslog);
	conf_free(c);
}
END_TEST

/* The quotas are finite by default; 0 stays an explicit "unlimited", and
 * 0 turns the port quarantine off. */
START_TEST(zero_quotas_are_unlimited_on_request)
{
	struct conf *c = load_ok("user-quota = 0\ntotal-quota = 0\nrelay-port-quarantine = 0\n",
				 NULL);

	ck_assert_uint_eq(c->user_quota, 0);
	ck_assert_uint_eq(c->total_quota, 0);
	ck_assert_uint_eq(c->port_quarantine_s, 0);
	conf_free(c);
}
END_TEST

START_TEST(empty_text_is_defaults_and_keeps_name)
{
	struct conf *c = load_ok("", NULL);

	ck_assert_str_eq(c->path, "t.conf");
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(c->realm, "turnd");
	conf_free(c);
	c = load_ok("# only a comment\n\n   \n", NULL);
	ck_assert_uint_eq(c->min_port, 49152);
	conf_free(c);
}
END_TEST

static const char full_file[] =
	"# every option\n"
	"listening-ip = { 192.0.2.10, \"2001:db8::10\" }\n"
	"listening-port = 5349\n"
	"no-udp = false\n"
	"no-tcp = true\n"
	"relay-ip = { 192.0.2.20, \"[2001:db8::20]\" }\n"
	"external-ip = { 203.0.113.5/192.0.2.20, 198.51.100.7 }\n"
	"min-port = 40000\n"
	"max-port = 41000\n"
	"realm = example.org\n"
	"user = { \"alice:secret\", \"bob:0x0123456789abcdefFEDCBA9876543210\" }\n"
	"static-auth-secret = { \"s3cr3t-new\", \"s3cr3t-old\" }\n"
	"allowed-peer-ip = { 10.0.0.1, 10.0.0.10-10.0.0.20, \"2001:db8::/32\" }\n"
	"denied-peer-ip = 172.16.0.0/12\n"
	"allow-own-peers = yes\n"
	"user-quota = 10\n"
	"total-quota = 1000\n"
	"relay-port-quarantine = 5\n"
	"max-bps = 125000\n"
	"kernel-offload = on\n"
	"kernel-offload-interfaces = { eth0, \"veth-a.10\" }\n"
	"kernel-offload-max-entries = 1024\n"
	"cert = /etc/turnd/cert.pem\n"
	"pkey = \"/etc/turnd/key.pem\"\n"
	"tls-listening-port = 5350\n"
	"no-tls = false\n"
	"no-dtls = true\n"
	"relay-threads = 4\n"
	"stun-only = yes\n"
	"stun-backward-compatibility = off\n"
	"software = \"turnd 0.1\"\n"
	"log-level = debug\n"
	"syslog = true\n";

START_TEST(full_file_sets_every_option)
{
	struct conf *c = load_ok(full_file, NULL);
	char b[TURN_ADDR_STRLEN], k[2 * STUN_KEY_MD5_LEN + 1];

	ck_assert_str_eq(c->path, "t.conf");
	ck_assert_uint_eq(c->listening_port, 5349);
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(ipport(&c->listen[0], b), "192.0.2.10:5349");
	ck_assert_str_eq(ipport(&c->listen[1], b), "[2001:db8::10]:5349");
	ck_assert(!c->no_udp);
	ck_assert(c->no_tcp);
	ck_assert_uint_eq(c->n_relay, 2);
	ck_assert_str_eq(ip(&c->relay[0], b), "192.0.2.20");
	ck_assert_str_eq(ip(&c->relay[1], b), "2001:db8::20");
	ck_assert_uint_eq(c->n_external, 2);
	ck_assert_str_eq(ip(&c->external[0].public_ip, b), "203.0.113.5");
	ck_assert_str_eq(ip(&c->external[0].private_ip, b), "192.0.2.20");
	ck_assert_str_eq(ip(&c->external[1].public_ip, b), "198.51.100.7");
	ck_assert_uint_eq(c->external[1].private_ip.family, 0);
	ck_assert_uint_eq(c->min_port, 40000);
	ck_assert_uint_eq(c->max_port, 41000);
	ck_assert_uint_eq(c->port_quarantine_s, 5);
	ck_assert_str_eq(c->realm, "example.org");
	ck_assert_uint_eq(c->n_users, 2);
	ck_assert_str_eq(c->users[0].name, "alice");
	ck_assert_str_eq(c->users[0].password, "secret");
	/* printf 'alice:example.org:secret' | md5sum */
	ck_assert_str_eq(hex(c->users[0].key, k), "543e1aec5d3614f03141652d6ada51b2");
	ck_assert_str_eq(c->users[1].name, "bob");
	ck_assert_ptr_null(c->users[1].password);
	ck_assert_str_eq(hex(c->users[1].key, k), "0123456789abcdeffedcba9876543210");
	ck_assert_uint_eq(c->n_secrets, 2);
	ck_assert_str_eq(c->secrets[0], "s3cr3t-new");
	ck_assert_str_eq(c->secrets[1], "s3cr3t-old");
	ck_assert_uint_eq(c->n_allowed_peers, 3);
	ck_assert_uint_eq(c->n_denied_peers, 1);
	ck_assert_str_eq(ip(&c->denied_peers[0].lo, b), "172.16.0.0");
	ck_assert_str_eq(ip(&c->denied_peers[0].hi, b), "172.31.255.255");
	ck_assert(c->allow_own_peers);
	ck_assert_uint_eq(c->user_quota, 10);
	ck_assert_uint_eq(c->total_quota, 1000);
	ck_assert_uint_eq(c->max_bps, 125000);
	ck_assert_int_eq(c->kernel_offload, CONF_OFFLOAD_ON);
	ck_assert_uint_eq(c->n_offload_ifnames, 2);
	ck_assert_str_eq(c->offload_ifnames[0], "eth0");
	ck_assert_str_eq(c->offload_ifnames[1], "veth-a.10");
	ck_assert_uint_eq(c->offload_max_entries, 1024);
	ck_assert_str_eq(c->cert, "/etc/turnd/cert.pem");
	ck_assert_str_eq(c->pkey, "/etc/turnd/key.pem");
	ck_assert_uint_eq(c->tls_listening_port, 5350);
	ck_assert(!c->no_tls);
	ck_assert(c->no_dtls);
	ck_assert_uint_eq(c->workers, 4);
	ck_assert(c->stun_only);
	ck_assert(!c->stun_backward_compat);
	ck_assert_str_eq(c->software, "turnd 0.1");
	ck_assert_int_eq(c->log_level, LOG_LVL_DEBUG);
	ck_assert(c->syslog);
	conf_free(c);
}
END_TEST

START_TEST(file_on_disk_is_read_and_named)
{
	char path[] = "/tmp/check_conf_XXXXXX";
	int fd = mkstemp(path);
	struct conf *c = NULL;
	char err[ERR_MAX] = "";
	char want[128];
	FILE *fp;

	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("realm = disk.example\n", fp);
	fclose(fp);
	ck_assert_int_eq(conf_load(path, NULL, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->path, path);
	ck_assert_str_eq(c->realm, "disk.example");
	conf_free(c);

	fp = fopen(path, "a");
	ck_assert_ptr_nonnull(fp);
	fputs("\nmax-port = 0\n", fp);
	fclose(fp);
	ck_assert_int_eq(conf_load(path, NULL, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s:3: option 'max-port': 0 is not a port (1-65535)", path);
	ck_assert_str_eq(err, want);
	unlink(path);

	ck_assert_int_eq(conf_load("/nonexistent/turnd.conf", NULL, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/turnd.conf: cannot read: No such file or directory");
}
END_TEST

START_TEST(list_syntax)
{
	struct conf *c;
	char b[TURN_ADDR_STRLEN];

	/* A single value without braces is a one-element list, unquoted
	 * IPv6 included. */
	c = load_ok("relay-ip = 127.0.0.1\nlistening-ip = ::1\n", NULL);
	ck_assert_uint_eq(c->n_relay, 1);
	ck_assert_str_eq(ip(&c->relay[0], b), "127.0.0.1");
	ck_assert_uint_eq(c->n_listen, 1);
	ck_assert_str_eq(ipport(&c->listen[0], b), "[::1]:3478");
	conf_free(c);

	/* Braces, over several lines, mixed quoting, trailing comments. */
	c = load_ok("relay-ip = {\n  10.0.0.1,   # first\n  '10.0.0.2',\n  \"::2\"\n}\n", NULL);
	ck_assert_uint_eq(c->n_relay, 3);
	ck_assert_str_eq(ip(&c->relay[1], b), "10.0.0.2");
	ck_assert_str_eq(ip(&c->relay[2], b), "::2");
	conf_free(c);

	/* "+=" appends; "=" again replaces. */
	c = load_ok("user = alice:a\nuser += bob:b\nuser += { carol:c, dave:d }\n", NULL);
	ck_assert_uint_eq(c->n_users, 4);
	ck_assert_str_eq(c->users[3].name, "dave");
	conf_free(c);
	c = load_ok("user = alice:a\nuser = bob:b\n", NULL);
	ck_assert_uint_eq(c->n_users, 1);
	ck_assert_str_eq(c->users[0].name, "bob");
	conf_free(c);

	/* An empty list is the default: listen everywhere. */
	c = load_ok("listening-ip = {}\n", NULL);
	ck_assert_uint_eq(c->n_listen, 2);
	conf_free(c);

	/* Several settings on one line, and decimal (not octal) numbers. */
	c = load_ok("min-port = 010 max-port = 20\n", NULL);
	ck_assert_uint_eq(c->min_port, 10);
	ck_assert_uint_eq(c->max_port, 20);
	conf_free(c);

	/* An empty software string sends no SOFTWARE attribute. */
	c = load_ok("software = \"\"\n", NULL);
	ck_assert_ptr_null(c->software);
	conf_free(c);
}
END_TEST

/* Comments are removed before libconfuse sees the text (it miscounts lines
 * after them and refuses them inside lists); what is inside quotes or an
 * unquoted path stays. */
START_TEST(comments_keep_line_numbers)
{
	struct conf *c;

	load_fails("# one\n# two\n   # three\nmin-port = 70000\n",
		   "t.conf:4: option 'min-port': 70000 is not a port");
	load_fails("/* one\n two */ realm = x // three\n\nmax-port = 0 # four\n",
		   "t.conf:4: option 'max-port': 0 is not a port");
	load_fails("realm = \"a#b\" # c\nmax-port = 0\n", "t.conf:2: option 'max-port'");
	load_fails("realm = 'multi\nline' # c\n#\nmax-port = 0\n", "t.conf:4: option 'max-port'");
	load_fails("realm = x\n/* never\nends\n", "t.conf:2: unterminated /* comment");
	c = load_ok("relay-ip = { # why these\n  10.0.0.1, # first\n  # none here\n  10.0.0.2 }\n"
		    "realm = \"a#b // c /* d */\"\nsoftware = 'it\\'s # not a comment' # one\n",
		    NULL);
	ck_assert_uint_eq(c->n_relay, 2);
	ck_assert_str_eq(c->realm, "a#b // c /* d */");
	ck_assert_str_eq(c->software, "it's # not a comment");
	conf_free(c);
	c = load_ok("cert = /etc//turnd/c.pem#x\npkey = /k.pem//y\n", NULL);
	ck_assert_str_eq(c->cert, "/etc//turnd/c.pem");
	ck_assert_str_eq(c->pkey, "/k.pem//y");
	conf_free(c);
}
END_TEST

/* libconfuse expands ${VAR} and ${VAR:-default}, unquoted (as the whole
 * value) and in double quotes, not in single quotes. */
START_TEST(environment_variables)
{
	struct conf *c;

	ck_assert_int_eq(setenv("TURND_CHECK_REALM", "env.example", 1), 0);
	unsetenv("TURND_CHECK_UNSET");
	c = load_ok("realm = ${TURND_CHECK_REALM}\n"
		    "software = \"turnd at ${TURND_CHECK_REALM}\"\n"
		    "cert = ${TURND_CHECK_UNSET:-/etc/turnd/c.pem}\n"
		    "pkey = '${TURND_CHECK_REALM}'\n",
		    NULL);
	ck_assert_str_eq(c->realm, "env.example");
	ck_assert_str_eq(c->software, "turnd at env.example");
	ck_assert_str_eq(c->cert, "/etc/turnd/c.pem");
	ck_assert_str_eq(c->pkey, "${TURND_CHECK_REALM}");
	conf_free(c);
	/* An unset variable gives an empty value, which the checks catch. */
	load_fails("\nstatic-auth-secret = \"${TURND_CHECK_UNSET}\"\n",
		   "t.conf:2: option 'static-auth-secret': a secret is empty");
	unsetenv("TURND_CHECK_REALM");
}
END_TEST

START_TEST(syntax_and_unknown_option_errors)
{
	load_fails("realm = a\n\nfoo = 1\n", "t.conf:3: no such option 'foo'");
	load_fails("Realm = a\n", "t.conf:1: no such option 'Realm'");
	load_fails("\nmin-port 5\n", "t.conf:2: missing equal sign after option 'min-port'");
	load_fails("realm = {\n", "t.conf:1: unexpected token '{'");
	load_fails("relay-ip = { 10.0.0.1 10.0.0.2 }\n", "t.conf:1: unexpected token '10.0.0.2'");
	load_fails("realm = 'open\n\n", "t.conf:3: unterminated string constant");
	load_fails("realm =\n", "t.conf:2: premature end of file");
	load_fails("realm += x\n", "t.conf:1: attempt to append to non-list option 'realm'");
}
END_TEST

START_TEST(max_tcp_connections)
{
	struct conf *c = load_ok("max-tcp-connections = 0\n", NULL);

	ck_assert_uint_eq(c->max_tcp_connections, 0); /* no limit */
	conf_free(c);
	c = load_ok("max-tcp-connections = 8\n", NULL);
	ck_assert_uint_eq(c->max_tcp_connections, 8);
	conf_free(c);
}
END_TEST

/* Answers to unauthenticated requests (issue 13 item 7): on by default,
 * 0 turns the limit off, a burst of 0 would answer nothing and is refused. */
START_TEST(unauth_limits)
{
	struct conf *c = load_ok("realm = x\n", NULL);

	ck_assert_uint_eq(c->unauth_rate, CONF_UNAUTH_RATE);
	ck_assert_uint_eq(c->unauth_burst, CONF_UNAUTH_BURST);
	ck_assert_uint_gt(c->unauth_rate, 0);
	conf_free(c);
	c = load_ok("unauth-rate = 0\nunauth-burst = 5\n", NULL);
	ck_assert_uint_eq(c->unauth_rate, 0);
	ck_assert_uint_eq(c->unauth_burst, 5);
	conf_free(c);
	load_fails("unauth-burst = 0\n",
		   "t.conf:1: option 'unauth-burst': 0 is not a count of answers (1-1000000)");
	load_fails("unauth-rate = 1000001\n",
		   "t.conf:1: option 'unauth-rate': 1000001 is not a rate in answers per second "
		   "(0: off) (0-1000000)");
}
END_TEST

START_TEST(rx_coalesce)
{
	struct conf *c = load_ok("realm = x\n", NULL);

	ck_assert_uint_eq(c->rx_coalesce_us, 0); /* off unless asked for */
	conf_free(c);
	c = load_ok("rx-coalesce-us = 1000\n", NULL);
	ck_assert_uint_eq(c->rx_coalesce_us, 1000);
	conf_free(c);
	load_fails("rx-coalesce-us = 1001\n",
		   "t.conf:1: option 'rx-coalesce-us': 1001 is not a time in microseconds (0-1000)");
	load_fails("rx-coalesce-us = -1\n",
		   "t.conf:1: option 'rx-coalesce-us': -1 is not a time in microseconds (0-1000)");
}
END_TEST

START_TEST(connection_limits)
{
	struct conf *c = load_ok("realm = x\n", NULL);

	/* The defaults turnd.conf(5) explains. */
	ck_assert_uint_eq(c->max_connections_per_ip, 500);
	ck_assert_uint_eq(c->max_connections, 10000);
	ck_assert_uint_eq(c->first_message_timeout_s, 10);
	ck_assert_uint_eq(c->max_allocate_timeout_s, 60);
	ck_assert_uint_eq(c->preauth_buffer, 2048);
	conf_free(c);
	c = load_ok("max-connections-per-ip = 5\nmax-connections = 0\n"
		    "first-message-timeout = 2\nmax-allocate-timeout = 3\npreauth-buffer = 548\n",
		    NULL);
	ck_assert_uint_eq(c->max_connections_per_ip, 5);
	ck_assert_uint_eq(c->max_connections, 0); /* no cap */
	ck_assert_uint_eq(c->first_message_timeout_s, 2);
	ck_assert_uint_eq(c->max_allocate_timeout_s, 3);
	ck_assert_uint_eq(c->preauth_buffer, 548);
	conf_free(c);
	load_fails("first-message-timeout = 0\n",
		   "t.conf:1: option 'first-message-timeout': 0 is not a time in seconds (1-300)");
	load_fails("max-allocate-timeout = 3601\n",
		   "t.conf:1: option 'max-allocate-timeout': 3601 is not a time in seconds (1-3600)");
	load_fails("preauth-buffer = 547\n",
		   "t.conf:1: option 'preauth-buffer': 547 is not a size in bytes (548-65540)");
	load_fails("max-connections-per-ip = -1\n",
		   "t.conf:1: option 'max-connections-per-ip': -1 is not a connection count "
		   "(0: no cap) (0-1000000)");
}
END_TEST

/* bps-capacity, user-max-bps, user-usage-linger and -interval (issue 16). */
START_TEST(bandwidth_options)
{
	struct conf *c = load_ok("realm = x\n", NULL);

	ck_assert_uint_eq(c->bps_capacity, 0); /* no cap */
	ck_assert_uint_eq(c->user_max_bps, 0);
	ck_assert_uint_eq(c->usage_linger_s, 600);
	ck_assert_uint_eq(c->usage_interval_s, 60);
	conf_free(c);
	c = load_ok("bps-capacity = 1099511627776\nuser-max-bps = 125000\n"
		    "user-usage-linger = 0\nuser-usage-interval = 0\n",
		    NULL);
	ck_assert_uint_eq(c->bps_capacity, 1099511627776ull);
	ck_assert_uint_eq(c->user_max_bps, 125000);
	ck_assert_uint_eq(c->usage_linger_s, 0);
	ck_assert_uint_eq(c->usage_interval_s, 0);
	conf_free(c);
	load_fails("bps-capacity = 1099511627777\n",
		   "t.conf:1: option 'bps-capacity': 1099511627777 is not a rate in bytes per "
		   "second (0: no cap) (0-1099511627776)");
	load_fails("user-max-bps = -1\n", "t.conf:1: option 'user-max-bps': -1 is not a rate");
	load_fails("user-usage-linger = 604801\n",
		   "t.conf:1: option 'user-usage-linger': 604801 is not a time in seconds");
	load_fails("user-usage-interval = 86401\n",
		   "t.conf:1: option 'user-usage-interval': 86401 is not a time in seconds");
}
END_TEST

START_TEST(number_and_boolean_errors)
{
	load_fails("realm = x\n\nmin-port = 70000\n",
		   "t.conf:3: option 'min-port': 70000 is not a port (1-65535)");
	load_fails("max-port = 0\n", "t.conf:1: option 'max-port': 0 is not a port (1-65535)");
	load_fails("relay-port-quarantine = 3601\n",
		   "t.conf:1: option 'relay-port-quarantine': 3601 is not a time in seconds (0-3600)");
	load_fails("listening-port = -1\n",
		   "t.conf:1: option 'listening-port': -1 is not a port (1-65535)");
	load_fails("listening-port = abc\n",
		   "t.conf:1: option 'listening-port': 'abc' is not a whole number");
	load_fails("listening-port = 12x\n",
		   "t.conf:1: option 'listening-port': '12x' is not a whole number");
	load_fails("max-bps = 99999999999999999999999\n",
		   "t.conf:1: option 'max-bps': '99999999999999999999999' is out of range");
	load_fails("max-bps = -1\n", "t.conf:1: option 'max-bps': -1 is not a rate");
	load_fails("user-quota = -1\n",
		   "t.conf:1: option 'user-quota': -1 is not a quota (0-2147483647)");
	load_fails("total-quota = 2147483648\n",
		   "t.conf:1: option 'total-quota': 2147483648 is not a quota (0-2147483647)");
	load_fails("max-tcp-connections = 65536\n",
		   "t.conf:1: option 'max-tcp-connections': 65536 is not a count (0-65535)");
	load_fails("realm = x\nkernel-offload = maybe\n",
		   "t.conf:2: option 'kernel-offload': 'maybe' is not auto, on or off");
	load_fails("kernel-offload-interfaces = { eth0,\n \"a/b\" }\n",
		   "t.conf:2: option 'kernel-offload-interfaces': 'a/b' is not an interface name "
		   "(1-15 characters, no '/', ':' or blank)");
	load_fails("kernel-offload-interfaces = \"0123456789abcdef\"\n",
		   "t.conf:1: option 'kernel-offload-interfaces': '0123456789abcdef' is not an "
		   "interface name (1-15 characters, no '/', ':' or blank)");
	load_fails("kernel-offload-max-entries = 0\n",
		   "t.conf:1: option 'kernel-offload-max-entries': 0 is not a channel count "
		   "(1-16777216)");
	load_fails("relay-threads = 65\n",
		   "t.conf:1: option 'relay-threads': 65 is not a thread count (0-64)");
	load_fails(
		"no-udp = maybe\n",
		"t.conf:1: option 'no-udp': 'maybe' is not a boolean (true/false, yes/no, on/off)");
	load_fails("\n\nsyslog = 1\n", "t.conf:3: option 'syslog': '1' is not a boolean");
}
END_TEST

START_TEST(address_errors)
{
	load_fails("listening-ip = { 192.0.2.1,\n  bogus }\n",
		   "t.conf:2: option 'listening-ip': 'bogus' is not an IP address");
	load_fails("listening-ip = 192.0.2.1:3478\n",
		   "t.conf:1: option 'listening-ip': '192.0.2.1:3478' has a port; give the IP "
		   "address alone");
	load_fails("relay-ip = \"[::1]:5000\"\n",
		   "t.conf:1: option 'relay-ip': '[::1]:5000' has a port");
	load_fails("listening-ip = {\n 10.0.0.1,\n ::1,\n \"[::1]\"\n}\n",
		   "t.conf:4: option 'listening-ip': '[::1]' is given twice");
	load_fails("listening-ip = 10.0.0.1\nlistening-ip += 10.0.0.1\n",
		   "t.conf:2: option 'listening-ip': '10.0.0.1' is given twice");
	load_fails("relay-ip = 300.1.1.1\n",
		   "t.conf:1: option 'relay-ip': '300.1.1.1' is not an IP address");
	load_fails("external-ip = 203.0.113.1/::1\n",
		   "t.conf:1: option 'external-ip': '203.0.113.1/::1': the public and private "
		   "addresses are of different families");
	load_fails("external-ip = 203.0.113.1/x\n",
		   "t.conf:1: option 'external-ip': '203.0.113.1/x': 'x' is not an IP address");
}
END_TEST

START_TEST(user_and_text_errors)
{
	load_fails("user = { \"alice:a\",\n \"nocolon\" }\n",
		   "t.conf:2: option 'user': an entry has no ':'");
	load_fails("user = \":pw\"\n", "t.conf:1: option 'user': a user has an empty name");
	load_fails("user = \"alice:\"\n",
		   "t.conf:1: option 'user': user 'alice': the password is empty");
	load_fails("user = \"bob:0x0123\"\n", "t.conf:1: option 'user': user 'bob': a key is 0x "
					      "and exactly 32 hex digits, not 4");
	load_fails("user = \"bob:0x0123456789abcdef0123456789abcdeg\"\n",
		   "t.conf:1: option 'user': user 'bob': the key has a character that is not a hex "
		   "digit");
	load_fails("user = { alice:a, bob:b,\n alice:c }\n",
		   "t.conf:2: option 'user': user 'alice' is given twice");
	/* U+0007 is a control character SASLprep prohibits. */
	load_fails("user = \"eve:a\\ab\"\n",
		   "t.conf:1: option 'user': user 'eve': the password is not valid UTF-8 or has a "
		   "character SASLprep prohibits");
	load_fails("static-auth-secret = { a, \"\" }\n",
		   "t.conf:1: option 'static-auth-secret': a secret is empty");
	load_fails("realm = \"\"\n", "t.conf:1: option 'realm': must not be empty");
	load_fails("log-level = loud\n", "t.conf:1: option 'log-level': 'loud' is not a log level "
					 "(error, warn, notice, info, debug)");
	load_fails("cert = \"\"\n", "t.conf:1: option 'cert': the path is empty");
}
END_TEST

START_TEST(software_length_limit)
{
	char text[1024];
	char value[800];
	struct conf *c;

	memset(value, 'a', 127);
	value[127] = '\0';
	snprintf(text, sizeof(text), "software = \"%s\"\n", value);
	c = load_ok(text, NULL);
	ck_assert_uint_eq(strlen(c->software), 127);
	conf_free(c);
	memset(value, 'a', 128);
	value[128] = '\0';
	snprintf(text, sizeof(text), "\nsoftware = \"%s\"\n", value);
	load_fails(text, "t.conf:2: option 'software': is 128 characters (128 bytes) long; at most "
			 "127 characters and 763 bytes");
}
END_TEST

START_TEST(cross_option_errors)
{
	load_fails("min-port = 60000\nmax-port = 50000\n",
		   "t.conf: option 'min-port' (60000) is greater than option 'max-port' (50000)");
	load_fails("cert = /c.pem\n", "t.conf: option 'cert' is given without option 'pkey'");
	load_fails("pkey = /k.pem\n", "t.conf: option 'pkey' is given without option 'cert'");
	load_fails("no-udp = true\nno-tcp = true\n",
		   "t.conf: options 'no-udp' and 'no-tcp' are both true: nothing would listen");
}
END_TEST

START_TEST(overrides_apply_after_file)
{
	static const char *const listen[] = {"127.0.0.1", "::1", NULL};
	static const char *const none[] = {NULL};
	struct conf_overrides ov = {
		.listen = listen, .listening_port = 4000, .log_level = LOG_LVL_INFO};
	struct conf *c;
	char b[TURN_ADDR_STRLEN];

	c = load_ok("listening-ip = 192.0.2.1\nlistening-port = 5000\nlog-level = error\n", &ov);
	ck_assert_uint_eq(c->listening_port, 4000);
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(ipport(&c->listen[0], b), "127.0.0.1:4000");
	ck_assert_str_eq(ipport(&c->listen[1], b), "[::1]:4000");
	ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
	conf_free(c);

	/* Zero / NULL / -1 keep the file's values. */
	c = load_ok("listening-ip = 192.0.2.1\nlistening-port = 5000\nlog-level = error\n",
		    &no_overrides);
	ck_assert_str_eq(ipport(&c->listen[0], b), "192.0.2.1:5000");
	ck_assert_int_eq(c->log_level, LOG_LVL_ERROR);
	conf_free(c);

	/* An empty override list means the wildcard addresses. */
	ov = (struct conf_overrides){.listen = none, .log_level = -1};
	c = load_ok("listening-ip = 192.0.2.1\n", &ov);
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(ipport(&c->listen[0], b), "0.0.0.0:3478");
	conf_free(c);

	/* Overrides also apply to the embedded default. */
	ov = (struct conf_overrides){.listening_port = 3479, .log_level = -1};
	ck_assert_int_eq(conf_load(NULL, &ov, &c, NULL, 0), 0);
	ck_assert_str_eq(ipport(&c->listen[0], b), "0.0.0.0:3479");
	conf_free(c);
}
END_TEST

START_TEST(override_errors)
{
	static const char *const bad[] = {"127.0.0.1", "bogus", NULL};
	static const char *const dup[] = {"::1", "[::1]", NULL};
	struct conf_overrides ov = {.listen = bad, .log_level = -1};

	load_fails_ov("", &ov, "command line: option 'listening-ip': 'bogus' is not an IP address");
	ov.listen = dup;
	load_fails_ov("", &ov, "command line: option 'listening-ip': '[::1]' is given twice");
	ov = (struct conf_overrides){.log_level = 9};
	load_fails_ov("", &ov, "command line: option 'log-level': 9 is not a log level (0-4)");
	/* The cross checks see the final values. */
	ov = (struct conf_overrides){.log_level = -1};
	load_fails_ov(
		"min-port = 60000\nmax-port = 50000\n", &ov,
		"t.conf: option 'min-port' (60000) is greater than option 'max-port' (50000)");
}
END_TEST

START_TEST(user_keys)
{
	struct conf *c;
	char k[2 * STUN_KEY_MD5_LEN + 1];

	/* printf 'alice:turnd:secret' | md5sum */
	c = load_ok("user = alice:secret\n", NULL);
	ck_assert_str_eq(hex(c->users[0].key, k), "fdb6e081b8154c94704670e2f1cf75c0");
	/* The realm may come after the users: keys are derived at the end. */
	conf_free(c);
	c = load_ok("user = alice:secret\nrealm = example.org\n", NULL);
	ck_assert_str_eq(hex(c->users[0].key, k), "543e1aec5d3614f03141652d6ada51b2");
	/* The part after the first ':' is the password, colons included. */
	conf_free(c);
	c = load_ok("user = \"carol:a:b\"\n", NULL);
	ck_assert_str_eq(c->users[0].name, "carol");
	ck_assert_str_eq(c->users[0].password, "a:b");
	/* conf_add_user derives with the conf's realm; printf
	 * 'bob:turnd:hunter2' | md5sum */
	ck_assert_int_eq(conf_add_user(c, "bob", "hunter2"), 0);
	ck_assert_uint_eq(c->n_users, 2);
	ck_assert_str_eq(c->users[1].name, "bob");
	ck_assert_str_eq(c->users[1].password, "hunter2");
	ck_assert_str_eq(hex(c->users[1].key, k), "224fbf4d8b501807752f8f8f946b306e");
	ck_assert_int_eq(conf_add_user(c, "bob", "other"), -1);
	ck_assert_int_eq(conf_add_user(c, "", "pw"), -1);
	ck_assert_int_eq(conf_add_user(c, "dave", ""), -1);
	ck_assert_int_eq(conf_add_user(NULL, "dave", "pw"), -1);
	ck_assert_uint_eq(c->n_users, 2);
	conf_free(c);
}
END_TEST

START_TEST(peer_ranges)
{
	struct conf *c;
	char b[TURN_ADDR_STRLEN];

	c = load_ok("allowed-peer-ip = { 192.0.2.7, 10.0.0.10-10.0.0.20, 10.1.2.3/8,\n"
		    "  \"2001:db8::/32\", \"::1-::2\", 0.0.0.0/0, \"[2001:db8::1]/128\" }\n",
		    NULL);
	ck_assert_uint_eq(c->n_allowed_peers, 7);
	ck_assert_str_eq(ip(&c->allowed_peers[0].lo, b), "192.0.2.7");
	ck_assert_str_eq(ip(&c->allowed_peers[0].hi, b), "192.0.2.7");
	ck_assert_str_eq(ip(&c->allowed_peers[1].lo, b), "10.0.0.10");
	ck_assert_str_eq(ip(&c->allowed_peers[1].hi, b), "10.0.0.20");
	/* Host bits of a prefix are ignored. */
	ck_assert_str_eq(ip(&c->allowed_peers[2].lo, b), "10.0.0.0");
	ck_assert_str_eq(ip(&c->allowed_peers[2].hi, b), "10.255.255.255");
	ck_assert_str_eq(ip(&c->allowed_peers[3].lo, b), "2001:db8::");
	ck_assert_str_eq(ip(&c->allowed_peers[3].hi, b), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_str_eq(ip(&c->allowed_peers[4].lo, b), "::1");
	ck_assert_str_eq(ip(&c->allowed_peers[4].hi, b), "::2");
	ck_assert_str_eq(ip(&c->allowed_peers[5].lo, b), "0.0.0.0");
	ck_assert_str_eq(ip(&c->allowed_peers[5].hi, b), "255.255.255.255");
	ck_assert_str_eq(ip(&c->allowed_peers[6].lo, b), "2001:db8::1");
	ck_assert_str_eq(ip(&c->allowed_peers[6].hi, b), "2001:db8::1");
	ck_assert_uint_eq(c->allowed_peers[0].lo.port, 0);
	conf_free(c);

	/* A non-octet prefix. */
	c = load_ok("denied-peer-ip = 192.168.0.0/23\n", NULL);
	ck_assert_str_eq(ip(&c->denied_peers[0].hi, b), "192.168.1.255");
	conf_free(c);

	load_fails("denied-peer-ip = 10.0.0.1-::1\n",
		   "t.conf:1: option 'denied-peer-ip': '10.0.0.1-::1': the two addresses are of "
		   "different families");
	load_fails("\nallowed-peer-ip = 10.0.0.20-10.0.0.10\n",
		   "t.conf:2: option 'allowed-peer-ip': '10.0.0.20-10.0.0.10': the first address "
		   "is greater than the second");
	load_fails("allowed-peer-ip = 10.0.0.0/33\n",
		   "t.conf:1: option 'allowed-peer-ip': '10.0.0.0/33': the prefix length must be "
		   "0-32");
	load_fails("allowed-peer-ip = \"::/129\"\n",
		   "t.conf:1: option 'allowed-peer-ip': '::/129': the prefix length must be 0-128");
	load_fails("allowed-peer-ip = 10.0.0.0/x\n",
		   "t.conf:1: option 'allowed-peer-ip': '10.0.0.0/x': 'x' is not a prefix length");
	load_fails("allowed-peer-ip = 10.0.0.1-bogus\n",
		   "t.conf:1: option 'allowed-peer-ip': '10.0.0.1-bogus': 'bogus' is not an IP "
		   "address");
	load_fails("allowed-peer-ip = 10.0.0.1:80\n",
		   "t.conf:1: option 'allowed-peer-ip': '10.0.0.1:80': '10.0.0.1:80' has a port");
}
END_TEST

static char *read_sample(void)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	char *text;
	long size;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/conf/turnd.conf", top ? top : ".");
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	return text;
}

/* As shipped (and installed by the Debian package) the sample sets
 * require-credentials and no credential: refused, naming the file; with a
 * user added it loads with the defaults. */
START_TEST(sample_file_parses)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	struct conf *c = NULL;
	char err[ERR_MAX] = "";
	char *text = read_sample();
	char *with_user = NULL;

	snprintf(path, sizeof(path), "%s/conf/turnd.conf", top ? top : ".");
	ck_assert_int_eq(conf_load(path, NULL, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, path) && strstr(err, "'require-credentials' is true") &&
			      strstr(err, "set option 'user' or 'static-auth-secret'"),
		      "unexpected error: %s", err);
	ck_assert_int_ge(asprintf(&with_user, "%suser = \"alice:wonderland\"\n", text), 0);
	c = load_ok(with_user, NULL);
	ck_assert_str_eq(c->realm, "turnd");
	ck_assert_uint_eq(c->listening_port, CONF_DEFAULT_PORT);
	ck_assert_uint_eq(c->n_users, 1);
	conf_free(c);
	free(with_user);
	free(text);
}
END_TEST

/* require-credentials: any one credential source, or stun-only, will do;
 * none is an error; unset (the default), none is accepted as before. */
START_TEST(require_credentials)
{
	static const char *const enough[] = {
		"user = alice:a\n",
		"static-auth-secret = s3cret\n",
		"redis = true\n",
		"auth-url = \"http://127.0.0.1:8088/turn\"\n",
		"stun-only = true\n",
	};
	char text[256];

	load_fails("require-credentials = true\n",
		   "t.conf: no credentials, and option 'require-credentials' is true");
	load_fails("require-credentials = true\nstun-only = false\nuser = {}\n",
		   "or 'stun-only = true' for a STUN-only server");
	for (size_t i = 0; i < sizeof(enough) / sizeof(enough[0]); i++) {
		snprintf(text, sizeof(text), "require-credentials = true\n%s", enough[i]);
		conf_free(load_ok(text, NULL));
	}
	conf_free(load_ok("require-credentials = false\n", NULL));
	conf_free(load_ok("realm = x\n", NULL));
}
END_TEST

/* The sample shows each setting commented out as "#name = value" (no space
 * after '#'); with those lines uncommented it must still load, so every
 * default and example it shows is valid. */
START_TEST(sample_file_settings_are_valid)
{
	char *text = read_sample();
	struct conf *c = NULL;
	char err[ERR_MAX] = "";
	size_t settings = 0;

	for (char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (p[0] == '#' && p[1] >= 'a' && p[1] <= 'z') {
			p[0] = ' ';
			settings++;
		}
	}
	ck_assert_uint_ge(settings, 24);
	if (conf_load_string(text, "turnd.conf (uncommented)", NULL, &c, err, sizeof(err)) != 0)
		ck_abort_msg("%s", err);
	conf_free(c);
	free(text);
}
END_TEST

START_TEST(free_null_and_no_error_buffer)
{
	struct conf *c = NULL;

	conf_free(NULL);
	ck_assert_int_eq(conf_load_string("foo = 1\n", "t.conf", NULL, &c, NULL, 0), -1);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(conf_load_string("realm = x\n", NULL, NULL, &c, NULL, 0), 0);
	ck_assert_ptr_null(c->path);
	conf_free(c);
	load_fails_ov("foo = 1\n", NULL, "t.conf:1:");
	/* Without a name the messages still say where. */
	{
		char err[ERR_MAX];

		ck_assert_int_eq(conf_load_string("foo = 1\n", NULL, NULL, &c, err, sizeof(err)),
				 -1);
		ck_assert_str_eq(err, "(string):1: no such option 'foo'");
	}
}
END_TEST

/* The Redis options: defaults, every value, and their errors. In a build
 * without hiredis, redis = true is an error that names the option. */
START_TEST(redis_options)
{
	struct conf *c = load_ok("", NULL);

	ck_assert(!c->redis.enabled);
	ck_assert_str_eq(c->redis.host, "127.0.0.1");
	ck_assert_uint_eq(c->redis.port, 6379);
	ck_assert_ptr_null(c->redis.socket);
	ck_assert_uint_eq(c->redis.db, 0);
	ck_assert_ptr_null(c->redis.user);
	ck_assert_ptr_null(c->redis.password);
	ck_assert_uint_eq(c->redis.connect_timeout_ms, 1000);
	ck_assert_uint_eq(c->redis.timeout_ms, 1000);
	ck_assert_uint_eq(c->redis.cache_size, 10000);
	ck_assert_uint_eq(c->redis.cache_ttl_s, 60);
	ck_assert_uint_eq(c->redis.negative_ttl_s, 5);
	ck_assert_uint_eq(c->redis.cache_stale_s, 300);
	conf_free(c);
	c = load_ok("redis-host = \"[::1]\"\nredis-port = 6380\nredis-socket = /run/r.sock\n"
		    "redis-db = 2\nredis-user = turnd\nredis-password = \"p w\"\n"
		    "redis-connect-timeout = 50\nredis-timeout = 60000\nredis-cache-size = 16\n"
		    "redis-cache-ttl = 1\nredis-negative-ttl = 86400\nredis-cache-stale = 0\n",
		    NULL);
	ck_assert_str_eq(c->redis.host, "::1");
	ck_assert_uint_eq(c->redis.port, 6380);
	ck_assert_str_eq(c->redis.socket, "/run/r.sock");
	ck_assert_uint_eq(c->redis.db, 2);
	ck_assert_str_eq(c->redis.user, "turnd");
	ck_assert_str_eq(c->redis.password, "p w");
	ck_assert_uint_eq(c->redis.connect_timeout_ms, 50);
	ck_assert_uint_eq(c->redis.timeout_ms, 60000);
	ck_assert_uint_eq(c->redis.cache_size, 16);
	ck_assert_uint_eq(c->redis.cache_ttl_s, 1);
	ck_assert_uint_eq(c->redis.negative_ttl_s, 86400);
	ck_assert_uint_eq(c->redis.cache_stale_s, 0);
	conf_free(c);
#ifdef HAVE_HIREDIS
	c = load_ok("redis = true\n", NULL);
	ck_assert(c->redis.enabled);
	conf_free(c);
#else
	load_fails("redis = true\n", "t.conf:1: option 'redis': this turnd was built without "
				     "Redis support (--without-hiredis)");
#endif
	load_fails("redis-host = localhost\n",
		   "t.conf:1: option 'redis-host': 'localhost' is not an IP address");
	load_fails("redis-port = 0\n", "t.conf:1: option 'redis-port': 0 is not a port (1-65535)");
	load_fails("redis-cache-size = 15\n",
		   "option 'redis-cache-size': 15 is not an entry count");
	load_fails("redis-timeout = 0\n", "option 'redis-timeout': 0 is not a time");
	load_fails("redis-negative-ttl = 0\n", "option 'redis-negative-ttl'");
	load_fails("redis-password = \"\"\n",
		   "t.conf:1: option 'redis-password': the value is empty");
	load_fails("redis-socket = \"\"\n", "option 'redis-socket': the path is empty");
	load_fails("redis-user = turnd\n",
		   "t.conf: option 'redis-user' is given without option 'redis-password'");
}
END_TEST

/* TLS to Redis: defaults, values, and errors that name the file, the
 * line and the option (both options when two do not go together). */
START_TEST(redis_tls_options)
{
	struct conf *c = load_ok("", NULL);

	ck_assert(!c->redis.tls);
	ck_assert_ptr_null(c->redis.tls_ca);
	ck_assert_ptr_null(c->redis.tls_cert);
	ck_assert_ptr_null(c->redis.tls_key);
	ck_assert_ptr_null(c->redis.tls_server_name);
	conf_free(c);
	c = load_ok(
		"redis-tls = true\nredis-tls-ca = /etc/redis/ca.pem\n"
		"redis-tls-cert = \"/etc/turnd/redis client.pem\"\n"
		"redis-tls-key = /etc/turnd/redis.key\nredis-tls-server-name = redis.example.org\n",
		NULL);
	ck_assert(c->redis.tls);
	ck_assert_str_eq(c->redis.tls_ca, "/etc/redis/ca.pem");
	ck_assert_str_eq(c->redis.tls_cert, "/etc/turnd/redis client.pem");
	ck_assert_str_eq(c->redis.tls_key, "/etc/turnd/redis.key");
	ck_assert_str_eq(c->redis.tls_server_name, "redis.example.org");
	conf_free(c);
	/* An address is kept as an address, without brackets. */
	c = load_ok("redis-tls = yes\nredis-tls-server-name = \"[2001:db8::1]\"\n", NULL);
	ck_assert(c->redis.tls);
	ck_assert_str_eq(c->redis.tls_server_name, "2001:db8::1");
	conf_free(c);
	c = load_ok("redis-tls-server-name = 10.0.0.7\n", NULL);
	ck_assert_str_eq(c->redis.tls_server_name, "10.0.0.7");
	conf_free(c);

	load_fails("\nredis-tls = maybe\n",
		   "t.conf:2: option 'redis-tls': 'maybe' is not a boolean");
	load_fails("redis-tls-ca = \"\"\n", "t.conf:1: option 'redis-tls-ca': the path is empty");
	load_fails("redis-tls-cert = \"\"\n",
		   "t.conf:1: option 'redis-tls-cert': the path is empty");
	load_fails("redis-tls-key = \"\"\n", "t.conf:1: option 'redis-tls-key': the path is empty");
	load_fails("redis-tls-server-name = \"redis example\"\n",
		   "t.conf:1: option 'redis-tls-server-name': 'redis example' is not an IP address "
		   "or a DNS name");
	load_fails("redis-tls-server-name = \"\"\n", "option 'redis-tls-server-name': '' is not");
	load_fails("redis-tls-server-name = -x.org\n", "option 'redis-tls-server-name'");
	load_fails("redis-tls = true\nredis-tls-cert = /c.pem\n",
		   "t.conf: option 'redis-tls-cert' is given without option 'redis-tls-key'");
	load_fails("redis-tls-key = /k.pem\n",
		   "t.conf: option 'redis-tls-key' is given without option 'redis-tls-cert'");
	load_fails("redis-tls = true\nredis-socket = /run/redis.sock\n",
		   "t.conf: option 'redis-tls' is true with option 'redis-socket'");
}
END_TEST

/* Several servers on one Redis: defaults, values, errors. */
START_TEST(fleet_options)
{
	struct conf *c = load_ok("", NULL);

	ck_assert(c->redis.shared_quota);
	ck_assert_uint_eq(c->redis.poll_interval_s, 5);
	ck_assert(!c->redis.events);
	ck_assert_uint_eq(c->redis.events_max, 100000);
	ck_assert_ptr_null(c->redis.node_id);
	ck_assert_uint_eq(c->shed_bps, 0);
	conf_free(c);
	c = load_ok("redis-shared-quota = false\nredis-poll-interval = 1\nredis-events = true\n"
		    "redis-events-max = 1000\nnode-id = \"turn-1.eu:a_b\"\nshed-bps = 12500000\n",
		    NULL);
	ck_assert(!c->redis.shared_quota);
	ck_assert_uint_eq(c->redis.poll_interval_s, 1);
	ck_assert(c->redis.events);
	ck_assert_uint_eq(c->redis.events_max, 1000);
	ck_assert_str_eq(c->redis.node_id, "turn-1.eu:a_b");
	ck_assert_uint_eq(c->shed_bps, 12500000);
	conf_free(c);
	load_fails("\nnode-id = \"a b\"\n", "t.conf:2: option 'node-id': 'a b' is not a node id");
	load_fails("node-id = \"a/b\"\n", "option 'node-id': 'a/b' is not a node id");
	load_fails("node-id = \"\"\n", "option 'node-id': '' is not a node id");
	load_fails("redis-poll-interval = 0\n", "option 'redis-poll-interval': 0 is not a time");
	load_fails("redis-events-max = 999\n", "option 'redis-events-max': 999 is not an entry count");
	load_fails("shed-bps = -1\n", "option 'shed-bps': -1 is not a rate");
}
END_TEST

/* TLS and DTLS: the port (0 is off), no-tls, no-dtls, and the clash with
 * listening-port, which only matters once a certificate is set. */
START_TEST(tls_options)
{
	struct conf *c = load_ok("", NULL);

	ck_assert_uint_eq(c->tls_listening_port, 5349);
	ck_assert(!c->no_tls);
	ck_assert(!c->no_dtls);
	conf_free(c);
	c = load_ok("tls-listening-port = 0\nno-tls = true\nno-dtls = yes\n", NULL);
	ck_assert_uint_eq(c->tls_listening_port, 0);
	ck_assert(c->no_tls);
	ck_assert(c->no_dtls);
	conf_free(c);
	/* Without cert nothing listens there: the same port is no clash. */
	c = load_ok("tls-listening-port = 3478\n", NULL);
	conf_free(c);
	c = load_ok("cert = /c.pem\npkey = /k.pem\ntls-listening-port = 3478\n"
		    "no-tls = true\nno-dtls = true\n",
		    NULL);
	conf_free(c);
	load_fails("\ntls-listening-port = 70000\n",
		   "t.conf:2: option 'tls-listening-port': 70000 is not a port, or 0 for none");
	load_fails("tls-listening-port = -1\n", "option 'tls-listening-port': -1 is not a port");
	load_fails("no-dtls = maybe\n", "option 'no-dtls': 'maybe' is not a boolean");
	load_fails("cert = /c.pem\npkey = /k.pem\ntls-listening-port = 3478\n",
		   "t.conf: option 'tls-listening-port' (3478) is the same as option "
		   "'listening-port'");
}
END_TEST

/* RFC 5780 NAT discovery: alt-listening-ip and alt-listening-port. */
START_TEST(nat_discovery_options)
{
	struct conf_overrides ov = {.listening_port = 5000, .log_level = -1};
	struct conf *c = load_ok("", NULL);
	char buf[TURN_ADDR_STRLEN];

	ck_assert_uint_eq(c->n_alt_listen, 0);
	conf_free(c);
	c = load_ok("listening-ip = { 127.0.0.1, \"::1\" }\n"
		    "alt-listening-ip = { 127.0.0.2, \"::2\" }\n",
		    NULL);
	ck_assert_uint_eq(c->n_alt_listen, 2);
	ck_assert_uint_eq(c->alt_listening_port, 3479);
	ck_assert_str_eq(ipport(&c->alt_listen[0], buf), "127.0.0.2:3479");
	ck_assert_str_eq(ipport(&c->alt_listen[1], buf), "[::2]:3479");
	conf_free(c);
	c = load_ok("listening-ip = 10.0.0.1\nalt-listening-ip = 10.0.0.2\n"
		    "listening-port = 4000\nalt-listening-port = 4100\n",
		    NULL);
	ck_assert_str_eq(ipport(&c->alt_listen[0], buf), "10.0.0.2:4100");
	conf_free(c);
	/* The default follows the port given on the command line. */
	c = load_ok("listening-ip = 10.0.0.1\nalt-listening-ip = 10.0.0.2\n", &ov);
	ck_assert_uint_eq(c->alt_listening_port, 5001);
	conf_free(c);
	load_fails("listening-ip = 10.0.0.1\n\nalt-listening-ip = { 0.0.0.0 }\n",
		   "t.conf:3: option 'alt-listening-ip': '0.0.0.0' is a wildcard");
	load_fails("listening-ip = 10.0.0.1\nalt-listening-ip = {\n10.0.0.2,\n10.0.0.3 }\n",
		   "t.conf:4: option 'alt-listening-ip': '10.0.0.3' is a second IPv4 address");
	load_fails("\nalt-listening-ip = { nowhere }\n", "t.conf:2: option 'alt-listening-ip': ");
	load_fails("\n\nalt-listening-port = 70000\n",
		   "t.conf:3: option 'alt-listening-port': 70000 is not a port");
	load_fails("alt-listening-ip = 10.0.0.2\n",
		   "t.conf: option 'alt-listening-ip' ('10.0.0.2') needs option 'listening-ip' "
		   "to name an IPv4 address");
	load_fails("listening-ip = 10.0.0.1\nalt-listening-ip = \"::2\"\n",
		   "needs option 'listening-ip' to name an IPv6 address");
	load_fails("listening-ip = { 10.0.0.1, 10.0.0.2 }\nalt-listening-ip = 10.0.0.2\n",
		   "t.conf: option 'alt-listening-ip' ('10.0.0.2') is also in option "
		   "'listening-ip'");
	load_fails("listening-ip = 10.0.0.1\nalt-listening-ip = 10.0.0.2\n"
		   "alt-listening-port = 3478\n",
		   "t.conf: option 'alt-listening-port' (3478) is the same as option "
		   "'listening-port'");
	load_fails("listening-ip = 10.0.0.1\nalt-listening-ip = 10.0.0.2\n"
		   "listening-port = 65535\n",
		   "option 'listening-port' + 1 (65536) is not a port");
	load_fails("listening-ip = 10.0.0.1\nalt-listening-ip = 10.0.0.2\n"
		   "cert = /c.pem\npkey = /k.pem\ntls-listening-port = 3479\n",
		   "t.conf: option 'alt-listening-port' (3479) is the same as option "
		   "'tls-listening-port'");
}
END_TEST

START_TEST(listener_options)
{
	struct conf *c = load_ok("", NULL);
	char buf[TURN_ADDR_STRLEN];

	ck_assert_uint_eq(c->n_listeners, 0);
	conf_free(c);
	c = load_ok("cert = /c.pem\npkey = /k.pem\n"
		    "listener = { \"0.0.0.0:443/tls\", \"[::]:443/tcp\",\n"
		    "\"[2001:db8::1]:3479/udp,tcp\", \"192.0.2.1:443/dtls,tls\" }\n",
		    NULL);
	ck_assert_uint_eq(c->n_listeners, 4);
	ck_assert_str_eq(ipport(&c->listeners[0].addr, buf), "0.0.0.0:443");
	ck_assert_uint_eq(c->listeners[0].transports, CONF_LISTEN_TLS);
	ck_assert_str_eq(ipport(&c->listeners[1].addr, buf), "[::]:443");
	ck_assert_uint_eq(c->listeners[1].transports, CONF_LISTEN_TCP);
	ck_assert_str_eq(ipport(&c->listeners[2].addr, buf), "[2001:db8::1]:3479");
	ck_assert_uint_eq(c->listeners[2].transports, CONF_LISTEN_UDP | CONF_LISTEN_TCP);
	ck_assert_uint_eq(c->listeners[3].transports, CONF_LISTEN_DTLS | CONF_LISTEN_TLS);
	conf_free(c);
	/* Only listeners: no-udp and no-tcp leave them to serve. */
	c = load_ok("no-udp = true\nno-tcp = true\nlistener = \"127.0.0.1:4000/udp\"\n", NULL);
	ck_assert_uint_eq(c->n_listeners, 1);
	conf_free(c);
	load_fails("\nlistener = { \"127.0.0.1:4000/sctp\" }\n",
		   "t.conf:2: option 'listener': '127.0.0.1:4000/sctp': 'sctp' is not a transport");
	load_fails("listener = { \"127.0.0.1:4000/udp,udp\" }\n", "'udp' is given twice");
	load_fails("listener = { \"127.0.0.1:4000/\" }\n", "'' is not a transport");
	load_fails("listener = { \"127.0.0.1/udp\" }\n", "is not an address with a port");
	load_fails("listener = { \"127.0.0.1:4000\" }\n", "is not \"ADDRESS:PORT/TRANSPORTS\"");
	load_fails("listener = { \"example.org:4000/udp\" }\n", "is not an address with a port");
	load_fails("listener = { \"127.0.0.1:4000/udp,dtls\" }\n", "use two ports");
	load_fails("listener = { \"127.0.0.1:4000/udp\",\n\"127.0.0.1:4000/dtls\" }\n",
		   "t.conf:2: option 'listener': '127.0.0.1:4000/dtls' listens where "
		   "'127.0.0.1:4000/udp' already does");
	load_fails("listener = \"127.0.0.1:4000/dtls\"\n",
		   "t.conf: option 'listener' (127.0.0.1:4000) asks for TLS or DTLS without options "
		   "'cert' and 'pkey'");
	load_fails("listening-ip = 10.0.0.1\nlistener = \"10.0.0.1:3478/tcp\"\n",
		   "option 'listener' (10.0.0.1:3478) is a port that option 'listening-ip'");
	load_fails("listening-ip = 10.0.0.1\ncert = /c.pem\npkey = /k.pem\n"
		   "listener = \"10.0.0.1:5349/tcp\"\n",
		   "option 'listener' (10.0.0.1:5349) is a port that option 'listening-ip'");
	/* The same port is fine where listening-ip does not use that kind. */
	c = load_ok("listening-ip = 10.0.0.1\nno-tcp = true\nlistener = \"10.0.0.1:3478/tls\"\n"
		    "cert = /c.pem\npkey = /k.pem\n",
		    NULL);
	conf_free(c);
}
END_TEST

/* control-socket: unset is the default (NULL), "" is off, a path is kept;
 * never a relative path or one too long for a unix socket's address. */
START_TEST(control_socket_option)
{
	struct conf *c = load_ok("realm = x\n", &no_overrides);
	char long_path[140];

	ck_assert_ptr_null(c->control_socket);
	conf_free(c);
	c = load_ok("control-socket = \"\"\n", &no_overrides);
	ck_assert_str_eq(c->control_socket, "");
	conf_free(c);
	c = load_ok("control-socket = /run/turnd/control\n", &no_overrides);
	ck_assert_str_eq(c->control_socket, "/run/turnd/control");
	conf_free(c);
	load_fails("control-socket = run/control\n",
		   "t.conf:1: option 'control-socket': 'run/control' is not an absolute path");
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	snprintf(long_path + 108, sizeof(long_path) - 108, "\n");
	char text[200];
	snprintf(text, sizeof(text), "control-socket = %s", long_path);
	load_fails(text, "option 'control-socket'");
	load_fails("control-socket = 127.0.0.1:9000\n", "option 'control-socket'");
}
END_TEST

/* Behind a load balancer (issue 17): trusted-proxy, proxy-protocol, a
 * listener's 'proxy' and 'tcp,tls' on one socket, acme-redirect. */
START_TEST(proxy_options)
{
	struct conf *c = load_ok("", NULL);

	ck_assert_uint_eq(c->n_trusted_proxies, 0);
	ck_assert(!c->proxy_protocol);
	ck_assert_ptr_null(c->acme_redirect);
	conf_free(c);
	c = load_ok("trusted-proxy = { \"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\" }\n"
		    "proxy-protocol = true\ncert = /c.pem\npkey = /k.pem\n"
		    "listener = { \"0.0.0.0:443/tcp,tls,proxy\", \"[::]:443/tls,proxy,udp\" }\n"
		    "acme-redirect = \"http://www.example.org/.well-known/acme-challenge/\"\n",
		    NULL);
	ck_assert_uint_eq(c->n_trusted_proxies, 3);
	ck_assert_uint_eq(c->trusted_proxies[0].lo.ip[0], 10);
	ck_assert_uint_eq(c->trusted_proxies[0].hi.ip[3], 255);
	ck_assert(c->proxy_protocol);
	ck_assert_uint_eq(c->listeners[0].transports,
			  CONF_LISTEN_TCP | CONF_LISTEN_TLS | CONF_LISTEN_PROXY);
	ck_assert_uint_eq(c->listeners[1].transports,
			  CONF_LISTEN_TLS | CONF_LISTEN_PROXY | CONF_LISTEN_UDP);
	ck_assert_str_eq(c->acme_redirect, "http://www.example.org/.well-known/acme-challenge/");
	conf_free(c);
	/* tcp and tls on one port: one socket, told apart by the first byte. */
	c = load_ok("listener = \"127.0.0.1:4000/tcp,tls\"\ncert = /c.pem\npkey = /k.pem\n", NULL);
	ck_assert_uint_eq(c->listeners[0].transports, CONF_LISTEN_TCP | CONF_LISTEN_TLS);
	conf_free(c);
	load_fails("proxy-protocol = true\n",
		   "t.conf: option 'proxy-protocol' is true without option 'trusted-proxy'");
	load_fails("listener = \"127.0.0.1:4000/tcp,proxy\"\n",
		   "t.conf: option 'listener' (127.0.0.1:4000) asks for a PROXY header without "
		   "option 'trusted-proxy'");
	load_fails("trusted-proxy = 10.0.0.1\nlistener = \"127.0.0.1:4000/udp,proxy\"\n",
		   "proxy (a PROXY header first) is for tcp and tls");
	load_fails("trusted-proxy = 10.0.0.1\nlistener = \"127.0.0.1:4000/proxy\"\n",
		   "proxy (a PROXY header first) is for tcp and tls");
	load_fails("trusted-proxy = { \"10.0.0.1:80\" }\n", "option 'trusted-proxy'");
	load_fails("trusted-proxy = { \"example.org\" }\n", "option 'trusted-proxy'");
	load_fails("acme-redirect = \"ftp://x/\"\n",
		   "option 'acme-redirect': 'ftp://x/' is not an http:// or https:// URL");
	load_fails("acme-redirect = \"http://x/a b\"\n", "option 'acme-redirect'");
	load_fails("acme-redirect = \"http://x/\\r\\nSet-Cookie: a\"\n", "option 'acme-redirect'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults_without_file);
	tcase_add_test(tc, zero_quotas_are_unlimited_on_request);
	tcase_add_test(tc, empty_text_is_defaults_and_keeps_name);
	tcase_add_test(tc, full_file_sets_every_option);
	tcase_add_test(tc, file_on_disk_is_read_and_named);
	tcase_add_test(tc, list_syntax);
	tcase_add_test(tc, comments_keep_line_numbers);
	tcase_add_test(tc, environment_variables);
	tcase_add_test(tc, syntax_and_unknown_option_errors);
	tcase_add_test(tc, number_and_boolean_errors);
	tcase_add_test(tc, max_tcp_connections);
	tcase_add_test(tc, unauth_limits);
	tcase_add_test(tc, rx_coalesce);
	tcase_add_test(tc, address_errors);
	tcase_add_test(tc, user_and_text_errors);
	tcase_add_test(tc, software_length_limit);
	tcase_add_test(tc, cross_option_errors);
	tcase_add_test(tc, overrides_apply_after_file);
	tcase_add_test(tc, override_errors);
	tcase_add_test(tc, user_keys);
	tcase_add_test(tc, fleet_options);
	tcase_add_test(tc, peer_ranges);
	tcase_add_test(tc, sample_file_parses);
	tcase_add_test(tc, require_credentials);
	tcase_add_test(tc, sample_file_settings_are_valid);
	tcase_add_test(tc, free_null_and_no_error_buffer);
	tcase_add_test(tc, connection_limits);
	tcase_add_test(tc, redis_options);
	tcase_add_test(tc, redis_tls_options);
	tcase_add_test(tc, tls_options);
	tcase_add_test(tc, nat_discovery_options);
	tcase_add_test(tc, listener_options);
	tcase_add_test(tc, bandwidth_options);
	tcase_add_test(tc, control_socket_option);
	tcase_add_test(tc, proxy_options);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
