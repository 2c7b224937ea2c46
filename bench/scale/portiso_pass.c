/* portiso_pass.c - times portiso's reconciliation pass over the workload of
 * bench-workload: exactly what the agent's watch loop does each interval.
 *
 *   bench-portiso-pass --manifest=FILE [--passes=K] [--isolated=RANGES]
 *                      [--dump-only] [--paired] [--udp] [--move]
 *
 * The containers are prepared as the agent prepares them (id, cgroup path,
 * cgroup v2 id from cg_get_id()) and given their own listeners as allocation,
 * so every pass is a full, violation-free ports_collect() + ports_check().
 * --isolated defaults to every port, as Mesos does without an isolated range:
 * host listeners then count as candidates, the case the holder search exists
 * for. --dump-only times just the sock_diag dump the pass starts with (TCP,
 * IPv4 and IPv6), an in-process floor without ss' fork, exec and printing.
 * --paired times, before each pass, the dump alone too: the two run back to
 * back in one process, so the ratio of each pair is not the noise between
 * two runs minutes apart (on a shared VM the dump alone varies 1.5x from one
 * run to the next); "dump <wall ns> <cpu ns>" precedes each "pass" line.
 * --udp makes bound UDP sockets count too (--container_ports_protocols=tcp,udp).
 * --move moves one process of the last container into the one before it
 * (and back, alternately) before each pass: one event a pass of the kind a
 * hand-in makes, so the pass walks that container (the holder search's
 * incremental case) instead of nothing.
 *
 * Prints one "pass <wall ns> <cpu ns>" line a pass, then "limitations <n>" (of
 * the first pass), one "listening <id> <ports>" line a container, "backend
 * <bpf+events|bpf|proc> <why not more>" (the holder search used), "walks <full>
 * <partial>" (how often it walked every container, or the marked ones) and
 * "rss". */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isolator/holders.h"
#include "isolator/ports.h"
#include "linux/cgroup.h"
#include "linux/sockdiag.h"
#include "manifest.h"
#include "ports/ranges.h"

struct options {
        const char *manifest;
        const char *isolated;
        unsigned passes;
        bool dump_only;
        bool paired;
        bool udp;
        bool move;
};

/* Move a process of one of the last two containers into the other. */
static int move_one(const struct cg_hierarchy *h, const struct manifest *mf, unsigned k)
{
        const char *from = mf->c[mf->n - 1 - k % 2].cgroup, *to = mf->c[mf->n - 2 + k % 2].cgroup;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        r = cg_list_pids(h, from, false, &pids, &n);
        if (r < 0)
                return r;
        return n > 0 ? cg_attach(h, to, pids[0]) : -ESRCH;
}

static int prepare(struct ports_isolator *pi, const struct cg_hierarchy *h,
                   const struct manifest *mf, struct errbuf *e)
{
        for (size_t i = 0; i < mf->n; i++) {
                const struct manifest_container *c = &mf->c[i];
                _cleanup_portset_ struct portset alloc = PORTSET_INIT;
                uint64_t id = 0;
                int r;

                r = cg_get_id(h, c->cgroup, &id);
                if (r < 0)
                        return errbuf_set(e, r, "cgroup id of %s: %s", c->cgroup, strerror(-r));
                r = ports_prepare(pi, c->id, NULL, c->cgroup, id, false);
                if (r < 0)
                        return errbuf_set(e, r, "prepare %s: %s", c->id, strerror(-r));
                for (size_t k = 0; r >= 0 && k < c->v4.n; k++)
                        r = portset_add(&alloc, c->v4.v[k]);
                for (size_t k = 0; r >= 0 && k < c->v6.n; k++)
                        r = portset_add(&alloc, c->v6.v[k]);
                if (r >= 0)
                        r = ports_update(pi, c->id, &alloc);
                if (r < 0)
                        return errbuf_set(e, r, "update %s: %s", c->id, strerror(-r));
        }
        return 0;
}

static int one_pass(struct ports_isolator *pi, struct sockdiag *sd, const struct cg_hierarchy *h,
                    bool dump_only, size_t *ret_limitations)
{
        struct isolator_limitation *lims = NULL;
        size_t n = 0;
        int r;

        if (dump_only) {
                _cleanup_listener_table_ struct listener_table t = {0};
                return sockdiag_dump(sd, SOCKDIAG_TCP, &t);
        }
        r = ports_collect(pi, sd, h);
        if (r < 0)
                return r;
        r = ports_check(pi, &lims, &n);
        if (r < 0)
                return r;
        isolator_limitations_free(lims, n);
        *ret_limitations = n;
        return 0;
}

static void print_container(const struct ports_container *c)
{
        uint16_t ports[64];
        size_t n = 0;

        PORTSET_FOREACH (rg, &c->listening)
                for (uint32_t p = rg->begin; p <= rg->end && n < ELEMENTSOF(ports); p++)
                        ports[n++] = (uint16_t)p;
        print_listening(c->id, ports, n);
}

static int run(const struct options *o, struct errbuf *e)
{
        _cleanup_portset_ struct portset isolated = PORTSET_INIT;
        _cleanup_(sockdiag_freep) struct sockdiag *sd = NULL;
        struct ports_isolator pi;
        struct cg_hierarchy h;
        struct manifest mf;
        size_t first = 0;
        int r;

        r = ranges_parse(o->isolated, &isolated, e);
        if (r < 0)
                return r;
        r = manifest_load(o->manifest, &mf);
        if (r < 0)
                return errbuf_set(e, r, "cannot read %s: %s", o->manifest, strerror(-r));
        r = cg_hierarchy_detect(mf.v2, &h, e);
        if (r >= 0)
                r = sockdiag_new(&sd);
        if (r >= 0)
                r = ports_isolator_init(&pi, &isolated, SOCKDIAG_TCP | (o->udp ? SOCKDIAG_UDP : 0));
        if (r < 0) {
                manifest_free(&mf);
                return r;
        }
        r = prepare(&pi, &h, &mf, e);
        if (r >= 0 && o->move && mf.n < 2)
                r = errbuf_set(e, -EINVAL, "--move needs two containers");
        for (unsigned k = 0; r >= 0 && k < o->passes; k++) {
                size_t n = 0;
                if (o->move && (r = move_one(&h, &mf, k)) < 0) {
                        errbuf_set(e, r, "moving a process: %s", strerror(-r));
                        break;
                }
                if (o->paired) {
                        uint64_t d0 = now_ns(), dc0 = cpu_ns();
                        r = one_pass(&pi, sd, &h, true, &n);
                        uint64_t d1 = now_ns(), dc1 = cpu_ns();
                        if (r < 0) {
                                errbuf_set(e, r, "dump failed: %s", strerror(-r));
                                break;
                        }
                        printf("dump %llu %llu\n", (unsigned long long)(d1 - d0),
                               (unsigned long long)(dc1 - dc0));
                }
                uint64_t t0 = now_ns(), c0 = cpu_ns();
                r = one_pass(&pi, sd, &h, o->dump_only, &n);
                uint64_t t1 = now_ns(), c1 = cpu_ns();
                if (r < 0) {
                        errbuf_set(e, r, "pass failed: %s", strerror(-r));
                        break;
                }
                if (k == 0)
                        first = n;
                printf("pass %llu %llu\n", (unsigned long long)(t1 - t0),
                       (unsigned long long)(c1 - c0));
        }
        if (r >= 0 && !o->dump_only) {
                printf("limitations %zu\n", first);
                for (size_t i = 0; i < mf.n; i++) {
                        const struct ports_container *c = ports_find(&pi, mf.c[i].id);
                        if (c)
                                print_container(c);
                }
        }
        if (r >= 0) {
                const char *why = NULL;
                uint64_t full, partial;
                holders_walks(pi.holders, &full, &partial);
                printf("walks %llu %llu\n", (unsigned long long)full, (unsigned long long)partial);
                printf("backend %s %s\n", holders_backend(pi.holders, &why),
                       why && why[0] ? why : "-");
                print_rss();
        }
        ports_isolator_done(&pi);
        manifest_free(&mf);
        return r;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"manifest", required_argument, NULL, 'm'},
            {"passes", required_argument, NULL, 'p'},
            {"isolated", required_argument, NULL, 'i'},
            {"dump-only", no_argument, NULL, 'd'},
            {"paired", no_argument, NULL, 'P'},
            {"udp", no_argument, NULL, 'u'},
            {"move", no_argument, NULL, 'v'},
            {},
        };
        struct options o = {.isolated = "[0-65535]", .passes = 20};
        struct errbuf e = {{0}};
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'm')
                        o.manifest = optarg;
                else if (c == 'p')
                        o.passes = (unsigned)atoi(optarg);
                else if (c == 'i')
                        o.isolated = optarg;
                else if (c == 'd')
                        o.dump_only = true;
                else if (c == 'P')
                        o.paired = true;
                else if (c == 'u')
                        o.udp = true;
                else if (c == 'v')
                        o.move = true;
                else
                        return 2;
        }
        if (!o.manifest || o.passes == 0) {
                fprintf(stderr, "usage: bench-portiso-pass --manifest=FILE [--passes=K>0] "
                                "[--isolated=RANGES] [--dump-only] [--paired] [--udp] "
                                "[--move]\n");
                return 2;
        }
        if (run(&o, &e) < 0) {
                fprintf(stderr, "bench-portiso-pass: %s\n", e.msg[0] ? e.msg : "failed");
                return 1;
        }
        return 0;
}
