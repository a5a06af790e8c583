/*
 * A small JSON reader and writer (RFC 8259) for the control socket
 * (daemon/control.c) and turnctl: one JSON value per line each way. Pure:
 * no I/O. The reader builds a tree, bounded in depth; the writer appends
 * to a growing buffer and escapes every string it is given, so that a
 * username with quotes, backslashes or control bytes stays one string.
 */
#ifndef TURND_UTIL_JSON_H
#define TURND_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	double number;
	char *string; /* JSON_STRING: decoded, NUL-terminated (\u0000 is refused) */
	size_t len;   /* of string */
	struct json_value *items; /* JSON_ARRAY and JSON_OBJECT: n values */
	char **keys;              /* JSON_OBJECT: n keys, decoded */
	size_t n;
};

/* Parse the len bytes of text: one value, blanks around it allowed.
 * Returns 0 with *out owned by the caller (json_free), or -1 with the
 * reason in err. */
int json_parse(const char *text, size_t len, struct json_value **out, char *err, size_t errlen);
/* NULL is a no-op. */
void json_free(struct json_value *v);
/* The member key of obj (the first of that name), or NULL: not an object,
 * or no such member. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
/* The same, when it is a string; NULL otherwise. */
const char *json_get_string(const struct json_value *obj, const char *key);

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
