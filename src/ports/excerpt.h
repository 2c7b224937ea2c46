/* excerpt.h - private to src/ports: quote user input inside a one-line error.
 *
 * Parser errors name the offending input ("invalid ranges '[5-1]': ..."), but
 * that input may be long or hold newlines (flags, JSON bodies), and an errbuf
 * promises one line. An excerpt is the input cut to a bounded length with
 * control characters shown as '?' and "..." marking a cut. */
#pragma once

#include <stddef.h>

#define EXCERPT_MAX 96

struct excerpt {
        char s[EXCERPT_MAX + 4];
};

/* Bounded, single-line copy of len bytes of text (stops early at a NUL). */
static inline const char *excerpt_n(struct excerpt *x, const char *text, size_t len)
{
        size_t i = 0;

        for (; i < len && i < EXCERPT_MAX && text[i]; i++)
                x->s[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
        x->s[i] = '\0';
        if (i == EXCERPT_MAX && i < len && text[i]) {
                x->s[i++] = '.';
                x->s[i++] = '.';
                x->s[i++] = '.';
                x->s[i] = '\0';
        }
        return x->s;
}

/* Same for a NUL-terminated string. */
static inline const char *excerpt(struct excerpt *x, const char *text)
{
        return excerpt_n(x, text, (size_t)-1);
}
