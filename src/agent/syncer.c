/* syncer.c - see syncer.h.
 *
 * Two threads share only the queue of what was handed over, the list of
 * finished batches and the counters, all under one mutex; everything else
 * (the barriers, the libevent objects) belongs to the loop. Each path or job
 * gets a sequence number when it is handed over; a batch takes everything
 * queued so far, runs its jobs in order (collecting the paths they write),
 * flushes every path (files before directories, each once) and reports the
 * number of the last, with its jobs' results; a barrier waits for the
 * number that was current when it was asked for. The worker wakes the loop
 * through an eventfd (worker.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agent/syncer.h"
#include "agent/worker.h"
#include "basic/log.h"
#include "basic/macro.h"

#define WORKER_NICE 10

/* A path to flush, or a job (work set). */
struct entry {
        char *path;
        bool is_dir;
        int (*work)(void *userdata, struct sync_later *later);
        void (*done)(int r, void *userdata);
        void *userdata;
        int r; /* the job's result */
};

struct batch_done {
        uint64_t seq; /* everything up to this number ran and is flushed */
        int r;        /* the flush's first error */
        struct entry *jobs;
        size_t n_jobs;
};

/* The paths a batch flushes: those handed over, and those its jobs write. */
struct paths {
        struct sync_later later; /* first */
        struct entry *v;
        size_t n, alloc;
};

struct barrier {
        struct barrier *prev, *next;
        uint64_t seq;
        int r; /* the first error of a batch it covers */
        syncer_fn fn;
        void *userdata;
};

struct syncer {
        struct sync_later later; /* first: a struct sync_later * is a struct syncer * */
        struct event_base *base;

        struct worker w;
        /* Under w.lock. */
        struct entry *queue;
        size_t n_queue, alloc_queue;
        uint64_t handed;
        struct batch_done *done;
        size_t n_done, alloc_done;
        uint64_t batches, paths;

        /* The loop's. */
        uint64_t flushed;
        struct barrier *head, *tail;
};

static int grow(void **v, size_t *alloc, size_t n, size_t size)
{
        if (n < *alloc)
                return 0;
        size_t next = *alloc ? *alloc * 2 : 16;
        void *p = reallocarray(*v, next, size);
        if (!p)
                return -ENOMEM;
        *v = p;
        *alloc = next;
        return 0;
}

static int enqueue(struct syncer *s, const struct entry *e)
{
        int r;

        pthread_mutex_lock(&s->w.lock);
        r = grow((void **)&s->queue, &s->alloc_queue, s->n_queue, sizeof(*s->queue));
        if (r >= 0) {
                s->queue[s->n_queue++] = *e;
                s->handed++;
                pthread_cond_signal(&s->w.wake);
        }
        pthread_mutex_unlock(&s->w.lock);
        return r;
}

static int syncer_add(struct sync_later *l, const char *path, bool is_dir)
{
        struct syncer *s = (struct syncer *)l;
        struct entry e = {.path = strdup(path), .is_dir = is_dir};
        int r;

        if (!e.path)
                return -ENOMEM;
        r = enqueue(s, &e);
        if (r < 0)
                free(e.path);
        return r;
}

int syncer_run(struct syncer *s, int (*work)(void *userdata, struct sync_later *later),
               void (*done)(int r, void *userdata), void *userdata)
{
        struct entry e = {.work = work, .done = done, .userdata = userdata};

        return enqueue(s, &e);
}

/* On the worker: a job's writes join the batch's flush. */
static int paths_add(struct sync_later *l, const char *path, bool is_dir)
{
        struct paths *p = (struct paths *)l;
        char *copy = strdup(path);

        if (!copy || grow((void **)&p->v, &p->alloc, p->n, sizeof(*p->v)) < 0) {
                free(copy);
                return -ENOMEM;
        }
        p->v[p->n++] = (struct entry){.path = copy, .is_dir = is_dir};
        return 0;
}

/* Files first, then directories; equal paths side by side. */
static int cmp_flush(const void *a, const void *b)
{
        const struct entry *x = a, *y = b;

        if (x->is_dir != y->is_dir)
                return x->is_dir ? 1 : -1;
        return strcmp(x->path, y->path);
}

static int flush_paths(struct entry *v, size_t n)
{
        int first = 0;

        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), cmp_flush);
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && v[i].is_dir == v[i - 1].is_dir &&
                    strcmp(v[i].path, v[i - 1].path) == 0)
                        continue;
                int r = sync_path(v[i].path, v[i].is_dir, NULL);
                /* Removed since (a failed launch undone, a container removed):
                 * nothing of it is left to lose. */
                if (r < 0 && r != -ENOENT && first == 0)
                        first = r;
        }
        return first;
}

static void *syncer_thread(void *userdata)
{
        struct syncer *s = userdata;

        /* Background work: when the CPUs are busy, the loop (every API
         * answer, every kill) goes first. Nice values are per thread. */
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
        pthread_mutex_lock(&s->w.lock);
        for (;;) {
                while (s->n_queue == 0 && !s->w.stop)
                        pthread_cond_wait(&s->w.wake, &s->w.lock);
                if (s->n_queue == 0)
                        break; /* stopping, and nothing left */
                struct entry *v = s->queue;
                size_t n = s->n_queue;
                uint64_t seq = s->handed;
                s->queue = NULL;
                s->n_queue = s->alloc_queue = 0;
                pthread_mutex_unlock(&s->w.lock);

                /* Jobs in order, their entries kept (compacted) for the
                 * loop; paths moved to the flush. */
                struct paths p = {.later = {paths_add}};
                size_t n_jobs = 0;
                int r = 0;
                for (size_t i = 0; i < n; i++) {
                        if (v[i].work) {
                                v[i].r = v[i].work(v[i].userdata, &p.later);
                                v[n_jobs++] = v[i];
                        } else if (grow((void **)&p.v, &p.alloc, p.n, sizeof(*p.v)) >= 0)
                                p.v[p.n++] = v[i];
                        else {
                                free(v[i].path);
                                r = -ENOMEM;
                        }
                }
                int f = flush_paths(p.v, p.n);
                if (r == 0)
                        r = f;
                for (size_t i = 0; i < p.n; i++)
                        free(p.v[i].path);
                free(p.v);

                pthread_mutex_lock(&s->w.lock);
                s->batches++;
                s->paths += p.n;
                /* The report must not be lost (its jobs' callbacks are in
                 * it): out of memory, the worker (never the loop) waits a
                 * moment and tries again. */
                while (grow((void **)&s->done, &s->alloc_done, s->n_done, sizeof(*s->done)) < 0) {
                        pthread_mutex_unlock(&s->w.lock);
                        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                        (void)nanosleep(&ts, NULL);
                        pthread_mutex_lock(&s->w.lock);
                }
                s->done[s->n_done++] = (struct batch_done){seq, r, v, n_jobs};
                pthread_mutex_unlock(&s->w.lock);
                worker_report(&s->w);
                pthread_mutex_lock(&s->w.lock);
        }
        pthread_mutex_unlock(&s->w.lock);
        return NULL;
}

static void barrier_unlink(struct syncer *s, struct barrier *b)
{
        if (b->prev)
                b->prev->next = b->next;
        else
                s->head = b->next;
        if (b->next)
                b->next->prev = b->prev;
        else
                s->tail = b->prev;
}

static void on_batches_done(void *userdata)
{
        struct syncer *s = userdata;
        struct batch_done *done;
        size_t n;

        pthread_mutex_lock(&s->w.lock);
        done = s->done;
        n = s->n_done;
        s->done = NULL;
        s->n_done = s->alloc_done = 0;
        pthread_mutex_unlock(&s->w.lock);

        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < done[i].n_jobs; j++) {
                        struct entry *job = &done[i].jobs[j];
                        job->done(job->r < 0 ? job->r : done[i].r, job->userdata);
                }
                free(done[i].jobs);
                if (done[i].r < 0) {
                        log_error_errno(done[i].r, "Failed to flush a checkpoint to disk: %m");
                        /* Every pending barrier covers part of this batch. */
                        for (struct barrier *b = s->head; b; b = b->next)
                                if (b->r == 0)
                                        b->r = done[i].r;
                }
                if (done[i].seq > s->flushed)
                        s->flushed = done[i].seq;
        }
        free(done);
        /* In order; a callback may ask for more barriers (they go last). */
        while (s->head && s->head->seq <= s->flushed) {
                struct barrier *b = s->head;
                barrier_unlink(s, b);
                syncer_fn fn = b->fn;
                void *ud = b->userdata;
                int r = b->r;
                free(b);
                fn(r, ud);
        }
}

int syncer_new(struct event_base *base, struct syncer **ret)
{
        _cleanup_free_ struct syncer *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->later.add = syncer_add;
        s->base = base;
        r = worker_start(&s->w, base, on_batches_done, syncer_thread, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

void syncer_free(struct syncer *s)
{
        if (!s)
                return;
        worker_stop(&s->w); /* after what is queued, flushed */
        while (s->head) {
                struct barrier *b = s->head;
                barrier_unlink(s, b);
                free(b);
        }
        for (size_t i = 0; i < s->n_done; i++)
                free(s->done[i].jobs);
        free(s->done);
        free(s->queue); /* empty: the worker drains it before it stops */
        free(s);
}

struct sync_later *syncer_later(struct syncer *s)
{
        return &s->later;
}

int syncer_barrier(struct syncer *s, syncer_fn fn, void *userdata, void **ret_handle)
{
        struct barrier *b;

        if (ret_handle)
                *ret_handle = NULL;
        /* handed only changes on this thread: no lock to read it. */
        if (s->handed == s->flushed)
                return 1;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        *b = (struct barrier){.seq = s->handed, .fn = fn, .userdata = userdata, .prev = s->tail};
        if (s->tail)
                s->tail->next = b;
        else
                s->head = b;
        s->tail = b;
        if (ret_handle)
                *ret_handle = b;
        return 0;
}

void syncer_cancel(struct syncer *s, void *handle)
{
        if (!s || !handle)
                return;
        barrier_unlink(s, handle);
        free(handle);
}

void syncer_stats(const struct syncer *s, uint64_t *ret_batches, uint64_t *ret_paths)
{
        struct syncer *m = (struct syncer *)s; /* the lock is not part of its value */

        pthread_mutex_lock(&m->w.lock);
        *ret_batches = s->batches;
        *ret_paths = s->paths;
        pthread_mutex_unlock(&m->w.lock);
}
