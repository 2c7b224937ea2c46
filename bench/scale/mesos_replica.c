/* mesos_replica.c - the baseline: a faithful C replica of one pass of Mesos'
 * network/ports isolator (NetworkPortsIsolatorProcess::check() ->
 * collectContainerListeners(), src/slave/containerizer/mesos/isolators/
 * network/ports.cpp), timed over the workload of bench-workload.
 *
 *   bench-mesos-replica --manifest=FILE [--passes=K] [--freezer]
 *
 * Each pass does what Mesos does, in the same order and with the same system
 * calls:
 *   1. getListeningSockets(): a new NETLINK_SOCK_DIAG socket, one dump of IPv4
 *      TCP sockets in LISTEN (libnl's idiag: IPv4 only, no cgroup id), into a
 *      hash map keyed by socket inode;
 *   2. for every container: cgroups::processes() reads its cgroup.procs (the
 *      freezer hierarchy in Mesos; the v2 one unless --freezer) into a sorted
 *      set of pids;
 *   3. for every pid: getProcessSockets() opendir()s /proc/<pid>/fd and
 *      readlinkat()s every entry, keeping "socket:[N]" inodes; each inode
 *      found in the map adds its port to the container's set (no isolated
 *      range: Mesos' default counts every port).
 * Written from the Mesos source as a description, not translated from it. The
 * cost is what the issue is about: O(processes x fds) system calls a pass. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/macro.h"
#include "manifest.h"

/* socket::Info as Mesos keeps it, keyed by inode. */
struct listen_info {
        uint32_t inode; /* 0 = empty slot */
        uint16_t port;
};

struct listen_map {
        struct listen_info *slots;
        size_t mask;
        size_t n;
};

static void listen_map_free(struct listen_map *m)
{
        free(m->slots);
        *m = (struct listen_map){0};
}

static int listen_map_put(struct listen_map *m, uint32_t inode, uint16_t port)
{
        if ((m->n + 1) * 2 > m->mask + 1 || !m->slots) {
                size_t size = m->slots ? (m->mask + 1) * 2 : 1024;
                struct listen_map bigger = {calloc(size, sizeof(struct listen_info)), size - 1, 0};
                if (!bigger.slots)
                        return -ENOMEM;
                for (size_t i = 0; m->slots && i <= m->mask; i++)
                        if (m->slots[i].inode)
                                (void)listen_map_put(&bigger, m->slots[i].inode, m->slots[i].port);
                free(m->slots);
                *m = bigger;
        }
        size_t i = (inode * 2654435761u) & m->mask;
        while (m->slots[i].inode && m->slots[i].inode != inode)
                i = (i + 1) & m->mask;
        if (!m->slots[i].inode)
                m->n++;
        m->slots[i] = (struct listen_info){inode, port};
        return 0;
}

static const struct listen_info *listen_map_get(const struct listen_map *m, uint32_t inode)
{
        if (!m->slots)
                return NULL;
        for (size_t i = (inode * 2654435761u) & m->mask; m->slots[i].inode; i = (i + 1) & m->mask)
                if (m->slots[i].inode == inode)
                        return &m->slots[i];
        return NULL;
}

/* getListeningSockets(): one IPv4 TCP LISTEN dump on a fresh netlink socket. */
static int get_listening_sockets(struct listen_map *m)
{
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
        } msg = {
            .nlh = {.nlmsg_len = sizeof(msg),
                    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                    .nlmsg_seq = 1},
            .req = {.sdiag_family = AF_INET,
                    .sdiag_protocol = IPPROTO_TCP,
                    .idiag_states = 1u << TCP_LISTEN},
        };
        static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

        if (fd < 0)
                return negative_errno();
        if (send(fd, &msg, sizeof(msg), 0) < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
                     h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error ? e->error : -EIO;
                        }
                        const struct inet_diag_msg *d = NLMSG_DATA(h);
                        /* Mesos keeps the inode as uint32_t and skips 0. */
                        if (d->idiag_inode != 0) {
                                int r = listen_map_put(m, d->idiag_inode, ntohs(d->id.idiag_sport));
                                if (r < 0)
                                        return r;
                        }
                }
        }
}

static int cmp_int(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;
        return x < y ? -1 : x > y;
}

/* cgroups::processes(): the pids of cgroup.procs as a sorted set. */
static int cgroup_processes(const char *mount, const char *cgroup, int **ret, size_t *ret_n)
{
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", mount, cgroup);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ int *v = NULL;
        size_t n = 0, alloc = 0;
        int pid;

        if (!f)
                return negative_errno();
        while (fscanf(f, "%d", &pid) == 1) {
                if (n == alloc) {
                        alloc = alloc ? alloc * 2 : 16;
                        int *nv = realloc(v, alloc * sizeof(*v));
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                }
                v[n++] = pid;
        }
        qsort(v, n, sizeof(*v), cmp_int);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
                if (u == 0 || v[u - 1] != v[i])
                        v[u++] = v[i];
        *ret = TAKE_PTR(v);
        *ret_n = u;
        return 0;
}

/* A container's listening ports: a small sorted set (IntervalSet in Mesos). */
struct portlist {
        uint16_t *v;
        size_t n, alloc;
};

static int portlist_add(struct portlist *l, uint16_t port)
{
        size_t i = 0;
        while (i < l->n && l->v[i] < port)
                i++;
        if (i < l->n && l->v[i] == port)
                return 0;
        if (l->n == l->alloc) {
                size_t want = l->alloc ? l->alloc * 2 : 4;
                uint16_t *n = realloc(l->v, want * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                l->v = n;
                l->alloc = want;
        }
        memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof(*l->v));
        l->v[i] = port;
        l->n++;
        return 0;
}

struct inodes {
        uint32_t *v;
        size_t n, alloc;
};

/* getProcessSockets(): the socket inodes in /proc/<pid>/fd, into *out (reset
 * first). Like Mesos, any readdir/readlink failure fails the whole pid. */
static int process_sockets(int pid, struct inodes *out)
{
        char path[64], target[256];
        snprintf(path, sizeof(path), "/proc/%d/fd", pid);
        DIR *d = opendir(path);
        struct dirent *de;
        int r = 0;

        out->n = 0;
        if (!d)
                return negative_errno(); /* exited meanwhile */
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = errno ? -errno : 0;
                        break;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                target[n] = '\0';
                if (strncmp(target, "socket:[", 8) != 0)
                        continue;
                if (out->n == out->alloc) {
                        size_t want = out->alloc ? out->alloc * 2 : 64;
                        uint32_t *nv = realloc(out->v, want * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        out->v = nv;
                        out->alloc = want;
                }
                out->v[out->n++] = (uint32_t)strtoul(target + 8, NULL, 10);
        }
        closedir(d);
        return r;
}

/* One collectContainerListeners() pass over every container. */
static int pass(const struct manifest *mf, const char *mount, struct portlist *out)
{
        struct listen_map m = {0};
        struct inodes held = {0};
        int r = get_listening_sockets(&m);

        for (size_t i = 0; i < mf->n; i++)
                out[i].n = 0;
        if (r < 0 || m.n == 0) {
                listen_map_free(&m);
                return r;
        }
        for (size_t i = 0; r >= 0 && i < mf->n; i++) {
                _cleanup_free_ int *pids = NULL;
                size_t n_pids = 0;

                if (cgroup_processes(mount, mf->c[i].cgroup, &pids, &n_pids) < 0)
                        continue; /* Mesos logs and goes on */
                for (size_t p = 0; r >= 0 && p < n_pids; p++) {
                        int k = process_sockets(pids[p], &held);
                        if (k == -ENOMEM)
                                r = k;
                        if (k < 0)
                                continue; /* the pid may have exited: Mesos skips it */
                        for (size_t j = 0; r >= 0 && j < held.n; j++) {
                                const struct listen_info *li = listen_map_get(&m, held.v[j]);
                                if (li)
                                        r = portlist_add(&out[i], li->port);
                        }
                }
        }
        free(held.v);
        listen_map_free(&m);
        return r;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"manifest", required_argument, NULL, 'm'},
            {"passes", required_argument, NULL, 'p'},
            {"freezer", no_argument, NULL, 'F'},
            {},
        };
        const char *manifest = NULL;
        unsigned passes = 20;
        bool freezer = false;
        struct manifest mf;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'm')
                        manifest = optarg;
                else if (c == 'p')
                        passes = (unsigned)atoi(optarg);
                else if (c == 'F')
                        freezer = true;
                else
                        return 2;
        }
        if (!manifest || passes == 0) {
                fprintf(stderr, "usage: bench-mesos-replica --manifest=FILE [--passes=K>0] "
                                "[--freezer]\n");
                return 2;
        }
        r = manifest_load(manifest, &mf);
        if (r < 0) {
                fprintf(stderr, "bench-mesos-replica: cannot read %s: %s\n", manifest,
                        strerror(-r));
                return 1;
        }
        if (freezer && !mf.freezer) {
                fprintf(stderr, "bench-mesos-replica: the workload has no freezer cgroups\n");
                manifest_free(&mf);
                return 1;
        }
        const char *mount = freezer ? mf.freezer : mf.v2;
        struct portlist *out = calloc(MAX(mf.n, (size_t)1), sizeof(*out));
        if (!out)
                return 1;
        for (unsigned k = 0; k < passes; k++) {
                uint64_t t0 = now_ns(), c0 = cpu_ns();
                r = pass(&mf, mount, out);
                uint64_t t1 = now_ns(), c1 = cpu_ns();
                if (r < 0) {
                        fprintf(stderr, "bench-mesos-replica: pass failed: %s\n", strerror(-r));
                        break;
                }
                printf("pass %llu %llu\n", (unsigned long long)(t1 - t0),
                       (unsigned long long)(c1 - c0));
        }
        for (size_t i = 0; r >= 0 && i < mf.n; i++)
                print_listening(mf.c[i].id, out[i].v, out[i].n);
        print_rss();
        for (size_t i = 0; i < mf.n; i++)
                free(out[i].v);
        free(out);
        manifest_free(&mf);
        return r < 0;
}
