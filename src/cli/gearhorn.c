/*
 * gearhorn(1): the admin and client command line for every gearhorn program.
 *
 * Commands are rows of one table; the man page lists them in the same order.
 * Each handler builds a request, sends it, prints the reply.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libgearman-1.0/gearman.h>
#include <sqlite3.h>

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
static int cmd_fanout(cli_t *, int, char **);

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
    {"fanout", "fanout VERB [ARGS] [-s HOST:PORT] [-d DATABASE]",
     "Subscribe, unsubscribe, publish, list, purge or show stats of gearhorn-fanout(8) "
     "topics.",
     cmd_fanout},
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

	printf("%-38s %6s %10s  %s\n", "JOB MANAGER", "SLOTS", "SEEN_S_AGO",
	       "QUEUES (weight:name)");
	json_object_foreach(workers, id, w)
	{
		/* hb_age is gearhorn's; an EventMQ router gives only its clock. */
		printf("%-38s %6ld %10.1f  ", id, jint(w, "available_slots"),
		       json_object_get(w, "hb_age") ? jnum(w, "hb_age") : jnum(w, "hb"));
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

/* ---- gearhorn fanout: gearhorn-fanout(8) through gearmand and its store ---- */

typedef struct {
	char **servers; /* -s, in order; NULL: [fanout] gearman_servers */
	size_t nservers;
	const char *database; /* -d, or NULL */
	long timeout_ms;
	long ttl; /* --ttl, or -1 */
	const char *unique;
	int background, json;
} fanout_opts_t;

static const char *const fanout_usage_text =
    "usage: gearhorn fanout subscribe TOPIC CLIENT [--ttl N] [-s HOST:PORT ...]\n"
    "       gearhorn fanout unsubscribe TOPIC CLIENT [-s HOST:PORT ...]\n"
    "       gearhorn fanout publish TOPIC PAYLOAD [--json] [--background] [--unique U]\n"
    "                               [-s HOST:PORT ...]\n"
    "       gearhorn fanout list [TOPIC] [--json] [-d DATABASE]\n"
    "       gearhorn fanout purge CLIENT [-d DATABASE] [-s HOST:PORT ...]\n"
    "       gearhorn fanout stats [-d DATABASE] [-s HOST:PORT ...]\n"
    "  every verb that talks to gearmand also takes --timeout-ms MS (default 30000)\n";

static int
fanout_usage(void)
{
	fputs(fanout_usage_text, stderr);
	return EX_USAGE;
}

/* Parses the options of a fanout verb; allowed lists the short names that
 * verb takes. Returns 0 or EX_USAGE (after a message). */
static int
fanout_options(int argc, char **argv, const char *allowed, fanout_opts_t *o)
{
	static const struct option opts[] = {{"server", required_argument, NULL, 's'},
	                                     {"database", required_argument, NULL, 'd'},
	                                     {"timeout-ms", required_argument, NULL, 'W'},
	                                     {"ttl", required_argument, NULL, 'T'},
	                                     {"unique", required_argument, NULL, 'u'},
	                                     {"background", no_argument, NULL, 'b'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, "s:d:", opts, NULL)) != -1) {
		if (c == '?' || strchr(allowed, c) == NULL)
			return fanout_usage();
		switch (c) {
		case 's':
			o->servers =
			    gh_realloc(o->servers, (o->nservers + 1) * sizeof(*o->servers));
			o->servers[o->nservers++] = gh_strdup(optarg);
			break;
		case 'd':
			o->database = optarg;
			break;
		case 'W':
			if (parse_count("--timeout-ms", optarg, &o->timeout_ms) != 0 ||
			    o->timeout_ms < 1)
				return EX_USAGE;
			break;
		case 'T':
			if (parse_count("--ttl", optarg, &o->ttl) != 0)
				return EX_USAGE;
			break;
		case 'u':
			o->unique = optarg;
			break;
		case 'b':
			o->background = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		default:
			return fanout_usage();
		}
	}
	return 0;
}

/* A topic or client id: not empty, no white space or control characters. */
static int
fanout_check_name(const char *what, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (*p == '\0') {
		fprintf(stderr, "gearhorn: the %s is empty\n", what);
		return EX_USAGE;
	}
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f) {
			fprintf(stderr,
			        "gearhorn: \"%s\" is not a valid %s (white space or control "
			        "characters)\n",
			        name, what);
			return EX_USAGE;
		}
	}
	return 0;
}

/* The configuration, loaded once per command; NULL after a message. */
static conf_t *
fanout_conf(cli_t *cli)
{
	char err[512];
	conf_t *conf = conf_load(cli->config_path, environ, err, sizeof(err));

	if (conf == NULL)
		fprintf(stderr, "gearhorn: %s\n", err);
	return conf;
}

/* Fills in the servers from the configuration unless -s gave some. Returns
 * 0 or an exit code. */
static int
fanout_servers(cli_t *cli, fanout_opts_t *o)
{
	conf_t *conf;
	size_t i, n;
	char **list;

	if (o->nservers > 0)
		return 0;
	if ((conf = fanout_conf(cli)) == NULL)
		return EX_CONFIG;
	list = conf_get_list(conf, "fanout", "gearman_servers", &n);
	for (i = 0; i < n; i++) {
		o->servers = gh_realloc(o->servers, (o->nservers + 1) * sizeof(*o->servers));
		o->servers[o->nservers++] = gh_strdup(list[i]);
	}
	conf_list_free(list, n);
	conf_destroy(&conf);
	if (o->nservers == 0) {
		fprintf(stderr, "gearhorn: no gearman servers (-s or [global] gearman_servers)\n");
		return EX_CONFIG;
	}
	return 0;
}

/* The database path: -d, else [fanout] database, else state_dir/fanout.db.
 * Caller owns the result; NULL after a message. */
static char *
fanout_database(cli_t *cli, const fanout_opts_t *o)
{
	const char *db;
	conf_t *conf;
	char *path;

	if (o->database != NULL)
		return gh_strdup(o->database);
	if ((conf = fanout_conf(cli)) == NULL)
		return NULL;
	db = conf_get(conf, "fanout", "database");
	if (db[0] != '\0')
		path = gh_strdup(db);
	else
		path = gh_asprintf("%s/fanout.db", conf_get(conf, "fanout", "state_dir"));
	conf_destroy(&conf);
	return path;
}

/* Opens the store read-only: no file is created and no migration runs.
 * Returns NULL after a message. */
static sqlite3 *
fanout_store_open(const char *path)
{
	sqlite3 *db = NULL;

	if (access(path, F_OK) != 0) {
		fprintf(stderr, "gearhorn: %s: no such database\n", path);
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "gearhorn: cannot open %s: %s\n", path,
		        db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static sqlite3_stmt *
fanout_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "gearhorn: %s: %s\n", sqlite3_db_filename(db, "main"),
		        sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

typedef struct {
	int done, exception, failed, warned;
	char *text; /* result, exception or warning text */
} fanout_reply_t;

static void
fanout_reply_set(fanout_reply_t *r, const void *data, size_t size)
{
	free(r->text);
	r->text = gh_malloc(size + 1);
	if (size > 0)
		memcpy(r->text, data, size);
	r->text[size] = '\0';
}

static gearman_return_t
fanout_on_complete(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);

	r->done = 1;
	fanout_reply_set(r, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
fanout_on_exception(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);
	gearman_string_t e = gearman_task_exception(task);

	r->done = r->exception = 1;
	if (e.size > 0)
		fanout_reply_set(r, e.c_str, e.size);
	else
		fanout_reply_set(r, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

/* gearhorn-fanout says why a job fails in a WORK_WARNING before its
 * WORK_FAIL (older fanout workers sent WORK_EXCEPTION). */
static gearman_return_t
fanout_on_warning(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);

	r->warned = 1;
	fanout_reply_set(r, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
fanout_on_fail(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);

	if (!r->exception)
		r->failed = 1;
	r->done = 1;
	return GEARMAN_SUCCESS;
}

/* Connects a client to every server; NULL after a message. */
static gearman_client_st *
fanout_client(const fanout_opts_t *o)
{
	gearman_client_st *c = gearman_client_create(NULL);
	char host[256], err[256] = "";
	size_t i;
	int port;

	if (c == NULL) {
		fprintf(stderr, "gearhorn: cannot create a gearman client\n");
		return NULL;
	}
	for (i = 0; i < o->nservers; i++) {
		if (conf_parse_server(o->servers[i], host, sizeof(host), &port, err, sizeof(err)) <
		        0 ||
		    gearman_client_add_server(c, host, (in_port_t)port) != GEARMAN_SUCCESS) {
			fprintf(stderr, "gearhorn: bad gearman server \"%s\"%s%s\n", o->servers[i],
			        err[0] ? ": " : "", err);
			gearman_client_free(c);
			return NULL;
		}
		err[0] = '\0';
	}
	gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);
	gearman_client_set_timeout(c, (int)o->timeout_ms);
	gearman_client_set_complete_fn(c, fanout_on_complete);
	gearman_client_set_exception_fn(c, fanout_on_exception);
	gearman_client_set_warning_fn(c, fanout_on_warning);
	gearman_client_set_fail_fn(c, fanout_on_fail);
	return c;
}

/* Runs one foreground job of fn with the JSON workload (taken). On success
 * *result is the worker's result (caller owns it). Returns 0, 1 for a job
 * that failed (its reason, from a warning or an exception, printed), 69
 * when no job server answered. */
static int
fanout_call(gearman_client_st *c, const char *fn, json_t *workload, char **result)
{
	fanout_reply_t r = {0, 0, 0, 0, NULL};
	char *text = json_dumps(workload, JSON_COMPACT);
	gearman_return_t rc;
	int status;

	json_decref(workload);
	*result = NULL;
	if (text == NULL) {
		fprintf(stderr, "gearhorn: out of memory\n");
		return EX_SOFTWARE;
	}
	if (gearman_client_add_task(c, NULL, &r, fn, NULL, text, strlen(text), &rc) == NULL) {
		fprintf(stderr, "gearhorn: %s: %s\n", fn, gearman_client_error(c));
		free(text);
		return EX_UNAVAILABLE;
	}
	rc = gearman_client_run_tasks(c);
	free(text);
	if (!r.done) {
		fprintf(stderr, "gearhorn: %s: %s\n", fn,
		        gearman_failed(rc) ? gearman_client_error(c) : "no answer");
		status = EX_UNAVAILABLE;
	} else if (r.exception || (r.failed && r.warned)) {
		printf("%s\n", r.text ? r.text : "");
		status = 1;
	} else if (r.failed) {
		fprintf(stderr, "gearhorn: %s: the job failed\n", fn);
		status = 1;
	} else {
		*result = r.text;
		return 0;
	}
	free(r.text);
	return status;
}

static json_t *
fanout_sub_json(const char *topic, const char *client)
{
	json_t *o = json_object();

	json_object_set_new(o, "topic", json_string(topic));
	json_object_set_new(o, "client_id", json_string(client));
	return o;
}

static int
fanout_subscription(cli_t *cli, fanout_opts_t *o, int argc, char **argv, int subscribe)
{
	gearman_client_st *c;
	char *result;
	json_t *w;
	int rc;

	if (argc - optind != 2)
		return fanout_usage();
	if ((rc = fanout_check_name("topic", argv[optind])) != 0 ||
	    (rc = fanout_check_name("client id", argv[optind + 1])) != 0 ||
	    (rc = fanout_servers(cli, o)) != 0)
		return rc;
	if ((c = fanout_client(o)) == NULL)
		return EX_CONFIG;
	w = fanout_sub_json(argv[optind], argv[optind + 1]);
	if (o->ttl >= 0)
		json_object_set_new(w, "ttl", json_integer(o->ttl));
	rc = fanout_call(c, subscribe ? "subscribe_fanout" : "unsubscribe_fanout", w, &result);
	gearman_client_free(c);
	free(result);
	if (rc == 0)
		printf("%s\n", subscribe ? "subscribed" : "unsubscribed");
	return rc;
}

static int
fanout_publish(cli_t *cli, fanout_opts_t *o, int argc, char **argv)
{
	gearman_client_st *c;
	json_error_t jerr;
	json_t *w, *payload;
	char *result;
	int rc;

	if (argc - optind != 2)
		return fanout_usage();
	if ((rc = fanout_check_name("topic", argv[optind])) != 0)
		return rc;
	if (o->json) {
		payload = json_loads(argv[optind + 1], JSON_DECODE_ANY, &jerr);
		if (payload == NULL) {
			fprintf(stderr, "gearhorn: PAYLOAD is not JSON: %s (column %d)\n",
			        jerr.text, jerr.column);
			return EX_DATAERR;
		}
	} else {
		payload = json_string(argv[optind + 1]);
		if (payload == NULL) {
			fprintf(stderr, "gearhorn: PAYLOAD is not UTF-8 (use --json)\n");
			return EX_DATAERR;
		}
	}
	if ((rc = fanout_servers(cli, o)) != 0 || (c = fanout_client(o)) == NULL) {
		json_decref(payload);
		return rc != 0 ? rc : EX_CONFIG;
	}
	w = json_object();
	json_object_set_new(w, "topic", json_string(argv[optind]));
	json_object_set_new(w, "payload", payload);
	if (o->background)
		json_object_set_new(w, "background", json_true());
	if (o->unique != NULL)
		json_object_set_new(w, "unique", json_string(o->unique));
	rc = fanout_call(c, "fanout", w, &result);
	gearman_client_free(c);
	if (rc == 0)
		printf("%s\n", result ? result : "");
	free(result);
	return rc;
}

static int
fanout_list(cli_t *cli, fanout_opts_t *o, int argc, char **argv)
{
	const char *topic = NULL;
	json_t *all = NULL, *subs;
	sqlite3_stmt *st;
	char *path, *s;
	sqlite3 *db;
	int rc, step;

	if (argc - optind > 1)
		return fanout_usage();
	if (argc - optind == 1) {
		topic = argv[optind];
		if ((rc = fanout_check_name("topic", topic)) != 0)
			return rc;
	}
	if ((path = fanout_database(cli, o)) == NULL)
		return EX_CONFIG;
	db = fanout_store_open(path);
	free(path);
	if (db == NULL)
		return EX_NOINPUT;
	st = fanout_prepare(db, "SELECT topic, client_id, expires_at FROM subscriber"
	                        " WHERE (expires_at IS NULL OR expires_at > ?1)"
	                        " AND (?2 IS NULL OR topic = ?2) ORDER BY topic, client_id");
	if (st == NULL) {
		sqlite3_close(db);
		return EX_DATAERR;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	if (topic != NULL)
		sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
	if (o->json)
		all = json_object();
	else
		printf("%-24s %-24s %s\n", "TOPIC", "CLIENT", "EXPIRES");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		int never = sqlite3_column_type(st, 2) == SQLITE_NULL;
		sqlite3_int64 exp = sqlite3_column_int64(st, 2);

		if (all != NULL) {
			json_t *e = json_object();

			if ((subs = json_object_get(all, t)) == NULL) {
				subs = json_array();
				json_object_set_new(all, t, subs);
			}
			json_object_set_new(e, "client_id", json_string(id));
			json_object_set_new(e, "expires_at",
			                    never ? json_null() : json_integer((json_int_t)exp));
			json_array_append_new(subs, e);
		} else if (never) {
			printf("%-24s %-24s %s\n", t, id, "never");
		} else {
			char when[32];
			time_t tt = (time_t)exp;
			struct tm tm;

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
			printf("%-24s %-24s %s\n", t, id, when);
		}
	}
	rc = EX_OK;
	if (step != SQLITE_DONE) {
		fprintf(stderr, "gearhorn: %s\n", sqlite3_errmsg(db));
		rc = EX_DATAERR;
	} else if (all != NULL) {
		s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s ? s : "{}");
		free(s);
	}
	json_decref(all);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int
fanout_purge(cli_t *cli, fanout_opts_t *o, int argc, char **argv)
{
	const char *client;
	gearman_client_st *c;
	char **topics = NULL, *path, *result;
	size_t n = 0, i;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc, step, count = 0;

	if (argc - optind != 1)
		return fanout_usage();
	client = argv[optind];
	if ((rc = fanout_check_name("client id", client)) != 0 ||
	    (rc = fanout_servers(cli, o)) != 0)
		return rc;
	if ((path = fanout_database(cli, o)) == NULL)
		return EX_CONFIG;
	db = fanout_store_open(path);
	free(path);
	if (db == NULL)
		return EX_NOINPUT;
	st = fanout_prepare(db, "SELECT topic FROM subscriber WHERE client_id = ?1 ORDER BY topic");
	if (st == NULL) {
		sqlite3_close(db);
		return EX_DATAERR;
	}
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (strcmp(t, "__matchmaking") == 0)
			continue; /* the workers' own; refused over gearman */
		topics = gh_realloc(topics, (n + 1) * sizeof(*topics));
		topics[n++] = gh_strdup(t);
	}
	if (step != SQLITE_DONE) {
		fprintf(stderr, "gearhorn: %s\n", sqlite3_errmsg(db));
		rc = EX_DATAERR;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc == 0 && n > 0) {
		if ((c = fanout_client(o)) == NULL)
			rc = EX_CONFIG;
		for (i = 0; rc == 0 && i < n; i++) {
			rc = fanout_call(c, "unsubscribe_fanout",
			                 fanout_sub_json(topics[i], client), &result);
			free(result);
			if (rc == 0)
				count++;
		}
		if (c != NULL)
			gearman_client_free(c);
	}
	for (i = 0; i < n; i++)
		free(topics[i]);
	free(topics);
	if (rc == 0)
		printf("%d\n", count);
	return rc;
}

/* Sends an admin command to a gearman server over plain TCP and returns
 * its reply up to the "." line (caller owns it), or NULL after a message. */
static char *
gearman_admin(const char *server, const char *command, long timeout_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], err[256], portstr[16], buf[4096], *reply = NULL;
	size_t len = 0;
	struct timeval tv;
	int port, fd = -1;
	ssize_t got;

	if (conf_parse_server(server, host, sizeof(host), &port, err, sizeof(err)) < 0) {
		fprintf(stderr, "gearhorn: bad gearman server \"%s\": %s\n", server, err);
		return NULL;
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, portstr, &hints, &res) != 0) {
		fprintf(stderr, "gearhorn: cannot resolve %s\n", host);
		return NULL;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "gearhorn: cannot connect to gearmand at %s: %s\n", server,
		        strerror(errno));
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s\n", command);
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		fprintf(stderr, "gearhorn: %s: %s\n", server, strerror(errno));
		close(fd);
		return NULL;
	}
	reply = gh_strdup("");
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		reply = gh_realloc(reply, len + (size_t)got + 1);
		memcpy(reply + len, buf, (size_t)got);
		len += (size_t)got;
		reply[len] = '\0';
		if (strcmp(reply, ".\n") == 0 ||
		    (len >= 3 && strcmp(reply + len - 3, "\n.\n") == 0))
			break;
	}
	close(fd);
	if (got <= 0) {
		fprintf(stderr, "gearhorn: %s: no complete answer to \"%s\"\n", server, command);
		free(reply);
		return NULL;
	}
	return reply;
}

static int
fanout_function(const char *name)
{
	static const char *const fns[] = {"subscribe_fanout", "register_fanout_subscriber",
	                                  "unsubscribe_fanout", "fanout"};
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(fns); i++)
		if (strcmp(name, fns[i]) == 0)
			return 1;
	return strncmp(name, "__matchmaking_", 14) == 0;
}

static int
fanout_stats(cli_t *cli, fanout_opts_t *o, int argc, char **argv)
{
	char *reply, *line, *save = NULL, *path;
	sqlite3_stmt *st;
	sqlite3 *db;
	size_t i;
	int rc, silent = 0;

	GH_UNUSED(argv);
	if (argc - optind != 0)
		return fanout_usage();
	if ((rc = fanout_servers(cli, o)) != 0)
		return rc;
	/* A server that does not answer is named and skipped: the others and
	 * the database are still shown, and the exit status says so. */
	for (i = 0; i < o->nservers; i++) {
		if ((reply = gearman_admin(o->servers[i], "status", o->timeout_ms)) == NULL) {
			printf("gearmand %s: no answer\n", o->servers[i]);
			silent = 1;
			continue;
		}
		printf("gearmand %s\n%-40s %8s %8s %8s\n", o->servers[i], "FUNCTION", "QUEUED",
		       "RUNNING", "WORKERS");
		for (line = strtok_r(reply, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char fn[256];
			long q, r, w;

			if (sscanf(line, "%255[^\t]\t%ld\t%ld\t%ld", fn, &q, &r, &w) == 4 &&
			    fanout_function(fn))
				printf("%-40s %8ld %8ld %8ld\n", fn, q, r, w);
		}
		free(reply);
	}
	if ((path = fanout_database(cli, o)) == NULL)
		return EX_CONFIG;
	if (access(path, F_OK) != 0) {
		printf("\ndatabase %s: absent\n", path);
		free(path);
		return silent ? EX_UNAVAILABLE : EX_OK;
	}
	db = fanout_store_open(path);
	if (db == NULL) {
		free(path);
		return EX_NOINPUT;
	}
	st = fanout_prepare(db, "SELECT count(DISTINCT topic), count(*) FROM subscriber"
	                        " WHERE expires_at IS NULL OR expires_at > ?1");
	rc = EX_DATAERR;
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		if (sqlite3_step(st) == SQLITE_ROW) {
			printf("\ndatabase %s\ntopics %lld\nsubscriptions %lld\n", path,
			       (long long)sqlite3_column_int64(st, 0),
			       (long long)sqlite3_column_int64(st, 1));
			rc = EX_OK;
		} else {
			fprintf(stderr, "gearhorn: %s: %s\n", path, sqlite3_errmsg(db));
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	free(path);
	return rc == EX_OK && silent ? EX_UNAVAILABLE : rc;
}

static int
cmd_fanout(cli_t *cli, int argc, char **argv)
{
	static const struct {
		const char *verb, *options;
		int (*run)(cli_t *, fanout_opts_t *, int, char **);
	} verbs[] = {
	    {"subscribe", "sWT", NULL},           {"unsubscribe", "sW", NULL},
	    {"publish", "sWjbu", fanout_publish}, {"list", "dj", fanout_list},
	    {"purge", "dsW", fanout_purge},       {"stats", "dsW", fanout_stats},
	};
	fanout_opts_t o;
	size_t i;
	int rc;

	if (argc < 2)
		return fanout_usage();
	for (i = 0; i < GH_ARRAY_LEN(verbs); i++)
		if (strcmp(verbs[i].verb, argv[1]) == 0)
			break;
	if (i == GH_ARRAY_LEN(verbs)) {
		fprintf(stderr, "gearhorn: unknown fanout verb \"%s\"\n", argv[1]);
		return fanout_usage();
	}
	memset(&o, 0, sizeof(o));
	o.timeout_ms = 30000;
	o.ttl = -1;
	rc = fanout_options(argc - 1, argv + 1, verbs[i].options, &o);
	if (rc == 0) {
		if (i < 2)
			rc = fanout_subscription(cli, &o, argc - 1, argv + 1, i == 0);
		else
			rc = verbs[i].run(cli, &o, argc - 1, argv + 1);
	}
	for (i = 0; i < o.nservers; i++)
		free(o.servers[i]);
	free(o.servers);
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
