/* source-cgroups.h - the cgroups workload source: the declarations
 * directory (--adopt_dir, file format in adopt-decl.h).
 *
 * Every cgroup a declaration names (a path or a glob) is adopted with the
 * declared ports while it exists; a violation is stopped by killing what
 * runs in the cgroup (there is no engine to ask), the cgroup itself is left
 * to its owner (systemd, Nomad). The directory is watched with inotify, so
 * adding, editing or removing a file takes effect at once. Cgroups that
 * appear and disappear are followed by a rescan of the patterns every
 * second (see source-cgroups.c for why). */
#pragma once

#include <event2/event.h>

#include "agent/containerizer.h"

struct cgroups_source;

/* Start watching dir. A missing directory is watched for when it appears;
 * only running out of memory or inotify fails. */
int cgroups_source_new(struct event_base *base, struct containerizer *cz, const char *dir,
                       struct cgroups_source **ret);
void cgroups_source_free(struct cgroups_source *s);
