/* test-duration.c - unit tests of Mesos duration parsing and formatting.
 *
 * Every unit, decimals (exact in fixed point, truncated below 1ns as Mesos
 * does), the int64 limit, each rejected form with its one-line message, and
 * format/parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "assert-ports.h"

#include "ports/duration.h"

#define SEC NSEC_PER_SEC

static void test_parse_valid(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                uint64_t ns;
        } cases[] = {
            {"5ns", 5},
            {"7us", 7 * NSEC_PER_USEC},
            {"200ms", 200 * NSEC_PER_MSEC},
            {"30secs", 30 * SEC},
            {"1mins", 60 * SEC},
            {"2hrs", 7200 * SEC},
            {"1days", 86400 * SEC},
            {"1weeks", 604800 * SEC},
            {"0ns", 0},
            {"0secs", 0},
            {"1.5secs", 1500 * NSEC_PER_MSEC},
            {"0.3secs", 300 * NSEC_PER_MSEC},
            {"0.1ms", 100 * NSEC_PER_USEC},
            {".5ms", 500 * NSEC_PER_USEC},
            {"5.ms", 5 * NSEC_PER_MSEC},
            {"2.25hrs", 8100 * SEC},
            {"0.5ns", 0},
            {"1.9ns", 1},
            {"1.123456789secs", 1123456789},
            {"0.000000001secs", 1},
            {"0.0000000019secs", 1},
            {"1.000000000000000001weeks", 604800 * SEC},
            {"1.0000000000000000000001secs", SEC},
            {" 30secs ", 30 * SEC},
            {"\t200ms\n", 200 * NSEC_PER_MSEC},
            {"030secs", 30 * SEC},
            {"9223372036854775807ns", INT64_MAX},
            {"15250weeks", 15250ULL * 604800 * SEC},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct errbuf e = {{0}};
                uint64_t ns = 12345;

                if (duration_parse(cases[i].text, &ns, &e) != 0)
                        fail_msg("'%s' rejected: %s", cases[i].text, e.msg);
                if (ns != cases[i].ns)
                        fail_msg("'%s': got %llu ns, want %llu", cases[i].text,
                                 (unsigned long long)ns, (unsigned long long)cases[i].ns);
        }
}

static void test_parse_errors(void **state)
{
        (void)state;
        static const struct {
                const char *text, *reason;
                int r;
        } cases[] = {
            {"", "empty", -EINVAL},
            {"   ", "empty", -EINVAL},
            {"30", "missing unit", -EINVAL},
            {"1.5", "missing unit", -EINVAL},
            {"secs", "expected a number", -EINVAL},
            {"30sec", "unknown unit 'sec'", -EINVAL},
            {"30s", "unknown unit 's'", -EINVAL},
            {"30SECS", "unknown unit 'SECS'", -EINVAL},
            {"30 secs", "unknown unit ' secs'", -EINVAL},
            {"30secsx", "unknown unit 'secsx'", -EINVAL},
            {"1secs2", "unknown unit 'secs2'", -EINVAL},
            {"-1secs", "negative", -EINVAL},
            {"+1secs", "expected a number", -EINVAL},
            {"1.2.3secs", "more than one '.'", -EINVAL},
            {".secs", "expected a number", -EINVAL},
            {"1e3ms", "unknown unit 'e3ms'", -EINVAL},
            {"9223372036854775808ns", "too large", -ERANGE},
            {"15251weeks", "too large", -ERANGE},
            {"99999999999999999999999secs", "too large", -ERANGE},
            {"18446744073709551616ns", "too large", -ERANGE},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct errbuf e = {{0}};
                char quoted[128];
                uint64_t ns = 42;

                int r = duration_parse(cases[i].text, &ns, &e);
                if (r != cases[i].r)
                        fail_msg("'%s': got %d, want %d", cases[i].text, r, cases[i].r);
                snprintf(quoted, sizeof(quoted), "'%s'", cases[i].text);
                assert_contains(e.msg, quoted);
                assert_contains(e.msg, cases[i].reason);
                assert_null(strchr(e.msg, '\n'));
                assert_int_equal(ns, 42);
                assert_int_equal(duration_parse(cases[i].text, &ns, NULL), cases[i].r);
        }

        struct errbuf e = {{0}};
        uint64_t ns = 42;
        assert_int_equal(duration_parse(NULL, &ns, &e), -EINVAL);
        assert_contains(e.msg, "no value");
        assert_int_equal(duration_parse("5\nsecs", &ns, &e), -EINVAL);
        assert_null(strchr(e.msg, '\n'));
        assert_int_equal(ns, 42);
}

static void assert_format(uint64_t ns, const char *expect)
{
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        duration_format(ns, &sb);
        assert_string_equal(strbuf_str(&sb), expect);
}

static void test_format(void **state)
{
        (void)state;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        assert_format(0, "0ns");
        assert_format(1, "1ns");
        assert_format(1001, "1001ns");
        assert_format(2 * NSEC_PER_USEC, "2us");
        assert_format(1500 * NSEC_PER_USEC, "1500us");
        assert_format(200 * NSEC_PER_MSEC, "200ms");
        assert_format(1500 * NSEC_PER_MSEC, "1500ms");
        assert_format(30 * SEC, "30secs");
        assert_format(90 * SEC, "90secs");
        assert_format(60 * SEC, "1mins");
        assert_format(7200 * SEC, "2hrs");
        assert_format(86400 * SEC, "1days");
        assert_format(3 * 86400 * SEC, "3days");
        assert_format(14 * 86400 * SEC, "2weeks");
        assert_format(INT64_MAX, "9223372036854775807ns");

        /* Appends. */
        strbuf_puts(&sb, "every ");
        duration_format(30 * SEC, &sb);
        assert_string_equal(strbuf_str(&sb), "every 30secs");
}

static void test_round_trip(void **state)
{
        (void)state;
        static const uint64_t values[] = {
            0,        1,          999,          NSEC_PER_USEC,           123456789, 30 * SEC,
            61 * SEC, 3600 * SEC, 604800 * SEC, 15250ULL * 604800 * SEC, INT64_MAX,
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
                uint64_t back = 0;

                duration_format(values[i], &sb);
                assert_int_equal(duration_parse(strbuf_str(&sb), &back, NULL), 0);
                assert_int_equal(back, values[i]);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_valid),
            cmocka_unit_test(test_parse_errors),
            cmocka_unit_test(test_format),
            cmocka_unit_test(test_round_trip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
