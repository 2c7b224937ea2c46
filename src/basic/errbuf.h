/* errbuf.h - a one-line, human-readable error message beside a negative errno.
 *
 * Parsers (ranges, resources, durations, flags, JSON calls) must tell the user
 * *what* was wrong in one line ("invalid range '[5-1]': begin > end"), which a
 * bare -EINVAL cannot. Such functions take an optional `struct errbuf *` and
 * return errbuf_set(e, -EINVAL, "..."), so the errno convention is kept and the
 * caller decides whether and where to print the line. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "macro.h"

struct errbuf {
        char msg[512];
};

/* Record a formatted message in *e (if e is not NULL) and return r. */
_printf_(3, 4) static inline int errbuf_set(struct errbuf *e, int r, const char *fmt, ...)
{
        if (e) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
                va_end(ap);
        }
        return r;
}

/* Prefix the message already in *e with a formatted context and ": ". */
_printf_(3, 4) static inline int errbuf_prefix(struct errbuf *e, int r, const char *fmt, ...)
{
        if (e) {
                char head[256], tail[sizeof(e->msg)];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(head, sizeof(head), fmt, ap);
                va_end(ap);
                snprintf(tail, sizeof(tail), "%s", e->msg);
                /* Truncation is fine; checking the result keeps -Wformat-truncation quiet. */
                if (snprintf(e->msg, sizeof(e->msg), "%s: %s", head, tail) < 0)
                        e->msg[0] = '\0';
        }
        return r;
}
