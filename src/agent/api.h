/* api.h - the HTTP API: Mesos v1 agent operator calls on POST /api/v1, plus
 * GET /health and GET /metrics/snapshot, served by http-server.h on the
 * agent's loop (TCP --ip/--port and the unix socket --api_socket). Translates JSON <->
 * containerizer calls; holds no state of its own beyond pending WAIT_CONTAINER long polls. */
#pragma once

#include <event2/event.h>

#include "agent/containerizer.h"
#include "agent/flags.h"
#include "basic/errbuf.h"

struct api;

/* Bind the listeners of flags and start serving. -EADDRINUSE etc., with
 * one line in *e. */
int api_new(struct event_base *base, const struct agent_flags *flags, struct containerizer *cz,
            struct api **ret, struct errbuf *e);
/* Stop serving; pending waits are answered 503. */
void api_free(struct api *api);
