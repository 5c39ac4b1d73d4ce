/* The two clocks powerd reads, in nanoseconds: CLOCK_MONOTONIC (the kernel's
 * edge timestamps, timers, deadlines) and CLOCK_REALTIME (sample times). */
#ifndef POWERD_CLOCK_H
#define POWERD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static inline int64_t clock_unix_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

#endif
