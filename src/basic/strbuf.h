/* strbuf.h - one growable string builder for the whole project (after git's).
 *
 * Formatting ranges, JSON-free text output, tables and paths all append to a
 * strbuf instead of doing snprintf arithmetic by hand. Allocation failure is
 * reported once: the buffer remembers it and strbuf_detach() returns NULL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

struct strbuf {
        char *buf;  /* always NUL-terminated once anything was added */
        size_t len; /* bytes used, without the NUL */
        size_t alloc;
        bool oom; /* an append failed; contents are truncated */
};

#define STRBUF_INIT {0}

/* Append len bytes of data. */
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
/* Append a NUL-terminated string. */
void strbuf_puts(struct strbuf *sb, const char *s);
/* Append one character. */
void strbuf_putc(struct strbuf *sb, char c);
/* Append printf-formatted text. */
_printf_(2, 3) void strbuf_addf(struct strbuf *sb, const char *fmt, ...);
/* Forget the contents, keep the allocation. */
void strbuf_reset(struct strbuf *sb);
/* Free the buffer and reset to STRBUF_INIT. */
void strbuf_release(struct strbuf *sb);
/* Return the malloc'd string (never NULL unless out of memory) and reset sb. */
char *strbuf_detach(struct strbuf *sb);
/* Contents as a C string ("" when empty). */
const char *strbuf_str(const struct strbuf *sb);

static inline void strbuf_releasep(struct strbuf *sb)
{
        strbuf_release(sb);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_releasep)
