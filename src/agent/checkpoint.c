/* checkpoint.c - container checkpoints; see checkpoint.h.
 *
 * JSON (jansson) for the structured files so an operator can read them, one
 * line of text for the two records the supervisor and recovery parse in a
 * hurry (supervisor, exit_status). Readers are strict: anything unexpected is
 * -EINVAL with the file named in the line, so recovery can skip just that
 * container and say why. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/checkpoint.h"
#include "basic/array.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "ports/ranges.h"

#define META_SUBDIR "meta/containers"
#define SANDBOX_SUBDIR "containers"

/* base + "/a/containers/b/containers/c" for id "a/b/c". */
static int nested_path(const char *base, const char *id, char **ret)
{
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        const char *p = id;

        if (!id || !*id)
                return -EINVAL;
        strbuf_puts(&sb, base);
        for (bool first = true; *p; first = false) {
                size_t n = strcspn(p, "/");
                if (n == 0)
                        return -EINVAL;
                strbuf_puts(&sb, first ? "/" : "/containers/");
                strbuf_add(&sb, p, n);
                p += n;
                if (*p == '/')
                        p++;
        }
        char *s = strbuf_detach(&sb);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int checkpoint_dir(const char *work_dir, const char *id, char **ret)
{
        _cleanup_free_ char *base = NULL;

        if (asprintf(&base, "%s/" META_SUBDIR, work_dir) < 0)
                return -ENOMEM;
        return nested_path(base, id, ret);
}

int sandbox_dir(const char *work_dir, const char *id, char **ret)
{
        _cleanup_free_ char *base = NULL;

        if (asprintf(&base, "%s/" SANDBOX_SUBDIR, work_dir) < 0)
                return -ENOMEM;
        return nested_path(base, id, ret);
}

static int write_in(const char *dir, const char *name, const char *text, struct sync_later *later)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0600, later);
}

static int read_in(const char *dir, const char *name, char **ret)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return read_full_file(path, ret, NULL);
}

/* Sizes of the reserved records: each is far above what it holds (a
 * termination's message is cut to fit), and below one 512-byte sector where
 * it can be, so that the disk writes it whole. */
#define EXIT_STATUS_SIZE 64
#define SUPERVISOR_SIZE 256
#define TERMINATION_SIZE 4096

/* Overwrite a reserved record; one that was never reserved (a container of
 * an older agent) or that it does not fit is written atomically instead. */
static int write_record(const char *dir, const char *name, const char *text,
                        struct sync_later *later)
{
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = write_record_file(path, text, strlen(text), later);
        if (r == -ENOENT || r == -E2BIG)
                return write_in(dir, name, text, later);
        return r;
}

/* Read a record; a blank one (reserved, never written) is -ENOENT. */
static int read_record(const char *dir, const char *name, char **ret)
{
        _cleanup_free_ char *text = NULL;
        int r = read_in(dir, name, &text);

        if (r < 0)
                return r;
        if (!text[0])
                return -ENODATA; /* never a reservation: those are full size */
        if (strspn(text, " \n") == strlen(text))
                return -ENOENT;
        *ret = TAKE_PTR(text);
        return 0;
}

int checkpoint_reserve(const char *dir, struct sync_later *later)
{
        static const struct {
                const char *name;
                size_t size;
        } records[] = {
            {"exit_status", EXIT_STATUS_SIZE},
            {"supervisor", SUPERVISOR_SIZE},
            {"termination.json", TERMINATION_SIZE},
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(records); i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dir, records[i].name) < 0)
                        return -ENOMEM;
                r = reserve_record_file(path, records[i].size, 0600, later);
                if (r < 0)
                        return r;
        }
        /* The directory itself was created by mkdir: make its entry durable. */
        _cleanup_free_ char *parent = strdup(dir);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (!slash)
                return parent ? 0 : -ENOMEM;
        *slash = '\0';
        return sync_path(parent, true, later);
}

static json_t *strv_to_json(char **v)
{
        json_t *a = json_array();

        for (char **s = v; a && s && *s; s++)
                if (json_array_append_new(a, json_string(*s)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static int strv_from_json(const json_t *a, char ***ret)
{
        char **v;
        size_t i;
        const json_t *x;

        if (!a || json_is_null(a)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(a))
                return -EINVAL;
        v = calloc(json_array_size(a) + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        json_array_foreach(a, i, x)
        {
                if (!json_is_string(x) || !(v[i] = strdup(json_string_value(x)))) {
                        strv_free(v);
                        return json_is_string(x) ? -ENOMEM : -EINVAL;
                }
        }
        *ret = v;
        return 0;
}

char *checkpoint_format_config(const struct container_config *cfg)
{
        _cleanup_(json_decrefp) json_t *j = NULL;

        j = json_pack("{s:s, s:s*, s:b, s:s*, s:o, s:o, s:b, s:o, s:s*, s:s*}", "id", cfg->id,
                      "parent_id", cfg->parent_id, "shell", cfg->shell, "value", cfg->value,
                      "arguments", strv_to_json(cfg->arguments), "env", strv_to_json(cfg->env),
                      "has_ports", cfg->has_ports, "ports", ranges_to_json(&cfg->ports), "network",
                      cfg->network, "user", cfg->user);
        return j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
}

int checkpoint_write_config_text(const char *dir, const char *text, struct sync_later *later)
{
        return write_in(dir, "config.json", text, later);
}

int checkpoint_write_config(const char *dir, const struct container_config *cfg,
                            struct sync_later *later)
{
        _cleanup_free_ char *text = checkpoint_format_config(cfg);

        if (!text)
                return -ENOMEM;
        return checkpoint_write_config_text(dir, text, later);
}

static char *strdup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

int checkpoint_read_config(const char *dir, struct container_config *ret, struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        _cleanup_free_ char *text = NULL;
        struct container_config cfg = {};
        const char *id = NULL, *parent = NULL, *value = NULL, *network = NULL, *user = NULL;
        json_t *args = NULL, *env = NULL, *ports = NULL;
        json_error_t je;
        int shell = 1, has_ports = 0, r;

        r = read_in(dir, "config.json", &text);
        if (r < 0)
                return errbuf_set(e, r, "%s/config.json: %s", dir, strerror(-r));
        j = json_loads(text, 0, &je);
        if (!j)
                return errbuf_set(e, -EINVAL, "%s/config.json: invalid JSON: %s", dir, je.text);
        if (json_unpack_ex(j, &je, 0, "{s:s, s?s, s?b, s?s, s?o, s?o, s?b, s?o, s?s, s?s}", "id",
                           &id, "parent_id", &parent, "shell", &shell, "value", &value, "arguments",
                           &args, "env", &env, "has_ports", &has_ports, "ports", &ports, "network",
                           &network, "user", &user) < 0)
                return errbuf_set(e, -EINVAL, "%s/config.json: %s", dir, je.text);

        cfg.shell = shell;
        cfg.has_ports = has_ports;
        cfg.id = strdup(id);
        cfg.parent_id = strdup_or_null(parent);
        cfg.value = strdup_or_null(value);
        cfg.network = strdup_or_null(network);
        cfg.user = strdup_or_null(user);
        if (!cfg.id || (parent && !cfg.parent_id) || (value && !cfg.value) ||
            (network && !cfg.network) || (user && !cfg.user)) {
                container_config_done(&cfg);
                return -ENOMEM;
        }
        r = strv_from_json(args, &cfg.arguments);
        if (r >= 0)
                r = strv_from_json(env, &cfg.env);
        if (r < 0) {
                container_config_done(&cfg);
                return errbuf_set(e, r,
                                  "%s/config.json: 'arguments' and 'env' must be arrays of "
                                  "strings",
                                  dir);
        }
        if (ports && !json_is_null(ports)) {
                struct errbuf sub = {};
                r = ranges_from_json(ports, &cfg.ports, &sub);
                if (r < 0) {
                        container_config_done(&cfg);
                        return errbuf_set(e, r, "%s/config.json: ports: %s", dir, sub.msg);
                }
        }
        container_config_done(ret);
        *ret = cfg;
        return 0;
}

int checkpoint_write_supervisor(const char *dir, const struct checkpoint_supervisor *s,
                                struct sync_later *later)
{
        char line[160];

        snprintf(line, sizeof(line), "%d %" PRIu64 " %d %s\n", (int)s->pid, s->start_time,
                 (int)s->main_pid, s->boot_id[0] ? s->boot_id : "-");
        return write_record(dir, "supervisor", line, later);
}

int checkpoint_read_supervisor(const char *dir, struct checkpoint_supervisor *ret, struct errbuf *e)
{
        _cleanup_free_ char *text = NULL;
        struct checkpoint_supervisor s = {};
        int pid, main_pid, n = 0;
        char boot[sizeof(s.boot_id)];
        int r;

        r = read_record(dir, "supervisor", &text);
        if (r < 0)
                return r == -ENOENT ? r : errbuf_set(e, r, "%s/supervisor: %s", dir, strerror(-r));
        if (sscanf(text, "%d %" SCNu64 " %d %39s%n", &pid, &s.start_time, &main_pid, boot, &n) !=
                4 ||
            pid <= 0 || main_pid < 0 || text[n] != '\n' ||
            strspn(text + n, " \n") != strlen(text + n) ||
            (strcmp(boot, "-") != 0 && strlen(boot) != 36))
                return errbuf_set(e, -EINVAL, "%s/supervisor: corrupt record", dir);
        s.pid = pid;
        s.main_pid = main_pid;
        if (strcmp(boot, "-") != 0)
                snprintf(s.boot_id, sizeof(s.boot_id), "%s", boot);
        *ret = s;
        return 0;
}

int checkpoint_write_exit_status(const char *dir, int status, struct sync_later *later)
{
        char line[32];

        snprintf(line, sizeof(line), "%d\n", status);
        return write_record(dir, "exit_status", line, later);
}

int checkpoint_read_exit_status(const char *dir, int *ret, struct errbuf *e)
{
        _cleanup_free_ char *text = NULL;
        char *end;
        long v;
        int r;

        r = read_record(dir, "exit_status", &text);
        if (r < 0)
                return r == -ENOENT ? r : errbuf_set(e, r, "%s/exit_status: %s", dir, strerror(-r));
        errno = 0;
        v = strtol(text, &end, 10);
        if (end == text || errno || v < INT32_MIN || v > INT32_MAX || *end != '\n' ||
            strspn(end, " \n") != strlen(end))
                return errbuf_set(e, -EINVAL, "%s/exit_status: corrupt record", dir);
        *ret = (int)v;
        return 0;
}

static char *termination_text(const struct container_termination *t, size_t message_max)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        _cleanup_free_ char *msg = NULL;

        if (t->message && strlen(t->message) > message_max &&
            asprintf(&msg, "%.*s...", (int)message_max, t->message) < 0)
                return NULL;
        j = json_pack("{s:s*, s:s*, s:s*, s:b}", "state", t->state, "reason", t->reason, "message",
                      msg ? msg : t->message, "destroyed", t->destroyed);
        if (!j)
                return NULL;
        if (t->has_limitation &&
            json_object_set_new(j, "limitation", ranges_to_json(&t->limitation)) < 0)
                return NULL;
        return json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
}

int checkpoint_write_termination(const char *dir, const struct container_termination *t,
                                 struct sync_later *later)
{
        /* The record has a fixed size: a message too long for it is cut, the
         * limitation (what a client acts on) never. */
        for (size_t max = TERMINATION_SIZE;; max /= 2) {
                _cleanup_free_ char *text = termination_text(t, max);
                if (!text)
                        return -ENOMEM;
                if (strlen(text) < TERMINATION_SIZE - 1 || max == 0)
                        return write_record(dir, "termination.json", text, later);
        }
}

/* Termination state and reason are static strings: map what was read back. */
static const char *known_string(const char *s, const char *const *known, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(s, known[i]) == 0)
                        return known[i];
        return NULL;
}

int checkpoint_read_termination(const char *dir, struct container_termination *t, struct errbuf *e)
{
        static const char *const states[] = {"TASK_FAILED", "TASK_KILLED", "TASK_FINISHED"};
        static const char *const reasons[] = {
            "REASON_CONTAINER_LIMITATION", "REASON_CONTAINER_LIMITATION_DISK",
            "REASON_COMMAND_EXECUTOR_FAILED", "REASON_EXECUTOR_TERMINATED"};
        _cleanup_(json_decrefp) json_t *j = NULL;
        _cleanup_portset_ struct portset lim = PORTSET_INIT;
        _cleanup_free_ char *text = NULL;
        const char *state = NULL, *reason = NULL, *message = NULL;
        json_t *limitation = NULL;
        json_error_t je;
        char *msg = NULL;
        int destroyed = 0;
        int r;

        r = read_record(dir, "termination.json", &text);
        if (r < 0)
                return r == -ENOENT
                           ? r
                           : errbuf_set(e, r, "%s/termination.json: %s", dir, strerror(-r));
        j = json_loads(text, 0, &je);
        if (!j)
                return errbuf_set(e, -EINVAL, "%s/termination.json: invalid JSON: %s", dir,
                                  je.text);
        if (json_unpack_ex(j, &je, 0, "{s?s, s?s, s?s, s?o, s?b}", "state", &state, "reason",
                           &reason, "message", &message, "limitation", &limitation, "destroyed",
                           &destroyed) < 0)
                return errbuf_set(e, -EINVAL, "%s/termination.json: %s", dir, je.text);
        if (limitation) {
                struct errbuf sub = {};
                r = ranges_from_json(limitation, &lim, &sub);
                if (r < 0)
                        return errbuf_set(e, r, "%s/termination.json: limitation: %s", dir,
                                          sub.msg);
        }
        if (message && !(msg = strdup(message)))
                return -ENOMEM;

        free(t->message);
        t->message = msg;
        t->state = known_string(state, states, ELEMENTSOF(states));
        t->reason = known_string(reason, reasons, ELEMENTSOF(reasons));
        portset_clear(&t->limitation);
        t->has_limitation = limitation != NULL;
        t->destroyed = destroyed;
        t->limitation = lim;
        lim = (struct portset)PORTSET_INIT;
        return 0;
}

struct idlist {
        char **v;
        size_t n, alloc;
};

static int idlist_push(struct idlist *l, char *s)
{
        int r = ARRAY_PUSH(l->v, l->n, l->alloc, s);

        if (r < 0)
                free(s);
        return r;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory entry that is a directory; d_type may be DT_UNKNOWN on some
 * file systems, then stat tells. */
static bool entry_is_dir(DIR *d, const struct dirent *de)
{
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        return fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Collect the ids in dir (prefix "" for roots), recursing into containers/. */
static int list_in(const char *dir, const char *prefix, struct idlist *l, unsigned depth)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        size_t first = l->n;
        int r;

        if (depth > 32)
                return 0;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                if (container_id_validate(de->d_name, NULL) < 0 || !entry_is_dir(d, de))
                        continue;
                char *id;
                if (asprintf(&id, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0)
                        return -ENOMEM;
                r = idlist_push(l, id);
                if (r < 0)
                        return r;
        }
        if (l->n > first)
                qsort(l->v + first, l->n - first, sizeof(char *), cmp_str);
        /* Children follow all of this level: parents always come first. */
        size_t last = l->n;
        for (size_t i = first; i < last; i++) {
                _cleanup_free_ char *sub = NULL;
                const char *name = strrchr(l->v[i], '/');
                name = name ? name + 1 : l->v[i];
                if (asprintf(&sub, "%s/%s/containers", dir, name) < 0)
                        return -ENOMEM;
                r = list_in(sub, l->v[i], l, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

int checkpoint_list(const char *work_dir, char ***ret, size_t *ret_n)
{
        _cleanup_free_ char *base = NULL;
        struct idlist l = {};
        int r;

        if (asprintf(&base, "%s/" META_SUBDIR, work_dir) < 0)
                return -ENOMEM;
        r = list_in(base, "", &l, 0);
        if (r < 0) {
                for (size_t i = 0; i < l.n; i++)
                        free(l.v[i]);
                free(l.v);
                return r;
        }
        *ret = l.v;
        *ret_n = l.n;
        return 0;
}

#define REMOVED_SUFFIX ".removed"

int entomb_durably(const char *dir, struct sync_later *later, char **ret_tomb)
{
        static uint64_t counter;
        int r = -EEXIST;

        *ret_tomb = NULL;
        /* A name no earlier tomb has: one still being deleted (the same id
         * removed, launched and removed again) is never in the way. */
        for (unsigned attempt = 0; attempt < 8 && (r == -EEXIST || r == -ENOTEMPTY); attempt++) {
                _cleanup_free_ char *tomb = NULL;

                if (asprintf(&tomb, "%s.%" PRIu64 REMOVED_SUFFIX, dir, ++counter) < 0)
                        return -ENOMEM;
                r = rename_durably(dir, tomb, later);
                if (r >= 0)
                        *ret_tomb = TAKE_PTR(tomb);
        }
        return r == -ENOENT ? 0 : r;
}

int remove_tree_durably(const char *dir, struct sync_later *later)
{
        _cleanup_free_ char *tomb = NULL;
        int r;

        r = entomb_durably(dir, later, &tomb);
        /* Gone for any later reader; what rm leaves is swept at the next start. */
        if (r >= 0 && tomb)
                (void)rm_rf(tomb);
        return r;
}

int checkpoint_entomb(const char *work_dir, const char *id, struct sync_later *later,
                      char **ret_tomb)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        *ret_tomb = NULL;
        r = checkpoint_dir(work_dir, id, &dir);
        if (r < 0)
                return r;
        return entomb_durably(dir, later, ret_tomb);
}

int checkpoint_remove(const char *work_dir, const char *id, struct sync_later *later)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        r = checkpoint_dir(work_dir, id, &dir);
        if (r < 0)
                return r;
        return remove_tree_durably(dir, later);
}

static bool is_tombstone(const char *name)
{
        size_t n = strlen(name), k = strlen(REMOVED_SUFFIX);

        return n > k && strcmp(name + n - k, REMOVED_SUFFIX) == 0;
}

static void sweep_in(const char *dir, unsigned depth, size_t *n)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (depth > 32 || !(d = opendir(dir)))
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                if (!entry_is_dir(d, de))
                        continue;
                bool tomb = is_tombstone(de->d_name);
                if (!tomb && container_id_validate(de->d_name, NULL) < 0)
                        continue;
                if (asprintf(&path, "%s/%s%s", dir, de->d_name, tomb ? "" : "/containers") < 0)
                        return;
                if (!tomb)
                        sweep_in(path, depth + 1, n);
                else if (rm_rf(path) >= 0)
                        (*n)++;
        }
}

size_t checkpoint_sweep(const char *work_dir)
{
        _cleanup_free_ char *meta = NULL, *sandboxes = NULL;
        size_t n = 0;

        if (asprintf(&meta, "%s/" META_SUBDIR, work_dir) < 0 ||
            asprintf(&sandboxes, "%s/" SANDBOX_SUBDIR, work_dir) < 0)
                return 0;
        sweep_in(meta, 0, &n);
        sweep_in(sandboxes, 0, &n);
        return n;
}
