/*
 * check_main.h: the main() of every Check suite, header-only.
 *
 * A suite file includes this header once and defines suite(); it holds
 * only its tests. main() runs every test of the suite (output as
 * CK_VERBOSITY says, fork mode as CK_FORK says) and exits 0 when all pass.
 */
#ifndef GEARHORN_TESTS_CHECK_MAIN_H
#define GEARHORN_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Defined by each suite file: builds the suite to run, after any set-up
 * the whole process needs (setenv, inputs to read). It may call
 * gh_check_skip() when something the tests need is missing, and
 * gh_check_at_end() to undo its set-up. Caller owns the result. */
Suite *suite(void);

static void (*gh_check_end)(void);

/* Ends the process with 77, which make check reports as a skip, after
 * printing "SKIP: why" to stderr. why is borrowed. */
static inline void
gh_check_skip(const char *why)
{
	fprintf(stderr, "SKIP: %s\n", why);
	exit(77);
}

/* Makes main() call fn once every test has run, in the process that runs
 * main() only (not in the children that run the tests in fork mode). */
static inline void
gh_check_at_end(void (*fn)(void))
{
	gh_check_end = fn;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (gh_check_end != NULL)
		gh_check_end();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
