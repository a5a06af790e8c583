/* A strict JSON reader of one object and writer of strings; see json.h. */
#include "util/json.h"

#include <string.h>

struct json_cursor {
	const char *p, *end;
	int depth;
};

/* RFC 8259 section 2: space, tab, line feed, carriage return. */
static void json_skip_ws(struct json_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool json_eat(struct json_cursor *c, char ch)
{
	json_skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static int json_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Four hex digits at p (end bounds them) into *u. */
static int json_u4(const char *p, const char *end, unsigned *u)
{
	*u = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = json_hex(p[i]);
		if (h < 0)
			return -1;
		*u = *u << 4 | (unsigned)h;
	}
	return 0;
}

/* A string after its opening quote (RFC 8259 section 7): its view. */
static int json_string(struct json_cursor *c, const char **s, size_t *n)
{
	const char *start = c->p;

	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p;
		unsigned u;

		if (ch < 0x20)
			return -1;
		if (ch != '\\') {
			c->p++;
			continue;
		}
		if (c->end - c->p < 2)
			return -1;
		if (c->p[1] == 'u') {
			if (json_u4(c->p + 2, c->end, &u) < 0)
				return -1;
			c->p += 6;
		} else if (strchr("\"\\/bfnrt", c->p[1]) && c->p[1] != '\0') {
			c->p += 2;
		} else {
			return -1;
		}
	}
	if (c->p == c->end)
		return -1;
	*s = start;
	*n = (size_t)(c->p - start);
	c->p++; /* the closing quote */
	return 0;
}

static bool json_digit(const struct json_cursor *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static void json_digits(struct json_cursor *c)
{
	while (json_digit(c))
		c->p++;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number(struct json_cursor *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (!json_digit(c))
		return -1;
	if (*c->p == '0')
		c->p++;
	else
		json_digits(c);
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!json_digit(c))
			return -1;
		json_digits(c);
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!json_digit(c))
			return -1;
		json_digits(c);
	}
	return 0;
}

static bool json_word(struct json_cursor *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

static int json_value(struct json_cursor *c, struct json_member *m);

/* An array or an object after its opening bracket, checked and skipped. */
static int json_container(struct json_cursor *c, bool object)
{
	char close = object ? '}' : ']';
	struct json_member m;

	if (++c->depth > JSON_DEPTH_MAX)
		return -1;
	if (json_eat(c, close)) {
		c->depth--;
		return 0;
	}
	do {
		if (object && (!json_eat(c, '"') || json_string(c, &m.name, &m.name_len) < 0 ||
			       !json_eat(c, ':')))
			return -1;
		if (json_value(c, &m) < 0)
			return -1;
	} while (json_eat(c, ','));
	if (!json_eat(c, close))
		return -1;
	c->depth--;
	return 0;
}

/* Any value; m gets its type and view. */
static int json_value(struct json_cursor *c, struct json_member *m)
{
	const char *start;

	json_skip_ws(c);
	if (c->p == c->end)
		return -1;
	start = c->p;
	switch (*c->p) {
	case '"':
		c->p++;
		m->type = JSON_STRING;
		return json_string(c, &m->value, &m->value_len);
	case '{':
	case '[':
		m->type = *c->p == '{' ? JSON_OBJECT : JSON_ARRAY;
		c->p++;
		if (json_container(c, m->type == JSON_OBJECT) < 0)
			return -1;
		break;
	case 't':
	case 'f':
		m->type = JSON_BOOL;
		if (!json_word(c, "true") && !json_word(c, "false"))
			return -1;
		break;
	case 'n':
		m->type = JSON_NULL;
		if (!json_word(c, "null"))
			return -1;
		break;
	default:
		m->type = JSON_NUMBER;
		if (json_number(c) < 0)
			return -1;
	}
	m->value = start;
	m->value_len = (size_t)(c->p - start);
	return 0;
}

int json_object_members(const char *text, size_t len, struct json_member *m, size_t max)
{
	struct json_cursor c = { text, text + len, 1 };
	size_t n = 0;

	if (!text || !json_eat(&c, '{'))
		return -1;
	if (!json_eat(&c, '}')) {
		do {
			struct json_member one;
			if (n == max || !json_eat(&c, '"') ||
			    json_string(&c, &one.name, &one.name_len) < 0 || !json_eat(&c, ':') ||
			    json_value(&c, &one) < 0)
				return -1;
			m[n++] = one;
		} while (json_eat(&c, ','));
		if (!json_eat(&c, '}'))
			return -1;
	}
	json_skip_ws(&c);
	return c.p == c.end && n <= (size_t)INT32_MAX ? (int)n : -1;
}

/* One code point as UTF-8 into out at *o (cap bounds it). */
static int json_put_utf8(char *out, size_t cap, size_t *o, unsigned cp)
{
	uint8_t b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xC0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xE0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xF0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		b[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (*o + n >= cap)
		return -1;
	memcpy(out + *o, b, n);
	*o += n;
	return 0;
}

/* The escape at raw[*i] (after its backslash was seen) as a code point;
 * a surrogate pair is joined (RFC 8259 section 7). */
static int json_unescape(const char *raw, size_t len, size_t *i, unsigned *cp)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned lo;

	if (raw[*i + 1] != 'u') {
		hit = strchr(from, raw[*i + 1]);
		*cp = (unsigned char)to[hit - from];
		*i += 2;
		return 0;
	}
	json_u4(raw + *i + 2, raw + len, cp);
	*i += 6;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return -1;
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return 0;
	if (len - *i < 6 || raw[*i] != '\\' || raw[*i + 1] != 'u' ||
	    json_u4(raw + *i + 2, raw + len, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
		return -1;
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	*i += 6;
	return 0;
}

/* Raw bytes of a string are valid UTF-8 (RFC 3629 section 4). */
static bool json_utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t b = s[i];
		size_t k = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2
			 : (b & 0xF8) == 0xF0 ? 3 : 9;
		unsigned cp = k == 0 ? b : k == 1 ? b & 0x1Fu : k == 2 ? b & 0x0Fu : b & 0x07u;

		if (k == 9 || n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3Fu);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

int json_string_decode(const char *raw, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	if (!out || cap == 0)
		return -1;
	/* The view came from json_object_members: its escapes are complete. */
	while (i < len) {
		unsigned cp;

		if (raw[i] != '\\') {
			if (o + 1 >= cap)
				return -1;
			out[o++] = raw[i++];
			continue;
		}
		if (json_unescape(raw, len, &i, &cp) < 0 || cp == 0 ||
		    json_put_utf8(out, cap, &o, cp) < 0)
			return -1;
	}
	out[o] = '\0';
	if (!json_utf8_ok((const uint8_t *)out, o) || o > (size_t)INT32_MAX)
		return -1;
	return (int)o;
}

bool json_name_is(const struct json_member *m, const char *name)
{
	char buf[64];
	int n = json_string_decode(m->name, m->name_len, buf, sizeof(buf));

	return n >= 0 && strcmp(buf, name) == 0;
}

int json_uint(const struct json_member *m, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (m->type != JSON_NUMBER || m->value_len == 0)
		return -1;
	for (size_t i = 0; i < m->value_len; i++) {
		char ch = m->value[i];
		if (ch < '0' || ch > '9' || v > (max - (uint64_t)(ch - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(ch - '0');
	}
	*out = v;
	return 0;
}

int json_put_raw(char *out, size_t cap, size_t *pos, const char *text)
{
	size_t n = strlen(text);

	if (*pos >= cap || cap - *pos <= n)
		return -1;
	memcpy(out + *pos, text, n + 1);
	*pos += n;
	return 0;
}

int json_put_string(char *out, size_t cap, size_t *pos, const uint8_t *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = *pos;

	if (o >= cap)
		return -1;
	out[o++] = '"';
	for (size_t i = 0; i < len && o < cap; i++) {
		uint8_t b = in[i];
		bool ctl = b < 0x20 || b == 0x7F;
		size_t need = ctl ? 6 : (b == '"' || b == '\\') ? 2 : 1;

		if (cap - o <= need)
			goto full;
		if (ctl) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[b >> 4];
			out[o + 5] = hex[b & 0x0F];
		} else if (need == 2) {
			out[o] = '\\';
			out[o + 1] = (char)b;
		} else {
			out[o] = (char)b;
		}
		o += need;
	}
	if (cap - o <= 1)
		goto full;
	out[o++] = '"';
	out[o] = '\0';
	*pos = o;
	return 0;
full:
	out[*pos] = '\0';
	return -1;
}
