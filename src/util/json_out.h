/*
 * The JSON writer (RFC 8259) of the control socket's answers and turnctl's
 * requests: appends to a growing buffer and escapes every string it is
 * given, so that a username with quotes, backslashes, control bytes or
 * bytes that are not UTF-8 stays one valid string. Pure: no I/O.
 */
#ifndef TURND_UTIL_JSON_OUT_H
#define TURND_UTIL_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The writer: appends to buf (malloc'd, NUL-terminated); failed once
 * memory ran out, after which nothing more is written. */
struct json_out {
	char *buf;
	size_t len, cap;
	bool failed;
	bool comma; /* a value was written at this level: the next needs ',' */
};

/* '{' or '[' (after a key or as an element), and the closing one. */
void json_out_open(struct json_out *o, const char *key, char bracket);
void json_out_close(struct json_out *o, char bracket);
/* Members (key non-NULL) or elements (key NULL). */
void json_out_str(struct json_out *o, const char *key, const char *s);
void json_out_strn(struct json_out *o, const char *key, const char *s, size_t len);
void json_out_u64(struct json_out *o, const char *key, uint64_t v);
void json_out_bool(struct json_out *o, const char *key, bool v);
/* Append s, escaped, between quotes: '"' and '\' escaped, control bytes
 * and DEL as \u00XX, and a byte that does not start a valid UTF-8
 * sequence as \u00XX (the byte's value), so the output is valid UTF-8. */
void json_out_quoted(struct json_out *o, const char *s, size_t len);
/* Append text that is already JSON (one or more values, comma-separated)
 * as it is, after a comma when a value came before at this level. */
void json_out_raw(struct json_out *o, const char *s, size_t len);
/* Give the buffer to the caller (free it), and reset o. NULL when
 * memory ran out. */
char *json_out_take(struct json_out *o, size_t *len);
void json_out_free(struct json_out *o);

#endif
