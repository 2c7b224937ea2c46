/* cmp.h - three-way comparisons for qsort() and bsearch(), written once.
 *
 * CMP() orders any two scalars. cmp_uint64() compares the uint64_t that a
 * pointer points to, which is also the first member of a record keyed by
 * one (a cgroup id, a socket inode): such records sort with it as they are,
 * since a pointer to a struct points to its first member. cmp_string()
 * orders an array of C strings. */
#pragma once

#include <stdint.h>
#include <string.h>

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

static inline int cmp_uint64(const void *a, const void *b)
{
        return CMP(*(const uint64_t *)a, *(const uint64_t *)b);
}

static inline int cmp_string(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}
