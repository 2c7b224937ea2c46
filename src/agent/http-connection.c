/* http-connection.c - one HTTP/1.1 connection: read, parse, hand requests
 * over one at a time, write the answers, close when told or when slow.
 *
 * Parsing is node's http_parser (libhttp-parser): it refuses NUL and bare CR
 * in the head, duplicate or conflicting Content-Length, Content-Length with
 * chunked, and heads over the size limit, so none of that reaches a handler.
 * The parser is paused at the end of every request: the rest of the input
 * (pipelined requests, or a half-close after them) waits in `in` until the
 * answer is queued, so answers go out in request order and a client that
 * half-closes still gets every answer before the server closes.
 *
 * One timer per connection enforces the phase it is in: idle (no byte of a
 * request yet), headers (first byte to last header), body; a handler's time
 * is not limited (long polls), and writing is limited by the idle timeout
 * between progress. A request that will not be read (an error, a body over
 * the limit) is answered at once, then the connection stops reading the
 * request, half-closes and discards input for a moment ("lingering close")
 * so that the client sees the answer instead of a reset. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/http-private.h"
#include "basic/array.h"
#include "basic/log.h"

#define READ_CHUNK 65536
/* Stop parsing pipelined requests while this much of the answers is unsent. */
#define OUT_HIGH_WATER (256 * 1024)
/* Stop reading while this much input waits (behind a pending request, or
 * behind answers the client does not read). */
#define IN_HIGH_WATER (256 * 1024)
#define LINGER_NS (2ULL * 1000 * 1000 * 1000)

static void conn_process(struct http_conn *c);

static struct timeval tv_from_ns(uint64_t ns)
{
        return (struct timeval){.tv_sec = ns / 1000000000ULL,
                                .tv_usec = (ns % 1000000000ULL) / 1000};
}

static void conn_arm(struct http_conn *c, uint64_t ns)
{
        struct timeval tv = tv_from_ns(ns);
        event_add(c->timer, &tv);
}

static void conn_set_phase(struct http_conn *c, enum http_phase phase)
{
        const struct http_server_config *cfg = &c->server->cfg;

        c->phase = phase;
        switch (phase) {
        case HTTP_PHASE_IDLE:
                return conn_arm(c, cfg->idle_timeout_ns);
        case HTTP_PHASE_HEADERS:
                return conn_arm(c, cfg->header_timeout_ns);
        case HTTP_PHASE_BODY:
                return conn_arm(c, cfg->body_timeout_ns);
        case HTTP_PHASE_HANDLING:
                event_del(c->timer);
                return;
        case HTTP_PHASE_LINGER:
                return conn_arm(c, MIN(LINGER_NS, cfg->idle_timeout_ns));
        }
}

static void conn_set_reading(struct http_conn *c, bool on)
{
        if (on == c->reading || (on && c->read_eof))
                return;
        c->reading = on;
        if (on)
                event_add(c->read_ev, NULL);
        else
                event_del(c->read_ev);
}

void http_conn_free(struct http_conn *c)
{
        if (!c)
                return;
        struct http_request *req = TAKE_PTR(c->req);
        if (req && req->deferred && req->gone)
                req->gone(req, req->gone_userdata);
        http_request_free(req);
        LIST_REMOVE(c, link);
        if (c->read_ev)
                event_free(c->read_ev);
        if (c->write_ev)
                event_free(c->write_ev);
        if (c->timer)
                event_free(c->timer);
        if (c->in)
                evbuffer_free(c->in);
        if (c->out)
                evbuffer_free(c->out);
        if (c->fd >= 0)
                close(c->fd);
        struct http_server *s = c->server;
        free(c);
        http_server_conn_closed(s);
}

/* Everything is written and nothing more will be answered: close, after a
 * lingering read if the client may still be sending. */
static void conn_finish(struct http_conn *c)
{
        if (c->read_eof || c->phase == HTTP_PHASE_LINGER)
                return http_conn_free(c);
        (void)shutdown(c->fd, SHUT_WR);
        evbuffer_drain(c->in, evbuffer_get_length(c->in));
        conn_set_phase(c, HTTP_PHASE_LINGER);
        conn_set_reading(c, true);
}

static void conn_flush(struct http_conn *c)
{
        if (evbuffer_get_length(c->out) > 0)
                event_active(c->write_ev, EV_WRITE, 0);
        else if (c->closing)
                conn_finish(c);
}

void http_conn_send_error(struct http_conn *c, int status, const char *text)
{
        char line[256];

        snprintf(line, sizeof(line), "%s\n", text);
        size_t len = strlen(line);
        http_format_response(c->out, status, false, false, NULL, "text/plain", line, len);
        http_request_free(TAKE_PTR(c->req));
        c->closing = true;
        conn_set_reading(c, false);
        event_del(c->timer);
        conn_flush(c);
}

void http_conn_answered(struct http_conn *c, bool close)
{
        if (close)
                c->closing = true;
        http_parser_pause(&c->parser, 0);
        if (c->dispatching)
                return; /* conn_process goes on when the handler returns */
        /* Later, from the loop: the caller may still be unwinding. */
        event_active(c->write_ev, EV_WRITE, 0);
}

/* The client left while its request was pending. */
static void conn_gone(struct http_conn *c)
{
        if (c->req && c->req->deferred)
                log_debug("API client %s went away before its answer", c->peer.text);
        http_conn_free(c);
}

static void conn_dispatch(struct http_conn *c)
{
        struct http_request *req = c->req;

        conn_set_phase(c, HTTP_PHASE_HANDLING);
        c->dispatching = true;
        c->server->handler(req, c->server->userdata);
        c->dispatching = false;
        if (c->req == req && !req->deferred) {
                log_error("The API handler left %s %s unanswered", req->method,
                          strbuf_str(&req->target));
                static const char text[] = "the agent did not answer this request\n";
                http_request_reply(req, 500, "text/plain", text, sizeof(text) - 1);
        }
}

static int status_for_parse_error(enum http_errno err)
{
        switch (err) {
        case HPE_HEADER_OVERFLOW:
                return 431;
        case HPE_INVALID_VERSION:
                return 505;
        default:
                return 400;
        }
}

/* Feed buffered input to the parser until a request is complete, the input
 * runs out, or the parser refuses. */
static void conn_parse(struct http_conn *c)
{
        while (evbuffer_get_length(c->in) > 0) {
                struct evbuffer_iovec v;
                if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1)
                        return;
                size_t n =
                    http_parser_execute(&c->parser, &c->server->settings, v.iov_base, v.iov_len);
                enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
                evbuffer_drain(c->in, n);
                if (err == HPE_PAUSED) {
                        /* A whole request: hand it over. */
                        return conn_dispatch(c);
                }
                if (err != HPE_OK) {
                        int status = c->error_status ?: status_for_parse_error(err);
                        char text[160];
                        if (status == 413)
                                snprintf(text, sizeof(text),
                                         "request body too large: the limit is %zu bytes",
                                         c->server->cfg.max_body_size);
                        else if (status == 431)
                                snprintf(text, sizeof(text),
                                         "request header too large: the limit is %zu bytes",
                                         c->server->cfg.max_header_size);
                        else if (status == 417)
                                snprintf(text, sizeof(text), "unsupported Expect header");
                        else
                                snprintf(text, sizeof(text), "malformed HTTP request: %s",
                                         http_errno_description(err));
                        log_debug("API client %s: %s", c->peer.text, text);
                        return http_conn_send_error(c, status, text);
                }
        }
}

static void conn_process(struct http_conn *c)
{
        for (;;) {
                if (c->closing)
                        return conn_flush(c);
                if (c->req && c->phase == HTTP_PHASE_HANDLING) {
                        /* Deferred: keep reading (to see the client leave), up
                         * to a bound on what waits behind the request. */
                        conn_set_reading(c, evbuffer_get_length(c->in) < IN_HIGH_WATER);
                        return conn_flush(c);
                }
                if (evbuffer_get_length(c->out) > OUT_HIGH_WATER) {
                        /* The client does not read its answers: stop taking
                         * more requests from it (on_writable comes back). */
                        conn_set_reading(c, evbuffer_get_length(c->in) < IN_HIGH_WATER);
                        return conn_flush(c);
                }
                if (evbuffer_get_length(c->in) == 0) {
                        if (c->read_eof && c->req)
                                return http_conn_free(c); /* EOF in mid-request */
                        if (c->read_eof) {
                                /* Every request sent before the EOF is answered. */
                                c->closing = true;
                                return conn_flush(c);
                        }
                        if (!c->req && c->phase != HTTP_PHASE_IDLE)
                                conn_set_phase(c, HTTP_PHASE_IDLE);
                        conn_set_reading(c, true);
                        return conn_flush(c);
                }
                /* A request is answered at once (the loop goes on with the
                 * next one), deferred, refused, or the input runs out. */
                conn_parse(c);
        }
}

static void on_readable(evutil_socket_t fd, short what, void *userdata)
{
        struct http_conn *c = userdata;
        (void)what;

        int n = evbuffer_read(c->in, fd, READ_CHUNK);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                log_debug("API client %s: read failed: %m", c->peer.text);
                return conn_gone(c);
        }
        if (c->phase == HTTP_PHASE_LINGER) {
                evbuffer_drain(c->in, evbuffer_get_length(c->in));
                if (n == 0)
                        http_conn_free(c);
                return;
        }
        if (n == 0) {
                c->read_eof = true;
                conn_set_reading(c, false);
                if (c->req && c->req->deferred)
                        return conn_gone(c);
        }
        if (c->closing) {
                evbuffer_drain(c->in, evbuffer_get_length(c->in));
                return;
        }
        if (c->req && c->phase == HTTP_PHASE_HANDLING) {
                conn_set_reading(c, evbuffer_get_length(c->in) < IN_HIGH_WATER);
                return;
        }
        conn_process(c);
}

static void on_writable(evutil_socket_t fd, short what, void *userdata)
{
        struct http_conn *c = userdata;
        (void)what;

        if (evbuffer_get_length(c->out) > 0) {
                int n = evbuffer_write(c->out, fd);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        log_debug("API client %s: write failed: %m", c->peer.text);
                        return http_conn_free(c);
                }
                if (evbuffer_get_length(c->out) > 0) {
                        /* Wait for room. The idle timeout, restarted only
                         * by progress, bounds a client that stops reading. */
                        event_add(c->write_ev, NULL);
                        if (!c->req && (n > 0 || !evtimer_pending(c->timer, NULL)))
                                conn_arm(c, c->server->cfg.idle_timeout_ns);
                        return;
                }
        }
        event_del(c->write_ev);
        if (c->closing)
                return conn_finish(c);
        conn_process(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *userdata)
{
        struct http_conn *c = userdata;
        static const char *const names[] = {
            [HTTP_PHASE_IDLE] = "idle",     [HTTP_PHASE_HEADERS] = "header",
            [HTTP_PHASE_BODY] = "body",     [HTTP_PHASE_HANDLING] = "handler",
            [HTTP_PHASE_LINGER] = "linger",
        };
        (void)fd, (void)what;

        log_debug("Closing API connection from %s: %s timeout", c->peer.text, names[c->phase]);
        http_conn_free(c);
}

/* -- parser callbacks --------------------------------------------------- */

static struct http_conn *conn_of(http_parser *p)
{
        return p->data;
}

static int on_message_begin(http_parser *p)
{
        struct http_conn *c = conn_of(p);

        http_request_free(c->req);
        c->req = http_request_new(c);
        if (!c->req)
                return -1;
        c->header_value_last = false;
        conn_set_phase(c, HTTP_PHASE_HEADERS);
        return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
        struct http_conn *c = conn_of(p);

        strbuf_add(&c->req->target, at, len);
        return c->req->target.oom ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
        struct http_request *req = conn_of(p)->req;
        struct http_conn *c = conn_of(p);

        if (req->n_headers == 0 || c->header_value_last) {
                if (ARRAY_PUSH(req->headers, req->n_headers, req->alloc_headers,
                               (struct http_header){}) < 0)
                        return -1;
                c->header_value_last = false;
        }
        struct strbuf *name = &req->headers[req->n_headers - 1].name;
        strbuf_add(name, at, len);
        return name->oom ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
        struct http_request *req = conn_of(p)->req;
        struct http_conn *c = conn_of(p);

        if (req->n_headers == 0)
                return -1;
        c->header_value_last = true;
        struct strbuf *value = &req->headers[req->n_headers - 1].value;
        strbuf_add(value, at, len);
        return value->oom ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = c->req;
        const struct http_server_config *cfg = &c->server->cfg;

        req->method = http_method_str(p->method);
        req->head = p->method == HTTP_HEAD;
        req->keep_alive = http_should_keep_alive(p);
        if (http_request_finish_head(req) < 0)
                return -1;

        /* Content-Length is ULLONG_MAX when absent (chunked or no body). */
        if (p->content_length != ULLONG_MAX && p->content_length > cfg->max_body_size) {
                c->error_status = 413;
                return -1;
        }
        const char *expect = http_request_header(req, "Expect");
        if (expect) {
                if (strcasecmp(expect, "100-continue") != 0) {
                        c->error_status = 417;
                        return -1;
                }
                if (p->http_major == 1 && p->http_minor >= 1)
                        evbuffer_add_printf(c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        }
        conn_set_phase(c, HTTP_PHASE_BODY);
        return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
        struct http_conn *c = conn_of(p);
        struct http_request *req = c->req;

        /* A chunked body has no length up front: count as it comes. */
        if (req->body.len + len > c->server->cfg.max_body_size) {
                c->error_status = 413;
                return -1;
        }
        strbuf_add(&req->body, at, len);
        return req->body.oom ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
        /* Stop right after this request: the next one waits its turn. */
        http_parser_pause(p, 1);
        return 0;
}

void http_conn_settings(http_parser_settings *s)
{
        *s = (http_parser_settings){
            .on_message_begin = on_message_begin,
            .on_url = on_url,
            .on_header_field = on_header_field,
            .on_header_value = on_header_value,
            .on_headers_complete = on_headers_complete,
            .on_body = on_body,
            .on_message_complete = on_message_complete,
        };
}

int http_conn_new(struct http_server *s, int fd, const struct http_peer *peer)
{
        struct http_conn *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        *c = (struct http_conn){.server = s, .fd = fd, .peer = *peer};
        LIST_INSERT_HEAD(&s->conns, c, link);
        s->n_conns++;
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
        c->in = evbuffer_new();
        c->out = evbuffer_new();
        c->read_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
        c->write_ev = event_new(s->base, fd, EV_WRITE, on_writable, c);
        c->timer = evtimer_new(s->base, on_timeout, c);
        if (!c->in || !c->out || !c->read_ev || !c->write_ev || !c->timer) {
                http_conn_free(c);
                return -ENOMEM;
        }
        conn_set_phase(c, HTTP_PHASE_IDLE);
        conn_set_reading(c, true);
        return 0;
}
