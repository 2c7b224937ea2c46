/* api-wait.c - WAIT_CONTAINER long polls; see api-private.h.
 *
 * A wait for a running container defers its request in a waiter until the
 * containerizer reports the termination; the loop is never blocked, so
 * hundreds of waiters cost one small struct and one connection each. The
 * HTTP server tells us when a client hangs up first (http_request_defer's
 * `gone`), and the wait is cancelled then. */
#include <errno.h>
#include <stdlib.h>

#include "agent/api-json.h"
#include "agent/api-private.h"
#include "basic/log.h"

struct api_waiter {
        struct api *api;
        struct http_request *req;
        void *handle;                /* containerizer wait, NULL once answered */
        const struct api_call *call; /* WAIT_CONTAINER or WAIT_NESTED_CONTAINER */
        LIST_ENTRY(api_waiter) link;
};

static void waiter_free(struct api_waiter *w)
{
        if (!w)
                return;
        LIST_REMOVE(w, link);
        w->api->n_waiters--;
        free(w);
}

static void waiter_done(const struct container *c, void *userdata)
{
        struct api_waiter *w = userdata;
        struct http_request *req = w->req;

        w->handle = NULL;
        const struct api_call *call = w->call;
        waiter_free(w);
        api_reply_json(req, 200, api_response(call->type, call->field, api_json_termination(c)));
}

/* The client hung up: forget the wait. */
static void waiter_gone(struct http_request *req, void *userdata)
{
        struct api_waiter *w = userdata;
        (void)req;

        log_debug("Client of a pending wait went away");
        containerizer_wait_cancel(w->api->cz, w->handle);
        waiter_free(w);
}

void api_handle_wait(struct api *api, struct http_request *req, const struct api_call *call,
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
        *w = (struct api_waiter){.api = api, .req = req, .call = call};
        LIST_INSERT_HEAD(&api->waiters, w, link);
        api->n_waiters++;

        r = containerizer_wait(api->cz, id, waiter_done, w, &w->handle);
        if (r < 0) {
                waiter_free(w);
                if (r == -ENOENT)
                        return api_reply_error(req, 404, "container '%s' is unknown", id);
                return api_reply_failure(req, "wait for", id, r, NULL);
        }
        http_request_defer(req, waiter_gone, w);
}

void api_waiters_shutdown(struct api *api)
{
        struct api_waiter *w;

        while ((w = LIST_FIRST(&api->waiters))) {
                struct http_request *req = w->req;
                containerizer_wait_cancel(api->cz, w->handle);
                waiter_free(w);
                /* http_server_free() writes the answer out before closing. */
                api_reply_error(req, 503, "the agent is shutting down");
        }
}
