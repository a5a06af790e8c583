/* The end-of-loop-turn flush (flush.h). */
#include "io/flush.h"

#include <event2/event.h>

static void io_flush_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct io_flush *f = arg;

	(void)fd;
	(void)what;
	f->armed = false;
	f->fn(f->arg);
}

int io_flush_init(struct io_flush *f, struct event_base *base, void (*fn)(void *), void *arg)
{
	*f = (struct io_flush){ .fn = fn, .arg = arg };
	f->ev = event_new(base, -1, 0, io_flush_on_event, f);
	return f->ev ? 0 : -1;
}

void io_flush_fini(struct io_flush *f)
{
	if (f->ev)
		event_free(f->ev);
	f->ev = NULL;
}

/* event_active puts the event at the end of the active queue: it runs in
 * this loop turn, after every event already due, so one sendmmsg carries
 * the output of all of them. */
void io_flush_soon(struct io_flush *f)
{
	if (!f->armed && f->ev) {
		f->armed = true;
		event_active(f->ev, EV_WRITE, 0);
	}
}
