/* spawner.c - see spawner.h.
 *
 * One mutex guards the two intrusive FIFO lists (queued, done) and every
 * job's state; the thread takes the queue's head, runs it unlocked, then
 * moves it to the done list and wakes the loop (worker.h), or, if
 * the loop cancelled it meanwhile, ends it with orphaned(). A cancel
 * therefore finds the job queued, running or done, and the loop takes done
 * jobs off their list one by one, so a done() that cancels another job
 * never has that job's done() called after it. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/spawner.h"
#include "agent/worker.h"
#include "basic/macro.h"

enum {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_CANCELLED, /* while running */
        JOB_DONE,      /* on the done list */
};

struct job_list {
        struct spawner_job *head, *tail;
};

struct spawner {
        struct worker w;
        /* Under w.lock. */
        struct job_list queued, done;
};

static void list_push(struct job_list *l, struct spawner_job *j)
{
        j->next = NULL;
        if (l->tail)
                l->tail->next = j;
        else
                l->head = j;
        l->tail = j;
}

static struct spawner_job *list_pop(struct job_list *l)
{
        struct spawner_job *j = l->head;

        if (j) {
                l->head = j->next;
                if (!l->head)
                        l->tail = NULL;
        }
        return j;
}

static void list_remove(struct job_list *l, struct spawner_job *j)
{
        struct spawner_job *prev = NULL;

        for (struct spawner_job *i = l->head; i; prev = i, i = i->next) {
                if (i != j)
                        continue;
                if (prev)
                        prev->next = j->next;
                else
                        l->head = j->next;
                if (l->tail == j)
                        l->tail = prev;
                return;
        }
}

static void *spawner_thread(void *userdata)
{
        struct spawner *s = userdata;

        pthread_mutex_lock(&s->w.lock);
        for (;;) {
                struct spawner_job *j;
                while (!(j = list_pop(&s->queued)) && !s->w.stop)
                        pthread_cond_wait(&s->w.wake, &s->w.lock);
                if (!j)
                        break;
                j->state = JOB_RUNNING;
                pthread_mutex_unlock(&s->w.lock);

                j->work(j);

                pthread_mutex_lock(&s->w.lock);
                if (j->state == JOB_CANCELLED) {
                        pthread_mutex_unlock(&s->w.lock);
                        j->orphaned(j);
                        pthread_mutex_lock(&s->w.lock);
                        continue;
                }
                j->state = JOB_DONE;
                list_push(&s->done, j);
                worker_report(&s->w);
        }
        pthread_mutex_unlock(&s->w.lock);
        return NULL;
}

static void on_jobs_done(void *userdata)
{
        struct spawner *s = userdata;

        /* One at a time: a done() may cancel a job still on the list. */
        for (;;) {
                pthread_mutex_lock(&s->w.lock);
                struct spawner_job *j = list_pop(&s->done);
                pthread_mutex_unlock(&s->w.lock);
                if (!j)
                        break;
                j->done(j);
        }
}

int spawner_new(struct event_base *base, struct spawner **ret)
{
        _cleanup_free_ struct spawner *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        /* A child inherits its creator thread's nice value: this one keeps
         * the agent's; its signal mask the spawn sets itself. */
        r = worker_start(&s->w, base, on_jobs_done, spawner_thread, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

void spawner_free(struct spawner *s)
{
        if (!s)
                return;
        worker_stop(&s->w);
        free(s);
}

void spawner_submit(struct spawner *s, struct spawner_job *j)
{
        pthread_mutex_lock(&s->w.lock);
        j->state = JOB_QUEUED;
        list_push(&s->queued, j);
        pthread_cond_signal(&s->w.wake);
        pthread_mutex_unlock(&s->w.lock);
}

enum spawner_cancelled spawner_cancel(struct spawner *s, struct spawner_job *j)
{
        enum spawner_cancelled c;

        pthread_mutex_lock(&s->w.lock);
        switch (j->state) {
        case JOB_QUEUED:
                list_remove(&s->queued, j);
                c = SPAWNER_NOT_RUN;
                break;
        case JOB_DONE:
                list_remove(&s->done, j); /* its wake-up finds one job fewer */
                c = SPAWNER_RAN;
                break;
        default:
                j->state = JOB_CANCELLED;
                c = SPAWNER_ORPHANED;
                break;
        }
        pthread_mutex_unlock(&s->w.lock);
        return c;
}
