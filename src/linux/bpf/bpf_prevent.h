/* bpf_prevent.h - bind-time prevention: bind() to an isolated port that the
 * caller's root container was not allocated fails with EPERM, and so does an
 * autobind that could end up on one (listen() on an unbound TCP socket, a
 * UDP bind() to port 0 or sendmsg() on an unbound UDP socket when UDP counts).
 *
 * cgroup/bind{4,6}, cgroup/post_bind{4,6} and, where the kernel has the BPF
 * LSM, lsm_cgroup programs are attached with bpf_links to the cgroups root
 * (<v2 mount>/<cgroups_root>) and see every container and nested container
 * below it (prevent.bpf.c). Programs, links and maps are pinned under
 * /sys/fs/bpf/portiso/<cgroups_root>/ so that prevention keeps holding while
 * the agent is stopped; opening again re-adopts the pins (and replaces a
 * pinned program or map of another version, without a gap where possible).
 * Closing keeps the pins; destroying removes everything.
 *
 * Allocations are keyed by the cgroup v2 id of each root container. A root
 * container without an entry is not restricted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/errbuf.h"
#include "basic/macro.h"
#include "linux/bpf/bpf_util.h"
#include "ports/portset.h"

/* Directory under which each cgroups root gets its pin directory. */
#define BPF_PREVENT_PIN_BASE "/sys/fs/bpf/portiso"

struct bpf_prevent;

/* Probe once whether this kernel and process can run bind prevention (root,
 * BPF syscall, cgroup sock_addr programs, bpffs). 1 supported, 0 not (reason
 * in *e), negative errno on failure. */
int bpf_prevent_supported(struct errbuf *e);

/* Attach (or re-adopt the pinned) prevention for the cgroups root at
 * cgroups_root_path (the cgroup v2 directory, which must exist), whose path
 * below the v2 mount is cgroups_root_name (e.g. "portiso"). isolated and
 * protocols (BPF_PROTO_*) replace the pinned configuration; isolated NULL
 * keeps the pinned one (-ENOENT if nothing is pinned). Mounts bpffs at
 * /sys/fs/bpf when needed. One line in *e on failure, naming the reason
 * (unsupported kernel, no cgroup v2, no bpffs, not root); a failed open that
 * found nothing to adopt leaves nothing pinned. */
int bpf_prevent_open(const char *cgroups_root_path, const char *cgroups_root_name,
                     const struct portset *isolated, unsigned protocols, struct bpf_prevent **ret,
                     struct errbuf *e);
/* Set the ports allocated to the root container whose cgroup id is id
 * (replaces its previous allocation atomically). */
int bpf_prevent_set(struct bpf_prevent *bp, uint64_t root_container_cgroup_id,
                    const struct portset *allocated);
/* 1 when the programs refuse a bind() of protocol (BPF_PROTO_TCP or
 * BPF_PROTO_UDP) to every port of ports by a task of the root container
 * whose cgroup id is id, read from the maps they decide on (two lookups,
 * whatever the size of ports); 0 when they allow one of them (an unknown
 * container is allowed anything); negative errno. */
int bpf_prevent_refuses(struct bpf_prevent *bp, uint64_t root_container_cgroup_id,
                        unsigned protocol, const struct portset *ports);
/* Forget a root container's allocation (it becomes unrestricted); a missing
 * entry is fine. */
int bpf_prevent_unset(struct bpf_prevent *bp, uint64_t root_container_cgroup_id);
/* The binds refused one root container so far. */
struct bpf_prevent_denied {
        uint64_t count;     /* refused bind()s, listen()s and sendmsg()s */
        struct portset tcp; /* ports refused; port 0 stands for an autobind */
        struct portset udp;
};
/* What was refused the root container whose cgroup id is id (recorded by the
 * programs, also while the agent was down); -ENOENT when nothing was. */
int bpf_prevent_denied(struct bpf_prevent *bp, uint64_t root_container_cgroup_id,
                       struct bpf_prevent_denied *ret);
/* Free the sets of a bpf_prevent_denied. */
void bpf_prevent_denied_done(struct bpf_prevent_denied *d);
/* Forget what was refused a root container (it ended); missing is fine. */
int bpf_prevent_forget_denied(struct bpf_prevent *bp, uint64_t root_container_cgroup_id);
/* Number of root containers with an allocation, or negative errno. */
int bpf_prevent_count(struct bpf_prevent *bp);
/* The cgroup ids with an allocation (malloc'd array), e.g. to prune entries
 * of containers that ended while the agent was down. */
int bpf_prevent_ids(struct bpf_prevent *bp, uint64_t **ret, size_t *ret_n);
/* True when this open replaced pinned maps (or found none): allocations must
 * be set again for every container. */
bool bpf_prevent_is_fresh(const struct bpf_prevent *bp);
/* NULL when autobinds (listen() or UDP sendmsg() on an unbound socket) are
 * prevented too; else why not (no BPF LSM here), in one line. */
const char *bpf_prevent_autobind_missing(const struct bpf_prevent *bp);
/* The pin directory in use. */
const char *bpf_prevent_pin_dir(const struct bpf_prevent *bp);
/* Detach the programs, remove every pin and free bp (when no container needs
 * prevention any more). NULL is fine. */
int bpf_prevent_destroy(struct bpf_prevent *bp);
/* Free bp and keep the pins: prevention goes on holding. NULL is fine. */
void bpf_prevent_close(struct bpf_prevent *bp);
/* Attach the bind programs to one more cgroup, outside the cgroups root (a
 * container another engine launched, whose allocation is keyed by its own
 * cgroup id). The links are not pinned: they hold while the agent runs and
 * go with bpf_prevent_detach() or the process. */
struct bpf_prevent_attachment;
int bpf_prevent_attach(struct bpf_prevent *bp, const char *cgroup_path,
                       struct bpf_prevent_attachment **ret);
/* Detach and free; NULL is fine. */
void bpf_prevent_detach(struct bpf_prevent_attachment *a);

/* Remove the pins of cgroups_root_name without opening them (a leftover from
 * a crashed agent or test): detaches pinned links. Missing is fine. */
int bpf_prevent_remove_pins(const char *cgroups_root_name);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bpf_prevent *, bpf_prevent_close);
