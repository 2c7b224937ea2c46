/* test-checkpoint.c - checkpoint round trips (checkpoint.c) in a temporary
 * work directory: config with and without allocation, supervisor record,
 * exit status, termination, the nested layout and listing order, removal,
 * and a clear error naming the file for corrupt or partial checkpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/checkpoint.h"
#include "basic/fileio.h"

static int setup(void **state)
{
        char *dir = strdup("/tmp/portiso-test-checkpoint-XXXXXX");

        if (!dir || !mkdtemp(dir))
                return -1;
        *state = dir;
        return 0;
}

static int teardown(void **state)
{
        rm_rf(*state);
        free(*state);
        return 0;
}

static char **strv(const char *a, const char *b)
{
        char **v = calloc(3, sizeof(char *));
        v[0] = a ? strdup(a) : NULL;
        v[1] = b ? strdup(b) : NULL;
        return v;
}

static void test_paths(void **state)
{
        const char *work = *state;
        char *p = NULL, want[512];

        assert_int_equal(checkpoint_dir(work, "a", &p), 0);
        snprintf(want, sizeof(want), "%s/meta/containers/a", work);
        assert_string_equal(p, want);
        free(p);
        assert_int_equal(checkpoint_dir(work, "a/b/c", &p), 0);
        snprintf(want, sizeof(want), "%s/meta/containers/a/containers/b/containers/c", work);
        assert_string_equal(p, want);
        free(p);
        assert_int_equal(sandbox_dir(work, "a/b", &p), 0);
        snprintf(want, sizeof(want), "%s/containers/a/containers/b", work);
        assert_string_equal(p, want);
        free(p);
        assert_int_equal(checkpoint_dir(work, "", &p), -EINVAL);
        assert_int_equal(checkpoint_dir(work, "a//b", &p), -EINVAL);
}

static void test_config_round_trip(void **state)
{
        const char *work = *state;
        struct container_config in = {}, out = {};
        struct errbuf e = {};
        char *dir = NULL;

        assert_int_equal(checkpoint_dir(work, "root", &dir), 0);
        in.id = strdup("root");
        in.shell = false;
        in.value = strdup("/usr/bin/python3");
        in.arguments = strv("python3", "-c");
        in.env = strv("A=1", "B=two words");
        in.has_ports = true;
        assert_int_equal(portset_add_range(&in.ports, 33000, 33005), 0);
        assert_int_equal(portset_add(&in.ports, 33010), 0);
        in.network = strdup("net1");
        in.user = strdup("nobody");
        assert_int_equal(checkpoint_write_config(dir, &in, NULL), 0);

        assert_int_equal(checkpoint_read_config(dir, &out, &e), 0);
        assert_string_equal(out.id, "root");
        assert_null(out.parent_id);
        assert_false(out.shell);
        assert_string_equal(out.value, "/usr/bin/python3");
        assert_string_equal(out.arguments[0], "python3");
        assert_string_equal(out.arguments[1], "-c");
        assert_null(out.arguments[2]);
        assert_string_equal(out.env[1], "B=two words");
        assert_true(out.has_ports);
        assert_true(portset_equal(&in.ports, &out.ports));
        assert_string_equal(out.network, "net1");
        assert_string_equal(out.user, "nobody");
        container_config_done(&out);
        container_config_done(&in);
        free(dir);

        /* Nested, no ports resource, no network, no arguments. */
        assert_int_equal(checkpoint_dir(work, "root/child", &dir), 0);
        in.id = strdup("root/child");
        in.parent_id = strdup("root");
        in.shell = true;
        in.value = strdup("sleep 1");
        assert_int_equal(checkpoint_write_config(dir, &in, NULL), 0);
        assert_int_equal(checkpoint_read_config(dir, &out, &e), 0);
        assert_string_equal(out.parent_id, "root");
        assert_true(out.shell);
        assert_false(out.has_ports);
        assert_true(portset_is_empty(&out.ports));
        assert_null(out.network);
        assert_null(out.user); /* as older checkpoints: root */
        assert_true(out.arguments == NULL || out.arguments[0] == NULL);
        container_config_done(&out);
        container_config_done(&in);
        free(dir);
}

static void test_records(void **state)
{
        const char *work = *state;
        struct checkpoint_supervisor s = {.pid = 4242, .start_time = 123456789, .main_pid = 4243},
                                     r = {};
        struct errbuf e = {};
        char *dir = NULL;
        int status = 0;

        assert_int_equal(checkpoint_dir(work, "c", &dir), 0);
        assert_int_equal(checkpoint_read_supervisor(dir, &r, &e), -ENOENT);
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), -ENOENT);

        snprintf(s.boot_id, sizeof(s.boot_id), "0b3f2a1c-aaaa-bbbb-cccc-0123456789ab");
        assert_int_equal(checkpoint_write_supervisor(dir, &s, NULL), 0);
        assert_int_equal(checkpoint_read_supervisor(dir, &r, &e), 0);
        assert_int_equal(r.pid, 4242);
        assert_int_equal(r.start_time, 123456789);
        assert_int_equal(r.main_pid, 4243);
        assert_string_equal(r.boot_id, s.boot_id);

        assert_int_equal(checkpoint_write_exit_status(dir, 9, NULL), 0);
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), 0);
        assert_int_equal(status, 9);
        assert_int_equal(checkpoint_write_exit_status(dir, 256, NULL), 0);
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), 0);
        assert_int_equal(status, 256);

        struct container_termination t = {.state = "TASK_FAILED",
                                          .reason = "REASON_CONTAINER_LIMITATION",
                                          .message = strdup("Container c is listening on "
                                                            "unallocated port(s): [33005-33005]"),
                                          .has_limitation = true},
                                     u = {};
        assert_int_equal(portset_add(&t.limitation, 33005), 0);
        assert_int_equal(checkpoint_write_termination(dir, &t, NULL), 0);
        assert_int_equal(checkpoint_read_termination(dir, &u, &e), 0);
        assert_string_equal(u.state, "TASK_FAILED");
        assert_string_equal(u.reason, "REASON_CONTAINER_LIMITATION");
        assert_string_equal(u.message, t.message);
        assert_true(u.has_limitation);
        assert_true(portset_equal(&u.limitation, &t.limitation));
        container_termination_done(&t);
        container_termination_done(&u);
        free(dir);
}

static void write_raw(const char *dir, const char *name, const char *text)
{
        char path[1024];

        assert_int_equal(mkdir_p(dir, 0700), 0);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600, NULL), 0);
}

static off_t file_size(const char *dir, const char *name)
{
        char path[1024];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(stat(path, &st), 0);
        return st.st_size;
}

static void test_reserved_records(void **state)
{
        const char *work = *state;
        struct checkpoint_supervisor s = {.pid = 7, .start_time = 8, .main_pid = 9}, r = {};
        struct container_termination t = {.state = "TASK_FAILED",
                                          .reason = "REASON_EXECUTOR_TERMINATED"},
                                     u = {};
        struct errbuf e = {};
        char *dir = NULL, *big;
        int status = 0;

        assert_int_equal(checkpoint_dir(work, "reserved", &dir), 0);
        assert_int_equal(mkdir_p(dir, 0700), 0);
        assert_int_equal(checkpoint_reserve(dir, NULL), 0);
        off_t sizes[] = {file_size(dir, "exit_status"), file_size(dir, "supervisor"),
                         file_size(dir, "termination.json")};
        assert_true(sizes[0] > 0 && sizes[1] > 0 && sizes[2] >= 4096);
        /* Reserved but blank: nothing recorded yet. */
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), -ENOENT);
        assert_int_equal(checkpoint_read_supervisor(dir, &r, &e), -ENOENT);
        assert_int_equal(checkpoint_read_termination(dir, &u, &e), -ENOENT);

        /* Written in place: same sizes, values read back. */
        assert_int_equal(checkpoint_write_exit_status(dir, 7 << 8, NULL), 0);
        assert_int_equal(checkpoint_write_supervisor(dir, &s, NULL), 0);
        big = malloc(10000);
        assert_non_null(big);
        memset(big, 'x', 9999);
        big[9999] = '\0';
        t.message = big;
        t.destroyed = true;
        assert_int_equal(checkpoint_write_termination(dir, &t, NULL), 0);
        assert_int_equal(file_size(dir, "exit_status"), sizes[0]);
        assert_int_equal(file_size(dir, "supervisor"), sizes[1]);
        assert_int_equal(file_size(dir, "termination.json"), sizes[2]);
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), 0);
        assert_int_equal(status, 7 << 8);
        assert_int_equal(checkpoint_read_supervisor(dir, &r, &e), 0);
        assert_int_equal(r.main_pid, 9);
        assert_int_equal(checkpoint_read_termination(dir, &u, &e), 0);
        assert_string_equal(u.reason, "REASON_EXECUTOR_TERMINATED");
        assert_true(u.destroyed);
        /* The message was cut to fit the record, and says so. */
        assert_true(strlen(u.message) < 4096);
        assert_true(strncmp(u.message, "xxxx", 4) == 0);
        assert_string_equal(u.message + strlen(u.message) - 3, "...");
        container_termination_done(&u);
        free(big);
        free(dir);
}

static void test_torn_and_empty_records(void **state)
{
        const char *work = *state;
        struct checkpoint_supervisor r = {};
        struct errbuf e = {};
        char *dir = NULL;
        int status = 0;

        assert_int_equal(checkpoint_dir(work, "torn", &dir), 0);
        assert_int_equal(mkdir_p(dir, 0700), 0);
        /* A record cut short leaves the reservation's blanks after it. */
        write_raw(dir, "exit_status", "23          \n");
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), -EINVAL);
        write_raw(dir, "supervisor", "12 34 56 0b3f2a1c-aa    \n");
        assert_int_equal(checkpoint_read_supervisor(dir, &r, &e), -EINVAL);
        /* An empty file was never a reservation: corrupt, not absent. */
        write_raw(dir, "exit_status", "");
        assert_true(checkpoint_read_exit_status(dir, &status, &e) < 0);
        assert_int_not_equal(checkpoint_read_exit_status(dir, &status, &e), -ENOENT);
        free(dir);
}

static void test_corrupt(void **state)
{
        const char *work = *state;
        struct container_config cfg = {};
        struct checkpoint_supervisor s = {};
        struct container_termination t = {};
        struct errbuf e = {};
        char *dir = NULL;
        int status;

        assert_int_equal(checkpoint_dir(work, "bad", &dir), 0);

        /* Missing config: the error names the file. */
        assert_true(checkpoint_read_config(dir, &cfg, &e) < 0);
        assert_non_null(strstr(e.msg, "bad/config.json"));

        /* Partial (torn) JSON. */
        write_raw(dir, "config.json", "{\"id\": \"bad\", \"shell\": tr");
        e.msg[0] = '\0';
        assert_int_equal(checkpoint_read_config(dir, &cfg, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "bad/config.json"));
        assert_null(strchr(e.msg, '\n'));

        /* Valid JSON, wrong shape. */
        write_raw(dir, "config.json", "{\"id\": 7}");
        assert_int_equal(checkpoint_read_config(dir, &cfg, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "config.json"));
        write_raw(dir, "config.json", "{\"id\": \"bad\", \"ports\": {\"range\": 5}}");
        assert_int_equal(checkpoint_read_config(dir, &cfg, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "config.json"));
        assert_null(cfg.id);

        write_raw(dir, "supervisor", "12 abc\n");
        assert_int_equal(checkpoint_read_supervisor(dir, &s, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "bad/supervisor"));
        write_raw(dir, "exit_status", "nine\n");
        assert_int_equal(checkpoint_read_exit_status(dir, &status, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "bad/exit_status"));
        write_raw(dir, "termination.json", "[");
        assert_int_equal(checkpoint_read_termination(dir, &t, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "bad/termination.json"));
        free(dir);
}

static void test_list_and_remove(void **state)
{
        const char *work = *state;
        static const char *const ids[] = {"b", "a", "a/x", "a/x/y", "c", "a/w"};
        char **v = NULL;
        size_t n = 0;

        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                struct container_config cfg = {.id = (char *)ids[i], .value = (char *)"true"};
                char *dir = NULL;
                assert_int_equal(checkpoint_dir(work, ids[i], &dir), 0);
                assert_int_equal(checkpoint_write_config(dir, &cfg, NULL), 0);
                free(dir);
        }
        /* A stray file with an id's name and a dotted directory are not containers. */
        char stray[1024];
        snprintf(stray, sizeof(stray), "%s/meta/containers", work);
        write_raw(stray, "stray", "not a checkpoint\n");
        snprintf(stray, sizeof(stray), "%s/meta/containers/.trash", work);
        assert_int_equal(mkdir_p(stray, 0700), 0);

        assert_int_equal(checkpoint_list(work, &v, &n), 0);
        assert_int_equal(n, 6);
        /* Every parent comes before its nested containers. */
        for (size_t i = 0; i < n; i++) {
                char *slash = strrchr(v[i], '/');
                if (!slash)
                        continue;
                *slash = '\0';
                bool found = false;
                for (size_t k = 0; k < i; k++)
                        found = found || strcmp(v[k], v[i]) == 0;
                *slash = '/';
                if (!found)
                        fail_msg("%s listed before its parent", v[i]);
        }
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);

        assert_int_equal(checkpoint_remove(work, "a", NULL), 0);
        assert_int_equal(checkpoint_list(work, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0], "b");
        assert_string_equal(v[1], "c");
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
            cmocka_unit_test_setup_teardown(test_config_round_trip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_records, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reserved_records, setup, teardown),
            cmocka_unit_test_setup_teardown(test_torn_and_empty_records, setup, teardown),
            cmocka_unit_test_setup_teardown(test_list_and_remove, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
