/*
 * A JSON reader (RFC 8259) for the control socket (daemon/control.c) and
 * turnctl, which reads the daemon's answers whole: any value, parsed into
 * a tree bounded in depth, strings decoded. Pure: no I/O. (util/json.h is
 * the HTTP hook's: views of one flat object, no allocation; json_out.h
 * is the writer of the control socket's lines.)
 */
#ifndef TURND_UTIL_JSON_TREE_H
#define TURND_UTIL_JSON_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TREE_MAX_DEPTH 16

enum json_tree_type {
	JSON_TREE_NULL,
	JSON_TREE_FALSE,
	JSON_TREE_TRUE,
	JSON_TREE_NUMBER,
	JSON_TREE_STRING,
	JSON_TREE_ARRAY,
	JSON_TREE_OBJECT
};

struct json_tree {
	enum json_tree_type type;
	double number;
	char *string; /* JSON_TREE_STRING: decoded, NUL-terminated (\u0000 is refused) */
	size_t len; /* of string */
	struct json_tree *items; /* JSON_TREE_ARRAY and JSON_TREE_OBJECT: n values */
	char **keys; /* JSON_TREE_OBJECT: n keys, decoded */
	size_t n;
};

/* Parse the len bytes of text: one value, blanks around it allowed.
 * Returns 0 with *out owned by the caller (json_free), or -1 with the
 * reason in err. */
int json_tree_parse(const char *text, size_t len, struct json_tree **out, char *err, size_t errlen);
/* NULL is a no-op. */
void json_tree_free(struct json_tree *v);
/* The member key of obj (the first of that name), or NULL: not an object,
 * or no such member. */
const struct json_tree *json_tree_get(const struct json_tree *obj, const char *key);
/* The same, when it is a string; NULL otherwise. */
const char *json_tree_get_string(const struct json_tree *obj, const char *key);

#endif
