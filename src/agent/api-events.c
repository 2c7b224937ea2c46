/* api-events.c - GET_EVENTS, beyond Mesos: the agent's recent container
 * events (event-log.h) after a sequence number.
 *
 *   {"type": "GET_EVENTS", "get_events": {"after": 17}}
 *   -> {"type": "GET_EVENTS", "get_events": {"events": [
 *        {"seq": 18, "time": 1764612345.123, "type": "violation",
 *         "container_id": {"value": "podman:web"}, "source": "podman",
 *         "message": "..."}], "last": 18}}
 *
 * The answer is immediate: `portiso events --follow` polls again with
 * after = last (the newest sequence number), so nothing waits on the agent's
 * loop. */
#include <jansson.h>

#include "agent/api-json.h"
#include "agent/api-private.h"
#include "agent/containerizer-adopt.h"
#include "agent/event-log.h"

struct collect {
        json_t *list;
        uint64_t last;
        bool failed;
};

static void add_one(const struct event_log_entry *e, void *userdata)
{
        struct collect *col = userdata;
        json_t *o = json_pack("{s:I, s:f, s:s, s:o, s:s}", "seq", (json_int_t)e->seq, "time",
                              (double)e->time_ns / 1e9, "type", e->kind, "container_id",
                              api_json_container_id(e->container), "source", e->source);

        if (o && e->message && json_object_set_new(o, "message", json_string(e->message)) < 0)
                json_decref(TAKE_PTR(o));
        if (!o || json_array_append_new(col->list, o) < 0)
                col->failed = true;
        col->last = e->seq;
}

void api_handle_get_events(struct api *api, struct http_request *req, const struct api_call *call,
                           const json_t *body)
{
        const struct event_log *log = containerizer_events(api->cz);
        const json_t *after = json_object_get(body, "after");
        struct collect col = {.list = json_array()};
        _cleanup_json_ json_t *list = col.list;

        if (after && (!json_is_integer(after) || json_integer_value(after) < 0))
                return api_reply_error(req, 400, "%s.after: expected a non-negative integer",
                                       call->field);
        if (!list)
                return api_reply_error(req, 500, "out of memory");
        col.last = after ? (uint64_t)json_integer_value(after) : 0;
        event_log_foreach(log, col.last, add_one, &col);
        if (col.failed)
                return api_reply_error(req, 500, "out of memory");
        api_reply_json(
            req, 200,
            api_response(call->type, "get_events",
                         json_pack("{s:O, s:I}", "events", list, "last",
                                   (json_int_t)(log->next_seq ? log->next_seq - 1 : 0))));
}
