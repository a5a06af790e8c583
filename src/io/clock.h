/* The monotonic clock the daemon and its transports read (clock.c). The
 * core never reads a clock: time is passed to it (STYLE.md). */
#ifndef TURND_IO_CLOCK_H
#define TURND_IO_CLOCK_H

#include <stdint.h>

/* Milliseconds and microseconds of CLOCK_MONOTONIC. */
uint64_t io_now_ms(void);
uint64_t io_now_us(void);

#endif
