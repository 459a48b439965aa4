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
#include <libpq-fe.h>

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

/* A private PostgreSQL cluster starts, answers a query over its Unix
 * socket, and is gone once stopped by the postmaster's pid. */
START_TEST(test_pg_round_trip)
{
	harness_pg_t pg;
	PGconn *conn;
	PGresult *res;
	pid_t pid;
	int rc = harness_pg_start(&pg);

	ck_assert_int_eq(rc, 0);
	ck_assert_int_gt(pg.pid, 0);
	pid = pg.pid;
	conn = PQconnectdb(pg.uri);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s", PQerrorMessage(conn));
	res = PQexec(conn, "SELECT 40 + 2");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "42");
	PQclear(res);
	PQfinish(conn);

	harness_pg_stop(&pg, 0);
	ck_assert_int_eq(pg.pid, 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("harness");
	TCase *tc = tcase_create("gearmand");
	TCase *pg = tcase_create("postgresql");

	if (harness_gearmand_path() == NULL && harness_pg_bindir() == NULL)
		gh_check_skip("neither gearmand nor PostgreSQL found");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_free_port);
	if (harness_gearmand_path() != NULL)
		tcase_add_test(tc, test_gearmand_round_trip);
	suite_add_tcase(s, tc);
	if (harness_pg_bindir() != NULL) {
		tcase_set_timeout(pg, 120);
		tcase_add_test(pg, test_pg_round_trip);
		suite_add_tcase(s, pg);
	}
	return s;
}
