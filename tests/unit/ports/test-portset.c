/* test-portset.c - unit tests of the port interval set.
 *
 * Every operation is checked on hand-picked edge cases (0, 65535, adjacency,
 * splits, aliasing) through the formatted text, which also exercises the
 * merged-representation invariant; then a seeded random run cross-checks add,
 * remove, union, subtract and intersect against a plain 65536-bit bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "assert-ports.h"

#include "ports/portset.h"

/* Build a set from (begin, end) pairs, terminated by -1. */
static void set_of(struct portset *s, ...)
{
        va_list ap;
        int b;

        portset_reset(s);
        va_start(ap, s);
        while ((b = va_arg(ap, int)) >= 0) {
                int e = va_arg(ap, int);
                assert_int_equal(portset_add_range(s, (uint16_t)b, (uint16_t)e), 0);
        }
        va_end(ap);
}

/* Sorted, disjoint and never adjacent. */
static void assert_invariant(const struct portset *s)
{
        for (size_t i = 0; i < s->n; i++) {
                assert_true(s->ranges[i].begin <= s->ranges[i].end);
                if (i > 0)
                        assert_true((uint32_t)s->ranges[i - 1].end + 1 < s->ranges[i].begin);
        }
}

static void test_empty(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        assert_true(portset_is_empty(&s));
        assert_int_equal(portset_count(&s), 0);
        assert_false(portset_contains(&s, 0));
        assert_false(portset_contains(&s, 65535));
        assert_set(&s, "[]");
        assert_int_equal(portset_remove_range(&s, 0, 65535), 0);
        assert_true(portset_is_empty(&s));
}

static void test_add_merges(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        assert_int_equal(portset_add_range(&s, 33000, 33005), 0);
        assert_int_equal(portset_add_range(&s, 31000, 32000), 0);
        assert_set(&s, "[31000-32000, 33000-33005]");

        /* Adjacent on either side merges. */
        assert_int_equal(portset_add(&s, 32001), 0);
        assert_int_equal(portset_add(&s, 30999), 0);
        assert_set(&s, "[30999-32001, 33000-33005]");

        /* Overlap and containment. */
        assert_int_equal(portset_add_range(&s, 31500, 32100), 0);
        assert_int_equal(portset_add_range(&s, 33001, 33002), 0);
        assert_set(&s, "[30999-32100, 33000-33005]");

        /* Between, after, before. */
        assert_int_equal(portset_add(&s, 32500), 0);
        assert_int_equal(portset_add(&s, 40000), 0);
        assert_int_equal(portset_add(&s, 10), 0);
        assert_set(&s, "[10-10, 30999-32100, 32500-32500, 33000-33005, 40000-40000]");
        assert_invariant(&s);

        /* One range that bridges several collapses them all. */
        assert_int_equal(portset_add_range(&s, 32101, 39999), 0);
        assert_set(&s, "[10-10, 30999-40000]");
        assert_int_equal(s.n, 2);

        /* Adding what is already there changes nothing. */
        assert_int_equal(portset_add_range(&s, 31000, 31001), 0);
        assert_set(&s, "[10-10, 30999-40000]");
}

static void test_add_invalid(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        set_of(&s, 1, 2, -1);
        assert_int_equal(portset_add_range(&s, 5, 1), -EINVAL);
        assert_int_equal(portset_remove_range(&s, 2, 1), -EINVAL);
        assert_set(&s, "[1-2]");
}

static void test_edges_0_65535(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        /* 65535 + 1 must not wrap to 0 and merge the two ends. */
        assert_int_equal(portset_add(&s, 65535), 0);
        assert_int_equal(portset_add(&s, 0), 0);
        assert_set(&s, "[0-0, 65535-65535]");
        assert_int_equal(s.n, 2);
        assert_true(portset_contains(&s, 0));
        assert_true(portset_contains(&s, 65535));
        assert_false(portset_contains(&s, 1));
        assert_false(portset_contains(&s, 65534));
        assert_int_equal(portset_count(&s), 2);

        assert_int_equal(portset_add_range(&s, 1, 65534), 0);
        assert_set(&s, "[0-65535]");
        assert_int_equal(portset_count(&s), 65536);

        assert_int_equal(portset_remove(&s, 0), 0);
        assert_int_equal(portset_remove(&s, 65535), 0);
        assert_set(&s, "[1-65534]");
        assert_int_equal(portset_count(&s), 65534);

        assert_int_equal(portset_add(&s, 65535), 0);
        assert_set(&s, "[1-65535]");
        assert_int_equal(portset_remove_range(&s, 65535, 65535), 0);
        assert_int_equal(portset_remove_range(&s, 0, 0), 0);
        assert_set(&s, "[1-65534]");
        assert_int_equal(portset_remove_range(&s, 0, 65535), 0);
        assert_set(&s, "[]");
}

static void test_remove(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        /* Split in the middle. */
        set_of(&s, 31000, 32000, -1);
        assert_int_equal(portset_remove(&s, 31500), 0);
        assert_set(&s, "[31000-31499, 31501-32000]");
        assert_int_equal(portset_count(&s), 1000);

        /* Trim the ends. */
        assert_int_equal(portset_remove_range(&s, 30000, 31009), 0);
        assert_int_equal(portset_remove_range(&s, 31990, 33000), 0);
        assert_set(&s, "[31010-31499, 31501-31989]");

        /* Exactly one whole range, then a port not in the set. */
        assert_int_equal(portset_remove_range(&s, 31010, 31499), 0);
        assert_int_equal(portset_remove(&s, 31500), 0);
        assert_set(&s, "[31501-31989]");

        /* Across several ranges: trims the first and last, drops the middle. */
        set_of(&s, 10, 20, 30, 40, 50, 60, 70, 80, -1);
        assert_int_equal(portset_remove_range(&s, 15, 75), 0);
        assert_set(&s, "[10-14, 76-80]");
        assert_invariant(&s);

        /* A gap only. */
        set_of(&s, 10, 20, 30, 40, -1);
        assert_int_equal(portset_remove_range(&s, 21, 29), 0);
        assert_set(&s, "[10-20, 30-40]");

        /* Boundaries of a range. */
        assert_int_equal(portset_remove(&s, 10), 0);
        assert_int_equal(portset_remove(&s, 40), 0);
        assert_set(&s, "[11-20, 30-39]");

        /* Single-port ranges vanish. */
        set_of(&s, 5, 5, 7, 7, -1);
        assert_int_equal(portset_remove(&s, 5), 0);
        assert_set(&s, "[7-7]");
        assert_int_equal(portset_remove(&s, 7), 0);
        assert_true(portset_is_empty(&s));
}

static void test_contains_binary_search(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        /* Every even port up to 2000: 1001 one-port ranges. */
        for (unsigned p = 0; p <= 2000; p += 2)
                assert_int_equal(portset_add((&s), (uint16_t)p), 0);
        assert_int_equal(s.n, 1001);
        assert_int_equal(portset_count(&s), 1001);
        for (unsigned p = 0; p <= 2100; p++)
                assert_int_equal(portset_contains(&s, (uint16_t)p), p <= 2000 && p % 2 == 0);
        assert_false(portset_contains(&s, 65535));

        /* Filling the odd ports merges everything into one range. */
        for (unsigned p = 1; p < 2000; p += 2)
                assert_int_equal(portset_add(&s, (uint16_t)p), 0);
        assert_set(&s, "[0-2000]");
}

static void test_count_and_foreach(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        unsigned n = 0, sum = 0;

        set_of(&s, 31000, 32000, 33000, 33005, 65535, 65535, -1);
        assert_int_equal(portset_count(&s), 1001 + 6 + 1);
        PORTSET_FOREACH (r, &s) {
                n++;
                sum += (unsigned)r->end - r->begin + 1;
        }
        assert_int_equal(n, 3);
        assert_int_equal(sum, portset_count(&s));
}

static void test_subset_equal(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset a = PORTSET_INIT, b = PORTSET_INIT;

        /* The empty set is a subset of everything, including itself. */
        assert_true(portset_is_subset(&a, &b));
        assert_true(portset_equal(&a, &b));

        set_of(&b, 31000, 32000, 33000, 33005, -1);
        assert_true(portset_is_subset(&a, &b));
        assert_false(portset_is_subset(&b, &a));
        assert_false(portset_equal(&a, &b));

        set_of(&a, 31000, 31000, 31500, 31600, 33005, 33005, -1);
        assert_true(portset_is_subset(&a, &b));
        assert_false(portset_is_subset(&b, &a));

        /* Spanning the gap between two ranges of b is not a subset. */
        set_of(&a, 31900, 33001, -1);
        assert_false(portset_is_subset(&a, &b));
        set_of(&a, 32001, 32001, -1);
        assert_false(portset_is_subset(&a, &b));
        set_of(&a, 33006, 33006, -1);
        assert_false(portset_is_subset(&a, &b));
        set_of(&a, 30999, 30999, -1);
        assert_false(portset_is_subset(&a, &b));

        /* Same ports, built in a different order, are equal. */
        set_of(&a, 33000, 33005, 31500, 32000, 31000, 31499, -1);
        assert_true(portset_equal(&a, &b));
        assert_true(portset_is_subset(&a, &b));
        assert_true(portset_is_subset(&b, &a));

        set_of(&a, 31000, 32000, 33000, 33004, -1);
        assert_false(portset_equal(&a, &b));
        set_of(&a, 31000, 32000, 33001, 33005, -1);
        assert_false(portset_equal(&a, &b));
}

static void test_copy_clear_reset(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset a = PORTSET_INIT, b = PORTSET_INIT;

        set_of(&a, 1, 2, 10, 20, -1);
        set_of(&b, 500, 600, 700, 800, 900, 1000, -1);
        assert_int_equal(portset_copy(&b, &a), 0);
        assert_set(&b, "[1-2, 10-20]");
        assert_true(portset_equal(&a, &b));
        assert_ptr_not_equal(a.ranges, b.ranges);

        /* Copies are independent. */
        assert_int_equal(portset_add(&a, 5), 0);
        assert_set(&b, "[1-2, 10-20]");

        assert_int_equal(portset_copy(&a, &a), 0);
        assert_set(&a, "[1-2, 5-5, 10-20]");

        /* Copy of the empty set empties. */
        _cleanup_portset_ struct portset empty = PORTSET_INIT;
        assert_int_equal(portset_copy(&b, &empty), 0);
        assert_true(portset_is_empty(&b));

        /* reset keeps the allocation, clear frees it. */
        portset_reset(&a);
        assert_true(portset_is_empty(&a));
        assert_non_null(a.ranges);
        assert_int_equal(portset_add(&a, 7), 0);
        assert_set(&a, "[7-7]");
        portset_clear(&a);
        assert_null(a.ranges);
        assert_int_equal(a.n, 0);
        assert_int_equal(a.alloc, 0);
}

static void test_union(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset a = PORTSET_INIT, b = PORTSET_INIT;

        set_of(&a, 10, 20, 40, 50, -1);
        set_of(&b, 21, 25, 30, 35, 45, 60, 100, 100, -1);
        assert_int_equal(portset_union(&a, &b), 0);
        assert_set(&a, "[10-25, 30-35, 40-60, 100-100]");
        assert_invariant(&a);
        assert_set(&b, "[21-25, 30-35, 45-60, 100-100]");

        /* With the empty set, either way round. */
        _cleanup_portset_ struct portset empty = PORTSET_INIT;
        assert_int_equal(portset_union(&a, &empty), 0);
        assert_set(&a, "[10-25, 30-35, 40-60, 100-100]");
        assert_int_equal(portset_union(&empty, &b), 0);
        assert_true(portset_equal(&empty, &b));

        /* With itself. */
        assert_int_equal(portset_union(&b, &b), 0);
        assert_set(&b, "[21-25, 30-35, 45-60, 100-100]");

        /* The two ends of the port space stay apart. */
        set_of(&a, 65535, 65535, -1);
        set_of(&b, 0, 0, -1);
        assert_int_equal(portset_union(&a, &b), 0);
        assert_set(&a, "[0-0, 65535-65535]");
        set_of(&b, 1, 65534, -1);
        assert_int_equal(portset_union(&a, &b), 0);
        assert_set(&a, "[0-65535]");
        assert_int_equal(a.n, 1);
}

static void test_subtract(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset a = PORTSET_INIT, b = PORTSET_INIT, d = PORTSET_INIT;

        set_of(&a, 31000, 32000, 33000, 33005, -1);
        set_of(&b, 31005, 31005, 31100, 31199, 31990, 33002, -1);
        assert_int_equal(portset_subtract(&d, &a, &b), 0);
        assert_set(&d, "[31000-31004, 31006-31099, 31200-31989, 33003-33005]");
        assert_invariant(&d);
        /* Operands untouched. */
        assert_set(&a, "[31000-32000, 33000-33005]");

        /* Aliasing dst == b, then dst == a. */
        _cleanup_portset_ struct portset b2 = PORTSET_INIT;
        assert_int_equal(portset_copy(&b2, &b), 0);
        assert_int_equal(portset_subtract(&b2, &a, &b2), 0);
        assert_true(portset_equal(&b2, &d));
        assert_int_equal(portset_subtract(&a, &a, &b), 0);
        assert_true(portset_equal(&a, &d));

        /* a - a = {}, a - {} = a, {} - b = {}. */
        _cleanup_portset_ struct portset empty = PORTSET_INIT;
        assert_int_equal(portset_subtract(&d, &a, &a), 0);
        assert_true(portset_is_empty(&d));
        assert_int_equal(portset_subtract(&d, &a, &empty), 0);
        assert_true(portset_equal(&d, &a));
        assert_int_equal(portset_subtract(&d, &empty, &b), 0);
        assert_true(portset_is_empty(&d));

        /* b covering a's ranges entirely, and from both ends. */
        set_of(&a, 10, 20, 30, 40, -1);
        set_of(&b, 0, 65535, -1);
        assert_int_equal(portset_subtract(&d, &a, &b), 0);
        assert_set(&d, "[]");
        set_of(&b, 0, 10, 40, 65535, -1);
        assert_int_equal(portset_subtract(&a, &a, &b), 0);
        assert_set(&a, "[11-20, 30-39]");

        /* Whole port space minus its ends. */
        set_of(&a, 0, 65535, -1);
        set_of(&b, 0, 0, 65535, 65535, -1);
        assert_int_equal(portset_subtract(&a, &a, &b), 0);
        assert_set(&a, "[1-65534]");

        /* Unallocated listeners, the isolator's question. */
        set_of(&a, 31000, 31000, 31005, 31005, 40000, 40000, -1);
        set_of(&b, 31000, 31004, -1);
        assert_int_equal(portset_subtract(&d, &a, &b), 0);
        assert_set(&d, "[31005-31005, 40000-40000]");
}

static void test_intersect(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset a = PORTSET_INIT, b = PORTSET_INIT, d = PORTSET_INIT;

        set_of(&a, 10, 20, 30, 40, 50, 60, -1);
        set_of(&b, 15, 35, 38, 52, 60, 70, -1);
        assert_int_equal(portset_intersect(&d, &a, &b), 0);
        assert_set(&d, "[15-20, 30-35, 38-40, 50-52, 60-60]");
        assert_invariant(&d);

        /* Aliasing dst == b, then dst == a. */
        _cleanup_portset_ struct portset b2 = PORTSET_INIT;
        assert_int_equal(portset_copy(&b2, &b), 0);
        assert_int_equal(portset_intersect(&b2, &a, &b2), 0);
        assert_true(portset_equal(&b2, &d));
        assert_int_equal(portset_intersect(&a, &a, &b), 0);
        assert_true(portset_equal(&a, &d));

        /* Adjacent but not overlapping: empty. */
        set_of(&a, 10, 20, -1);
        set_of(&b, 0, 9, 21, 65535, -1);
        assert_int_equal(portset_intersect(&d, &a, &b), 0);
        assert_true(portset_is_empty(&d));

        /* With the empty set. */
        _cleanup_portset_ struct portset empty = PORTSET_INIT;
        assert_int_equal(portset_intersect(&d, &a, &empty), 0);
        assert_true(portset_is_empty(&d));

        /* Filter by an isolated range, with the top port. */
        set_of(&a, 22, 22, 31005, 31005, 65535, 65535, -1);
        set_of(&b, 31000, 65535, -1);
        assert_int_equal(portset_intersect(&a, &a, &b), 0);
        assert_set(&a, "[31005-31005, 65535-65535]");
}

static void test_format(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        strbuf_puts(&sb, "ports ");
        portset_format(&s, &sb);
        assert_string_equal(strbuf_str(&sb), "ports []");

        set_of(&s, 33000, 33005, 31000, 32000, -1);
        strbuf_reset(&sb);
        strbuf_puts(&sb, "x=");
        portset_format(&s, &sb);
        assert_string_equal(strbuf_str(&sb), "x=[31000-32000, 33000-33005]");

        set_of(&s, 0, 0, 65535, 65535, -1);
        assert_set(&s, "[0-0, 65535-65535]");
}

static void test_format_capped(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        portset_format_capped(&s, 2, &sb);
        assert_string_equal(strbuf_str(&sb), "[]");

        set_of(&s, 10, 10, 20, 21, -1);
        strbuf_reset(&sb);
        portset_format_capped(&s, 2, &sb);
        assert_string_equal(strbuf_str(&sb), "[10-10, 20-21]");

        set_of(&s, 10, 10, 20, 21, 30, 30, -1);
        strbuf_reset(&sb);
        portset_format_capped(&s, 2, &sb);
        assert_string_equal(strbuf_str(&sb), "[10-10, 20-21] and 1 more range");

        for (unsigned p = 100; p < 200; p += 2)
                assert_int_equal(portset_add(&s, p), 0);
        strbuf_reset(&sb);
        portset_format_capped(&s, 3, &sb);
        assert_string_equal(strbuf_str(&sb), "[10-10, 20-21, 30-30] and 50 more ranges");
        /* The set itself is untouched. */
        assert_int_equal(s.n, 53);
}

/* A deterministic generator (xorshift), so failures reproduce. */
static uint32_t rng_state = 0x2545F491;
static uint32_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        return rng_state;
}

struct bitmap {
        uint8_t bit[65536];
};

/* A random range, biased to short ones near the edges now and then. */
static void random_range(uint16_t *b, uint16_t *e)
{
        uint32_t x = rng() % 65536, len = rng() % 8 == 0 ? rng() % 65536 : rng() % 300;
        if (rng() % 16 == 0)
                x = rng() % 2 ? 0 : 65535 - (rng() % 3);
        *b = (uint16_t)x;
        *e = (uint16_t)MIN(x + len, 65535u);
}

static void random_set(struct portset *s, struct bitmap *m)
{
        memset(m, 0, sizeof(*m));
        portset_reset(s);
        for (unsigned k = rng() % 40; k > 0; k--) {
                uint16_t b, e;
                random_range(&b, &e);
                bool add = rng() % 3 != 0;
                if (add)
                        assert_int_equal(portset_add_range(s, b, e), 0);
                else
                        assert_int_equal(portset_remove_range(s, b, e), 0);
                memset(&m->bit[b], add, (size_t)e - b + 1);
        }
}

static void assert_matches(const struct portset *s, const struct bitmap *m)
{
        uint32_t n = 0;

        assert_invariant(s);
        for (uint32_t p = 0; p < 65536; p++) {
                if (portset_contains(s, (uint16_t)p) != m->bit[p])
                        fail_msg("port %u: set says %d, bitmap says %d", p,
                                 portset_contains(s, (uint16_t)p), m->bit[p]);
                n += m->bit[p];
        }
        assert_int_equal(portset_count(s), n);
}

static void test_random_against_bitmap(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset a = PORTSET_INIT, b = PORTSET_INIT, d = PORTSET_INIT;
        static struct bitmap ma, mb, md;

        for (int round = 0; round < 60; round++) {
                bool sub = true;

                random_set(&a, &ma);
                random_set(&b, &mb);
                assert_matches(&a, &ma);
                assert_matches(&b, &mb);

                for (uint32_t p = 0; p < 65536; p++)
                        if (ma.bit[p] && !mb.bit[p])
                                sub = false;
                assert_int_equal(portset_is_subset(&a, &b), sub);

                for (uint32_t p = 0; p < 65536; p++)
                        md.bit[p] = ma.bit[p] & !mb.bit[p];
                assert_int_equal(portset_subtract(&d, &a, &b), 0);
                assert_matches(&d, &md);

                for (uint32_t p = 0; p < 65536; p++)
                        md.bit[p] = ma.bit[p] & mb.bit[p];
                assert_int_equal(portset_intersect(&d, &a, &b), 0);
                assert_matches(&d, &md);

                for (uint32_t p = 0; p < 65536; p++)
                        md.bit[p] = ma.bit[p] | mb.bit[p];
                assert_int_equal(portset_copy(&d, &a), 0);
                assert_int_equal(portset_union(&d, &b), 0);
                assert_matches(&d, &md);
                assert_int_equal(portset_equal(&a, &b), memcmp(&ma, &mb, sizeof(ma)) == 0);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty),
            cmocka_unit_test(test_add_merges),
            cmocka_unit_test(test_add_invalid),
            cmocka_unit_test(test_edges_0_65535),
            cmocka_unit_test(test_remove),
            cmocka_unit_test(test_contains_binary_search),
            cmocka_unit_test(test_count_and_foreach),
            cmocka_unit_test(test_subset_equal),
            cmocka_unit_test(test_copy_clear_reset),
            cmocka_unit_test(test_union),
            cmocka_unit_test(test_subtract),
            cmocka_unit_test(test_intersect),
            cmocka_unit_test(test_format),
            cmocka_unit_test(test_format_capped),
            cmocka_unit_test(test_random_against_bitmap),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
