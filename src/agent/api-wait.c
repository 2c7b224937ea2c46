/* api-wait.c - requests answered later: WAIT_CONTAINER long polls,
 * LAUNCH_CONTAINER, whose answer comes with the supervisor's report, and
 * every answer that must wait until what it tells is on disk; see
 * api-private.h.
 *
 * Such a request is deferred in a waiter until the containerizer calls
 * back; the loop is never blocked, so hundreds of waiters cost one small
 * struct and one connection each. The HTTP server tells us when a client
 * hangs up first (http_request_defer's `gone`), and the containerizer's
 * callback is cancelled then. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/api-json.h"
#include "agent/api-private.h"
#include "basic/log.h"

struct api_waiter {
        struct api *api;
        struct http_request *req;
        void *handle; /* containerizer wait or launch, NULL once answered */
        void (*cancel)(struct containerizer *cz, void *handle);
        const struct api_call *call;
        int code;         /* the answer held back until it is durable */
        json_t *response; /* its agent.Response, NULL for none */
        LIST_ENTRY(api_waiter) link;
};

static void waiter_free(struct api_waiter *w)
{
        if (!w)
                return;
        LIST_REMOVE(w, link);
        if (w->call->handler == api_handle_wait)
                w->api->n_waiters--;
        json_decref(w->response);
        free(w);
}

static void waiter_cancel(struct api_waiter *w)
{
        if (w->handle)
                w->cancel(w->api->cz, TAKE_PTR(w->handle));
}

struct api_waiter *api_waiter_new(struct api *api, struct http_request *req,
                                  const struct api_call *call,
                                  void (*cancel)(struct containerizer *cz, void *handle))
{
        struct api_waiter *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        *w = (struct api_waiter){.api = api, .req = req, .call = call, .cancel = cancel};
        LIST_INSERT_HEAD(&api->waiters, w, link);
        if (call->handler == api_handle_wait)
                api->n_waiters++;
        return w;
}

void **api_waiter_handle(struct api_waiter *w)
{
        return &w->handle;
}

struct http_request *api_waiter_answer(struct api_waiter *w)
{
        struct http_request *req = w->req;

        waiter_free(w);
        return req;
}

void api_waiter_drop(struct api_waiter *w)
{
        waiter_free(w);
}

static void reply_held(struct http_request *req, int code, json_t *response)
{
        if (response)
                api_reply_response(req, code, response);
        else
                http_request_reply(req, code, NULL, NULL, 0);
}

static void durable_done(int r, void *userdata)
{
        struct api_waiter *w = userdata;
        struct http_request *req = w->req;
        json_t *response = TAKE_PTR(w->response);
        int code = w->code;

        w->handle = NULL;
        waiter_free(w);
        if (r < 0) {
                json_decref(response);
                return api_reply_error(req, 500, "cannot flush the checkpoint to disk: %s",
                                       strerror(-r));
        }
        reply_held(req, code, response);
}

/* Hold w's answer (code, response) until the checkpoints are on disk; the
 * waiter is answered now when nothing is pending. */
static void waiter_hold(struct api_waiter *w, int code, json_t *response, bool deferred)
{
        struct http_request *req = w->req;
        int r;

        w->code = code;
        w->response = response;
        w->cancel = containerizer_durable_cancel;
        r = containerizer_when_durable(w->api->cz, durable_done, w, &w->handle);
        if (r == 0) {
                if (!deferred)
                        api_waiter_defer(w);
                return;
        }
        response = TAKE_PTR(w->response);
        waiter_free(w);
        if (r < 0) {
                json_decref(response);
                return api_reply_error(req, 500, "out of memory");
        }
        reply_held(req, code, response);
}

void api_reply_durable(struct api *api, struct http_request *req, const struct api_call *call,
                       int code, json_t *response)
{
        struct api_waiter *w = api_waiter_new(api, req, call, containerizer_durable_cancel);

        if (!w) {
                json_decref(response);
                return api_reply_error(req, 500, "out of memory");
        }
        waiter_hold(w, code, response, false);
}

static void waiter_done(const struct container *c, void *userdata)
{
        struct api_waiter *w = userdata;

        json_t *response = api_response(w->call->type, w->call->field, api_json_termination(c));

        w->handle = NULL;
        if (!response) {
                struct http_request *req = w->req;
                waiter_free(w);
                return api_reply_error(req, 500, "out of memory");
        }
        /* The termination it tells may have been written a moment ago. */
        waiter_hold(w, 200, response, true);
}

/* The client hung up: forget the wait. */
static void waiter_gone(struct http_request *req, void *userdata)
{
        struct api_waiter *w = userdata;
        (void)req;

        log_debug("Client of a pending %s went away", w->call->type);
        waiter_cancel(w);
        waiter_free(w);
}

void api_waiter_defer(struct api_waiter *w)
{
        http_request_defer(w->req, waiter_gone, w);
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
                return api_reply_response(
                    req, 200, api_response(call->type, call->field, api_json_termination(c)));

        struct api_waiter *w = api_waiter_new(api, req, call, containerizer_wait_cancel);
        if (!w)
                return api_reply_error(req, 500, "out of memory");
        r = containerizer_wait(api->cz, id, waiter_done, w, &w->handle);
        if (r < 0) {
                waiter_free(w);
                if (r == -ENOENT)
                        return api_reply_error(req, 404, "container '%s' is unknown", id);
                return api_reply_failure(req, "wait for", id, r, NULL);
        }
        api_waiter_defer(w);
}

void api_waiters_shutdown(struct api *api)
{
        struct api_waiter *w;

        while ((w = LIST_FIRST(&api->waiters))) {
                struct http_request *req = w->req;
                waiter_cancel(w);
                waiter_free(w);
                /* http_server_free() writes the answer out before closing. */
                api_reply_error(req, 503, "the agent is shutting down");
        }
}
