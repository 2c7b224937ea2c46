/* test-cgroup-path.c - reading a process' cgroup from /proc/<pid>/cgroup
 * text (cg_parse_proc_cgroup) and the "below the cgroups root" test
 * (cg_is_below) that decide whether an API caller sits in a container. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "linux/cgroup.h"

static void expect_path(const char *text, enum cg_mode mode, const char *want)
{
        char *rel = NULL;

        assert_int_equal(cg_parse_proc_cgroup(text, mode, &rel), 0);
        assert_string_equal(rel, want);
        free(rel);
}

static void test_parse(void **state)
{
        static const char hybrid[] = "9:name=systemd:/\n"
                                     "6:freezer:/portiso/web\n"
                                     "4:memory:/user.slice\n"
                                     "0::/portiso/web/own\n";
        static const char v1_joined[] = "3:cpu,freezer,cpuacct:/a/b\n";
        char *rel = NULL;
        (void)state;

        expect_path("0::/portiso/web\n", CG_V2, "portiso/web");
        expect_path("0::/\n", CG_V2, "");
        expect_path(hybrid, CG_V2, "portiso/web/own");
        expect_path(hybrid, CG_V1_FREEZER, "portiso/web");
        expect_path(v1_joined, CG_V1_FREEZER, "a/b");
        expect_path("0::/no-newline", CG_V2, "no-newline");

        assert_int_equal(cg_parse_proc_cgroup("4:memory:/x\n", CG_V2, &rel), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("4:memory:/x\n", CG_V1_FREEZER, &rel), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("3:freezers:/x\n", CG_V1_FREEZER, &rel), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("10::/x\n", CG_V2, &rel), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("garbage\n", CG_V2, &rel), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("", CG_V2, &rel), -ENOENT);
        assert_null(rel);
}

static void test_is_below(void **state)
{
        (void)state;
        assert_true(cg_is_below("portiso", "portiso"));
        assert_true(cg_is_below("portiso/web", "portiso"));
        assert_true(cg_is_below("/portiso/web/own", "portiso"));
        assert_true(cg_is_below("portiso/.supervisors", "portiso"));
        assert_true(cg_is_below("a/b/c", "a/b"));
        assert_false(cg_is_below("portiso-other/web", "portiso"));
        assert_false(cg_is_below("portisoweb", "portiso"));
        assert_false(cg_is_below("", "portiso"));
        assert_false(cg_is_below("user.slice/portiso", "portiso"));
        assert_false(cg_is_below("a", "a/b"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse),
            cmocka_unit_test(test_is_below),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
