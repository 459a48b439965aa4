/*
 * check_startup.c: unit tests for the start-up kit (startup.h) and the
 * classed errors of util.h: the command line and the order of overrides,
 * database paths, the router connection's settings, logging settings,
 * reloads, the -V line, the error classes and how an error is reported
 * before the log is open.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <zmq.h>

#include "conf.h"
#include "log.h"
#include "startup.h"
#include "util.h"
#include "lib/check_main.h"
#include "lib/files.h"

static const startup_option_t test_options[] = {
    {'r', "router", "ENDPOINT", "router", 0, "router frontends"},
    {'d', "database", "PATH", "database", 0, "schedule database"},
    {0, "heartbeat", "N", "heartbeat_interval", 0, "seconds between heartbeats"},
    {'s', "server", "H:P", "gearman_servers", 1, "gearman job server; repeatable"},
};
static const startup_program_t test_program = {"gearhorn-test", "scheduler", test_options,
                                               GH_ARRAY_LEN(test_options)};

static char tmpdir[1024];

static void
setup(void)
{
	ck_assert_int_eq(gh_tmpdir_make(tmpdir, sizeof(tmpdir), "check_startup"), 0);
	unsetenv("GEARHORN_CONFIG");
}

static void
teardown(void)
{
	gh_tmpdir_remove(tmpdir);
}

/* Writes text to NAME in tmpdir. Caller owns the path. */
static char *
write_file(const char *name, const char *text)
{
	char *path = gh_asprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Reads all of f from its start. Caller owns the result. */
static char *
read_all(FILE *f)
{
	char *buf = gh_calloc(1, 8192);

	rewind(f);
	ck_assert_uint_lt(fread(buf, 1, 8191, f), 8191);
	return buf;
}

static int
count(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return argc;
}

/* startup_args on a NULL-terminated argv. */
static int
parse(startup_t *st, char **argv)
{
	return startup_args(st, count(argv), argv);
}

/* A start-up with the given command line, already parsed; conf loaded. */
static conf_t *
load(startup_t **st, char **argv)
{
	gh_error_t e = {0, ""};
	conf_t *c;

	*st = startup_new(&test_program);
	ck_assert_int_eq(parse(*st, argv), STARTUP_RUN);
	c = startup_conf(*st, &e);
	ck_assert_msg(c != NULL, "startup_conf: %s", e.text);
	return c;
}

START_TEST(test_error_classes)
{
	gh_error_t e = {0, ""};
	char *long_text = gh_calloc(1, 2 * GH_ERROR_MAX);

	ck_assert_int_eq(gh_error_set(&e, EX_CONFIG, "bad %s", "key"), -1);
	ck_assert_int_eq(e.status, EX_CONFIG);
	ck_assert_str_eq(e.text, "bad key");
	ck_assert_int_eq(gh_error_set(&e, EX_CANTCREAT, "cannot create %s", "/x"), -1);
	ck_assert_int_eq(e.status, EX_CANTCREAT);
	ck_assert_str_eq(e.text, "cannot create /x");
	ck_assert_int_eq(gh_error_set(NULL, EX_OSERR, "nowhere"), -1);
	/* A long text is cut, and still terminated. */
	memset(long_text, 'a', 2 * GH_ERROR_MAX - 1);
	gh_error_set(&e, EX_OSERR, "%s", long_text);
	ck_assert_int_eq(e.status, EX_OSERR);
	ck_assert_uint_eq(strlen(e.text), GH_ERROR_MAX - 1);
	free(long_text);
}
END_TEST

START_TEST(test_overrides_order)
{
	char *file = write_file("a.conf", "[global]\nlog_level = notice\n"
	                                  "[scheduler]\nlog_level = warn\ndatabase = /file.db\n"
	                                  "router = tcp://127.0.0.1:1\n");
	char *argv[] = {"gearhorn-test",
	                "-c",
	                file,
	                "-l",
	                "debug",
	                "--router",
	                "tcp://127.0.0.1:2",
	                "-l",
	                "error",
	                "--heartbeat=7",
	                NULL};
	startup_t *st;
	conf_t *c;

	/* file < environment < command line; the last -l wins. */
	setenv("GEARHORN_SCHEDULER_DATABASE", "/env.db", 1);
	setenv("GEARHORN_SCHEDULER_LOG_LEVEL", "info", 1);
	c = load(&st, argv);
	ck_assert_str_eq(conf_get(c, "scheduler", "log_level"), "error");
	ck_assert_str_eq(conf_origin(c, "scheduler", "log_level"), "command line");
	ck_assert_str_eq(conf_get(c, "scheduler", "router"), "tcp://127.0.0.1:2");
	ck_assert_int_eq(conf_get_int(c, "scheduler", "heartbeat_interval"), 7);
	ck_assert_str_eq(conf_get(c, "scheduler", "database"), "/env.db");
	/* Options set the program's section, not [global]. */
	ck_assert_str_eq(conf_get(c, "global", "log_level"), "notice");
	conf_destroy(&c);
	startup_destroy(&st);
	ck_assert_ptr_null(st);
	startup_destroy(&st);
	startup_destroy(NULL);
	unsetenv("GEARHORN_SCHEDULER_DATABASE");
	unsetenv("GEARHORN_SCHEDULER_LOG_LEVEL");
	free(file);
}
END_TEST

START_TEST(test_repeated_option)
{
	char *argv[] = {"gearhorn-test", "-c",  "/dev/null", "-s", "a:1",
	                "--server",      "b:2", "-s",        "c",  NULL};
	startup_t *st;
	conf_t *c = load(&st, argv);

	ck_assert_str_eq(conf_get(c, "scheduler", "gearman_servers"), "a:1,b:2,c");
	conf_destroy(&c);
	startup_destroy(&st);
}
END_TEST

START_TEST(test_config_from_environment)
{
	char *file = write_file("env.conf", "[scheduler]\ndatabase = /named.db\n");
	char *argv[] = {"gearhorn-test", NULL};
	startup_t *st;
	conf_t *c;

	setenv("GEARHORN_CONFIG", file, 1);
	c = load(&st, argv);
	ck_assert_str_eq(conf_get(c, "scheduler", "database"), "/named.db");
	conf_destroy(&c);
	startup_destroy(&st);
	free(file);
}
END_TEST

START_TEST(test_bad_command_lines)
{
	char *unknown[] = {"gearhorn-test", "-x", NULL};
	char *operand[] = {"gearhorn-test", "-c", "/dev/null", "extra", NULL};
	char *missing[] = {"gearhorn-test", "-r", NULL};
	char *help[] = {"gearhorn-test", "-h", NULL};
	char *version[] = {"gearhorn-test", "--version", NULL};
	startup_t *st = startup_new(&test_program);

	ck_assert_int_eq(parse(st, unknown), EX_USAGE);
	ck_assert_int_eq(parse(st, operand), EX_USAGE);
	ck_assert_int_eq(parse(st, missing), EX_USAGE);
	ck_assert_int_eq(parse(st, help), EX_OK);
	ck_assert_int_eq(parse(st, version), EX_OK);
	startup_destroy(&st);
}
END_TEST

START_TEST(test_bad_values_are_config_errors)
{
	char *level[] = {"gearhorn-test", "-c", "/dev/null", "-l", "loud", NULL};
	char *server[] = {"gearhorn-test", "-c", "/dev/null", "-s", "bad host:x", NULL};
	char *nofile[] = {"gearhorn-test", "-c", "/no/such/gearhorn.conf", NULL};
	char **lines[] = {level, server, nofile};
	gh_error_t e;
	conf_t *c;

	for (size_t i = 0; i < GH_ARRAY_LEN(lines); i++) {
		startup_t *st = startup_new(&test_program);

		e.status = 0;
		ck_assert_int_eq(parse(st, lines[i]), STARTUP_RUN);
		c = startup_conf(st, &e);
		ck_assert_ptr_null(c);
		ck_assert_int_eq(e.status, EX_CONFIG);
		ck_assert_str_ne(e.text, "");
		ck_assert_int_eq(startup_begin(st, count(lines[i]), lines[i], &c), EX_CONFIG);
		ck_assert_ptr_null(c);
		startup_destroy(&st);
	}
	ck_assert_ptr_nonnull(strstr(e.text, "/no/such/gearhorn.conf"));
}
END_TEST

START_TEST(test_begin)
{
	char *argv[] = {"gearhorn-test", "-c", "/dev/null", "-l", "debug", NULL};
	char *help[] = {"gearhorn-test", "-h", NULL};
	startup_t *st = startup_new(&test_program);
	conf_t *c = NULL;

	ck_assert_int_eq(startup_begin(st, count(argv), argv, &c), STARTUP_RUN);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_DEBUG);
	conf_destroy(&c);
	ck_assert_int_eq(startup_begin(st, count(help), help, &c), EX_OK);
	ck_assert_ptr_null(c);
	startup_destroy(&st);
}
END_TEST

START_TEST(test_fail)
{
	startup_t *st = startup_new(&test_program);
	FILE *f = tmpfile();
	int saved = dup(2);
	gh_error_t e;
	char *text;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(saved, 0);
	gh_error_set(&e, EX_CONFIG, "nothing to %s", "do");
	ck_assert_int_eq(dup2(fileno(f), 2), 2);
	ck_assert_int_eq(startup_fail(st, &e), EX_CONFIG);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	text = read_all(f);
	ck_assert_str_eq(text, "gearhorn-test: nothing to do\n");
	free(text);
	fclose(f);
	startup_destroy(&st);
}
END_TEST

START_TEST(test_usage_from_table)
{
	startup_t *st = startup_new(&test_program);
	const char *synopsis = "usage: gearhorn-test [-hV] [-c FILE] [-r ENDPOINT] [-d PATH]";
	FILE *f = tmpfile();
	char *text;

	ck_assert_ptr_nonnull(f);
	startup_usage(st, f);
	text = read_all(f);
	ck_assert_msg(strncmp(text, synopsis, strlen(synopsis)) == 0, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "[--heartbeat N]"));
	ck_assert_ptr_nonnull(strstr(text, "[-s H:P ...]"));
	ck_assert_ptr_nonnull(strstr(text, "[-l LEVEL]"));
	ck_assert_ptr_nonnull(strstr(text, "  -r, --router ENDPOINT  router frontends\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "      --heartbeat N      seconds between heartbeats\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "  -c, --config FILE      configuration file (default "));
	ck_assert_ptr_nonnull(strstr(text, "  -h, --help             show this help\n"));
	ck_assert_ptr_nonnull(strstr(text, "  -V, --version          show the version\n"));
	/* No line is wider than the synopsis allows. */
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
		if (strncmp(line, "  -", 3) != 0 && strncmp(line, "      --", 8) != 0)
			ck_assert_uint_lt(strlen(line), 80);
	free(text);
	fclose(f);
	startup_destroy(&st);
}
END_TEST

START_TEST(test_version_line)
{
	FILE *f = tmpfile();
	char *text, *want = gh_asprintf("gearhorn-x %s (protocol eMQP/1.0)\n", PACKAGE_VERSION);

	ck_assert_ptr_nonnull(f);
	startup_print_version(f, "gearhorn-x");
	text = read_all(f);
	ck_assert_str_eq(text, want);
	free(text);
	free(want);
	fclose(f);
}
END_TEST

START_TEST(test_db_path)
{
	conf_t *c = conf_new();
	char *path;

	/* Empty key: a file in state_dir, [global] or the section's own. */
	path = startup_db_path(c, "scheduler", "database", "scheduler.db");
	ck_assert_str_eq(path, "/var/lib/gearhorn/scheduler.db");
	free(path);
	ck_assert_int_eq(conf_set(c, "global", "state_dir", "/g", NULL, NULL, 0), 0);
	ck_assert_int_eq(conf_set(c, "router", "state_dir", "/r", NULL, NULL, 0), 0);
	path = startup_db_path(c, "scheduler", "database", "scheduler.db");
	ck_assert_str_eq(path, "/g/scheduler.db");
	free(path);
	path = startup_db_path(c, "router", "journal_path", "router-journal.db");
	ck_assert_str_eq(path, "/r/router-journal.db");
	free(path);
	/* A key that is set is the path, whatever state_dir says. */
	ck_assert_int_eq(conf_set(c, "fanout", "database", "/x/f.db", NULL, NULL, 0), 0);
	path = startup_db_path(c, "fanout", "database", "fanout.db");
	ck_assert_str_eq(path, "/x/f.db");
	free(path);
	conf_destroy(&c);
}
END_TEST

START_TEST(test_db_dir)
{
	conf_t *c = conf_new();
	char *state = gh_asprintf("%s/state", tmpdir), *deep = gh_asprintf("%s/no/state", tmpdir);
	gh_error_t e = {0, ""};
	struct stat sb;

	/* A database named by its key: state_dir is not touched. */
	ck_assert_int_eq(conf_set(c, "global", "state_dir", state, NULL, NULL, 0), 0);
	ck_assert_int_eq(conf_set(c, "scheduler", "database", "/x.db", NULL, NULL, 0), 0);
	ck_assert_int_eq(startup_db_dir(c, "scheduler", "database", &e), 0);
	ck_assert_int_eq(stat(state, &sb), -1);
	/* In state_dir: created, once. */
	umask(022);
	ck_assert_int_eq(startup_db_dir(c, "fanout", "database", &e), 0);
	ck_assert_int_eq(stat(state, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0750);
	ck_assert_int_eq(startup_db_dir(c, "fanout", "database", &e), 0);
	/* Its parent missing: EX_CANTCREAT. */
	ck_assert_int_eq(conf_set(c, "global", "state_dir", deep, NULL, NULL, 0), 0);
	ck_assert_int_eq(startup_db_dir(c, "fanout", "database", &e), -1);
	ck_assert_int_eq(e.status, EX_CANTCREAT);
	ck_assert_ptr_nonnull(strstr(e.text, deep));
	free(state);
	free(deep);
	conf_destroy(&c);
}
END_TEST

static void
on_peer_message(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw, const proto_err_t *err,
                void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(m);
	GH_UNUSED(raw);
	GH_UNUSED(err);
	GH_UNUSED(arg);
}

START_TEST(test_peer_config)
{
	conf_t *c = conf_new();
	peer_config_t pc;
	gh_error_t e = {0, ""};

	ck_assert_int_eq(conf_set(c, "jobmanager", "router", "tcp://127.0.0.1:1, tcp://127.0.0.1:2",
	                          NULL, NULL, 0),
	                 0);
	ck_assert_int_eq(conf_set(c, "global", "heartbeat_interval", "2", NULL, NULL, 0), 0);
	ck_assert_int_eq(conf_set(c, "jobmanager", "heartbeat_timeout", "9", NULL, NULL, 0), 0);
	memset(&pc, 0, sizeof(pc));
	pc.type = "worker";
	pc.hwm = 7;
	ck_assert_int_eq(startup_peer_config(c, "jobmanager", "router", &pc, &e), 0);
	ck_assert_uint_eq(pc.nendpoints, 2);
	ck_assert_str_eq(pc.endpoints[0], "tcp://127.0.0.1:1");
	ck_assert_str_eq(pc.endpoints[1], "tcp://127.0.0.1:2");
	ck_assert_int_eq(pc.hb_interval_ms, 2000);
	ck_assert_int_eq(pc.hb_timeout_ms, 9000);
	/* The caller's fields are left alone. */
	ck_assert_str_eq(pc.type, "worker");
	ck_assert_int_eq(pc.hwm, 7);
	startup_peer_config_free(&pc);
	ck_assert_ptr_null(pc.endpoints);
	ck_assert_uint_eq(pc.nendpoints, 0);
	/* The bridge's backends: another key of another section. */
	ck_assert_int_eq(startup_peer_config(c, "bridge", "router_backend", &pc, &e), 0);
	ck_assert_uint_eq(pc.nendpoints, 1);
	ck_assert_str_eq(pc.endpoints[0], "tcp://127.0.0.1:47290");
	ck_assert_int_eq(pc.hb_timeout_ms, 5000);
	startup_peer_config_free(&pc);
	/* No list can be empty: the configuration refuses it first. */
	ck_assert_int_eq(conf_set(c, "scheduler", "router", "", NULL, NULL, 0), -1);
	conf_destroy(&c);
}
END_TEST

START_TEST(test_peer_new)
{
	conf_t *c = conf_new();
	loop_t *loop = loop_new();
	void *ctx = zmq_ctx_new();
	peer_config_t pc;
	gh_error_t e = {0, ""};
	peer_t *p;

	ck_assert_int_eq(conf_set(c, "scheduler", "router", "tcp://127.0.0.1:1", NULL, NULL, 0), 0);
	memset(&pc, 0, sizeof(pc));
	pc.type = "scheduler";
	pc.queues = "";
	pc.message = on_peer_message;
	p = startup_peer_new(loop, ctx, c, "scheduler", "router", &pc, &e);
	ck_assert_msg(p != NULL, "startup_peer_new: %s", e.text);
	ck_assert_str_eq(peer_endpoint(p), "tcp://127.0.0.1:1");
	/* pc is the caller's as it was. */
	ck_assert_ptr_null(pc.endpoints);
	ck_assert_int_eq(pc.hb_interval_ms, 0);
	ck_assert_int_eq(conf_set(c, "scheduler", "heartbeat_interval", "1", NULL, NULL, 0), 0);
	startup_peer_heartbeat(p, c, "scheduler");
	startup_peer_heartbeat(NULL, c, "scheduler");
	peer_destroy(&p, 0);
	zmq_ctx_term(ctx);
	loop_destroy(&loop);
	conf_destroy(&c);
}
END_TEST

static int
on_test_signal(loop_t *loop, int signo, void *arg)
{
	int *seen = arg;

	*seen = signo;
	loop_stop(loop);
	return 0;
}

static int
on_test_hup(loop_t *loop, int signo, void *arg)
{
	int *seen = arg;

	*seen = -signo;
	loop_stop(loop);
	return 0;
}

START_TEST(test_loop_signals)
{
	static const int signals[] = {SIGHUP, SIGTERM, SIGINT};
	int seen = 0;
	loop_t *loop = startup_loop(on_test_signal, on_test_hup, &seen);

	for (size_t i = 0; i < GH_ARRAY_LEN(signals); i++) {
		seen = 0;
		raise(signals[i]);
		ck_assert_int_eq(loop_run(loop), 0);
		ck_assert_int_eq(seen, signals[i] == SIGHUP ? -SIGHUP : signals[i]);
	}
	loop_destroy(&loop);
}
END_TEST

START_TEST(test_gearman_servers)
{
	conf_t *c = conf_new();
	gh_error_t e = {0, ""};
	size_t n;
	char **list;

	list = startup_gearman_servers(c, "fanout", &n, &e);
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0], "127.0.0.1:4730");
	conf_list_free(list, n);
	ck_assert_int_eq(conf_set(c, "bridge", "gearman_servers", "a:1 [::1]:2,b", NULL, NULL, 0),
	                 0);
	list = startup_gearman_servers(c, "bridge", &n, &e);
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[1], "[::1]:2");
	conf_list_free(list, n);
	conf_destroy(&c);
}
END_TEST

START_TEST(test_log_settings)
{
	conf_t *c = conf_new();
	log_level_t level = LOG_LEVEL_ERROR;
	int use_syslog = -1;

	startup_log_settings(c, "router", &level, &use_syslog);
	ck_assert_int_eq(level, LOG_LEVEL_INFO);
	ck_assert_int_eq(use_syslog, 0);
	ck_assert_int_eq(conf_set(c, "global", "log_target", "syslog", NULL, NULL, 0), 0);
	ck_assert_int_eq(conf_set(c, "global", "log_level", "warn", NULL, NULL, 0), 0);
	ck_assert_int_eq(conf_set(c, "fanout", "log_level", "DEBUG", NULL, NULL, 0), 0);
	ck_assert_int_eq(conf_set(c, "bridge", "log_target", "stderr", NULL, NULL, 0), 0);
	startup_log_settings(c, "router", &level, &use_syslog);
	ck_assert_int_eq(level, LOG_LEVEL_WARN);
	ck_assert_int_eq(use_syslog, 1);
	startup_log_settings(c, "fanout", &level, &use_syslog);
	ck_assert_int_eq(level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(use_syslog, 1);
	startup_log_settings(c, "bridge", &level, &use_syslog);
	ck_assert_int_eq(level, LOG_LEVEL_WARN);
	ck_assert_int_eq(use_syslog, 0);
	ck_assert_int_eq(conf_set(c, "bridge", "log_target", "file", NULL, NULL, 0), -1);
	startup_log_open(c, "bridge", "gearhorn-check");
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
	conf_destroy(&c);
}
END_TEST

START_TEST(test_reload)
{
	static const char *const restart[] = {"router", NULL};
	char *file = write_file("r.conf", "[scheduler]\nrouter = tcp://127.0.0.1:1\n");
	char *argv[] = {"gearhorn-test", "-c", file, "-d", "/cmd.db", NULL};
	FILE *logf = tmpfile();
	startup_t *st;
	conf_t *c = load(&st, argv), *fresh;
	char *text;

	ck_assert_ptr_nonnull(logf);
	log_set_fd(fileno(logf));
	free(write_file("r.conf", "[scheduler]\nrouter = tcp://127.0.0.1:2\n"
	                          "log_level = debug\nlog_target = syslog\n"));
	fresh = startup_reload(st, c, restart);
	ck_assert_ptr_nonnull(fresh);
	/* The command line still wins; the level applies, the target waits. */
	ck_assert_str_eq(conf_get(fresh, "scheduler", "database"), "/cmd.db");
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_DEBUG);
	free(write_file("r.conf", "[scheduler]\nrouter = nowhere\n"));
	ck_assert_ptr_null(startup_reload(st, fresh, restart));
	log_set_fd(2);
	text = read_all(logf);
	ck_assert_ptr_nonnull(strstr(text, "reload: [scheduler] router changed from "
	                                   "\"tcp://127.0.0.1:1\" to \"tcp://127.0.0.1:2\"; it "
	                                   "takes effect after a restart"));
	ck_assert_ptr_nonnull(strstr(text, "reload: [scheduler] log_target changed from "
	                                   "\"stderr\" to \"syslog\""));
	ck_assert_ptr_nonnull(strstr(text, "; keeping the previous configuration"));
	ck_assert_ptr_nonnull(strstr(text, "nowhere"));
	free(text);
	fclose(logf);
	conf_destroy(&fresh);
	conf_destroy(&c);
	startup_destroy(&st);
	free(file);
}
END_TEST

/* A startup_check_fn that refuses the database "/refused" and copies the
 * database it saw to arg (64 bytes). */
static int
check_database(const conf_t *c, void *arg, gh_error_t *e)
{
	const char *db = conf_get(c, "scheduler", "database");

	/* The log is not open yet: the level is still the default. */
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_INFO);
	gh_strlcpy(arg, db, 64);
	if (strcmp(db, "/refused") == 0)
		return gh_error_set(e, EX_CONFIG, "[scheduler] database: refused");
	return 0;
}

START_TEST(test_begin_check)
{
	char *argv[] = {"gearhorn-test", "-c", "/dev/null", "-l", "debug", "-d", "/ok", NULL};
	char *bad[] = {"gearhorn-test", "-c", "/dev/null", "-l", "debug", "-d", "/refused", NULL};
	startup_t *st = startup_new(&test_program);
	char seen[64] = "";
	conf_t *c = NULL;

	ck_assert_int_eq(startup_begin_check(st, count(bad), bad, check_database, seen, &c),
	                 EX_CONFIG);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(seen, "/refused");
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_INFO);
	ck_assert_int_eq(startup_begin_check(st, count(argv), argv, check_database, seen, &c),
	                 STARTUP_RUN);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(conf_get(c, "scheduler", "database"), "/ok");
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_DEBUG);
	conf_destroy(&c);
	startup_destroy(&st);
}
END_TEST

START_TEST(test_log_fail)
{
	FILE *logf = tmpfile();
	gh_error_t e;
	char *text;

	ck_assert_ptr_nonnull(logf);
	log_set_fd(fileno(logf));
	gh_error_set(&e, EX_OSERR, "cannot %s", "fork");
	ck_assert_int_eq(startup_log_fail(&e), EX_OSERR);
	log_set_fd(2);
	text = read_all(logf);
	ck_assert_ptr_nonnull(strstr(text, "error: cannot fork\n"));
	free(text);
	fclose(logf);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("startup");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_error_classes);
	tcase_add_test(tc, test_overrides_order);
	tcase_add_test(tc, test_repeated_option);
	tcase_add_test(tc, test_config_from_environment);
	tcase_add_test(tc, test_bad_command_lines);
	tcase_add_test(tc, test_bad_values_are_config_errors);
	tcase_add_test(tc, test_begin);
	tcase_add_test(tc, test_fail);
	tcase_add_test(tc, test_usage_from_table);
	tcase_add_test(tc, test_version_line);
	tcase_add_test(tc, test_db_path);
	tcase_add_test(tc, test_db_dir);
	tcase_add_test(tc, test_peer_config);
	tcase_add_test(tc, test_peer_new);
	tcase_add_test(tc, test_loop_signals);
	tcase_add_test(tc, test_gearman_servers);
	tcase_add_test(tc, test_log_settings);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_begin_check);
	tcase_add_test(tc, test_log_fail);
	suite_add_tcase(s, tc);
	return s;
}
