/* Transport address helpers for the pure core. inet_pton/inet_ntop are
 * address conversions only (arpa/inet.h), not socket calls. */
#include "util/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t turn_addr_iplen(const struct turn_addr *a)
{
	if (a->family == TURN_AF_INET)
		return 4;
	if (a->family == TURN_AF_INET6)
		return 16;
	return 0;
}

bool turn_addr_ip_eq(const struct turn_addr *a, const struct turn_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, turn_addr_iplen(a)) == 0;
}

bool turn_addr_eq(const struct turn_addr *a, const struct turn_addr *b)
{
	return turn_addr_ip_eq(a, b) && a->port == b->port;
}

uint32_t turn_addr_hash(const struct turn_addr *a, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	size_t n = turn_addr_iplen(a);

	h = (h ^ a->family) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ a->ip[i]) * 16777619u;
	h = (h ^ (a->port >> 8)) * 16777619u;
	h = (h ^ (a->port & 0xff)) * 16777619u;
	return h;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int parse_ip(const char *s, struct turn_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->ip) == 1) {
		out->family = TURN_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->ip) == 1) {
		out->family = TURN_AF_INET6;
		return 0;
	}
	return -1;
}

int turn_addr_parse(const char *text, uint16_t default_port, struct turn_addr *out)
{
	char buf[TURN_ADDR_STRLEN];
	const char *port_text = NULL;
	size_t n = strlen(text);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n + 1);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close)
			return -1;
		*close = '\0';
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return -1;
		if (parse_ip(buf + 1, out) < 0 || out->family != TURN_AF_INET6)
			return -1;
	} else {
		char *colon = strchr(buf, ':');
		/* One colon: "v4:port". More: a bare IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			port_text = colon + 1;
		}
		if (parse_ip(buf, out) < 0)
			return -1;
		if (port_text && out->family != TURN_AF_INET)
			return -1;
	}
	out->port = default_port;
	if (port_text && parse_port(port_text, &out->port) < 0)
		return -1;
	return 0;
}

char *turn_addr_format(const struct turn_addr *a, bool with_port, char *buf, size_t len)
{
	char ip[TURN_ADDR_STRLEN];
	int af = a->family == TURN_AF_INET6 ? AF_INET6 : AF_INET;

	if (len == 0)
		return buf;
	if (turn_addr_iplen(a) == 0 || !inet_ntop(af, a->ip, ip, sizeof(ip))) {
		snprintf(buf, len, "(none)");
		return buf;
	}
	if (!with_port)
		snprintf(buf, len, "%s", ip);
	else if (a->family == TURN_AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)a->port);
	else
		snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
	return buf;
}

bool turn_addr_is_any(const struct turn_addr *a)
{
	static const uint8_t zero[16];

	return turn_addr_iplen(a) && memcmp(a->ip, zero, turn_addr_iplen(a)) == 0;
}

bool turn_addr_is_v4mapped(const struct turn_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return a->family == TURN_AF_INET6 && memcmp(a->ip, prefix, sizeof(prefix)) == 0;
}

struct turn_addr turn_addr_source(const struct turn_addr *src)
{
	struct turn_addr s = { .family = src->family };

	if (turn_addr_is_v4mapped(src)) {
		s.family = TURN_AF_INET;
		memcpy(s.ip, &src->ip[12], 4);
	} else if (src->family == TURN_AF_INET6) {
		memcpy(s.ip, src->ip, 8); /* the /64 */
	} else {
		memcpy(s.ip, src->ip, turn_addr_iplen(src));
	}
	return s;
}
