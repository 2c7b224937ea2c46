/* spawner.h - starting processes off the agent's event loop.
 *
 * posix_spawn(3) clones with CLONE_VFORK: the calling thread sleeps until the
 * child has exec'd, and on a busy machine the child first waits for a CPU,
 * so each spawn could hold the loop for milliseconds (measured: 2.3 ms at
 * the median, up to 10 ms, during 100 concurrent launches on two vCPUs).
 * The spawner is one thread that makes those calls instead; the loop hands
 * it jobs and hears back through an eventfd. The thread keeps the agent's
 * own scheduling attributes (unlike the syncer's, at nice 10), since a child
 * inherits its creator thread's nice value, and blocks every signal (a
 * child's signal mask the spawn sets itself).
 *
 * A job is embedded in its owner's struct and never allocated here, so
 * handing one over and hearing back cannot fail. */
#pragma once

#include <event2/event.h>

struct spawner;

struct spawner_job {
        /* On the spawner's thread: the spawn; it must touch only what the
         * job's owner gave it. */
        void (*work)(struct spawner_job *j);
        /* From the loop, after work, unless the job was cancelled. */
        void (*done)(struct spawner_job *j);
        /* On the spawner's thread, once work has run, for a job cancelled
         * while work ran: what it started must be ended, and the job freed. */
        void (*orphaned)(struct spawner_job *j);
        /* The spawner's. */
        struct spawner_job *next;
        int state;
};

int spawner_new(struct event_base *base, struct spawner **ret);
/* Finish the job running, if any, and free. Every job must have been
 * cancelled or finished before. NULL is fine. */
void spawner_free(struct spawner *s);
/* Queue j (its three functions set); jobs run in order. */
void spawner_submit(struct spawner *s, struct spawner_job *j);

enum spawner_cancelled {
        SPAWNER_NOT_RUN,  /* work never ran: j is the caller's again */
        SPAWNER_RAN,      /* work ran: j is the caller's, with what it made */
        SPAWNER_ORPHANED, /* work is running: the thread ends j with orphaned() */
};
/* From the loop: done() will not be called for j. */
enum spawner_cancelled spawner_cancel(struct spawner *s, struct spawner_job *j);
