/*
 * A small strict JSON (RFC 8259) writer of strings and reader of one
 * object's members, for the HTTP authorization hook (auth/auth_http.c):
 * the request is a flat object turnd writes, the answer a flat object the
 * application writes. No dependency, no allocation: members are views of
 * the caller's text.
 *
 * Strict: one value, an object, with nothing but whitespace around it;
 * strings without raw control characters and with valid escapes; numbers
 * in RFC 8259 section 6's grammar; nested values are checked as well, to a
 * bounded depth, and given back as raw views.
 */
#ifndef TURND_UTIL_JSON_H
#define TURND_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting a reader follows before it gives up (the top object is 1). */
#define JSON_DEPTH_MAX 16

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_OBJECT, JSON_ARRAY };

/* One member of an object, as views into the text parsed. */
struct json_member {
	const char *name; /* between the quotes, escapes not decoded */
	size_t name_len;
	enum json_type type;
	const char *value; /* a string between its quotes; any other value whole */
	size_t value_len;
};

/*
 * The members of the object that text[0..len) holds, at most max of them,
 * in order. Returns how many, or -1 when text is not exactly one valid
 * JSON object (or has more than max members, or nests deeper than
 * JSON_DEPTH_MAX).
 */
int json_object_members(const char *text, size_t len, struct json_member *m, size_t max);

/*
 * Decode a string's view (json_member.name or .value of a JSON_STRING)
 * into out as UTF-8 and NUL-terminate it. Returns the length, or -1 when
 * it does not fit in cap - 1 bytes, decodes to invalid UTF-8 (a lone
 * surrogate) or contains NUL.
 */
int json_string_decode(const char *raw, size_t len, char *out, size_t cap);

/* Whether member m's name decodes to name. */
bool json_name_is(const struct json_member *m, const char *name);

/* A JSON_NUMBER that is a whole number 0..max without fraction or
 * exponent, into *out. Returns 0 or -1. */
int json_uint(const struct json_member *m, uint64_t max, uint64_t *out);

/*
 * Append in[0..len) as a JSON string, quotes included, at out + *pos
 * (cap bytes in all), and advance *pos; out stays NUL-terminated. '"' and
 * '\' are escaped, control characters (below 0x20, and 0x7F) written as
 * \u00XX, every other byte (UTF-8 included) as it is: the caller passes
 * valid UTF-8. Returns 0, or -1 when it does not fit (out is then cut
 * back to *pos).
 */
int json_put_string(char *out, size_t cap, size_t *pos, const uint8_t *in, size_t len);

/* Append text as it is (a key, a number, punctuation); as above. */
int json_put_raw(char *out, size_t cap, size_t *pos, const char *text);

#endif
