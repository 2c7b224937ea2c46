/* containerizer-launch.c - LAUNCH_CONTAINER: validate the request's
 * semantics, then checkpoint, cgroup, isolators (prepare, allocation),
 * supervisor, isolate, in that order, so that a crash at any point leaves a
 * checkpoint recovery can make sense of. The records a container writes at
 * its end are reserved right after config.json, before anything runs, so a
 * launch on a disk too full for them fails (507) rather than a later exit
 * status going unrecorded. The container is LAUNCHING from the call until
 * its supervisor's report, which comes as an event, and its checkpoints are
 * on disk: the call returns at once and its answer follows (a frozen parent
 * cgroup that keeps the main process from starting delays only this
 * launch). The work before the supervisor starts and after it reports is
 * queued, one step per loop turn, so a burst of launches leaves room for
 * every other request between its steps; the checkpoints those steps write
 * are flushed by the syncer's thread, and the last step (RUNNING, the
 * answer) waits for that flush, never the loop. A failure undoes every
 * step: no cgroup, checkpoint, sandbox or process of a failed launch stays
 * behind; once a supervisor exists, the undoing is a destroy (killing it
 * and the cgroup, from the loop). The failure is answered once the worker
 * has removed the launch's files and flushed that, so a crash after the
 * answer cannot bring back a launch it said failed. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/containerizer-private.h"
#include "agent/launcher.h"
#include "basic/fileio.h"
#include "basic/log.h"

static int validate_config(struct containerizer *cz, const struct container_config *cfg,
                           struct errbuf *e)
{
        int r;

        r = container_config_validate_id(cfg, e);
        if (r < 0)
                return r;
        if (cz_find(cz, cfg->id))
                return errbuf_set(e, -EEXIST, "container %s already exists", cfg->id);
        if (cfg->parent_id) {
                struct cz_container *p = cz_find(cz, cfg->parent_id);
                if (!p)
                        return errbuf_set(e, -ENOENT, "parent container %s is unknown",
                                          cfg->parent_id);
                if (p->pub.state != CONTAINER_RUNNING)
                        return errbuf_set(e, -EINVAL, "parent container %s is %s, not RUNNING",
                                          cfg->parent_id, container_state_to_string(p->pub.state));
                if (cfg->has_ports)
                        return errbuf_set(e, -EINVAL,
                                          "nested container %s cannot have resources: it shares "
                                          "its root's",
                                          cfg->id);
        }
        if (!cfg->value || !*cfg->value)
                return errbuf_set(e, -EINVAL, "command value is required");
        return 0;
}

static void on_launched(int r, struct launch_report *rep, const char *error, void *userdata);
static void launch_step_running(struct containerizer *cz, struct cz_container *c);

/* ---- the files of a launch, on the syncer's worker ---------------------- */

/* A launch's first job: what it owns, the container it reports to (NULL
 * once that no longer wants it), how it went. */
struct launch_files {
        struct cz_job job; /* first */
        char *meta, *sandbox, *config;
        struct errbuf e;
};

static void launch_files_free(struct launch_files *f)
{
        free(f->meta);
        free(f->sandbox);
        free(f->config);
        free(f);
}

/* On the worker: the checkpoint, the reserved records, the sandbox. */
static int launch_files_work(void *userdata, struct sync_later *later)
{
        struct launch_files *f = userdata;
        struct errbuf *e = &f->e;
        int r;

        r = rm_rf(f->meta);
        if (r >= 0)
                r = rm_rf(f->sandbox);
        if (r < 0)
                return errbuf_set(e, r, "cannot remove the stale files at %s: %s", f->meta,
                                  strerror(-r));
        r = checkpoint_write_config_text(f->meta, f->config, later);
        if (r < 0)
                return errbuf_set(e, r, "cannot checkpoint %s: %s", f->meta, strerror(-r));
        /* What the container must be able to record at its end, however full
         * the disk is by then. */
        r = checkpoint_reserve(f->meta, later);
        if (r < 0)
                return errbuf_set(e, r,
                                  "cannot reserve the exit status and termination records "
                                  "in %s: %s",
                                  f->meta, strerror(-r));
        /* After config.json: whatever a crash before it leaves, recovery
         * knows as a launch that never completed. */
        r = mkdir_p(f->sandbox, 0755);
        if (r < 0)
                return errbuf_set(e, r, "cannot create sandbox %s: %s", f->sandbox, strerror(-r));
        /* The supervisor's log is opened between its spawn and its exec,
         * while the loop waits: created here, that open allocates nothing. */
        _cleanup_free_ char *log = NULL;
        if (asprintf(&log, "%s/" LAUNCHER_LOG, f->meta) < 0)
                return errbuf_set(e, -ENOMEM, "out of memory");
        _cleanup_close_ int fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return errbuf_set(e, negative_errno(), "cannot create %s: %m", log);
        return 0;
}

/* ---- the end of a failed launch ---------------------------------------- */

/* On the worker: what a failed launch wrote goes, durably, so that the
 * failure answered after this stays true across a crash. c is off the
 * table; only its paths, which nothing changes, are read here. */
static int undo_files_work(void *userdata, struct sync_later *later)
{
        struct cz_container *c = userdata;
        int r, k;

        r = remove_tree_durably(c->meta, later);
        k = remove_tree_durably(c->sandbox, later);
        return r < 0 ? r : k;
}

static void launch_answer(struct cz_container *c, int r, const char *error);

/* From the loop, once the files are gone: the answer, then the end. */
static void undo_files_done(int r, void *userdata)
{
        struct cz_container *c = userdata;
        struct containerizer *cz = c->cz;
        const char *error = c->launch_error ? c->launch_error : "launch failed";

        for (struct cz_container **p = &cz->undoing; *p; p = &(*p)->undo_next)
                if (*p == c) {
                        *p = c->undo_next;
                        break;
                }
        if (r < 0)
                log_warning_errno(r,
                                  "Container %s: the files of its failed launch could not all be "
                                  "removed (%m): the next start lists it as TERMINATED",
                                  c->pub.config.id);
        launch_answer(c, c->launch_r, error);
        cz_container_free(c, true); /* a WAIT on it hears the launch error as its end */
}

/* A failed launch, off the table, ends once what it wrote is removed (on
 * the worker, after any job of it still queued there): only then is the
 * failure answered, so a crash after the answer cannot bring it back. */
static void launch_undo_files(struct containerizer *cz, struct cz_container *c)
{
        /* Nothing of it may fire while it waits for the worker. */
        if (c->step) {
                cz_unqueue_step(cz, c);
                c->step = NULL;
        }
        if (c->exit_ev)
                event_free(TAKE_PTR(c->exit_ev));
        if (c->pidfd >= 0)
                close(TAKE_FD(c->pidfd));
        c->undo_next = cz->undoing;
        cz->undoing = c;
        if (syncer_run(cz->sync, undo_files_work, undo_files_done, c) < 0)
                undo_files_done(undo_files_work(c, NULL), c); /* out of memory: here, then */
}

static bool launch_being_undone(const struct containerizer *cz, const char *id)
{
        for (const struct cz_container *c = cz->undoing; c; c = c->undo_next)
                if (strcmp(c->pub.config.id, id) == 0)
                        return true;
        return false;
}

/* Everything from the cgroup to the supervisor's start; undone by
 * launch_rollback(). */
static int do_launch(struct containerizer *cz, struct cz_container *c, struct errbuf *e)
{
        struct isolator_launch_info info = {};
        struct cz_container *parent = cz_find(cz, c->pub.config.parent_id);
        int r;

        c->isolated = true; /* from the first prepare on, cleanup must run */
        r = cg_create(&cz->h, c->cgroup);
        if (r < 0)
                return errbuf_set(e, r, "cannot create cgroup %s: %s", c->cgroup, strerror(-r));
        if (cz->h.mode == CG_V2 && (r = cg_get_id(&cz->h, c->cgroup, &c->cgroup_id)) < 0)
                return errbuf_set(e, r, "cannot read the id of cgroup %s: %s", c->cgroup,
                                  strerror(-r));

        struct isolator_container view = cz_isolator_view(c);
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                if (iso->ops->prepare && (r = iso->ops->prepare(iso, &view, &info, e)) < 0)
                        return r;
        }
        r = cz_set_allocation(cz, c);
        if (r < 0)
                return errbuf_set(e, r, "cannot set the allocation of %s", c->pub.config.id);

        struct launch_request req = {
            .spawner = cz->spawner,
            .id = c->pub.config.id,
            .hierarchy = &cz->h,
            .cgroup = c->cgroup,
            .supervisors_cgroup = cz->supervisors_cgroup,
            .meta_dir = c->meta,
            .sandbox = c->sandbox,
            .new_netns = info.new_netns,
            .join_netns_pid = info.new_netns || !parent ? 0 : parent->netns_pid,
        };
        c->own_netns = info.new_netns;
        c->netns_pid = req.join_netns_pid;
        return launcher_launch(cz->base, &req, on_launched, c, &c->launch, e);
}

/* Undo a launch that failed before its supervisor started: no process of it
 * exists, so nothing needs waiting for. */
static void launch_rollback(struct containerizer *cz, struct cz_container *c)
{
        cz_cleanup_isolators(cz, c);
        cz_reap_cgroup(cz, c->cgroup);
}

/* After the report: record the supervisor, isolate, watch. */
static int launch_adopt(struct containerizer *cz, struct cz_container *c, struct errbuf *e)
{
        struct isolator_container view = cz_isolator_view(c);
        int r;

        r = checkpoint_write_supervisor(c->meta, &c->sup, cz_later(cz));
        if (r < 0)
                return errbuf_set(e, r, "cannot checkpoint the supervisor of %s: %s",
                                  c->pub.config.id, strerror(-r));
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                if (iso->ops->isolate && (r = iso->ops->isolate(iso, &view, c->pub.pid)) < 0)
                        return errbuf_set(e, r, "%s cannot isolate %s: %s", iso->ops->name,
                                          c->pub.config.id, strerror(-r));
        }
        return 0;
}

static void launch_answer(struct cz_container *c, int r, const char *error)
{
        container_launch_fn done = c->launch_done;

        c->launch_done = NULL;
        c->in_launch = false;
        if (done)
                done(r, c->pub.config.id, error, c->launch_userdata);
}

/* The launch cannot go on: undo it from the loop, then answer. */
static void launch_fail(struct containerizer *cz, struct cz_container *c, int r, const char *error)
{
        log_error("Failed to launch container %s: %s", c->pub.config.id, error);
        c->launch_r = r;
        c->launch_error = strdup(error);
        cz_destroy(cz, c, NULL);
}

/* A queued step: record the supervisor, isolate; RUNNING once on disk. */
static void launch_step_adopt(struct containerizer *cz, struct cz_container *c)
{
        struct errbuf e = {};
        int r;

        r = launch_adopt(cz, c, &e);
        if (r < 0) {
                c->adopt_pending = false;
                return launch_fail(cz, c, r, e.msg);
        }
        /* Still adopt_pending: a limitation meanwhile destroys it once it is
         * RUNNING, a destroy cancels the wait. */
        cz_queue_step_when_durable(cz, c, launch_step_running);
}

/* The last step, once its checkpoints are on disk: RUNNING, answer. */
static void launch_step_running(struct containerizer *cz, struct cz_container *c)
{
        char error[256];

        c->adopt_pending = false;
        if (c->sync_r < 0) {
                snprintf(error, sizeof(error), "cannot flush the checkpoint of %s to disk: %s",
                         c->pub.config.id, strerror(-c->sync_r));
                return launch_fail(cz, c, c->sync_r, error);
        }
        if (cz_set_state(cz, c, CONTAINER_RUNNING) < 0)
                return;
        log_info("Launched container %s (main pid %d, supervisor pid %d)", c->pub.config.id,
                 (int)c->pub.pid, (int)c->sup.pid);
        launch_answer(c, 0, NULL);
        if (c->destroy_when_running)
                cz_destroy(cz, c, NULL); /* its termination is recorded */
        else if (c->pidfd < 0)
                cz_on_supervisor_gone(cz, c); /* it ended before this step */
}

static void on_launched(int r, struct launch_report *rep, const char *error, void *userdata)
{
        struct cz_container *c = userdata;
        struct containerizer *cz = c->cz;

        c->launch = NULL;
        c->pidfd = rep->sup_pidfd;
        if (c->pidfd >= 0 && cz_watch_supervisor(c) < 0)
                close(TAKE_FD(c->pidfd)); /* then the destroy's bound ends it */
        if (r < 0)
                return launch_fail(cz, c, r, error);
        c->sup = rep->sup;
        c->main_pidfd = rep->main_pidfd;
        c->pub.pid = c->sup.main_pid;
        if (c->own_netns)
                c->netns_pid = c->pub.pid;
        c->adopt_pending = true;
        cz_queue_step(cz, c, launch_step_adopt);
}

void cz_launch_undone(struct containerizer *cz, struct cz_container *c)
{
        _cleanup_free_ char *parent = NULL;
        const char *error = c->launch_error ? c->launch_error : "launch failed";

        cz_erase(cz, c);
        if (c->pub.config.parent_id)
                parent = strdup(c->pub.config.parent_id);
        if (!c->pub.termination.message)
                c->pub.termination.message = strdup(error);
        /* The supervisor has exited (or was killed at the bound): nothing
         * writes into its files any more. */
        launch_undo_files(cz, c);
        struct cz_container *p = cz_find(cz, parent);
        if (p)
                cz_maybe_end(cz, p); /* it may have waited for this one */
}

/* No process of c exists yet: undone at once, answered once its files are
 * gone. */
static void launch_undo_early(struct containerizer *cz, struct cz_container *c, int r,
                              const char *error)
{
        log_error("Failed to launch container %s: %s", c->pub.config.id, error);
        launch_rollback(cz, c);
        cz_erase(cz, c);
        c->launch_r = r;
        if (!c->launch_error)
                c->launch_error = strdup(error);
        launch_undo_files(cz, c);
}

/* A queued step, once the files are there: cgroup, isolators, supervisor. */
static void launch_step_process(struct containerizer *cz, struct cz_container *c)
{
        struct errbuf e = {};
        int r;

        r = do_launch(cz, c, &e);
        if (r < 0)
                launch_undo_early(cz, c, r, e.msg);
}

static void launch_files_done(int r, void *userdata)
{
        struct launch_files *f = userdata;
        struct cz_container *c = f->job.c;
        char error[sizeof(f->e.msg)];

        snprintf(error, sizeof(error), "%s",
                 f->e.msg[0] ? f->e.msg : "cannot flush the checkpoint to disk");
        launch_files_free(f);
        if (!c)
                return; /* destroyed meanwhile: its undoing removes the files */
        c->job = NULL;
        if (r < 0)
                return launch_undo_early(c->cz, c, r, error);
        cz_queue_step(c->cz, c, launch_step_process);
}

/* The first queued step: hand the files to the worker. */
static void launch_step_start(struct containerizer *cz, struct cz_container *c)
{
        struct launch_files *f = calloc(1, sizeof(*f));

        /* The id is unknown, so whatever lies at its paths belongs to a
         * container whose checkpoint could not be recovered: the new one
         * must not inherit its output, exit status or termination. */
        if (!launch_being_undone(cz, c->pub.config.id) &&
            (access(c->meta, F_OK) == 0 || access(c->sandbox, F_OK) == 0))
                log_warning("Container %s: removing the files of an earlier, unrecovered "
                            "container of that id",
                            c->pub.config.id);
        if (!f || !(f->meta = strdup(c->meta)) || !(f->sandbox = strdup(c->sandbox)) ||
            !(f->config = checkpoint_format_config(&c->pub.config)) ||
            syncer_run(cz->sync, launch_files_work, launch_files_done, f) < 0) {
                if (f)
                        launch_files_free(f);
                return launch_undo_early(cz, c, -ENOMEM, "out of memory");
        }
        /* Waiting for the job counts as its step: a destroy detaches it. */
        f->job.c = c;
        c->job = &f->job;
        c->step = launch_step_process;
}

int containerizer_launch(struct containerizer *cz, struct container_config *cfg,
                         container_launch_fn done, void *userdata, void **ret_handle,
                         struct errbuf *e)
{
        struct cz_container *c;
        int r;

        r = validate_config(cz, cfg, e);
        if (r < 0)
                return r;
        r = cz_container_new(cz, cfg, &c);
        if (r < 0)
                return errbuf_set(e, r, "out of memory");
        r = cz_insert(cz, c);
        if (r < 0) {
                *cfg = c->pub.config; /* the caller keeps its config on failure */
                c->pub.config = (struct container_config){};
                cz_container_free(c, false);
                return errbuf_set(e, r, "out of memory");
        }
        /* The id is taken (LAUNCHING) now; the work comes in its turn. */
        c->in_launch = true;
        c->launch_done = done;
        c->launch_userdata = userdata;
        cz_queue_step(cz, c, launch_step_start);
        *ret_handle = c;
        return 0;
}

void containerizer_launch_forget(struct containerizer *cz, void *handle)
{
        struct cz_container *c = handle;

        (void)cz;
        if (c)
                c->launch_done = NULL;
}
