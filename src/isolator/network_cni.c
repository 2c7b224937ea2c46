/* network_cni.c - a minimal network/cni isolator: a container whose
 * ContainerInfo names a network gets a network namespace of its own, with
 * only the loopback interface up.
 *
 * Real CNI plugins (bridges, IPAM) are out of scope; what matters to portiso
 * is the Mesos semantics around it: such a container does not share the
 * host's ports, so network/ports ignores it and its nested containers. The
 * namespace itself is made by the launcher in the child before exec, so this
 * isolator only asks for it from prepare(). */
#include "isolator/isolator.h"

static int cni_prepare(struct isolator *i, const struct isolator_container *c,
                       struct isolator_launch_info *info, struct errbuf *e)
{
        (void)i;
        (void)e;
        if (c->network && info)
                info->new_netns = true;
        return 0;
}

const struct isolator_ops isolator_network_cni = {
    .name = "network/cni",
    .size = sizeof(struct isolator),
    .prepare = cni_prepare,
};
