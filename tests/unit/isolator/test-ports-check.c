/* test-ports-check.c - the network/ports isolator's pure part: container
 * state (prepare, update, cleanup) and check(), one test per Mesos case.
 *
 * `listening` is set by hand, as ports_collect() would fill it, so these
 * tests need no root, no cgroup and no socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolator/ports.h"

/* A set from a list of (begin, end) pairs. */
static struct portset set_of(size_t n, const uint16_t *pairs)
{
        struct portset s = PORTSET_INIT;
        for (size_t i = 0; i < n; i++)
                assert_int_equal(portset_add_range(&s, pairs[2 * i], pairs[2 * i + 1]), 0);
        return s;
}
#define SET(...)                                                                                   \
        set_of(sizeof((uint16_t[]){__VA_ARGS__}) / sizeof(uint16_t) / 2, (uint16_t[]){__VA_ARGS__})
#define EMPTY_SET ((struct portset)PORTSET_INIT)

struct fixture {
        struct ports_isolator pi;
};

static void init_isolated(struct ports_isolator *pi, struct portset isolated)
{
        assert_int_equal(ports_isolator_init(pi, &isolated, SOCKDIAG_TCP), 0);
        portset_clear(&isolated);
}

static int setup_all_ports(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        init_isolated(&f->pi, SET(0, 65535));
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        ports_isolator_done(&f->pi);
        free(f);
        return 0;
}

/* Prepare a root container allocated `alloc`. */
static void root_with(struct ports_isolator *pi, const char *id, struct portset alloc)
{
        assert_int_equal(ports_prepare(pi, id, NULL, id, 0, false), 0);
        assert_int_equal(ports_update(pi, id, &alloc), 0);
        portset_clear(&alloc);
}

static void listen_on(struct ports_isolator *pi, const char *id, struct portset s)
{
        struct ports_container *c = ports_find(pi, id);
        assert_non_null(c);
        assert_int_equal(portset_copy(&c->listening, &s), 0);
        portset_clear(&s);
}

/* Run check and return the number of limitations; *out kept for inspection. */
static int check(struct ports_isolator *pi, struct isolator_limitation **out, size_t *n)
{
        int r = ports_check(pi, out, n);
        assert_true(r >= 0);
        assert_int_equal((size_t)r, *n);
        return r;
}

static int check_count(struct ports_isolator *pi)
{
        struct isolator_limitation *v = NULL;
        size_t n = 0;
        int r = check(pi, &v, &n);
        isolator_limitations_free(v, n);
        return r;
}

static void assert_ports(const struct portset *s, const char *text)
{
        char *str = portset_to_string(s);
        assert_non_null(str);
        assert_string_equal(str, text);
        free(str);
}

static void test_allocated_listener_is_fine(void **state)
{
        struct fixture *f = *state;
        root_with(&f->pi, "c1", SET(31000, 31004));
        listen_on(&f->pi, "c1", SET(31000, 31000, 31003, 31003));
        assert_int_equal(check_count(&f->pi), 0);
        assert_true(portset_is_empty(&ports_find(&f->pi, "c1")->reported));
}

static void test_unallocated_listener_is_reported(void **state)
{
        struct fixture *f = *state;
        struct isolator_limitation *v = NULL;
        size_t n = 0;

        root_with(&f->pi, "c1", SET(31000, 31004));
        listen_on(&f->pi, "c1", SET(31000, 31000, 31005, 31005));
        assert_int_equal(check(&f->pi, &v, &n), 1);
        assert_string_equal(v[0].container_id, "c1");
        assert_ports(&v[0].ports, "[31005-31005]");
        assert_string_equal(v[0].message,
                            "Container c1 is listening on unallocated port(s): [31005-31005]");
        isolator_limitations_free(v, n);
}

static void test_several_containers_only_violator_reported(void **state)
{
        struct fixture *f = *state;
        struct isolator_limitation *v = NULL;
        size_t n = 0;

        root_with(&f->pi, "good", SET(31000, 31000));
        root_with(&f->pi, "bad", SET(31001, 31001));
        listen_on(&f->pi, "good", SET(31000, 31000));
        listen_on(&f->pi, "bad", SET(31001, 31001, 31010, 31012, 31020, 31020));
        assert_int_equal(check(&f->pi, &v, &n), 1);
        assert_string_equal(v[0].container_id, "bad");
        assert_string_equal(
            v[0].message,
            "Container bad is listening on unallocated port(s): [31010-31012, 31020-31020]");
        isolator_limitations_free(v, n);
}

static void test_log_once_dedupe(void **state)
{
        struct fixture *f = *state;

        root_with(&f->pi, "c1", SET(31000, 31000));
        listen_on(&f->pi, "c1", SET(31005, 31005));
        assert_int_equal(check_count(&f->pi), 1);
        /* Same set again: already reported. */
        assert_int_equal(check_count(&f->pi), 0);
        assert_int_equal(check_count(&f->pi), 0);
        /* The set changed: reported again, with the new set. */
        listen_on(&f->pi, "c1", SET(31005, 31006));
        assert_int_equal(check_count(&f->pi), 1);
        assert_ports(&ports_find(&f->pi, "c1")->reported, "[31005-31006]");
        assert_int_equal(check_count(&f->pi), 0);
        /* Cleared, then the same violation again: reported again. */
        listen_on(&f->pi, "c1", SET(31000, 31000));
        assert_int_equal(check_count(&f->pi), 0);
        assert_true(portset_is_empty(&ports_find(&f->pi, "c1")->reported));
        listen_on(&f->pi, "c1", SET(31005, 31006));
        assert_int_equal(check_count(&f->pi), 1);
}

static void test_update_allocating_the_port_clears(void **state)
{
        struct fixture *f = *state;
        struct portset more = SET(31000, 31000, 31005, 31005);

        root_with(&f->pi, "c1", SET(31000, 31000));
        listen_on(&f->pi, "c1", SET(31005, 31005));
        assert_int_equal(ports_update(&f->pi, "c1", &more), 0);
        portset_clear(&more);
        assert_int_equal(check_count(&f->pi), 0);
}

/* Build an isolator the way the agent does from its flags. */
static void init_from_flags(struct ports_isolator *pi, bool agent_only,
                            const struct portset *isolated_range, const struct portset *agent)
{
        struct portset iso = PORTSET_INIT;
        struct errbuf e = {{0}};
        assert_int_equal(ports_isolated_range(agent_only, isolated_range, agent, &iso, &e), 0);
        init_isolated(pi, iso);
}

static void test_agent_range_only_given(void **state)
{
        struct ports_isolator pi;
        struct portset agent = SET(40000, 40100);
        (void)state;

        init_from_flags(&pi, true, NULL, &agent);
        root_with(&pi, "c1", SET(40000, 40000));
        /* 31005 is outside the agent's range: ignored; 40050 inside: reported. */
        listen_on(&pi, "c1", SET(31005, 31005));
        assert_int_equal(check_count(&pi), 0);
        listen_on(&pi, "c1", SET(31005, 31005, 40050, 40050));
        assert_int_equal(check_count(&pi), 1);
        assert_ports(&ports_find(&pi, "c1")->reported, "[40050-40050]");
        portset_clear(&agent);
        ports_isolator_done(&pi);
}

static void test_agent_range_only_default(void **state)
{
        struct ports_isolator pi;
        struct portset agent = SET(31000, 32000); /* what the agent passes when absent */
        (void)state;

        init_from_flags(&pi, true, NULL, &agent);
        root_with(&pi, "c1", SET(31000, 31000));
        listen_on(&pi, "c1", SET(33000, 33000));
        assert_int_equal(check_count(&pi), 0);
        listen_on(&pi, "c1", SET(31999, 31999, 33000, 33000));
        assert_int_equal(check_count(&pi), 1);
        assert_ports(&ports_find(&pi, "c1")->reported, "[31999-31999]");
        portset_clear(&agent);
        ports_isolator_done(&pi);
}

static void test_agent_range_only_empty(void **state)
{
        struct ports_isolator pi;
        struct portset agent = PORTSET_INIT;
        (void)state;

        init_from_flags(&pi, true, NULL, &agent);
        assert_true(portset_is_empty(&pi.isolated));
        root_with(&pi, "c1", EMPTY_SET);
        listen_on(&pi, "c1", SET(1, 65535));
        assert_int_equal(check_count(&pi), 0);
        ports_isolator_done(&pi);
}

static void test_isolated_range(void **state)
{
        struct ports_isolator pi;
        struct portset range = SET(0, 35000);
        (void)state;

        init_from_flags(&pi, false, &range, NULL);
        root_with(&pi, "c1", SET(31000, 31000));
        listen_on(&pi, "c1", SET(35001, 35001, 40000, 40000));
        assert_int_equal(check_count(&pi), 0);
        listen_on(&pi, "c1", SET(34999, 35001));
        assert_int_equal(check_count(&pi), 1);
        assert_ports(&ports_find(&pi, "c1")->reported, "[34999-35000]");
        portset_clear(&range);
        ports_isolator_done(&pi);
}

static void test_isolated_range_neither_flag_is_everything(void **state)
{
        struct portset iso = PORTSET_INIT;
        (void)state;

        assert_int_equal(ports_isolated_range(false, NULL, NULL, &iso, NULL), 0);
        assert_ports(&iso, "[0-65535]");
        portset_clear(&iso);
}

static void test_both_range_flags_rejected(void **state)
{
        struct portset range = SET(0, 35000), agent = SET(31000, 32000);
        struct portset iso = SET(1, 1);
        struct errbuf e = {{0}};
        (void)state;

        assert_int_equal(ports_isolated_range(true, &range, &agent, &iso, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "--check_agent_port_range_only"));
        assert_non_null(strstr(e.msg, "--container_ports_isolated_range"));
        assert_null(strchr(e.msg, '\n'));
        assert_ports(&iso, "[1-1]"); /* untouched on failure */
        portset_clear(&range);
        portset_clear(&agent);
        portset_clear(&iso);
}

static void test_nested_raised_against_root(void **state)
{
        struct fixture *f = *state;
        struct isolator_limitation *v = NULL;
        size_t n = 0;

        root_with(&f->pi, "root", SET(31000, 31001));
        assert_int_equal(ports_prepare(&f->pi, "root/child", "root", "root/child", 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "root/child/gc", "root/child", NULL, 0, false), 0);
        assert_ptr_equal(ports_find(&f->pi, "root/child/gc")->root, ports_find(&f->pi, "root"));
        /* Allocated ports held anywhere in the tree are fine. */
        listen_on(&f->pi, "root/child", SET(31001, 31001));
        assert_int_equal(check_count(&f->pi), 0);
        /* An unallocated one in the grandchild is the root's violation. */
        listen_on(&f->pi, "root", SET(31000, 31000));
        listen_on(&f->pi, "root/child/gc", SET(31007, 31007));
        assert_int_equal(check(&f->pi, &v, &n), 1);
        assert_string_equal(v[0].container_id, "root");
        assert_string_equal(v[0].message,
                            "Container root is listening on unallocated port(s): [31007-31007]");
        isolator_limitations_free(v, n);
        /* Own and nested unallocated ports are reported together. */
        listen_on(&f->pi, "root", SET(31002, 31002));
        assert_int_equal(check(&f->pi, &v, &n), 1);
        assert_ports(&v[0].ports, "[31002-31002, 31007-31007]");
        isolator_limitations_free(v, n);
}

static void test_unallocated_container_skipped(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(ports_prepare(&f->pi, "c1", NULL, "c1", 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "c1/n", "c1", NULL, 0, false), 0);
        listen_on(&f->pi, "c1", SET(31005, 31005));
        listen_on(&f->pi, "c1/n", SET(31006, 31006));
        assert_int_equal(check_count(&f->pi), 0);
        /* Once its allocation is known it is checked. */
        root_with(&f->pi, "other", EMPTY_SET);
        assert_int_equal(check_count(&f->pi), 0);
        struct portset none = PORTSET_INIT;
        assert_int_equal(ports_update(&f->pi, "c1", &none), 0);
        assert_int_equal(check_count(&f->pi), 1);
        assert_ports(&ports_find(&f->pi, "c1")->reported, "[31005-31006]");
}

static void test_ignored_root_and_nested_skipped(void **state)
{
        struct fixture *f = *state;
        struct portset none = PORTSET_INIT;

        assert_int_equal(ports_prepare(&f->pi, "cni", NULL, "cni", 0, true), 0);
        assert_int_equal(ports_update(&f->pi, "cni", &none), 0);
        assert_int_equal(ports_prepare(&f->pi, "cni/n", "cni", NULL, 0, false), 0);
        assert_true(ports_find(&f->pi, "cni/n")->ignored);
        listen_on(&f->pi, "cni", SET(31005, 31005));
        listen_on(&f->pi, "cni/n", SET(31006, 31006));
        assert_int_equal(check_count(&f->pi), 0);
}

static void test_prepare_errors(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(ports_prepare(&f->pi, "c1", NULL, "c1", 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "c1", NULL, "c1", 0, false), -EEXIST);
        assert_int_equal(ports_prepare(&f->pi, "x/y", "x", NULL, 0, false), -ENOENT);
        assert_int_equal(ports_prepare(&f->pi, "", NULL, NULL, 0, false), -EINVAL);
        assert_null(ports_find(&f->pi, "x/y"));
        assert_int_equal(f->pi.n_containers, 1);
}

static void test_update_errors(void **state)
{
        struct fixture *f = *state;
        struct portset s = SET(31000, 31000);

        assert_int_equal(ports_update(&f->pi, "nope", &s), -ENOENT);
        assert_int_equal(ports_prepare(&f->pi, "r", NULL, "r", 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "r/n", "r", NULL, 0, false), 0);
        assert_int_equal(ports_update(&f->pi, "r/n", &s), -EINVAL);
        assert_false(ports_find(&f->pi, "r/n")->has_allocation);
        assert_int_equal(ports_update(&f->pi, "r", &s), 0);
        assert_true(ports_find(&f->pi, "r")->has_allocation);
        portset_clear(&s);
}

static void test_cleanup_removes_nested(void **state)
{
        struct fixture *f = *state;

        root_with(&f->pi, "a", EMPTY_SET);
        assert_int_equal(ports_prepare(&f->pi, "a/b", "a", NULL, 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "a/b/c", "a/b", NULL, 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "a/d", "a", NULL, 0, false), 0);
        root_with(&f->pi, "a-x", EMPTY_SET); /* sorts between "a" and "a/b" */
        root_with(&f->pi, "z", EMPTY_SET);

        /* Cleaning up a nested container takes its own nested ones only. */
        assert_int_equal(ports_cleanup(&f->pi, "a/b"), 0);
        assert_null(ports_find(&f->pi, "a/b"));
        assert_null(ports_find(&f->pi, "a/b/c"));
        assert_non_null(ports_find(&f->pi, "a/d"));
        assert_int_equal(f->pi.n_containers, 4);

        assert_int_equal(ports_cleanup(&f->pi, "a"), 0);
        assert_int_equal(f->pi.n_containers, 2);
        assert_null(ports_find(&f->pi, "a/d"));
        assert_non_null(ports_find(&f->pi, "a-x"));
        assert_non_null(ports_find(&f->pi, "z"));
        assert_int_equal(ports_cleanup(&f->pi, "a"), -ENOENT);

        /* The id can be prepared again, fresh. */
        assert_int_equal(ports_prepare(&f->pi, "a", NULL, "a", 0, false), 0);
        assert_false(ports_find(&f->pi, "a")->has_allocation);
}

static void assert_tree(struct ports_isolator *pi, const char *id, struct portset want)
{
        struct portset got = PORTSET_INIT;

        assert_int_equal(ports_listening_tree(ports_find(pi, id), &got), 0);
        assert_true(portset_equal(&got, &want));
        portset_clear(&got);
        portset_clear(&want);
}

static void test_ignored_nested_not_counted(void **state)
{
        struct fixture *f = *state;

        root_with(&f->pi, "r", EMPTY_SET);
        assert_int_equal(ports_prepare(&f->pi, "r/own-net", "r", NULL, 0, true), 0);
        assert_int_equal(ports_prepare(&f->pi, "r/own-net/n", "r/own-net", NULL, 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "r/host", "r", NULL, 0, false), 0);
        listen_on(&f->pi, "r/own-net", SET(31006, 31006));
        listen_on(&f->pi, "r/own-net/n", SET(31007, 31007));
        assert_int_equal(check_count(&f->pi), 0);
        assert_tree(&f->pi, "r", EMPTY_SET);
        /* A sibling on the host network still counts for the root. */
        listen_on(&f->pi, "r/host", SET(31008, 31008));
        assert_int_equal(check_count(&f->pi), 1);
        assert_ports(&ports_find(&f->pi, "r")->reported, "[31008-31008]");
        assert_tree(&f->pi, "r", SET(31008, 31008));
}

static void test_listening_tree_follows_nesting(void **state)
{
        struct fixture *f = *state;

        root_with(&f->pi, "a", EMPTY_SET);
        assert_int_equal(ports_prepare(&f->pi, "a/b", "a", NULL, 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "a/b/c", "a/b", NULL, 0, false), 0);
        assert_int_equal(ports_prepare(&f->pi, "a/d", "a", NULL, 0, false), 0);
        root_with(&f->pi, "a-x", EMPTY_SET);
        listen_on(&f->pi, "a", SET(1, 1));
        listen_on(&f->pi, "a/b", SET(2, 2));
        listen_on(&f->pi, "a/b/c", SET(3, 3));
        listen_on(&f->pi, "a/d", SET(4, 4));
        listen_on(&f->pi, "a-x", SET(5, 5));

        assert_tree(&f->pi, "a", SET(1, 4));
        assert_tree(&f->pi, "a/b", SET(2, 3));
        assert_tree(&f->pi, "a/d", SET(4, 4));
        assert_tree(&f->pi, "a-x", SET(5, 5));

        /* A cleaned-up subtree no longer counts for its ancestors. */
        assert_int_equal(ports_cleanup(&f->pi, "a/b"), 0);
        assert_tree(&f->pi, "a", SET(1, 1, 4, 4));
        assert_int_equal(ports_prepare(&f->pi, "a/b", "a", NULL, 0, false), 0);
        listen_on(&f->pi, "a/b", SET(7, 7));
        assert_tree(&f->pi, "a", SET(1, 1, 4, 4, 7, 7));
}

static void test_many_containers_sorted_lookup(void **state)
{
        struct fixture *f = *state;
        char id[32];

        /* Insert in reverse order; every lookup must still find its container. */
        for (int i = 2000; i > 0; i--) {
                snprintf(id, sizeof(id), "c%d", i);
                root_with(&f->pi, id, SET(31000, 31000));
                listen_on(&f->pi, id, SET(31000, 31000));
        }
        for (int i = 1; i <= 2000; i++) {
                snprintf(id, sizeof(id), "c%d", i);
                assert_non_null(ports_find(&f->pi, id));
                assert_string_equal(ports_find(&f->pi, id)->id, id);
        }
        for (size_t i = 1; i < f->pi.n_containers; i++)
                assert_true(strcmp(f->pi.containers[i - 1]->id, f->pi.containers[i]->id) < 0);
        listen_on(&f->pi, "c1234", SET(31001, 31001));
        struct isolator_limitation *v = NULL;
        size_t n = 0;
        assert_int_equal(check(&f->pi, &v, &n), 1);
        assert_string_equal(v[0].container_id, "c1234");
        isolator_limitations_free(v, n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_all_ports, teardown)
            T(test_allocated_listener_is_fine),
            T(test_unallocated_listener_is_reported),
            T(test_several_containers_only_violator_reported),
            T(test_log_once_dedupe),
            T(test_update_allocating_the_port_clears),
            cmocka_unit_test(test_agent_range_only_given),
            cmocka_unit_test(test_agent_range_only_default),
            cmocka_unit_test(test_agent_range_only_empty),
            cmocka_unit_test(test_isolated_range),
            cmocka_unit_test(test_isolated_range_neither_flag_is_everything),
            cmocka_unit_test(test_both_range_flags_rejected),
            T(test_nested_raised_against_root),
            T(test_unallocated_container_skipped),
            T(test_ignored_root_and_nested_skipped),
            T(test_ignored_nested_not_counted),
            T(test_prepare_errors),
            T(test_update_errors),
            T(test_cleanup_removes_nested),
            T(test_listening_tree_follows_nesting),
            T(test_many_containers_sorted_lookup),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
