/* http-listener.h - the sockets the HTTP server accepts on (TCP and a unix
 * socket) and who is at the other end of an accepted connection.
 *
 * A listener only accepts: it hands each new socket, with its peer, to the
 * server, and reports accept() failures such as EMFILE so that the server
 * can pause every listener and back off (leaving the listen event armed
 * would spin). Pausing leaves new connections in the kernel's backlog. */
#pragma once

#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "basic/errbuf.h"

enum http_transport {
        HTTP_TRANSPORT_TCP,
        HTTP_TRANSPORT_UNIX,
};

/* The caller of a request. On the unix socket the credentials are the
 * kernel's (SO_PEERCRED, taken when the client connected); on TCP only the
 * address is known. */
struct http_peer {
        enum http_transport transport;
        uid_t uid;                    /* unix only */
        gid_t gid;                    /* unix only */
        pid_t pid;                    /* unix only */
        struct sockaddr_storage addr; /* tcp only */
        socklen_t addr_len;
        struct sockaddr_storage local; /* tcp only: the address the peer connected to */
        socklen_t local_len;           /* 0 if unknown */
        char text[64]; /* "127.0.0.1:40522", "[::1]:40522" or "uid 0 pid 4242" */
};

struct http_listener;

/* A new connection (fd non-blocking, close-on-exec; now the callee's), or
 * r < 0 when accept() failed with something other than EAGAIN. */
typedef void (*http_accept_fn)(struct http_listener *l, int fd, const struct http_peer *peer, int r,
                               void *userdata);

/* Listen on ip:port (numeric IPv4 or IPv6). */
int http_listener_new_tcp(struct event_base *base, const char *ip, uint16_t port, http_accept_fn fn,
                          void *userdata, struct http_listener **ret, struct errbuf *e);
/* Listen on a unix socket at path, mode 0600 (group NULL) or 0660 owned by
 * group. A stale socket file there is replaced; a live one (an agent answers
 * on it) or anything that is not a socket is an error. The new socket
 * appears atomically with its final mode. */
int http_listener_new_unix(struct event_base *base, const char *path, const char *group,
                           http_accept_fn fn, void *userdata, struct http_listener **ret,
                           struct errbuf *e);
/* Stop or restart accepting (connections wait in the backlog meanwhile). */
void http_listener_pause(struct http_listener *l);
void http_listener_resume(struct http_listener *l);
/* "127.0.0.1:5051" or the socket's path. */
const char *http_listener_name(const struct http_listener *l);
/* Close; a unix listener removes its socket file if it is still ours. */
void http_listener_free(struct http_listener *l);
