/* cgroup-internal.h - helpers shared by cgroup.c (tree management) and
 * cgroup-kill.c (killing and waiting), not part of the linux/ contract.
 *
 * They work on directory fds of cgroups so both files walk the tree the same
 * way: openat() below an fd, ENOENT for a cgroup that went away. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "basic/time-util.h"
#include "cgroup.h"

/* A growable array of pids. */
struct pidv {
        pid_t *v;
        size_t n, alloc;
};

static inline void pidv_done(struct pidv *p)
{
        free(p->v);
        *p = (struct pidv){};
}

/* Open the cgroup directory; -ENOENT when it does not exist. */
int cg_open(const struct cg_hierarchy *h, const char *rel);
/* Write value to the control file `file` of the cgroup at dfd. */
int cg_write_at(int dfd, const char *file, const char *value);
/* Read a small control file of the cgroup at dfd into buf (NUL-terminated). */
int cg_read_at(int dfd, const char *file, char *buf, size_t size);
/* Append the pids of the cgroup at dfd and its descendants, sorted and
 * without duplicates. */
int cg_collect_pids(int dfd, struct pidv *out);
/* 1 if no process is left in the subtree at dfd, 0 if some are. */
int cg_is_empty(int dfd);

/* Deadlines of the bounded waits, in microseconds of CLOCK_MONOTONIC. */
static inline uint64_t now_usec(void)
{
        return now_nsec() / 1000;
}

static inline void sleep_usec(uint64_t usec)
{
        struct timespec ts = {.tv_sec = usec / 1000000, .tv_nsec = (usec % 1000000) * 1000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
