/* test-tombs.c - removed containers' files deleted off the loop (tombs.c)
 * and named so that no two collide (entomb_durably()), with the real thread
 * on real trees in a temporary directory: a tomb is deleted whole; tombs
 * queued together are all deleted; a directory entombed twice under one
 * name gets two tombs; a missing directory gives none; freeing with tombs
 * still queued leaves them for the sweep, which deletes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/checkpoint.h"
#include "agent/tombs.h"
#include "basic/fileio.h"

struct fixture {
        char dir[64];
        struct tombs *t;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/portiso-test-tombs-XXXXXX");
        if (!mkdtemp(f->dir) || tombs_new(&f->t) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        tombs_free(f->t);
        (void)rm_rf(f->dir);
        free(f);
        return 0;
}

static bool exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

/* A tree of files files below dir, two levels deep. */
static void make_tree(const char *dir, int files)
{
        char path[256];

        assert_int_equal(mkdir_p(dir, 0755), 0);
        snprintf(path, sizeof(path), "%s/sub", dir);
        assert_int_equal(mkdir_p(path, 0755), 0);
        for (int i = 0; i < files; i++) {
                snprintf(path, sizeof(path), "%s/%s/f%d", dir, i % 2 ? "sub" : ".", i);
                assert_int_equal(write_file_atomic(path, "x", 1, 0600, NULL), 0);
        }
}

/* Poll (this is a test thread, not a loop) until nothing is pending. */
static void wait_drained(struct tombs *t)
{
        for (int i = 0; i < 5000 && tombs_pending(t) > 0; i++)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
        assert_int_equal(tombs_pending(t), 0);
}

static void test_tomb_deleted_whole(void **state)
{
        struct fixture *f = *state;
        char dir[128];
        char *tomb = NULL;

        snprintf(dir, sizeof(dir), "%s/sandbox", f->dir);
        make_tree(dir, 200);
        assert_int_equal(entomb_durably(dir, NULL, &tomb), 0);
        assert_non_null(tomb);
        assert_false(exists(dir));
        assert_true(exists(tomb));
        assert_non_null(strstr(tomb, ".removed"));
        char *copy = strdup(tomb);
        assert_int_equal(tombs_bury(f->t, tomb), 0);
        wait_drained(f->t);
        assert_false(exists(copy));
        free(copy);
}

static void test_many_queued_all_deleted(void **state)
{
        struct fixture *f = *state;
        char *tombs[8];

        for (int i = 0; i < 8; i++) {
                char dir[128];
                snprintf(dir, sizeof(dir), "%s/c%d", f->dir, i);
                make_tree(dir, 20);
                assert_int_equal(entomb_durably(dir, NULL, &tombs[i]), 0);
                assert_non_null(tombs[i]);
        }
        char *copies[8];
        for (int i = 0; i < 8; i++) {
                copies[i] = strdup(tombs[i]);
                assert_int_equal(tombs_bury(f->t, tombs[i]), 0);
        }
        wait_drained(f->t);
        for (int i = 0; i < 8; i++) {
                assert_false(exists(copies[i]));
                free(copies[i]);
        }
}

static void test_same_dir_twice_two_tombs(void **state)
{
        struct fixture *f = *state;
        char dir[128];
        char *a = NULL, *b = NULL;

        /* Removed, launched again and removed again before the first tomb
         * was deleted: the second rename must not meet the first tomb. */
        snprintf(dir, sizeof(dir), "%s/again", f->dir);
        make_tree(dir, 3);
        assert_int_equal(entomb_durably(dir, NULL, &a), 0);
        make_tree(dir, 3);
        assert_int_equal(entomb_durably(dir, NULL, &b), 0);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_not_equal(a, b);
        assert_true(exists(a));
        assert_true(exists(b));
        assert_false(exists(dir));
        free(a);
        free(b);
}

static void test_missing_dir_no_tomb(void **state)
{
        struct fixture *f = *state;
        char dir[128];
        char *tomb = (char *)"unset";

        snprintf(dir, sizeof(dir), "%s/never", f->dir);
        assert_int_equal(entomb_durably(dir, NULL, &tomb), 0);
        assert_null(tomb);
}

static void test_free_leaves_queue_to_the_sweep(void **state)
{
        struct fixture *f = *state;
        char work[128], dir[160];
        char *tomb = NULL;

        /* A work dir as the agent has it: tombs beside the checkpoints. */
        snprintf(work, sizeof(work), "%s/work", f->dir);
        snprintf(dir, sizeof(dir), "%s/meta/containers/gone", work);
        make_tree(dir, 5);
        assert_int_equal(checkpoint_entomb(work, "gone", NULL, &tomb), 0);
        assert_non_null(tomb);
        char *copy = strdup(tomb);
        free(tomb);
        /* Never handed over (as after a failed queueing, or a stop). */
        tombs_free(f->t);
        f->t = NULL;
        assert_true(exists(copy));
        assert_int_equal(checkpoint_sweep(work), 1);
        assert_false(exists(copy));
        free(copy);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
            T(test_tomb_deleted_whole),
            T(test_many_queued_all_deleted),
            T(test_same_dir_twice_two_tombs),
            T(test_missing_dir_no_tomb),
            T(test_free_leaves_queue_to_the_sweep),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
