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
#include "agent/auth.h"
#include "agent/containerizer.h"
#include "basic/errbuf.h"

struct api_waiter;

struct api {
        struct event_base *base;
        const struct agent_flags *flags;
        struct containerizer *cz;
        struct http_server *http;
        LIST_HEAD(, api_waiter) waiters; /* pending long polls and launches */
        size_t n_waiters;                /* the long polls among them */
        char *agent_user;                /* the agent's own user name */
        struct auth_caller *caller;      /* of the call being handled (api-auth.c) */
        struct sockdiag *sockdiag;       /* finds TCP callers' sockets (api-auth.c) */
        uint64_t refusals_window;        /* start (ns) of this second of refusal logs */
        unsigned refusals_logged;        /* refusals logged in that second */
        unsigned refusals_dropped;       /* and not logged */
};

struct api_call;
typedef void (*api_handler)(struct api *api, struct http_request *req, const struct api_call *call,
                            const json_t *body);

/* One row per implemented agent.Call type. */
struct api_call {
        const char *type;
        const char *field; /* body member, NULL when the call has none */
        api_handler handler;
        bool nested;        /* a *_NESTED_CONTAINER alias */
        bool body_optional; /* `field` may be absent (GET_CONTAINERS) */
};

enum api_encoding {
        API_ENCODING_NONE, /* the client accepts neither: 406 */
        API_ENCODING_JSON,
        API_ENCODING_PROTOBUF,
};

/* How to encode the answer to req, from its Accept headers as Mesos reads
 * them: JSON unless protobuf is preferred; NONE when neither is accepted. */
enum api_encoding api_response_encoding(const struct http_request *req);
/* Send an agent.Response (reference stolen) in the encoding req accepts,
 * checked against the protobuf message; NULL means out of memory. */
void api_reply_response(struct http_request *req, int code, json_t *response);
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

/* Log what api_authorize() needs to say at start (a read-only TCP API). */
int api_auth_init(struct api *api);
/* Authenticate and authorize a call of `type` (body: the whole agent.Call,
 * field: its body member or NULL); on refusal answer 401/403 and return
 * false. *ret is the caller. Logs every write call once. */
bool api_authorize(struct api *api, struct http_request *req, const char *type, const json_t *body,
                   const char *field, struct auth_caller *ret);
/* Settle cfg->user for api->caller (answering 400/403 and returning < 0 when
 * it may not launch it). */
int api_auth_launch(struct api *api, struct http_request *req, struct container_config *cfg);
/* May api->caller act on container id? Else answer 403, return false. */
bool api_auth_manage(struct api *api, struct http_request *req, const char *id);

/* A request to answer later (see api-wait.c): registered, then deferred
 * once the containerizer holds its *api_waiter_handle(); cancel(cz, handle)
 * runs if the client goes away (or the agent stops) first. */
struct api_waiter *api_waiter_new(struct api *api, struct http_request *req,
                                  const struct api_call *call,
                                  void (*cancel)(struct containerizer *cz, void *handle));
/* Where the containerizer's handle for the request goes. */
void **api_waiter_handle(struct api_waiter *w);
/* Defer the request (the handler returns without answering). */
void api_waiter_defer(struct api_waiter *w);
/* The containerizer called back: forget the waiter, answer the request it
 * returns. */
struct http_request *api_waiter_answer(struct api_waiter *w);
/* Forget a waiter that was never deferred (the call failed at once). */
void api_waiter_drop(struct api_waiter *w);
/* Answer code with response (an agent.Response, stolen; NULL for no body)
 * once every checkpoint written so far is on disk: at once when none is
 * pending, later from the loop otherwise (500 if the flush failed). For
 * the answers that tell of a change (KILL, REMOVE, UPDATE). */
void api_reply_durable(struct api *api, struct http_request *req, const struct api_call *call,
                       int code, json_t *response);

/* WAIT_CONTAINER / WAIT_NESTED_CONTAINER: answer now or park a long poll. */
void api_handle_wait(struct api *api, struct http_request *req, const struct api_call *call,
                     const json_t *body);
/* Answer every pending wait 503 (the agent stops) and forget them. */
void api_waiters_shutdown(struct api *api);

/* GET_EVENTS (beyond Mesos): the containerizer's recent events after
 * get_events.after (a sequence number; 0 = all retained). */
void api_handle_get_events(struct api *api, struct http_request *req, const struct api_call *call,
                           const json_t *body);
