/* holders.bpf.c - which container processes hold given sockets, found in the
 * kernel, without touching a single file or inode on the way.
 *
 * Holding a socket means holding its one struct file (dup, fork, SCM_RIGHTS
 * and pidfd_getfd all share it), so the search compares file pointers:
 *
 *   portiso_cand_tcp, portiso_cand_udp (iter/tcp, iter/udp): for every socket
 *     whose inode is in `candidates`, report (inode, struct file address).
 *     Run only when the candidate set changes.
 *   portiso_holders (iter/task): for every process whose container is in
 *     `containers` (its container: the deepest of `watched`, every checked
 *     container, among its cgroup and that cgroup's ancestors, so a process
 *     in a cgroup a task made below its container is that container's), read
 *     its fd table 16 pointers at a time inside bpf_loop() and test each pointer
 *     against an 8192-bit filter in .bss, then against `candidate_files`
 *     (file address -> inode). Hits are written as records naming the
 *     deepest container above the process.
 *
 *   portiso_ev_* (tp_btf): the ways a socket made elsewhere can reach a
 *     process of a container, each marking that container in `dirty`: a
 *     receive on a unix socket (SCM_RIGHTS, also through io_uring), an
 *     io_uring fixed file installed, pidfd_getfd(), a process moved into
 *     its cgroup, a process forked into it from another cgroup
 *     (CLONE_INTO_CGROUP). A seccomp supervisor adding an fd to some other
 *     process, or a mark that does not fit, sets `dirty_lost`: the loader
 *     then walks every container. The loader walks only the dirty ones
 *     otherwise, and between such events the last walk's answer stands.
 *     Tracepoints, not fentry/fexit on receive_fd(): they need no BPF
 *     trampoline, which some kernels refuse.
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
#include <bpf/bpf_tracing.h>

#include "holders_record.h"

#define CHUNK 16

char LICENSE[] SEC("license") = "GPL";

#define AF_UNIX 1
/* SECCOMP_IOCTL_NOTIF_ADDFD: _IOW('!', 3, struct seccomp_notif_addfd) */
#define SECCOMP_ADDFD_IOCTL 0x40182103UL

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

/* Every checked container, walked or not: what the events attribute to. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, HOLDERS_MAX_CONTAINERS);
        __type(key, __u64);
        __type(value, __u8);
} watched SEC(".maps");

/* Containers that may hold a socket they did not hold at the last walk;
 * drained by the loader before each walk. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, HOLDERS_MAX_DIRTY);
        __type(key, __u64);
        __type(value, __u8);
} dirty SEC(".maps");

/* Bit holders_filter_bit(f) is set for every candidate file f; written by the loader. */
__u64 candidate_filter[HOLDERS_FILTER_WORDS];
/* Set when a mark was lost (or cannot be attributed): walk everything. */
__u32 dirty_lost;
/* Written by the loader: 1 walks every watched container, 0 only those in
 * `containers` (so a full walk fills no map). */
__u32 walk_all;

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

/* The id of the deepest cgroup in map among cgrp and its ancestors, or 0.
 * Ancestors are read through cgrp->ancestors[], indexed by level (the
 * hierarchy root is 0 and is never a container). */
static __always_inline __u64 container_in(void *map, struct cgroup *cgrp)
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
                if (bpf_map_lookup_elem(map, &id))
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
        /* The process' container among all of them, then whether this walk
         * is about that one. */
        w.cgroup_id = container_in(&watched, task->cgroups->dfl_cgrp);
        if (!w.cgroup_id || (!walk_all && !bpf_map_lookup_elem(&containers, &w.cgroup_id)))
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

/* Mark the container cgrp belongs to, if any. */
static __always_inline void mark(struct cgroup *cgrp)
{
        __u64 id;
        __u8 one = 1;

        if (!cgrp)
                return;
        id = container_in(&watched, cgrp);
        if (id && bpf_map_update_elem(&dirty, &id, &one, BPF_ANY) < 0)
                dirty_lost = 1;
}

static __always_inline void mark_current(void)
{
        struct task_struct *task = bpf_get_current_task_btf();

        mark(task->cgroups->dfl_cgrp);
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(portiso_ev_attach, struct cgroup *dst, const char *path, struct task_struct *task,
             bool threadgroup)
{
        mark(dst);
        return 0;
}

/* A child forked where its parent is (the common case) holds nothing its
 * parent's container did not already hold. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(portiso_ev_fork, struct task_struct *parent, struct task_struct *child)
{
        struct cgroup *cc = child->cgroups->dfl_cgrp;

        if (cc != parent->cgroups->dfl_cgrp)
                mark(cc);
        return 0;
}

/* Any receive on a unix socket, SCM_RIGHTS or not: the files are installed
 * before the tracepoint fires. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(portiso_ev_recv, struct sock *sk, int ret, int flags)
{
        if (ret >= 0 && sk && sk->__sk_common.skc_family == AF_UNIX)
                mark_current();
        return 0;
}

/* IORING_OP_FIXED_FD_INSTALL puts a file of the ring's fixed table (which
 * another ring may have sent, IORING_OP_MSG_RING) into the fd table. */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(portiso_ev_uring, struct io_kiocb *req)
{
        if (req && req->opcode == IORING_OP_FIXED_FD_INSTALL)
                mark_current();
        return 0;
}

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define NR_IOCTL 16
#define NR_PIDFD_GETFD 438
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define SYSCALL_ARG2(regs) ((regs)->regs[1])
#define NR_IOCTL 29
#define NR_PIDFD_GETFD 438
#endif

#ifdef SYSCALL_NR
/* pidfd_getfd() takes a file into the caller's table; a seccomp supervisor
 * adding a file to the process it supervises (whichever that is) costs a
 * walk of everything. */
SEC("tp_btf/sys_exit")
int BPF_PROG(portiso_ev_sys_exit, struct pt_regs *regs, long ret)
{
        long nr;

        if (ret < 0 || !regs)
                return 0;
        nr = SYSCALL_NR(regs);
        if (nr == NR_PIDFD_GETFD)
                mark_current();
        else if (nr == NR_IOCTL && (__u32)SYSCALL_ARG2(regs) == (__u32)SECCOMP_ADDFD_IOCTL)
                dirty_lost = 1;
        return 0;
}
#else
SEC("tp_btf/sys_exit")
int BPF_PROG(portiso_ev_sys_exit, struct pt_regs *regs, long ret)
{
        dirty_lost = 1; /* no syscall numbers for this architecture: walk everything */
        return 0;
}
#endif
