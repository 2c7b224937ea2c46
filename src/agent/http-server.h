/* http-server.h - the agent's HTTP/1.1 server: listeners, connections and
 * the request every API handler sees.
 *
 * The contract for handlers:
 * - The server calls the handler once per complete request (headers and a
 *   body of at most max_body_size, already read), in the order requests
 *   arrived on the connection; the next pipelined request of a connection
 *   waits until this one is answered.
 * - The handler answers with http_request_reply() (any number of
 *   http_request_add_header() calls first), now or later. Answering later
 *   needs http_request_defer() before the handler returns: the server then
 *   keeps the connection and calls `gone` if the client goes away (or the
 *   server stops) first. After reply or gone the request is freed: drop
 *   every pointer to it. A handler that returns with neither gets a 500.
 * - Everything is on the caller's libevent loop; nothing here blocks.
 * - Who is calling is http_request_peer(): the transport and, on the unix
 *   socket, the kernel's SO_PEERCRED uid/gid/pid; on TCP the address.
 *   Authorization is the handler's business, never the server's.
 * Malformed or abusive requests (bad framing, NUL or bare CR in headers,
 * duplicate Content-Length, headers over max_header_size, bodies over
 * max_body_size, slow clients) are answered or dropped here and never reach
 * a handler; see http-connection.c. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/http-listener.h"

struct http_server;
struct http_request;

struct http_server_config {
        const char *ip;             /* TCP listener address; NULL for none */
        uint16_t port;              /* TCP port */
        const char *unix_path;      /* unix socket path; NULL or "" for none */
        const char *unix_group;     /* NULL: mode 0600 root's; else 0660 and this group */
        uint64_t idle_timeout_ns;   /* no request started on a connection */
        uint64_t header_timeout_ns; /* first byte of a request to its last header */
        uint64_t body_timeout_ns;   /* last header to the end of the body */
        unsigned max_connections;   /* concurrent connections over all listeners */
        size_t max_body_size;       /* larger bodies: 413 */
        size_t max_header_size;     /* larger request heads: 431 */
};

typedef void (*http_handler)(struct http_request *req, void *userdata);
typedef void (*http_gone)(struct http_request *req, void *userdata);

/* Bind the listeners of cfg and serve every request through handler.
 * -EADDRINUSE etc. with one line in *e. */
int http_server_new(struct event_base *base, const struct http_server_config *cfg,
                    http_handler handler, void *userdata, struct http_server **ret,
                    struct errbuf *e);
/* Close every listener and connection; deferred requests get their `gone`
 * first. Answers already replied are written out if the socket takes them. */
void http_server_free(struct http_server *s);
/* Connections open now. */
size_t http_server_connections(const struct http_server *s);

/* "GET", "POST", ... */
const char *http_request_method(const struct http_request *req);
/* The target's path ("/api/v1"), not decoded. */
const char *http_request_path(const struct http_request *req);
/* The target's query (after '?'), NULL when it has none. */
const char *http_request_query(const struct http_request *req);
/* The first value of header `name` (case-insensitive), NULL when absent. */
const char *http_request_header(const struct http_request *req, const char *name);
/* The i-th header as sent (duplicates included); false past the last. */
bool http_request_header_at(const struct http_request *req, size_t i, const char **ret_name,
                            const char **ret_value);
/* The body (NUL-terminated for convenience; may hold NULs); len 0 when none. */
const char *http_request_body(const struct http_request *req, size_t *ret_len);
/* Who sent it. */
const struct http_peer *http_request_peer(const struct http_request *req);

/* Add a header to the answer (Content-Type, Content-Length, Date and
 * Connection are the server's). -ENOMEM, -EINVAL for CR/LF in it. */
int http_request_add_header(struct http_request *req, const char *name, const char *value);
/* Answer: status, Content-Type (NULL for none) and body (may be NULL with
 * len 0). Frees req. */
void http_request_reply(struct http_request *req, int status, const char *content_type,
                        const void *body, size_t len);
/* Answer later; gone(req, userdata) runs instead if the client leaves first
 * (EOF on its socket) or the server stops, and frees req after. */
void http_request_defer(struct http_request *req, http_gone gone, void *userdata);
