/* holders.c - the holder search by walking /proc: for every process of every
 * container cgroup, the socket inodes of /proc/<pid>/fd, matched by binary
 * search against the sorted candidate inodes.
 *
 * This is Mesos' algorithm, but collect() only runs it when some listener in
 * the isolated range was created outside every container, so on cgroup v2 it
 * is usually skipped entirely. One inode buffer is reused for all processes. */
#include <errno.h>
#include <stdlib.h>

#include "isolator/holders-bpf.h"
#include "isolator/holders.h"
#include "linux/procfd.h"

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

int holders_find(const struct cg_hierarchy *h, struct ports_container *const *cs, size_t n,
                 const uint64_t *sorted_inodes, size_t n_inodes, holders_found_fn found,
                 void *userdata)
{
        _cleanup_free_ uint64_t *inodes = NULL;
        size_t alloc = 0;

        if (n_inodes == 0)
                return 0;
        int k = holders_find_bpf(h, cs, n, sorted_inodes, n_inodes, found, userdata);
        if (k != -EOPNOTSUPP)
                return k; /* the in-kernel search answered (or failed for real) */

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n_pids = 0;
                int r;

                if (cs[i]->ignored)
                        continue;
                r = cg_list_pids(h, cs[i]->cgroup, false, &pids, &n_pids);
                if (r == -ENOENT || r == -ENODEV || r == -ESRCH)
                        continue; /* cgroup gone, or not created yet */
                if (r < 0)
                        return r;

                for (size_t p = 0; p < n_pids; p++) {
                        size_t n_held = 0;

                        r = procfd_socket_inodes(pids[p], &inodes, &n_held, &alloc);
                        if (r == -ENOENT || r == -ESRCH)
                                continue; /* exited meanwhile */
                        if (r < 0)
                                return r;
                        for (size_t k = 0; k < n_held; k++) {
                                if (!bsearch(&inodes[k], sorted_inodes, n_inodes,
                                             sizeof(*sorted_inodes), cmp_u64))
                                        continue;
                                r = found(cs[i], inodes[k], userdata);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}
