/* api-auth.c - the API's door: every call passes auth.h's rules here before
 * its handler runs, and LAUNCH and the calls on one container get their
 * caller checks (as whom the task runs, whose container it is).
 *
 * The caller of the call being handled is kept in api->caller for the
 * handler's synchronous run; nothing keeps it beyond (a deferred WAIT needs
 * none). Write calls are logged once each, naming the caller; a secret or an
 * Authorization header is never logged.
 *
 * A write call from a process in a container is refused whoever it
 * authenticates as: on the unix socket the kernel names the peer's pid and
 * /proc/<pid>/cgroup says where it runs; over TCP the client's socket is
 * looked up by the connection's 4-tuple (sock_diag, a hash lookup in the
 * kernel) and the cgroup that created it decides. When that cannot be
 * told, the call is refused too. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/api-json.h"
#include "agent/api-private.h"
#include "agent/auth.h"
#include "agent/user.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "linux/cgroup.h"
#include "linux/sockdiag.h"
#include "ports/duration.h"

static int lookup_uid(const char *name, uid_t *ret_uid, struct errbuf *e)
{
        /* getpwnam_r on the loop: see user.h about NSS. */
        return user_lookup(name, ret_uid, NULL, e);
}

int api_auth_init(struct api *api)
{
        int r = user_name_of_uid(geteuid(), &api->agent_user);
        if (r < 0)
                return log_error_errno(r, "Cannot find the name of the agent's user (uid %u): %m",
                                       (unsigned)geteuid());
        if (api->flags->authenticate_http_readwrite && !api->flags->has_credentials)
                log_warning("No --http_credentials: the TCP API on %s:%u is read-only (calls "
                            "that change state need the unix socket)",
                            api->flags->ip, (unsigned)api->flags->port);
        else if (!api->flags->authenticate_http_readwrite)
                log_warning("--authenticate_http_readwrite=false: any local process may change "
                            "state over TCP (but not run tasks as root)");
        return 0;
}

/* An inet endpoint as sock_diag names it: family, address bytes, port. */
struct endpoint {
        uint8_t family;
        uint8_t addr[16];
        uint16_t port;
};

/* ss as an endpoint; an IPv4-mapped IPv6 address (a dual-stack listener's
 * IPv4 peer) as IPv4 when unmap. False for anything but inet. */
static bool endpoint_from(const struct sockaddr_storage *ss, socklen_t len, bool unmap,
                          struct endpoint *ret)
{
        *ret = (struct endpoint){};
        if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const void *)ss;
                ret->family = AF_INET;
                memcpy(ret->addr, &in->sin_addr, 4);
                ret->port = ntohs(in->sin_port);
                return true;
        }
        if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const void *)ss;
                ret->port = ntohs(in6->sin6_port);
                if (unmap && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        ret->family = AF_INET;
                        memcpy(ret->addr, &in6->sin6_addr.s6_addr[12], 4);
                } else {
                        ret->family = AF_INET6;
                        memcpy(ret->addr, &in6->sin6_addr, 16);
                }
                return true;
        }
        return false;
}

/* The cgroup id of a TCP peer's socket if it is on this host (and in this
 * network namespace): one sock_diag lookup by the connection's 4-tuple. A
 * dual-stack listener's IPv4 peer may hold an IPv4 or an IPv6 socket: both
 * are tried. 0 with *ret_id 0 when there is no such socket. */
static int tcp_peer_cgroup_id(struct api *api, const struct http_peer *hp, uint64_t *ret_id)
{
        int r = -ENOENT;

        *ret_id = 0;
        if (!api->sockdiag && (r = sockdiag_new(&api->sockdiag)) < 0)
                return r;
        for (int unmap = 1; unmap >= 0; unmap--) {
                struct endpoint client, server;
                if (!endpoint_from(&hp->addr, hp->addr_len, unmap, &client))
                        return 0;
                bool known = hp->local_len > 0 &&
                             endpoint_from(&hp->local, hp->local_len, unmap, &server) &&
                             server.family == client.family;
                r = sockdiag_find_tcp_client(api->sockdiag, client.family, client.addr, client.port,
                                             known ? server.addr : NULL,
                                             known ? server.port : api->flags->port, ret_id);
                if (r != -ENOENT || client.family == hp->addr.ss_family)
                        break; /* found, failed, or nothing was unmapped */
        }
        if (r == -ENOENT || r == -EOPNOTSUPP) { /* another host or netns; no socket cgroups */
                *ret_id = 0;
                return 0;
        }
        return r;
}

/* Is the peer a process in a container (below the cgroups root, or in any
 * known container's cgroup wherever it lives)?
 * On the socket the kernel named its pid; over TCP its socket is found with
 * sock_diag, and the cgroup that created it decides (write calls only).
 * 1 yes, 0 no or unknowable, < 0 error. */
static int peer_in_container(struct api *api, const struct auth_peer *peer,
                             const struct http_peer *hp)
{
        const struct cg_hierarchy *h = containerizer_hierarchy(api->cz);
        _cleanup_free_ char *rel = NULL;
        uint64_t id;
        int r;

        if (peer->kind == AUTH_PEER_UNIX) {
                r = cg_pid_get_path(h, peer->pid, &rel);
                if (r == -ESRCH || r == -ENOENT)
                        return 0; /* gone, or not on this hierarchy */
                if (r < 0)
                        return r;
                return containerizer_cgroup_in_container(api->cz, rel);
        }
        r = tcp_peer_cgroup_id(api, hp, &id);
        if (r < 0 || id == 0)
                return r;
        r = cg_path_from_id(h, id, &rel);
        if (r == -ENOENT || r == -EOPNOTSUPP)
                return 0;
        if (r < 0)
                return r;
        return containerizer_cgroup_in_container(api->cz, rel);
}

#define REFUSALS_PER_SECOND 10

/* Refused calls are logged, but any local process can make them as fast as
 * it likes: at most REFUSALS_PER_SECOND lines a second, and a count of the
 * rest when the next second starts logging again. */
_printf_(3, 4) static void log_refusal(struct api *api, int r, const char *fmt, ...)
{
        uint64_t now = now_nsec();
        char line[512];
        va_list ap;

        if (now - api->refusals_window >= NSEC_PER_SEC) {
                if (api->refusals_dropped)
                        log_warning("%u more refused calls were not logged", api->refusals_dropped);
                api->refusals_window = now;
                api->refusals_logged = api->refusals_dropped = 0;
        }
        if (api->refusals_logged >= REFUSALS_PER_SECOND) {
                api->refusals_dropped++;
                return;
        }
        api->refusals_logged++;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (r < 0)
                log_warning_errno(r, "%s: %m", line);
        else
                log_warning("%s", line);
}

static void reply_denied(struct http_request *req, const struct auth_caller *c)
{
        if (c->status == 401)
                (void)http_request_add_header(req, "WWW-Authenticate",
                                              "Basic realm=\"" AUTH_REALM "\"");
        api_reply_error(req, c->status, "%s", c->message);
}

bool api_authorize(struct api *api, struct http_request *req, const char *type, const json_t *body,
                   const char *field, struct auth_caller *ret)
{
        const struct agent_flags *f = api->flags;
        struct auth_settings s = {
            .readwrite = f->authenticate_http_readwrite,
            .readonly = f->authenticate_http_readonly,
            .credentials = f->has_credentials ? &f->credentials : NULL,
        };
        const struct http_peer *hp = http_request_peer(req);
        struct auth_peer peer = {
            .kind = hp->transport == HTTP_TRANSPORT_UNIX ? AUTH_PEER_UNIX : AUTH_PEER_TCP,
            .uid = hp->uid,
            .gid = hp->gid,
            .pid = hp->pid,
        };
        bool write = !auth_call_is_read(type);
        const char *authorization = http_request_header(req, "Authorization");
        char who[AUTH_PRINCIPAL_MAX + 64];

        auth_decide(&s, write, &peer, authorization, ret);
        auth_caller_describe(ret, who, sizeof(who));
        if (ret->status) {
                if (write)
                        log_refusal(api, 0, "Refused %s from %s: %s", type, who, ret->message);
                reply_denied(req, ret);
                return false;
        }
        if (write) {
                int r = peer_in_container(api, &peer, hp);
                if (r < 0) { /* fail closed */
                        log_refusal(api, r,
                                    "Refused %s from %s: cannot tell whether it is in a "
                                    "container",
                                    type, who);
                        api_reply_error(req, 403,
                                        "cannot tell whether the caller is inside a container: "
                                        "refusing a call that changes state");
                        return false;
                }
                if (r > 0) {
                        log_refusal(api, 0, "Refused %s from %s: the caller is in a container",
                                    type, who);
                        api_reply_error(req, 403,
                                        "calls that change state are not accepted from inside "
                                        "a container");
                        return false;
                }
                _cleanup_free_ char *id = NULL;
                const json_t *b = field ? json_object_get(body, field) : NULL;
                if (b && api_json_parse_container_id(json_object_get(b, "container_id"), "", &id,
                                                     NULL) < 0)
                        id = NULL;
                log_info("API %s%s%s from %s", type, id ? " " : "", id ? id : "", who);
        }
        return true;
}

/* The caller's own user name on the socket (NULL elsewhere or unnamed). */
static char *caller_name(const struct auth_caller *c)
{
        char *name = NULL;

        if (c->on_socket && user_name_of_uid(c->uid, &name) < 0)
                return NULL;
        return name;
}

bool api_auth_manage(struct api *api, struct http_request *req, const char *id)
{
        const struct auth_caller *c = api->caller;
        const struct container *ct = containerizer_get(api->cz, id);

        if (!c) { /* a handler ran without api_authorize(): refuse */
                api_reply_error(req, 500, "no caller for this call");
                return false;
        }
        if (!ct || c->privileged || !c->on_socket)
                return true;
        _cleanup_free_ char *name = caller_name(c);
        if (auth_may_manage(c, name, ct->config.user))
                return true;
        api_reply_error(req, 403, "container '%s' runs as '%s': uid %u may manage only its own", id,
                        ct->config.user ? ct->config.user : "root", (unsigned)c->uid);
        return false;
}

int api_auth_launch(struct api *api, struct http_request *req, struct container_config *cfg)
{
        const struct agent_flags *f = api->flags;
        const struct auth_caller *c = api->caller;
        struct auth_user_policy p = {
            .switch_user = f->switch_user,
            .default_user = f->default_container_user,
            .agent_user = api->agent_user,
            .allow_root = f->allow_root_containers,
            .lookup = lookup_uid,
        };
        const struct container *parent =
            cfg->parent_id ? containerizer_get(api->cz, cfg->parent_id) : NULL;
        struct errbuf e = {};
        const char *user = NULL;

        if (!c)
                return -EPERM;
        if (parent && !api_auth_manage(api, req, cfg->parent_id))
                return -EPERM;
        _cleanup_free_ char *name = caller_name(c);
        /* A nested container runs as its parent unless it names a user;
         * parents from older checkpoints ran as root. */
        const char *inherited =
            parent ? (parent->config.user ? parent->config.user : "root") : NULL;
        int r = auth_task_user(&p, c, name, cfg->user, inherited, &user, &e);
        if (r < 0) {
                api_reply_error(req, r == -EPERM ? 403 : r == -ENOENT ? 400 : 500, "%s", e.msg);
                return r;
        }
        if (!cfg->user || strcmp(cfg->user, user) != 0) {
                char *copy = strdup(user);
                if (!copy) {
                        api_reply_error(req, 500, "out of memory");
                        return -ENOMEM;
                }
                free(cfg->user);
                cfg->user = copy;
        }
        return 0;
}
