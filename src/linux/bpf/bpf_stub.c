/* bpf_stub.c - the BPF loaders' API on a build without eBPF (no clang,
 * bpftool or kernel BTF at build time): every feature reports itself
 * unsupported with one line, so the agent runs on with polling only. */
#include <errno.h>
#include <stdlib.h>

#include "bpf_detect.h"
#include "bpf_prevent.h"

#define UNSUPPORTED "portiso was built without eBPF support (clang, bpftool or kernel BTF missing)"

int bpf_prevent_supported(struct errbuf *e)
{
        return errbuf_set(e, 0, UNSUPPORTED);
}

int bpf_prevent_open(const char *cgroups_root_path, const char *cgroups_root_name,
                     const struct portset *isolated, unsigned protocols, struct bpf_prevent **ret,
                     struct errbuf *e)
{
        (void)cgroups_root_path, (void)cgroups_root_name, (void)isolated, (void)protocols;
        (void)ret;
        return errbuf_set(e, -EOPNOTSUPP, UNSUPPORTED);
}

int bpf_prevent_set(struct bpf_prevent *bp, uint64_t id, const struct portset *allocated)
{
        (void)bp, (void)id, (void)allocated;
        return -EOPNOTSUPP;
}

int bpf_prevent_unset(struct bpf_prevent *bp, uint64_t id)
{
        (void)bp, (void)id;
        return -EOPNOTSUPP;
}

int bpf_prevent_refuses(struct bpf_prevent *bp, uint64_t id, unsigned protocol,
                        const struct portset *ports)
{
        (void)bp, (void)id, (void)protocol, (void)ports;
        return -EOPNOTSUPP;
}

int bpf_prevent_denied(struct bpf_prevent *bp, uint64_t id, struct bpf_prevent_denied *ret)
{
        (void)bp, (void)id, (void)ret;
        return -EOPNOTSUPP;
}

void bpf_prevent_denied_done(struct bpf_prevent_denied *d)
{
        (void)d;
}

int bpf_prevent_forget_denied(struct bpf_prevent *bp, uint64_t id)
{
        (void)bp, (void)id;
        return -EOPNOTSUPP;
}

int bpf_prevent_count(struct bpf_prevent *bp)
{
        (void)bp;
        return -EOPNOTSUPP;
}

int bpf_prevent_ids(struct bpf_prevent *bp, uint64_t **ret, size_t *ret_n)
{
        (void)bp, (void)ret, (void)ret_n;
        return -EOPNOTSUPP;
}

bool bpf_prevent_is_fresh(const struct bpf_prevent *bp)
{
        (void)bp;
        return true;
}

const char *bpf_prevent_autobind_missing(const struct bpf_prevent *bp)
{
        (void)bp;
        return "built without eBPF support";
}

const char *bpf_prevent_pin_dir(const struct bpf_prevent *bp)
{
        (void)bp;
        return "";
}

int bpf_prevent_destroy(struct bpf_prevent *bp)
{
        (void)bp;
        return 0;
}

void bpf_prevent_close(struct bpf_prevent *bp)
{
        (void)bp;
}

int bpf_prevent_attach(struct bpf_prevent *bp, const char *cgroup_path,
                       struct bpf_prevent_attachment **ret)
{
        (void)bp, (void)cgroup_path, (void)ret;
        return -EOPNOTSUPP;
}

void bpf_prevent_detach(struct bpf_prevent_attachment *a)
{
        (void)a;
}

int bpf_prevent_remove_pins(const char *cgroups_root_name)
{
        (void)cgroups_root_name;
        return 0;
}

int bpf_detect_supported(struct errbuf *e)
{
        return errbuf_set(e, 0, UNSUPPORTED);
}

int bpf_detect_open(const char *cgroups_root_path, const char *cgroups_root_name,
                    unsigned protocols, struct bpf_detect **ret, struct errbuf *e)
{
        (void)cgroups_root_path, (void)cgroups_root_name, (void)protocols, (void)ret;
        return errbuf_set(e, -EOPNOTSUPP, UNSUPPORTED);
}

int bpf_detect_fd(const struct bpf_detect *bd)
{
        (void)bd;
        return -EOPNOTSUPP;
}

int bpf_detect_consume(struct bpf_detect *bd, bpf_listen_fn fn, void *userdata)
{
        (void)bd, (void)fn, (void)userdata;
        return -EOPNOTSUPP;
}

int bpf_detect_poll(struct bpf_detect *bd, int timeout_ms, bpf_listen_fn fn, void *userdata)
{
        (void)bd, (void)timeout_ms, (void)fn, (void)userdata;
        return -EOPNOTSUPP;
}

uint64_t bpf_detect_dropped(const struct bpf_detect *bd)
{
        (void)bd;
        return 0;
}

void bpf_detect_close(struct bpf_detect *bd)
{
        (void)bd;
}
