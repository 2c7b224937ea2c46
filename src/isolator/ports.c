/* ports.c - the network/ports isolator's state and its pure check.
 *
 * Containers live in one array of pointers kept sorted by id, so lookups
 * (prepare, update, the root of a nested container during check) are a
 * binary search and a scan of thousands of containers never degrades into
 * n^2 string compares. Each container is allocated on its own, so a
 * `struct ports_container *` handed out stays valid until that container is
 * cleaned up, whatever else is added or removed.
 *
 * check() touches no kernel state: it reads `listening` (filled by
 * ports_collect() or, in tests, by hand) and `allocated`, and writes only the
 * `reported` sets, which is how a log-only agent logs a violation once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/sorted-array.h"
#include "basic/strbuf.h"
#include "isolator/holders.h"
#include "isolator/ports.h"

static void ports_container_free(struct ports_container *c)
{
        if (!c)
                return;
        free(c->id);
        free(c->cgroup);
        portset_clear(&c->allocated);
        portset_clear(&c->listening);
        portset_clear(&c->reported);
        free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct ports_container *, ports_container_free);

int ports_isolated_range(bool check_agent_port_range_only, const struct portset *isolated_range,
                         const struct portset *agent_ports, struct portset *ret, struct errbuf *e)
{
        _cleanup_portset_ struct portset s = PORTSET_INIT;
        int r;

        if (check_agent_port_range_only && isolated_range)
                return errbuf_set(e, -EINVAL,
                                  "--check_agent_port_range_only and "
                                  "--container_ports_isolated_range cannot be used together");

        if (isolated_range)
                r = portset_copy(&s, isolated_range);
        else if (check_agent_port_range_only)
                /* The caller substitutes the default [31000-32000] when the
                 * agent has no ports resource; an empty one protects nothing. */
                r = agent_ports ? portset_copy(&s, agent_ports) : 0;
        else
                r = portset_add_range(&s, 0, UINT16_MAX);
        if (r < 0)
                return r;

        portset_clear(ret);
        *ret = s;
        s = (struct portset)PORTSET_INIT;
        return 0;
}

int ports_isolator_init(struct ports_isolator *pi, const struct portset *isolated,
                        unsigned protocols)
{
        struct ports_isolator n = {.protocols = protocols};
        int r;

        r = portset_copy(&n.isolated, isolated);
        if (r < 0)
                return r;
        *pi = n;
        return 0;
}

void ports_isolator_done(struct ports_isolator *pi)
{
        for (size_t i = 0; i < pi->n_containers; i++)
                ports_container_free(pi->containers[i]);
        free(pi->containers);
        portset_clear(&pi->isolated);
        listener_table_clear(&pi->listeners);
        listener_table_clear(&pi->event_listeners);
        free(pi->index);
        free(pi->candidates);
        free(pi->foreign);
        holders_free(pi->holders);
        *pi = (struct ports_isolator){0};
}

/* Index of id in the sorted array, or where it would be inserted. */
static size_t ports_index(const struct ports_isolator *pi, const char *id, bool *ret_found)
{
        return SORTED_INDEX(pi->containers, pi->n_containers, id, id, ret_found);
}

struct ports_container *ports_find(const struct ports_isolator *pi, const char *id)
{
        bool found;
        size_t i;

        if (!id)
                return NULL;
        i = ports_index(pi, id, &found);
        return found ? pi->containers[i] : NULL;
}

int ports_prepare(struct ports_isolator *pi, const char *id, const char *parent_id,
                  const char *cgroup, uint64_t cgroup_id, bool ignored)
{
        _cleanup_(ports_container_freep) struct ports_container *c = NULL;
        struct ports_container *parent = NULL;
        bool found;
        size_t at;
        int r;

        if (!id || !*id)
                return -EINVAL;
        at = ports_index(pi, id, &found);
        if (found)
                return -EEXIST;
        if (parent_id) {
                parent = ports_find(pi, parent_id);
                if (!parent)
                        return -ENOENT;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->id = strdup(id);
        c->cgroup = strdup(cgroup ? cgroup : id);
        if (!c->id || !c->cgroup)
                return -ENOMEM;
        c->parent = parent;
        c->root = parent ? parent->root : c;
        /* A nested container shares its parent's network: ignored with it. */
        c->ignored = ignored || (parent && parent->ignored);
        c->cgroup_id = cgroup_id;

        r = ARRAY_INSERT_AT(pi->containers, pi->n_containers, pi->alloc_containers, at, c);
        if (r < 0)
                return r;
        /* Linked to its parent only now that nothing can fail. */
        if (parent) {
                c->next_sibling = parent->first_child;
                parent->first_child = c;
        }
        TAKE_PTR(c);
        pi->index_stale = true;
        return 0;
}

int ports_update(struct ports_isolator *pi, const char *id, const struct portset *allocated)
{
        struct ports_container *c = ports_find(pi, id);
        int r;

        if (!c)
                return -ENOENT;
        if (c->root != c)
                return -EINVAL;
        r = portset_copy(&c->allocated, allocated);
        if (r < 0)
                return r;
        c->has_allocation = true;
        return 0;
}

/* True if c is top or nested (at any depth) below it. */
static bool is_within(const struct ports_container *c, const struct ports_container *top)
{
        for (; c; c = c->parent)
                if (c == top)
                        return true;
        return false;
}

int ports_cleanup(struct ports_isolator *pi, const char *id)
{
        struct ports_container *top = ports_find(pi, id);
        size_t j = 0;

        if (!top)
                return -ENOENT;
        if (top->parent) {
                struct ports_container **pp = &top->parent->first_child;
                while (*pp != top)
                        pp = &(*pp)->next_sibling;
                *pp = top->next_sibling;
        }
        /* Decide for every container before freeing any: is_within() follows
         * parent pointers that may lead through top. Mark by clearing the
         * slot, then compact. */
        for (size_t i = 0; i < pi->n_containers; i++)
                if (pi->containers[i] != top && is_within(pi->containers[i], top)) {
                        ports_container_free(pi->containers[i]);
                        pi->containers[i] = NULL;
                }
        for (size_t i = 0; i < pi->n_containers; i++) {
                if (pi->containers[i] == top) {
                        ports_container_free(top);
                        continue;
                }
                if (pi->containers[i])
                        pi->containers[j++] = pi->containers[i];
        }
        pi->n_containers = j;
        pi->index_stale = true; /* it points at the freed containers */
        return 0;
}

int ports_listening_tree(const struct ports_container *c, struct portset *ret)
{
        int r = portset_union(ret, &c->listening);

        for (const struct ports_container *k = c->first_child; r >= 0 && k; k = k->next_sibling)
                if (!k->ignored)
                        r = ports_listening_tree(k, ret);
        return r;
}

static int limitation_fill(struct isolator_limitation *l, const struct ports_container *root,
                           const struct portset *ports)
{
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        int r;

        *l = (struct isolator_limitation){0};
        r = portset_copy(&l->ports, ports);
        if (r < 0)
                return r;
        l->container_id = strdup(root->id);
        strbuf_addf(&sb, "Container %s is listening on unallocated port(s): ", root->id);
        portset_format(ports, &sb);
        l->message = strbuf_detach(&sb);
        if (!l->container_id || !l->message) {
                isolator_limitations_free_contents(l);
                return -ENOMEM;
        }
        return 0;
}

static bool is_checked(const struct ports_container *root)
{
        return !root->ignored && root->has_allocation;
}

int ports_check_root(struct ports_isolator *pi, struct ports_container *c,
                     struct isolator_limitation *ret)
{
        _cleanup_portset_ struct portset tree = PORTSET_INIT;
        _cleanup_portset_ struct portset u = PORTSET_INIT;
        const struct portset *listening = &c->listening;
        int r = 0;

        if (c->root != c || !is_checked(c))
                return 0;
        /* The common case, a root without nested containers listening only
         * on its own ports, is decided without building a set: a pass at
         * thousands of containers must not cost a malloc per container. */
        if (!c->first_child && portset_is_subset(listening, &c->allocated)) {
                portset_reset(&c->reported);
                return 0;
        }
        /* U = ((own + nested) - allocated) & isolated; a root without nested
         * containers needs no union. */
        if (c->first_child) {
                r = ports_listening_tree(c, &tree);
                listening = &tree;
        }
        if (r >= 0)
                r = portset_subtract(&u, listening, &c->allocated);
        if (r >= 0)
                r = portset_intersect(&u, &u, &pi->isolated);
        if (r < 0)
                return r;
        if (portset_is_empty(&u)) {
                /* Forget it, so a later violation is reported again. */
                portset_reset(&c->reported);
                return 0;
        }
        if (portset_equal(&u, &c->reported))
                return 0;
        r = limitation_fill(ret, c, &u);
        if (r < 0)
                return r;
        /* reported = U, without an allocation that could fail */
        struct portset t = c->reported;
        c->reported = u;
        u = t;
        return 1;
}

int ports_check(struct ports_isolator *pi, struct isolator_limitation **ret, size_t *ret_n)
{
        struct isolator_limitation *out = NULL;
        size_t n_out = 0, alloc_out = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < pi->n_containers; i++) {
                struct isolator_limitation l;

                r = ports_check_root(pi, pi->containers[i], &l);
                if (r > 0 && (r = ARRAY_INSERT_AT(out, n_out, alloc_out, n_out, l)) < 0)
                        isolator_limitations_free_contents(&l);
        }
        if (r < 0) {
                /* Nothing was reported after all: let the next pass retry. */
                for (size_t k = 0; k < n_out; k++) {
                        struct ports_container *c = ports_find(pi, out[k].container_id);
                        if (c)
                                portset_reset(&c->reported);
                }
                isolator_limitations_free(out, n_out);
                return r;
        }
        *ret = out;
        *ret_n = n_out;
        return (int)n_out;
}
