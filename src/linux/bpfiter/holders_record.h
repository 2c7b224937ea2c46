/* holders_record.h - what the holders iterator writes for each hit, shared by
 * the BPF program (holders.bpf.c) and its loader (holders_iter.c).
 *
 * Fixed-size records written with bpf_seq_write(), so a read() of the
 * iterator fd returns whole records and user space needs no parser. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Most candidate inodes the program's map holds. */
#define HOLDERS_MAX_CANDIDATES 4096

struct holders_record {
        __u64 inode;     /* socket inode held, one of the candidates */
        __u64 cgroup_id; /* cgroup v2 id of the holding process */
        __u32 tgid;      /* the holding process */
        __u32 fd;        /* the fd it holds it as */
};
