/* The monotonic clock (clock.h). */
#include "io/clock.h"

#include <time.h>

uint64_t io_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t io_clock_system_us(void *ctx)
{
	(void)ctx;
	return io_now_us();
}

static uint64_t io_clock_system_wall_s(void *ctx)
{
	(void)ctx;
	return (uint64_t)time(NULL);
}

const struct io_clock io_clock_system = { io_clock_system_us, io_clock_system_wall_s, NULL };
