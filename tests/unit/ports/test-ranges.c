/* test-ranges.c - unit tests of the Mesos Value.Ranges text and JSON forms.
 *
 * Valid inputs are checked through the formatted set; each invalid input must
 * return -EINVAL, leave the output set untouched, and produce one line that
 * names the input and says what is wrong with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "assert-ports.h"

#include "ports/ranges.h"

static void test_parse_valid(void **state)
{
        (void)state;
        static const struct {
                const char *text, *expect;
        } cases[] = {
            {"[31000-32000]", "[31000-32000]"},
            {"[31000-32000, 33000-33005]", "[31000-32000, 33000-33005]"},
            {" [ 31000 - 32000 ,33000-33005 ] ", "[31000-32000, 33000-33005]"},
            {"\t[\n1-2,\n3-3 ]\n", "[1-3]"},
            {"[]", "[]"},
            {"[ ]", "[]"},
            {"  []  ", "[]"},
            {"[33000-33005,31000-32000]", "[31000-32000, 33000-33005]"},
            {"[1-10,5-20]", "[1-20]"},
            {"[1-2,3-4]", "[1-4]"},
            {"[5-5]", "[5-5]"},
            {"[0-65535]", "[0-65535]"},
            {"[65535-65535,0-0]", "[0-0, 65535-65535]"},
            {"[00080-0081]", "[80-81]"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_portset_ struct portset s = PORTSET_INIT;
                struct errbuf e = {{0}};

                if (ranges_parse(cases[i].text, &s, &e) != 0)
                        fail_msg("'%s' rejected: %s", cases[i].text, e.msg);
                assert_set(&s, cases[i].expect);
        }
}

static void test_parse_replaces(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;

        assert_int_equal(portset_add_range(&s, 1, 100), 0);
        assert_int_equal(ranges_parse("[200-300]", &s, NULL), 0);
        assert_set(&s, "[200-300]");
        assert_int_equal(ranges_parse("[]", &s, NULL), 0);
        assert_set(&s, "[]");
}

static void test_parse_errors(void **state)
{
        (void)state;
        /* input, a fragment the message must contain beside the input itself */
        static const struct {
                const char *text, *reason;
        } cases[] = {
            {"[100-65536]", "65536 is not a port (0-65535)"},
            {"[65536-70000]", "65536 is not a port"},
            {"[1-99999999999999999999]", "99999999999999999999 is not a port"},
            {"foo", "expected \"[begin-end, ...]\""},
            {"100", "not a range list"},
            {"100-200", "not a range list"},
            {"", "empty"},
            {"   ", "empty"},
            {"[5-1]", "5-1 is reversed"},
            {"[1-2]x", "trailing characters 'x'"},
            {"[1-2] [3-4]", "trailing characters '[3-4]'"},
            {"[1-2", "missing ']'"},
            {"[1-2,", "missing ']'"},
            {"[1-", "missing ']'"},
            {"[", "missing ']'"},
            {"[1-2,]", "empty element"},
            {"[,1-2]", "empty element"},
            {"[1-2,,3-4]", "empty element"},
            {"[-1-5]", "-1 is not a port"},
            {"[1--5]", "-5 is not a port"},
            {"[5]", "element '5' is not a range"},
            {"[5,6-7]", "element '5' is not a range"},
            {"[1 2-3]", "expected '-' after 1"},
            {"[1-2 3-4]", "expected ',' or ']'"},
            {"[a-b]", "expected a port number at 'a-b]'"},
            {"[+1-2]", "expected a port number"},
            {"[1.5-2]", "expected '-' after 1"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_portset_ struct portset s = PORTSET_INIT;
                struct errbuf e = {{0}};
                char quoted[128];

                assert_int_equal(portset_add(&s, 7), 0);
                if (ranges_parse(cases[i].text, &s, &e) != -EINVAL)
                        fail_msg("'%s' was accepted", cases[i].text);
                snprintf(quoted, sizeof(quoted), "'%s'", cases[i].text);
                assert_contains(e.msg, quoted);
                assert_contains(e.msg, cases[i].reason);
                assert_one_line(e.msg);
                /* The output is untouched on failure. */
                assert_set(&s, "[7-7]");
                /* And a NULL errbuf is fine. */
                assert_int_equal(ranges_parse(cases[i].text, &s, NULL), -EINVAL);
        }
}

static void test_parse_error_exact(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        struct errbuf e = {{0}};

        assert_int_equal(ranges_parse("[100-65536]", &s, &e), -EINVAL);
        assert_string_equal(e.msg, "invalid ranges '[100-65536]': 65536 is not a port (0-65535)");
        assert_int_equal(ranges_parse("[5-1]", &s, &e), -EINVAL);
        assert_string_equal(e.msg, "invalid ranges '[5-1]': range 5-1 is reversed (begin > end)");

        /* NULL input. */
        assert_int_equal(ranges_parse(NULL, &s, &e), -EINVAL);
        assert_contains(e.msg, "no value");

        /* Control characters in the input do not break the one-line message. */
        assert_int_equal(ranges_parse("[1-2\n]\nx", &s, &e), -EINVAL);
        assert_one_line(e.msg);
        assert_contains(e.msg, "trailing");

        /* A huge input is cut, not overflowing the buffer. */
        char big[4096];
        memset(big, '9', sizeof(big) - 1);
        big[0] = '[';
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(ranges_parse(big, &s, &e), -EINVAL);
        assert_contains(e.msg, "...");
        assert_contains(e.msg, "is not a port");
        assert_true(strlen(e.msg) < sizeof(e.msg));
}

static json_t *load(const char *text)
{
        json_error_t err;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &err);

        if (!j)
                fail_msg("bad test JSON '%s': %s", text, err.text);
        return j;
}

static void test_from_json_valid(void **state)
{
        (void)state;
        static const struct {
                const char *json, *expect;
        } cases[] = {
            {"{\"range\":[{\"begin\":31000,\"end\":32000},{\"begin\":33000,\"end\":33005}]}",
             "[31000-32000, 33000-33005]"},
            {"{\"range\":[{\"begin\":33000,\"end\":33005},{\"begin\":31000,\"end\":33001}]}",
             "[31000-33005]"},
            {"{\"range\":[]}", "[]"},
            {"{}", "[]"},
            {"{\"range\":null}", "[]"},
            {"{\"range\":[{\"begin\":\"31000\",\"end\":\"31001\"}]}", "[31000-31001]"},
            {"{\"range\":[{\"begin\":0,\"end\":0},{\"begin\":65535,\"end\":65535}]}",
             "[0-0, 65535-65535]"},
            {"{\"range\":[{\"end\":2,\"begin\":1}],\"other\":true}", "[1-2]"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_portset_ struct portset s = PORTSET_INIT;
                struct errbuf e = {{0}};
                json_t *j = load(cases[i].json);

                assert_int_equal(portset_add(&s, 9), 0);
                if (ranges_from_json(j, &s, &e) != 0)
                        fail_msg("%s rejected: %s", cases[i].json, e.msg);
                json_decref(j);
                assert_set(&s, cases[i].expect);
        }
}

static void test_from_json_errors(void **state)
{
        (void)state;
        static const struct {
                const char *json, *mention;
        } cases[] = {
            {"[]", "expected an object"},
            {"\"[1-2]\"", "expected an object"},
            {"{\"range\":{\"begin\":1,\"end\":2}}", "\"range\" is not an array"},
            {"{\"range\":[5]}", "invalid range 5"},
            {"{\"range\":[{\"end\":2}]}", "missing \"begin\""},
            {"{\"range\":[{\"begin\":2}]}", "missing \"end\""},
            {"{\"range\":[{\"begin\":100,\"end\":65536}]}", "65536 is not a port"},
            {"{\"range\":[{\"begin\":-1,\"end\":5}]}", "-1 is not a port"},
            {"{\"range\":[{\"begin\":5,\"end\":1}]}", "{\"begin\":5,\"end\":1}"},
            {"{\"range\":[{\"begin\":1.5,\"end\":2}]}", "\"begin\" is not an integer"},
            {"{\"range\":[{\"begin\":true,\"end\":2}]}", "\"begin\" is not an integer"},
            {"{\"range\":[{\"begin\":\"abc\",\"end\":2}]}", "\"begin\" is not an integer"},
            {"{\"range\":[{\"begin\":\"-1\",\"end\":2}]}", "\"begin\" is not an integer"},
            {"{\"range\":[{\"begin\":\"\",\"end\":2}]}", "\"begin\" is not an integer"},
            {"{\"range\":[{\"begin\":\"99999\",\"end\":2}]}", "99999 is not a port"},
            {"{\"range\":[{\"begin\":1,\"end\":2},{\"begin\":9,\"end\":8}]}", "reversed"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_portset_ struct portset s = PORTSET_INIT;
                struct errbuf e = {{0}};
                json_t *j = load(cases[i].json);

                assert_int_equal(portset_add(&s, 9), 0);
                int r = ranges_from_json(j, &s, &e);
                json_decref(j);
                if (r != -EINVAL)
                        fail_msg("%s: expected -EINVAL, got %d", cases[i].json, r);
                assert_contains(e.msg, cases[i].mention);
                assert_one_line(e.msg);
                assert_set(&s, "[9-9]");
        }

        _cleanup_portset_ struct portset s = PORTSET_INIT;
        assert_int_equal(ranges_from_json(NULL, &s, NULL), -EINVAL);
}

static void test_to_json(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT, back = PORTSET_INIT;
        json_t *j;
        char *text;

        j = ranges_to_json(&s);
        assert_non_null(j);
        text = json_dumps(j, JSON_COMPACT);
        assert_string_equal(text, "{\"range\":[]}");
        free(text);
        json_decref(j);

        assert_int_equal(portset_add_range(&s, 31000, 32000), 0);
        assert_int_equal(portset_add_range(&s, 33000, 33005), 0);
        assert_int_equal(portset_add(&s, 65535), 0);
        j = ranges_to_json(&s);
        assert_non_null(j);
        text = json_dumps(j, JSON_COMPACT);
        assert_string_equal(text, "{\"range\":[{\"begin\":31000,\"end\":32000},"
                                  "{\"begin\":33000,\"end\":33005},"
                                  "{\"begin\":65535,\"end\":65535}]}");
        free(text);

        /* Round trip. */
        assert_int_equal(ranges_from_json(j, &back, NULL), 0);
        assert_true(portset_equal(&s, &back));
        json_decref(j);
}

static void test_text_round_trip(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT, back = PORTSET_INIT;

        for (unsigned p = 0; p < 65536; p += 997)
                assert_int_equal(portset_add_range(&s, (uint16_t)p, (uint16_t)MIN(p + 13, 65535u)),
                                 0);
        assert_int_equal(portset_add(&s, 65535), 0);
        _cleanup_free_ char *text = portset_to_string(&s);
        assert_int_equal(ranges_parse(text, &back, NULL), 0);
        assert_true(portset_equal(&s, &back));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_valid),     cmocka_unit_test(test_parse_replaces),
            cmocka_unit_test(test_parse_errors),    cmocka_unit_test(test_parse_error_exact),
            cmocka_unit_test(test_from_json_valid), cmocka_unit_test(test_from_json_errors),
            cmocka_unit_test(test_to_json),         cmocka_unit_test(test_text_round_trip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
