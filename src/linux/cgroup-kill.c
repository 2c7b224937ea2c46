/* cgroup-kill.c - kill everything in a cgroup subtree; see cg_kill_begin()
 * and cg_kill_step() in cgroup.h.
 *
 * A kill is a start and then steps that never block, so the agent drives it
 * from its event loop (a timer, a change of cgroup.events) and a stuck
 * container delays nothing else; cg_kill() is the same steps in a bounded
 * loop, for the supervisor, which may wait.
 *
 * v2 has an atomic subtree kill (cgroup.kill, 5.14+): the start writes it
 * and a step reads "populated" from cgroup.events, which the kernel keeps
 * for us. Older v2 kernels get a pid walk at every step until nothing is
 * left. The v1 freezer cannot kill atomically: the start freezes the
 * subtree (nothing can fork while frozen), a step SIGKILLs every pid of a
 * frozen (or still freezing) subtree and thaws it so the signals land, and
 * the next step freezes again if anything is left (a task that was
 * mid-fork). A freeze that never settles (a task in uninterruptible sleep
 * stays FREEZING) does not stop the kill: its pids are killed anyway. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"

#define CG_KILL_TIMEOUT_USEC (5 * 1000 * 1000ULL)

static int cg_kill_pids(int dfd)
{
        _cleanup_(pidv_done) struct pidv p = {};
        int r = cg_collect_pids(dfd, &p);

        for (size_t i = 0; r >= 0 && i < p.n; i++)
                if (kill(p.v[i], SIGKILL) < 0 && errno != ESRCH)
                        r = negative_errno();
        return r;
}

/* v2: 1 while cgroup.events says "populated 1", 0 once it says 0. */
static int cg_populated_v2(int dfd)
{
        char buf[256];
        int r = cg_read_at(dfd, "cgroup.events", buf, sizeof(buf));

        if (r < 0)
                return r;
        return strstr(buf, "populated 0") ? 0 : 1;
}

static int cg_kill_begin_at(const struct cg_hierarchy *h, int dfd)
{
        int r;

        if (h->mode == CG_V1_FREEZER)
                return cg_write_at(dfd, "freezer.state", "FROZEN");
        r = cg_write_at(dfd, "cgroup.kill", "1");
        if (r == -ENOENT) /* kernel < 5.14: pid by pid, again at every step */
                r = cg_kill_pids(dfd);
        return r;
}

static int cg_kill_step_at(const struct cg_hierarchy *h, int dfd)
{
        char state[64];
        int r;

        if (h->mode == CG_V2) {
                r = cg_populated_v2(dfd);
                if (r > 0 && faccessat(dfd, "cgroup.kill", F_OK, 0) < 0 && errno == ENOENT) {
                        int k = cg_kill_pids(dfd);
                        if (k < 0)
                                return k;
                }
                return r;
        }

        r = cg_is_empty(dfd);
        if (r < 0)
                return r;
        if (r > 0) /* empty: leave it thawed for rmdir */
                return cg_write_at(dfd, "freezer.state", "THAWED");
        r = cg_read_at(dfd, "freezer.state", state, sizeof(state));
        if (r < 0)
                return r;
        if (strncmp(state, "THAWED", 6) == 0) {
                r = cg_write_at(dfd, "freezer.state", "FROZEN");
                return r < 0 ? r : 1;
        }
        /* FROZEN, or FREEZING that has had a step to settle. */
        r = cg_kill_pids(dfd);
        int k = cg_write_at(dfd, "freezer.state", "THAWED");
        if (r < 0)
                return r;
        return k < 0 ? k : 1;
}

/* A cgroup removed under us has nothing left to kill. */
static int gone_is_done(int r)
{
        return r == -ENOENT || r == -ENODEV ? 0 : r;
}

int cg_kill_begin(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_close_ int dfd = cg_open(h, rel);

        if (dfd < 0)
                return gone_is_done(dfd);
        return gone_is_done(cg_kill_begin_at(h, dfd));
}

int cg_kill_step(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_close_ int dfd = cg_open(h, rel);

        if (dfd < 0)
                return gone_is_done(dfd);
        return gone_is_done(cg_kill_step_at(h, dfd));
}

int cg_kill_abandon(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_close_ int dfd = -EBADF;

        if (h->mode != CG_V1_FREEZER)
                return 0;
        dfd = cg_open(h, rel);
        if (dfd < 0)
                return gone_is_done(dfd);
        return gone_is_done(cg_write_at(dfd, "freezer.state", "THAWED"));
}

int cg_kill(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_close_ int dfd = cg_open(h, rel);
        uint64_t deadline = now_usec() + CG_KILL_TIMEOUT_USEC;
        struct backoff b = BACKOFF_INIT(200, 20000);
        int r;

        if (dfd < 0)
                return gone_is_done(dfd);
        r = cg_kill_begin_at(h, dfd);
        while (r >= 0) {
                r = cg_kill_step_at(h, dfd);
                if (r <= 0)
                        break;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(backoff_next(&b));
        }
        return gone_is_done(r);
}
