/*
 * Diagnostic log writer.  Each line is formatted whole and written with
 * one call so that lines from concurrent connection threads never mix.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LEVEL_INFO;

static const char *level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level level)
{
    max_level = level;
}

static void
emit(enum log_level level, int err, const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;

    if (level > max_level)
        return;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - n, ".%03dZ %s ",
                  (int)(tv.tv_usec / 1000), level_names[level]);
    if (n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (err && n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level, with_errno)             \
    void                                            \
    name(const char *fmt, ...)                      \
    {                                               \
        int err = with_errno ? errno : 0;           \
        va_list ap;                                 \
                                                    \
        va_start(ap, fmt);                          \
        emit(level, err, fmt, ap);                  \
        va_end(ap);                                 \
    }

LOG_FN(log_error, LOG_LEVEL_ERROR, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_error_errno, LOG_LEVEL_ERROR, 1)
LOG_FN(log_warn_errno, LOG_LEVEL_WARN, 1)
