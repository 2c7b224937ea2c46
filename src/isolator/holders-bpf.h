/* holders-bpf.h - the fast holder search: holders_find() answered by a BPF
 * iter/task program reading every process' fd table in the kernel.
 *
 * holders_find() tries this first and falls back to its /proc walk when it
 * answers -EOPNOTSUPP: no BPF here (not root, no BTF, no iterator support,
 * a build without clang/bpftool), the v1 freezer path (no v2 cgroup ids to
 * match), more candidates than the map takes, or PORTISO_HOLDERS=proc in the
 * environment (to compare both). The iterator is loaded on first use and
 * kept in the isolator's struct holders until holders_free(). */
#pragma once

#include "isolator/holders.h"
#include "linux/bpfiter/holders_iter.h"

/* What holders.c keeps for this file. */
struct holders_bpf_state {
        struct holders_iter *iter;
        int state; /* 0 not tried yet, 1 loaded, < 0 unavailable */
        struct errbuf error;
};

/* Same contract as holders_find(); -EOPNOTSUPP when the caller should walk
 * /proc instead. */
int holders_find_bpf(struct holders_bpf_state *s, const struct cg_hierarchy *h,
                     struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                     size_t n_inodes, holders_found_fn found, void *userdata);
