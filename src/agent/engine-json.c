/* engine-json.c - the Docker Engine API's JSON, read; see engine-json.h.
 *
 * Only what isolation needs is read, and absent members are normal (Podman
 * and Docker differ: Podman keeps an image's EXPOSE out of a host-network
 * container's Config, Docker merges it in), so a missing member is an empty
 * value, not an error. ExposedPorts keys are "<port>/<proto>"; every
 * protocol's port counts, as a Mesos ports resource does not say either. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine-json.h"
#include "ports/ranges.h"

static json_t *load(const char *json, size_t len, struct errbuf *e)
{
        json_error_t jerr;
        json_t *j = json_loadb(json, len, 0, &jerr);

        if (!j)
                errbuf_set(e, -EINVAL, "malformed JSON at line %d: %s", jerr.line, jerr.text);
        else if (!json_is_object(j) && !json_is_array(j)) {
                json_decref(j);
                j = NULL;
                errbuf_set(e, -EINVAL, "expected a JSON object or array");
        }
        return j;
}

static int exposed_ports(const json_t *obj, struct portset *ret, struct errbuf *e)
{
        const char *key;
        json_t *v;

        if (!json_is_object(obj))
                return 0;
        json_object_foreach((json_t *)obj, key, v)
        {
                char *end;
                unsigned long p = strtoul(key, &end, 10);
                (void)v;
                if (end == key || p == 0 || p > 65535 || (*end && *end != '/'))
                        return errbuf_set(e, -EINVAL, "ExposedPorts: bad port '%s'", key);
                int r = portset_add(ret, (uint16_t)p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *str(const json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

void engine_container_done(struct engine_container *c)
{
        free(c->id);
        free(c->name);
        free(c->image);
        portset_clear(&c->label_ports);
        portset_clear(&c->exposed);
        *c = (struct engine_container){};
}

int engine_parse_inspect(const char *json, size_t len, struct engine_container *ret,
                         struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *j = load(json, len, e);
        struct engine_container c = {};
        const json_t *state, *config, *hostcfg, *label;
        int r;

        if (!j)
                return -EINVAL;
        state = json_object_get(j, "State");
        config = json_object_get(j, "Config");
        hostcfg = json_object_get(j, "HostConfig");
        if (!str(j, "Id") || !json_is_object(state))
                return errbuf_set(e, -EINVAL, "container inspect without Id or State");
        c.id = strdup(str(j, "Id"));
        c.name = strdup(str(j, "Name") ? str(j, "Name") + (str(j, "Name")[0] == '/') : "");
        c.image = str(j, "Image") ? strdup(str(j, "Image")) : NULL;
        if (!c.id || !c.name || (str(j, "Image") && !c.image)) {
                engine_container_done(&c);
                return -ENOMEM;
        }
        c.running = json_is_true(json_object_get(state, "Running"));
        c.pid = (pid_t)json_integer_value(json_object_get(state, "Pid"));
        c.exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
        c.host_network =
            str(hostcfg, "NetworkMode") && strcmp(str(hostcfg, "NetworkMode"), "host") == 0;

        label = json_object_get(json_object_get(config, "Labels"), ENGINE_PORTS_LABEL);
        if (label) {
                struct errbuf sub = {};
                c.has_label = true;
                if (!json_is_string(label))
                        snprintf(c.label_error, sizeof(c.label_error), "not a string");
                else if (ranges_parse(json_string_value(label), &c.label_ports, &sub) < 0)
                        snprintf(c.label_error, sizeof(c.label_error), "%s",
                                 sub.msg[0] ? sub.msg : "bad ranges");
        }
        r = exposed_ports(json_object_get(config, "ExposedPorts"), &c.exposed, e);
        if (r < 0) {
                engine_container_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int engine_parse_image_exposed(const char *json, size_t len, struct portset *ret, struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *j = load(json, len, e);

        if (!j)
                return -EINVAL;
        return exposed_ports(json_object_get(json_object_get(j, "Config"), "ExposedPorts"), ret, e);
}

int engine_parse_list(const char *json, size_t len, char ***ret_ids, size_t *ret_n,
                      struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *j = load(json, len, e);
        char **ids;
        size_t n = 0, i;
        json_t *v;

        if (!j)
                return -EINVAL;
        if (!json_is_array(j))
                return errbuf_set(e, -EINVAL, "container list: expected an array");
        ids = calloc(json_array_size(j) + 1, sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        json_array_foreach(j, i, v)
        {
                const char *id = str(v, "Id");
                if (!id)
                        continue;
                ids[n] = strdup(id);
                if (!ids[n]) {
                        for (size_t k = 0; k < n; k++)
                                free(ids[k]);
                        free(ids);
                        return -ENOMEM;
                }
                n++;
        }
        *ret_ids = ids;
        *ret_n = n;
        return 0;
}

int engine_parse_event(const char *line, size_t len, char **ret_id, char **ret_action)
{
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *j = json_loadb(line, len, 0, &jerr);
        const char *type, *action, *id;

        if (!json_is_object(j))
                return -EINVAL;
        type = str(j, "Type");
        action = str(j, "Action") ? str(j, "Action") : str(j, "status");
        id = str(json_object_get(j, "Actor"), "ID") ? str(json_object_get(j, "Actor"), "ID")
                                                    : str(j, "id");
        if (!type || strcmp(type, "container") != 0 || !action || !id)
                return 0;
        *ret_id = strdup(id);
        *ret_action = strdup(action);
        if (!*ret_id || !*ret_action) {
                free(*ret_id);
                free(*ret_action);
                return -ENOMEM;
        }
        return 1;
}

char *engine_container_id(const char *source, const char *name)
{
        char *id;

        if (asprintf(&id, "%s:%s", source, name) < 0)
                return NULL;
        if (strlen(id) > 242) {
                free(id);
                return NULL;
        }
        for (char *p = id; *p; p++)
                if (*p == '/' || *p == '.' || (unsigned char)*p <= ' ' || *p == 0x7f)
                        *p = '_';
        return id;
}
