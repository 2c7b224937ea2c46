/* holders.bpf.c - which container processes hold given sockets, found in the
 * kernel, without touching a single file or inode on the way.
 *
 * Holding a socket means holding its one struct file (dup, fork, SCM_RIGHTS
 * and pidfd_getfd all share it), so the search compares file pointers:
 *
 *   portiso_cand_tcp, portiso_cand_udp (iter/tcp, iter/udp): for every socket
 *     whose inode is in `candidates`, report (inode, struct file address).
 *     Run only when the candidate set changes.
 *   portiso_holders (iter/task): for every process whose cgroup v2 id, or
 *     the id of one of its ancestors, is in `containers` (a process in a
 *     cgroup a task made below its container is that container's), read its
 *     fd table 16 pointers at a time inside bpf_loop() and test each pointer
 *     against an 8192-bit filter in .bss, then against `candidate_files`
 *     (file address -> inode). Hits are written as records naming the
 *     deepest container above the process.
 *
 * The fd table is read as a plain array, so the cost per open fd is a
 * sequential 8-byte read and a bit test, with no cache miss on the file or
 * its inode (an iter/task_file program, which gets and puts every file and
 * reads its inode, measured ~25x slower). Races with a concurrent close()
 * are harmless: pointers are only compared, never followed; at worst one pass
 * misses a socket passed during it, as a /proc walk would. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "holders_record.h"

#define CHUNK 16

char LICENSE[] SEC("license") = "GPL";

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, HOLDERS_MAX_CANDIDATES);
        __type(key, __u64);
        __type(value, __u8);
} candidates SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, HOLDERS_MAX_CANDIDATES);
        __type(key, __u64);   /* struct file address */
        __type(value, __u64); /* socket inode */
} candidate_files SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, HOLDERS_MAX_CONTAINERS);
        __type(key, __u64);
        __type(value, __u8);
} containers SEC(".maps");

/* Bit holders_filter_bit(f) is set for every candidate file f; written by the loader. */
__u64 candidate_filter[HOLDERS_FILTER_WORDS];

static __always_inline void report_file(struct seq_file *seq, struct socket *sock)
{
        struct holders_file_record r;
        struct file *file;
        __u64 ino;

        if (!sock)
                return;
        file = sock->file;
        if (!file || !file->f_inode)
                return;
        ino = file->f_inode->i_ino;
        if (!bpf_map_lookup_elem(&candidates, &ino))
                return;
        r.inode = ino;
        r.file = (__u64)file;
        bpf_seq_write(seq, &r, sizeof(r));
}

SEC("iter/tcp")
int portiso_cand_tcp(struct bpf_iter__tcp *ctx)
{
        struct sock_common *skc = ctx->sk_common;
        struct tcp_sock *tp;

        if (!skc)
                return 0;
        tp = bpf_skc_to_tcp_sock(skc);
        if (!tp)
                return 0; /* request and time-wait sockets have no file */
        report_file(ctx->meta->seq, tp->inet_conn.icsk_inet.sk.sk_socket);
        return 0;
}

SEC("iter/udp")
int portiso_cand_udp(struct bpf_iter__udp *ctx)
{
        struct udp_sock *udp = ctx->udp_sk;

        if (!udp)
                return 0;
        report_file(ctx->meta->seq, udp->inet.sk.sk_socket);
        return 0;
}

struct walk {
        struct file **fd;    /* the fd array, as a plain kernel address */
        unsigned long *open; /* the open_fds bitmap */
        __u64 cgroup_id;
        __u32 tgid;
        __u32 n_hits;
        __u32 overflow;
        struct holders_record hits[HOLDERS_HITS_PER_TASK];
};

/* Test CHUNK file pointers from slot base on. Returns 1 to stop the walk. */
static __always_inline int walk_slots(struct walk *w, __u32 base)
{
        __u64 files[CHUNK];

        if (bpf_probe_read_kernel(files, sizeof(files), w->fd + base) < 0)
                return 1;
        for (int j = 0; j < CHUNK; j++) {
                __u64 f = files[j];
                __u32 bit, n;
                __u64 *ino;

                if (!f)
                        continue;
                bit = holders_filter_bit(f);
                if (!(candidate_filter[bit / 64] & (1ULL << (bit % 64))))
                        continue;
                ino = bpf_map_lookup_elem(&candidate_files, &f);
                if (!ino)
                        continue;
                n = w->n_hits;
                if (n >= HOLDERS_HITS_PER_TASK) {
                        w->overflow = 1;
                        return 1;
                }
                w->hits[n].inode = *ino;
                w->hits[n].cgroup_id = w->cgroup_id;
                w->hits[n].tgid = w->tgid;
                w->hits[n].fd = base + j;
                w->n_hits = n + 1;
        }
        return 0;
}

/* One word of open_fds: 64 slots, read CHUNK at a time where any is open, so
 * a large, sparse table (a process that once had many fds) costs little. */
static long walk_word(__u64 idx, struct walk *w)
{
        unsigned long open;

        if (bpf_probe_read_kernel(&open, sizeof(open), w->open + idx) < 0)
                return 1;
        for (int q = 0; q < 64 / CHUNK; q++) {
                if (!((open >> (q * CHUNK)) & ((1ULL << CHUNK) - 1)))
                        continue;
                if (walk_slots(w, (__u32)idx * 64 + q * CHUNK))
                        return 1;
        }
        return 0;
}

/* The id of the deepest cgroup in `containers` among cgrp and its
 * ancestors, or 0. Ancestors are read through cgrp->ancestors[], indexed by
 * level (the hierarchy root is 0 and is never a container). */
static __always_inline __u64 container_of_cgroup(struct cgroup *cgrp)
{
        int level = cgrp->level;

        for (int i = 0; i < HOLDERS_MAX_DEPTH; i++) {
                struct cgroup *anc = NULL;
                __u64 id;

                if (level - i < 1)
                        break;
                if (bpf_probe_read_kernel(&anc, sizeof(anc), &cgrp->ancestors[level - i]) < 0 ||
                    !anc)
                        break;
                id = BPF_CORE_READ(anc, kn, id);
                if (bpf_map_lookup_elem(&containers, &id))
                        return id;
        }
        return 0;
}

SEC("iter/task")
int portiso_holders(struct bpf_iter__task *ctx)
{
        struct task_struct *task = ctx->task;
        struct walk w = {};
        struct fdtable *fdt;

        /* Threads share their leader's table: look at each process once. */
        if (!task || task->pid != task->tgid)
                return 0;
        w.cgroup_id = container_of_cgroup(task->cgroups->dfl_cgrp);
        if (!w.cgroup_id)
                return 0;
        if (!task->files)
                return 0;
        fdt = task->files->fdt;
        w.fd = fdt->fd;
        w.open = fdt->open_fds;
        w.tgid = task->tgid;
        /* max_fds is a multiple of BITS_PER_LONG: whole words, whole chunks. */
        bpf_loop(fdt->max_fds / 64, walk_word, &w, 0);

        for (int i = 0; i < HOLDERS_HITS_PER_TASK; i++) {
                if (i >= w.n_hits)
                        break;
                bpf_seq_write(ctx->meta->seq, &w.hits[i], sizeof(w.hits[i]));
        }
        if (w.overflow) {
                struct holders_record r = {.cgroup_id = w.cgroup_id, .tgid = w.tgid};
                bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
        }
        return 0;
}
