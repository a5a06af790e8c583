/* JSON reader and writer (json.h), RFC 8259. */
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_reader {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int json_fail(struct json_reader *r, const char *why)
{
	if (r->err && r->errlen)
		snprintf(r->err, r->errlen, "%s", why);
	return -1;
}

static void json_skip_blanks(struct json_reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int json_hex4(struct json_reader *r, unsigned *v)
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
static int json_unicode(struct json_reader *r, char *out)
{
	unsigned c, lo;

	if (json_hex4(r, &c) < 0 || c == 0 || (c >= 0xDC00 && c <= 0xDFFF))
		return -1;
	if (c >= 0xD800 && c <= 0xDBFF) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
			return -1;
		r->p += 2;
		if (json_hex4(r, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
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

static char json_simple_escape(char c)
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
static int json_string(struct json_reader *r, char **out, size_t *len)
{
	const char *start = ++r->p, *q = start;
	size_t n = 0;
	char *s;

	/* The closing quote first: the decoded string is never longer than
	 * the text up to it (an escape never decodes longer than it is). */
	while (q < r->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= r->end)
		return json_fail(r, "unterminated string");
	s = malloc((size_t)(q - start) + 1);
	if (!s)
		return json_fail(r, "out of memory");
	for (;;) {
		if (r->p >= r->end) {
			free(s);
			return json_fail(r, "unterminated string");
		}
		char c = *r->p++;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20) {
			free(s);
			return json_fail(r, "control byte in a string");
		}
		if (c != '\\') {
			s[n++] = c;
			continue;
		}
		if (r->p >= r->end) {
			free(s);
			return json_fail(r, "unterminated string");
		}
		c = *r->p++;
		int k = 1;
		if (c == 'u')
			k = json_unicode(r, s + n);
		else if ((s[n] = json_simple_escape(c)) == 0)
			k = -1;
		if (k < 0) {
			free(s);
			return json_fail(r, "bad escape in a string");
		}
		n += (size_t)k;
	}
	s[n] = '\0';
	*out = s;
	*len = n;
	return 0;
}

/* RFC 8259 section 6's grammar, then strtod on a bounded copy. */
static int json_number(struct json_reader *r, double *v)
{
	const char *s = r->p;
	char buf[64];

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return json_fail(r, "bad number");
	if (*r->p == '0') /* no leading zeros: "01" is not a number */
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		if (++r->p >= r->end || *r->p < '0' || *r->p > '9')
			return json_fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		if (++r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return json_fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if ((size_t)(r->p - s) >= sizeof(buf))
		return json_fail(r, "number too long");
	memcpy(buf, s, (size_t)(r->p - s));
	buf[r->p - s] = '\0';
	*v = strtod(buf, NULL);
	return 0;
}

static int json_value_at(struct json_reader *r, struct json_value *v, unsigned depth);

/* One more slot in v's items (and keys for an object). */
static struct json_value *json_grow(struct json_value *v, size_t *cap)
{
	if (v->n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct json_value *items = realloc(v->items, c * sizeof(*items));
		if (!items)
			return NULL;
		v->items = items;
		if (v->type == JSON_OBJECT) {
			char **keys = realloc(v->keys, c * sizeof(*keys));
			if (!keys)
				return NULL;
			v->keys = keys;
		}
		*cap = c;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	if (v->type == JSON_OBJECT)
		v->keys[v->n] = NULL;
	return &v->items[v->n++];
}

/* An array or object at r->p (on its bracket). */
static int json_container(struct json_reader *r, struct json_value *v, unsigned depth)
{
	char close = v->type == JSON_ARRAY ? ']' : '}';
	size_t cap = 0;

	if (depth >= JSON_MAX_DEPTH)
		return json_fail(r, "nested too deep");
	r->p++;
	json_skip_blanks(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		struct json_value *item = json_grow(v, &cap);
		size_t klen;
		if (!item)
			return json_fail(r, "out of memory");
		json_skip_blanks(r);
		if (v->type == JSON_OBJECT) {
			if (r->p >= r->end || *r->p != '"')
				return json_fail(r, "expected a member name");
			if (json_string(r, &v->keys[v->n - 1], &klen) < 0)
				return -1;
			json_skip_blanks(r);
			if (r->p >= r->end || *r->p++ != ':')
				return json_fail(r, "expected ':'");
		}
		if (json_value_at(r, item, depth + 1) < 0)
			return -1;
		json_skip_blanks(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return json_fail(r, v->type == JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
	}
}

static int json_word(struct json_reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return json_fail(r, "unexpected character");
	r->p += n;
	return 0;
}

static int json_value_at(struct json_reader *r, struct json_value *v, unsigned depth)
{
	json_skip_blanks(r);
	if (r->p >= r->end)
		return json_fail(r, "unexpected end");
	switch (*r->p) {
	case '{': v->type = JSON_OBJECT; return json_container(r, v, depth);
	case '[': v->type = JSON_ARRAY; return json_container(r, v, depth);
	case '"': v->type = JSON_STRING; return json_string(r, &v->string, &v->len);
	case 't': v->type = JSON_TRUE; return json_word(r, "true");
	case 'f': v->type = JSON_FALSE; return json_word(r, "false");
	case 'n': v->type = JSON_NULL; return json_word(r, "null");
	default: v->type = JSON_NUMBER; return json_number(r, &v->number);
	}
}

static void json_free_inner(struct json_value *v)
{
	for (size_t i = 0; i < v->n; i++) {
		json_free_inner(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	json_free_inner(v);
	free(v);
}

int json_parse(const char *text, size_t len, struct json_value **out, char *err, size_t errlen)
{
	struct json_reader r = { text, text + len, err, errlen };
	struct json_value *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v)
		return json_fail(&r, "out of memory");
	if (json_value_at(&r, v, 0) < 0) {
		json_free(v);
		return -1;
	}
	json_skip_blanks(&r);
	if (r.p != r.end) {
		json_free(v);
		return json_fail(&r, "text after the value");
	}
	*out = v;
	return 0;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

const char *json_get_string(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->string : NULL;
}

/* ---- the writer ---- */

static void json_out_append(struct json_out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* The length of the valid UTF-8 sequence at s (RFC 3629 section 4: no
 * overlong form, no surrogate, nothing past U+10FFFF), or 0. */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
	size_t k = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;

	if (s[0] < 0xC2 || s[0] > 0xF4 || n < k)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
	    (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
		return 0;
	return k;
}

void json_out_quoted(struct json_out *o, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	json_out_append(o, "\"", 1);
	while (i < len) {
		size_t run = i;
		while (run < len && u[run] >= 0x20 && u[run] < 0x7F && u[run] != '"' && u[run] != '\\')
			run++;
		json_out_append(o, s + i, run - i);
		i = run;
		if (i == len)
			break;
		size_t k = u[i] >= 0x80 ? json_utf8_len(u + i, len - i) : 0;
		char esc[8];
		if (k) {
			json_out_append(o, s + i, k);
			i += k;
			continue;
		}
		if (u[i] == '"' || u[i] == '\\')
			snprintf(esc, sizeof(esc), "\\%c", u[i]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
		json_out_append(o, esc, strlen(esc));
		i++;
	}
	json_out_append(o, "\"", 1);
}

/* The comma before a member or element, and its key. */
static void json_out_lead(struct json_out *o, const char *key)
{
	if (o->comma)
		json_out_append(o, ",", 1);
	if (key) {
		json_out_quoted(o, key, strlen(key));
		json_out_append(o, ":", 1);
	}
	o->comma = true;
}

void json_out_open(struct json_out *o, const char *key, char bracket)
{
	json_out_lead(o, key);
	json_out_append(o, &bracket, 1);
	o->comma = false;
}

void json_out_close(struct json_out *o, char bracket)
{
	json_out_append(o, &bracket, 1);
	o->comma = true;
}

void json_out_strn(struct json_out *o, const char *key, const char *s, size_t len)
{
	json_out_lead(o, key);
	json_out_quoted(o, s, len);
}

void json_out_str(struct json_out *o, const char *key, const char *s)
{
	json_out_strn(o, key, s, strlen(s));
}

void json_out_u64(struct json_out *o, const char *key, uint64_t v)
{
	char num[24];

	json_out_lead(o, key);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	json_out_append(o, num, strlen(num));
}

void json_out_bool(struct json_out *o, const char *key, bool v)
{
	json_out_lead(o, key);
	json_out_append(o, v ? "true" : "false", v ? 4 : 5);
}

void json_out_raw(struct json_out *o, const char *s, size_t len)
{
	if (o->comma)
		json_out_append(o, ",", 1);
	json_out_append(o, s, len);
	o->comma = true;
}

char *json_out_take(struct json_out *o, size_t *len)
{
	char *b = o->failed ? NULL : o->buf;

	if (o->failed)
		free(o->buf);
	if (len)
		*len = b ? o->len : 0;
	*o = (struct json_out){ 0 };
	return b;
}

void json_out_free(struct json_out *o)
{
	free(o->buf);
	*o = (struct json_out){ 0 };
}
