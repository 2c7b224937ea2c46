/* tombs.c - see tombs.h.
 *
 * The loop and the thread share the queue, its count and the stop flag,
 * under one mutex; the thread takes one path at a time and deletes it
 * unlocked. Nothing is reported back: a tomb is garbage whichever way its
 * deletion goes, and what is left of it the next start sweeps. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/tombs.h"
#include "basic/array.h"
#include "basic/fileio.h"
#include "basic/macro.h"

#define TOMBS_NICE 19

struct tombs {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        char **queue; /* FIFO: taken from head */
        size_t head, n, alloc;
        size_t busy; /* 1 while a tomb is being deleted */
        bool stop;
};

static void *digger(void *userdata)
{
        struct tombs *t = userdata;

        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), TOMBS_NICE);
        pthread_mutex_lock(&t->lock);
        for (;;) {
                while (t->head == t->n && !t->stop)
                        pthread_cond_wait(&t->wake, &t->lock);
                if (t->stop)
                        break;
                char *path = t->queue[t->head++];
                if (t->head == t->n)
                        t->head = t->n = 0; /* drained: start over at the front */
                t->busy = 1;
                pthread_mutex_unlock(&t->lock);
                (void)rm_rf(path);
                free(path);
                pthread_mutex_lock(&t->lock);
                t->busy = 0;
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

int tombs_new(struct tombs **ret)
{
        struct tombs *t = calloc(1, sizeof(*t));
        sigset_t all, saved;
        int r;

        if (!t)
                return -ENOMEM;
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->wake, NULL);
        /* Signals stay with the loop's thread. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = -pthread_create(&t->thread, NULL, digger, t);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0) {
                pthread_cond_destroy(&t->wake);
                pthread_mutex_destroy(&t->lock);
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

int tombs_bury(struct tombs *t, char *path)
{
        int r;

        pthread_mutex_lock(&t->lock);
        r = GREEDY_REALLOC(t->queue, t->alloc, t->n + 1);
        if (r >= 0) {
                t->queue[t->n++] = path;
                path = NULL;
                pthread_cond_signal(&t->wake);
        }
        pthread_mutex_unlock(&t->lock);
        free(path);
        return r;
}

size_t tombs_pending(struct tombs *t)
{
        size_t n;

        pthread_mutex_lock(&t->lock);
        n = t->n - t->head + t->busy;
        pthread_mutex_unlock(&t->lock);
        return n;
}

void tombs_free(struct tombs *t)
{
        if (!t)
                return;
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        /* Waits for the tomb being deleted, if any: one tree at most. */
        pthread_join(t->thread, NULL);
        for (size_t i = t->head; i < t->n; i++)
                free(t->queue[i]);
        free(t->queue);
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        free(t);
}
