/* resources.h - the `ports` part of Mesos resources.
 *
 * Accepts the agent flag's text form "cpus:1;mem:32;ports(*):[31000-32000]"
 * and the protobuf-JSON array form
 *   [{"name":"ports","type":"RANGES","ranges":{"range":[...]}}, ...]
 * Only `ports` matters to portiso; other resources are validated for shape and
 * ignored. Several `ports` entries (different roles) are united. A resources
 * value without any `ports` entry is told apart from one with an empty ports
 * entry through ret_has_ports: Mesos defaults the former and honours the
 * latter as "no ports". */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "basic/errbuf.h"
#include "portset.h"

/* Parse either form (JSON if the first non-blank char is '['), extract ports. */
int resources_parse_ports(const char *text, struct portset *ret_ports, bool *ret_has_ports,
                          struct errbuf *e);
/* Extract ports from an already parsed JSON array of Resource objects. */
int resources_ports_from_json(const json_t *array, struct portset *ret_ports, bool *ret_has_ports,
                              struct errbuf *e);
/* New JSON array [{"name":"ports","type":"RANGES","ranges":{...}}]; NULL on OOM. */
json_t *resources_ports_to_json(const struct portset *ports);
