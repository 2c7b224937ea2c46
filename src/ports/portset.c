/* portset.c - port sets as sorted arrays of merged closed ranges; see portset.h.
 *
 * Invariant: ranges[i].end + 1 < ranges[i + 1].begin for every i, i.e. ranges
 * are sorted, disjoint and never adjacent, so each set has exactly one
 * representation and equality is a memcmp. Adjacency is tested in 32-bit
 * arithmetic (end + 1 of 65535 is 65536, not 0), which keeps [65535-65535]
 * and [0-0] apart.
 *
 * Single-range updates (add, remove) find their place by binary search and
 * memmove the tail. Set algebra (union, subtract, intersect) is a linear merge
 * of the two sorted arrays into a fresh array that replaces the destination
 * only once it is complete: on -ENOMEM the destination is untouched, and the
 * destination may alias either operand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "portset.h"

/* Make room for at least want ranges. */
static int portset_reserve(struct portset *s, size_t want)
{
        if (want <= s->alloc)
                return 0;
        size_t n = MAX(MAX(s->alloc * 2, want), (size_t)4);
        struct port_range *r = reallocarray(s->ranges, n, sizeof(*r));
        if (!r)
                return -ENOMEM;
        s->ranges = r;
        s->alloc = n;
        return 0;
}

/* Append [begin, end] to a set being built in ascending order of begin,
 * merging it into the last range when they overlap or touch. */
static int portset_append(struct portset *s, uint16_t begin, uint16_t end)
{
        if (s->n > 0) {
                struct port_range *last = &s->ranges[s->n - 1];
                if ((uint32_t)begin <= (uint32_t)last->end + 1) {
                        last->end = MAX(last->end, end);
                        return 0;
                }
        }
        int r = portset_reserve(s, s->n + 1);
        if (r < 0)
                return r;
        s->ranges[s->n++] = (struct port_range){.begin = begin, .end = end};
        return 0;
}

/* Replace *dst by *tmp, taking tmp's allocation. */
static void portset_move(struct portset *dst, struct portset *tmp)
{
        portset_clear(dst);
        *dst = *tmp;
        *tmp = (struct portset)PORTSET_INIT;
}

/* Index of the first range whose end + 1 >= port (the first range that holds
 * port, touches it from the left, or lies after it); s->n when none. */
static size_t portset_lower_bound(const struct portset *s, uint32_t port)
{
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if ((uint32_t)s->ranges[mid].end + 1 < port)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

void portset_clear(struct portset *s)
{
        free(s->ranges);
        *s = (struct portset)PORTSET_INIT;
}

void portset_reset(struct portset *s)
{
        s->n = 0;
}

int portset_add_range(struct portset *s, uint16_t begin, uint16_t end)
{
        if (begin > end)
                return -EINVAL;

        /* Ranges [i, j) overlap or touch [begin, end] and collapse into one. */
        size_t i = portset_lower_bound(s, begin);
        size_t j = i;
        while (j < s->n && (uint32_t)s->ranges[j].begin <= (uint32_t)end + 1)
                j++;

        if (i == j) {
                int r = portset_reserve(s, s->n + 1);
                if (r < 0)
                        return r;
                memmove(&s->ranges[i + 1], &s->ranges[i], (s->n - i) * sizeof(s->ranges[0]));
                s->ranges[i] = (struct port_range){.begin = begin, .end = end};
                s->n++;
                return 0;
        }

        s->ranges[i].begin = MIN(s->ranges[i].begin, begin);
        s->ranges[i].end = MAX(s->ranges[j - 1].end, end);
        memmove(&s->ranges[i + 1], &s->ranges[j], (s->n - j) * sizeof(s->ranges[0]));
        s->n -= j - i - 1;
        return 0;
}

int portset_add(struct portset *s, uint16_t port)
{
        return portset_add_range(s, port, port);
}

int portset_remove_range(struct portset *s, uint16_t begin, uint16_t end)
{
        if (begin > end)
                return -EINVAL;

        /* First range that ends at or after begin. */
        size_t i = portset_lower_bound(s, (uint32_t)begin + 1);
        if (i == s->n || s->ranges[i].begin > end)
                return 0;

        struct port_range *cur = &s->ranges[i];
        if (cur->begin < begin && cur->end > end) {
                /* Strictly inside one range: split it in two. */
                int r = portset_reserve(s, s->n + 1);
                if (r < 0)
                        return r;
                memmove(&s->ranges[i + 1], &s->ranges[i], (s->n - i) * sizeof(s->ranges[0]));
                s->ranges[i].end = begin - 1;
                s->ranges[i + 1].begin = end + 1;
                s->n++;
                return 0;
        }

        /* Keep the left part of the first range, if any. */
        if (cur->begin < begin) {
                cur->end = begin - 1;
                i++;
        }
        /* Drop ranges wholly inside [begin, end]. */
        size_t j = i;
        while (j < s->n && s->ranges[j].end <= end)
                j++;
        /* Trim the left part of a range that starts inside and ends after. */
        if (j < s->n && s->ranges[j].begin <= end)
                s->ranges[j].begin = end + 1;
        memmove(&s->ranges[i], &s->ranges[j], (s->n - j) * sizeof(s->ranges[0]));
        s->n -= j - i;
        return 0;
}

int portset_remove(struct portset *s, uint16_t port)
{
        return portset_remove_range(s, port, port);
}

bool portset_contains(const struct portset *s, uint16_t port)
{
        size_t i = portset_lower_bound(s, (uint32_t)port + 1);
        return i < s->n && s->ranges[i].begin <= port;
}

bool portset_is_empty(const struct portset *s)
{
        return s->n == 0;
}

uint32_t portset_count(const struct portset *s)
{
        uint32_t c = 0;

        PORTSET_FOREACH (r, s)
                c += (uint32_t)r->end - r->begin + 1;
        return c;
}

bool portset_is_subset(const struct portset *a, const struct portset *b)
{
        size_t j = 0;

        /* Ranges are maximal, so each range of a must fit inside one of b. */
        PORTSET_FOREACH (r, a) {
                while (j < b->n && b->ranges[j].end < r->begin)
                        j++;
                if (j == b->n || b->ranges[j].begin > r->begin || b->ranges[j].end < r->end)
                        return false;
        }
        return true;
}

bool portset_equal(const struct portset *a, const struct portset *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->ranges[i].begin != b->ranges[i].begin ||
                    a->ranges[i].end != b->ranges[i].end)
                        return false;
        return true;
}

int portset_copy(struct portset *dst, const struct portset *src)
{
        if (dst == src)
                return 0;
        int r = portset_reserve(dst, src->n);
        if (r < 0)
                return r;
        if (src->n > 0)
                memcpy(dst->ranges, src->ranges, src->n * sizeof(src->ranges[0]));
        dst->n = src->n;
        return 0;
}

int portset_union(struct portset *dst, const struct portset *src)
{
        _cleanup_portset_ struct portset tmp = PORTSET_INIT;
        size_t i = 0, j = 0;
        int r;

        if (src->n == 0 || dst == src)
                return 0;
        r = portset_reserve(&tmp, dst->n + src->n);
        if (r < 0)
                return r;
        /* Take ranges in order of begin; append merges overlaps. */
        while (i < dst->n || j < src->n) {
                const struct port_range *p;
                if (j == src->n || (i < dst->n && dst->ranges[i].begin <= src->ranges[j].begin))
                        p = &dst->ranges[i++];
                else
                        p = &src->ranges[j++];
                r = portset_append(&tmp, p->begin, p->end);
                if (r < 0)
                        return r;
        }
        portset_move(dst, &tmp);
        return 0;
}

int portset_subtract(struct portset *dst, const struct portset *a, const struct portset *b)
{
        _cleanup_portset_ struct portset tmp = PORTSET_INIT;
        size_t j = 0;
        int r;

        PORTSET_FOREACH (p, a) {
                uint32_t begin = p->begin; /* first port of p not yet handled */

                while (j < b->n && b->ranges[j].end < begin)
                        j++;
                /* Cut every range of b that starts inside p out of it. */
                for (size_t k = j; k < b->n && b->ranges[k].begin <= p->end; k++) {
                        if (b->ranges[k].begin > begin) {
                                r = portset_append(&tmp, begin, b->ranges[k].begin - 1);
                                if (r < 0)
                                        return r;
                        }
                        begin = (uint32_t)b->ranges[k].end + 1;
                        if (begin > p->end)
                                break;
                }
                if (begin <= p->end) {
                        r = portset_append(&tmp, begin, p->end);
                        if (r < 0)
                                return r;
                }
        }
        portset_move(dst, &tmp);
        return 0;
}

int portset_intersect(struct portset *dst, const struct portset *a, const struct portset *b)
{
        _cleanup_portset_ struct portset tmp = PORTSET_INIT;
        size_t i = 0, j = 0;
        int r;

        while (i < a->n && j < b->n) {
                uint16_t lo = MAX(a->ranges[i].begin, b->ranges[j].begin);
                uint16_t hi = MIN(a->ranges[i].end, b->ranges[j].end);
                if (lo <= hi) {
                        r = portset_append(&tmp, lo, hi);
                        if (r < 0)
                                return r;
                }
                /* Advance whichever range ends first; it cannot meet anything later. */
                if (a->ranges[i].end < b->ranges[j].end)
                        i++;
                else
                        j++;
        }
        portset_move(dst, &tmp);
        return 0;
}

void portset_format(const struct portset *s, struct strbuf *out)
{
        strbuf_putc(out, '[');
        PORTSET_FOREACH (r, s) {
                strbuf_addf(out, "%s%u-%u", r == s->ranges ? "" : ", ", (unsigned)r->begin,
                            (unsigned)r->end);
        }
        strbuf_putc(out, ']');
}

void portset_format_capped(const struct portset *s, size_t max, struct strbuf *out)
{
        size_t more = s->n > max ? s->n - max : 0;
        struct portset head = *s; /* a view of the first ranges, never freed */

        head.n -= more;
        portset_format(&head, out);
        if (more)
                strbuf_addf(out, " and %zu more range%s", more, more == 1 ? "" : "s");
}

char *portset_to_string(const struct portset *s)
{
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        portset_format(s, &sb);
        return strbuf_detach(&sb);
}
