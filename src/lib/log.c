/*
 * log.c: leveled logging to a descriptor or to syslog.
 */
#include "config.h"

#include "log.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_IDENT_MAX 64

/* Written only by log_open/log_close, which run before other threads log. */
static char log_ident[LOG_IDENT_MAX] = "gearhorn";
static int log_syslog;

/* Read by every thread on every message; relaxed atomics are enough since
 * nothing else is published through them. */
static int log_level = LOG_LEVEL_INFO;
static int log_fd = 2;

static const char *const log_names[] = {"error", "warn", "notice", "info", "debug"};

void
log_open(const char *ident, log_level_t level, int use_syslog)
{
	assert(ident != NULL);
	log_close();
	gh_strlcpy(log_ident, ident, sizeof(log_ident));
	log_set_level(level);
	if (use_syslog) {
		/* openlog keeps the pointer: log_ident is static and stays put. */
		openlog(log_ident, LOG_PID, LOG_DAEMON);
		log_syslog = 1;
	}
}

void
log_close(void)
{
	if (log_syslog) {
		closelog();
		log_syslog = 0;
	}
}

void
log_set_level(log_level_t level)
{
	assert(level >= LOG_LEVEL_ERROR && level <= LOG_LEVEL_DEBUG);
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

log_level_t
log_get_level(void)
{
	return (log_level_t)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int
log_enabled(log_level_t level)
{
	return (int)level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int
log_level_parse(const char *s, log_level_t *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	for (i = 0; i < GH_ARRAY_LEN(log_names); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (log_level_t)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(log_level_t level)
{
	if ((int)level < 0 || (size_t)level >= GH_ARRAY_LEN(log_names))
		return "unknown";
	return log_names[level];
}

void
log_set_fd(int fd)
{
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELAXED);
}

static int
log_syslog_priority(log_level_t level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return LOG_ERR;
	case LOG_LEVEL_WARN:
		return LOG_WARNING;
	case LOG_LEVEL_NOTICE:
		return LOG_NOTICE;
	case LOG_LEVEL_INFO:
		return LOG_INFO;
	case LOG_LEVEL_DEBUG:
		break;
	}
	return LOG_DEBUG;
}

/* Formats the message into buf[0..size-1] (size >= 4) and returns its
 * length; a cut message ends in "...". Control characters become '?'. */
static size_t
log_format_message(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t len, i;
	int n;

	assert(size >= 4);
	n = vsnprintf(buf, size, fmt, ap);
	if (n < 0) {
		len = gh_strlcpy(buf, "(unformattable message)", size);
		return len < size ? len : size - 1;
	}
	len = (size_t)n;
	if (len >= size) {
		len = size - 1;
		memcpy(buf + len - 3, "...", 3);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			buf[i] = '?';
	}
	return len;
}

static void
log_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void
log_msg(log_level_t level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t len;
	va_list ap;
	int saved_errno = errno;
	int n;

	if (!log_enabled(level))
		return;

	if (log_syslog) {
		va_start(ap, fmt);
		log_format_message(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(log_syslog_priority(level), "%s", line);
		errno = saved_errno;
		return;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %s[%ld] %s: ", ts.tv_nsec / 1000000L,
	             log_ident, (long)getpid(), log_level_name(level));
	/* The ident is at most 63 bytes: the prefix always leaves room. */
	assert(n > 0 && (size_t)n + len + 8 < sizeof(line));
	len += (size_t)n;

	/* The newline takes the place of the terminating NUL. */
	va_start(ap, fmt);
	len += log_format_message(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	line[len++] = '\n';

	log_write_all(__atomic_load_n(&log_fd, __ATOMIC_RELAXED), line, len);
	errno = saved_errno;
}

/* Writes the escaped form of ch into piece (4 bytes) and returns its length. */
static size_t
log_escape_char(unsigned char ch, char piece[4])
{
	static const char hex[] = "0123456789abcdef";

	if (ch == '"' || ch == '\\') {
		piece[0] = '\\';
		piece[1] = (char)ch;
		return 2;
	}
	if (ch >= 0x20 && ch < 0x7f) {
		piece[0] = (char)ch;
		return 1;
	}
	piece[0] = '\\';
	piece[1] = 'x';
	piece[2] = hex[ch >> 4];
	piece[3] = hex[ch & 0xf];
	return 4;
}

const char *
log_escape(const void *data, size_t len, char *buf, size_t buflen)
{
	const unsigned char *p = data;
	char piece[4];
	size_t total = 0, limit, out = 0, plen, i;

	assert(buf != NULL && buflen >= 4);
	assert(data != NULL || len == 0);

	for (i = 0; i < len && total < buflen; i++)
		total += log_escape_char(p[i], piece);
	/* Everything fits, or stop early enough to leave room for "...". */
	limit = total < buflen ? buflen - 1 : buflen - 4;
	for (i = 0; i < len; i++) {
		plen = log_escape_char(p[i], piece);
		if (out + plen > limit)
			break;
		memcpy(buf + out, piece, plen);
		out += plen;
	}
	if (i < len) {
		memcpy(buf + out, "...", 3);
		out += 3;
	}
	buf[out] = '\0';
	return buf;
}
