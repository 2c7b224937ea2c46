/* containerizer-recover.c - the containerizer's start, stop and recovery;
 * the lifecycle itself is in containerizer.c, the watch loop in
 * containerizer-watch.c.
 *
 * Recovery trusts only the checkpoint: each container's config.json (with
 * its allocation, whatever isolators the previous agent ran), its supervisor
 * record and the exit status the supervisor left. A live supervisor (pid,
 * start time and boot id all match) is re-adopted through a new pidfd; the
 * recovered containers are handed to every isolator at once, in one
 * recover() call, so the very next pass checks them. A corrupt checkpoint costs that container
 * only, with one line naming the file. Cgroups below --cgroups_root that no checkpoint explains are
 * orphans of a crash: killed and removed, as Mesos' launcher does. */
#include <string.h>
#include <time.h>

#include "agent/containerizer-private.h"
#include "agent/launcher.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/sorted-array.h"

#define SUPERVISORS_CGROUP ".supervisors"

int containerizer_add_isolator(struct containerizer *cz, const struct isolator_ops *ops,
                               struct errbuf *e)
{
        struct isolator **v, *iso;
        int r;

        v = reallocarray(cz->isolators, cz->n_isolators + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        cz->isolators = v;
        r = isolator_new(ops, &cz->ictx, &iso, e);
        if (r < 0)
                return r;
        cz->isolators[cz->n_isolators++] = iso;

        if (ops->watch && !cz->watch_ev) {
                struct timeval tv = {
                    .tv_sec =
                        (time_t)(cz->flags->container_ports_watch_interval_ns / 1000000000ULL),
                    .tv_usec = (suseconds_t)(cz->flags->container_ports_watch_interval_ns %
                                             1000000000ULL / 1000),
                };
                if (tv.tv_sec == 0 && tv.tv_usec == 0)
                        tv.tv_usec = 1;
                cz->watch_ev = event_new(cz->base, -1, EV_PERSIST, cz_on_watch, cz);
                if (!cz->watch_ev || event_add(cz->watch_ev, &tv) < 0)
                        return errbuf_set(e, -ENOMEM, "cannot start the watch timer");
        }
        return 0;
}

/* A second agent on the same work dir would fight over the checkpoints; on
 * the same cgroups root it would take the first one's containers for orphans
 * and kill them. Neither may start: each agent holds a flock on both. */
static int lock_dir(const char *path, int *ret_fd, struct errbuf *e)
{
        int r = lock_directory(path, ret_fd);

        if (r == -EBUSY)
                return errbuf_set(e, r, "another portiso-agent is using %s", path);
        if (r < 0)
                return errbuf_set(e, r, "cannot lock %s: %s", path, strerror(-r));
        return 0;
}

int containerizer_new(struct event_base *base, const struct agent_flags *flags,
                      struct containerizer **ret, struct errbuf *e)
{
        struct containerizer *cz;
        _cleanup_free_ char *meta = NULL, *sandboxes = NULL, *root = NULL;
        int r;

        cz = calloc(1, sizeof(*cz));
        if (!cz)
                return -ENOMEM;
        cz->base = base;
        cz->flags = flags;
        cz->lock_fds[0] = cz->lock_fds[1] = -1;
        cz_metrics_init(&cz->m);

        /* The work dir first: an agent refused there creates no cgroup. */
        r = cg_hierarchy_detect(flags->cgroups_hierarchy, &cz->h, e);
        if (r >= 0 && (asprintf(&meta, "%s/meta/containers", flags->work_dir) < 0 ||
                       asprintf(&sandboxes, "%s/containers", flags->work_dir) < 0))
                r = -ENOMEM;
        if (r >= 0 && ((r = mkdir_p(meta, 0700)) < 0 || (r = mkdir_p(sandboxes, 0755)) < 0))
                errbuf_set(e, r, "cannot create the work directory %s: %s", flags->work_dir,
                           strerror(-r));
        if (r >= 0 && (r = mkdir_p(flags->runtime_dir, 0755)) < 0)
                errbuf_set(e, r, "cannot create the runtime directory %s: %s", flags->runtime_dir,
                           strerror(-r));
        if (r >= 0)
                r = lock_dir(meta, &cz->lock_fds[0], e);
        if (r >= 0 && (r = cg_create(&cz->h, flags->cgroups_root)) < 0)
                errbuf_set(e, r, "cannot create cgroup %s: %s", flags->cgroups_root, strerror(-r));
        if (r >= 0 && (r = cg_path(&cz->h, flags->cgroups_root, &root)) >= 0)
                r = lock_dir(root, &cz->lock_fds[1], e);
        if (r >= 0 &&
            asprintf(&cz->supervisors_cgroup, "%s/" SUPERVISORS_CGROUP, flags->cgroups_root) < 0)
                r = -ENOMEM;
        if (r >= 0 && (r = cg_create(&cz->h, cz->supervisors_cgroup)) < 0)
                errbuf_set(e, r, "cannot create cgroup %s: %s", cz->supervisors_cgroup,
                           strerror(-r));
        if (r < 0) {
                containerizer_free(cz);
                return r;
        }

        cz->ictx = (struct isolator_context){
            .hierarchy = &cz->h,
            .cgroups_root = flags->cgroups_root,
            .isolated = &flags->isolated,
            .protocols = flags->container_ports_protocols,
            .cni_enabled = flags->isolation_network_cni,
        };
        if (flags->isolation_network_cni)
                r = containerizer_add_isolator(cz, &isolator_network_cni, e);
        if (r >= 0 && flags->isolation_network_ports)
                r = containerizer_add_isolator(cz, &isolator_network_ports, e);
        if (r < 0) {
                containerizer_free(cz);
                return r;
        }
        log_info("Containers live in cgroup %s on %s (%s)", flags->cgroups_root, cz->h.path,
                 cg_mode_to_string(cz->h.mode));
        *ret = cz;
        return 0;
}

void containerizer_free(struct containerizer *cz)
{
        if (!cz)
                return;
        for (size_t i = 0; i < ELEMENTSOF(cz->lock_fds); i++)
                if (cz->lock_fds[i] >= 0)
                        close(cz->lock_fds[i]);
        if (cz->watch_ev)
                event_free(cz->watch_ev);
        cz_reaps_free(cz);
        for (size_t i = 0; i < cz->n; i++)
                cz_container_free(CZC(cz->v[i]), false);
        free(cz->v);
        for (size_t i = 0; i < cz->n_isolators; i++)
                isolator_free(cz->isolators[i]);
        free(cz->isolators);
        free(cz->supervisors_cgroup);
        free(cz);
}

/* ---- recovery ------------------------------------------------------------ */

struct recovered {
        struct isolator_recovered *v;
        size_t n, alloc;
};

static int recover_one(struct containerizer *cz, const char *id, struct recovered *rs,
                       struct errbuf *e)
{
        _cleanup_(container_config_done) struct container_config cfg = {};
        _cleanup_free_ char *meta = NULL;
        struct checkpoint_supervisor sup = {};
        struct cz_container *c, *parent = NULL;
        const char *slash = strrchr(id, '/');
        bool has_sup, alive = false;
        int pidfd = -1, r;

        if (slash) {
                _cleanup_free_ char *pid = strndup(id, (size_t)(slash - id));
                if (!pid)
                        return -ENOMEM;
                parent = cz_find(cz, pid);
                if (!parent)
                        return errbuf_set(e, -ENOENT, "its parent %s was not recovered", pid);
        }
        r = checkpoint_dir(cz->flags->work_dir, id, &meta);
        if (r < 0)
                return r;
        r = checkpoint_read_config(meta, &cfg, e);
        if (r < 0)
                return r;
        if (strcmp(cfg.id, id) != 0 || (!!cfg.parent_id != !!parent) ||
            (parent && strcmp(cfg.parent_id, parent->pub.config.id) != 0))
                return errbuf_set(e, -EINVAL, "%s/config.json: describes container '%s'", meta,
                                  cfg.id);
        r = checkpoint_read_supervisor(meta, &sup, e);
        if (r < 0 && r != -ENOENT)
                return r;
        has_sup = r >= 0;

        r = cz_container_new(cz, &cfg, &c);
        if (r < 0)
                return r;
        r = checkpoint_read_termination(c->meta, &c->pub.termination, e);
        if (r >= 0 || r == -ENOENT)
                r = checkpoint_read_exit_status(c->meta, &c->pub.termination.exit_status, e);
        if (r >= 0)
                c->pub.termination.has_exit_status = true;
        if (r < 0 && r != -ENOENT) {
                cz_container_free(c, false);
                return r;
        }
        if (has_sup && launcher_adopt(&sup, &pidfd) >= 0)
                alive = true;
        c->sup = sup;
        c->pidfd = pidfd;
        c->pub.pid = sup.main_pid;
        if (cz->h.mode == CG_V2 && cg_exists(&cz->h, c->cgroup))
                (void)cg_get_id(&cz->h, c->cgroup, &c->cgroup_id);
        r = cz_insert(cz, c);
        if (r < 0) {
                cz_container_free(c, false);
                return r;
        }

        if (!alive) {
                /* Ended while we were away (or the machine rebooted). */
                cz_destroy(cz, c, NULL);
                return 0;
        }

        (void)cz_set_state(cz, c, CONTAINER_RUNNING);
        if (launcher_adopt_main(&sup, &c->main_pidfd) < 0)
                c->main_pidfd = -1; /* ended, or being reaped: the supervisor reports it */
        if (cz->flags->isolation_network_cni && c->pub.config.network)
                c->netns_pid = c->pub.pid;
        else if (parent)
                c->netns_pid = parent->netns_pid;
        r = cz_watch_supervisor(c);
        if (r < 0)
                log_error_errno(r, "Failed to watch the supervisor of %s: %m", id);

        if (parent && parent->pub.state != CONTAINER_RUNNING) {
                cz_destroy(cz, c, &parent->pub.termination);
                return 0;
        }
        /* The isolators get every recovered container at once, after all
         * are read (Mesos' recover()). */
        struct isolator_recovered rec = {cz_isolator_view(c), parent ? NULL : &c->pub.config.ports};
        r = ARRAY_INSERT_AT(rs->v, rs->n, rs->alloc, rs->n, rec);
        if (r < 0)
                return errbuf_set(e, r, "out of memory");
        log_info("Recovered container %s (main pid %d, supervisor pid %d)", id, (int)c->pub.pid,
                 (int)c->sup.pid);
        /* It was being destroyed for a limitation when the agent stopped. */
        if (c->pub.termination.state)
                cz_destroy(cz, c, NULL);
        return 0;
}

/* Kill and remove the cgroups below the root that no container owns: a
 * top-level one, or one right below a recovered container (a nested
 * container whose checkpoint was lost). Left alone, its processes would run
 * inside a recovered tree without being accounted to anybody. The cgroups
 * below an orphan go with it. */
static void remove_orphans(struct containerizer *cz)
{
        char **rels = NULL;
        size_t n = 0;

        if (cg_list_descendants(&cz->h, cz->flags->cgroups_root, &rels, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *rel = NULL, *parent = NULL;
                const char *id = rels[i], *slash = strrchr(id, '/');

                if (cz_find(cz, id))
                        continue;
                if (slash) {
                        parent = strndup(id, (size_t)(slash - id));
                        if (!parent)
                                break;
                        if (!cz_find(cz, parent))
                                continue; /* below an orphan: removed with it */
                }
                if (asprintf(&rel, "%s/%s", cz->flags->cgroups_root, id) < 0)
                        break;
                log_warning("Destroying orphan cgroup %s (no checkpoint)", rel);
                cz_reap_cgroup(cz, rel);
        }
        strv_free_n(rels, n);
}

int containerizer_recover(struct containerizer *cz)
{
        struct recovered rs = {};
        char **ids = NULL;
        size_t n = 0, ok = 0;
        int r;

        r = checkpoint_list(cz->flags->work_dir, &ids, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list checkpointed containers: %m");
        for (size_t i = 0; i < n; i++) {
                struct errbuf e = {};
                r = recover_one(cz, ids[i], &rs, &e);
                if (r < 0)
                        log_error("Failed to recover container %s: %s", ids[i],
                                  e.msg[0] ? e.msg : strerror(-r));
                else
                        ok++;
                free(ids[i]);
        }
        free(ids);
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                if (iso->ops->recover && (r = iso->ops->recover(iso, rs.v, rs.n)) < 0)
                        log_error_errno(r, "Failed to recover %s: %m", iso->ops->name);
        }
        free(rs.v);
        remove_orphans(cz);
        if (n > 0)
                log_info("Recovered %zu of %zu checkpointed containers", ok, n);
        /* Recovered containers are checked at once, not a whole interval later. */
        if (cz->watch_ev && ok > 0)
                (void)containerizer_check_now(cz);
        return 0;
}
