/* holders-bpf.h - the fast holder search: holders_find() answered by a BPF
 * task_file iterator walking every process' files in the kernel.
 *
 * holders_find() tries this first and falls back to its /proc walk when it
 * answers -EOPNOTSUPP: no BPF here (not root, no BTF, no iterator support,
 * a build without clang/bpftool), the v1 freezer path (no v2 cgroup ids to
 * match), more candidates than the map takes, or PORTISO_HOLDERS=proc in the
 * environment (to compare both). The iterator is loaded on first use and kept
 * for the life of the process: the agent and `portiso scan` are single
 * threaded, so one process-wide instance needs no locking. */
#pragma once

#include "isolator/holders.h"

/* Same contract as holders_find(); -EOPNOTSUPP when the caller should walk
 * /proc instead. */
int holders_find_bpf(const struct cg_hierarchy *h, struct ports_container *const *cs, size_t n,
                     const uint64_t *sorted_inodes, size_t n_inodes, holders_found_fn found,
                     void *userdata);
/* "bpf" once the iterator is loaded, "proc" otherwise; with why in *reason
 * (may be NULL) when BPF was tried and is unavailable. */
const char *holders_backend(const char **reason);
