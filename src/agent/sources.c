/* sources.c - start and stop the workload sources; see sources.h.
 *
 * The engine sources share one curl multi handle (one set of sockets and
 * one timer on the loop). */
#include <stdlib.h>

#include "agent/curl-loop.h"
#include "agent/source-cgroups.h"
#include "agent/source-engine.h"
#include "agent/sources.h"
#include "basic/log.h"

struct sources {
        struct curl_loop *curl;
        struct engine_source *docker, *podman;
        struct cgroups_source *cgroups;
};

int sources_start(struct event_base *base, const struct agent_flags *flags,
                  struct containerizer *cz, struct sources **ret)
{
        struct sources *s = calloc(1, sizeof(*s));
        int r = 0;

        if (!s)
                return -ENOMEM;
        if (flags->sources & (WORKLOAD_SOURCE_DOCKER | WORKLOAD_SOURCE_PODMAN))
                r = curl_loop_new(base, &s->curl);
        if (r >= 0 && (flags->sources & WORKLOAD_SOURCE_DOCKER))
                r = engine_source_new(base, s->curl, cz, "docker", flags->docker_socket,
                                      &s->docker);
        if (r >= 0 && (flags->sources & WORKLOAD_SOURCE_PODMAN))
                r = engine_source_new(base, s->curl, cz, "podman", flags->podman_socket,
                                      &s->podman);
        if (r >= 0 && (flags->sources & WORKLOAD_SOURCE_CGROUPS))
                r = cgroups_source_new(base, cz, flags->adopt_dir, &s->cgroups);
        if (r < 0) {
                sources_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void sources_free(struct sources *s)
{
        if (!s)
                return;
        engine_source_free(s->docker);
        engine_source_free(s->podman);
        cgroups_source_free(s->cgroups);
        curl_loop_free(s->curl);
        free(s);
}
