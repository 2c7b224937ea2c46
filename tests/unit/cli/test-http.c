/* test-http.c - the client's HTTP/1.1 response parser and address parsing.
 *
 * evhttp answers with Content-Length, so the integration tests never send
 * the parser a chunked body or a malformed reply; these tests do. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/http.h"

/* Parse a literal response (copied: the parser works in place). */
static int parse(const char *text, struct http_response *ret, struct errbuf *e)
{
        size_t len = strlen(text);
        char *raw = strdup(text);
        int r;

        assert_non_null(raw);
        r = http_parse_response(raw, len, ret, e);
        free(raw);
        return r;
}

static void test_content_length_body(void **state)
{
        struct http_response r = {0};
        (void)state;

        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 2\r\n\r\n{}trailing",
                               &r, NULL),
                         0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.reason, "OK");
        assert_string_equal(r.content_type, "application/json");
        assert_int_equal(r.body_len, 2);
        assert_string_equal(r.body, "{}");
        http_response_done(&r);
}

static void test_chunked_body(void **state)
{
        struct http_response r = {0};
        (void)state;

        assert_int_equal(parse("HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n",
                               &r, NULL),
                         0);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.reason, "Not Found");
        assert_null(r.content_type);
        assert_int_equal(r.body_len, 16);
        assert_string_equal(r.body, "hello 0123456789");
        http_response_done(&r);
}

static void test_body_to_eof_without_length(void **state)
{
        struct http_response r = {0};
        (void)state;

        assert_int_equal(parse("HTTP/1.0 503 Service Unavailable\r\n\r\nbusy\n", &r, NULL), 0);
        assert_int_equal(r.status, 503);
        assert_string_equal(r.body, "busy\n");
        http_response_done(&r);
}

static void test_malformed_responses(void **state)
{
        static const char *const bad[] = {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", /* no end of headers */
            "SMTP ready\r\n\r\n",                       /* no status line */
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
        };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct http_response r = {0};
                struct errbuf e = {{0}};

                assert_int_equal(parse(bad[i], &r, &e), -EBADMSG);
                assert_non_null(strstr(e.msg, "the agent"));
                assert_null(strchr(e.msg, '\n'));
        }
}

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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_content_length_body),
            cmocka_unit_test(test_chunked_body),
            cmocka_unit_test(test_body_to_eof_without_length),
            cmocka_unit_test(test_malformed_responses),
            cmocka_unit_test(test_parse_address),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
