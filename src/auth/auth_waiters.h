/*
 * The lookups waiting on one request to an asynchronous backend (Redis,
 * the HTTP hook): each backend coalesces the lookups of one name onto one
 * request and calls every one back with its answer (auth.h: done follows
 * each AUTH_PENDING exactly once). Bounded: beyond max a lookup fails
 * closed rather than grow the list without limit.
 */
#ifndef TURND_AUTH_AUTH_WAITERS_H
#define TURND_AUTH_AUTH_WAITERS_H

#include <stddef.h>
#include <stdlib.h>

#include "auth/auth.h"

struct auth_waiter {
	auth_done_fn *done;
	void *arg;
};

struct auth_waiters {
	struct auth_waiter *v;
	size_t n, cap;
};

/* Add done(arg) to w, growing it up to max entries. Returns 0, or -1 when
 * full or out of memory (the caller answers AUTH_ERROR). */
static inline int auth_waiters_add(struct auth_waiters *w, size_t max, auth_done_fn *done,
				   void *arg)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 4;
		struct auth_waiter *v;

		if (cap > max)
			return -1;
		v = realloc(w->v, cap * sizeof(*v));
		if (!v)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n].done = done;
	w->v[w->n].arg = arg;
	w->n++;
	return 0;
}

/* Call back every waiter once with rc; w is empty before the first call,
 * so a lookup made from done starts afresh. */
static inline void auth_waiters_tell(struct auth_waiters *w, int rc)
{
	size_t n = w->n;

	w->n = 0;
	for (size_t i = 0; i < n; i++)
		w->v[i].done(w->v[i].arg, rc);
}

static inline void auth_waiters_free(struct auth_waiters *w)
{
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

#endif
