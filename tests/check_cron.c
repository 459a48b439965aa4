/*
 * check_cron: cron expressions of the scheduler (src/scheduler/cron.c).
 * Times are computed in UTC (TZ is set here), so results do not depend on
 * the machine.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/scheduler/cron.h"
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
	suite_add_tcase(s, tc);
	return s;
}
