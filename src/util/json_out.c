/* The JSON writer of the control socket and turnctl (json_out.h), RFC 8259. */
#include "util/json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static size_t json_out_utf8_len(const unsigned char *s, size_t n)
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
		while (run < len && u[run] >= 0x20 && u[run] < 0x7F && u[run] != '"' &&
		       u[run] != '\\')
			run++;
		json_out_append(o, s + i, run - i);
		i = run;
		if (i == len)
			break;
		size_t k = u[i] >= 0x80 ? json_out_utf8_len(u + i, len - i) : 0;
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
	*o = (struct json_out){0};
	return b;
}

void json_out_free(struct json_out *o)
{
	free(o->buf);
	*o = (struct json_out){0};
}
