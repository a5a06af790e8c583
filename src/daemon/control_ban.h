/*
 * Users an operator refused for a while (turnctl kill-user --ban S):
 * shared by every worker, asked for each request that authenticated
 * (daemon/dispatch.c). A few entries at most, so a fixed array; with none
 * in force the check is one atomic load and takes no lock.
 */
#ifndef TURND_DAEMON_CONTROL_BAN_H
#define TURND_DAEMON_CONTROL_BAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CONTROL_BAN_MAX 64

struct control_ban_entry {
	char *user;
	uint64_t until_ms; /* io_now_ms */
};

struct control_ban {
	pthread_mutex_t lock;
	atomic_uint n; /* entries in use (some may have expired) */
	struct control_ban_entry e[CONTROL_BAN_MAX];
};

void control_ban_init(struct control_ban *b);
void control_ban_fini(struct control_ban *b);
/* Refuse user until until_ms (a later ban of the same user replaces it).
 * Returns 0, or -1: the table is full of bans in force, or out of memory. */
int control_ban_add(struct control_ban *b, const char *user, uint64_t until_ms, uint64_t now_ms);
/* Is username one of user's? The same name, or a TURN REST name of
 * user's ("expiry:user", draft-uberti-behave-turn-rest-00 section 2.2),
 * so that an operator names the user, not each of its REST logins. */
bool control_user_is(const char *username, const char *user);

/* Is username refused at now_ms (control_user_is one banned)? Any thread. */
bool control_ban_check(struct control_ban *b, const char *user, uint64_t now_ms);

#endif
