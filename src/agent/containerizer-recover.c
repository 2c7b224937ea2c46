/* containerizer-recover.c - the containerizer's start, stop and recovery;
 * the lifecycle itself is in containerizer.c, the watch loop in
 * containerizer-watch.c.
 *
 * Recovery trusts only the checkpoint: each container's config.json (with
 * its allocation, whatever isolators the previous agent ran), its supervisor
 * record and the exit status the supervisor left. A live supervisor (pid,
 * start time and boot id all match) is re-adopted through a new pidfd; the
 * recovered containers are handed to every isolator at once, in one
 * recover() call, so the very next pass checks them. Nothing the agent
 * cannot account for is killed unasked: a live container whose config.json
 * or supervisor record cannot be read is listed as UNKNOWN (not isolated:
 * its allocation is unknown) until the operator kills it, and so is a cgroup
 * with processes that no checkpoint explains; one that ended is listed as
 * TERMINATED with what its records say. A corrupt record costs that
 * container only, with one warning naming the file. What a crash leaves
 * that holds nothing (an empty cgroup, a launch that never wrote its
 * config.json, a removal's tombstone) is deleted. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/containerizer-private.h"
#include "agent/launcher.h"
#include "agent/tombs.h"
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
        cz->events = calloc(1, sizeof(*cz->events));
        if (!cz->events) {
                free(cz);
                return -ENOMEM;
        }
        cz_metrics_init(&cz->m);
        r = syncer_new(base, &cz->sync);
        if (r < 0) {
                free(cz->events);
                free(cz);
                return errbuf_set(e, r, "cannot start the checkpoint flusher: %s", strerror(-r));
        }
        r = spawner_new(base, &cz->spawner);
        if (r < 0) {
                containerizer_free(cz);
                return errbuf_set(e, r, "cannot start the supervisor spawner: %s", strerror(-r));
        }
        r = tombs_new(&cz->tombs);
        if (r < 0) {
                containerizer_free(cz);
                return errbuf_set(e, r, "cannot start the file remover: %s", strerror(-r));
        }

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
        if (cz->watch_ev)
                event_free(cz->watch_ev);
        if (cz->confirm_ev)
                event_free(cz->confirm_ev);
        cz_reaps_free(cz);
        cz_steps_free(cz);
        for (size_t i = 0; i < cz->n; i++)
                cz_container_free(CZC(cz->v[i]), false);
        free(cz->v);
        /* After the containers: their launches no longer wait for it. */
        spawner_free(TAKE_PTR(cz->spawner));
        tombs_free(TAKE_PTR(cz->tombs));
        /* What was written reaches the disk before the locks go. */
        syncer_free(TAKE_PTR(cz->sync));
        /* Their jobs have run: only their answers, to no one now, are left. */
        while (cz->undoing) {
                struct cz_container *c = cz->undoing;
                cz->undoing = c->undo_next;
                cz_container_free(c, false);
        }
        for (size_t i = 0; i < ELEMENTSOF(cz->lock_fds); i++)
                if (cz->lock_fds[i] >= 0)
                        close(cz->lock_fds[i]);
        for (size_t i = 0; i < cz->n_isolators; i++)
                isolator_free(cz->isolators[i]);
        free(cz->isolators);
        free(cz->supervisors_cgroup);
        if (cz->events)
                event_log_done(cz->events);
        free(cz->events);
        free(cz);
}

/* ---- recovery ------------------------------------------------------------ */

struct recovered {
        struct isolator_recovered *v;
        size_t n, alloc;
};

/* True if any process lives in the cgroup or below it. */
static bool cgroup_populated(struct containerizer *cz, const char *rel)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        if (!cg_exists(&cz->h, rel))
                return false;
        /* Unreadable counts as populated: never take a live tree for debris. */
        if (cg_list_pids(&cz->h, rel, true, &pids, &n) < 0)
                return true;
        return n > 0;
}

/* Whether a checkpoint directory holds any record but temporary files. */
static bool has_records(const char *meta)
{
        _cleanup_closedir_ DIR *d = opendir(meta);
        struct dirent *de;

        if (!d)
                return false;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && !strstr(de->d_name, ".tmp.") &&
                    strcmp(de->d_name, "containers") != 0)
                        return true;
        return false;
}

/* A container of the table built from its id alone (for what cannot be read). */
static int container_from_id(struct containerizer *cz, const char *id,
                             const struct cz_container *parent, struct cz_container **ret)
{
        _cleanup_(container_config_done) struct container_config cfg = {};

        cfg.id = strdup(id);
        if (!cfg.id || (parent && !(cfg.parent_id = strdup(parent->pub.config.id))))
                return -ENOMEM;
        return cz_container_new(cz, &cfg, ret);
}

/* Read what a container recorded at its end; a corrupt record costs only
 * itself (one warning), the container stays listed with what is known. */
static void read_end_records(struct cz_container *c)
{
        struct container_termination *t = &c->pub.termination;
        struct errbuf e = {};
        int r;

        r = checkpoint_read_termination(c->meta, t, &e);
        if (r < 0 && r != -ENOENT)
                log_warning("Container %s: %s", c->pub.config.id, e.msg);
        e = (struct errbuf){};
        r = checkpoint_read_exit_status(c->meta, &t->exit_status, &e);
        if (r >= 0)
                t->has_exit_status = true;
        else if (r != -ENOENT) {
                log_warning("Container %s: %s", c->pub.config.id, e.msg);
                c->exit_status_corrupt = true;
                if (!c->lost)
                        c->lost = strdup("its exit status record is corrupt");
        }
}

/* Adopt a recorded live supervisor: c->pidfd watches it. */
static bool adopt(struct cz_container *c, const struct checkpoint_supervisor *sup)
{
        int pidfd = -1;

        if (launcher_adopt(sup, &pidfd) < 0)
                return false;
        c->sup = *sup;
        c->pidfd = pidfd;
        c->pub.pid = sup->main_pid;
        if (launcher_adopt_main(sup, &c->main_pidfd) < 0)
                c->main_pidfd = -1;
        if (cz_watch_supervisor(c) < 0)
                log_error("Failed to watch the supervisor of %s", c->pub.config.id);
        return true;
}

/* A recovered container that ended while the agent was away: through
 * DESTROYING (its cgroup is killed and removed) to TERMINATED. That end was
 * not the agent's doing: explain_end() may say why. */
static void end_recovered(struct containerizer *cz, struct cz_container *c)
{
        cz_destroy(cz, c, NULL);
        c->killed_by_agent = c->pub.termination.destroyed;
}

/* Add a recovered container to the table, with its cgroup id when it runs
 * on v2 and its cgroup is there; frees it when that fails. */
static int insert_recovered(struct containerizer *cz, struct cz_container *c)
{
        int r;

        if (cz->h.mode == CG_V2 && cg_exists(&cz->h, c->cgroup))
                (void)cg_get_id(&cz->h, c->cgroup, &c->cgroup_id);
        r = cz_insert(cz, c);
        if (r < 0)
                cz_container_free(c, false);
        return r;
}

/* A checkpoint whose config.json or supervisor record cannot be read
 * (problem says why). If anything of it runs, it is listed as UNKNOWN and
 * left alone until the operator kills it; if nothing runs, it is listed as
 * TERMINATED with what is known; a launch that never got as far as its
 * config.json (nothing but temporary files, nothing running) is removed. */
static int recover_unreadable(struct containerizer *cz, const char *id, const char *meta,
                              struct cz_container *parent, int err, const char *problem)
{
        _cleanup_free_ char *cgroup = NULL;
        struct checkpoint_supervisor sup = {};
        struct cz_container *c;
        struct errbuf e = {};
        bool has_sup, live;
        int r;

        if (asprintf(&cgroup, "%s/%s", cz->flags->cgroups_root, id) < 0)
                return -ENOMEM;
        has_sup = checkpoint_read_supervisor(meta, &sup, &e) >= 0;
        live = cgroup_populated(cz, cgroup);

        if (err == -ENOENT && !has_sup && !live && !has_records(meta)) {
                _cleanup_free_ char *sandbox = NULL;
                r = sandbox_dir(cz->flags->work_dir, id, &sandbox);
                if (r < 0)
                        return r;
                cz_reap_cgroup(cz, cgroup); /* empty: removes it, or retries on a timer */
                r = checkpoint_remove(cz->flags->work_dir, id, cz_later(cz));
                if (r >= 0)
                        r = remove_tree_durably(sandbox, cz_later(cz));
                if (r < 0)
                        return log_warning_errno(r, "Failed to remove the leftovers of %s: %m", id);
                log_info("Removed the leftovers of container %s, whose launch never completed "
                         "(no config.json, nothing running)",
                         id);
                return 1;
        }

        r = container_from_id(cz, id, parent, &c);
        if (r < 0)
                return r;
        c->pub.problem = strdup(problem);
        read_end_records(c);
        bool alive = has_sup && adopt(c, &sup);
        r = insert_recovered(cz, c);
        if (r < 0)
                return r;
        if (live || alive) {
                (void)cz_set_state(cz, c, CONTAINER_UNKNOWN);
                log_warning("Container %s is running but its checkpoint is unreadable (%s): "
                            "listed as UNKNOWN and not isolated; KILL_CONTAINER ends it",
                            id, problem);
                return 0;
        }
        log_warning("Container %s: its checkpoint is unreadable (%s) and nothing of it runs: "
                    "listed as TERMINATED with what is known; REMOVE_CONTAINER deletes it",
                    id, problem);
        if (!c->lost &&
            asprintf(&c->lost, "ended while its checkpoint was unreadable (%s)", problem) < 0)
                c->lost = NULL;
        end_recovered(cz, c);
        return 0;
}

static int recover_one(struct containerizer *cz, const char *id, struct recovered *rs,
                       struct errbuf *e)
{
        _cleanup_(container_config_done) struct container_config cfg = {};
        _cleanup_free_ char *meta = NULL;
        struct checkpoint_supervisor sup = {};
        struct cz_container *c, *parent = NULL;
        const char *slash = strrchr(id, '/');
        bool has_sup, alive = false;
        char boot[40] = "";
        int r;

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
        if (r >= 0 && (strcmp(cfg.id, id) != 0 || (!!cfg.parent_id != !!parent) ||
                       (parent && strcmp(cfg.parent_id, parent->pub.config.id) != 0)))
                r = errbuf_set(e, -EINVAL, "%s/config.json: describes container '%s'", meta,
                               cfg.id);
        if (r >= 0 && (r = checkpoint_read_supervisor(meta, &sup, e)) == -ENOENT)
                r = 0; /* reserved, never written: the launch did not complete */
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return recover_unreadable(cz, id, meta, parent, r, e->msg);
        has_sup = sup.pid > 0;

        r = cz_container_new(cz, &cfg, &c);
        if (r < 0)
                return r;
        read_end_records(c);
        if (has_sup)
                alive = adopt(c, &sup);
        else {
                c->sup = sup;
                if (!c->lost)
                        c->lost = strdup("its launch never completed: the agent stopped before "
                                         "its supervisor was recorded");
        }
        if (has_sup && !alive) {
                c->sup = sup;
                c->pub.pid = sup.main_pid;
                FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
                if (f) {
                        if (!fgets(boot, sizeof(boot), f))
                                boot[0] = '\0';
                        fclose(f);
                        boot[strcspn(boot, "\n")] = '\0';
                }
                if (!c->lost &&
                    asprintf(&c->lost,
                             sup.boot_id[0] && boot[0] && strcmp(sup.boot_id, boot) != 0
                                 ? "the machine rebooted while it ran (supervisor pid %d, main "
                                   "pid %d): no exit status was recorded"
                                 : "its supervisor (pid %d) and main process (pid %d) were gone "
                                   "when the agent recovered it, with no exit status recorded",
                             (int)sup.pid, (int)sup.main_pid) < 0)
                        c->lost = NULL;
        }
        r = insert_recovered(cz, c);
        if (r < 0)
                return r;

        if (!alive) {
                /* Ended while we were away (or the machine rebooted). */
                end_recovered(cz, c);
                return 0;
        }

        (void)cz_set_state(cz, c, CONTAINER_RUNNING);
        if (cz->flags->isolation_network_cni && c->pub.config.network)
                c->netns_pid = c->pub.pid;
        else if (parent)
                c->netns_pid = parent->netns_pid;

        if (parent && parent->pub.state == CONTAINER_UNKNOWN) {
                /* Its root's allocation is unknown: nothing to isolate against. */
                log_warning("Recovered container %s (main pid %d) below UNKNOWN container %s: "
                            "not isolated",
                            id, (int)c->pub.pid, parent->pub.config.id);
                return 0;
        }
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
        c->isolated = true;
        log_info("Recovered container %s (main pid %d, supervisor pid %d)", id, (int)c->pub.pid,
                 (int)c->sup.pid);
        /* It was being destroyed when the agent stopped. */
        if (c->pub.termination.state || c->pub.termination.destroyed)
                cz_destroy(cz, c, NULL);
        return 0;
}

/* Cgroups below the root that no checkpoint explains: a top-level one, or
 * one right below a recovered container (a nested container whose checkpoint
 * was lost). Empty, they are debris and removed. With processes inside, they
 * are not the agent's to kill unasked: listed as UNKNOWN, so the operator
 * sees them and can KILL_CONTAINER them. The cgroups below one go with it. */
static void adopt_orphans(struct containerizer *cz)
{
        char **rels = NULL;
        size_t n = 0;

        if (cg_list_descendants(&cz->h, cz->flags->cgroups_root, &rels, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *rel = NULL, *parent_id = NULL;
                const char *id = rels[i], *slash = strrchr(id, '/');
                struct cz_container *parent = NULL, *c;

                if (cz_find(cz, id))
                        continue;
                if (slash) {
                        parent_id = strndup(id, (size_t)(slash - id));
                        if (!parent_id)
                                break;
                        parent = cz_find(cz, parent_id);
                        if (!parent)
                                continue; /* below an orphan: goes with it */
                }
                if (asprintf(&rel, "%s/%s", cz->flags->cgroups_root, id) < 0)
                        break;
                if (!cgroup_populated(cz, rel)) {
                        cz_reap_cgroup(cz, rel); /* empty: removes it */
                        continue;
                }
                if (container_id_validate(slash ? slash + 1 : id, NULL) < 0 ||
                    container_from_id(cz, id, parent, &c) < 0)
                        continue;
                c->pub.problem = strdup("no checkpoint: its cgroup has processes but nothing "
                                        "records what runs there");
                if (insert_recovered(cz, c) < 0)
                        continue;
                (void)cz_set_state(cz, c, CONTAINER_UNKNOWN);
                log_warning("Cgroup %s has processes but no checkpoint: listed as UNKNOWN "
                            "container %s, not isolated; KILL_CONTAINER ends it",
                            rel, id);
        }
        strv_free_n(rels, n);
}

int containerizer_recover(struct containerizer *cz)
{
        struct recovered rs = {};
        char **ids = NULL;
        size_t n = 0, ok = 0, swept;
        int r;

        /* What the last agent wrote and had not yet flushed when it died
         * (a removal it never answered) is still in the page cache: flushed
         * first, what recovery reads and reports is also what a power cut
         * would leave. */
        if (cz->lock_fds[0] >= 0 && syncfs(cz->lock_fds[0]) < 0)
                log_warning_errno(negative_errno(), "Failed to flush the file system of %s: %m",
                                  cz->flags->work_dir);
        swept = checkpoint_sweep(cz->flags->work_dir);
        if (swept > 0)
                log_info("Deleted %zu directories of removed containers that a crash left", swept);
        r = checkpoint_list(cz->flags->work_dir, &ids, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list checkpointed containers: %m");
        for (size_t i = 0; i < n; i++) {
                struct errbuf e = {};
                r = recover_one(cz, ids[i], &rs, &e);
                if (r < 0)
                        log_error("Failed to recover container %s: %s", ids[i],
                                  e.msg[0] ? e.msg : strerror(-r));
                else if (r == 0)
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
        adopt_orphans(cz);
        if (ok > 0)
                log_info("Recovered %zu of %zu checkpointed containers", ok, n);
        /* Recovered containers are checked at once, not a whole interval later. */
        if (cz->watch_ev && ok > 0)
                (void)containerizer_check_now(cz);
        return 0;
}

void containerizer_shutdown(struct containerizer *cz)
{
        int r;

        for (size_t i = 0; i < cz->n; i++)
                if (cz->v[i]->state != CONTAINER_TERMINATED)
                        return; /* their supervisors live in .supervisors */
        /* A supervisor that outlived its container (it is finishing) keeps
         * the cgroup: EBUSY, and it stays. */
        r = cg_remove(&cz->h, cz->supervisors_cgroup);
        if (r >= 0)
                r = cg_remove(&cz->h, cz->flags->cgroups_root);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove the agent's cgroups below %s: %m",
                                  cz->flags->cgroups_root);
        else
                log_info("Removed cgroup %s: no container needs it", cz->flags->cgroups_root);
}
