/* spawner.c - see spawner.h.
 *
 * One mutex guards the two intrusive FIFO lists (queued, done) and every
 * job's state; the thread takes the queue's head, runs it unlocked, then
 * moves it to the done list and wakes the loop through an eventfd, or, if
 * the loop cancelled it meanwhile, ends it with orphaned(). A cancel
 * therefore finds the job queued, running or done, and the loop takes done
 * jobs off their list one by one, so a done() that cancels another job
 * never has that job's done() called after it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/spawner.h"
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
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        /* Under lock. */
        struct job_list queued, done;
        bool stop;

        /* The loop's. */
        int efd;
        struct event *ev;
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
        const uint64_t one = 1;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                struct spawner_job *j;
                while (!(j = list_pop(&s->queued)) && !s->stop)
                        pthread_cond_wait(&s->wake, &s->lock);
                if (!j)
                        break;
                j->state = JOB_RUNNING;
                pthread_mutex_unlock(&s->lock);

                j->work(j);

                pthread_mutex_lock(&s->lock);
                if (j->state == JOB_CANCELLED) {
                        pthread_mutex_unlock(&s->lock);
                        j->orphaned(j);
                        pthread_mutex_lock(&s->lock);
                        continue;
                }
                j->state = JOB_DONE;
                list_push(&s->done, j);
                /* Cannot fail short of a counter at 2^64 - 2. */
                (void)!write(s->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void on_jobs_done(evutil_socket_t fd, short what, void *userdata)
{
        struct spawner *s = userdata;
        uint64_t count;

        (void)what;
        (void)!read(fd, &count, sizeof(count));
        /* One at a time: a done() may cancel a job still on the list. */
        for (;;) {
                pthread_mutex_lock(&s->lock);
                struct spawner_job *j = list_pop(&s->done);
                pthread_mutex_unlock(&s->lock);
                if (!j)
                        break;
                j->done(j);
        }
}

int spawner_new(struct event_base *base, struct spawner **ret)
{
        _cleanup_free_ struct spawner *s = calloc(1, sizeof(*s));
        sigset_t all, saved;
        int r;

        if (!s)
                return -ENOMEM;
        s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->efd < 0)
                return negative_errno();
        s->ev = event_new(base, s->efd, EV_READ | EV_PERSIST, on_jobs_done, s);
        if (!s->ev || event_add(s->ev, NULL) < 0) {
                if (s->ev)
                        event_free(s->ev);
                close(s->efd);
                return -ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->wake, NULL);
        /* Signals are the loop's; children get theirs from the spawn. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = -pthread_create(&s->thread, NULL, spawner_thread, s);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0) {
                event_free(s->ev);
                close(s->efd);
                pthread_cond_destroy(&s->wake);
                pthread_mutex_destroy(&s->lock);
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

void spawner_free(struct spawner *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        event_free(s->ev);
        close(s->efd);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

void spawner_submit(struct spawner *s, struct spawner_job *j)
{
        pthread_mutex_lock(&s->lock);
        j->state = JOB_QUEUED;
        list_push(&s->queued, j);
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
}

enum spawner_cancelled spawner_cancel(struct spawner *s, struct spawner_job *j)
{
        enum spawner_cancelled c;

        pthread_mutex_lock(&s->lock);
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
        pthread_mutex_unlock(&s->lock);
        return c;
}
