/* api.c - the agent's HTTP API; see api.h.
 *
 * One POST /api/v1 handler reads an agent.Call, looks its `type` up in a
 * table and hands the call's body (the snake_case field named after the
 * type) to a small handler that talks to the containerizer. Message shapes
 * live in api-json.c, WAIT_CONTAINER long polls in api-wait.c; this file is
 * the HTTP plumbing and the status codes of every other call.
 *
 * Errors are one line of text/plain (as Mesos answers them), JSON bodies are
 * application/json. Framing, limits (413, 431) and timeouts are the HTTP
 * server's (http-server.h); this file routes a complete request by path. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "agent/api-json.h"
#include "agent/api-proto.h"
#include "agent/api-private.h"
#include "agent/api.h"
#include "agent/metrics.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "linux/sockdiag.h"
#include "ports/resources.h"

#ifndef PORTISO_VERSION
#define PORTISO_VERSION "0.1.0"
#endif

static bool is_control(char c)
{
        return (unsigned char)c < ' ' || c == 0x7f;
}

/* Send a one-line text/plain error. */
_printf_(3, 4) void api_reply_error(struct http_request *req, int code, const char *fmt, ...)
{
        _cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0) {
                text = NULL;
                strbuf_puts(&out, "out of memory");
        }
        /* Reasons quote what the client sent (a call type, a container id):
         * escape its control characters, so that the reason stays one line. */
        for (const char *p = text; p && *p;) {
                size_t k = 0;
                while (p[k] && !is_control(p[k]))
                        k++;
                strbuf_add(&out, p, k);
                p += k;
                if (*p)
                        strbuf_addf(&out, "\\x%02x", (unsigned char)*p++);
        }
        if (out.oom)
                return http_request_reply(req, 500, "text/plain", "out of memory", 13);
        http_request_reply(req, code, "text/plain", out.buf, out.len);
}

/* Send a JSON body (reference stolen); NULL means we ran out of memory. */
void api_reply_json(struct http_request *req, int code, json_t *body)
{
        _cleanup_json_ json_t *j = body;
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

        if (!s)
                return api_reply_error(req, 500, "out of memory");
        http_request_reply(req, code, "application/json", s, strlen(s));
}

/* How a media range of Accept ("application/json;q=0.5") matches type:
 * 3 exactly, 2 by a subtype wildcard, 1 by the any-type wildcard, 0 not;
 * *ret_q is its q (0 to 1). */
static int media_range_match(const char *range, size_t len, const char *type, double *ret_q)
{
        size_t n = strcspn(range, ";");
        if (n > len)
                n = len;
        while (n > 0 && (range[n - 1] == ' ' || range[n - 1] == '\t'))
                n--;
        *ret_q = 1;
        for (const char *p = memchr(range, ';', len); p && p < range + len;
             p = memchr(p + 1, ';', (size_t)(range + len - p - 1))) {
                const char *v = p + 1 + strspn(p + 1, " \t");
                if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
                        *ret_q = strtod(v + 2, NULL);
        }
        const char *slash = strchr(type, '/');
        if (n == strlen(type) && strncasecmp(range, type, n) == 0)
                return 3;
        if (n == (size_t)(slash - type) + 2 && strncasecmp(range, type, n - 1) == 0 &&
            range[n - 1] == '*')
                return 2;
        if (n == 3 && strncmp(range, "*/*", 3) == 0)
                return 1;
        return 0;
}

/* The q every Accept header of req gives type (its most specific match
 * decides); 1 without an Accept header, as HTTP says. */
static double accept_quality(const struct http_request *req, const char *type)
{
        const char *name, *value;
        bool any = false;
        int best = 0;
        double q = 0;

        for (size_t i = 0; http_request_header_at(req, i, &name, &value); i++) {
                if (strcasecmp(name, "Accept") != 0)
                        continue;
                any = true;
                for (const char *p = value; *p;) {
                        p += strspn(p, " \t,");
                        size_t len = strcspn(p, ",");
                        double rq;
                        int m = len ? media_range_match(p, len, type, &rq) : 0;
                        if (m > best) {
                                best = m;
                                q = rq;
                        }
                        p += len;
                }
        }
        return any ? q : 1;
}

enum api_encoding api_response_encoding(const struct http_request *req)
{
        double json = accept_quality(req, "application/json");
        double proto = accept_quality(req, API_PROTO_CONTENT_TYPE);

        if (json <= 0 && proto <= 0)
                return API_ENCODING_NONE;
        /* As Mesos, JSON unless the client prefers protobuf. */
        return proto > json ? API_ENCODING_PROTOBUF : API_ENCODING_JSON;
}

void api_reply_response(struct http_request *req, int code, json_t *response)
{
        _cleanup_json_ json_t *j = NULL;
        struct errbuf e = {};
        int r;

        if (!response)
                return api_reply_error(req, 500, "out of memory");
        if (api_response_encoding(req) == API_ENCODING_PROTOBUF) {
                _cleanup_json_ json_t *in = response;
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                r = api_proto_response_pack(in, &buf, &len, &e);
                if (r < 0) {
                        log_error("Failed to encode a response as protobuf: %s", e.msg);
                        return api_reply_error(req, 500, "failed to encode the response");
                }
                return http_request_reply(req, code, API_PROTO_CONTENT_TYPE, buf, len);
        }
        r = api_proto_response_json(response, &j, &e);
        if (r < 0) {
                log_error("Failed to encode a response: %s", e.msg);
                return api_reply_error(req, 500, "failed to encode the response");
        }
        api_reply_json(req, code, TAKE_PTR(j));
}

/* A 200 with no body, as Mesos answers calls without a Response. */
static void reply_ok(struct http_request *req, int code)
{
        http_request_reply(req, code, NULL, NULL, 0);
}

/* Answer a call that changed container id by its result r: 200 with no
 * body once the change is on disk, 404 for an unknown container, else
 * api_reply_failure(). Handlers answer the codes particular to their call
 * first. */
static void reply_result(struct api *api, struct http_request *req, const struct api_call *call,
                         const char *what, const char *id, int r, const struct errbuf *e)
{
        if (r == -ENOENT)
                return api_reply_error(req, 404, "container '%s' is unknown", id);
        if (r < 0)
                return api_reply_failure(req, what, id, r, e);
        api_reply_durable(api, req, call, 200, NULL);
}

/* Wrap a call's response body as {"type": T, "<field>": body}; steals body. */
json_t *api_response(const char *type, const char *field, json_t *body)
{
        return body ? json_pack("{s:s, s:o}", "type", type, field, body) : NULL;
}

/* Map an unexpected containerizer error to a 500 with context; a full disk
 * (nothing could be checkpointed, so nothing was done) is 507. */
void api_reply_failure(struct http_request *req, const char *what, const char *id, int r,
                       const struct errbuf *e)
{
        api_reply_error(req, r == -ENOSPC || r == -EDQUOT ? 507 : 500,
                        "failed to %s container '%s': %s", what, id,
                        e && e->msg[0] ? e->msg : strerror(-r));
}

static void handle_get_health(struct api *api, struct http_request *req,
                              const struct api_call *call, const json_t *body)
{
        (void)api, (void)body;
        api_reply_response(
            req, 200, api_response(call->type, "get_health", json_pack("{s:b}", "healthy", 1)));
}

static void handle_get_version(struct api *api, struct http_request *req,
                               const struct api_call *call, const json_t *body)
{
        (void)api, (void)body;
        api_reply_response(
            req, 200,
            api_response(call->type, "get_version",
                         json_pack("{s:{s:s}}", "version_info", "version", PORTISO_VERSION)));
}

static void append_flag(const char *name, const char *value, void *userdata)
{
        json_t *flags = userdata;
        if (value) /* as Mesos, unset flags are not listed */
                json_array_append_new(flags, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static void handle_get_flags(struct api *api, struct http_request *req, const struct api_call *call,
                             const json_t *body)
{
        json_t *flags = json_array();
        (void)body;

        if (flags)
                agent_flags_foreach(api->flags, append_flag, flags);
        api_reply_response(
            req, 200, api_response(call->type, "get_flags", json_pack("{s:o}", "flags", flags)));
}

static json_t *metrics_snapshot(const struct api *api)
{
        struct containerizer_metrics m = {};

        containerizer_metrics(api->cz, &m);
        return api_json_metrics_snapshot(&m, api->n_waiters);
}

static void handle_get_metrics(struct api *api, struct http_request *req,
                               const struct api_call *call, const json_t *body)
{
        _cleanup_json_ json_t *snap = metrics_snapshot(api);
        (void)body;

        if (!snap)
                return api_reply_error(req, 500, "out of memory");
        api_reply_response(
            req, 200,
            api_response(call->type, "get_metrics",
                         json_pack("{s:o}", "metrics", api_json_metrics_list(snap))));
}

/* Mesos lists live containers only, and standalone ones (every portiso root
 * container: none runs an executor) with show_standalone, nested ones with
 * show_nested as well. */
static void handle_get_containers(struct api *api, struct http_request *req,
                                  const struct api_call *call, const json_t *body)
{
        const struct container *const *all;
        size_t n = containerizer_list(api->cz, &all);
        _cleanup_json_ json_t *list = json_array();
        bool standalone = json_is_true(json_object_get(body, "show_standalone"));
        bool nested = json_is_true(json_object_get(body, "show_nested"));

        if (!list)
                return api_reply_error(req, 500, "out of memory");
        for (size_t i = 0; i < n; i++) {
                const struct container *c = all[i];
                if (c->state == CONTAINER_TERMINATED || !standalone ||
                    (c->config.parent_id && !nested))
                        continue;
                if (json_array_append_new(list, api_json_mesos_container(c)) < 0)
                        return api_reply_error(req, 500, "out of memory");
        }
        api_reply_response(
            req, 200,
            api_response(call->type, "get_containers", json_pack("{s:O}", "containers", list)));
}

static void launch_done(int r, const char *id, const char *error, void *userdata)
{
        struct http_request *req = api_waiter_answer(userdata);

        if (r < 0)
                return api_reply_error(req, r == -ENOSPC || r == -EDQUOT ? 507 : 500,
                                       "failed to launch container '%s': %s", id,
                                       error && *error ? error : strerror(-r));
        reply_ok(req, 200);
}

/* portiso's own: every container the agent knows, with its port facts. */
static void handle_get_ports(struct api *api, struct http_request *req, const struct api_call *call,
                             const json_t *body)
{
        const struct container *const *all;
        size_t n = containerizer_list(api->cz, &all);
        _cleanup_json_ json_t *list = json_array();
        (void)body;

        if (!list)
                return api_reply_error(req, 500, "out of memory");
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(list, api_json_container(all[i])) < 0)
                        return api_reply_error(req, 500, "out of memory");
        api_reply_response(
            req, 200,
            api_response(call->type, "get_ports", json_pack("{s:O}", "containers", list)));
}

static void handle_launch(struct api *api, struct http_request *req, const struct api_call *call,
                          const json_t *body)
{
        _cleanup_(container_config_done) struct container_config cfg = {};
        struct errbuf e = {};

        if (!(api->flags->sources & WORKLOAD_SOURCE_API))
                return api_reply_error(req, 403,
                                       "%s: containers are not launched here "
                                       "(--workload_sources=%s has no 'api')",
                                       call->type, api->flags->workload_sources);
        int r = api_json_parse_launch(body, call->field, &cfg, &e);
        if (r == -ENOMEM)
                return api_reply_error(req, 500, "out of memory");
        if (r < 0)
                return api_reply_error(req, 400, "%s", e.msg);
        if (call->nested && !cfg.parent_id)
                return api_reply_error(req, 400,
                                       "%s.container_id.parent: missing (%s launches a "
                                       "container inside another)",
                                       call->field, call->type);

        if (api_auth_launch(api, req, &cfg) < 0)
                return;
        _cleanup_free_ char *id = strdup(cfg.id);
        if (!id)
                return api_reply_error(req, 500, "out of memory");
        struct api_waiter *w = api_waiter_new(api, req, call, containerizer_launch_forget);
        if (!w)
                return api_reply_error(req, 500, "out of memory");
        r = containerizer_launch(api->cz, &cfg, launch_done, w, api_waiter_handle(w), &e);
        if (r < 0)
                api_waiter_drop(w);
        if (r == -EEXIST)
                return reply_ok(req, 202); /* as Mesos: the id is already in use */
        if (r == -ENOENT)
                return api_reply_error(req, 400, "%s",
                                       e.msg[0] ? e.msg : "the parent container is unknown");
        if (r == -EINVAL)
                return api_reply_error(req, 400, "%s", e.msg[0] ? e.msg : "invalid container");
        if (r < 0)
                return api_reply_failure(req, "launch", id, r, &e);

        /* The containerizer owns the contents now; the answer comes with
         * the supervisor's report. */
        cfg = (struct container_config){};
        api_waiter_defer(w);
}

int api_body_container_id(struct http_request *req, const struct api_call *call, const json_t *body,
                          char **ret_id)
{
        _cleanup_free_ char *what = NULL;
        struct errbuf e = {};

        if (asprintf(&what, "%s.container_id", call->field) < 0) {
                api_reply_error(req, 500, "out of memory");
                return -ENOMEM;
        }
        int r =
            api_json_parse_container_id(json_object_get(body, "container_id"), what, ret_id, &e);
        if (r < 0) {
                api_reply_error(req, r == -ENOMEM ? 500 : 400, "%s", e.msg);
                return r;
        }
        if (call->nested && !strchr(*ret_id, '/')) {
                /* Mesos' words: the *_NESTED_CONTAINER calls act below a parent. */
                api_reply_error(req, 400, "Expecting 'container_id.parent'");
                free(*ret_id);
                *ret_id = NULL;
                return -EINVAL;
        }
        return 0;
}

static void handle_kill(struct api *api, struct http_request *req, const struct api_call *call,
                        const json_t *body)
{
        _cleanup_free_ char *id = NULL;
        struct errbuf e = {};
        int sig;

        if (api_body_container_id(req, call, body, &id) < 0)
                return;
        if (api_json_parse_signal(body, call->field, &sig, &e) < 0)
                return api_reply_error(req, 400, "%s", e.msg);
        if (!api_auth_manage(api, req, id))
                return;

        int r = containerizer_kill(api->cz, id, sig, &e);
        if (r == -EINVAL)
                return api_reply_error(req, 400, "cannot send signal %d to container '%s'", sig,
                                       id);
        reply_result(api, req, call, "kill", id, r, &e);
}

static void handle_remove(struct api *api, struct http_request *req, const struct api_call *call,
                          const json_t *body)
{
        _cleanup_free_ char *id = NULL;
        struct errbuf e = {};

        if (api_body_container_id(req, call, body, &id) < 0)
                return;
        if (!api_auth_manage(api, req, id))
                return;
        /* The codes agent.proto documents for REMOVE_CONTAINER: 200 also when
         * a nested container's parent is gone, 500 for an unknown or a
         * running container. */
        int r = containerizer_remove(api->cz, id, &e);
        if (r == -ENOENT) {
                const char *slash = strrchr(id, '/');
                if (slash) {
                        _cleanup_free_ char *parent = strndup(id, (size_t)(slash - id));
                        if (!parent)
                                return api_reply_error(req, 500, "out of memory");
                        if (!containerizer_get(api->cz, parent))
                                return reply_ok(req, 200);
                }
                return api_reply_error(req, 500, "container '%s' is unknown", id);
        }
        if (r == -EBUSY)
                return api_reply_error(
                    req, 500, "container '%s' has not terminated: kill it and wait first", id);
        reply_result(api, req, call, "remove", id, r, &e);
}

static void handle_update(struct api *api, struct http_request *req, const struct api_call *call,
                          const json_t *body)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        struct errbuf e = {};
        bool has_ports = false;

        if (api_body_container_id(req, call, body, &id) < 0)
                return;
        const json_t *res = json_object_get(body, "resources");
        if (!json_is_array(res))
                return api_reply_error(req, 400, "%s.resources: expected an array of resources",
                                       call->field);
        int r = resources_ports_from_json(res, &ports, &has_ports, &e);
        if (r == -ENOMEM)
                return api_reply_error(req, 500, "out of memory");
        if (r < 0)
                return api_reply_error(req, 400, "%s.resources: %s", call->field, e.msg);
        if (!api_auth_manage(api, req, id))
                return;

        r = containerizer_update(api->cz, id, &ports, has_ports, &e);
        if (r == -EINVAL)
                return api_reply_error(
                    req, 400, "container '%s' is nested: update its root container instead", id);
        if (r == -EBUSY)
                return api_reply_error(req, 409, "%s", e.msg);
        if (r == -EPERM)
                return api_reply_error(
                    req, 409, "container '%s' is adopted: its ports come from its source", id);
        reply_result(api, req, call, "update", id, r, &e);
}

static const struct api_call api_calls[] = {
    {"GET_HEALTH", NULL, handle_get_health, false},
    {"GET_VERSION", NULL, handle_get_version, false},
    {"GET_FLAGS", NULL, handle_get_flags, false},
    {"GET_METRICS", NULL, handle_get_metrics, false},
    {"GET_CONTAINERS", "get_containers", handle_get_containers, false, true},
    {"GET_PORTS", NULL, handle_get_ports, false},
    {"LAUNCH_CONTAINER", "launch_container", handle_launch, false},
    {"LAUNCH_NESTED_CONTAINER", "launch_nested_container", handle_launch, true},
    {"WAIT_CONTAINER", "wait_container", api_handle_wait, false},
    {"WAIT_NESTED_CONTAINER", "wait_nested_container", api_handle_wait, true},
    {"KILL_CONTAINER", "kill_container", handle_kill, false},
    {"KILL_NESTED_CONTAINER", "kill_nested_container", handle_kill, true},
    {"REMOVE_CONTAINER", "remove_container", handle_remove, false},
    {"REMOVE_NESTED_CONTAINER", "remove_nested_container", handle_remove, true},
    {"UPDATE_CONTAINER", "update_container", handle_update, false},
    {"GET_EVENTS", "get_events", api_handle_get_events, false},
};

/* ct is type, optionally followed by parameters ("; charset=utf-8"). */
static bool content_type_is(const char *ct, const char *type)
{
        size_t n = strlen(type);

        if (!ct)
                return false;
        ct += strspn(ct, " \t");
        if (strncasecmp(ct, type, n) != 0)
                return false;
        ct += n;
        return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

/* Answer 405 naming the one method path takes; true if req used another. */
static bool wrong_method(struct http_request *req, const char *method)
{
        if (strcmp(http_request_method(req), method) == 0)
                return false;
        (void)http_request_add_header(req, "Allow", method);
        api_reply_error(req, 405, "%s expects %s", http_request_path(req), method);
        return true;
}

static void handle_api_v1(struct api *api, struct http_request *req)
{
        if (wrong_method(req, "POST"))
                return;
        const char *ct = http_request_header(req, "Content-Type");
        bool protobuf = content_type_is(ct, API_PROTO_CONTENT_TYPE);
        if (!protobuf && !content_type_is(ct, "application/json"))
                return api_reply_error(req, 415,
                                       "Expecting 'Content-Type' of application/json or %s, got "
                                       "'%s'",
                                       API_PROTO_CONTENT_TYPE, ct ?: "");
        if (api_response_encoding(req) == API_ENCODING_NONE)
                return api_reply_error(req, 406,
                                       "Expecting 'Accept' to allow application/json or %s",
                                       API_PROTO_CONTENT_TYPE);

        size_t len;
        struct errbuf e = {};
        _cleanup_json_ json_t *msg = NULL;
        const char *data = http_request_body(req, &len);
        if (protobuf) {
                if (api_proto_call_unpack(data, len, &msg, &e) < 0)
                        return api_reply_error(req, 400, "%s", e.msg);
        } else {
                if (len == 0)
                        return api_reply_error(req, 400,
                                               "empty body: expected an agent.Call JSON object");
                json_error_t jerr;
                msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
                if (!msg)
                        return api_reply_error(req, 400, "malformed JSON at line %d, column %d: %s",
                                               jerr.line, jerr.column, jerr.text);
                if (!json_is_object(msg))
                        return api_reply_error(req, 400, "expected an agent.Call JSON object");
                /* Numbers and booleans as strings read as protobuf JSON reads them. */
                if (api_proto_call_normalize(msg, &e) < 0)
                        return api_reply_error(req, 400, "%s", e.msg);
        }

        const json_t *type = json_object_get(msg, "type");
        if (!json_is_string(type))
                return api_reply_error(req, 400,
                                       "missing 'type' (a string such as \"GET_HEALTH\")");

        const struct api_call *call = NULL;
        for (size_t i = 0; i < ELEMENTSOF(api_calls); i++)
                if (strcmp(api_calls[i].type, json_string_value(type)) == 0)
                        call = &api_calls[i];
        if (!call)
                return api_reply_error(req, 400, "unsupported call type '%s'",
                                       json_string_value(type));

        const json_t *body = NULL;
        if (call->field) {
                body = json_object_get(msg, call->field);
                if (!body && call->body_optional)
                        body = NULL;
                else if (!json_is_object(body))
                        return api_reply_error(req, 400, "%s needs a '%s' object", call->type,
                                               call->field);
        }
        struct auth_caller caller;
        if (!api_authorize(api, req, call->type, msg, call->field, &caller))
                return;
        log_debug("API call %s from %s", call->type, http_request_peer(req)->text);
        api->caller = &caller;
        call->handler(api, req, call, body);
        api->caller = NULL;
}

static void handle_health(struct api *api, struct http_request *req)
{
        (void)api;
        if (wrong_method(req, "GET"))
                return;
        api_reply_json(req, 200, json_pack("{s:b}", "healthy", 1));
}

static void handle_metrics_snapshot(struct api *api, struct http_request *req)
{
        if (wrong_method(req, "GET"))
                return;
        struct auth_caller caller;
        if (!api_authorize(api, req, "GET_METRICS", NULL, NULL, &caller))
                return;
        api_reply_json(req, 200, metrics_snapshot(api));
}

/* GET /metrics: the Prometheus text format (metrics.h). */
static void handle_metrics(struct api *api, struct http_request *req)
{
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        if (wrong_method(req, "GET"))
                return;
        struct auth_caller caller;
        if (!api_authorize(api, req, "GET_METRICS", NULL, NULL, &caller))
                return;
        metrics_write_prometheus(api->cz, api->n_waiters, api->flags->metrics_per_container, &sb);
        if (sb.oom)
                return api_reply_error(req, 500, "out of memory");
        http_request_reply(req, 200, METRICS_CONTENT_TYPE, strbuf_str(&sb), sb.len);
}

/* One row per path the agent serves. */
static const struct {
        const char *path;
        void (*handler)(struct api *api, struct http_request *req);
} api_routes[] = {
    {"/api/v1", handle_api_v1},
    {"/health", handle_health},
    {"/metrics/snapshot", handle_metrics_snapshot},
    {"/metrics", handle_metrics},
};

static void handle_request(struct http_request *req, void *userdata)
{
        struct api *api = userdata;
        const char *path = http_request_path(req);

        for (size_t i = 0; i < ELEMENTSOF(api_routes); i++)
                if (strcmp(api_routes[i].path, path) == 0)
                        return api_routes[i].handler(api, req);
        api_reply_error(req, 404, "no such endpoint '%s' (try POST /api/v1)", path);
}

int api_new(struct event_base *base, const struct agent_flags *flags, struct containerizer *cz,
            struct api **ret, struct errbuf *e)
{
        _cleanup_free_ struct api *api = calloc(1, sizeof(*api));
        if (!api)
                return -ENOMEM;
        *api = (struct api){.base = base, .flags = flags, .cz = cz};
        LIST_INIT(&api->waiters);

        const struct http_server_config cfg = {
            .ip = flags->ip,
            .port = flags->port,
            .unix_path = flags->api_socket,
            .unix_group = flags->api_socket_group,
            .idle_timeout_ns = flags->http_idle_timeout_ns,
            .header_timeout_ns = flags->http_header_timeout_ns,
            .body_timeout_ns = flags->http_body_timeout_ns,
            .max_connections = flags->http_max_connections,
            .max_body_size = flags->http_max_body_size,
            .max_header_size = flags->http_max_header_size,
        };
        int r = http_server_new(base, &cfg, handle_request, api, &api->http, e);
        if (r < 0)
                return r;
        r = api_auth_init(api);
        if (r < 0) {
                http_server_free(api->http);
                return errbuf_set(e, r, "cannot find the name of the agent's user");
        }
        *ret = TAKE_PTR(api);
        return 0;
}

void api_free(struct api *api)
{
        if (!api)
                return;
        api_waiters_shutdown(api);
        http_server_free(api->http);
        free(api->agent_user);
        sockdiag_free(api->sockdiag);
        free(api);
}
