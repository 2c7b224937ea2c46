/* sorted-array.h - arrays of pointers to records, kept sorted by a string key.
 *
 * The tables of containers keyed by id (the containerizer's, the ports
 * isolator's) are plain `T **` arrays sorted by strcmp() of one string
 * member: a lookup is a binary search, an insert moves the tail up by one.
 * A plain array keeps iteration in id order for free (a parent before its
 * nested containers) at one pointer per record. Header-only macros, after
 * systemd's GREEDY_REALLOC, so the element type is kept and checked. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "basic/array.h"

/* Binary search for key in v[0..n), pointers to records sorted by their
 * string `member`: evaluates to the index of the match (*ret_found = true),
 * else to the index where key belongs (*ret_found = false). */
#define SORTED_INDEX(v, n, member, key, ret_found)                                                 \
        ({                                                                                         \
                __typeof__(v) _v_ = (v);                                                           \
                const char *_key_ = (key);                                                         \
                size_t _lo_ = 0, _hi_ = (n);                                                       \
                bool _found_ = false;                                                              \
                while (_lo_ < _hi_) {                                                              \
                        size_t _mid_ = _lo_ + (_hi_ - _lo_) / 2;                                   \
                        int _c_ = strcmp(_v_[_mid_]->member, _key_);                               \
                        if (_c_ == 0) {                                                            \
                                _lo_ = _mid_;                                                      \
                                _found_ = true;                                                    \
                                break;                                                             \
                        }                                                                          \
                        if (_c_ < 0)                                                               \
                                _lo_ = _mid_ + 1;                                                  \
                        else                                                                       \
                                _hi_ = _mid_;                                                      \
                }                                                                                  \
                *(ret_found) = _found_;                                                            \
                _lo_;                                                                              \
        })

/* Insert item at index at (<= n) of the array v holding n of alloc slots,
 * growing it with GREEDY_REALLOC(): evaluates to 0, or -ENOMEM with
 * nothing changed. v, n and alloc are lvalues. */
#define ARRAY_INSERT_AT(v, n, alloc, at, item)                                                     \
        ({                                                                                         \
                size_t _at_ = (at), _n_ = (n);                                                     \
                int _r_ = GREEDY_REALLOC(v, alloc, _n_ + 1);                                       \
                if (_r_ == 0) {                                                                    \
                        memmove((v) + _at_ + 1, (v) + _at_, (_n_ - _at_) * sizeof(*(v)));          \
                        (v)[_at_] = (item);                                                        \
                        (n)++;                                                                     \
                }                                                                                  \
                _r_;                                                                               \
        })

/* Remove the element at index at (< n) of the array v holding n. */
#define ARRAY_REMOVE_AT(v, n, at)                                                                  \
        ({                                                                                         \
                size_t _at_ = (at), _n_ = (n);                                                     \
                memmove((v) + _at_, (v) + _at_ + 1, (_n_ - _at_ - 1) * sizeof(*(v)));              \
                (n)--;                                                                             \
        })
