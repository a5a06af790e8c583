/*
 * The grammar of single option values (addresses, ranges, users), kept
 * apart from libconfuse so the same checks serve the file, the command-line
 * overrides and conf_add_user alike.
 *
 * Every function returns 0, or -1 with the reason in why ("'1.2.3.4-::1':
 * the two addresses are of different families"; why may be NULL); the
 * caller adds the file, line and option name.
 */
#ifndef TURND_CONF_CONF_VALUE_H
#define TURND_CONF_CONF_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* RFC 8489 section 14.3: USERNAME is fewer than 509 bytes. */
#define CONF_USERNAME_MAX 508
/* RFC 8489 sections 14.9 and 14.14: REALM and SOFTWARE are fewer than 128
 * characters, which can be as long as 763 bytes. */
#define CONF_TEXT_MAX_CHARS 127
#define CONF_TEXT_MAX_BYTES 763
/* A password longer than this is a mistake, not a secret; it also bounds
 * the SASLprep buffer. */
#define CONF_PASSWORD_MAX 512

/* A bare IP: "192.0.2.1", "2001:db8::1" or "[2001:db8::1]"; a port is
 * refused, since ports come from their own options. Port of out is 0. */
int conf_value_ip(const char *text, struct turn_addr *out, char *why, size_t whylen);

/* A server's transport address, "addr" or "addr:port" (IPv6 in brackets
 * with a port); the port defaults to 3478. */
int conf_value_server(const char *text, struct turn_addr *out, char *why, size_t whylen);

/* listener: "ADDR:PORT/TRANSPORT[,TRANSPORT...]", ADDR an IP or a
 * wildcard ("0.0.0.0", "[::]"), TRANSPORT udp, tcp, tls or dtls, each at
 * most once, and "proxy" (CONF_LISTEN_PROXY) with tcp or tls; the port is
 * required. */
int conf_value_listener(const char *text, struct conf_listener *out, char *why, size_t whylen);

/* external-ip: "public" or "public/private", both of one family, or
 * "auto:stun:HOST:PORT" (auto_stun set, the addresses of family 0). */
int conf_value_external(const char *text, struct conf_external *out, char *why, size_t whylen);

/* allowed-peer-ip / denied-peer-ip: "addr", "lo-hi" or "addr/len". Host
 * bits of a prefix are ignored: 10.1.2.3/8 is 10.0.0.0-10.255.255.255. */
int conf_value_range(const char *text, struct conf_range *out, char *why, size_t whylen);

/*
 * A user entry, "name:password" or "name:0x<32 hex digits>", split in place
 * of the caller: name points into text and name_len is its length; either
 * password points into text (password form) or password is NULL and key
 * holds the 16 decoded bytes.
 */
struct conf_user_entry {
	const char *name;
	size_t name_len;
	const char *password;
	uint8_t key[STUN_KEY_MD5_LEN];
};

int conf_value_user(const char *text, struct conf_user_entry *out, char *why, size_t whylen);

/* A user name and password as conf_add_user takes them, checked the same
 * way as the file form (length limits, SASLprep). */
int conf_value_user_name(const char *name, size_t len, char *why, size_t whylen);
int conf_value_password(const char *password, char *why, size_t whylen);

/* REALM / SOFTWARE text: at most 127 UTF-8 characters and 763 bytes.
 * allow_empty: SOFTWARE may be "" (send none), REALM may not. */
/* kernel-offload: "auto", "on" or "off" as enum conf_offload, or -1. */
/* auth-url: "http://IP[:port][/path]" with a numeric IP ("[v6]" in
 * brackets), port 80 and path "/" when left out; the path printable ASCII
 * without spaces. *addr gets the address and port, *path points into text
 * (at its '/', or NULL for "/"). Returns 0, or -1 with a reason in why. */
int conf_value_http_url(const char *text, struct turn_addr *addr, const char **path, char *why,
			size_t whylen);
int conf_value_offload(const char *text);
int conf_value_text(const char *text, bool allow_empty, char *why, size_t whylen);

#endif
