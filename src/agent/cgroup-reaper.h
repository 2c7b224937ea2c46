/* cgroup-reaper.h - kill everything in a cgroup subtree from the event loop,
 * within a bound, and remove the cgroup if asked.
 *
 * cg_kill_begin() and cg_kill_step() (linux/cgroup.h) never wait; a reaper
 * steps them on a libevent timer with a backoff until the subtree is empty
 * or the bound passes, so a container that is slow to die delays only its
 * own end. Without CGROUP_REAPER_REMOVE the cgroup itself is left, for
 * cgroups that belong to someone else (an adopted systemd unit). */
#pragma once

#include <event2/event.h>
#include <stdint.h>

#include "linux/cgroup.h"

struct cgroup_reaper;

enum {
        CGROUP_REAPER_REMOVE = 1 << 0, /* rmdir the subtree once it is empty */
};

/* The reaper's end: r is 0 once the subtree is empty (and removed, with
 * CGROUP_REAPER_REMOVE) or gone, -ETIMEDOUT if processes were left at the
 * bound, -EBUSY if the kernel still refused the rmdir then, or another
 * negative errno. The reaper frees itself after done returns. */
typedef void (*cgroup_reaper_done_fn)(struct cgroup_reaper *rp, int r, void *userdata);

/* Begin killing the subtree of rel on h (which must outlive the reaper) and
 * step the kill from base's loop, at most timeout_usec; done is called once,
 * always from the loop, never inside this call. */
int cgroup_reaper_start(struct event_base *base, const struct cg_hierarchy *h, const char *rel,
                        unsigned flags, uint64_t timeout_usec, cgroup_reaper_done_fn done,
                        void *userdata, struct cgroup_reaper **ret);
/* Stop stepping and free, without calling done; NULL is fine. */
void cgroup_reaper_free(struct cgroup_reaper *rp);
/* The cgroup it kills, relative to the hierarchy's mount. */
const char *cgroup_reaper_cgroup(const struct cgroup_reaper *rp);
/* What is still in the subtree, as "N process(es): PID (COMM), ..." naming
 * at most a few, into a malloc'd string; NULL when nothing is left. */
char *cgroup_reaper_describe_leftovers(const struct cgroup_reaper *rp);
