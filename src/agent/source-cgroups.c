/* source-cgroups.c - the declarations directory source; see
 * source-cgroups.h.
 *
 * Two triggers, one action. inotify on the directory says a declaration
 * changed: every file is read again (they are small) and the patterns are
 * matched again at once. A timer every RESCAN_USEC matches the patterns
 * again to follow cgroups that come and go. Watching the cgroup tree itself
 * with inotify would need a watch on every directory a glob could descend
 * through, added and dropped as intermediate cgroups come and go, and a
 * unit's cgroup is often created a moment before its processes start
 * listening anyway; one glob(3) per pattern per second over cgroupfs (which
 * is in memory) is cheap and cannot miss a level. A listener in a cgroup
 * adopted late is still seen: the adoption checks at once.
 *
 * A matched cgroup is identified by its path and its cgroup id (on v2), so
 * one removed and created again between two rescans is a new container. A
 * stopped one stays TERMINATED (with its limitation) until its cgroup goes,
 * or is adopted again when processes run in it again.
 *
 * Stopping one kills what runs in its cgroup through a cgroup reaper,
 * stepped from the loop and bounded by STOP_TIMEOUT_USEC, and reports the
 * end once the cgroup is empty (or the bound passed, with a warning that
 * names what is left). The cgroup itself stays: it belongs to its owner. */
#include <dirent.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "agent/adopt-decl.h"
#include "agent/cgroup-reaper.h"
#include "agent/containerizer-adopt.h"
#include "agent/engine-json.h"
#include "agent/source-cgroups.h"
#include "basic/array.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "linux/cgroup.h"

#define SOURCE "cgroups"
#define RESCAN_USEC 1000000
#define STOP_TIMEOUT_USEC (5 * 1000 * 1000ULL)

struct decl_file {
        char *name;
        struct adopt_decl d;
};

struct adopted_cg {
        char *rel;
        char *id;
        uint64_t cgroup_id;
        struct portset ports;
        bool seen;
        struct cgroup_reaper *stopping; /* killing what runs in it */
};

struct cgroups_source {
        struct event_base *base;
        struct containerizer *cz;
        const struct cg_hierarchy *h;
        char *dir;
        int ifd, wd;
        struct event *inotify_ev, *rescan_ev, *reload_ev;
        struct decl_file *files;
        size_t n_files, alloc_files;
        struct adopted_cg *v;
        size_t n, alloc;
        bool missing_logged;
};

static void files_clear(struct cgroups_source *s)
{
        for (size_t i = 0; i < s->n_files; i++) {
                free(s->files[i].name);
                adopt_decl_done(&s->files[i].d);
        }
        free(s->files);
        s->files = NULL;
        s->n_files = s->alloc_files = 0;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(((const struct decl_file *)a)->name, ((const struct decl_file *)b)->name);
}

static bool is_conf(const char *name)
{
        size_t n = strlen(name);

        return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* Read every *.conf of the directory; a bad file is skipped with one line. */
static void reload(struct cgroups_source *s)
{
        _cleanup_closedir_ DIR *d = opendir(s->dir);
        struct dirent *de;

        files_clear(s);
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                struct adopt_decl decl = {};
                struct errbuf e = {};
                size_t len;

                if (!is_conf(de->d_name))
                        continue;
                if (asprintf(&path, "%s/%s", s->dir, de->d_name) < 0)
                        return;
                int r = read_full_file(path, &text, &len);
                if (r < 0) {
                        if (r != -ENOENT)
                                log_warning_errno(r, "Ignoring %s: %m", path);
                        continue;
                }
                if (memchr(text, '\0', len) || (r = adopt_decl_parse(text, &decl, &e)) < 0) {
                        log_warning("Ignoring %s: %s", path, e.msg[0] ? e.msg : "not a text file");
                        continue;
                }
                struct decl_file f = {.name = strdup(de->d_name), .d = decl};
                if (!f.name || ARRAY_PUSH(s->files, s->n_files, s->alloc_files, f) < 0) {
                        free(f.name);
                        adopt_decl_done(&decl);
                        return;
                }
        }
        if (s->n_files > 1)
                qsort(s->files, s->n_files, sizeof(*s->files), cmp_names);
        log_info("Declarations in %s: %zu file(s)", s->dir, s->n_files);
}

static struct adopted_cg *find(struct cgroups_source *s, const char *rel)
{
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i].rel, rel) == 0)
                        return &s->v[i];
        return NULL;
}

static void on_stopped(struct cgroup_reaper *rp, int r, void *userdata)
{
        struct cgroups_source *s = userdata;
        const char *rel = cgroup_reaper_cgroup(rp);
        struct adopted_cg *a = find(s, rel);

        if (r == -ETIMEDOUT) {
                _cleanup_free_ char *left = cgroup_reaper_describe_leftovers(rp);
                log_warning("Cgroup %s still holds %s %llu s after the kill; reporting its "
                            "container ended",
                            rel, left ?: "processes", STOP_TIMEOUT_USEC / 1000000);
        } else if (r < 0)
                log_warning_errno(r, "Failed to kill what runs in cgroup %s: %m", rel);
        if (!a || a->stopping != rp)
                return;
        a->stopping = NULL;
        (void)containerizer_adopted_ended(s->cz, a->id, false, 0);
}

static void on_stop(struct containerizer *cz, const char *id, void *userdata)
{
        struct cgroups_source *s = userdata;

        (void)cz;
        for (size_t i = 0; i < s->n; i++) {
                struct adopted_cg *a = &s->v[i];

                if (strcmp(a->id, id) != 0 || a->stopping)
                        continue;
                /* There is no engine to ask: end what runs in the cgroup,
                 * and leave the cgroup to its owner. */
                int r = cgroup_reaper_start(s->base, s->h, a->rel, 0, STOP_TIMEOUT_USEC, on_stopped,
                                            s, &a->stopping);
                if (r < 0) {
                        log_warning_errno(r, "Failed to kill what runs in cgroup %s: %m", a->rel);
                        (void)containerizer_adopted_ended(s->cz, id, false, 0);
                }
                return;
        }
}

static void adopted_cg_done(struct adopted_cg *a)
{
        cgroup_reaper_free(a->stopping);
        free(a->rel);
        free(a->id);
        portset_clear(&a->ports);
}

static void forget_at(struct cgroups_source *s, size_t i)
{
        (void)containerizer_forget(s->cz, s->v[i].id);
        adopted_cg_done(&s->v[i]);
        s->v[i] = s->v[--s->n];
}

static void adopt_one(struct cgroups_source *s, const char *rel, uint64_t cgid,
                      const struct portset *ports)
{
        _cleanup_free_ char *id = engine_container_id(SOURCE, rel);
        struct adopted_cg *a;
        struct errbuf e = {};
        int r;

        if (!id || GREEDY_REALLOC(s->v, s->alloc, s->n + 1) < 0)
                return;
        struct container_adoption ad = {
            .source = SOURCE,
            .cgroup = rel,
            .has_ports = true,
            .ports = ports,
            .stop = on_stop,
            .userdata = s,
        };
        r = containerizer_adopt(s->cz, id, &ad, &e);
        if (r < 0) {
                log_warning("Cannot adopt cgroup %s: %s", rel, e.msg[0] ? e.msg : strerror(-r));
                return;
        }
        a = &s->v[s->n];
        *a = (struct adopted_cg){
            .rel = strdup(rel), .id = TAKE_PTR(id), .cgroup_id = cgid, .seen = true};
        if (!a->rel || portset_copy(&a->ports, ports) < 0) {
                (void)containerizer_forget(s->cz, a->id);
                adopted_cg_done(a);
                return;
        }
        s->n++;
}

static bool populated(struct cgroups_source *s, const char *rel)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        return cg_list_pids(s->h, rel, true, &pids, &n) >= 0 && n > 0;
}

/* One match of a pattern: adopt, update or leave it. */
static void matched(struct cgroups_source *s, const char *rel, const struct portset *ports)
{
        struct adopted_cg *a = find(s, rel);
        uint64_t cgid = 0;

        if (s->h->mode == CG_V2 && cg_get_id(s->h, rel, &cgid) < 0)
                return; /* gone meanwhile */
        if (a && a->seen)
                return; /* an earlier file named it */
        if (a) {
                const struct container *c = containerizer_get(s->cz, a->id);
                bool again = !c || a->cgroup_id != cgid ||
                             (c->state == CONTAINER_TERMINATED && populated(s, rel));
                if (again) {
                        forget_at(s, (size_t)(a - s->v));
                        adopt_one(s, rel, cgid, ports);
                        return;
                }
                a->seen = true;
                if (!portset_equal(&a->ports, ports) && portset_copy(&a->ports, ports) >= 0)
                        (void)containerizer_adopted_set_ports(s->cz, a->id, true, ports);
                return;
        }
        adopt_one(s, rel, cgid, ports);
}

static void rescan(struct cgroups_source *s)
{
        size_t root_len = strlen(s->h->path);
        const char *own = containerizer_cgroups_root(s->cz);
        size_t own_len = strlen(own);

        for (size_t i = 0; i < s->n; i++)
                s->v[i].seen = false;
        for (size_t f = 0; f < s->n_files; f++) {
                const struct adopt_decl *d = &s->files[f].d;
                for (size_t p = 0; p < d->n_cgroups; p++) {
                        _cleanup_free_ char *pattern = NULL;
                        glob_t g = {};

                        if (asprintf(&pattern, "%s/%s", s->h->path, d->cgroups[p]) < 0)
                                return;
                        if (glob(pattern, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) != 0) {
                                globfree(&g);
                                continue;
                        }
                        for (size_t k = 0; k < g.gl_pathc; k++) {
                                const char *path = g.gl_pathv[k];
                                if (strncmp(path, s->h->path, root_len) != 0 ||
                                    path[root_len] != '/')
                                        continue;
                                const char *rel = path + root_len + 1;
                                /* Never one of our own containers' cgroups. */
                                if (strncmp(rel, own, own_len) == 0 &&
                                    (rel[own_len] == '/' || rel[own_len] == '\0'))
                                        continue;
                                if (!cg_exists(s->h, rel))
                                        continue;
                                matched(s, rel, &d->ports);
                        }
                        globfree(&g);
                }
        }
        for (size_t i = s->n; i-- > 0;)
                if (!s->v[i].seen)
                        forget_at(s, i);
}

static void watch_dir(struct cgroups_source *s)
{
        if (s->wd >= 0)
                return;
        s->wd = inotify_add_watch(s->ifd, s->dir,
                                  IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                      IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB);
        if (s->wd < 0) {
                if (!s->missing_logged)
                        log_warning("Cannot watch %s (%m); looking for it every second", s->dir);
                s->missing_logged = true;
                return;
        }
        s->missing_logged = false;
        reload(s);
}

static void on_rescan(evutil_socket_t fd, short what, void *userdata)
{
        struct cgroups_source *s = userdata;

        (void)fd;
        (void)what;
        watch_dir(s);
        rescan(s);
}

static void on_reload(evutil_socket_t fd, short what, void *userdata)
{
        struct cgroups_source *s = userdata;

        (void)fd;
        (void)what;
        reload(s);
        rescan(s);
}

/* A burst of inotify events (an editor's save is several) makes one reload
 * on the next loop turn. */
static void on_inotify(evutil_socket_t fd, short what, void *userdata)
{
        struct cgroups_source *s = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        static const struct timeval now = {0, 0};
        bool gone = false;
        ssize_t n;

        (void)what;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                                gone = true;
                        p += sizeof(*ev) + ev->len;
                }
        if (gone && s->wd >= 0) {
                (void)inotify_rm_watch(s->ifd, s->wd);
                s->wd = -1;
        }
        event_add(s->reload_ev, &now);
}

int cgroups_source_new(struct event_base *base, struct containerizer *cz, const char *dir,
                       struct cgroups_source **ret)
{
        static const struct timeval every = {RESCAN_USEC / 1000000, RESCAN_USEC % 1000000};
        struct cgroups_source *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->base = base;
        s->cz = cz;
        s->h = containerizer_hierarchy(cz);
        s->wd = -1;
        s->dir = strdup(dir);
        s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (!s->dir || s->ifd < 0) {
                int r = s->ifd < 0 ? negative_errno() : -ENOMEM;
                cgroups_source_free(s);
                return r;
        }
        s->inotify_ev = event_new(base, s->ifd, EV_READ | EV_PERSIST, on_inotify, s);
        s->rescan_ev = event_new(base, -1, EV_PERSIST, on_rescan, s);
        s->reload_ev = evtimer_new(base, on_reload, s);
        if (!s->inotify_ev || !s->rescan_ev || !s->reload_ev ||
            event_add(s->inotify_ev, NULL) < 0 || event_add(s->rescan_ev, &every) < 0) {
                cgroups_source_free(s);
                return -ENOMEM;
        }
        watch_dir(s);
        rescan(s);
        log_info("Following the declarations in %s", dir);
        *ret = s;
        return 0;
}

void cgroups_source_free(struct cgroups_source *s)
{
        if (!s)
                return;
        if (s->inotify_ev)
                event_free(s->inotify_ev);
        if (s->rescan_ev)
                event_free(s->rescan_ev);
        if (s->reload_ev)
                event_free(s->reload_ev);
        if (s->ifd >= 0)
                close(s->ifd);
        files_clear(s);
        for (size_t i = 0; i < s->n; i++)
                adopted_cg_done(&s->v[i]);
        free(s->v);
        free(s->dir);
        free(s);
}
