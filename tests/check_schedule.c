/*
 * check_schedule: the scheduler's schedule table (src/scheduler/schedule.c)
 * against real SQLite files, with the clock passed in.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/scheduler/schedule.h"
#include "lib/check_main.h"
#include "lib/files.h"

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
	suite_add_tcase(su, tc);
	return su;
}
