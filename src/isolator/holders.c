/* holders.c - the holder search by walking /proc: for every process a
 * container owns (its cgroup and the cgroups below it that are no
 * container's), the socket inodes of /proc/<pid>/fd, matched by binary search
 * against the sorted candidate inodes.
 *
 * This is Mesos' algorithm, but collect() only runs it when some listener in
 * the isolated range was created outside every container, so on cgroup v2 it
 * is usually skipped entirely, and where BPF works the iterator of
 * holders-bpf.c answers instead. One inode buffer is reused for all
 * processes and kept from search to search. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cmp.h"
#include "isolator/holders-bpf.h"
#include "isolator/holders.h"
#include "linux/procfd.h"

struct holders {
        struct holders_bpf_state bpf;
        uint64_t *inodes; /* the /proc walk's buffer */
        size_t alloc;
};

void holders_free(struct holders *hs)
{
        if (!hs)
                return;
        holders_bpf_state_done(&hs->bpf);
        free(hs->inodes);
        free(hs);
}

const char *holders_backend(const struct holders *hs, const char **reason)
{
        if (reason)
                *reason = NULL;
        if (!hs || hs->bpf.state <= 0) {
                if (reason && hs && hs->bpf.state < 0)
                        *reason = hs->bpf.error.msg;
                return "proc";
        }
        if (hs->bpf.events)
                return "bpf+events";
        if (reason)
                *reason = holders_iter_events_missing(hs->bpf.iter);
        return "bpf";
}

void holders_walks(const struct holders *hs, uint64_t *ret_full, uint64_t *ret_partial)
{
        *ret_full = hs ? hs->bpf.full_walks : 0;
        *ret_partial = hs ? hs->bpf.partial_walks : 0;
}

/* The cgroup paths of the checked containers, sorted: a walk stops where
 * another container begins, that container's own walk covers it. */
struct container_paths {
        const char **v;
        size_t n;
};

static bool is_container(const char *rel, void *userdata)
{
        const struct container_paths *p = userdata;

        return bsearch(&rel, p->v, p->n, sizeof(*p->v), cmp_string) != NULL;
}

static int walk_proc(struct holders *hs, const struct cg_hierarchy *h,
                     struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                     size_t n_inodes, holders_found_fn found, void *userdata)
{
        _cleanup_free_ const char **paths = calloc(MAX(n, (size_t)1), sizeof(*paths));
        struct container_paths cp = {paths, 0};

        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!cs[i]->ignored)
                        paths[cp.n++] = cs[i]->cgroup;
        if (cp.n > 1)
                qsort(paths, cp.n, sizeof(*paths), cmp_string);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n_pids = 0;
                int r;

                if (cs[i]->ignored)
                        continue;
                r = cg_list_pids_pruned(h, cs[i]->cgroup, is_container, &cp, &pids, &n_pids);
                if (r == -ENOENT || r == -ENODEV || r == -ESRCH)
                        continue; /* cgroup gone, or not created yet */
                if (r < 0)
                        return r;

                for (size_t p = 0; p < n_pids; p++) {
                        size_t n_held = 0;

                        r = procfd_socket_inodes(pids[p], &hs->inodes, &n_held, &hs->alloc);
                        if (r == -ENOENT || r == -ESRCH)
                                continue; /* exited meanwhile */
                        if (r < 0)
                                return r;
                        for (size_t k = 0; k < n_held; k++) {
                                if (!bsearch(&hs->inodes[k], sorted_inodes, n_inodes,
                                             sizeof(*sorted_inodes), cmp_uint64))
                                        continue;
                                r = found(cs[i], hs->inodes[k], userdata);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

int holders_find(struct holders **hs, const struct cg_hierarchy *h,
                 struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                 size_t n_inodes, holders_found_fn found, void *userdata)
{
        if (n_inodes == 0)
                return 0;
        if (!*hs) {
                *hs = calloc(1, sizeof(**hs));
                if (!*hs)
                        return -ENOMEM;
        }
        int k = holders_find_bpf(&(*hs)->bpf, h, cs, n, sorted_inodes, n_inodes, found, userdata);
        if (k != -EOPNOTSUPP)
                return k; /* the in-kernel search answered (or failed for real) */
        return walk_proc(*hs, h, cs, n, sorted_inodes, n_inodes, found, userdata);
}
