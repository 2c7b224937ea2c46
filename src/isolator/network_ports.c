/* network_ports.c - the network/ports isolator behind the generic isolator
 * interface (isolator.h): an adapter onto ports.h.
 *
 * prepare/recover register the container (with its cgroup id, and "ignored"
 * when it sits on a named network while network/cni is on: Mesos does not
 * check such containers, they do not share the host's ports), update sets a
 * root's allocation, watch runs one collect (one sock_diag dump) and one pure
 * check, check_event one port-filtered dump and the check of one root, and
 * status reports a container's listeners, its own plus its nested
 * containers', as of the last watch. The sock_diag socket is opened once and
 * kept: the agent dumps on every tick. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "isolator/holders.h"
#include "isolator/isolator.h"
#include "isolator/ports.h"
#include "linux/sockdiag.h"

struct network_ports {
        struct isolator base;
        struct ports_isolator pi;
        struct sockdiag *sd;
        bool said_no_cgroup_ids;
        bool said_holders; /* why the holder search walks more than it needs */
};

static struct network_ports *NP(struct isolator *i)
{
        return (struct network_ports *)i;
}

static int np_init(struct isolator *i, const struct isolator_context *ctx, struct errbuf *e)
{
        struct network_ports *np = NP(i);
        int r;

        r = ports_isolator_init(&np->pi, ctx->isolated, ctx->protocols);
        if (r < 0)
                return errbuf_set(e, r, "network/ports: %s", strerror(-r));
        r = sockdiag_new(&np->sd);
        if (r < 0) {
                ports_isolator_done(&np->pi);
                return errbuf_set(e, r, "network/ports: cannot open NETLINK_SOCK_DIAG: %s",
                                  strerror(-r));
        }
        return 0;
}

static void np_done(struct isolator *i)
{
        struct network_ports *np = NP(i);

        ports_isolator_done(&np->pi);
        sockdiag_free(np->sd);
        np->sd = NULL;
}

static int np_prepare(struct isolator *i, const struct isolator_container *c,
                      struct isolator_launch_info *info, struct errbuf *e)
{
        struct network_ports *np = NP(i);
        bool ignored = i->ctx->cni_enabled && c->network;
        int r;

        (void)info;
        r = ports_prepare(&np->pi, c->id, c->parent_id, c->cgroup, c->cgroup_id, ignored);
        if (r < 0)
                return errbuf_set(e, r, "network/ports: cannot prepare container %s: %s", c->id,
                                  strerror(-r));
        return 0;
}

static int np_recover(struct isolator *i, const struct isolator_recovered *v, size_t n)
{
        struct network_ports *np = NP(i);
        int ret = 0;

        /* One container's failure costs that container only. */
        for (size_t k = 0; k < n; k++) {
                const struct isolator_container *c = &v[k].c;
                int r = np_prepare(i, c, NULL, NULL);
                if (r >= 0 && !c->parent_id && v[k].allocation)
                        r = ports_update(&np->pi, c->id, v[k].allocation);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int np_update(struct isolator *i, const char *id, const struct portset *allocation)
{
        return ports_update(&NP(i)->pi, id, allocation);
}

static int np_watch(struct isolator *i, struct isolator_limitation **ret, size_t *ret_n)
{
        struct network_ports *np = NP(i);
        int r;

        r = ports_collect(&np->pi, np->sd, i->ctx->hierarchy);
        if (r < 0)
                return r;
        /* Without the creator's cgroup id (kernel < 5.7) every listener is
         * a candidate for the holder search: correct, but every pass reads
         * the containers' fds. Said once. */
        if (!np->said_no_cgroup_ids && np->pi.listeners.n > 0 && i->ctx->hierarchy->mode == CG_V2 &&
            !sockdiag_has_cgroup_id(np->sd)) {
                log_warning("network/ports: the kernel reports no cgroup id with sockets "
                            "(INET_DIAG_CGROUP_ID, Linux 5.7); every pass searches the "
                            "containers' processes instead");
                np->said_no_cgroup_ids = true;
        }
        if (!np->said_holders && np->pi.holders) {
                const char *why = NULL, *backend = holders_backend(np->pi.holders, &why);

                if (strcmp(backend, "bpf") == 0 && why && strcmp(why, "not wanted") != 0)
                        log_warning("network/ports: holder search not driven by events (%s); "
                                    "every pass walks the processes of every container",
                                    why);
                else if (strcmp(backend, "proc") == 0 && why)
                        log_warning("network/ports: holder search through /proc (%s); every "
                                    "pass reads the fds of every container process",
                                    why);
                np->said_holders = true;
        }
        return ports_check(&np->pi, ret, ret_n);
}

static int np_check_event(struct isolator *i, uint64_t cgroup_id, uint8_t protocol, uint16_t port,
                          struct isolator_limitation *ret)
{
        struct network_ports *np = NP(i);

        if (!(np->pi.protocols & (protocol == IPPROTO_UDP ? SOCKDIAG_UDP : SOCKDIAG_TCP)))
                return 0;
        return ports_check_event(&np->pi, np->sd, i->ctx->hierarchy, cgroup_id, protocol, port,
                                 ret);
}

static void np_forget_report(struct isolator *i, const char *id)
{
        struct ports_container *c = ports_find(&NP(i)->pi, id);

        if (c)
                portset_reset(&c->reported);
}

static int np_status(struct isolator *i, const char *id, struct isolator_status *ret)
{
        struct network_ports *np = NP(i);
        struct ports_container *top = ports_find(&np->pi, id);
        _cleanup_portset_ struct portset all = PORTSET_INIT;
        int r;

        if (!top)
                return -ENOENT;
        r = ports_listening_tree(top, &all);
        if (r < 0)
                return r;
        isolator_status_done(ret);
        ret->has_listening = true;
        ret->listening = all;
        all = (struct portset)PORTSET_INIT;
        return 0;
}

static int np_cleanup(struct isolator *i, const char *id)
{
        int r = ports_cleanup(&NP(i)->pi, id);

        /* Already gone with its root: fine. */
        return r == -ENOENT ? 0 : r;
}

const struct isolator_ops isolator_network_ports = {
    .name = "network/ports",
    .size = sizeof(struct network_ports),
    .init = np_init,
    .done = np_done,
    .recover = np_recover,
    .prepare = np_prepare,
    .update = np_update,
    .watch = np_watch,
    .check_event = np_check_event,
    .forget_report = np_forget_report,
    .status = np_status,
    .cleanup = np_cleanup,
};
