/*
 * gearhorn(1): the admin and client command line for every gearhorn program.
 *
 * The core: main(), the command table, running a row, and what the command
 * families share (the configuration, the router's endpoints, output). The
 * rows and their handlers are in jobs.c, admin.c and fanout.c; args.c turns
 * a row into options and usage (see cli.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "log.h"
#include "startup.h"
#include "util.h"

static int cmd_help(cli_t *cli, const cli_args_t *args);
static int cmd_version(cli_t *cli, const cli_args_t *args);

static const cli_cmd_t help_cmd = {
    .name = "help",
    .args = "[COMMAND [VERB]]",
    .max_args = 2,
    .help = "Describe the commands, or one command.",
    .exec = cmd_help,
};

static const cli_cmd_t version_cmd = {
    .name = "version",
    .help = "Print the versions of gearhorn and of its protocol.",
    .exec = cmd_version,
};

/* The command table; man/gearhorn.1 lists the commands in this order. */
static const cli_cmd_t *const commands[] = {
    &help_cmd,           &version_cmd,
    &cli_cmd_config,     &cli_cmd_keygen,
    &cli_cmd_submit,     &cli_cmd_schedule,
    &cli_cmd_unschedule, &cli_cmd_status,
    &cli_cmd_workers,    &cli_cmd_queues,
    &cli_cmd_metrics,    &cli_cmd_shutdown,
    &cli_cmd_fanout,     NULL,
};

static const cli_opt_t opt_config = {'c', "config", "FILE",
                                     "configuration file (default " GH_DEFAULT_CONFIG ")", 0};
static const cli_opt_t opt_help = {'h', "help", NULL, "show this help", 0};
static const cli_opt_t opt_version = {'V', "version", NULL, "show the version", 0};
static const cli_opt_t *const main_opts[] = {&opt_config, &opt_help, &opt_version, NULL};

/* The program's own row: its options come before the command. */
static const cli_cmd_t main_cmd = {
    .name = "gearhorn",
    .args = "COMMAND [ARGS]",
    .max_args = -1,
    .opts = main_opts,
    .verbs = commands,
    .flags = CLI_CMD_OPTIONS_FIRST,
};

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gearhorn: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

conf_t *
cli_conf(cli_t *cli)
{
	gh_error_t e;
	conf_t *conf = startup_conf_file(cli->config_path, &e);

	if (conf == NULL)
		cli_error("%s", e.text);
	return conf;
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

char *
cli_router_endpoint(cli_t *cli, const char *flag, const char *key)
{
	conf_t *conf;
	const char *v;
	char *ep;

	if (flag != NULL)
		return gh_strdup(flag);
	if ((conf = cli_conf(cli)) == NULL)
		return NULL;
	/* [cli] router or admin: the routers of a client on another host. */
	v = conf_get(conf, "cli", strcmp(key, "frontend") == 0 ? "router" : key);
	ep = *v != '\0' ? gh_strdup(v) : connect_endpoint(conf_get(conf, "router", key));
	conf_destroy(&conf);
	return ep;
}

int
cli_curve(cli_t *cli, gearhorn_curve_t *keys)
{
	conf_t *conf;
	gh_error_t e;
	int rc;

	if ((conf = cli_conf(cli)) == NULL)
		return -1;
	if ((rc = startup_curve(conf, "cli", keys, &e)) != 0)
		cli_error("%s", e.text);
	conf_destroy(&conf);
	return rc;
}

json_t *
cli_json_arg(const char *what, const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (j == NULL)
		cli_error("%s is not JSON: %s (column %d)", what, jerr.text, jerr.column);
	return j;
}

void
cli_print_json(const json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags);

	printf("%s\n", s != NULL ? s : "{}");
	free(s);
}

/* The row among parent's verbs (the commands, for the program's own row)
 * called name; NULL after a message. */
static const cli_cmd_t *
find_verb(const cli_cmd_t *parent, const char *name)
{
	size_t i;

	for (i = 0; parent->verbs != NULL && parent->verbs[i] != NULL; i++)
		if (strcmp(parent->verbs[i]->name, name) == 0)
			return parent->verbs[i];
	if (parent == &main_cmd)
		cli_error("unknown command \"%s\"; try gearhorn help", name);
	else
		cli_error("unknown %s verb \"%s\"", parent->name, name);
	return NULL;
}

/* Prints the program's help on out and returns status. */
static int
main_help(FILE *out, int status)
{
	cli_help(out, NULL, &main_cmd, "commands");
	return status;
}

static int run(cli_t *cli, const char *lead, const cli_cmd_t *cmd, int argc, char **argv);

/* Runs the verb of cmd that argv[1] names. */
static int
run_verb(cli_t *cli, const char *lead, const cli_cmd_t *cmd, int argc, char **argv)
{
	const cli_cmd_t *verb = argc > 1 ? find_verb(cmd, argv[1]) : NULL;
	char *sub;
	int rc;

	if (verb == NULL) {
		cli_usage(stderr, lead, cmd);
		return EX_USAGE;
	}
	sub = gh_asprintf("%s %s", lead, cmd->name);
	rc = run(cli, sub, verb, argc - 1, argv + 1);
	free(sub);
	return rc;
}

/* Runs cmd with argv (argv[0] is its name): the verb it names, or its
 * handler with the arguments its row allows. Returns the exit status. */
static int
run(cli_t *cli, const char *lead, const cli_cmd_t *cmd, int argc, char **argv)
{
	cli_args_t args;
	int rc;

	if (cmd->verbs != NULL)
		return run_verb(cli, lead, cmd, argc, argv);
	if (cli_args_parse(cmd, argc, argv, &args) != 0) {
		cli_usage(stderr, lead, cmd);
		return EX_USAGE;
	}
	rc = cmd->exec(cli, &args);
	cli_args_free(&args);
	return rc;
}

static int
print_version(void)
{
	startup_print_version(stdout, "gearhorn");
	return EX_OK;
}

static int
cmd_version(cli_t *cli, const cli_args_t *args)
{
	GH_UNUSED(cli);
	GH_UNUSED(args);
	return print_version();
}

static int
cmd_help(cli_t *cli, const cli_args_t *args)
{
	const cli_cmd_t *cmd, *verb;
	char *lead;

	GH_UNUSED(cli);
	if (args->argc == 0)
		return main_help(stdout, EX_OK);
	if ((cmd = find_verb(&main_cmd, args->argv[0])) == NULL)
		return EX_USAGE;
	if (args->argc == 1) {
		cli_help(stdout, "gearhorn", cmd, "verbs");
		return EX_OK;
	}
	if ((verb = find_verb(cmd, args->argv[1])) == NULL)
		return EX_USAGE;
	lead = gh_asprintf("gearhorn %s", cmd->name);
	cli_help(stdout, lead, verb, "verbs");
	free(lead);
	return EX_OK;
}

/* Runs what the program's own options and the command ask for. */
static int
run_main(cli_t *cli, const cli_args_t *top)
{
	const cli_cmd_t *cmd;

	if (cli_has(top, "help"))
		return main_help(stdout, EX_OK);
	if (cli_has(top, "version"))
		return print_version();
	if (top->argc == 0)
		return main_help(stderr, EX_USAGE);
	if ((cmd = find_verb(&main_cmd, top->argv[0])) == NULL)
		return EX_USAGE;
	return run(cli, "gearhorn", cmd, top->argc, top->argv);
}

int
main(int argc, char **argv)
{
	cli_t cli = {NULL};
	cli_args_t top;
	int rc;

	log_open("gearhorn", LOG_LEVEL_WARN, 0);
	if (cli_args_parse(&main_cmd, argc, argv, &top) != 0)
		return main_help(stderr, EX_USAGE);
	cli.config_path = cli_arg(&top, "config");
	rc = run_main(&cli, &top);
	cli_args_free(&top);
	log_close();
	return rc;
}
