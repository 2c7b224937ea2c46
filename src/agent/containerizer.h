/* containerizer.h - the container lifecycle, as the Mesos containerizer.
 *
 *                 supervisor reported
 *   LAUNCHING ------------------------> RUNNING
 *       |                                  |  KILL (SIGKILL), a limitation,
 *       | launch failed, or destroyed      |  the main process ended, the
 *       | (KILL, its parent) while         |  parent ended
 *       | launching                        v
 *       +----------------------------> DESTROYING
 *                                          |  cgroup empty and supervisor
 *                                          |  gone, or the bound passed
 *                                          v  (the message says what escaped)
 *   (a failed launch is undone   <--- TERMINATED ---REMOVE---> (forgotten)
 *    and forgotten instead)
 *
 * Recovery starts every container as LAUNCHING and takes the same edges: a
 * live supervisor is re-adopted (RUNNING), one that ended while the agent
 * was away goes through DESTROYING to TERMINATED. A live container whose
 * checkpoint cannot be read goes to UNKNOWN instead (listed, not isolated)
 * and from there only to DESTROYING, when the operator kills it or its
 * cgroup empties. cz_set_state() is the
 * only place the state changes; it refuses any other edge.
 *
 * A container is a cgroup (<cgroups_root>/<id>, nested below its parent) and
 * a supervisor process that runs and reaps its main process. Isolators from
 * --isolation are prepared before the main process starts, updated with each
 * UPDATE_CONTAINER, watched on every --container_ports_watch_interval tick
 * and cleaned up on destroy. A limitation from network/ports destroys the
 * root container and its nested ones (with --enforce_container_ports) and is
 * recorded as their termination. Configuration, allocation and termination
 * are checkpointed under <work_dir>/meta so that a restarted agent recovers
 * every container.
 *
 * Everything runs on the agent's single libevent loop: no locks. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/container.h"
#include "agent/flags.h"
#include "basic/errbuf.h"
#include "basic/histogram.h"
#include "isolator/isolator.h"

struct containerizer_metrics {
        uint64_t containers;            /* gauge: known containers */
        uint64_t containers_running;    /* gauge */
        uint64_t containers_adopted;    /* gauge: from workload sources */
        uint64_t containers_destroying; /* gauge */
        uint64_t violations;            /* counter: limitations seen (enforced or logged) */
        uint64_t containers_killed;     /* counter: destroyed for a limitation */
        uint64_t denied_binds;          /* counter: binds bind prevention refused */
        uint64_t scans;                 /* counter: reconciliation passes */
        uint64_t last_scan_ns;          /* gauge: duration of the last pass */
        uint64_t listen_events;         /* counter: listeners reported by eBPF */
        uint64_t events_dropped;        /* counter: events the ring buffer lost */
        uint64_t event_checks;          /* counter: single-container checks of an event */
        uint64_t flush_batches;         /* counter: checkpoint flushes done off the loop */
        uint64_t flush_paths;           /* counter: files and directories they flushed */
        bool instant_detection;         /* feature active */
        bool prevent_bind;              /* feature active */

        /* Every full reconciliation pass (not the checks of one container). */
        struct histogram pass_seconds;
        /* From the kernel's listen() (or UDP bind) to the kill, for kills that
         * instant detection triggered; a periodic pass cannot know when a
         * listener appeared, so its kills are not in it. */
        struct histogram listen_to_kill_seconds;
};

struct containerizer;

typedef void (*container_wait_fn)(const struct container *c, void *userdata);

/* Create the containerizer on base; resolves cgroups and composes isolators. */
int containerizer_new(struct event_base *base, const struct agent_flags *flags,
                      struct containerizer **ret, struct errbuf *e);
/* Free memory only: never touches containers (stopping the agent keeps them). */
void containerizer_free(struct containerizer *cz);
/* Recover every checkpointed container (re-adopt the live, report the ended). */
int containerizer_recover(struct containerizer *cz);
/* How a launch ended: r = 0 (RUNNING) or a negative errno with a line. */
typedef void (*container_launch_fn)(int r, const char *id, const char *error, void *userdata);
/* Launch (takes ownership of *cfg's contents when it returns 0). Returns at
 * once: < 0 for a launch refused or failed before the supervisor started
 * (-EEXIST id in use, -ENOENT unknown parent, -EINVAL bad config; line in
 * *e), or 0, and done() follows from the loop (never from inside this call)
 * once the supervisor reported. *ret_handle is for
 * containerizer_launch_forget(). */
int containerizer_launch(struct containerizer *cz, struct container_config *cfg,
                         container_launch_fn done, void *userdata, void **ret_handle,
                         struct errbuf *e);
/* Never call the done() of a pending launch (its client went away); the
 * launch itself goes on. */
void containerizer_launch_forget(struct containerizer *cz, void *handle);
/* Call fn once the container is TERMINATED (on the next loop turn if it
 * already is; never from inside this call). *ret_handle is for
 * containerizer_wait_cancel(). -ENOENT unknown, -ENOMEM. */
int containerizer_wait(struct containerizer *cz, const char *id, container_wait_fn fn,
                       void *userdata, void **ret_handle);
/* Forget a pending wait (e.g. the HTTP client went away). */
void containerizer_wait_cancel(struct containerizer *cz, void *handle);
/* Call fn(r, userdata) from the loop once every checkpoint written so far is
 * on disk (r < 0: a flush failed). Returns 1 when nothing is pending (fn is
 * not called: answer at once), 0 with *ret_handle set for
 * containerizer_durable_cancel(), or -ENOMEM. Whatever a client is told
 * after a change (KILL, REMOVE, UPDATE, a WAIT's answer) waits for this. */
int containerizer_when_durable(struct containerizer *cz, void (*fn)(int r, void *userdata),
                               void *userdata, void **ret_handle);
void containerizer_durable_cancel(struct containerizer *cz, void *handle);
/* Send signal to the main process; SIGKILL destroys the container and its
 * nested ones, once that is checkpointed (else the error, a line in *e, and
 * nothing happened). -ENOENT unknown. */
int containerizer_kill(struct containerizer *cz, const char *id, int signal, struct errbuf *e);
/* Forget a terminated container and its checkpoint and sandbox; returns once
 * that is durable (else the error and nothing changed). -ENOENT unknown,
 * -EBUSY not terminated. */
int containerizer_remove(struct containerizer *cz, const char *id, struct errbuf *e);
/* Replace a root container's allocated ports; applied only once
 * checkpointed (else the error, a line in *e, and nothing changed). -ENOENT,
 * -EINVAL nested, -EBUSY UNKNOWN (its allocation cannot be known). */
int containerizer_update(struct containerizer *cz, const char *id, const struct portset *ports,
                         bool has_ports, struct errbuf *e);
/* The agent stops: with no container left that needs them, remove the
 * agent's own cgroups (supervisors', root). Running containers keep theirs. */
void containerizer_shutdown(struct containerizer *cz);
/* Look up one container; NULL if unknown. */
const struct container *containerizer_get(const struct containerizer *cz, const char *id);
/* All containers, sorted by id; *ret stays valid until the next loop turn. */
size_t containerizer_list(const struct containerizer *cz, const struct container *const **ret);
/* Current metrics. */
void containerizer_metrics(const struct containerizer *cz, struct containerizer_metrics *ret);

/* Run one reconciliation pass (every isolator's watch) right now, as the
 * periodic timer does (after recovery, when events were lost). */
int containerizer_check_now(struct containerizer *cz);
/* Instant detection saw a process of the root container whose cgroup id is
 * container_cgroup_id start listening at ktime_ns (CLOCK_MONOTONIC): a kill of
 * that container within the next second is timed from then. */
void containerizer_note_listen(struct containerizer *cz, uint64_t container_cgroup_id,
                               uint64_t ktime_ns);
/* Check the container a reported listener names (its creator's cgroup id,
 * protocol IPPROTO_TCP or IPPROTO_UDP, port != 0) alone, with the pass's
 * semantics: a limitation is handled as the pass would. -ENOENT when the
 * kernel does not show that listener (yet: try again a little later). */
int containerizer_check_event(struct containerizer *cz, uint64_t cgroup_id, uint8_t protocol,
                              uint16_t port);
/* True when an isolator refuses, in the kernel, a UDP bind() to every port
 * of ports by the root container whose cgroup id is container_cgroup_id:
 * instant detection reports such a bind before the refusal undoes it. */
bool containerizer_refuses_udp_bind(struct containerizer *cz, uint64_t container_cgroup_id,
                                    const struct portset *ports);
/* Count listener events and the ring buffer's drops (a running total). */
void containerizer_count_events(struct containerizer *cz, uint64_t events, uint64_t dropped);
/* Add an isolator beyond those of --isolation (e.g. eBPF prevention); call
 * before containerizer_recover() so it sees recovered containers too. It gets
 * every allocation change through its update() (root containers). */
int containerizer_add_isolator(struct containerizer *cz, const struct isolator_ops *ops,
                               struct errbuf *e);
/* Report which beyond-Mesos features are active (shown in metrics). */
void containerizer_set_features(struct containerizer *cz, bool instant_detection,
                                bool prevent_bind);
/* The cgroup hierarchy the containers live on. */
const struct cg_hierarchy *containerizer_hierarchy(const struct containerizer *cz);
/* True if cgroup rel (relative to the hierarchy) lies below the cgroups root
 * or in (or below) the cgroup of any known container, wherever it lives. */
bool containerizer_cgroup_in_container(const struct containerizer *cz, const char *rel);
