/*
 * check_cron: cron expressions, call identities and the SCHEDULE check
 * (src/lib/cron.c). Times are computed in UTC (TZ is set here), so results
 * do not depend on the machine.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "lib/check_main.h"

static time_t
at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static time_t
next(const char *expr, time_t after)
{
	char err[256];
	cron_t c;

	ck_assert_msg(cron_parse(expr, &c, err, sizeof(err)) == 0, "%s: %s", expr, err);
	return cron_next(&c, after);
}

START_TEST(test_every_minute)
{
	ck_assert_int_eq(next("* * * * *", at(2026, 11, 23, 12, 0, 30)),
	                 at(2026, 11, 23, 12, 1, 0));
	/* Strictly after: a time on the minute moves to the next one. */
	ck_assert_int_eq(next("* * * * *", at(2026, 11, 23, 12, 1, 0)), at(2026, 11, 23, 12, 2, 0));
}
END_TEST

START_TEST(test_fields)
{
	ck_assert_int_eq(next("0 * * * *", at(2026, 11, 23, 12, 0, 0)), at(2026, 11, 23, 13, 0, 0));
	ck_assert_int_eq(next("30 2 * * *", at(2026, 11, 23, 12, 0, 0)),
	                 at(2026, 11, 24, 2, 30, 0));
	ck_assert_int_eq(next("0 0 1 * *", at(2026, 11, 23, 12, 0, 0)), at(2026, 12, 1, 0, 0, 0));
	ck_assert_int_eq(next("0 0 1 1 *", at(2026, 11, 23, 12, 0, 0)), at(2027, 1, 1, 0, 0, 0));
	/* 2026-11-23 is a Monday. */
	ck_assert_int_eq(next("0 9 * * 0", at(2026, 11, 23, 12, 0, 0)), at(2026, 11, 29, 9, 0, 0));
	ck_assert_int_eq(next("0 9 * * 7", at(2026, 11, 23, 12, 0, 0)), at(2026, 11, 29, 9, 0, 0));
}
END_TEST

START_TEST(test_lists_ranges_steps)
{
	ck_assert_int_eq(next("*/15 * * * *", at(2026, 11, 23, 12, 16, 0)),
	                 at(2026, 11, 23, 12, 30, 0));
	ck_assert_int_eq(next("5/20 * * * *", at(2026, 11, 23, 12, 26, 0)),
	                 at(2026, 11, 23, 12, 45, 0));
	ck_assert_int_eq(next("0 9-17/4 * * *", at(2026, 11, 23, 14, 0, 0)),
	                 at(2026, 11, 23, 17, 0, 0));
	ck_assert_int_eq(next("0 9-17/4 * * *", at(2026, 11, 23, 17, 0, 0)),
	                 at(2026, 11, 24, 9, 0, 0));
	ck_assert_int_eq(next("10,20,40 * * * *", at(2026, 11, 23, 12, 25, 0)),
	                 at(2026, 11, 23, 12, 40, 0));
	/* Weekdays only: from Friday evening to Monday morning. */
	ck_assert_int_eq(next("0 8 * * 1-5", at(2026, 11, 27, 20, 0, 0)),
	                 at(2026, 11, 30, 8, 0, 0));
}
END_TEST

START_TEST(test_names_and_macros)
{
	ck_assert_int_eq(next("0 0 1 jan,JUL *", at(2026, 11, 23, 0, 0, 0)),
	                 at(2027, 1, 1, 0, 0, 0));
	ck_assert_int_eq(next("0 12 * * sat,sun", at(2026, 11, 23, 0, 0, 0)),
	                 at(2026, 11, 28, 12, 0, 0));
	ck_assert_int_eq(next("@hourly", at(2026, 11, 23, 12, 30, 0)), at(2026, 11, 23, 13, 0, 0));
	ck_assert_int_eq(next("@daily", at(2026, 11, 23, 12, 30, 0)), at(2026, 11, 24, 0, 0, 0));
	ck_assert_int_eq(next("@weekly", at(2026, 11, 23, 12, 30, 0)), at(2026, 11, 29, 0, 0, 0));
	ck_assert_int_eq(next("@monthly", at(2026, 11, 23, 12, 30, 0)), at(2026, 12, 1, 0, 0, 0));
	ck_assert_int_eq(next("@yearly", at(2026, 11, 23, 12, 30, 0)), at(2027, 1, 1, 0, 0, 0));
}
END_TEST

START_TEST(test_day_rules)
{
	/* Both day fields restricted: either matches (the 1st, or a Monday). */
	ck_assert_int_eq(next("0 12 1 * 1", at(2026, 11, 24, 0, 0, 0)), at(2026, 11, 30, 12, 0, 0));
	ck_assert_int_eq(next("0 12 1 * 1", at(2026, 11, 30, 13, 0, 0)), at(2026, 12, 1, 12, 0, 0));
	/* One of them "*": only the other counts. */
	ck_assert_int_eq(next("0 12 1 * *", at(2026, 11, 24, 0, 0, 0)), at(2026, 12, 1, 12, 0, 0));
	/* February 29th waits for a leap year; February 30th never comes. */
	ck_assert_int_eq(next("0 0 29 2 *", at(2026, 11, 23, 0, 0, 0)), at(2028, 2, 29, 0, 0, 0));
	ck_assert_int_eq(next("0 0 30 2 *", at(2026, 11, 23, 0, 0, 0)), (time_t)-1);
	ck_assert_int_eq(next("0 0 31 4 *", at(2026, 11, 23, 0, 0, 0)), (time_t)-1);
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad[] = {
	    "",
	    "* * * *",
	    "* * * * * *",
	    "60 * * * *",
	    "* 24 * * *",
	    "* * 0 * *",
	    "* * 32 * *",
	    "* * * 13 *",
	    "* * * 0 *",
	    "* * * * 8",
	    "5-1 * * * *",
	    "*/0 * * * *",
	    "1,,2 * * * *",
	    "1, * * * *",
	    ",1 * * * *",
	    "a b c d e",
	    "* * * foo *",
	    "* * * * funday",
	    "@often",
	    "1-2-3 * * * *",
	    "*/ * * * *",
	    "-5 * * * *",
	    "* * * * mon-",
	    "+1 * * * *",
	    "1/2/3 * * * *",
	};
	char err[256];
	cron_t c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(cron_parse(bad[i], &c, err, sizeof(err)) == -1, "accepted \"%s\"",
		              bad[i]);
		ck_assert_msg(err[0] != '\0', "no message for \"%s\"", bad[i]);
	}
	ck_assert_int_eq(cron_parse("61 * * * *", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "minute"));
	ck_assert_int_eq(cron_parse("* * * 13 *", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "month"));
}
END_TEST

#define JOB(arg)                                                                      \
	"[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": [\"" arg \
	"\"], \"kwargs\": {}, \"class_args\": [], \"class_kwargs\": {}}]"

static gh_frame_t
fr(const char *s)
{
	return (gh_frame_t){s, strlen(s)};
}

START_TEST(test_schedule_check)
{
	static const struct {
		const char *queue, *headers, *cron, *body, *want;
		long interval;
	} bad[] = {
	    {"q", "", "", "not json", "not JSON", 10},
	    {"q", "", "", "{\"run\": 1}", "[\"run\"", 10},
	    {"q", "", "", "[\"run\"]", "[\"run\"", 10},
	    {"q", "", "61 * * * *", JOB("f"), "minute", -1},
	    {"q", "", "* * *", JOB("f"), "five fields", -1},
	    {"q", "", "0 0 30 2 *", JOB("f"), "never", -1},
	    {"q", "", "", JOB("f"), "interval", 0},
	    {"q", "", "", JOB("f"), "interval", -2},
	    {"q", "run_count:0", "", JOB("f"), "run_count", 10},
	    {"q", "timeout:x", "", JOB("f"), "timeout", 10},
	    {"", "", "", JOB("f"), "queue", 10},
	    {"a\nb", "", "", JOB("f"), "queue", 10},
	};
	time_t t0 = at(2026, 11, 23, 12, 0, 30);
	cron_schedule_t cs;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(cron_schedule_check(fr(bad[i].queue), fr(bad[i].headers),
		                                  bad[i].interval, fr(bad[i].cron), fr(bad[i].body),
		                                  t0, NULL, err, sizeof(err)) == -1,
		              "case %zu accepted", i);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
		              err, bad[i].want);
	}
	/* A good one: its headers, its call's identity and its first run. */
	ck_assert_int_eq(cron_schedule_check(fr("q"), fr("nohaste,run_count:3"), -1,
	                                     fr("30 * * * *"), fr(JOB("g")), t0, &cs, err,
	                                     sizeof(err)),
	                 0);
	ck_assert_uint_eq(cs.hdr.flags, PROTO_H_NOHASTE);
	ck_assert_int_eq(cs.hdr.run_count, 3);
	ck_assert_int_eq(cs.first, at(2026, 11, 23, 12, 30, 0));
	ck_assert_str_eq(cs.key, "{\"args\":[\"g\"],\"callable\":\"echo\",\"class_args\":[],"
	                         "\"class_kwargs\":{},\"kwargs\":{},\"path\":\"builtin\"}");
	free(cs.key);
	ck_assert_int_eq(cron_schedule_check(fr("q"), fr(""), 60, fr(""), fr(JOB("g")), t0, NULL,
	                                     err, sizeof(err)),
	                 0);
	ck_assert_int_eq(cron_schedule_next(60, NULL, t0), t0 + 60);
	/* The identity leaves out what is not the call; absent keys are null. */
	{
		char *k = cron_call_key(fr("[\"run\", {\"callable\": \"x\", \"extra\": 1}]"), err,
		                        sizeof(err));

		ck_assert_str_eq(k, "{\"args\":null,\"callable\":\"x\",\"class_args\":null,"
		                    "\"class_kwargs\":null,\"kwargs\":null,\"path\":null}");
		free(k);
	}
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("core");

	setenv("TZ", "UTC", 1);
	tzset();
	tcase_add_test(tc, test_every_minute);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_lists_ranges_steps);
	tcase_add_test(tc, test_names_and_macros);
	tcase_add_test(tc, test_day_rules);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_schedule_check);
	suite_add_tcase(s, tc);
	return s;
}
