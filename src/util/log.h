/*
 * Diagnostic logging to standard error: one line per event,
 *
 *     2026-12-04T15:14:58.123Z warn kms: key material unwrap failed ...
 *
 * Messages are lower-case, start with the module tag and carry values,
 * never secrets.  The _errno twins append ": <strerror(errno)>".  The
 * access log and the KMS audit trail are data, not diagnostics, and have
 * their own writers.
 */
#ifndef COFFER_UTIL_LOG_H
#define COFFER_UTIL_LOG_H

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Lines above `level` are dropped.  The default is LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void log_error_errno(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void log_warn_errno(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
