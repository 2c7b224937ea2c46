/* supervisor.h - the per-container supervisor program,
 * `portiso-supervisor --supervise <id> <cgroup mode> <mount> <cgroup>
 * <supervisors cgroup> <meta dir> <sandbox> <netns> <nofile>`, nofile being
 * the RLIMIT_NOFILE "<soft>:<hard>" to restore (the agent raised its own) or
 * "-".
 *
 * It is the far side of the launcher (launcher.h): it moves itself into the
 * supervisors' cgroup, forks the main process, which enters the container's
 * cgroup, sandbox and network namespace and execs the command of the
 * checkpointed config.json, and reports on STATUS_FD one line, "ok <pid>
 * <start time> <main pid>" or "error <message>". Then it waits for the main
 * process, records its wait(2) status in the checkpoint and kills whatever
 * is left in the cgroup. It is a process of its own, never on the agent's
 * loop, so it may block. */
#pragma once

#include <stdbool.h>

#define SUPERVISOR_PROGRAM "portiso-supervisor"
#define SUPERVISE_FLAG "--supervise"
/* The launcher's socket, as the supervisor sees it. */
#define SUPERVISOR_STATUS_FD 3

/* Entry point of `portiso-supervisor --supervise ...` (argv from "--supervise"). */
int supervisor_main(int argc, char **argv);
/* True if argv asks for the hidden supervisor mode. */
bool supervisor_mode(int argc, char **argv);
