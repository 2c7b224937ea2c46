/* test-resources.c - unit tests of the ports part of Mesos resources.
 *
 * Both the agent flag's text form and the protobuf-JSON array form: ports
 * extracted and united across roles, "no ports entry" told apart from "empty
 * ports", other resources shape-checked, and each error a one-line message
 * naming the offending entry, with the outputs untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "assert-ports.h"

#include "ports/resources.h"

struct valid_case {
        const char *text;
        bool has_ports;
        const char *ports;
};

static void check_valid(const struct valid_case *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_portset_ struct portset s = PORTSET_INIT;
                struct errbuf e = {{0}};
                bool has = !cases[i].has_ports;

                /* Stale content must be replaced. */
                assert_int_equal(portset_add(&s, 1), 0);
                if (resources_parse_ports(cases[i].text, &s, &has, &e) != 0)
                        fail_msg("'%s' rejected: %s", cases[i].text, e.msg);
                if (has != cases[i].has_ports)
                        fail_msg("'%s': has_ports %d", cases[i].text, has);
                assert_set(&s, cases[i].ports);
        }
}

static void test_text_valid(void **state)
{
        (void)state;
        static const struct valid_case cases[] = {
            {"cpus:1;mem:32;ports:[31000-32000]", true, "[31000-32000]"},
            {"ports:[31000-32000, 33000-33005]", true, "[31000-32000, 33000-33005]"},
            {"ports(*):[31000-32000]", true, "[31000-32000]"},
            {"ports(*):[31000-31005];ports(role1):[31003-31010];ports:[40000-40000]", true,
             "[31000-31010, 40000-40000]"},
            {" cpus : 1.5 ; ports ( * ) : [ 1 - 2 ] ; ", true, "[1-2]"},
            {"cpus:2;mem:1024;disk:4096", false, "[]"},
            {"", false, "[]"},
            {"   ", false, "[]"},
            {";;", false, "[]"},
            {"ports:[]", true, "[]"},
            {"cpus:1;ports(*):[]", true, "[]"},
            {"cpus:1;ports:[31000-32000];", true, "[31000-32000]"},
            {"disks:{a,b};cpus:0.5;gpus:0", false, "[]"},
            {"ports(role1,principal1):[1-2]", true, "[1-2]"},
            {"ephemeral_ports:[32768-57344];ports:[5-6]", true, "[5-6]"},
            {"cpus(role-1/sub.x):1", false, "[]"},
            {"ports:[0-0];ports:[65535-65535]", true, "[0-0, 65535-65535]"},
        };

        check_valid(cases, ELEMENTSOF(cases));
}

struct error_case {
        const char *text, *mention, *reason;
};

static void check_errors(const struct error_case *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_portset_ struct portset s = PORTSET_INIT;
                struct errbuf e = {{0}};
                bool has = true;

                assert_int_equal(portset_add(&s, 7), 0);
                int r = resources_parse_ports(cases[i].text, &s, &has, &e);
                if (r != -EINVAL)
                        fail_msg("'%s': expected -EINVAL, got %d", cases[i].text, r);
                assert_contains(e.msg, cases[i].mention);
                assert_contains(e.msg, cases[i].reason);
                assert_null(strchr(e.msg, '\n'));
                /* Outputs untouched. */
                assert_set(&s, "[7-7]");
                assert_true(has);
                assert_int_equal(resources_parse_ports(cases[i].text, &s, &has, NULL), -EINVAL);
        }
}

static void test_text_errors(void **state)
{
        (void)state;
        static const struct error_case cases[] = {
            {"cpus", "'cpus'", "expected 'name:value'"},
            {"cpus:1;ports", "'ports'", "expected 'name:value'"},
            {"ports:31000", "'ports:31000'", "ports must be ranges"},
            {"ports:{a,b}", "'ports:{a,b}'", "ports must be ranges"},
            {"ports:[100-65536]", "'[100-65536]'", "65536 is not a port (0-65535)"},
            {"ports(*):[5-1]", "'ports(*)'", "5-1 is reversed"},
            {"cpus:1;ports:foo", "'ports:foo'", "ports must be ranges"},
            {"ports:[1-2]x", "'[1-2]x'", "trailing characters"},
            {"cpus:abc", "'cpus:abc'", "expected a non-negative number"},
            {"cpus:-1", "'cpus:-1'", "expected a non-negative number"},
            {"cpus:1x", "'cpus:1x'", "expected a non-negative number"},
            {"cpus:inf", "'cpus:inf'", "expected a non-negative number"},
            {":1", "':1'", "missing name"},
            {"cpus:", "'cpus:'", "missing value"},
            {"ports():[1-2]", "'ports():[1-2]'", "empty role"},
            {"ports(*:[1-2]", "'ports(*:[1-2]'", "missing ')'"},
            {"ports(*)x:[1-2]", "'ports(*)x:[1-2]'", "expected ':' after ')'"},
            {"ports(*)", "'ports(*)'", "expected 'name:value'"},
            {"disks:{a,b", "'disks:{a,b'", "unbalanced '{'"},
            {"other:[1-2", "'other:[1-2'", "unbalanced '['"},
            {"other:[", "'other:['", "unbalanced '['"},
            {"cp us:1", "'cp us:1'", "bad name"},
        };

        check_errors(cases, ELEMENTSOF(cases));

        struct errbuf e = {{0}};
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        bool has;
        assert_int_equal(resources_parse_ports(NULL, &s, &has, &e), -EINVAL);
        assert_contains(e.msg, "no value");
}

static void test_json_valid(void **state)
{
        (void)state;
        static const struct valid_case cases[] = {
            {"[{\"name\":\"ports\",\"type\":\"RANGES\","
             "\"ranges\":{\"range\":[{\"begin\":31000,\"end\":32000}]}},"
             " {\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}]",
             true, "[31000-32000]"},
            {"  \n[{\"name\":\"ports\",\"type\":\"RANGES\",\"role\":\"*\","
             "\"ranges\":{\"range\":[{\"begin\":1,\"end\":5}]}},"
             "{\"name\":\"ports\",\"type\":\"RANGES\",\"role\":\"r1\","
             "\"ranges\":{\"range\":[{\"begin\":6,\"end\":9}]}}]",
             true, "[1-9]"},
            {"[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[]}}]", true, "[]"},
            {"[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{}}]", true, "[]"},
            {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.5}},"
             "{\"name\":\"disks\",\"type\":\"SET\",\"set\":{\"item\":[\"a\"]}},"
             "{\"name\":\"eph\",\"type\":\"RANGES\",\"ranges\":{\"range\":[]}}]",
             false, "[]"},
            {"[]", false, "[]"},
        };

        check_valid(cases, ELEMENTSOF(cases));
}

static void test_json_errors(void **state)
{
        (void)state;
        static const struct error_case cases[] = {
            {"[{", "invalid resources JSON", "'[{'"},
            {"[1-2]", "invalid resources JSON", "'[1-2]'"},
            {"[5]", "invalid resource 5", "expected an object"},
            {"[{\"type\":\"SCALAR\"}]", "{\"type\":\"SCALAR\"}", "missing \"name\""},
            {"[{\"name\":\"\",\"type\":\"SCALAR\"}]", "\"name\":\"\"", "missing \"name\""},
            {"[{\"name\":\"ports\"}]", "{\"name\":\"ports\"}", "missing \"type\""},
            {"[{\"name\":\"ports\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}]",
             "\"type\":\"SCALAR\"", "ports must have type RANGES, not SCALAR"},
            {"[{\"name\":\"ports\",\"type\":\"RANGES\"}]", "\"name\":\"ports\"",
             "missing \"ranges\""},
            {"[{\"name\":\"ports\",\"type\":\"RANGES\","
             "\"ranges\":{\"range\":[{\"begin\":100,\"end\":65536}]}}]",
             "invalid resource 'ports'", "65536 is not a port"},
            {"[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":[]}]", "invalid resource 'ports'",
             "expected an object"},
            {"[{\"name\":\"cpus\",\"type\":\"SCALAR\"}]", "'cpus'", "SCALAR needs"},
            {"[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}}]", "'cpus'",
             "N >= 0"},
            {"[{\"name\":\"cpus\",\"type\":\"FOO\"}]", "'cpus'", "unknown type 'FOO'"},
            {"[{\"name\":\"d\",\"type\":\"SET\"}]", "'d'", "SET needs"},
            {"[{\"name\":\"e\",\"type\":\"RANGES\"}]", "'e'", "RANGES needs"},
            {"[{\"name\":\"ports\",\"name\":\"cpus\"}]", "invalid resources JSON", "duplicate"},
        };

        check_errors(cases, ELEMENTSOF(cases));
}

static void test_from_json_direct(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        struct errbuf e = {{0}};
        bool has = false;
        json_t *j;

        j = json_pack("[{s:s,s:s,s:{s:[{s:i,s:i}]}}]", "name", "ports", "type", "RANGES", "ranges",
                      "range", "begin", 31005, "end", 31006);
        assert_non_null(j);
        assert_int_equal(resources_ports_from_json(j, &s, &has, &e), 0);
        json_decref(j);
        assert_true(has);
        assert_set(&s, "[31005-31006]");

        j = json_pack("{s:s}", "name", "ports");
        assert_int_equal(resources_ports_from_json(j, &s, &has, &e), -EINVAL);
        json_decref(j);
        assert_contains(e.msg, "expected a JSON array");
        assert_int_equal(resources_ports_from_json(NULL, &s, &has, NULL), -EINVAL);
        assert_set(&s, "[31005-31006]");
}

static void test_to_json(void **state)
{
        (void)state;
        _cleanup_portset_ struct portset s = PORTSET_INIT, back = PORTSET_INIT;
        bool has = false;
        json_t *j;
        char *text;

        assert_int_equal(portset_add(&s, 31005), 0);
        j = resources_ports_to_json(&s);
        assert_non_null(j);
        text = json_dumps(j, JSON_COMPACT);
        assert_string_equal(text, "[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":"
                                  "{\"range\":[{\"begin\":31005,\"end\":31005}]}}]");

        /* What the agent reports in a limitation parses back. */
        assert_int_equal(resources_parse_ports(text, &back, &has, NULL), 0);
        assert_true(has);
        assert_true(portset_equal(&s, &back));
        free(text);
        json_decref(j);

        portset_clear(&s);
        j = resources_ports_to_json(&s);
        text = json_dumps(j, JSON_COMPACT);
        assert_string_equal(text,
                            "[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[]}}]");
        assert_int_equal(resources_ports_from_json(j, &back, &has, NULL), 0);
        assert_true(has);
        assert_true(portset_is_empty(&back));
        free(text);
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_text_valid),       cmocka_unit_test(test_text_errors),
            cmocka_unit_test(test_json_valid),       cmocka_unit_test(test_json_errors),
            cmocka_unit_test(test_from_json_direct), cmocka_unit_test(test_to_json),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
