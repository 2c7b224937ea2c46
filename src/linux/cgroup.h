/* cgroup.h - the cgroups that hold containers: cgroup v2 (pure or hybrid) with
 * the v1 freezer hierarchy as a fallback.
 *
 * A `struct cg_hierarchy` is resolved once from --cgroups_hierarchy:
 *   - the path itself is a cgroup2 mount              -> CG_V2 (pure v2)
 *   - <path>/unified is a cgroup2 mount               -> CG_V2 at <path>/unified (hybrid)
 *   - the path itself, or <path>/freezer, is a v1 freezer mount -> CG_V1_FREEZER
 * v2 is preferred where present. Cgroups are named by a path relative to the
 * hierarchy's mount ("portiso/c1/c2"). Killing uses cgroup.kill on v2 (and a
 * pid walk on kernels without it), freeze + SIGKILL + thaw on v1, so a
 * fork-bombing container cannot escape by forking during the kill; it comes
 * as non-blocking steps for the agent's loop and as one bounded call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/errbuf.h"
#include "basic/macro.h"

enum cg_mode {
        CG_V2,
        CG_V1_FREEZER,
};

struct cg_hierarchy {
        enum cg_mode mode;
        char path[4096]; /* mount point actually used (e.g. /sys/fs/cgroup/unified) */
};

/* Resolve the hierarchy to use from a --cgroups_hierarchy value. -ENOENT
 * (with a line in *e) when neither v2 nor a v1 freezer is found. */
int cg_hierarchy_detect(const char *hierarchy, struct cg_hierarchy *ret, struct errbuf *e);
/* "v2" or "v1-freezer". */
const char *cg_mode_to_string(enum cg_mode mode);

/* mkdir -p <mount>/<rel>; existing is fine. */
int cg_create(const struct cg_hierarchy *h, const char *rel);
/* rmdir <mount>/<rel> and all child cgroups, deepest first; missing is fine.
 * -EBUSY if processes remain. Waits (bounded, 2 s) for exited tasks the
 * kernel still holds: not for an event loop. */
int cg_remove(const struct cg_hierarchy *h, const char *rel);
/* One attempt of cg_remove() that never waits: -EAGAIN when only exited
 * tasks still hold the cgroup (retry soon), -EBUSY if processes remain. */
int cg_remove_once(const struct cg_hierarchy *h, const char *rel);
/* True if the cgroup directory exists. */
bool cg_exists(const struct cg_hierarchy *h, const char *rel);
/* Move pid (0 = caller) into the cgroup. */
int cg_attach(const struct cg_hierarchy *h, const char *rel, pid_t pid);
/* Pids in the cgroup (and in every descendant when recursive); malloc'd array. */
int cg_list_pids(const struct cg_hierarchy *h, const char *rel, bool recursive, pid_t **ret,
                 size_t *ret_n);
/* Decides whether the subtree at the cgroup rel (relative to the mount) is
 * left out of cg_list_pids_pruned(). */
typedef bool (*cg_prune_fn)(const char *rel, void *userdata);
/* Pids in the cgroup rel and in its descendants, except below (and at) each
 * descendant for which prune() is true (NULL prunes none); no pid twice. */
int cg_list_pids_pruned(const struct cg_hierarchy *h, const char *rel, cg_prune_fn prune,
                        void *userdata, pid_t **ret, size_t *ret_n);
/* Start killing everything in the cgroup and its descendants, without
 * waiting (v2: cgroup.kill; v1: freeze). 0 also when the cgroup is gone. */
int cg_kill_begin(const struct cg_hierarchy *h, const char *rel);
/* One step of that kill, never waiting: 1 while processes remain (call
 * again later, e.g. when cgroup.events changes), 0 once the subtree is
 * empty or gone. */
int cg_kill_step(const struct cg_hierarchy *h, const char *rel);
/* Give up a kill that did not finish: on v1 thaw the subtree (a step may
 * have frozen it again) so what is left is not left frozen; nothing to do on
 * v2. 0 also when the cgroup is gone. */
int cg_kill_abandon(const struct cg_hierarchy *h, const char *rel);
/* cg_kill_begin() and steps until empty, waiting in between (bounded):
 * -ETIMEDOUT after 5 s. For processes that may block, not an event loop. */
int cg_kill(const struct cg_hierarchy *h, const char *rel);
/* cgroup v2 id (the directory's inode number, as INET_DIAG_CGROUP_ID and
 * bpf_get_current_cgroup_id() report). -EOPNOTSUPP on v1. */
int cg_get_id(const struct cg_hierarchy *h, const char *rel, uint64_t *ret);
/* The reverse: the path (relative to the hierarchy's mount) of the v2 cgroup
 * with this id, found through its kernfs file handle. -ENOENT if it is gone,
 * -EOPNOTSUPP on v1. */
int cg_path_from_id(const struct cg_hierarchy *h, uint64_t id, char **ret_rel);
/* Child cgroups of rel, recursively, as relative paths below rel ("a",
 * "a/b"), parents before children, skipping names that start with '.' (the
 * agent's internal cgroups); malloc'd array of malloc'd strings. */
int cg_list_descendants(const struct cg_hierarchy *h, const char *rel, char ***ret, size_t *ret_n);
/* Absolute path of a cgroup into a malloc'd string. */
int cg_path(const struct cg_hierarchy *h, const char *rel, char **ret);

/* The cgroup of pid on h (from /proc/<pid>/cgroup), relative to the
 * hierarchy's mount. -ESRCH if pid is gone, -ENOENT if it has none there. */
int cg_pid_get_path(const struct cg_hierarchy *h, pid_t pid, char **ret_rel);
/* The same from the text of a /proc/<pid>/cgroup file. */
int cg_parse_proc_cgroup(const char *text, enum cg_mode mode, char **ret_rel);
/* True if cgroup rel is root or lies below it ("a/b" is below "a", "ab" is not). */
bool cg_is_below(const char *rel, const char *root);

/* Free an array of strings as returned by cg_list_descendants(). */
void strv_free_n(char **v, size_t n);
