/* launcher.h - the Linux launcher: one supervisor process per container.
 *
 *   agent --fork--> helper --setsid, fork--> supervisor (exec portiso-agent --supervise)
 *                    exits                     |  moves itself to <root>/.supervisors
 *                                              +--fork--> main: enter cgroup, sandbox, exec
 *
 * The supervisor is not the agent's child (the helper exits) and sits in its
 * own session, so stopping or restarting the agent leaves it and the container
 * alone. It waits for the main process, records its wait(2) status in the
 * checkpoint (exit_status), kills whatever is left in the container's cgroup
 * and exits. The agent watches it with a pidfd, which works for non-children.
 *
 * The supervisor re-executes the agent binary in a hidden mode rather than
 * staying in the forked image: a forked copy would pin a snapshot of the
 * agent's heap (and whatever libevent state it held) for the container's
 * whole life, per container, while an exec'd one is a small clean process
 * that ps shows as `portiso-agent --supervise <id>`. It reads the command
 * from the checkpointed config.json, so nothing is passed but paths. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/checkpoint.h"
#include "basic/errbuf.h"
#include "linux/cgroup.h"

struct launch_request {
        const char *id;
        const struct cg_hierarchy *hierarchy;
        const char *cgroup;             /* container cgroup, relative to the hierarchy */
        const char *supervisors_cgroup; /* <cgroups_root>/.supervisors, relative */
        const char *meta_dir;           /* checkpoint dir holding config.json */
        const char *sandbox;            /* cwd; stdout, stderr files */
        bool new_netns;                 /* own network namespace, loopback up */
        pid_t join_netns_pid;           /* else join this process' netns (0 = host) */
};

/* Raise the agent's soft RLIMIT_NOFILE to the hard limit (each container
 * holds a pidfd); supervisors and their tasks get back the limit the agent
 * started with. 1 if raised, 0 if already at the hard limit. */
int launcher_raise_fd_limit(void);
/* Start the supervisor (which starts the main process inside the cgroup) and
 * return once the main process has exec'd or failed. ret->pid etc. describe
 * the supervisor; *ret_pidfd watches it. */
int launcher_launch(const struct launch_request *req, struct checkpoint_supervisor *ret,
                    int *ret_pidfd, struct errbuf *e);
/* Open a pidfd for a recorded supervisor, verifying pid, start time and boot
 * id against reuse. -ESRCH if that process is gone. */
int launcher_adopt(const struct checkpoint_supervisor *s, int *ret_pidfd);
/* SIGKILL a supervisor through its pidfd (never a reused pid) and wait, at
 * most a second, until it is gone, so that it writes nothing more. */
int launcher_kill_supervisor(int pidfd);
