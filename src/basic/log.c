/* log.c - glog-style stderr logger; see log.h. One write(2) per line so lines
 * from the agent and its supervisors never interleave mid-line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static bool env_checked;

static void log_check_env(void)
{
        const char *e;
        enum log_level l;

        if (env_checked)
                return;
        env_checked = true;
        e = getenv("PORTISO_LOG_LEVEL");
        if (e && log_level_from_string(e, &l) >= 0)
                max_level = l;
}

void log_set_max_level(enum log_level level)
{
        env_checked = true;
        max_level = level;
}

int log_level_from_string(const char *s, enum log_level *ret)
{
        static const char *const names[] = {"debug", "info", "warning", "error"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i]) == 0) {
                        *ret = (enum log_level)i;
                        return 0;
                }
        return -EINVAL;
}

bool log_enabled(enum log_level level)
{
        log_check_env();
        return level >= max_level;
}

int log_internal(enum log_level level, int error, const char *file, int line, const char *fmt, ...)
{
        static const char letters[] = {'D', 'I', 'W', 'E'};
        int r = error > 0 ? -error : error;
        char buf[2048];
        struct timeval tv;
        struct tm tm;
        const char *base;
        va_list ap;
        int n, k;

        if (!log_enabled(level))
                return r;

        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        base = strrchr(file, '/');
        base = base ? base + 1 : file;

        n = snprintf(buf, sizeof(buf), "%c%02d%02d %02d:%02d:%02d.%06ld %5d %s:%d] ",
                     letters[level], tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)tv.tv_usec, (int)getpid(), base, line);
        if (n < 0 || (size_t)n >= sizeof(buf))
                n = 0;

        if (r < 0)
                errno = -r;
        va_start(ap, fmt);
        k = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (k < 0)
                k = 0;
        n += k;
        if ((size_t)n > sizeof(buf) - 2)
                n = (int)sizeof(buf) - 2;
        buf[n++] = '\n';

        /* Best effort: a log line that cannot be written is not an error. */
        ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
        (void)w;
        if (r < 0)
                errno = -r;
        return r;
}
