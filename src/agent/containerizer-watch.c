/* containerizer-watch.c - the reconciliation pass, the check of one event,
 * and what a limitation does.
 *
 * Every --container_ports_watch_interval (and after recovery, and when eBPF
 * lost events) each isolator's watch() runs one full pass. A listener that
 * eBPF reports is checked alone (check_event(): the container of its cgroup,
 * confirmed by a dump filtered by its port), so an event costs the same at
 * 10 or 10,000 containers. Every
 * limitation it returns is counted, and with --enforce_container_ports the
 * root container is destroyed with the limitation recorded as the
 * termination of it and of its nested containers. Without enforcement it is
 * logged; isolators report each violation once, so the log stays quiet while
 * nothing changes. The pass also notices the end of an UNKNOWN container
 * that has no supervisor to watch: its cgroup is empty.
 *
 * Each pass is timed into a histogram; so is each kill that follows a listen
 * instant detection reported, from the kernel's timestamp of that listen (a
 * short list of recent notes, by root container cgroup, expired after a
 * second: a kill later than that was not the listen's doing).
 *
 * A limitation whose ports bind prevention refuses is acted on only when a
 * second pass, soon after, sees it again (confirm_first()). */
#include <errno.h>
#include <string.h>

#include "agent/containerizer-private.h"
#include "basic/log.h"
#include "basic/time-util.h"

/* The second look at a limitation on ports bind prevention refuses. */
#define CONFIRM_USEC 20000

void cz_refresh_status(struct containerizer *cz, struct container *c)
{
        for (size_t k = 0; k < cz->n_isolators; k++) {
                struct isolator *iso = cz->isolators[k];
                struct isolator_status st = {};
                if (!iso->ops->status || iso->ops->status(iso, c->config.id, &st) < 0)
                        continue;
                if (st.has_listening) {
                        portset_clear(&c->listening);
                        c->listening = st.listening;
                        st.listening = (struct portset)PORTSET_INIT;
                }
                if (st.has_denied && st.denied_count > c->denied_count) {
                        cz->m.denied_binds += st.denied_count - c->denied_count;
                        c->denied_count = st.denied_count;
                        portset_clear(&c->denied);
                        if (portset_union(&c->denied, &st.denied_tcp) < 0 ||
                            portset_union(&c->denied, &st.denied_udp) < 0)
                                log_error("Out of memory recording the binds refused to %s",
                                          c->config.id);
                }
                isolator_status_done(&st);
        }
}

void cz_refresh_listening(struct containerizer *cz)
{
        for (size_t i = 0; i < cz->n; i++)
                if (cz->v[i]->state != CONTAINER_TERMINATED)
                        cz_refresh_status(cz, cz->v[i]);
}

/* Upper bounds, in seconds, of the two histograms' buckets. */
static const double pass_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
static const double kill_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                     0.05,   0.1,   0.25,  0.5,   1};

void cz_metrics_init(struct containerizer_metrics *m)
{
        m->pass_seconds = histogram_make(pass_bounds, ELEMENTSOF(pass_bounds));
        m->listen_to_kill_seconds = histogram_make(kill_bounds, ELEMENTSOF(kill_bounds));
}

void containerizer_note_listen(struct containerizer *cz, uint64_t container_cgroup_id,
                               uint64_t ktime_ns)
{
        for (size_t i = 0; i < cz->n_notes; i++)
                if (cz->notes[i].cgroup_id == container_cgroup_id)
                        return; /* the earliest listen counts */
        if (cz->n_notes == CZ_MAX_LISTEN_NOTES) {
                memmove(cz->notes, cz->notes + 1, (cz->n_notes - 1) * sizeof(cz->notes[0]));
                cz->n_notes--;
        }
        cz->notes[cz->n_notes++] = (struct cz_listen_note){container_cgroup_id, ktime_ns};
}

static void notes_drop(struct containerizer *cz, size_t i)
{
        memmove(cz->notes + i, cz->notes + i + 1, (cz->n_notes - i - 1) * sizeof(cz->notes[0]));
        cz->n_notes--;
}

/* The kill of c was just sent: time it from its noted listen, if any. */
static void observe_kill(struct containerizer *cz, const struct cz_container *c)
{
        uint64_t now = now_nsec();

        for (size_t i = 0; i < cz->n_notes; i++)
                if (cz->notes[i].cgroup_id == c->cgroup_id && c->cgroup_id != 0) {
                        if (now >= cz->notes[i].ns)
                                histogram_observe(&cz->m.listen_to_kill_seconds,
                                                  (double)(now - cz->notes[i].ns) / 1e9);
                        notes_drop(cz, i);
                        return;
                }
}

static void notes_expire(struct containerizer *cz, uint64_t now)
{
        size_t k = 0;

        for (size_t i = 0; i < cz->n_notes; i++)
                if (cz->notes[i].ns + CZ_LISTEN_NOTE_TTL_NS > now)
                        cz->notes[k++] = cz->notes[i];
        cz->n_notes = k;
}

static void on_confirm(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        (void)containerizer_check_now(userdata);
}

/* A socket on a port bind prevention refuses is either real (bound before
 * prevention covered it: the allocation shrank, prevention was just turned
 * on, or it was passed in) or a UDP bind being refused right now, which the
 * kernel shows for an instant between taking the port and post_bind's
 * undo. The first sighting is confirmed by a pass CONFIRM_USEC later (the
 * isolator forgets it reported it, so that pass reports it again); only a
 * sighting in the pass after it kills. True when this one waits for that. */
static bool confirm_first(struct containerizer *cz, struct cz_container *c,
                          struct isolator *iso, const struct isolator_limitation *l)
{
        static const struct timeval later = {0, CONFIRM_USEC};

        if (c->confirm_pending && c->confirm_pass + 1 == cz->pass_seq)
                return false; /* seen again: real */
        if (!iso || !iso->ops->forget_report || c->cgroup_id == 0 ||
            !containerizer_refuses_udp_bind(cz, c->cgroup_id, &l->ports))
                return false;
        if (!cz->confirm_ev && !(cz->confirm_ev = evtimer_new(cz->base, on_confirm, cz)))
                return false;
        if (!evtimer_pending(cz->confirm_ev, NULL) && evtimer_add(cz->confirm_ev, &later) < 0)
                return false;
        c->confirm_pending = true;
        c->confirm_pass = cz->pass_seq;
        iso->ops->forget_report(iso, l->container_id);
        log_debug("%s; bind prevention refuses those ports: looking again before acting",
                  l->message);
        return true;
}

static void on_limitation(struct containerizer *cz, struct isolator *iso,
                          const struct isolator_limitation *l)
{
        struct cz_container *c = cz_find(cz, l->container_id);

        /* A launching container listens once its main process exec'd,
         * which may be before the loop has read the supervisor's report. */
        if (!c || (c->pub.state != CONTAINER_RUNNING && c->pub.state != CONTAINER_LAUNCHING) ||
            c->destroy_when_running)
                return;
        if (confirm_first(cz, c, iso, l))
                return;
        c->confirm_pending = false;
        cz->m.violations++;
        cz_record(cz, c, "violation", l->message);
        if (!cz->flags->enforce_container_ports) {
                log_warning("%s (not enforced: --enforce_container_ports is off)", l->message);
                return;
        }
        struct container_termination t = {
            .state = "TASK_FAILED",
            .reason = "REASON_CONTAINER_LIMITATION",
            .message = l->message,
            .has_limitation = true,
            .limitation = l->ports,
        };
        log_warning("%s; destroying it and its nested containers", l->message);
        cz->m.containers_killed++;
        cz_destroy(cz, c, &t);
        observe_kill(cz, c);
}

/* An UNKNOWN container without a supervisor to watch ends when its cgroup
 * empties: each pass looks. */
static void check_unknown(struct containerizer *cz)
{
        for (size_t i = 0; i < cz->n; i++) {
                struct cz_container *c = CZC(cz->v[i]);
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;

                if (c->pub.state != CONTAINER_UNKNOWN || c->pidfd >= 0)
                        continue;
                if (cg_exists(&cz->h, c->cgroup) &&
                    (cg_list_pids(&cz->h, c->cgroup, true, &pids, &n) < 0 || n > 0))
                        continue;
                if (!c->lost)
                        c->lost = strdup("its processes ended while its checkpoint was "
                                         "unreadable");
                cz_destroy(cz, c, NULL);
                c->killed_by_agent = false; /* it ended by itself */
        }
}

int containerizer_check_now(struct containerizer *cz)
{
        uint64_t t0 = now_nsec();
        int ret = 0;

        cz->pass_seq++;
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                struct isolator_limitation *v = NULL;
                size_t n = 0;
                int r;

                if (!iso->ops->watch)
                        continue;
                r = iso->ops->watch(iso, &v, &n);
                if (r < 0) {
                        if (!cz->watch_failing)
                                log_error_errno(r, "%s: reconciliation failed: %m", iso->ops->name);
                        cz->watch_failing = true;
                        ret = r;
                        continue;
                }
                cz->watch_failing = false;
                for (size_t k = 0; k < n; k++)
                        on_limitation(cz, iso, &v[k]);
                isolator_limitations_free(v, n);
        }
        check_unknown(cz);
        uint64_t t1 = now_nsec();
        cz->m.scans++;
        cz->m.last_scan_ns = t1 - t0;
        histogram_observe(&cz->m.pass_seconds, (double)(t1 - t0) / 1e9);
        notes_expire(cz, t1);
        cz_refresh_listening(cz);
        return ret;
}

bool containerizer_refuses_udp_bind(struct containerizer *cz, uint64_t container_cgroup_id,
                                    const struct portset *ports)
{
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                int r;

                if (!iso->ops->refuses_udp_bind)
                        continue;
                r = iso->ops->refuses_udp_bind(iso, container_cgroup_id, ports);
                if (r < 0)
                        log_debug_errno(r, "%s: cannot tell whether it refuses a bind: %m",
                                        iso->ops->name);
                if (r > 0)
                        return true;
        }
        return false;
}

int containerizer_check_event(struct containerizer *cz, uint64_t cgroup_id, uint8_t protocol,
                              uint16_t port)
{
        int ret = 0;

        cz->m.event_checks++;
        for (size_t i = 0; i < cz->n_isolators; i++) {
                struct isolator *iso = cz->isolators[i];
                struct isolator_limitation l = {};
                int r;

                if (!iso->ops->check_event)
                        continue;
                r = iso->ops->check_event(iso, cgroup_id, protocol, port, &l);
                if (r == -ENOENT) {
                        ret = r;
                        continue;
                }
                if (r < 0) {
                        log_debug_errno(r, "%s: event check failed: %m", iso->ops->name);
                        ret = ret ?: r;
                        continue;
                }
                if (r > 0) {
                        on_limitation(cz, iso, &l);
                        isolator_limitations_free_contents(&l);
                }
        }
        return ret;
}

void containerizer_count_events(struct containerizer *cz, uint64_t events, uint64_t dropped)
{
        cz->m.listen_events += events;
        cz->m.events_dropped = dropped;
}

void cz_on_watch(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        (void)containerizer_check_now(userdata);
}
