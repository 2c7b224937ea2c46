/* prevent.bpf.c - deny bind() to isolated ports a container was not allocated,
 * and the autobinds that would end up on one.
 *
 * Every program is attached to the cgroups root, so it runs for every socket
 * created in a container or nested container below it. The container a
 * socket is charged to is the root container of the calling task: its
 * ancestor cgroup one level below the cgroups root, which makes nested
 * containers share their root's allocation with no per-nested bookkeeping.
 *
 *   cgroup/bind4, bind6          bind() to an isolated, unallocated port
 *   cgroup/post_bind4, 6         a UDP bind() to port 0 (when UDP counts) that
 *                                got an isolated, unallocated port
 *   lsm_cgroup/socket_listen     listen() on a TCP socket bound to such a port,
 *                                or unbound (the kernel is about to pick one)
 *                                while the ephemeral range holds such ports
 *   lsm_cgroup/socket_sendmsg    the same for sendmsg() on an unbound UDP
 *                                socket (when UDP counts)
 *
 * The cgroup/bind hooks never see an autobind (listen() or sendmsg() on an
 * unbound socket), and the LSM hooks run before the kernel picks the port:
 * so an autobind is refused unless every port it could get is allowed. A
 * TCP bind() to port 0 stays allowed (clients bind before connect()); its
 * port is checked when it listens. The LSM programs need the BPF LSM (and
 * BPF trampolines); the loader attaches them where the kernel has them.
 * Elsewhere it sets tcp_port0 and bind4/6 refuse a TCP bind() to port 0 as
 * an autobind, which leaves listen() on an unbound socket and UDP sendmsg()
 * autobinds to detection. Everything the programs decide on lives in two maps that the
 * agent fills and that stay pinned while it is down:
 *
 *   portiso_config  one entry: isolated ports, protocols, where the root is
 *   portiso_allocs  root container cgroup id -> allocated ports (bitmap)
 *
 * and each refusal is recorded in a third, portiso_denials (root container
 * cgroup id -> denied ports and a count), which the agent reads to report
 * it; it is pinned too, so refusals made while the agent is down are told.
 *
 * The programs may also be attached to the cgroup of a container that
 * another engine launched (an adopted container, outside the cgroups root):
 * a task there is charged to its outermost ancestor cgroup (or its own) that
 * has an entry in portiso_allocs.
 *
 * A container absent from portiso_allocs (allocation unknown, CNI-networked,
 * the agent's own supervisors) is allowed. Returning 0 makes the call fail
 * with EPERM; bind6 also sees IPv4-mapped and dual-stack binds. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "prevent_maps.h"

#define BIND_ALLOW 1
#define BIND_DENY 0

#define AF_INET 2
#define AF_INET6 10

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct prevent_config);
} portiso_config SEC(".maps");

/* Allocated on demand (no prealloc): 8 KiB per root container that has an
 * allocation, not per possible entry. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 16384);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, __u64);
        __type(value, struct port_bitmap);
} portiso_allocs SEC(".maps");

/* Allocated on demand, like portiso_allocs; the agent deletes an entry when
 * its container ends. A full map records no more (refusals still happen). */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 16384);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, __u64);
        __type(value, struct prevent_denials);
} portiso_denials SEC(".maps");

/* All zeroes: what a new portiso_denials entry starts from (too large for
 * the stack). Never written. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct prevent_denials);
} portiso_denials_zero SEC(".maps");

static __always_inline int bitmap_test(const struct port_bitmap *b, __u16 port)
{
        return (b->w[port >> 6] >> (port & 63)) & 1;
}

/* The root container of the current task, or 0 when the task is not below
 * the cgroups root (or sits in the root itself). The loader's level is tried
 * first; a search covers hosts where the path does not tell the level (a
 * cgroup namespace). */
static __always_inline __u64 current_root_container(const struct prevent_config *cfg)
{
        __u32 level = cfg->root_level;

        if (level < PREVENT_MAX_LEVEL && bpf_get_current_ancestor_cgroup_id(level) == cfg->root_id)
                return bpf_get_current_ancestor_cgroup_id(level + 1);
        for (int i = 0; i < PREVENT_MAX_LEVEL; i++) {
                __u64 id = bpf_get_current_ancestor_cgroup_id(i);
                if (id == 0)
                        return 0;
                if (id == cfg->root_id)
                        return bpf_get_current_ancestor_cgroup_id(i + 1);
        }
        return 0;
}

/* Outside the cgroups root: the allocation of the adopted container the
 * task is in, found by its ancestors from the top (its cgroup id in
 * *ret_container), or NULL. */
static __always_inline const struct port_bitmap *adopted_allocation(__u64 *ret_container)
{
        for (int i = 0; i < PREVENT_MAX_LEVEL; i++) {
                __u64 id = bpf_get_current_ancestor_cgroup_id(i);
                const struct port_bitmap *b;

                if (id == 0)
                        return NULL;
                b = bpf_map_lookup_elem(&portiso_allocs, &id);
                if (b) {
                        *ret_container = id;
                        return b;
                }
        }
        return NULL;
}

/* The configuration and the caller's allocation when a socket of protocol
 * (IPPROTO_*) is checked at all: NULL when it is allowed whatever its port. */
static __always_inline const struct port_bitmap *
checked_allocation(__u32 protocol, const struct prevent_config **ret_cfg, __u64 *ret_container)
{
        __u32 zero = 0, proto;
        const struct prevent_config *cfg;
        __u64 container;

        if (protocol == IPPROTO_TCP)
                proto = PREVENT_PROTO_TCP;
        else if (protocol == IPPROTO_UDP)
                proto = PREVENT_PROTO_UDP;
        else
                return NULL;
        cfg = bpf_map_lookup_elem(&portiso_config, &zero);
        if (!cfg || !cfg->enabled || !(cfg->protocols & proto))
                return NULL;
        container = current_root_container(cfg);
        *ret_cfg = cfg;
        if (!container)
                return adopted_allocation(ret_container);
        *ret_container = container;
        return bpf_map_lookup_elem(&portiso_allocs, &container);
}

/* Record that container was refused port (0: an autobind) of protocol, and
 * return BIND_DENY. */
static __always_inline int deny(__u64 container, __u32 protocol, __u16 port)
{
        struct prevent_denials *d = bpf_map_lookup_elem(&portiso_denials, &container);
        __u32 zero = 0;

        if (!d) {
                const struct prevent_denials *z = bpf_map_lookup_elem(&portiso_denials_zero, &zero);
                if (!z)
                        return BIND_DENY;
                bpf_map_update_elem(&portiso_denials, &container, z, BPF_NOEXIST);
                d = bpf_map_lookup_elem(&portiso_denials, &container);
                if (!d)
                        return BIND_DENY;
        }
        struct port_bitmap *b = protocol == IPPROTO_UDP ? &d->udp : &d->tcp;
        __sync_fetch_and_or(&b->w[(port >> 6) & (PORT_BITMAP_WORDS - 1)], 1ULL << (port & 63));
        __sync_fetch_and_add(&d->count, 1);
        return BIND_DENY;
}

static __always_inline int port_allowed(const struct prevent_config *cfg,
                                        const struct port_bitmap *allocated, __u16 port)
{
        return !bitmap_test(&cfg->isolated, port) || bitmap_test(allocated, port);
}

struct range_walk {
        const struct prevent_config *cfg;
        const struct port_bitmap *allocated;
        __u32 lo, hi;
        int denied;
};

/* One 64-port word of the range: any port isolated and not allocated? */
static long range_word(__u64 idx, struct range_walk *w)
{
        __u64 word = (__u64)(w->lo >> 6) + idx, mask = ~0ULL, bad;
        __u32 first;

        if (word >= PORT_BITMAP_WORDS)
                return 1;
        first = (__u32)word << 6;
        if (first > w->hi)
                return 1;
        if (w->lo > first)
                mask &= ~0ULL << (w->lo - first);
        if (w->hi - first < 63)
                mask &= ~0ULL >> (63 - (w->hi - first));
        bad = w->cfg->isolated.w[word] & ~w->allocated->w[word] & mask;
        if (bad) {
                w->denied = 1;
                return 1;
        }
        return 0;
}

/* May an autobind on sk get only allowed ports? The kernel picks from the
 * socket's network namespace's ip_local_port_range. */
static __always_inline int autobind_allowed(struct sock *sk, const struct prevent_config *cfg,
                                            const struct port_bitmap *allocated)
{
        struct range_walk w = {.cfg = cfg, .allocated = allocated};
        /* A typed (BTF) pointer in every caller: plain loads, no probe reads,
         * which cgroup programs may not call. */
        struct net *net = sk->__sk_common.skc_net.net;
        __u32 range = net ? net->ipv4.ip_local_ports.range : 0;

        w.lo = range & 0xffff;
        w.hi = range >> 16;
        if (w.lo == 0 || w.hi < w.lo)
                return BIND_DENY; /* unreadable: assume the worst */
        bpf_loop((w.hi >> 6) - (w.lo >> 6) + 1, range_word, &w, 0);
        return w.denied ? BIND_DENY : BIND_ALLOW;
}

static __always_inline int check_bind(struct bpf_sock_addr *ctx)
{
        __u16 port = bpf_ntohs((__u16)ctx->user_port);
        const struct prevent_config *cfg = NULL;
        const struct port_bitmap *allocated;
        struct bpf_sock *bsk;
        struct tcp_sock *tp;
        __u64 container = 0;

        allocated = checked_allocation(ctx->protocol, &cfg, &container);
        if (!allocated)
                return BIND_ALLOW;
        if (port)
                return port_allowed(cfg, allocated, port) ? BIND_ALLOW
                                                          : deny(container, ctx->protocol, port);
        /* Port 0: UDP is checked at post_bind, TCP at listen(), or here when
         * the kernel has no listen() hook for us. */
        if (ctx->protocol != IPPROTO_TCP || !cfg->tcp_port0)
                return BIND_ALLOW;
        bsk = ctx->sk;
        tp = bsk ? bpf_skc_to_tcp_sock(bsk) : NULL;
        if (!tp || !autobind_allowed((struct sock *)tp, cfg, allocated))
                return deny(container, IPPROTO_TCP, 0);
        return BIND_ALLOW;
}

SEC("cgroup/bind4")
int portiso_bind4(struct bpf_sock_addr *ctx)
{
        return check_bind(ctx);
}

SEC("cgroup/bind6")
int portiso_bind6(struct bpf_sock_addr *ctx)
{
        return check_bind(ctx);
}

/* After bind() got its port: a UDP socket bound to port 0 now holds the
 * port the kernel chose, and a bound UDP socket counts as listening. */
static __always_inline int check_post_bind(struct bpf_sock *ctx)
{
        const struct prevent_config *cfg = NULL;
        const struct port_bitmap *allocated;
        __u64 container = 0;

        if (ctx->protocol != IPPROTO_UDP)
                return BIND_ALLOW;
        allocated = checked_allocation(ctx->protocol, &cfg, &container);
        if (!allocated)
                return BIND_ALLOW;
        return port_allowed(cfg, allocated, (__u16)ctx->src_port)
                   ? BIND_ALLOW
                   : deny(container, IPPROTO_UDP, (__u16)ctx->src_port);
}

SEC("cgroup/post_bind4")
int portiso_post_bind4(struct bpf_sock *ctx)
{
        return check_post_bind(ctx);
}

SEC("cgroup/post_bind6")
int portiso_post_bind6(struct bpf_sock *ctx)
{
        return check_post_bind(ctx);
}

/* A socket about to get (or keep) its port through protocol's autobind. */
static __always_inline int check_autobind(struct socket *sock, __u32 protocol)
{
        const struct prevent_config *cfg = NULL;
        const struct port_bitmap *allocated;
        struct sock *sk = BPF_CORE_READ(sock, sk);
        __u64 container = 0;
        __u16 family, port;

        if (!sk)
                return BIND_ALLOW;
        family = BPF_CORE_READ(sk, __sk_common.skc_family);
        if ((family != AF_INET && family != AF_INET6) || BPF_CORE_READ(sk, sk_protocol) != protocol)
                return BIND_ALLOW;
        allocated = checked_allocation(protocol, &cfg, &container);
        if (!allocated)
                return BIND_ALLOW;
        port = BPF_CORE_READ(sk, __sk_common.skc_num);
        if (port)
                return port_allowed(cfg, allocated, port) ? BIND_ALLOW
                                                          : deny(container, protocol, port);
        return autobind_allowed(sk, cfg, allocated) ? BIND_ALLOW : deny(container, protocol, 0);
}

SEC("lsm_cgroup/socket_listen")
int BPF_PROG(portiso_listen, struct socket *sock, int backlog)
{
        return check_autobind(sock, IPPROTO_TCP);
}

/* Only an unbound socket is autobound by sendmsg(); a bound one was checked
 * when it bound. */
SEC("lsm_cgroup/socket_sendmsg")
int BPF_PROG(portiso_sendmsg, struct socket *sock, struct msghdr *msg, int size)
{
        struct sock *sk = BPF_CORE_READ(sock, sk);

        if (!sk || BPF_CORE_READ(sk, __sk_common.skc_num))
                return BIND_ALLOW;
        return check_autobind(sock, IPPROTO_UDP);
}

/* The probe for an active BPF LSM: attached for a moment as a plain LSM
 * program, it counts the listen() calls of the loading process. */
__u32 probe_pid;
__u32 probe_hits;

SEC("lsm/socket_listen")
int BPF_PROG(portiso_lsm_probe, struct socket *sock, int backlog, int ret)
{
        if ((__u32)(bpf_get_current_pid_tgid() >> 32) == probe_pid)
                __sync_fetch_and_add(&probe_hits, 1);
        return ret;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
