/* test-strbuf.c - unit tests of the string builder.
 *
 * Appends of every kind, growth far past the first allocation, printf output
 * longer than strbuf_addf()'s stack buffer, reset/release/detach, and the
 * remembered out-of-memory state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "basic/strbuf.h"

static void test_empty(void **state)
{
        (void)state;
        struct strbuf sb = STRBUF_INIT;

        assert_string_equal(strbuf_str(&sb), "");
        assert_int_equal(sb.len, 0);
        assert_null(sb.buf);

        /* Detaching an empty buffer still gives a string. */
        char *s = strbuf_detach(&sb);
        assert_non_null(s);
        assert_string_equal(s, "");
        free(s);
        strbuf_release(&sb);
}

static void test_appends(void **state)
{
        (void)state;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        strbuf_puts(&sb, "ports");
        strbuf_putc(&sb, ' ');
        strbuf_add(&sb, "[1-2]xyz", 5);
        strbuf_addf(&sb, " %d/%s", 42, "tcp");
        assert_string_equal(strbuf_str(&sb), "ports [1-2] 42/tcp");
        assert_int_equal(sb.len, strlen("ports [1-2] 42/tcp"));
        assert_true(sb.alloc > sb.len);

        /* Empty appends are no-ops. */
        strbuf_puts(&sb, "");
        strbuf_add(&sb, "", 0);
        strbuf_addf(&sb, "%s", "");
        assert_string_equal(strbuf_str(&sb), "ports [1-2] 42/tcp");
}

static void test_binary_data(void **state)
{
        (void)state;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        strbuf_add(&sb, "a\0b", 3);
        assert_int_equal(sb.len, 3);
        assert_memory_equal(sb.buf, "a\0b", 4);
}

static void test_growth(void **state)
{
        (void)state;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        for (int i = 0; i < 10000; i++)
                strbuf_addf(&sb, "%04d,", i % 10000);
        assert_int_equal(sb.len, 50000);
        assert_int_equal(strlen(strbuf_str(&sb)), 50000);
        for (int i = 0; i < 10000; i += 997) {
                char want[8];
                snprintf(want, sizeof(want), "%04d,", i);
                assert_memory_equal(sb.buf + i * 5, want, 5);
        }
}

static void test_addf_long(void **state)
{
        (void)state;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        char big[1000];

        /* Longer than addf's 256-byte stack buffer, after existing content. */
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        strbuf_puts(&sb, "head:");
        strbuf_addf(&sb, "<%s>%d", big, 7);
        assert_int_equal(sb.len, 5 + 1 + 999 + 1 + 1);
        assert_memory_equal(sb.buf, "head:<xxx", 9);
        assert_string_equal(sb.buf + sb.len - 3, "x>7");

        /* Exactly at the stack-buffer boundary. */
        strbuf_reset(&sb);
        big[255] = '\0';
        strbuf_addf(&sb, "%s", big);
        assert_int_equal(sb.len, 255);
        strbuf_reset(&sb);
        big[255] = 'x';
        big[256] = '\0';
        strbuf_addf(&sb, "%s", big);
        assert_int_equal(sb.len, 256);
        assert_int_equal(strlen(strbuf_str(&sb)), 256);
}

static void test_reset_release_detach(void **state)
{
        (void)state;
        struct strbuf sb = STRBUF_INIT;

        strbuf_puts(&sb, "hello");
        char *before = sb.buf;
        size_t alloc = sb.alloc;
        strbuf_reset(&sb);
        assert_string_equal(strbuf_str(&sb), "");
        assert_int_equal(sb.len, 0);
        assert_ptr_equal(sb.buf, before);
        assert_int_equal(sb.alloc, alloc);

        strbuf_puts(&sb, "world");
        char *s = strbuf_detach(&sb);
        assert_string_equal(s, "world");
        assert_null(sb.buf);
        assert_int_equal(sb.len, 0);
        assert_int_equal(sb.alloc, 0);
        free(s);

        /* Reusable after detach; release frees and resets. */
        strbuf_puts(&sb, "again");
        assert_string_equal(strbuf_str(&sb), "again");
        strbuf_release(&sb);
        assert_null(sb.buf);
        assert_int_equal(sb.len, 0);
        strbuf_release(&sb);
}

static void test_oom_state(void **state)
{
        (void)state;
        struct strbuf sb = STRBUF_INIT;

        /* Once an append failed, later appends are dropped and detach says so. */
        strbuf_puts(&sb, "partial");
        sb.oom = true;
        strbuf_puts(&sb, " more");
        strbuf_addf(&sb, "%d", 1);
        strbuf_putc(&sb, '!');
        assert_string_equal(strbuf_str(&sb), "partial");
        assert_null(strbuf_detach(&sb));
        assert_null(sb.buf);
        assert_false(sb.oom);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty),       cmocka_unit_test(test_appends),
            cmocka_unit_test(test_binary_data), cmocka_unit_test(test_growth),
            cmocka_unit_test(test_addf_long),   cmocka_unit_test(test_reset_release_detach),
            cmocka_unit_test(test_oom_state),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
