/* process-util.c - see process-util.h. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

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

void process_reset_signals(void)
{
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigset_t none;

        for (int s = 1; s < NSIG; s++)
                (void)sigaction(s, &sa, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}
