/* enforcer-bpf.h - the agent's eBPF features, wired beside the containerizer:
 *
 *   instant detection (--container_ports_instant_detection): every new
 *     listener below the cgroups root is checked at once, for the container
 *     of its cgroup alone (a sock_diag dump filtered by its port confirms
 *     it), with the same semantics and limitation as the periodic pass; a
 *     listen whose port is not chosen yet, or lost events (the ring buffer
 *     was full), make one full pass instead;
 *   bind prevention (--container_ports_prevent_bind): an isolator that keeps
 *     the pinned BPF allocation maps in step with launches, UPDATE_CONTAINER
 *     and cleanups, re-adopts the pins after a restart and removes them when
 *     no container needs them.
 *
 * A feature this host cannot run is logged once with the reason and left
 * off; the periodic reconciliation carries on regardless. The resolved
 * state goes into the flags (GET_FLAGS) and the containerizer's metrics. */
#pragma once

#include <event2/event.h>

#include "agent/containerizer.h"
#include "agent/flags.h"
#include "basic/macro.h"

struct bpf_enforcer;

/* Start the features the flags ask for; call after containerizer_new() and
 * before containerizer_recover(). Rewrites flags->container_ports_instant_
 * detection (auto -> true/false) and container_ports_prevent_bind to what is
 * active. Fails only on out-of-memory. */
int bpf_enforcer_new(struct event_base *base, struct agent_flags *flags, struct containerizer *cz,
                     struct bpf_enforcer **ret);
/* Stop detection; prevention pins stay (they hold while the agent is down). */
void bpf_enforcer_free(struct bpf_enforcer *enf);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bpf_enforcer *, bpf_enforcer_free);
