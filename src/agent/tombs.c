/* tombs.c - see tombs.h.
 *
 * The loop and the thread share the queue, its count and the stop flag,
 * under one mutex (worker.h); the thread takes one path at a time and deletes it
 * unlocked. Nothing is reported back: a tomb is garbage whichever way its
 * deletion goes, and what is left of it the next start sweeps. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/tombs.h"
#include "agent/worker.h"
#include "basic/array.h"
#include "basic/fileio.h"
#include "basic/macro.h"

#define TOMBS_NICE 19

struct tombs {
        struct worker w;
        /* Under w.lock. */
        char **queue; /* FIFO: taken from head */
        size_t head, n, alloc;
        size_t busy; /* 1 while a tomb is being deleted */
};

static void *digger(void *userdata)
{
        struct tombs *t = userdata;

        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), TOMBS_NICE);
        pthread_mutex_lock(&t->w.lock);
        for (;;) {
                while (t->head == t->n && !t->w.stop)
                        pthread_cond_wait(&t->w.wake, &t->w.lock);
                if (t->w.stop)
                        break;
                char *path = t->queue[t->head++];
                if (t->head == t->n)
                        t->head = t->n = 0; /* drained: start over at the front */
                t->busy = 1;
                pthread_mutex_unlock(&t->w.lock);
                (void)rm_rf(path);
                free(path);
                pthread_mutex_lock(&t->w.lock);
                t->busy = 0;
        }
        pthread_mutex_unlock(&t->w.lock);
        return NULL;
}

int tombs_new(struct tombs **ret)
{
        struct tombs *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        r = worker_start(&t->w, NULL, NULL, digger, t); /* it reports nothing */
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

int tombs_bury(struct tombs *t, char *path)
{
        int r;

        pthread_mutex_lock(&t->w.lock);
        r = GREEDY_REALLOC(t->queue, t->alloc, t->n + 1);
        if (r >= 0) {
                t->queue[t->n++] = path;
                path = NULL;
                pthread_cond_signal(&t->w.wake);
        }
        pthread_mutex_unlock(&t->w.lock);
        free(path);
        return r;
}

size_t tombs_pending(struct tombs *t)
{
        size_t n;

        pthread_mutex_lock(&t->w.lock);
        n = t->n - t->head + t->busy;
        pthread_mutex_unlock(&t->w.lock);
        return n;
}

void tombs_free(struct tombs *t)
{
        if (!t)
                return;
        /* Waits for the tomb being deleted, if any: one tree at most. */
        worker_stop(&t->w);
        for (size_t i = t->head; i < t->n; i++)
                free(t->queue[i]);
        free(t->queue);
        free(t);
}
