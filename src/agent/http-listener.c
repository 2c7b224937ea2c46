/* http-listener.c - TCP and unix listening sockets; see http-listener.h.
 *
 * The unix socket is bound under a temporary name with a umask that leaves
 * only the owner's bits, given its group and final mode, and then renamed
 * over the configured path: no client ever sees it with looser permissions,
 * and a stale file from a crashed agent is replaced in one step. Removal at
 * exit checks the inode first, so an agent never removes a socket that a
 * newer agent put there. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/http-listener.h"
#include "basic/fileio.h"
#include "basic/log.h"

#define LISTEN_BACKLOG 1024

struct http_listener {
        int fd;
        enum http_transport transport;
        struct event *ev;
        bool paused;
        http_accept_fn fn;
        void *userdata;
        char *name; /* for logs */
        char *path; /* unix only */
        dev_t dev;  /* unix only: the socket file we made */
        ino_t ino;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct addrinfo *, freeaddrinfo);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct http_listener *, http_listener_free);

static void peer_tcp(const struct sockaddr_storage *sa, socklen_t len, struct http_peer *ret)
{
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;

        *ret = (struct http_peer){.transport = HTTP_TRANSPORT_TCP, .addr_len = len};
        memcpy(&ret->addr, sa, MIN((size_t)len, sizeof(ret->addr)));
        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const void *)sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                port = ntohs(in->sin_port);
                snprintf(ret->text, sizeof(ret->text), "%s:%u", host, port);
        } else if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const void *)sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                port = ntohs(in6->sin6_port);
                snprintf(ret->text, sizeof(ret->text), "[%s]:%u", host, port);
        }
}

static int peer_unix(int fd, struct http_peer *ret)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();
        *ret = (struct http_peer){
            .transport = HTTP_TRANSPORT_UNIX,
            .uid = cred.uid,
            .gid = cred.gid,
            .pid = cred.pid,
        };
        snprintf(ret->text, sizeof(ret->text), "uid %u pid %d", (unsigned)cred.uid, (int)cred.pid);
        return 0;
}

static void on_acceptable(evutil_socket_t lfd, short what, void *userdata)
{
        struct http_listener *l = userdata;
        (void)what;

        /* A bounded batch, so one busy listener cannot starve the loop. */
        for (int i = 0; i < 64 && !l->paused; i++) {
                struct sockaddr_storage sa;
                socklen_t len = sizeof(sa);
                struct http_peer peer;

                int fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        int r = negative_errno();
                        if (r == -EAGAIN || r == -EINTR)
                                return;
                        /* The peer gave up before we took it: nothing to report. */
                        if (r == -ECONNABORTED || r == -EPROTO)
                                continue;
                        l->fn(l, -1, NULL, r, l->userdata);
                        return;
                }
                if (l->transport == HTTP_TRANSPORT_UNIX) {
                        int r = peer_unix(fd, &peer);
                        if (r < 0) {
                                log_debug_errno(r, "Dropping a unix connection without "
                                                   "credentials: %m");
                                close(fd);
                                continue;
                        }
                } else {
                        peer_tcp(&sa, len, &peer);
                        peer.local_len = sizeof(peer.local);
                        if (getsockname(fd, (struct sockaddr *)&peer.local, &peer.local_len) < 0)
                                peer.local_len = 0;
                }
                l->fn(l, fd, &peer, 0, l->userdata);
        }
}

static int listener_start(struct event_base *base, int fd, enum http_transport transport,
                          http_accept_fn fn, void *userdata, struct http_listener **ret)
{
        _cleanup_(http_listener_freep) struct http_listener *l = calloc(1, sizeof(*l));
        if (!l) {
                close(fd);
                return -ENOMEM;
        }
        *l = (struct http_listener){
            .fd = fd, .transport = transport, .fn = fn, .userdata = userdata};
        l->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_acceptable, l);
        if (!l->ev || event_add(l->ev, NULL) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

int http_listener_new_tcp(struct event_base *base, const char *ip, uint16_t port, http_accept_fn fn,
                          void *userdata, struct http_listener **ret, struct errbuf *e)
{
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC,
            .ai_socktype = SOCK_STREAM,
            .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
        };
        _cleanup_(freeaddrinfop) struct addrinfo *ai = NULL;
        _cleanup_(http_listener_freep) struct http_listener *l = NULL;
        char service[8];
        int one = 1, r;

        snprintf(service, sizeof(service), "%u", port);
        if (getaddrinfo(ip, service, &hints, &ai) != 0 || !ai)
                return errbuf_set(e, -EADDRNOTAVAIL, "invalid address %s", ip);

        _cleanup_close_ int fd =
            socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
                r = negative_errno();
                return errbuf_set(e, r, "cannot listen on %s:%u: %s", ip, port, strerror(-r));
        }
        r = listener_start(base, TAKE_FD(fd), HTTP_TRANSPORT_TCP, fn, userdata, &l);
        if (r < 0)
                return r;
        bool v6 = strchr(ip, ':');
        if (asprintf(&l->name, "%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", port) < 0) {
                l->name = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Is something answering on the unix socket at path? */
static bool unix_socket_live(const struct sockaddr_un *sun)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return false;
        /* Non-blocking: a live listener with a full backlog says EAGAIN. */
        return connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN;
}

static int unix_group_gid(const char *group, gid_t *ret)
{
        struct group gr, *res = NULL;
        char buf[4096];

        int r = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
        if (r != 0)
                return -r;
        if (!res)
                return -ESRCH;
        *ret = gr.gr_gid;
        return 0;
}

int http_listener_new_unix(struct event_base *base, const char *path, const char *group,
                           http_accept_fn fn, void *userdata, struct http_listener **ret,
                           struct errbuf *e)
{
        _cleanup_(http_listener_freep) struct http_listener *l = NULL;
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        struct sockaddr_un sun = {.sun_family = AF_UNIX}, tmp_sun = {.sun_family = AF_UNIX};
        struct stat st;
        gid_t gid = 0;
        int r;

        if (group) {
                r = unix_group_gid(group, &gid);
                if (r < 0)
                        return errbuf_set(e, r, "--api_socket_group: unknown group '%s'", group);
        }
        if (asprintf(&tmp, "%s.%d.tmp", path, (int)getpid()) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        if (strlen(tmp) >= sizeof(sun.sun_path))
                return errbuf_set(e, -ENAMETOOLONG,
                                  "--api_socket: path '%s' is too long for a unix socket", path);
        strcpy(sun.sun_path, path);
        strcpy(tmp_sun.sun_path, tmp);

        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return errbuf_set(e, r, "cannot create %s: %s", dir, strerror(-r));
        }

        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return errbuf_set(e, -EEXIST, "--api_socket: %s exists and is not a socket",
                                          path);
                if (unix_socket_live(&sun))
                        return errbuf_set(e, -EADDRINUSE,
                                          "--api_socket: another server answers on %s", path);
                log_info("Replacing the stale API socket %s", path);
        }

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errbuf_set(e, negative_errno(), "cannot create a unix socket: %m");
        (void)unlink(tmp);
        mode_t old = umask(0177);
        r = bind(fd, (const struct sockaddr *)&tmp_sun, sizeof(tmp_sun)) < 0 ? negative_errno() : 0;
        umask(old);
        if (r < 0)
                return errbuf_set(e, r, "cannot bind %s: %s", tmp, strerror(-r));
        if ((group && (chown(tmp, 0, gid) < 0 || chmod(tmp, 0660) < 0)) ||
            listen(fd, LISTEN_BACKLOG) < 0 || rename(tmp, path) < 0) {
                r = negative_errno();
                (void)unlink(tmp);
                return errbuf_set(e, r, "cannot set up the API socket %s: %s", path, strerror(-r));
        }
        if (lstat(path, &st) < 0)
                return errbuf_set(e, negative_errno(), "cannot stat %s: %m", path);

        r = listener_start(base, TAKE_FD(fd), HTTP_TRANSPORT_UNIX, fn, userdata, &l);
        if (r < 0) {
                (void)unlink(path);
                return r;
        }
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        l->path = strdup(path);
        l->name = strdup(path);
        if (!l->path || !l->name)
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

void http_listener_pause(struct http_listener *l)
{
        if (l->paused)
                return;
        l->paused = true;
        event_del(l->ev);
}

void http_listener_resume(struct http_listener *l)
{
        if (!l->paused)
                return;
        l->paused = false;
        event_add(l->ev, NULL);
        /* Connections may have queued while paused: take them now. */
        event_active(l->ev, EV_READ, 0);
}

const char *http_listener_name(const struct http_listener *l)
{
        return l->name ? l->name : "?";
}

void http_listener_free(struct http_listener *l)
{
        struct stat st;

        if (!l)
                return;
        if (l->ev)
                event_free(l->ev);
        if (l->fd >= 0)
                close(l->fd);
        if (l->path && lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
                (void)unlink(l->path);
        free(l->path);
        free(l->name);
        free(l);
}
