/*
 * cli.h: what the files of gearhorn(1) share; private to src/cli.
 *
 * gearhorn.c is the core: main(), the command table, the configuration and
 * the router's endpoints, and the output helpers. args.c turns a command's
 * row into its getopt string, its parsed options and its usage and help
 * text. Each family of commands has a file that defines its rows and their
 * handlers: jobs.c for the router's frontend (submit, schedule, unschedule),
 * admin.c for the configuration, CURVE keys and the router's admin endpoint
 * (config, keygen, status, workers, queues, metrics, shutdown), fanout.c for
 * gearhorn-fanout(8) through gearmand and its subscriber store.
 *
 * A command is written once, in its row (tmux's cmd_entry): its name, its
 * positional arguments, its options with their argument names and help
 * lines, and its handler. The getopt string, the usage line printed on a
 * usage error and `gearhorn help COMMAND` all come from the row, and
 * man/gearhorn.1 lists the rows in the order of the table.
 *
 * Ownership: rows are static and live as long as the program. The core
 * parses argv into a cli_args_t by the row, lends it to the handler for the
 * call and frees it afterwards; every string in it is borrowed from argv.
 */
#ifndef GEARHORN_CLI_H
#define GEARHORN_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "conf.h"
#include "gearhorn.h"

/* What every handler gets besides its arguments. */
typedef struct {
	const char *config_path; /* -c/--config, or NULL; borrowed from argv */
} cli_t;

enum {
	CLI_OPT_REPEAT = 1 << 0, /* may be given again; every value is kept */
	CLI_OPT_CHOICE = 1 << 1, /* exactly one of the row's CHOICE options is
	                          * required; usage shows them as (A | B) */
	CLI_OPT_LONG = 1 << 2,   /* usage spells it --name, though -letter works */
};

/* One option of a command. */
typedef struct {
	int letter;       /* -letter, or 0 for --name only */
	const char *name; /* --name; handlers ask for the option by it */
	const char *arg;  /* name of its argument in usage ("N"), NULL for a flag */
	const char *help; /* one line for `gearhorn help COMMAND` */
	int flags;        /* CLI_OPT_* */
} cli_opt_t;

enum {
	CLI_CMD_OPTIONS_FIRST = 1 << 0, /* options end at the first argument */
};

typedef struct cli_args cli_args_t;
typedef struct cli_cmd cli_cmd_t;

/* One row of the command table. A row with verbs (fanout) has no handler of
 * its own: its first argument names one of the verbs, which are rows too. */
struct cli_cmd {
	const char *name;
	const char *args;             /* positional arguments for usage ("QUEUE JOB"), or "" */
	int min_args, max_args;       /* how many of them; max_args -1: no limit */
	const cli_opt_t *const *opts; /* NULL-terminated, or NULL: no options */
	const char *help;             /* one sentence */
	int (*exec)(cli_t *cli, const cli_args_t *args); /* returns the exit status */
	const cli_cmd_t *const *verbs;                   /* NULL-terminated, or NULL */
	int flags;                                       /* CLI_CMD_* */
};

/* A command line parsed by its row. */
struct cli_args {
	const cli_cmd_t *cmd;
	int argc;                  /* positional arguments, within the row's bounds */
	char **argv;               /* borrowed from main's argv */
	struct cli_values *values; /* one per option of cmd, in the row's order */
};

/* The rows of the command families; gearhorn.c puts them in its table. */
extern const cli_cmd_t cli_cmd_submit, cli_cmd_schedule, cli_cmd_unschedule; /* jobs.c */
extern const cli_cmd_t cli_cmd_config, cli_cmd_keygen, cli_cmd_status, cli_cmd_workers,
    cli_cmd_queues, cli_cmd_metrics, cli_cmd_shutdown; /* admin.c */
extern const cli_cmd_t cli_cmd_fanout;                 /* fanout.c */

/* ---- args.c: rows to options, usage and help ---- */

/* Parses argv (argv[0] is the command's name) by cmd's options, then checks
 * the number of positional arguments and the CHOICE options. argv is
 * borrowed and may be permuted, as getopt_long does. Returns 0 with *args
 * filled (the caller frees it with cli_args_free), or -1 with nothing to
 * free: a bad option (getopt has named it) or arguments the row does not
 * allow; the caller prints the usage. */
int cli_args_parse(const cli_cmd_t *cmd, int argc, char **argv, cli_args_t *args);

/* Frees what cli_args_parse allocated in args. */
void cli_args_free(cli_args_t *args);

/* The last value given for option name: its argument, "" for a flag; NULL
 * if it was not given or cmd has no such option. Borrowed from argv. */
const char *cli_arg(const cli_args_t *args, const char *name);

/* Whether option name was given. */
int cli_has(const cli_args_t *args, const char *name);

/* Every value given for option name, in order; *n is how many. The array
 * is borrowed, valid until cli_args_free. */
const char *const *cli_arg_all(const cli_args_t *args, const char *name, size_t *n);

/* Parses the value of option name as a whole number of at least min into
 * *out; leaves *out alone if the option was not given. Returns 0, or -1
 * after a message naming the option. */
int cli_arg_number(const cli_args_t *args, const char *name, long min, long *out);

/* Prints "usage: LEAD NAME ..." for cmd, or a line for each of its verbs,
 * wrapped at 80 columns. lead is what comes before the name ("gearhorn",
 * "gearhorn fanout"), NULL for the program's own row. */
void cli_usage(FILE *out, const char *lead, const cli_cmd_t *cmd);

/* Prints the usage, the help sentence, the options with their help lines
 * and the verbs of cmd (under title, "commands" or "verbs"). */
void cli_help(FILE *out, const char *lead, const cli_cmd_t *cmd, const char *title);

/* ---- gearhorn.c: shared by the command families ---- */

/* Prints "gearhorn: MESSAGE" and a newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loads the configuration (-c, else GEARHORN_CONFIG, else the default
 * file) with the environment's overrides, as the daemons do
 * (startup_conf_file). Caller owns the result; NULL after a message. */
conf_t *cli_conf(cli_t *cli);

/* The router endpoints to connect to (a comma-separated list): flag if
 * given, else [cli] router (key "frontend") or [cli] admin (key "admin"),
 * else key of [router] in the configuration, with a bound "*" turned into
 * loopback. Caller owns
 * the result; NULL after a message if the configuration is bad. */
char *cli_router_endpoint(cli_t *cli, const char *flag, const char *key);

/* The CURVE keys of [cli] curve_secret_key and curve_server_key into keys
 * (cleared when neither is set: no CURVE). Returns 0, or -1 after a
 * message (a key file that cannot be read, a secret key file that group
 * or others may read). */
int cli_curve(cli_t *cli, gearhorn_curve_t *keys);

/* Decodes text, the argument called what, as any JSON value. Caller owns
 * the result; NULL after "WHAT is not JSON: REASON (column N)". */
json_t *cli_json_arg(const char *what, const char *text);

/* Prints j as one line of JSON with json_dumps flags, or {} if it cannot
 * be encoded. j is borrowed. */
void cli_print_json(const json_t *j, size_t flags);

#endif
