/* isolator.h - the generic isolator interface, shaped like Mesos' Isolator:
 *
 *   recover  - re-adopt the containers that outlived an agent restart, all
 *              at once (what is not among them is stale)
 *   prepare  - before the main process starts (may ask for a new netns)
 *   isolate  - the main process exists (its pid is known)
 *   update   - the container's allocation changed (root containers)
 *   watch    - one reconciliation pass; returns limitations (Mesos' watch()
 *              future, made synchronous: the agent calls it on every tick)
 *   check_event - a listener was reported (cgroup id, protocol, port): check
 *              that container alone, with watch()'s semantics
 *   status   - what the isolator observed about one container
 *   cleanup  - the container is gone (its nested containers too)
 *
 * The agent composes a list of isolators from --isolation and drives each
 * through a vtable, so new isolators (eBPF prevention, say) plug in without
 * the containerizer knowing them. Every hook is optional (NULL = nothing to
 * do). Isolators sit below agent/: they see containers through
 * `struct isolator_container`, never through the agent's own types. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/errbuf.h"
#include "linux/cgroup.h"
#include "ports/portset.h"

/* What an isolator is told about a container. */
struct isolator_container {
        const char *id;        /* "root" or "root/child" */
        const char *parent_id; /* NULL for a root container */
        const char *cgroup;    /* relative to the hierarchy, "portiso/root/child" */
        uint64_t cgroup_id;    /* cgroup v2 id, 0 if unknown (v1) */
        const char *network;   /* named network (CNI), or NULL */
};

/* Set up by the agent once, shared by every isolator. */
struct isolator_context {
        const struct cg_hierarchy *hierarchy;
        const char *cgroups_root;
        const struct portset *isolated; /* ports that count (network/ports) */
        unsigned protocols;             /* SOCKDIAG_TCP | SOCKDIAG_UDP */
        bool cni_enabled;               /* network/cni is in --isolation */
};

/* One recovered container and, for a root, its allocation (else NULL);
 * parents come before their nested containers. */
struct isolator_recovered {
        struct isolator_container c;
        const struct portset *allocation;
};

/* What prepare() asks of the launcher, merged over all isolators. */
struct isolator_launch_info {
        bool new_netns; /* unshare(CLONE_NEWNET), loopback up */
};

/* A resource limitation raised against a root container (network/ports:
 * the unallocated ports it listens on). */
struct isolator_limitation {
        char *container_id;   /* root container */
        struct portset ports; /* the offending ports */
        char *message;        /* human-readable, one line */
};

/* What an isolator observed about one container (Mesos' status()). */
struct isolator_status {
        bool has_listening;
        struct portset listening; /* own + nested listeners at the last watch */
        /* Binds refused by bind prevention (root containers), so far. */
        bool has_denied;
        uint64_t denied_count;
        struct portset denied_tcp; /* port 0: an autobind */
        struct portset denied_udp;
};

struct isolator;

struct isolator_ops {
        const char *name; /* "network/ports" */
        size_t size;      /* bytes of the isolator object (struct isolator first) */
        int (*init)(struct isolator *i, const struct isolator_context *ctx, struct errbuf *e);
        void (*done)(struct isolator *i);
        int (*recover)(struct isolator *i, const struct isolator_recovered *v, size_t n);
        int (*prepare)(struct isolator *i, const struct isolator_container *c,
                       struct isolator_launch_info *info, struct errbuf *e);
        int (*isolate)(struct isolator *i, const struct isolator_container *c, pid_t pid);
        int (*update)(struct isolator *i, const char *id, const struct portset *allocation);
        int (*watch)(struct isolator *i, struct isolator_limitation **ret, size_t *ret_n);
        /* 1 and *ret filled for a new limitation, 0 none, -ENOENT when the
         * kernel does not show the listener (yet). */
        int (*check_event)(struct isolator *i, uint64_t cgroup_id, uint8_t protocol, uint16_t port,
                           struct isolator_limitation *ret);
        /* 1 when this isolator refuses, in the kernel, a UDP bind() to every
         * port of ports by a task of the root container whose cgroup id is
         * container_cgroup_id. Instant detection reports a UDP bind before
         * such a refusal has undone it: that socket is no listener. */
        int (*refuses_udp_bind)(struct isolator *i, uint64_t container_cgroup_id,
                                const struct portset *ports);
        /* Forget that root container id's current limitation was reported:
         * the next check reports it again (the agent wants a second look). */
        void (*forget_report)(struct isolator *i, const char *id);
        int (*status)(struct isolator *i, const char *id, struct isolator_status *ret);
        int (*cleanup)(struct isolator *i, const char *id);
};

/* Every isolator object starts with this. */
struct isolator {
        const struct isolator_ops *ops;
        const struct isolator_context *ctx;
};

extern const struct isolator_ops isolator_network_ports;
extern const struct isolator_ops isolator_network_cni;
/* eBPF bind prevention (network_ports_bind.c); init fails with a line in
 * *e where the host cannot run it. */
extern const struct isolator_ops isolator_network_ports_bind;

/* Allocate and init an isolator of the given kind. */
int isolator_new(const struct isolator_ops *ops, const struct isolator_context *ctx,
                 struct isolator **ret, struct errbuf *e);
/* done() and free; NULL is fine. */
void isolator_free(struct isolator *i);
/* Free the contents of one limitation. */
void isolator_limitations_free_contents(struct isolator_limitation *l);
/* Free an array of limitations returned by watch() (NULL when it found none). */
void isolator_limitations_free(struct isolator_limitation *v, size_t n);
/* Free the contents of a status. */
void isolator_status_done(struct isolator_status *s);
