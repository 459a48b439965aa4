/*
 * admin.c: the configuration, CURVE keys and the router's admin endpoint
 * (config, keygen, status, workers, queues, metrics, shutdown). The router's commands send
 * one admin request each and print its JSON reply as a table, as JSON or
 * in Prometheus text format.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "client_int.h"
#include "curve.h"
#include "gearhorn.h"
#include "util.h"

static int cmd_config(cli_t *cli, const cli_args_t *args);
static int cmd_keygen(cli_t *cli, const cli_args_t *args);
static int cmd_status(cli_t *cli, const cli_args_t *args);
static int cmd_workers(cli_t *cli, const cli_args_t *args);
static int cmd_queues(cli_t *cli, const cli_args_t *args);
static int cmd_metrics(cli_t *cli, const cli_args_t *args);
static int cmd_shutdown(cli_t *cli, const cli_args_t *args);

static const cli_opt_t opt_keys = {
    'k', "keys", NULL, "list every known key with its type, default and meaning", CLI_OPT_LONG};
static const cli_opt_t *const config_opts[] = {&opt_keys, NULL};

const cli_cmd_t cli_cmd_config = {
    .name = "config",
    .args = "[SECTION]",
    .max_args = 1,
    .opts = config_opts,
    .help = "Check the configuration and print the effective values with their origins.",
    .exec = cmd_config,
};

const cli_cmd_t cli_cmd_keygen = {
    .name = "keygen",
    .args = "PATH",
    .min_args = 1,
    .max_args = 1,
    .help = "Write a new CURVE key pair: the public key to PATH, the pair to PATH_secret.",
    .exec = cmd_keygen,
};

static const cli_opt_t opt_admin = {'a', "admin", "ENDPOINT",
                                    "the router admin endpoints, the first that answers is asked "
                                    "(default: [cli] admin, else [router] admin)",
                                    0};
static const cli_opt_t opt_json = {0, "json", NULL, "print the router's JSON", 0};
static const cli_opt_t *const json_admin_opts[] = {&opt_json, &opt_admin, NULL};
static const cli_opt_t *const admin_opts[] = {&opt_admin, NULL};

const cli_cmd_t cli_cmd_status = {
    .name = "status",
    .opts = json_admin_opts,
    .help = "Show the router's queues, jobs and counters.",
    .exec = cmd_status,
};

const cli_cmd_t cli_cmd_workers = {
    .name = "workers",
    .opts = json_admin_opts,
    .help = "Show the job managers connected to the router.",
    .exec = cmd_workers,
};

const cli_cmd_t cli_cmd_queues = {
    .name = "queues",
    .opts = json_admin_opts,
    .help = "Show each queue: waiting, in flight, job managers, counters, latency.",
    .exec = cmd_queues,
};

const cli_cmd_t cli_cmd_metrics = {
    .name = "metrics",
    .opts = admin_opts,
    .help = "Print the router's figures in Prometheus text format.",
    .exec = cmd_metrics,
};

const cli_cmd_t cli_cmd_shutdown = {
    .name = "shutdown",
    .opts = admin_opts,
    .help = "Stop the router (through its admin endpoint).",
    .exec = cmd_shutdown,
};

/* Whether the configuration has a section called name. */
static int
known_section(const char *name)
{
	const conf_key_info_t *k;
	size_t i;

	for (i = 0; (k = conf_key_at(i)) != NULL; i++)
		if (strcmp(k->section, name) == 0)
			return 1;
	return 0;
}

static int
cmd_config(cli_t *cli, const cli_args_t *args)
{
	const char *section = args->argc > 0 ? args->argv[0] : NULL;
	const conf_key_info_t *k;
	conf_t *conf;
	size_t i;

	if (section != NULL && !known_section(section)) {
		cli_error("unknown section \"%s\"", section);
		return EX_USAGE;
	}
	if (cli_has(args, "keys")) {
		for (i = 0; (k = conf_key_at(i)) != NULL; i++)
			if (section == NULL || strcmp(section, k->section) == 0)
				printf("[%s] %s (%s, default \"%s\"): %s\n", k->section, k->key,
				       k->type_name, k->def, k->help);
		return EX_OK;
	}
	if ((conf = cli_conf(cli)) == NULL)
		return EX_CONFIG;
	conf_dump(conf, section, stdout);
	conf_destroy(&conf);
	return EX_OK;
}

static int
cmd_keygen(cli_t *cli, const cli_args_t *args)
{
	char err[1024], pub[CURVE_KEY_LEN + 1];

	GH_UNUSED(cli);
	if (!curve_available()) {
		cli_error("keygen: this libzmq has no CURVE (it was built without libsodium)");
		return EX_UNAVAILABLE;
	}
	if (curve_keygen(args->argv[0], pub, err, sizeof(err)) != 0) {
		cli_error("keygen: %s", err);
		return EX_CANTCREAT;
	}
	printf("%s\n", pub);
	return EX_OK;
}

/* Sends one admin command to -a, else [router] admin, with the CURVE keys
 * of [cli]. On success *json is
 * the parsed reply (if json is not NULL) and *text the reply as it came
 * (if text is not NULL), either NULL for a command without a reply; the
 * caller owns both. show: with several endpoints, print which router
 * answered. Returns an exit status, after a message if not 0. */
static int
admin_call(cli_t *cli, const cli_args_t *args, const char *command, int show, json_t **json,
           char **text)
{
	char err[512], *ep, *reply = NULL, *answered = NULL;
	gearhorn_curve_t keys;
	json_error_t jerr;
	int rc;

	if (json != NULL)
		*json = NULL;
	if (cli_curve(cli, &keys) != 0 ||
	    (ep = cli_router_endpoint(cli, cli_arg(args, "admin"), "admin")) == NULL)
		return EX_CONFIG;
	rc = client_admin(ep, &keys, command, 0, &reply, &answered, err, sizeof(err));
	explicit_bzero(&keys, sizeof(keys));
	/* With several routers, say which one answered (not in JSON or the
	 * Prometheus text, which must stay as the router sent them). */
	if (rc == 0 && show && answered != NULL && strchr(ep, ',') != NULL &&
	    !cli_has(args, "json"))
		printf("router at %s\n", answered);
	free(answered);
	free(ep);
	if (rc != 0) {
		cli_error("%s: %s", command, err);
		return EX_UNAVAILABLE;
	}
	if (json != NULL && reply != NULL && (*json = json_loads(reply, 0, &jerr)) == NULL) {
		cli_error("%s: the router sent bad JSON: %s", command, jerr.text);
		free(reply);
		return EX_PROTOCOL;
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

/* Runs an admin command and prints its reply as it came (--json) or as
 * print has it. */
static int
admin_json_command(cli_t *cli, const cli_args_t *args, const char *command, void (*print)(json_t *))
{
	char *text = NULL;
	json_t *reply;
	int rc;

	if ((rc = admin_call(cli, args, command, 1, &reply, &text)) != EX_OK)
		return rc;
	if (cli_has(args, "json"))
		printf("%s\n", text != NULL ? text : "null");
	else if (reply != NULL)
		print(reply);
	json_decref(reply);
	free(text);
	return EX_OK;
}

static int
cmd_status(cli_t *cli, const cli_args_t *args)
{
	return admin_json_command(cli, args, "STATUS", print_status);
}

static int
cmd_workers(cli_t *cli, const cli_args_t *args)
{
	return admin_json_command(cli, args, "ROUTER_SHOW_WORKERS", print_workers);
}

static int
cmd_queues(cli_t *cli, const cli_args_t *args)
{
	json_t *reply;
	int rc;

	if ((rc = admin_call(cli, args, "STATUS", 1, &reply, NULL)) != EX_OK)
		return rc;
	if (cli_has(args, "json"))
		cli_print_json(json_object_get(reply, "queues"), JSON_COMPACT);
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

/* The per-queue counters and gauges, one family after another. */
static void
print_queue_metrics(json_t *queues)
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
	const char *name;
	json_t *q;
	size_t i;

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
}

/* The latency quantiles of every queue. */
static void
print_latency_metrics(json_t *queues)
{
	static const char *const qs[] = {"p50", "p90", "p99"};
	static const char *const qv[] = {"0.5", "0.9", "0.99"};
	const char *name;
	json_t *q;
	size_t i;

	printf("# HELP gearhorn_queue_latency_ms Recent job latency by quantile.\n"
	       "# TYPE gearhorn_queue_latency_ms gauge\n");
	json_object_foreach(queues, name, q)
	{
		json_t *lat = json_object_get(q, "latency_ms");

		for (i = 0; i < GH_ARRAY_LEN(qs); i++) {
			printf("gearhorn_queue_latency_ms{queue=\"");
			print_label(name);
			printf("\",quantile=\"%s\"} %g\n", qv[i], jnum(lat, qs[i]));
		}
	}
}

static int
cmd_metrics(cli_t *cli, const cli_args_t *args)
{
	json_t *reply;
	int rc;

	if ((rc = admin_call(cli, args, "STATUS", 0, &reply, NULL)) != EX_OK)
		return rc;
	print_queue_metrics(json_object_get(reply, "queues"));
	print_latency_metrics(json_object_get(reply, "queues"));
	printf("# HELP gearhorn_router_uptime_seconds Seconds since the router started.\n"
	       "# TYPE gearhorn_router_uptime_seconds gauge\n"
	       "gearhorn_router_uptime_seconds %g\n",
	       jnum(reply, "uptime_s"));
	json_decref(reply);
	return EX_OK;
}

static int
cmd_shutdown(cli_t *cli, const cli_args_t *args)
{
	int rc = admin_call(cli, args, "DISCONNECT", 0, NULL, NULL);

	if (rc == EX_OK)
		printf("router is shutting down\n");
	return rc;
}
