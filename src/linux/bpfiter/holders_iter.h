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

#include <stdbool.h>
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

/* Load and attach the iterator programs, and with events the programs that
 * mark the containers a socket may have reached (holders.bpf.c). Without
 * them (not wanted, or the kernel lacks one) the iterator still works. */
int holders_iter_new(struct holders_iter **ret, bool events, struct errbuf *e);
/* NULL when the event programs are attached; else why not, in one line. */
const char *holders_iter_events_missing(const struct holders_iter *it);
/* Make the sorted, unique ids the set of containers the events attribute
 * to. 1 when the set changed, 0 if not. */
int holders_iter_watch(struct holders_iter *it, const uint64_t *ids, size_t n);
/* Take the containers marked since the last drain (sorted malloc'd array,
 * NULL when none) and whether a mark was lost meanwhile (then every
 * container must be walked). */
int holders_iter_drain(struct holders_iter *it, uint64_t **ret, size_t *ret_n, bool *ret_lost);
/* Detach and free; NULL is fine. */
void holders_iter_free(struct holders_iter *it);
/* Most candidates one search can take. */
size_t holders_iter_max_candidates(void);
/* Most container cgroups one search can take. */
size_t holders_iter_max_containers(void);
/* Walk the open files of every process whose container is among the sorted,
 * unique cgroup_ids (NULL: every watched one) and report those among the
 * sorted, unique inodes, each with its container's id. A process' container is the deepest of the
 * watched set (holders_iter_watch(), which must hold every cgroup_ids)
 * among its cgroup and that cgroup's ancestors. -E2BIG beyond the maxima
 * above. */
int holders_iter_run(struct holders_iter *it, const uint64_t *cgroup_ids, size_t n_cgroups,
                     const uint64_t *inodes, size_t n, holders_iter_fn fn, void *userdata);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct holders_iter *, holders_iter_free);
