/* manifest.c - read bench-workload's manifest; shared output helpers. See
 * manifest.h. A benchmark tool, so parsing is strict: any surprise is -EINVAL
 * rather than a silently different workload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "manifest.h"

static int parse_ports(const char *s, struct manifest_ports *ret)
{
        struct manifest_ports p = {0};

        if (strcmp(s, "-") != 0)
                for (const char *q = s; *q;) {
                        char *end;
                        unsigned long x = strtoul(q, &end, 10);
                        if (end == q || x > 65535 || p.n == MANIFEST_MAX_PORTS)
                                return -EINVAL;
                        p.v[p.n++] = (uint16_t)x;
                        q = *end == ',' ? end + 1 : end;
                        if (*end && *end != ',')
                                return -EINVAL;
                }
        *ret = p;
        return 0;
}

static int add_container(struct manifest *m, char *line, size_t *alloc)
{
        char *id = NULL, *cg = NULL, *v4 = NULL, *v6 = NULL;
        int inherited = 0, r;

        if (sscanf(line, "container %ms %ms %ms %ms %d", &id, &cg, &v4, &v6, &inherited) != 5) {
                free(id), free(cg), free(v4), free(v6);
                return -EINVAL;
        }
        if (m->n == *alloc) {
                size_t want = *alloc ? *alloc * 2 : 64;
                struct manifest_container *n = realloc(m->c, want * sizeof(*n));
                if (!n) {
                        free(id), free(cg), free(v4), free(v6);
                        return -ENOMEM;
                }
                m->c = n;
                *alloc = want;
        }
        struct manifest_container *c = &m->c[m->n];
        *c = (struct manifest_container){.id = id, .cgroup = cg, .inherited = inherited != 0};
        r = parse_ports(v4, &c->v4);
        if (r >= 0)
                r = parse_ports(v6, &c->v6);
        free(v4), free(v6);
        m->n++; /* owned now, freed by manifest_free() even on error */
        return r;
}

int manifest_load(const char *path, struct manifest *ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct manifest m = {0};
        _cleanup_free_ char *line = NULL;
        size_t len = 0, alloc = 0;
        int r = 0;

        if (!f)
                return negative_errno();
        while (r >= 0 && getline(&line, &len, f) > 0) {
                char a[64], b[64];
                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "v2 ", 3) == 0)
                        r = (m.v2 = strdup(line + 3)) ? 0 : -ENOMEM;
                else if (strncmp(line, "freezer ", 8) == 0)
                        r = (m.freezer = strdup(line + 8)) ? 0 : -ENOMEM;
                else if (strncmp(line, "root ", 5) == 0)
                        r = (m.root = strdup(line + 5)) ? 0 : -ENOMEM;
                else if (strncmp(line, "container ", 10) == 0)
                        r = add_container(&m, line, &alloc);
                else if (sscanf(line, "host %63s %63s", a, b) == 2) {
                        r = parse_ports(a, &m.host_v4);
                        if (r >= 0)
                                r = parse_ports(b, &m.host_v6);
                } else if (sscanf(line, "procs %zu", &m.procs) != 1)
                        r = -EINVAL;
        }
        if (r >= 0 && (!m.v2 || !m.root))
                r = -EINVAL;
        if (r < 0) {
                manifest_free(&m);
                return r;
        }
        *ret = m;
        return 0;
}

void manifest_free(struct manifest *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->c[i].id);
                free(m->c[i].cgroup);
        }
        free(m->c);
        free(m->v2);
        free(m->freezer);
        free(m->root);
        *m = (struct manifest){0};
}

void print_listening(const char *id, const uint16_t *ports, size_t n)
{
        printf("listening %s ", id);
        if (n == 0)
                putchar('-');
        for (size_t i = 0; i < n; i++)
                printf("%s%u", i ? "," : "", ports[i]);
        putchar('\n');
}

void print_rss(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long rss = 0, hwm = 0;

        while (f && fgets(line, sizeof(line), f)) {
                sscanf(line, "VmRSS: %lu", &rss);
                sscanf(line, "VmHWM: %lu", &hwm);
        }
        printf("rss %lu %lu\n", rss, hwm);
}
