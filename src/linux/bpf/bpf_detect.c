/* bpf_detect.c - load and attach the detection programs, and drain their ring
 * buffer; see bpf_detect.h.
 *
 * The listen program is a BTF raw tracepoint: it attaches by name, so it
 * works without tracefs mounted. The UDP post_bind programs are attached to
 * the cgroups root with plain (unpinned) bpf_links, so closing the loader
 * detaches everything. The in-kernel filter's parameters (root cgroup id and
 * level, UDP on or off) are read-only data fixed before load. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "bpf_detect.h"
#include "detect.skel.h"

struct bpf_detect {
        struct detect_bpf *skel;
        struct ring_buffer *rb;
        struct bpf_link *links[3];
        bpf_listen_fn fn;
        void *userdata;
};

static int on_sample(void *ctx, void *data, size_t size)
{
        struct bpf_detect *bd = ctx;

        if (size >= sizeof(struct bpf_listen_event) && bd->fn)
                bd->fn(data, bd->userdata);
        return 0;
}

int bpf_detect_supported(struct errbuf *e)
{
        struct stat st;
        int r;

        r = bpf_util_setup(e);
        if (r < 0)
                return 0;
        if (stat("/sys/kernel/btf/vmlinux", &st) < 0)
                return errbuf_set(e, 0, "this kernel has no BTF (/sys/kernel/btf/vmlinux)");
        r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
        if (r <= 0)
                return errbuf_set(e, 0,
                                  "this kernel has no eBPF ring buffer (5.8 or later needed)");
        return 1;
}

static int attach_cgroup(struct bpf_detect *bd, size_t slot, struct bpf_program *prog,
                         int cgroup_fd, struct errbuf *e)
{
        bd->links[slot] = bpf_program__attach_cgroup(prog, cgroup_fd);
        if (!bd->links[slot])
                return errbuf_set(e, negative_errno(), "cannot attach %s to the cgroups root: %m",
                                  bpf_program__name(prog));
        return 0;
}

int bpf_detect_open(const char *cgroups_root_path, const char *cgroups_root_name,
                    unsigned protocols, struct bpf_detect **ret, struct errbuf *e)
{
        _cleanup_(bpf_detect_closep) struct bpf_detect *bd = NULL;
        _cleanup_close_ int cgroup_fd = -1;
        bool udp = protocols & BPF_PROTO_UDP;
        uint64_t root_id = 0;
        uint32_t level = 0;
        int r;

        r = bpf_util_setup(e);
        if (r < 0)
                return r;
        if (cgroups_root_path) {
                r = bpf_util_cgroup_root(cgroups_root_path, cgroups_root_name, &root_id, &level, e);
                if (r < 0)
                        return r;
                cgroup_fd = open(cgroups_root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cgroup_fd < 0)
                        return errbuf_set(e, negative_errno(), "cannot open %s: %m",
                                          cgroups_root_path);
        } else if (udp)
                return errbuf_set(e, -EINVAL, "UDP detection needs a cgroups root");

        bd = calloc(1, sizeof(*bd));
        if (!bd)
                return -ENOMEM;
        bd->skel = detect_bpf__open();
        if (!bd->skel)
                return errbuf_set(e, negative_errno(), "cannot open the detection programs: %m");
        bd->skel->rodata->root_id = root_id;
        bd->skel->rodata->root_level = level;
        bd->skel->rodata->report_udp = udp;
        if (!udp) {
                bpf_program__set_autoload(bd->skel->progs.portiso_pbind4, false);
                bpf_program__set_autoload(bd->skel->progs.portiso_pbind6, false);
        }
        r = detect_bpf__load(bd->skel);
        if (r < 0)
                return errbuf_set(e, r, "cannot load the detection programs (%s): %s", strerror(-r),
                                  bpf_util_libbpf_last());

        bd->links[0] = bpf_program__attach(bd->skel->progs.portiso_listen);
        if (!bd->links[0])
                return errbuf_set(e, negative_errno(),
                                  "cannot attach to the inet_sock_set_state tracepoint: %m");
        if (udp) {
                r = attach_cgroup(bd, 1, bd->skel->progs.portiso_pbind4, cgroup_fd, e);
                if (r < 0)
                        return r;
                r = attach_cgroup(bd, 2, bd->skel->progs.portiso_pbind6, cgroup_fd, e);
                if (r < 0)
                        return r;
        }

        bd->rb = ring_buffer__new(bpf_map__fd(bd->skel->maps.portiso_events), on_sample, bd, NULL);
        if (!bd->rb)
                return errbuf_set(e, negative_errno(), "cannot map the detection ring buffer: %m");
        *ret = TAKE_PTR(bd);
        return 0;
}

int bpf_detect_fd(const struct bpf_detect *bd)
{
        return ring_buffer__epoll_fd(bd->rb);
}

int bpf_detect_consume(struct bpf_detect *bd, bpf_listen_fn fn, void *userdata)
{
        int r;

        bd->fn = fn;
        bd->userdata = userdata;
        r = ring_buffer__consume(bd->rb);
        bd->fn = NULL;
        return r;
}

int bpf_detect_poll(struct bpf_detect *bd, int timeout_ms, bpf_listen_fn fn, void *userdata)
{
        int r;

        bd->fn = fn;
        bd->userdata = userdata;
        r = ring_buffer__poll(bd->rb, timeout_ms);
        bd->fn = NULL;
        return r == -EINTR ? 0 : r;
}

uint64_t bpf_detect_dropped(const struct bpf_detect *bd)
{
        return __atomic_load_n(&bd->skel->bss->dropped, __ATOMIC_RELAXED);
}

void bpf_detect_close(struct bpf_detect *bd)
{
        if (!bd)
                return;
        ring_buffer__free(bd->rb);
        for (size_t i = 0; i < ELEMENTSOF(bd->links); i++)
                bpf_link__destroy(bd->links[i]);
        detect_bpf__destroy(bd->skel);
        free(bd);
}
