/* test-spawner.c - the agent's spawns off the loop (spawner.c), with its real
 * thread and a real libevent loop: work runs on the spawner's thread with
 * every signal blocked and done() follows from the loop, in order; the loop
 * goes on while a job's work is stuck; a cancelled job never has its done()
 * called, whether it was still queued (its work never runs), running (the
 * thread ends it with orphaned()) or finished (its results are the
 * caller's), including when the done() of another job cancels it. Work that
 * must wait blocks on a pipe the test writes to, never on a sleep. */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/spawner.h"

struct fixture {
        struct event_base *base;
        struct spawner *s;
};

/* A job for the tests: it records where and whether it ran. */
struct tjob {
        struct spawner_job job; /* first */
        struct fixture *f;
        int gate; /* if >= 0, work waits for a byte on it */
        atomic_bool started, ran, orphaned;
        atomic_int work_tid;
        bool signals_blocked;
        int done_order; /* 0 = done() never called */
        int done_tid;
        struct tjob *cancel; /* done() cancels this job */
        enum spawner_cancelled cancelled;
};

static int n_done;

static void tjob_work(struct spawner_job *j)
{
        struct tjob *t = (struct tjob *)j;
        sigset_t mask;
        char c;

        atomic_store(&t->started, true);
        atomic_store(&t->work_tid, gettid());
        pthread_sigmask(SIG_BLOCK, NULL, &mask);
        t->signals_blocked = sigismember(&mask, SIGTERM) && sigismember(&mask, SIGCHLD);
        if (t->gate >= 0)
                (void)!read(t->gate, &c, 1);
        atomic_store(&t->ran, true);
}

static void tjob_done(struct spawner_job *j)
{
        struct tjob *t = (struct tjob *)j;

        t->done_order = ++n_done;
        t->done_tid = gettid();
        if (t->cancel)
                t->cancelled = spawner_cancel(t->f->s, &t->cancel->job);
}

static void tjob_orphaned(struct spawner_job *j)
{
        struct tjob *t = (struct tjob *)j;

        atomic_store(&t->orphaned, true); /* the test owns t: nothing to free */
}

static void tjob_init(struct tjob *t, struct fixture *f, int gate)
{
        memset(t, 0, sizeof(*t));
        t->job =
            (struct spawner_job){.work = tjob_work, .done = tjob_done, .orphaned = tjob_orphaned};
        t->f = f;
        t->gate = gate;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f || !(f->base = event_base_new()) || spawner_new(f->base, &f->s) < 0)
                return -1;
        n_done = 0;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        spawner_free(f->s);
        event_base_free(f->base);
        free(f);
        return 0;
}

/* Run the loop until *count reaches want (bounded: a hang fails the test). */
static void loop_until(struct fixture *f, const int *count, int want)
{
        for (int i = 0; i < 20000 && *count < want; i++) {
                event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
                usleep(100);
        }
        assert_int_equal(*count, want);
}

/* Wait, without the loop, until the thread set *flag. */
static void wait_flag(atomic_bool *flag)
{
        for (int i = 0; i < 20000 && !atomic_load(flag); i++)
                usleep(100);
        assert_true(atomic_load(flag));
}

static void test_work_off_loop_done_in_order(void **state)
{
        struct fixture *f = *state;
        struct tjob t[3];

        for (int i = 0; i < 3; i++) {
                tjob_init(&t[i], f, -1);
                spawner_submit(f->s, &t[i].job);
        }
        loop_until(f, &n_done, 3);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(t[i].done_order, i + 1);
                assert_true(t[i].signals_blocked);
                assert_int_not_equal(atomic_load(&t[i].work_tid), gettid());
                assert_int_equal(t[i].done_tid, gettid());
                assert_false(atomic_load(&t[i].orphaned));
        }
}

static int ticks;

static void on_tick(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        (void)userdata;
        ticks++;
}

static void test_loop_runs_while_work_is_stuck(void **state)
{
        struct fixture *f = *state;
        struct timeval ms = {0, 1000};
        struct tjob t;
        int gate[2];

        assert_int_equal(pipe(gate), 0);
        tjob_init(&t, f, gate[0]);
        struct event *tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
        assert_non_null(tick);
        assert_int_equal(event_add(tick, &ms), 0);
        ticks = 0;
        spawner_submit(f->s, &t.job);
        wait_flag(&t.started);
        /* Twenty timer turns of the loop while the work cannot finish. */
        loop_until(f, &ticks, 20);
        assert_false(atomic_load(&t.ran));
        assert_int_equal(n_done, 0);
        assert_int_equal(write(gate[1], "x", 1), 1);
        loop_until(f, &n_done, 1);
        assert_true(atomic_load(&t.ran));
        event_free(tick);
        close(gate[0]);
        close(gate[1]);
}

static void test_cancel_queued_never_runs(void **state)
{
        struct fixture *f = *state;
        struct tjob a, b;
        int gate[2];

        assert_int_equal(pipe(gate), 0);
        tjob_init(&a, f, gate[0]);
        tjob_init(&b, f, -1);
        spawner_submit(f->s, &a.job);
        spawner_submit(f->s, &b.job);
        wait_flag(&a.started); /* b waits behind a */
        assert_int_equal(spawner_cancel(f->s, &b.job), SPAWNER_NOT_RUN);
        assert_int_equal(write(gate[1], "x", 1), 1);
        loop_until(f, &n_done, 1);
        assert_int_equal(a.done_order, 1);
        assert_false(atomic_load(&b.started));
        assert_int_equal(b.done_order, 0);
        close(gate[0]);
        close(gate[1]);
}

static void test_cancel_running_is_orphaned(void **state)
{
        struct fixture *f = *state;
        struct tjob a, after;
        int gate[2];

        assert_int_equal(pipe(gate), 0);
        tjob_init(&a, f, gate[0]);
        tjob_init(&after, f, -1);
        spawner_submit(f->s, &a.job);
        wait_flag(&a.started);
        assert_int_equal(spawner_cancel(f->s, &a.job), SPAWNER_ORPHANED);
        spawner_submit(f->s, &after.job);
        assert_int_equal(write(gate[1], "x", 1), 1);
        wait_flag(&a.orphaned);
        loop_until(f, &n_done, 1); /* the thread went on with the next job */
        assert_int_equal(after.done_order, 1);
        assert_true(atomic_load(&a.ran));
        assert_int_equal(a.done_order, 0);
        close(gate[0]);
        close(gate[1]);
}

static void test_cancel_finished_is_the_callers(void **state)
{
        struct fixture *f = *state;
        struct tjob a, b;

        tjob_init(&a, f, -1);
        tjob_init(&b, f, -1);
        spawner_submit(f->s, &a.job);
        spawner_submit(f->s, &b.job);
        /* Jobs run in order: once b has run, a is done and waits for the
         * loop, which has not run yet. */
        wait_flag(&b.ran);
        assert_int_equal(spawner_cancel(f->s, &a.job), SPAWNER_RAN);
        loop_until(f, &n_done, 1);
        assert_int_equal(b.done_order, 1);
        assert_true(atomic_load(&a.ran));
        assert_false(atomic_load(&a.orphaned));
        assert_int_equal(a.done_order, 0);
}

static void test_done_cancels_a_finished_job(void **state)
{
        struct fixture *f = *state;
        struct tjob a, b, c;

        tjob_init(&a, f, -1);
        tjob_init(&b, f, -1);
        tjob_init(&c, f, -1);
        a.cancel = &b;
        spawner_submit(f->s, &a.job);
        spawner_submit(f->s, &b.job);
        spawner_submit(f->s, &c.job);
        wait_flag(&c.ran); /* all three wait for the loop */
        loop_until(f, &n_done, 2);
        assert_int_equal(a.cancelled, SPAWNER_RAN);
        assert_int_equal(a.done_order, 1);
        assert_int_equal(b.done_order, 0);
        assert_int_equal(c.done_order, 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_work_off_loop_done_in_order, setup, teardown),
            cmocka_unit_test_setup_teardown(test_loop_runs_while_work_is_stuck, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel_queued_never_runs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel_running_is_orphaned, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel_finished_is_the_callers, setup, teardown),
            cmocka_unit_test_setup_teardown(test_done_cancels_a_finished_job, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
