/*
 * check_run.h: the end of every Check suite's main().
 */
#ifndef GEARHORN_TESTS_CHECK_RUN_H
#define GEARHORN_TESTS_CHECK_RUN_H

#include <check.h>

/* Runs every test of s (output as CK_VERBOSITY says, normal by default) and
 * frees the runner and the suite. Returns the number of failed tests. */
static inline int
gh_check_failed(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

#endif
