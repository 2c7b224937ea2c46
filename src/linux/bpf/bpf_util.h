/* bpf_util.h - what the BPF loaders share: protocol bits, the checks that
 * turn "unsupported here" into one readable line, and a quiet libbpf.
 *
 * libbpf prints its warnings to stderr by default; libraries below agent/ do
 * not print, so the loaders route libbpf's output into a buffer and quote its
 * last warning in their error line instead. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "basic/errbuf.h"

enum {
        BPF_PROTO_TCP = 1 << 0, /* same bits as SOCKDIAG_TCP / SOCKDIAG_UDP */
        BPF_PROTO_UDP = 1 << 1,
};

/* The programs' protocols: TCP always, UDP when it counts (udp != 0). */
static inline unsigned bpf_protocols_for(unsigned udp)
{
        return BPF_PROTO_TCP | (udp ? BPF_PROTO_UDP : 0);
}

/* Where bpffs is expected (and mounted when missing). */
#define BPF_FS_PATH "/sys/fs/bpf"

/* What every loader does first: route libbpf's messages into an internal
 * buffer (debug output goes to stderr when PORTISO_LIBBPF_DEBUG is set),
 * then check that the caller may load programs: 0, else -EPERM with a line
 * in *e. */
int bpf_util_setup(struct errbuf *e);
/* libbpf's last warning line ("" if none), for error messages. */
const char *bpf_util_libbpf_last(void);
/* Check that path is a directory on a cgroup2 file system; return its cgroup
 * id and its level (number of components of name below the v2 mount). */
int bpf_util_cgroup_root(const char *path, const char *name, uint64_t *ret_id, uint32_t *ret_level,
                         struct errbuf *e);
/* Make sure bpffs is mounted at BPF_FS_PATH, mounting it if needed. */
int bpf_util_mount_bpffs(struct errbuf *e);
/* The keys of the map behind fd, whose keys are uint64_t, in the kernel's
 * order; a key added or deleted meanwhile may be seen or not. */
int bpf_util_map_keys(int fd, uint64_t **ret_keys, size_t *ret_n);
