/* containerizer-launch.c - LAUNCH_CONTAINER: validate the request's
 * semantics, then checkpoint, cgroup, isolators (prepare, allocation),
 * supervisor, isolate, in that order, so that a crash at any point leaves a
 * checkpoint recovery can make sense of. The records a container writes at
 * its end are reserved right after config.json, before anything runs, so a
 * launch on a disk too full for them fails (507) rather than a later exit
 * status going unrecorded. The container is LAUNCHING from the call until
 * its supervisor's report, which comes as an event: the call
 * returns at once and its answer follows (a frozen parent cgroup that keeps
 * the main process from starting delays only this launch). The work before
 * the supervisor starts and after it reports (each writes a checkpoint and
 * waits for it to be durable) is queued, one step per loop turn, so a burst
 * of launches leaves room for every other request between its steps. A failure undoes
 * every step: no cgroup, checkpoint, sandbox or process of a failed launch
 * stays behind; once a supervisor exists, the undoing is a destroy (killing
 * it and the cgroup, from the loop) before the answer. */
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

/* Everything up to the supervisor's start; undone by launch_rollback(). */
static int do_launch(struct containerizer *cz, struct cz_container *c, struct errbuf *e)
{
        struct isolator_launch_info info = {};
        struct cz_container *parent = cz_find(cz, c->pub.config.parent_id);
        int r;

        /* The id is unknown, so whatever lies at its paths belongs to a
         * container whose checkpoint could not be recovered: the new one
         * must not inherit its output, exit status or termination. */
        if (access(c->meta, F_OK) == 0 || access(c->sandbox, F_OK) == 0)
                log_warning("Container %s: removing the files of an earlier, unrecovered "
                            "container of that id",
                            c->pub.config.id);
        r = rm_rf(c->meta);
        if (r >= 0)
                r = rm_rf(c->sandbox);
        if (r < 0)
                return errbuf_set(e, r, "cannot remove the stale files of %s: %s", c->pub.config.id,
                                  strerror(-r));
        r = checkpoint_write_config(c->meta, &c->pub.config);
        if (r < 0)
                return errbuf_set(e, r, "cannot checkpoint %s: %s", c->meta, strerror(-r));
        /* What the container must be able to record at its end, however full
         * the disk is by then. */
        r = checkpoint_reserve(c->meta);
        if (r < 0)
                return errbuf_set(e, r,
                                  "cannot reserve the exit status and termination records "
                                  "in %s: %s",
                                  c->meta, strerror(-r));
        /* After config.json: whatever a crash before it leaves, recovery
         * knows as a launch that never completed. */
        r = mkdir_p(c->sandbox, 0755);
        if (r < 0)
                return errbuf_set(e, r, "cannot create sandbox %s: %s", c->sandbox, strerror(-r));
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
        (void)rm_rf(c->meta);
        (void)rm_rf(c->sandbox);
}

/* After the report: record the supervisor, isolate, watch. */
static int launch_adopt(struct containerizer *cz, struct cz_container *c, struct errbuf *e)
{
        struct isolator_container view = cz_isolator_view(c);
        int r;

        r = checkpoint_write_supervisor(c->meta, &c->sup);
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

/* A queued step: record the supervisor, isolate, RUNNING, answer. */
static void launch_step_adopt(struct containerizer *cz, struct cz_container *c)
{
        struct errbuf e = {};
        int r;

        c->adopt_pending = false;
        r = launch_adopt(cz, c, &e);
        if (r < 0)
                return launch_fail(cz, c, r, e.msg);
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

        /* The supervisor has exited (or was killed at the bound): nothing
         * writes into these any more. */
        (void)rm_rf(c->meta);
        (void)rm_rf(c->sandbox);
        cz_erase(cz, c);
        if (c->pub.config.parent_id)
                parent = strdup(c->pub.config.parent_id);
        /* A WAIT on it hears the launch error as its end. */
        if (!c->pub.termination.message)
                c->pub.termination.message = strdup(error);
        launch_answer(c, c->launch_r, error);
        cz_container_free(c, true);
        struct cz_container *p = cz_find(cz, parent);
        if (p)
                cz_maybe_end(cz, p); /* it may have waited for this one */
}

/* A queued step: everything up to the supervisor's start. */
static void launch_step_start(struct containerizer *cz, struct cz_container *c)
{
        struct errbuf e = {};
        int r;

        r = do_launch(cz, c, &e);
        if (r >= 0)
                return;
        /* No process of it exists yet: undone at once. */
        log_error("Failed to launch container %s: %s", c->pub.config.id, e.msg);
        launch_rollback(cz, c);
        cz_erase(cz, c);
        launch_answer(c, r, e.msg);
        cz_container_free(c, true);
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
