/* auth.c - authentication and the caller rules; see auth.h.
 *
 * Base64 comes from glibc's resolver library (b64_pton), jansson reads the
 * credentials file. Secrets are compared in constant time and wiped when
 * freed; nothing here logs, and no message built here quotes a secret or a
 * header. */
/* resolv.h brings sys/param.h's MIN/MAX; macro.h defines its own. */
#include <resolv.h>
#undef MIN
#undef MAX
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/auth.h"
#include "basic/fileio.h"

static void wipe_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

void auth_credentials_done(struct auth_credentials *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].principal);
                wipe_free(c->v[i].secret);
        }
        free(c->v);
        *c = (struct auth_credentials){};
}

static bool principal_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > AUTH_PRINCIPAL_MAX || strchr(s, ':'))
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < ' ' || *s == 0x7f)
                        return false;
        return true;
}

int auth_credentials_parse(const char *text, const char *what, struct auth_credentials *ret,
                           struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        struct auth_credentials c = {};
        json_error_t je;
        const json_t *list;

        j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return errbuf_set(e, -EINVAL, "%s: invalid JSON at line %d: %s", what, je.line,
                                  je.text);
        list = json_object_get(j, "credentials");
        if (!json_is_object(j) || !json_is_array(list))
                return errbuf_set(e, -EINVAL,
                                  "%s: expected {\"credentials\": [{\"principal\": ..., "
                                  "\"secret\": ...}]}",
                                  what);
        if (json_array_size(list) == 0)
                return errbuf_set(e, -EINVAL, "%s: no credentials", what);
        c.v = calloc(json_array_size(list), sizeof(*c.v));
        if (!c.v)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(list); i++) {
                const json_t *x = json_array_get(list, i);
                const json_t *p = json_object_get(x, "principal"),
                             *s = json_object_get(x, "secret");
                int r = 0;

                if (!json_is_string(p) || !principal_valid(json_string_value(p)))
                        r = errbuf_set(e, -EINVAL,
                                       "%s: credentials[%zu].principal: expected a non-empty "
                                       "string without ':' or control characters",
                                       what, i);
                else if (!json_is_string(s) || json_string_length(s) == 0)
                        r = errbuf_set(e, -EINVAL,
                                       "%s: credentials[%zu].secret: expected a non-empty string",
                                       what, i);
                for (size_t k = 0; r == 0 && k < c.n; k++)
                        if (strcmp(c.v[k].principal, json_string_value(p)) == 0)
                                r = errbuf_set(e, -EINVAL,
                                               "%s: credentials[%zu]: principal '%s' given twice",
                                               what, i, c.v[k].principal);
                if (r == 0) {
                        c.v[c.n].principal = strdup(json_string_value(p));
                        c.v[c.n].secret = strdup(json_string_value(s));
                        c.n++;
                        if (!c.v[c.n - 1].principal || !c.v[c.n - 1].secret)
                                r = -ENOMEM;
                }
                if (r < 0) {
                        auth_credentials_done(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

int auth_credentials_load(const char *path, struct auth_credentials *ret, struct errbuf *e)
{
        char *text = NULL;
        int r;

        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return errbuf_set(e, r, "%s: %s", path, strerror(-r));
        r = auth_credentials_parse(text, path, ret, e);
        wipe_free(text);
        return r;
}

int auth_basic_parse(const char *header, char **ret_principal, char **ret_secret)
{
        static const char scheme[] = "Basic";
        size_t n;

        if (!header || strncasecmp(header, scheme, sizeof(scheme) - 1) != 0)
                return -EINVAL;
        header += sizeof(scheme) - 1;
        if (*header != ' ' && *header != '\t')
                return -EINVAL;
        header += strspn(header, " \t");
        n = strcspn(header, " \t");
        if (n == 0 || n > 4 * (AUTH_PRINCIPAL_MAX + 4096) || header[n + strspn(header + n, " \t")])
                return -EINVAL;

        _cleanup_free_ char *token = strndup(header, n);
        size_t cap = n / 4 * 3 + 3;
        char *raw = malloc(cap + 1);
        if (!token || !raw) {
                free(raw);
                return -ENOMEM;
        }
        int len = b64_pton(token, (unsigned char *)raw, cap);
        explicit_bzero(token, n);
        if (len < 0) {
                free(raw);
                return -EINVAL;
        }
        raw[len] = '\0';
        char *colon = memchr(raw, ':', (size_t)len);
        if (!colon || strlen(raw) != (size_t)len) { /* no ':', or a NUL inside */
                wipe_free(raw);
                return -EINVAL;
        }
        *colon = '\0';
        char *principal = strdup(raw), *secret = strdup(colon + 1);
        wipe_free(raw);
        if (!principal || !secret) {
                free(principal);
                wipe_free(secret);
                return -ENOMEM;
        }
        *ret_principal = principal;
        *ret_secret = secret;
        return 0;
}

bool auth_secret_equal(const char *given, const char *expected)
{
        size_t lg = strlen(given), le = strlen(expected);
        unsigned char diff = lg != le;

        /* Every byte of expected is visited whatever given holds. */
        for (size_t i = 0; i < le; i++)
                diff |= (unsigned char)(expected[i] ^ (i < lg ? given[i] : 0));
        return diff == 0;
}

const struct auth_credential *auth_credentials_check(const struct auth_credentials *creds,
                                                     const char *principal, const char *secret)
{
        const struct auth_credential *found = NULL;

        for (size_t i = 0; creds && i < creds->n; i++) {
                /* Every secret is compared, so timing tells nothing of which
                 * principals exist. */
                bool ok = auth_secret_equal(secret, creds->v[i].secret);
                if (ok && strcmp(principal, creds->v[i].principal) == 0)
                        found = &creds->v[i];
        }
        return found;
}

bool auth_call_is_read(const char *type)
{
        return type && (strncmp(type, "GET_", 4) == 0 || strncmp(type, "WAIT_", 5) == 0);
}

static void set(struct auth_caller *c, int status, const char *msg)
{
        c->status = status;
        snprintf(c->message, sizeof(c->message), "%s", msg);
}

void auth_decide(const struct auth_settings *s, bool write, const struct auth_peer *peer,
                 const char *authorization, struct auth_caller *ret)
{
        struct auth_caller c = {};

        if (peer->kind == AUTH_PEER_UNIX) {
                /* The socket's mode and group already chose who connects. */
                c.on_socket = true;
                c.uid = peer->uid;
                c.privileged = peer->uid == 0;
                *ret = c;
                return;
        }

        bool needed = write ? s->readwrite : s->readonly;
        if (authorization) {
                _cleanup_free_ char *principal = NULL;
                char *secret = NULL;
                const struct auth_credential *cred = NULL;

                if (!s->credentials) {
                        if (needed)
                                set(&c, 403,
                                    write ? "the TCP API is read-only: the agent has no "
                                            "--http_credentials (use the unix socket)"
                                          : "the agent has no --http_credentials");
                        *ret = c;
                        return;
                }
                if (auth_basic_parse(authorization, &principal, &secret) >= 0) {
                        cred = auth_credentials_check(s->credentials, principal, secret);
                        wipe_free(secret);
                }
                if (!cred) {
                        set(&c, 401, "invalid credentials");
                        *ret = c;
                        return;
                }
                c.privileged = true;
                snprintf(c.principal, sizeof(c.principal), "%s", cred->principal);
                *ret = c;
                return;
        }
        if (needed && !s->credentials)
                set(&c, 403,
                    write ? "the TCP API is read-only: the agent has no --http_credentials "
                            "(use the unix socket)"
                          : "the agent has no --http_credentials");
        else if (needed)
                set(&c, 401,
                    write ? "this call changes state and needs credentials (HTTP Basic)"
                          : "this call needs credentials (HTTP Basic)");
        *ret = c;
}

void auth_caller_describe(const struct auth_caller *c, char *buf, size_t size)
{
        if (c->on_socket)
                snprintf(buf, size, "uid %u on the unix socket", (unsigned)c->uid);
        else if (c->principal[0])
                snprintf(buf, size, "principal '%s'", c->principal);
        else
                snprintf(buf, size, "an unauthenticated TCP client");
}

bool auth_may_manage(const struct auth_caller *c, const char *caller_name, const char *user)
{
        if (c->privileged || !c->on_socket)
                return true;
        return caller_name && strcmp(caller_name, user ? user : "root") == 0;
}

int auth_task_user(const struct auth_user_policy *p, const struct auth_caller *c,
                   const char *caller_name, const char *requested, const char *inherited,
                   const char **ret_user, struct errbuf *e)
{
        const char *user;
        bool self = c->on_socket && !c->privileged;
        uid_t uid;
        int r;

        if (!p->switch_user)
                user = p->agent_user;
        else if (requested)
                user = requested;
        else if (inherited)
                user = inherited;
        else if (self) {
                if (!caller_name)
                        return errbuf_set(e, -EPERM, "uid %u has no user name to run its tasks as",
                                          (unsigned)c->uid);
                user = caller_name;
        } else
                user = p->default_user;

        r = p->lookup(user, &uid, e);
        if (r < 0)
                return r;
        if (self && uid != c->uid)
                return errbuf_set(e, -EPERM,
                                  "uid %u on the unix socket may run tasks only as itself, "
                                  "not as '%s'",
                                  (unsigned)c->uid, user);
        if (uid == 0 && !p->allow_root)
                return errbuf_set(e, -EPERM,
                                  "tasks may not run as root ('%s'): the agent was started "
                                  "without --allow_root_containers",
                                  user);
        if (uid == 0 && !c->privileged)
                return errbuf_set(e, -EPERM,
                                  "only root on the unix socket or an authenticated principal "
                                  "may run tasks as root ('%s')",
                                  user);
        *ret_user = user;
        return 0;
}
