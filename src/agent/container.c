/* container.c - see container.h. */
#include <stdlib.h>
#include <string.h>

#include "agent/container.h"
#include "basic/macro.h"
#include "basic/strv.h"

static const char *const state_names[] = {
    [CONTAINER_LAUNCHING] = "LAUNCHING",   [CONTAINER_RUNNING] = "RUNNING",
    [CONTAINER_DESTROYING] = "DESTROYING", [CONTAINER_TERMINATED] = "TERMINATED",
    [CONTAINER_UNKNOWN] = "UNKNOWN",
};

const char *container_state_to_string(enum container_state s)
{
        return (unsigned)s < ELEMENTSOF(state_names) ? state_names[s] : "UNKNOWN";
}

void container_config_done(struct container_config *cfg)
{
        free(cfg->id);
        free(cfg->parent_id);
        free(cfg->value);
        strv_free(cfg->arguments);
        strv_free(cfg->env);
        portset_clear(&cfg->ports);
        free(cfg->network);
        free(cfg->user);
        *cfg = (struct container_config){};
}

int container_id_validate(const char *value, struct errbuf *e)
{
        size_t n;

        if (!value || !*value)
                return errbuf_set(e, -EINVAL, "container id must not be empty");
        n = strlen(value);
        if (n > 242)
                return errbuf_set(e, -EINVAL, "container id is longer than 242 bytes");
        for (const char *p = value; *p; p++) {
                unsigned char ch = (unsigned char)*p;
                if (ch == '/' || ch == '.')
                        return errbuf_set(e, -EINVAL, "container id '%s' contains '%c'", value, ch);
                if (ch <= ' ' || ch == 0x7f)
                        return errbuf_set(e, -EINVAL,
                                          "container id '%s' contains whitespace or a control "
                                          "character",
                                          value);
        }
        return 0;
}

void container_termination_done(struct container_termination *t)
{
        free(t->message);
        portset_clear(&t->limitation);
        *t = (struct container_termination){};
}

int container_config_validate_id(const struct container_config *cfg, struct errbuf *e)
{
        const char *last;
        int r;

        if (!cfg->id)
                return errbuf_set(e, -EINVAL, "container id is required");
        last = strrchr(cfg->id, '/');
        if (cfg->parent_id) {
                size_t n = strlen(cfg->parent_id);
                if (!last || (size_t)(last - cfg->id) != n ||
                    strncmp(cfg->id, cfg->parent_id, n) != 0)
                        return errbuf_set(e, -EINVAL, "container id '%s' is not below parent '%s'",
                                          cfg->id, cfg->parent_id);
        } else if (last)
                return errbuf_set(e, -EINVAL, "container id '%s' contains '/'", cfg->id);
        for (const char *p = cfg->id; *p;) {
                char part[256];
                size_t n = strcspn(p, "/");
                if (n >= sizeof(part))
                        return errbuf_set(e, -EINVAL, "container id is longer than 242 bytes");
                memcpy(part, p, n);
                part[n] = '\0';
                r = container_id_validate(part, e);
                if (r < 0)
                        return r;
                p += n + (p[n] == '/');
        }
        return 0;
}

bool container_state_transition_valid(enum container_state from, enum container_state to)
{
        switch (from) {
        case CONTAINER_LAUNCHING:
                /* UNKNOWN: recovery found it running, its checkpoint unreadable. */
                return to == CONTAINER_RUNNING || to == CONTAINER_DESTROYING ||
                       to == CONTAINER_UNKNOWN;
        case CONTAINER_UNKNOWN:
                return to == CONTAINER_DESTROYING;
        case CONTAINER_RUNNING:
                return to == CONTAINER_DESTROYING;
        case CONTAINER_DESTROYING:
                return to == CONTAINER_TERMINATED;
        case CONTAINER_TERMINATED:
                return false;
        }
        return false;
}
