/* bpf_detect.h - instant detection of new listeners in containers.
 *
 * An eBPF program on the sock:inet_sock_set_state tracepoint reports every
 * TCP socket that starts listening, and (when UDP counts) cgroup/post_bind
 * programs on the cgroups root report every bound UDP socket, through one
 * ring buffer. Only tasks below the cgroups root are reported. The agent puts
 * bpf_detect_fd() on its event loop and calls bpf_detect_consume() when it is
 * readable. Nothing is pinned: detection only matters while the agent runs. */
#pragma once

#include <linux/types.h>
#include <stdint.h>

#include "basic/errbuf.h"
#include "basic/macro.h"
#include "linux/bpf/bpf_util.h"
#include "linux/bpf/detect_event.h"

struct bpf_detect;

typedef void (*bpf_listen_fn)(const struct bpf_listen_event *ev, void *userdata);

/* Probe whether detection can run here (root, tracepoint programs, ring
 * buffers). 1 supported, 0 not (reason in *e), negative errno on failure. */
int bpf_detect_supported(struct errbuf *e);
/* Load and attach. cgroups_root_path is the cgroups root's v2 directory (it
 * must exist) and cgroups_root_name its path below the v2 mount; both NULL
 * report every task on the host. protocols: BPF_PROTO_* (UDP adds the
 * post_bind programs). One line in *e on failure. */
int bpf_detect_open(const char *cgroups_root_path, const char *cgroups_root_name,
                    unsigned protocols, struct bpf_detect **ret, struct errbuf *e);
/* The ring buffer's epoll fd: readable when events are waiting. */
int bpf_detect_fd(const struct bpf_detect *bd);
/* Call fn for every waiting event; returns the number consumed or negative
 * errno. Never blocks. */
int bpf_detect_consume(struct bpf_detect *bd, bpf_listen_fn fn, void *userdata);
/* Wait up to timeout_ms for events and consume them (for tools and tests). */
int bpf_detect_poll(struct bpf_detect *bd, int timeout_ms, bpf_listen_fn fn, void *userdata);
/* Events the kernel side dropped because the ring buffer was full. */
uint64_t bpf_detect_dropped(const struct bpf_detect *bd);
/* Detach everything and free bd. NULL is fine. */
void bpf_detect_close(struct bpf_detect *bd);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bpf_detect *, bpf_detect_close);
