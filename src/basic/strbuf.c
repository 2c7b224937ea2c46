/* strbuf.c - growable string builder; see strbuf.h. Grows geometrically so a
 * long table or JSON-free dump costs amortised O(n). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static bool strbuf_grow(struct strbuf *sb, size_t extra)
{
        if (sb->oom)
                return false;
        if (sb->len + extra + 1 <= sb->alloc)
                return true;
        size_t want = MAX(sb->alloc * 2, sb->len + extra + 1);
        want = MAX(want, (size_t)64);
        char *n = realloc(sb->buf, want);
        if (!n) {
                sb->oom = true;
                return false;
        }
        sb->buf = n;
        sb->alloc = want;
        return true;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
        if (!strbuf_grow(sb, len))
                return;
        memcpy(sb->buf + sb->len, data, len);
        sb->len += len;
        sb->buf[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
        strbuf_add(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
        strbuf_add(sb, &c, 1);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
        va_list ap;
        char small[256];

        va_start(ap, fmt);
        int n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n < sizeof(small)) {
                strbuf_add(sb, small, (size_t)n);
                return;
        }
        if (!strbuf_grow(sb, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sb->len += (size_t)n;
}

void strbuf_reset(struct strbuf *sb)
{
        sb->len = 0;
        if (sb->buf)
                sb->buf[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
        free(sb->buf);
        *sb = (struct strbuf)STRBUF_INIT;
}

char *strbuf_detach(struct strbuf *sb)
{
        char *s;

        if (sb->oom) {
                strbuf_release(sb);
                return NULL;
        }
        s = sb->buf ? sb->buf : strdup("");
        *sb = (struct strbuf)STRBUF_INIT;
        return s;
}

const char *strbuf_str(const struct strbuf *sb)
{
        return sb->buf ? sb->buf : "";
}
