/* ranges.c - Mesos `Value.Ranges` text and JSON forms of a port set; see ranges.h.
 *
 * The text grammar follows Mesos (src/common/values.cpp): a bracketed list of
 * comma-separated "begin-end" elements. Mesos strips spaces and splits on the
 * delimiters, so it needs an even number of tokens: a lone "[5]" is rejected
 * there and here too (write "[5-5]"). Unlike Mesos' tokenizer, this parser is
 * a small hand-written scanner so that it can say precisely what is wrong and
 * where: Mesos silently accepts "[1-2,]" or "[1-2]x" through empty tokens,
 * which hides typos in flags, so both are errors here. Whitespace (including
 * newlines) is allowed around every token but not inside a number. Overlapping
 * or unsorted elements are merged, as Mesos coalesces them.
 *
 * JSON is the protobuf-JSON of Value.Ranges. A missing or null "range" is the
 * empty set. begin/end are JSON integers; since protobuf-JSON may print uint64
 * as a string, a string of decimal digits is accepted too. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "excerpt.h"
#include "ranges.h"

#define PORT_MAX 65535U

struct scanner {
        const char *text; /* the whole input, for error messages */
        const char *p;
        struct errbuf *e;
};

_printf_(2, 3) static int scan_fail(struct scanner *sc, const char *fmt, ...)
{
        char reason[256];
        struct excerpt x;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        return errbuf_set(sc->e, -EINVAL, "invalid ranges '%s': %s", excerpt(&x, sc->text), reason);
}

static void scan_skip_space(struct scanner *sc)
{
        while (isspace((unsigned char)*sc->p))
                sc->p++;
}

/* Describe what stands at the cursor, for "expected X at Y" messages. */
static const char *scan_here(struct scanner *sc, struct excerpt *x)
{
        return *sc->p ? excerpt_n(x, sc->p, 16) : "end of input";
}

/* Read one port number (decimal digits) at the cursor. */
static int scan_port(struct scanner *sc, uint16_t *ret)
{
        const char *start = sc->p;
        struct excerpt x;
        uint32_t v = 0;

        if (*sc->p == '-' && isdigit((unsigned char)sc->p[1])) {
                sc->p++;
                while (isdigit((unsigned char)*sc->p))
                        sc->p++;
                return scan_fail(sc, "%s is not a port (0-65535)",
                                 excerpt_n(&x, start, (size_t)(sc->p - start)));
        }
        if (!isdigit((unsigned char)*sc->p)) {
                if (*sc->p == '\0')
                        return scan_fail(sc, "missing ']'");
                return scan_fail(sc, "expected a port number at '%s'", scan_here(sc, &x));
        }
        for (; isdigit((unsigned char)*sc->p); sc->p++)
                if (v <= PORT_MAX)
                        v = v * 10 + (uint32_t)(*sc->p - '0');
        if (v > PORT_MAX)
                return scan_fail(sc, "%s is not a port (0-65535)",
                                 excerpt_n(&x, start, (size_t)(sc->p - start)));
        *ret = (uint16_t)v;
        return 0;
}

/* Read one "begin-end" element into s. */
static int scan_element(struct scanner *sc, struct portset *s)
{
        struct excerpt x;
        uint16_t begin, end;
        int r;

        if (*sc->p == ',' || *sc->p == ']')
                return scan_fail(sc, "empty element before '%c'", *sc->p);
        r = scan_port(sc, &begin);
        if (r < 0)
                return r;
        scan_skip_space(sc);
        if (*sc->p != '-') {
                if (*sc->p == ',' || *sc->p == ']')
                        return scan_fail(sc, "element '%u' is not a range, expected 'begin-end'",
                                         (unsigned)begin);
                if (*sc->p == '\0')
                        return scan_fail(sc, "missing ']'");
                return scan_fail(sc, "expected '-' after %u at '%s'", (unsigned)begin,
                                 scan_here(sc, &x));
        }
        sc->p++;
        scan_skip_space(sc);
        r = scan_port(sc, &end);
        if (r < 0)
                return r;
        if (begin > end)
                return scan_fail(sc, "range %u-%u is reversed (begin > end)", (unsigned)begin,
                                 (unsigned)end);
        return portset_add_range(s, begin, end);
}

int ranges_parse(const char *text, struct portset *ret, struct errbuf *e)
{
        _cleanup_portset_ struct portset tmp = PORTSET_INIT;
        struct scanner sc = {.text = text, .p = text, .e = e};
        struct excerpt x;
        int r;

        if (!text)
                return errbuf_set(e, -EINVAL, "invalid ranges: no value given");

        scan_skip_space(&sc);
        if (*sc.p == '\0')
                return scan_fail(&sc, "empty, expected \"[begin-end, ...]\"");
        if (*sc.p != '[')
                return scan_fail(&sc, "not a range list, expected \"[begin-end, ...]\"");
        sc.p++;
        scan_skip_space(&sc);

        if (*sc.p == ']')
                sc.p++;
        else
                for (;;) {
                        r = scan_element(&sc, &tmp);
                        if (r < 0)
                                return r;
                        scan_skip_space(&sc);
                        if (*sc.p == ']') {
                                sc.p++;
                                break;
                        }
                        if (*sc.p == '\0')
                                return scan_fail(&sc, "missing ']'");
                        if (*sc.p != ',')
                                return scan_fail(&sc, "expected ',' or ']' at '%s'",
                                                 scan_here(&sc, &x));
                        sc.p++;
                        scan_skip_space(&sc);
                }

        scan_skip_space(&sc);
        if (*sc.p != '\0')
                return scan_fail(&sc, "trailing characters '%s' after ']'", excerpt(&x, sc.p));

        portset_clear(ret);
        *ret = tmp;
        tmp = (struct portset)PORTSET_INIT;
        return 0;
}

/* The compact JSON text of j, bounded, for error messages. */
static const char *json_excerpt(struct excerpt *x, const json_t *j)
{
        _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

        return excerpt(x, s ? s : "(unprintable JSON)");
}

/* Read field `name` ("begin"/"end") of one range object as a port. */
static int json_port(const json_t *elem, const char *name, uint16_t *ret, struct errbuf *e)
{
        const json_t *v = json_object_get(elem, name);
        struct excerpt x;
        long long n;

        if (!v)
                return errbuf_set(e, -EINVAL, "invalid range %s: missing \"%s\"",
                                  json_excerpt(&x, elem), name);
        if (json_is_integer(v))
                n = json_integer_value(v);
        else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 6 &&
                 strspn(json_string_value(v), "0123456789") == json_string_length(v))
                n = strtoll(json_string_value(v), NULL, 10);
        else
                return errbuf_set(e, -EINVAL, "invalid range %s: \"%s\" is not an integer",
                                  json_excerpt(&x, elem), name);
        if (n < 0 || n > PORT_MAX)
                return errbuf_set(e, -EINVAL, "invalid range %s: %lld is not a port (0-65535)",
                                  json_excerpt(&x, elem), n);
        *ret = (uint16_t)n;
        return 0;
}

int ranges_from_json(const json_t *j, struct portset *ret, struct errbuf *e)
{
        _cleanup_portset_ struct portset tmp = PORTSET_INIT;
        const json_t *list, *elem;
        struct excerpt x;
        size_t i;
        int r;

        if (!json_is_object(j))
                return errbuf_set(e, -EINVAL,
                                  "invalid ranges %s: expected an object {\"range\":[...]}",
                                  j ? json_excerpt(&x, j) : "(none)");
        list = json_object_get(j, "range");
        if (list && !json_is_null(list) && !json_is_array(list))
                return errbuf_set(e, -EINVAL, "invalid ranges %s: \"range\" is not an array",
                                  json_excerpt(&x, j));

        json_array_foreach(list, i, elem)
        {
                uint16_t begin, end;

                if (!json_is_object(elem))
                        return errbuf_set(e, -EINVAL,
                                          "invalid range %s: expected {\"begin\":B,\"end\":E}",
                                          json_excerpt(&x, elem));
                r = json_port(elem, "begin", &begin, e);
                if (r < 0)
                        return r;
                r = json_port(elem, "end", &end, e);
                if (r < 0)
                        return r;
                if (begin > end)
                        return errbuf_set(e, -EINVAL, "invalid range %s: reversed (begin > end)",
                                          json_excerpt(&x, elem));
                r = portset_add_range(&tmp, begin, end);
                if (r < 0)
                        return r;
        }

        portset_clear(ret);
        *ret = tmp;
        tmp = (struct portset)PORTSET_INIT;
        return 0;
}

json_t *ranges_to_json(const struct portset *s)
{
        json_t *obj = json_object();
        json_t *list = json_array();

        /* set_new takes list even on failure, so only obj needs freeing. */
        if (json_object_set_new(obj, "range", list) < 0) {
                json_decref(obj);
                return NULL;
        }
        PORTSET_FOREACH (r, s) {
                json_t *range = json_object();
                if (!range || json_object_set_new(range, "begin", json_integer(r->begin)) < 0 ||
                    json_object_set_new(range, "end", json_integer(r->end)) < 0) {
                        json_decref(range);
                        json_decref(obj);
                        return NULL;
                }
                if (json_array_append_new(list, range) < 0) {
                        json_decref(obj);
                        return NULL;
                }
        }
        return obj;
}
