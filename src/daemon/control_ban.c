/* Users refused for a while by an operator (control_ban.h). */
#include "daemon/control_ban.h"

#include <stdlib.h>
#include <string.h>

void control_ban_init(struct control_ban *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	atomic_init(&b->n, 0);
}

void control_ban_fini(struct control_ban *b)
{
	for (unsigned i = 0; i < CONTROL_BAN_MAX; i++)
		free(b->e[i].user);
	pthread_mutex_destroy(&b->lock);
}

/* Drop the entries past their time; under the lock. */
static void control_ban_sweep(struct control_ban *b, uint64_t now_ms)
{
	unsigned n = atomic_load(&b->n);

	for (unsigned i = 0; i < n;) {
		if (b->e[i].until_ms > now_ms) {
			i++;
			continue;
		}
		free(b->e[i].user);
		b->e[i] = b->e[--n];
		b->e[n] = (struct control_ban_entry){0};
	}
	atomic_store(&b->n, n);
}

int control_ban_add(struct control_ban *b, const char *user, uint64_t until_ms, uint64_t now_ms)
{
	int rc = -1;

	pthread_mutex_lock(&b->lock);
	control_ban_sweep(b, now_ms);
	unsigned n = atomic_load(&b->n);
	unsigned i = 0;
	while (i < n && strcmp(b->e[i].user, user) != 0)
		i++;
	if (i < n) {
		b->e[i].until_ms = until_ms;
		rc = 0;
	} else if (n < CONTROL_BAN_MAX && (b->e[n].user = strdup(user)) != NULL) {
		b->e[n].until_ms = until_ms;
		atomic_store(&b->n, n + 1);
		rc = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

bool control_user_is(const char *username, const char *user)
{
	const char *p = username;

	if (strcmp(username, user) == 0)
		return true;
	while (*p >= '0' && *p <= '9')
		p++;
	return p != username && *p == ':' && strcmp(p + 1, user) == 0;
}

bool control_ban_check(struct control_ban *b, const char *user, uint64_t now_ms)
{
	bool banned = false;

	if (atomic_load_explicit(&b->n, memory_order_relaxed) == 0)
		return false;
	pthread_mutex_lock(&b->lock);
	unsigned n = atomic_load(&b->n);
	for (unsigned i = 0; i < n && !banned; i++)
		banned = b->e[i].until_ms > now_ms && control_user_is(user, b->e[i].user);
	pthread_mutex_unlock(&b->lock);
	return banned;
}
