/* The JSON reader of the control socket and turnctl (json_tree.h), RFC 8259. */
#include "util/json_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_tree_reader {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int json_tree_fail(struct json_tree_reader *r, const char *why)
{
	if (r->err && r->errlen)
		snprintf(r->err, r->errlen, "%s", why);
	return -1;
}

static void json_tree_blanks(struct json_tree_reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int json_tree_hex4(struct json_tree_reader *r, unsigned *v)
{
	*v = 0;
	if (r->end - r->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *r->p++;
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		if (d == 16)
			return -1;
		*v = *v * 16 + d;
	}
	return 0;
}

/* \uXXXX (with its low surrogate when it is a high one) as UTF-8 into
 * out; returns the bytes written, or -1 (\u0000, a lone surrogate). */
static int json_tree_unicode(struct json_tree_reader *r, char *out)
{
	unsigned c, lo;

	if (json_tree_hex4(r, &c) < 0 || c == 0 || (c >= 0xDC00 && c <= 0xDFFF))
		return -1;
	if (c >= 0xD800 && c <= 0xDBFF) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
			return -1;
		r->p += 2;
		if (json_tree_hex4(r, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static char json_tree_escape(char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '/': return '/';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return 0;
	}
}

/* A string at r->p (on its opening quote), decoded into a new buffer:
 * never longer than the text it comes from. */
static int json_tree_string(struct json_tree_reader *r, char **out, size_t *len)
{
	const char *start = ++r->p, *q = start;
	size_t n = 0;
	char *s;

	/* The closing quote first: the decoded string is never longer than
	 * the text up to it (an escape never decodes longer than it is). */
	while (q < r->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= r->end)
		return json_tree_fail(r, "unterminated string");
	s = malloc((size_t)(q - start) + 1);
	if (!s)
		return json_tree_fail(r, "out of memory");
	for (;;) {
		if (r->p >= r->end) {
			free(s);
			return json_tree_fail(r, "unterminated string");
		}
		char c = *r->p++;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20) {
			free(s);
			return json_tree_fail(r, "control byte in a string");
		}
		if (c != '\\') {
			s[n++] = c;
			continue;
		}
		if (r->p >= r->end) {
			free(s);
			return json_tree_fail(r, "unterminated string");
		}
		c = *r->p++;
		int k = 1;
		if (c == 'u')
			k = json_tree_unicode(r, s + n);
		else if ((s[n] = json_tree_escape(c)) == 0)
			k = -1;
		if (k < 0) {
			free(s);
			return json_tree_fail(r, "bad escape in a string");
		}
		n += (size_t)k;
	}
	s[n] = '\0';
	*out = s;
	*len = n;
	return 0;
}

/* RFC 8259 section 6's grammar, then strtod on a bounded copy. */
static int json_tree_number(struct json_tree_reader *r, double *v)
{
	const char *s = r->p;
	char buf[64];

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return json_tree_fail(r, "bad number");
	if (*r->p == '0') /* no leading zeros: "01" is not a number */
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		if (++r->p >= r->end || *r->p < '0' || *r->p > '9')
			return json_tree_fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		if (++r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return json_tree_fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if ((size_t)(r->p - s) >= sizeof(buf))
		return json_tree_fail(r, "number too long");
	memcpy(buf, s, (size_t)(r->p - s));
	buf[r->p - s] = '\0';
	*v = strtod(buf, NULL);
	return 0;
}

static int json_tree_value_at(struct json_tree_reader *r, struct json_tree *v, unsigned depth);

/* One more slot in v's items (and keys for an object). */
static struct json_tree *json_tree_grow(struct json_tree *v, size_t *cap)
{
	if (v->n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct json_tree *items = realloc(v->items, c * sizeof(*items));
		if (!items)
			return NULL;
		v->items = items;
		if (v->type == JSON_TREE_OBJECT) {
			char **keys = realloc(v->keys, c * sizeof(*keys));
			if (!keys)
				return NULL;
			v->keys = keys;
		}
		*cap = c;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	if (v->type == JSON_TREE_OBJECT)
		v->keys[v->n] = NULL;
	return &v->items[v->n++];
}

/* An array or object at r->p (on its bracket). */
static int json_tree_container(struct json_tree_reader *r, struct json_tree *v, unsigned depth)
{
	char close = v->type == JSON_TREE_ARRAY ? ']' : '}';
	size_t cap = 0;

	if (depth >= JSON_TREE_MAX_DEPTH)
		return json_tree_fail(r, "nested too deep");
	r->p++;
	json_tree_blanks(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		struct json_tree *item = json_tree_grow(v, &cap);
		size_t klen;
		if (!item)
			return json_tree_fail(r, "out of memory");
		json_tree_blanks(r);
		if (v->type == JSON_TREE_OBJECT) {
			if (r->p >= r->end || *r->p != '"')
				return json_tree_fail(r, "expected a member name");
			if (json_tree_string(r, &v->keys[v->n - 1], &klen) < 0)
				return -1;
			json_tree_blanks(r);
			if (r->p >= r->end || *r->p++ != ':')
				return json_tree_fail(r, "expected ':'");
		}
		if (json_tree_value_at(r, item, depth + 1) < 0)
			return -1;
		json_tree_blanks(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return json_tree_fail(r, v->type == JSON_TREE_ARRAY ? "expected ',' or ']'"
								    : "expected ',' or '}'");
	}
}

static int json_tree_word(struct json_tree_reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return json_tree_fail(r, "unexpected character");
	r->p += n;
	return 0;
}

static int json_tree_value_at(struct json_tree_reader *r, struct json_tree *v, unsigned depth)
{
	json_tree_blanks(r);
	if (r->p >= r->end)
		return json_tree_fail(r, "unexpected end");
	switch (*r->p) {
	case '{': v->type = JSON_TREE_OBJECT; return json_tree_container(r, v, depth);
	case '[': v->type = JSON_TREE_ARRAY; return json_tree_container(r, v, depth);
	case '"': v->type = JSON_TREE_STRING; return json_tree_string(r, &v->string, &v->len);
	case 't': v->type = JSON_TREE_TRUE; return json_tree_word(r, "true");
	case 'f': v->type = JSON_TREE_FALSE; return json_tree_word(r, "false");
	case 'n': v->type = JSON_TREE_NULL; return json_tree_word(r, "null");
	default: v->type = JSON_TREE_NUMBER; return json_tree_number(r, &v->number);
	}
}

static void json_tree_free_inner(struct json_tree *v)
{
	for (size_t i = 0; i < v->n; i++) {
		json_tree_free_inner(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
}

void json_tree_free(struct json_tree *v)
{
	if (!v)
		return;
	json_tree_free_inner(v);
	free(v);
}

int json_tree_parse(const char *text, size_t len, struct json_tree **out, char *err, size_t errlen)
{
	struct json_tree_reader r = {text, text + len, err, errlen};
	struct json_tree *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v)
		return json_tree_fail(&r, "out of memory");
	if (json_tree_value_at(&r, v, 0) < 0) {
		json_tree_free(v);
		return -1;
	}
	json_tree_blanks(&r);
	if (r.p != r.end) {
		json_tree_free(v);
		return json_tree_fail(&r, "text after the value");
	}
	*out = v;
	return 0;
}

const struct json_tree *json_tree_get(const struct json_tree *obj, const char *key)
{
	if (!obj || obj->type != JSON_TREE_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

const char *json_tree_get_string(const struct json_tree *obj, const char *key)
{
	const struct json_tree *v = json_tree_get(obj, key);

	return v && v->type == JSON_TREE_STRING ? v->string : NULL;
}
