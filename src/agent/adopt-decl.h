/* adopt-decl.h - one file of the declarations directory (--adopt_dir).
 *
 * Each file (name ending in .conf) declares cgroups that portiso adopts and
 * the ports they may listen on:
 *
 *   # nginx, wherever systemd runs it
 *   cgroup = system.slice/nginx.service
 *   cgroup = system.slice/web@*.service
 *   ports  = [80-80, 443-443]
 *
 * `cgroup` (one or more) is a path below the cgroup hierarchy's mount (the v2
 * mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host), a
 * glob(7) pattern allowed; `ports` (exactly one) is Mesos Ranges text, `[]`
 * for none. Blank lines and lines starting with '#' are comments. Pure
 * parsing: the directory watch is in source-cgroups.c. */
#pragma once

#include <stddef.h>

#include "basic/errbuf.h"
#include "ports/portset.h"

struct adopt_decl {
        char **cgroups; /* patterns, NULL-terminated */
        size_t n_cgroups;
        struct portset ports;
};

/* Parse a file's text. -EINVAL with "line N: ..." in *e. */
int adopt_decl_parse(const char *text, struct adopt_decl *ret, struct errbuf *e);
/* Free the contents. */
void adopt_decl_done(struct adopt_decl *d);
