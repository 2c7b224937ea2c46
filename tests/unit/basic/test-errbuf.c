/* test-errbuf.c - unit tests of the one-line error buffer.
 *
 * errbuf_set() and errbuf_prefix() must return the errno they were given,
 * accept a NULL buffer, and truncate (never overflow) long messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "basic/errbuf.h"

static void test_set(void **state)
{
        (void)state;
        struct errbuf e = {{0}};

        assert_int_equal(errbuf_set(&e, -EINVAL, "invalid range '%s': %s", "[5-1]", "reversed"),
                         -EINVAL);
        assert_string_equal(e.msg, "invalid range '[5-1]': reversed");

        /* Overwrites, does not append. */
        assert_int_equal(errbuf_set(&e, -ERANGE, "%d too large", 7), -ERANGE);
        assert_string_equal(e.msg, "7 too large");

        /* NULL buffer: only the return value. */
        assert_int_equal(errbuf_set(NULL, -ENOENT, "x"), -ENOENT);
}

static void test_prefix(void **state)
{
        (void)state;
        struct errbuf e = {{0}};

        errbuf_set(&e, -EINVAL, "65536 is not a port");
        assert_int_equal(errbuf_prefix(&e, -EINVAL, "flag '%s'", "--ports"), -EINVAL);
        assert_string_equal(e.msg, "flag '--ports': 65536 is not a port");
        assert_int_equal(errbuf_prefix(&e, -EIO, "outer"), -EIO);
        assert_string_equal(e.msg, "outer: flag '--ports': 65536 is not a port");
        assert_int_equal(errbuf_prefix(NULL, -EIO, "x"), -EIO);
}

static void test_truncation(void **state)
{
        (void)state;
        struct errbuf e = {{0}};
        char big[2000];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        errbuf_set(&e, -EINVAL, "%s", big);
        assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);

        /* A prefix on a full buffer keeps the head and stays terminated. */
        errbuf_prefix(&e, -EINVAL, "ctx");
        assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
        assert_memory_equal(e.msg, "ctx: aaa", 8);

        /* An overlong prefix is cut at its own limit. */
        errbuf_set(&e, -EINVAL, "tail");
        errbuf_prefix(&e, -EINVAL, "%s", big);
        assert_true(strlen(e.msg) < sizeof(e.msg));
        assert_non_null(strstr(e.msg, ": tail"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_set),
            cmocka_unit_test(test_prefix),
            cmocka_unit_test(test_truncation),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
