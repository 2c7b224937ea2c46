/* histogram.h - a fixed-bucket histogram of durations, as Prometheus keeps
 * them.
 *
 * The bucket bounds are chosen once (static arrays of upper bounds in
 * seconds) and never change, so an observation is a short linear search and
 * an increment, and the struct is plain data that can be copied out (a
 * metrics snapshot) without allocation. Counts are per bucket; whoever
 * writes the exposition makes them cumulative. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX_BUCKETS 24

struct histogram {
        const double *bounds;                       /* ascending upper bounds, n_bounds of them */
        size_t n_bounds;                            /* at most HISTOGRAM_MAX_BUCKETS */
        uint64_t counts[HISTOGRAM_MAX_BUCKETS + 1]; /* [n_bounds] is +Inf */
        uint64_t count;
        double sum;
};

/* A histogram over these bounds (a static array that outlives it). */
static inline struct histogram histogram_make(const double *bounds, size_t n_bounds)
{
        return (struct histogram){
            .bounds = bounds,
            .n_bounds = n_bounds < HISTOGRAM_MAX_BUCKETS ? n_bounds : HISTOGRAM_MAX_BUCKETS};
}

/* Count one value into the first bucket whose bound is >= v. */
static inline void histogram_observe(struct histogram *h, double v)
{
        size_t i = 0;

        while (i < h->n_bounds && v > h->bounds[i])
                i++;
        h->counts[i]++;
        h->count++;
        h->sum += v;
}
