/* metrics.h - the agent's metrics in the Prometheus text exposition format
 * (GET /metrics), beside the Mesos-style flat object of /metrics/snapshot.
 *
 * Names follow Prometheus' conventions: the portiso_ prefix, counters end in
 * _total, durations are in seconds. The numbers come from the containerizer
 * (its metrics snapshot and its container table) at scrape time; this file
 * only names, describes and formats them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/strbuf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct containerizer;

/* Append every metric to out. pending_waits is the API's count of parked
 * WAIT_CONTAINER calls; per_container adds one allocated and one listening
 * gauge series per container (high cardinality, so behind a flag). */
void metrics_write_prometheus(const struct containerizer *cz, size_t pending_waits,
                              bool per_container, struct strbuf *out);
