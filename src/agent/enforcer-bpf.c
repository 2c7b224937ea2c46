/* enforcer-bpf.c - instant detection and bind prevention in the agent; see
 * enforcer-bpf.h.
 *
 * Prevention is an isolator (isolator.h) added next to network/ports, so the
 * containerizer's single path for allocations (prepare, update, recover,
 * cleanup) drives the BPF maps with no special cases. The BPF objects are
 * opened lazily by the first root container that needs them and destroyed
 * with the last one's cleanup: with no container, nothing of portiso stays
 * in the kernel. Stopping the agent only closes them (done()): the pins keep
 * denying binds until the next agent re-adopts them.
 *
 * The prevention isolator object is created by the containerizer, so the
 * enforcer finds it through one static pointer (one agent per process). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/enforcer-bpf.h"
#include "basic/log.h"
#include "basic/sorted-array.h"
#include "isolator/isolator.h"
#include "linux/bpf/bpf_detect.h"
#include "linux/bpf/bpf_prevent.h"
#include "linux/sockdiag.h"

/* A listen seen before its port was chosen, or before its socket is in the
 * kernel's tables, is found by this second look. */
#define RECHECK_USEC 20000

struct prevent_entry {
        char *id;
        uint64_t cgroup_id;
        bool root;    /* a root container that is not ignored */
        bool applied; /* has an entry in the BPF allocation map */
};

struct prevent_isolator {
        struct isolator base;
        char *root_path; /* <v2 mount>/<cgroups_root> */
        struct bpf_prevent *bp;
        struct prevent_entry *v;
        size_t n, alloc;
        bool warned_autobind; /* said once that autobinds are not prevented */
};

static struct prevent_isolator *active_prevent;

/* A listener event whose socket the kernel did not show yet. */
struct pending_event {
        uint64_t cgroup_id;
        uint16_t port;
        uint8_t protocol;
};

/* Beyond this many events to look at again, one full pass is cheaper. */
#define PENDING_MAX 256

struct bpf_enforcer {
        struct containerizer *cz;
        struct bpf_detect *bd;
        struct event *ring_ev;
        struct event *recheck_ev;
        uint64_t dropped_seen;
        struct pending_event *pending;
        size_t n_pending, alloc_pending;
        bool full_pass_wanted; /* a listen whose port was not chosen yet */
};

static unsigned bpf_protocols(unsigned sockdiag_protocols)
{
        return (sockdiag_protocols & SOCKDIAG_UDP ? BPF_PROTO_UDP : 0) | BPF_PROTO_TCP;
}

static char *cgroups_root_path(const struct cg_hierarchy *h, const char *root)
{
        char *p;

        return asprintf(&p, "%s/%s", h->path, root) < 0 ? NULL : p;
}

/* ---- the prevention isolator -------------------------------------------- */

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
                if (pi->n == pi->alloc) {
                        size_t na = MAX(pi->alloc * 2, (size_t)16);
                        struct prevent_entry *v = reallocarray(pi->v, na, sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        pi->v = v;
                        pi->alloc = na;
                }
                e = &pi->v[pi->n];
                *e = (struct prevent_entry){.id = strdup(c->id)};
                if (!e->id)
                        return -ENOMEM;
                pi->n++;
        }
        e->cgroup_id = c->cgroup_id;
        /* A container on its own network (CNI) binds in its own namespace. */
        e->root = !c->parent_id && c->cgroup_id != 0 && !(pi->base.ctx->cni_enabled && c->network);
        return 0;
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
        pi->root_path = cgroups_root_path(ctx->hierarchy, ctx->cgroups_root);
        if (!pi->root_path)
                return -ENOMEM;
        active_prevent = pi;
        return 0;
}

static void prevent_done(struct isolator *i)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;

        bpf_prevent_close(pi->bp); /* the pins keep holding */
        for (size_t k = 0; k < pi->n; k++)
                free(pi->v[k].id);
        free(pi->v);
        free(pi->root_path);
        if (active_prevent == pi)
                active_prevent = NULL;
}

static int prevent_open(struct prevent_isolator *pi)
{
        const struct isolator_context *ctx = pi->base.ctx;
        struct errbuf e = {};
        int r;

        if (pi->bp)
                return 0;
        r = bpf_prevent_open(pi->root_path, ctx->cgroups_root, ctx->isolated,
                             bpf_protocols(ctx->protocols), &pi->bp, &e);
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
        return 0;
}

static int prevent_prepare(struct isolator *i, const struct isolator_container *c,
                           struct isolator_launch_info *info, struct errbuf *e)
{
        (void)info;
        (void)e;
        return entry_add((struct prevent_isolator *)i, c);
}

static int prevent_recover(struct isolator *i, const struct isolator_container *c,
                           const struct portset *allocation)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        int r = entry_add(pi, c);

        if (r < 0)
                return r;
        return prevent_apply(pi, entry_find(pi, c->id), allocation);
}

static int prevent_update(struct isolator *i, const char *id, const struct portset *allocation)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        struct prevent_entry *e = entry_find(pi, id);

        return e ? prevent_apply(pi, e, allocation) : -ENOENT;
}

static int prevent_cleanup(struct isolator *i, const char *id)
{
        struct prevent_isolator *pi = (struct prevent_isolator *)i;
        struct prevent_entry *e = entry_find(pi, id);
        int r = 0;

        if (!e)
                return -ENOENT;
        if (e->applied && pi->bp)
                r = bpf_prevent_unset(pi->bp, e->cgroup_id);
        free(e->id);
        *e = pi->v[--pi->n];
        prevent_release_if_unused(pi);
        return r;
}

static const struct isolator_ops isolator_bpf_prevent = {
    .name = "network/ports-bind",
    .size = sizeof(struct prevent_isolator),
    .init = prevent_init,
    .done = prevent_done,
    .recover = prevent_recover,
    .prepare = prevent_prepare,
    .update = prevent_update,
    .cleanup = prevent_cleanup,
};

static bool prevent_start(struct agent_flags *flags, struct containerizer *cz)
{
        struct errbuf e = {};
        int r;

        if (!flags->container_ports_prevent_bind) {
                /* Pins of an earlier run with prevention would keep denying
                 * binds against allocations nobody updates any more. */
                r = bpf_prevent_remove_pins(flags->cgroups_root);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove stale bind prevention pins: %m");
                return false;
        }
        if (!flags->isolation_network_ports) {
                log_warning("Bind prevention disabled: it needs network/ports in --isolation");
                return false;
        }
        r = containerizer_add_isolator(cz, &isolator_bpf_prevent, &e);
        if (r < 0) {
                log_warning("Bind prevention disabled: %s", e.msg[0] ? e.msg : strerror(-r));
                return false;
        }
        return true;
}

/* ---- instant detection --------------------------------------------------- */

static void want_full_pass(struct bpf_enforcer *enf)
{
        enf->full_pass_wanted = true;
        enf->n_pending = 0; /* the pass covers them */
}

static void on_listen_event(const struct bpf_listen_event *ev, void *userdata)
{
        struct bpf_enforcer *enf = userdata;
        struct pending_event p = {ev->cgroup_id, ev->port, (uint8_t)ev->protocol};
        int r;

        containerizer_note_listen(enf->cz, ev->container_cgroup_id, ev->ktime_ns);
        log_debug("Listener in cgroup %llu (container cgroup %llu, pid %u): %s port %u",
                  (unsigned long long)ev->cgroup_id, (unsigned long long)ev->container_cgroup_id,
                  ev->pid, ev->protocol == IPPROTO_UDP ? "udp" : "tcp", ev->port);
        /* listen() on an unbound socket reports before its port is chosen. */
        if (ev->port == 0)
                return want_full_pass(enf);
        if (enf->full_pass_wanted)
                return;
        r = containerizer_check_event(enf->cz, ev->cgroup_id, (uint8_t)ev->protocol, ev->port);
        if (r != -ENOENT)
                return;
        /* Not in the kernel's tables yet (the event fires inside listen()),
         * or closed already: one more look a little later. */
        if (enf->n_pending >= PENDING_MAX ||
            ARRAY_INSERT_AT(enf->pending, enf->n_pending, enf->alloc_pending, enf->n_pending, p) <
                0)
                want_full_pass(enf);
}

static void on_recheck(evutil_socket_t fd, short what, void *userdata)
{
        struct bpf_enforcer *enf = userdata;

        (void)fd;
        (void)what;
        if (enf->full_pass_wanted) {
                enf->full_pass_wanted = false;
                (void)containerizer_check_now(enf->cz);
                return;
        }
        /* Still not there: closed again, or passed in; the periodic pass is
         * the backstop for both. */
        for (size_t k = 0; k < enf->n_pending; k++)
                (void)containerizer_check_event(enf->cz, enf->pending[k].cgroup_id,
                                                enf->pending[k].protocol, enf->pending[k].port);
        enf->n_pending = 0;
}

/* Each event is checked as it comes, for its container alone. Events the
 * ring buffer lost are counted and make one full pass. */
static void on_ring(evutil_socket_t fd, short what, void *userdata)
{
        struct bpf_enforcer *enf = userdata;
        static const struct timeval later = {0, RECHECK_USEC};
        uint64_t dropped;
        int n;

        (void)fd;
        (void)what;
        n = bpf_detect_consume(enf->bd, on_listen_event, enf);
        if (n < 0) {
                log_warning_errno(n, "Failed to read listener events: %m");
                return;
        }
        dropped = bpf_detect_dropped(enf->bd);
        containerizer_count_events(enf->cz, (uint64_t)n, dropped);
        if (dropped != enf->dropped_seen) {
                log_warning("Lost %llu listener events (ring buffer full): checking every "
                            "container",
                            (unsigned long long)(dropped - enf->dropped_seen));
                enf->dropped_seen = dropped;
                enf->full_pass_wanted = false;
                enf->n_pending = 0;
                (void)containerizer_check_now(enf->cz);
                return;
        }
        if ((enf->full_pass_wanted || enf->n_pending > 0) &&
            !evtimer_pending(enf->recheck_ev, NULL))
                evtimer_add(enf->recheck_ev, &later);
}

static int detect_start(struct bpf_enforcer *enf, struct event_base *base,
                        const struct agent_flags *flags, struct containerizer *cz)
{
        const struct cg_hierarchy *h = containerizer_hierarchy(cz);
        _cleanup_free_ char *root = NULL;
        struct errbuf e = {};
        int r;

        if (flags->container_ports_instant_detection == 0)
                return 0;
        if (!flags->isolation_network_ports) {
                if (flags->container_ports_instant_detection > 0)
                        log_warning("Instant detection disabled: it needs network/ports in "
                                    "--isolation");
                return 0;
        }
        if (h->mode != CG_V2) {
                log_warning("Instant detection disabled: containers are on the cgroup v1 "
                            "freezer hierarchy and detection needs cgroup v2; polling only");
                return 0;
        }
        r = bpf_detect_supported(&e);
        if (r <= 0) {
                log_warning("Instant detection disabled: %s; polling only",
                            e.msg[0] ? e.msg : strerror(-r));
                return 0;
        }
        root = cgroups_root_path(h, flags->cgroups_root);
        if (!root)
                return -ENOMEM;
        r = bpf_detect_open(root, flags->cgroups_root,
                            bpf_protocols(flags->container_ports_protocols), &enf->bd, &e);
        if (r < 0) {
                log_warning("Instant detection disabled: %s; polling only", e.msg);
                return 0;
        }
        enf->ring_ev = event_new(base, bpf_detect_fd(enf->bd), EV_READ | EV_PERSIST, on_ring, enf);
        enf->recheck_ev = evtimer_new(base, on_recheck, enf);
        if (!enf->ring_ev || !enf->recheck_ev || event_add(enf->ring_ev, NULL) < 0)
                return -ENOMEM;
        log_info("Instant detection on: new listeners below %s are checked at once", root);
        return 1;
}

int bpf_enforcer_new(struct event_base *base, struct agent_flags *flags, struct containerizer *cz,
                     struct bpf_enforcer **ret)
{
        _cleanup_(bpf_enforcer_freep) struct bpf_enforcer *enf = calloc(1, sizeof(*enf));
        bool prevent;
        int r;

        if (!enf)
                return -ENOMEM;
        enf->cz = cz;
        r = detect_start(enf, base, flags, cz);
        if (r < 0)
                return r;
        prevent = prevent_start(flags, cz);

        flags->container_ports_instant_detection = enf->bd ? 1 : 0;
        flags->container_ports_prevent_bind = prevent;
        containerizer_set_features(cz, enf->bd != NULL, prevent);
        *ret = TAKE_PTR(enf);
        return 0;
}

void bpf_enforcer_recovered(struct bpf_enforcer *enf)
{
        struct prevent_isolator *pi = active_prevent;
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n;

        (void)enf;
        if (!pi)
                return;
        if (!pi->bp) {
                /* No recovered container needs prevention: leave nothing. */
                int r = bpf_prevent_remove_pins(pi->base.ctx->cgroups_root);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove stale bind prevention pins: %m");
                return;
        }
        if (bpf_prevent_ids(pi->bp, &ids, &n) < 0)
                return;
        for (size_t k = 0; k < n; k++) {
                bool known = false;
                for (size_t j = 0; j < pi->n && !known; j++)
                        known = pi->v[j].applied && pi->v[j].cgroup_id == ids[k];
                if (!known)
                        (void)bpf_prevent_unset(pi->bp, ids[k]);
        }
}

void bpf_enforcer_free(struct bpf_enforcer *enf)
{
        if (!enf)
                return;
        if (enf->ring_ev)
                event_free(enf->ring_ev);
        if (enf->recheck_ev)
                event_free(enf->recheck_ev);
        bpf_detect_close(enf->bd);
        free(enf->pending);
        free(enf);
}
