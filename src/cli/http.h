/* http.h - a tiny blocking HTTP/1.1 client for talking to the agent.
 *
 * The client makes one request per run, so a blocking socket with
 * "Connection: close" is all it needs: write the request, read to EOF, parse
 * the status line, headers and a Content-Length (or chunked) body. This keeps
 * the client free of an event loop and of libcurl. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "basic/errbuf.h"

struct http_response {
        int status;         /* 200, 404, ... */
        char *reason;       /* "OK", "Not Found", ... */
        char *content_type; /* NULL when absent */
        char *body;         /* NUL-terminated */
        size_t body_len;
};

/* Split "HOST:PORT" (or "[V6]:PORT", or "HOST" for port 5051). */
int http_parse_address(const char *text, char **ret_host, uint16_t *ret_port, struct errbuf *e);
/* Send one request and read the whole response. timeout_sec 0 waits forever
 * (long polls). body may be NULL. */
int http_request(const char *host, uint16_t port, const char *method, const char *path,
                 const char *content_type, const char *body, unsigned timeout_sec,
                 struct http_response *ret, struct errbuf *e);
/* Parse a whole raw response (status line, headers, Content-Length or chunked
 * body) in place; raw must be NUL-terminated at raw[len]. -EBADMSG if malformed. */
int http_parse_response(char *raw, size_t len, struct http_response *ret, struct errbuf *e);
/* Free a response's strings. */
void http_response_done(struct http_response *r);
