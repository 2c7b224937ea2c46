/* test-syncer.c - the agent's flushes off the loop (syncer.c), with its real
 * worker thread and a real libevent loop on files in a temporary directory:
 * a barrier with nothing pending is 1 at once; barriers fire from the loop,
 * in order, only after the writes before them; a cancelled one never fires;
 * a flush that fails reaches the barriers it covers and only those; a path
 * removed before its flush is no error; freeing flushes what is pending;
 * jobs run on the worker, in order with the writes, and report back from
 * the loop with their result before the barriers behind them. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/checkpoint.h"
#include "agent/syncer.h"
#include "basic/fileio.h"

struct fixture {
        char dir[64];
        struct event_base *base;
        struct syncer *s;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/portiso-test-syncer-XXXXXX");
        if (!mkdtemp(f->dir) || !(f->base = event_base_new()) || syncer_new(f->base, &f->s) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        syncer_free(f->s);
        event_base_free(f->base);
        rm_rf(f->dir);
        free(f);
        return 0;
}

/* What a barrier saw: the order it fired in and its result. */
struct seen {
        int order[8];
        int r[8];
        size_t n;
};

struct mark {
        struct seen *seen;
        int id;
};

static void on_barrier(int r, void *userdata)
{
        struct mark *m = userdata;

        m->seen->order[m->seen->n] = m->id;
        m->seen->r[m->seen->n++] = r;
}

/* Run the loop until n barriers fired (bounded: a hang fails the test). */
static void run_until(struct fixture *f, struct seen *seen, size_t n)
{
        for (int i = 0; i < 5000 && seen->n < n; i++) {
                struct timeval tv = {0, 1000};
                event_base_loopexit(f->base, &tv);
                event_base_dispatch(f->base);
        }
        assert_int_equal(seen->n, n);
}

static void write_in(struct fixture *f, const char *name, const char *text)
{
        char path[128];

        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600, syncer_later(f->s)), 0);
}

static void test_nothing_pending(void **state)
{
        struct fixture *f = *state;
        struct seen seen = {};
        struct mark m = {&seen, 1};
        void *h = &h;

        assert_int_equal(syncer_barrier(f->s, on_barrier, &m, &h), 1);
        assert_int_equal(seen.n, 0); /* the caller goes on itself */
        assert_null(h);
}

static void test_barriers_in_order(void **state)
{
        struct fixture *f = *state;
        struct seen seen = {};
        struct mark a = {&seen, 1}, b = {&seen, 2}, c = {&seen, 3};
        void *ha, *hb, *hc;
        uint64_t batches, paths;

        write_in(f, "one", "1");
        assert_int_equal(syncer_barrier(f->s, on_barrier, &a, &ha), 0);
        assert_non_null(ha);
        write_in(f, "two", "2");
        assert_int_equal(syncer_barrier(f->s, on_barrier, &b, &hb), 0);
        assert_int_equal(syncer_barrier(f->s, on_barrier, &c, &hc), 0);
        /* Never from inside the call: only the loop runs callbacks. */
        assert_int_equal(seen.n, 0);
        run_until(f, &seen, 3);
        assert_int_equal(seen.order[0], 1);
        assert_int_equal(seen.order[1], 2);
        assert_int_equal(seen.order[2], 3);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(seen.r[i], 0);
        syncer_stats(f->s, &batches, &paths);
        assert_true(batches >= 1);
        assert_int_equal(paths, 4); /* two files, their directory twice */
        /* All flushed: nothing is pending any more. */
        assert_int_equal(syncer_barrier(f->s, on_barrier, &a, &ha), 1);
}

static void test_cancel(void **state)
{
        struct fixture *f = *state;
        struct seen seen = {};
        struct mark a = {&seen, 1}, b = {&seen, 2};
        void *ha, *hb;

        write_in(f, "c", "c");
        assert_int_equal(syncer_barrier(f->s, on_barrier, &a, &ha), 0);
        assert_int_equal(syncer_barrier(f->s, on_barrier, &b, &hb), 0);
        syncer_cancel(f->s, ha);
        run_until(f, &seen, 1);
        assert_int_equal(seen.order[0], 2);
        syncer_cancel(f->s, NULL); /* fine */
}

static void test_failure_reaches_its_barriers(void **state)
{
        struct fixture *f = *state;
        struct sync_later *later = syncer_later(f->s);
        struct seen seen = {};
        struct mark a = {&seen, 1}, b = {&seen, 2};
        char path[128];
        void *h;

        /* Below a plain file: the flush's open fails with ENOTDIR. */
        write_in(f, "plain", "p");
        snprintf(path, sizeof(path), "%s/plain/x", f->dir);
        assert_int_equal(later->add(later, path, false), 0);
        assert_int_equal(syncer_barrier(f->s, on_barrier, &a, &h), 0);
        run_until(f, &seen, 1);
        assert_int_equal(seen.r[0], -ENOTDIR);

        /* The next write's barrier does not inherit it. */
        write_in(f, "after", "a");
        assert_int_equal(syncer_barrier(f->s, on_barrier, &b, &h), 0);
        run_until(f, &seen, 2);
        assert_int_equal(seen.r[1], 0);
}

static void test_removed_before_flush(void **state)
{
        struct fixture *f = *state;
        struct seen seen = {};
        struct mark a = {&seen, 1};
        char meta[128];
        void *h;

        /* A launch undone at once: its files are gone before the flush. */
        snprintf(meta, sizeof(meta), "%s/gone", f->dir);
        struct container_config cfg = {.id = (char *)"gone", .value = (char *)"true"};
        assert_int_equal(checkpoint_write_config(meta, &cfg, syncer_later(f->s)), 0);
        assert_int_equal(checkpoint_reserve(meta, syncer_later(f->s)), 0);
        assert_int_equal(rm_rf(meta), 0);
        assert_int_equal(syncer_barrier(f->s, on_barrier, &a, &h), 0);
        run_until(f, &seen, 1);
        assert_int_equal(seen.r[0], 0);
}

static void test_free_flushes(void **state)
{
        struct fixture *f = *state;
        struct seen seen = {};
        struct mark a = {&seen, 1};
        void *h;

        /* Pending writes and a barrier, then the agent stops: the worker
         * finishes the flush, the barrier is dropped unheard. */
        for (int i = 0; i < 50; i++) {
                char name[16];
                snprintf(name, sizeof(name), "f%d", i);
                write_in(f, name, "x");
        }
        assert_int_equal(syncer_barrier(f->s, on_barrier, &a, &h), 0);
        syncer_free(f->s);
        assert_int_equal(seen.n, 0);
        assert_int_equal(syncer_new(f->base, &f->s), 0);
}

struct job {
        struct fixture *f;
        struct seen *seen;
        int id;
        int result;
        pthread_t ran_on;
};

static int job_work(void *userdata, struct sync_later *later)
{
        struct job *j = userdata;
        char path[128];

        j->ran_on = pthread_self();
        snprintf(path, sizeof(path), "%s/job%d", j->f->dir, j->id);
        int r = write_file_atomic(path, "j", 1, 0600, later);
        return r < 0 ? r : j->result;
}

static void job_done(int r, void *userdata)
{
        struct job *j = userdata;

        j->seen->order[j->seen->n] = j->id;
        j->seen->r[j->seen->n++] = r;
}

static void test_jobs(void **state)
{
        struct fixture *f = *state;
        struct seen seen = {};
        struct job a = {f, &seen, 1, 0, 0}, b = {f, &seen, 2, -EEXIST, 0};
        struct mark m = {&seen, 3};
        char path[128];
        void *h;

        assert_int_equal(syncer_run(f->s, job_work, job_done, &a), 0);
        assert_int_equal(syncer_run(f->s, job_work, job_done, &b), 0);
        assert_int_equal(syncer_barrier(f->s, on_barrier, &m, &h), 0);
        run_until(f, &seen, 3);
        assert_int_equal(seen.order[0], 1);
        assert_int_equal(seen.r[0], 0);
        assert_int_equal(seen.order[1], 2);
        assert_int_equal(seen.r[1], -EEXIST); /* its own result */
        assert_int_equal(seen.order[2], 3);    /* the barrier after both */
        assert_false(pthread_equal(a.ran_on, pthread_self()));
        snprintf(path, sizeof(path), "%s/job1", f->dir);
        assert_int_equal(access(path, F_OK), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_nothing_pending, setup, teardown),
            cmocka_unit_test_setup_teardown(test_barriers_in_order, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
            cmocka_unit_test_setup_teardown(test_failure_reaches_its_barriers, setup, teardown),
            cmocka_unit_test_setup_teardown(test_removed_before_flush, setup, teardown),
            cmocka_unit_test_setup_teardown(test_free_flushes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
