/* resources.c - the `ports` part of Mesos resources, text and JSON; see resources.h.
 *
 * Text form, as Mesos' Resources::parse: entries separated by ';' (empty
 * entries ignored), each "name:value" or "name(role):value". Whatever stands
 * inside the parentheses (a role, or role plus reservation details) is
 * accepted and ignored, since portiso keeps no per-role accounting: ports of
 * every role are united. A value is ranges "[...]", a set "{a,b}" or a
 * non-negative number; `ports` must be ranges. Other resources are checked for
 * shape only, so a typo anywhere in the flag is still reported.
 *
 * JSON form: an array of protobuf-JSON Resource objects, each with a string
 * "name" and "type" (SCALAR, RANGES, SET) and the matching value field.
 *
 * Parsing never touches the outputs until the whole input is valid. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "excerpt.h"
#include "ranges.h"
#include "resources.h"

/* One trimmed [begin, end) slice of the input text. */
struct slice {
        const char *p;
        size_t len;
};

static struct slice slice_trim(const char *p, size_t len)
{
        while (len > 0 && isspace((unsigned char)*p)) {
                p++;
                len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
                len--;
        return (struct slice){p, len};
}

static bool slice_eq(struct slice s, const char *word)
{
        return s.len == strlen(word) && memcmp(s.p, word, s.len) == 0;
}

static bool valid_name_char(char c)
{
        return isalnum((unsigned char)c) || strchr("_-./", c);
}

/* Check a non-ports value for shape: "[...]", "{...}" or a number >= 0. */
static int check_other_value(struct slice entry, struct slice value, struct errbuf *e)
{
        struct excerpt x;
        char *endp;

        if (value.p[0] == '[' || value.p[0] == '{') {
                char close = value.p[0] == '[' ? ']' : '}';
                if (value.len < 2 || value.p[value.len - 1] != close ||
                    memchr(value.p + 1, close, value.len - 2))
                        return errbuf_set(e, -EINVAL, "invalid resource '%s': unbalanced '%c'",
                                          excerpt_n(&x, entry.p, entry.len), value.p[0]);
                return 0;
        }

        _cleanup_free_ char *num = strndup(value.p, value.len);
        if (!num)
                return -ENOMEM;
        errno = 0;
        double d = strtod(num, &endp);
        if (endp == num || *endp != '\0' || errno == ERANGE || !isfinite(d) || d < 0)
                return errbuf_set(e, -EINVAL,
                                  "invalid resource '%s': expected a non-negative number, "
                                  "\"[ranges]\" or \"{set}\"",
                                  excerpt_n(&x, entry.p, entry.len));
        return 0;
}

/* Parse one "name[(role)]:value" entry; unite ports into *ports. */
static int parse_text_entry(struct slice entry, struct portset *ports, bool *has_ports,
                            struct errbuf *e)
{
        const char *colon = memchr(entry.p, ':', entry.len);
        const char *paren = memchr(entry.p, '(', entry.len);
        struct excerpt x;
        struct slice name, value;

        if (!colon)
                return errbuf_set(e, -EINVAL, "invalid resource '%s': expected 'name:value'",
                                  excerpt_n(&x, entry.p, entry.len));
        if (paren && paren < colon) {
                const char *close = memchr(paren, ')', (size_t)(entry.p + entry.len - paren));
                struct slice after;
                if (!close)
                        return errbuf_set(e, -EINVAL, "invalid resource '%s': missing ')'",
                                          excerpt_n(&x, entry.p, entry.len));
                if (close == paren + 1)
                        return errbuf_set(e, -EINVAL, "invalid resource '%s': empty role '()'",
                                          excerpt_n(&x, entry.p, entry.len));
                colon = memchr(close, ':', (size_t)(entry.p + entry.len - close));
                after = slice_trim(close + 1, colon ? (size_t)(colon - close - 1) : 0);
                if (!colon || after.len > 0)
                        return errbuf_set(e, -EINVAL,
                                          "invalid resource '%s': expected ':' after ')'",
                                          excerpt_n(&x, entry.p, entry.len));
                name = slice_trim(entry.p, (size_t)(paren - entry.p));
        } else
                name = slice_trim(entry.p, (size_t)(colon - entry.p));
        value = slice_trim(colon + 1, (size_t)(entry.p + entry.len - colon - 1));

        if (name.len == 0)
                return errbuf_set(e, -EINVAL, "invalid resource '%s': missing name",
                                  excerpt_n(&x, entry.p, entry.len));
        for (size_t i = 0; i < name.len; i++)
                if (!valid_name_char(name.p[i]))
                        return errbuf_set(e, -EINVAL, "invalid resource '%s': bad name",
                                          excerpt_n(&x, entry.p, entry.len));
        if (value.len == 0)
                return errbuf_set(e, -EINVAL, "invalid resource '%s': missing value",
                                  excerpt_n(&x, entry.p, entry.len));

        if (!slice_eq(name, "ports"))
                return check_other_value(entry, value, e);

        if (value.p[0] != '[')
                return errbuf_set(
                    e, -EINVAL, "invalid resource '%s': ports must be ranges \"[begin-end, ...]\"",
                    excerpt_n(&x, entry.p, entry.len));

        _cleanup_free_ char *text = strndup(value.p, value.len);
        _cleanup_portset_ struct portset set = PORTSET_INIT;
        if (!text)
                return -ENOMEM;
        int r = ranges_parse(text, &set, e);
        if (r < 0)
                return errbuf_prefix(e, r, "invalid resource '%s'",
                                     excerpt_n(&x, name.p, (size_t)(colon - name.p)));
        r = portset_union(ports, &set);
        if (r < 0)
                return r;
        *has_ports = true;
        return 0;
}

static int parse_text(const char *text, struct portset *ret_ports, bool *ret_has_ports,
                      struct errbuf *e)
{
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        bool has_ports = false;
        const char *p = text;

        for (;;) {
                const char *semi = strchr(p, ';');
                size_t len = semi ? (size_t)(semi - p) : strlen(p);
                struct slice entry = slice_trim(p, len);

                if (entry.len > 0) {
                        int r = parse_text_entry(entry, &ports, &has_ports, e);
                        if (r < 0)
                                return r;
                }
                if (!semi)
                        break;
                p = semi + 1;
        }

        portset_clear(ret_ports);
        *ret_ports = ports;
        ports = (struct portset)PORTSET_INIT;
        *ret_has_ports = has_ports;
        return 0;
}

int resources_parse_ports(const char *text, struct portset *ret_ports, bool *ret_has_ports,
                          struct errbuf *e)
{
        const char *p = text;
        struct excerpt x;

        if (!text)
                return errbuf_set(e, -EINVAL, "invalid resources: no value given");
        while (isspace((unsigned char)*p))
                p++;
        if (*p != '[')
                return parse_text(text, ret_ports, ret_has_ports, e);

        json_error_t jerr;
        json_t *j = json_loads(p, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return errbuf_set(e, -EINVAL, "invalid resources JSON '%s': %s (column %d)",
                                  excerpt(&x, p), jerr.text, jerr.column);
        int r = resources_ports_from_json(j, ret_ports, ret_has_ports, e);
        json_decref(j);
        return r;
}

/* Validate the value field that goes with a non-ports resource's type. */
static int check_json_value(const json_t *res, const char *name, const char *type, struct errbuf *e)
{
        if (strcmp(type, "SCALAR") == 0) {
                const json_t *v = json_object_get(json_object_get(res, "scalar"), "value");
                if (!json_is_number(v) || json_number_value(v) < 0)
                        return errbuf_set(e, -EINVAL,
                                          "invalid resource '%s': SCALAR needs "
                                          "\"scalar\":{\"value\":N} with N >= 0",
                                          name);
                return 0;
        }
        if (strcmp(type, "RANGES") == 0) {
                if (!json_is_object(json_object_get(res, "ranges")))
                        return errbuf_set(e, -EINVAL,
                                          "invalid resource '%s': RANGES needs a \"ranges\" object",
                                          name);
                return 0;
        }
        if (strcmp(type, "SET") == 0) {
                if (!json_is_object(json_object_get(res, "set")))
                        return errbuf_set(
                            e, -EINVAL, "invalid resource '%s': SET needs a \"set\" object", name);
                return 0;
        }
        return errbuf_set(
            e, -EINVAL, "invalid resource '%s': unknown type '%s' (expected SCALAR, RANGES or SET)",
            name, type);
}

int resources_ports_from_json(const json_t *array, struct portset *ret_ports, bool *ret_has_ports,
                              struct errbuf *e)
{
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        bool has_ports = false;
        const json_t *res;
        struct excerpt x;
        size_t i;
        int r;

        if (!json_is_array(array))
                return errbuf_set(e, -EINVAL,
                                  "invalid resources: expected a JSON array of resources");

        json_array_foreach(array, i, res)
        {
                _cleanup_free_ char *dump = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
                const char *shown = excerpt(&x, dump ? dump : "?");
                const char *name = json_string_value(json_object_get(res, "name"));
                const char *type = json_string_value(json_object_get(res, "type"));

                if (!json_is_object(res))
                        return errbuf_set(e, -EINVAL, "invalid resource %s: expected an object",
                                          shown);
                if (!name || !*name)
                        return errbuf_set(e, -EINVAL, "invalid resource %s: missing \"name\"",
                                          shown);
                if (!type)
                        return errbuf_set(e, -EINVAL, "invalid resource %s: missing \"type\"",
                                          shown);
                if (strcmp(name, "ports") != 0) {
                        r = check_json_value(res, name, type, e);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (strcmp(type, "RANGES") != 0)
                        return errbuf_set(
                            e, -EINVAL, "invalid resource %s: ports must have type RANGES, not %s",
                            shown, type);

                const json_t *ranges = json_object_get(res, "ranges");
                _cleanup_portset_ struct portset set = PORTSET_INIT;
                if (!ranges)
                        return errbuf_set(e, -EINVAL, "invalid resource %s: missing \"ranges\"",
                                          shown);
                r = ranges_from_json(ranges, &set, e);
                if (r < 0)
                        return errbuf_prefix(e, r, "invalid resource 'ports'");
                r = portset_union(&ports, &set);
                if (r < 0)
                        return r;
                has_ports = true;
        }

        portset_clear(ret_ports);
        *ret_ports = ports;
        ports = (struct portset)PORTSET_INIT;
        *ret_has_ports = has_ports;
        return 0;
}

json_t *resources_ports_to_json(const struct portset *ports)
{
        json_t *res = json_object();
        json_t *list;

        /* json_object_set_new() consumes its value even when it fails. */
        if (!res || json_object_set_new(res, "name", json_string("ports")) < 0 ||
            json_object_set_new(res, "type", json_string("RANGES")) < 0 ||
            json_object_set_new(res, "ranges", ranges_to_json(ports)) < 0) {
                json_decref(res);
                return NULL;
        }
        list = json_array();
        if (json_array_append_new(list, res) < 0) {
                json_decref(list);
                return NULL;
        }
        return list;
}
