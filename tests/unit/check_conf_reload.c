/* Unit tests for src/conf/conf_reload.c: which options a reload applies,
 * which keep their running value until a restart, and that the pinned
 * snapshot owns what it points to (the sanitizer build frees it). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_reload.h"
#include "util/log.h"

#define ERR_MAX 512

static const char base_text[] = "listening-ip = { 127.0.0.1 }\n"
				"listening-port = 3478\n"
				"relay-ip = { 127.0.0.1 }\n"
				"min-port = 40000\n"
				"max-port = 41000\n"
				"realm = example.org\n"
				"user = { \"alice:wonderland\" }\n"
				"denied-peer-ip = { 198.51.100.0/24 }\n"
				"user-quota = 5\n"
				"log-level = notice\n"
				"relay-threads = 2\n";

static struct conf *load(const char *text)
{
	struct conf *c = NULL;
	char err[ERR_MAX] = "";

	if (conf_load_string(text, "t.conf", NULL, &c, err, sizeof(err)) != 0)
		ck_abort_msg("conf: %s", err);
	return c;
}

/* base_text with more lines after it (later single values win). */
static struct conf *load_base_plus(const char *more)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s%s", base_text, more);
	return load(text);
}

static bool listed(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

static char *names(const char *const *list, size_t n)
{
	static char buf[512];

	return conf_reload_names(list, n, buf, sizeof(buf));
}

START_TEST(same_file_changes_nothing)
{
	struct conf *running = load(base_text), *next = load(base_text);
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_uint_eq(d.n_applied, 0);
	ck_assert_str_eq(names(d.applied, d.n_applied), "none");
	conf_free(next);
	conf_free(running);
}
END_TEST

/* The bandwidth capacity and per-user usage options apply on a reload. */
START_TEST(bandwidth_options_apply)
{
	struct conf *running = load(base_text);
	struct conf *next = load_base_plus("bps-capacity = 1000000\n"
					   "user-max-bps = 50000\n"
					   "user-usage-linger = 5\n"
					   "user-usage-interval = 10\n");
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_str_eq(names(d.applied, d.n_applied),
			 "bps-capacity, user-max-bps, user-usage-linger, user-usage-interval");
	ck_assert_uint_eq(next->bps_capacity, 1000000);
	ck_assert_uint_eq(next->user_max_bps, 50000);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(reloadable_options_apply)
{
	struct conf *running = load(base_text);
	struct conf *next = load_base_plus("user = { \"alice:wonderland\", \"bob:builder\" }\n"
					   "denied-peer-ip = { 203.0.113.0/24 }\n"
					   "allowed-peer-ip = { 127.0.0.1 }\n"
					   "allow-own-peers = true\n"
					   "static-auth-secret = { s3cret }\n"
					   "user-quota = 7\n"
					   "total-quota = 100\n"
					   "max-bps = 1000000\n"
					   "max-allocate-lifetime = 1200\n"
					   "max-permissions = 8\n"
					   "max-channels = 9\n"
					   "max-tcp-connections = 3\n"
					   "shed-allocations = 50\n"
					   "drain-timeout = 60\n"
					   "log-level = info\n");
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_str_eq(names(d.applied, d.n_applied),
			 "user, static-auth-secret, allowed-peer-ip, denied-peer-ip, "
			 "allow-own-peers, user-quota, "
			 "total-quota, max-bps, max-allocate-lifetime, max-permissions, "
			 "max-channels, max-tcp-connections, shed-allocations, drain-timeout, "
			 "log-level");
	/* The new values stay in the new snapshot. */
	ck_assert_uint_eq(next->n_users, 2);
	ck_assert_str_eq(next->users[1].name, "bob");
	ck_assert_uint_eq(next->user_quota, 7);
	ck_assert_uint_eq(next->max_lifetime, 1200);
	ck_assert_uint_eq(next->max_tcp_connections, 3);
	ck_assert_int_eq(next->log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(next->n_denied_peers, 1);
	ck_assert_uint_eq(next->denied_peers[0].lo.ip[0], 203);
	ck_assert(next->allow_own_peers);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(connection_limits_apply)
{
	struct conf *running = load(base_text);
	struct conf *next = load_base_plus("max-connections-per-ip = 20\n"
					   "max-connections = 300\n"
					   "first-message-timeout = 5\n"
					   "max-allocate-timeout = 30\n"
					   "preauth-buffer = 1024\n");
	struct conf_reload_diff d;

	/* New caps for new connections, new deadlines from the next tick. */
	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_str_eq(names(d.applied, d.n_applied),
			 "max-connections-per-ip, max-connections, first-message-timeout, "
			 "max-allocate-timeout, preauth-buffer");
	ck_assert_uint_eq(next->max_connections_per_ip, 20);
	ck_assert_uint_eq(next->preauth_buffer, 1024);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(restart_options_keep_running_values)
{
	struct conf *running = load(base_text);
	struct conf *next = load_base_plus("listening-ip = { 127.0.0.2, ::1 }\n"
					   "listening-port = 3479\n"
					   "relay-ip = { 127.0.0.3 }\n"
					   "external-ip = { 192.0.2.1 }\n"
					   "alternate-server = { 192.0.2.9 }\n"
					   "min-port = 50000\n"
					   "max-port = 51000\n"
					   "relay-threads = 4\n"
					   "no-tcp = true\n"
					   "stun-only = true\n"
					   "software = other\n"
					   "pid-file = /run/x.pid\n"
					   "log-json = true\n"
					   "metrics-port = 9100\n"
					   "kernel-offload = off\n"
					   "kernel-offload-interfaces = eth1\n"
					   "kernel-offload-max-entries = 10\n"
					   "user-quota = 6\n");
	struct conf_reload_diff d;
	char a[TURN_ADDR_STRLEN];

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	const char *want[] = {"listening-ip", "relay-ip",	"external-ip", "alternate-server",
			      "metrics-port", "listening-port", "no-tcp",      "min-port",
			      "max-port",     "relay-threads",	"stun-only",   "software",
			      "pid-file",     "log-json",	"kernel-offload",
			      "kernel-offload-interfaces", "kernel-offload-max-entries"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!listed(d.restart, d.n_restart, want[i]))
			ck_abort_msg("'%s' not in restart list: %s", want[i],
				     names(d.restart, d.n_restart));
	ck_assert_uint_eq(d.n_restart, sizeof(want) / sizeof(want[0]));
	/* Only what may change is applied. */
	ck_assert_str_eq(names(d.applied, d.n_applied), "user-quota");
	ck_assert_uint_eq(next->user_quota, 6);
	/* Everything else is the running value again. */
	ck_assert_uint_eq(next->n_listen, 1);
	ck_assert_str_eq(turn_addr_format(&next->listen[0], true, a, sizeof(a)), "127.0.0.1:3478");
	ck_assert_uint_eq(next->listening_port, 3478);
	ck_assert_int_eq(next->kernel_offload, CONF_OFFLOAD_AUTO);
	ck_assert_uint_eq(next->n_offload_ifnames, 0);
	ck_assert_uint_eq(next->offload_max_entries, 65536);
	ck_assert_uint_eq(next->n_relay, 1);
	ck_assert_str_eq(turn_addr_format(&next->relay[0], false, a, sizeof(a)), "127.0.0.1");
	ck_assert_uint_eq(next->n_external, 0);
	ck_assert_ptr_null(next->external);
	ck_assert_uint_eq(next->n_alternates, 0);
	ck_assert_uint_eq(next->min_port, 40000);
	ck_assert_uint_eq(next->max_port, 41000);
	ck_assert_uint_eq(next->workers, 2);
	ck_assert(!next->no_tcp);
	ck_assert(!next->stun_only);
	ck_assert_ptr_null(next->software);
	ck_assert_ptr_null(next->pid_file);
	ck_assert(!next->log_json);
	ck_assert_uint_eq(next->metrics.port, 0);
	/* Pinned again: nothing changes the second time. */
	struct conf_reload_diff d2;
	ck_assert_int_eq(conf_reload_pin(next, running, &d2), 0);
	ck_assert_uint_eq(d2.n_restart, 0);
	/* And next owns its copies: the running one can go first. */
	conf_free(running);
	ck_assert_str_eq(turn_addr_format(&next->listen[0], true, a, sizeof(a)), "127.0.0.1:3478");
	conf_free(next);
}
END_TEST

START_TEST(listeners_apply_alt_listening_needs_a_restart)
{
	struct conf *running = load(base_text);
	struct conf *next = load_base_plus("listener = { \"127.0.0.1:3481/udp,tcp\" }\n"
					   "alt-listening-ip = { 127.0.0.2 }\n"
					   "alt-listening-port = 3490\n");
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_str_eq(names(d.restart, d.n_restart), "alt-listening-ip, alt-listening-port");
	ck_assert_str_eq(names(d.applied, d.n_applied), "listener");
	ck_assert_uint_eq(next->n_listeners, 1);
	ck_assert_uint_eq(next->n_alt_listen, 0);
	ck_assert_uint_eq(next->alt_listening_port, running->alt_listening_port);
	conf_free(next);
	conf_free(running);
}
END_TEST

/* "ADDR/t1,t2" of one diff entry, for comparing. */
static const char *entry(const struct conf_listener *l)
{
	static char buf[TURN_ADDR_STRLEN + 32];
	static const char *const kinds[] = { "udp", "tcp", "tls", "dtls", "proxy" };
	const char *sep = "/";
	size_t o;

	turn_addr_format(&l->addr, true, buf, sizeof(buf));
	o = strlen(buf);
	for (unsigned i = 0; i < 5; i++) {
		if (!(l->transports & (1u << i)))
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", sep, kinds[i]);
		sep = ",";
	}
	return buf;
}

START_TEST(listener_diff_by_address_and_transport)
{
	struct conf *running = load_base_plus(
		"listener = { \"127.0.0.1:4001/udp,tcp\", \"127.0.0.1:4002/udp\", "
		"\"127.0.0.1:4003/tcp\", \"127.0.0.1:4005/udp\", \"127.0.0.1:4005/tcp\" }\n");
	/* 4001 unchanged, 4002 gains tcp, 4003 goes, 4004 comes, 4005 loses
	 * udp (its two lines merged), and [::1]:4001 is another address. */
	struct conf *next = load_base_plus(
		"listener = { \"127.0.0.1:4004/udp,tcp\", \"127.0.0.1:4002/tcp,udp\", "
		"\"127.0.0.1:4001/tcp,udp\", \"127.0.0.1:4005/tcp\", \"[::1]:4001/udp\" }\n");
	struct conf_listener_diff d;

	ck_assert_int_eq(conf_listener_diff(running, next, &d), 0);
	ck_assert_uint_eq(d.n_added, 3);
	ck_assert_str_eq(entry(&d.added[0]), "127.0.0.1:4004/udp,tcp");
	ck_assert_str_eq(entry(&d.added[1]), "127.0.0.1:4002/tcp");
	ck_assert_str_eq(entry(&d.added[2]), "[::1]:4001/udp");
	ck_assert_uint_eq(d.n_removed, 2);
	ck_assert_str_eq(entry(&d.removed[0]), "127.0.0.1:4003/tcp");
	ck_assert_str_eq(entry(&d.removed[1]), "127.0.0.1:4005/udp");
	conf_listener_diff_free(&d);
	ck_assert_ptr_null(d.added);
	/* The same set, in another order: nothing. */
	ck_assert_int_eq(conf_listener_diff(next, next, &d), 0);
	ck_assert_uint_eq(d.n_added + d.n_removed, 0);
	conf_listener_diff_free(&d);
	/* None at all on one side. */
	struct conf *none = load(base_text);
	ck_assert_int_eq(conf_listener_diff(none, running, &d), 0);
	ck_assert_uint_eq(d.n_added, 4);
	ck_assert_uint_eq(d.n_removed, 0);
	conf_listener_diff_free(&d);
	conf_free(none);
	conf_free(next);
	conf_free(running);
}
END_TEST

/* A TCP socket's bits (tcp, tls, proxy) are one unit: changing any
 * replaces the socket. trusted-proxy, proxy-protocol and acme-redirect
 * apply to new connections. */
START_TEST(proxy_options_apply)
{
	struct conf *running = load_base_plus(
		"cert = /c.pem\npkey = /k.pem\ntrusted-proxy = 10.0.0.1\n"
		"listener = { \"127.0.0.1:4001/udp,tls\", \"127.0.0.1:4002/tcp,proxy\", "
		"\"127.0.0.1:4003/tcp,tls\" }\n");
	struct conf *next = load_base_plus(
		"cert = /c.pem\npkey = /k.pem\ntrusted-proxy = { 10.0.0.0/24 }\n"
		"proxy-protocol = true\nacme-redirect = \"https://x/.well-known/acme-challenge/\"\n"
		"listener = { \"127.0.0.1:4001/udp,tls,proxy\", \"127.0.0.1:4002/tcp,proxy\", "
		"\"127.0.0.1:4003/tcp,tls\" }\n");
	struct conf_listener_diff d;
	struct conf_reload_diff rd;

	ck_assert_int_eq(conf_listener_diff(running, next, &d), 0);
	ck_assert_uint_eq(d.n_added, 1);
	ck_assert_str_eq(entry(&d.added[0]), "127.0.0.1:4001/tls,proxy");
	ck_assert_uint_eq(d.n_removed, 1);
	ck_assert_str_eq(entry(&d.removed[0]), "127.0.0.1:4001/tls");
	conf_listener_diff_free(&d);
	ck_assert_int_eq(conf_reload_pin(next, running, &rd), 0);
	ck_assert_uint_eq(rd.n_restart, 0);
	ck_assert_str_eq(names(rd.applied, rd.n_applied),
			 "listener, trusted-proxy, proxy-protocol, acme-redirect");
	ck_assert_uint_eq(next->trusted_proxies[0].hi.ip[3], 255);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(tls_listener_without_certificate_at_start_refused)
{
	struct conf *running = load(base_text);
	/* The file now has a certificate, but 'cert' is pinned to none. */
	struct conf *next = load_base_plus("cert = /nonexistent/cert.pem\n"
					   "pkey = /nonexistent/key.pem\n"
					   "listener = { \"127.0.0.1:4443/tls\" }\n");
	struct conf_reload_diff d;
	char err[ERR_MAX] = "";

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert(listed(d.restart, d.n_restart, "cert"));
	ck_assert_int_eq(conf_reload_check(next, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "127.0.0.1:4443") && strstr(err, "started without"), "%s", err);
	conf_free(next);
	/* Plain transports pass. */
	next = load_base_plus("listener = { \"127.0.0.1:4443/udp,tcp\" }\n");
	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_int_eq(conf_reload_check(next, err, sizeof(err)), 0);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(listener_on_pinned_listening_port_refused)
{
	struct conf *running = load(base_text);
	/* In the file, 3478 is free (listening-port moved): after pinning
	 * listening-port back, the listener is on listening-ip's port. */
	struct conf *next = load_base_plus("listening-port = 3590\n"
					   "listener = { \"127.0.0.1:3478/udp\" }\n");
	struct conf_reload_diff d;
	char err[ERR_MAX] = "";

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_int_eq(conf_reload_check(next, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "already listens on"), "%s", err);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(realm_kept_and_keys_derived_again)
{
	struct conf *running = load(base_text);
	struct conf *next = load_base_plus("realm = other.example\n"
					   "user = { \"alice:wonderland\", \"bob:builder\" }\n");
	struct conf *bob = load("realm = example.org\nuser = { \"bob:builder\" }\n");
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert(listed(d.restart, d.n_restart, "realm"));
	ck_assert_str_eq(next->realm, "example.org");
	/* alice's key is as before, and bob's is for the running realm. */
	ck_assert_mem_eq(next->users[0].key, running->users[0].key, STUN_KEY_MD5_LEN);
	ck_assert_mem_eq(next->users[1].key, bob->users[0].key, STUN_KEY_MD5_LEN);
	ck_assert_str_eq(names(d.applied, d.n_applied), "user");
	conf_free(bob);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(redis_needs_a_restart)
{
	struct conf *running = load_base_plus("redis-password = pw1\nredis-port = 6380\n");
	struct conf *next = load_base_plus("redis-password = pw2\nredis-host = 127.0.0.9\n");
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(next, running, &d), 0);
	ck_assert_str_eq(names(d.restart, d.n_restart), "redis");
	ck_assert_str_eq(next->redis.password, "pw1");
	ck_assert_str_eq(next->redis.host, "127.0.0.1");
	ck_assert_uint_eq(next->redis.port, 6380);
	ck_assert_ptr_ne(next->redis.password, running->redis.password);
	conf_free(next);
	conf_free(running);
}
END_TEST

START_TEST(certificate_files_reload_but_not_tls_itself)
{
	struct conf *running = load_base_plus("cert = /a/cert.pem\npkey = /a/key.pem\n");
	struct conf *moved = load_base_plus("cert = /b/cert.pem\npkey = /b/key.pem\n");
	struct conf *none = load(base_text);
	struct conf_reload_diff d;

	ck_assert_int_eq(conf_reload_pin(moved, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_str_eq(names(d.applied, d.n_applied), "cert, pkey");
	ck_assert_str_eq(moved->cert, "/b/cert.pem");
	/* Without a certificate at start there are no TLS listeners: giving
	 * one (or taking it away) waits for a restart. */
	ck_assert_int_eq(conf_reload_pin(none, running, &d), 0);
	ck_assert_str_eq(names(d.restart, d.n_restart), "cert");
	ck_assert_str_eq(none->cert, "/a/cert.pem");
	ck_assert_str_eq(none->pkey, "/a/key.pem");
	conf_free(none);
	conf_free(moved);
	conf_free(running);
}
END_TEST

START_TEST(names_format)
{
	const char *list[] = {"user", "log-level"};
	char buf[12];

	ck_assert_str_eq(conf_reload_names(list, 0, buf, sizeof(buf)), "none");
	ck_assert_str_eq(conf_reload_names(list, 1, buf, sizeof(buf)), "user");
	/* Cut, always terminated. */
	ck_assert_str_eq(conf_reload_names(list, 2, buf, sizeof(buf)), "user, log-l");
	ck_assert_ptr_null(conf_reload_names(list, 2, NULL, 4));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf_reload");
	TCase *tc = tcase_create("pin");

	tcase_add_test(tc, same_file_changes_nothing);
	tcase_add_test(tc, reloadable_options_apply);
	tcase_add_test(tc, bandwidth_options_apply);
	tcase_add_test(tc, connection_limits_apply);
	tcase_add_test(tc, restart_options_keep_running_values);
	tcase_add_test(tc, listeners_apply_alt_listening_needs_a_restart);
	tcase_add_test(tc, listener_diff_by_address_and_transport);
	tcase_add_test(tc, proxy_options_apply);
	tcase_add_test(tc, tls_listener_without_certificate_at_start_refused);
	tcase_add_test(tc, listener_on_pinned_listening_port_refused);
	tcase_add_test(tc, realm_kept_and_keys_derived_again);
	tcase_add_test(tc, redis_needs_a_restart);
	tcase_add_test(tc, certificate_files_reload_but_not_tls_itself);
	tcase_add_test(tc, names_format);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
