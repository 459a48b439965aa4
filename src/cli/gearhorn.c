/*
 * gearhorn(1): the admin and client command line for every gearhorn program.
 *
 * Commands are rows of one table; the man page lists them in the same order.
 * Each handler builds a request, sends it, prints the reply.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "conf.h"
#include "gearhorn.h"
#include "log.h"
#include "proto.h"
#include "util.h"

extern char **environ;

typedef struct {
	const char *config_path; /* --config, or NULL */
} cli_t;

typedef struct {
	const char *name;
	const char *usage;
	const char *help;
	int (*handler)(cli_t *cli, int argc, char **argv);
} cli_cmd_t;

static int cmd_help(cli_t *, int, char **);
static int cmd_version(cli_t *, int, char **);
static int cmd_config(cli_t *, int, char **);
static int cmd_submit(cli_t *, int, char **);
static int cmd_schedule(cli_t *, int, char **);
static int cmd_unschedule(cli_t *, int, char **);
static int cmd_status(cli_t *, int, char **);
static int cmd_workers(cli_t *, int, char **);
static int cmd_queues(cli_t *, int, char **);
static int cmd_metrics(cli_t *, int, char **);
static int cmd_shutdown(cli_t *, int, char **);

static const cli_cmd_t commands[] = {
    {"help", "help [COMMAND]", "Describe the commands, or one command.", cmd_help},
    {"version", "version", "Print the versions of gearhorn and of its protocol.", cmd_version},
    {"config", "config [--keys] [SECTION]",
     "Check the configuration and print the effective values with their origins.", cmd_config},
    {"submit",
     "submit QUEUE JOB [--wait] [--guarantee] [--retries N] [--timeout N] [--ttl N] [-r EP]",
     "Send a job (EventMQ's [\"run\", {...}] JSON) to a router queue; with --wait print its "
     "result.",
     cmd_submit},
    {"schedule",
     "schedule QUEUE JOB (--every N | --cron EXPR) [--nohaste] [--count N] [--guarantee] [-r EP]",
     "Have the scheduler run a job every N seconds or at cron times.", cmd_schedule},
    {"unschedule", "unschedule JOB [-r EP]", "Remove the schedule of a job.", cmd_unschedule},
    {"status", "status [--json] [-a EP]", "Show the router's queues, jobs and counters.",
     cmd_status},
    {"workers", "workers [--json] [-a EP]", "Show the job managers connected to the router.",
     cmd_workers},
    {"queues", "queues [--json] [-a EP]",
     "Show each queue: waiting, in flight, job managers, counters, latency.", cmd_queues},
    {"metrics", "metrics [-a EP]", "Print the router's figures in Prometheus text format.",
     cmd_metrics},
    {"shutdown", "shutdown [-a EP]", "Stop the router (through its admin endpoint).", cmd_shutdown},
};

static const cli_cmd_t *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out,
	        "usage: gearhorn [-c FILE] [-h] [-V] COMMAND [ARGS]\n\n"
	        "options:\n"
	        "  -c, --config FILE  configuration file (default %s)\n"
	        "  -h, --help         show this help\n"
	        "  -V, --version      show the version\n\n"
	        "commands:\n",
	        GH_DEFAULT_CONFIG);
	for (i = 0; i < GH_ARRAY_LEN(commands); i++) {
		if (strlen(commands[i].usage) > 28)
			fprintf(out, "  %s\n  %-28s %s\n", commands[i].usage, "", commands[i].help);
		else
			fprintf(out, "  %-28s %s\n", commands[i].usage, commands[i].help);
	}
}

static int
cmd_help(cli_t *cli, int argc, char **argv)
{
	const cli_cmd_t *cmd;

	GH_UNUSED(cli);
	if (argc < 2) {
		usage(stdout);
		return EX_OK;
	}
	if ((cmd = find_command(argv[1])) == NULL) {
		fprintf(stderr, "gearhorn: unknown command \"%s\"; try gearhorn help\n", argv[1]);
		return EX_USAGE;
	}
	printf("usage: gearhorn %s\n\n%s\n", cmd->usage, cmd->help);
	return EX_OK;
}

static int
cmd_version(cli_t *cli, int argc, char **argv)
{
	GH_UNUSED(cli);
	GH_UNUSED(argv);
	if (argc > 1) {
		fprintf(stderr, "usage: gearhorn version\n");
		return EX_USAGE;
	}
	printf("gearhorn %s (protocol %s)\n", PACKAGE_VERSION, PROTO_VERSION);
	return EX_OK;
}

static int
cmd_config(cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"keys", no_argument, NULL, 'k'}, {NULL, 0, NULL, 0}};
	static const char *const sections[] = {"global",    "router", "jobmanager",
	                                       "scheduler", "fanout", "bridge"};
	const char *section = NULL;
	char err[512];
	conf_t *conf;
	int keys = 0, c;
	size_t i;

	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, "k", opts, NULL)) != -1) {
		if (c != 'k') {
			fprintf(stderr, "usage: gearhorn config [--keys] [SECTION]\n");
			return EX_USAGE;
		}
		keys = 1;
	}
	if (optind < argc)
		section = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "usage: gearhorn config [--keys] [SECTION]\n");
		return EX_USAGE;
	}
	if (section != NULL) {
		for (i = 0; i < GH_ARRAY_LEN(sections); i++)
			if (strcmp(sections[i], section) == 0)
				break;
		if (i == GH_ARRAY_LEN(sections)) {
			fprintf(stderr, "gearhorn: unknown section \"%s\"\n", section);
			return EX_USAGE;
		}
	}
	if (keys) {
		const conf_key_info_t *k;

		for (i = 0; (k = conf_key_at(i)) != NULL; i++)
			if (section == NULL || strcmp(section, k->section) == 0)
				printf("[%s] %s (%s, default \"%s\"): %s\n", k->section, k->key,
				       k->type_name, k->def, k->help);
		return EX_OK;
	}
	conf = conf_load(cli->config_path, environ, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "gearhorn: %s\n", err);
		return EX_CONFIG;
	}
	conf_dump(conf, section, stdout);
	conf_destroy(&conf);
	return EX_OK;
}

/* The endpoint a client connects to for a bound one: "*" becomes loopback. */
static char *
connect_endpoint(const char *bound)
{
	const char *star = strstr(bound, "://*:");

	if (star == NULL)
		return gh_strdup(bound);
	return gh_asprintf("%.*s://127.0.0.1:%s", (int)(star - bound), bound, star + 5);
}

/* Endpoint from a flag, else from [router] key of the configuration. Caller
 * owns the result; NULL (after a message) if the configuration is bad. */
static char *
router_endpoint(cli_t *cli, const char *flag, const char *key)
{
	char err[512];
	conf_t *conf;
	char *ep;

	if (flag != NULL)
		return gh_strdup(flag);
	conf = conf_load(cli->config_path, environ, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "gearhorn: %s\n", err);
		return NULL;
	}
	ep = connect_endpoint(conf_get(conf, "router", key));
	conf_destroy(&conf);
	return ep;
}

static int
parse_count(const char *opt, const char *s, long *out)
{
	if (gh_parse_long(s, 0, 2147483647L, out) != 0) {
		fprintf(stderr, "gearhorn: %s expects a whole number, got \"%s\"\n", opt, s);
		return -1;
	}
	return 0;
}

static int job_is_json(const char *job);
static gearhorn_client_t *connect_client(cli_t *cli, const char *router);

/* Checks the QUEUE and JOB arguments; returns 0 or the exit code. */
static int
check_queue_and_job(const char *queue, const char *job)
{
	if (!proto_valid_name(queue, strlen(queue))) {
		fprintf(stderr, "gearhorn: \"%s\" is not a valid queue name\n", queue);
		return EX_USAGE;
	}
	return job_is_json(job) ? 0 : EX_DATAERR;
}

/* Prints a failed request and returns its exit code: 69 when the router did
 * not answer in time, 1 when it refused or failed the job. */
static int
request_failed(const char *err)
{
	fprintf(stderr, "gearhorn: %s\n", err);
	return strncmp(err, "timeout:", 8) == 0 ? EX_UNAVAILABLE : 1;
}

static int
cmd_submit(cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"wait", no_argument, NULL, 'w'},          {"guarantee", no_argument, NULL, 'g'},
	    {"retries", required_argument, NULL, 'R'}, {"timeout", required_argument, NULL, 't'},
	    {"ttl", required_argument, NULL, 'T'},     {"router", required_argument, NULL, 'r'},
	    {"wait-ms", required_argument, NULL, 'W'}, {NULL, 0, NULL, 0}};
	const char *usage_text = "usage: gearhorn submit QUEUE JOB [--wait] [--guarantee] "
	                         "[--retries N] [--timeout N] [--ttl N] [-r ENDPOINT]\n";
	gearhorn_submit_opts_t o;
	gearhorn_client_t *client;
	const char *router = NULL;
	char err[512], *result = NULL;
	int c, rc;

	gearhorn_submit_opts_init(&o);
	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, "wgr:", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			o.wait = 1;
			break;
		case 'g':
			o.guarantee = 1;
			break;
		case 'R':
			if (parse_count("--retries", optarg, &o.retries) != 0)
				return EX_USAGE;
			break;
		case 't':
			if (parse_count("--timeout", optarg, &o.timeout) != 0)
				return EX_USAGE;
			break;
		case 'T':
			if (parse_count("--ttl", optarg, &o.ttl) != 0)
				return EX_USAGE;
			break;
		case 'W':
			if (parse_count("--wait-ms", optarg, &o.wait_ms) != 0)
				return EX_USAGE;
			break;
		case 'r':
			router = optarg;
			break;
		default:
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 2) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	if ((rc = check_queue_and_job(argv[optind], argv[optind + 1])) != 0)
		return rc;
	if ((client = connect_client(cli, router)) == NULL)
		return EX_UNAVAILABLE;
	rc = gearhorn_submit(client, argv[optind], argv[optind + 1], strlen(argv[optind + 1]), &o,
	                     &result, NULL, err, sizeof(err));
	gearhorn_client_destroy(&client);
	if (rc != 0)
		return request_failed(err);
	if (result != NULL)
		printf("%s\n", result);
	else
		printf("accepted\n");
	free(result);
	return EX_OK;
}

/* Checks that a job argument is JSON; prints why not. */
static int
job_is_json(const char *job)
{
	json_error_t jerr;
	json_t *j = json_loads(job, JSON_DECODE_ANY, &jerr);

	if (j == NULL) {
		fprintf(stderr, "gearhorn: JOB is not JSON: %s (column %d)\n", jerr.text,
		        jerr.column);
		return 0;
	}
	json_decref(j);
	return 1;
}

static gearhorn_client_t *
connect_client(cli_t *cli, const char *router)
{
	gearhorn_client_t *client;
	char err[512], *ep;

	if ((ep = router_endpoint(cli, router, "frontend")) == NULL)
		return NULL;
	client = gearhorn_client_new(ep, err, sizeof(err));
	free(ep);
	if (client == NULL)
		fprintf(stderr, "gearhorn: %s\n", err);
	return client;
}

static int
cmd_schedule(cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"every", required_argument, NULL, 'e'},   {"cron", required_argument, NULL, 'C'},
	    {"nohaste", no_argument, NULL, 'n'},       {"count", required_argument, NULL, 'N'},
	    {"guarantee", no_argument, NULL, 'g'},     {"router", required_argument, NULL, 'r'},
	    {"wait-ms", required_argument, NULL, 'W'}, {NULL, 0, NULL, 0}};
	const char *usage_text = "usage: gearhorn schedule QUEUE JOB (--every N | --cron EXPR) "
	                         "[--nohaste] [--count N] [--guarantee] [-r ENDPOINT]\n";
	gearhorn_schedule_opts_t o;
	gearhorn_client_t *client;
	const char *router = NULL;
	char err[512];
	int c, rc;

	gearhorn_schedule_opts_init(&o);
	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_count("--every", optarg, &o.interval) != 0 || o.interval < 1) {
				fprintf(stderr, "gearhorn: --every needs at least 1 second\n");
				return EX_USAGE;
			}
			break;
		case 'C':
			o.cron = optarg;
			break;
		case 'n':
			o.nohaste = 1;
			break;
		case 'N':
			if (parse_count("--count", optarg, &o.run_count) != 0 || o.run_count < 1) {
				fprintf(stderr, "gearhorn: --count needs at least 1\n");
				return EX_USAGE;
			}
			break;
		case 'g':
			o.guarantee = 1;
			break;
		case 'W':
			if (parse_count("--wait-ms", optarg, &o.wait_ms) != 0)
				return EX_USAGE;
			break;
		case 'r':
			router = optarg;
			break;
		default:
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 2 || (o.cron == NULL) == (o.interval < 1)) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	if ((rc = check_queue_and_job(argv[optind], argv[optind + 1])) != 0)
		return rc;
	if ((client = connect_client(cli, router)) == NULL)
		return EX_UNAVAILABLE;
	rc = gearhorn_schedule(client, argv[optind], argv[optind + 1], strlen(argv[optind + 1]), &o,
	                       err, sizeof(err));
	gearhorn_client_destroy(&client);
	if (rc != 0)
		return request_failed(err);
	printf("scheduled\n");
	return EX_OK;
}

static int
cmd_unschedule(cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"router", required_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	gearhorn_client_t *client;
	const char *router = NULL;
	char err[512];
	int c, rc;

	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		if (c != 'r') {
			fprintf(stderr, "usage: gearhorn unschedule JOB [-r ENDPOINT]\n");
			return EX_USAGE;
		}
		router = optarg;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: gearhorn unschedule JOB [-r ENDPOINT]\n");
		return EX_USAGE;
	}
	if (!job_is_json(argv[optind]))
		return EX_DATAERR;
	if ((client = connect_client(cli, router)) == NULL)
		return EX_UNAVAILABLE;
	rc = gearhorn_unschedule(client, argv[optind], strlen(argv[optind]), 0, err, sizeof(err));
	gearhorn_client_destroy(&client);
	if (rc != 0)
		return request_failed(err);
	printf("unscheduled\n");
	return EX_OK;
}

/* Parses [--json] [-a ENDPOINT] for the admin commands. */
static int
admin_options(int argc, char **argv, int allow_json, int *json, const char **admin)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"admin", required_argument, NULL, 'a'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	*json = 0;
	*admin = NULL;
	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, "a:", opts, NULL)) != -1) {
		if (c == 'j' && allow_json)
			*json = 1;
		else if (c == 'a')
			*admin = optarg;
		else
			return -1;
	}
	return optind == argc ? 0 : -1;
}

/* Runs one admin command; on success *out is the parsed JSON reply (caller
 * owns it) or NULL for commands without one. Returns an exit code. */
static int
admin_call(cli_t *cli, const char *admin, const char *command, json_t **out, char **text)
{
	char err[512], *ep, *reply = NULL;
	json_error_t jerr;

	if (out != NULL)
		*out = NULL;
	if ((ep = router_endpoint(cli, admin, "admin")) == NULL)
		return EX_CONFIG;
	if (gearhorn_admin(ep, command, 0, &reply, err, sizeof(err)) != 0) {
		fprintf(stderr, "gearhorn: %s: %s\n", command, err);
		free(ep);
		return EX_UNAVAILABLE;
	}
	free(ep);
	if (out != NULL && reply != NULL) {
		*out = json_loads(reply, 0, &jerr);
		if (*out == NULL) {
			fprintf(stderr, "gearhorn: %s: the router sent bad JSON: %s\n", command,
			        jerr.text);
			free(reply);
			return EX_PROTOCOL;
		}
	}
	if (text != NULL)
		*text = reply;
	else
		free(reply);
	return EX_OK;
}

static long
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static double
jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static void
print_queues(json_t *status)
{
	json_t *queues = json_object_get(status, "queues"), *q;
	const char *name;

	printf("%-24s %9s %9s %8s %10s %8s %8s %8s %9s %9s\n", "QUEUE", "WAITING", "INFLIGHT",
	       "WORKERS", "PROCESSED", "FAILED", "EXPIRED", "REJECTED", "P50_MS", "P99_MS");
	json_object_foreach(queues, name, q)
	{
		json_t *lat = json_object_get(q, "latency_ms");

		printf("%-24s %9ld %9ld %8ld %10ld %8ld %8ld %8ld %9.1f %9.1f\n", name,
		       jint(q, "waiting"), jint(q, "inflight"), jint(q, "workers"),
		       jint(q, "processed"), jint(q, "failed"), jint(q, "expired"),
		       jint(q, "rejected"), jnum(lat, "p50"), jnum(lat, "p99"));
	}
}

static int
admin_json_command(cli_t *cli, int argc, char **argv, const char *command, void (*print)(json_t *))
{
	const char *admin;
	char *text = NULL;
	json_t *reply;
	int json, rc;

	if (admin_options(argc, argv, 1, &json, &admin) != 0) {
		fprintf(stderr, "usage: gearhorn %s [--json] [-a ENDPOINT]\n", argv[0]);
		return EX_USAGE;
	}
	rc = admin_call(cli, admin, command, &reply, &text);
	if (rc != EX_OK)
		return rc;
	if (json)
		printf("%s\n", text != NULL ? text : "null");
	else if (reply != NULL)
		print(reply);
	json_decref(reply);
	free(text);
	return EX_OK;
}

static void
print_status(json_t *status)
{
	json_t *v;

	if ((v = json_object_get(status, "version")) != NULL && json_is_string(v))
		printf("router %s, up %.0f s\n\n", json_string_value(v), jnum(status, "uptime_s"));
	print_queues(status);
}

static void
print_workers(json_t *reply)
{
	json_t *workers = json_object_get(reply, "connected_workers"), *w, *q;
	const char *id;
	size_t i;

	printf("%-38s %6s %10s  %s\n", "JOB MANAGER", "SLOTS", "LAST_SEEN", "QUEUES (weight:name)");
	json_object_foreach(workers, id, w)
	{
		printf("%-38s %6ld %10.1f  ", id, jint(w, "available_slots"), jnum(w, "hb"));
		json_array_foreach(json_object_get(w, "queues"), i, q)
		{
			printf("%s%lld:%s", i > 0 ? "," : "",
			       (long long)json_integer_value(json_array_get(q, 0)),
			       json_string_value(json_array_get(q, 1)));
		}
		printf("\n");
	}
}

static int
cmd_status(cli_t *cli, int argc, char **argv)
{
	return admin_json_command(cli, argc, argv, "STATUS", print_status);
}

static int
cmd_workers(cli_t *cli, int argc, char **argv)
{
	return admin_json_command(cli, argc, argv, "ROUTER_SHOW_WORKERS", print_workers);
}

static void
print_queues_json(json_t *status)
{
	char *s = json_dumps(json_object_get(status, "queues"), JSON_COMPACT);

	printf("%s\n", s != NULL ? s : "{}");
	free(s);
}

static int
cmd_queues(cli_t *cli, int argc, char **argv)
{
	const char *admin;
	json_t *reply;
	int json, rc;

	if (admin_options(argc, argv, 1, &json, &admin) != 0) {
		fprintf(stderr, "usage: gearhorn queues [--json] [-a ENDPOINT]\n");
		return EX_USAGE;
	}
	rc = admin_call(cli, admin, "STATUS", &reply, NULL);
	if (rc != EX_OK)
		return rc;
	if (json)
		print_queues_json(reply);
	else
		print_queues(reply);
	json_decref(reply);
	return EX_OK;
}

/* Prometheus label values escape backslash, double quote and newline. */
static void
print_label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

static int
cmd_metrics(cli_t *cli, int argc, char **argv)
{
	static const struct {
		const char *key, *name, *type, *help;
	} gauges[] = {
	    {"waiting", "gearhorn_queue_waiting", "gauge", "Jobs waiting for a job manager."},
	    {"inflight", "gearhorn_queue_inflight", "gauge", "Jobs running on job managers."},
	    {"workers", "gearhorn_queue_workers", "gauge", "Job managers serving the queue."},
	    {"processed", "gearhorn_queue_processed_total", "counter", "Jobs finished."},
	    {"failed", "gearhorn_queue_failed_total", "counter", "Jobs reported as failed."},
	    {"expired", "gearhorn_queue_expired_total", "counter", "Jobs expired before a run."},
	    {"rejected", "gearhorn_queue_rejected_total", "counter", "Jobs refused (queue full)."},
	};
	const char *admin, *name;
	json_t *reply, *queues, *q;
	size_t i;
	int json, rc;

	if (admin_options(argc, argv, 0, &json, &admin) != 0) {
		fprintf(stderr, "usage: gearhorn metrics [-a ENDPOINT]\n");
		return EX_USAGE;
	}
	rc = admin_call(cli, admin, "STATUS", &reply, NULL);
	if (rc != EX_OK)
		return rc;
	queues = json_object_get(reply, "queues");
	for (i = 0; i < GH_ARRAY_LEN(gauges); i++) {
		printf("# HELP %s %s\n# TYPE %s %s\n", gauges[i].name, gauges[i].help,
		       gauges[i].name, gauges[i].type);
		json_object_foreach(queues, name, q)
		{
			printf("%s{queue=\"", gauges[i].name);
			print_label(name);
			printf("\"} %ld\n", jint(q, gauges[i].key));
		}
	}
	printf("# HELP gearhorn_queue_latency_ms Recent job latency by quantile.\n"
	       "# TYPE gearhorn_queue_latency_ms gauge\n");
	json_object_foreach(queues, name, q)
	{
		static const char *const qs[] = {"p50", "p90", "p99"};
		static const char *const qv[] = {"0.5", "0.9", "0.99"};
		json_t *lat = json_object_get(q, "latency_ms");

		for (i = 0; i < GH_ARRAY_LEN(qs); i++) {
			printf("gearhorn_queue_latency_ms{queue=\"");
			print_label(name);
			printf("\",quantile=\"%s\"} %g\n", qv[i], jnum(lat, qs[i]));
		}
	}
	printf("# HELP gearhorn_router_uptime_seconds Seconds since the router started.\n"
	       "# TYPE gearhorn_router_uptime_seconds gauge\n"
	       "gearhorn_router_uptime_seconds %g\n",
	       jnum(reply, "uptime_s"));
	json_decref(reply);
	return EX_OK;
}

static int
cmd_shutdown(cli_t *cli, int argc, char **argv)
{
	const char *admin;
	int json, rc;

	if (admin_options(argc, argv, 0, &json, &admin) != 0) {
		fprintf(stderr, "usage: gearhorn shutdown [-a ENDPOINT]\n");
		return EX_USAGE;
	}
	rc = admin_call(cli, admin, "DISCONNECT", NULL, NULL);
	if (rc == EX_OK)
		printf("router is shutting down\n");
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {NULL, 0, NULL, 0}};
	const cli_cmd_t *cmd;
	cli_t cli = {NULL};
	int c;

	log_open("gearhorn", LOG_LEVEL_WARN, 0);
	/* '+': stop at the command so that its own options reach it. */
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			return cmd_version(&cli, 1, argv);
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((cmd = find_command(argv[optind])) == NULL) {
		fprintf(stderr, "gearhorn: unknown command \"%s\"; try gearhorn help\n",
		        argv[optind]);
		return EX_USAGE;
	}
	c = cmd->handler(&cli, argc - optind, argv + optind);
	log_close();
	return c;
}
