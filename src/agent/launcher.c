/* launcher.c - the agent's side of the Linux launcher; see launcher.h for
 * the process tree and why the supervisor is a program of its own.
 *
 * A launch never waits on the agent's loop: launcher_launch() hands the
 * spawn to the spawner's thread and returns. That thread calls
 * posix_spawn(3) (a vfork-style clone that shares the agent's memory until
 * the exec, so nobody pays a copy of its page tables or the copy-on-write
 * faults a fork leaves behind, but whose caller sleeps until the child has
 * exec'd) and opens the supervisor's pidfd while it is our unreaped child (no
 * pid reuse race, so a supervisor that never reports can still be killed).
 * The status socket is watched once the spawn is back. The report is read
 * from a socketpair as it comes (an event), bounded by a timer: "ok <pid>
 * <start time> <main pid>" or "error <message>". The supervisor then blocks
 * until the agent closes its end, and only then reaps its main process, so
 * pidfds opened on both here cannot race with their exit. If the agent dies
 * instead, EOF comes all the same. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <event2/event.h>
#include <signal.h>
#include <spawn.h>
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
#include "basic/strv.h"
#include "basic/time-util.h"
#include "linux/process-util.h"

#define STATUS_FD SUPERVISOR_STATUS_FD
#define LAUNCH_TIMEOUT_SEC 30

/* The supervisor program, found once by launcher_find_supervisor(). */
static char supervisor_path[PATH_MAX + sizeof("/" SUPERVISOR_PROGRAM)];

int launcher_find_supervisor(struct errbuf *e)
{
        char self[PATH_MAX], beside[PATH_MAX + sizeof("/" SUPERVISOR_PROGRAM)];
        const char *installed = PORTISO_SUPERVISOR_DIR "/" SUPERVISOR_PROGRAM;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        beside[0] = '\0';
        if (n > 0) {
                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        snprintf(beside, sizeof(beside), "%s/" SUPERVISOR_PROGRAM, self);
                }
        }
        if (beside[0] && access(beside, X_OK) == 0)
                snprintf(supervisor_path, sizeof(supervisor_path), "%s", beside);
        else if (access(installed, X_OK) == 0)
                snprintf(supervisor_path, sizeof(supervisor_path), "%s", installed);
        else
                return errbuf_set(e, -ENOENT, "cannot find the program %s, neither at %s nor at %s",
                                  SUPERVISOR_PROGRAM, beside[0] ? beside : "(unknown)", installed);
        return 0;
}

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

/* A spawn on the spawner's thread: what it needs, what it made. */
struct supervisor_spawn {
        struct spawner_job job; /* first */
        struct launch *l;       /* the loop's */
        char **argv;
        char *log_path;
        int status_fd; /* the supervisor's end, closed once it has it */
        pid_t pid;
        int pidfd;
        int r;
        const char *failed; /* what failed, when r < 0 */
};

struct launch {
        char *id;
        int fd; /* our end of the status socket */
        struct event *read_ev, *timeout_ev;
        struct spawner *spawner;
        struct supervisor_spawn *spawn; /* until it is back */
        int sup_pidfd;
        char buf[512];
        size_t n;
        launch_done_fn done; /* NULL once finished */
        void *userdata;
};

static void spawn_free(struct supervisor_spawn *sp)
{
        strv_free(sp->argv);
        free(sp->log_path);
        if (sp->status_fd >= 0)
                close(sp->status_fd);
        if (sp->pidfd >= 0)
                close(sp->pidfd);
        free(sp);
}

/* Stop waiting for l's spawn; its supervisor's pidfd, if it was made, is
 * l's. */
static void launch_cancel_spawn(struct launch *l)
{
        struct supervisor_spawn *sp = TAKE_PTR(l->spawn);

        if (!sp)
                return;
        switch (spawner_cancel(l->spawner, &sp->job)) {
        case SPAWNER_ORPHANED:
                return; /* spawn_orphaned() ends it */
        case SPAWNER_RAN:
                l->sup_pidfd = TAKE_FD(sp->pidfd);
                break;
        case SPAWNER_NOT_RUN:
                break;
        }
        spawn_free(sp);
}

/* Its spawn, if any, was cancelled by the caller. */
static void launch_free(struct launch *l)
{
        if (l->read_ev)
                event_free(l->read_ev);
        if (l->timeout_ev)
                event_free(l->timeout_ev);
        if (l->fd >= 0)
                close(l->fd);
        if (l->sup_pidfd >= 0)
                close(l->sup_pidfd);
        free(l->id);
        free(l);
}

static void launch_finish(struct launch *l, int r, struct launch_report *rep, const char *error)
{
        launch_done_fn done = l->done;
        struct launch_report none = {.sup_pidfd = -1, .main_pidfd = -1};

        if (!rep)
                rep = &none;
        launch_cancel_spawn(l); /* timed out before it was back */
        rep->sup_pidfd = TAKE_FD(l->sup_pidfd);
        l->done = NULL;
        event_del(l->read_ev);
        event_del(l->timeout_ev);
        /* The supervisor blocks until this end closes, then goes on. */
        close(TAKE_FD(l->fd));
        done(r, rep, error, l->userdata);
        launch_free(l);
}

/* A line from the supervisor ("ok ..." or "error ..."): 1 when the launch
 * is decided. */
static int launch_line(struct launch *l, const char *line)
{
        struct launch_report rep = {.main_pidfd = -1};
        char error[600];
        int pid, main_pid;

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
         * main process: it is alive (or not yet reaped), no pid reused. */
        rep.main_pidfd = pidfd_open_pid(main_pid);
        if (rep.main_pidfd < 0)
                rep.main_pidfd = -1;
        launch_finish(l, 0, &rep, NULL);
        return 1;
}

static void on_status_readable(evutil_socket_t fd, short what, void *userdata)
{
        struct launch *l = userdata;
        char error[600];

        (void)what;
        ssize_t k = recv(fd, l->buf + l->n, sizeof(l->buf) - 1 - l->n, MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
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
        launch_cancel_spawn(l);
        *ret_sup_pidfd = TAKE_FD(l->sup_pidfd);
        l->done = NULL;
        launch_free(l);
}

void launcher_reap_children(void)
{
        /* Supervisors are the agent's children until it restarts; their own
         * exit status says nothing (the main process' is checkpointed). */
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* Spawn the supervisor: argv, fds 0-2 to /dev/null and its log, the status
 * socket at STATUS_FD, nothing else; its own session, default signals. */
static int spawn_supervisor(char *const argv[], const char *log_path, int status_fd, pid_t *ret_pid)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t all, none;
        int r;

        sigfillset(&all);
        sigemptyset(&none);
        if ((r = posix_spawn_file_actions_init(&fa)) != 0)
                return -r;
        if ((r = posix_spawnattr_init(&attr)) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        if ((r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0)) == 0 &&
            (r = posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND,
                                                  0600)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, 1, 2)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, status_fd, STATUS_FD)) == 0 &&
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, STATUS_FD + 1)) == 0 &&
            (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
            (r = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                                     POSIX_SPAWN_SETSIGMASK)) == 0)
                r = posix_spawn(ret_pid, supervisor_path, &fa, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

/* On the spawner's thread. */
static void spawn_work(struct spawner_job *j)
{
        struct supervisor_spawn *sp = (struct supervisor_spawn *)j;

        sp->r = spawn_supervisor(sp->argv, sp->log_path, sp->status_fd, &sp->pid);
        close(TAKE_FD(sp->status_fd)); /* the supervisor's now, or nobody's */
        if (sp->r < 0) {
                sp->failed = "cannot start the supervisor";
                return;
        }
        /* Our child, not reaped yet: its pidfd is its own. */
        sp->pidfd = pidfd_open_pid(sp->pid);
        if (sp->pidfd < 0) {
                sp->r = sp->pidfd;
                sp->failed = "cannot open the supervisor's pidfd";
                (void)kill(sp->pid, SIGKILL); /* unwatched, it must not run on */
        }
}

/* On the spawner's thread: the launch was given up while it spawned. The
 * supervisor has not reported (nobody read its socket); it goes at once. */
static void spawn_orphaned(struct spawner_job *j)
{
        struct supervisor_spawn *sp = (struct supervisor_spawn *)j;

        if (sp->pidfd >= 0)
                (void)pidfd_signal(sp->pidfd, SIGKILL);
        spawn_free(sp);
}

/* From the loop: the supervisor exists, or could not be started. */
static void spawn_done(struct spawner_job *j)
{
        struct supervisor_spawn *sp = (struct supervisor_spawn *)j;
        struct launch *l = sp->l;
        char error[600];

        l->spawn = NULL;
        if (sp->r < 0) {
                snprintf(error, sizeof(error), "%s of %s: %s", sp->failed, l->id, strerror(-sp->r));
                int r = sp->r;
                spawn_free(sp);
                return launch_finish(l, r, NULL, error);
        }
        l->sup_pidfd = TAKE_FD(sp->pidfd);
        spawn_free(sp);
        /* Only now: before, an EOF could be a spawn that failed. */
        if (event_add(l->read_ev, NULL) < 0)
                launch_finish(l, -ENOMEM, NULL, "cannot watch the supervisor's report");
}

static char **strv_copy(const char *const *v)
{
        size_t n = 0;

        while (v[n])
                n++;
        char **c = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; c && i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        strv_free(c);
                        return NULL;
                }
        return c;
}

int launcher_launch(struct event_base *base, const struct launch_request *req, launch_done_fn done,
                    void *userdata, struct launch **ret, struct errbuf *e)
{
        _cleanup_close_ int ours = -1, theirs = -1;
        _cleanup_free_ char *log_path = NULL;
        struct launch *l;
        char netns[32], nofile[64] = "-";

        if (req->new_netns)
                snprintf(netns, sizeof(netns), "new");
        else if (req->join_netns_pid > 0)
                snprintf(netns, sizeof(netns), "%d", (int)req->join_netns_pid);
        else
                snprintf(netns, sizeof(netns), "host");
        if (nofile_raised)
                snprintf(nofile, sizeof(nofile), "%llu:%llu",
                         (unsigned long long)startup_nofile.rlim_cur,
                         (unsigned long long)startup_nofile.rlim_max);
        if (asprintf(&log_path, "%s/" LAUNCHER_LOG, req->meta_dir) < 0)
                return errbuf_set(e, -ENOMEM, "out of memory");

        if (!supervisor_path[0])
                return errbuf_set(e, -ENOENT, "no %s program was found at startup",
                                  SUPERVISOR_PROGRAM);

        const char *argv[] = {SUPERVISOR_PROGRAM,
                              SUPERVISE_FLAG,
                              req->id,
                              cg_mode_to_string(req->hierarchy->mode),
                              req->hierarchy->path,
                              req->cgroup,
                              req->supervisors_cgroup,
                              req->meta_dir,
                              req->sandbox,
                              netns,
                              nofile,
                              NULL};

        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return errbuf_set(e, negative_errno(), "socketpair: %m");
        ours = pair[0];
        theirs = pair[1];
        if (theirs == STATUS_FD) { /* dup2 onto itself would keep O_CLOEXEC */
                int fd = fcntl(theirs, F_DUPFD_CLOEXEC, STATUS_FD + 1);
                if (fd < 0)
                        return errbuf_set(e, negative_errno(), "fcntl: %m");
                close(theirs);
                theirs = fd;
        }

        l = calloc(1, sizeof(*l));
        if (!l)
                return errbuf_set(e, -ENOMEM, "out of memory");
        *l = (struct launch){.fd = -1, .sup_pidfd = -1, .spawner = req->spawner};
        l->id = strdup(req->id);
        l->read_ev = event_new(base, ours, EV_READ | EV_PERSIST, on_status_readable, l);
        l->timeout_ev = evtimer_new(base, on_launch_timeout, l);
        struct supervisor_spawn *sp = calloc(1, sizeof(*sp));
        if (sp) {
                *sp = (struct supervisor_spawn){
                    .job = {.work = spawn_work, .done = spawn_done, .orphaned = spawn_orphaned},
                    .l = l,
                    .argv = strv_copy(argv),
                    .log_path = TAKE_PTR(log_path),
                    .status_fd = TAKE_FD(theirs),
                    .pid = -1,
                    .pidfd = -1,
                };
        }
        struct timeval tv = {.tv_sec = LAUNCH_TIMEOUT_SEC};
        if (!l->id || !l->read_ev || !l->timeout_ev || !sp || !sp->argv ||
            event_add(l->timeout_ev, &tv) < 0) {
                if (sp)
                        spawn_free(sp);
                launch_free(l);
                return errbuf_set(e, -ENOMEM, "out of memory");
        }
        l->fd = TAKE_FD(ours);
        l->done = done;
        l->userdata = userdata;
        l->spawn = sp;
        spawner_submit(l->spawner, &sp->job);
        *ret = l;
        return 0;
}
