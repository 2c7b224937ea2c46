/* http-request.c - one request as handlers see it, and the bytes of its
 * answer; see http-server.h.
 *
 * Everything a request holds was copied out of the parser's callbacks, so it
 * stays valid while the connection reads on (a deferred answer). Answers
 * always carry Content-Length: the server never streams, and a client can
 * tell where one pipelined answer ends and the next begins. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/http-private.h"

struct http_request *http_request_new(struct http_conn *c)
{
        struct http_request *req = calloc(1, sizeof(*req));
        if (req)
                req->conn = c;
        return req;
}

void http_request_free(struct http_request *req)
{
        if (!req)
                return;
        strbuf_release(&req->target);
        for (size_t i = 0; i < req->n_headers; i++) {
                strbuf_release(&req->headers[i].name);
                strbuf_release(&req->headers[i].value);
        }
        free(req->headers);
        free(req->path);
        free(req->query);
        strbuf_release(&req->body);
        strbuf_release(&req->out_headers);
        free(req);
}

int http_request_finish_head(struct http_request *req)
{
        const char *t = strbuf_str(&req->target);
        const char *q = strchr(t, '?');

        req->path = q ? strndup(t, q - t) : strdup(t);
        if (q)
                req->query = strdup(q + 1);
        return !req->path || (q && !req->query) ? -ENOMEM : 0;
}

const char *http_request_method(const struct http_request *req)
{
        return req->method;
}

const char *http_request_path(const struct http_request *req)
{
        return req->path;
}

const char *http_request_query(const struct http_request *req)
{
        return req->query;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(strbuf_str(&req->headers[i].name), name) == 0)
                        return strbuf_str(&req->headers[i].value);
        return NULL;
}

bool http_request_header_at(const struct http_request *req, size_t i, const char **ret_name,
                            const char **ret_value)
{
        if (i >= req->n_headers)
                return false;
        *ret_name = strbuf_str(&req->headers[i].name);
        *ret_value = strbuf_str(&req->headers[i].value);
        return true;
}

const char *http_request_body(const struct http_request *req, size_t *ret_len)
{
        *ret_len = req->body.len;
        return strbuf_str(&req->body);
}

const struct http_peer *http_request_peer(const struct http_request *req)
{
        return &req->conn->peer;
}

static bool has_crlf(const char *s)
{
        return strpbrk(s, "\r\n") != NULL;
}

int http_request_add_header(struct http_request *req, const char *name, const char *value)
{
        static const char *const reserved[] = {"Content-Type", "Content-Length", "Date",
                                               "Connection", "Transfer-Encoding"};

        if (!*name || has_crlf(name) || strchr(name, ':') || has_crlf(value))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (strcasecmp(name, reserved[i]) == 0)
                        return -EINVAL;
        strbuf_addf(&req->out_headers, "%s: %s\r\n", name, value);
        return req->out_headers.oom ? -ENOMEM : 0;
}

void http_request_reply(struct http_request *req, int status, const char *content_type,
                        const void *body, size_t len)
{
        struct http_conn *c = req->conn;

        http_format_response(c->out, status, req->keep_alive, req->head, &req->out_headers,
                             content_type, body, len);
        bool close = !req->keep_alive;
        c->req = NULL;
        http_request_free(req);
        http_conn_answered(c, close);
}

void http_request_defer(struct http_request *req, http_gone gone, void *userdata)
{
        req->deferred = true;
        req->gone = gone;
        req->gone_userdata = userdata;
}

static const char *reason_phrase(int status)
{
        static const struct {
                int status;
                const char *reason;
        } table[] = {
            {100, "Continue"},
            {200, "OK"},
            {201, "Created"},
            {202, "Accepted"},
            {204, "No Content"},
            {400, "Bad Request"},
            {401, "Unauthorized"},
            {403, "Forbidden"},
            {404, "Not Found"},
            {405, "Method Not Allowed"},
            {406, "Not Acceptable"},
            {408, "Request Timeout"},
            {409, "Conflict"},
            {411, "Length Required"},
            {413, "Content Too Large"},
            {415, "Unsupported Media Type"},
            {417, "Expectation Failed"},
            {431, "Request Header Fields Too Large"},
            {500, "Internal Server Error"},
            {501, "Not Implemented"},
            {503, "Service Unavailable"},
            {505, "HTTP Version Not Supported"},
            {507, "Insufficient Storage"},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].status == status)
                        return table[i].reason;
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

void http_format_response(struct evbuffer *out, int status, bool keep_alive, bool head,
                          const struct strbuf *extra_headers, const char *content_type,
                          const void *body, size_t len)
{
        char date[64];
        struct tm tm;
        time_t now = time(NULL);

        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
        evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Length: %zu\r\n", status,
                            reason_phrase(status), date, len);
        if (content_type)
                evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
        if (!keep_alive)
                evbuffer_add_printf(out, "Connection: close\r\n");
        if (extra_headers && extra_headers->len)
                evbuffer_add(out, extra_headers->buf, extra_headers->len);
        evbuffer_add(out, "\r\n", 2);
        if (!head && len)
                evbuffer_add(out, body, len);
}
