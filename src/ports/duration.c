/* duration.c - Mesos duration strings; see duration.h.
 *
 * Mesos (stout's Duration::parse) reads a run of digits and dots as a double,
 * and the rest of the string must be exactly one unit name. The double is a
 * source of rounding ("0.3secs" is not 300000000ns in binary floating point),
 * so this parser does the same in fixed point: the integer part and up to 18
 * fraction digits are scaled by the unit in 128-bit arithmetic and truncated
 * to whole nanoseconds, as Mesos truncates. Values are capped at INT64_MAX ns
 * (Mesos stores an int64, and callers may convert to signed time types), and
 * anything larger is -ERANGE. Surrounding whitespace is tolerated; a sign, a
 * space between number and unit, or a missing unit are errors. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "duration.h"
#include "excerpt.h"

struct duration_unit {
        const char *name;
        uint64_t ns;
};

/* Largest first: duration_format() picks the first unit that divides. */
static const struct duration_unit units[] = {
    {"weeks", 7 * 24 * 3600 * NSEC_PER_SEC},
    {"days", 24 * 3600 * NSEC_PER_SEC},
    {"hrs", 3600 * NSEC_PER_SEC},
    {"mins", 60 * NSEC_PER_SEC},
    {"secs", NSEC_PER_SEC},
    {"ms", NSEC_PER_MSEC},
    {"us", NSEC_PER_USEC},
    {"ns", 1},
};

#define DURATION_MAX ((uint64_t)INT64_MAX)
#define FRACTION_DIGITS_MAX 18

static const char unit_list[] = "ns, us, ms, secs, mins, hrs, days, weeks";

int duration_parse(const char *text, uint64_t *ret_ns, struct errbuf *e)
{
        const char *p, *end, *unit;
        uint64_t whole = 0, frac = 0, scale = 1;
        size_t digits = 0, dots = 0;
        bool overflow = false;
        struct excerpt x, xu;

        if (!text)
                return errbuf_set(e, -EINVAL, "invalid duration: no value given");

        p = text;
        while (isspace((unsigned char)*p))
                p++;
        end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
                end--;
        if (p == end)
                return errbuf_set(e, -EINVAL,
                                  "invalid duration '%s': empty, expected a number and a unit (%s)",
                                  excerpt(&x, text), unit_list);
        if (*p == '-')
                return errbuf_set(e, -EINVAL,
                                  "invalid duration '%s': negative durations are not allowed",
                                  excerpt(&x, text));

        for (; p < end && (isdigit((unsigned char)*p) || *p == '.'); p++) {
                if (*p == '.') {
                        dots++;
                        continue;
                }
                digits++;
                unsigned d = (unsigned)(*p - '0');
                if (dots == 0) {
                        if (whole > (UINT64_MAX - d) / 10)
                                overflow = true;
                        else
                                whole = whole * 10 + d;
                } else if (scale < 1000000000000000000ULL) {
                        frac = frac * 10 + d;
                        scale *= 10;
                }
        }
        unit = p;

        if (digits == 0)
                return errbuf_set(e, -EINVAL,
                                  "invalid duration '%s': expected a number before the unit",
                                  excerpt(&x, text));
        if (dots > 1)
                return errbuf_set(e, -EINVAL,
                                  "invalid duration '%s': more than one '.' in the number",
                                  excerpt(&x, text));
        if (unit == end)
                return errbuf_set(e, -EINVAL, "invalid duration '%s': missing unit (%s)",
                                  excerpt(&x, text), unit_list);

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                size_t n = strlen(units[i].name);
                if ((size_t)(end - unit) != n || strncmp(unit, units[i].name, n) != 0)
                        continue;

                unsigned __int128 ns = (unsigned __int128)whole * units[i].ns +
                                       (unsigned __int128)frac * units[i].ns / scale;
                if (overflow || ns > DURATION_MAX)
                        return errbuf_set(e, -ERANGE, "invalid duration '%s': too large",
                                          excerpt(&x, text));
                *ret_ns = (uint64_t)ns;
                return 0;
        }
        return errbuf_set(e, -EINVAL,
                          "invalid duration '%s': unknown unit '%s' (expected one of %s)",
                          excerpt(&x, text), excerpt_n(&xu, unit, (size_t)(end - unit)), unit_list);
}

void duration_format(uint64_t ns, struct strbuf *out)
{
        if (ns == 0) {
                strbuf_puts(out, "0ns");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (ns % units[i].ns == 0) {
                        strbuf_addf(out, "%llu%s", (unsigned long long)(ns / units[i].ns),
                                    units[i].name);
                        return;
                }
}
