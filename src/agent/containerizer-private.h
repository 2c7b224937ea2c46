/* containerizer-private.h - state shared by containerizer.c (the table, the
 * state machine, the calls), containerizer-launch.c, containerizer-destroy.c
 * (the end of a container), containerizer-recover.c (start, stop, recovery)
 * and containerizer-watch.c (the watch loop). Not a contract: nothing
 * outside those files includes it. */
#pragma once

#include <event2/event.h>

#include "agent/checkpoint.h"
#include "agent/containerizer.h"
#include "agent/event-log.h"
#include "agent/launcher.h"
#include "agent/spawner.h"
#include "agent/syncer.h"
#include "basic/time-util.h"
#include "isolator/isolator.h"
#include "linux/cgroup.h"

struct waiter {
        struct waiter *prev, *next;
        struct cz_container *c;
        container_wait_fn fn;
        void *userdata;
        struct event *fire; /* zero-timeout event: callbacks run from the loop */
};

/* A job of a container's on the syncer's worker (its struct begins with
 * this): c, or NULL once the container no longer wants its result. */
struct cz_job {
        struct cz_container *c;
};

struct cz_container {
        struct container pub; /* first: a struct container * is a struct cz_container * */
        struct containerizer *cz;
        char *cgroup;  /* relative to the hierarchy: <cgroups_root>/<a>/<b> */
        char *meta;    /* checkpoint directory */
        char *sandbox; /* <work_dir>/containers/<a>/containers/<b> */
        uint64_t cgroup_id;
        struct checkpoint_supervisor sup;
        int pidfd; /* the supervisor, -1 when not watched */
        struct event *exit_ev;
        struct waiter *waiters;
        pid_t netns_pid;           /* a process in this container's netns when not the host's */
        int main_pidfd;            /* the main process, -1 when unknown */
        bool killed_by_agent;      /* destroyed by the agent: a SIGKILL end is no surprise */
        bool isolated;             /* handed to the isolators (not when UNKNOWN) */
        bool exit_status_corrupt;  /* said once already */
        bool exit_status_inferred; /* known from the agent's own cgroup kill */
        char *lost;                /* recovery: why no exit status can be expected */
        bool deadline_passed;      /* the destroy's bound ended it */

        /* LAUNCHING */
        bool in_launch;            /* launched by this agent and not yet answered */
        bool own_netns;            /* the main process made a network namespace */
        struct launch *launch;     /* the pending report, NULL once it came */
        bool destroy_when_running; /* a limitation came before the report */
        bool adopt_pending;        /* reported; its adopt step is queued */
        void (*step)(struct containerizer *cz, struct cz_container *c); /* queued */
        void *sync_wait;    /* the flush its step waits for, NULL when none */
        struct cz_job *job; /* the job its step waits for, NULL when none */
        int sync_r;         /* how that flush went */
        struct cz_container *step_next;
        container_launch_fn launch_done;
        void *launch_userdata;
        int launch_r;                   /* < 0: the launch failed, the container is undone */
        char *launch_error;             /* its one-line error */
        struct cz_container *undo_next; /* in cz->undoing */

        /* DESTROYING */
        struct event *step_ev;     /* the next step of the cgroup kill */
        struct backoff step_delay; /* microseconds */
        struct event *deadline_ev; /* the bound on the whole destroy */
        bool cgroup_empty;
        bool cgroup_removed;
        uint64_t remove_deadline; /* microseconds, CLOCK_MONOTONIC */
        char *escaped;            /* what the destroy could not kill, for the message */
        bool ended_itself;        /* the main process ended before any destroy */

        struct cz_adopted *adopted; /* from a workload source, else NULL */

        /* A limitation on ports bind prevention refuses, first seen when
         * cz->pass_seq was confirm_pass: acted on if the next pass sees it. */
        bool confirm_pending;
        uint64_t confirm_pass;
};

/* A listen instant detection reported, for listen_to_kill_seconds. */
struct cz_listen_note {
        uint64_t cgroup_id; /* root container's cgroup */
        uint64_t ns;        /* CLOCK_MONOTONIC of the listen */
};

#define CZ_MAX_LISTEN_NOTES 64
#define CZ_LISTEN_NOTE_TTL_NS 1000000000ULL

struct containerizer {
        struct event_base *base;
        const struct agent_flags *flags;
        struct cg_hierarchy h;
        char *supervisors_cgroup;
        int lock_fds[2]; /* flocks on the work dir and the cgroups root: one agent each */
        struct isolator_context ictx;
        struct isolator **isolators;
        size_t n_isolators;
        struct container **v; /* sorted by id */
        size_t n, alloc;
        struct event *watch_ev;
        struct containerizer_metrics m;
        bool watch_failing;                           /* log a failing pass once, not every tick */
        struct cz_reap *reaps;                        /* cgroups still to kill and remove */
        struct cz_container *steps_head, *steps_tail; /* one step per loop turn */
        struct event *steps_ev;
        struct cz_listen_note notes[CZ_MAX_LISTEN_NOTES]; /* oldest first */
        size_t n_notes;
        struct event_log *events;
        struct syncer *sync;          /* checkpoint flushes and file work, off the loop */
        struct spawner *spawner;      /* supervisors' posix_spawn(), off the loop */
        struct tombs *tombs;          /* removed containers' files, deleted off the loop */
        struct cz_container *undoing; /* failed launches, off the table, whose files go */
        struct event *confirm_ev;     /* the pass that confirms a limitation */
        uint64_t pass_seq;            /* full passes begun */
};

static inline struct cz_container *CZC(const struct container *c)
{
        return (struct cz_container *)c;
}

/* Ask every isolator's status() about c: its listeners, the binds refused. */
void cz_refresh_status(struct containerizer *cz, struct container *c);
/* Set up the histograms of fresh metrics. */
void cz_metrics_init(struct containerizer_metrics *m);
/* Look a container up by id. */
struct cz_container *cz_find(const struct containerizer *cz, const char *id);
/* Allocate a container for cfg (contents moved in) with its paths. */
int cz_container_new(struct containerizer *cz, struct container_config *cfg,
                     struct cz_container **ret);
/* Free a container (not in the table any more); pending waiters are called
 * first when notify, else forgotten. */
void cz_container_free(struct cz_container *c, bool notify);
/* Remove from the sorted table (not freed). */
void cz_erase(struct containerizer *cz, struct cz_container *c);
/* Every isolator's cleanup() for c, last isolator first. */
void cz_cleanup_isolators(struct containerizer *cz, struct cz_container *c);
/* Insert into the sorted table. */
int cz_insert(struct containerizer *cz, struct cz_container *c);
/* The isolators' view of a container. */
struct isolator_container cz_isolator_view(const struct cz_container *c);
/* Watch the supervisor's pidfd (c->pidfd) for its exit. */
int cz_watch_supervisor(struct cz_container *c);
/* Tell every isolator the allocation of a root container. */
int cz_set_allocation(struct containerizer *cz, struct cz_container *c);
/* The one door of the state machine (see containerizer.h): checks the edge,
 * logs it and keeps the state gauges. -EINVAL (logged, nothing changed) for
 * an edge the diagram does not have. */
int cz_set_state(struct containerizer *cz, struct cz_container *c, enum container_state to);
/* Destroy c and its nested containers; t (may be NULL) is their termination.
 * Returns at once: the end comes from the loop (containerizer-destroy.c). */
void cz_destroy(struct containerizer *cz, struct cz_container *c,
                const struct container_termination *t);
/* Copy t (its state, reason, message, limitation, destroyed) into c's
 * termination and checkpoint it; on failure c's termination is as before. */
int cz_record_termination(struct cz_container *c, const struct container_termination *t);
/* The supervisor has exited: a running container ends, a destroy may finish. */
void cz_on_supervisor_gone(struct containerizer *cz, struct cz_container *c);
/* End a DESTROYING container if everything it waits for is done. */
void cz_maybe_end(struct containerizer *cz, struct cz_container *c);
/* Kill what is left in a cgroup and remove it, from the loop, bounded. */
void cz_reap_cgroup(struct containerizer *cz, const char *rel);
/* Forget the pending cgroup reaps (the agent stops). */
void cz_reaps_free(struct containerizer *cz);
/* Queue step(cz, c) to run from the loop, after the steps queued before
 * it, one per loop turn. c must not have a step queued. */
void cz_queue_step(struct containerizer *cz, struct cz_container *c,
                   void (*step)(struct containerizer *cz, struct cz_container *c));
/* Queue step for when every checkpoint written so far is on disk; the step
 * finds how the flush went in c->sync_r. */
void cz_queue_step_when_durable(struct containerizer *cz, struct cz_container *c,
                                void (*step)(struct containerizer *cz, struct cz_container *c));
/* Where the agent's checkpoint writes hand their flushes. */
static inline struct sync_later *cz_later(const struct containerizer *cz)
{
        return syncer_later(cz->sync);
}
/* Forget c's queued step (it is freed, or no longer wants it). */
void cz_unqueue_step(struct containerizer *cz, struct cz_container *c);
/* Forget every queued step (the agent stops). */
void cz_steps_free(struct containerizer *cz);
/* A launch that failed has been undone: answer it and forget the container. */
void cz_launch_undone(struct containerizer *cz, struct cz_container *c);
/* Refresh every container's listening set from the isolators. */
void cz_refresh_listening(struct containerizer *cz);
/* Timer callback of the watch loop. */
void cz_on_watch(evutil_socket_t fd, short what, void *userdata);

/* Adopted containers (containerizer-adopt.c): the stop goes to the source,
 * the end comes from it; no cgroup of theirs is killed or removed here. */
void cz_adopted_destroy(struct containerizer *cz, struct cz_container *c,
                        const struct container_termination *t);
void cz_adopted_free(struct cz_container *c);
/* Record an event of c in the containerizer's event log. */
void cz_record(struct containerizer *cz, const struct cz_container *c, const char *kind,
               const char *message);
