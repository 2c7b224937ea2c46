/* holders_iter.c - load the holders iterators and read them; see
 * holders_iter.h and holders.bpf.c.
 *
 * The three programs are attached once as iterator links; reading an
 * iterator means creating a fresh fd from its link (one bpf() call) and
 * reading it to EOF, which runs the walk in the kernel during the read()
 * calls. Every map is mirrored here and updated by difference, so a steady set
 * of host listeners and containers costs no map update at all, and the
 * socket walk that resolves candidates to their struct file runs only when
 * the candidate set changed.
 *
 * The event programs are optional: without them (a kernel without one of
 * the tracepoints, or a caller that does not want them) every search walks
 * every container it is given, as before. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/array.h"
#include "basic/cmp.h"
#include "basic/macro.h"
#include "holders.skel.h"
#include "holders_iter.h"
#include "holders_record.h"
#include "linux/bpf/bpf_util.h"

/* A BPF hash map (key -> value) mirrored in user space, sorted by key. */
struct mirror {
        uint64_t *keys;
        uint64_t *values;
        size_t n;
};

struct holders_iter {
        struct holders_bpf *skel;
        struct bpf_link *holders_link, *tcp_link, *udp_link;
        struct bpf_link *event_links[5];
        bool events;
        struct errbuf events_error;
        struct mirror cands, files, containers, watched;
};

static struct bpf_program **event_programs(struct holders_bpf *skel, size_t *ret_n)
{
        static struct bpf_program *progs[5];

        progs[0] = skel->progs.portiso_ev_attach;
        progs[1] = skel->progs.portiso_ev_fork;
        progs[2] = skel->progs.portiso_ev_recv;
        progs[3] = skel->progs.portiso_ev_uring;
        progs[4] = skel->progs.portiso_ev_sys_exit;
        *ret_n = ELEMENTSOF(progs);
        return progs;
}

static void detach_events(struct holders_iter *it)
{
        for (size_t i = 0; i < ELEMENTSOF(it->event_links); i++) {
                bpf_link__destroy(it->event_links[i]);
                it->event_links[i] = NULL;
        }
        it->events = false;
}

static void mirror_clear(struct mirror *m)
{
        free(m->keys);
        free(m->values);
        *m = (struct mirror){0};
}

void holders_iter_free(struct holders_iter *it)
{
        if (!it)
                return;
        bpf_link__destroy(it->holders_link);
        bpf_link__destroy(it->tcp_link);
        bpf_link__destroy(it->udp_link);
        detach_events(it);
        holders_bpf__destroy(it->skel);
        mirror_clear(&it->cands);
        mirror_clear(&it->files);
        mirror_clear(&it->containers);
        mirror_clear(&it->watched);
        free(it);
}

static int attach(struct bpf_program *prog, struct bpf_link **ret, struct errbuf *e)
{
        *ret = bpf_program__attach_iter(prog, NULL);
        if (!*ret)
                return errbuf_set(e, -EOPNOTSUPP, "cannot attach the %s iterator: %s",
                                  bpf_program__name(prog), strerror(errno));
        return 0;
}

/* Open and load, with the event programs or not. */
static struct holders_bpf *open_and_load(bool events)
{
        struct holders_bpf *skel = holders_bpf__open();
        struct bpf_program **progs;
        size_t n;

        if (!skel)
                return NULL;
        progs = event_programs(skel, &n);
        for (size_t i = 0; !events && i < n; i++)
                bpf_program__set_autoload(progs[i], false);
        if (holders_bpf__load(skel) < 0) {
                int saved = errno;
                holders_bpf__destroy(skel);
                errno = saved;
                return NULL;
        }
        return skel;
}

/* Attach every event program, or none. */
static void attach_events(struct holders_iter *it)
{
        size_t n;
        struct bpf_program **progs = event_programs(it->skel, &n);

        for (size_t i = 0; i < n; i++) {
                it->event_links[i] = bpf_program__attach(progs[i]);
                if (!it->event_links[i]) {
                        errbuf_set(&it->events_error, -EOPNOTSUPP, "cannot attach %s: %s",
                                   bpf_program__name(progs[i]), strerror(errno));
                        detach_events(it);
                        return;
                }
        }
        it->events = true;
}

int holders_iter_new(struct holders_iter **ret, bool events, struct errbuf *e)
{
        _cleanup_(holders_iter_freep) struct holders_iter *it = NULL;
        int r;

        r = bpf_util_setup(e);
        if (r < 0)
                return r;
        it = calloc(1, sizeof(*it));
        if (!it)
                return -ENOMEM;
        it->skel = events ? open_and_load(true) : NULL;
        if (events && !it->skel)
                errbuf_set(&it->events_error, -EOPNOTSUPP, "cannot load the event programs: %s",
                           bpf_util_libbpf_last()[0] ? bpf_util_libbpf_last() : strerror(errno));
        if (!events)
                errbuf_set(&it->events_error, -EOPNOTSUPP, "not wanted");
        if (!it->skel)
                it->skel = open_and_load(false);
        if (!it->skel)
                return errbuf_set(e, -EOPNOTSUPP, "cannot load the holders iterators: %s",
                                  bpf_util_libbpf_last()[0] ? bpf_util_libbpf_last()
                                                            : strerror(errno));
        r = attach(it->skel->progs.portiso_holders, &it->holders_link, e);
        if (r >= 0)
                r = attach(it->skel->progs.portiso_cand_tcp, &it->tcp_link, e);
        if (r >= 0)
                r = attach(it->skel->progs.portiso_cand_udp, &it->udp_link, e);
        if (r < 0)
                return r;
        if (!it->events_error.msg[0])
                attach_events(it);
        *ret = TAKE_PTR(it);
        return 0;
}

size_t holders_iter_max_candidates(void)
{
        return HOLDERS_MAX_CANDIDATES;
}

size_t holders_iter_max_containers(void)
{
        return HOLDERS_MAX_CONTAINERS;
}

static const uint64_t *sorted_find(const uint64_t *v, size_t n, uint64_t x)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (v[mid] == x)
                        return &v[mid];
                if (v[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Make the map behind fd hold exactly keys[i] -> values[i] (keys sorted and
 * unique; values NULL for a set whose values are one byte of 1). Returns 1
 * when anything changed. */
static int mirror_sync(int fd, struct mirror *have, const uint64_t *keys, const uint64_t *values,
                       size_t n)
{
        size_t vsize = values ? sizeof(uint64_t) : 0;
        uint8_t one = 1;

        if (n == have->n && (n == 0 || (memcmp(keys, have->keys, n * sizeof(*keys)) == 0 &&
                                        (!values || memcmp(values, have->values, n * vsize) == 0))))
                return 0;
        _cleanup_free_ uint64_t *k = malloc(MAX(n, (size_t)1) * sizeof(*k));
        _cleanup_free_ uint64_t *v = values ? malloc(MAX(n, (size_t)1) * vsize) : NULL;
        if (!k || (values && !v))
                return -ENOMEM;
        if (n > 0) {
                memcpy(k, keys, n * sizeof(*k));
                if (values)
                        memcpy(v, values, n * vsize);
        }

        /* Forget the mirror first: if an update fails, the next sync rewrites
         * every key instead of trusting a half-updated map. */
        _cleanup_free_ uint64_t *old = TAKE_PTR(have->keys);
        size_t n_old = have->n;
        mirror_clear(have);
        for (size_t i = 0; i < n_old; i++)
                if (!sorted_find(keys, n, old[i]) && bpf_map_delete_elem(fd, &old[i]) < 0 &&
                    errno != ENOENT)
                        return negative_errno();
        for (size_t i = 0; i < n; i++)
                if (bpf_map_update_elem(fd, &keys[i], values ? (const void *)&values[i] : &one,
                                        BPF_ANY) < 0)
                        return negative_errno();
        have->keys = TAKE_PTR(k);
        have->values = TAKE_PTR(v);
        have->n = n;
        return 1;
}

/* Read an iterator to EOF in whole records of `size` bytes, calling fn on each. */
static int read_iter(struct bpf_link *link, size_t size, int (*fn)(const void *rec, void *ud),
                     void *ud)
{
        _Alignas(8) char buf[16384];
        size_t have = 0;
        int r;

        _cleanup_close_ int fd = bpf_iter_create(bpf_link__fd(link));
        if (fd < 0)
                return fd; /* libbpf returns -errno */
        for (;;) {
                ssize_t k = read(fd, buf + have, sizeof(buf) - have);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return 0;
                have += (size_t)k;
                size_t whole = have / size;
                for (size_t i = 0; i < whole; i++) {
                        r = fn(buf + i * size, ud);
                        if (r < 0)
                                return r;
                }
                /* The seq_file never splits a record; keep any tail anyway. */
                memmove(buf, buf + whole * size, have % size);
                have %= size;
        }
}

struct file_list {
        struct holders_file_record *v;
        size_t n, alloc;
};

static int on_file(const void *rec, void *ud)
{
        struct file_list *l = ud;

        return ARRAY_PUSH(l->v, l->n, l->alloc, *(const struct holders_file_record *)rec);
}

static int cmp_file(const void *a, const void *b)
{
        return CMP(((const struct holders_file_record *)a)->file,
                   ((const struct holders_file_record *)b)->file);
}

/* Resolve the candidate inodes to their struct file addresses, and load
 * those into candidate_files and the pre-filter. */
static int resolve_files(struct holders_iter *it)
{
        struct file_list l = {0};
        int r;

        r = read_iter(it->tcp_link, sizeof(*l.v), on_file, &l);
        if (r >= 0)
                r = read_iter(it->udp_link, sizeof(*l.v), on_file, &l);
        if (r < 0) {
                free(l.v);
                return r;
        }
        /* No candidate open at all leaves l.v NULL: qsort() must not see it. */
        if (l.n > 1)
                qsort(l.v, l.n, sizeof(*l.v), cmp_file);
        _cleanup_free_ uint64_t *keys = malloc(MAX(l.n, (size_t)1) * sizeof(uint64_t));
        _cleanup_free_ uint64_t *values = malloc(MAX(l.n, (size_t)1) * sizeof(uint64_t));
        size_t n = 0;
        if (!keys || !values) {
                free(l.v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < l.n; i++)
                if (n == 0 || keys[n - 1] != l.v[i].file) {
                        keys[n] = l.v[i].file;
                        values[n++] = l.v[i].inode;
                }
        free(l.v);

        /* Clear the filter first so no pass sees a bit without its map entry. */
        __u64 *filter = it->skel->bss->candidate_filter;
        memset(filter, 0, sizeof(it->skel->bss->candidate_filter));
        r = mirror_sync(bpf_map__fd(it->skel->maps.candidate_files), &it->files, keys, values, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                uint32_t bit = holders_filter_bit(keys[i]);
                filter[bit / 64] |= 1ULL << (bit % 64);
        }
        return 0;
}

struct hit_ctx {
        holders_iter_fn fn;
        void *userdata;
};

static int on_hit(const void *rec, void *ud)
{
        const struct holders_record *h = rec;
        const struct hit_ctx *ctx = ud;

        return ctx->fn((pid_t)h->tgid, h->cgroup_id, h->inode, ctx->userdata);
}

int holders_iter_run(struct holders_iter *it, const uint64_t *cgroup_ids, size_t n_cgroups,
                     const uint64_t *inodes, size_t n, holders_iter_fn fn, void *userdata)
{
        struct hit_ctx ctx = {fn, userdata};
        int r;

        if (n > HOLDERS_MAX_CANDIDATES || n_cgroups > HOLDERS_MAX_CONTAINERS)
                return -E2BIG;
        r = mirror_sync(bpf_map__fd(it->skel->maps.candidates), &it->cands, inodes, NULL, n);
        if (r < 0)
                return r;
        if (r > 0 || it->files.n == 0) {
                r = resolve_files(it);
                if (r < 0) {
                        mirror_clear(&it->cands); /* resolve again next time */
                        return r;
                }
        }
        if (cgroup_ids) {
                r = mirror_sync(bpf_map__fd(it->skel->maps.containers), &it->containers, cgroup_ids,
                                NULL, n_cgroups);
                if (r < 0)
                        return r;
        } else
                n_cgroups = it->watched.n;
        it->skel->bss->walk_all = cgroup_ids == NULL;
        if (it->files.n == 0 || n_cgroups == 0)
                return 0; /* no candidate is open, or nobody to hold one */
        return read_iter(it->holders_link, sizeof(struct holders_record), on_hit, &ctx);
}

const char *holders_iter_events_missing(const struct holders_iter *it)
{
        return it->events ? NULL : it->events_error.msg;
}

int holders_iter_watch(struct holders_iter *it, const uint64_t *ids, size_t n)
{
        if (n > HOLDERS_MAX_CONTAINERS)
                return -E2BIG;
        return mirror_sync(bpf_map__fd(it->skel->maps.watched), &it->watched, ids, NULL, n);
}

int holders_iter_drain(struct holders_iter *it, uint64_t **ret, size_t *ret_n, bool *ret_lost)
{
        int fd = bpf_map__fd(it->skel->maps.dirty);
        _cleanup_free_ uint64_t *v = NULL;
        size_t n;
        int r;

        /* Read the flag first: a mark lost after this is seen next time. */
        *ret_lost = __atomic_exchange_n(&it->skel->bss->dirty_lost, 0, __ATOMIC_SEQ_CST) != 0;
        r = bpf_util_map_keys(fd, &v, &n);
        if (r < 0)
                return r;
        /* A mark made again after it was read is not lost: the walk that
         * follows starts after the event it stands for. */
        for (size_t i = 0; i < n; i++)
                if (bpf_map_delete_elem(fd, &v[i]) < 0 && errno != ENOENT)
                        return negative_errno();
        if (n > 1)
                qsort(v, n, sizeof(*v), cmp_uint64);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}
