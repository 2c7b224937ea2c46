/* network_ports_bind.c - bind prevention as an isolator ("network/ports-bind"):
 * eBPF cgroup/bind hooks on the cgroups root deny a root container's binds
 * to isolated ports it was not allocated (linux/bpf/bpf_prevent.h).
 *
 * Added next to network/ports, it is driven by the containerizer's single
 * path for allocations (prepare, update, recover, cleanup), so the BPF maps
 * follow launches, UPDATE_CONTAINER and cleanups with no special cases. The
 * BPF objects are opened lazily by the first root container that needs
 * them and destroyed with the last one's cleanup: with no container,
 * nothing of portiso stays in the kernel. Stopping the agent only closes
 * them (done()): the pins keep denying binds until the next agent re-adopts
 * them. Recovery hands it every recovered container at once, so it knows
 * then which pinned entries are stale: all its state is its own object's.
 * It logs what it attaches and removes: it runs inside the agent.
 *
 * The programs also record every refusal (linux/bpf/bpf_prevent.h's
 * denials), which status() reads for a root container with one map lookup:
 * the agent shows them, counts them, warns about them here (at once for a
 * port not told before, else at most every DENIED_LOG_INTERVAL_NS) and
 * makes them the limitation of a container that then exits. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/array.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "isolator/isolator.h"
#include "linux/bpf/bpf_prevent.h"
#include "linux/sockdiag.h"

struct prevent_entry {
        char *id;
        char *outside; /* absolute cgroup path when not below the cgroups root */
        struct bpf_prevent_attachment *att; /* the programs attached there */
        uint64_t cgroup_id;
        bool root;    /* a root container that is not ignored */
        bool applied; /* has an entry in the BPF allocation map */
        /* Refused binds already logged, for the warning's rate limit. */
        uint64_t logged_count;
        uint64_t logged_ns;
        struct portset logged_tcp, logged_udp;
};

/* A container whose binds keep being refused is named again at most this
 * often (new ports are named at once). */
#define DENIED_LOG_INTERVAL_NS (10ULL * 1000000000ULL)
/* A refusal warning names at most this many ranges (a task that tries
 * thousands of ports must not make a log line of kilobytes). */
#define DENIED_LOG_MAX_RANGES 8

struct prevent_isolator {
        struct isolator base;
        char *root_path; /* <v2 mount>/<cgroups_root> */
        struct bpf_prevent *bp;
        struct prevent_entry *v;
        size_t n, alloc;
        bool warned_autobind; /* said once that autobinds are not prevented */
};

static struct prevent_entry *entry_find(struct prevent_isolator *pi, const char *id)
{
        for (size_t k = 0; k < pi->n; k++)
                if (strcmp(pi->v[k].id, id) == 0)
                        return &pi->v[k];
        return NULL;
}

static int entry_add(struct prevent_isolator *pi, const struct isolator_container *c)
{
        struct prevent_entry *e = entry_find(pi, c->id);

        if (!e) {
                if (GREEDY_REALLOC(pi->v, pi->alloc, pi->n + 1) < 0)
                        return -ENOMEM;
                e = &pi->v[pi->n];
                *e = (struct prevent_entry){.id = strdup(c->id)};
                if (!e->id)
                        return -ENOMEM;
                pi->n++;
        }
        e->cgroup_id = c->cgroup_id;
        /* A container another engine launched lives outside the root, where
         * the programs on the root do not run: they are attached to its own
         * cgroup too (unpinned: they go with the agent). */
        if (!e->outside && !c->parent_id && !cg_is_below(c->cgroup, pi->base.ctx->cgroups_root) &&
            asprintf(&e->outside, "%s/%s", pi->base.ctx->hierarchy->path, c->cgroup) < 0) {
                e->outside = NULL;
                return -ENOMEM;
        }
        /* A container on its own network (CNI) binds in its own namespace. */
        e->root = !c->parent_id && c->cgroup_id != 0 && !(pi->base.ctx->cni_enabled && c->network);
        return 0;
}

static void entry_done(struct prevent_entry *e)
{
        bpf_prevent_detach(e->att);
        free(e->id);
        free(e->outside);
        portset_clear(&e->logged_tcp);
        portset_clear(&e->logged_udp);
}

static bool any_applied(const struct prevent_isolator *pi)
{
        for (size_t k = 0; k < pi->n; k++)
                if (pi->v[k].applied)
                        return true;
        return false;
}

static int prevent_init(struct isolator *i, const struct isolator_context *ctx, struct errbuf *e)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        int r;

        if (ctx->hierarchy->mode != CG_V2)
                return errbuf_set(e, -EOPNOTSUPP,
                                  "containers are on the cgroup v1 freezer "
                                  "hierarchy; bind prevention needs cgroup v2");
        r = bpf_prevent_supported(e);
        if (r <= 0)
                return r < 0 ? r : -EOPNOTSUPP;
        return cg_path(ctx->hierarchy, ctx->cgroups_root, &pi->root_path);
}

static void prevent_done(struct isolator *i)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;

        bpf_prevent_close(pi->bp); /* the pins keep holding */
        for (size_t k = 0; k < pi->n; k++)
                entry_done(&pi->v[k]);
        free(pi->v);
        free(pi->root_path);
}

static int prevent_open(struct prevent_isolator *pi)
{
        const struct isolator_context *ctx = pi->base.ctx;
        struct errbuf e = {};
        int r;

        if (pi->bp)
                return 0;
        r = bpf_prevent_open(pi->root_path, ctx->cgroups_root, ctx->isolated,
                             bpf_protocols_for(ctx->protocols & SOCKDIAG_UDP), &pi->bp, &e);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bind prevention: %s", e.msg);
        log_info("Bind prevention attached to %s (pins in %s%s)", pi->root_path,
                 bpf_prevent_pin_dir(pi->bp), bpf_prevent_is_fresh(pi->bp) ? "" : ", re-adopted");
        if (bpf_prevent_autobind_missing(pi->bp) && !pi->warned_autobind) {
                log_warning("Autobinds (listen() or UDP sendmsg() without bind()) are not "
                            "prevented, only detected: %s",
                            bpf_prevent_autobind_missing(pi->bp));
                pi->warned_autobind = true;
        }
        return 0;
}

/* Detach and unpin everything once no container needs prevention. */
static void prevent_release_if_unused(struct prevent_isolator *pi)
{
        int r;

        if (!pi->bp || any_applied(pi))
                return;
        r = bpf_prevent_destroy(TAKE_PTR(pi->bp));
        if (r < 0)
                log_warning_errno(r, "Failed to remove bind prevention completely: %m");
        else
                log_info("Bind prevention removed: no container needs it");
}

static int prevent_apply(struct prevent_isolator *pi, struct prevent_entry *e,
                         const struct portset *allocation)
{
        int r;

        if (!e->root || !allocation)
                return 0;
        r = prevent_open(pi);
        if (r < 0)
                return r;
        r = bpf_prevent_set(pi->bp, e->cgroup_id, allocation);
        if (r < 0)
                return log_error_errno(r, "Failed to set the bind allocation of %s: %m", e->id);
        e->applied = true;
        if (e->outside && !e->att) {
                r = bpf_prevent_attach(pi->bp, e->outside, &e->att);
                if (r < 0)
                        return log_error_errno(r, "Failed to attach bind prevention to %s: %m",
                                               e->outside);
        }
        return 0;
}

static int prevent_prepare(struct isolator *i, const struct isolator_container *c,
                           struct isolator_launch_info *info, struct errbuf *e)
{
        (void)info;
        (void)e;
        return entry_add((struct prevent_isolator *)i, c);
}

/* Every recovered container at once: re-apply their allocations, then drop
 * what the pinned map still holds for containers that did not come back,
 * and the pins altogether when no container needs them. */
static int prevent_recover(struct isolator *i, const struct isolator_recovered *v, size_t n)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n_ids;
        int ret = 0, r;

        for (size_t k = 0; k < n; k++) {
                r = entry_add(pi, &v[k].c);
                if (r >= 0)
                        r = prevent_apply(pi, entry_find(pi, v[k].c.id), v[k].allocation);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (!pi->bp) {
                r = bpf_prevent_remove_pins(pi->base.ctx->cgroups_root);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove stale bind prevention pins: %m");
                return ret;
        }
        r = bpf_prevent_ids(pi->bp, &ids, &n_ids);
        if (r < 0)
                return ret ?: r;
        for (size_t k = 0; k < n_ids; k++) {
                bool known = false;
                for (size_t j = 0; j < pi->n && !known; j++)
                        known = pi->v[j].applied && pi->v[j].cgroup_id == ids[k];
                if (!known) {
                        (void)bpf_prevent_unset(pi->bp, ids[k]);
                        (void)bpf_prevent_forget_denied(pi->bp, ids[k]);
                }
        }
        return ret;
}

static int prevent_update(struct isolator *i, const char *id, const struct portset *allocation)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        struct prevent_entry *e = entry_find(pi, id);

        return e ? prevent_apply(pi, e, allocation) : -ENOENT;
}

/* "tcp port(s) [8080-8080]", "udp an autobind", ... for the new refusals. */
static void denied_describe(const char *proto, const struct portset *now,
                            const struct portset *before, struct strbuf *out)
{
        _cleanup_portset_ struct portset fresh = PORTSET_INIT;

        if (portset_subtract(&fresh, now, before) < 0 || portset_is_empty(&fresh))
                return;
        if (out->len)
                strbuf_puts(out, ", ");
        bool autobind = portset_contains(&fresh, 0);
        (void)portset_remove(&fresh, 0);
        strbuf_addf(out, "%s ", proto);
        if (!portset_is_empty(&fresh)) {
                strbuf_puts(out, "port(s) ");
                portset_format_capped(&fresh, DENIED_LOG_MAX_RANGES, out);
        }
        if (autobind)
                strbuf_addf(out, "%san autobind", portset_is_empty(&fresh) ? "" : " and ");
}

/* Warn about refusals not told yet: at once for new ports, else at most
 * every DENIED_LOG_INTERVAL_NS. */
static void denied_log(struct prevent_entry *e, const struct bpf_prevent_denied *d)
{
        _cleanup_strbuf_ struct strbuf what = STRBUF_INIT;
        uint64_t now = now_nsec();

        if (d->count <= e->logged_count)
                return;
        denied_describe("tcp", &d->tcp, &e->logged_tcp, &what);
        denied_describe("udp", &d->udp, &e->logged_udp, &what);
        if (what.len == 0 && now - e->logged_ns < DENIED_LOG_INTERVAL_NS)
                return;
        log_warning("Container %s: bind prevention refused %s%s (%" PRIu64 " refused so far)",
                    e->id, what.len ? strbuf_str(&what) : "the same ports again",
                    what.len ? ", not allocated to it" : "", d->count);
        e->logged_count = d->count;
        e->logged_ns = now;
        portset_clear(&e->logged_tcp);
        portset_clear(&e->logged_udp);
        if (portset_copy(&e->logged_tcp, &d->tcp) < 0 || portset_copy(&e->logged_udp, &d->udp) < 0)
                log_error("Out of memory recording the binds refused to %s", e->id);
}

/* What bind prevention refused the root container id: one map lookup. */
static int prevent_status(struct isolator *i, const char *id, struct isolator_status *ret)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        struct prevent_entry *e = entry_find(pi, id);
        struct bpf_prevent_denied d = {};
        int r;

        if (!e || !e->applied || !pi->bp)
                return 0;
        r = bpf_prevent_denied(pi->bp, e->cgroup_id, &d);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_debug_errno(r, "Failed to read the binds refused to %s: %m", id);
        denied_log(e, &d);
        ret->has_denied = true;
        ret->denied_count = d.count;
        ret->denied_tcp = d.tcp;
        ret->denied_udp = d.udp;
        return 0;
}

static int prevent_cleanup(struct isolator *i, const char *id)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        struct prevent_entry *e = entry_find(pi, id);
        int r = 0;

        if (!e)
                return -ENOENT;
        if (e->applied && pi->bp) {
                r = bpf_prevent_unset(pi->bp, e->cgroup_id);
                int k = bpf_prevent_forget_denied(pi->bp, e->cgroup_id);
                if (r >= 0)
                        r = k;
        }
        entry_done(e);
        *e = pi->v[--pi->n];
        prevent_release_if_unused(pi);
        return r;
}

/* Asked of the maps the programs decide on, not of the entries here: the
 * answer is the kernel's own for that bind. */
static int prevent_refuses_udp_bind(struct isolator *i, uint64_t container_cgroup_id,
                                    const struct portset *ports)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;

        return pi->bp ? bpf_prevent_refuses(pi->bp, container_cgroup_id, BPF_PROTO_UDP, ports) : 0;
}

const struct isolator_ops isolator_network_ports_bind = {
    .name = "network/ports-bind",
    .size = sizeof(struct prevent_isolator),
    .init = prevent_init,
    .done = prevent_done,
    .recover = prevent_recover,
    .prepare = prevent_prepare,
    .status = prevent_status,
    .refuses_udp_bind = prevent_refuses_udp_bind,
    .update = prevent_update,
    .cleanup = prevent_cleanup,
};
