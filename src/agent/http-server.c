/* http-server.c - the HTTP server: its listeners, the connection cap and
 * what happens when accept() runs out of file descriptors; see
 * http-server.h.
 *
 * Accepting stops (new clients wait in the kernel's backlog) while
 * max_connections are open, and restarts as soon as one closes. When
 * accept() fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM)
 * every listener pauses for a backoff that doubles up to a second and
 * resets after a success: the listening socket stays readable while the
 * backlog is full, so retrying at once would spin. Both conditions are
 * logged at most once a second, with a count of what was not logged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http-private.h"
#include "basic/log.h"
#include "basic/time-util.h"

#define ACCEPT_DELAY_FIRST_USEC (10ULL * 1000)
#define ACCEPT_DELAY_MAX_USEC (1000ULL * 1000)
#define ACCEPT_DELAY_INIT BACKOFF_INIT(ACCEPT_DELAY_FIRST_USEC, ACCEPT_DELAY_MAX_USEC)
#define LOG_INTERVAL_NS (1000ULL * 1000 * 1000)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct http_server *, http_server_free);

static void server_pause(struct http_server *s)
{
        for (size_t i = 0; i < s->n_listeners; i++)
                http_listener_pause(s->listeners[i]);
}

static void server_resume(struct http_server *s)
{
        if (s->at_cap || evtimer_pending(s->backoff, NULL))
                return;
        for (size_t i = 0; i < s->n_listeners; i++)
                http_listener_resume(s->listeners[i]);
}

static void on_backoff_done(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd, (void)what;
        server_resume(userdata);
}

static void accept_failed(struct http_server *s, struct http_listener *l, int r)
{
        bool resources = r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM;
        uint64_t now = now_nsec(), delay = backoff_next(&s->accept_delay);

        s->accept_failures++;
        if (now - s->last_accept_log_ns >= LOG_INTERVAL_NS) {
                char more[64] = "";
                if (s->accept_failures > 1)
                        snprintf(more, sizeof(more), " (%u failures since the last report)",
                                 s->accept_failures);
                log_warning_errno(r,
                                  "Cannot accept API connections on %s (%zu open): %m; "
                                  "retrying in %llu ms%s%s",
                                  http_listener_name(l), s->n_conns,
                                  (unsigned long long)(delay / 1000),
                                  resources ? "; raise the open file limit or lower "
                                              "--http_max_connections"
                                            : "",
                                  more);
                s->last_accept_log_ns = now;
                s->accept_failures = 0;
        }
        server_pause(s);
        struct timeval tv = timeval_from_usec(delay);
        evtimer_add(s->backoff, &tv);
}

static void on_accept(struct http_listener *l, int fd, const struct http_peer *peer, int r,
                      void *userdata)
{
        struct http_server *s = userdata;

        if (r < 0)
                return accept_failed(s, l, r);
        s->accept_delay = ACCEPT_DELAY_INIT;
        if (http_conn_new(s, fd, peer) < 0) {
                log_warning("Dropping an API connection from %s: out of memory", peer->text);
                return;
        }
        if (s->n_conns >= s->cfg.max_connections) {
                uint64_t now = now_nsec();
                if (now - s->last_cap_log_ns >= LOG_INTERVAL_NS) {
                        log_warning("%zu API connections open (--http_max_connections): new "
                                    "ones wait until one closes",
                                    s->n_conns);
                        s->last_cap_log_ns = now;
                }
                s->at_cap = true;
                server_pause(s);
        }
}

void http_server_conn_closed(struct http_server *s)
{
        s->n_conns--;
        if (s->at_cap && s->n_conns < s->cfg.max_connections) {
                s->at_cap = false;
                server_resume(s);
        }
}

int http_server_new(struct event_base *base, const struct http_server_config *cfg,
                    http_handler handler, void *userdata, struct http_server **ret,
                    struct errbuf *e)
{
        _cleanup_(http_server_freep) struct http_server *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        *s = (struct http_server){
            .base = base, .cfg = *cfg, .handler = handler, .userdata = userdata};
        /* Only listener creation below reads these two. */
        s->cfg.ip = NULL;
        s->cfg.unix_path = NULL;
        s->cfg.unix_group = NULL;
        if (s->cfg.max_connections == 0)
                s->cfg.max_connections = 1;
        LIST_INIT(&s->conns);
        http_conn_settings(&s->settings);
        /* The parser's head limit is a library-wide setting; this process has
         * one server. It counts the request line and every header line. */
        http_parser_set_max_header_size(cfg->max_header_size);
        s->accept_delay = ACCEPT_DELAY_INIT;
        s->backoff = evtimer_new(base, on_backoff_done, s);
        if (!s->backoff)
                return -ENOMEM;

        if (cfg->ip) {
                r = http_listener_new_tcp(base, cfg->ip, cfg->port, on_accept, s,
                                          &s->listeners[s->n_listeners], e);
                if (r < 0)
                        return r;
                s->n_listeners++;
        }
        if (cfg->unix_path && *cfg->unix_path) {
                r = http_listener_new_unix(base, cfg->unix_path, cfg->unix_group, on_accept, s,
                                           &s->listeners[s->n_listeners], e);
                if (r < 0)
                        return r;
                s->n_listeners++;
        }
        for (size_t i = 0; i < s->n_listeners; i++)
                log_info("HTTP API listening on %s", http_listener_name(s->listeners[i]));
        *ret = TAKE_PTR(s);
        return 0;
}

void http_server_free(struct http_server *s)
{
        struct http_conn *c;

        if (!s)
                return;
        for (size_t i = 0; i < s->n_listeners; i++)
                http_listener_free(s->listeners[i]);
        s->n_listeners = 0;
        while ((c = LIST_FIRST(&s->conns))) {
                /* The loop has stopped: push answers out now (best effort,
                 * they are small) before closing. */
                if (evbuffer_get_length(c->out) > 0)
                        (void)evbuffer_write(c->out, c->fd);
                http_conn_free(c);
        }
        if (s->backoff)
                event_free(s->backoff);
        free(s);
}

size_t http_server_connections(const struct http_server *s)
{
        return s->n_conns;
}
