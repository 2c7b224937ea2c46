/* assert-ports.h - cmocka assertions shared by the ports/ unit tests.
 *
 * Header-only and static: each test binary is one translation unit, and an
 * unused helper costs nothing. Include after <cmocka.h>. */
#pragma once

#include <string.h>

#include "basic/macro.h"
#include "ports/portset.h"

/* The set's Mesos text form is exactly expect. */
static inline void assert_set(const struct portset *s, const char *expect)
{
        _cleanup_free_ char *text = portset_to_string(s);

        assert_non_null(text);
        assert_string_equal(text, expect);
}

/* haystack contains needle (e.g. an error line names the bad input). */
static inline void assert_contains(const char *haystack, const char *needle)
{
        if (!strstr(haystack, needle))
                fail_msg("'%s' does not contain '%s'", haystack, needle);
}

/* A non-empty message of exactly one line. */
static inline void assert_one_line(const char *msg)
{
        assert_true(strlen(msg) > 0);
        assert_null(strchr(msg, '\n'));
}
