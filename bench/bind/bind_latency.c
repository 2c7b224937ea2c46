/* bind_latency.c - what bind-time prevention costs each bind().
 *
 *   bench-bind [--iterations=N] [--rounds=R] [--cgroups-hierarchy=DIR]
 *
 * Moves itself into a fresh container cgroup (<v2>/portiso-bench-bind-<pid>/c1)
 * and times bind() of a TCP socket, one call at a time, in four cases: to an
 * allocated isolated port (the programs' longest allowing path: config,
 * bitmap, ancestor cgroup, allocation lookup) and to port 0 (the early
 * return), each without and with the prevention links attached. Rounds
 * alternate without/with so drift (frequency, caches) hits both alike; the
 * figures are ns per bind() (mean, p50, p99) and the with/without ratio of
 * the means. Socket creation and close are outside the timed region.
 *
 * It cleans up on every path: the links and pins are destroyed, the process
 * moves back to its own cgroup and the cgroups are removed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "basic/errbuf.h"
#include "basic/fileio.h"
#include "linux/bpf/bpf_prevent.h"
#include "linux/cgroup.h"

#define ALLOCATED_PORT 42001

struct sample_set {
        double *ns;
        size_t n;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Time `iterations` binds to port, appending each duration to *s. */
static int time_binds(uint16_t port, size_t iterations, struct sample_set *s)
{
        struct sockaddr_in sa = {
            .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = htons(port)};
        int one = 1;

        for (size_t i = 0; i < iterations; i++) {
                _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                uint64_t t0, t1;

                if (fd < 0)
                        return negative_errno();
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                t0 = now_ns();
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        return negative_errno();
                t1 = now_ns();
                s->ns[s->n++] = (double)(t1 - t0);
        }
        return 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double mean(const struct sample_set *s)
{
        double sum = 0;

        for (size_t i = 0; i < s->n; i++)
                sum += s->ns[i];
        return s->n ? sum / (double)s->n : 0;
}

static double percentile(struct sample_set *s, double q)
{
        size_t k;

        qsort(s->ns, s->n, sizeof(double), cmp_double);
        k = (size_t)(q / 100.0 * (double)s->n);
        return s->n ? s->ns[k < s->n ? k : s->n - 1] : 0;
}

struct bench {
        struct cg_hierarchy h;
        char root[64];
        char container[80];
        char *own_cgroup_procs; /* to move back to */
        bool moved;
};

static void bench_cleanup(struct bench *b)
{
        if (b->moved && b->own_cgroup_procs)
                (void)write_string_file(b->own_cgroup_procs, "0");
        (void)bpf_prevent_remove_pins(b->root);
        (void)cg_remove(&b->h, b->root);
        free(b->own_cgroup_procs);
}

/* cgroup.procs of the cgroup v2 this process starts in. */
static int own_cgroup_procs(const struct cg_hierarchy *h, char **ret)
{
        _cleanup_free_ char *s = NULL;
        char *p, *nl;

        int r = read_full_file("/proc/self/cgroup", &s, NULL);
        if (r < 0)
                return r;
        p = strstr(s, "0::");
        if (!p)
                return -ENOENT;
        p += 3;
        nl = strchr(p, '\n');
        if (nl)
                *nl = '\0';
        if (asprintf(ret, "%s%s%scgroup.procs", h->path, p, p[strlen(p) - 1] == '/' ? "" : "/") < 0)
                return -ENOMEM;
        return 0;
}

static int attach(struct bench *b, uint64_t container_id, struct bpf_prevent **ret,
                  struct errbuf *e)
{
        _cleanup_portset_ struct portset isolated = PORTSET_INIT, allocated = PORTSET_INIT;
        _cleanup_free_ char *root_path = NULL;
        struct bpf_prevent *bp;
        int r;

        if (portset_add_range(&isolated, 42000, 42999) < 0 ||
            portset_add(&allocated, ALLOCATED_PORT) < 0 ||
            asprintf(&root_path, "%s/%s", b->h.path, b->root) < 0)
                return -ENOMEM;
        r = bpf_prevent_open(root_path, b->root, &isolated, BPF_PROTO_TCP, &bp, e);
        if (r < 0)
                return r;
        r = bpf_prevent_set(bp, container_id, &allocated);
        if (r < 0) {
                (void)bpf_prevent_destroy(bp);
                return errbuf_set(e, r, "cannot set the allocation: %s", strerror(-r));
        }
        *ret = bp;
        return 0;
}

static int run(struct bench *b, size_t iterations, size_t rounds, struct errbuf *e)
{
        /* [case][with]: case 0 allocated port, 1 port 0 */
        struct sample_set s[2][2] = {0};
        uint64_t container_id;
        int r;

        r = own_cgroup_procs(&b->h, &b->own_cgroup_procs);
        if (r < 0)
                return errbuf_set(e, r, "cannot find this process' cgroup: %s", strerror(-r));
        if (cg_create(&b->h, b->container) < 0 || cg_get_id(&b->h, b->container, &container_id) < 0)
                return errbuf_set(e, -EIO, "cannot create cgroup %s", b->container);
        r = cg_attach(&b->h, b->container, 0);
        if (r < 0)
                return errbuf_set(e, r, "cannot enter %s: %s", b->container, strerror(-r));
        b->moved = true;

        for (size_t c = 0; c < 2; c++)
                for (size_t w = 0; w < 2; w++) {
                        s[c][w].ns = calloc(iterations * rounds, sizeof(double));
                        if (!s[c][w].ns)
                                return -ENOMEM;
                }
        /* Warm up the socket and bind paths once, untimed. */
        {
                struct sample_set warm = {calloc(iterations, sizeof(double)), 0};
                r = warm.ns ? time_binds(ALLOCATED_PORT, iterations / 10 + 1, &warm) : -ENOMEM;
                free(warm.ns);
                if (r < 0)
                        return errbuf_set(e, r, "bind: %s", strerror(-r));
        }
        for (size_t round = 0; round < rounds && r >= 0; round++) {
                struct bpf_prevent *bp = NULL;

                for (size_t c = 0; c < 2 && r >= 0; c++)
                        r = time_binds(c == 0 ? ALLOCATED_PORT : 0, iterations, &s[c][0]);
                if (r < 0)
                        break;
                r = attach(b, container_id, &bp, e);
                if (r < 0)
                        return r;
                for (size_t c = 0; c < 2 && r >= 0; c++)
                        r = time_binds(c == 0 ? ALLOCATED_PORT : 0, iterations, &s[c][1]);
                (void)bpf_prevent_destroy(bp);
        }
        if (r < 0)
                return errbuf_set(e, r, "bind: %s", strerror(-r));

        printf("bind() latency, %zu rounds x %zu binds per case, TCP/IPv4, in a container "
               "cgroup\n",
               rounds, iterations);
        printf("%-22s %12s %12s %8s %10s %10s %10s %10s\n", "case", "without ns", "with ns",
               "ratio", "p50 w/o", "p50 with", "p99 w/o", "p99 with");
        for (size_t c = 0; c < 2; c++) {
                double m0 = mean(&s[c][0]), m1 = mean(&s[c][1]);
                printf("%-22s %12.1f %12.1f %8.3f %10.0f %10.0f %10.0f %10.0f\n",
                       c == 0 ? "allocated port" : "port 0", m0, m1, m1 / m0,
                       percentile(&s[c][0], 50), percentile(&s[c][1], 50), percentile(&s[c][0], 99),
                       percentile(&s[c][1], 99));
        }
        for (size_t c = 0; c < 2; c++)
                for (size_t w = 0; w < 2; w++)
                        free(s[c][w].ns);
        return 0;
}

int main(int argc, char **argv)
{
        const char *hierarchy = "/sys/fs/cgroup";
        size_t iterations = 50000, rounds = 4;
        struct bench b = {0};
        struct errbuf e = {{0}};
        int r;

        for (int i = 1; i < argc; i++) {
                if (strncmp(argv[i], "--iterations=", 13) == 0)
                        iterations = strtoul(argv[i] + 13, NULL, 10);
                else if (strncmp(argv[i], "--rounds=", 9) == 0)
                        rounds = strtoul(argv[i] + 9, NULL, 10);
                else if (strncmp(argv[i], "--cgroups-hierarchy=", 20) == 0)
                        hierarchy = argv[i] + 20;
                else {
                        fprintf(stderr, "usage: bench-bind [--iterations=N] [--rounds=R] "
                                        "[--cgroups-hierarchy=DIR]\n");
                        return 2;
                }
        }
        if (iterations == 0 || rounds == 0) {
                fprintf(stderr, "bench-bind: --iterations and --rounds must be positive\n");
                return 2;
        }
        r = cg_hierarchy_detect(hierarchy, &b.h, &e);
        if (r < 0 || b.h.mode != CG_V2) {
                fprintf(stderr, "bench-bind: no cgroup v2 hierarchy at %s: %s\n", hierarchy, e.msg);
                return 1;
        }
        snprintf(b.root, sizeof(b.root), "portiso-bench-bind-%d", (int)getpid());
        snprintf(b.container, sizeof(b.container), "%s/c1", b.root);
        r = run(&b, iterations, rounds, &e);
        bench_cleanup(&b);
        if (r < 0) {
                fprintf(stderr, "bench-bind: %s\n", e.msg[0] ? e.msg : strerror(-r));
                return 1;
        }
        return 0;
}
