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

#include "conf.h"
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

static const cli_cmd_t commands[] = {
    {"help", "help [COMMAND]", "Describe the commands, or one command.", cmd_help},
    {"version", "version", "Print the versions of gearhorn and of its protocol.", cmd_version},
    {"config", "config [--keys] [SECTION]",
     "Check the configuration and print the effective values with their origins.", cmd_config},
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
	for (i = 0; i < GH_ARRAY_LEN(commands); i++)
		fprintf(out, "  %-28s %s\n", commands[i].usage, commands[i].help);
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

	optind = 1;
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
