/* workload.c - the scale benchmark's workload: N container cgroups full of
 * cheap sleeper processes that hold many fds and a listener or two each, plus
 * host processes and host listeners outside every container.
 *
 *   bench-workload --manifest=FILE [--n=N] [--procs=P] [--fds=F]
 *                  [--port-base=B] [--host-procs=H] [--host-listeners=L]
 *                  [--inherited=K] [--hierarchy=DIR] [--root=NAME] [--freezer]
 *
 * Container i ("c00042") is the cgroup <root>/<id>; its first process listens
 * on B+2i over IPv4 and, for odd i, on B+2i+1 over IPv6 only (which Mesos,
 * dumping IPv4 only, never sees). For the first K containers the IPv4
 * listener is created by this parent, outside every container, and inherited
 * by the container's process: the holder case that cgroup-id attribution alone
 * misses. Host listeners take the ports after the containers'.
 *
 * Two things shape the code. Speed: 2000 x 4 processes must appear in
 * seconds, so sleepers are forked (never exec'd) straight into their cgroup
 * with clone3(CLONE_INTO_CGROUP) instead of migrating each one, and set
 * themselves up in parallel, reporting readiness over one shared pipe.
 * Teardown: every sleeper dies with this process (PR_SET_PDEATHSIG), and
 * SIGINT/SIGTERM/SIGHUP or EOF on stdin kill the tree (cgroup.kill), reap it
 * and remove every cgroup, so a failed or interrupted run leaves nothing. The
 * manifest (one record a line, see write_manifest()) tells the timers what
 * exists; "ready" on stdout tells the caller when. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/strbuf.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* The clone3() argument block (uapi struct clone_args, version 2). Spelled
 * out here because <linux/sched.h> clashes with glibc's <sched.h>. */
struct clone3_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
            set_tid_size, cgroup;
};

struct options {
        unsigned n, procs, fds, port_base, host_procs, host_listeners, inherited;
        const char *hierarchy, *root, *manifest;
        bool freezer;
};

struct workload {
        struct options o;
        char v2[4096];      /* cgroup2 mount */
        char freezer[4096]; /* v1 freezer mount, "" when unused */
        pid_t *pids;
        size_t n_pids;
        unsigned n_cgroups; /* container cgroups created so far */
        bool root_created;
        long old_pid_max; /* 0 when untouched */
        int ready[2];     /* sleepers write 'R' (ready) or 'E' (failed) */
        int devnull;
        pid_t self;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static bool is_fs(const char *path, long magic)
{
        struct statfs s;
        return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

static int find_hierarchies(struct workload *w)
{
        const char *h = w->o.hierarchy;

        if (is_fs(h, CGROUP2_SUPER_MAGIC))
                snprintf(w->v2, sizeof(w->v2), "%s", h);
        else if (snprintf(w->v2, sizeof(w->v2), "%s/unified", h),
                 !is_fs(w->v2, CGROUP2_SUPER_MAGIC))
                return -ENOENT;
        if (w->o.freezer) {
                snprintf(w->freezer, sizeof(w->freezer), "%s/freezer", h);
                if (!is_fs(w->freezer, CGROUP_SUPER_MAGIC))
                        return -ENOENT;
        }
        return 0;
}

static int write_str(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (write(fd, s, strlen(s)) < 0)
                return negative_errno();
        return 0;
}

/* Make room for the processes: pid_max, and our own fd limit. */
static int raise_limits(struct workload *w, size_t want_pids)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }

        FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
        long cur = 0;
        if (!f)
                return negative_errno();
        if (fscanf(f, "%ld", &cur) != 1)
                cur = 0;
        fclose(f);
        /* Keep a wide margin: pids are handed out cyclically. */
        if (cur > 0 && (long)want_pids * 4 > cur) {
                char buf[32];
                long want = MAX((long)want_pids * 8, 65536L);
                snprintf(buf, sizeof(buf), "%ld", MIN(want, 4194304L));
                int r = write_str("/proc/sys/kernel/pid_max", buf);
                if (r < 0)
                        return r;
                w->old_pid_max = cur;
        }
        return 0;
}

static int tcp_listener(int family, unsigned port)
{
        int one = 1;
        _cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (family == AF_INET6) {
                struct sockaddr_in6 a = {
                    .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                        return negative_errno();
        } else {
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_port = htons(port),
                                        .sin_addr.s_addr = htonl(INADDR_ANY)};
                if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                        return negative_errno();
        }
        if (listen(fd, 8) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

/* Open fds of mixed kinds until the process holds `total`: regular files,
 * pipes, unix socket pairs and (unbound) TCP sockets, in turn. */
static int fill_fds(unsigned held, unsigned total)
{
        for (unsigned k = 0; held < total; k++) {
                int p[2];
                switch (k % 4) {
                case 0:
                        if (open("/proc/self/exe", O_RDONLY) < 0)
                                return negative_errno();
                        held++;
                        break;
                case 1:
                        if (total - held < 2)
                                continue;
                        if (pipe(p) < 0)
                                return negative_errno();
                        held += 2;
                        break;
                case 2:
                        if (total - held < 2)
                                continue;
                        if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0)
                                return negative_errno();
                        held += 2;
                        break;
                default:
                        if (socket(AF_INET, SOCK_STREAM, 0) < 0)
                                return negative_errno();
                        held++;
                        break;
                }
        }
        return 0;
}

/* What one sleeper listens on: ports (0 = none), and an inherited listener fd. */
struct sleeper {
        unsigned v4, v6;
        int inherited_fd;          /* -1 or an fd created by the parent */
        const char *freezer_procs; /* join this v1 cgroup first, or NULL */
        const char *v2_procs;      /* join this v2 cgroup (when clone3 could not), or NULL */
};

/* The child side: set up, report, sleep until killed. Never returns. */
static _noreturn_ void sleeper_main(struct workload *w, const struct sleeper *s)
{
        char status = 'E';
        int r = 0;

        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != w->self)
                _exit(1);
        if (s->freezer_procs)
                r = write_str(s->freezer_procs, "0");
        if (r >= 0 && s->v2_procs)
                r = write_str(s->v2_procs, "0");

        /* Keep only stdio (on /dev/null but stderr), the ready pipe (3) and the
         * inherited listener (4). Move them above 4 first so no dup2 clobbers
         * another (not far above: the fd table would grow for the process' life). */
        int ready = 3, held = 4;
        int hi_ready = fcntl(w->ready[1], F_DUPFD, 5);
        int hi_inherited = s->inherited_fd >= 0 ? fcntl(s->inherited_fd, F_DUPFD, 5) : -1;
        if (hi_ready < 0 || (s->inherited_fd >= 0 && hi_inherited < 0))
                _exit(1);
        dup2(w->devnull, 0);
        dup2(w->devnull, 1);
        if (dup2(hi_ready, ready) < 0)
                _exit(1);
        if (hi_inherited >= 0) {
                if (dup2(hi_inherited, 4) < 0)
                        _exit(1);
                held = 5;
        }
        close_range(held, ~0U, 0);

        if (r >= 0 && s->v4 && s->inherited_fd < 0)
                r = tcp_listener(AF_INET, s->v4);
        if (r >= 0 && s->v6)
                r = tcp_listener(AF_INET6, s->v6);
        if (r >= 0) {
                /* The listeners were made CLOEXEC: no exec follows, harmless. */
                int cur = 0;
                for (int fd = 0; fd < 64 + (int)w->o.fds; fd++)
                        if (fcntl(fd, F_GETFD) >= 0)
                                cur++;
                r = fill_fds((unsigned)cur - 1 /* the ready pipe goes away */, w->o.fds);
        }
        if (r >= 0)
                status = 'R';
        else
                fprintf(stderr, "bench-workload: sleeper %d: %s\n", getpid(), strerror(-r));
        (void)!write(ready, &status, 1);
        close(ready);
        if (r < 0)
                _exit(1);
        for (;;)
                pause();
}

/* Fork one sleeper, into the cgroup behind cgfd when cgfd >= 0. */
static int spawn(struct workload *w, int cgfd, struct sleeper *s, const char *v2_procs)
{
        pid_t pid = -1;

        if (cgfd >= 0) {
                struct clone3_args a = {
                    .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgfd};
                pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
        }
        if (pid < 0) {
                /* No clone3 into cgroups here: fork and let the child move itself. */
                s->v2_procs = v2_procs;
                pid = fork();
        }
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                sleeper_main(w, s);
        w->pids[w->n_pids++] = pid;
        return 0;
}

static void container_id(unsigned i, char *buf, size_t len)
{
        snprintf(buf, len, "c%05u", i);
}

static int spawn_container(struct workload *w, unsigned i)
{
        char id[16], dir[4096 + 64], procs[4096 + 96], fprocs[4096 + 96];
        unsigned v4 = w->o.port_base + 2 * i, v6 = (i % 2) ? v4 + 1 : 0;
        _cleanup_close_ int cgfd = -1, inherited = -1;

        container_id(i, id, sizeof(id));
        snprintf(dir, sizeof(dir), "%s/%s/%s", w->v2, w->o.root, id);
        if (mkdir(dir, 0755) < 0)
                return negative_errno();
        if (w->freezer[0]) {
                snprintf(fprocs, sizeof(fprocs), "%s/%s/%s", w->freezer, w->o.root, id);
                if (mkdir(fprocs, 0755) < 0) {
                        rmdir(dir);
                        return negative_errno();
                }
                strcat(fprocs, "/cgroup.procs");
        }
        w->n_cgroups++;
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        cgfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cgfd < 0)
                return negative_errno();
        if (i < w->o.inherited) {
                inherited = tcp_listener(AF_INET, v4);
                if (inherited < 0)
                        return inherited;
        }
        for (unsigned p = 0; p < w->o.procs; p++) {
                struct sleeper s = {.v4 = p == 0 ? v4 : 0,
                                    .v6 = p == 0 ? v6 : 0,
                                    .inherited_fd = p == 0 ? inherited : -1,
                                    .freezer_procs = w->freezer[0] ? fprocs : NULL};
                int r = spawn(w, cgfd, &s, procs);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Wait until every sleeper reported; fail if one failed or died first. */
static int wait_ready(struct workload *w)
{
        size_t got = 0;

        while (got < w->n_pids) {
                struct pollfd p = {.fd = w->ready[0], .events = POLLIN};
                char buf[4096];

                if (stop_requested)
                        return -EINTR;
                int k = poll(&p, 1, 200);
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k > 0) {
                        ssize_t n = read(w->ready[0], buf, sizeof(buf));
                        if (n < 0 && errno != EINTR)
                                return negative_errno();
                        for (ssize_t j = 0; j < n; j++)
                                if (buf[j] != 'R')
                                        return -EIO;
                        got += n > 0 ? (size_t)n : 0;
                }
                if (waitpid(-1, NULL, WNOHANG) > 0)
                        return -ECHILD;
        }
        return 0;
}

static void append_ports(struct strbuf *sb, unsigned a, unsigned b)
{
        if (a && b)
                strbuf_addf(sb, " %u,%u", a, b);
        else if (a || b)
                strbuf_addf(sb, " %u", a ? a : b);
        else
                strbuf_puts(sb, " -");
}

/* The manifest, one record a line:
 *   v2 <mount>                  cgroup2 mount
 *   freezer <mount>             only with --freezer
 *   root <name>                 cgroups root below the mounts
 *   container <id> <cgroup> <v4 ports|-> <v6 ports|-> <inherited 0|1>
 *   host <v4 ports|-> <v6 ports|->
 *   procs <processes>           sleepers in containers and on the host */
static int write_manifest(const struct workload *w)
{
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        char tmp[4096];

        strbuf_addf(&sb, "v2 %s\n", w->v2);
        if (w->freezer[0])
                strbuf_addf(&sb, "freezer %s\n", w->freezer);
        strbuf_addf(&sb, "root %s\n", w->o.root);
        for (unsigned i = 0; i < w->o.n; i++) {
                char id[16];
                unsigned v4 = w->o.port_base + 2 * i;
                container_id(i, id, sizeof(id));
                strbuf_addf(&sb, "container %s %s/%s", id, w->o.root, id);
                append_ports(&sb, v4, 0);
                append_ports(&sb, (i % 2) ? v4 + 1 : 0, 0);
                strbuf_addf(&sb, " %d\n", i < w->o.inherited);
        }
        unsigned hb = w->o.port_base + 2 * w->o.n;
        strbuf_puts(&sb, "host");
        if (w->o.host_listeners == 0)
                strbuf_puts(&sb, " - -");
        for (unsigned fam = 0; fam < 2 && w->o.host_listeners; fam++) {
                bool any = false;
                strbuf_putc(&sb, ' ');
                for (unsigned j = 0; j < w->o.host_listeners; j++)
                        if (j % 2 == fam) {
                                strbuf_addf(&sb, "%s%u", any ? "," : "", hb + j);
                                any = true;
                        }
                if (!any)
                        strbuf_putc(&sb, '-');
        }
        strbuf_addf(&sb, "\nprocs %zu\n", w->n_pids);
        if (sb.oom)
                return -ENOMEM;

        snprintf(tmp, sizeof(tmp), "%s.tmp", w->o.manifest);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        if (write(fd, sb.buf, sb.len) != (ssize_t)sb.len)
                return -EIO;
        if (rename(tmp, w->o.manifest) < 0)
                return negative_errno();
        return 0;
}

static int build(struct workload *w)
{
        char dir[4096 + 256];
        int r;

        snprintf(dir, sizeof(dir), "%s/%s", w->v2, w->o.root);
        if (mkdir(dir, 0755) < 0)
                return negative_errno();
        w->root_created = true;
        if (w->freezer[0]) {
                snprintf(dir, sizeof(dir), "%s/%s", w->freezer, w->o.root);
                if (mkdir(dir, 0755) < 0)
                        return negative_errno();
        }
        for (unsigned i = 0; i < w->o.n; i++) {
                if (stop_requested)
                        return -EINTR;
                r = spawn_container(w, i);
                if (r < 0)
                        return r;
        }
        /* Host sleepers: in our own cgroup, outside every container. */
        unsigned hb = w->o.port_base + 2 * w->o.n;
        for (unsigned j = 0; j < MAX(w->o.host_procs, w->o.host_listeners); j++) {
                struct sleeper s = {.inherited_fd = -1};
                if (j < w->o.host_listeners)
                        *(j % 2 ? &s.v6 : &s.v4) = hb + j;
                r = spawn(w, -1, &s, NULL);
                if (r < 0)
                        return r;
        }
        return wait_ready(w);
}

static void remove_dir(const char *path)
{
        /* A cgroup empties once its last task is reaped; poll briefly. */
        for (int k = 0; k < 2000; k++) {
                if (rmdir(path) == 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        break;
                nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        fprintf(stderr, "bench-workload: cannot remove %s: %m\n", path);
}

static void teardown(struct workload *w)
{
        char path[4096 + 256];

        if (w->root_created) {
                snprintf(path, sizeof(path), "%s/%s/cgroup.kill", w->v2, w->o.root);
                (void)write_str(path, "1");
        }
        for (size_t i = 0; i < w->n_pids; i++)
                kill(w->pids[i], SIGKILL);
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
        for (unsigned i = 0; i < w->n_cgroups; i++) {
                char id[16];
                container_id(i, id, sizeof(id));
                snprintf(path, sizeof(path), "%s/%s/%s", w->v2, w->o.root, id);
                remove_dir(path);
                if (w->freezer[0]) {
                        snprintf(path, sizeof(path), "%s/%s/%s", w->freezer, w->o.root, id);
                        remove_dir(path);
                }
        }
        if (w->root_created) {
                snprintf(path, sizeof(path), "%s/%s", w->v2, w->o.root);
                remove_dir(path);
                if (w->freezer[0]) {
                        snprintf(path, sizeof(path), "%s/%s", w->freezer, w->o.root);
                        remove_dir(path);
                }
        }
        if (w->old_pid_max > 0) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%ld", w->old_pid_max);
                (void)write_str("/proc/sys/kernel/pid_max", buf);
        }
}

static unsigned parse_uint(const char *name, const char *v, unsigned max)
{
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 10);
        if (errno || end == v || *end || x > max) {
                fprintf(stderr, "bench-workload: bad value '%s' for --%s\n", v, name);
                exit(2);
        }
        return (unsigned)x;
}

static void parse_options(int argc, char **argv, struct options *o)
{
        static const struct option opts[] = {
            {"n", required_argument, NULL, 'n'},
            {"procs", required_argument, NULL, 'p'},
            {"fds", required_argument, NULL, 'f'},
            {"port-base", required_argument, NULL, 'b'},
            {"host-procs", required_argument, NULL, 'H'},
            {"host-listeners", required_argument, NULL, 'L'},
            {"inherited", required_argument, NULL, 'i'},
            {"hierarchy", required_argument, NULL, 'h'},
            {"root", required_argument, NULL, 'r'},
            {"manifest", required_argument, NULL, 'm'},
            {"freezer", no_argument, NULL, 'F'},
            {},
        };
        int c, idx = 0;

        *o = (struct options){.n = 10,
                              .procs = 4,
                              .fds = 64,
                              .port_base = 20000,
                              .host_procs = 8,
                              .host_listeners = 4,
                              .inherited = 2,
                              .hierarchy = "/sys/fs/cgroup"};
        while ((c = getopt_long(argc, argv, "", opts, &idx)) >= 0) {
                const char *name = opts[idx].name;
                switch (c) {
                case 'n':
                        o->n = parse_uint(name, optarg, 100000);
                        break;
                case 'p':
                        o->procs = parse_uint(name, optarg, 1000);
                        break;
                case 'f':
                        o->fds = parse_uint(name, optarg, 60000);
                        break;
                case 'b':
                        o->port_base = parse_uint(name, optarg, 65535);
                        break;
                case 'H':
                        o->host_procs = parse_uint(name, optarg, 10000);
                        break;
                case 'L':
                        o->host_listeners = parse_uint(name, optarg, 1000);
                        break;
                case 'i':
                        o->inherited = parse_uint(name, optarg, 100000);
                        break;
                case 'h':
                        o->hierarchy = optarg;
                        break;
                case 'r':
                        o->root = optarg;
                        break;
                case 'm':
                        o->manifest = optarg;
                        break;
                case 'F':
                        o->freezer = true;
                        break;
                default:
                        exit(2);
                }
        }
        if (!o->manifest || optind < argc || o->procs == 0) {
                fprintf(stderr, "usage: bench-workload --manifest=FILE [--n=N] [--procs=P>0] "
                                "[--fds=F] [--port-base=B] [--host-procs=H] [--host-listeners=L] "
                                "[--inherited=K] [--hierarchy=DIR] [--root=NAME] [--freezer]\n");
                exit(2);
        }
        if (o->port_base + 2 * o->n + o->host_listeners > 65536) {
                fprintf(stderr, "bench-workload: --port-base too high for --n\n");
                exit(2);
        }
}

int main(int argc, char **argv)
{
        struct workload w = {.ready = {-1, -1}, .self = getpid()};
        char rootbuf[64];
        int r;

        parse_options(argc, argv, &w.o);
        if (!w.o.root) {
                snprintf(rootbuf, sizeof(rootbuf), "portiso-bench-%d", (int)w.self);
                w.o.root = rootbuf;
        }
        struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: reads see EINTR */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = find_hierarchies(&w);
        if (r < 0) {
                fprintf(stderr, "bench-workload: no cgroup2%s hierarchy at %s\n",
                        w.o.freezer ? " or v1 freezer" : "", w.o.hierarchy);
                return 1;
        }
        size_t total = (size_t)w.o.n * w.o.procs + MAX(w.o.host_procs, w.o.host_listeners);
        w.pids = calloc(total, sizeof(pid_t));
        w.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (!w.pids || w.devnull < 0 || pipe2(w.ready, O_CLOEXEC) < 0) {
                perror("bench-workload");
                return 1;
        }
        r = raise_limits(&w, total);
        if (r >= 0)
                r = build(&w);
        if (r >= 0)
                r = write_manifest(&w);
        if (r < 0) {
                fprintf(stderr, "bench-workload: building the workload failed: %s\n", strerror(-r));
                teardown(&w);
                return 1;
        }
        printf("ready %zu\n", w.n_pids);
        fflush(stdout);

        /* Hold the workload until stdin closes or we are told to stop. */
        while (!stop_requested) {
                char buf[256];
                ssize_t n = read(0, buf, sizeof(buf));
                if (n == 0 || (n < 0 && errno != EINTR))
                        break;
        }
        teardown(&w);
        unlink(w.o.manifest);
        printf("done\n");
        free(w.pids);
        return 0;
}
