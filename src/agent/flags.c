/* flags.c - the agent's flags; see flags.h.
 *
 * One table row per flag (name, kind, where it lives in struct agent_flags,
 * default text, help). Defaults, environment values and the command line all
 * go through the same per-kind parser, so a default can never be something a
 * user could not type, and --help / GET_FLAGS / validation read the same rows.
 * Cross-flag checks (launcher vs isolation, the two range flags, resources)
 * run once at the end, on the merged values. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/flags.h"
#include "basic/strbuf.h"
#include "isolator/ports.h"
#include "linux/sockdiag.h"
#include "ports/duration.h"
#include "ports/ranges.h"
#include "ports/resources.h"

enum flag_kind {
        FLAG_STRING,    /* char *, NULL allowed when the default is NULL */
        FLAG_BOOL,      /* bool */
        FLAG_PORT,      /* uint16_t, 1-65535 */
        FLAG_DURATION,  /* uint64_t nanoseconds, > 0 */
        FLAG_TRISTATE,  /* int: -1 auto, 0, 1 */
        FLAG_PROTOCOLS, /* unsigned SOCKDIAG_* mask */
        FLAG_COUNT,     /* uint64_t, > 0 */
        FLAG_BYTES,     /* uint64_t, > 0, Mesos bytes: 512KB, 1MB, 4096B */
};

struct flag_def {
        const char *name;
        enum flag_kind kind;
        size_t offset;
        const char *def; /* default as text; NULL = unset */
        const char *help;
};

/* One row whose struct member has the flag's name. (clang-format would put
 * the stringizing '#n' on a line of its own.) */
/* clang-format off */
#define F(n, k, d, h) {#n, k, offsetof(struct agent_flags, n), d, h}
/* clang-format on */

static const struct flag_def flag_table[] = {
    F(work_dir, FLAG_STRING, "/var/lib/portiso",
      "Directory for checkpoints (meta/) and sandboxes (containers/<id>/ with stdout, "
      "stderr)."),
    F(runtime_dir, FLAG_STRING, "/run/portiso", "Directory for per-boot runtime state."),
    F(ip, FLAG_STRING, "127.0.0.1", "IP address the HTTP API listens on (IPv4 or IPv6)."),
    F(port, FLAG_PORT, "5051", "Port the HTTP API listens on."),
    F(isolation, FLAG_STRING, "network/ports",
      "Comma-separated isolators: network/ports, network/cni. Empty means none."),
    F(launcher, FLAG_STRING, "linux",
      "Launcher: linux (cgroups) or posix. network/ports requires linux."),
    F(resources, FLAG_STRING, NULL,
      "Agent resources, Mesos text (cpus:2;ports:[31000-32000]) or JSON array. "
      "Without a ports resource the agent offers ports [31000-32000]."),
    F(enforce_container_ports, FLAG_BOOL, "false",
      "Kill containers that listen on unallocated ports; when false, log each new "
      "violation once."),
    F(check_agent_port_range_only, FLAG_BOOL, "false",
      "Only ports inside the agent's ports resource are isolated."),
    F(container_ports_isolated_range, FLAG_STRING, NULL,
      "Only ports inside this range are isolated, e.g. [0-35000]. Exclusive with "
      "--check_agent_port_range_only."),
    {"container_ports_watch_interval", FLAG_DURATION,
     offsetof(struct agent_flags, container_ports_watch_interval_ns), "30secs",
     "Interval between port reconciliations (ns, us, ms, secs, mins, hrs, days, weeks)."},
    F(cgroups_hierarchy, FLAG_STRING, "/sys/fs/cgroup",
      "Where cgroups are mounted (cgroup2, hybrid, or v1 with a freezer hierarchy)."),
    F(cgroups_root, FLAG_STRING, "portiso", "Cgroup (below the hierarchy) holding containers."),
    F(container_ports_instant_detection, FLAG_TRISTATE, "auto",
      "Check a container as soon as it starts listening (eBPF); auto = where supported."),
    F(container_ports_prevent_bind, FLAG_BOOL, "false",
      "Deny (EPERM) binds to isolated ports a container was not allocated (eBPF)."),
    F(container_ports_protocols, FLAG_PROTOCOLS, "tcp",
      "Protocols whose sockets count as listeners: tcp, udp or tcp,udp."),
    F(api_socket, FLAG_STRING, NULL,
      "Unix socket serving the HTTP API (default <runtime_dir>/api.sock); empty for none."),
    F(api_socket_group, FLAG_STRING, NULL,
      "Group allowed on --api_socket (mode 0660); without it the socket is root's, 0600."),
    {"http_idle_timeout", FLAG_DURATION, offsetof(struct agent_flags, http_idle_timeout_ns),
     "60secs", "Close an API connection on which no request starts for this long."},
    {"http_header_timeout", FLAG_DURATION, offsetof(struct agent_flags, http_header_timeout_ns),
     "20secs", "Close an API connection whose request line and headers take longer than this."},
    {"http_body_timeout", FLAG_DURATION, offsetof(struct agent_flags, http_body_timeout_ns),
     "30secs", "Close an API connection whose request body takes longer than this."},
    F(http_max_connections, FLAG_COUNT, "1024",
      "Most API connections open at once; more wait in the listen backlog."),
    F(http_max_body_size, FLAG_BYTES, "1MB", "Largest API request body (larger: 413)."),
    F(http_max_header_size, FLAG_BYTES, "64KB",
      "Largest API request line plus headers (larger: 431)."),
    F(switch_user, FLAG_BOOL, "true",
      "Run each task as its command.user (else --default_container_user); false runs "
      "every task as the agent's own user."),
    F(default_container_user, FLAG_STRING, "nobody",
      "User of tasks that name none (callers on the unix socket other than root: "
      "themselves)."),
    F(allow_root_containers, FLAG_BOOL, "false",
      "Allow tasks to run as root (for root on the unix socket or an authenticated "
      "principal only)."),
    F(http_credentials, FLAG_STRING, NULL,
      "JSON file of principals and secrets for HTTP Basic authentication: "
      "{\"credentials\":[{\"principal\":\"ops\",\"secret\":\"...\"}]}."),
    F(http_authenticators, FLAG_STRING, "basic", "HTTP authenticator; only basic is supported."),
    F(authenticate_http_readwrite, FLAG_BOOL, "true",
      "Calls that change state need credentials over TCP (Mesos' default: false). "
      "Without --http_credentials the TCP API is then read-only."),
    F(authenticate_http_readonly, FLAG_BOOL, "false",
      "Read-only calls need credentials over TCP too."),
    F(metrics_per_container, FLAG_BOOL, "false",
      "Also export per-container allocated and listening port gauges on /metrics (one "
      "series per container)."),
    F(workload_sources, FLAG_STRING, "api",
      "Where containers come from, comma-separated: api (launched through the API), docker, "
      "podman (adopted from the engine), cgroups (adopted from --adopt_dir)."),
    F(docker_socket, FLAG_STRING, "/var/run/docker.sock", "Docker Engine API socket."),
    F(podman_socket, FLAG_STRING, "/run/podman/podman.sock",
      "Podman's Docker-compatible API socket (podman system service)."),
    F(adopt_dir, FLAG_STRING, "/etc/portiso/adopt.d",
      "Directory of *.conf files naming cgroups (paths or globs) and their ports."),
};

#undef F

static void *flag_ptr(struct agent_flags *f, const struct flag_def *d)
{
        return (char *)f + d->offset;
}

static const void *flag_cptr(const struct agent_flags *f, const struct flag_def *d)
{
        return (const char *)f + d->offset;
}

static const struct flag_def *flag_lookup(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(flag_table); i++)
                if (strlen(flag_table[i].name) == len &&
                    strncmp(flag_table[i].name, name, len) == 0)
                        return &flag_table[i];
        return NULL;
}

static int parse_bool(const char *v, bool *ret)
{
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
                *ret = true;
                return 0;
        }
        if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

static const struct {
        const char *suffix;
        uint64_t factor;
} byte_units[] = {
    {"TB", 1ULL << 40}, {"GB", 1ULL << 30}, {"MB", 1ULL << 20}, {"KB", 1ULL << 10}, {"B", 1}};

/* Mesos' Bytes: an integer and one of B, KB, MB, GB, TB (powers of 1024);
 * a bare number is bytes. > 0 and < 4 GiB (sizes held in memory). */
static int bytes_parse(const char *v, uint64_t *ret)
{
        char *end;

        if (!isdigit((unsigned char)*v))
                return -EINVAL;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno)
                return -EINVAL;
        uint64_t factor = *end ? 0 : 1;
        for (size_t i = 0; i < ELEMENTSOF(byte_units) && !factor; i++)
                if (strcmp(end, byte_units[i].suffix) == 0)
                        factor = byte_units[i].factor;
        if (!factor || n == 0 || n > UINT32_MAX / factor)
                return -EINVAL;
        *ret = n * factor;
        return 0;
}

static void bytes_format(uint64_t n, struct strbuf *out)
{
        for (size_t i = 0; i < ELEMENTSOF(byte_units); i++)
                if (n % byte_units[i].factor == 0) {
                        strbuf_addf(out, "%llu%s", (unsigned long long)(n / byte_units[i].factor),
                                    byte_units[i].suffix);
                        return;
                }
}

/* Parse value v for flag d into f; `from` says where it came from (for the
 * error line). */
static int flag_set(struct agent_flags *f, const struct flag_def *d, const char *v,
                    const char *from, struct errbuf *e)
{
        void *p = flag_ptr(f, d);
        struct errbuf sub = {};
        char where[128] = "";
        int r;

        if (from)
                snprintf(where, sizeof(where), " (from %s)", from);

        switch (d->kind) {
        case FLAG_STRING: {
                char **s = p, *copy = NULL;
                if (v) {
                        copy = strdup(v);
                        if (!copy)
                                return -ENOMEM;
                }
                free(*s);
                *s = copy;
                return 0;
        }
        case FLAG_BOOL:
                if (parse_bool(v, p) < 0)
                        return errbuf_set(e, -EINVAL,
                                          "--%s%s: invalid boolean '%s' (true or false)", d->name,
                                          where, v);
                return 0;
        case FLAG_PORT: {
                char *end;
                errno = 0;
                unsigned long n = strtoul(v, &end, 10);
                if (!isdigit((unsigned char)*v) || *end || errno || n < 1 || n > 65535)
                        return errbuf_set(e, -EINVAL, "--%s%s: invalid port '%s' (1-65535)",
                                          d->name, where, v);
                *(uint16_t *)p = (uint16_t)n;
                return 0;
        }
        case FLAG_DURATION: {
                uint64_t ns;
                r = duration_parse(v, &ns, &sub);
                if (r < 0)
                        return errbuf_set(e, -EINVAL, "--%s%s: %s", d->name, where, sub.msg);
                if (ns == 0)
                        return errbuf_set(e, -EINVAL, "--%s%s: must be greater than zero", d->name,
                                          where);
                *(uint64_t *)p = ns;
                return 0;
        }
        case FLAG_TRISTATE: {
                bool b;
                if (strcmp(v, "auto") == 0) {
                        *(int *)p = -1;
                        return 0;
                }
                if (parse_bool(v, &b) < 0)
                        return errbuf_set(e, -EINVAL,
                                          "--%s%s: invalid value '%s' (true, false or auto)",
                                          d->name, where, v);
                *(int *)p = b;
                return 0;
        }
        case FLAG_COUNT: {
                char *end;
                errno = 0;
                unsigned long long n = strtoull(v, &end, 10);
                if (!isdigit((unsigned char)*v) || *end || errno || n == 0 || n > UINT32_MAX)
                        return errbuf_set(e, -EINVAL, "--%s%s: invalid count '%s' (1-%u)", d->name,
                                          where, v, UINT32_MAX);
                *(uint64_t *)p = n;
                return 0;
        }
        case FLAG_BYTES:
                if (bytes_parse(v, p) < 0)
                        return errbuf_set(e, -EINVAL,
                                          "--%s%s: invalid size '%s' (e.g. 4096B, 64KB, 1MB)",
                                          d->name, where, v);
                return 0;
        case FLAG_PROTOCOLS:
                if (sockdiag_protocols_from_string(v, p) < 0)
                        return errbuf_set(e, -EINVAL,
                                          "--%s%s: invalid protocols '%s' (tcp, udp or tcp,udp)",
                                          d->name, where, v);
                return 0;
        }
        return -EINVAL;
}

static int flags_defaults(struct agent_flags *f, struct errbuf *e)
{
        for (size_t i = 0; i < ELEMENTSOF(flag_table); i++) {
                const struct flag_def *d = &flag_table[i];
                if (!d->def)
                        continue;
                int r = flag_set(f, d, d->def, NULL, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* MESOS_<NAME> first, then PORTISO_<NAME> so the latter wins. */
static int flags_environment(struct agent_flags *f, struct errbuf *e)
{
        static const char *const prefixes[] = {"MESOS_", "PORTISO_"};

        for (size_t i = 0; i < ELEMENTSOF(flag_table); i++) {
                const struct flag_def *d = &flag_table[i];
                for (size_t k = 0; k < ELEMENTSOF(prefixes); k++) {
                        char var[128];
                        size_t n = (size_t)snprintf(var, sizeof(var), "%s", prefixes[k]);
                        for (const char *c = d->name; *c && n + 1 < sizeof(var); c++)
                                var[n++] = (char)toupper((unsigned char)*c);
                        var[n] = '\0';
                        const char *v = getenv(var);
                        if (!v)
                                continue;
                        int r = flag_set(f, d, v, var, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int flags_argv(struct agent_flags *f, int argc, char **argv, struct errbuf *e)
{
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const struct flag_def *d;
                const char *name, *eq;
                bool negated = false;

                if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
                        return 1;
                if (strcmp(a, "--version") == 0)
                        return 2;
                if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
                        return errbuf_set(e, -EINVAL, "unexpected argument '%s'", a);

                name = a + 2;
                eq = strchr(name, '=');
                size_t len = eq ? (size_t)(eq - name) : strlen(name);
                d = flag_lookup(name, len);
                if (!d && !eq && strncmp(name, "no-", 3) == 0) {
                        d = flag_lookup(name + 3, len - 3);
                        if (d && d->kind != FLAG_BOOL && d->kind != FLAG_TRISTATE)
                                return errbuf_set(e, -EINVAL, "--%s: not a boolean flag", d->name);
                        negated = d != NULL;
                }
                if (!d)
                        return errbuf_set(e, -EINVAL, "--%.*s: unknown flag", (int)len, name);

                const char *v;
                if (eq)
                        v = eq + 1;
                else if (d->kind == FLAG_BOOL || d->kind == FLAG_TRISTATE)
                        v = negated ? "false" : "true";
                else
                        return errbuf_set(e, -EINVAL, "--%s: missing value (use --%s=VALUE)",
                                          d->name, d->name);
                int r = flag_set(f, d, v, NULL, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int validate_isolation(struct agent_flags *f, struct errbuf *e)
{
        const char *p = f->isolation ? f->isolation : "";

        f->isolation_network_ports = false;
        f->isolation_network_cni = false;
        while (*p) {
                size_t n = strcspn(p, ",");
                while (n > 0 && isspace((unsigned char)*p)) {
                        p++;
                        n--;
                }
                size_t m = n;
                while (m > 0 && isspace((unsigned char)p[m - 1]))
                        m--;
                if (m == strlen("network/ports") && strncmp(p, "network/ports", m) == 0)
                        f->isolation_network_ports = true;
                else if (m == strlen("network/cni") && strncmp(p, "network/cni", m) == 0)
                        f->isolation_network_cni = true;
                else if (m > 0)
                        return errbuf_set(e, -EINVAL, "--isolation: unknown isolator '%.*s'",
                                          (int)m, p);
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}

static int validate_sources(struct agent_flags *f, struct errbuf *e)
{
        static const struct {
                const char *name;
                unsigned bit;
        } names[] = {
            {"api", WORKLOAD_SOURCE_API},
            {"docker", WORKLOAD_SOURCE_DOCKER},
            {"podman", WORKLOAD_SOURCE_PODMAN},
            {"cgroups", WORKLOAD_SOURCE_CGROUPS},
        };
        const char *p = f->workload_sources ? f->workload_sources : "";

        f->sources = 0;
        while (*p) {
                size_t n = strcspn(p, ",");
                size_t k;
                for (k = 0; k < ELEMENTSOF(names); k++)
                        if (strlen(names[k].name) == n && strncmp(p, names[k].name, n) == 0)
                                break;
                if (k == ELEMENTSOF(names) && n > 0)
                        return errbuf_set(e, -EINVAL,
                                          "--workload_sources: unknown source '%.*s' (api, "
                                          "docker, podman, cgroups)",
                                          (int)n, p);
                if (k < ELEMENTSOF(names))
                        f->sources |= names[k].bit;
                p += n;
                if (*p == ',')
                        p++;
        }
        if (!f->sources)
                return errbuf_set(e, -EINVAL, "--workload_sources: name at least one source");
        if ((f->sources & WORKLOAD_SOURCE_DOCKER) && !*f->docker_socket)
                return errbuf_set(e, -EINVAL, "--docker_socket: must not be empty");
        if ((f->sources & WORKLOAD_SOURCE_PODMAN) && !*f->podman_socket)
                return errbuf_set(e, -EINVAL, "--podman_socket: must not be empty");
        if ((f->sources & WORKLOAD_SOURCE_CGROUPS) && !*f->adopt_dir)
                return errbuf_set(e, -EINVAL, "--adopt_dir: must not be empty");
        return 0;
}

static int validate(struct agent_flags *f, struct errbuf *e)
{
        _cleanup_portset_ struct portset range = PORTSET_INIT;
        struct errbuf sub = {};
        bool has_ports = false;
        unsigned char addr[sizeof(struct in6_addr)];
        int r;

        r = validate_isolation(f, e);
        if (r < 0)
                return r;
        r = validate_sources(f, e);
        if (r < 0)
                return r;

        if (strcmp(f->launcher, "linux") != 0 && strcmp(f->launcher, "posix") != 0)
                return errbuf_set(e, -EINVAL, "--launcher: unknown launcher '%s' (linux or posix)",
                                  f->launcher);
        if (strcmp(f->launcher, "posix") == 0 && f->isolation_network_ports)
                return errbuf_set(e, -EINVAL,
                                  "--launcher: the network/ports isolator requires "
                                  "--launcher=linux, not posix");

        if (inet_pton(AF_INET, f->ip, addr) != 1 && inet_pton(AF_INET6, f->ip, addr) != 1)
                return errbuf_set(e, -EINVAL, "--ip: invalid IP address '%s'", f->ip);

        if (!*f->work_dir)
                return errbuf_set(e, -EINVAL, "--work_dir: must not be empty");
        if (!*f->runtime_dir)
                return errbuf_set(e, -EINVAL, "--runtime_dir: must not be empty");
        if (!f->api_socket && asprintf(&f->api_socket, "%s/api.sock", f->runtime_dir) < 0) {
                f->api_socket = NULL;
                return -ENOMEM;
        }
        if (f->api_socket_group && !*f->api_socket_group)
                return errbuf_set(e, -EINVAL, "--api_socket_group: must not be empty");
        if (*f->api_socket && f->api_socket[0] != '/')
                return errbuf_set(e, -EINVAL, "--api_socket: '%s' is not an absolute path",
                                  f->api_socket);
        if (!*f->cgroups_hierarchy)
                return errbuf_set(e, -EINVAL, "--cgroups_hierarchy: must not be empty");
        if (!*f->cgroups_root || f->cgroups_root[0] == '/' || strstr(f->cgroups_root, "..") ||
            f->cgroups_root[strlen(f->cgroups_root) - 1] == '/')
                return errbuf_set(e, -EINVAL,
                                  "--cgroups_root: invalid cgroup name '%s' (relative, no '..')",
                                  f->cgroups_root);

        if (!f->default_container_user || !*f->default_container_user)
                return errbuf_set(e, -EINVAL, "--default_container_user: must not be empty");
        if (!f->http_authenticators || strcmp(f->http_authenticators, "basic") != 0)
                return errbuf_set(e, -EINVAL,
                                  "--http_authenticators: only 'basic' is supported, not '%s'",
                                  f->http_authenticators ? f->http_authenticators : "");
        if (f->http_credentials && !*f->http_credentials) {
                free(f->http_credentials);
                f->http_credentials = NULL;
        }
        if (f->authenticate_http_readonly && !f->http_credentials)
                return errbuf_set(e, -EINVAL,
                                  "--authenticate_http_readonly needs --http_credentials");
        auth_credentials_done(&f->credentials);
        f->has_credentials = false;
        if (f->http_credentials) {
                r = auth_credentials_load(f->http_credentials, &f->credentials, &sub);
                if (r < 0)
                        return errbuf_set(e, r == -ENOMEM ? r : -EINVAL, "--http_credentials: %s",
                                          sub.msg);
                f->has_credentials = true;
        }

        portset_clear(&f->agent_ports);
        if (f->resources) {
                r = resources_parse_ports(f->resources, &f->agent_ports, &has_ports, &sub);
                if (r < 0)
                        return errbuf_set(e, -EINVAL, "--resources: %s", sub.msg);
        }
        if (!has_ports) {
                r = portset_add_range(&f->agent_ports, 31000, 32000);
                if (r < 0)
                        return r;
        }

        if (f->container_ports_isolated_range) {
                r = ranges_parse(f->container_ports_isolated_range, &range, &sub);
                if (r < 0)
                        return errbuf_set(e, -EINVAL, "--container_ports_isolated_range: %s",
                                          sub.msg);
        }
        portset_clear(&f->isolated);
        r = ports_isolated_range(f->check_agent_port_range_only,
                                 f->container_ports_isolated_range ? &range : NULL, &f->agent_ports,
                                 &f->isolated, &sub);
        if (r < 0)
                return errbuf_set(e, r, "--container_ports_isolated_range: %s", sub.msg);
        return 0;
}

int agent_flags_parse(struct agent_flags *f, int argc, char **argv, struct errbuf *e)
{
        int r;

        *f = (struct agent_flags){};
        r = flags_defaults(f, e);
        if (r >= 0)
                r = flags_environment(f, e);
        if (r >= 0)
                r = flags_argv(f, argc, argv, e);
        if (r == 1 || r == 2) {
                if (r == 1)
                        agent_flags_help(stdout);
                else
                        printf("portiso-agent %s\n", PORTISO_VERSION);
                agent_flags_done(f);
                return 1;
        }
        if (r >= 0)
                r = validate(f, e);
        if (r < 0) {
                agent_flags_done(f);
                return r;
        }
        return 0;
}

void agent_flags_done(struct agent_flags *f)
{
        for (size_t i = 0; i < ELEMENTSOF(flag_table); i++)
                if (flag_table[i].kind == FLAG_STRING) {
                        char **s = flag_ptr(f, &flag_table[i]);
                        free(*s);
                        *s = NULL;
                }
        portset_clear(&f->agent_ports);
        portset_clear(&f->isolated);
        auth_credentials_done(&f->credentials);
        *f = (struct agent_flags){};
}

static void flag_format(const struct agent_flags *f, const struct flag_def *d, struct strbuf *out)
{
        const void *p = flag_cptr(f, d);

        switch (d->kind) {
        case FLAG_STRING: {
                const char *s = *(char *const *)p;
                strbuf_puts(out, s ? s : "");
                break;
        }
        case FLAG_BOOL:
                strbuf_puts(out, *(const bool *)p ? "true" : "false");
                break;
        case FLAG_PORT:
                strbuf_addf(out, "%u", (unsigned)*(const uint16_t *)p);
                break;
        case FLAG_DURATION:
                duration_format(*(const uint64_t *)p, out);
                break;
        case FLAG_TRISTATE: {
                int v = *(const int *)p;
                strbuf_puts(out, v < 0 ? "auto" : v ? "true" : "false");
                break;
        }
        case FLAG_COUNT:
                strbuf_addf(out, "%llu", (unsigned long long)*(const uint64_t *)p);
                break;
        case FLAG_BYTES:
                bytes_format(*(const uint64_t *)p, out);
                break;
        case FLAG_PROTOCOLS: {
                unsigned m = *(const unsigned *)p;
                strbuf_puts(out, (m & SOCKDIAG_TCP) && (m & SOCKDIAG_UDP) ? "tcp,udp"
                                 : (m & SOCKDIAG_UDP)                     ? "udp"
                                                                          : "tcp");
                break;
        }
        }
}

void agent_flags_foreach(const struct agent_flags *f,
                         void (*fn)(const char *name, const char *value, void *userdata),
                         void *userdata)
{
        for (size_t i = 0; i < ELEMENTSOF(flag_table); i++) {
                _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
                const struct flag_def *d = &flag_table[i];
                if (d->kind == FLAG_STRING && !*(char *const *)flag_cptr(f, d)) {
                        fn(d->name, NULL, userdata);
                        continue;
                }
                flag_format(f, d, &sb);
                fn(d->name, strbuf_str(&sb), userdata);
        }
}

void agent_flags_help(FILE *out)
{
        fprintf(out, "Usage: portiso-agent [--name=value ...]\n"
                     "  or:  portiso-agent --help | --version\n\n"
                     "Every flag can also be set as PORTISO_<NAME> or MESOS_<NAME> in the\n"
                     "environment; the command line wins. Booleans also take --name and "
                     "--no-name.\n\n"
                     "Flags:\n");
        for (size_t i = 0; i < ELEMENTSOF(flag_table); i++) {
                const struct flag_def *d = &flag_table[i];
                const char *shape = d->kind == FLAG_BOOL       ? "[=true|false]"
                                    : d->kind == FLAG_TRISTATE ? "[=true|false|auto]"
                                                               : "=VALUE";
                fprintf(out, "  --%s%s\n      %s\n      (default: %s)\n", d->name, shape, d->help,
                        d->def ? d->def : "none");
        }
}
