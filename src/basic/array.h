/* array.h - growable arrays, after systemd's GREEDY_REALLOC.
 *
 * A growable array is a pointer, a count and a capacity. GREEDY_REALLOC()
 * makes room for `need` elements, at least doubling the capacity so that n
 * pushes cost O(n) in all; the element type comes from the pointer, so it
 * is kept and checked. Header-only. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/* Ensure v (an lvalue, capacity in the lvalue alloc) holds at least need
 * elements: evaluates to 0, or -ENOMEM with v and alloc unchanged. */
#define GREEDY_REALLOC(v, alloc, need)                                                             \
        ({                                                                                         \
                size_t _need_ = (need);                                                            \
                int _r_ = 0;                                                                       \
                if (_need_ > (alloc)) {                                                            \
                        size_t _na_ = (alloc) ? 2 * (alloc) : 16;                                  \
                        if (_na_ < _need_)                                                         \
                                _na_ = _need_;                                                     \
                        __typeof__(v) _nv_ = reallocarray((v), _na_, sizeof(*(v)));                \
                        if (_nv_) {                                                                \
                                (v) = _nv_;                                                        \
                                (alloc) = _na_;                                                    \
                        } else                                                                     \
                                _r_ = -ENOMEM;                                                     \
                }                                                                                  \
                _r_;                                                                               \
        })

/* Append item to v[0..n): evaluates to 0, or -ENOMEM with nothing changed. */
#define ARRAY_PUSH(v, n, alloc, item)                                                              \
        ({                                                                                         \
                int _pr_ = GREEDY_REALLOC(v, alloc, (n) + 1);                                      \
                if (_pr_ == 0)                                                                     \
                        (v)[(n)++] = (item);                                                       \
                _pr_;                                                                              \
        })
