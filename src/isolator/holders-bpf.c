/* holders-bpf.c - holders_find() through the in-kernel iterator; see
 * holders-bpf.h.
 *
 * The iterator is given the checked containers' cgroup v2 ids and looks at
 * the processes in those cgroups and in every cgroup below them, exactly the
 * processes the /proc walk finds: each counts for the deepest container
 * above it. It reports (pid, container cgroup id, inode) for every candidate
 * socket such a process holds; the cost is one read() of a few records
 * instead of a readlink() per open fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isolator/holders-bpf.h"
#include "linux/bpfiter/holders_iter.h"
#include "linux/procfd.h"

struct cgid_entry {
        uint64_t cgroup_id;
        struct ports_container *c;
};

struct hit_ctx {
        const struct cgid_entry *index;
        size_t n;
        const uint64_t *inodes; /* the sorted candidates */
        size_t n_inodes;
        uint64_t *held; /* buffer for the rare /proc look */
        size_t held_alloc;
        holders_found_fn found;
        void *userdata;
        int error; /* from found(): stops the search, returned as is */
};

static int cmp_cgid(const void *a, const void *b)
{
        uint64_t x = ((const struct cgid_entry *)a)->cgroup_id;
        uint64_t y = ((const struct cgid_entry *)b)->cgroup_id;
        return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* A process holding more candidates than the kernel side reports at once:
 * read its fds the slow way (an rare, bounded case). */
static int look_at_pid(struct hit_ctx *ctx, struct ports_container *c, pid_t pid)
{
        size_t n_held = 0;
        int r = procfd_socket_inodes(pid, &ctx->held, &n_held, &ctx->held_alloc);

        if (r == -ENOENT || r == -ESRCH)
                return 0;
        for (size_t k = 0; r >= 0 && k < n_held; k++)
                if (bsearch(&ctx->held[k], ctx->inodes, ctx->n_inodes, sizeof(uint64_t), cmp_u64))
                        r = ctx->found(c, ctx->held[k], ctx->userdata);
        return r;
}

static int on_hit(pid_t tgid, uint64_t cgroup_id, uint64_t inode, void *userdata)
{
        struct hit_ctx *ctx = userdata;
        struct cgid_entry key = {.cgroup_id = cgroup_id};
        const struct cgid_entry *e;
        int r;

        e = bsearch(&key, ctx->index, ctx->n, sizeof(*ctx->index), cmp_cgid);
        if (!e)
                return 0;
        r = inode ? ctx->found(e->c, inode, ctx->userdata) : look_at_pid(ctx, e->c, tgid);
        if (r < 0)
                ctx->error = r;
        return r;
}

static bool bpf_wanted(const struct cg_hierarchy *h, size_t n_containers, size_t n_inodes)
{
        const char *env = getenv("PORTISO_HOLDERS");

        if (env && strcmp(env, "proc") == 0)
                return false;
        return h->mode == CG_V2 && n_inodes <= holders_iter_max_candidates() &&
               n_containers <= holders_iter_max_containers();
}

int holders_find_bpf(struct holders_bpf_state *s, const struct cg_hierarchy *h,
                     struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                     size_t n_inodes, holders_found_fn found, void *userdata)
{
        _cleanup_free_ struct cgid_entry *index = NULL;
        _cleanup_free_ uint64_t *ids = NULL;
        struct hit_ctx ctx = {
            .found = found, .userdata = userdata, .inodes = sorted_inodes, .n_inodes = n_inodes};
        int r;

        if (n_inodes == 0)
                return 0;
        if (!bpf_wanted(h, n, n_inodes))
                return -EOPNOTSUPP;
        if (s->state == 0) {
                r = holders_iter_new(&s->iter, &s->error);
                s->state = r < 0 ? r : 1;
        }
        if (s->state < 0)
                return -EOPNOTSUPP;

        index = calloc(MAX(n, (size_t)1), sizeof(*index));
        ids = calloc(MAX(n, (size_t)1), sizeof(*ids));
        if (!index || !ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct ports_container *c = cs[i];
                uint64_t id = c->cgroup_id;

                if (c->ignored)
                        continue;
                if (id == 0 && cg_get_id(h, c->cgroup, &id) < 0)
                        continue; /* no cgroup yet: no processes either */
                index[ctx.n++] = (struct cgid_entry){id, c};
        }
        qsort(index, ctx.n, sizeof(*index), cmp_cgid);
        ctx.index = index;
        size_t n_ids = 0;
        for (size_t i = 0; i < ctx.n; i++)
                if (n_ids == 0 || ids[n_ids - 1] != index[i].cgroup_id)
                        ids[n_ids++] = index[i].cgroup_id;

        r = holders_iter_run(s->iter, ids, n_ids, sorted_inodes, n_inodes, on_hit, &ctx);
        free(ctx.held);
        if (ctx.error < 0)
                return ctx.error;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* The kernel refused this walk: the /proc walk still answers. */
                errbuf_set(&s->error, r, "holders iterator failed: %s", strerror(-r));
                return -EOPNOTSUPP;
        }
        return 0;
}
