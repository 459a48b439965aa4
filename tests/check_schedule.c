/*
 * check_schedule: the scheduler's schedule table (src/scheduler/schedule.c)
 * against real SQLite files, with the clock passed in.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../src/scheduler/schedule.h"
#include "lib/check_main.h"
#include "lib/files.h"
#include "log.h"

#define JOB(arg)                                                                      \
	"[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": [\"" arg \
	"\"], \"kwargs\": {}, \"class_args\": [], \"class_kwargs\": {}}]"

static char dir[1024], path[1100];

typedef struct {
	int n;
	char queue[64], headers[160], body[512];
	long runs_left;
} fired_t;

static void
record(const sched_job_t *job, void *arg)
{
	fired_t *f = arg;

	f->n++;
	snprintf(f->queue, sizeof(f->queue), "%s", job->queue);
	snprintf(f->headers, sizeof(f->headers), "%s", job->headers);
	snprintf(f->body, sizeof(f->body), "%s", job->body);
	f->runs_left = job->runs_left;
}

static gh_frame_t
fr(const char *s)
{
	return (gh_frame_t){s, strlen(s)};
}

static int
add(sched_t *s, const char *queue, const char *headers, long interval, const char *cron,
    const char *body, time_t now, char *err)
{
	return sched_schedule(s, fr(queue), fr(headers), interval, fr(cron), fr(body), now, err,
	                      256);
}

static void
setup(void)
{
	ck_assert_int_eq(gh_tmpdir_make(dir, sizeof(dir), "check_sched"), 0);
	snprintf(path, sizeof(path), "%s/scheduler.db", dir);
}

static void
teardown(void)
{
	umount2(dir, MNT_DETACH); /* test_full_disk's, if it is there */
	gh_tmpdir_remove(dir);
}

static sched_t *
open_db(void)
{
	char err[256];
	sched_t *s = sched_open(path, err, sizeof(err));

	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

START_TEST(test_interval_runs_at_once_then_every_interval)
{
	sched_t *s = open_db();
	fired_t f = {0};
	char err[256];

	ck_assert_int_eq(add(s, "default", "guarantee", 10, "", JOB("a"), 1000, err), 0);
	ck_assert_uint_eq(sched_run_due(s, 1000, record, &f), 1);
	ck_assert_str_eq(f.queue, "default");
	ck_assert_str_eq(f.body, JOB("a"));
	/* Results are asked for; guarantee stays; scheduling headers do not. */
	ck_assert_ptr_nonnull(strstr(f.headers, "reply-requested"));
	ck_assert_ptr_nonnull(strstr(f.headers, "guarantee"));
	ck_assert_uint_eq(sched_run_due(s, 1009, record, &f), 0);
	ck_assert_uint_eq(sched_run_due(s, 1010, record, &f), 1);
	ck_assert_uint_eq(sched_run_due(s, 1019, record, &f), 0);
	/* After a long pause the missed runs are not fired in a burst. */
	ck_assert_uint_eq(sched_run_due(s, 5000, record, &f), 1);
	ck_assert_uint_eq(sched_run_due(s, 5001, record, &f), 0);
	ck_assert_uint_eq(sched_run_due(s, 5010, record, &f), 1);
	ck_assert_int_eq(f.n, 4);
	sched_destroy(&s);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_nohaste_and_run_count)
{
	sched_t *s = open_db();
	fired_t f = {0};
	char err[256];

	ck_assert_int_eq(add(s, "q", "nohaste,run_count:2", 5, "", JOB("b"), 100, err), 0);
	ck_assert_uint_eq(sched_run_due(s, 100, record, &f), 0);
	ck_assert_uint_eq(sched_run_due(s, 105, record, &f), 1);
	ck_assert_int_eq(f.runs_left, 1);
	ck_assert_ptr_null(strstr(f.headers, "nohaste"));
	ck_assert_ptr_null(strstr(f.headers, "run_count"));
	ck_assert_uint_eq(sched_run_due(s, 110, record, &f), 1);
	ck_assert_int_eq(f.runs_left, 0);
	ck_assert_uint_eq(sched_count(s), 0);
	ck_assert_uint_eq(sched_run_due(s, 200, record, &f), 0);
	sched_destroy(&s);
	/* Spent schedules are gone from the database too. */
	s = open_db();
	ck_assert_uint_eq(sched_count(s), 0);
	sched_destroy(&s);
}
END_TEST

START_TEST(test_survives_restart)
{
	sched_t *s = open_db();
	fired_t f = {0};
	char err[256];

	ck_assert_int_eq(add(s, "q", "nohaste", 60, "", JOB("c"), 1000, err), 0);
	ck_assert_int_eq(add(s, "q", "nohaste", -1, "*/5 * * * *", JOB("d"), 1000, err), 0);
	sched_destroy(&s);
	s = open_db();
	ck_assert_uint_eq(sched_count(s), 2);
	ck_assert_uint_eq(sched_run_due(s, 1059, record, &f), 0);
	ck_assert_uint_eq(sched_run_due(s, 1060, record, &f), 1);
	ck_assert_str_eq(f.body, JOB("c"));
	sched_destroy(&s);
}
END_TEST

START_TEST(test_cron)
{
	sched_t *s = open_db();
	fired_t f = {0};
	char err[256];
	time_t t0 = 1795446000; /* a whole hour, UTC */

	ck_assert_int_eq(add(s, "reports", "nohaste", -1, "30 * * * *", JOB("e"), t0, err), 0);
	ck_assert_uint_eq(sched_run_due(s, t0 + 29 * 60, record, &f), 0);
	ck_assert_uint_eq(sched_run_due(s, t0 + 30 * 60, record, &f), 1);
	ck_assert_str_eq(f.queue, "reports");
	ck_assert_uint_eq(sched_run_due(s, t0 + 31 * 60, record, &f), 0);
	ck_assert_uint_eq(sched_run_due(s, t0 + 90 * 60, record, &f), 1);
	sched_destroy(&s);
}
END_TEST

START_TEST(test_same_call_replaces_and_unschedule)
{
	sched_t *s = open_db();
	fired_t f = {0};
	char err[256];

	ck_assert_int_eq(add(s, "q", "nohaste", 10, "", JOB("x"), 0, err), 0);
	/* The same call (whatever the queue, interval or cron) is one schedule. */
	ck_assert_int_eq(add(s, "other", "nohaste", -1, "* * * * *", JOB("x"), 0, err), 0);
	ck_assert_uint_eq(sched_count(s), 1);
	ck_assert_int_eq(add(s, "q", "nohaste", 10, "", JOB("y"), 0, err), 0);
	ck_assert_uint_eq(sched_count(s), 2);
	/* Cron schedules unschedule like interval ones. */
	ck_assert_int_eq(sched_unschedule(s, fr(JOB("x")), err, sizeof(err)), 1);
	ck_assert_int_eq(sched_unschedule(s, fr(JOB("x")), err, sizeof(err)), 0);
	ck_assert_int_eq(sched_unschedule(s, fr(JOB("y")), err, sizeof(err)), 1);
	ck_assert_uint_eq(sched_count(s), 0);
	ck_assert_uint_eq(sched_run_due(s, 100000, record, &f), 0);
	ck_assert_int_eq(sched_unschedule(s, fr("not json"), err, sizeof(err)), -1);
	sched_destroy(&s);
	s = open_db();
	ck_assert_uint_eq(sched_count(s), 0);
	sched_destroy(&s);
}
END_TEST

START_TEST(test_bad_input)
{
	static const struct {
		const char *queue, *headers, *cron, *body, *want;
		long interval;
	} bad[] = {
	    /* Every check is cron_schedule_check's (check_cron); here, one of
	     * each kind is refused and nothing of it is stored. */
	    {"q", "", "", "not json", "not JSON", 10},
	    {"q", "", "0 0 30 2 *", JOB("f"), "never", -1},
	    {"q", "", "", JOB("f"), "interval", 0},
	    {"q", "run_count:0", "", JOB("f"), "run_count", 10},
	    {"a\nb", "", "", JOB("f"), "queue", 10},
	};
	sched_t *s = open_db();
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(add(s, bad[i].queue, bad[i].headers, bad[i].interval, bad[i].cron,
		                  bad[i].body, 0, err) == -1,
		              "case %zu accepted", i);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
		              err, bad[i].want);
	}
	ck_assert_uint_eq(sched_count(s), 0);
	/* SQL metacharacters are data. */
	ck_assert_int_eq(add(s, "q", "", 10, "", JOB("'); DROP TABLE schedule; --"), 0, err), 0);
	sched_destroy(&s);
	s = open_db();
	ck_assert_uint_eq(sched_count(s), 1);
	sched_destroy(&s);
}
END_TEST

/* Runs sql on the database at path, outside the scheduler. */
static void
exec_sql(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Writes a schedule database as damage or a hand edit may leave it: the
 * table without its types and NOT NULLs, so that any value fits, and each
 * row the SQL values of key, queue, headers, interval_s, cron, body,
 * runs_left, next_run. */
static void
write_rows(const char *const *rows, size_t n)
{
	exec_sql("CREATE TABLE schedule (key, queue, headers, interval_s, cron, body, runs_left, "
	         "next_run, created); PRAGMA user_version = 1");
	for (size_t i = 0; i < n; i++) {
		char *sql = sqlite3_mprintf("INSERT INTO schedule VALUES (%s, 0)", rows[i]);

		exec_sql(sql);
		sqlite3_free(sql);
	}
}

/* What the log received since log_to_file, NUL-terminated, in buf. */
static int log_fd = -1;

static void
log_to_file(void)
{
	char p[1100];

	snprintf(p, sizeof(p), "%s/log", dir);
	log_fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(log_fd, 0);
	unlink(p);
	log_set_fd(log_fd);
}

static const char *
logged(char *buf, size_t len)
{
	ssize_t n = pread(log_fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

START_TEST(test_damaged_rows_are_skipped)
{
#define GOOD(key, arg) "'" key "', 'q', 'reply-requested', 10, '', '" JOB(arg) "', -1, 1000"
	static const char *const good[] = {
	    GOOD("good-1", "g1"), "'good-2', 'q', '', -1, '* * * * *', '" JOB("g2") "', 3, 1000"};
	/* Each bad row: its key, as the log names it, then its values. */
	static const struct {
		const char *name, *row;
	} bad[] = {
	    {"row 3", "NULL, 'q', '', 10, '', '" JOB("b") "', -1, 1000"},
	    {"queue-null", "'queue-null', NULL, '', 10, '', '" JOB("b") "', -1, 1000"},
	    {"headers-null", "'headers-null', 'q', NULL, 10, '', '" JOB("b") "', -1, 1000"},
	    {"interval-null", "'interval-null', 'q', '', NULL, '', '" JOB("b") "', -1, 1000"},
	    {"cron-null", "'cron-null', 'q', '', -1, NULL, '" JOB("b") "', -1, 1000"},
	    {"body-null", "'body-null', 'q', '', 10, '', NULL, -1, 1000"},
	    {"runs-null", "'runs-null', 'q', '', 10, '', '" JOB("b") "', NULL, 1000"},
	    {"next-null", "'next-null', 'q', '', 10, '', '" JOB("b") "', -1, NULL"},
	    {"interval-text", "'interval-text', 'q', '', 'ten', '', '" JOB("b") "', -1, 1000"},
	    {"next-real", "'next-real', 'q', '', 10, '', '" JOB("b") "', -1, 1000.5"},
	    {"body-blob", "'body-blob', 'q', '', 10, '', X'5b5d', -1, 1000"},
	    {"queue-int", "'queue-int', 7, '', 10, '', '" JOB("b") "', -1, 1000"},
	    {"row 15", "X'6b6579', 'q', '', 10, '', '" JOB("b") "', -1, 1000"},
	    {"queue-nul",
	     "'queue-nul', 'a' || char(0) || 'b', '', 10, '', '" JOB("b") "', -1, 1000"},
	    {"cron-bad", "'cron-bad', 'q', '', -1, '61 * * * *', '" JOB("b") "', -1, 1000"},
	    {"interval-zero", "'interval-zero', 'q', '', 0, '', '" JOB("b") "', -1, 1000"},
	    {"interval-huge", "'interval-huge', 'q', '', 9999999999, '', '" JOB("b") "', -1, 1000"},
	    {"runs-zero", "'runs-zero', 'q', '', 10, '', '" JOB("b") "', 0, 1000"},
	    {"body-not-job", "'body-not-job', 'q', '', 10, '', 'not json', -1, 1000"},
	    {"headers-bad", "'headers-bad', 'q', 'timeout:x', 10, '', '" JOB("b") "', -1, 1000"},
	};
	const char *rows[GH_ARRAY_LEN(good) + GH_ARRAY_LEN(bad)];
	char log[16384], want[64];
	fired_t f = {0};
	sched_t *s;
	size_t n = 0;

	for (size_t i = 0; i < GH_ARRAY_LEN(good); i++)
		rows[n++] = good[i];
	for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++)
		rows[n++] = bad[i].row;
	write_rows(rows, n);
	log_to_file();
	/* No crash; the good rows load and run, every bad one is named. */
	s = open_db();
	ck_assert_uint_eq(sched_count(s), GH_ARRAY_LEN(good));
	ck_assert_uint_eq(sched_skipped(s), GH_ARRAY_LEN(bad));
	logged(log, sizeof(log));
	for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
		int by_row = strncmp(bad[i].name, "row ", 4) == 0;

		snprintf(want, sizeof(want), "%s%s%s", by_row ? "" : "\"", bad[i].name,
		         by_row ? ":" : "\"");
		ck_assert_msg(strstr(log, want) != NULL, "bad row %s not reported in:\n%s",
		              bad[i].name, log);
	}
	ck_assert_uint_eq(sched_run_due(s, 1000, record, &f), 2);
	sched_destroy(&s);
	/* The bad rows stay in the file for the operator, and are reported at
	 * every start; the good ones keep running. */
	s = open_db();
	ck_assert_uint_eq(sched_count(s), GH_ARRAY_LEN(good));
	ck_assert_uint_eq(sched_skipped(s), GH_ARRAY_LEN(bad));
	sched_destroy(&s);
	log_set_fd(2);
	close(log_fd);
#undef GOOD
}
END_TEST

START_TEST(test_damaged_row_replaced_or_removed)
{
	sched_t *s = open_db();
	char err[256];

	ck_assert_int_eq(add(s, "q", "", 10, "", JOB("c"), 1000, err), 0);
	ck_assert_int_eq(add(s, "q", "", 10, "", JOB("d"), 1000, err), 0);
	sched_destroy(&s);
	exec_sql("UPDATE schedule SET interval_s = 'ten'");
	s = open_db();
	ck_assert_uint_eq(sched_count(s), 0);
	ck_assert_uint_eq(sched_skipped(s), 2);
	/* A SCHEDULE of the same call replaces its row, an UNSCHEDULE removes
	 * it, though neither was loaded. */
	ck_assert_int_eq(add(s, "q", "", 10, "", JOB("c"), 1000, err), 0);
	ck_assert_int_eq(sched_unschedule(s, fr(JOB("d")), err, sizeof(err)), 1);
	sched_destroy(&s);
	s = open_db();
	ck_assert_uint_eq(sched_count(s), 1);
	ck_assert_uint_eq(sched_skipped(s), 0);
	sched_destroy(&s);
}
END_TEST

/* Mounts a tmpfs of the given size ("size=256k") on dir, in a mount
 * namespace of the test's own (Check runs each test in a child process).
 * Returns 0, or -1 where that is not allowed (not root, no namespaces). */
static int
mount_small_disk(const char *size)
{
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, size) != 0) {
		fprintf(stderr, "test_full_disk: no tmpfs here (%s); not run\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes zeros to the file at p until the disk is full. */
static void
fill_disk(const char *p)
{
	static const char zeros[4096];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	while (write(fd, zeros, sizeof(zeros)) > 0)
		;
	ck_assert_int_eq(errno, ENOSPC);
	close(fd);
}

START_TEST(test_full_disk)
{
	char err[256], body[256], fill[1100], arg[32];
	int stored = 0, refused = 0, rc;
	fired_t f = {0};
	sched_t *s;

	if (mount_small_disk("size=256k") != 0)
		return;
	s = open_db();
	ck_assert_int_eq(add(s, "q", "", 10, "", JOB("before"), 1000, err), 0);
	snprintf(fill, sizeof(fill), "%s/fill", dir);
	fill_disk(fill);
	/* Every SCHEDULE is either stored or refused as not stored. */
	for (int i = 0; i < 200; i++) {
		snprintf(arg, sizeof(arg), "n%d", i);
		snprintf(body, sizeof(body), JOB("%s"), arg);
		rc = add(s, "q", "nohaste", 10, "", body, 1000, err);
		ck_assert_msg(rc == 0 || rc == SCHED_ESTORE, "SCHEDULE %d: %d %s", i, rc, err);
		if (rc == 0) {
			stored++;
			continue;
		}
		refused++;
		ck_assert_msg(strstr(err, "full") != NULL, "%s", err);
		ck_assert_int_eq(sched_writable(s), 0);
	}
	ck_assert_int_gt(refused, 0);
	ck_assert_uint_eq(sched_count(s), (size_t)stored + 1);
	/* An UNSCHEDULE that cannot be stored keeps the schedule running. */
	rc = sched_unschedule(s, fr(JOB("before")), err, sizeof(err));
	ck_assert_msg(rc == SCHED_ESTORE, "UNSCHEDULE on a full disk: %d", rc);
	ck_assert_uint_eq(sched_count(s), (size_t)stored + 1);
	/* What is held goes on running. */
	ck_assert_uint_ge(sched_run_due(s, 1000, record, &f), 1);
	ck_assert_str_eq(f.body, JOB("before"));
	/* With room again, writes go on. */
	ck_assert_int_eq(unlink(fill), 0);
	ck_assert_int_eq(add(s, "q", "", 10, "", JOB("after"), 1000, err), 0);
	ck_assert_int_eq(sched_writable(s), 1);
	sched_destroy(&s);
	/* Every schedule acknowledged is in the database. */
	s = open_db();
	ck_assert_uint_eq(sched_count(s), (size_t)stored + 2);
	ck_assert_uint_eq(sched_skipped(s), 0);
	sched_destroy(&s);
}
END_TEST

Suite *
suite(void)
{
	Suite *su = suite_create("sched");
	TCase *tc = tcase_create("core");

	setenv("TZ", "UTC", 1);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_interval_runs_at_once_then_every_interval);
	tcase_add_test(tc, test_nohaste_and_run_count);
	tcase_add_test(tc, test_survives_restart);
	tcase_add_test(tc, test_cron);
	tcase_add_test(tc, test_same_call_replaces_and_unschedule);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_damaged_rows_are_skipped);
	tcase_add_test(tc, test_damaged_row_replaced_or_removed);
	tcase_add_test(tc, test_full_disk);
	suite_add_tcase(su, tc);
	return su;
}
