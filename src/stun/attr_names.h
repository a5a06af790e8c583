/* The attribute types this server understands, and their names
 * (attr_names.c). */
#ifndef TURND_STUN_ATTR_NAMES_H
#define TURND_STUN_ATTR_NAMES_H

#include <stdbool.h>
#include <stdint.h>

/* Whether the server understands attribute type (RFC 8489 section 7.3.1:
 * an unknown comprehension-required one gets 420). */
bool stun_attr_known(uint16_t type);

/* Its name ("XOR-MAPPED-ADDRESS"), or "UNKNOWN". */
const char *stun_attr_name(uint16_t type);

#endif
