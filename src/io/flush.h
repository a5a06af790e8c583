/*
 * "Send at the end of this loop turn" (flush.c): output gathered by every
 * event of one libevent loop turn (replies, relayed datagrams) leaves in
 * one sendmmsg per socket. io_flush_soon arms the flush once; its callback
 * runs after every event already due in this turn.
 */
#ifndef TURND_IO_FLUSH_H
#define TURND_IO_FLUSH_H

#include <stdbool.h>

struct event;
struct event_base;

struct io_flush {
	struct event *ev;
	bool armed;
	void (*fn)(void *arg); /* sends what was gathered */
	void *arg;
};

/* 0, or -1 when libevent cannot make the event. */
int io_flush_init(struct io_flush *f, struct event_base *base, void (*fn)(void *), void *arg);
void io_flush_fini(struct io_flush *f);
/* Make fn run once the events already due in this loop turn have run. */
void io_flush_soon(struct io_flush *f);

#endif
