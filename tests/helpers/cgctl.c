/* cgctl.c - a thin command line over liblinux for the integration tests.
 *
 * The tests drive the real C code (cgroup detection, kill, remove, sock_diag
 * dumps, /proc fd scans) through this tool instead of re-implementing any of
 * it in Python, so a bug in src/linux/ fails a test. Output is plain text,
 * one item per line; any error is one line on stderr and exit status 1.
 *
 *   cgctl [--hierarchy=DIR] detect | create REL | remove REL | kill REL |
 *         attach REL PID | pids [-r] REL | id REL | path-of ID | descendants REL
 *   cgctl dump [--udp] [--udp-only] [--bufsize=N]
 *   cgctl procfd PID */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/cgroup.h"
#include "linux/procfd.h"
#include "linux/sockdiag.h"

static int fail(int r, const char *what, const char *arg)
{
        fprintf(stderr, "cgctl: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
                strerror(r < 0 ? -r : r));
        return 1;
}

static int usage(void)
{
        fprintf(stderr, "cgctl: usage: cgctl [--hierarchy=DIR] "
                        "detect|create|remove|kill|attach|pids|id|path-of|descendants|dump|procfd ...\n");
        return 1;
}

static int parse_pid(const char *s, pid_t *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v <= 0 || v > INT32_MAX)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

static int cmd_dump(int argc, char **argv)
{
        _cleanup_(sockdiag_freep) struct sockdiag *sd = NULL;
        _cleanup_listener_table_ struct listener_table t = {0};
        unsigned protocols = SOCKDIAG_TCP;
        size_t bufsize = 0;
        int r;

        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "--udp") == 0)
                        protocols |= SOCKDIAG_UDP;
                else if (strcmp(argv[i], "--udp-only") == 0)
                        protocols = SOCKDIAG_UDP;
                else if (strncmp(argv[i], "--bufsize=", 10) == 0)
                        bufsize = strtoul(argv[i] + 10, NULL, 10);
                else
                        return usage();
        }
        r = sockdiag_new(&sd);
        if (r < 0)
                return fail(r, "opening sock_diag socket", NULL);
        if (bufsize > 0) {
                r = sockdiag_set_buffer_size(sd, bufsize);
                if (r < 0)
                        return fail(r, "setting buffer size", NULL);
        }
        r = sockdiag_dump(sd, protocols, &t);
        if (r < 0)
                return fail(r, "dumping sockets", NULL);
        for (size_t i = 0; i < t.n; i++) {
                const struct listener *l = &t.v[i];
                char addr[INET6_ADDRSTRLEN];

                inet_ntop(l->family, &l->addr, addr, sizeof(addr));
                printf("%s%c %s %u %" PRIu64 " %" PRIu64 "\n",
                       l->protocol == IPPROTO_TCP ? "tcp" : "udp", l->family == AF_INET ? '4' : '6',
                       addr, l->port, l->inode, l->cgroup_id);
        }
        return 0;
}

static int cmd_procfd(int argc, char **argv)
{
        _cleanup_free_ uint64_t *v = NULL;
        size_t n = 0, alloc = 0;
        pid_t pid;
        int r;

        if (argc != 1 || parse_pid(argv[0], &pid) < 0)
                return usage();
        r = procfd_socket_inodes(pid, &v, &n, &alloc);
        if (r < 0)
                return fail(r, "reading fds of", argv[0]);
        for (size_t i = 0; i < n; i++)
                printf("%" PRIu64 "\n", v[i]);
        return 0;
}

static int cmd_cgroup(const struct cg_hierarchy *h, const char *cmd, int argc, char **argv)
{
        bool recursive = false;
        int r;

        if (strcmp(cmd, "pids") == 0 && argc > 0 && strcmp(argv[0], "-r") == 0) {
                recursive = true;
                argc--, argv++;
        }
        if (strcmp(cmd, "attach") == 0) {
                pid_t pid;
                if (argc != 2 || parse_pid(argv[1], &pid) < 0)
                        return usage();
                r = cg_attach(h, argv[0], pid);
                return r < 0 ? fail(r, "attaching to", argv[0]) : 0;
        }
        if (argc != 1)
                return usage();
        const char *rel = argv[0];

        if (strcmp(cmd, "create") == 0) {
                r = cg_create(h, rel);
                return r < 0 ? fail(r, "creating", rel) : 0;
        }
        if (strcmp(cmd, "remove") == 0) {
                r = cg_remove(h, rel);
                return r < 0 ? fail(r, "removing", rel) : 0;
        }
        if (strcmp(cmd, "kill") == 0) {
                r = cg_kill(h, rel);
                return r < 0 ? fail(r, "killing", rel) : 0;
        }
        if (strcmp(cmd, "id") == 0) {
                uint64_t id;
                r = cg_get_id(h, rel, &id);
                if (r < 0)
                        return fail(r, "reading the id of", rel);
                printf("%" PRIu64 "\n", id);
                return 0;
        }
        if (strcmp(cmd, "path-of") == 0) {
                _cleanup_free_ char *path = NULL;
                uint64_t id;
                if (sscanf(rel, "%" SCNu64, &id) != 1)
                        return usage();
                r = cg_path_from_id(h, id, &path);
                if (r < 0)
                        return fail(r, "finding the cgroup of id", rel);
                printf("%s\n", path);
                return 0;
        }
        if (strcmp(cmd, "pids") == 0) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n;
                r = cg_list_pids(h, rel, recursive, &pids, &n);
                if (r < 0)
                        return fail(r, "listing pids of", rel);
                for (size_t i = 0; i < n; i++)
                        printf("%d\n", (int)pids[i]);
                return 0;
        }
        if (strcmp(cmd, "descendants") == 0) {
                char **v;
                size_t n;
                r = cg_list_descendants(h, rel, &v, &n);
                if (r < 0)
                        return fail(r, "listing descendants of", rel);
                for (size_t i = 0; i < n; i++)
                        printf("%s\n", v[i]);
                strv_free_n(v, n);
                return 0;
        }
        return usage();
}

int main(int argc, char **argv)
{
        const char *hierarchy = "/sys/fs/cgroup";
        struct cg_hierarchy h;
        struct errbuf e = {{0}};
        int r;

        argc--, argv++;
        while (argc > 0 && strncmp(argv[0], "--hierarchy=", 12) == 0) {
                hierarchy = argv[0] + 12;
                argc--, argv++;
        }
        if (argc < 1)
                return usage();
        const char *cmd = argv[0];
        argc--, argv++;

        if (strcmp(cmd, "dump") == 0)
                return cmd_dump(argc, argv);
        if (strcmp(cmd, "procfd") == 0)
                return cmd_procfd(argc, argv);

        r = cg_hierarchy_detect(hierarchy, &h, &e);
        if (r < 0) {
                fprintf(stderr, "cgctl: %s\n", e.msg);
                return 1;
        }
        if (strcmp(cmd, "detect") == 0) {
                printf("%s %s\n", cg_mode_to_string(h.mode), h.path);
                return 0;
        }
        return cmd_cgroup(&h, cmd, argc, argv);
}
