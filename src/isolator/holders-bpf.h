/* holders-bpf.h - the fast holder search: holders_find() answered by a BPF
 * iter/task program reading every process' fd table in the kernel.
 *
 * holders_find() tries this first and falls back to its /proc walk when it
 * answers -EOPNOTSUPP: no BPF here (not root, no BTF, no iterator support,
 * a build without clang/bpftool), the v1 freezer path (no v2 cgroup ids to
 * match), more candidates than the map takes, or PORTISO_HOLDERS=proc in the
 * environment (to compare both). The iterator is loaded on first use and
 * kept in the isolator's struct holders until holders_free().
 *
 * Where the kernel has the tracepoints of holders.bpf.c, a search walks only
 * the containers a socket may have reached since the last one (see
 * holders-bpf.c); PORTISO_HOLDERS=walk walks every container every time. */
#pragma once

#include "isolator/holders.h"
#include "linux/bpfiter/holders_iter.h"

/* With the event programs, every container is walked at least once every
 * this many searches (one per pass). At the default 30 s watch interval a
 * socket that reached a container by a way no event covers is found within
 * 5 minutes, at 1 s within 10 s, while the full walk, about 8 ms at 1000
 * containers, costs a tenth of that per pass. */
#define HOLDERS_FULL_EVERY 10

/* A container (cgroup id) found holding a candidate (socket inode). */
struct holders_pair {
        uint64_t cgroup_id;
        uint64_t inode;
};

/* What holders.c keeps for this file. */
struct holders_bpf_state {
        struct holders_iter *iter;
        int state;   /* 0 not tried yet, 1 loaded, < 0 unavailable */
        bool events; /* walks may cover only the marked containers */
        struct errbuf error;
        /* The containers of the last search: (cgroup id, container) sorted
         * by id, the unique ids, and what they were built from. */
        struct cgid_entry *index, *seen;
        size_t n_index, n_seen;
        uint64_t *ids;
        size_t n_ids;
        bool index_valid;
        /* The answer that stands between walks, sorted, and the candidates
         * it was walked for. */
        struct holders_pair *held;
        size_t n_held, alloc_held;
        uint64_t *walked_cands;
        size_t n_walked_cands;
        bool walked_once;
        unsigned searches_since_full, full_every;
        uint64_t full_walks, partial_walks;
};

struct cgid_entry;

/* Same contract as holders_find(); -EOPNOTSUPP when the caller should walk
 * /proc instead. */
int holders_find_bpf(struct holders_bpf_state *s, const struct cg_hierarchy *h,
                     struct ports_container *const *cs, size_t n, const uint64_t *sorted_inodes,
                     size_t n_inodes, holders_found_fn found, void *userdata);
/* Free what the state holds (the iterator too). */
void holders_bpf_state_done(struct holders_bpf_state *s);
