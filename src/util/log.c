/* Log sink: stderr with a timestamp, or syslog. Set once at start-up. */
#include "util/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* The log sink is the one allowed global besides signal flags (STYLE.md).
 * Level is read by every worker thread and set by a reload (SIGHUP) in the
 * main thread: atomic, relaxed, since nothing else is ordered by it. */
static struct {
	enum log_sink sink;
	_Atomic int level;
	int json;
} g_log = { LOG_SINK_STDERR, LOG_LVL_NOTICE, 0 };

static const char *const level_names[] = { "error", "warn", "notice", "info", "debug" };

void log_setup(enum log_sink sink, enum log_level level, const char *ident)
{
	g_log.sink = sink;
	atomic_store_explicit(&g_log.level, (int)level, memory_order_relaxed);
	if (sink == LOG_SINK_SYSLOG)
		openlog(ident ? ident : "turnd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_json(int on)
{
	g_log.json = on;
}

/* s as the inside of a JSON string (RFC 8259 section 7) into out. */
static void json_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&g_log.level, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&g_log.level, memory_order_relaxed);
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcmp(name, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "?";
}

static int syslog_priority(enum log_level level)
{
	static const int map[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
	return map[level];
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if ((int)level > atomic_load_explicit(&g_log.level, memory_order_relaxed))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (g_log.sink == LOG_SINK_SYSLOG) {
		syslog(syslog_priority(level), "%s", line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line: stdio locks the stream, so lines from worker
	 * threads never interleave. */
	if (g_log.json) {
		char esc[6 * sizeof(line)];
		json_escape(line, esc, sizeof(esc));
		fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"}\n", stamp,
			ts.tv_nsec / 1000000L, level_names[level], esc);
		return;
	}
	fprintf(stderr, "%s.%03ldZ %s: %s\n", stamp, ts.tv_nsec / 1000000L, level_names[level],
		line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
