/* ports.h - the network/ports isolator: which ports each container listens on,
 * and which of them it was not allocated.
 *
 * Shaped like Mesos' NetworkPortsIsolatorProcess: containers are prepared
 * (with their parent: nested containers belong to their root), updated with
 * their allocated ports (unknown until the first update: such containers are
 * not checked), and cleaned up. Each pass is
 *
 *     ports_collect()  - kernel: one sock_diag dump, attributed to containers
 *     ports_check()    - pure: per root container, (own + nested listeners)
 *                        minus allocation, within the isolated range
 *
 * check() reports a root container again only when its set of unallocated
 * ports changes, so a log-only agent logs each violation once.
 *
 * Attribution is by creator first: a listener created in a container's
 * cgroup (or in a cgroup below it) counts for that container, wherever it is
 * held now. A listener created outside every container counts, as in Mesos,
 * for each container one of whose processes (in its cgroup or below) holds
 * it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/errbuf.h"
#include "isolator/isolator.h"
#include "linux/cgroup.h"
#include "linux/sockdiag.h"
#include "ports/portset.h"

struct holders;

struct ports_container {
        char *id;     /* "root" or "root/child/..." (also the cgroup path below cgroups_root) */
        char *cgroup; /* cgroup path relative to the hierarchy, e.g. "portiso/root/child" */
        struct ports_container *root;         /* self for root containers */
        struct ports_container *parent;       /* NULL for root containers */
        struct ports_container *first_child;  /* nested containers, linked */
        struct ports_container *next_sibling; /* through their parent */
        bool ignored;             /* on a named (CNI) network: never checked, nor its nested */
        bool has_allocation;      /* allocation known (root containers only) */
        struct portset allocated; /* root containers: allocated ports */
        struct portset listening; /* filled by ports_collect(): this cgroup only */
        struct portset reported;  /* root: unallocated set last reported by check() */
        uint64_t cgroup_id;       /* v2 id, 0 when unknown (v1 or not created yet) */
};

/* A container by its cgroup v2 id (ports_collect()'s index). */
struct ports_cgroup_entry {
        uint64_t cgroup_id;
        struct ports_container *c;
};

/* A listener created outside every container, in the isolated range. */
struct ports_candidate {
        uint64_t inode;
        uint16_t port;
};

struct ports_isolator {
        struct portset isolated; /* only these ports count */
        unsigned protocols;      /* SOCKDIAG_TCP | SOCKDIAG_UDP */
        struct ports_container **containers;
        size_t n_containers;
        size_t alloc_containers;
        uint64_t passes; /* ports_collect() calls that succeeded */

        /* ports_collect()'s working storage, kept from pass to pass so that a
         * pass allocates nothing once the sizes have settled. The index is
         * rebuilt only when index_stale: prepare and cleanup set it, and it
         * stays set while some container's cgroup id is still unknown. */
        struct listener_table listeners;
        struct listener_table event_listeners; /* ports_check_event()'s dump */
        struct ports_cgroup_entry *index;      /* sorted by cgroup id */
        size_t n_index, alloc_index;
        bool index_stale;
        struct ports_candidate *candidates;
        size_t alloc_candidates;
        /* Cgroup ids that are no container's, resolved once each to the
         * container they lie below (or NULL), sorted by id; emptied with the
         * index. Ids are never reused and v2 cgroups cannot be renamed. */
        struct ports_cgroup_entry *foreign;
        size_t n_foreign, alloc_foreign;
        struct holders *holders; /* the holder search's state (holders.h) */
};

/* The set of ports that count, from the agent flags (Mesos semantics):
 * --container_ports_isolated_range when given; else the agent's ports resource
 * under --check_agent_port_range_only (empty = nothing protected); else every
 * port. Both given: -EINVAL with a line in *e. isolated_range may be NULL. */
int ports_isolated_range(bool check_agent_port_range_only, const struct portset *isolated_range,
                         const struct portset *agent_ports, struct portset *ret, struct errbuf *e);

/* Initialise an isolator checking `isolated` for the given protocols. */
int ports_isolator_init(struct ports_isolator *pi, const struct portset *isolated,
                        unsigned protocols);
/* Free every container and the isolator's storage. */
void ports_isolator_done(struct ports_isolator *pi);

/* Add a container. parent_id is NULL for a root container, else the id of an
 * already prepared container. -EEXIST if the id is taken, -ENOENT if the
 * parent is unknown. cgroup_id may be 0 and set later. */
int ports_prepare(struct ports_isolator *pi, const char *id, const char *parent_id,
                  const char *cgroup, uint64_t cgroup_id, bool ignored);
/* Set a root container's allocated ports (Mesos update()). -ENOENT unknown,
 * -EINVAL for a nested container. */
int ports_update(struct ports_isolator *pi, const char *id, const struct portset *allocated);
/* Forget a container and its nested ones. -ENOENT if unknown. */
int ports_cleanup(struct ports_isolator *pi, const char *id);
/* Look a container up by id; NULL if unknown. */
struct ports_container *ports_find(const struct ports_isolator *pi, const char *id);

/* *ret |= listeners of c and of every container nested below it, except those
 * on a named network (ignored: they do not share the host's ports). */
int ports_listening_tree(const struct ports_container *c, struct portset *ret);

/* Fill every container's `listening` from the kernel: one dump through sd,
 * attribution through cgroup ids where the kernel reports them and through
 * the holders (processes of the containers' cgroups) otherwise. */
int ports_collect(struct ports_isolator *pi, struct sockdiag *sd, const struct cg_hierarchy *h);

/* Pure: compare each checked root container's listeners (own + nested) with
 * its allocation within the isolated range. Returns the number of new
 * limitations (a root with its unallocated ports, "Container <id> is
 * listening on unallocated port(s): [a-b, ...]") stored in *ret (malloc'd
 * array; free with isolator_limitations_free()). Updates each root's
 * `reported`. */
int ports_check(struct ports_isolator *pi, struct isolator_limitation **ret, size_t *ret_n);
/* The same check for one root container: 1 and *ret filled when it has a
 * new limitation, 0 when not. */
int ports_check_root(struct ports_isolator *pi, struct ports_container *root,
                     struct isolator_limitation *ret);

/* One listen (or UDP bind) event: the kernel is asked for the listeners on
 * port of protocol (a dump filtered by port, no full pass), those created in
 * the root container of the event's cgroup (or in cgroups below its
 * containers) are added to their containers' `listening`, and that root
 * alone is checked as ports_check() would. Returns 1 with *ret filled for a
 * new limitation, 0 for none, -ENOENT when the kernel shows no such
 * listener of that container (yet, or any more). Ports only come in here:
 * a listener that closed leaves the sets at the next full pass. */
int ports_check_event(struct ports_isolator *pi, struct sockdiag *sd, const struct cg_hierarchy *h,
                      uint64_t cgroup_id, uint8_t protocol, uint16_t port,
                      struct isolator_limitation *ret);
