/* engine-json.h - what portiso reads from the Docker Engine API (which
 * Podman also serves): container inspects, image inspects, the container
 * list and event-stream lines, turned into flat structs.
 *
 * Pure functions over JSON text, so the interpretation (which containers
 * count, where their ports come from) is unit-tested without an engine. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "basic/errbuf.h"
#include "ports/portset.h"

/* The label that declares a container's ports, Mesos Ranges text. */
#define ENGINE_PORTS_LABEL "portiso.ports"

struct engine_container {
        char *id;    /* full engine id */
        char *name;  /* without the leading '/' */
        char *image; /* image id ("sha256:..."), may be NULL */
        bool running;
        bool host_network; /* HostConfig.NetworkMode == "host" */
        pid_t pid;         /* State.Pid, 0 when not running */
        int exit_code;     /* State.ExitCode */
        bool has_label;    /* portiso.ports present (label_ports valid or label_error set) */
        struct portset label_ports;
        char label_error[512];  /* why the label did not parse, "" if it did */
        struct portset exposed; /* Config.ExposedPorts */
};

/* Parse GET /containers/<id>/json. -EINVAL with a line in *e. */
int engine_parse_inspect(const char *json, size_t len, struct engine_container *ret,
                         struct errbuf *e);
/* Ports of GET /images/<id>/json's Config.ExposedPorts into *ret. */
int engine_parse_image_exposed(const char *json, size_t len, struct portset *ret, struct errbuf *e);
/* Ids of GET /containers/json (a malloc'd array of malloc'd strings). */
int engine_parse_list(const char *json, size_t len, char ***ret_ids, size_t *ret_n,
                      struct errbuf *e);
/* The container id of an event-stream line when it is a container event
 * (Type "container"), with its action in *ret_action ("start", "die", ...):
 * returns 1; 0 when the line is some other event, -EINVAL when it is not a
 * JSON object. */
int engine_parse_event(const char *line, size_t len, char **ret_id, char **ret_action);
/* Free the contents. */
void engine_container_done(struct engine_container *c);
/* A container id for portiso from the engine's name: "<source>:<name>" with
 * every character a container id may not hold ('/', '.', whitespace,
 * control) made '_'. NULL when out of memory or too long. */
char *engine_container_id(const char *source, const char *name);
