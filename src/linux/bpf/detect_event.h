/* detect_event.h - the record the detection programs put in the ring buffer,
 * shared by detect.bpf.c and bpf_detect.c.
 *
 * Fixed-size and naturally aligned so both sides agree on it without packing.
 * Included after __u16/__u32/__u64 are defined (vmlinux.h or <linux/types.h>). */
#pragma once

struct bpf_listen_event {
        __u64 cgroup_id;           /* cgroup v2 id of the task that listened or bound */
        __u64 container_cgroup_id; /* its ancestor just below the cgroups root */
        __u64 ktime_ns;            /* bpf_ktime_get_ns(): CLOCK_MONOTONIC of the event */
        __u32 pid;                 /* thread group id of that task */
        __u16 family;              /* AF_INET or AF_INET6 */
        __u16 protocol;            /* IPPROTO_TCP or IPPROTO_UDP */
        __u16 port;                /* host byte order; 0 if not yet known (autobind at listen) */
        __u16 pad[3];
};

/* Deepest cgroup level searched for the cgroups root. */
#define DETECT_MAX_LEVEL 32
