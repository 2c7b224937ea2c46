/* scan.c - `portiso scan`: which ports each container cgroup listens on.
 *
 * Like `ss -l`, but per container and without an agent: every cgroup below
 * the cgroups root becomes a container of a throw-away ports_isolator (nested
 * cgroups as nested containers, named "parent/child"), and one
 * ports_collect() pass attributes the listeners exactly as the agent's watch
 * loop does. This is the same code path the scale benchmark times. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "basic/errbuf.h"
#include "basic/strbuf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "isolator/ports.h"
#include "linux/cgroup.h"
#include "linux/sockdiag.h"
#include "ports/ranges.h"

struct scan_args {
        const char *hierarchy;
        const char *root;
        unsigned protocols;
        bool json;
};

static void scan_usage(FILE *f)
{
        fputs(
            "Usage: portiso scan [FLAGS]\n"
            "\n"
            "List the ports every cgroup below the cgroups root listens on (nested\n"
            "cgroups as parent/child), as the agent's network/ports isolator sees them.\n"
            "\n"
            "  --cgroups_hierarchy=DIR   cgroup mount to use (default /sys/fs/cgroup)\n"
            "  --cgroups_root=NAME       cgroup holding the containers (default portiso)\n"
            "  --protocols=LIST          tcp, udp or tcp,udp (default tcp)\n"
            "  --json                    print {\"containers\":[{\"id\":...,\"listening\":...}]}\n"
            "  --help                    show this help\n",
            f);
}

/* Returns 0 to go on, 1 after --help, or -CLI_EXIT_USAGE after printing why. */
static int parse_args(int argc, char **argv, struct scan_args *a)
{
        enum { ARG_HIERARCHY = 0x100, ARG_ROOT, ARG_PROTOCOLS, ARG_JSON, ARG_HELP };
        static const struct option options[] = {
            {"cgroups_hierarchy", required_argument, NULL, ARG_HIERARCHY},
            {"cgroups_root", required_argument, NULL, ARG_ROOT},
            {"protocols", required_argument, NULL, ARG_PROTOCOLS},
            {"json", no_argument, NULL, ARG_JSON},
            {"help", no_argument, NULL, ARG_HELP},
            {0},
        };
        int c;

        *a = (struct scan_args){"/sys/fs/cgroup", "portiso", SOCKDIAG_TCP, client_global_json()};
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_HIERARCHY:
                        a->hierarchy = optarg;
                        break;
                case ARG_ROOT:
                        a->root = optarg;
                        break;
                case ARG_PROTOCOLS:
                        if (sockdiag_protocols_from_string(optarg, &a->protocols) < 0) {
                                fprintf(stderr,
                                        "portiso scan: invalid --protocols '%s' (expected tcp, "
                                        "udp or tcp,udp)\n",
                                        optarg);
                                return -CLI_EXIT_USAGE;
                        }
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                case 'h':
                case ARG_HELP:
                        scan_usage(stdout);
                        return 1;
                case ':':
                        fprintf(stderr, "portiso scan: flag '%s' needs a value\n",
                                argv[optind - 1]);
                        return -CLI_EXIT_USAGE;
                default:
                        fprintf(stderr, "portiso scan: unknown flag '%s' (see --help)\n",
                                argv[optind - 1]);
                        return -CLI_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "portiso scan: unexpected argument '%s'\n", argv[optind]);
                return -CLI_EXIT_USAGE;
        }
        if (!*a->root || !*a->hierarchy) {
                fprintf(stderr, "portiso scan: --cgroups_root and --cgroups_hierarchy must not "
                                "be empty\n");
                return -CLI_EXIT_USAGE;
        }
        return 0;
}

/* Prepare every cgroup below root as a container (parents come first). */
static int prepare_all(struct ports_isolator *pi, const struct cg_hierarchy *h, const char *root)
{
        char **rels = NULL;
        size_t n = 0;
        int r;

        r = cg_list_descendants(h, root, &rels, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *cgroup = NULL, *parent = NULL;
                const char *slash = strrchr(rels[i], '/');
                uint64_t id = 0;

                if (asprintf(&cgroup, "%s/%s", root, rels[i]) < 0) {
                        cgroup = NULL;
                        r = -ENOMEM;
                        break;
                }
                if (slash && !(parent = strndup(rels[i], slash - rels[i]))) {
                        r = -ENOMEM;
                        break;
                }
                if (h->mode == CG_V2 && cg_get_id(h, cgroup, &id) < 0)
                        id = 0; /* vanished meanwhile: attributed by holders, if any */
                r = ports_prepare(pi, rels[i], parent, cgroup, id, false);
        }
        strv_free_n(rels, n);
        return r;
}

static void print_table(const struct ports_isolator *pi)
{
        _cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
        int width = 2;

        for (size_t i = 0; i < pi->n_containers; i++)
                width = MAX(width, (int)strlen(pi->containers[i]->id));
        strbuf_addf(&out, "%-*s  %s\n", width, "ID", "LISTENING");
        for (size_t i = 0; i < pi->n_containers; i++) {
                const struct ports_container *c = pi->containers[i];
                strbuf_addf(&out, "%-*s  ", width, c->id);
                if (portset_is_empty(&c->listening))
                        strbuf_puts(&out, "-");
                else
                        portset_format(&c->listening, &out);
                strbuf_putc(&out, '\n');
        }
        fputs(strbuf_str(&out), stdout);
}

static int print_json(const struct ports_isolator *pi)
{
        json_t *list = json_array();
        json_t *doc;
        char *text;

        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < pi->n_containers; i++) {
                const struct ports_container *c = pi->containers[i];
                json_t *o = json_pack("{s:s, s:o}", "id", c->id, "listening",
                                      ranges_to_json(&c->listening));
                if (!o || json_array_append_new(list, o) < 0) {
                        json_decref(list);
                        return -ENOMEM;
                }
        }
        doc = json_pack("{s:o}", "containers", list);
        if (!doc)
                return -ENOMEM;
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (!text)
                return -ENOMEM;
        puts(text);
        free(text);
        return 0;
}

static int scan(const struct scan_args *a)
{
        _cleanup_(sockdiag_freep) struct sockdiag *sd = NULL;
        _cleanup_portset_ struct portset all = PORTSET_INIT;
        _cleanup_free_ char *root_path = NULL;
        struct ports_isolator pi;
        struct cg_hierarchy h;
        struct errbuf e = {{0}};
        int r;

        r = cg_hierarchy_detect(a->hierarchy, &h, &e);
        if (r < 0) {
                fprintf(stderr, "portiso: %s\n", e.msg[0] ? e.msg : strerror(-r));
                return 1;
        }
        if (!cg_exists(&h, a->root)) {
                r = cg_path(&h, a->root, &root_path);
                fprintf(stderr, "portiso: cgroups root '%s' does not exist\n",
                        r >= 0 ? root_path : a->root);
                return 1;
        }

        r = portset_add_range(&all, 0, UINT16_MAX);
        if (r >= 0)
                r = ports_isolator_init(&pi, &all, a->protocols);
        if (r < 0) {
                fprintf(stderr, "portiso: %s\n", strerror(-r));
                return 1;
        }
        r = prepare_all(&pi, &h, a->root);
        if (r < 0)
                fprintf(stderr, "portiso: listing the cgroups below '%s': %s\n", a->root,
                        strerror(-r));
        if (r >= 0) {
                r = sockdiag_new(&sd);
                if (r < 0)
                        fprintf(stderr, "portiso: opening NETLINK_SOCK_DIAG: %s\n", strerror(-r));
        }
        if (r >= 0) {
                r = ports_collect(&pi, sd, &h);
                if (r < 0)
                        fprintf(stderr, "portiso: collecting listeners: %s\n", strerror(-r));
        }
        if (r >= 0) {
                if (a->json)
                        r = print_json(&pi);
                else
                        print_table(&pi);
                if (r < 0)
                        fprintf(stderr, "portiso: %s\n", strerror(-r));
        }
        ports_isolator_done(&pi);
        return r < 0 ? 1 : 0;
}

int cmd_scan(int argc, char **argv)
{
        struct scan_args a;
        int r = parse_args(argc, argv, &a);

        if (r < 0)
                return -r;
        if (r > 0)
                return 0;
        return scan(&a);
}
