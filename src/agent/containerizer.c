/* containerizer.c - the container lifecycle; see containerizer.h.
 *
 * Containers live in one array sorted by id (bsearch; "a" sorts before
 * "a/b"), each with its supervisor's pidfd on the loop. Nothing waits: a
 * launch answers when the supervisor's report comes, a destroy when its
 * cgroup has emptied and its supervisor exited, each learnt from an event,
 * so a stuck container delays only its own calls. Every state change goes
 * through cz_set_state(). Waiter callbacks never run re-entrantly: they are
 * fired through zero-timeout events, so a callback may call back into the
 * containerizer (remove, launch) without invalidating what we iterate.
 * Launching is in containerizer-launch.c, the end of a container in
 * containerizer-destroy.c, start, stop and recovery in
 * containerizer-recover.c, the watch loop in containerizer-watch.c. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/containerizer-private.h"
#include "agent/tombs.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/sorted-array.h"
#include "linux/process-util.h"

/* ---- the table ---------------------------------------------------------- */

struct cz_container *cz_find(const struct containerizer *cz, const char *id)
{
        bool found;
        size_t i;

        if (!id)
                return NULL;
        i = SORTED_INDEX(cz->v, cz->n, config.id, id, &found);
        return found ? CZC(cz->v[i]) : NULL;
}

int cz_insert(struct containerizer *cz, struct cz_container *c)
{
        bool found;
        size_t at = SORTED_INDEX(cz->v, cz->n, config.id, c->pub.config.id, &found);

        if (found)
                return -EEXIST;
        return ARRAY_INSERT_AT(cz->v, cz->n, cz->alloc, at, &c->pub);
}

void cz_erase(struct containerizer *cz, struct cz_container *c)
{
        bool found;
        size_t at = SORTED_INDEX(cz->v, cz->n, config.id, c->pub.config.id, &found);

        if (found)
                ARRAY_REMOVE_AT(cz->v, cz->n, at);
}

/* ---- containers --------------------------------------------------------- */

int cz_container_new(struct containerizer *cz, struct container_config *cfg,
                     struct cz_container **ret)
{
        struct cz_container *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->cz = cz;
        c->pidfd = -1;
        c->main_pidfd = -1;
        c->pub.config = *cfg;
        r = checkpoint_dir(cz->flags->work_dir, cfg->id, &c->meta);
        if (r >= 0)
                r = sandbox_dir(cz->flags->work_dir, cfg->id, &c->sandbox);
        if (r >= 0 && asprintf(&c->cgroup, "%s/%s", cz->flags->cgroups_root, cfg->id) < 0)
                r = -ENOMEM;
        if (r < 0) {
                c->pub.config = (struct container_config){}; /* still the caller's */
                cz_container_free(c, false);
                return r;
        }
        *cfg = (struct container_config){};
        *ret = c;
        return 0;
}

static void waiter_fire(evutil_socket_t fd, short what, void *userdata)
{
        struct waiter *w = userdata;
        struct cz_container *c = w->c;

        (void)fd;
        (void)what;
        if (w->prev)
                w->prev->next = w->next;
        else
                c->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        event_free(w->fire);
        container_wait_fn fn = w->fn;
        void *userdata_ = w->userdata;
        free(w);
        fn(&c->pub, userdata_);
}

void cz_container_free(struct cz_container *c, bool notify)
{
        if (!c)
                return;
        /* A removed container's pending waiters still hear of its end; when
         * the agent stops, they are only forgotten (the API answered them). */
        while (c->waiters) {
                if (notify) {
                        waiter_fire(-1, 0, c->waiters);
                        continue;
                }
                struct waiter *w = c->waiters;
                c->waiters = w->next;
                event_free(w->fire);
                free(w);
        }
        if (c->step)
                cz_unqueue_step(c->cz, c);
        if (c->launch) {
                int fd = -1;
                launcher_launch_abort(TAKE_PTR(c->launch), &fd);
                if (fd >= 0)
                        close(fd);
        }
        if (c->exit_ev)
                event_free(c->exit_ev);
        if (c->step_ev)
                event_free(c->step_ev);
        if (c->deadline_ev)
                event_free(c->deadline_ev);
        cz_adopted_free(c);
        if (c->pidfd >= 0)
                close(c->pidfd);
        if (c->main_pidfd >= 0)
                close(c->main_pidfd);
        free(c->launch_error);
        free(c->escaped);
        free(c->lost);
        free(c->pub.problem);
        container_config_done(&c->pub.config);
        container_termination_done(&c->pub.termination);
        portset_clear(&c->pub.listening);
        portset_clear(&c->pub.denied);
        free(c->cgroup);
        free(c->meta);
        free(c->sandbox);
        free(c);
}

struct isolator_container cz_isolator_view(const struct cz_container *c)
{
        return (struct isolator_container){
            .id = c->pub.config.id,
            .parent_id = c->pub.config.parent_id,
            .cgroup = c->cgroup,
            .cgroup_id = c->cgroup_id,
            .network = c->pub.config.network,
        };
}

/* The one place allocations reach the isolators (network/ports, eBPF maps).
 * A root launched without a ports resource has an empty allocation, as a
 * Mesos task without ports would: every isolated port is unallocated. */
int cz_set_allocation(struct containerizer *cz, struct cz_container *c)
{
        if (c->pub.config.parent_id)
                return 0;
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                if (!iso->ops->update)
                        continue;
                int r = iso->ops->update(iso, c->pub.config.id, &c->pub.config.ports);
                if (r < 0)
                        return log_error_errno(r, "Failed to update %s of container %s: %m",
                                               iso->ops->name, c->pub.config.id);
        }
        return 0;
}

static void on_supervisor_exit(evutil_socket_t fd, short what, void *userdata)
{
        struct cz_container *c = userdata;

        (void)fd;
        (void)what;
        event_free(TAKE_PTR(c->exit_ev));
        close(TAKE_FD(c->pidfd));
        cz_on_supervisor_gone(c->cz, c);
}

int cz_watch_supervisor(struct cz_container *c)
{
        c->exit_ev = event_new(c->cz->base, c->pidfd, EV_READ, on_supervisor_exit, c);
        if (!c->exit_ev)
                return -ENOMEM;
        if (event_add(c->exit_ev, NULL) < 0)
                return -EIO;
        return 0;
}

void cz_cleanup_isolators(struct containerizer *cz, struct cz_container *c)
{
        if (!c->isolated)
                return;
        c->isolated = false;
        for (size_t i = cz->n_isolators; i-- > 0;) {
                struct isolator *iso = cz->isolators[i];
                if (!iso->ops->cleanup)
                        continue;
                int r = iso->ops->cleanup(iso, c->pub.config.id);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to clean up %s of container %s: %m",
                                          iso->ops->name, c->pub.config.id);
        }
}

/* ---- steps, one per loop turn ---------------------------------------- */

static void on_steps(evutil_socket_t fd, short what, void *userdata)
{
        static const struct timeval now = {0, 0};
        struct containerizer *cz = userdata;
        struct cz_container *c = cz->steps_head;

        (void)fd;
        (void)what;
        if (!c)
                return;
        cz_unqueue_step(cz, c);
        void (*step)(struct containerizer *, struct cz_container *) = c->step;
        c->step = NULL;
        /* The next step waits for a new loop turn: the I/O that came
         * meanwhile (other requests) runs first. */
        if (cz->steps_head)
                event_add(cz->steps_ev, &now);
        step(cz, c);
}

void cz_queue_step(struct containerizer *cz, struct cz_container *c,
                   void (*step)(struct containerizer *cz, struct cz_container *c))
{
        static const struct timeval now = {0, 0};

        if (!cz->steps_ev)
                cz->steps_ev = evtimer_new(cz->base, on_steps, cz);
        c->step = step;
        c->step_next = NULL;
        if (cz->steps_tail)
                cz->steps_tail->step_next = c;
        else
                cz->steps_head = c;
        cz->steps_tail = c;
        if (cz->steps_ev && !evtimer_pending(cz->steps_ev, NULL))
                event_add(cz->steps_ev, &now);
}

static void on_step_durable(int r, void *userdata)
{
        struct cz_container *c = userdata;

        c->sync_wait = NULL;
        c->sync_r = r;
        cz_queue_step(c->cz, c, c->step);
}

void cz_queue_step_when_durable(struct containerizer *cz, struct cz_container *c,
                                void (*step)(struct containerizer *cz, struct cz_container *c))
{
        int r;

        c->step = step;
        c->sync_r = 0;
        r = syncer_barrier(cz->sync, on_step_durable, c, &c->sync_wait);
        if (r != 0) {
                c->sync_r = r < 0 ? r : 0;
                cz_queue_step(cz, c, step);
        }
}

int containerizer_when_durable(struct containerizer *cz, void (*fn)(int r, void *userdata),
                               void *userdata, void **ret_handle)
{
        return syncer_barrier(cz->sync, fn, userdata, ret_handle);
}

void containerizer_durable_cancel(struct containerizer *cz, void *handle)
{
        syncer_cancel(cz->sync, handle);
}

void cz_unqueue_step(struct containerizer *cz, struct cz_container *c)
{
        struct cz_container *prev = NULL;

        if (c->sync_wait) { /* not in the queue yet: waiting for a flush */
                syncer_cancel(cz->sync, TAKE_PTR(c->sync_wait));
                return;
        }
        if (c->job) { /* or for a job: it runs on, to no one */
                TAKE_PTR(c->job)->c = NULL;
                return;
        }

        for (struct cz_container *k = cz->steps_head; k; prev = k, k = k->step_next) {
                if (k != c)
                        continue;
                if (prev)
                        prev->step_next = k->step_next;
                else
                        cz->steps_head = k->step_next;
                if (cz->steps_tail == k)
                        cz->steps_tail = prev;
                k->step_next = NULL;
                return;
        }
}

void cz_steps_free(struct containerizer *cz)
{
        cz->steps_head = cz->steps_tail = NULL;
        if (cz->steps_ev)
                event_free(TAKE_PTR(cz->steps_ev));
}

/* The edges of the diagram in containerizer.h, checked by cz_set_state(). */
int cz_set_state(struct containerizer *cz, struct cz_container *c, enum container_state to)
{
        enum container_state from = c->pub.state;

        if (!container_state_transition_valid(from, to)) {
                log_error("Container %s: refusing the state change %s -> %s", c->pub.config.id,
                          container_state_to_string(from), container_state_to_string(to));
                return -EINVAL;
        }
        c->pub.state = to;
        if (to == CONTAINER_UNKNOWN)
                c->isolated = false; /* never handed to the isolators */
        if (from == CONTAINER_RUNNING)
                cz->m.containers_running--;
        if (to == CONTAINER_RUNNING)
                cz->m.containers_running++;
        if (to == CONTAINER_DESTROYING)
                cz->m.containers_destroying++;
        if (from == CONTAINER_DESTROYING)
                cz->m.containers_destroying--;
        log_debug("Container %s: %s -> %s", c->pub.config.id, container_state_to_string(from),
                  container_state_to_string(to));
        return 0;
}

/* ---- public API --------------------------------------------------------- */

int containerizer_wait(struct containerizer *cz, const char *id, container_wait_fn fn,
                       void *userdata, void **ret_handle)
{
        struct cz_container *c = cz_find(cz, id);
        struct waiter *w;

        if (!c)
                return -ENOENT;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->fire = evtimer_new(cz->base, waiter_fire, w);
        if (!w->fire) {
                free(w);
                return -ENOMEM;
        }
        w->c = c;
        w->fn = fn;
        w->userdata = userdata;
        w->next = c->waiters;
        if (c->waiters)
                c->waiters->prev = w;
        c->waiters = w;
        if (c->pub.state == CONTAINER_TERMINATED) {
                static const struct timeval now = {0, 0};
                event_add(w->fire, &now);
        }
        *ret_handle = w;
        return 0;
}

void containerizer_wait_cancel(struct containerizer *cz, void *handle)
{
        struct waiter *w = handle;

        (void)cz;
        if (!w)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                w->c->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        event_free(w->fire);
        free(w);
}

int containerizer_kill(struct containerizer *cz, const char *id, int signal, struct errbuf *e)
{
        struct cz_container *c = cz_find(cz, id);
        int r;

        if (!c)
                return -ENOENT;
        if (c->pub.state == CONTAINER_TERMINATED || c->pub.state == CONTAINER_DESTROYING)
                return 0;
        if (signal == SIGKILL) {
                /* As Mesos: a destroy's termination is the exit status alone.
                 * That it was the agent's doing is recorded all the same, and
                 * answered only once a restarted agent would know it too. */
                struct container_termination t = {.destroyed = true};
                /* One still launching fails instead (its answer says so). */
                if (!c->in_launch && !c->adopted && !c->pub.termination.state &&
                    !c->pub.termination.destroyed &&
                    (r = cz_record_termination(c, &t)) < 0)
                        return errbuf_set(e, r, "cannot checkpoint the termination of %s: %s", id,
                                          strerror(-r));
                log_info("Destroying container %s", id);
                cz_destroy(cz, c, &t);
                return 0;
        }
        if (c->pub.state != CONTAINER_RUNNING && c->pub.state != CONTAINER_UNKNOWN)
                return 0;
        /* Through the pidfd: the main process, never a process that reused
         * its pid after the supervisor reaped it. */
        if (c->main_pidfd >= 0)
                r = pidfd_signal(c->main_pidfd, signal);
        else if (c->pub.pid > 0)
                r = kill(c->pub.pid, signal) < 0 && errno != ESRCH ? negative_errno() : 0;
        else
                return 0;
        if (r < 0)
                return r;
        log_info("Sent signal %d to container %s (pid %d)", signal, id, (int)c->pub.pid);
        return 0;
}

/* Hand a tomb (NULL: none) to the deleting thread; what cannot be queued
 * stays for the next start's sweep, and the log says so. */
static void bury(struct containerizer *cz, const char *id, char *tomb)
{
        if (tomb && tombs_bury(cz->tombs, tomb) < 0)
                log_warning("Container %s: out of memory queueing its files for deletion; "
                            "the next start deletes them",
                            id);
}

int containerizer_remove(struct containerizer *cz, const char *id, struct errbuf *e)
{
        struct cz_container *c = cz_find(cz, id);
        size_t len;
        int r;

        if (!c)
                return -ENOENT;
        len = strlen(id);
        /* The whole tree must have ended. */
        for (size_t i = 0; i < cz->n; i++) {
                const struct container *n = cz->v[i];
                if (strncmp(n->config.id, id, len) == 0 &&
                    (n->config.id[len] == '\0' || n->config.id[len] == '/') &&
                    n->state != CONTAINER_TERMINATED)
                        return -EBUSY;
        }
        /* Renamed aside here, deleted by the tombs' thread: a sandbox of a
         * million files must not hold the loop. */
        char *tomb = NULL;
        r = c->adopted ? 0 : checkpoint_entomb(cz->flags->work_dir, id, cz_later(cz), &tomb);
        if (r < 0)
                return errbuf_set(e, r, "cannot remove the checkpoint of %s: %s", id, strerror(-r));
        bury(cz, id, tomb);
        /* The checkpoint decides: without it, what a failure here leaves of
         * the sandbox is swept as debris at the next start. */
        tomb = NULL;
        r = c->adopted ? 0 : entomb_durably(c->sandbox, cz_later(cz), &tomb);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the sandbox of %s: %m", id);
        bury(cz, id, tomb);
        /* Deepest first (reverse id order puts "a/b" before "a"). */
        for (size_t i = cz->n; i-- > 0;) {
                struct cz_container *n = CZC(cz->v[i]);
                if (strncmp(n->pub.config.id, id, len) == 0 &&
                    (n->pub.config.id[len] == '\0' || n->pub.config.id[len] == '/')) {
                        cz_erase(cz, n);
                        cz_container_free(n, true);
                }
        }
        log_info("Removed container %s", id);
        return 0;
}

int containerizer_update(struct containerizer *cz, const char *id, const struct portset *ports,
                         bool has_ports, struct errbuf *e)
{
        struct cz_container *c = cz_find(cz, id);
        _cleanup_portset_ struct portset copy = PORTSET_INIT;
        struct container_config next;
        int r;

        if (!c)
                return -ENOENT;
        if (c->pub.config.parent_id)
                return -EINVAL;
        if (c->adopted)
                return -EPERM; /* its source owns its ports */
        if (c->pub.state == CONTAINER_UNKNOWN)
                return errbuf_set(e, -EBUSY, "container %s is UNKNOWN (%s): kill it instead", id,
                                  c->pub.problem ? c->pub.problem : "checkpoint unreadable");
        if (has_ports && (r = portset_copy(&copy, ports)) < 0)
                return r;
        /* On disk first: an allocation that a restart would not see is
         * neither applied nor answered 200. */
        next = c->pub.config;
        next.ports = copy;
        next.has_ports = has_ports;
        r = checkpoint_write_config(c->meta, &next, cz_later(cz));
        if (r < 0)
                return errbuf_set(e, r, "cannot checkpoint the allocation of %s: %s", id,
                                  strerror(-r));
        portset_clear(&c->pub.config.ports);
        c->pub.config.ports = copy;
        copy = (struct portset)PORTSET_INIT;
        c->pub.config.has_ports = has_ports;
        if (c->pub.state == CONTAINER_TERMINATED)
                return 0;
        r = cz_set_allocation(cz, c);
        if (r < 0)
                return errbuf_set(e, r, "cannot apply the allocation of %s: %s", id, strerror(-r));
        _cleanup_free_ char *text = portset_to_string(&c->pub.config.ports);
        log_info("Updated container %s: ports %s", id, text ? text : "?");
        return 0;
}

const struct container *containerizer_get(const struct containerizer *cz, const char *id)
{
        struct cz_container *c = cz_find(cz, id);

        return c ? &c->pub : NULL;
}

size_t containerizer_list(const struct containerizer *cz, const struct container *const **ret)
{
        *ret = (const struct container *const *)cz->v;
        return cz->n;
}

void containerizer_metrics(const struct containerizer *cz, struct containerizer_metrics *ret)
{
        *ret = cz->m;
        syncer_stats(cz->sync, &ret->flush_batches, &ret->flush_paths);
        ret->containers = cz->n;
        ret->containers_adopted = 0;
        for (size_t i = 0; i < cz->n; i++)
                if (cz->v[i]->source)
                        ret->containers_adopted++;
}

void containerizer_set_features(struct containerizer *cz, bool instant_detection, bool prevent_bind)
{
        cz->m.instant_detection = instant_detection;
        cz->m.prevent_bind = prevent_bind;
}

const struct cg_hierarchy *containerizer_hierarchy(const struct containerizer *cz)
{
        return &cz->h;
}

bool containerizer_cgroup_in_container(const struct containerizer *cz, const char *rel)
{
        if (cg_is_below(rel, cz->flags->cgroups_root))
                return true;
        for (size_t i = 0; i < cz->n; i++) {
                const struct cz_container *c = CZC(cz->v[i]);
                if (c->cgroup && cg_is_below(rel, c->cgroup))
                        return true;
        }
        return false;
}
