/* holders-bpf.c - holders_find() through the in-kernel iterator; see
 * holders-bpf.h.
 *
 * The iterator is given the checked containers' cgroup v2 ids and looks at
 * the processes in those cgroups and in every cgroup below them, exactly the
 * processes the /proc walk finds: each counts for the deepest container
 * above it. It reports (pid, container cgroup id, inode) for every candidate
 * socket such a process holds; the cost is one read() of a few records
 * instead of a readlink() per open fd.
 *
 * With the event programs attached, a search walks only the containers
 * marked since the last one (a socket may have been handed to them) and
 * keeps the last answer for the others: the (container, inode) pairs found,
 * of which those whose inode is still a candidate are reported again. Every
 * container is walked when the candidate set gains a socket, when the set of
 * containers changes, when a mark was lost, and every HOLDERS_FULL_EVERY-th
 * search regardless, so that a way in that no event covers (and a holder
 * that closed its copy: there is no event for that either) is corrected
 * within that many passes instead of never. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/array.h"
#include "basic/cmp.h"
#include "isolator/holders-bpf.h"
#include "linux/bpfiter/holders_iter.h"
#include "linux/procfd.h"

struct cgid_entry {
        uint64_t cgroup_id;
        struct ports_container *c;
};

struct hit_ctx {
        const uint64_t *inodes; /* the sorted candidates */
        size_t n_inodes;
        uint64_t *held; /* buffer for the rare /proc look */
        size_t held_alloc;
        struct holders_pair *hits; /* what this walk found */
        size_t n_hits, alloc_hits;
};

static int cmp_cgid(const void *a, const void *b)
{
        return CMP(((const struct cgid_entry *)a)->cgroup_id,
                   ((const struct cgid_entry *)b)->cgroup_id);
}

static int cmp_pair(const void *a, const void *b)
{
        const struct holders_pair *x = a, *y = b;

        return CMP(x->cgroup_id, y->cgroup_id) ?: CMP(x->inode, y->inode);
}

static int add_hit(struct hit_ctx *ctx, uint64_t cgroup_id, uint64_t inode)
{
        return ARRAY_PUSH(ctx->hits, ctx->n_hits, ctx->alloc_hits,
                          ((struct holders_pair){cgroup_id, inode}));
}

/* A process holding more candidates than the kernel side reports at once:
 * read its fds the slow way (a rare, bounded case). */
static int look_at_pid(struct hit_ctx *ctx, uint64_t cgroup_id, pid_t pid)
{
        size_t n_held = 0;
        int r = procfd_socket_inodes(pid, &ctx->held, &n_held, &ctx->held_alloc);

        if (r == -ENOENT || r == -ESRCH)
                return 0;
        for (size_t k = 0; r >= 0 && k < n_held; k++)
                if (bsearch(&ctx->held[k], ctx->inodes, ctx->n_inodes, sizeof(uint64_t),
                            cmp_uint64))
                        r = add_hit(ctx, cgroup_id, ctx->held[k]);
        return r;
}

static int on_hit(pid_t tgid, uint64_t cgroup_id, uint64_t inode, void *userdata)
{
        struct hit_ctx *ctx = userdata;

        return inode ? add_hit(ctx, cgroup_id, inode) : look_at_pid(ctx, cgroup_id, tgid);
}

static bool bpf_wanted(const struct cg_hierarchy *h, size_t n_containers, size_t n_inodes)
{
        const char *env = getenv("PORTISO_HOLDERS");

        if (env && strcmp(env, "proc") == 0)
                return false;
        return h->mode == CG_V2 && n_inodes <= holders_iter_max_candidates() &&
               n_containers <= holders_iter_max_containers();
}

/* PORTISO_HOLDERS=walk: the iterator without the events, every container
 * walked every time (to compare). */
static bool events_wanted(void)
{
        const char *env = getenv("PORTISO_HOLDERS");

        return !env || strcmp(env, "walk") != 0;
}

/* HOLDERS_FULL_EVERY, or PORTISO_HOLDERS_FULL_EVERY=N from the environment
 * (tests set it high to see that events alone find a socket). */
static unsigned full_every(void)
{
        const char *env = getenv("PORTISO_HOLDERS_FULL_EVERY");
        char *end;
        unsigned long n = env ? strtoul(env, &end, 10) : 0;

        return env && *end == '\0' && n > 0 && n <= 1000000 ? (unsigned)n : HOLDERS_FULL_EVERY;
}

/* Rebuild the sorted (cgroup id, container) index and the sorted unique ids
 * when the containers are not the ones of the last search. 1 if rebuilt. */
static int index_update(struct holders_bpf_state *s, const struct cg_hierarchy *h,
                        struct ports_container *const *cs, size_t n)
{
        bool same = s->index_valid && n == s->n_seen;

        for (size_t i = 0; same && i < n; i++)
                same = s->seen[i].c == cs[i] && s->seen[i].cgroup_id == cs[i]->cgroup_id &&
                       (cs[i]->cgroup_id != 0 || cs[i]->ignored);
        if (same)
                return 0;

        struct cgid_entry *index = reallocarray(s->index, MAX(n, (size_t)1), sizeof(*index));
        if (!index)
                return -ENOMEM;
        s->index = index;
        uint64_t *ids = reallocarray(s->ids, MAX(n, (size_t)1), sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        s->ids = ids;
        struct cgid_entry *seen = reallocarray(s->seen, MAX(n, (size_t)1), sizeof(*seen));
        if (!seen)
                return -ENOMEM;
        s->seen = seen;

        s->n_index = 0;
        for (size_t i = 0; i < n; i++) {
                struct ports_container *c = cs[i];
                uint64_t id = c->cgroup_id;

                s->seen[i] = (struct cgid_entry){c->cgroup_id, c};
                if (c->ignored)
                        continue;
                if (id == 0 && cg_get_id(h, c->cgroup, &id) < 0)
                        continue; /* no cgroup yet: no processes either */
                s->index[s->n_index++] = (struct cgid_entry){id, c};
        }
        s->n_seen = n;
        if (s->n_index > 1)
                qsort(s->index, s->n_index, sizeof(*s->index), cmp_cgid);
        s->n_ids = 0;
        for (size_t i = 0; i < s->n_index; i++)
                if (s->n_ids == 0 || s->ids[s->n_ids - 1] != s->index[i].cgroup_id)
                        s->ids[s->n_ids++] = s->index[i].cgroup_id;
        s->index_valid = true;
        return 1;
}

/* Does inodes hold one that the last walk's candidates did not? */
static bool candidates_grew(const struct holders_bpf_state *s, const uint64_t *inodes, size_t n)
{
        size_t j = 0;

        for (size_t i = 0; i < n; i++) {
                while (j < s->n_walked_cands && s->walked_cands[j] < inodes[i])
                        j++;
                if (j == s->n_walked_cands || s->walked_cands[j] != inodes[i])
                        return true;
        }
        return false;
}

static bool in_sorted(const uint64_t *v, size_t n, uint64_t x)
{
        return n > 0 && bsearch(&x, v, n, sizeof(*v), cmp_uint64);
}

/* held := held minus the pairs of the walked containers, plus the hits. */
static int merge_hits(struct holders_bpf_state *s, struct hit_ctx *ctx, const uint64_t *walked,
                      size_t n_walked, bool full)
{
        size_t j = 0;

        if (full)
                s->n_held = 0;
        for (size_t i = 0; i < s->n_held; i++)
                if (!in_sorted(walked, n_walked, s->held[i].cgroup_id))
                        s->held[j++] = s->held[i];
        s->n_held = j;
        if (GREEDY_REALLOC(s->held, s->alloc_held, s->n_held + ctx->n_hits) < 0)
                return -ENOMEM;
        if (ctx->n_hits > 0)
                memcpy(s->held + s->n_held, ctx->hits, ctx->n_hits * sizeof(*ctx->hits));
        s->n_held += ctx->n_hits;
        if (s->n_held > 1)
                qsort(s->held, s->n_held, sizeof(*s->held), cmp_pair);
        return 0;
}

static int remember_candidates(struct holders_bpf_state *s, const uint64_t *inodes, size_t n)
{
        uint64_t *v = reallocarray(s->walked_cands, MAX(n, (size_t)1), sizeof(*v));

        if (!v)
                return -ENOMEM;
        s->walked_cands = v;
        if (n > 0)
                memcpy(v, inodes, n * sizeof(*v));
        s->n_walked_cands = n;
        return 0;
}

/* Which containers to walk: all, or the marked ones among ours. */
static int plan_walk(struct holders_bpf_state *s, const uint64_t *inodes, size_t n_inodes,
                     bool index_changed, uint64_t **ret_walk, size_t *ret_n, bool *ret_full)
{
        _cleanup_free_ uint64_t *marked = NULL;
        size_t n_marked = 0, n = 0;
        bool lost = false;
        int r;

        *ret_walk = NULL;
        *ret_n = 0;
        *ret_full = true;
        /* The containers the events and the walk attribute processes to. */
        r = holders_iter_watch(s->iter, s->ids, s->n_ids);
        if (r < 0 || !s->events)
                return r < 0 ? r : 0;
        /* Drain before the walk: whatever is marked after this is seen by
         * the next search, whatever was marked before is walked now. */
        int k = holders_iter_drain(s->iter, &marked, &n_marked, &lost);
        if (k < 0)
                return k;
        if (!s->walked_once || index_changed || r > 0 || lost ||
            candidates_grew(s, inodes, n_inodes) || ++s->searches_since_full >= s->full_every)
                return 0;

        *ret_full = false;
        for (size_t i = 0; i < n_marked; i++)
                if (in_sorted(s->ids, s->n_ids, marked[i]))
                        marked[n++] = marked[i];
        *ret_walk = TAKE_PTR(marked);
        *ret_n = n;
        return 0;
}

int holders_find_bpf(struct holders_bpf_state *s, const struct cg_hierarchy *h,
                     struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                     size_t n_inodes, holders_found_fn found, void *userdata)
{
        _cleanup_free_ uint64_t *walk = NULL;
        struct hit_ctx ctx = {.inodes = sorted_inodes, .n_inodes = n_inodes};
        size_t n_walk = 0;
        bool full;
        int r;

        if (n_inodes == 0)
                return 0;
        if (!bpf_wanted(h, n, n_inodes))
                return -EOPNOTSUPP;
        if (s->state == 0) {
                r = holders_iter_new(&s->iter, events_wanted(), &s->error);
                s->state = r < 0 ? r : 1;
                s->events = r >= 0 && !holders_iter_events_missing(s->iter);
                s->full_every = full_every();
        }
        if (s->state < 0)
                return -EOPNOTSUPP;

        r = index_update(s, h, cs, n);
        if (r < 0)
                return r;
        r = plan_walk(s, sorted_inodes, n_inodes, r > 0, &walk, &n_walk, &full);
        if (r < 0)
                return r;

        if (full || n_walk > 0) {
                r = holders_iter_run(s->iter, full ? NULL : walk, full ? 0 : n_walk, sorted_inodes,
                                     n_inodes, on_hit, &ctx);
                free(ctx.held);
                if (r >= 0)
                        r = merge_hits(s, &ctx, walk, n_walk, full);
                free(ctx.hits);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        /* The kernel refused this walk: the /proc walk still
                         * answers, and the next search here walks everything. */
                        s->walked_once = false;
                        errbuf_set(&s->error, r, "holders iterator failed: %s", strerror(-r));
                        return -EOPNOTSUPP;
                }
                r = remember_candidates(s, sorted_inodes, n_inodes);
                if (r < 0)
                        return r;
                if (full) {
                        s->walked_once = true;
                        s->searches_since_full = 0;
                        s->full_walks++;
                } else
                        s->partial_walks++;
        }

        for (size_t i = 0; i < s->n_held; i++) {
                const struct holders_pair *p = &s->held[i];
                struct cgid_entry key = {.cgroup_id = p->cgroup_id};
                const struct cgid_entry *e;

                if (!in_sorted(sorted_inodes, n_inodes, p->inode))
                        continue; /* closed since, or no longer a candidate */
                e = bsearch(&key, s->index, s->n_index, sizeof(*s->index), cmp_cgid);
                if (!e)
                        continue;
                /* Every container with this id (there is one) holds it. */
                while (e > s->index && e[-1].cgroup_id == p->cgroup_id)
                        e--;
                for (; e < s->index + s->n_index && e->cgroup_id == p->cgroup_id; e++) {
                        r = found(e->c, p->inode, userdata);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

void holders_bpf_state_done(struct holders_bpf_state *s)
{
        holders_iter_free(s->iter);
        free(s->index);
        free(s->ids);
        free(s->seen);
        free(s->held);
        free(s->walked_cands);
        *s = (struct holders_bpf_state){0};
}
