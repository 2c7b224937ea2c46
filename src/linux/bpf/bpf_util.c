/* bpf_util.c - shared checks of the BPF loaders; see bpf_util.h.
 *
 * Each check answers with one line a user can act on ("cgroup v2 is needed",
 * "not root"), because the agent logs it once and carries on without the
 * feature. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "basic/array.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "bpf_util.h"

#define CAP_SYS_ADMIN_BIT 21

static char libbpf_last[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        char line[sizeof(libbpf_last)];
        size_t n;

        if (getenv("PORTISO_LIBBPF_DEBUG"))
                return vfprintf(stderr, fmt, ap);
        if (level == LIBBPF_DEBUG)
                return 0;
        vsnprintf(line, sizeof(line), fmt, ap);
        /* Keep libbpf's own summary lines, not the verifier log under them. */
        if (strncmp(line, "libbpf: ", 8) != 0)
                return 0;
        n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
                line[--n] = '\0';
        snprintf(libbpf_last, sizeof(libbpf_last), "%s", line + 8);
        return 0;
}


const char *bpf_util_libbpf_last(void)
{
        return libbpf_last;
}

/* CapEff from /proc/self/status, or 0 when it cannot be read. */
static unsigned long long effective_caps(void)
{
        _cleanup_free_ char *status = NULL;
        const char *p;

        if (read_full_file("/proc/self/status", &status, NULL) < 0)
                return 0;
        p = strstr(status, "\nCapEff:");
        if (!p)
                return 0;
        return strtoull(p + strlen("\nCapEff:"), NULL, 16);
}

int bpf_util_setup(struct errbuf *e)
{
        static bool quiet;

        if (!quiet) {
                quiet = true;
                libbpf_set_print(libbpf_print);
        }
        if (effective_caps() & (1ULL << CAP_SYS_ADMIN_BIT))
                return 0;
        return errbuf_set(e, -EPERM, "loading eBPF programs needs root (CAP_SYS_ADMIN)");
}

int bpf_util_cgroup_root(const char *path, const char *name, uint64_t *ret_id, uint32_t *ret_level,
                         struct errbuf *e)
{
        struct statfs sfs;
        struct stat st;
        uint32_t level = 0;
        bool in_component = false;

        if (statfs(path, &sfs) < 0)
                return errbuf_set(e, negative_errno(), "cannot use cgroups root %s: %m", path);
        if (sfs.f_type != CGROUP2_SUPER_MAGIC)
                return errbuf_set(e, -EOPNOTSUPP,
                                  "%s is not on a cgroup v2 hierarchy (eBPF enforcement needs "
                                  "cgroup v2)",
                                  path);
        if (stat(path, &st) < 0)
                return errbuf_set(e, negative_errno(), "cannot stat %s: %m", path);
        if (!S_ISDIR(st.st_mode))
                return errbuf_set(e, -ENOTDIR, "%s is not a cgroup directory", path);
        for (const char *p = name ? name : ""; *p; p++) {
                if (*p == '/')
                        in_component = false;
                else if (!in_component) {
                        in_component = true;
                        level++;
                }
        }
        *ret_id = (uint64_t)st.st_ino;
        *ret_level = level;
        return 0;
}

int bpf_util_mount_bpffs(struct errbuf *e)
{
        struct statfs sfs;

        if (statfs(BPF_FS_PATH, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
                return 0;
        if (mkdir(BPF_FS_PATH, 0700) < 0 && errno != EEXIST)
                return errbuf_set(e, negative_errno(), "cannot create %s: %m", BPF_FS_PATH);
        if (mount("bpffs", BPF_FS_PATH, "bpf", 0, "mode=0700") < 0)
                return errbuf_set(e, negative_errno(), "cannot mount bpffs at %s: %m", BPF_FS_PATH);
        return 0;
}

int bpf_util_map_keys(int fd, uint64_t **ret_keys, size_t *ret_n)
{
        _cleanup_free_ uint64_t *keys = NULL;
        size_t n = 0, alloc = 0;
        uint64_t key;

        while (bpf_map_get_next_key(fd, n > 0 ? &keys[n - 1] : NULL, &key) == 0) {
                int r = ARRAY_PUSH(keys, n, alloc, key);
                if (r < 0)
                        return r;
        }
        if (errno != ENOENT)
                return negative_errno();
        *ret_keys = TAKE_PTR(keys);
        *ret_n = n;
        return 0;
}
