/* metrics.c - the Prometheus exposition of the agent's metrics; see
 * metrics.h.
 *
 * One table of scalar families (name, type, help, value) filled from one
 * containerizer snapshot, then the histograms, then the optional
 * per-container gauges: every family gets its # HELP and # TYPE lines once,
 * histogram buckets are written cumulative with a final le="+Inf" equal to
 * _count, as the format requires. */
#include <inttypes.h>

#include "agent/containerizer.h"
#include "agent/metrics.h"
#include "basic/macro.h"

struct scalar {
        const char *name;
        const char *type; /* "counter" or "gauge" */
        const char *help;
        double value;
};

static void family(struct strbuf *out, const char *name, const char *type, const char *help)
{
        strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped. */
static void label_value(struct strbuf *out, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        strbuf_putc(out, '\\');
                if (*s == '\n') {
                        strbuf_puts(out, "\\n");
                        continue;
                }
                strbuf_putc(out, *s);
        }
}

static void histogram(struct strbuf *out, const char *name, const char *help,
                      const struct histogram *h)
{
        uint64_t cumulative = 0;

        family(out, name, "histogram", help);
        for (size_t i = 0; i < h->n_bounds; i++) {
                cumulative += h->counts[i];
                strbuf_addf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->bounds[i],
                            cumulative);
        }
        strbuf_addf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
        strbuf_addf(out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

static void per_container(const struct containerizer *cz, struct strbuf *out)
{
        const struct container *const *v;
        size_t n = containerizer_list(cz, &v);
        static const char *const names[] = {"portiso_container_allocated_ports",
                                            "portiso_container_listening_ports"};
        static const char *const helps[] = {
            "Ports allocated to a root container (its ports resource).",
            "Ports a container and its nested containers listened on at the last check."};

        for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                family(out, names[k], "gauge", helps[k]);
                for (size_t i = 0; i < n; i++) {
                        const struct container *c = v[i];
                        if (k == 0 && c->config.parent_id)
                                continue; /* nested containers share their root's */
                        strbuf_addf(out, "%s{container_id=\"", names[k]);
                        label_value(out, c->config.id);
                        strbuf_addf(out, "\"} %" PRIu32 "\n",
                                    portset_count(k == 0 ? &c->config.ports : &c->listening));
                }
        }
}

void metrics_write_prometheus(const struct containerizer *cz, size_t pending_waits,
                              bool per_container_gauges, struct strbuf *out)
{
        struct containerizer_metrics m = {};

        containerizer_metrics(cz, &m);
        const struct scalar scalars[] = {
            {"portiso_containers", "gauge", "Containers the agent knows, in any state.",
             (double)m.containers},
            {"portiso_containers_running", "gauge", "Containers in state RUNNING.",
             (double)m.containers_running},
            {"portiso_violations_total", "counter",
             "Containers found listening on unallocated ports (enforced or only logged).",
             (double)m.violations},
            {"portiso_containers_killed_total", "counter",
             "Containers destroyed for listening on unallocated ports.",
             (double)m.containers_killed},
            {"portiso_denied_binds_total", "counter",
             "Binds (and autobinds) bind prevention refused, as the agent has read them.",
             (double)m.denied_binds},
            {"portiso_last_pass_duration_seconds", "gauge",
             "Duration of the last reconciliation pass.", (double)m.last_scan_ns / 1e9},
            {"portiso_containers_destroying", "gauge", "Containers in state DESTROYING.",
             (double)m.containers_destroying},
            {"portiso_listen_events_total", "counter",
             "New listeners (and UDP binds) eBPF reported, each checked for its container alone.",
             (double)m.listen_events},
            {"portiso_listen_events_dropped_total", "counter",
             "Listener events lost to a full ring buffer (each loss makes one full pass).",
             (double)m.events_dropped},
            {"portiso_event_checks_total", "counter",
             "Single-container checks of reported listeners.", (double)m.event_checks},
            {"portiso_instant_detection_enabled", "gauge",
             "1 when eBPF reports new listeners at once.", m.instant_detection ? 1 : 0},
            {"portiso_prevent_bind_enabled", "gauge",
             "1 when eBPF denies binds to unallocated isolated ports.", m.prevent_bind ? 1 : 0},
            {"portiso_api_pending_waits", "gauge", "WAIT_CONTAINER calls waiting for an end.",
             (double)pending_waits},
        };

        family(out, "portiso_build_info", "gauge", "The agent's version, as a label.");
        strbuf_addf(out, "portiso_build_info{version=\"%s\"} 1\n", PORTISO_VERSION);
        for (size_t i = 0; i < ELEMENTSOF(scalars); i++) {
                family(out, scalars[i].name, scalars[i].type, scalars[i].help);
                strbuf_addf(out, "%s %.17g\n", scalars[i].name, scalars[i].value);
        }
        histogram(out, "portiso_pass_duration_seconds", "Duration of full reconciliation passes.",
                  &m.pass_seconds);
        histogram(out, "portiso_listen_to_kill_seconds",
                  "From a listen() instant detection reported to the destroy of its container.",
                  &m.listen_to_kill_seconds);
        if (per_container_gauges)
                per_container(cz, out);
}
