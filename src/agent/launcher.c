/* launcher.c - the Linux launcher and the per-container supervisor; see
 * launcher.h for the process tree and why the supervisor re-execs the agent.
 *
 * Two handshakes keep launch race-free:
 *  - main -> supervisor: a CLOEXEC pipe. The main process first moves itself
 *    into the container's cgroup, then execs; the supervisor reads the pipe
 *    until EOF, so by the time anybody hears of the main pid, it is inside its
 *    cgroup and no socket of it was ever created outside.
 *  - supervisor -> agent: a socketpair. The supervisor reports
 *    "ok <pid> <start time> <main pid>" and then blocks until the agent closes
 *    its end, so the agent's pidfd_open() cannot race with the supervisor's
 *    exit (and pid reuse). If the agent dies instead, EOF comes all the same. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/launcher.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"

#define SUPERVISE_FLAG "--supervise"
#define STATUS_FD 3
#define LAUNCH_TIMEOUT_MS 30000

/* Used when CommandInfo's environment has no PATH: exec must find programs,
 * and Mesos' command executor gives tasks a PATH of this shape too. */
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

/* The RLIMIT_NOFILE the agent started with, when launcher_raise_fd_limit()
 * raised it: restored for supervisors, so tasks never see the agent's. */
static struct rlimit startup_nofile;
static bool nofile_raised;

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

int process_start_time(pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        const char *p;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* comm may hold spaces and parens: fields restart after the last ')'. */
        p = strrchr(text, ')');
        if (!p)
                return -EINVAL;
        p++;
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EINVAL;
        }
        uint64_t v;
        if (sscanf(p, " %" SCNu64, &v) != 1)
                return -EINVAL;
        *ret = v;
        return 0;
}

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
        fd = pidfd_open_(s->pid);
        if (fd < 0)
                return negative_errno();
        /* Checked after the pidfd is open: it pins the process we verify. */
        r = process_start_time(s->pid, &start);
        if (r < 0)
                return r;
        if (start != s->start_time)
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

int launcher_kill_supervisor(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int k;

        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return negative_errno();
        /* A pidfd polls readable once its process has exited. */
        while ((k = poll(&p, 1, 1000)) < 0 && errno == EINTR)
                ;
        if (k < 0)
                return negative_errno();
        return k == 0 ? -ETIMEDOUT : 0;
}

/* Read one '\n'-terminated line from fd within timeout_ms. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
        uint64_t deadline = now_nsec() + (uint64_t)timeout_ms * 1000000ULL;
        size_t n = 0;

        while (n + 1 < size) {
                uint64_t now = now_nsec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                /* Round up: a poll of 0 ms left would spin. */
                int k = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return -ETIMEDOUT;
                ssize_t m = read(fd, buf + n, 1);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m < 0)
                        return negative_errno();
                if (m == 0)
                        return -EPIPE;
                if (buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = '\0';
        return 0;
}

static void reset_signals(void)
{
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigset_t none;

        for (int s = 1; s < NSIG; s++)
                (void)sigaction(s, &sa, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

int launcher_launch(const struct launch_request *req, struct checkpoint_supervisor *ret,
                    int *ret_pidfd, struct errbuf *e)
{
        _cleanup_close_ int ours = -1, theirs = -1, fd = -1;
        _cleanup_free_ char *log_path = NULL;
        char netns[32], line[512];
        struct checkpoint_supervisor s = {};
        pid_t helper;
        int status, r;

        if (req->new_netns)
                snprintf(netns, sizeof(netns), "new");
        else if (req->join_netns_pid > 0)
                snprintf(netns, sizeof(netns), "%d", (int)req->join_netns_pid);
        else
                snprintf(netns, sizeof(netns), "host");
        if (asprintf(&log_path, "%s/supervisor.log", req->meta_dir) < 0)
                return -ENOMEM;

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

        helper = fork();
        if (helper < 0)
                return errbuf_set(e, negative_errno(), "fork: %m");
        if (helper == 0) {
                /* Helper: new session, fork the supervisor, vanish. */
                if (setsid() < 0)
                        _exit(1);
                pid_t p = fork();
                if (p != 0)
                        _exit(p < 0 ? 1 : 0);
                /* Supervisor, before exec: fds 0-2 and the status fd only. */
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (devnull < 0 || dup2(devnull, 0) < 0 ||
                    dup2(logfd >= 0 ? logfd : devnull, 1) < 0 ||
                    dup2(logfd >= 0 ? logfd : devnull, 2) < 0 || dup2(theirs, STATUS_FD) < 0)
                        _exit(127);
                close_range(STATUS_FD + 1, ~0U, 0);
                reset_signals();
                if (nofile_raised)
                        (void)setrlimit(RLIMIT_NOFILE, &startup_nofile);
                execv("/proc/self/exe", (char **)argv);
                dprintf(STATUS_FD, "error cannot exec the supervisor: %s\n", strerror(errno));
                _exit(127);
        }

        close(TAKE_FD(theirs));
        while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
                ;

        r = read_line(ours, line, sizeof(line), LAUNCH_TIMEOUT_MS);
        if (r < 0)
                return errbuf_set(e, r, "no report from the supervisor of %s: %s", req->id,
                                  strerror(-r));
        if (strncmp(line, "error ", 6) == 0)
                return errbuf_set(e, -EIO, "%s", line + 6);
        int pid, main_pid;
        if (sscanf(line, "ok %d %" SCNu64 " %d", &pid, &s.start_time, &main_pid) != 3)
                return errbuf_set(e, -EIO, "bad report from the supervisor of %s: '%s'", req->id,
                                  line);
        s.pid = pid;
        s.main_pid = main_pid;
        read_boot_id(s.boot_id, sizeof(s.boot_id));

        /* The supervisor blocks until `ours` closes: it is alive here, and
         * its pid cannot have been reused, so killing it by pid is safe. */
        fd = pidfd_open_(s.pid);
        if (fd < 0) {
                r = errbuf_set(e, negative_errno(), "pidfd_open(%d): %m", pid);
                (void)kill(s.pid, SIGKILL); /* unwatched, it must not run on */
                return r;
        }

        *ret = s;
        *ret_pidfd = TAKE_FD(fd);
        return 0;
}

/* ---- supervisor side ---------------------------------------------------- */

bool supervisor_mode(int argc, char **argv)
{
        return argc >= 2 && strcmp(argv[1], SUPERVISE_FLAG) == 0;
}

static int loopback_up(void)
{
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {};

        if (s < 0)
                return negative_errno();
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return negative_errno();
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                return negative_errno();
        return 0;
}

static int setup_netns(const char *netns)
{
        if (strcmp(netns, "host") == 0)
                return 0;
        if (strcmp(netns, "new") == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        return negative_errno();
                return loopback_up();
        }
        char path[64];
        snprintf(path, sizeof(path), "/proc/%s/ns/net", netns);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (setns(fd, CLONE_NEWNET) < 0)
                return negative_errno();
        return 0;
}

/* Build the main process' environment: CommandInfo's, plus a PATH if it has none. */
static char **build_env(char **env)
{
        size_t n = 0;
        bool has_path = false;

        for (char **s = env; s && *s; s++, n++)
                has_path = has_path || strncmp(*s, "PATH=", 5) == 0;
        char **v = calloc(n + 2, sizeof(char *));
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                v[i] = env[i];
        if (!has_path)
                v[n] = (char *)DEFAULT_PATH;
        return v;
}

/* In the forked main process: never returns. Failures go to the sandbox's
 * stderr (when it is open) and the sync pipe, then exit 127 as a shell would. */
_noreturn_ static void exec_main(const struct cg_hierarchy *h, const char *cgroup,
                                 const char *sandbox, const char *netns,
                                 const struct container_config *cfg, int sync_fd)
{
        const char *what;
        int r;

        r = cg_attach(h, cgroup, 0);
        what = "cannot enter cgroup";
        if (r >= 0) {
                what = "setsid";
                r = setsid() < 0 ? negative_errno() : 0;
        }
        if (r >= 0) {
                what = "cannot set up the network namespace";
                r = setup_netns(netns);
        }
        if (r >= 0) {
                what = "cannot enter the sandbox";
                r = chdir(sandbox) < 0 ? negative_errno() : 0;
        }
        if (r >= 0) {
                what = "cannot open the sandbox's stdout/stderr";
                int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
                int out = open("stdout", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                int err = open("stderr", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
                    dup2(err, 2) < 0)
                        r = negative_errno();
        }
        if (r < 0) {
                dprintf(sync_fd, "%s: %s\n", what, strerror(-r));
                dprintf(2, "portiso: %s: %s\n", what, strerror(-r));
                _exit(127);
        }

        /* Every inherited fd but 0-2 goes at exec (sync_fd is CLOEXEC too). */
        close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        reset_signals();

        char **env = build_env(cfg->env);
        if (!env)
                _exit(127);
        environ = env;

        const char *value = cfg->value ? cfg->value : "";
        if (cfg->shell) {
                char *argv[] = {(char *)"sh", (char *)"-c", (char *)value, NULL};
                execv("/bin/sh", argv);
        } else if (cfg->arguments && cfg->arguments[0]) {
                /* Mesos: arguments[0] is argv[0], value is what is exec'd. */
                execvp(value, cfg->arguments);
        } else {
                char *argv[] = {(char *)value, NULL};
                execvp(value, argv);
        }
        r = negative_errno();
        dprintf(sync_fd, "cannot exec '%s': %s\n", value, strerror(-r));
        dprintf(2, "portiso: cannot exec '%s': %s\n", value, strerror(-r));
        _exit(127);
}

static int report(const char *fmt, ...) _printf_(1, 2);
static int report(const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vdprintf(STATUS_FD, fmt, ap);
        va_end(ap);
        return r < 0 ? negative_errno() : 0;
}

int supervisor_main(int argc, char **argv)
{
        _cleanup_(container_config_done) struct container_config cfg = {};
        struct cg_hierarchy h = {};
        struct errbuf e = {};
        const char *id, *cgroup, *sup_cgroup, *meta, *sandbox, *netns;
        uint64_t start = 0;
        int sync_pipe[2], status, r;
        pid_t main_pid;
        char buf[256];

        if (argc != 10)
                return 2;
        id = argv[2];
        if (strcmp(argv[3], cg_mode_to_string(CG_V2)) == 0)
                h.mode = CG_V2;
        else if (strcmp(argv[3], cg_mode_to_string(CG_V1_FREEZER)) == 0)
                h.mode = CG_V1_FREEZER;
        else
                return 2;
        snprintf(h.path, sizeof(h.path), "%s", argv[4]);
        cgroup = argv[5];
        sup_cgroup = argv[6];
        meta = argv[7];
        sandbox = argv[8];
        netns = argv[9];

        /* A write to a vanished agent must fail, not kill us. */
        signal(SIGPIPE, SIG_IGN);

        r = cg_attach(&h, sup_cgroup, 0);
        if (r < 0) {
                report("error cannot move the supervisor into %s: %s\n", sup_cgroup, strerror(-r));
                return 1;
        }
        r = checkpoint_read_config(meta, &cfg, &e);
        if (r < 0) {
                report("error %s\n", e.msg);
                return 1;
        }
        r = process_start_time(getpid(), &start);
        if (r < 0) {
                report("error cannot read own start time: %s\n", strerror(-r));
                return 1;
        }
        if (pipe2(sync_pipe, O_CLOEXEC) < 0) {
                report("error pipe: %s\n", strerror(errno));
                return 1;
        }

        main_pid = fork();
        if (main_pid < 0) {
                report("error fork: %s\n", strerror(errno));
                return 1;
        }
        if (main_pid == 0) {
                close(sync_pipe[0]);
                exec_main(&h, cgroup, sandbox, netns, &cfg, sync_pipe[1]);
        }
        close(sync_pipe[1]);
        /* EOF: exec'd (or failed, with a line we log). */
        for (;;) {
                ssize_t k = read(sync_pipe[0], buf, sizeof(buf) - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k > 0) {
                        buf[k] = '\0';
                        log_warning("Container %s: %s", id, buf);
                        continue;
                }
                break;
        }
        close(sync_pipe[0]);

        report("ok %d %" PRIu64 " %d\n", (int)getpid(), start, (int)main_pid);
        /* Wait for the agent to close its end (it has our pidfd by then). */
        for (;;) {
                ssize_t k = read(STATUS_FD, buf, sizeof(buf));
                if (k > 0 || (k < 0 && errno == EINTR))
                        continue;
                break;
        }
        close(STATUS_FD);

        while (waitpid(main_pid, &status, 0) < 0)
                if (errno != EINTR) {
                        log_error("Container %s: waitpid: %m", id);
                        status = -1;
                        break;
                }
        if (status != -1) {
                r = checkpoint_write_exit_status(meta, status);
                if (r < 0)
                        log_error_errno(r, "Container %s: cannot record exit status: %m", id);
        }
        r = cg_kill(&h, cgroup);
        if (r < 0 && r != -ENOENT)
                log_error_errno(r, "Container %s: cannot kill leftover processes: %m", id);
        return 0;
}
