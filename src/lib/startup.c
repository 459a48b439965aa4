/*
 * startup.c: the command line, configuration, logging, paths and router
 * settings every program sets up the same way (see startup.h).
 */
#include "config.h"

#include "startup.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "curve.h"
#include "proto.h"

extern char **environ;

/* getopt_long values of long options without a letter: above any char. */
#define STARTUP_LONG_ONLY 256
/* The synopsis is wrapped before this column. */
#define STARTUP_USAGE_WIDTH 80

/* Every program's own options beside its table: -c is read by startup_args
 * itself, -l sets log_level, -h and -V end it. */
static const startup_option_t startup_config_opt = {'c', "config", "FILE", NULL, 0, NULL};
static const startup_option_t startup_common[] = {
    {'l', "log-level", "LEVEL", "log_level", 0, "error, warn, notice, info or debug"},
    {'h', "help", NULL, NULL, 0, "show this help"},
    {'V', "version", NULL, NULL, 0, "show the version"},
};

struct startup {
	const startup_program_t *prog;
	const char *config_path; /* -c; NULL: GEARHORN_CONFIG or the default */
	conf_override_t *ov;     /* at most one per key, in the order first given */
	size_t nov;
	char **lists; /* per program option: every use joined, if repeat */
};

startup_t *
startup_new(const startup_program_t *prog)
{
	startup_t *st = gh_calloc(1, sizeof(*st));

	st->prog = prog;
	/* One override per key: at most one per option, plus -l. */
	st->ov = gh_calloc(prog->noptions + 1, sizeof(*st->ov));
	st->lists = gh_calloc(prog->noptions + 1, sizeof(*st->lists));
	return st;
}

void
startup_destroy(startup_t **self_p)
{
	startup_t *st;

	if (self_p == NULL || (st = *self_p) == NULL)
		return;
	for (size_t i = 0; i < st->prog->noptions; i++)
		free(st->lists[i]);
	free(st->lists);
	free(st->ov);
	free(st);
	*self_p = NULL;
}

/* ---- the command line ---- */

/* Row i of the options after -c: the program's, then the common ones. */
static const startup_option_t *
startup_row(const startup_t *st, size_t i)
{
	if (i < st->prog->noptions)
		return &st->prog->options[i];
	i -= st->prog->noptions;
	return i < GH_ARRAY_LEN(startup_common) ? &startup_common[i] : NULL;
}

static int
startup_opt_val(const startup_option_t *o, size_t i)
{
	return o->letter != 0 ? o->letter : STARTUP_LONG_ONLY + (int)i;
}

/* Sets the override of key, replacing an earlier one for the same key. */
static void
startup_set(startup_t *st, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < st->nov && strcmp(st->ov[i].key, key) != 0; i++)
		;
	st->ov[i].key = key;
	st->ov[i].value = value;
	if (i == st->nov)
		st->nov++;
}

/* The getopt_long tables for st. Caller owns *longs. */
static char *
startup_getopt_tables(const startup_t *st, struct option **longs)
{
	size_t n = 1 + st->prog->noptions + GH_ARRAY_LEN(startup_common), i, k = 0;
	char *shorts = gh_malloc(2 * n + 1), *p = shorts;
	const startup_option_t *o;

	*longs = gh_calloc(n + 1, sizeof(**longs));
	for (i = 0; i < n; i++) {
		o = i == 0 ? &startup_config_opt : startup_row(st, i - 1);
		(*longs)[k].name = o->name;
		(*longs)[k].has_arg = o->arg != NULL ? required_argument : no_argument;
		(*longs)[k].val = i == 0 ? 'c' : startup_opt_val(o, i - 1);
		k++;
		if (o->letter != 0) {
			*p++ = (char)o->letter;
			if (o->arg != NULL)
				*p++ = ':';
		}
	}
	*p = '\0';
	return shorts;
}

/* Applies option value ch with its argument. Returns STARTUP_RUN, or the
 * status to exit with. */
static int
startup_take(startup_t *st, int ch, const char *arg)
{
	const startup_option_t *o;
	size_t i;

	if (ch == 'c') {
		st->config_path = arg;
		return STARTUP_RUN;
	}
	for (i = 0; (o = startup_row(st, i)) != NULL && startup_opt_val(o, i) != ch; i++)
		;
	if (o == NULL) {
		startup_usage(st, stderr);
		return EX_USAGE;
	}
	if (o->key == NULL) { /* -h or -V */
		if (ch == 'h')
			startup_usage(st, stdout);
		else
			startup_print_version(stdout, st->prog->name);
		return EX_OK;
	}
	if (o->repeat) {
		gh_list_append(&st->lists[i], arg);
		arg = st->lists[i];
	}
	startup_set(st, o->key, arg != NULL ? arg : "true"); /* a flag sets a boolean */
	return STARTUP_RUN;
}

int
startup_args(startup_t *st, int argc, char **argv)
{
	struct option *longs;
	char *shorts;
	int ch, rc = STARTUP_RUN;

	log_open(st->prog->name, LOG_LEVEL_INFO, 0);
	shorts = startup_getopt_tables(st, &longs);
	optind = 0; /* glibc: 0 resets getopt for a new argv */
	while (rc == STARTUP_RUN && (ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
		rc = startup_take(st, ch, optarg);
	if (rc == STARTUP_RUN && optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", st->prog->name, argv[optind]);
		startup_usage(st, stderr);
		rc = EX_USAGE;
	}
	free(shorts);
	free(longs);
	return rc;
}

/* "-f ENDPOINT", "--max-length N", "-s H:P ..." for the synopsis. */
static char *
startup_synopsis_item(const startup_option_t *o)
{
	if (o->arg == NULL)
		return o->letter != 0 ? gh_asprintf("[-%c]", o->letter)
		                      : gh_asprintf("[--%s]", o->name);
	if (o->letter != 0)
		return gh_asprintf("[-%c %s%s]", o->letter, o->arg, o->repeat ? " ..." : "");
	return gh_asprintf("[--%s %s%s]", o->name, o->arg, o->repeat ? " ..." : "");
}

/* "  -c, --config FILE" or "      --max-length N" for the option lines. */
static char *
startup_option_item(const startup_option_t *o)
{
	char letter[5] = "    ";

	if (o->letter != 0)
		snprintf(letter, sizeof(letter), "-%c, ", o->letter);
	return gh_asprintf("  %s--%s%s%s", letter, o->name, o->arg != NULL ? " " : "",
	                   o->arg != NULL ? o->arg : "");
}

static void
startup_synopsis(const startup_t *st, FILE *out)
{
	int indent = (int)strlen("usage: ") + (int)strlen(st->prog->name) + 1, col;
	const startup_option_t *o;
	char *item;

	col = fprintf(out, "usage: %s [-hV]", st->prog->name);
	for (size_t i = 0; i <= st->prog->noptions + 1; i++) {
		o = i == 0 ? &startup_config_opt : startup_row(st, i - 1);
		if (o->arg == NULL && o->key == NULL) /* -h, -V */
			continue;
		item = startup_synopsis_item(o);
		if (col + 1 + (int)strlen(item) >= STARTUP_USAGE_WIDTH)
			col = fprintf(out, "\n%*s%s", indent, "", item) - 1;
		else
			col += fprintf(out, " %s", item);
		free(item);
	}
	fputc('\n', out);
}

void
startup_usage(const startup_t *st, FILE *out)
{
	size_t n = 1 + st->prog->noptions + GH_ARRAY_LEN(startup_common), i, width = 0;
	char **items = gh_calloc(n, sizeof(*items));
	char config_help[256];

	snprintf(config_help, sizeof(config_help), "configuration file (default %s)",
	         conf_default_path());
	for (i = 0; i < n; i++) {
		items[i] =
		    startup_option_item(i == 0 ? &startup_config_opt : startup_row(st, i - 1));
		if (strlen(items[i]) > width)
			width = strlen(items[i]);
	}
	startup_synopsis(st, out);
	for (i = 0; i < n; i++) {
		fprintf(out, "%-*s  %s\n", (int)width, items[i],
		        i == 0 ? config_help : startup_row(st, i - 1)->help);
		free(items[i]);
	}
	free(items);
}

void
startup_print_version(FILE *out, const char *name)
{
	fprintf(out, "%s %s (protocol %s)\n", name, PACKAGE_VERSION, PROTO_VERSION);
}

/* ---- configuration and logging ---- */

conf_t *
startup_conf(const startup_t *st, gh_error_t *e)
{
	conf_t *c = conf_load_overrides(st->config_path, environ, st->prog->section, st->ov,
	                                st->nov, e->text, sizeof(e->text));

	if (c == NULL)
		e->status = EX_CONFIG;
	return c;
}

int
startup_fail(const startup_t *st, const gh_error_t *e)
{
	fprintf(stderr, "%s: %s\n", st->prog->name, e->text);
	return e->status;
}

int
startup_begin(startup_t *st, int argc, char **argv, conf_t **conf)
{
	return startup_begin_check(st, argc, argv, NULL, NULL, conf);
}

/* Warns that [section] key changed and takes a restart, if it did. */
static void
startup_warn_restart(const conf_t *was, const conf_t *now, const char *section, const char *key)
{
	const char *a = conf_get(was, section, key), *b = conf_get(now, section, key);

	if (strcmp(a, b) != 0)
		log_warn("reload: [%s] %s changed from \"%s\" to \"%s\"; it takes effect after a "
		         "restart",
		         section, key, a, b);
}

conf_t *
startup_reload(const startup_t *st, const conf_t *running, const char *const *restart)
{
	const char *section = st->prog->section;
	log_level_t level;
	gh_error_t e;
	conf_t *c;
	int use_syslog;

	if ((c = startup_conf(st, &e)) == NULL) {
		log_error("reload: %s; keeping the previous configuration", e.text);
		return NULL;
	}
	for (size_t i = 0; restart != NULL && restart[i] != NULL; i++)
		startup_warn_restart(running, c, section, restart[i]);
	/* The target stays: log_open may not run while other threads log. */
	startup_warn_restart(running, c, section, "log_target");
	startup_log_settings(c, section, &level, &use_syslog);
	log_set_level(level);
	return c;
}

void
startup_log_settings(const conf_t *c, const char *section, log_level_t *level, int *use_syslog)
{
	*level = LOG_LEVEL_INFO;
	log_level_parse(conf_get(c, section, "log_level"), level);
	*use_syslog = strcmp(conf_get(c, section, "log_target"), "syslog") == 0;
}

void
startup_log_open(const conf_t *c, const char *section, const char *ident)
{
	log_level_t level;
	int use_syslog;

	startup_log_settings(c, section, &level, &use_syslog);
	log_open(ident, level, use_syslog);
}

loop_t *
startup_loop(loop_signal_fn *stop, loop_signal_fn *hup, void *arg)
{
	loop_t *loop = loop_new();

	loop_add_signal(loop, SIGTERM, stop, arg);
	loop_add_signal(loop, SIGINT, stop, arg);
	loop_add_signal(loop, SIGHUP, hup, arg);
	return loop;
}

/* ---- paths ---- */

char *
startup_db_path(const conf_t *c, const char *section, const char *key, const char *file)
{
	const char *path = conf_get(c, section, key);

	if (path[0] != '\0')
		return gh_strdup(path);
	return gh_asprintf("%s/%s", conf_get(c, section, "state_dir"), file);
}

int
startup_db_dir(const conf_t *c, const char *section, const char *key, gh_error_t *e)
{
	const char *dir = conf_get(c, section, "state_dir");

	if (conf_get(c, section, key)[0] != '\0')
		return 0;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return gh_error_set(e, EX_CANTCREAT, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

/* ---- peers and servers ---- */

int
startup_curve(const conf_t *c, const char *section, gearhorn_curve_t *keys, gh_error_t *e)
{
	const char *secret = conf_get(c, section, "curve_secret_key");
	const char *server = conf_get(c, section, "curve_server_key");
	char err[900];

	memset(keys, 0, sizeof(*keys));
	if (secret[0] == '\0' && server[0] == '\0')
		return 0;
	if (secret[0] == '\0' || server[0] == '\0')
		return gh_error_set(e, EX_CONFIG, "[%s] %s: needed with %s", section,
		                    secret[0] == '\0' ? "curve_secret_key" : "curve_server_key",
		                    secret[0] == '\0' ? "curve_server_key" : "curve_secret_key");
	if (!curve_available())
		return gh_error_set(
		    e, EX_CONFIG,
		    "[%s] curve_secret_key: this libzmq has no CURVE (built without "
		    "libsodium)",
		    section);
	if (curve_client_load(keys, secret, server, err, sizeof(err)) != 0)
		return gh_error_set(e, EX_CONFIG, "[%s] CURVE keys: %s", section, err);
	return 0;
}

int
startup_peer_config(const conf_t *c, const char *section, const char *key, peer_config_t *pc,
                    gh_error_t *e)
{
	size_t n;
	char **list;

	if (startup_curve(c, section, &pc->curve, e) != 0)
		return -1;
	list = conf_get_list(c, section, key, &n);
	if (n == 0) {
		conf_list_free(list, n);
		explicit_bzero(&pc->curve, sizeof(pc->curve));
		return gh_error_set(e, EX_CONFIG, "[%s] %s: no endpoint given", section, key);
	}
	pc->endpoints = list;
	pc->nendpoints = n;
	pc->hb_interval_ms = conf_get_int(c, section, "heartbeat_interval") * 1000;
	pc->hb_timeout_ms = conf_get_int(c, section, "heartbeat_timeout") * 1000;
	return 0;
}

void
startup_peer_config_free(peer_config_t *pc)
{
	/* Ours: startup_peer_config made the list with conf_get_list. */
	conf_list_free((char **)pc->endpoints, pc->nendpoints);
	pc->endpoints = NULL;
	pc->nendpoints = 0;
	explicit_bzero(&pc->curve, sizeof(pc->curve));
}

peer_t *
startup_peer_new(loop_t *loop, void *ctx, const conf_t *c, const char *section, const char *key,
                 const peer_config_t *pc, gh_error_t *e)
{
	peer_config_t cfg = *pc;
	peer_t *p;

	if (startup_peer_config(c, section, key, &cfg, e) != 0)
		return NULL;
	p = peer_new(loop, ctx, &cfg, e->text, sizeof(e->text));
	if (p == NULL)
		e->status = EX_CONFIG;
	startup_peer_config_free(&cfg);
	return p;
}

peer_t **
startup_peers_new(loop_t *loop, void *ctx, const conf_t *c, const char *section, const char *key,
                  const peer_config_t *pc, size_t *n, gh_error_t *e)
{
	peer_config_t cfg = *pc, one;
	peer_t **peers;
	size_t i;

	*n = 0;
	if (startup_peer_config(c, section, key, &cfg, e) != 0)
		return NULL;
	peers = gh_calloc(cfg.nendpoints, sizeof(*peers));
	one = cfg;
	one.nendpoints = 1;
	for (i = 0; i < cfg.nendpoints; i++) {
		one.endpoints = &cfg.endpoints[i];
		if ((peers[i] = peer_new(loop, ctx, &one, e->text, sizeof(e->text))) == NULL) {
			e->status = EX_CONFIG;
			startup_peers_destroy(&peers, i, 0);
			break;
		}
	}
	if (peers != NULL)
		*n = cfg.nendpoints;
	startup_peer_config_free(&cfg);
	return peers;
}

void
startup_peers_destroy(peer_t ***peers_p, size_t n, int linger_ms)
{
	if (peers_p == NULL || *peers_p == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		peer_destroy(&(*peers_p)[i], linger_ms);
	free(*peers_p);
	*peers_p = NULL;
}

void
startup_peer_heartbeat(peer_t *p, const conf_t *c, const char *section)
{
	if (p != NULL)
		peer_set_heartbeat(p, conf_get_int(c, section, "heartbeat_interval") * 1000,
		                   conf_get_int(c, section, "heartbeat_timeout") * 1000);
}

char **
startup_gearman_servers(const conf_t *c, const char *section, size_t *n, gh_error_t *e)
{
	char **list = conf_get_list(c, section, "gearman_servers", n), host[256];
	int port;

	if (*n == 0) {
		gh_error_set(e, EX_CONFIG,
		             "no gearman servers configured ([global] gearman_servers)");
		conf_list_free(list, *n);
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		if (conf_parse_server(list[i], host, sizeof(host), &port, e->text,
		                      sizeof(e->text)) != 0) {
			e->status = EX_CONFIG;
			conf_list_free(list, *n);
			return NULL;
		}
	return list;
}

/* ---- a program without a section ---- */

conf_t *
startup_conf_file(const char *path, gh_error_t *e)
{
	conf_t *c = conf_load(path, environ, e->text, sizeof(e->text));

	if (c == NULL)
		e->status = EX_CONFIG;
	return c;
}

/* ---- a daemon that checks its configuration before it runs ---- */

int
startup_begin_check(startup_t *st, int argc, char **argv, startup_check_fn *check, void *arg,
                    conf_t **conf)
{
	gh_error_t e;
	int rc;

	*conf = NULL;
	if ((rc = startup_args(st, argc, argv)) != STARTUP_RUN)
		return rc;
	if ((*conf = startup_conf(st, &e)) == NULL)
		return startup_fail(st, &e);
	if (check != NULL && check(*conf, arg, &e) != 0) {
		conf_destroy(conf);
		return startup_fail(st, &e);
	}
	startup_log_open(*conf, st->prog->section, st->prog->name);
	return STARTUP_RUN;
}

int
startup_log_fail(const gh_error_t *e)
{
	log_error("%s", e->text);
	return e->status;
}
