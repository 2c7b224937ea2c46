/* api-json.c - the Mesos v1 agent API messages in protobuf-JSON form; see
 * api-json.h.
 *
 * Parsing is explicit, field by field, rather than through json_unpack():
 * every rejection must name the field and say what was expected in one line,
 * and unknown fields are ignored as protobuf's JSON parser does. Nested
 * container ids travel as "root/child" strings inside portiso (they double as
 * cgroup paths) and become ContainerID chains only at this boundary. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "agent/api-json.h"
#include "basic/strbuf.h"
#include "ports/ranges.h"
#include "ports/resources.h"

static void strvfreep(char ***p)
{
        if (*p) {
                for (char **s = *p; *s; s++)
                        free(*s);
                free(*p);
        }
}

/* An optional member that must be an object when present. */
static int get_object(const json_t *parent, const char *key, const char *what, const json_t **ret,
                      struct errbuf *e)
{
        const json_t *v = json_object_get(parent, key);
        if (v && !json_is_object(v))
                return errbuf_set(e, -EINVAL, "%s.%s: expected an object", what, key);
        *ret = v;
        return 0;
}

/* An optional member that must be a string when present. */
static int get_string(const json_t *parent, const char *key, const char *what, const char **ret,
                      struct errbuf *e)
{
        const json_t *v = json_object_get(parent, key);
        if (v && !json_is_string(v))
                return errbuf_set(e, -EINVAL, "%s.%s: expected a string", what, key);
        *ret = v ? json_string_value(v) : NULL;
        return 0;
}

/* An optional member that must be an array when present. */
static int get_array(const json_t *parent, const char *key, const char *what, const json_t **ret,
                     struct errbuf *e)
{
        const json_t *v = json_object_get(parent, key);
        if (v && !json_is_array(v))
                return errbuf_set(e, -EINVAL, "%s.%s: expected an array", what, key);
        *ret = v;
        return 0;
}

/* Prepend one ContainerID level's value to the path being built. */
static int container_id_collect(const json_t *j, const char *what, int depth, struct strbuf *path,
                                struct errbuf *e)
{
        if (!json_is_object(j))
                return errbuf_set(e, -EINVAL, "%s: expected a ContainerID object", what);
        if (depth > 32)
                return errbuf_set(e, -EINVAL, "%s: containers nested too deeply", what);

        const char *value = NULL;
        int r = get_string(j, "value", what, &value, e);
        if (r < 0)
                return r;
        if (!value)
                return errbuf_set(e, -EINVAL, "%s.value: missing", what);
        struct errbuf inner;
        r = container_id_validate(value, &inner);
        if (r < 0)
                return errbuf_set(e, r, "%s.value: %s", what, inner.msg);

        const json_t *parent = json_object_get(j, "parent");
        if (parent) {
                _cleanup_free_ char *pwhat = NULL;
                if (asprintf(&pwhat, "%s.parent", what) < 0)
                        return -ENOMEM;
                r = container_id_collect(parent, pwhat, depth + 1, path, e);
                if (r < 0)
                        return r;
                strbuf_putc(path, '/');
        }
        strbuf_puts(path, value);
        return 0;
}

int api_json_parse_container_id(const json_t *j, const char *what, char **ret_id, struct errbuf *e)
{
        _cleanup_strbuf_ struct strbuf path = STRBUF_INIT;

        if (!j)
                return errbuf_set(e, -EINVAL, "%s: missing", what);
        int r = container_id_collect(j, what, 0, &path, e);
        if (r < 0)
                return r;
        char *id = strbuf_detach(&path);
        if (!id)
                return -ENOMEM;
        *ret_id = id;
        return 0;
}

json_t *api_json_container_id(const char *id)
{
        json_t *cur = NULL;
        const char *p = id;

        /* Walk from the root down: each component wraps the previous as parent. */
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);
                json_t *next = json_object();
                if (!next || json_object_set_new(next, "value", json_stringn(p, len)) < 0) {
                        json_decref(next);
                        json_decref(cur);
                        return NULL;
                }
                if (cur && json_object_set_new(next, "parent", cur) < 0) {
                        json_decref(next);
                        return NULL;
                }
                cur = next;
                if (!slash)
                        return cur;
                p = slash + 1;
        }
}

/* CommandInfo.environment.variables -> NULL-terminated "NAME=value" array. */
static int parse_environment(const json_t *env, const char *what, char ***ret, struct errbuf *e)
{
        const json_t *vars = NULL;
        int r = get_array(env, "variables", what, &vars, e);
        if (r < 0)
                return r;
        size_t n = vars ? json_array_size(vars) : 0;
        _cleanup_(strvfreep) char **out = calloc(n + 1, sizeof(char *));
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const json_t *v = json_array_get(vars, i);
                const char *name = NULL, *value = NULL, *type = NULL;
                if (!json_is_object(v))
                        return errbuf_set(e, -EINVAL, "%s.variables[%zu]: expected an object", what,
                                          i);
                if ((r = get_string(v, "name", what, &name, e)) < 0 ||
                    (r = get_string(v, "value", what, &value, e)) < 0 ||
                    (r = get_string(v, "type", what, &type, e)) < 0)
                        return r;
                if (!name || !*name || strchr(name, '='))
                        return errbuf_set(e, -EINVAL,
                                          "%s.variables[%zu].name: must be a non-empty string "
                                          "without '='",
                                          what, i);
                if (type && strcmp(type, "VALUE") != 0)
                        return errbuf_set(
                            e, -EINVAL, "%s.variables[%zu].type: only VALUE is supported", what, i);
                if (asprintf(&out[i], "%s=%s", name, value ?: "") < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* A plausible user name: 1-255 bytes, no ':', '/', whitespace or control
 * characters (whether it exists is the launch policy's question). */
static bool user_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 255)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == ':' || *s == '/')
                        return false;
        return true;
}

/* CommandInfo -> shell, value, arguments, environment, user. */
static int parse_command(const json_t *cmd, const char *what, struct container_config *cfg,
                         struct errbuf *e)
{
        const json_t *shell = json_object_get(cmd, "shell");
        if (shell && !json_is_boolean(shell))
                return errbuf_set(e, -EINVAL, "%s.shell: expected true or false", what);
        cfg->shell = shell ? json_is_true(shell) : true;

        const char *value = NULL;
        int r = get_string(cmd, "value", what, &value, e);
        if (r < 0)
                return r;
        if (!value || !*value)
                return errbuf_set(e, -EINVAL, "%s.value: missing (the command to run)", what);
        cfg->value = strdup(value);
        if (!cfg->value)
                return -ENOMEM;

        const json_t *args = NULL;
        r = get_array(cmd, "arguments", what, &args, e);
        if (r < 0)
                return r;
        if (args) {
                size_t n = json_array_size(args);
                cfg->arguments = calloc(n + 1, sizeof(char *));
                if (!cfg->arguments)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        const json_t *a = json_array_get(args, i);
                        if (!json_is_string(a))
                                return errbuf_set(e, -EINVAL,
                                                  "%s.arguments[%zu]: expected a string", what, i);
                        cfg->arguments[i] = strdup(json_string_value(a));
                        if (!cfg->arguments[i])
                                return -ENOMEM;
                }
        }

        const char *user = NULL;
        r = get_string(cmd, "user", what, &user, e);
        if (r < 0)
                return r;
        if (user) {
                if (!user_name_valid(user))
                        return errbuf_set(e, -EINVAL, "%s.user: not a user name", what);
                cfg->user = strdup(user);
                if (!cfg->user)
                        return -ENOMEM;
        }

        const json_t *env = NULL;
        r = get_object(cmd, "environment", what, &env, e);
        if (r < 0)
                return r;
        if (env) {
                _cleanup_free_ char *ewhat = NULL;
                if (asprintf(&ewhat, "%s.environment", what) < 0)
                        return -ENOMEM;
                r = parse_environment(env, ewhat, &cfg->env, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ContainerInfo -> the first named network. */
static int parse_container_info(const json_t *ci, const char *what, struct container_config *cfg,
                                struct errbuf *e)
{
        const char *type = NULL;
        int r = get_string(ci, "type", what, &type, e);
        if (r < 0)
                return r;
        if (type && strcmp(type, "MESOS") != 0)
                return errbuf_set(e, -EINVAL, "%s.type: only MESOS containers are supported", what);

        const json_t *nets = NULL;
        r = get_array(ci, "network_infos", what, &nets, e);
        if (r < 0)
                return r;
        for (size_t i = 0; nets && i < json_array_size(nets); i++) {
                const json_t *ni = json_array_get(nets, i);
                const char *name = NULL;
                if (!json_is_object(ni))
                        return errbuf_set(e, -EINVAL, "%s.network_infos[%zu]: expected an object",
                                          what, i);
                r = get_string(ni, "name", what, &name, e);
                if (r < 0)
                        return r;
                if (name && !*name)
                        return errbuf_set(e, -EINVAL, "%s.network_infos[%zu].name: empty", what, i);
                if (name && !cfg->network) {
                        cfg->network = strdup(name);
                        if (!cfg->network)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* Prefix "<what>." to a sub-field name, into a caller-freed string. */
static char *field_name(const char *what, const char *field)
{
        char *s;
        return asprintf(&s, "%s.%s", what, field) < 0 ? NULL : s;
}

int api_json_parse_launch(const json_t *body, const char *what, struct container_config *ret,
                          struct errbuf *e)
{
        _cleanup_(container_config_done) struct container_config cfg = {.shell = true};
        _cleanup_free_ char *id_what = field_name(what, "container_id");
        _cleanup_free_ char *cmd_what = field_name(what, "command");
        _cleanup_free_ char *ci_what = field_name(what, "container");
        if (!id_what || !cmd_what || !ci_what)
                return -ENOMEM;

        int r =
            api_json_parse_container_id(json_object_get(body, "container_id"), id_what, &cfg.id, e);
        if (r < 0)
                return r;
        const char *slash = strrchr(cfg.id, '/');
        if (slash) {
                cfg.parent_id = strndup(cfg.id, slash - cfg.id);
                if (!cfg.parent_id)
                        return -ENOMEM;
        }

        const json_t *cmd = NULL;
        r = get_object(body, "command", what, &cmd, e);
        if (r < 0)
                return r;
        if (!cmd)
                return errbuf_set(e, -EINVAL, "%s: missing (the command to run)", cmd_what);
        r = parse_command(cmd, cmd_what, &cfg, e);
        if (r < 0)
                return r;

        const json_t *res = json_object_get(body, "resources");
        if (res) {
                if (cfg.parent_id)
                        return errbuf_set(e, -EINVAL,
                                          "%s.resources: a nested container shares its root's "
                                          "resources and cannot have its own",
                                          what);
                if (!json_is_array(res))
                        return errbuf_set(e, -EINVAL, "%s.resources: expected an array", what);
                r = resources_ports_from_json(res, &cfg.ports, &cfg.has_ports, e);
                if (r < 0)
                        return r == -ENOMEM ? r : errbuf_prefix(e, r, "%s.resources", what);
        }

        const json_t *ci = NULL;
        r = get_object(body, "container", what, &ci, e);
        if (r < 0)
                return r;
        if (ci) {
                r = parse_container_info(ci, ci_what, &cfg, e);
                if (r < 0)
                        return r;
        }

        *ret = cfg;
        cfg = (struct container_config){};
        return 0;
}

int api_json_parse_signal(const json_t *body, const char *what, int *ret_signal, struct errbuf *e)
{
        const json_t *sig = json_object_get(body, "signal");
        if (!sig) {
                *ret_signal = SIGKILL;
                return 0;
        }
        if (!json_is_integer(sig) || json_integer_value(sig) < 1 ||
            json_integer_value(sig) >= SIGRTMAX + 1)
                return errbuf_set(e, -EINVAL, "%s.signal: expected a signal number (1-%d)", what,
                                  SIGRTMAX);
        *ret_signal = (int)json_integer_value(sig);
        return 0;
}

json_t *api_json_termination(const struct container *c)
{
        const struct container_termination *t = &c->termination;
        _cleanup_json_ json_t *o = json_object();
        if (!o)
                return NULL;

        if (t->has_exit_status &&
            json_object_set_new(o, "exit_status", json_integer(t->exit_status)) < 0)
                return NULL;
        if (t->state && json_object_set_new(o, "state", json_string(t->state)) < 0)
                return NULL;
        if (t->reason && json_object_set_new(o, "reason", json_string(t->reason)) < 0)
                return NULL;
        if (t->message && json_object_set_new(o, "message", json_string(t->message)) < 0)
                return NULL;
        if (t->has_limitation) {
                json_t *lim =
                    json_pack("{s:o}", "resources", resources_ports_to_json(&t->limitation));
                if (!lim || json_object_set_new(o, "limitation", lim) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

json_t *api_json_mesos_container(const struct container *c)
{
        _cleanup_json_ json_t *o = api_json_container(c);

        if (!o)
                return NULL;
        /* The rest is GET_PORTS' (portiso's own call): a strict Mesos client
         * knows only these two of GET_CONTAINERS' Container. */
        return json_pack("{s:O, s:O}", "container_id", json_object_get(o, "container_id"),
                         "container_status", json_object_get(o, "container_status"));
}

json_t *api_json_container(const struct container *c)
{
        const struct container_config *cfg = &c->config;
        _cleanup_json_ json_t *o = json_object();
        _cleanup_json_ json_t *status = json_object();
        if (!o || !status)
                return NULL;

        if (json_object_set_new(o, "container_id", api_json_container_id(cfg->id)) < 0 ||
            json_object_set_new(o, "state", json_string(container_state_to_string(c->state))) < 0)
                return NULL;
        /* Beyond Mesos: who launched it ("api", or the workload source). */
        if (json_object_set_new(o, "source", json_string(c->source ? c->source : "api")) < 0)
                return NULL;

        /* Mesos' ContainerStatus, as far as portiso knows it. */
        if (json_object_set_new(status, "container_id", api_json_container_id(cfg->id)) < 0)
                return NULL;
        if (c->pid > 0 && c->state != CONTAINER_TERMINATED &&
            json_object_set_new(status, "executor_pid", json_integer(c->pid)) < 0)
                return NULL;
        if (cfg->network) {
                json_t *nets = json_pack("[{s:s}]", "name", cfg->network);
                if (!nets || json_object_set_new(status, "network_infos", nets) < 0)
                        return NULL;
        }
        if (json_object_set_new(o, "container_status", TAKE_PTR(status)) < 0)
                return NULL;
        if (cfg->user && json_object_set_new(o, "user", json_string(cfg->user)) < 0)
                return NULL;

        if (!cfg->parent_id && cfg->has_ports &&
            json_object_set_new(o, "resources", resources_ports_to_json(&cfg->ports)) < 0)
                return NULL;
        if (json_object_set_new(o, "listening", ranges_to_json(&c->listening)) < 0)
                return NULL;
        if (!portset_is_empty(&c->denied) &&
            json_object_set_new(o, "denied", ranges_to_json(&c->denied)) < 0)
                return NULL;
        /* Why the agent cannot account for it (UNKNOWN, or an unreadable
         * checkpoint of one that ended). */
        if (c->problem && json_object_set_new(o, "message", json_string(c->problem)) < 0)
                return NULL;
        if (c->state == CONTAINER_TERMINATED &&
            json_object_set_new(o, "termination", api_json_termination(c)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

json_t *api_json_metrics_snapshot(const struct containerizer_metrics *m, size_t pending_waits)
{
        return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:i, s:i, s:I, s:I}",
                         "containerizer/containers", (json_int_t)m->containers,
                         "containerizer/containers_running", (json_int_t)m->containers_running,
                         "containerizer/containers_destroying",
                         (json_int_t)m->containers_destroying, "network_ports/violations",
                         (json_int_t)m->violations, "network_ports/containers_killed",
                         (json_int_t)m->containers_killed, "network_ports/scans",
                         (json_int_t)m->scans, "network_ports/last_scan_seconds",
                         (double)m->last_scan_ns / 1e9, "network_ports/listen_events",
                         (json_int_t)m->listen_events, "network_ports/listen_events_dropped",
                         (json_int_t)m->events_dropped, "network_ports/event_checks",
                         (json_int_t)m->event_checks, "network_ports/instant_detection",
                         m->instant_detection ? 1 : 0, "network_ports/prevent_bind",
                         m->prevent_bind ? 1 : 0, "api/pending_waits", (json_int_t)pending_waits,
                         "containerizer/containers_adopted", (json_int_t)m->containers_adopted);
}

json_t *api_json_metrics_list(const json_t *snapshot)
{
        _cleanup_json_ json_t *list = json_array();
        const char *name;
        json_t *value;

        if (!list)
                return NULL;
        json_object_foreach((json_t *)snapshot, name, value)
        {
                double v = json_is_real(value) ? json_real_value(value)
                                               : (double)json_integer_value(value);
                if (json_array_append_new(list, json_pack("{s:s, s:f}", "name", name, "value", v)) <
                    0)
                        return NULL;
        }
        return TAKE_PTR(list);
}
