/* cgroup-reaper.c - a bounded cgroup kill stepped on a timer; see
 * cgroup-reaper.h.
 *
 * The delay between steps doubles from 1 ms to 50 ms: a kill the kernel
 * completes at once (cgroup.kill on v2) ends after a step or two, and one
 * that does not costs some twenty cheap wake-ups a second until the bound.
 * The first step always runs from the loop, so done never runs inside the
 * caller that started the reaper. A kill given up at the bound leaves a v1
 * subtree thawed (cg_kill_abandon()), so what is left is not left frozen. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cgroup-reaper.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"

#define STEP_FIRST_USEC 1000
#define STEP_MAX_USEC 50000
/* Processes a leftovers line names; the rest are counted. */
#define LEFTOVERS_NAMED 8

struct cgroup_reaper {
        const struct cg_hierarchy *h;
        char *rel;
        unsigned flags;
        struct event *ev;
        struct backoff delay;
        uint64_t deadline_usec;
        cgroup_reaper_done_fn done;
        void *userdata;
};

void cgroup_reaper_free(struct cgroup_reaper *rp)
{
        if (!rp)
                return;
        if (rp->ev)
                event_free(rp->ev);
        free(rp->rel);
        free(rp);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct cgroup_reaper *, cgroup_reaper_free);

const char *cgroup_reaper_cgroup(const struct cgroup_reaper *rp)
{
        return rp->rel;
}

static void arm(struct cgroup_reaper *rp)
{
        struct timeval tv = timeval_from_usec(backoff_next(&rp->delay));

        event_add(rp->ev, &tv);
}

static void on_step(evutil_socket_t fd, short what, void *userdata)
{
        struct cgroup_reaper *rp = userdata;
        int r;

        (void)fd;
        (void)what;
        r = cg_kill_step(rp->h, rp->rel);
        if (r == 0 && (rp->flags & CGROUP_REAPER_REMOVE))
                r = cg_remove_once(rp->h, rp->rel);
        if (r == 1 || r == -EAGAIN) {
                if (now_nsec() / 1000 < rp->deadline_usec)
                        return arm(rp);
                if (r == 1)
                        (void)cg_kill_abandon(rp->h, rp->rel);
                r = r == 1 ? -ETIMEDOUT : -EBUSY;
        }
        rp->done(rp, r, rp->userdata);
        cgroup_reaper_free(rp);
}

int cgroup_reaper_start(struct event_base *base, const struct cg_hierarchy *h, const char *rel,
                        unsigned flags, uint64_t timeout_usec, cgroup_reaper_done_fn done,
                        void *userdata, struct cgroup_reaper **ret)
{
        _cleanup_(cgroup_reaper_freep) struct cgroup_reaper *rp = calloc(1, sizeof(*rp));
        int r;

        if (!rp)
                return -ENOMEM;
        *rp = (struct cgroup_reaper){
            .h = h,
            .rel = strdup(rel),
            .flags = flags,
            .ev = evtimer_new(base, on_step, rp),
            .delay = BACKOFF_INIT(STEP_FIRST_USEC, STEP_MAX_USEC),
            .deadline_usec = now_nsec() / 1000 + timeout_usec,
            .done = done,
            .userdata = userdata,
        };
        if (!rp->rel || !rp->ev)
                return -ENOMEM;
        /* A kill that could not begin is stepped all the same: a step kills
         * pid by pid where cgroup.kill is missing, and says what is left. */
        r = cg_kill_begin(h, rel);
        if (r < 0)
                log_warning_errno(r, "Failed to begin killing what runs in cgroup %s: %m", rel);
        arm(rp);
        *ret = TAKE_PTR(rp);
        return 0;
}

char *cgroup_reaper_describe_leftovers(const struct cgroup_reaper *rp)
{
        _cleanup_strbuf_ struct strbuf line = STRBUF_INIT;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        if (cg_list_pids(rp->h, rp->rel, true, &pids, &n) < 0 || n == 0)
                return NULL;
        strbuf_addf(&line, "%zu process%s:", n, n == 1 ? "" : "es");
        for (size_t i = 0; i < n && i < LEFTOVERS_NAMED; i++) {
                _cleanup_free_ char *path = NULL, *comm = NULL;

                if (asprintf(&path, "/proc/%d/comm", (int)pids[i]) < 0)
                        return NULL;
                if (read_full_file(path, &comm, NULL) >= 0)
                        comm[strcspn(comm, "\n")] = '\0';
                strbuf_addf(&line, "%s %d (%s)", i ? "," : "", (int)pids[i], comm ?: "?");
        }
        if (n > LEFTOVERS_NAMED)
                strbuf_addf(&line, " and %zu more", n - LEFTOVERS_NAMED);
        return strbuf_detach(&line);
}
