/* worker.h - the skeleton the agent's helper threads share (the syncer's,
 * the spawner's, the tombs'): one mutex and condition for what the loop
 * hands over, a stop flag, the thread itself, started with every signal
 * blocked since signals are the loop's to handle (libevent's signal
 * events), and, for those that report back, an eventfd the loop watches,
 * which needs no lock and folds any number of reports into one callback. */
#pragma once

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>

struct worker {
        pthread_mutex_t lock; /* guards what the loop and the thread share */
        pthread_cond_t wake;  /* signalled on new work and on stop */
        bool stop;            /* under lock: the thread returns once it sees it */
        pthread_t thread;
        /* The loop's side of worker_report(). */
        int efd;
        struct event *ev;
        void (*on_report)(void *arg);
        void *arg;
};

/* Start fn(arg) on a thread of its own. With base, on_report(arg) runs from
 * its loop after one or more worker_report() calls. 0 or a negative errno,
 * and then nothing is left to undo. */
int worker_start(struct worker *w, struct event_base *base, void (*on_report)(void *arg),
                 void *(*fn)(void *arg), void *arg);
/* From the thread: have the loop call on_report. */
void worker_report(struct worker *w);
/* Set stop, wake the thread, wait until it returns, free the rest. */
void worker_stop(struct worker *w);
