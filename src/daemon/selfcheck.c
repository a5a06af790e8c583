/* The self-check's driver, its report, the clock and the descriptors
 * (selfcheck.h). */
#include "daemon/selfcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "daemon/selfcheck_int.h"
#include "util/log.h"

void selfcheck_say(struct selfcheck *s, enum verdict_level l, const char *topic, const char *fmt,
		   ...)
{
	char text[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->n[l]++;
	if (s->out)
		fprintf(s->out, "%-4s %s: %s\n", verdict_level_name(l), topic, text);
	else if (l == VERDICT_OK)
		log_info("self-check: %s: %s", topic, text);
	else if (l == VERDICT_WARN)
		log_warn("self-check: %s: %s", topic, text);
	else
		log_error("self-check: FAIL %s: %s", topic, text);
}

/* The wall clock (CLOCK_REALTIME): nonces, REST credentials and the
 * certificate's dates are judged against it. */
static void selfcheck_clock(struct selfcheck *s)
{
	time_t now = time(NULL);
	struct tm tm;
	char text[32];

	gmtime_r(&now, &tm);
	strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
	if (verdict_clock(tm.tm_year + 1900) == VERDICT_OK)
		selfcheck_say(s, VERDICT_OK, "clock", "%s UTC", text);
	else
		selfcheck_say(s, VERDICT_FAIL, "clock",
			      "%s UTC is before this release (%d): set the time (NTP, "
			      "timedatectl set-ntp true)",
			      text, VERDICT_MIN_YEAR);
}

/* Listening sockets of one worker, as net/listen.c opens them. */
static unsigned selfcheck_listen_sockets(const struct conf *c, bool *stream)
{
	bool tls = conf_tls_port_used(c);
	unsigned n = 0;

	*stream = !c->no_tcp || (tls && !c->no_tls);
	for (size_t i = 0; i < c->n_listen; i++)
		n += !c->no_udp + !c->no_tcp + (tls ? !c->no_tls + !c->no_dtls : 0);
	for (size_t i = 0; i < c->n_listeners; i++) {
		unsigned t = c->listeners[i].transports;
		n += !!(t & CONF_LISTEN_UDP) + !!(t & CONF_LISTEN_TCP) + !!(t & CONF_LISTEN_TLS) +
		     !!(t & CONF_LISTEN_DTLS);
		*stream = *stream || (t & (CONF_LISTEN_TCP | CONF_LISTEN_TLS));
	}
	return n + 2 * (unsigned)c->n_alt_listen;
}

/* RLIMIT_NOFILE against what total-quota needs (verdict_fd_need says
 * the formula). turnd raises the soft limit to the hard one at start. */
static void selfcheck_fds(struct selfcheck *s)
{
	const struct conf *c = s->c;
	struct rlimit rl;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct verdict_fd_in in = {.total_quota = c->total_quota,
				   .workers = c->workers ? c->workers
							 : (unsigned)(cores > 0 ? cores : 1)};

	in.listen_sockets = selfcheck_listen_sockets(c, &in.stream_clients);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		selfcheck_say(s, VERDICT_WARN, "descriptors", "cannot read RLIMIT_NOFILE");
		return;
	}
	unsigned long long have = rl.rlim_max == RLIM_INFINITY ? ~0ull : rl.rlim_max;
	uint64_t need = verdict_fd_need(&in);
	char formula[160];
	snprintf(formula, sizeof(formula),
		 "total-quota %u x %u + %u workers x (%u listening + %u) + %u", c->total_quota,
		 in.stream_clients ? 2 : 1, in.workers, in.listen_sockets, VERDICT_FD_PER_WORKER,
		 VERDICT_FD_BASE);
	if (need == UINT64_MAX)
		selfcheck_say(s, VERDICT_WARN, "descriptors",
			      "total-quota = 0 (unlimited): the hard limit %llu holds about %llu "
			      "allocations; set total-quota to at most that",
			      have, (unsigned long long)verdict_fd_allocations(&in, have));
	else if (have < need)
		selfcheck_say(s, VERDICT_FAIL, "descriptors",
			      "the hard limit (ulimit -Hn) is %llu, but %llu are needed (%s): "
			      "raise it (LimitNOFILE=%llu) or lower total-quota to %llu",
			      have, (unsigned long long)need, formula, (unsigned long long)need,
			      (unsigned long long)verdict_fd_allocations(&in, have));
	else
		selfcheck_say(s, VERDICT_OK, "descriptors",
			      "the hard limit %llu covers the %llu needed (%s)", have,
			      (unsigned long long)need, formula);
}

unsigned selfcheck_run(const struct conf *c, const struct selfcheck_opts *o)
{
	struct selfcheck s = {.c = c, .quick = o->quick, .out = o->out};
	char err[256];

	selfcheck_clock(&s);
	if (relay_shared_init(&s.rs, c, err, sizeof(err)) < 0) {
		selfcheck_say(&s, VERDICT_FAIL, "relay", "%s", err);
	} else {
		selfcheck_relays(&s);
		selfcheck_externals(&s);
		if (!s.quick)
			selfcheck_port_sweep(&s);
	}
	relay_shared_fini(&s.rs);
	selfcheck_fds(&s);
	selfcheck_cert(&s);
	selfcheck_redis(&s);
	if (!s.quick) {
		selfcheck_listening(&s);
		selfcheck_metrics(&s);
		selfcheck_control(&s);
	}
	if (s.out)
		fprintf(s.out, "turnd: self-check: %u ok, %u warning%s, %u failure%s: %s\n",
			s.n[VERDICT_OK], s.n[VERDICT_WARN], s.n[VERDICT_WARN] == 1 ? "" : "s",
			s.n[VERDICT_FAIL], s.n[VERDICT_FAIL] == 1 ? "" : "s",
			s.n[VERDICT_FAIL] ? "the server would NOT work as configured"
					  : "the server would work");
	else if (s.n[VERDICT_WARN] || s.n[VERDICT_FAIL])
		log_warn("self-check: %u warning%s, %u failure%s (turnd --self-check -c FILE "
			 "for the whole check)",
			 s.n[VERDICT_WARN], s.n[VERDICT_WARN] == 1 ? "" : "s", s.n[VERDICT_FAIL],
			 s.n[VERDICT_FAIL] == 1 ? "" : "s");
	return s.n[VERDICT_FAIL];
}
