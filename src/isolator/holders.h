/* holders.h - which containers hold given sockets: the holder search of
 * ports_collect().
 *
 * A listening socket created outside every container may still be held by a
 * container process (inherited, or passed over SCM_RIGHTS); Mesos counts it
 * for the holder. Only those few "candidate" sockets are searched for, so the
 * search sits behind this one function: the /proc walk here is the portable
 * implementation, and a faster one (a BPF task_file iterator) can replace it
 * without touching collect. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "isolator/ports.h"
#include "linux/cgroup.h"

/* Called once per (container, inode) pair found, possibly more than once for
 * the same pair; a negative return stops the search and is returned. */
typedef int (*holders_found_fn)(struct ports_container *c, uint64_t inode, void *userdata);

/* For each container in cs (its own cgroup, not the nested ones: those are in
 * cs themselves), find which of the sorted socket inodes its processes hold
 * and report each through found(). Ignored containers are skipped; cgroups
 * and processes that vanish meanwhile hold nothing. */
int holders_find(const struct cg_hierarchy *h, struct ports_container *const *cs, size_t n,
                 const uint64_t *sorted_inodes, size_t n_inodes, holders_found_fn found,
                 void *userdata);
