/*
 * args.c: a command's row turned into its getopt string, its parsed
 * options and its usage and help text (see cli.h).
 */
#include "config.h"

#include <assert.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

#define CLI_MAX_OPTS    16
#define CLI_WIDTH       80 /* usage lines wrap before this column */
#define CLI_ENTRY_WIDTH 28 /* a command up to this long has its help beside it */

/* The values given for one option, borrowed from argv. */
struct cli_values {
	const char **v;
	size_t n;
};

static size_t
count_opts(const cli_cmd_t *cmd)
{
	size_t n = 0;

	if (cmd->opts != NULL)
		while (cmd->opts[n] != NULL)
			n++;
	assert(n <= CLI_MAX_OPTS);
	return n;
}

/* What getopt_long returns for option i of a row: its letter, else 256 + i. */
static int
opt_key(const cli_opt_t *o, size_t i)
{
	return o->letter != 0 ? o->letter : 256 + (int)i;
}

/* The index of the option getopt_long returned key for, or -1. */
static int
opt_index(const cli_cmd_t *cmd, int key)
{
	size_t i, n = count_opts(cmd);

	for (i = 0; i < n; i++)
		if (opt_key(cmd->opts[i], i) == key)
			return (int)i;
	return -1;
}

/* Fills shorts (the getopt string) and longs (ending with a row of zeros)
 * from the options of cmd. */
static void
getopt_spec(const cli_cmd_t *cmd, char *shorts, struct option *longs)
{
	size_t i, n = count_opts(cmd);

	if (cmd->flags & CLI_CMD_OPTIONS_FIRST)
		*shorts++ = '+';
	for (i = 0; i < n; i++) {
		const cli_opt_t *o = cmd->opts[i];

		if (o->letter != 0) {
			*shorts++ = (char)o->letter;
			if (o->arg != NULL)
				*shorts++ = ':';
		}
		longs[i].name = o->name;
		longs[i].has_arg = o->arg != NULL ? required_argument : no_argument;
		longs[i].flag = NULL;
		longs[i].val = opt_key(o, i);
	}
	*shorts = '\0';
	memset(&longs[n], 0, sizeof(longs[n]));
}

/* Whether exactly one of the CHOICE options, if the row has any, was given. */
static int
choice_ok(const cli_args_t *args)
{
	size_t i, n = count_opts(args->cmd), choices = 0, given = 0;

	for (i = 0; i < n; i++) {
		if (args->cmd->opts[i]->flags & CLI_OPT_CHOICE) {
			choices++;
			given += args->values[i].n > 0;
		}
	}
	return choices == 0 || given == 1;
}

int
cli_args_parse(const cli_cmd_t *cmd, int argc, char **argv, cli_args_t *args)
{
	struct option longs[CLI_MAX_OPTS + 1];
	char shorts[2 * CLI_MAX_OPTS + 2];
	struct cli_values *v;
	int c, i;

	memset(args, 0, sizeof(*args));
	args->cmd = cmd;
	args->values = gh_calloc(count_opts(cmd) + 1, sizeof(*args->values));
	getopt_spec(cmd, shorts, longs);
	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if ((i = opt_index(cmd, c)) < 0)
			goto fail;
		v = &args->values[i];
		v->v = gh_realloc(v->v, (v->n + 1) * sizeof(*v->v));
		v->v[v->n++] = optarg != NULL ? optarg : "";
	}
	args->argc = argc - optind;
	args->argv = argv + optind;
	if (args->argc < cmd->min_args || (cmd->max_args >= 0 && args->argc > cmd->max_args) ||
	    !choice_ok(args))
		goto fail;
	return 0;
fail:
	cli_args_free(args);
	return -1;
}

void
cli_args_free(cli_args_t *args)
{
	size_t i, n;

	if (args->values == NULL)
		return;
	n = count_opts(args->cmd);
	for (i = 0; i < n; i++)
		free(args->values[i].v);
	free(args->values);
	args->values = NULL;
}

/* The values of option name, or NULL if the row has no such option. */
static const struct cli_values *
values_of(const cli_args_t *args, const char *name)
{
	size_t i, n = count_opts(args->cmd);

	for (i = 0; i < n; i++)
		if (strcmp(args->cmd->opts[i]->name, name) == 0)
			return &args->values[i];
	return NULL;
}

const char *
cli_arg(const cli_args_t *args, const char *name)
{
	const struct cli_values *v = values_of(args, name);

	return v != NULL && v->n > 0 ? v->v[v->n - 1] : NULL;
}

int
cli_has(const cli_args_t *args, const char *name)
{
	return cli_arg(args, name) != NULL;
}

const char *const *
cli_arg_all(const cli_args_t *args, const char *name, size_t *n)
{
	const struct cli_values *v = values_of(args, name);

	*n = v != NULL ? v->n : 0;
	return v != NULL ? v->v : NULL;
}

int
cli_arg_number(const cli_args_t *args, const char *name, long min, long *out)
{
	const char *s = cli_arg(args, name);
	long v;

	if (s == NULL)
		return 0;
	if (gh_parse_long(s, 0, 2147483647L, &v) != 0) {
		cli_error("--%s expects a whole number, got \"%s\"", name, s);
		return -1;
	}
	if (v < min) {
		cli_error("--%s needs at least %ld", name, min);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- usage and help ---- */

/* The words of a usage line, each owned. */
typedef struct {
	char *w[CLI_MAX_OPTS + 4];
	size_t n;
} words_t;

static void
words_add(words_t *w, char *word)
{
	assert(w->n < GH_ARRAY_LEN(w->w));
	w->w[w->n++] = word;
}

static void
words_free(words_t *w)
{
	while (w->n > 0)
		free(w->w[--w->n]);
}

/* How usage spells o: "-r ENDPOINT", "--ttl SECONDS", "--wait". Caller owns
 * the result. */
static char *
opt_spelling(const cli_opt_t *o)
{
	const char *sep = o->arg != NULL ? " " : "", *arg = o->arg != NULL ? o->arg : "";

	if (o->letter != 0 && !(o->flags & CLI_OPT_LONG))
		return gh_asprintf("-%c%s%s", o->letter, sep, arg);
	return gh_asprintf("--%s%s%s", o->name, sep, arg);
}

/* Adds the CHOICE options of cmd as one word, "(--every N | --cron EXPR)". */
static void
words_add_choice(words_t *w, const cli_cmd_t *cmd)
{
	size_t i, n = count_opts(cmd);
	char *group = NULL, *s, *t;

	for (i = 0; i < n; i++) {
		if (!(cmd->opts[i]->flags & CLI_OPT_CHOICE))
			continue;
		s = opt_spelling(cmd->opts[i]);
		t = group != NULL ? gh_asprintf("%s | %s", group, s) : gh_strdup(s);
		free(group);
		free(s);
		group = t;
	}
	if (group != NULL)
		words_add(w, gh_asprintf("(%s)", group));
	free(group);
}

/* Adds the other options of cmd, each as "[-s SERVER ...]". */
static void
words_add_options(words_t *w, const cli_cmd_t *cmd)
{
	size_t i, n = count_opts(cmd);
	char *s;

	for (i = 0; i < n; i++) {
		if (cmd->opts[i]->flags & CLI_OPT_CHOICE)
			continue;
		s = opt_spelling(cmd->opts[i]);
		words_add(w, gh_asprintf("[%s%s]", s,
		                         (cmd->opts[i]->flags & CLI_OPT_REPEAT) ? " ..." : ""));
		free(s);
	}
}

/* The words of cmd's usage: its name, its arguments and its options. */
static void
words_of(const cli_cmd_t *cmd, words_t *w)
{
	w->n = 0;
	words_add(w, gh_strdup(cmd->name));
	if (cmd->flags & CLI_CMD_OPTIONS_FIRST)
		words_add_options(w, cmd);
	if (cmd->args != NULL && cmd->args[0] != '\0')
		words_add(w, gh_strdup(cmd->args));
	words_add_choice(w, cmd);
	if (!(cmd->flags & CLI_CMD_OPTIONS_FIRST))
		words_add_options(w, cmd);
}

/* The words joined by spaces. Caller owns the result. */
static char *
words_join(const words_t *w)
{
	char *line = gh_strdup(w->w[0]), *t;
	size_t i;

	for (i = 1; i < w->n; i++) {
		t = gh_asprintf("%s %s", line, w->w[i]);
		free(line);
		line = t;
	}
	return line;
}

/* Prints first and the words, wrapping before CLI_WIDTH; a continued line
 * starts under the second word. Ends with a newline. */
static void
words_print(FILE *out, const char *first, const words_t *w)
{
	size_t i, col, indent, len;

	fputs(first, out);
	fputs(w->w[0], out);
	col = strlen(first) + strlen(w->w[0]);
	indent = col + 1;
	for (i = 1; i < w->n; i++) {
		len = strlen(w->w[i]);
		if (col + 1 + len >= CLI_WIDTH) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', out);
			col++;
		}
		fputs(w->w[i], out);
		col += len;
	}
	fputc('\n', out);
}

/* Prints prefix, then lead and cmd's usage. */
static void
usage_line(FILE *out, const char *prefix, const char *lead, const cli_cmd_t *cmd)
{
	char *first = gh_asprintf("%s%s%s", prefix, lead != NULL ? lead : "", lead ? " " : "");
	words_t w;

	words_of(cmd, &w);
	words_print(out, first, &w);
	words_free(&w);
	free(first);
}

void
cli_usage(FILE *out, const char *lead, const cli_cmd_t *cmd)
{
	char *sub;
	size_t i;

	if (cmd->verbs == NULL) {
		usage_line(out, "usage: ", lead, cmd);
		return;
	}
	sub = gh_asprintf("%s%s%s", lead != NULL ? lead : "", lead ? " " : "", cmd->name);
	for (i = 0; cmd->verbs[i] != NULL; i++)
		usage_line(out, i == 0 ? "usage: " : "       ", sub, cmd->verbs[i]);
	free(sub);
}

/* Prints one command of a list: its usage, and its help beside it or on the
 * next line. */
static void
print_entry(FILE *out, const cli_cmd_t *cmd)
{
	char *line;
	words_t w;

	words_of(cmd, &w);
	line = words_join(&w);
	if (strlen(line) <= CLI_ENTRY_WIDTH) {
		fprintf(out, "  %-*s %s\n", CLI_ENTRY_WIDTH, line, cmd->help);
	} else {
		words_print(out, "  ", &w);
		fprintf(out, "  %-*s %s\n", CLI_ENTRY_WIDTH, "", cmd->help);
	}
	free(line);
	words_free(&w);
}

/* How an option list names o: "-c, --config FILE", "    --ttl SECONDS".
 * Caller owns the result. */
static char *
opt_names(const cli_opt_t *o)
{
	const char *sep = o->arg != NULL ? " " : "", *arg = o->arg != NULL ? o->arg : "";

	if (o->letter != 0)
		return gh_asprintf("-%c, --%s%s%s", o->letter, o->name, sep, arg);
	return gh_asprintf("    --%s%s%s", o->name, sep, arg);
}

/* Prints the options of cmd, one a line, with their help lines aligned. */
static void
print_options(FILE *out, const cli_cmd_t *cmd)
{
	size_t i, n = count_opts(cmd), width = 0;
	char *names[CLI_MAX_OPTS];

	for (i = 0; i < n; i++) {
		names[i] = opt_names(cmd->opts[i]);
		if (strlen(names[i]) > width)
			width = strlen(names[i]);
	}
	for (i = 0; i < n; i++) {
		fprintf(out, "  %-*s  %s\n", (int)width, names[i], cmd->opts[i]->help);
		free(names[i]);
	}
}

void
cli_help(FILE *out, const char *lead, const cli_cmd_t *cmd, const char *title)
{
	size_t i;

	usage_line(out, "usage: ", lead, cmd);
	if (cmd->help != NULL)
		fprintf(out, "\n%s\n", cmd->help);
	if (count_opts(cmd) > 0) {
		fprintf(out, "\noptions:\n");
		print_options(out, cmd);
	}
	if (cmd->verbs != NULL) {
		fprintf(out, "\n%s:\n", title);
		for (i = 0; cmd->verbs[i] != NULL; i++)
			print_entry(out, cmd->verbs[i]);
	}
}
