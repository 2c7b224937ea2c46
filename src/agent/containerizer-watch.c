/* containerizer-watch.c - the reconciliation pass and what a limitation does.
 *
 * Every --container_ports_watch_interval (and at once when eBPF reports a new
 * listener, or after recovery) each isolator's watch() runs one pass; every
 * limitation it returns is counted, and with --enforce_container_ports the
 * root container is destroyed with the limitation recorded as the
 * termination of it and of its nested containers. Without enforcement it is
 * logged; isolators report each violation once, so the log stays quiet while
 * nothing changes. */
#include "agent/containerizer-private.h"
#include "basic/log.h"
#include "basic/time-util.h"

void cz_refresh_listening(struct containerizer *cz)
{
        for (size_t i = 0; i < cz->n; i++) {
                struct container *c = cz->v[i];
                if (c->state == CONTAINER_TERMINATED)
                        continue;
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
                        isolator_status_done(&st);
                }
        }
}

static void on_limitation(struct containerizer *cz, const struct isolator_limitation *l)
{
        struct cz_container *c = cz_find(cz, l->container_id);

        /* A launching container listens once its main process exec'd,
         * which may be before the loop has read the supervisor's report. */
        if (!c || (c->pub.state != CONTAINER_RUNNING && c->pub.state != CONTAINER_LAUNCHING) ||
            c->destroy_when_running)
                return;
        cz->m.violations++;
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
}

int containerizer_check_now(struct containerizer *cz)
{
        uint64_t t0 = now_nsec();
        int ret = 0;

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
                        on_limitation(cz, &v[k]);
                isolator_limitations_free(v, n);
        }
        cz->m.scans++;
        cz->m.last_scan_ns = now_nsec() - t0;
        cz_refresh_listening(cz);
        return ret;
}

void cz_on_watch(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        (void)containerizer_check_now(userdata);
}
