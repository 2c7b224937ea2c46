/* http-private.h - what the HTTP server's files share: the server, one
 * connection, one request. http-server.c owns listeners and the connection
 * count, http-connection.c one connection's parsing, timers and I/O,
 * http-request.c the request accessors and the answer's bytes. Not a public
 * interface: handlers see http-server.h only. */
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>
#include <http_parser.h>
#include <sys/queue.h>

#include "agent/http-server.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"

struct http_header {
        struct strbuf name;
        struct strbuf value;
};

struct http_request {
        struct http_conn *conn;
        const char *method;   /* static string from http_parser */
        struct strbuf target; /* as sent: path?query */
        char *path;
        char *query;
        struct http_header *headers;
        size_t n_headers, alloc_headers;
        struct strbuf body;
        struct strbuf out_headers; /* "Name: value\r\n" lines for the answer */
        bool head;                 /* HEAD: answer without the body */
        bool keep_alive;
        bool deferred;
        http_gone gone;
        void *gone_userdata;
};

enum http_phase {
        HTTP_PHASE_IDLE,     /* waiting for a request's first byte */
        HTTP_PHASE_HEADERS,  /* reading the request line and headers */
        HTTP_PHASE_BODY,     /* reading the body */
        HTTP_PHASE_HANDLING, /* the handler has the request */
        HTTP_PHASE_LINGER,   /* answered an error: discard input until EOF */
};

struct http_conn {
        struct http_server *server;
        LIST_ENTRY(http_conn) link;
        int fd;
        struct http_peer peer;
        http_parser parser;
        struct evbuffer *in, *out;
        struct event *read_ev, *write_ev, *timer;
        enum http_phase phase;
        struct http_request *req; /* being read or handled */
        int error_status;         /* set by a parser callback that refuses */
        bool header_value_last;   /* parser callbacks: a value ended the last header */
        bool read_eof;
        bool reading; /* read_ev is armed */
        bool closing; /* close once `out` is written */
        bool dispatching;
};

struct http_server {
        struct event_base *base;
        struct http_server_config cfg;
        http_handler handler;
        void *userdata;
        struct http_listener *listeners[2];
        size_t n_listeners;
        LIST_HEAD(, http_conn) conns;
        size_t n_conns;
        struct event *backoff;       /* accept() failed for lack of fds: retry later */
        struct backoff accept_delay; /* microseconds */
        bool at_cap;
        uint64_t last_accept_log_ns;
        unsigned accept_failures; /* since the last log line */
        uint64_t last_cap_log_ns;
        http_parser_settings settings;
};

/* http-connection.c: take over an accepted socket. -ENOMEM closes it. */
int http_conn_new(struct http_server *s, int fd, const struct http_peer *peer);
/* Close now; a deferred request gets its `gone`. */
void http_conn_free(struct http_conn *c);
/* The parser callbacks, for the server's shared settings. */
void http_conn_settings(http_parser_settings *s);
/* The request of c was answered into c->out: write and go on. */
void http_conn_answered(struct http_conn *c, bool close);
/* Write a whole answer without a request (errors found while parsing). */
void http_conn_send_error(struct http_conn *c, int status, const char *text);

/* http-server.c: a connection is gone (for the cap). */
void http_server_conn_closed(struct http_server *s);

/* http-request.c */
struct http_request *http_request_new(struct http_conn *c);
void http_request_free(struct http_request *req);
/* Split the target into path and query once the request line is complete. */
int http_request_finish_head(struct http_request *req);
/* Append a complete answer to out. */
void http_format_response(struct evbuffer *out, int status, bool keep_alive, bool head,
                          const struct strbuf *extra_headers, const char *content_type,
                          const void *body, size_t len);
