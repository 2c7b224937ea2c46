/* http.h - the CLI's HTTP client for the agent: one request per run, over
 * the agent's unix socket or TCP, through libcurl.
 *
 * libcurl (Debian's libcurl4-openssl-dev) does the protocol: framing,
 * chunked answers, 100-continue, unix sockets (CURLOPT_UNIX_SOCKET_PATH).
 * This file only says where to connect and hands back status, type and
 * body. Proxies from the environment are ignored: the agent is local, and
 * its calls must not wander through a proxy. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "basic/errbuf.h"

/* Where the agent listens: a unix socket (absolute path) or host:port. */
struct http_agent {
        char *unix_path; /* NULL for TCP */
        char *host;
        uint16_t port;
};

struct http_response {
        int status;         /* 200, 404, ... */
        char *reason;       /* "OK", "Not Found", ... */
        char *content_type; /* NULL when absent */
        char *body;         /* NUL-terminated */
        size_t body_len;
};

/* Split "HOST:PORT" (or "[V6]:PORT", or "HOST" for port 5051). */
int http_parse_address(const char *text, char **ret_host, uint16_t *ret_port, struct errbuf *e);
/* "/path/to/api.sock" (a unix socket) or an address for http_parse_address. */
int http_agent_parse(const char *text, struct http_agent *ret, struct errbuf *e);
void http_agent_done(struct http_agent *a);
/* An Authorization header value sent with every request (NULL: none). */
void http_set_authorization(const char *value);
/* Send one request and read the whole response. timeout_sec 0 waits forever
 * (long polls). body may be NULL. */
int http_request(const struct http_agent *a, const char *method, const char *path,
                 const char *content_type, const char *body, unsigned timeout_sec,
                 struct http_response *ret, struct errbuf *e);
/* Free a response's strings. */
void http_response_done(struct http_response *r);
