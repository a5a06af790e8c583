/* The grammar of single option values; see conf_value.h. */
#include "conf/conf_value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <string.h>

#include "stun/integrity.h"

/* Long enough for "ipv6-ipv6" and "ipv6/128" with brackets. */
#define RANGE_TEXT_MAX (2 * TURN_ADDR_STRLEN + 2)

/* SASLprep may map one character to several (NFKC), so the prepared
 * password gets room to grow. */
#define SASLPREP_BUF (4 * CONF_PASSWORD_MAX + 1)

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t whylen, const char *fmt,
						      ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* addr.c reads one colon outside brackets as "v4:port" and "]:" as the
 * start of an IPv6 port; the same rule spots a port here, so that
 * "192.0.2.1:3478" is refused with a clear reason instead of silently
 * dropping the port. */
static bool has_port(const char *text)
{
	const char *colon = strchr(text, ':');

	if (text[0] == '[')
		return strstr(text, "]:") != NULL;
	return colon && !strchr(colon + 1, ':');
}

int conf_value_ip(const char *text, struct turn_addr *out, char *why, size_t whylen)
{
	if (has_port(text))
		return fail(why, whylen, "'%s' has a port; give the IP address alone", text);
	if (turn_addr_parse(text, 0, out) < 0)
		return fail(why, whylen, "'%s' is not an IP address", text);
	return 0;
}

int conf_value_server(const char *text, struct turn_addr *out, char *why, size_t whylen)
{
	if (turn_addr_parse(text, CONF_DEFAULT_PORT, out) < 0 || out->port == 0)
		return fail(why, whylen, "'%s' is not an address with an optional port "
			    "(\"192.0.2.1:3478\", \"[2001:db8::1]:3478\")", text);
	return 0;
}

int conf_value_http_url(const char *text, struct turn_addr *addr, const char **path, char *why,
			size_t whylen)
{
	static const char scheme[] = "http://";
	char authority[TURN_ADDR_STRLEN];
	const char *host = text + strlen(scheme), *slash;
	size_t n;

	if (strncmp(text, "https://", 8) == 0)
		return fail(why, whylen, "https is not supported: give an http:// URL (a TLS "
			    "proxy on loopback, for instance)");
	if (strncmp(text, scheme, strlen(scheme)) != 0)
		return fail(why, whylen, "'%.80s' is not an http:// URL", text);
	slash = strchr(host, '/');
	n = slash ? (size_t)(slash - host) : strlen(host);
	if (n == 0 || n >= sizeof(authority))
		return fail(why, whylen, "'%.80s' has no host, or too long a one", text);
	memcpy(authority, host, n);
	authority[n] = '\0';
	/* A name would be resolved with a blocking getaddrinfo on the event
	 * loop: only an address is taken, as for redis-host. */
	if (turn_addr_parse(authority, 80, addr) < 0 || addr->port == 0)
		return fail(why, whylen, "'%.80s' is not an IP address with an optional port "
			    "(host names are not taken)", authority);
	for (const char *p = slash; p && *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F)
			return fail(why, whylen, "the path has a space or a byte that is not "
				    "printable ASCII");
	*path = slash;
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} listen_transports[] = {
	{"udp", CONF_LISTEN_UDP},
	{"tcp", CONF_LISTEN_TCP},
	{"tls", CONF_LISTEN_TLS},
	{"dtls", CONF_LISTEN_DTLS},
	{"proxy", CONF_LISTEN_PROXY}, /* not a transport: a PROXY header first */
};

/* One transport name of a listener; 0 when unknown. */
static unsigned listen_transport(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(listen_transports) / sizeof(listen_transports[0]); i++)
		if (strlen(listen_transports[i].name) == len &&
		    strncmp(listen_transports[i].name, name, len) == 0)
			return listen_transports[i].bit;
	return 0;
}

int conf_value_listener(const char *text, struct conf_listener *out, char *why, size_t whylen)
{
	char buf[RANGE_TEXT_MAX];
	const char *slash = strrchr(text, '/');
	const char *p;

	memset(out, 0, sizeof(*out));
	if (!slash || (size_t)(slash - text) >= sizeof(buf))
		return fail(why, whylen, "'%.64s' is not \"ADDRESS:PORT/TRANSPORTS\" "
			    "(\"0.0.0.0:443/tls\", \"[::1]:3479/udp,tcp\")", text);
	memcpy(buf, text, (size_t)(slash - text));
	buf[slash - text] = '\0';
	if (turn_addr_parse(buf, 0, &out->addr) < 0 || out->addr.port == 0)
		return fail(why, whylen, "'%.64s': '%s' is not an address with a port "
			    "(\"0.0.0.0:443\", \"[::]:443\")", text, buf);
	for (p = slash + 1;;) {
		size_t len = strcspn(p, ",");
		unsigned bit = listen_transport(p, len);

		if (!bit)
			return fail(why, whylen, "'%.64s': '%.*s' is not a transport (udp, tcp, "
				    "tls, dtls) or proxy", text, (int)(len > 16 ? 16 : len), p);
		if (out->transports & bit)
			return fail(why, whylen, "'%.64s': '%.*s' is given twice", text, (int)len, p);
		out->transports |= bit;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if ((out->transports & CONF_LISTEN_PROXY) &&
	    !(out->transports & (CONF_LISTEN_TCP | CONF_LISTEN_TLS)))
		return fail(why, whylen, "'%.64s': proxy (a PROXY header first) is for tcp and "
			    "tls; name one of them", text);
	return 0;
}

/* Parse one end of a range or an external-ip pair, naming the whole value
 * in the reason so the operator sees which entry is wrong. */
static int part_ip(const char *part, const char *whole, struct turn_addr *out, char *why,
		   size_t whylen)
{
	char reason[TURN_ADDR_STRLEN + 64];

	if (conf_value_ip(part, out, reason, sizeof(reason)) < 0)
		return fail(why, whylen, "'%s': %s", whole, reason);
	return 0;
}

/* "auto:stun:HOST:PORT" (after the prefix): HOST a DNS name, an IPv4
 * address or a bracketed IPv6 address; PORT 1-65535. */
static int external_stun(const char *text, const char *spec, struct conf_external *out,
			 char *why, size_t whylen)
{
	const char *colon = strrchr(spec, ':');
	const char *host = spec;
	size_t hlen = colon ? (size_t)(colon - spec) : 0;
	char *end;
	unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;

	if (!colon || colon[1] < '0' || colon[1] > '9' || *end != '\0' || port == 0 ||
	    port > 65535)
		return fail(why, whylen, "'%.80s': give the STUN server as auto:stun:HOST:PORT",
			    text);
	bool bracketed = hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']';
	if (bracketed) {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(out->stun_host) ||
	    (!bracketed && memchr(host, ':', hlen) != NULL))
		return fail(why, whylen,
			    "'%.80s': the host is empty, too long, or an IPv6 address without "
			    "brackets",
			    text);
	memcpy(out->stun_host, host, hlen);
	out->stun_host[hlen] = '\0';
	out->stun_port = (uint16_t)port;
	out->auto_stun = true;
	return 0;
}

int conf_value_external(const char *text, struct conf_external *out, char *why, size_t whylen)
{
	static const char auto_stun[] = "auto:stun:";
	char buf[RANGE_TEXT_MAX];
	char *slash;

	memset(out, 0, sizeof(*out));
	if (strncmp(text, auto_stun, sizeof(auto_stun) - 1) == 0)
		return external_stun(text, text + sizeof(auto_stun) - 1, out, why, whylen);
	if (strlen(text) >= sizeof(buf))
		return fail(why, whylen, "'%.64s...' is not \"public\" or \"public/private\"",
			    text);
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (part_ip(buf, text, &out->public_ip, why, whylen) < 0)
		return -1;
	if (!slash)
		return 0;
	if (part_ip(slash + 1, text, &out->private_ip, why, whylen) < 0)
		return -1;
	if (out->public_ip.family != out->private_ip.family)
		return fail(why, whylen,
			    "'%s': the public and private addresses are of different families",
			    text);
	return 0;
}

/* "addr/len": lo keeps the prefix with the host bits cleared, hi with them
 * set. */
static int prefix_range(char *buf, char *slash, const char *text, struct conf_range *out, char *why,
			size_t whylen)
{
	const char *len_text = slash + 1;
	unsigned long bits;
	size_t iplen;
	char *end;

	*slash = '\0';
	if (part_ip(buf, text, &out->lo, why, whylen) < 0)
		return -1;
	iplen = turn_addr_iplen(&out->lo);
	if (*len_text < '0' || *len_text > '9')
		return fail(why, whylen, "'%s': '%s' is not a prefix length", text, len_text);
	bits = strtoul(len_text, &end, 10);
	if (*end != '\0' || bits > iplen * 8)
		return fail(why, whylen, "'%s': the prefix length must be 0-%zu", text, iplen * 8);
	out->hi = out->lo;
	for (size_t i = 0; i < iplen; i++) {
		/* Prefix bits in this byte: 8 until the prefix runs out. */
		unsigned keep = bits >= 8 ? 8 : (unsigned)bits;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		bits -= keep;
		out->lo.ip[i] &= mask;
		out->hi.ip[i] |= (uint8_t)~mask;
	}
	return 0;
}

int conf_value_range(const char *text, struct conf_range *out, char *why, size_t whylen)
{
	char buf[RANGE_TEXT_MAX];
	char *sep;

	memset(out, 0, sizeof(*out));
	if (strlen(text) >= sizeof(buf))
		return fail(why, whylen, "'%.64s...' is not an address, range or prefix", text);
	strcpy(buf, text);
	if ((sep = strchr(buf, '/')) != NULL)
		return prefix_range(buf, sep, text, out, why, whylen);
	/* No IPv6 address contains '-', so the first one splits the range. */
	sep = strchr(buf, '-');
	if (sep)
		*sep = '\0';
	if (part_ip(buf, text, &out->lo, why, whylen) < 0)
		return -1;
	if (!sep) {
		out->hi = out->lo;
		return 0;
	}
	if (part_ip(sep + 1, text, &out->hi, why, whylen) < 0)
		return -1;
	if (out->lo.family != out->hi.family)
		return fail(why, whylen, "'%s': the two addresses are of different families", text);
	if (memcmp(out->lo.ip, out->hi.ip, turn_addr_iplen(&out->lo)) > 0)
		return fail(why, whylen, "'%s': the first address is greater than the second",
			    text);
	return 0;
}

/* "0x" + 32 hex digits: the MD5 long-term key itself, so the file need not
 * hold the password (coturn's form). The reason never echoes the key. */
static int parse_key(const char *hex, const struct conf_user_entry *u, uint8_t *key, char *why,
		     size_t whylen)
{
	size_t n = strlen(hex);

	if (n != 2 * STUN_KEY_MD5_LEN)
		return fail(why, whylen,
			    "user '%.*s': a key is 0x and exactly %d hex digits, not %zu",
			    (int)u->name_len, u->name, 2 * STUN_KEY_MD5_LEN, n);
	for (size_t i = 0; i < STUN_KEY_MD5_LEN; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return fail(why, whylen,
				    "user '%.*s': the key has a character that is not a hex digit",
				    (int)u->name_len, u->name);
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int conf_value_user_name(const char *name, size_t len, char *why, size_t whylen)
{
	if (len == 0)
		return fail(why, whylen, "a user has an empty name");
	if (len > CONF_USERNAME_MAX)
		return fail(why, whylen, "user '%.32s...': the name is longer than %d bytes", name,
			    CONF_USERNAME_MAX);
	return 0;
}

int conf_value_password(const char *password, char *why, size_t whylen)
{
	char prepared[SASLPREP_BUF];

	if (password[0] == '\0')
		return fail(why, whylen, "the password is empty");
	if (strlen(password) > CONF_PASSWORD_MAX)
		return fail(why, whylen, "the password is longer than %d bytes", CONF_PASSWORD_MAX);
	/* The key is MD5 over the SASLprep'd password (RFC 8489 section
	 * 9.2.2); a password SASLprep refuses could never authenticate. */
	if (stun_saslprep(password, prepared, sizeof(prepared)) < 0)
		return fail(
			why, whylen,
			"the password is not valid UTF-8 or has a character SASLprep prohibits");
	return 0;
}

int conf_value_user(const char *text, struct conf_user_entry *out, char *why, size_t whylen)
{
	const char *colon = strchr(text, ':');
	const char *secret;
	char reason[128];

	memset(out, 0, sizeof(*out));
	/* The text may be a password typed without its name: never echo it. */
	if (!colon)
		return fail(why, whylen,
			    "an entry has no ':' (the forms are \"name:password\" and "
			    "\"name:0x<key>\")");
	out->name = text;
	out->name_len = (size_t)(colon - text);
	if (conf_value_user_name(text, out->name_len, why, whylen) < 0)
		return -1;
	secret = colon + 1;
	if (secret[0] == '0' && (secret[1] == 'x' || secret[1] == 'X'))
		return parse_key(secret + 2, out, out->key, why, whylen);
	if (conf_value_password(secret, reason, sizeof(reason)) < 0)
		return fail(why, whylen, "user '%.*s': %s", (int)out->name_len, out->name, reason);
	out->password = secret;
	return 0;
}

int conf_value_text(const char *text, bool allow_empty, char *why, size_t whylen)
{
	size_t bytes = strlen(text);
	size_t chars = 0;

	if (bytes == 0 && !allow_empty)
		return fail(why, whylen, "must not be empty");
	/* Count UTF-8 lead bytes: continuation bytes are 10xxxxxx. */
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			chars++;
	if (chars > CONF_TEXT_MAX_CHARS || bytes > CONF_TEXT_MAX_BYTES)
		return fail(
			why, whylen,
			"is %zu characters (%zu bytes) long; at most %d characters and %d bytes",
			chars, bytes, CONF_TEXT_MAX_CHARS, CONF_TEXT_MAX_BYTES);
	return 0;
}

int conf_value_offload(const char *text)
{
	static const char *const words[] = { "auto", "on", "off" };

	for (int i = 0; i < 3; i++)
		if (strcmp(text, words[i]) == 0)
			return i; /* CONF_OFFLOAD_AUTO, _ON, _OFF in this order */
	return -1;
}
