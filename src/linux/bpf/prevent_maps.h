/* prevent_maps.h - the layout of the bind-prevention maps, shared by
 * prevent.bpf.c (kernel side) and bpf_prevent.c (user side).
 *
 * Both sides include this after their own definition of __u16/__u32/__u64
 * (vmlinux.h in BPF code, <linux/types.h> in user code), so it includes
 * nothing itself. The maps outlive the agent (they are pinned), so a layout
 * change must bump PREVENT_ABI: a loader that finds pins of another ABI
 * replaces them instead of reusing them. */
#pragma once

#define PREVENT_ABI 3

/* 65536 ports, one bit each: a lookup is one load and a mask, whatever the
 * shape of the allocation, and 8 KiB per root container is small next to
 * anything a container runs. */
#define PORT_BITMAP_WORDS (65536 / 64)

struct port_bitmap {
        __u64 w[PORT_BITMAP_WORDS];
};

enum {
        PREVENT_PROTO_TCP = 1 << 0,
        PREVENT_PROTO_UDP = 1 << 1,
};

/* Single entry of the "config" array map. */
struct prevent_config {
        __u32 abi;        /* PREVENT_ABI of the loader that wrote it */
        __u32 protocols;  /* PREVENT_PROTO_* checked at bind() */
        __u32 root_level; /* level of the cgroups root (hierarchy root = 0) */
        __u32 enabled;    /* 0 until the loader wrote a complete config */
        __u32 tcp_port0;  /* 1: no listen() hook, so a TCP bind() to port 0 is
                           * checked at bind time as an autobind */
        __u32 unused;
        __u64 root_id;               /* cgroup id of the cgroups root */
        struct port_bitmap isolated; /* ports that count */
};

/* Value of the "denials" hash map, keyed by root container cgroup id: the
 * binds the programs refused it, as ports (bit 0: an autobind, whose port
 * was not chosen yet) per protocol, and how many. The agent reads it to
 * report denials and deletes a container's entry when the container ends. */
struct prevent_denials {
        __u64 count;
        struct port_bitmap tcp;
        struct port_bitmap udp;
};

/* Deepest cgroup level searched when the level hint does not match. */
#define PREVENT_MAX_LEVEL 32
