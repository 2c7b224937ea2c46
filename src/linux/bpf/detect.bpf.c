/* detect.bpf.c - report every new listener below the cgroups root, at once.
 *
 * The sock:inet_sock_set_state tracepoint fires in the listen() caller's
 * context on every TCP transition to LISTEN (just before the socket is
 * hashed: a consumer that finds nothing yet should look again shortly); cgroup/post_bind4 and
 * post_bind6, attached to the cgroups root, fire after a bind() got its port
 * and report UDP sockets (which never listen) when UDP counts. Each event
 * goes to a ring buffer the agent polls from its event loop; a full ring
 * drops the event and counts it, and the periodic reconciliation stays the
 * backstop. Events from tasks outside the cgroups root are dropped in the
 * kernel so host noise never wakes the agent. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "detect_event.h"

#define AF_INET 2
#define AF_INET6 10

/* Set by the loader before load. root_id 0 reports every task. */
const volatile __u64 root_id = 0;
const volatile __u32 root_level = 0;
const volatile __u32 report_udp = 0;

/* Events lost to a full ring buffer. */
__u64 dropped = 0;

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} portiso_events SEC(".maps");

/* The current task's ancestor one level below the cgroups root (its root
 * container), or 0 when the task is not in a container. */
static __always_inline __u64 current_container(void)
{
        if (root_id == 0)
                return bpf_get_current_cgroup_id();
        if (root_level < DETECT_MAX_LEVEL &&
            bpf_get_current_ancestor_cgroup_id(root_level) == root_id)
                return bpf_get_current_ancestor_cgroup_id(root_level + 1);
        for (int i = 0; i < DETECT_MAX_LEVEL; i++) {
                __u64 id = bpf_get_current_ancestor_cgroup_id(i);
                if (id == 0)
                        return 0;
                if (id == root_id)
                        return bpf_get_current_ancestor_cgroup_id(i + 1);
        }
        return 0;
}

static __always_inline void emit(__u16 family, __u16 protocol, __u16 port)
{
        struct bpf_listen_event *ev;
        __u64 container = current_container();

        if (!container)
                return;
        ev = bpf_ringbuf_reserve(&portiso_events, sizeof(*ev), 0);
        if (!ev) {
                __sync_fetch_and_add(&dropped, 1);
                return;
        }
        ev->cgroup_id = bpf_get_current_cgroup_id();
        ev->container_cgroup_id = container;
        ev->ktime_ns = bpf_ktime_get_ns();
        ev->pid = bpf_get_current_pid_tgid() >> 32;
        ev->family = family;
        ev->protocol = protocol;
        ev->port = port;
        ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
        bpf_ringbuf_submit(ev, 0);
}

/* Attached as a BTF raw tracepoint: by name, with no tracefs needed, and
 * with the socket itself to read from. The state is stored before the port
 * of an unbound socket is chosen, so such a listen reports port 0. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(portiso_listen, struct sock *sk, int oldstate, int newstate)
{
        if (newstate != TCP_LISTEN || sk->sk_protocol != IPPROTO_TCP)
                return 0;
        emit(sk->__sk_common.skc_family, IPPROTO_TCP, sk->__sk_common.skc_num);
        return 0;
}

SEC("cgroup/post_bind4")
int portiso_pbind4(struct bpf_sock *sk)
{
        if (report_udp && sk->protocol == IPPROTO_UDP)
                emit(AF_INET, IPPROTO_UDP, (__u16)sk->src_port);
        return 1;
}

SEC("cgroup/post_bind6")
int portiso_pbind6(struct bpf_sock *sk)
{
        if (report_udp && sk->protocol == IPPROTO_UDP)
                emit(AF_INET6, IPPROTO_UDP, (__u16)sk->src_port);
        return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
