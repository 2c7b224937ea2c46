/* containerizer-launch.c - LAUNCH_CONTAINER: validate the request's
 * semantics, then checkpoint, cgroup, isolators (prepare, allocation),
 * supervisor, isolate, in that order, so that a crash at any point leaves a
 * checkpoint recovery can make sense of. A failure undoes every step: no
 * cgroup, checkpoint, sandbox or process of a failed launch stays behind. */
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

static int do_launch(struct containerizer *cz, struct cz_container *c, struct errbuf *e)
{
        struct isolator_launch_info info = {};
        struct cz_container *parent = cz_find(cz, c->pub.config.parent_id);
        int pidfd = -1, r;

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
        r = mkdir_p(c->sandbox, 0755);
        if (r < 0)
                return errbuf_set(e, r, "cannot create sandbox %s: %s", c->sandbox, strerror(-r));
        r = checkpoint_write_config(c->meta, &c->pub.config);
        if (r < 0)
                return errbuf_set(e, r, "cannot checkpoint %s: %s", c->meta, strerror(-r));
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
        r = launcher_launch(&req, &c->sup, &pidfd, e);
        if (r < 0)
                return r;
        c->pidfd = pidfd;
        c->pub.pid = c->sup.main_pid;
        c->netns_pid = info.new_netns ? c->pub.pid : req.join_netns_pid;
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
        r = cz_watch_supervisor(c);
        if (r < 0)
                return errbuf_set(e, r, "cannot watch the supervisor of %s", c->pub.config.id);
        return 0;
}

/* Undo a failed launch: nothing of it may stay behind. */
static void launch_rollback(struct containerizer *cz, struct cz_container *c)
{
        /* The supervisor first: it must not record an exit into the
         * checkpoint directory we are about to remove. */
        if (c->pidfd >= 0)
                (void)launcher_kill_supervisor(c->pidfd);
        (void)cg_kill(&cz->h, c->cgroup);
        cz_cleanup_isolators(cz, c);
        (void)cg_remove(&cz->h, c->cgroup);
        (void)rm_rf(c->meta);
        (void)rm_rf(c->sandbox);
}

int containerizer_launch(struct containerizer *cz, struct container_config *cfg, struct errbuf *e)
{
        struct cz_container *c;
        int r;

        r = validate_config(cz, cfg, e);
        if (r < 0)
                return r;
        r = cz_container_new(cz, cfg, &c);
        if (r < 0)
                return errbuf_set(e, r, "out of memory");
        c->pub.state = CONTAINER_LAUNCHING;
        r = cz_insert(cz, c);
        if (r >= 0)
                r = do_launch(cz, c, e);
        if (r < 0) {
                log_error("Failed to launch container %s: %s", c->pub.config.id, e ? e->msg : "");
                launch_rollback(cz, c);
                cz_erase(cz, c);
                *cfg = c->pub.config; /* the caller keeps its config on failure */
                c->pub.config = (struct container_config){};
                cz_container_free(c, false);
                return r;
        }
        c->pub.state = CONTAINER_RUNNING;
        log_info("Launched container %s (main pid %d, supervisor pid %d)", c->pub.config.id,
                 (int)c->pub.pid, (int)c->sup.pid);
        return 0;
}
