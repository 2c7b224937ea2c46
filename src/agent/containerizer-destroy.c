/* containerizer-destroy.c - the end of a container: DESTROYING until its
 * cgroup is empty and its supervisor gone, then TERMINATED.
 *
 * Nothing here waits. A destroy SIGKILLs the main process through its pidfd
 * (which reaches it even if it moved itself out of the cgroup), starts a
 * cgroup kill (cgroup.kill on v2, a freeze on v1) and then steps it on a
 * timer with a backoff, reading cgroup.events, until the subtree is empty;
 * the supervisor's exit comes from its pidfd. A container ends once both are
 * done and its nested containers have ended (a tree ends from its leaves).
 * Every destroy is bounded: what is still alive at the bound (an escaped
 * process, a supervisor that did not exit) is named in the termination's
 * message and the container ends anyway, so no WAIT hangs for ever. The
 * first step always runs from the loop, never inside cz_destroy(), so a
 * destroy never changes the table under a caller that iterates it.
 *
 * A container's cgroup is removed before its end is told; an rmdir that the
 * kernel refuses while it releases exited tasks is retried on the same
 * timer. Cgroups that are no container's (orphans) are killed and removed
 * the same way by cz_reap_cgroup(). */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/containerizer-private.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "linux/process-util.h"

#define DESTROY_TIMEOUT_SEC 5
#define STEP_FIRST_USEC 1000
#define STEP_MAX_USEC 50000
#define REAP_TIMEOUT_USEC (5 * 1000 * 1000ULL)
#define REMOVE_TIMEOUT_USEC (2 * 1000 * 1000ULL)

static struct timeval usec_to_timeval(uint64_t usec)
{
        return (struct timeval){.tv_sec = (time_t)(usec / 1000000),
                                .tv_usec = (suseconds_t)(usec % 1000000)};
}

/* ---- cgroups to remove ------------------------------------------------ */

struct cz_reap {
        struct containerizer *cz;
        char *rel;
        struct event *ev;
        struct backoff delay;
        uint64_t deadline;
        struct cz_reap *next;
};

static void reap_free(struct cz_reap *p)
{
        struct cz_reap **pp = &p->cz->reaps;

        while (*pp && *pp != p)
                pp = &(*pp)->next;
        if (*pp)
                *pp = p->next;
        if (p->ev)
                event_free(p->ev);
        free(p->rel);
        free(p);
}

static void on_reap_step(evutil_socket_t fd, short what, void *userdata)
{
        struct cz_reap *p = userdata;
        struct cg_hierarchy *h = &p->cz->h;
        int r;

        (void)fd;
        (void)what;
        r = cg_kill_step(h, p->rel);
        if (r == 0)
                r = cg_remove_once(h, p->rel);
        if (r == 1 || r == -EAGAIN) {
                if (now_nsec() / 1000 < p->deadline) {
                        struct timeval tv = usec_to_timeval(backoff_next(&p->delay));
                        event_add(p->ev, &tv);
                        return;
                }
                r = r == 1 ? -ETIMEDOUT : -EBUSY;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to remove cgroup %s: %m", p->rel);
        reap_free(p);
}

void cz_reap_cgroup(struct containerizer *cz, const char *rel)
{
        struct cz_reap *p;
        int r;

        r = cg_kill_begin(&cz->h, rel);
        if (r < 0)
                log_warning_errno(r, "Failed to kill what is left in cgroup %s: %m", rel);
        /* The common case, an empty cgroup, costs no timer. */
        if (cg_kill_step(&cz->h, rel) == 0 && (r = cg_remove_once(&cz->h, rel)) != -EAGAIN) {
                if (r < 0)
                        log_warning_errno(r, "Failed to remove cgroup %s: %m", rel);
                return;
        }
        p = calloc(1, sizeof(*p));
        if (!p || !(p->rel = strdup(rel)) || !(p->ev = evtimer_new(cz->base, on_reap_step, p))) {
                if (p)
                        free(p->rel);
                free(p);
                log_error("Out of memory: cgroup %s stays", rel);
                return;
        }
        p->cz = cz;
        p->delay = BACKOFF_INIT(STEP_FIRST_USEC, STEP_MAX_USEC);
        p->deadline = now_nsec() / 1000 + REAP_TIMEOUT_USEC;
        p->next = cz->reaps;
        cz->reaps = p;
        struct timeval tv = usec_to_timeval(backoff_next(&p->delay));
        event_add(p->ev, &tv);
}

void cz_reaps_free(struct containerizer *cz)
{
        while (cz->reaps)
                reap_free(cz->reaps);
}

/* ---- the end of a container --------------------------------------------- */

static bool is_nested_of(const struct cz_container *n, const struct cz_container *c)
{
        return n->pub.config.parent_id && strcmp(n->pub.config.parent_id, c->pub.config.id) == 0;
}

static bool nested_all_ended(struct containerizer *cz, struct cz_container *c)
{
        for (size_t i = 0; i < cz->n; i++) {
                struct cz_container *n = CZC(cz->v[i]);
                if (is_nested_of(n, c) && n->pub.state != CONTAINER_TERMINATED)
                        return false;
        }
        return true;
}

static void format_status(int status, char *buf, size_t size)
{
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "wait status %d", status);
}

/* Append text to the termination's message ("a; b"). */
static void termination_add_message(struct container_termination *t, const char *text)
{
        char *m = NULL;

        if (t->message ? asprintf(&m, "%s; %s", t->message, text) < 0 : !(m = strdup(text)))
                return;
        free(t->message);
        t->message = m;
}

/* A root container that bind prevention refused binds to, and that then
 * exited by itself, ends with them as its limitation: TASK_FAILED,
 * REASON_CONTAINER_LIMITATION and the refused ports, as a Mesos user reads a
 * limitation (the server that could not bind gave up). An autobind, whose
 * port was not chosen yet, is named in the message only. A container that
 * was destroyed (killed, or for a listener) keeps that ending, and the
 * refusals are added to its message. Read before the isolators' cleanup
 * forgets them. */
static void termination_from_denials(struct containerizer *cz, struct cz_container *c)
{
        struct container_termination *t = &c->pub.termination;
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        _cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;

        if (c->pub.config.parent_id)
                return;
        cz_refresh_status(cz, &c->pub);
        if (c->pub.denied_count == 0)
                return;
        if (portset_copy(&ports, &c->pub.denied) < 0 || portset_remove(&ports, 0) < 0)
                return;
        strbuf_addf(&msg,
                    "Container %s was refused bind() to unallocated port(s): ", c->pub.config.id);
        if (!portset_is_empty(&ports))
                portset_format(&ports, &msg);
        if (portset_contains(&c->pub.denied, 0))
                strbuf_addf(&msg, "%san autobind", portset_is_empty(&ports) ? "" : " and ");
        strbuf_addf(&msg, " (%" PRIu64 " refused)", c->pub.denied_count);
        if (msg.oom)
                return;
        if (!c->ended_itself || t->state) {
                termination_add_message(t, strbuf_str(&msg));
                goto write;
        }
        t->state = "TASK_FAILED";
        t->reason = "REASON_CONTAINER_LIMITATION";
        termination_add_message(t, strbuf_str(&msg));
        if (!portset_is_empty(&ports)) {
                portset_clear(&t->limitation);
                t->limitation = ports;
                ports = (struct portset)PORTSET_INIT;
                t->has_limitation = true;
        }
write:;
        int r = checkpoint_write_termination(c->meta, t, cz_later(cz));
        if (r < 0)
                log_error_errno(r, "Failed to checkpoint the termination of %s: %m",
                                c->pub.config.id);
}

static void stop_destroy_events(struct cz_container *c)
{
        if (c->step_ev)
                event_del(c->step_ev);
        if (c->deadline_ev)
                event_del(c->deadline_ev);
}

static void cz_end(struct containerizer *cz, struct cz_container *c);

/* Nobody said why c ended: say what is known, as Mesos would
 * (TASK_FAILED, REASON_EXECUTOR_TERMINATED). True when it was neither the
 * agent's doing nor the main process' own exit: a warning. */
static bool explain_end(struct cz_container *c)
{
        struct container_termination *t = &c->pub.termination;
        _cleanup_free_ char *msg = NULL;
        int r;

        if (t->state || t->destroyed || c->launch_r < 0)
                return false;
        if (!t->has_exit_status) {
                if (c->lost)
                        msg = strdup(c->lost);
                else if (asprintf(&msg,
                                  "its supervisor (pid %d) ended before it recorded the exit "
                                  "status of the main process (pid %d); what was left of the "
                                  "container was killed",
                                  (int)c->sup.pid, (int)c->pub.pid) < 0)
                        msg = NULL;
        } else if (WIFSIGNALED(t->exit_status) && WTERMSIG(t->exit_status) == SIGKILL &&
                   !c->killed_by_agent) {
                if (asprintf(&msg,
                             "its main process (pid %d) was killed by SIGKILL from outside the "
                             "agent (cgroup.kill, kill -9 or the OOM killer)",
                             (int)c->pub.pid) < 0)
                        msg = NULL;
        } else
                return false;
        if (msg && t->message) { /* e.g. refused binds: keep them */
                char *both = NULL;
                if (asprintf(&both, "%s; %s", msg, t->message) >= 0) {
                        free(msg);
                        msg = both;
                }
        }
        struct container_termination why = {
            .state = "TASK_FAILED",
            .reason = "REASON_EXECUTOR_TERMINATED",
            .message = msg ? msg : (char *)"it ended unexpectedly",
        };
        r = cz_record_termination(c, &why);
        if (r < 0) {
                log_warning_errno(r, "Failed to checkpoint the termination of %s: %m",
                                  c->pub.config.id);
                t->state = why.state;
                t->reason = why.reason;
                free(t->message);
                t->message = msg ? TAKE_PTR(msg) : strdup(why.message);
        }
        return true;
}

void cz_maybe_end(struct containerizer *cz, struct cz_container *c)
{
        if (c->pub.state != CONTAINER_DESTROYING || c->pidfd >= 0 || !c->cgroup_empty ||
            !nested_all_ended(cz, c))
                return;
        cz_end(cz, c);
}

/* A nested container ended: its parent may have been waiting for it. */
static void parent_maybe_end(struct containerizer *cz, struct cz_container *c)
{
        struct cz_container *p = cz_find(cz, c->pub.config.parent_id);

        if (p)
                cz_maybe_end(cz, p);
}

static void cz_end(struct containerizer *cz, struct cz_container *c)
{
        struct container_termination *t = &c->pub.termination;
        struct errbuf e = {};
        char what[128] = "ended without a recorded exit status";
        int r;

        /* The cgroup goes before the end is told: whoever hears of it may
         * launch that id again at once. The kernel may refuse the rmdir for
         * a moment while it releases exited tasks: retried on the step
         * timer, bounded. */
        if (!c->cgroup_removed) {
                uint64_t now = now_nsec() / 1000;
                if (!c->remove_deadline)
                        c->remove_deadline = now + REMOVE_TIMEOUT_USEC;
                r = cg_remove_once(&cz->h, c->cgroup);
                if (r == -EAGAIN && now < c->remove_deadline && c->step_ev) {
                        struct timeval tv = usec_to_timeval(backoff_next(&c->step_delay));
                        event_add(c->step_ev, &tv);
                        return;
                }
                if (r < 0)
                        log_warning_errno(r == -EAGAIN ? -EBUSY : r,
                                          "Failed to remove the cgroup of container %s: %m",
                                          c->pub.config.id);
                c->cgroup_removed = true;
        }
        stop_destroy_events(c);
        if (c->main_pidfd >= 0)
                close(TAKE_FD(c->main_pidfd));
        termination_from_denials(cz, c);
        cz_cleanup_isolators(cz, c);
        if (c->launch_r < 0)
                return cz_launch_undone(cz, c);

        if (!t->has_exit_status) {
                r = checkpoint_read_exit_status(c->meta, &t->exit_status, &e);
                if (r >= 0)
                        t->has_exit_status = true;
                else if (r != -ENOENT && !c->exit_status_corrupt)
                        log_warning("Container %s: %s", c->pub.config.id, e.msg);
        }
        if (!t->has_exit_status && c->pub.problem && c->killed_by_agent && !c->deadline_passed) {
                /* An UNKNOWN container's supervisor may be beyond reach; its
                 * cgroup was live and the agent's kill emptied it: what ran
                 * there died of that SIGKILL. Nobody else will record it. */
                t->has_exit_status = true;
                t->exit_status = SIGKILL;
                r = checkpoint_write_exit_status(c->meta, SIGKILL, cz_later(cz));
                if (r < 0)
                        log_warning_errno(r, "Failed to checkpoint the exit status of %s: %m",
                                          c->pub.config.id);
        }
        bool unexpected = explain_end(c);
        if (t->has_exit_status)
                format_status(t->exit_status, what, sizeof(what));
        if (c->escaped)
                termination_add_message(t, c->escaped);
        if (c->escaped || c->deadline_passed) {
                r = checkpoint_write_termination(c->meta, t, cz_later(cz));
                if (r < 0)
                        log_error_errno(r, "Failed to checkpoint the termination of %s: %m",
                                        c->pub.config.id);
        }

        if (cz_set_state(cz, c, CONTAINER_TERMINATED) < 0)
                return;
        portset_reset(&c->pub.listening); /* nothing of it listens any more */
        if (unexpected)
                log_warning("Container %s %s: %s", c->pub.config.id, what, t->message);
        else
                log_info("Container %s %s%s%s", c->pub.config.id, what, t->message ? ": " : "",
                         t->message ? t->message : "");
        cz_record(cz, c, "ended", what);

        for (struct waiter *w = c->waiters; w; w = w->next) {
                static const struct timeval now = {0, 0};
                event_add(w->fire, &now);
        }
        parent_maybe_end(cz, c);
}

static void on_kill_step(evutil_socket_t fd, short what, void *userdata)
{
        struct cz_container *c = userdata;
        struct containerizer *cz = c->cz;
        int r;

        (void)fd;
        (void)what;
        if (c->cgroup_empty) /* removing it */
                return cz_maybe_end(cz, c);
        r = cg_kill_step(&cz->h, c->cgroup);
        if (r > 0) {
                struct timeval tv = usec_to_timeval(backoff_next(&c->step_delay));
                event_add(c->step_ev, &tv);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to kill container %s: %m", c->pub.config.id);
        c->cgroup_empty = true;
        cz_maybe_end(cz, c);
}

/* What is still alive of c, as one line (empty if nothing). */
static void describe_leftovers(struct containerizer *cz, struct cz_container *c, char *buf,
                               size_t size)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, len = 0;

        buf[0] = '\0';
        if (pidfd_alive(c->main_pidfd))
                len += (size_t)snprintf(buf + len, size - len, "%smain process %d still alive",
                                        len ? ", " : "", (int)c->pub.pid);
        if (len < size && !c->cgroup_empty &&
            cg_list_pids(&cz->h, c->cgroup, true, &pids, &n) >= 0 && n > 0)
                len += (size_t)snprintf(buf + len, size - len, "%s%zu processes left in its cgroup",
                                        len ? ", " : "", n);
        if (len < size && pidfd_alive(c->pidfd))
                len += (size_t)snprintf(buf + len, size - len, "%ssupervisor %d did not exit",
                                        len ? ", " : "", (int)c->sup.pid);
}

static void on_destroy_deadline(evutil_socket_t fd, short what, void *userdata)
{
        struct cz_container *c = userdata;
        struct containerizer *cz = c->cz;
        char left[256], line[400];

        (void)fd;
        (void)what;
        describe_leftovers(cz, c, left, sizeof(left));
        snprintf(line, sizeof(line), "destroy did not finish within %d s%s%s", DESTROY_TIMEOUT_SEC,
                 left[0] ? ": " : "", left);
        log_warning("Container %s: %s; ending it", c->pub.config.id, line);
        termination_add_message(&c->pub.termination, line);
        c->deadline_passed = true;
        free(c->escaped);
        c->escaped = NULL;
        /* It must not write into the checkpoint any more. */
        if (c->pidfd >= 0) {
                (void)pidfd_signal(c->pidfd, SIGKILL);
                if (c->exit_ev)
                        event_free(TAKE_PTR(c->exit_ev));
                close(TAKE_FD(c->pidfd));
        }
        c->cgroup_empty = true;
        if (c->step_ev)
                event_del(c->step_ev);
        /* Nested containers have their own bound, which passed no later. */
        cz_maybe_end(cz, c);
}

/* SIGKILL the main process through its pidfd, noting when it had left the
 * cgroup (root in a container can move itself): the kill reaches it anyway,
 * and the termination says so. */
static void kill_main_process(struct cz_container *c)
{
        _cleanup_free_ char *where = NULL;
        const struct cg_hierarchy *h = &c->cz->h;
        size_t len = strlen(c->cgroup);

        if (!pidfd_alive(c->main_pidfd))
                return;
        if (cg_pid_get_path(h, c->pub.pid, &where) >= 0 &&
            pidfd_alive(c->main_pidfd) /* where is about our process, not a reused pid */ &&
            !(strncmp(where, c->cgroup, len) == 0 && (where[len] == '\0' || where[len] == '/'))) {
                free(c->escaped);
                if (asprintf(&c->escaped,
                             "main process %d had left the container's cgroup (for /%s): killed "
                             "through its pidfd",
                             (int)c->pub.pid, where) < 0)
                        c->escaped = NULL;
                log_warning("Container %s: main process %d is in cgroup %s, outside its own",
                            c->pub.config.id, (int)c->pub.pid, where);
        }
        int r = pidfd_signal(c->main_pidfd, SIGKILL);
        if (r < 0)
                log_warning_errno(r, "Failed to kill the main process of %s: %m", c->pub.config.id);
}

int cz_record_termination(struct cz_container *c, const struct container_termination *t)
{
        struct container_termination *own = &c->pub.termination;
        struct container_termination saved = *own;
        struct portset lim = PORTSET_INIT;
        char *msg = NULL;
        int r;

        if (t->message && !(msg = strdup(t->message)))
                return -ENOMEM;
        if (t->has_limitation && (r = portset_copy(&lim, &t->limitation)) < 0) {
                free(msg);
                return r;
        }
        own->state = t->state;
        own->reason = t->reason;
        own->message = msg;
        own->has_limitation = t->has_limitation;
        own->limitation = lim;
        own->destroyed = t->destroyed;
        r = checkpoint_write_termination(c->meta, own, cz_later(c->cz));
        if (r < 0) {
                free(own->message);
                portset_clear(&own->limitation);
                *own = saved;
                return r;
        }
        free(saved.message);
        portset_clear(&saved.limitation);
        return 0;
}

/* The end of a destroy: checkpointed, or at least kept in memory. */
static void record_termination(struct cz_container *c, const struct container_termination *t)
{
        struct container_termination *own = &c->pub.termination;
        int r;

        if (own->state || own->destroyed)
                return; /* the first reason stands (KILL_CONTAINER recorded it already) */
        r = cz_record_termination(c, t);
        if (r < 0) {
                log_error_errno(r, "Failed to checkpoint the termination of %s: %m",
                                c->pub.config.id);
                own->state = t->state;
                own->reason = t->reason;
                own->destroyed = t->destroyed;
        }
}

void cz_destroy(struct containerizer *cz, struct cz_container *c,
                const struct container_termination *t)
{
        static const struct timeval now = {0, 0};
        struct timeval bound = {.tv_sec = DESTROY_TIMEOUT_SEC};
        int r;

        if (c->pub.state == CONTAINER_TERMINATED || c->pub.state == CONTAINER_DESTROYING)
                return;
        if (c->adopted)
                return cz_adopted_destroy(cz, c, t);
        if ((c->launch || c->adopt_pending) && t && t->state) {
                /* A limitation seen before the report: its main process has
                 * exec'd and listens. The launch succeeded; the destroy
                 * follows the moment it is RUNNING. */
                record_termination(c, t);
                c->destroy_when_running = true;
                return;
        }
        if (c->pub.state == CONTAINER_LAUNCHING && c->launch) {
                /* Destroyed before its report: the launch fails, undone. */
                int fd = -1;
                launcher_launch_abort(TAKE_PTR(c->launch), &fd);
                c->pidfd = fd;
                /* Its main process (unknown yet) dies with it. */
                if (c->pidfd >= 0)
                        (void)pidfd_signal(c->pidfd, SIGKILL);
                if (c->pidfd >= 0 && cz_watch_supervisor(c) < 0)
                        close(TAKE_FD(c->pidfd)); /* then the bound ends it */
        }
        if (c->step)
                cz_unqueue_step(cz, c); /* a launch step it no longer wants */
        c->adopt_pending = false;
        if (c->in_launch && c->launch_r == 0) {
                c->launch_r = -ECANCELED;
                if (asprintf(&c->launch_error, "container %s was destroyed while launching",
                             c->pub.config.id) < 0)
                        c->launch_error = NULL;
        }
        if (t && (t->state || t->destroyed) && c->launch_r == 0)
                record_termination(c, t);
        if (cz_set_state(cz, c, CONTAINER_DESTROYING) < 0)
                return;
        c->killed_by_agent = true;

        /* Nested first, as Mesos destroys a tree from its leaves. */
        for (size_t i = 0; i < cz->n; i++) {
                struct cz_container *n = CZC(cz->v[i]);
                if (is_nested_of(n, c))
                        cz_destroy(cz, n, t);
        }

        kill_main_process(c);
        r = cg_kill_begin(&cz->h, c->cgroup);
        if (r < 0)
                log_warning_errno(r, "Failed to kill container %s: %m", c->pub.config.id);
        c->step_delay = BACKOFF_INIT(STEP_FIRST_USEC, STEP_MAX_USEC);
        if (!c->step_ev)
                c->step_ev = evtimer_new(cz->base, on_kill_step, c);
        if (!c->deadline_ev)
                c->deadline_ev = evtimer_new(cz->base, on_destroy_deadline, c);
        if (!c->step_ev || !c->deadline_ev || event_add(c->step_ev, &now) < 0 ||
            event_add(c->deadline_ev, &bound) < 0)
                log_error("Out of memory: container %s may stay DESTROYING", c->pub.config.id);
}

void cz_on_supervisor_gone(struct containerizer *cz, struct cz_container *c)
{
        static const struct timeval now = {0, 0};

        /* The main process ended (or the supervisor was killed): the end of
         * a container ends its nested ones. One still LAUNCHING (its adopt
         * step queued) ends once that step has made it RUNNING. */
        if (c->pub.state == CONTAINER_RUNNING || c->pub.state == CONTAINER_UNKNOWN) {
                c->ended_itself = true;
                /* Its nested containers are the agent's to end: recorded so. */
                static const struct container_termination nested = {.destroyed = true};
                for (size_t i = 0; i < cz->n; i++)
                        if (is_nested_of(CZC(cz->v[i]), c))
                                cz_destroy(cz, CZC(cz->v[i]), &nested);
                cz_destroy(cz, c, NULL);
                /* Its own end was not the agent's doing. */
                c->killed_by_agent = false;
                return;
        }
        if (c->pub.state != CONTAINER_DESTROYING)
                return;
        /* A main process still starting may have entered the cgroup after
         * it was seen empty (it dies with its supervisor): look again. */
        if (c->cgroup_empty && !c->cgroup_removed && c->step_ev) {
                c->cgroup_empty = false;
                (void)cg_kill_begin(&cz->h, c->cgroup);
                c->step_delay = BACKOFF_INIT(STEP_FIRST_USEC, STEP_MAX_USEC);
                event_add(c->step_ev, &now);
                return;
        }
        cz_maybe_end(cz, c);
}
