/* portset.h - a set of TCP/UDP ports (0..65535) as sorted, merged ranges.
 *
 * Like redis' intset, a small data structure with a tiny complete API. Port
 * sets are sparse runs ([31000-32000]) far more often than scattered values,
 * so they are stored as a sorted array of disjoint, non-adjacent closed ranges:
 * membership is a binary search and set algebra is a linear merge. Pure logic:
 * no system calls, no logging; errors are negative errno (-ENOMEM, -EINVAL). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "basic/strbuf.h"

struct port_range {
        uint16_t begin; /* inclusive */
        uint16_t end;   /* inclusive, >= begin */
};

struct portset {
        struct port_range *ranges; /* sorted, disjoint, never adjacent */
        size_t n;
        size_t alloc;
};

#define PORTSET_INIT                                                                               \
        {                                                                                          \
                0                                                                                  \
        }

/* Iterate ranges: PORTSET_FOREACH(r, set) { r->begin ... r->end } */
#define PORTSET_FOREACH(r, s)                                                                      \
        for (const struct port_range *r = (s)->ranges; r < (s)->ranges + (s)->n; r++)

/* Free the ranges and reset to empty. */
void portset_clear(struct portset *s);
/* Empty the set, keep the allocation. */
void portset_reset(struct portset *s);
/* Add [begin, end]; -EINVAL if begin > end. */
int portset_add_range(struct portset *s, uint16_t begin, uint16_t end);
/* Add one port. */
int portset_add(struct portset *s, uint16_t port);
/* Remove [begin, end] (may split a range); -EINVAL if begin > end. */
int portset_remove_range(struct portset *s, uint16_t begin, uint16_t end);
/* Remove one port. */
int portset_remove(struct portset *s, uint16_t port);
/* True if port is in the set. */
bool portset_contains(const struct portset *s, uint16_t port);
/* True if the set holds no port. */
bool portset_is_empty(const struct portset *s);
/* Number of ports in the set (up to 65536). */
uint32_t portset_count(const struct portset *s);
/* True if every port of a is in b. */
bool portset_is_subset(const struct portset *a, const struct portset *b);
/* True if a and b hold the same ports. */
bool portset_equal(const struct portset *a, const struct portset *b);
/* *dst = copy of src. */
int portset_copy(struct portset *dst, const struct portset *src);
/* dst |= src. */
int portset_union(struct portset *dst, const struct portset *src);
/* dst = a - b (dst may alias either operand). */
int portset_subtract(struct portset *dst, const struct portset *a, const struct portset *b);
/* dst = a & b (dst may alias either operand). */
int portset_intersect(struct portset *dst, const struct portset *a, const struct portset *b);
/* Append the Mesos text form "[31000-32000, 33000-33005]" ("[]" when empty). */
void portset_format(const struct portset *s, struct strbuf *out);
/* Same, for a log line: at most max ranges, then " and N more range(s)". */
void portset_format_capped(const struct portset *s, size_t max, struct strbuf *out);
/* Same as portset_format(), as a malloc'd string (NULL on OOM). */
char *portset_to_string(const struct portset *s);

static inline void portset_clearp(struct portset *s)
{
        portset_clear(s);
}
#define _cleanup_portset_ _cleanup_(portset_clearp)
