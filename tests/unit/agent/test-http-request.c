/* test-http-request.c - the bytes of an answer (http-request.c): status
 * line, Content-Length always, Connection: close when the connection ends,
 * no body for HEAD, and the header rules handlers must keep (no CR/LF, none
 * of the server's own headers). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/http-private.h"

/* The answer as a string, with the Date line (the clock's) cut out. */
static char *format(int status, bool keep_alive, bool head, const struct strbuf *extra,
                    const char *ctype, const char *body)
{
        struct evbuffer *out = evbuffer_new();
        assert_non_null(out);
        http_format_response(out, status, keep_alive, head, extra, ctype, body,
                             body ? strlen(body) : 0);
        size_t len = evbuffer_get_length(out);
        char *s = calloc(1, len + 1);
        assert_non_null(s);
        evbuffer_remove(out, s, len);
        evbuffer_free(out);
        char *date = strstr(s, "Date: ");
        assert_non_null(date);
        char *eol = strstr(date, "\r\n");
        memmove(date, eol + 2, strlen(eol + 2) + 1);
        return s;
}

static void test_format(void **state)
{
        (void)state;
        char *s = format(200, true, false, NULL, "application/json", "{}");
        assert_string_equal(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                               "Content-Type: application/json\r\n\r\n{}");
        free(s);

        s = format(431, false, false, NULL, "text/plain", "too big\n");
        assert_string_equal(s, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                               "Content-Length: 8\r\nContent-Type: text/plain\r\n"
                               "Connection: close\r\n\r\ntoo big\n");
        free(s);

        /* HEAD: the length of the body that a GET would get, and no body. */
        s = format(200, true, true, NULL, "text/plain", "hello");
        assert_string_equal(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                               "Content-Type: text/plain\r\n\r\n");
        free(s);

        /* No body, no type; an unknown status still gets a reason. */
        s = format(299, true, false, NULL, NULL, NULL);
        assert_string_equal(s, "HTTP/1.1 299 OK\r\nContent-Length: 0\r\n\r\n");
        free(s);
}

static void test_add_header(void **state)
{
        struct http_conn conn = {};
        struct http_request *req = http_request_new(&conn);
        (void)state;

        assert_non_null(req);
        assert_int_equal(
            http_request_add_header(req, "WWW-Authenticate", "Basic realm=\"portiso\""), 0);
        assert_int_equal(http_request_add_header(req, "Allow", "POST"), 0);
        static const char *const bad_names[] = {
            "",           "X\r\nInjected", "X: y",         "content-length",
            "Connection", "Date",          "Content-Type", "Transfer-Encoding"};
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++)
                assert_int_equal(http_request_add_header(req, bad_names[i], "v"), -EINVAL);
        assert_int_equal(http_request_add_header(req, "X", "a\r\nInjected: 1"), -EINVAL);
        assert_int_equal(http_request_add_header(req, "X", "a\nb"), -EINVAL);

        char *s = format(401, true, false, &req->out_headers, "text/plain", "no\n");
        assert_string_equal(s, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n"
                               "Content-Type: text/plain\r\n"
                               "WWW-Authenticate: Basic realm=\"portiso\"\r\n"
                               "Allow: POST\r\n\r\nno\n");
        free(s);
        http_request_free(req);
}

static void test_target_and_headers(void **state)
{
        struct http_conn conn = {};
        struct http_request *req = http_request_new(&conn);
        const char *name, *value;
        (void)state;

        assert_non_null(req);
        strbuf_puts(&req->target, "/api/v1?x=1&y");
        assert_int_equal(http_request_finish_head(req), 0);
        assert_string_equal(http_request_path(req), "/api/v1");
        assert_string_equal(http_request_query(req), "x=1&y");

        req->headers = calloc(2, sizeof(*req->headers));
        assert_non_null(req->headers);
        req->n_headers = req->alloc_headers = 2;
        strbuf_puts(&req->headers[0].name, "X-Twice");
        strbuf_puts(&req->headers[0].value, "first");
        strbuf_puts(&req->headers[1].name, "x-twice");
        strbuf_puts(&req->headers[1].value, "second");
        assert_string_equal(http_request_header(req, "X-TWICE"), "first");
        assert_null(http_request_header(req, "Missing"));
        assert_true(http_request_header_at(req, 1, &name, &value));
        assert_string_equal(name, "x-twice");
        assert_string_equal(value, "second");
        assert_false(http_request_header_at(req, 2, &name, &value));
        http_request_free(req);

        req = http_request_new(&conn);
        assert_non_null(req);
        strbuf_puts(&req->target, "/health");
        assert_int_equal(http_request_finish_head(req), 0);
        assert_null(http_request_query(req));
        http_request_free(req);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_format),
            cmocka_unit_test(test_add_header),
            cmocka_unit_test(test_target_and_headers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
