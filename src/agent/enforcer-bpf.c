/* enforcer-bpf.c - instant detection and the switch for bind prevention in
 * the agent; see enforcer-bpf.h. Prevention itself is an isolator
 * (isolator/network_ports_bind.c) the containerizer drives like any other.
 * Recovery hands it every recovered container at once, so it knows then
 * which pinned entries are stale: all its state is its own object's. */
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
        r = containerizer_add_isolator(cz, &isolator_network_ports_bind, &e);
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

static bool udp_bind_refused(struct bpf_enforcer *enf, const struct bpf_listen_event *ev)
{
        _cleanup_portset_ struct portset port = PORTSET_INIT;

        return ev->protocol == IPPROTO_UDP && ev->port != 0 && portset_add(&port, ev->port) >= 0 &&
               containerizer_refuses_udp_bind(enf->cz, ev->container_cgroup_id, &port);
}

static void on_listen_event(const struct bpf_listen_event *ev, void *userdata)
{
        struct bpf_enforcer *enf = userdata;
        struct pending_event p = {ev->cgroup_id, ev->port, (uint8_t)ev->protocol};
        int r;

        /* A UDP bind is reported from post_bind, before bind prevention's
         * post_bind refuses it and the kernel undoes it: checked now, the
         * socket could still be seen, and a task that was only told EPERM
         * killed. The refusal is the kernel's; the maps say it at once. */
        if (udp_bind_refused(enf, ev)) {
                log_debug("UDP bind to port %u in container cgroup %llu: refused by bind "
                          "prevention",
                          ev->port, (unsigned long long)ev->container_cgroup_id);
                return;
        }
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
        r = cg_path(h, flags->cgroups_root, &root);
        if (r < 0)
                return r;
        /* Adopted containers live anywhere: then every listener below the
         * hierarchy's root is reported (listens are rare; each is looked up
         * by its cgroup). */
        bool anywhere = flags->sources & ~WORKLOAD_SOURCE_API;
        r = bpf_detect_open(anywhere ? h->path : root, anywhere ? "" : flags->cgroups_root,
                            bpf_protocols_for(flags->container_ports_protocols & SOCKDIAG_UDP),
                            &enf->bd, &e);
        if (r < 0) {
                log_warning("Instant detection disabled: %s; polling only", e.msg);
                return 0;
        }
        enf->ring_ev = event_new(base, bpf_detect_fd(enf->bd), EV_READ | EV_PERSIST, on_ring, enf);
        enf->recheck_ev = evtimer_new(base, on_recheck, enf);
        if (!enf->ring_ev || !enf->recheck_ev || event_add(enf->ring_ev, NULL) < 0)
                return -ENOMEM;
        log_info("Instant detection on: new listeners below %s are checked at once",
                 anywhere ? h->path : root);
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
