/* api-json.h - protobuf-JSON <-> portiso structures for the v1 operator API.
 *
 * Kept apart from api.c so that the HTTP plumbing (routes, long polls) and
 * the message shapes (Mesos agent.proto field names) can be read, and
 * changed, independently. Parsers return -EINVAL with one line in *e naming
 * the offending field ("launch_container.command.value: expected a string"),
 * which api.c sends back as the body of a 400. */
#pragma once

#include <jansson.h>

#include "agent/containerizer.h"
#include "basic/errbuf.h"

/* jansson provides json_decrefp() for exactly this. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Parse a ContainerID {value, parent?} into "root/child"; every component is
 * checked with container_id_validate(). `what` names the field in errors. */
int api_json_parse_container_id(const json_t *j, const char *what, char **ret_id, struct errbuf *e);
/* New ContainerID object for "root/child" ({"value":"child","parent":{...}}). */
json_t *api_json_container_id(const char *id);
/* Parse a launch body (LaunchContainer / LaunchNestedContainer) into *ret.
 * `what` is the body's field name, used in error lines. */
int api_json_parse_launch(const json_t *body, const char *what, struct container_config *ret,
                          struct errbuf *e);
/* Parse an optional "signal" (default SIGKILL) of a KillContainer body. */
int api_json_parse_signal(const json_t *body, const char *what, int *ret_signal, struct errbuf *e);
/* The WaitContainer response body of a terminated container: exit_status,
 * state, reason, message, limitation (absent fields omitted). */
json_t *api_json_termination(const struct container *c);
/* One GET_PORTS entry: container_id, state, container_status, user,
 * resources (allocated ports), listening (RANGES), termination. */
json_t *api_json_container(const struct container *c);
/* GET_CONTAINERS' Container: container_id and container_status only. */
json_t *api_json_mesos_container(const struct container *c);
/* Flat metrics object for /metrics/snapshot ("containerizer/containers": 3, ...). */
json_t *api_json_metrics_snapshot(const struct containerizer_metrics *m, size_t pending_waits);
/* GetMetrics.metrics array [{"name":..,"value":..}] from a snapshot object. */
json_t *api_json_metrics_list(const json_t *snapshot);
