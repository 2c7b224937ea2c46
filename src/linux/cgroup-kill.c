/* cgroup-kill.c - kill everything in a cgroup subtree and wait until it is
 * empty; see cg_kill() in cgroup.h.
 *
 * v2 has an atomic subtree kill (cgroup.kill, 5.14+): we write it and sleep in
 * poll() on cgroup.events until "populated 0", the kernel's own notification,
 * instead of re-reading cgroup.procs. Older v2 kernels get a pid walk repeated
 * until nothing is left. The v1 freezer cannot kill atomically, so it freezes
 * the subtree (nothing can fork while frozen), SIGKILLs every pid, and thaws
 * so the signals land. Every wait is bounded (-ETIMEDOUT). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"

#define CG_KILL_TIMEOUT_USEC (5 * 1000 * 1000ULL)
#define CG_FREEZE_SLICE_USEC (1000 * 1000ULL)

static int cg_kill_pids(int dfd)
{
        struct pidv p = {0};
        int r = cg_collect_pids(dfd, true, &p);

        for (size_t i = 0; r >= 0 && i < p.n; i++)
                if (kill(p.v[i], SIGKILL) < 0 && errno != ESRCH)
                        r = negative_errno();
        free(p.v);
        return r < 0 ? r : (int)MIN(p.n, (size_t)INT32_MAX);
}

/* v2: wait until cgroup.events says "populated 0". */
static int cg_wait_populated_v2(int dfd, uint64_t deadline)
{
        _cleanup_close_ int fd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        for (;;) {
                char buf[256];
                ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k >= 0) {
                        buf[k] = '\0';
                        if (strstr(buf, "populated 0"))
                                return 0;
                }
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                /* The kernel raises POLLPRI on every change; the cap keeps us
                 * safe should a notification be missed. */
                struct pollfd pfd = {.fd = fd, .events = POLLPRI};
                int ms = (int)MIN((deadline - now) / 1000 + 1, (uint64_t)100);
                if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
                        return negative_errno();
        }
}

/* Re-read the subtree until it holds no process; pid walk killing as we go
 * when kill_again is set (kernels without cgroup.kill). */
static int cg_wait_empty_v1(int dfd, uint64_t deadline, bool kill_again)
{
        uint64_t delay = 500;

        for (;;) {
                int r = kill_again ? cg_kill_pids(dfd) : cg_is_empty(dfd);
                if (r < 0)
                        return r;
                if (kill_again ? r == 0 : r > 0)
                        return 0;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(delay);
                delay = MIN(delay * 2, (uint64_t)20000);
        }
}

static int cg_kill_v2(int dfd)
{
        uint64_t deadline = now_usec() + CG_KILL_TIMEOUT_USEC;
        int r = cg_write_at(dfd, "cgroup.kill", "1");

        if (r == -ENOENT) /* kernel < 5.14: kill pid by pid until none is left */
                r = cg_wait_empty_v1(dfd, deadline, true);
        if (r < 0)
                return r;
        return cg_wait_populated_v2(dfd, deadline);
}

static int cg_freezer_set(int dfd, const char *state, uint64_t deadline)
{
        int r = cg_write_at(dfd, "freezer.state", state);
        uint64_t delay = 200;

        if (r < 0)
                return r;
        for (;;) {
                char buf[64];
                r = cg_read_at(dfd, "freezer.state", buf, sizeof(buf));
                if (r < 0)
                        return r;
                if (strncmp(buf, state, strlen(state)) == 0)
                        return 0;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(delay);
                delay = MIN(delay * 2, (uint64_t)10000);
        }
}

static int cg_kill_v1(int dfd)
{
        uint64_t deadline = now_usec() + CG_KILL_TIMEOUT_USEC;

        /* Freeze so nothing forks between listing and killing, SIGKILL
         * everything, then thaw so the signals are delivered. Repeat while
         * something is left (a task that was mid-fork). A freeze that does
         * not settle within its slice (a task in uninterruptible sleep stays
         * FREEZING) must not stop the kill: SIGKILL what is there anyway and
         * let the next round catch what forked meanwhile. */
        for (;;) {
                int r, k;

                r = cg_freezer_set(dfd, "FROZEN", MIN(deadline, now_usec() + CG_FREEZE_SLICE_USEC));
                if (r >= 0 || r == -ETIMEDOUT)
                        r = cg_kill_pids(dfd);
                k = cg_freezer_set(dfd, "THAWED", deadline);
                if (r < 0)
                        return r;
                if (k < 0)
                        return k;
                r = cg_wait_empty_v1(dfd, MIN(deadline, now_usec() + 500000), false);
                if (r != -ETIMEDOUT)
                        return r;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
        }
}

int cg_kill(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_close_ int dfd = cg_open(h, rel);

        if (dfd == -ENOENT)
                return 0; /* nothing left to kill */
        if (dfd < 0)
                return dfd;
        return h->mode == CG_V2 ? cg_kill_v2(dfd) : cg_kill_v1(dfd);
}
