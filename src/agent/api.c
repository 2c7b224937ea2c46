/* api.c - the agent's HTTP API on libevent's evhttp; see api.h.
 *
 * One POST /api/v1 handler reads an agent.Call, looks its `type` up in a
 * table and hands the call's body (the snake_case field named after the
 * type) to a small handler that talks to the containerizer. Message shapes
 * live in api-json.c, WAIT_CONTAINER long polls in api-wait.c; this file is
 * the HTTP plumbing and the status codes of every other call.
 *
 * Errors are one line of text/plain (as Mesos answers them), JSON bodies are
 * application/json. Request bodies are capped at 1 MiB and headers at 64 KiB
 * by evhttp itself, which answers 413. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "agent/api-json.h"
#include "agent/api-private.h"
#include "agent/api.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "ports/resources.h"

#ifndef PORTISO_VERSION
#define PORTISO_VERSION "0.1.0"
#endif

#define API_MAX_BODY_SIZE (1024 * 1024)
#define API_MAX_HEADERS_SIZE (64 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct addrinfo *, freeaddrinfo);

static bool is_control(char c)
{
        return (unsigned char)c < ' ' || c == 0x7f;
}

/* Send a one-line text/plain error. */
_printf_(3, 4) void api_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0) {
                text = NULL;
                evbuffer_add_printf(out, "out of memory");
        }
        /* Reasons quote what the client sent (a call type, a container id):
         * escape its control characters, so that the reason stays one line. */
        for (const char *p = text; p && *p;) {
                size_t k = 0;
                while (p[k] && !is_control(p[k]))
                        k++;
                evbuffer_add(out, p, k);
                p += k;
                if (*p)
                        evbuffer_add_printf(out, "\\x%02x", (unsigned char)*p++);
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
        evhttp_send_reply(req, code, NULL, NULL);
}

/* Send a JSON body (reference stolen); NULL means we ran out of memory. */
void api_reply_json(struct evhttp_request *req, int code, json_t *body)
{
        _cleanup_json_ json_t *j = body;
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

        if (!s)
                return api_reply_error(req, 500, "out of memory");
        evbuffer_add(evhttp_request_get_output_buffer(req), s, strlen(s));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_send_reply(req, code, NULL, NULL);
}

/* A 200 with no body, as Mesos answers calls without a Response. */
static void reply_ok(struct evhttp_request *req, int code)
{
        evhttp_send_reply(req, code, NULL, NULL);
}

/* Wrap a call's response body as {"type": T, "<field>": body}; steals body. */
json_t *api_response(const char *type, const char *field, json_t *body)
{
        return body ? json_pack("{s:s, s:o}", "type", type, field, body) : NULL;
}

/* Map an unexpected containerizer error to a 500 with context. */
void api_reply_failure(struct evhttp_request *req, const char *what, const char *id, int r,
                       const struct errbuf *e)
{
        api_reply_error(req, 500, "failed to %s container '%s': %s", what, id,
                        e && e->msg[0] ? e->msg : strerror(-r));
}

static void handle_get_health(struct api *api, struct evhttp_request *req,
                              const struct api_call *call, const json_t *body)
{
        (void)api, (void)body;
        api_reply_json(req, 200,
                       api_response(call->type, "get_health", json_pack("{s:b}", "healthy", 1)));
}

static void handle_get_version(struct api *api, struct evhttp_request *req,
                               const struct api_call *call, const json_t *body)
{
        (void)api, (void)body;
        api_reply_json(
            req, 200,
            api_response(call->type, "get_version",
                         json_pack("{s:{s:s}}", "version_info", "version", PORTISO_VERSION)));
}

static void append_flag(const char *name, const char *value, void *userdata)
{
        json_t *flags = userdata;
        json_array_append_new(flags, json_pack("{s:s, s:s}", "name", name, "value", value ?: ""));
}

static void handle_get_flags(struct api *api, struct evhttp_request *req,
                             const struct api_call *call, const json_t *body)
{
        json_t *flags = json_array();
        (void)body;

        if (flags)
                agent_flags_foreach(api->flags, append_flag, flags);
        api_reply_json(req, 200,
                       api_response(call->type, "get_flags", json_pack("{s:o}", "flags", flags)));
}

static json_t *metrics_snapshot(const struct api *api)
{
        struct containerizer_metrics m = {};

        containerizer_metrics(api->cz, &m);
        return api_json_metrics_snapshot(&m, api->n_waiters);
}

static void handle_get_metrics(struct api *api, struct evhttp_request *req,
                               const struct api_call *call, const json_t *body)
{
        _cleanup_json_ json_t *snap = metrics_snapshot(api);
        (void)body;

        if (!snap)
                return api_reply_error(req, 500, "out of memory");
        api_reply_json(req, 200,
                       api_response(call->type, "get_metrics",
                                    json_pack("{s:o}", "metrics", api_json_metrics_list(snap))));
}

static void handle_get_containers(struct api *api, struct evhttp_request *req,
                                  const struct api_call *call, const json_t *body)
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
        api_reply_json(
            req, 200,
            api_response(call->type, "get_containers", json_pack("{s:O}", "containers", list)));
}

static void handle_launch(struct api *api, struct evhttp_request *req, const struct api_call *call,
                          const json_t *body)
{
        _cleanup_(container_config_done) struct container_config cfg = {};
        struct errbuf e = {};

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

        _cleanup_free_ char *id = strdup(cfg.id);
        if (!id)
                return api_reply_error(req, 500, "out of memory");
        r = containerizer_launch(api->cz, &cfg, &e);
        if (r == -EEXIST)
                return reply_ok(req, 202); /* as Mesos: the id is already in use */
        if (r == -ENOENT)
                return api_reply_error(req, 400, "%s",
                                       e.msg[0] ? e.msg : "the parent container is unknown");
        if (r == -EINVAL)
                return api_reply_error(req, 400, "%s", e.msg[0] ? e.msg : "invalid container");
        if (r < 0)
                return api_reply_failure(req, "launch", id, r, &e);

        /* The containerizer owns the contents now. */
        cfg = (struct container_config){};
        reply_ok(req, 200);
}

int api_body_container_id(struct evhttp_request *req, const struct api_call *call,
                          const json_t *body, char **ret_id)
{
        _cleanup_free_ char *what = NULL;
        struct errbuf e = {};

        if (asprintf(&what, "%s.container_id", call->field) < 0) {
                api_reply_error(req, 500, "out of memory");
                return -ENOMEM;
        }
        int r =
            api_json_parse_container_id(json_object_get(body, "container_id"), what, ret_id, &e);
        if (r < 0)
                api_reply_error(req, r == -ENOMEM ? 500 : 400, "%s", e.msg);
        return r;
}

static void handle_kill(struct api *api, struct evhttp_request *req, const struct api_call *call,
                        const json_t *body)
{
        _cleanup_free_ char *id = NULL;
        struct errbuf e = {};
        int sig;

        if (api_body_container_id(req, call, body, &id) < 0)
                return;
        if (api_json_parse_signal(body, call->field, &sig, &e) < 0)
                return api_reply_error(req, 400, "%s", e.msg);

        int r = containerizer_kill(api->cz, id, sig);
        if (r == -ENOENT)
                return api_reply_error(req, 404, "container '%s' is unknown", id);
        if (r == -EINVAL)
                return api_reply_error(req, 400, "cannot send signal %d to container '%s'", sig,
                                       id);
        if (r < 0)
                return api_reply_failure(req, "kill", id, r, NULL);
        reply_ok(req, 200);
}

static void handle_remove(struct api *api, struct evhttp_request *req, const struct api_call *call,
                          const json_t *body)
{
        _cleanup_free_ char *id = NULL;

        if (api_body_container_id(req, call, body, &id) < 0)
                return;
        int r = containerizer_remove(api->cz, id);
        if (r == -ENOENT)
                return api_reply_error(req, 404, "container '%s' is unknown", id);
        if (r == -EBUSY)
                return api_reply_error(
                    req, 409, "container '%s' has not terminated: kill it and wait first", id);
        if (r < 0)
                return api_reply_failure(req, "remove", id, r, NULL);
        reply_ok(req, 200);
}

static void handle_update(struct api *api, struct evhttp_request *req, const struct api_call *call,
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

        r = containerizer_update(api->cz, id, &ports, has_ports);
        if (r == -ENOENT)
                return api_reply_error(req, 404, "container '%s' is unknown", id);
        if (r == -EINVAL)
                return api_reply_error(
                    req, 400, "container '%s' is nested: update its root container instead", id);
        if (r < 0)
                return api_reply_failure(req, "update", id, r, NULL);
        reply_ok(req, 200);
}

static const struct api_call api_calls[] = {
    {"GET_HEALTH", NULL, handle_get_health, false},
    {"GET_VERSION", NULL, handle_get_version, false},
    {"GET_FLAGS", NULL, handle_get_flags, false},
    {"GET_METRICS", NULL, handle_get_metrics, false},
    {"GET_CONTAINERS", NULL, handle_get_containers, false},
    {"LAUNCH_CONTAINER", "launch_container", handle_launch, false},
    {"LAUNCH_NESTED_CONTAINER", "launch_nested_container", handle_launch, true},
    {"WAIT_CONTAINER", "wait_container", api_handle_wait, false},
    {"WAIT_NESTED_CONTAINER", "wait_nested_container", api_handle_wait, true},
    {"KILL_CONTAINER", "kill_container", handle_kill, false},
    {"KILL_NESTED_CONTAINER", "kill_nested_container", handle_kill, true},
    {"REMOVE_CONTAINER", "remove_container", handle_remove, false},
    {"REMOVE_NESTED_CONTAINER", "remove_nested_container", handle_remove, true},
    {"UPDATE_CONTAINER", "update_container", handle_update, false},
};

/* "application/json", optionally followed by parameters ("; charset=utf-8"). */
static bool content_type_is_json(const char *ct)
{
        static const char json[] = "application/json";

        if (!ct)
                return false;
        ct += strspn(ct, " \t");
        if (strncasecmp(ct, json, sizeof(json) - 1) != 0)
                return false;
        ct += sizeof(json) - 1;
        return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

static void handle_api_v1(struct evhttp_request *req, void *userdata)
{
        struct api *api = userdata;

        if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
                return api_reply_error(req, 405, "/api/v1 expects POST");
        }
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        if (!content_type_is_json(ct))
                return api_reply_error(
                    req, 415, "expected Content-Type: application/json, got '%s'", ct ?: "");

        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if (len == 0)
                return api_reply_error(req, 400, "empty body: expected an agent.Call JSON object");
        const char *data = (const char *)evbuffer_pullup(in, -1);
        json_error_t jerr;
        _cleanup_json_ json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!msg)
                return api_reply_error(req, 400, "malformed JSON at line %d, column %d: %s",
                                       jerr.line, jerr.column, jerr.text);
        if (!json_is_object(msg))
                return api_reply_error(req, 400, "expected an agent.Call JSON object");

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
                if (!json_is_object(body))
                        return api_reply_error(req, 400, "%s needs a '%s' object", call->type,
                                               call->field);
        }
        log_debug("API call %s", call->type);
        call->handler(api, req, call, body);
}

static void handle_health(struct evhttp_request *req, void *userdata)
{
        (void)userdata;
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
                return api_reply_error(req, 405, "/health expects GET");
        }
        api_reply_json(req, 200, json_pack("{s:b}", "healthy", 1));
}

static void handle_metrics_snapshot(struct evhttp_request *req, void *userdata)
{
        struct api *api = userdata;

        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
                return api_reply_error(req, 405, "/metrics/snapshot expects GET");
        }
        api_reply_json(req, 200, metrics_snapshot(api));
}

static void handle_unknown(struct evhttp_request *req, void *userdata)
{
        (void)userdata;
        api_reply_error(req, 404, "no such endpoint '%s' (try POST /api/v1)",
                        evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)) ?: "");
}

/* A listening TCP socket on ip:port (numeric IPv4 or IPv6 address). */
static int api_listen(const char *ip, uint16_t port, int *ret_fd)
{
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC,
            .ai_socktype = SOCK_STREAM,
            .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
        };
        _cleanup_(freeaddrinfop) struct addrinfo *ai = NULL;
        char service[8];

        snprintf(service, sizeof(service), "%u", port);
        if (getaddrinfo(ip, service, &hints, &ai) != 0 || !ai)
                return -EADDRNOTAVAIL;

        _cleanup_close_ int fd =
            socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return negative_errno();
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
                return negative_errno();
        if (listen(fd, 1024) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int api_new(struct event_base *base, const struct agent_flags *flags, struct containerizer *cz,
            struct api **ret)
{
        _cleanup_free_ struct api *api = calloc(1, sizeof(*api));
        if (!api)
                return -ENOMEM;
        *api = (struct api){.base = base, .flags = flags, .cz = cz};
        LIST_INIT(&api->waiters);

        _cleanup_close_ int fd = -1;
        int r = api_listen(flags->ip, flags->port, &fd);
        if (r < 0)
                return r;

        api->http = evhttp_new(base);
        if (!api->http)
                return -ENOMEM;
        evhttp_set_max_body_size(api->http, API_MAX_BODY_SIZE);
        evhttp_set_max_headers_size(api->http, API_MAX_HEADERS_SIZE);
        /* Read an oversized body to its end before the 413, so the client sees
         * the answer instead of a connection reset. */
        evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
        /* Every method reaches our handlers, which answer 405 themselves. */
        evhttp_set_allowed_methods(api->http, 0xffff);
        if (evhttp_set_cb(api->http, "/api/v1", handle_api_v1, api) < 0 ||
            evhttp_set_cb(api->http, "/health", handle_health, api) < 0 ||
            evhttp_set_cb(api->http, "/metrics/snapshot", handle_metrics_snapshot, api) < 0) {
                evhttp_free(api->http);
                return -ENOMEM;
        }
        evhttp_set_gencb(api->http, handle_unknown, api);
        if (!evhttp_accept_socket_with_handle(api->http, fd)) {
                evhttp_free(api->http);
                return -ENOMEM;
        }
        TAKE_FD(fd); /* evhttp closes it */
        log_info("HTTP API listening on %s:%u", flags->ip, flags->port);
        *ret = TAKE_PTR(api);
        return 0;
}

void api_free(struct api *api)
{
        if (!api)
                return;
        api_waiters_shutdown(api);
        evhttp_free(api->http);
        free(api);
}
