/* launcher.c - the agent's side of the Linux launcher; see launcher.h for
 * the process tree and why the supervisor (supervisor.c) re-execs the agent.
 *
 * A launch never waits on the agent's loop: launcher_launch() forks and
 * returns, and the report is read from a socketpair as it comes (an event),
 * bounded by a timer. Two messages come on it:
 *  - from the helper, "sup <pid>" with the supervisor's pidfd (SCM_RIGHTS),
 *    opened while the supervisor is the helper's unreaped child, so that a
 *    supervisor that never reports (its main process stuck entering a frozen
 *    cgroup) can still be killed without any pid reuse race;
 *  - from the supervisor, "ok <pid> <start time> <main pid>" or "error
 *    <message>". The supervisor then blocks until the agent closes its end,
 *    and only then reaps its main process, so pidfds opened on both here
 *    cannot race with their exit. If the agent dies instead, EOF comes all
 *    the same. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/launcher.h"
#include "agent/supervisor.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "linux/process-util.h"

#define STATUS_FD SUPERVISOR_STATUS_FD
#define LAUNCH_TIMEOUT_SEC 30

/* The RLIMIT_NOFILE the agent started with, when launcher_raise_fd_limit()
 * raised it: restored for supervisors, so tasks never see the agent's. */
static struct rlimit startup_nofile;
static bool nofile_raised;

static void read_boot_id(char *buf, size_t size)
{
        _cleanup_free_ char *s = NULL;

        buf[0] = '\0';
        if (read_one_line_file("/proc/sys/kernel/random/boot_id", &s) >= 0)
                snprintf(buf, size, "%s", s);
}

int launcher_adopt(const struct checkpoint_supervisor *s, int *ret_pidfd)
{
        _cleanup_close_ int fd = -1;
        char boot[sizeof(s->boot_id)];
        uint64_t start;
        int r;

        read_boot_id(boot, sizeof(boot));
        if (s->boot_id[0] && boot[0] && strcmp(s->boot_id, boot) != 0)
                return -ESRCH; /* rebooted since: that pid is someone else */
        fd = pidfd_open_pid(s->pid);
        if (fd < 0)
                return fd;
        /* Checked after the pidfd is open: it pins the process we verify. */
        r = process_start_time(s->pid, &start);
        if (r < 0)
                return r;
        if (start != s->start_time)
                return -ESRCH;
        /* A zombie nobody reaped yet has ended: nothing to adopt. */
        if (process_is_zombie(s->pid))
                return -ESRCH;
        *ret_pidfd = TAKE_FD(fd);
        return 0;
}

int launcher_raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        if (rl.rlim_cur >= rl.rlim_max)
                return 0;
        startup_nofile = rl;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        nofile_raised = true;
        return 1;
}

int launcher_adopt_main(const struct checkpoint_supervisor *s, int *ret_pidfd)
{
        _cleanup_close_ int fd = -1;
        pid_t parent;
        int r;

        if (s->main_pid <= 0)
                return -ESRCH;
        fd = pidfd_open_pid(s->main_pid);
        if (fd < 0)
                return fd;
        /* Checked after the pidfd is open: only the (verified, live)
         * supervisor is the parent of its main process until it reaps it. */
        r = process_parent(s->main_pid, &parent);
        if (r < 0)
                return r;
        if (parent != s->pid)
                return -ESRCH;
        *ret_pidfd = TAKE_FD(fd);
        return 0;
}

struct launch {
        char *id;
        int fd; /* our end of the status socket */
        struct event *read_ev, *timeout_ev;
        pid_t helper;
        int helper_pidfd;
        struct event *helper_ev;
        int sup_pidfd; /* from the helper, -1 until it arrives */
        char buf[512];
        size_t n;
        launch_done_fn done; /* NULL once finished */
        void *userdata;
};

static void launch_free(struct launch *l)
{
        if (l->read_ev)
                event_free(l->read_ev);
        if (l->timeout_ev)
                event_free(l->timeout_ev);
        if (l->helper_ev)
                event_free(l->helper_ev);
        if (l->helper_pidfd >= 0)
                close(l->helper_pidfd);
        if (l->fd >= 0)
                close(l->fd);
        if (l->sup_pidfd >= 0)
                close(l->sup_pidfd);
        free(l->id);
        free(l);
}

/* Freed once finished and its helper reaped, whichever comes last. */
static void launch_maybe_free(struct launch *l)
{
        if (!l->done && l->helper_pidfd < 0)
                launch_free(l);
}

/* Reap the helper: called once its pidfd is readable (it has exited) or
 * when it only has a fork and one message left to go. */
static void launch_reap_helper(struct launch *l)
{
        siginfo_t si;

        if (l->helper_pidfd < 0)
                return;
        while (waitid(P_PID, (id_t)l->helper, &si, WEXITED) < 0 && errno == EINTR)
                ;
        if (l->helper_ev)
                event_free(TAKE_PTR(l->helper_ev));
        close(TAKE_FD(l->helper_pidfd));
}

static void on_helper_exit(evutil_socket_t fd, short what, void *userdata)
{
        struct launch *l = userdata;

        (void)fd;
        (void)what;
        launch_reap_helper(l); /* readable pidfd: it has exited */
        launch_maybe_free(l);
}

static void launch_finish(struct launch *l, int r, struct launch_report *rep, const char *error)
{
        launch_done_fn done = l->done;
        struct launch_report none = {.sup_pidfd = -1, .main_pidfd = -1};

        if (!rep)
                rep = &none;
        rep->sup_pidfd = TAKE_FD(l->sup_pidfd);
        l->done = NULL;
        event_del(l->read_ev);
        event_del(l->timeout_ev);
        /* The supervisor blocks until this end closes, then goes on. */
        close(TAKE_FD(l->fd));
        done(r, rep, error, l->userdata);
        launch_maybe_free(l);
}

/* A line from the helper ("sup <pid>" with the supervisor's pidfd) or the
 * supervisor ("ok ..." or "error ..."): 1 when the launch is decided. */
static int launch_line(struct launch *l, const char *line)
{
        struct launch_report rep = {.main_pidfd = -1};
        char error[600];
        int pid, main_pid, fd;

        if (strncmp(line, "sup ", 4) == 0)
                return 0; /* its pidfd came with it */
        if (strncmp(line, "error ", 6) == 0) {
                launch_finish(l, -EIO, NULL, line + 6);
                return 1;
        }
        if (sscanf(line, "ok %d %" SCNu64 " %d", &pid, &rep.sup.start_time, &main_pid) != 3) {
                snprintf(error, sizeof(error), "bad report from the supervisor of %s: '%s'", l->id,
                         line);
                launch_finish(l, -EIO, NULL, error);
                return 1;
        }
        rep.sup.pid = pid;
        rep.sup.main_pid = main_pid;
        read_boot_id(rep.sup.boot_id, sizeof(rep.sup.boot_id));
        /* The supervisor blocks until our end closes and only then reaps its
         * main process: both are alive (or not yet reaped), no pid reused. */
        if (l->sup_pidfd < 0) {
                fd = pidfd_open_pid(pid);
                if (fd < 0) {
                        (void)kill(pid, SIGKILL); /* unwatched, it must not run on */
                        snprintf(error, sizeof(error), "pidfd_open(%d): %s", pid, strerror(-fd));
                        launch_finish(l, fd, NULL, error);
                        return 1;
                }
                l->sup_pidfd = fd;
        }
        rep.main_pidfd = pidfd_open_pid(main_pid);
        if (rep.main_pidfd < 0)
                rep.main_pidfd = -1;
        launch_finish(l, 0, &rep, NULL);
        return 1;
}

static void on_status_readable(evutil_socket_t fd, short what, void *userdata)
{
        struct launch *l = userdata;
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = l->buf + l->n, .iov_len = sizeof(l->buf) - 1 - l->n};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        char error[600];

        (void)what;
        ssize_t k = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        for (struct cmsghdr *c = k > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        int got;
                        memcpy(&got, CMSG_DATA(c), sizeof(got));
                        if (l->sup_pidfd < 0)
                                l->sup_pidfd = got;
                        else
                                close(got);
                }
        if (k <= 0) {
                snprintf(error, sizeof(error), "no report from the supervisor of %s: %s", l->id,
                         k < 0 ? strerror(errno) : "it exited");
                return launch_finish(l, k < 0 ? -errno : -EPIPE, NULL, error);
        }
        l->n += (size_t)k;
        for (;;) {
                char *nl = memchr(l->buf, '\n', l->n);
                if (!nl) {
                        if (l->n + 1 >= sizeof(l->buf)) {
                                snprintf(error, sizeof(error),
                                         "bad report from the supervisor of %s: too long", l->id);
                                launch_finish(l, -EIO, NULL, error);
                        }
                        return;
                }
                *nl = '\0';
                if (launch_line(l, l->buf))
                        return;
                size_t used = (size_t)(nl + 1 - l->buf);
                memmove(l->buf, nl + 1, l->n - used);
                l->n -= used;
        }
}

static void on_launch_timeout(evutil_socket_t fd, short what, void *userdata)
{
        struct launch *l = userdata;
        char error[600];

        (void)fd;
        (void)what;
        snprintf(error, sizeof(error), "no report from the supervisor of %s within %d s", l->id,
                 LAUNCH_TIMEOUT_SEC);
        launch_finish(l, -ETIMEDOUT, NULL, error);
}

void launcher_launch_abort(struct launch *l, int *ret_sup_pidfd)
{
        if (!l || !l->done)
                return;
        *ret_sup_pidfd = TAKE_FD(l->sup_pidfd);
        l->done = NULL;
        /* Its helper only forks and sends one message: it is gone by now or
         * in a moment, so this wait is as short as a fork. */
        launch_reap_helper(l);
        launch_free(l);
}

/* In the helper: fork the supervisor (returns there, 0) and send the agent
 * its pidfd, opened while it is our unreaped child (no pid reuse). */
static pid_t helper_fork_supervisor(int status_fd)
{
        pid_t p = fork();
        char line[32];

        if (p <= 0)
                return p;
        int fd = pidfd_open_pid(p);
        int n = snprintf(line, sizeof(line), "sup %d\n", (int)p);
        char cbuf[CMSG_SPACE(sizeof(int))] = {};
        struct iovec iov = {.iov_base = line, .iov_len = (size_t)n};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
                msg.msg_control = cbuf;
                msg.msg_controllen = sizeof(cbuf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        (void)sendmsg(status_fd, &msg, MSG_NOSIGNAL);
        _exit(0);
}

int launcher_launch(struct event_base *base, const struct launch_request *req, launch_done_fn done,
                    void *userdata, struct launch **ret, struct errbuf *e)
{
        _cleanup_close_ int ours = -1, theirs = -1;
        _cleanup_free_ char *log_path = NULL;
        struct launch *l;
        char netns[32];
        pid_t helper;

        if (req->new_netns)
                snprintf(netns, sizeof(netns), "new");
        else if (req->join_netns_pid > 0)
                snprintf(netns, sizeof(netns), "%d", (int)req->join_netns_pid);
        else
                snprintf(netns, sizeof(netns), "host");
        if (asprintf(&log_path, "%s/supervisor.log", req->meta_dir) < 0)
                return errbuf_set(e, -ENOMEM, "out of memory");

        const char *argv[] = {"portiso-agent",
                              SUPERVISE_FLAG,
                              req->id,
                              cg_mode_to_string(req->hierarchy->mode),
                              req->hierarchy->path,
                              req->cgroup,
                              req->supervisors_cgroup,
                              req->meta_dir,
                              req->sandbox,
                              netns,
                              NULL};

        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return errbuf_set(e, negative_errno(), "socketpair: %m");
        ours = sp[0];
        theirs = sp[1];

        l = calloc(1, sizeof(*l));
        if (!l)
                return errbuf_set(e, -ENOMEM, "out of memory");
        *l = (struct launch){.fd = -1, .helper_pidfd = -1, .sup_pidfd = -1};
        l->id = strdup(req->id);
        l->read_ev = event_new(base, ours, EV_READ | EV_PERSIST, on_status_readable, l);
        l->timeout_ev = evtimer_new(base, on_launch_timeout, l);
        if (!l->id || !l->read_ev || !l->timeout_ev) {
                launch_free(l);
                return errbuf_set(e, -ENOMEM, "out of memory");
        }

        helper = fork();
        if (helper < 0) {
                launch_free(l);
                return errbuf_set(e, negative_errno(), "fork: %m");
        }
        if (helper == 0) {
                /* Helper: new session, fork the supervisor, vanish. */
                if (setsid() < 0)
                        _exit(1);
                pid_t p = helper_fork_supervisor(theirs);
                if (p < 0)
                        _exit(1);
                /* Supervisor, before exec: fds 0-2 and the status fd only. */
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (devnull < 0 || dup2(devnull, 0) < 0 ||
                    dup2(logfd >= 0 ? logfd : devnull, 1) < 0 ||
                    dup2(logfd >= 0 ? logfd : devnull, 2) < 0 || dup2(theirs, STATUS_FD) < 0)
                        _exit(127);
                close_range(STATUS_FD + 1, ~0U, 0);
                process_reset_signals();
                if (nofile_raised)
                        (void)setrlimit(RLIMIT_NOFILE, &startup_nofile);
                execv("/proc/self/exe", (char **)argv);
                dprintf(STATUS_FD, "error cannot exec the supervisor: %s\n", strerror(errno));
                _exit(127);
        }

        l->fd = TAKE_FD(ours);
        l->helper = helper;
        l->done = done;
        l->userdata = userdata;
        /* Our child, not reaped yet: its pidfd is its own. Without one (an
         * old kernel) it is reaped when the launch ends. */
        l->helper_pidfd = pidfd_open_pid(helper);
        if (l->helper_pidfd >= 0) {
                l->helper_ev = event_new(base, l->helper_pidfd, EV_READ, on_helper_exit, l);
                if (!l->helper_ev || event_add(l->helper_ev, NULL) < 0) {
                        if (l->helper_ev)
                                event_free(TAKE_PTR(l->helper_ev));
                        close(TAKE_FD(l->helper_pidfd));
                }
        }
        if (l->helper_pidfd < 0) {
                /* Reaped now: it only forks and sends one message. */
                while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        struct timeval tv = {.tv_sec = LAUNCH_TIMEOUT_SEC};
        if (event_add(l->read_ev, NULL) < 0 || event_add(l->timeout_ev, &tv) < 0) {
                int fd = -1;
                launcher_launch_abort(l, &fd);
                if (fd >= 0) {
                        (void)pidfd_signal(fd, SIGKILL);
                        close(fd);
                }
                return errbuf_set(e, -ENOMEM, "cannot watch the launch of %s", req->id);
        }
        *ret = l;
        return 0;
}
