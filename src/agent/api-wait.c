/* api-wait.c - WAIT_CONTAINER long polls; see api-private.h.
 *
 * A wait for a running container parks its request in a waiter until the
 * containerizer reports the termination; the loop is never blocked, so
 * hundreds of waiters cost one small struct and one connection each.
 * libevent 2.1 stops reading a connection whose request is unanswered, so it
 * would not notice the client hanging up: each waiter watches its socket for
 * EOF itself and cancels the wait then, freeing the connection (and with it
 * the request). The connection close callback covers libevent freeing the
 * connection first. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "agent/api-json.h"
#include "agent/api-private.h"
#include "basic/log.h"

struct api_waiter {
        struct api *api;
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        struct event *watch;         /* EOF on the client's socket */
        void *handle;                /* containerizer wait, NULL once answered */
        const struct api_call *call; /* WAIT_CONTAINER or WAIT_NESTED_CONTAINER */
        LIST_ENTRY(api_waiter) link;
};

static void waiter_free(struct api_waiter *w)
{
        if (!w)
                return;
        if (w->watch)
                event_free(w->watch);
        LIST_REMOVE(w, link);
        w->api->n_waiters--;
        free(w);
}

/* Stop watching the connection: it is about to be answered or is gone. */
static void waiter_unwatch(struct api_waiter *w, bool conn_alive)
{
        if (w->watch) {
                event_free(w->watch);
                w->watch = NULL;
        }
        if (conn_alive)
                evhttp_connection_set_closecb(w->conn, NULL, NULL);
}

static void waiter_done(const struct container *c, void *userdata)
{
        struct api_waiter *w = userdata;

        w->handle = NULL;
        waiter_unwatch(w, true);
        api_reply_json(w->req, 200,
                       api_response(w->call->type, w->call->field, api_json_termination(c)));
        waiter_free(w);
}

/* The client hung up (seen by our watch): forget the wait, drop the connection
 * and with it the unanswered request. */
static void waiter_on_readable(evutil_socket_t fd, short what, void *userdata)
{
        struct api_waiter *w = userdata;
        char c;
        (void)what;

        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) {
                /* A pipelined request: evhttp reads it after our answer. */
                waiter_unwatch(w, false);
                return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;

        struct evhttp_connection *conn = w->conn;
        log_debug("Client of a pending wait went away");
        waiter_unwatch(w, true);
        containerizer_wait_cancel(w->api->cz, w->handle);
        waiter_free(w);
        evhttp_connection_free(conn);
}

/* libevent is freeing the connection under an unanswered wait. */
static void waiter_on_close(struct evhttp_connection *conn, void *userdata)
{
        struct api_waiter *w = userdata;
        (void)conn;

        waiter_unwatch(w, false);
        containerizer_wait_cancel(w->api->cz, w->handle);
        /* A request detached from its connection is ours to free. */
        if (!evhttp_request_get_connection(w->req))
                evhttp_request_free(w->req);
        waiter_free(w);
}

void api_handle_wait(struct api *api, struct evhttp_request *req, const struct api_call *call,
                     const json_t *body)
{
        _cleanup_free_ char *id = NULL;
        int r;

        if (api_body_container_id(req, call, body, &id) < 0)
                return;

        const struct container *c = containerizer_get(api->cz, id);
        if (!c)
                return api_reply_error(req, 404, "container '%s' is unknown", id);
        if (c->state == CONTAINER_TERMINATED)
                return api_reply_json(
                    req, 200, api_response(call->type, call->field, api_json_termination(c)));

        struct api_waiter *w = calloc(1, sizeof(*w));
        if (!w)
                return api_reply_error(req, 500, "out of memory");
        *w = (struct api_waiter){
            .api = api,
            .req = req,
            .conn = evhttp_request_get_connection(req),
            .call = call,
        };
        LIST_INSERT_HEAD(&api->waiters, w, link);
        api->n_waiters++;

        r = containerizer_wait(api->cz, id, waiter_done, w, &w->handle);
        if (r < 0) {
                waiter_free(w);
                if (r == -ENOENT)
                        return api_reply_error(req, 404, "container '%s' is unknown", id);
                return api_reply_failure(req, "wait for", id, r, NULL);
        }

        evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(w->conn));
        w->watch = event_new(api->base, fd, EV_READ | EV_PERSIST, waiter_on_readable, w);
        if (w->watch)
                event_add(w->watch, NULL);
        evhttp_connection_set_closecb(w->conn, waiter_on_close, w);
}

void api_waiters_shutdown(struct api *api)
{
        struct api_waiter *w;

        while ((w = LIST_FIRST(&api->waiters))) {
                struct bufferevent *bev = evhttp_connection_get_bufferevent(w->conn);
                containerizer_wait_cancel(api->cz, w->handle);
                waiter_unwatch(w, true);
                api_reply_error(w->req, 503, "the agent is shutting down");
                /* The loop has stopped: push the answer out now, before
                 * evhttp_free() closes the connection (best effort, it is small). */
                (void)evbuffer_write(bufferevent_get_output(bev), bufferevent_getfd(bev));
                waiter_free(w);
        }
}
