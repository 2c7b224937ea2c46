/* holders.h - which containers hold given sockets: the holder search of
 * ports_collect().
 *
 * A listening socket created outside every container may still be held by a
 * container process (inherited, or passed over SCM_RIGHTS); Mesos counts it
 * for the holder. Only those few "candidate" sockets are searched for, so the
 * search sits behind this one function: a BPF iterator answers where the
 * kernel allows (holders-bpf.h), the /proc walk of holders.c everywhere else.
 *
 * A container's processes are those of its cgroup and of every cgroup below
 * it that is not itself a container's (a task may create cgroups below its
 * own): each process counts for the deepest container above it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "isolator/ports.h"
#include "linux/cgroup.h"

/* The search state of one isolator (the iterator, once loaded). */
struct holders;

/* Called once per (container, inode) pair found, possibly more than once for
 * the same pair; a negative return stops the search and is returned. */
typedef int (*holders_found_fn)(struct ports_container *c, uint64_t inode, void *userdata);

/* For each container in cs, find which of the sorted socket inodes the
 * processes it owns (see above) hold and report each through found().
 * Ignored containers own no process (theirs count for the container above
 * them, if any); cgroups and processes that vanish meanwhile hold nothing.
 * *hs is the isolator's state, allocated on first use. */
int holders_find(struct holders **hs, const struct cg_hierarchy *h,
                 struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                 size_t n_inodes, holders_found_fn found, void *userdata);
/* "bpf+events" once the iterator answered and walks follow the events,
 * "bpf" when every search walks every container, "proc" for the /proc walk;
 * with why in *reason (may be NULL) when something was tried and is
 * unavailable. hs may be NULL. */
const char *holders_backend(const struct holders *hs, const char **reason);
/* How many searches walked every container, and how many only the marked
 * ones (in-kernel search only). hs may be NULL. */
void holders_walks(const struct holders *hs, uint64_t *ret_full, uint64_t *ret_partial);
/* Free the state (unloads the iterator); NULL is fine. */
void holders_free(struct holders *hs);
