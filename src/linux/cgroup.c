/* cgroup.c - container cgroups on cgroup v2 (pure or hybrid) or the v1
 * freezer hierarchy: detection, paths, create, remove, attach, pids, ids and
 * descendants; see cgroup.h. Killing lives in cgroup-kill.c.
 *
 * Everything walks the cgroup tree with openat() on directory fds, so a
 * cgroup that vanishes while we look costs one ENOENT, not a failure, and no
 * path strings are built per node. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "basic/array.h"
#include "basic/cmp.h"
#include "basic/fileio.h"
#include "cgroup-internal.h"

#define CG_RMDIR_TIMEOUT_USEC (2 * 1000 * 1000ULL)

const char *cg_mode_to_string(enum cg_mode mode)
{
        return mode == CG_V2 ? "v2" : "v1-freezer";
}

/* Is path the mount point of a v1 hierarchy with the freezer controller? */
static bool is_freezer_mount(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        if (!f)
                return false;
        while (getline(&line, &n, f) > 0) {
                char mnt[4096], fstype[64], opts[1024];
                const char *sep = strstr(line, " - ");

                /* id parent major:minor root mountpoint ... - fstype source superopts */
                if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
                    sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
                        continue;
                if (strcmp(fstype, "cgroup") != 0 || strcmp(mnt, path) != 0)
                        continue;
                for (char *save = NULL, *o = strtok_r(opts, ",", &save); o;
                     o = strtok_r(NULL, ",", &save))
                        if (strcmp(o, "freezer") == 0)
                                return true;
        }
        return false;
}

static bool is_v1_freezer(const char *path, const struct statfs *sfs)
{
        char f[4096 + 32];

        if (sfs->f_type != CGROUP_SUPER_MAGIC)
                return false;
        if (is_freezer_mount(path))
                return true;
        /* A directory below the mount: the root cgroup has no freezer.state,
         * every other freezer cgroup does. */
        snprintf(f, sizeof(f), "%s/freezer.state", path);
        return access(f, F_OK) == 0;
}

static int set_hierarchy(struct cg_hierarchy *ret, enum cg_mode mode, const char *path)
{
        if (strlen(path) >= sizeof(ret->path))
                return -ENAMETOOLONG;
        ret->mode = mode;
        strcpy(ret->path, path);
        return 0;
}

int cg_hierarchy_detect(const char *hierarchy, struct cg_hierarchy *ret, struct errbuf *e)
{
        char base[4096], sub[4096 + 16];
        struct statfs sfs;
        size_t len;

        if (!hierarchy || !*hierarchy)
                return errbuf_set(e, -EINVAL, "empty cgroups hierarchy path");
        len = strlen(hierarchy);
        if (len >= sizeof(base))
                return errbuf_set(e, -ENAMETOOLONG, "cgroups hierarchy path too long");
        memcpy(base, hierarchy, len + 1);
        while (len > 1 && base[len - 1] == '/')
                base[--len] = '\0';

        if (statfs(base, &sfs) < 0) {
                int r = negative_errno();
                return errbuf_set(e, r, "cgroups hierarchy '%s': %s", base, strerror(-r));
        }
        if (sfs.f_type == CGROUP2_SUPER_MAGIC)
                return set_hierarchy(ret, CG_V2, base);

        snprintf(sub, sizeof(sub), "%s/unified", base);
        if (sfs.f_type != CGROUP_SUPER_MAGIC && statfs(sub, &sfs) == 0 &&
            sfs.f_type == CGROUP2_SUPER_MAGIC)
                return set_hierarchy(ret, CG_V2, sub);

        if (statfs(base, &sfs) == 0 && is_v1_freezer(base, &sfs))
                return set_hierarchy(ret, CG_V1_FREEZER, base);

        snprintf(sub, sizeof(sub), "%s/freezer", base);
        if (statfs(sub, &sfs) == 0 && is_v1_freezer(sub, &sfs))
                return set_hierarchy(ret, CG_V1_FREEZER, sub);

        return errbuf_set(e, -ENOENT,
                          "no cgroup2 or v1 freezer hierarchy at '%s' (nor at %s/unified or "
                          "%s/freezer)",
                          base, base, base);
}

int cg_path(const struct cg_hierarchy *h, const char *rel, char **ret)
{
        char *p;

        while (rel && *rel == '/')
                rel++;
        if (!rel || !*rel)
                p = strdup(h->path);
        else if (asprintf(&p, "%s/%s", h->path, rel) < 0)
                p = NULL;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* Open the cgroup directory; -ENOENT when it does not exist. */
int cg_open(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_free_ char *p = NULL;
        int r = cg_path(h, rel, &p), fd;

        if (r < 0)
                return r;
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int cg_write_at(int dfd, const char *file, const char *value)
{
        _cleanup_close_ int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = strlen(value);
        ssize_t k;

        if (fd < 0)
                return negative_errno();
        do
                k = write(fd, value, len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        return (size_t)k == len ? 0 : -EIO;
}

/* Read a small control file at dfd into buf (NUL-terminated). */
int cg_read_at(int dfd, const char *file, char *buf, size_t size)
{
        _cleanup_close_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
        ssize_t k;

        if (fd < 0)
                return negative_errno();
        do
                k = read(fd, buf, size - 1);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        buf[k] = '\0';
        return 0;
}

int cg_create(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_free_ char *p = NULL;
        int r = cg_path(h, rel, &p);

        return r < 0 ? r : mkdir_p(p, 0755);
}

bool cg_exists(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;

        return cg_path(h, rel, &p) >= 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int cg_attach(const struct cg_hierarchy *h, const char *rel, pid_t pid)
{
        _cleanup_close_ int dfd = cg_open(h, rel);
        char s[32];

        if (dfd < 0)
                return dfd;
        snprintf(s, sizeof(s), "%d", pid > 0 ? (int)pid : (int)getpid());
        return cg_write_at(dfd, "cgroup.procs", s);
}

static int pidv_push(struct pidv *p, pid_t pid)
{
        return ARRAY_PUSH(p->v, p->n, p->alloc, pid);
}

/* Append the pids listed in dfd's cgroup.procs. */
static int read_procs_at(int dfd, struct pidv *out)
{
        _cleanup_close_ int fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        _cleanup_fclose_ FILE *f = NULL;
        int pid, r;

        if (fd < 0)
                return negative_errno();
        f = fdopen(TAKE_FD(fd), "re");
        if (!f)
                return negative_errno();
        while (fscanf(f, "%d", &pid) == 1) {
                r = pidv_push(out, pid);
                if (r < 0)
                        return r;
        }
        return ferror(f) ? -EIO : 0;
}

/* Call fn on each child cgroup directory of dfd (an fd to it, its name). */
typedef int (*child_fn)(int child_fd, const char *name, void *userdata);

static int for_each_child(int dfd, child_fn fn, void *userdata)
{
        _cleanup_closedir_ DIR *d = NULL;
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;

        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return negative_errno();
        }
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
                    strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_close_ int cfd =
                    openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cfd < 0) {
                        if (errno == ENOENT)
                                continue; /* removed meanwhile */
                        return negative_errno();
                }
                int r = fn(cfd, de->d_name, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int collect_pids_rec(int dfd, const char *name, void *userdata)
{
        struct pidv *out = userdata;
        int r;

        (void)name;
        r = read_procs_at(dfd, out);
        if (r == -ENOENT || r == -ENODEV)
                return 0; /* the cgroup went away while we read it */
        if (r < 0)
                return r;
        return for_each_child(dfd, collect_pids_rec, out);
}

static int cmp_pid(const void *a, const void *b)
{
        return CMP(*(const pid_t *)a, *(const pid_t *)b);
}

/* v1 cgroup.procs may repeat a pid (one line per thread group leader
 * lookup); sort and drop duplicates. */
static void pidv_sort_unique(struct pidv *p)
{
        size_t j = 0;

        if (p->n > 1)
                qsort(p->v, p->n, sizeof(pid_t), cmp_pid);
        for (size_t i = 0; i < p->n; i++)
                if (j == 0 || p->v[j - 1] != p->v[i])
                        p->v[j++] = p->v[i];
        p->n = j;
}

int cg_collect_pids(int dfd, struct pidv *out)
{
        int r = collect_pids_rec(dfd, NULL, out);

        if (r < 0)
                return r;
        pidv_sort_unique(out);
        return 0;
}

struct pruned_walk {
        cg_prune_fn prune;
        void *userdata;
        char path[PATH_MAX]; /* the cgroup at hand, relative to the mount */
        struct pidv out;
};

static void pruned_walk_free(struct pruned_walk *w)
{
        pidv_done(&w->out);
        free(w);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pruned_walk *, pruned_walk_free);

static int collect_pruned_rec(int dfd, const char *name, void *userdata)
{
        struct pruned_walk *w = userdata;
        size_t len = strlen(w->path);
        int r;

        if (name) {
                if (len + 1 + strlen(name) >= sizeof(w->path))
                        return -ENAMETOOLONG;
                snprintf(w->path + len, sizeof(w->path) - len, "/%s", name);
                if (w->prune && w->prune(w->path, w->userdata)) {
                        w->path[len] = '\0';
                        return 0;
                }
        }
        r = read_procs_at(dfd, &w->out);
        if (r == -ENOENT || r == -ENODEV)
                r = 0; /* the cgroup went away while we read it */
        else if (r >= 0)
                r = for_each_child(dfd, collect_pruned_rec, w);
        w->path[len] = '\0';
        return r;
}

int cg_list_pids_pruned(const struct cg_hierarchy *h, const char *rel, cg_prune_fn prune,
                        void *userdata, pid_t **ret, size_t *ret_n)
{
        _cleanup_close_ int dfd = cg_open(h, rel);
        _cleanup_(pruned_walk_freep) struct pruned_walk *w = NULL;
        int r;

        if (dfd < 0)
                return dfd;
        if (strlen(rel) >= sizeof(w->path))
                return -ENAMETOOLONG;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->prune = prune;
        w->userdata = userdata;
        strcpy(w->path, rel);
        r = collect_pruned_rec(dfd, NULL, w);
        if (r < 0)
                return r;
        pidv_sort_unique(&w->out);
        *ret = TAKE_PTR(w->out.v);
        *ret_n = w->out.n;
        return 0;
}

static bool prune_children(const char *rel, void *userdata)
{
        (void)rel;
        (void)userdata;
        return true;
}

int cg_list_pids(const struct cg_hierarchy *h, const char *rel, bool recursive, pid_t **ret,
                 size_t *ret_n)
{
        return cg_list_pids_pruned(h, rel, recursive ? NULL : prune_children, NULL, ret, ret_n);
}

/* Is the subtree at dfd free of processes? */
int cg_is_empty(int dfd)
{
        _cleanup_(pidv_done) struct pidv p = {};
        int r = cg_collect_pids(dfd, &p);

        return r < 0 ? r : p.n == 0;
}

/* rmdir name in dfd (the cgroup cfd); ENOENT is done. EBUSY while the
 * subtree holds no process means exiting tasks the kernel has not released
 * yet: -EAGAIN, worth a retry. A populated cgroup is -EBUSY. */
static int rmdir_cgroup_at(int dfd, const char *name, int cfd)
{
        if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                return 0;
        if (errno != EBUSY)
                return negative_errno();
        int r = cg_is_empty(cfd);
        if (r < 0) /* removed meanwhile: ENOENT, or ENODEV on kernfs */
                return r == -ENOENT || r == -ENODEV ? 0 : r;
        return r > 0 ? -EAGAIN : -EBUSY;
}

static int remove_children_rec(int dfd, const char *name, void *userdata)
{
        int parent_fd = *(int *)userdata, r;

        r = for_each_child(dfd, remove_children_rec, &dfd);
        if (r < 0)
                return r;
        return rmdir_cgroup_at(parent_fd, name, dfd);
}

int cg_remove_once(const struct cg_hierarchy *h, const char *rel)
{
        _cleanup_free_ char *p = NULL, *parent = NULL;
        _cleanup_close_ int dfd = -1, pfd = -1;
        char *slash;
        int r;

        r = cg_path(h, rel, &p);
        if (r < 0)
                return r;
        if (strcmp(p, h->path) == 0)
                return -EINVAL; /* never the hierarchy root */
        dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        r = for_each_child(dfd, remove_children_rec, &dfd);
        if (r < 0)
                return r;

        parent = strdup(p);
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        *slash = '\0';
        pfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return negative_errno();
        return rmdir_cgroup_at(pfd, slash + 1, dfd);
}

int cg_remove(const struct cg_hierarchy *h, const char *rel)
{
        uint64_t deadline = now_usec() + CG_RMDIR_TIMEOUT_USEC;
        struct backoff b = BACKOFF_INIT(200, 20000);
        int r;

        while ((r = cg_remove_once(h, rel)) == -EAGAIN && now_usec() < deadline)
                sleep_usec(backoff_next(&b));
        return r == -EAGAIN ? -EBUSY : r;
}

int cg_get_id(const struct cg_hierarchy *h, const char *rel, uint64_t *ret)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;
        int r;

        if (h->mode != CG_V2)
                return -EOPNOTSUPP;
        r = cg_path(h, rel, &p);
        if (r < 0)
                return r;

        /* The cgroup id is the kernfs node id; its file handle carries it
         * whole, st_ino carries it on 64-bit inode numbers. */
        struct {
                struct file_handle fh;
                uint64_t id;
        } handle = {.fh.handle_bytes = sizeof(uint64_t)};
        int mnt_id;
        if (name_to_handle_at(AT_FDCWD, p, &handle.fh, &mnt_id, 0) == 0 &&
            handle.fh.handle_bytes == sizeof(uint64_t)) {
                memcpy(ret, handle.fh.f_handle, sizeof(uint64_t));
                return 0;
        }
        if (errno != EOPNOTSUPP && errno != EOVERFLOW)
                return negative_errno();
        if (stat(p, &st) < 0)
                return negative_errno();
        *ret = (uint64_t)st.st_ino;
        return 0;
}

/* kernfs file handles (what name_to_handle_at() gives for a cgroup2
 * directory) carry the 64-bit node id, which is the cgroup id. */
#define FILEID_KERNFS 0xfe

int cg_path_from_id(const struct cg_hierarchy *h, uint64_t id, char **ret_rel)
{
        _cleanup_close_ int mfd = -1, fd = -1;
        struct {
                struct file_handle fh;
                uint64_t id;
        } handle = {.fh.handle_bytes = sizeof(uint64_t), .fh.handle_type = FILEID_KERNFS};
        char link[64], path[PATH_MAX];
        size_t plen = strlen(h->path);
        ssize_t n;

        if (h->mode != CG_V2)
                return -EOPNOTSUPP;
        mfd = open(h->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0)
                return negative_errno();
        memcpy(handle.fh.f_handle, &id, sizeof(id));
        fd = open_by_handle_at(mfd, &handle.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ESTALE ? -ENOENT : negative_errno();
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof(path) - 1);
        if (n < 0)
                return negative_errno();
        path[n] = '\0';
        if (strncmp(path, h->path, plen) != 0 || (path[plen] != '/' && path[plen] != '\0'))
                return -EXDEV; /* not below our mount (another namespace's view) */
        char *rel = strdup(path[plen] == '/' ? path + plen + 1 : "");
        if (!rel)
                return -ENOMEM;
        *ret_rel = rel;
        return 0;
}

struct strv {
        char **v;
        size_t n, alloc;
};

static void strv_done(struct strv *s)
{
        strv_free_n(s->v, s->n);
        *s = (struct strv){};
}

static int strv_push_path(struct strv *s, const char *prefix, const char *name)
{
        char *p;

        if (GREEDY_REALLOC(s->v, s->alloc, s->n + 1) < 0)
                return -ENOMEM;
        if (prefix ? asprintf(&p, "%s/%s", prefix, name) < 0 : !(p = strdup(name)))
                return -ENOMEM;
        s->v[s->n++] = p;
        return 0;
}

/* A walk that lists child cgroups as paths relative to where it started. */
struct descendants_walk {
        struct strv *out;
        const char *prefix; /* the path of the cgroup whose children are at hand */
};

/* Append the child name of the cgroup at hand (unless it starts with '.')
 * and its descendants. */
static int descendants_rec(int dfd, const char *name, void *userdata)
{
        const struct descendants_walk *w = userdata;
        int r;

        if (name[0] == '.')
                return 0;
        r = strv_push_path(w->out, w->prefix, name);
        if (r < 0)
                return r;
        return for_each_child(dfd, descendants_rec,
                              &(struct descendants_walk){w->out, w->out->v[w->out->n - 1]});
}

/* Order paths so each parent precedes its children and siblings stay sorted:
 * compare component by component. */
static int cmp_tree(const void *a, const void *b)
{
        const char *x = *(char *const *)a, *y = *(char *const *)b;

        for (;;) {
                size_t lx = strcspn(x, "/"), ly = strcspn(y, "/");
                int c = strncmp(x, y, MIN(lx, ly));
                if (c == 0 && lx != ly)
                        c = lx < ly ? -1 : 1;
                if (c != 0)
                        return c;
                if (!x[lx] || !y[ly])
                        return x[lx] ? 1 : y[ly] ? -1 : 0;
                x += lx + 1;
                y += ly + 1;
        }
}

int cg_list_descendants(const struct cg_hierarchy *h, const char *rel, char ***ret, size_t *ret_n)
{
        _cleanup_close_ int dfd = cg_open(h, rel);
        _cleanup_(strv_done) struct strv s = {};
        int r;

        if (dfd < 0)
                return dfd;
        r = for_each_child(dfd, descendants_rec, &(struct descendants_walk){&s, NULL});
        if (r < 0)
                return r;
        /* Depth-first, parents first, siblings sorted (no qsort of a NULL
         * array: nothing below rel leaves s.v NULL). */
        if (s.n > 1)
                qsort(s.v, s.n, sizeof(char *), cmp_tree);
        *ret_n = s.n;
        *ret = TAKE_PTR(s.v);
        return 0;
}

void strv_free_n(char **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

int cg_parse_proc_cgroup(const char *text, enum cg_mode mode, char **ret_rel)
{
        /* Lines are "ID:CONTROLLERS:PATH"; v2 is "0::PATH", the freezer's
         * line names "freezer" among its controllers. */
        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                const char *c1 = memchr(line, ':', (size_t)(end - line));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
                bool match = false;

                if (c2 && mode == CG_V2)
                        match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
                else if (c2)
                        for (const char *p = c1 + 1; p < c2;) {
                                size_t n = strcspn(p, ",:");
                                match = match || (n == 7 && strncmp(p, "freezer", 7) == 0);
                                p += n + (p[n] == ',');
                        }
                if (match) {
                        const char *path = c2 + 1;
                        while (path < end && *path == '/')
                                path++;
                        char *s = strndup(path, (size_t)(end - path));
                        if (!s)
                                return -ENOMEM;
                        *ret_rel = s;
                        return 0;
                }
                line = *end ? end + 1 : NULL;
        }
        return -ENOENT;
}

int cg_pid_get_path(const struct cg_hierarchy *h, pid_t pid, char **ret_rel)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        int r;

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        return cg_parse_proc_cgroup(text, h->mode, ret_rel);
}

bool cg_is_below(const char *rel, const char *root)
{
        size_t n = strlen(root);

        while (*rel == '/')
                rel++;
        return strncmp(rel, root, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}
