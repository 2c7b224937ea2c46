/* holders_iter.c - load the holders iterator and read it; see holders_iter.h.
 *
 * The program is attached once as an iterator link; every search creates a
 * fresh iterator fd from the link (one bpf() call) and reads it to EOF, which
 * runs the whole task/file walk in the kernel during the read() calls. The
 * candidate map is diffed against the last search, so a steady set of host
 * listeners costs no map updates at all. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "holders.skel.h"
#include "holders_iter.h"
#include "holders_record.h"
#include "linux/bpf/bpf_util.h"

struct holders_iter {
        struct holders_bpf *skel;
        struct bpf_link *link;
        uint64_t *cands; /* what the map holds now, sorted */
        size_t n_cands;
};

void holders_iter_free(struct holders_iter *it)
{
        if (!it)
                return;
        bpf_link__destroy(it->link);
        holders_bpf__destroy(it->skel);
        free(it->cands);
        free(it);
}

int holders_iter_new(struct holders_iter **ret, struct errbuf *e)
{
        _cleanup_(holders_iter_freep) struct holders_iter *it = NULL;
        int r;

        bpf_util_quiet_libbpf();
        r = bpf_util_check_privileges(e);
        if (r < 0)
                return r;
        it = calloc(1, sizeof(*it));
        if (!it)
                return -ENOMEM;
        it->skel = holders_bpf__open_and_load();
        if (!it->skel)
                return errbuf_set(e, -EOPNOTSUPP, "cannot load the holders iterator: %s",
                                  bpf_util_libbpf_last()[0] ? bpf_util_libbpf_last()
                                                            : strerror(errno));
        it->link = bpf_program__attach_iter(it->skel->progs.portiso_holders, NULL);
        if (!it->link)
                return errbuf_set(e, -EOPNOTSUPP, "cannot attach the holders iterator: %s",
                                  strerror(errno));
        *ret = TAKE_PTR(it);
        return 0;
}

size_t holders_iter_max_candidates(void)
{
        return HOLDERS_MAX_CANDIDATES;
}

static bool sorted_contains(const uint64_t *v, size_t n, uint64_t x)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (v[mid] == x)
                        return true;
                if (v[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

/* Make the candidates map hold exactly inodes[0..n). */
static int sync_candidates(struct holders_iter *it, const uint64_t *inodes, size_t n)
{
        int fd = bpf_map__fd(it->skel->maps.candidates);
        uint8_t one = 1;

        if (n == it->n_cands && memcmp(inodes, it->cands, n * sizeof(*inodes)) == 0)
                return 0;
        uint64_t *copy = malloc(MAX(n, (size_t)1) * sizeof(*copy));
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < it->n_cands; i++)
                if (!sorted_contains(inodes, n, it->cands[i]) &&
                    bpf_map_delete_elem(fd, &it->cands[i]) < 0 && errno != ENOENT) {
                        free(copy);
                        return negative_errno();
                }
        /* The map may now hold a subset of both sets: remember the smaller truth
         * until every insert went through. */
        size_t kept = 0;
        for (size_t i = 0; i < it->n_cands; i++)
                if (sorted_contains(inodes, n, it->cands[i]))
                        it->cands[kept++] = it->cands[i];
        it->n_cands = kept;
        for (size_t i = 0; i < n; i++)
                if (bpf_map_update_elem(fd, &inodes[i], &one, BPF_ANY) < 0) {
                        free(copy);
                        return negative_errno();
                }
        memcpy(copy, inodes, n * sizeof(*copy));
        free(it->cands);
        it->cands = copy;
        it->n_cands = n;
        return 0;
}

int holders_iter_run(struct holders_iter *it, const uint64_t *inodes, size_t n, holders_iter_fn fn,
                     void *userdata)
{
        struct holders_record buf[512];
        size_t have = 0;
        int r;

        if (n > HOLDERS_MAX_CANDIDATES)
                return -E2BIG;
        r = sync_candidates(it, inodes, n);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;

        _cleanup_close_ int fd = bpf_iter_create(bpf_link__fd(it->link));
        if (fd < 0)
                return fd; /* libbpf returns -errno */
        for (;;) {
                ssize_t k = read(fd, (char *)buf + have, sizeof(buf) - have);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                have += (size_t)k;
                size_t whole = have / sizeof(buf[0]);
                for (size_t i = 0; i < whole; i++) {
                        r = fn((pid_t)buf[i].tgid, buf[i].cgroup_id, buf[i].inode, userdata);
                        if (r < 0)
                                return r;
                }
                /* The seq_file never splits a record; keep any tail anyway. */
                memmove(buf, (char *)buf + whole * sizeof(buf[0]), have % sizeof(buf[0]));
                have %= sizeof(buf[0]);
        }
        return 0;
}
