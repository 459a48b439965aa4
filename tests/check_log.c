/*
 * check_log.c: unit tests for the log module.
 */
#include "config.h"

#include "log.h"
#include "util.h"
#include "lib/check_main.h"
#include "lib/files.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each test logs into a pipe whose read end is non-blocking. */
static int pipe_fds[2] = {-1, -1};

static void
setup(void)
{
	ck_assert_int_eq(pipe(pipe_fds), 0);
	ck_assert_int_eq(fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK), 0);
	log_open("gearhorn-test", LOG_LEVEL_INFO, 0);
	log_set_fd(pipe_fds[1]);
}

static void
teardown(void)
{
	log_close();
	log_open("gearhorn", LOG_LEVEL_INFO, 0);
	log_set_fd(2);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	pipe_fds[0] = pipe_fds[1] = -1;
}

/* Returns everything written to the pipe so far. Caller owns the result. */
static char *
drain(void)
{
	size_t len = 0, cap = 8192;
	char *buf = gh_malloc(cap + 1);

	for (;;) {
		ssize_t n;
		if (len == cap) {
			cap *= 2;
			buf = gh_realloc(buf, cap + 1);
		}
		n = read(pipe_fds[0], buf + len, cap - len);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		ck_assert_msg(n == 0 || errno == EAGAIN, "read: %s", strerror(errno));
		break;
	}
	buf[len] = '\0';
	return buf;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_level_parse)
{
	static const struct {
		const char *name;
		log_level_t level;
	} ok[] = {
	    {"error", LOG_LEVEL_ERROR},   {"warn", LOG_LEVEL_WARN},    {"warning", LOG_LEVEL_WARN},
	    {"notice", LOG_LEVEL_NOTICE}, {"info", LOG_LEVEL_INFO},    {"debug", LOG_LEVEL_DEBUG},
	    {"DEBUG", LOG_LEVEL_DEBUG},   {"Warning", LOG_LEVEL_WARN},
	};
	static const char *const bad[] = {"", "loud", "err", "info ", " info", "debug2"};
	log_level_t level;
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(ok); i++) {
		level = LOG_LEVEL_ERROR;
		ck_assert_msg(log_level_parse(ok[i].name, &level) == 0, "%s", ok[i].name);
		ck_assert_int_eq(level, ok[i].level);
	}
	for (i = 0; i < GH_ARRAY_LEN(bad); i++) {
		level = LOG_LEVEL_NOTICE;
		ck_assert_msg(log_level_parse(bad[i], &level) == -1, "\"%s\"", bad[i]);
		ck_assert_int_eq(level, LOG_LEVEL_NOTICE);
	}
	ck_assert_int_eq(log_level_parse(NULL, &level), -1);
}
END_TEST

START_TEST(test_level_name)
{
	log_level_t level, back;

	ck_assert_str_eq(log_level_name(LOG_LEVEL_ERROR), "error");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_WARN), "warn");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_NOTICE), "notice");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_INFO), "info");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_DEBUG), "debug");
	ck_assert_str_eq(log_level_name((log_level_t)99), "unknown");
	ck_assert_str_eq(log_level_name((log_level_t)-1), "unknown");
	for (level = LOG_LEVEL_ERROR; level <= LOG_LEVEL_DEBUG; level++) {
		ck_assert_int_eq(log_level_parse(log_level_name(level), &back), 0);
		ck_assert_int_eq(back, level);
	}
}
END_TEST

START_TEST(test_set_level)
{
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_INFO);
	ck_assert(log_enabled(LOG_LEVEL_ERROR));
	ck_assert(log_enabled(LOG_LEVEL_INFO));
	ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
	log_set_level(LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_ERROR);
	ck_assert(log_enabled(LOG_LEVEL_ERROR));
	ck_assert(!log_enabled(LOG_LEVEL_WARN));
	log_set_level(LOG_LEVEL_DEBUG);
	ck_assert(log_enabled(LOG_LEVEL_DEBUG));
}
END_TEST

START_TEST(test_filter)
{
	char *out;

	log_set_level(LOG_LEVEL_WARN);
	log_debug("debug line");
	log_info("info line");
	log_notice("notice line");
	log_warn("warn line");
	log_error("error line");
	out = drain();
	ck_assert_uint_eq(count_lines(out), 2);
	ck_assert_ptr_nonnull(strstr(out, " warn: warn line\n"));
	ck_assert_ptr_nonnull(strstr(out, " error: error line\n"));
	ck_assert_ptr_null(strstr(out, "notice"));
	ck_assert_ptr_null(strstr(out, "info line"));
	free(out);

	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("debug %s", "again");
	out = drain();
	ck_assert_ptr_nonnull(strstr(out, " debug: debug again\n"));
	free(out);
}
END_TEST

START_TEST(test_line_format)
{
	char pattern[256];
	regex_t re;
	char *out;
	int rc;

	log_notice("hello %d %s", 42, "world");
	out = drain();
	snprintf(pattern, sizeof(pattern),
	         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	         "gearhorn-test\\[%ld\\] notice: hello 42 world\n$",
	         (long)getpid());
	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, out, 0, NULL, 0);
	regfree(&re);
	ck_assert_msg(rc == 0, "line does not match: \"%s\"", out);
	free(out);

	/* A new ident takes effect; a trailing newline is not doubled. */
	log_open("other", LOG_LEVEL_INFO, 0);
	log_info("with newline\n");
	out = drain();
	ck_assert_ptr_nonnull(strstr(out, "Z other["));
	ck_assert_ptr_nonnull(strstr(out, "] info: with newline\n"));
	ck_assert_uint_eq(count_lines(out), 1);
	free(out);

	/* A long ident is cut at 63 bytes. */
	{
		char ident[101];
		memset(ident, 'i', 100);
		ident[100] = '\0';
		log_open(ident, LOG_LEVEL_INFO, 0);
		log_info("long ident");
		out = drain();
		ident[63] = '\0';
		ck_assert_ptr_nonnull(strstr(out, ident));
		ident[63] = 'i';
		ident[64] = '\0';
		ck_assert_ptr_null(strstr(out, ident));
		free(out);
	}
}
END_TEST

START_TEST(test_control_chars)
{
	char *out;

	log_info("a\nb\001c\td\r\x7f"
	         "e");
	out = drain();
	ck_assert_uint_eq(count_lines(out), 1);
	ck_assert_ptr_nonnull(strstr(out, "info: a?b?c\td??e\n"));
	free(out);
}
END_TEST

START_TEST(test_truncation)
{
	size_t big = LOG_LINE_MAX * 3, len;
	char *msg = gh_malloc(big + 1);
	char *out;

	memset(msg, 'a', big);
	msg[big] = '\0';
	log_warn("%s", msg);
	out = drain();
	len = strlen(out);
	ck_assert_uint_eq(len, LOG_LINE_MAX);
	ck_assert_uint_eq(count_lines(out), 1);
	ck_assert_str_eq(out + len - 5, "a...\n");
	ck_assert_ptr_nonnull(strstr(out, "warn: aaaa"));
	free(out);

	/* Just fitting: no "..." */
	{
		char *fit;
		size_t prefix;
		log_warn("x");
		out = drain();
		prefix = strlen(out) - 2;
		free(out);
		fit = gh_malloc(LOG_LINE_MAX);
		memset(fit, 'b', LOG_LINE_MAX - prefix - 1);
		fit[LOG_LINE_MAX - prefix - 1] = '\0';
		log_warn("%s", fit);
		out = drain();
		ck_assert_uint_eq(strlen(out), LOG_LINE_MAX);
		ck_assert_ptr_null(strstr(out, "..."));
		ck_assert_str_eq(out + LOG_LINE_MAX - 2, "b\n");
		free(out);
		free(fit);
	}
	free(msg);
}
END_TEST

START_TEST(test_errno_preserved)
{
	char *out;

	errno = ENOSPC;
	log_info("keeps errno");
	ck_assert_int_eq(errno, ENOSPC);
	errno = EBADF;
	log_debug("filtered, keeps errno");
	ck_assert_int_eq(errno, EBADF);
	out = drain();
	free(out);
}
END_TEST

START_TEST(test_syslog_routing)
{
	char *out;

	/* Filtered out, so nothing reaches the system log; only routing is
	 * checked: with syslog on, nothing goes to the descriptor. */
	log_open("gearhorn-test", LOG_LEVEL_ERROR, 1);
	log_info("not written anywhere");
	log_close();
	log_error("to the descriptor again");
	out = drain();
	ck_assert_ptr_null(strstr(out, "anywhere"));
	ck_assert_ptr_nonnull(strstr(out, "gearhorn-test["));
	ck_assert_ptr_nonnull(strstr(out, "error: to the descriptor again\n"));
	ck_assert_uint_eq(count_lines(out), 1);
	free(out);
}
END_TEST

static void
check_escape(const char *data, size_t len, size_t buflen, const char *want)
{
	char buf[256];
	const char *got;

	ck_assert_uint_le(buflen, sizeof(buf));
	memset(buf, 'Z', sizeof(buf));
	got = log_escape(data, len, buf, buflen);
	ck_assert_ptr_eq(got, buf);
	ck_assert_msg(strcmp(got, want) == 0,
	              "escape(len %zu, buflen %zu): got \"%s\", want \"%s\"", len, buflen, got,
	              want);
	ck_assert_uint_lt(strlen(got), buflen);
}

START_TEST(test_escape)
{
	char big[100];

	check_escape("plain text", 10, 64, "plain text");
	check_escape("a\"b\\c", 5, 64, "a\\\"b\\\\c");
	check_escape("\n\0\xff\x7f\x1b", 5, 64, "\\x0a\\x00\\xff\\x7f\\x1b");
	check_escape("tab\there", 8, 64, "tab\\x09here");
	check_escape(NULL, 0, 4, "");
	check_escape("", 0, 64, "");

	/* Exactly fitting: 9 characters in a 10-byte buffer. */
	check_escape("123456789", 9, 10, "123456789");
	/* One too many: cut with "..." within the buffer. */
	check_escape("1234567890", 10, 10, "123456...");
	/* Never half an escape sequence. */
	check_escape("\x01\x01\x01", 3, 10, "\\x01...");
	check_escape("a\"\"\"\"", 5, 8, "a\\\"...");
	check_escape("abcdef", 6, 4, "...");
	check_escape("abc", 3, 4, "abc");

	memset(big, 'q', sizeof(big));
	check_escape(big, sizeof(big), 50, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq...");
}
END_TEST

#define THREADS          4
#define LINES_PER_THREAD 400

struct writer {
	int id;
};

/* Message n of thread t carries (t * 7 + n * 13) % 1500 + 1 'x' bytes, so
 * that lines vary in length and a torn line cannot pass the check. */
static size_t
payload_len(int t, int n)
{
	return (size_t)((t * 7 + n * 13) % 1500 + 1);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char payload[1600];
	int n;

	for (n = 0; n < LINES_PER_THREAD; n++) {
		size_t len = payload_len(w->id, n);
		memset(payload, 'x', len);
		payload[len] = '\0';
		log_info("t%d n%d %s end", w->id, n, payload);
	}
	return NULL;
}

START_TEST(test_threads_whole_lines)
{
	char dir[1024], *path, *data, *line, *save = NULL;
	unsigned char seen[THREADS][LINES_PER_THREAD];
	struct writer w[THREADS];
	pthread_t th[THREADS];
	size_t total = 0, cap = 1 << 20, len = 0;
	int fd, i;
	ssize_t n;

	ck_assert_int_eq(gh_tmpdir_make(dir, sizeof(dir), "check_log"), 0);
	path = gh_asprintf("%s/log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	log_set_fd(fd);

	for (i = 0; i < THREADS; i++) {
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	log_set_fd(pipe_fds[1]);
	close(fd);

	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	data = gh_malloc(cap + 1);
	while ((n = read(fd, data + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			data = gh_realloc(data, cap + 1);
		}
	}
	ck_assert_int_eq(n, 0);
	data[len] = '\0';
	close(fd);
	ck_assert_int_eq(gh_tmpdir_remove(dir), 0);

	ck_assert_msg(len > 0 && data[len - 1] == '\n', "output does not end in a newline");
	memset(seen, 0, sizeof(seen));
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *msg = strstr(line, "] info: t");
		int t, k, used = 0;
		size_t xs;
		ck_assert_msg(msg != NULL, "torn line: %.80s", line);
		ck_assert_int_eq(sscanf(msg, "] info: t%d n%d %n", &t, &k, &used), 2);
		ck_assert(t >= 0 && t < THREADS && k >= 0 && k < LINES_PER_THREAD);
		ck_assert_msg(!seen[t][k], "line t%d n%d twice", t, k);
		seen[t][k] = 1;
		xs = strspn(msg + used, "x");
		ck_assert_uint_eq(xs, payload_len(t, k));
		ck_assert_str_eq(msg + used + xs, " end");
		total++;
	}
	ck_assert_uint_eq(total, THREADS * LINES_PER_THREAD);
	free(data);
	free(path);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_level_parse);
	tcase_add_test(tc, test_level_name);
	tcase_add_test(tc, test_set_level);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_line_format);
	tcase_add_test(tc, test_control_chars);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_errno_preserved);
	tcase_add_test(tc, test_syslog_routing);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_threads_whole_lines);
	suite_add_tcase(s, tc);
	return s;
}
