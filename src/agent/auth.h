/* auth.h - who is calling the agent, and what they may do.
 *
 * Two ways in, two kinds of identity:
 *  - the unix socket: the kernel's SO_PEERCRED uid. Root may do everything;
 *    any other uid got in through the socket's group and may launch tasks
 *    only as itself and manage only its own tasks.
 *  - TCP: HTTP Basic credentials checked against --http_credentials (Mesos'
 *    file format and flags). Calls that change state need them while
 *    --authenticate_http_readwrite holds (portiso's default, unlike Mesos);
 *    without a credentials file TCP is then read-only. Read-only calls need
 *    them only with --authenticate_http_readonly. An authenticated principal
 *    is an operator, like root on the socket.
 * Running a task as root needs both the operator's consent
 * (--allow_root_containers) and such a privileged caller.
 *
 * Everything here is pure (no I/O but auth_credentials_load), so the rules
 * are unit-tested on their own; api.c feeds it the peer and the header. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "basic/errbuf.h"

#define AUTH_REALM "portiso"
#define AUTH_PRINCIPAL_MAX 255

struct auth_credential {
        char *principal;
        char *secret;
};

struct auth_credentials {
        struct auth_credential *v;
        size_t n;
};

/* Parse Mesos' credentials JSON ({"credentials":[{"principal":..,"secret":..}]}).
 * -EINVAL with one line in *e; `what` (the file name) starts the line. */
int auth_credentials_parse(const char *text, const char *what, struct auth_credentials *ret,
                           struct errbuf *e);
/* Read and parse the file at path; the line names it. */
int auth_credentials_load(const char *path, struct auth_credentials *ret, struct errbuf *e);
/* Free the contents (secrets are wiped first). */
void auth_credentials_done(struct auth_credentials *c);

/* Split an Authorization header "Basic <base64(principal:secret)>" into
 * malloc'd principal and secret. -EINVAL if it is not that. */
int auth_basic_parse(const char *header, char **ret_principal, char **ret_secret);
/* String equality in time that depends on the length of `expected` only. */
bool auth_secret_equal(const char *given, const char *expected);
/* The principal of creds that matches, NULL if none (constant time per entry). */
const struct auth_credential *auth_credentials_check(const struct auth_credentials *creds,
                                                     const char *principal, const char *secret);

/* A call that only reads: GET_* and WAIT_* calls (and /health, /metrics). Every
 * other call type, including unknown ones, counts as a write. */
bool auth_call_is_read(const char *type);

enum auth_peer_kind {
        AUTH_PEER_TCP,
        AUTH_PEER_UNIX,
};

struct auth_peer {
        enum auth_peer_kind kind;
        uid_t uid; /* unix: SO_PEERCRED */
        gid_t gid;
        pid_t pid;
};

struct auth_settings {
        bool readwrite;                             /* --authenticate_http_readwrite */
        bool readonly;                              /* --authenticate_http_readonly */
        const struct auth_credentials *credentials; /* NULL: no --http_credentials */
};

struct auth_caller {
        int status;        /* 0 allowed, else 401 or 403 */
        char message[256]; /* the one-line body that goes with status */
        bool privileged;   /* root on the socket or an authenticated principal */
        bool on_socket;
        uid_t uid;                              /* on_socket: the peer's uid */
        char principal[AUTH_PRINCIPAL_MAX + 1]; /* "" unless authenticated */
};

/* Decide whether peer may make a read or write call, given the request's
 * Authorization header (NULL if absent). Never fails: *ret says. */
void auth_decide(const struct auth_settings *s, bool write, const struct auth_peer *peer,
                 const char *authorization, struct auth_caller *ret);
/* "principal 'ops'", "uid 1000 on the unix socket", ... for the log. */
void auth_caller_describe(const struct auth_caller *c, char *buf, size_t size);
/* May c kill, update, remove or nest into a container running as user
 * (NULL: root, from an older checkpoint)? caller_name: c's user name. */
bool auth_may_manage(const struct auth_caller *c, const char *caller_name, const char *user);

struct auth_user_policy {
        bool switch_user;         /* --switch_user */
        const char *default_user; /* --default_container_user */
        const char *agent_user;   /* the agent's own user */
        bool allow_root;          /* --allow_root_containers */
        /* uid of name; -ENOENT with "unknown user 'x'" in *e. */
        int (*lookup)(const char *name, uid_t *ret_uid, struct errbuf *e);
};

/* The user a new task of caller c runs as: requested (command.user), else
 * inherited (a nested container's parent's), else c's own name on the
 * socket, else the default; the agent's user when !switch_user. -ENOENT
 * unknown user (a 400), -EPERM not allowed (a 403), line in *e. */
int auth_task_user(const struct auth_user_policy *p, const struct auth_caller *c,
                   const char *caller_name, const char *requested, const char *inherited,
                   const char **ret_user, struct errbuf *e);
