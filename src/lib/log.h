/*
 * log.h: leveled logging to stderr (one line per message, written with a
 * single write(2) so that threads never interleave lines) or to syslog.
 *
 * Before log_open() the ident is "gearhorn", the level is info and lines go
 * to file descriptor 2. Configure logging from the main thread before other
 * threads start; log_msg() and the log_level getters/setters are thread-safe.
 */
#ifndef GEARHORN_LOG_H
#define GEARHORN_LOG_H

#include <stddef.h>

typedef enum {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
} log_level_t;

/* Longest line written to stderr, newline included; longer messages are
 * cut and end in "...". Equal to PIPE_BUF on Linux, so a line written to a
 * pipe is atomic. */
#define LOG_LINE_MAX 4096

/* Starts logging as ident (copied, at most 63 bytes kept) at level, to
 * syslog (openlog with LOG_PID, facility LOG_DAEMON) if use_syslog is
 * nonzero, else to the stderr descriptor (see log_set_fd). May be called
 * again to switch; not concurrently with log_msg from other threads. */
void log_open(const char *ident, log_level_t level, int use_syslog);

/* Closes syslog if it was open; later messages go to the stderr descriptor.
 * The ident and level are kept. */
void log_close(void);

/* Sets / returns the most verbose level that is written. level must be a
 * valid log_level_t (asserted). */
void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* Returns nonzero if a message at level would be written. Use it to skip
 * expensive formatting of debug messages. */
int log_enabled(log_level_t level);

/* Parses "error", "warn" (or "warning"), "notice", "info" or "debug",
 * ignoring case, into *out. Returns 0, or -1 (and leaves *out alone) if s is
 * NULL or names no level. */
int log_level_parse(const char *s, log_level_t *out);

/* Returns the lower-case name of level ("warn" for LOG_LEVEL_WARN), or
 * "unknown" for a value outside log_level_t. Borrowed, static. */
const char *log_level_name(log_level_t level);

/* Formats and writes one message at level if the level is enabled:
 *   2026-11-23T20:40:00.123Z gearhorn-router[1234] warn: message
 * (UTC, milliseconds) on the stderr descriptor, or the bare message to
 * syslog. A trailing newline in the message is dropped; any other control
 * character except tab is written as '?', so one call is always one line.
 * Untrusted bytes should still go through log_escape(). errno is preserved. */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)  log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Quotes untrusted bytes for a log line or an error message: printable
 * ASCII as is, '"' and '\\' preceded by a backslash, every other byte as
 * \xHH (lower-case hex). If the result does not fit in buflen - 1 bytes it is
 * cut at a whole character and ends in "...". Always NUL-terminates buf.
 * data may be NULL if len is 0; buflen must be at least 4 (asserted).
 * Returns buf (borrowed from the caller). Thread-safe. */
const char *log_escape(const void *data, size_t len, char *buf, size_t buflen);

/* Sets the descriptor that stderr-mode lines are written to (default 2).
 * The descriptor stays the caller's: logging never closes it. */
void log_set_fd(int fd);

#endif
