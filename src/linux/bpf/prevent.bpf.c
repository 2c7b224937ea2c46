/* prevent.bpf.c - deny bind() to isolated ports a container was not allocated.
 *
 * cgroup/bind4 and cgroup/bind6 programs attached to the cgroups root, so
 * they run for every socket of every container and nested container below
 * it. The container a bind is charged to is the root container of the
 * calling task: its ancestor cgroup one level below the cgroups root, which
 * makes nested containers share their root's allocation with no per-nested
 * bookkeeping. Everything the programs decide on lives in two maps that the
 * agent fills and that stay pinned while it is down:
 *
 *   portiso_config  one entry: isolated ports, protocols, where the root is
 *   portiso_allocs  root container cgroup id -> allocated ports (bitmap)
 *
 * A container absent from portiso_allocs (allocation unknown, CNI-networked,
 * the agent's own supervisors) is allowed, as is port 0: the ephemeral port
 * it gets is the business of detection. Returning 0 makes bind() fail with
 * EPERM; bind6 also sees IPv4-mapped and dual-stack binds. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "prevent_maps.h"

#define BIND_ALLOW 1
#define BIND_DENY 0

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

static __always_inline int check_bind(struct bpf_sock_addr *ctx)
{
        __u32 zero = 0;
        __u16 port = bpf_ntohs((__u16)ctx->user_port);
        const struct prevent_config *cfg;
        const struct port_bitmap *allocated;
        __u32 proto;
        __u64 container;

        if (port == 0)
                return BIND_ALLOW;
        cfg = bpf_map_lookup_elem(&portiso_config, &zero);
        if (!cfg || !cfg->enabled)
                return BIND_ALLOW;

        if (ctx->protocol == IPPROTO_TCP)
                proto = PREVENT_PROTO_TCP;
        else if (ctx->protocol == IPPROTO_UDP)
                proto = PREVENT_PROTO_UDP;
        else
                return BIND_ALLOW;
        if (!(cfg->protocols & proto))
                return BIND_ALLOW;
        if (!bitmap_test(&cfg->isolated, port))
                return BIND_ALLOW;

        container = current_root_container(cfg);
        if (!container)
                return BIND_ALLOW;
        allocated = bpf_map_lookup_elem(&portiso_allocs, &container);
        if (!allocated)
                return BIND_ALLOW;
        return bitmap_test(allocated, port) ? BIND_ALLOW : BIND_DENY;
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
