/*
 * startup.h: what every gearhorn program does before its loop runs, written
 * once (as Redis writes server start-up once in initServer):
 *
 *   - the command line: -c FILE, -l LEVEL, -h, -V and the program's options
 *     that set configuration keys, declared once in a table from which the
 *     parser and the help text are both made;
 *   - the configuration: defaults < file < environment < command line, and
 *     again the same way on SIGHUP;
 *   - logging from log_level and log_target;
 *   - database paths: a key of the program's section, else a file in
 *     state_dir;
 *   - the router connection's settings (peer.h), with the CURVE keys
 *     (curve.h), and the gearman servers;
 *   - the -V line, the same in every program;
 *   - the event loop with the signals every daemon takes.
 *
 * Errors that end a program come as a gh_error_t (util.h) whose status is
 * the exit status; no caller has to read the message to choose one.
 *
 * A daemon's main() then reads:
 *
 *   st = startup_new(&program);
 *   rc = startup_begin(st, argc, argv, &conf);   options, configuration, log
 *   if (rc == STARTUP_RUN)
 *           rc = run(...);                        store, sockets, loop
 *
 * Everything here runs in the main thread, before other threads start (or,
 * for startup_reload, while they only read their own copy of the settings).
 */
#ifndef GEARHORN_STARTUP_H
#define GEARHORN_STARTUP_H

#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "util.h"

/* Returned by startup_args and startup_begin when the program goes on; any
 * other value is the status to exit with. */
#define STARTUP_RUN (-1)

/* One option of a program that sets a key of the program's section: a row
 * of the table from which -h and the parser are both made. */
typedef struct {
	int letter;       /* short option, e.g. 'r'; 0 for a long option only */
	const char *name; /* long option, e.g. "router" */
	const char *arg;  /* its argument in the help, e.g. "ENDPOINT"; NULL: sets "true" */
	const char *key;  /* the key it sets, e.g. "router" */
	int repeat;       /* nonzero: each use adds an item to a comma-separated list */
	const char *help; /* one line for -h */
} startup_option_t;

/* A program: its name and section, and its own options. Every program also
 * has -c/--config FILE, -l/--log-level LEVEL (log_level), -h/--help and
 * -V/--version. */
typedef struct {
	const char *name;                /* "gearhorn-router": -V, -h, messages, log ident */
	const char *section;             /* "router": where options set keys */
	const startup_option_t *options; /* may be NULL when noptions is 0 */
	size_t noptions;
} startup_program_t;

typedef struct startup startup_t;

/* A start-up for prog (borrowed: it must outlive the result, as a static
 * table does). Caller owns the result (startup_destroy). */
startup_t *startup_new(const startup_program_t *prog);

/* Frees *self_p and sets it to NULL. Accepts NULL and a pointer to NULL. */
void startup_destroy(startup_t **self_p);

/* Reads the command line (argv is borrowed and must outlive st: the
 * overrides point into it). First starts logging to standard error at
 * level info under the program's name. -h writes the help to stdout and
 * -V the version line (startup_print_version): returns EX_OK. A bad option
 * or an operand writes the help to stderr: returns EX_USAGE. Otherwise
 * returns STARTUP_RUN, with -c and the options kept for startup_conf: for
 * one key, the last use wins; a repeatable option collects every use. */
int startup_args(startup_t *st, int argc, char **argv);

/* Writes the help: a synopsis and a line for every option. */
void startup_usage(const startup_t *st, FILE *out);

/* Loads the configuration: the file (-c, else GEARHORN_CONFIG, else the
 * default), the environment, then the command line's options in the
 * program's section, in order. Caller owns the result; NULL with
 * EX_CONFIG and the message in e. */
conf_t *startup_conf(const startup_t *st, gh_error_t *e);

/* Writes e as "NAME: MESSAGE" to stderr, as a program reports an error
 * before its log is open. Returns e->status. */
int startup_fail(const startup_t *st, const gh_error_t *e);

/* The first steps of a daemon: startup_args, startup_conf (an error goes
 * through startup_fail), then startup_log_open. Returns STARTUP_RUN with *conf set (caller owns
 * it), or the status to exit with (*conf NULL). startup_begin_check adds a
 * check of the configuration. */
int startup_begin(startup_t *st, int argc, char **argv, conf_t **conf);

/* SIGHUP: loads the configuration as startup_conf does and applies the log
 * level. Logs a warning for each key that changed but takes a restart: the
 * NULL-terminated restart list (may be NULL) of the program's section, and
 * log_target. running is borrowed. Returns the new configuration (caller
 * owns it); NULL after logging "reload: MESSAGE; keeping the previous
 * configuration", with nothing changed. */
conf_t *startup_reload(const startup_t *st, const conf_t *running, const char *const *restart);

/* Returns a new loop (loop_new) on which SIGTERM and SIGINT call stop and
 * SIGHUP calls hup, each with arg (borrowed). Call it before creating any
 * thread (see loop_add_signal). Caller owns the result (loop_destroy). */
loop_t *startup_loop(loop_signal_fn *stop, loop_signal_fn *hup, void *arg);

/* Reads [section] log_level into *level (info if unset) and log_target into
 * *use_syslog (1 for syslog, 0 for stderr). */
void startup_log_settings(const conf_t *c, const char *section, log_level_t *level,
                          int *use_syslog);

/* Starts logging as ident (borrowed) with the settings of [section]. */
void startup_log_open(const conf_t *c, const char *section, const char *ident);

/* Returns the path of a database: the value of [section] key if it is not
 * empty, else <state_dir>/file. Caller owns the result. */
char *startup_db_path(const conf_t *c, const char *section, const char *key, const char *file);

/* For a program that creates its database: when [section] key is empty
 * (the database goes in state_dir), creates state_dir (mode 0750) unless it
 * exists. Returns 0, or -1 with EX_CANTCREAT "cannot create DIR: REASON". */
int startup_db_dir(const conf_t *c, const char *section, const char *key, gh_error_t *e);

/* Reads the CURVE keys of a program that connects to a router from
 * [section] curve_secret_key (our key pair) and curve_server_key (the
 * router's public key) into keys (curve.h): both empty, keys is cleared
 * (plain ZeroMQ); both set, the files are read; one alone is an error.
 * Returns 0, or -1 with EX_CONFIG "[section] KEY: ..." in e (a file that
 * cannot be read, a secret key file that group or others may access). */
int startup_curve(const conf_t *c, const char *section, gearhorn_curve_t *keys, gh_error_t *e);

/* Fills the router connection's part of pc from [section]: endpoints from
 * the list key, hb_interval_ms and hb_timeout_ms from heartbeat_interval
 * and heartbeat_timeout (seconds), the CURVE keys (startup_curve). Other
 * fields are left as they are. Returns 0 (free the endpoints with
 * startup_peer_config_free), or -1 with EX_CONFIG "[section] key: no
 * endpoint given" or startup_curve's error, and nothing to free. */
int startup_peer_config(const conf_t *c, const char *section, const char *key, peer_config_t *pc,
                        gh_error_t *e);

/* Frees the endpoints startup_peer_config put in pc and clears them and
 * the keys. */
void startup_peer_config_free(peer_config_t *pc);

/* startup_peer_config on *pc (whose other fields the caller set), then
 * peer_new (loop and ctx borrowed, as there). Returns the peer (caller owns
 * it), or NULL with EX_CONFIG in e. pc is left as the caller gave it. */
peer_t *startup_peer_new(loop_t *loop, void *ctx, const conf_t *c, const char *section,
                         const char *key, const peer_config_t *pc, gh_error_t *e);

/* As startup_peer_new, but one peer for each endpoint of the list, each
 * connected to its router alone (a ring of one), so that the caller hears
 * from every router at once. Returns the array of *n peers (caller owns it;
 * free with startup_peers_destroy), or NULL with EX_CONFIG in e. */
peer_t **startup_peers_new(loop_t *loop, void *ctx, const conf_t *c, const char *section,
                           const char *key, const peer_config_t *pc, size_t *n, gh_error_t *e);

/* peer_destroy on each of the n peers of *peers_p (linger_ms as there),
 * then frees the array and clears *peers_p. Accepts NULL. */
void startup_peers_destroy(peer_t ***peers_p, size_t n, int linger_ms);

/* SIGHUP: applies [section] heartbeat_interval and heartbeat_timeout to p
 * (NULL: nothing). */
void startup_peer_heartbeat(peer_t *p, const conf_t *c, const char *section);

/* Returns the gearman job servers of [section] gearman_servers, each checked
 * (conf_parse_server), and their count in *n. Caller owns the result
 * (conf_list_free); NULL with EX_CONFIG in e when there is none ("no gearman
 * servers configured ([global] gearman_servers)") or one is bad. */
char **startup_gearman_servers(const conf_t *c, const char *section, size_t *n, gh_error_t *e);

/* Writes the -V line of program name (borrowed) to out:
 *   gearhorn-router 0.1.0 (protocol eMQP/1.0) */
void startup_print_version(FILE *out, const char *name);

/* For a program whose options set no keys (gearhorn(1)): loads the
 * configuration as startup_conf does, from the file at path (borrowed;
 * NULL: GEARHORN_CONFIG, else the default) and the environment. Caller owns
 * the result; NULL with EX_CONFIG and the message in e. */
conf_t *startup_conf_file(const char *path, gh_error_t *e);

/* A check of the configuration c (borrowed) that a program makes before it
 * runs; arg is the caller's, borrowed. Returns 0, or -1 with the status and
 * the message in e. */
typedef int(startup_check_fn)(const conf_t *c, void *arg, gh_error_t *e);

/* startup_begin with check(conf, arg, e) between the configuration and the
 * log (check may be NULL): a refusal is written by startup_fail, as an
 * error of startup_conf is, while the log still goes to stderr, and the
 * configuration is freed. Returns STARTUP_RUN with *conf set (caller owns
 * it), or the status to exit with (*conf NULL). */
int startup_begin_check(startup_t *st, int argc, char **argv, startup_check_fn *check, void *arg,
                        conf_t **conf);

/* Logs e's message as an error and returns e->status: what startup_fail
 * does for a program whose log is open. */
int startup_log_fail(const gh_error_t *e);

#endif
