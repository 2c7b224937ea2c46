/* process-util.c - see process-util.h. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "linux/process-util.h"

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

bool process_is_zombie(pid_t pid)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_full_file(path, &text, NULL) < 0)
                return false;
        p = strrchr(text, ')');
        return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

void process_reset_signals(void)
{
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigset_t none;

        for (int s = 1; s < NSIG; s++)
                (void)sigaction(s, &sa, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

int pidfd_open_pid(pid_t pid)
{
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        return fd < 0 ? negative_errno() : fd;
}

int pidfd_signal(int pidfd, int sig)
{
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
                return negative_errno();
        return 0;
}

bool pidfd_alive(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};

        return pidfd >= 0 && poll(&p, 1, 0) == 0;
}

int process_parent(pid_t pid, pid_t *ret)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        const char *p;
        int ppid, r;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        p = strstr(text, "\nPPid:");
        if (!p || sscanf(p + 6, "%d", &ppid) != 1)
                return -EINVAL;
        *ret = ppid;
        return 0;
}
