/* containerizer-adopt.c - containers that another engine launched; see
 * containerizer-adopt.h.
 *
 * An adopted container is an ordinary entry of the containerizer's table
 * (so the watch pass, the isolators, GET_CONTAINERS and waits treat it as
 * any root container) with a struct cz_adopted beside it. Its states change
 * through cz_set_state() like any other's; the lifecycle code hands it here
 * at its one door, destroy, which asks the source to stop it. Its end comes
 * from the source and is recorded here, without touching a cgroup that
 * belongs to someone else. No checkpoint, sandbox or supervisor exists for
 * them. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "agent/containerizer-adopt.h"
#include "agent/containerizer-private.h"
#include "basic/log.h"

struct cz_adopted {
        char *source;
        container_stop_fn stop;
        void *userdata;
        bool stop_requested;
};

const char *containerizer_cgroups_root(const struct containerizer *cz)
{
        return cz->flags->cgroups_root;
}

struct event_log *containerizer_events(struct containerizer *cz)
{
        return cz->events;
}

void cz_record(struct containerizer *cz, const struct cz_container *c, const char *kind,
               const char *message)
{
        event_log_add(cz->events, kind, c->pub.config.id, c->pub.source, message);
}

void cz_adopted_free(struct cz_container *c)
{
        if (!c->adopted)
                return;
        free(c->adopted->source);
        free(c->adopted);
        c->adopted = NULL;
        c->pub.source = NULL;
}

static void on_check(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        (void)containerizer_check_now(userdata);
}

/* Check on the next loop turn, not from inside the source's call: a
 * limitation found now would call its stop callback before it even knows
 * the container it just handed over. */
static void check_soon(struct containerizer *cz)
{
        static const struct timeval now = {0, 0};

        if (cz->watch_ev)
                (void)event_base_once(cz->base, -1, EV_TIMEOUT, on_check, cz, &now);
}

static struct cz_container *find_adopted(struct containerizer *cz, const char *id)
{
        struct cz_container *c = cz_find(cz, id);

        return c && c->adopted ? c : NULL;
}

static void fire_waiters(struct cz_container *c)
{
        static const struct timeval now = {0, 0};

        for (struct waiter *w = c->waiters; w; w = w->next)
                event_add(w->fire, &now);
}

/* Drop c from the table and from every isolator. */
static void drop(struct containerizer *cz, struct cz_container *c)
{
        if (c->pub.state != CONTAINER_TERMINATED)
                cz_cleanup_isolators(cz, c);
        cz_erase(cz, c);
        cz_container_free(c, true);
}

int containerizer_adopt(struct containerizer *cz, const char *id,
                        const struct container_adoption *a, struct errbuf *e)
{
        struct cz_container *c, *old;
        struct isolator_container view;
        int r;

        r = container_id_validate(id, e);
        if (r < 0)
                return r;
        if (!cg_exists(&cz->h, a->cgroup))
                return errbuf_set(e, -ENOENT, "cgroup %s does not exist", a->cgroup);
        old = cz_find(cz, id);
        if (old && (!old->adopted || old->pub.state != CONTAINER_TERMINATED))
                return errbuf_set(e, -EEXIST, "container id %s is in use", id);
        if (old)
                drop(cz, old);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->cz = cz;
        c->pidfd = -1;
        c->adopted = calloc(1, sizeof(*c->adopted));
        if (!c->adopted) {
                free(c);
                return -ENOMEM;
        }
        c->pub.config.id = strdup(id);
        c->cgroup = strdup(a->cgroup);
        c->adopted->source = strdup(a->source);
        c->adopted->stop = a->stop;
        c->adopted->userdata = a->userdata;
        c->pub.source = c->adopted->source;
        c->pub.pid = a->pid;
        c->pub.config.has_ports = a->has_ports;
        r = !c->pub.config.id || !c->cgroup || !c->adopted->source ? -ENOMEM : 0;
        if (r >= 0 && a->has_ports)
                r = portset_copy(&c->pub.config.ports, a->ports);
        if (r >= 0 && cz->h.mode == CG_V2 && (r = cg_get_id(&cz->h, c->cgroup, &c->cgroup_id)) < 0)
                errbuf_set(e, r, "cannot read the id of cgroup %s: %s", a->cgroup, strerror(-r));
        if (r >= 0)
                r = cz_insert(cz, c);
        if (r < 0) {
                cz_container_free(c, false);
                return r;
        }
        (void)cz_set_state(cz, c, CONTAINER_RUNNING);

        /* What a launch does: every isolator learns it, then its allocation
         * (when it declared one). */
        view = cz_isolator_view(c);
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                struct isolator_launch_info info = {};
                struct errbuf ie = {};
                if (!iso->ops->prepare)
                        continue;
                r = iso->ops->prepare(iso, &view, &info, &ie);
                if (r < 0)
                        log_error("Failed to hand adopted container %s to %s: %s", id,
                                  iso->ops->name, ie.msg[0] ? ie.msg : strerror(-r));
        }
        if (a->has_ports)
                (void)cz_set_allocation(cz, c);
        _cleanup_free_ char *ports = a->has_ports ? portset_to_string(a->ports) : NULL;
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "cgroup %s, ports %s", a->cgroup,
                     a->has_ports ? (ports ? ports : "?") : "not declared (not checked)") < 0)
                what = NULL;
        log_info("Adopted %s container %s (%s)", a->source, id, what ? what : "");
        cz_record(cz, c, "adopted", what);
        /* Checked at once, not a whole interval later. */
        if (a->has_ports)
                check_soon(cz);
        return 0;
}

int containerizer_adopted_set_ports(struct containerizer *cz, const char *id, bool has_ports,
                                    const struct portset *ports)
{
        struct cz_container *c = find_adopted(cz, id);
        _cleanup_portset_ struct portset copy = PORTSET_INIT;
        int r;

        if (!c)
                return -ENOENT;
        if (has_ports && (r = portset_copy(&copy, ports)) < 0)
                return r;
        portset_clear(&c->pub.config.ports);
        c->pub.config.ports = copy;
        copy = (struct portset)PORTSET_INIT;
        c->pub.config.has_ports = has_ports;
        if (c->pub.state == CONTAINER_TERMINATED || !has_ports)
                return 0;
        r = cz_set_allocation(cz, c);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = portset_to_string(&c->pub.config.ports);
        log_info("Adopted container %s: ports now %s", id, text ? text : "?");
        check_soon(cz);
        return 0;
}

void cz_adopted_destroy(struct containerizer *cz, struct cz_container *c,
                        const struct container_termination *t)
{
        struct container_termination *own = &c->pub.termination;

        (void)cz;
        if (t && t->state) {
                own->state = t->state;
                own->reason = t->reason;
                free(own->message);
                own->message = t->message ? strdup(t->message) : NULL;
                own->has_limitation = t->has_limitation;
                if (t->has_limitation)
                        (void)portset_copy(&own->limitation, &t->limitation);
        }
        if (cz_set_state(cz, c, CONTAINER_DESTROYING) < 0)
                return;
        if (c->adopted->stop_requested)
                return;
        c->adopted->stop_requested = true;
        log_info("Stopping %s container %s through %s", c->adopted->source, c->pub.config.id,
                 c->adopted->source);
        cz_record(cz, c, "stopping", own->message);
        c->adopted->stop(cz, c->pub.config.id, c->adopted->userdata);
}

/* The source says it ended: RUNNING or DESTROYING -> TERMINATED. */
static void adopted_end(struct containerizer *cz, struct cz_container *c)
{
        struct container_termination *t = &c->pub.termination;
        char what[128] = "ended";

        if (c->pub.state == CONTAINER_RUNNING && cz_set_state(cz, c, CONTAINER_DESTROYING) < 0)
                return;
        cz_cleanup_isolators(cz, c);
        if (cz_set_state(cz, c, CONTAINER_TERMINATED) < 0)
                return;
        portset_reset(&c->pub.listening);
        if (t->has_exit_status && WIFEXITED(t->exit_status))
                snprintf(what, sizeof(what), "exited with status %d", WEXITSTATUS(t->exit_status));
        else if (t->has_exit_status && WIFSIGNALED(t->exit_status))
                snprintf(what, sizeof(what), "killed by signal %d", WTERMSIG(t->exit_status));
        log_info("Adopted container %s %s%s%s", c->pub.config.id, what, t->message ? ": " : "",
                 t->message ? t->message : "");
        cz_record(cz, c, "ended", what);
        fire_waiters(c);
}

int containerizer_adopted_ended(struct containerizer *cz, const char *id, bool has_exit_status,
                                int exit_status)
{
        struct cz_container *c = find_adopted(cz, id);

        if (!c)
                return -ENOENT;
        if (c->pub.state == CONTAINER_TERMINATED)
                return 0;
        if (has_exit_status && !c->pub.termination.has_exit_status) {
                c->pub.termination.has_exit_status = true;
                c->pub.termination.exit_status = exit_status;
        }
        adopted_end(cz, c);
        return 0;
}

int containerizer_forget(struct containerizer *cz, const char *id)
{
        struct cz_container *c = find_adopted(cz, id);

        if (!c)
                return -ENOENT;
        if (c->pub.state != CONTAINER_TERMINATED)
                adopted_end(cz, c);
        log_info("Forgot adopted container %s", id);
        cz_record(cz, c, "forgotten", NULL);
        drop(cz, c);
        return 0;
}
