/* The self-check's pure decisions (util/verdict.c), the external-ip
 * auto:stun value (conf), and a Binding request nobody answers
 * (io/stun_ask.c). */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_reload.h"
#include "conf/conf_value.h"
#include "io/stun_ask.h"
#include "util/verdict.h"

static enum verdict_addr_class class_of(const char *text)
{
	struct turn_addr a;

	ck_assert_int_eq(turn_addr_parse(text, 0, &a), 0);
	return verdict_addr_class(&a);
}

/* Both ends of each range and one address past each end. */
START_TEST(address_classes)
{
	ck_assert_int_eq(class_of("10.0.0.0"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("10.255.255.255"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("11.0.0.0"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("9.255.255.255"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("172.16.0.0"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("172.31.255.255"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("172.32.0.0"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("172.15.255.255"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("192.168.0.0"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("192.168.255.255"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("192.169.0.0"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("100.64.0.0"), VERDICT_ADDR_SHARED);
	ck_assert_int_eq(class_of("100.127.255.255"), VERDICT_ADDR_SHARED);
	ck_assert_int_eq(class_of("100.128.0.0"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("100.63.255.255"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("127.0.0.1"), VERDICT_ADDR_LOOPBACK);
	ck_assert_int_eq(class_of("127.255.255.255"), VERDICT_ADDR_LOOPBACK);
	ck_assert_int_eq(class_of("128.0.0.0"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("169.254.0.1"), VERDICT_ADDR_LINKLOCAL);
	ck_assert_int_eq(class_of("169.255.0.1"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("0.0.0.0"), VERDICT_ADDR_OTHER);
	ck_assert_int_eq(class_of("224.0.0.1"), VERDICT_ADDR_OTHER);
	ck_assert_int_eq(class_of("255.255.255.255"), VERDICT_ADDR_OTHER);
	ck_assert_int_eq(class_of("223.255.255.255"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("198.51.100.7"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("::1"), VERDICT_ADDR_LOOPBACK);
	ck_assert_int_eq(class_of("::"), VERDICT_ADDR_OTHER);
	ck_assert_int_eq(class_of("fc00::"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("fdff:ffff::1"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("fe00::1"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("fe80::1"), VERDICT_ADDR_LINKLOCAL);
	ck_assert_int_eq(class_of("febf::1"), VERDICT_ADDR_LINKLOCAL);
	ck_assert_int_eq(class_of("fec0::1"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("ff02::1"), VERDICT_ADDR_OTHER);
	ck_assert_int_eq(class_of("2001:db8::1"), VERDICT_ADDR_PUBLIC);
	ck_assert_int_eq(class_of("::ffff:10.1.2.3"), VERDICT_ADDR_PRIVATE);
	ck_assert_int_eq(class_of("::ffff:8.8.8.8"), VERDICT_ADDR_PUBLIC);
	ck_assert_str_eq(verdict_addr_class_name(VERDICT_ADDR_SHARED),
			 "shared carrier-grade NAT space (RFC 6598)");
}
END_TEST

/* need = quota x (1 + stream) + workers x (sockets + 16) + 64. */
START_TEST(descriptor_formula)
{
	struct verdict_fd_in in = {
		.total_quota = 8192, .stream_clients = true, .listen_sockets = 4, .workers = 2};

	ck_assert_uint_eq(verdict_fd_need(&in), 8192 * 2 + 2 * (4 + 16) + 64);
	in.stream_clients = false;
	ck_assert_uint_eq(verdict_fd_need(&in), 8192 + 40 + 64);
	/* What 1024 descriptors hold: 1024 - 104 fixed, one each. */
	ck_assert_uint_eq(verdict_fd_allocations(&in, 1024), 920);
	in.stream_clients = true;
	ck_assert_uint_eq(verdict_fd_allocations(&in, 1024), 460);
	ck_assert_uint_eq(verdict_fd_allocations(&in, 104), 0);
	ck_assert_uint_eq(verdict_fd_allocations(&in, 50), 0);
	in.total_quota = 0;
	ck_assert_uint_eq(verdict_fd_need(&in), UINT64_MAX);
}
END_TEST

START_TEST(certificate_days)
{
	const int64_t now = 1800000000, day = 86400;

	ck_assert_int_eq(verdict_cert_days(now + 30 * day, now), 30);
	ck_assert_int_eq(verdict_cert_days(now + 30 * day - 1, now), 29);
	ck_assert_int_eq(verdict_cert_days(now, now), 0);
	ck_assert_int_eq(verdict_cert_days(now - 1, now), -1);
	ck_assert_int_eq(verdict_cert_days(now - day, now), -1);
	ck_assert_int_eq(verdict_cert_days(now - day - 1, now), -2);
	ck_assert_int_eq(verdict_cert(now - day, now + 14 * day, now), VERDICT_OK);
	ck_assert_int_eq(verdict_cert(now - day, now + 14 * day - 1, now), VERDICT_WARN);
	ck_assert_int_eq(verdict_cert(now - day, now + 1, now), VERDICT_WARN);
	ck_assert_int_eq(verdict_cert(now - day, now, now), VERDICT_FAIL);
	ck_assert_int_eq(verdict_cert(now - day, now - 1, now), VERDICT_FAIL);
	ck_assert_int_eq(verdict_cert(now + 1, now + 90 * day, now), VERDICT_FAIL);
	ck_assert_int_eq(verdict_cert(now, now + 90 * day, now), VERDICT_OK);
}
END_TEST

START_TEST(ports_and_clock)
{
	ck_assert_int_eq(verdict_ports(0, 100, 10), VERDICT_FAIL);
	ck_assert_int_eq(verdict_ports(100, 100, 8192), VERDICT_OK);
	ck_assert_int_eq(verdict_ports(97, 100, 8192), VERDICT_WARN);
	ck_assert_int_eq(verdict_ports(97, 100, 50), VERDICT_OK);
	ck_assert_int_eq(verdict_ports(97, 100, 98), VERDICT_WARN);
	ck_assert_int_eq(verdict_ports(97, 100, 0), VERDICT_WARN);
	ck_assert_int_eq(verdict_clock(VERDICT_MIN_YEAR - 1), VERDICT_FAIL);
	ck_assert_int_eq(verdict_clock(1970), VERDICT_FAIL);
	ck_assert_int_eq(verdict_clock(VERDICT_MIN_YEAR), VERDICT_OK);
	ck_assert_str_eq(verdict_level_name(VERDICT_FAIL), "FAIL");
	ck_assert_str_eq(verdict_level_name(VERDICT_WARN), "warn");
	ck_assert_str_eq(verdict_level_name(VERDICT_OK), "ok");
}
END_TEST

START_TEST(external_auto_stun_values)
{
	struct conf_external e;
	char why[256];

	ck_assert_int_eq(
		conf_value_external("auto:stun:stun.example.org:3478", &e, why, sizeof(why)), 0);
	ck_assert(e.auto_stun);
	ck_assert_str_eq(e.stun_host, "stun.example.org");
	ck_assert_uint_eq(e.stun_port, 3478);
	ck_assert_uint_eq(e.public_ip.family, 0);
	ck_assert_int_eq(conf_value_external("auto:stun:[2001:db8::1]:19302", &e, why, sizeof(why)),
			 0);
	ck_assert_str_eq(e.stun_host, "2001:db8::1");
	ck_assert_uint_eq(e.stun_port, 19302);
	ck_assert_int_eq(conf_value_external("auto:stun:192.0.2.1:1", &e, why, sizeof(why)), 0);
	ck_assert_str_eq(e.stun_host, "192.0.2.1");
	static const char *const bad[] = {"auto:stun:",		  "auto:stun:host",
					  "auto:stun:host:",	  "auto:stun:host:0",
					  "auto:stun:host:65536", "auto:stun:host:12x",
					  "auto:stun::3478",	  "auto:stun:2001:db8::1:3478",
					  "auto:stun:[]:3478"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(conf_value_external(bad[i], &e, why, sizeof(why)) < 0, "%s", bad[i]);
		ck_assert_ptr_nonnull(strstr(why, "auto:stun:"));
	}
	ck_assert_int_eq(conf_value_external("203.0.113.5/10.0.0.5", &e, why, sizeof(why)), 0);
	ck_assert(!e.auto_stun);
}
END_TEST

START_TEST(external_auto_stun_alone)
{
	struct conf *c = NULL;
	char err[512];

	ck_assert_int_eq(conf_load_string("external-ip = \"auto:stun:127.0.0.1:3478\"\n", "t.conf",
					  NULL, &c, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c->n_external, 1);
	ck_assert(c->external[0].auto_stun);
	conf_free(c);
	c = NULL;
	ck_assert_int_eq(conf_load_string("external-ip = { \"auto:stun:127.0.0.1:3478\", "
					  "\"203.0.113.5\" }\n",
					  "t.conf", NULL, &c, err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "auto:stun:HOST:PORT must be its only value"));
}
END_TEST

/* Another STUN server in the file is a change of external-ip, kept until a
 * restart (a reload asks the running one again); the same one is none. */
START_TEST(external_auto_stun_reload_pins)
{
	struct conf *running = NULL, *same = NULL, *other = NULL;
	struct conf_reload_diff d;
	char err[512];

	ck_assert_int_eq(conf_load_string("external-ip = \"auto:stun:192.0.2.1:3478\"\n", "t.conf",
					  NULL, &running, err, sizeof(err)),
			 0);
	ck_assert_int_eq(conf_load_string("external-ip = \"auto:stun:192.0.2.1:3478\"\n", "t.conf",
					  NULL, &same, err, sizeof(err)),
			 0);
	ck_assert_int_eq(conf_load_string("external-ip = \"auto:stun:192.0.2.1:3479\"\n", "t.conf",
					  NULL, &other, err, sizeof(err)),
			 0);
	ck_assert_int_eq(conf_reload_pin(same, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 0);
	ck_assert_int_eq(conf_reload_pin(other, running, &d), 0);
	ck_assert_uint_eq(d.n_restart, 1);
	ck_assert_str_eq(d.restart[0], "external-ip");
	ck_assert_uint_eq(other->external[0].stun_port, 3478);
	conf_free(running);
	conf_free(same);
	conf_free(other);
}
END_TEST

/* A closed port: the ICMP errors are waited through, and after the tries
 * the answer is "no answer", in about tries x timeout. */
START_TEST(stun_ask_no_answer)
{
	struct turn_addr local, server, mapped;
	const struct stun_ask_opts o = {2, 50};
	char err[128];

	turn_addr_parse("127.0.0.1", 0, &local);
	turn_addr_parse("127.0.0.1", 9, &server);
	ck_assert_int_eq(stun_ask_mapped(&local, &server, &o, &mapped, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no answer after 2 tries of 50 ms");
	struct turn_addr both[2];
	ck_assert_int_eq(stun_ask_resolve("127.0.0.1", 3478, both, err, sizeof(err)), 1);
	ck_assert_uint_eq(both[0].family, TURN_AF_INET);
	ck_assert_uint_eq(both[0].port, 3478);
	ck_assert_uint_eq(both[1].family, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("verdict");

	tcase_add_test(tc, address_classes);
	tcase_add_test(tc, descriptor_formula);
	tcase_add_test(tc, certificate_days);
	tcase_add_test(tc, ports_and_clock);
	tcase_add_test(tc, external_auto_stun_values);
	tcase_add_test(tc, external_auto_stun_alone);
	tcase_add_test(tc, external_auto_stun_reload_pins);
	tcase_add_test(tc, stun_ask_no_answer);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
