/* test-histogram.c - bucket choice, the +Inf bucket, count and sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "basic/histogram.h"
#include "basic/macro.h"

static const double bounds[] = {0.001, 0.01, 0.1};

static void test_buckets(void **state)
{
        (void)state;
        struct histogram h = histogram_make(bounds, ELEMENTSOF(bounds));

        histogram_observe(&h, 0.0);    /* first bucket */
        histogram_observe(&h, 0.001);  /* a bound is inclusive (le) */
        histogram_observe(&h, 0.0011); /* second */
        histogram_observe(&h, 0.1);    /* third */
        histogram_observe(&h, 5.0);    /* +Inf */
        assert_int_equal(h.counts[0], 2);
        assert_int_equal(h.counts[1], 1);
        assert_int_equal(h.counts[2], 1);
        assert_int_equal(h.counts[3], 1);
        assert_int_equal(h.count, 5);
        assert_true(h.sum > 5.1020 && h.sum < 5.1022);
}

static void test_bounds_capped(void **state)
{
        (void)state;
        static double many[HISTOGRAM_MAX_BUCKETS + 5];
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (double)i;
        struct histogram h = histogram_make(many, ELEMENTSOF(many));

        assert_int_equal(h.n_bounds, HISTOGRAM_MAX_BUCKETS);
        histogram_observe(&h, 1e9);
        assert_int_equal(h.counts[HISTOGRAM_MAX_BUCKETS], 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_buckets),
            cmocka_unit_test(test_bounds_capped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
