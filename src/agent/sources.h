/* sources.h - the workload sources of --workload_sources beyond the API:
 * docker and podman (source-engine.h) and cgroups (source-cgroups.h), all
 * feeding the containerizer's adopted containers. Started after recovery,
 * so everything they adopt meets isolators that already know the launched
 * containers. */
#pragma once

#include <event2/event.h>

#include "agent/containerizer.h"
#include "agent/flags.h"

struct sources;

/* Start every source flags name. Only running out of memory fails. */
int sources_start(struct event_base *base, const struct agent_flags *flags,
                  struct containerizer *cz, struct sources **ret);
/* Stop them; free before the containerizer. NULL is fine. */
void sources_free(struct sources *s);
