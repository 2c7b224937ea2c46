/* supervisor.c - the per-container supervisor; see supervisor.h for what it
 * does and launcher.h for the process tree around it.
 *
 * The main process first moves itself into the container's cgroup, then
 * execs; it tells the supervisor through a CLOEXEC pipe, which the
 * supervisor reads until EOF, so by the time anybody hears of the main pid
 * it is inside its cgroup and no socket of it was ever created outside.
 * After its report the supervisor blocks until the agent closes its end of
 * the status socket, so the agent's pidfd_open() cannot race with the
 * supervisor's exit (and pid reuse). */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/checkpoint.h"
#include "agent/sandbox.h"
#include "agent/supervisor.h"
#include "agent/user.h"
#include "basic/log.h"
#include "linux/cgroup.h"
#include "linux/process-util.h"

#define STATUS_FD SUPERVISOR_STATUS_FD

/* Used when CommandInfo's environment has no PATH: exec must find programs,
 * and Mesos' command executor gives tasks a PATH of this shape too. */
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

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
 * stderr (when it is open) and the sync pipe, then exit 127 as a shell would.
 * With a user, everything up to the sandbox happens as root, and stdout and
 * stderr are opened only once the process is that user. */
_noreturn_ static void exec_main(const struct cg_hierarchy *h, const char *cgroup, const char *id,
                                 const char *sandbox, const char *netns,
                                 const struct container_config *cfg, const struct task_user *user,
                                 int sync_fd)
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
                r = sandbox_enter(sandbox, id, user ? user->uid : 0, user ? user->gid : 0);
        }
        if (r >= 0 && user) {
                what = "cannot become the task's user";
                r = task_user_become(user);
        }
        if (r >= 0) {
                what = "cannot open the sandbox's stdout/stderr";
                const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
                int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
                int out = open("stdout", flags, 0644);
                int err = open("stderr", flags, 0644);
                if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
                    dup2(err, 2) < 0)
                        r = negative_errno();
        }
        if (r < 0) {
                dprintf(sync_fd, "%s: %s\n", what, strerror(-r));
                dprintf(2, "portiso: %s: %s\n", what, strerror(-r));
                _exit(127);
        }

        /* The task outlives its supervisor only by the supervisor's choice. */
        (void)prctl(PR_SET_PDEATHSIG, 0);
        /* Every inherited fd but 0-2 goes at exec (sync_fd is CLOEXEC too). */
        close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        process_reset_signals();

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
        _cleanup_(task_user_done) struct task_user user = {};
        struct cg_hierarchy h = {};
        struct errbuf e = {};
        const char *id, *cgroup, *sup_cgroup, *meta, *sandbox, *netns;
        uint64_t start = 0;
        int sync_pipe[2], status, r;
        pid_t main_pid;
        char buf[256];

        if (argc != 11)
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
        /* The RLIMIT_NOFILE the agent started with ("-": the same as now). */
        if (strcmp(argv[10], "-") != 0) {
                unsigned long long cur, max;
                if (sscanf(argv[10], "%llu:%llu", &cur, &max) != 2)
                        return 2;
                struct rlimit rl = {.rlim_cur = (rlim_t)cur, .rlim_max = (rlim_t)max};
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }

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
        /* Resolved here, not in the agent: NSS may be slow, and this process
         * has nothing else to do. */
        if (cfg.user && task_user_resolve(cfg.user, &user, &e) < 0) {
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

        pid_t supervisor_pid = getpid();
        main_pid = fork();
        if (main_pid < 0) {
                report("error fork: %s\n", strerror(errno));
                return 1;
        }
        if (main_pid == 0) {
                /* Until it execs, the main process dies with the supervisor:
                 * a launch the agent gives up (it kills the supervisor) must
                 * not leave a half-started task to enter the cgroup later. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != supervisor_pid)
                        _exit(127);
                close(sync_pipe[0]);
                exec_main(&h, cgroup, id, sandbox, netns, &cfg, cfg.user ? &user : NULL,
                          sync_pipe[1]);
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
                r = checkpoint_write_exit_status(meta, status, NULL);
                if (r < 0)
                        log_error_errno(r, "Container %s: cannot record exit status: %m", id);
        }
        r = cg_kill(&h, cgroup);
        if (r < 0 && r != -ENOENT)
                log_error_errno(r, "Container %s: cannot kill leftover processes: %m", id);
        return 0;
}
