/* log.h - glog-style logging to stderr, the line format Mesos operators know:
 *
 *   I1127 09:32:38.123456  4242 containerizer.c:120] Container c1 launched
 *
 * Libraries below agent/ and cli/ do not log at error level on their own: they
 * return a negative errno and the caller logs once, with context. The
 * log_*_errno() helpers set errno from r so "%m" prints its text, and return r. */
#pragma once

#include <stdbool.h>

#include "macro.h"

enum log_level {
        LOG_LEVEL_DEBUG = 0,
        LOG_LEVEL_INFO = 1,
        LOG_LEVEL_WARNING = 2,
        LOG_LEVEL_ERROR = 3,
};

/* Lowest level printed (default INFO; PORTISO_LOG_LEVEL=debug lowers it). */
void log_set_max_level(enum log_level level);
/* Parse "debug", "info", "warning", "error"; negative errno if unknown. */
int log_level_from_string(const char *s, enum log_level *ret);
/* True when a message at this level would be printed. */
bool log_enabled(enum log_level level);

/* Print one line; returns -abs(error) when error != 0, else 0. */
_printf_(5, 6) int log_internal(enum log_level level, int error, const char *file, int line,
                                const char *fmt, ...);

#define log_full_errno(level, r, ...) log_internal((level), (r), __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_LEVEL_DEBUG, (r), __VA_ARGS__)
#define log_info_errno(r, ...) log_full_errno(LOG_LEVEL_INFO, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_LEVEL_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...) log_full_errno(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
