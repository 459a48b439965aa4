/*
 * jobs.c: the commands that talk to the router's frontend as a client
 * (submit, schedule, unschedule): each checks its arguments, connects,
 * sends one request and prints the answer.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "gearhorn.h"
#include "proto.h"
#include "util.h"

static int cmd_submit(cli_t *cli, const cli_args_t *args);
static int cmd_schedule(cli_t *cli, const cli_args_t *args);
static int cmd_unschedule(cli_t *cli, const cli_args_t *args);

static const cli_opt_t opt_router = {'r', "router", "ENDPOINT",
                                     "the router frontends, a list tried in order (default: "
                                     "[cli] router, else [router] frontend)",
                                     0};
static const cli_opt_t opt_wait_ms = {
    0, "wait-ms", "MS", "how long to wait for the router's answers (default 10000)", 0};

static const cli_opt_t opt_wait = {
    'w', "wait", NULL, "wait for the job's result and print it (reply-requested)", CLI_OPT_LONG};
static const cli_opt_t opt_guarantee = {
    'g', "guarantee", NULL, "requeue the job if its job manager dies or loses it", CLI_OPT_LONG};
static const cli_opt_t opt_retries = {0, "retries", "N",
                                      "with --guarantee, run the job at most N more times", 0};
static const cli_opt_t opt_timeout = {0, "timeout", "SECONDS", "let the job run at most SECONDS",
                                      0};
static const cli_opt_t opt_ttl = {0, "ttl", "SECONDS",
                                  "let the job wait for a job manager at most SECONDS", 0};
static const cli_opt_t *const submit_opts[] = {
    &opt_wait, &opt_guarantee, &opt_retries, &opt_timeout,
    &opt_ttl,  &opt_wait_ms,   &opt_router,  NULL};

const cli_cmd_t cli_cmd_submit = {
    .name = "submit",
    .args = "QUEUE JOB",
    .min_args = 2,
    .max_args = 2,
    .opts = submit_opts,
    .help = "Send a job (EventMQ's [\"run\", {...}] JSON) to a router queue; with --wait print "
            "its result.",
    .exec = cmd_submit,
};

static const cli_opt_t opt_every = {0, "every", "SECONDS", "run the job every SECONDS",
                                    CLI_OPT_CHOICE};
static const cli_opt_t opt_cron = {0, "cron", "EXPRESSION",
                                   "run the job at the times of a five-field cron EXPRESSION",
                                   CLI_OPT_CHOICE};
static const cli_opt_t opt_nohaste = {0, "nohaste", NULL, "do not run the job once at once", 0};
static const cli_opt_t opt_count = {0, "count", "N", "run the job N times in all", 0};
static const cli_opt_t opt_guarantee_runs = {0, "guarantee", NULL, "send every run with guarantee",
                                             0};
static const cli_opt_t *const schedule_opts[] = {
    &opt_every,          &opt_cron,    &opt_nohaste, &opt_count,
    &opt_guarantee_runs, &opt_wait_ms, &opt_router,  NULL};

const cli_cmd_t cli_cmd_schedule = {
    .name = "schedule",
    .args = "QUEUE JOB",
    .min_args = 2,
    .max_args = 2,
    .opts = schedule_opts,
    .help = "Have the scheduler run a job every N seconds or at cron times.",
    .exec = cmd_schedule,
};

static const cli_opt_t *const unschedule_opts[] = {&opt_router, NULL};

const cli_cmd_t cli_cmd_unschedule = {
    .name = "unschedule",
    .args = "JOB",
    .min_args = 1,
    .max_args = 1,
    .opts = unschedule_opts,
    .help = "Remove the schedule of a job.",
    .exec = cmd_unschedule,
};

/* Checks that a job argument is JSON; prints why not. */
static int
job_is_json(const char *job)
{
	json_t *j = cli_json_arg("JOB", job);

	json_decref(j);
	return j != NULL;
}

/* Checks the QUEUE and JOB arguments; returns 0 or the exit code. */
static int
check_queue_and_job(const char *queue, const char *job)
{
	if (!proto_valid_name(queue, strlen(queue))) {
		cli_error("\"%s\" is not a valid queue name", queue);
		return EX_USAGE;
	}
	return job_is_json(job) ? 0 : EX_DATAERR;
}

/* A client of the router at -r, else [router] frontend, with the CURVE
 * keys of [cli]; NULL after a message. Caller owns the result. */
static gearhorn_client_t *
connect_client(cli_t *cli, const cli_args_t *args)
{
	gearhorn_client_t *client;
	gearhorn_curve_t keys;
	char err[512], *ep;

	if (cli_curve(cli, &keys) != 0)
		return NULL;
	if ((ep = cli_router_endpoint(cli, cli_arg(args, "router"), "frontend")) == NULL)
		return NULL;
	client = gearhorn_client_new_curve(ep, &keys, err, sizeof(err));
	explicit_bzero(&keys, sizeof(keys));
	free(ep);
	if (client == NULL)
		cli_error("%s", err);
	return client;
}

/* Prints a failed request and returns its exit code by the error's class
 * (rc, a gearhorn_err_t): 69 when the router did not answer in time, 1
 * otherwise (it refused or failed the job). */
static int
request_failed(int rc, const char *err)
{
	cli_error("%s", err);
	return rc == GEARHORN_ERR_TIMEOUT ? EX_UNAVAILABLE : 1;
}

static int
cmd_submit(cli_t *cli, const cli_args_t *args)
{
	const char *queue = args->argv[0], *job = args->argv[1];
	gearhorn_submit_opts_t o;
	gearhorn_client_t *client;
	char err[512], *result = NULL;
	int rc;

	gearhorn_submit_opts_init(&o);
	o.wait = cli_has(args, "wait");
	o.guarantee = cli_has(args, "guarantee");
	if (cli_arg_number(args, "retries", 0, &o.retries) != 0 ||
	    cli_arg_number(args, "timeout", 0, &o.timeout) != 0 ||
	    cli_arg_number(args, "ttl", 0, &o.ttl) != 0 ||
	    cli_arg_number(args, "wait-ms", 0, &o.wait_ms) != 0)
		return EX_USAGE;
	if ((rc = check_queue_and_job(queue, job)) != 0)
		return rc;
	if ((client = connect_client(cli, args)) == NULL)
		return EX_UNAVAILABLE;
	rc = gearhorn_submit(client, queue, job, strlen(job), &o, &result, NULL, err, sizeof(err));
	gearhorn_client_destroy(&client);
	if (rc != 0)
		return request_failed(rc, err);
	printf("%s\n", result != NULL ? result : "accepted");
	free(result);
	return EX_OK;
}

static int
cmd_schedule(cli_t *cli, const cli_args_t *args)
{
	const char *queue = args->argv[0], *job = args->argv[1];
	gearhorn_schedule_opts_t o;
	gearhorn_client_t *client;
	char err[512];
	int rc;

	gearhorn_schedule_opts_init(&o);
	o.cron = cli_arg(args, "cron");
	o.nohaste = cli_has(args, "nohaste");
	o.guarantee = cli_has(args, "guarantee");
	if (cli_arg_number(args, "every", 1, &o.interval) != 0 ||
	    cli_arg_number(args, "count", 1, &o.run_count) != 0 ||
	    cli_arg_number(args, "wait-ms", 0, &o.wait_ms) != 0)
		return EX_USAGE;
	if ((rc = check_queue_and_job(queue, job)) != 0)
		return rc;
	if ((client = connect_client(cli, args)) == NULL)
		return EX_UNAVAILABLE;
	rc = gearhorn_schedule(client, queue, job, strlen(job), &o, err, sizeof(err));
	gearhorn_client_destroy(&client);
	if (rc != 0)
		return request_failed(rc, err);
	printf("scheduled\n");
	return EX_OK;
}

static int
cmd_unschedule(cli_t *cli, const cli_args_t *args)
{
	const char *job = args->argv[0];
	gearhorn_client_t *client;
	char err[512];
	int rc;

	if (!job_is_json(job))
		return EX_DATAERR;
	if ((client = connect_client(cli, args)) == NULL)
		return EX_UNAVAILABLE;
	rc = gearhorn_unschedule(client, job, strlen(job), 0, err, sizeof(err));
	gearhorn_client_destroy(&client);
	if (rc != 0)
		return request_failed(rc, err);
	printf("unscheduled\n");
	return EX_OK;
}
