/* bpf_prevent.c - load, pin, re-adopt and remove the bind-prevention
 * programs; see bpf_prevent.h.
 *
 * The kernel objects outlive the agent, so opening is mostly adoption:
 *   - pinned maps are reused when their layout and ABI match ours (the
 *     allocations in them keep holding across the restart), else replaced;
 *   - a pinned link attached to our cgroups root keeps its program when it is
 *     the very same code (same tag over the same maps); otherwise the link is
 *     updated in place to the new program (BPF_LINK_UPDATE), so an upgrade
 *     never leaves a window without enforcement;
 *   - a pinned link of a cgroups root that was removed and created again is
 *     detached and replaced.
 * Every pin lives in one directory per cgroups root, so destroying is
 * "detach the links, remove the directory".
 *
 * The two lsm_cgroup programs (autobind) need a kernel with the BPF LSM
 * active. A program attached to a hook the BPF LSM does not serve would load
 * and never run, so the loader asks the kernel itself: it attaches a probe
 * LSM program for a moment and calls listen() once. Where the probe is not
 * called, or the programs do not load, bind prevention goes on without them
 * and bpf_prevent_autobind_missing() says why. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "bpf_prevent.h"
#include "prevent.skel.h"
#include "prevent_maps.h"

static const struct {
        const char *name; /* pin names: <name>_link, <name>_prog */
        enum bpf_attach_type type;
        bool lsm; /* needs the BPF LSM; left out where it is missing */
} hooks[] = {
    {"bind4", BPF_CGROUP_INET4_BIND, false},
    {"bind6", BPF_CGROUP_INET6_BIND, false},
    {"post_bind4", BPF_CGROUP_INET4_POST_BIND, false},
    {"post_bind6", BPF_CGROUP_INET6_POST_BIND, false},
    {"listen", BPF_LSM_CGROUP, true},
    {"sendmsg", BPF_LSM_CGROUP, true},
};

struct bpf_prevent {
        struct prevent_bpf *skel;
        struct bpf_link *links[ELEMENTSOF(hooks)];
        char *root_name;
        char *pin_dir;
        bool fresh;
        bool want_config;          /* the caller writes a configuration */
        struct errbuf lsm_missing; /* empty while the autobind hooks are attached */
};

static struct bpf_program *hook_program(struct prevent_bpf *skel, size_t i)
{
        struct bpf_program *progs[ELEMENTSOF(hooks)] = {
            skel->progs.portiso_bind4,      skel->progs.portiso_bind6,
            skel->progs.portiso_post_bind4, skel->progs.portiso_post_bind6,
            skel->progs.portiso_listen,     skel->progs.portiso_sendmsg,
        };
        return progs[i];
}

static char *pin_path(const char *dir, const char *name, const char *suffix)
{
        char *p;

        if (asprintf(&p, "%s/%s%s", dir, name, suffix) < 0)
                return NULL;
        return p;
}

static void bitmap_from_portset(struct port_bitmap *b, const struct portset *s)
{
        memset(b, 0, sizeof(*b));
        PORTSET_FOREACH (r, s) {
                for (uint32_t p = r->begin; p <= r->end; p++)
                        b->w[p >> 6] |= 1ULL << (p & 63);
        }
}

/* True when the pinned map fd has exactly the layout the programs expect. */
static bool map_compatible(int fd, const struct bpf_map *map)
{
        struct bpf_map_info info = {0};
        __u32 len = sizeof(info);

        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return false;
        return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
               info.value_size == bpf_map__value_size(map) &&
               info.max_entries == bpf_map__max_entries(map) &&
               info.map_flags == bpf_map__map_flags(map);
}

/* The pinned maps, in pin name order ("config" first: it holds the ABI). */
static void skel_maps(struct bpf_prevent *bp, struct bpf_map *ret[4])
{
        ret[0] = bp->skel->maps.portiso_config;
        ret[1] = bp->skel->maps.portiso_allocs;
        ret[2] = bp->skel->maps.portiso_denials;
        ret[3] = bp->skel->maps.portiso_denials_zero;
}
static const char *const map_names[4] = {"config", "allocs", "denials", "denials_zero"};

/* Reuse the pinned maps when all are ours and current; otherwise leave the
 * skeleton to create new ones. Returns 1 when reused. */
static int adopt_maps(struct bpf_prevent *bp)
{
        _cleanup_free_ struct prevent_config *cfg = NULL;
        struct bpf_map *maps[4];
        int fds[4] = {-1, -1, -1, -1}, r = 0;
        __u32 zero = 0;

        skel_maps(bp, maps);
        for (size_t i = 0; i < ELEMENTSOF(fds) && r == 0; i++) {
                _cleanup_free_ char *path = pin_path(bp->pin_dir, map_names[i], "");
                if (!path)
                        r = -ENOMEM;
                else if ((fds[i] = bpf_obj_get(path)) < 0 || !map_compatible(fds[i], maps[i]))
                        r = 1; /* not ours: new maps */
        }
        if (r == 0 && !(cfg = malloc(sizeof(*cfg))))
                r = -ENOMEM;
        if (r == 0 && (bpf_map_lookup_elem(fds[0], &zero, cfg) < 0 || cfg->abi != PREVENT_ABI))
                r = 1;
        for (size_t i = 0; i < ELEMENTSOF(fds) && r == 0; i++)
                r = bpf_map__reuse_fd(maps[i], fds[i]);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        return r < 0 ? r : r == 0;
}

/* Write the configuration: isolated/protocols when given, the root's id and
 * level always (the root may have been created again since). */
static int write_config(struct bpf_prevent *bp, uint64_t root_id, uint32_t level,
                        const struct portset *isolated, unsigned protocols)
{
        _cleanup_free_ struct prevent_config *cfg = calloc(1, sizeof(*cfg));
        int fd = bpf_map__fd(bp->skel->maps.portiso_config);
        __u32 zero = 0;

        if (!cfg)
                return -ENOMEM;
        if (bpf_map_lookup_elem(fd, &zero, cfg) < 0)
                return negative_errno();
        if (isolated) {
                bitmap_from_portset(&cfg->isolated, isolated);
                cfg->protocols = protocols & (PREVENT_PROTO_TCP | PREVENT_PROTO_UDP);
        }
        cfg->abi = PREVENT_ABI;
        cfg->root_id = root_id;
        cfg->root_level = level;
        cfg->tcp_port0 = bp->lsm_missing.msg[0] != '\0';
        cfg->enabled = 1;
        if (bpf_map_update_elem(fd, &zero, cfg, BPF_ANY) < 0)
                return negative_errno();
        return 0;
}

static int pin_maps(struct bpf_prevent *bp)
{
        struct bpf_map *maps[4];

        skel_maps(bp, maps);
        for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
                _cleanup_free_ char *path = pin_path(bp->pin_dir, map_names[i], "");
                if (!path)
                        return -ENOMEM;
                (void)unlink(path);
                /* bpf_map__pin() keeps the path; a reused map is pinned already. */
                if (bpf_obj_pin(bpf_map__fd(maps[i]), path) < 0)
                        return negative_errno();
        }
        return 0;
}

/* The kernel's tag of a program: a hash of its code with map references
 * blanked, so two loads of the same program compare equal. */
static int prog_tag(int prog_fd, __u8 tag[BPF_TAG_SIZE])
{
        struct bpf_prog_info info = {0};
        __u32 len = sizeof(info);

        if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
                return negative_errno();
        memcpy(tag, info.tag, BPF_TAG_SIZE);
        return 0;
}

static bool same_program(__u32 prog_id, int prog_fd)
{
        _cleanup_close_ int old_fd = bpf_prog_get_fd_by_id(prog_id);
        __u8 a[BPF_TAG_SIZE], b[BPF_TAG_SIZE];

        if (old_fd < 0 || prog_tag(old_fd, a) < 0 || prog_tag(prog_fd, b) < 0)
                return false;
        return memcmp(a, b, BPF_TAG_SIZE) == 0;
}

/* Pin the program a link runs (looked up through the link, so it is right
 * whether the link was kept, updated or created). */
static int pin_link_program(struct bpf_link *link, const char *path)
{
        struct bpf_link_info info = {0};
        __u32 len = sizeof(info);
        _cleanup_close_ int fd = -1;

        if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) < 0)
                return negative_errno();
        fd = bpf_prog_get_fd_by_id(info.prog_id);
        if (fd < 0)
                return negative_errno();
        (void)unlink(path);
        if (bpf_obj_pin(fd, path) < 0)
                return negative_errno();
        return 0;
}

/* Adopt the pinned link of hook i, or attach and pin a new one. */
static int attach_hook(struct bpf_prevent *bp, size_t i, int cgroup_fd, uint64_t root_id,
                       struct errbuf *e)
{
        struct bpf_program *prog = hook_program(bp->skel, i);
        _cleanup_free_ char *link_path = pin_path(bp->pin_dir, hooks[i].name, "_link");
        _cleanup_free_ char *prog_path = pin_path(bp->pin_dir, hooks[i].name, "_prog");
        struct bpf_link *link;
        int r;

        if (!link_path || !prog_path)
                return -ENOMEM;
        if (hooks[i].lsm && bp->lsm_missing.msg[0]) {
                /* A pin of an earlier agent that had the hook goes. */
                _cleanup_close_ int fd = bpf_obj_get(link_path);
                if (fd >= 0)
                        (void)bpf_link_detach(fd);
                (void)unlink(link_path);
                (void)unlink(prog_path);
                return 0;
        }

        link = bpf_link__open(link_path);
        if (link) {
                struct bpf_link_info info = {0};
                __u32 len = sizeof(info);

                if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) < 0 ||
                    info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.cgroup_id != root_id ||
                    info.cgroup.attach_type != hooks[i].type) {
                        /* Attached to an earlier incarnation of the root. */
                        (void)bpf_link__detach(link);
                        bpf_link__destroy(link);
                        (void)unlink(link_path);
                        link = NULL;
                } else if (bp->fresh || !same_program(info.prog_id, bpf_program__fd(prog))) {
                        r = bpf_link__update_program(link, prog);
                        if (r < 0) {
                                bpf_link__destroy(link);
                                return errbuf_set(e, r, "cannot update the pinned %s program: %s",
                                                  hooks[i].name, strerror(-r));
                        }
                }
        }
        if (!link) {
                link = bpf_program__attach_cgroup(prog, cgroup_fd);
                if (!link)
                        return errbuf_set(e, negative_errno(),
                                          "cannot attach the %s program to the cgroups root: %m",
                                          hooks[i].name);
                r = bpf_link__pin(link, link_path);
                if (r < 0) {
                        (void)bpf_link__detach(link);
                        bpf_link__destroy(link);
                        return errbuf_set(e, r, "cannot pin %s: %s", link_path, strerror(-r));
                }
        }
        bp->links[i] = link;
        r = pin_link_program(link, prog_path);
        if (r < 0)
                return errbuf_set(e, r, "cannot pin %s: %s", prog_path, strerror(-r));
        return 0;
}

int bpf_prevent_supported(struct errbuf *e)
{
        int r;

        r = bpf_util_setup(e);
        if (r < 0)
                return 0;
        r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL);
        if (r <= 0)
                return errbuf_set(e, 0, "this kernel cannot run cgroup sock_addr eBPF programs");
        r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                                    BPF_FUNC_get_current_ancestor_cgroup_id, NULL);
        if (r <= 0)
                return errbuf_set(e, 0,
                                  "this kernel lacks bpf_get_current_ancestor_cgroup_id() for "
                                  "cgroup sock_addr programs");
        r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_HASH, NULL);
        if (r <= 0)
                return errbuf_set(e, 0, "this kernel cannot create eBPF hash maps");
        return 1;
}

/* Pin what bpf_prevent_open() loaded: the maps when they are new, then a
 * link (adopted, updated or new) and its program per hook. */
static int pin_and_attach(struct bpf_prevent *bp, int cgroup_fd, uint64_t root_id, struct errbuf *e)
{
        int r;

        if (bp->fresh) {
                r = mkdir_p(bp->pin_dir, 0700);
                if (r < 0)
                        return errbuf_set(e, r, "cannot create %s: %s", bp->pin_dir, strerror(-r));
                r = pin_maps(bp);
                if (r < 0)
                        return errbuf_set(e, r, "cannot pin maps in %s: %s", bp->pin_dir,
                                          strerror(-r));
        }
        for (size_t i = 0; i < ELEMENTSOF(hooks); i++) {
                r = attach_hook(bp, i, cgroup_fd, root_id, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Open the skeleton (with the LSM programs or not), adopt the pinned maps
 * and load. */
static int open_and_load(struct bpf_prevent *bp, bool lsm, struct errbuf *e)
{
        int r;

        bp->skel = prevent_bpf__open();
        if (!bp->skel)
                return errbuf_set(e, negative_errno(), "cannot open the bind programs: %m");
        if (!lsm) {
                bpf_program__set_autoload(bp->skel->progs.portiso_listen, false);
                bpf_program__set_autoload(bp->skel->progs.portiso_sendmsg, false);
                bpf_program__set_autoload(bp->skel->progs.portiso_lsm_probe, false);
        }
        r = adopt_maps(bp);
        if (r < 0)
                return errbuf_set(e, r, "cannot reuse the maps pinned in %s: %s", bp->pin_dir,
                                  strerror(-r));
        bp->fresh = r == 0;
        /* Nothing is written to bpffs before this point, so a query of a root
         * without prevention leaves no pin directory behind. */
        if (bp->fresh && !bp->want_config)
                return errbuf_set(e, -ENOENT, "no bind prevention is pinned in %s", bp->pin_dir);

        r = prevent_bpf__load(bp->skel);
        if (r < 0)
                return errbuf_set(e, r, "cannot load the bind programs (%s): %s", strerror(-r),
                                  bpf_util_libbpf_last());
        return 0;
}

/* Is the BPF LSM active? Attach the probe, call listen() once (on an unbound
 * unix socket: it fails, after the hook), detach. */
static void probe_lsm(struct bpf_prevent *bp)
{
        struct bpf_link *link;
        int fd;

        bp->skel->bss->probe_pid = (__u32)getpid();
        bp->skel->bss->probe_hits = 0;
        link = bpf_program__attach_lsm(bp->skel->progs.portiso_lsm_probe);
        if (!link) {
                errbuf_set(&bp->lsm_missing, -EOPNOTSUPP,
                           "cannot attach an LSM program (%m): no BPF LSM in this kernel");
                return;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
                (void)listen(fd, 1);
                close(fd);
        }
        bpf_link__destroy(link);
        if (bp->skel->bss->probe_hits == 0)
                errbuf_set(&bp->lsm_missing, -EOPNOTSUPP,
                           "the BPF LSM is not active (\"bpf\" is missing from the lsm= list)");
}

int bpf_prevent_open(const char *cgroups_root_path, const char *cgroups_root_name,
                     const struct portset *isolated, unsigned protocols, struct bpf_prevent **ret,
                     struct errbuf *e)
{
        _cleanup_(bpf_prevent_closep) struct bpf_prevent *bp = NULL;
        _cleanup_close_ int cgroup_fd = -1;
        uint64_t root_id;
        uint32_t level;
        int r;

        r = bpf_util_setup(e);
        if (r < 0)
                return r;
        r = bpf_util_cgroup_root(cgroups_root_path, cgroups_root_name, &root_id, &level, e);
        if (r < 0)
                return r;
        cgroup_fd = open(cgroups_root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cgroup_fd < 0)
                return errbuf_set(e, negative_errno(), "cannot open %s: %m", cgroups_root_path);
        r = bpf_util_mount_bpffs(e);
        if (r < 0)
                return r;

        bp = calloc(1, sizeof(*bp));
        if (!bp)
                return -ENOMEM;
        bp->root_name = strdup(cgroups_root_name);
        if (!bp->root_name ||
            asprintf(&bp->pin_dir, "%s/%s", BPF_PREVENT_PIN_BASE, cgroups_root_name) < 0)
                return -ENOMEM;
        bp->want_config = isolated != NULL;

        r = open_and_load(bp, true, e);
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                /* Maybe only the LSM programs cannot load: try without them. */
                errbuf_set(&bp->lsm_missing, r,
                           "this kernel does not load the lsm_cgroup programs (%s)", strerror(-r));
                prevent_bpf__destroy(TAKE_PTR(bp->skel));
                r = open_and_load(bp, false, e);
                if (r < 0)
                        return r;
        } else
                probe_lsm(bp);
        r = write_config(bp, root_id, level, isolated, protocols);
        if (r < 0)
                return errbuf_set(e, r, "cannot write the bind configuration: %s", strerror(-r));
        r = pin_and_attach(bp, cgroup_fd, root_id, e);
        if (r < 0 && bp->fresh) {
                /* Leave nothing half made (maps pinned, one hook attached).
                 * A link that was pinned before used maps that could not be
                 * adopted, so nobody could update its allocations: it goes too. */
                int k = bpf_prevent_remove_pins(bp->root_name);
                if (k < 0)
                        return errbuf_prefix(e, r, "%s left half made (cleanup: %s)", bp->pin_dir,
                                             strerror(-k));
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bp);
        return 0;
}

int bpf_prevent_set(struct bpf_prevent *bp, uint64_t root_container_cgroup_id,
                    const struct portset *allocated)
{
        _cleanup_free_ struct port_bitmap *b = malloc(sizeof(*b));
        __u64 key = root_container_cgroup_id;

        if (!b)
                return -ENOMEM;
        bitmap_from_portset(b, allocated);
        if (bpf_map_update_elem(bpf_map__fd(bp->skel->maps.portiso_allocs), &key, b, BPF_ANY) < 0)
                return negative_errno();
        return 0;
}

static bool bitmap_test(const struct port_bitmap *b, uint16_t port)
{
        return (b->w[port >> 6] >> (port & 63)) & 1;
}

int bpf_prevent_refuses(struct bpf_prevent *bp, uint64_t root_container_cgroup_id,
                        unsigned protocol, const struct portset *ports)
{
        _cleanup_free_ struct prevent_config *cfg = malloc(sizeof(*cfg));
        _cleanup_free_ struct port_bitmap *b = malloc(sizeof(*b));
        __u64 key = root_container_cgroup_id;
        __u32 zero = 0;

        if (!cfg || !b)
                return -ENOMEM;
        if (bpf_map_lookup_elem(bpf_map__fd(bp->skel->maps.portiso_config), &zero, cfg) < 0)
                return negative_errno();
        if (!cfg->enabled || !(cfg->protocols & protocol) || portset_is_empty(ports))
                return 0;
        if (bpf_map_lookup_elem(bpf_map__fd(bp->skel->maps.portiso_allocs), &key, b) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        PORTSET_FOREACH (r, ports)
                for (uint32_t p = r->begin; p <= r->end; p++)
                        if (!bitmap_test(&cfg->isolated, (uint16_t)p) || bitmap_test(b, (uint16_t)p))
                                return 0;
        return 1;
}

static int portset_from_bitmap(struct portset *s, const struct port_bitmap *b)
{
        for (uint32_t w = 0; w < PORT_BITMAP_WORDS; w++)
                for (uint32_t bit = 0; b->w[w] && bit < 64; bit++)
                        if ((b->w[w] >> bit) & 1) {
                                int r = portset_add(s, (uint16_t)(w * 64 + bit));
                                if (r < 0)
                                        return r;
                        }
        return 0;
}

int bpf_prevent_denied(struct bpf_prevent *bp, uint64_t root_container_cgroup_id,
                       struct bpf_prevent_denied *ret)
{
        _cleanup_free_ struct prevent_denials *d = malloc(sizeof(*d));
        __u64 key = root_container_cgroup_id;
        struct bpf_prevent_denied out = {};
        int r;

        if (!d)
                return -ENOMEM;
        if (bpf_map_lookup_elem(bpf_map__fd(bp->skel->maps.portiso_denials), &key, d) < 0)
                return negative_errno();
        out.count = d->count;
        r = portset_from_bitmap(&out.tcp, &d->tcp);
        if (r >= 0)
                r = portset_from_bitmap(&out.udp, &d->udp);
        if (r < 0) {
                bpf_prevent_denied_done(&out);
                return r;
        }
        *ret = out;
        return 0;
}

void bpf_prevent_denied_done(struct bpf_prevent_denied *d)
{
        portset_clear(&d->tcp);
        portset_clear(&d->udp);
}

int bpf_prevent_forget_denied(struct bpf_prevent *bp, uint64_t root_container_cgroup_id)
{
        __u64 key = root_container_cgroup_id;

        if (bpf_map_delete_elem(bpf_map__fd(bp->skel->maps.portiso_denials), &key) < 0 &&
            errno != ENOENT)
                return negative_errno();
        return 0;
}

int bpf_prevent_unset(struct bpf_prevent *bp, uint64_t root_container_cgroup_id)
{
        __u64 key = root_container_cgroup_id;

        if (bpf_map_delete_elem(bpf_map__fd(bp->skel->maps.portiso_allocs), &key) < 0 &&
            errno != ENOENT)
                return negative_errno();
        return 0;
}

int bpf_prevent_ids(struct bpf_prevent *bp, uint64_t **ret, size_t *ret_n)
{
        return bpf_util_map_keys(bpf_map__fd(bp->skel->maps.portiso_allocs), ret, ret_n);
}

int bpf_prevent_count(struct bpf_prevent *bp)
{
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n;
        int r = bpf_prevent_ids(bp, &ids, &n);

        return r < 0 ? r : (int)n;
}

bool bpf_prevent_is_fresh(const struct bpf_prevent *bp)
{
        return bp->fresh;
}

const char *bpf_prevent_autobind_missing(const struct bpf_prevent *bp)
{
        return bp->lsm_missing.msg[0] ? bp->lsm_missing.msg : NULL;
}

const char *bpf_prevent_pin_dir(const struct bpf_prevent *bp)
{
        return bp->pin_dir;
}

void bpf_prevent_close(struct bpf_prevent *bp)
{
        if (!bp)
                return;
        /* Closing an fd-based link does not detach it while a pin holds it. */
        for (size_t i = 0; i < ELEMENTSOF(bp->links); i++)
                bpf_link__destroy(bp->links[i]);
        prevent_bpf__destroy(bp->skel);
        free(bp->root_name);
        free(bp->pin_dir);
        free(bp);
}

int bpf_prevent_destroy(struct bpf_prevent *bp)
{
        int r = 0;

        if (!bp)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(bp->links); i++)
                if (bp->links[i] && bpf_link__detach(bp->links[i]) < 0 && r == 0)
                        r = negative_errno();
        {
                int k = bpf_prevent_remove_pins(bp->root_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        bpf_prevent_close(bp);
        return r;
}

/* rmdir the pin directory and its parents up to and including the base;
 * a directory still in use by another cgroups root stays. */
static void remove_pin_dirs(const char *dir)
{
        _cleanup_free_ char *p = strdup(dir);
        size_t base_len = strlen(BPF_FS_PATH);

        while (p && strlen(p) > base_len && rmdir(p) == 0) {
                char *slash = strrchr(p, '/');
                if (!slash)
                        break;
                *slash = '\0';
        }
}

int bpf_prevent_remove_pins(const char *cgroups_root_name)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (asprintf(&dir, "%s/%s", BPF_PREVENT_PIN_BASE, cgroups_root_name) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                size_t len = strlen(de->d_name);

                if (de->d_name[0] == '.')
                        continue;
                path = pin_path(dir, de->d_name, "");
                if (!path)
                        return -ENOMEM;
                if (len > 5 && strcmp(de->d_name + len - 5, "_link") == 0) {
                        _cleanup_close_ int fd = bpf_obj_get(path);
                        /* Detach even if something else still holds the link. */
                        if (fd >= 0 && bpf_link_detach(fd) < 0 && errno != EINVAL && r == 0)
                                r = negative_errno();
                }
                if (unlink(path) < 0 && errno != ENOENT && r == 0)
                        r = negative_errno();
        }
        remove_pin_dirs(dir);
        return r;
}

struct bpf_prevent_attachment {
        struct bpf_link *links[2];
};

int bpf_prevent_attach(struct bpf_prevent *bp, const char *cgroup_path,
                       struct bpf_prevent_attachment **ret)
{
        _cleanup_close_ int fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct bpf_prevent_attachment *a;

        if (fd < 0)
                return negative_errno();
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(a->links); i++) {
                a->links[i] = bpf_program__attach_cgroup(hook_program(bp->skel, i), fd);
                if (!a->links[i]) {
                        int r = negative_errno();
                        bpf_prevent_detach(a);
                        return r;
                }
        }
        *ret = a;
        return 0;
}

void bpf_prevent_detach(struct bpf_prevent_attachment *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < ELEMENTSOF(a->links); i++)
                if (a->links[i]) {
                        (void)bpf_link__detach(a->links[i]);
                        bpf_link__destroy(a->links[i]);
                }
        free(a);
}
