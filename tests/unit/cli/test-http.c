/* test-http.c - the client's agent addresses: HOST:PORT forms and unix
 * socket paths. (libcurl parses the answers.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/http.h"

static void test_parse_address(void **state)
{
        char *host = NULL;
        uint16_t port = 0;
        struct errbuf e = {{0}};
        (void)state;

        assert_int_equal(http_parse_address("127.0.0.1:5051", &host, &port, NULL), 0);
        assert_string_equal(host, "127.0.0.1");
        assert_int_equal(port, 5051);
        free(host);

        assert_int_equal(http_parse_address("[::1]:8080", &host, &port, NULL), 0);
        assert_string_equal(host, "::1");
        assert_int_equal(port, 8080);
        free(host);

        assert_int_equal(http_parse_address("localhost", &host, &port, NULL), 0);
        assert_string_equal(host, "localhost");
        assert_int_equal(port, 5051);
        free(host);

        assert_true(http_parse_address("host:99999", &host, &port, &e) < 0);
        assert_non_null(strstr(e.msg, "host:99999"));
        assert_true(http_parse_address("host:", &host, &port, &e) < 0);
        assert_true(http_parse_address("", &host, &port, &e) < 0);
}

static void test_agent_parse(void **state)
{
        struct http_agent a = {};
        struct errbuf e = {{0}};
        (void)state;

        assert_int_equal(http_agent_parse("/run/portiso/api.sock", &a, &e), 0);
        assert_string_equal(a.unix_path, "/run/portiso/api.sock");
        assert_null(a.host);
        http_agent_done(&a);

        assert_int_equal(http_agent_parse("127.0.0.1:5052", &a, &e), 0);
        assert_null(a.unix_path);
        assert_string_equal(a.host, "127.0.0.1");
        assert_int_equal(a.port, 5052);
        http_agent_done(&a);

        /* A relative path is not a socket: it reads as a host name. */
        assert_int_equal(http_agent_parse("run/api.sock", &a, &e), 0);
        assert_null(a.unix_path);
        http_agent_done(&a);
        assert_true(http_agent_parse("", &a, &e) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_agent_parse),
            cmocka_unit_test(test_parse_address),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
