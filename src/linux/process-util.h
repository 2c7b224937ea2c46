/* process-util.h - small facts about processes from /proc, and the clean
 * signal state a forked child needs before it execs.
 *
 * Shared by the launcher (agent side) and the supervisor: both fork children
 * that must not inherit the parent's handlers or mask, and both identify a
 * process by pid plus start time, which no pid reuse can fake. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of pid (/proc/<pid>/stat field 22, clock ticks since boot).
 * -ESRCH if the process is gone. */
int process_start_time(pid_t pid, uint64_t *ret);
/* pidfd_open(2): a pidfd for pid, or a negative errno. Race-free only for a
 * process that cannot have been reaped yet (a child, or one whose parent
 * holds off reaping it), or when checked afterwards (start time, parent). */
int pidfd_open_pid(pid_t pid);
/* Send sig through a pidfd (never a reused pid). A process already gone is
 * fine: 0. */
int pidfd_signal(int pidfd, int sig);
/* True while the process of the pidfd has not exited (a poll that never
 * waits: a pidfd is readable once its process is gone). */
bool pidfd_alive(int pidfd);
/* The parent pid of pid from /proc/<pid>/status. */
int process_parent(pid_t pid, pid_t *ret);
/* True if pid is a zombie (ended, not reaped yet); false if it runs or is gone. */
bool process_is_zombie(pid_t pid);
/* Every signal back to SIG_DFL and an empty mask (in a child, before exec). */
void process_reset_signals(void);
