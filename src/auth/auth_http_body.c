/* The HTTP hook's request body and the reading of its answer; see
 * auth_http_body.h. */
#include "auth/auth_http_body.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/addr.h"
#include "util/json.h"

/* ,"name": */
static int body_key(char *out, size_t cap, size_t *o, const char *name, bool first)
{
	if (!first && json_put_raw(out, cap, o, ",") < 0)
		return -1;
	if (json_put_string(out, cap, o, (const uint8_t *)name, strlen(name)) < 0)
		return -1;
	return json_put_raw(out, cap, o, ":");
}

/* ,"name":"text" or ,"name":null */
static int body_text(char *out, size_t cap, size_t *o, const char *name, const char *text)
{
	if (body_key(out, cap, o, name, false) < 0)
		return -1;
	if (!text)
		return json_put_raw(out, cap, o, "null");
	return json_put_string(out, cap, o, (const uint8_t *)text, strlen(text));
}

/* ,"<prefix>_ip":"addr","<prefix>_port":N; null and 0 when unknown. */
static int body_addr(char *out, size_t cap, size_t *o, const char *prefix,
		     const struct turn_addr *a)
{
	char name[32], ip[TURN_ADDR_STRLEN], port[8];
	bool known = a && a->family;

	snprintf(name, sizeof(name), "%s_ip", prefix);
	if (body_text(out, cap, o, name, known ? turn_addr_format(a, false, ip, sizeof(ip)) : NULL) <
	    0)
		return -1;
	snprintf(name, sizeof(name), "%s_port", prefix);
	snprintf(port, sizeof(port), "%u", known ? (unsigned)a->port : 0u);
	if (body_key(out, cap, o, name, false) < 0)
		return -1;
	return json_put_raw(out, cap, o, port);
}

int auth_http_body_build(const struct auth_http_ask *a, char *out, size_t cap)
{
	size_t o = 0;

	if (!a || !out || cap == 0 || !a->username)
		return -1;
	out[0] = '\0';
	if (json_put_raw(out, cap, &o, "{") < 0 || body_key(out, cap, &o, "username", true) < 0 ||
	    json_put_string(out, cap, &o, a->username, a->username_len) < 0 ||
	    body_text(out, cap, &o, "realm", a->realm) < 0 ||
	    body_addr(out, cap, &o, "client", a->client) < 0 ||
	    body_text(out, cap, &o, "transport", a->transport) < 0 ||
	    body_addr(out, cap, &o, "listen", a->local) < 0 ||
	    body_text(out, cap, &o, "method", a->method) < 0 || json_put_raw(out, cap, &o, "}") < 0)
		return -1;
	return (int)o;
}

/* "key": 32 hex digits. */
static int reply_key(const struct json_member *m, struct auth_http_reply *out)
{
	if (m->type != JSON_STRING || m->value_len != 2 * STUN_KEY_MD5_LEN)
		return -1;
	for (size_t i = 0; i < STUN_KEY_MD5_LEN; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)m->value[2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)m->value[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out->md5[i] = (uint8_t)(hi << 4 | lo);
	}
	out->has_key = true;
	return 0;
}

static int reply_password(const struct json_member *m, struct auth_http_reply *out)
{
	if (m->type != JSON_STRING ||
	    json_string_decode(m->value, m->value_len, out->password, sizeof(out->password)) <= 0)
		return -1;
	out->has_password = true;
	return 0;
}

/* One member: a known one read into out (each at most once), others
 * skipped. */
static int reply_member(const struct json_member *m, struct auth_http_reply *out, unsigned *seen)
{
	static const char *const names[] = { "key", "password", "lifetime", "quota", "max_bps" };
	uint64_t v = 0;
	size_t i = 0;

	while (i < sizeof(names) / sizeof(names[0]) && !json_name_is(m, names[i]))
		i++;
	if (i == sizeof(names) / sizeof(names[0]))
		return 0;
	if (*seen & (1u << i))
		return -1;
	*seen |= 1u << i;
	switch (i) {
	case 0:
		return reply_key(m, out);
	case 1:
		return reply_password(m, out);
	case 2:
		if (json_uint(m, AUTH_HTTP_LIFETIME_MAX, &v) < 0)
			return -1;
		out->limits.lifetime_s = (uint32_t)v;
		return 0;
	case 3:
		if (json_uint(m, AUTH_HTTP_QUOTA_MAX, &v) < 0)
			return -1;
		out->limits.quota = (uint32_t)v;
		return 0;
	default:
		/* 0 would read as "no cap": an answer meaning that leaves it out. */
		if (json_uint(m, AUTH_HTTP_MAX_BPS_MAX, &v) < 0 || v == 0)
			return -1;
		out->limits.max_bps = v;
		return 0;
	}
}

int auth_http_reply_parse(const char *body, size_t len, struct auth_http_reply *out)
{
	struct json_member m[AUTH_HTTP_MEMBERS_MAX];
	unsigned seen = 0;
	int n;

	if (!out)
		return -1;
	OPENSSL_cleanse(out, sizeof(*out));
	n = body ? json_object_members(body, len, m, AUTH_HTTP_MEMBERS_MAX) : -1;
	for (int i = 0; i < n; i++)
		if (reply_member(&m[i], out, &seen) < 0)
			n = -1;
	if (n < 0 || out->has_key == out->has_password) {
		OPENSSL_cleanse(out, sizeof(*out));
		return -1;
	}
	return 0;
}
