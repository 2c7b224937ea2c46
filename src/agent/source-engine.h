/* source-engine.h - the Docker and Podman workload sources.
 *
 * Both engines serve the Docker Engine API on a unix socket (Podman through
 * `podman system service`). The source follows the engine's event stream
 * and lists every container at start-up and after each reconnect; each
 * host-network container it finds running is adopted (containerizer-adopt.h)
 * with the ports it declares: the label portiso.ports (Mesos Ranges text)
 * when present, otherwise the ports it exposes (its own ExposedPorts, else
 * its image's). A container that declares nothing is left alone, as Mesos
 * leaves a task without a ports resource unchecked. A violation is stopped
 * through the engine (POST /containers/<id>/kill), so the engine records it.
 * All HTTP runs through curl-loop.h on the agent's loop. */
#pragma once

#include "agent/containerizer.h"
#include "agent/curl-loop.h"

struct engine_source;

/* Start following the engine named name ("docker", "podman") on the socket
 * at socket_path. An engine that is not there yet is retried with backoff;
 * only running out of memory fails. */
int engine_source_new(struct event_base *base, struct curl_loop *curl, struct containerizer *cz,
                      const char *name, const char *socket_path, struct engine_source **ret);
/* Stop following (adopted containers are forgotten with the agent). */
void engine_source_free(struct engine_source *s);
