/*
 * The Redis key schema, in one place: what turnd's Redis backend reads
 * (src/auth), what its fleet writes and polls (src/daemon/fleet.c), and
 * what turnadmin writes and walks (tools/). coturn's credential keys plus
 * turnd's own:
 *
 *   turn/realm/<realm>/user/<name>/key         hex MD5(name:realm:password)
 *   turn/realm/<realm>/user/<name>/key-sha256  hex SHA-256(name:realm:password)
 *   turn/realm/<realm>/secret                  SET of TURN REST shared secrets
 *   turn/realm/<realm>/user-quota, total-quota, max-bps
 *                                              decimal strings overriding turnd.conf
 *   turn/realm/<realm>/allowed-peer-ip, denied-peer-ip
 *                                              SETs of peer ranges added to turnd.conf's
 *   turn/realm/<realm>/node/<id>               a running server's liveness key
 *   turn/realm/<realm>/user/<name>/allocations HASH node id -> "seq:count"
 *   turn/realm/<realm>/events                  STREAM of allocation events
 *
 * Pure string building: no hiredis. A name is bytes and a length (a name
 * that SCAN found may hold any byte); a realm and a leaf are C strings.
 * Every builder writes a NUL-terminated key into out (cap bytes) and
 * returns its length, or -1 when it does not fit (out is then "").
 */
#ifndef TURND_UTIL_REDIS_KEYS_H
#define TURND_UTIL_REDIS_KEYS_H

#include <stddef.h>

#define REDIS_KEYS_PREFIX "turn/realm/"
/* The folders under a realm that hold one key or folder per name. */
#define REDIS_KEYS_DIR_USER "user"
#define REDIS_KEYS_DIR_NODE "node"

/* Leaves under turn/realm/<realm>/user/<name>/. */
#define REDIS_KEYS_LEAF_KEY "key"
#define REDIS_KEYS_LEAF_KEY_SHA256 "key-sha256"
#define REDIS_KEYS_LEAF_ALLOCATIONS "allocations"
/* The longest of them: REDIS_KEYS_MAX is computed with it. */
#define REDIS_KEYS_LEAF_USER_LONGEST REDIS_KEYS_LEAF_ALLOCATIONS

/* Leaves under turn/realm/<realm>/. */
#define REDIS_KEYS_LEAF_SECRET "secret"
#define REDIS_KEYS_LEAF_MAX_BPS "max-bps"
#define REDIS_KEYS_LEAF_USER_QUOTA "user-quota"
#define REDIS_KEYS_LEAF_TOTAL_QUOTA "total-quota"
#define REDIS_KEYS_LEAF_ALLOWED_PEER_IP "allowed-peer-ip"
#define REDIS_KEYS_LEAF_DENIED_PEER_IP "denied-peer-ip"
#define REDIS_KEYS_LEAF_EVENTS "events"

/* RFC 8489 section 14.9: a REALM is fewer than 128 characters, at most
 * 763 bytes. */
#define REDIS_KEYS_REALM_MAX 763

/*
 * Bytes (NUL included) that hold any key of a realm of at most realm_max
 * bytes and a user name or node id of at most name_max bytes: the longest
 * is a user's allocations key (redis_keys.c checks that at compile time).
 */
#define REDIS_KEYS_MAX(realm_max, name_max)                                                        \
	(sizeof(REDIS_KEYS_PREFIX "/" REDIS_KEYS_DIR_USER "//" REDIS_KEYS_LEAF_USER_LONGEST) +      \
	 (size_t)(realm_max) + (size_t)(name_max))

/*
 * Bytes that hold any SCAN pattern of redis_keys_pattern for such a realm:
 * each realm byte may be escaped, and the leaf is a user leaf.
 */
#define REDIS_KEYS_PATTERN_MAX(realm_max)                                                          \
	(sizeof(REDIS_KEYS_PREFIX "/" REDIS_KEYS_DIR_USER "/*/" REDIS_KEYS_LEAF_USER_LONGEST) +     \
	 2 * (size_t)(realm_max))

/* turn/realm/<realm>/<leaf>. */
int redis_keys_realm(char *out, size_t cap, const char *realm, const char *leaf);

/* turn/realm/<realm>/<dir>/: what precedes a name in a user's or a node's
 * key (fleet's quota script finds a node's liveness key by it). */
int redis_keys_dir(char *out, size_t cap, const char *realm, const char *dir);

/* turn/realm/<realm>/user/<name>/<leaf>, name being name_len bytes. */
int redis_keys_user(char *out, size_t cap, const char *realm, const char *name, size_t name_len,
		    const char *leaf);

/* turn/realm/<realm>/node/<id>: a server's liveness key. */
int redis_keys_node(char *out, size_t cap, const char *realm, const char *node_id);

/*
 * The SCAN MATCH pattern of the keys turn/realm/<realm>/<dir>/<name>, or
 * with leaf set, turn/realm/<realm>/<dir>/<name>/<leaf>. The realm's glob
 * characters (* ? [ ] \) are escaped, so that a realm such as "a*" matches
 * only itself. The name is the pattern's one "*".
 */
int redis_keys_pattern(char *out, size_t cap, const char *realm, const char *dir,
		       const char *leaf);

#endif
