/* test-container.c - the container data model (container.c): the state
 * machine's edges (every legal one accepted, every other refused, including
 * a state to itself and anything out of TERMINATED), state names, and id
 * validation of whole ids and of their components. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/container.h"

static const enum container_state all[] = {
    CONTAINER_LAUNCHING,
    CONTAINER_RUNNING,
    CONTAINER_DESTROYING,
    CONTAINER_TERMINATED,
};

static bool legal(enum container_state from, enum container_state to)
{
        return (from == CONTAINER_LAUNCHING && to == CONTAINER_RUNNING) ||
               (from == CONTAINER_LAUNCHING && to == CONTAINER_DESTROYING) ||
               (from == CONTAINER_RUNNING && to == CONTAINER_DESTROYING) ||
               (from == CONTAINER_DESTROYING && to == CONTAINER_TERMINATED);
}

static void test_every_edge(void **state)
{
        size_t accepted = 0;

        (void)state;
        for (size_t i = 0; i < 4; i++)
                for (size_t k = 0; k < 4; k++) {
                        bool ok = container_state_transition_valid(all[i], all[k]);
                        assert_int_equal(ok, legal(all[i], all[k]));
                        accepted += ok;
                }
        assert_int_equal(accepted, 4);
}

static void test_illegal_edges_rejected(void **state)
{
        (void)state;
        assert_false(container_state_transition_valid(CONTAINER_RUNNING, CONTAINER_LAUNCHING));
        assert_false(container_state_transition_valid(CONTAINER_RUNNING, CONTAINER_TERMINATED));
        assert_false(container_state_transition_valid(CONTAINER_LAUNCHING, CONTAINER_TERMINATED));
        assert_false(container_state_transition_valid(CONTAINER_DESTROYING, CONTAINER_RUNNING));
        assert_false(container_state_transition_valid(CONTAINER_TERMINATED, CONTAINER_RUNNING));
        assert_false(container_state_transition_valid(CONTAINER_TERMINATED, CONTAINER_TERMINATED));
        assert_false(container_state_transition_valid((enum container_state)42, CONTAINER_RUNNING));
}

static void test_state_names(void **state)
{
        (void)state;
        assert_string_equal(container_state_to_string(CONTAINER_LAUNCHING), "LAUNCHING");
        assert_string_equal(container_state_to_string(CONTAINER_TERMINATED), "TERMINATED");
        assert_string_equal(container_state_to_string((enum container_state)42), "UNKNOWN");
}

static void test_ids(void **state)
{
        struct container_config cfg = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(container_id_validate("web-1", &e), 0);
        assert_int_equal(container_id_validate("", &e), -EINVAL);
        assert_int_equal(container_id_validate("a.b", &e), -EINVAL);
        assert_non_null(strstr(e.msg, "'.'"));

        cfg.id = (char *)"a/b";
        cfg.parent_id = (char *)"a";
        assert_int_equal(container_config_validate_id(&cfg, &e), 0);
        cfg.parent_id = (char *)"x";
        assert_int_equal(container_config_validate_id(&cfg, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "is not below parent"));
        cfg.parent_id = NULL;
        assert_int_equal(container_config_validate_id(&cfg, &e), -EINVAL);
        cfg.id = (char *)"a b";
        assert_int_equal(container_config_validate_id(&cfg, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "whitespace"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_edge),
            cmocka_unit_test(test_illegal_edges_rejected),
            cmocka_unit_test(test_state_names),
            cmocka_unit_test(test_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
