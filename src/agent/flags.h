/* flags.h - the agent's flags: Mesos names, defaults and validation.
 *
 * Sources in increasing priority: built-in defaults, MESOS_<NAME>, then
 * PORTISO_<NAME> environment variables, then the command line
 * (--name=value; booleans also --name, --no-name, --name=true|false).
 * Parsing is table driven: one row per flag with its default and help text,
 * so --help, GET_FLAGS and validation cannot drift apart. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/auth.h"
#include "basic/errbuf.h"
#include "ports/portset.h"

struct agent_flags {
        char *work_dir;    /* /var/lib/portiso */
        char *runtime_dir; /* /run/portiso */
        char *ip;          /* 127.0.0.1 */
        uint16_t port;     /* 5051 */
        char *isolation;   /* "network/ports" */
        char *launcher;    /* "linux" */
        char *resources;   /* NULL = default ports [31000-32000] */
        bool enforce_container_ports;
        bool check_agent_port_range_only;
        char *container_ports_isolated_range;       /* NULL = none */
        uint64_t container_ports_watch_interval_ns; /* 30secs */
        char *cgroups_hierarchy;                    /* /sys/fs/cgroup */
        char *cgroups_root;                         /* portiso */
        int container_ports_instant_detection;      /* -1 = auto (where supported), 0, 1 */
        bool container_ports_prevent_bind;
        unsigned container_ports_protocols; /* SOCKDIAG_TCP [| SOCKDIAG_UDP] */
        char *api_socket;                   /* NULL = <runtime_dir>/api.sock, "" = no unix socket */
        char *api_socket_group;             /* NULL = mode 0600, else 0660 with this group */
        uint64_t http_idle_timeout_ns;
        uint64_t http_header_timeout_ns;
        uint64_t http_body_timeout_ns;
        uint64_t http_max_connections;
        uint64_t http_max_body_size;   /* bytes */
        uint64_t http_max_header_size; /* bytes */
        bool metrics_per_container;    /* per-container gauges on /metrics */
        char *workload_sources;             /* "api" */
        char *docker_socket;                /* /var/run/docker.sock */
        char *podman_socket;                /* /run/podman/podman.sock */
        char *adopt_dir;                    /* /etc/portiso/adopt.d */

        /* Who may call, and as whom tasks run (auth.h, user.h). */
        bool switch_user;                 /* true: tasks run as their user */
        char *default_container_user;     /* nobody */
        bool allow_root_containers;       /* false */
        char *http_credentials;           /* NULL = none */
        char *http_authenticators;        /* basic */
        bool authenticate_http_readwrite; /* true (Mesos: false) */
        bool authenticate_http_readonly;  /* false */

        /* Derived during validation. */
        bool isolation_network_ports;
        bool isolation_network_cni;
        struct portset agent_ports; /* from --resources, default [31000-32000] */
        struct portset isolated;    /* ports that count (ports_isolated_range()) */
        bool has_credentials;       /* --http_credentials was read: */
        struct auth_credentials credentials;
        unsigned sources;           /* WORKLOAD_SOURCE_* from --workload_sources */
};

enum {
        WORKLOAD_SOURCE_API = 1 << 0,
        WORKLOAD_SOURCE_DOCKER = 1 << 1,
        WORKLOAD_SOURCE_PODMAN = 1 << 2,
        WORKLOAD_SOURCE_CGROUPS = 1 << 3,
};

/* Fill defaults, then environment, then argv; validate. Returns 0, or 1 when
 * --help or --version was printed, or -EINVAL with one line naming the flag in *e. */
int agent_flags_parse(struct agent_flags *f, int argc, char **argv, struct errbuf *e);
/* Free the strings and sets. */
void agent_flags_done(struct agent_flags *f);
/* Call fn(name, value-as-text) for every flag, in table order (GET_FLAGS);
 * value is NULL for a string flag that is unset. */
void agent_flags_foreach(const struct agent_flags *f,
                         void (*fn)(const char *name, const char *value, void *userdata),
                         void *userdata);
/* Print --help: every flag with its default and meaning. */
void agent_flags_help(FILE *out);
