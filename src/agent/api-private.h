/* api-private.h - what api.c (dispatch, short calls) and api-wait.c (the
 * WAIT_CONTAINER long polls) share: the server state, the call table's row
 * type and the reply helpers. Not a public interface. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "agent/api.h"
#include "agent/http-server.h"
#include "basic/errbuf.h"

struct api_waiter;

struct api {
        struct event_base *base;
        const struct agent_flags *flags;
        struct containerizer *cz;
        struct http_server *http;
        LIST_HEAD(, api_waiter) waiters; /* pending WAIT_CONTAINER long polls */
        size_t n_waiters;
};

struct api_call;
typedef void (*api_handler)(struct api *api, struct http_request *req, const struct api_call *call,
                            const json_t *body);

/* One row per implemented agent.Call type. */
struct api_call {
        const char *type;
        const char *field; /* body member, NULL when the call has none */
        api_handler handler;
        bool nested; /* a *_NESTED_CONTAINER alias */
};

/* Send a one-line text/plain error. */
_printf_(3, 4) void api_reply_error(struct http_request *req, int code, const char *fmt, ...);
/* Send a JSON body (reference stolen); NULL means we ran out of memory. */
void api_reply_json(struct http_request *req, int code, json_t *body);
/* A 500 for an unexpected containerizer error, with context. */
void api_reply_failure(struct http_request *req, const char *what, const char *id, int r,
                       const struct errbuf *e);
/* Parse the container_id of a container call's body into "root/child"; on
 * failure answer the request (400, or 500 when out of memory) and return < 0. */
int api_body_container_id(struct http_request *req, const struct api_call *call, const json_t *body,
                          char **ret_id);
/* Wrap a call's response body as {"type": T, "<field>": body}; steals body. */
json_t *api_response(const char *type, const char *field, json_t *body);

/* WAIT_CONTAINER / WAIT_NESTED_CONTAINER: answer now or park a long poll. */
void api_handle_wait(struct api *api, struct http_request *req, const struct api_call *call,
                     const json_t *body);
/* Answer every pending wait 503 (the agent stops) and forget them. */
void api_waiters_shutdown(struct api *api);
