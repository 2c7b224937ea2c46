/* api-proto.h - the agent API's two encodings, JSON and protobuf, bridged
 * through the message descriptors protoc-c generates from src/proto (Mesos'
 * own names and numbers for the subset portiso serves).
 *
 * Handlers work on jansson JSON in the protobuf-JSON form Mesos speaks
 * (field names as in the .proto, enums by name, 64-bit numbers as numbers).
 * A call is checked against mesos.v1.agent.Call on the way in: numbers and
 * booleans given as strings become numbers and booleans, as protobuf's JSON
 * parser accepts them, and a value of the wrong type is refused with the
 * field's path. A protobuf call is unpacked and turned into the same JSON.
 * Every answer goes out through mesos.v1.agent.Response: packed for
 * protobuf, or rebuilt from the message for JSON, so that no answer can
 * carry a field a strict Mesos client would trip on. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/errbuf.h"

#define API_PROTO_CONTENT_TYPE "application/x-protobuf"

/* Coerce the known fields of a JSON agent.Call in place (unknown fields are
 * left for the handlers to ignore). -EINVAL with the field's path in *e. */
int api_proto_call_normalize(json_t *call, struct errbuf *e);
/* Unpack a protobuf agent.Call into its JSON form. -EINVAL on bad bytes. */
int api_proto_call_unpack(const void *data, size_t len, json_t **ret, struct errbuf *e);
/* An agent.Response in JSON form as protobuf bytes (malloc'd). -EINVAL if it
 * does not fit the message (a bug: the field is named in *e). */
int api_proto_response_pack(const json_t *response, uint8_t **ret, size_t *ret_len,
                            struct errbuf *e);
/* The same answer as JSON, rebuilt from the message (steals response). */
int api_proto_response_json(json_t *response, json_t **ret, struct errbuf *e);
