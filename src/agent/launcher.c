/* launcher.c - the agent's side of the Linux launcher; see launcher.h for
 * the process tree and why the supervisor (supervisor.c) re-execs the agent.
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
#include <poll.h>
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
#define LAUNCH_TIMEOUT_MS 30000

/* The RLIMIT_NOFILE the agent started with, when launcher_raise_fd_limit()
 * raised it: restored for supervisors, so tasks never see the agent's. */
static struct rlimit startup_nofile;
static bool nofile_raised;

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
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
                process_reset_signals();
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
