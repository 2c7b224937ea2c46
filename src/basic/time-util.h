/* time-util.h - the monotonic clock as one number.
 *
 * Header-only: durations and deadlines (a pass's length, a bounded wait) are
 * differences of CLOCK_MONOTONIC readings, which never jump with the wall
 * clock. */
#pragma once

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t now_nsec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A delay in microseconds as the struct timeval libevent takes. */
static inline struct timeval timeval_from_usec(uint64_t usec)
{
        return (struct timeval){.tv_sec = (time_t)(usec / 1000000),
                                .tv_usec = (suseconds_t)(usec % 1000000)};
}

/* An exponential backoff: each backoff_next() returns the current delay and
 * doubles the next one, up to max. For retries and polls that must neither
 * spin nor wait long once the awaited thing has happened. */
struct backoff {
        uint64_t next, max;
};

#define BACKOFF_INIT(first, max_) ((struct backoff){.next = (first), .max = (max_)})

static inline uint64_t backoff_next(struct backoff *b)
{
        uint64_t d = b->next;

        b->next = b->next * 2 < b->max ? b->next * 2 : b->max;
        return d;
}
