/* launcher.h - the Linux launcher: one supervisor process per container.
 *
 *   agent's spawner thread
 *     --posix_spawn, setsid--> supervisor (portiso-supervisor --supervise)
 *                                |  moves itself to <root>/.supervisors
 *                                +--fork--> main: enter cgroup, sandbox, exec
 *
 * The supervisor sits in its own session, so stopping or restarting the
 * agent leaves it and the container alone (it is then init's child). It
 * waits for the main process, records its wait(2) status in the checkpoint
 * (exit_status), kills whatever is left in the container's cgroup and exits.
 * The agent watches it with a pidfd, which works the same for its own
 * children and for those a restarted agent adopts; its own it reaps on
 * SIGCHLD (launcher_reap_children()).
 *
 * The supervisor is a program of its own (supervisor-main.c), not a fork of
 * the agent: a forked copy would pin a snapshot of the agent's heap (and
 * whatever libevent state it held) for the container's whole life, per
 * container, while an exec'd one is a small clean process that ps shows as
 * `portiso-supervisor --supervise <id>`. Nor is it the agent binary in a
 * hidden mode: loading the agent's libraries cost each launch ~10 ms of CPU.
 * It reads the command from the checkpointed config.json, so nothing is
 * passed but paths. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "agent/checkpoint.h"
#include "agent/spawner.h"
#include "basic/errbuf.h"
#include "linux/cgroup.h"

struct launch_request {
        struct spawner *spawner; /* makes the posix_spawn() call, off the loop */
        const char *id;
        const struct cg_hierarchy *hierarchy;
        const char *cgroup;             /* container cgroup, relative to the hierarchy */
        const char *supervisors_cgroup; /* <cgroups_root>/.supervisors, relative */
        const char *meta_dir;           /* checkpoint dir holding config.json */
        const char *sandbox;            /* cwd; stdout, stderr files */
        bool new_netns;                 /* own network namespace, loopback up */
        pid_t join_netns_pid;           /* else join this process' netns (0 = host) */
};

/* The supervisor's own log, in the checkpoint directory. */
#define LAUNCHER_LOG "supervisor.log"

/* Find the supervisor program: beside the running agent binary (the build
 * tree), else in the directory it is installed to. Once, at startup; a
 * one-line error if it is in neither. */
int launcher_find_supervisor(struct errbuf *e);
/* Reap every exited child of the agent (its supervisors), from SIGCHLD. */
void launcher_reap_children(void);
/* Raise the agent's soft RLIMIT_NOFILE to the hard limit (each container
 * holds a pidfd); supervisors and their tasks get back the limit the agent
 * started with. 1 if raised, 0 if already at the hard limit. */
int launcher_raise_fd_limit(void);
/* What a successful launch learnt; the pidfds are the callee's to keep. */
struct launch_report {
        struct checkpoint_supervisor sup;
        int sup_pidfd;  /* the supervisor; on failure too, when known (-1 if not) */
        int main_pidfd; /* the main process, -1 if it could not be opened */
};
struct launch;
/* Called once from the loop: r = 0 (report filled) or a negative errno with
 * a one-line error; rep->sup_pidfd may then name a supervisor still to kill. */
typedef void (*launch_done_fn)(int r, struct launch_report *rep, const char *error, void *userdata);
/* Start the supervisor (which starts the main process inside the cgroup) and
 * return at once; done() follows when it reported that the main process
 * exec'd or failed, when it could not be spawned, or after 30 s without a
 * report. *ret is valid until then. */
int launcher_launch(struct event_base *base, const struct launch_request *req, launch_done_fn done,
                    void *userdata, struct launch **ret, struct errbuf *e);
/* Give up a pending launch: done() is never called; the supervisor's pidfd,
 * if known, is handed over in *ret_sup_pidfd (else -1) for the caller to
 * kill. A supervisor still being spawned is killed as soon as it exists, by
 * the spawner's thread; it cannot have reported, so nothing was recorded. */
void launcher_launch_abort(struct launch *l, int *ret_sup_pidfd);
/* Open a pidfd for a recorded supervisor, verifying pid, start time and boot
 * id against reuse. -ESRCH if that process is gone. */
int launcher_adopt(const struct checkpoint_supervisor *s, int *ret_pidfd);
/* Open a pidfd for the main process of a live, adopted supervisor (its
 * parent until it reaps it: checked against reuse). -ESRCH if gone. */
int launcher_adopt_main(const struct checkpoint_supervisor *s, int *ret_pidfd);
