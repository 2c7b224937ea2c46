/* holders.bpf.c - which processes hold given sockets, found in the kernel.
 *
 * An iter/task_file program: reading the iterator runs it once for every open
 * file of every process (threads sharing their leader's file table are
 * skipped by the kernel). It keeps only sockets whose inode is in the
 * `candidates` map the loader fills, and writes (inode, cgroup v2 id, pid, fd)
 * for each. This is what Mesos learns by readlink()ing every /proc/<pid>/fd
 * entry, at the cost of a few loads per file instead of a system call each;
 * and since only hits are copied out, the read is a few bytes. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "holders_record.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000

char LICENSE[] SEC("license") = "GPL";

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, HOLDERS_MAX_CANDIDATES);
        __type(key, __u64);
        __type(value, __u8);
} candidates SEC(".maps");

SEC("iter/task_file")
int portiso_holders(struct bpf_iter__task_file *ctx)
{
        struct task_struct *task = ctx->task;
        struct file *file = ctx->file;
        struct holders_record rec;
        struct inode *inode;
        __u64 ino;

        if (!task || !file)
                return 0;
        inode = file->f_inode;
        if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
                return 0;
        ino = inode->i_ino;
        if (!bpf_map_lookup_elem(&candidates, &ino))
                return 0;
        rec.inode = ino;
        rec.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
        rec.tgid = task->tgid;
        rec.fd = ctx->fd;
        bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
        return 0;
}
