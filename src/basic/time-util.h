/* time-util.h - the monotonic clock as one number.
 *
 * Header-only: durations and deadlines (a pass's length, a bounded wait) are
 * differences of CLOCK_MONOTONIC readings, which never jump with the wall
 * clock. */
#pragma once

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t now_nsec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
