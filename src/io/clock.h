/* The monotonic clock the daemon and its transports read (clock.c). The
 * core never reads a clock: time is passed to it (STYLE.md). */
#ifndef TURND_IO_CLOCK_H
#define TURND_IO_CLOCK_H

#include <stdint.h>

/* Milliseconds and microseconds of CLOCK_MONOTONIC. */
uint64_t io_now_ms(void);
uint64_t io_now_us(void);

/* A clock a component reads through, so that a test can run it on a
 * scripted one (tests/unit/daemon_harness.c): monotonic microseconds, and
 * the wall clock's seconds (TURN REST expiry times are UNIX times). */
struct io_clock {
	uint64_t (*now_us)(void *ctx);
	uint64_t (*wall_s)(void *ctx);
	void *ctx;
};

/* CLOCK_MONOTONIC and time(). */
extern const struct io_clock io_clock_system;

static inline uint64_t io_clock_us(const struct io_clock *c)
{
	return c->now_us(c->ctx);
}

static inline uint64_t io_clock_ms(const struct io_clock *c)
{
	return c->now_us(c->ctx) / 1000u;
}

static inline uint64_t io_clock_wall_s(const struct io_clock *c)
{
	return c->wall_s(c->ctx);
}

#endif
