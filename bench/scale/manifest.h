/* manifest.h - what bench-workload built, as the timers read it back, and the
 * few helpers every timer shares (clocks, the result lines run.py parses).
 *
 * The manifest is a plain text file, one record a line (see workload.c), so
 * that the C timers and bench/run.py read the same truth without a JSON
 * library in the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MANIFEST_MAX_PORTS 8

struct manifest_ports {
        uint16_t v[MANIFEST_MAX_PORTS];
        size_t n;
};

struct manifest_container {
        char *id;
        char *cgroup; /* relative to the hierarchy mount */
        struct manifest_ports v4, v6;
        bool inherited; /* its IPv4 listener was created outside every container */
};

struct manifest {
        char *v2;      /* cgroup2 mount */
        char *freezer; /* v1 freezer mount, NULL when the workload did not use it */
        char *root;
        struct manifest_container *c;
        size_t n;
        struct manifest_ports host_v4, host_v6;
        size_t procs;
};

/* Read a manifest written by bench-workload. -EINVAL on a malformed line. */
int manifest_load(const char *path, struct manifest *ret);
/* Free what manifest_load() allocated. */
void manifest_free(struct manifest *m);

/* Nanoseconds on the monotonic clock. */
static inline uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) of this process, in nanoseconds. */
static inline uint64_t cpu_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Print "listening <id> <p1,p2,...|->" for sorted, unique ports. */
void print_listening(const char *id, const uint16_t *ports, size_t n);
/* Print "rss <VmRSS kB> <VmHWM kB>" for this process. */
void print_rss(void);
