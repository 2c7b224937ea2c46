/* holders_iter_stub.c - the holders iterator where this build has no BPF
 * toolchain (clang, bpftool or kernel BTF missing at build time): the same
 * API, reporting the search as unsupported so callers use the /proc walk. */
#include <errno.h>

#include "holders_iter.h"

int holders_iter_new(struct holders_iter **ret, bool events, struct errbuf *e)
{
        (void)ret;
        (void)events;
        return errbuf_set(e, -EOPNOTSUPP, "built without eBPF support (clang, bpftool, BTF)");
}

void holders_iter_free(struct holders_iter *it)
{
        (void)it;
}

size_t holders_iter_max_candidates(void)
{
        return 0;
}

size_t holders_iter_max_containers(void)
{
        return 0;
}

int holders_iter_run(struct holders_iter *it, const uint64_t *cgroup_ids, size_t n_cgroups,
                     const uint64_t *inodes, size_t n, holders_iter_fn fn, void *userdata)
{
        (void)it, (void)cgroup_ids, (void)n_cgroups, (void)inodes, (void)n, (void)fn,
            (void)userdata;
        return -EOPNOTSUPP;
}

const char *holders_iter_events_missing(const struct holders_iter *it)
{
        (void)it;
        return "built without eBPF support";
}

int holders_iter_watch(struct holders_iter *it, const uint64_t *ids, size_t n)
{
        (void)it;
        (void)ids;
        (void)n;
        return -EOPNOTSUPP;
}

int holders_iter_drain(struct holders_iter *it, uint64_t **ret, size_t *ret_n, bool *ret_lost)
{
        (void)it;
        (void)ret;
        (void)ret_n;
        (void)ret_lost;
        return -EOPNOTSUPP;
}
