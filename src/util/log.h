/*
 * Logging. The sink is the one piece of global state outside signal flags
 * (STYLE.md rule 2): it is set once at start-up and read by every thread.
 * One line per event. Library code does not log errors it returns.
 */
#ifndef TURND_UTIL_LOG_H
#define TURND_UTIL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG };

enum log_sink { LOG_SINK_STDERR = 0, LOG_SINK_SYSLOG };

void log_setup(enum log_sink sink, enum log_level level, const char *ident);
void log_set_level(enum log_level level);
/* Lines on stderr as JSON objects {"time", "level", "msg"} (log-json). */
void log_set_json(int on);
enum log_level log_get_level(void);
/* "error", "warn", "notice", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Log at error level and exit(1). Only for start-up. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
