/* container.h - the data model of a container: its configuration (the
 * parts of LAUNCH_CONTAINER portiso honours), its state and how it ended.
 *
 * Plain data with their _done functions and the checks on ids, in one place
 * below everything that uses them: the containerizer keeps containers in
 * this shape, the checkpoint writes and reads it, the API and the supervisor
 * read it, and none of them needs another to know what a container is. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "basic/errbuf.h"
#include "ports/portset.h"

enum container_state {
        CONTAINER_LAUNCHING,
        CONTAINER_RUNNING,
        CONTAINER_DESTROYING,
        CONTAINER_TERMINATED,
        /* Something runs in its cgroup but its checkpoint cannot be read:
         * listed, not isolated, until the operator kills it. */
        CONTAINER_UNKNOWN,
};

/* The parts of LAUNCH_CONTAINER that portiso honours. */
struct container_config {
        char *id;             /* "root" or "root/child" (parent path + '/' + value) */
        char *parent_id;      /* NULL for a root container */
        bool shell;           /* CommandInfo.shell, default true */
        char *value;          /* CommandInfo.value */
        char **arguments;     /* CommandInfo.arguments (NULL-terminated, may be NULL) */
        char **env;           /* "NAME=value" from CommandInfo.environment (NULL-terminated) */
        bool has_ports;       /* root: a ports resource was given */
        struct portset ports; /* root: allocated ports */
        char *network;        /* first ContainerInfo.network_infos[].name, or NULL */
        char *user;           /* the user the task runs as; NULL (older checkpoints): root */
};

struct container_termination {
        bool has_exit_status;
        int exit_status;    /* wait(2) status */
        const char *state;  /* "TASK_FAILED" when it did not simply exit, else NULL */
        const char *reason; /* "REASON_CONTAINER_LIMITATION", "REASON_EXECUTOR_TERMINATED"... */
        char *message;      /* what happened, or NULL */
        bool has_limitation;
        struct portset limitation; /* the offending ports */
        bool destroyed;            /* the agent destroyed it (KILL_CONTAINER, its parent's end) */
};

struct container {
        struct container_config config;
        enum container_state state;
        pid_t pid;                                /* main process, 0 if unknown */
        struct portset listening;                 /* own + nested listeners at the last check */
        struct container_termination termination; /* valid in TERMINATED */

        /* Root containers: the binds bind prevention refused (port 0 stands
         * for an autobind), and how many. */
        struct portset denied;
        uint64_t denied_count;
        char *problem; /* why it is UNKNOWN (or what recovery could not read), or NULL */
        const char *source;                       /* workload source; NULL: launched (API) */
};

/* "LAUNCHING", "RUNNING", "DESTROYING", "TERMINATED", "UNKNOWN". */
const char *container_state_to_string(enum container_state s);
/* Whether the state machine has the edge from -> to (see containerizer.h):
 * LAUNCHING -> RUNNING | DESTROYING, RUNNING -> DESTROYING, DESTROYING ->
 * TERMINATED; nothing else, and no edge to itself. */
bool container_state_transition_valid(enum container_state from, enum container_state to);
/* Free the contents of a config. */
void container_config_done(struct container_config *cfg);
/* Validate one id component: non-empty, <= 242 bytes, no '/', '.', control
 * characters or whitespace. */
int container_id_validate(const char *value, struct errbuf *e);
/* Validate cfg->id as a whole: a root id is one valid component, a nested
 * one is its parent_id, '/', one valid component. */
int container_config_validate_id(const struct container_config *cfg, struct errbuf *e);
/* Free the message and limitation of a termination. */
void container_termination_done(struct container_termination *t);
