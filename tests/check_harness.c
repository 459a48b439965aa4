/*
 * check_harness: the integration harness starts a real gearmand on a free
 * loopback port, serves a real libgearman client, and stops it by pid.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libgearman-1.0/gearman.h>

#include "lib/harness.h"
#include "lib/check_main.h"

START_TEST(test_free_port)
{
	int a = harness_free_port();

	ck_assert_int_gt(a, 0);
	ck_assert_int_lt(a, 65536);
}
END_TEST

START_TEST(test_gearmand_round_trip)
{
	harness_gearmand_t g;
	gearman_client_st *client;
	gearman_return_t rc;
	char handle[GEARMAN_JOB_HANDLE_SIZE];
	char *status;
	pid_t pid;

	ck_assert_int_eq(harness_gearmand_start(&g, 0), 0);
	ck_assert_int_gt(g.pid, 0);
	pid = g.pid;

	client = gearman_client_create(NULL);
	ck_assert_ptr_nonnull(client);
	ck_assert_int_eq(gearman_client_add_server(client, "127.0.0.1", (in_port_t)g.port),
	                 GEARMAN_SUCCESS);
	rc = gearman_client_do_background(client, "harness_probe", NULL, "x", 1, handle);
	ck_assert_msg(rc == GEARMAN_SUCCESS, "submit: %s", gearman_client_error(client));
	gearman_client_free(client);

	status = harness_gearmand_admin(&g, "status\n");
	ck_assert_ptr_nonnull(status);
	ck_assert_msg(strstr(status, "harness_probe\t1\t0\t0") != NULL, "status was: %s", status);
	free(status);

	harness_gearmand_stop(&g, 0);
	ck_assert_int_eq(g.pid, 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("harness");
	TCase *tc = tcase_create("gearmand");

	if (harness_gearmand_path() == NULL)
		gh_check_skip("gearmand not found");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_free_port);
	tcase_add_test(tc, test_gearmand_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
