/* containerizer-adopt.h - containers that another engine launched.
 *
 * A workload source (Docker, Podman, a declarations directory) hands the
 * containerizer a container it found: an id, the cgroup its processes live
 * in, and the ports it declared. The containerizer isolates it exactly as a
 * launched root container (network/ports, instant detection, bind
 * prevention), lists it with its source, and never launches, kills through
 * cgroups, removes or checkpoints it: its life belongs to the engine.
 *
 *   adopt -> RUNNING --(limitation, enforced)--> DESTROYING --ended--> TERMINATED
 *                    \------------------------ended----------------/      |
 *   forget (from any state): gone from the table ------------------------/
 *
 * When it must stop (a limitation with --enforce_container_ports, or a
 * KILL_CONTAINER), the source's stop callback is called once and the
 * container stays DESTROYING until the source reports the end (the engine's
 * own event), so the engine records the stop itself. After an agent restart
 * the sources adopt again what their engines still run: nothing of an
 * adopted container is checkpointed. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "agent/containerizer.h"
#include "basic/errbuf.h"
#include "ports/portset.h"

/* Called when an adopted container must stop; the source stops it through
 * its engine and later calls containerizer_adopted_ended(). */
typedef void (*container_stop_fn)(struct containerizer *cz, const char *id, void *userdata);

struct container_adoption {
        const char *source;          /* "docker", "podman", "cgroups" */
        const char *cgroup;          /* relative to the hierarchy's mount */
        pid_t pid;                   /* main process, 0 if unknown */
        bool has_ports;              /* false: declared nothing, not checked */
        const struct portset *ports; /* allowed ports when has_ports */
        container_stop_fn stop;
        void *userdata;
};

/* Make an adopted container (a root container) of id. -EEXIST if the id is
 * in use by a launched container or one still running, -ENOENT if its cgroup
 * is gone, -EINVAL bad id (line in *e). A TERMINATED adopted container of the
 * same id is replaced (the engine restarted it). */
int containerizer_adopt(struct containerizer *cz, const char *id,
                        const struct container_adoption *a, struct errbuf *e);
/* Replace an adopted container's allowed ports (its declaration changed).
 * -ENOENT unknown or not adopted. */
int containerizer_adopted_set_ports(struct containerizer *cz, const char *id, bool has_ports,
                                    const struct portset *ports);
/* The engine says it ended: TERMINATED, with the exit status when known.
 * -ENOENT unknown or not adopted. */
int containerizer_adopted_ended(struct containerizer *cz, const char *id, bool has_exit_status,
                                int exit_status);
/* The engine removed it: drop it from the table (pending waits hear of its
 * end first). -ENOENT unknown or not adopted. */
int containerizer_forget(struct containerizer *cz, const char *id);
/* --cgroups_root: where launched containers live (a source adopts nothing there). */
const char *containerizer_cgroups_root(const struct containerizer *cz);
/* The agent's recent container events (GET_EVENTS). */
struct event_log *containerizer_events(struct containerizer *cz);
