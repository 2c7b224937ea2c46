/* collect.c - ports_collect(): which ports each container listens on.
 *
 * One sock_diag dump gives every listener with the cgroup v2 id of the task
 * that created it. Attribution then costs O(listeners * log containers):
 *
 *   1. created in a container: the listener's cgroup id is looked up in a
 *      sorted (cgroup id, container) array, rebuilt only when containers
 *      come or go;
 *   2. created in a cgroup that a task made below its container: the id is
 *      resolved once to its path (a kernfs file handle) and cached, and the
 *      listener counts for the deepest container above it;
 *   3. created anywhere else (the host, or any socket on the v1 freezer path
 *      where there are no v2 ids) and inside the isolated range: a
 *      "candidate", which a container may still hold (inherited, or passed
 *      over SCM_RIGHTS). Only when there are candidates are the containers'
 *      processes searched (holders.h).
 *
 * This keeps Mesos' semantics (a container listens on p when one of its
 * processes holds a listening socket on p) while the common case, every
 * listener created where it is used, never reads /proc. The dump, the index
 * and the candidates live in the ports_isolator from pass to pass, so once
 * the sizes have settled a pass allocates nothing. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "basic/array.h"
#include "basic/cmp.h"
#include "basic/sorted-array.h"
#include "isolator/holders.h"
#include "isolator/ports.h"

struct collect_ctx {
        const struct ports_candidate *cands; /* sorted by inode, parallel to inodes */
        const uint64_t *inodes;
        size_t n;
};

/* The records sorted here are keyed by their first member, a uint64_t. */
_Static_assert(offsetof(struct ports_cgroup_entry, cgroup_id) == 0, "cgroup id first");
_Static_assert(offsetof(struct ports_candidate, inode) == 0, "inode first");

/* Rebuild the sorted (cgroup id, container) index of the containers whose id
 * is known, if containers came or went since it was built. On v2 a missing
 * id is read now (the cgroup may have been created after prepare); while one
 * is still missing the index stays stale, so the next pass tries again. */
static int cgid_index_update(struct ports_isolator *pi, const struct cg_hierarchy *h)
{
        bool missing = false;

        if (!pi->index_stale)
                return 0;
        if (GREEDY_REALLOC(pi->index, pi->alloc_index, pi->n_containers) < 0)
                return -ENOMEM;
        pi->n_index = 0;
        for (size_t i = 0; i < pi->n_containers; i++) {
                struct ports_container *c = pi->containers[i];

                if (c->ignored)
                        continue;
                if (c->cgroup_id == 0 && h->mode == CG_V2) {
                        uint64_t id;
                        if (cg_get_id(h, c->cgroup, &id) >= 0)
                                c->cgroup_id = id;
                        else
                                missing = true;
                }
                if (c->cgroup_id != 0)
                        pi->index[pi->n_index++] = (struct ports_cgroup_entry){c->cgroup_id, c};
        }
        if (pi->n_index > 1)
                qsort(pi->index, pi->n_index, sizeof(*pi->index), cmp_uint64);
        pi->index_stale = missing;
        pi->n_foreign = 0; /* containers came or went: resolve again */
        return 0;
}

/* The container of cgroup id in the index, or NULL: a binary search written
 * out, since a pass makes one per listener and bsearch()'s call through a
 * comparator per step was a tenth of a pass at 5000 containers. */
static struct ports_container *index_find(const struct ports_isolator *pi, uint64_t id)
{
        size_t lo = 0, hi = pi->n_index;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                uint64_t m = pi->index[mid].cgroup_id;

                if (m == id)
                        return pi->index[mid].c;
                if (m < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* The deepest checked container whose cgroup holds the cgroup rel, or NULL. */
static struct ports_container *container_above(const struct ports_isolator *pi, const char *rel)
{
        struct ports_container *best = NULL;
        size_t best_len = 0;

        for (size_t i = 0; i < pi->n_containers; i++) {
                struct ports_container *c = pi->containers[i];
                size_t len = strlen(c->cgroup);

                if (!c->ignored && len > best_len && strncmp(rel, c->cgroup, len) == 0 &&
                    rel[len] == '/') {
                        best = c;
                        best_len = len;
                }
        }
        return best;
}

/* Case 2: the container a cgroup that is no container's lies below, if any,
 * resolved through the kernel once per cgroup id. */
static int foreign_lookup(struct ports_isolator *pi, const struct cg_hierarchy *h, uint64_t id,
                          struct ports_container **ret)
{
        struct ports_cgroup_entry key = {.cgroup_id = id};
        _cleanup_free_ char *rel = NULL;
        size_t lo = 0, hi = pi->n_foreign;
        int r;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (pi->foreign[mid].cgroup_id == id) {
                        *ret = pi->foreign[mid].c;
                        return 0;
                }
                if (pi->foreign[mid].cgroup_id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        /* A cgroup gone meanwhile (or another namespace's) lies below nothing. */
        key.c = cg_path_from_id(h, id, &rel) >= 0 ? container_above(pi, rel) : NULL;
        r = ARRAY_INSERT_AT(pi->foreign, pi->n_foreign, pi->alloc_foreign, lo, key);
        if (r < 0)
                return r;
        *ret = key.c;
        return 0;
}

static int on_holder(struct ports_container *c, uint64_t inode, void *userdata)
{
        const struct collect_ctx *ctx = userdata;
        const uint64_t *p = bsearch(&inode, ctx->inodes, ctx->n, sizeof(*ctx->inodes), cmp_uint64);

        if (!p)
                return 0;
        return portset_add(&c->listening, ctx->cands[p - ctx->inodes].port);
}

/* Attribute the candidates to the containers whose processes hold them. */
static int attribute_holders(struct ports_isolator *pi, const struct cg_hierarchy *h,
                             struct ports_candidate *cands, size_t n)
{
        _cleanup_free_ uint64_t *inodes = NULL;
        struct collect_ctx ctx;

        qsort(cands, n, sizeof(*cands), cmp_uint64);
        inodes = malloc(n * sizeof(*inodes));
        if (!inodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                inodes[i] = cands[i].inode;
        ctx = (struct collect_ctx){cands, inodes, n};
        return holders_find(&pi->holders, h, pi->containers, pi->n_containers, inodes, n, on_holder,
                            &ctx);
}

int ports_collect(struct ports_isolator *pi, struct sockdiag *sd, const struct cg_hierarchy *h)
{
        const struct listener_table *t = &pi->listeners;
        size_t n_cands = 0;
        int r;

        r = sockdiag_dump(sd, pi->protocols, &pi->listeners);
        if (r < 0)
                return r;
        r = cgid_index_update(pi, h);
        if (r < 0)
                return r;
        if (GREEDY_REALLOC(pi->candidates, pi->alloc_candidates, t->n) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < pi->n_containers; i++)
                portset_reset(&pi->containers[i]->listening);

        for (size_t i = 0; i < t->n; i++) {
                const struct listener *l = &t->v[i];
                struct ports_container *owner = NULL;

                if (l->cgroup_id != 0 && h->mode == CG_V2 && pi->n_index > 0) {
                        owner = index_find(pi, l->cgroup_id);
                        if (!owner && (r = foreign_lookup(pi, h, l->cgroup_id, &owner)) < 0)
                                return r;
                }
                if (owner) {
                        r = portset_add(&owner->listening, l->port);
                        if (r < 0)
                                return r;
                } else if (portset_contains(&pi->isolated, l->port) && l->inode != 0)
                        pi->candidates[n_cands++] = (struct ports_candidate){l->inode, l->port};
        }

        if (n_cands > 0) {
                r = attribute_holders(pi, h, pi->candidates, n_cands);
                if (r < 0)
                        return r;
        }
        pi->passes++;
        return 0;
}

/* The container of a listener created in cgroup id (case 1 or 2), or NULL. */
static int owner_of(struct ports_isolator *pi, const struct cg_hierarchy *h, uint64_t id,
                    struct ports_container **ret)
{
        *ret = NULL;
        if (id == 0 || h->mode != CG_V2 || pi->n_index == 0)
                return 0;
        *ret = index_find(pi, id);
        if (*ret)
                return 0;
        return foreign_lookup(pi, h, id, ret);
}

int ports_check_event(struct ports_isolator *pi, struct sockdiag *sd, const struct cg_hierarchy *h,
                      uint64_t cgroup_id, uint8_t protocol, uint16_t port,
                      struct isolator_limitation *ret)
{
        const struct listener_table *t = &pi->event_listeners;
        struct ports_container *owner, *root;
        bool found = false;
        int r;

        r = cgid_index_update(pi, h);
        if (r < 0)
                return r;
        r = owner_of(pi, h, cgroup_id, &owner);
        if (r < 0)
                return r;
        if (!owner)
                return 0; /* no checked container's (a CNI one, or gone) */
        root = owner->root;
        r = sockdiag_dump_port(sd, protocol == IPPROTO_UDP ? SOCKDIAG_UDP : SOCKDIAG_TCP, port,
                               &pi->event_listeners);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n; i++) {
                struct ports_container *c;

                r = owner_of(pi, h, t->v[i].cgroup_id, &c);
                if (r < 0)
                        return r;
                if (!c || c->root != root)
                        continue;
                r = portset_add(&c->listening, t->v[i].port);
                if (r < 0)
                        return r;
                found = true;
        }
        if (!found)
                return -ENOENT;
        return ports_check_root(pi, root, ret);
}
