/* sandbox.h - entering a task's sandbox directory as its user will own it.
 *
 * The sandbox of a nested container lies inside its parent's sandbox
 * (<work_dir>/containers/a/containers/b), which belongs to the parent's
 * user: that user could swap a path component for a symlink between the
 * agent's mkdir and the task's start, and have root chown or enter whatever
 * the link names. So the supervisor, still root, opens the sandbox below the
 * work directory without following any symlink (openat2 RESOLVE_NO_SYMLINKS
 * | RESOLVE_BENEATH), chowns what it opened and enters it by fd; the task
 * opens stdout and stderr only after it has become its user. */
#pragma once

#include <sys/types.h>

/* Open `sandbox` (the sandbox of container `id`) as above, chown it to
 * uid:gid unless uid is 0, and make it the working directory. Only
 * async-signal-safe calls: fit for a child between fork and exec. */
int sandbox_enter(const char *sandbox, const char *id, uid_t uid, gid_t gid);
