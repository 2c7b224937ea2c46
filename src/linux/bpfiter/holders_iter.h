/* holders_iter.h - the in-kernel holder search: a BPF task iterator that
 * reports which container processes (in a container's cgroup or below it)
 * hold any of a set of socket inodes.
 *
 * Loaded once and reused: each search replaces the candidate and container
 * sets (BPF hash maps, updated only where they changed) and reads the
 * iterator once. Needs root, kernel BTF, the task, tcp and udp iterators and
 * bpf_loop() (5.17+); holders_iter_new() says why not with -EOPNOTSUPP or
 * -EPERM and a line in *e, and callers fall back to a /proc walk. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/errbuf.h"
#include "basic/macro.h"

struct holders_iter;

/* Called for each (process, socket) hit; inode 0 means "this process holds
 * more candidates than the kernel side reports: look at it yourself". A
 * negative return stops the walk and is returned by holders_iter_run(). */
typedef int (*holders_iter_fn)(pid_t tgid, uint64_t cgroup_id, uint64_t inode, void *userdata);

/* Load and attach the iterator program. */
int holders_iter_new(struct holders_iter **ret, struct errbuf *e);
/* Detach and free; NULL is fine. */
void holders_iter_free(struct holders_iter *it);
/* Most candidates one search can take. */
size_t holders_iter_max_candidates(void);
/* Most container cgroups one search can take. */
size_t holders_iter_max_containers(void);
/* Walk the open files of every process whose cgroup v2 id, or an ancestor's,
 * is among the sorted, unique cgroup_ids and report those among the sorted,
 * unique inodes, each with the deepest such id above the process. -E2BIG
 * beyond the maxima above. */
int holders_iter_run(struct holders_iter *it, const uint64_t *cgroup_ids, size_t n_cgroups,
                     const uint64_t *inodes, size_t n, holders_iter_fn fn, void *userdata);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct holders_iter *, holders_iter_free);
