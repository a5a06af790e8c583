/*
 * Transport addresses as the pure core sees them: family, port, raw IP bytes.
 * 20 bytes instead of a 128-byte sockaddr_storage, comparable with memcmp,
 * and free of socket headers so util/stun/turn stay pure (STYLE.md).
 * src/net converts between this and struct sockaddr.
 */
#ifndef TURND_UTIL_ADDR_H
#define TURND_UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TURN_AF_INET 4
#define TURN_AF_INET6 6

/* Large enough for "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535". */
#define TURN_ADDR_STRLEN 56

struct turn_addr {
	uint8_t family; /* TURN_AF_INET, TURN_AF_INET6, or 0 when unset */
	uint8_t pad;
	uint16_t port;  /* host byte order */
	uint8_t ip[16]; /* IPv4 uses the first 4 bytes; the rest stay zero */
};

/* Byte length of the IP for the family: 4, 16, or 0. */
size_t turn_addr_iplen(const struct turn_addr *a);

/* Equal family, IP and port. */
bool turn_addr_eq(const struct turn_addr *a, const struct turn_addr *b);

/* Equal family and IP, port ignored. */
bool turn_addr_ip_eq(const struct turn_addr *a, const struct turn_addr *b);

/* A 32-bit hash of family, IP and port (FNV-1a; not keyed: use only where
 * the table is not exposed to attacker-chosen collisions, or mix a seed). */
uint32_t turn_addr_hash(const struct turn_addr *a, uint32_t seed);

/*
 * Parse "1.2.3.4", "::1", "[::1]", "1.2.3.4:3478", "[::1]:3478".
 * With no port in the text, port is set to default_port.
 * Returns 0, or -1 if the text is not an address.
 */
int turn_addr_parse(const char *text, uint16_t default_port, struct turn_addr *out);

/* Format as "1.2.3.4:3478" or "[::1]:3478" (with_port) or bare IP.
 * Always NUL-terminates; returns buf. */
char *turn_addr_format(const struct turn_addr *a, bool with_port, char *buf, size_t len);

/* True for the wildcard address of the family (0.0.0.0 or ::). */
bool turn_addr_is_any(const struct turn_addr *a);

/* True for an IPv6 address of the form ::ffff:a.b.c.d. */
bool turn_addr_is_v4mapped(const struct turn_addr *a);

/* The source a counts as wherever limits are kept per source (connection
 * caps, answers to unauthenticated requests): port 0, IPv4-mapped as the
 * IPv4 address, IPv6 cut to its /64 (a host may take any address of its
 * /64, so counting single IPv6 addresses would bound nothing). */
struct turn_addr turn_addr_source(const struct turn_addr *a);

#endif
