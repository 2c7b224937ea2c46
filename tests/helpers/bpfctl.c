/* bpfctl.c - a command line over the eBPF loaders for the integration tests
 * and for poking at a host by hand.
 *
 * The tests attach, fill, inspect and remove bind prevention and watch
 * detection events through the real C loaders (src/linux/bpf/), so a bug
 * there fails a test. Prevention state lives in bpffs pins, so each command
 * is a separate process that re-adopts them, exactly as a restarted agent
 * does. Errors are one line on stderr and exit status 1.
 *
 *   bpfctl [--cgroups-hierarchy=DIR] [--cgroups-root=NAME] COMMAND
 *     prevent-supported | detect-supported
 *     prevent-attach --isolated=RANGES [--udp]  ("pinned DIR", "autobind prevented|REASON")
 *     prevent-allow CGROUP RANGES     (CGROUP: root container, below the root)
 *     prevent-unset CGROUP
 *     prevent-status                  ("pinned DIR" + "allocations N", or "not pinned")
 *     prevent-destroy
 *     detect [--udp] [--count=N] [--timeout=SECS]
 *            prints "ready", then "listen CGROUPID FAMILY PROTO PORT" per event */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "basic/errbuf.h"
#include "basic/time-util.h"
#include "linux/bpf/bpf_detect.h"
#include "linux/bpf/bpf_prevent.h"
#include "linux/cgroup.h"
#include "ports/ranges.h"

struct ctx {
        const char *hierarchy;
        const char *root;
        struct cg_hierarchy h;
        char *root_path; /* <v2 mount>/<root> */
};

static volatile sig_atomic_t stop;

static int fail(const char *what, int r, const struct errbuf *e)
{
        if (e && e->msg[0])
                fprintf(stderr, "bpfctl: %s: %s\n", what, e->msg);
        else
                fprintf(stderr, "bpfctl: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 1;
}

static int usage(void)
{
        fprintf(stderr, "bpfctl: usage: bpfctl [--cgroups-hierarchy=DIR] [--cgroups-root=NAME] "
                        "prevent-supported|detect-supported|prevent-attach|prevent-allow|"
                        "prevent-unset|prevent-status|prevent-destroy|detect ...\n");
        return 1;
}

static int resolve(struct ctx *c, struct errbuf *e)
{
        int r = cg_hierarchy_detect(c->hierarchy, &c->h, e);

        if (r < 0)
                return r;
        if (c->h.mode != CG_V2)
                return errbuf_set(e, -EOPNOTSUPP, "%s has no cgroup v2 hierarchy", c->hierarchy);
        if (asprintf(&c->root_path, "%s/%s", c->h.path, c->root) < 0)
                return -ENOMEM;
        return 0;
}

/* cgroup id of a root container given relative to the cgroups root. */
static int container_id(struct ctx *c, const char *rel, uint64_t *ret)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", c->root, rel) < 0)
                return -ENOMEM;
        return cg_get_id(&c->h, path, ret);
}

static int cmd_supported(int (*probe)(struct errbuf *))
{
        struct errbuf e = {{0}};
        int r = probe(&e);

        if (r < 0)
                return fail("probe", r, &e);
        printf("%s\n", r > 0 ? "supported" : e.msg);
        return r > 0 ? 0 : 1;
}

static int cmd_attach(struct ctx *c, int argc, char **argv)
{
        _cleanup_(bpf_prevent_closep) struct bpf_prevent *bp = NULL;
        _cleanup_portset_ struct portset isolated = PORTSET_INIT;
        struct errbuf e = {{0}};
        unsigned protocols = BPF_PROTO_TCP;
        bool have_isolated = false;
        int r;

        for (int i = 0; i < argc; i++) {
                if (strncmp(argv[i], "--isolated=", 11) == 0) {
                        r = ranges_parse(argv[i] + 11, &isolated, &e);
                        if (r < 0)
                                return fail("--isolated", r, &e);
                        have_isolated = true;
                } else if (strcmp(argv[i], "--udp") == 0)
                        protocols |= BPF_PROTO_UDP;
                else
                        return usage();
        }
        if (!have_isolated)
                return usage();
        r = bpf_prevent_open(c->root_path, c->root, &isolated, protocols, &bp, &e);
        if (r < 0)
                return fail("attaching prevention", r, &e);
        printf("pinned %s\n", bpf_prevent_pin_dir(bp));
        printf("autobind %s\n",
               bpf_prevent_autobind_missing(bp) ? bpf_prevent_autobind_missing(bp) : "prevented");
        return 0;
}

static int open_pinned(struct ctx *c, struct bpf_prevent **ret, struct errbuf *e)
{
        return bpf_prevent_open(c->root_path, c->root, NULL, 0, ret, e);
}

static int cmd_allow(struct ctx *c, int argc, char **argv)
{
        _cleanup_(bpf_prevent_closep) struct bpf_prevent *bp = NULL;
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        struct errbuf e = {{0}};
        uint64_t id;
        int r;

        if (argc != 2)
                return usage();
        r = ranges_parse(argv[1], &ports, &e);
        if (r < 0)
                return fail("ranges", r, &e);
        r = container_id(c, argv[0], &id);
        if (r < 0)
                return fail("cgroup id", r, NULL);
        r = open_pinned(c, &bp, &e);
        if (r < 0)
                return fail("opening prevention", r, &e);
        r = bpf_prevent_set(bp, id, &ports);
        if (r < 0)
                return fail("setting allocation", r, NULL);
        return 0;
}

static int cmd_unset(struct ctx *c, int argc, char **argv)
{
        _cleanup_(bpf_prevent_closep) struct bpf_prevent *bp = NULL;
        struct errbuf e = {{0}};
        uint64_t id;
        int r;

        if (argc != 1)
                return usage();
        r = container_id(c, argv[0], &id);
        if (r < 0)
                return fail("cgroup id", r, NULL);
        r = open_pinned(c, &bp, &e);
        if (r < 0)
                return fail("opening prevention", r, &e);
        r = bpf_prevent_unset(bp, id);
        if (r < 0)
                return fail("unsetting allocation", r, NULL);
        return 0;
}

static int cmd_status(struct ctx *c)
{
        _cleanup_(bpf_prevent_closep) struct bpf_prevent *bp = NULL;
        struct errbuf e = {{0}};
        int r = open_pinned(c, &bp, &e);

        if (r == -ENOENT) {
                printf("not pinned\n");
                return 0;
        }
        if (r < 0)
                return fail("opening prevention", r, &e);
        r = bpf_prevent_count(bp);
        if (r < 0)
                return fail("counting allocations", r, NULL);
        printf("pinned %s\nallocations %d\n", bpf_prevent_pin_dir(bp), r);
        return 0;
}

static int cmd_destroy(struct ctx *c)
{
        struct bpf_prevent *bp = NULL;
        struct errbuf e = {{0}};
        int r = open_pinned(c, &bp, &e);

        /* Nothing adoptable (or a broken leftover): remove whatever is pinned. */
        r = r < 0 ? bpf_prevent_remove_pins(c->root) : bpf_prevent_destroy(bp);
        if (r < 0)
                return fail("destroying prevention", r, NULL);
        return 0;
}

struct detect_state {
        long remaining; /* < 0: unlimited */
};

static void print_event(const struct bpf_listen_event *ev, void *userdata)
{
        struct detect_state *st = userdata;

        if (st->remaining == 0)
                return;
        printf("listen %" PRIu64 " %s %s %u\n", (uint64_t)ev->cgroup_id,
               ev->family == AF_INET6 ? "inet6" : "inet",
               ev->protocol == IPPROTO_UDP ? "udp" : "tcp", ev->port);
        fflush(stdout);
        if (st->remaining > 0)
                st->remaining--;
}

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static int cmd_detect(struct ctx *c, int argc, char **argv)
{
        _cleanup_(bpf_detect_closep) struct bpf_detect *bd = NULL;
        struct detect_state st = {.remaining = -1};
        struct errbuf e = {{0}};
        unsigned protocols = BPF_PROTO_TCP;
        double timeout = 0;
        uint64_t t0;
        int r;

        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "--udp") == 0)
                        protocols |= BPF_PROTO_UDP;
                else if (strncmp(argv[i], "--count=", 8) == 0)
                        st.remaining = strtol(argv[i] + 8, NULL, 10);
                else if (strncmp(argv[i], "--timeout=", 10) == 0)
                        timeout = strtod(argv[i] + 10, NULL);
                else
                        return usage();
        }
        r = bpf_detect_open(c->root_path, c->root, protocols, &bd, &e);
        if (r < 0)
                return fail("attaching detection", r, &e);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        printf("ready\n");
        fflush(stdout);
        t0 = now_nsec();
        while (!stop && st.remaining != 0) {
                r = bpf_detect_poll(bd, 100, print_event, &st);
                if (r < 0)
                        return fail("polling events", r, NULL);
                if (timeout > 0 && (double)(now_nsec() - t0) / 1e9 > timeout)
                        return fail("waiting for events", -ETIMEDOUT, NULL);
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct ctx c = {.hierarchy = "/sys/fs/cgroup", .root = "portiso"};
        struct errbuf e = {{0}};
        const char *cmd;
        int i, r;

        for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                if (strncmp(argv[i], "--cgroups-hierarchy=", 20) == 0)
                        c.hierarchy = argv[i] + 20;
                else if (strncmp(argv[i], "--cgroups-root=", 15) == 0)
                        c.root = argv[i] + 15;
                else
                        return usage();
        }
        if (i >= argc)
                return usage();
        cmd = argv[i++];
        argc -= i;
        argv += i;

        if (strcmp(cmd, "prevent-supported") == 0)
                return cmd_supported(bpf_prevent_supported);
        if (strcmp(cmd, "detect-supported") == 0)
                return cmd_supported(bpf_detect_supported);

        r = resolve(&c, &e);
        if (r < 0)
                return fail("cgroups", r, &e);
        if (strcmp(cmd, "prevent-attach") == 0)
                r = cmd_attach(&c, argc, argv);
        else if (strcmp(cmd, "prevent-allow") == 0)
                r = cmd_allow(&c, argc, argv);
        else if (strcmp(cmd, "prevent-unset") == 0)
                r = cmd_unset(&c, argc, argv);
        else if (strcmp(cmd, "prevent-status") == 0)
                r = cmd_status(&c);
        else if (strcmp(cmd, "prevent-destroy") == 0)
                r = cmd_destroy(&c);
        else if (strcmp(cmd, "detect") == 0)
                r = cmd_detect(&c, argc, argv);
        else
                r = usage();
        free(c.root_path);
        return r;
}
