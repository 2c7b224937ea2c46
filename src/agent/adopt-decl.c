/* adopt-decl.c - parse one declarations file; see adopt-decl.h.
 *
 * `key = value` lines rather than JSON: an operator writes these by hand
 * next to unit files, and every value is one line anyway. A pattern must be
 * relative and must not climb ('..'), so a declaration can only name cgroups
 * below the hierarchy. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agent/adopt-decl.h"
#include "basic/strv.h"
#include "ports/ranges.h"

void adopt_decl_done(struct adopt_decl *d)
{
        strv_free(d->cgroups);
        portset_clear(&d->ports);
        *d = (struct adopt_decl){};
}

static char *trim(char *s)
{
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
                *--end = '\0';
        return s;
}

static int check_pattern(const char *p, unsigned line, struct errbuf *e)
{
        if (!*p)
                return errbuf_set(e, -EINVAL, "line %u: cgroup must not be empty", line);
        if (p[0] == '/')
                return errbuf_set(
                    e, -EINVAL, "line %u: cgroup '%s' must be relative to the hierarchy", line, p);
        for (const char *s = p; (s = strstr(s, "..")); s += 2)
                if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
                        return errbuf_set(e, -EINVAL, "line %u: cgroup '%s' must not contain '..'",
                                          line, p);
        return 0;
}

int adopt_decl_parse(const char *text, struct adopt_decl *ret, struct errbuf *e)
{
        _cleanup_free_ char *copy = strdup(text);
        struct adopt_decl d = {};
        bool has_ports = false;
        unsigned line = 0;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        /* strtok_r skips empty lines, so count them by hand. */
        for (char *p = copy, *next; p && r >= 0; p = next) {
                next = strchr(p, '\n');
                if (next)
                        *next++ = '\0';
                line++;
                char *l = trim(p);
                if (!*l || *l == '#')
                        continue;
                char *eq = strchr(l, '=');
                if (!eq) {
                        r = errbuf_set(e, -EINVAL, "line %u: expected 'key = value', got '%s'",
                                       line, l);
                        break;
                }
                *eq = '\0';
                char *key = trim(l), *value = trim(eq + 1);
                if (strcmp(key, "cgroup") == 0) {
                        r = check_pattern(value, line, e);
                        if (r < 0)
                                break;
                        char **v = reallocarray(d.cgroups, d.n_cgroups + 2, sizeof(*v));
                        if (!v) {
                                r = -ENOMEM;
                                break;
                        }
                        d.cgroups = v;
                        d.cgroups[d.n_cgroups] = strdup(value);
                        d.cgroups[d.n_cgroups + 1] = NULL;
                        if (!d.cgroups[d.n_cgroups]) {
                                r = -ENOMEM;
                                break;
                        }
                        d.n_cgroups++;
                } else if (strcmp(key, "ports") == 0) {
                        struct errbuf sub = {};
                        if (has_ports) {
                                r = errbuf_set(e, -EINVAL, "line %u: ports given twice", line);
                                break;
                        }
                        r = ranges_parse(value, &d.ports, &sub);
                        if (r < 0) {
                                r = errbuf_set(e, r == -ENOMEM ? r : -EINVAL, "line %u: ports: %s",
                                               line, sub.msg);
                                break;
                        }
                        has_ports = true;
                } else {
                        r = errbuf_set(e, -EINVAL,
                                       "line %u: unknown key '%s' (expected cgroup or ports)", line,
                                       key);
                        break;
                }
        }
        if (r >= 0 && d.n_cgroups == 0)
                r = errbuf_set(e, -EINVAL, "no 'cgroup = ...' line");
        if (r >= 0 && !has_ports)
                r = errbuf_set(e, -EINVAL, "no 'ports = [...]' line");
        if (r < 0) {
                adopt_decl_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}
