/* process-util.h - small facts about processes from /proc, and the clean
 * signal state a forked child needs before it execs.
 *
 * Shared by the launcher (agent side) and the supervisor: both fork children
 * that must not inherit the parent's handlers or mask, and both identify a
 * process by pid plus start time, which no pid reuse can fake. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Start time of pid (/proc/<pid>/stat field 22, clock ticks since boot).
 * -ESRCH if the process is gone. */
int process_start_time(pid_t pid, uint64_t *ret);
/* Every signal back to SIG_DFL and an empty mask (in a child, before exec). */
void process_reset_signals(void);
