/* holders_record.h - what the holders iterators share between the BPF side
 * (holders.bpf.c) and the loader (holders_iter.c): sizes, the pre-filter's
 * hash, and the fixed-size records they write.
 *
 * Records are written with bpf_seq_write(), so a read() of an iterator fd
 * returns whole records and user space needs no parser. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Most candidate sockets and container cgroups the maps hold. */
#define HOLDERS_MAX_CANDIDATES 4096
#define HOLDERS_MAX_CONTAINERS 65536
/* Containers marked by events between two walks before marks are lost. */
#define HOLDERS_MAX_DIRTY 4096
/* Deepest cgroup level below which a container is searched for. */
#define HOLDERS_MAX_DEPTH 32
/* Words of the pre-filter over candidate file pointers (8192 bits). */
#define HOLDERS_FILTER_WORDS 128
/* Hits one process reports before it asks for a /proc look instead. */
#define HOLDERS_HITS_PER_TASK 8

/* The filter bit of a struct file address: files are slab objects, so the
 * low bits carry little; fold two higher windows together. */
static inline __u32 holders_filter_bit(__u64 file)
{
        return (__u32)(((file >> 8) ^ (file >> 21)) & (HOLDERS_FILTER_WORDS * 64 - 1));
}

/* portiso_cand_tcp / portiso_cand_udp: a candidate socket and its file. */
struct holders_file_record {
        __u64 inode;
        __u64 file; /* kernel address of its struct file, used as a key only */
};

/* portiso_holders: a container process holding a candidate. */
struct holders_record {
        __u64 inode;     /* the candidate's inode; 0: this process holds more
                          * candidates than reported, look it up in /proc */
        __u64 cgroup_id; /* cgroup v2 id of the container holding it (the
                          * process' own cgroup or the deepest container
                          * cgroup above it) */
        __u32 tgid;      /* the holding process */
        __u32 fd;        /* the fd it holds it as */
};
