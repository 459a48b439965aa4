/*
 * check_conf.c: unit tests for the conf module.
 */
#include "config.h"

#include "conf.h"
#include "util.h"
#include "lib/check_main.h"
#include "lib/files.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const sections[] = {"global",    "router", "jobmanager",
                                       "scheduler", "fanout", "bridge"};

/* Each test gets a fresh directory for its files. */
static char tmpdir[1024];
static char err[1024];

static void
setup(void)
{
	ck_assert_int_eq(gh_tmpdir_make(tmpdir, sizeof(tmpdir), "check_conf"), 0);
	err[0] = '\0';
}

static void
teardown(void)
{
	ck_assert_int_eq(gh_tmpdir_remove(tmpdir), 0);
}

/* Writes len bytes to a new file in tmpdir. Caller owns the path. */
static char *
write_bytes(const char *name, const char *data, size_t len)
{
	char *path = gh_asprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static char *
write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

/* Loads text into a fresh conf and requires success. Caller owns it. */
static conf_t *
load_ok(const char *text)
{
	conf_t *c = conf_new();

	ck_assert_msg(conf_load_string(c, text, "test.conf", err, sizeof(err)) == 0,
	              "load failed: %s", err);
	return c;
}

/* Requires text to fail to load with every one of the NULL-terminated
 * substrings in the message, and no control character in it. */
static void
load_fails(const char *text, ...)
{
	conf_t *c = conf_new();
	const char *want;
	const char *p;
	va_list ap;

	err[0] = '\0';
	ck_assert_msg(conf_load_string(c, text, "test.conf", err, sizeof(err)) == -1,
	              "loaded: \"%s\"", text);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
	va_end(ap);
	for (p = err; *p != '\0'; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f,
		              "control character in \"%s\"", err);
	conf_destroy(&c);
}

/* conf_set must accept value and store want. */
static void
set_ok(const char *section, const char *key, const char *value, const char *want)
{
	conf_t *c = conf_new();

	ck_assert_msg(conf_set(c, section, key, value, NULL, err, sizeof(err)) == 0,
	              "[%s] %s = \"%s\": %s", section, key, value, err);
	ck_assert_str_eq(conf_get(c, section, key), want);
	ck_assert_str_eq(conf_origin(c, section, key), "command line");
	conf_destroy(&c);
}

/* conf_set must refuse value, with want in the message, and keep the old
 * value. */
static void
set_bad(const char *section, const char *key, const char *value, const char *want)
{
	conf_t *c = conf_new();
	int valid = conf_key_valid(section, key);
	char *before = gh_strdup(valid ? conf_get(c, section, key) : "");
	const char *p;

	err[0] = '\0';
	ck_assert_msg(conf_set(c, section, key, value, "here", err, sizeof(err)) == -1,
	              "[%s] %s accepted \"%s\"", section, key, value);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
	ck_assert_msg(strncmp(err, "here: ", 6) == 0, "no origin in \"%s\"", err);
	for (p = err; *p != '\0'; p++)
		ck_assert_msg((unsigned char)*p >= 0x20, "control character in \"%s\"", err);
	if (valid) {
		ck_assert_str_eq(conf_get(c, section, key), before);
		ck_assert_str_eq(conf_origin(c, section, key), "default");
	}
	free(before);
	conf_destroy(&c);
}

START_TEST(test_defaults)
{
	conf_t *c = conf_new();
	const conf_key_info_t *info;
	size_t i;

	for (i = 0; (info = conf_key_at(i)) != NULL; i++) {
		ck_assert_ptr_nonnull(info->section);
		ck_assert_ptr_nonnull(info->key);
		ck_assert_ptr_nonnull(info->type_name);
		ck_assert_ptr_nonnull(info->def);
		ck_assert_ptr_nonnull(info->help);
		ck_assert_str_eq(conf_get(c, info->section, info->key), info->def);
		ck_assert_str_eq(conf_origin(c, info->section, info->key), "default");
		ck_assert(conf_key_valid(info->section, info->key));
	}
	ck_assert_uint_eq(i, 61);
	ck_assert_ptr_null(conf_key_at(i));
	ck_assert_ptr_null(conf_key_at((size_t)-1));

	ck_assert_str_eq(conf_get(c, "global", "log_level"), "info");
	ck_assert_str_eq(conf_get(c, "router", "log_level"), "info");
	ck_assert_str_eq(conf_get(c, "global", "log_target"), "stderr");
	ck_assert_str_eq(conf_get(c, "global", "state_dir"), "/var/lib/gearhorn");
	ck_assert_str_eq(conf_get(c, "fanout", "gearman_servers"), "127.0.0.1:4730");
	ck_assert_int_eq(conf_get_int(c, "global", "heartbeat_interval"), 3);
	ck_assert_int_eq(conf_get_int(c, "jobmanager", "heartbeat_timeout"), 5);
	ck_assert_str_eq(conf_get(c, "router", "frontend"), "tcp://127.0.0.1:47291");
	ck_assert_str_eq(conf_get(c, "router", "backend"), "tcp://127.0.0.1:47290");
	ck_assert_str_eq(conf_get(c, "router", "admin"), "tcp://127.0.0.1:47293");
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 10000);
	ck_assert_int_eq(conf_get_int(c, "router", "max_message_size"), 1048576);
	ck_assert_int_eq(conf_get_bool(c, "router", "journal"), 0);
	ck_assert_str_eq(conf_get(c, "router", "journal_path"), "");
	ck_assert_str_eq(conf_get(c, "router", "default_queue"), "default");
	ck_assert_str_eq(conf_get(c, "jobmanager", "router"), "tcp://127.0.0.1:47290");
	ck_assert_str_eq(conf_get(c, "jobmanager", "queues"), "[[10,\"default\"]]");
	ck_assert_int_eq(conf_get_int(c, "jobmanager", "concurrent_jobs"), 4);
	ck_assert_int_eq(conf_get_int(c, "jobmanager", "max_job_count"), 1024);
	ck_assert_int_eq(conf_get_int(c, "jobmanager", "timeout"), 300);
	ck_assert_int_eq(conf_get_int(c, "jobmanager", "kill_grace_period"), 30);
	ck_assert_str_eq(conf_get(c, "jobmanager", "handler_dirs"), "");
	ck_assert_str_eq(conf_get(c, "scheduler", "router"), "tcp://127.0.0.1:47291");
	ck_assert_str_eq(conf_get(c, "scheduler", "database"), "");
	ck_assert_int_eq(conf_get_int(c, "fanout", "threads"), 8);
	ck_assert_int_eq(conf_get_int(c, "fanout", "foreground_timeout"), 30);
	ck_assert_int_eq(conf_get_int(c, "fanout", "matchmaking_ttl"), 60);
	ck_assert_int_eq(conf_get_int(c, "fanout", "subscription_ttl"), 0);
	ck_assert_str_eq(conf_get(c, "bridge", "router_backend"), "tcp://127.0.0.1:47290");
	ck_assert_str_eq(conf_get(c, "bridge", "router_frontend"), "tcp://127.0.0.1:47291");
	ck_assert_int_eq(conf_get_int(c, "bridge", "max_in_flight"), 16);
	ck_assert_ptr_null(conf_file(c));
	conf_destroy(&c);
	ck_assert_ptr_null(c);
	conf_destroy(&c);
	conf_destroy(NULL);
}
END_TEST

START_TEST(test_schema_types)
{
	const conf_key_info_t *info;
	size_t i;
	int seen = 0;

	for (i = 0; (info = conf_key_at(i)) != NULL; i++) {
		/* Every default is accepted by conf_set, even in NDEBUG builds. */
		conf_t *c = conf_new();
		ck_assert_msg(
		    conf_set(c, info->section, info->key, info->def, NULL, err, sizeof(err)) == 0,
		    "default of [%s] %s: %s", info->section, info->key, err);
		conf_destroy(&c);
		if (strcmp(info->key, "heartbeat_interval") == 0) {
			ck_assert_str_eq(info->type_name, "integer 1..3600");
			seen++;
		} else if (strcmp(info->key, "log_level") == 0) {
			ck_assert_str_eq(info->type_name, "enum error|warn|notice|info|debug");
			seen++;
		} else if (strcmp(info->key, "gearman_servers") == 0) {
			ck_assert_str_eq(info->type_name, "server list");
			seen++;
		} else if (strcmp(info->key, "frontend") == 0) {
			ck_assert_str_eq(info->type_name, "endpoint");
			seen++;
		}
	}
	ck_assert_int_eq(seen, 4);
}
END_TEST

START_TEST(test_key_valid)
{
	ck_assert(conf_key_valid("global", "log_level"));
	ck_assert(conf_key_valid("router", "log_level"));
	ck_assert(conf_key_valid("bridge", "gearman_servers"));
	ck_assert(conf_key_valid("router", "frontend"));
	ck_assert(conf_key_valid("scheduler", "router"));
	ck_assert(!conf_key_valid("global", "frontend"));
	ck_assert(!conf_key_valid("jobmanager", "frontend"));
	ck_assert(!conf_key_valid("router", "router"));
	ck_assert(!conf_key_valid("rooter", "frontend"));
	ck_assert(!conf_key_valid("Router", "frontend"));
	ck_assert(!conf_key_valid("router", "Frontend"));
	ck_assert(!conf_key_valid(NULL, "frontend"));
	ck_assert(!conf_key_valid("router", NULL));
	ck_assert_str_eq(conf_default_path(),
#ifdef GH_DEFAULT_CONFIG
	                 GH_DEFAULT_CONFIG
#else
	                 "/etc/gearhorn.conf"
#endif
	);
}
END_TEST

START_TEST(test_file_values)
{
	static const char text[] = "\xef\xbb\xbf; a comment\r\n"
	                           "# another comment\n"
	                           "\n"
	                           "[global]\n"
	                           "log_level = debug\n"
	                           "  state_dir=/srv/gh   ; inline comment\n"
	                           "\theartbeat_interval: 7\n"
	                           "[router]\r\n"
	                           "max_length = 42\r\n"
	                           "    journal = Yes\n"
	                           "default_queue = a;b#c\n"
	                           "  [jobmanager]\n"
	                           "programs = convert, resize\n"
	                           "queues = [[10, \"default\"], [5, \"low\"]]\n";
	char *path = write_file("gearhorn.conf", text);
	char *origin;
	conf_t *c = conf_new();

	ck_assert_msg(conf_load_file(c, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(conf_file(c), path);
	ck_assert_str_eq(conf_get(c, "global", "log_level"), "debug");
	ck_assert_str_eq(conf_get(c, "global", "state_dir"), "/srv/gh");
	ck_assert_int_eq(conf_get_int(c, "global", "heartbeat_interval"), 7);
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 42);
	ck_assert_int_eq(conf_get_bool(c, "router", "journal"), 1);
	ck_assert_str_eq(conf_get(c, "router", "journal"), "true");
	ck_assert_str_eq(conf_get(c, "router", "default_queue"), "a;b#c");
	ck_assert_str_eq(conf_get(c, "jobmanager", "programs"), "convert, resize");
	ck_assert_str_eq(conf_get(c, "jobmanager", "queues"), "[[10, \"default\"], [5, \"low\"]]");
	/* Untouched keys keep their defaults. */
	ck_assert_str_eq(conf_get(c, "router", "frontend"), "tcp://127.0.0.1:47291");
	ck_assert_str_eq(conf_origin(c, "router", "frontend"), "default");

	origin = gh_asprintf("%s:5", path);
	ck_assert_str_eq(conf_origin(c, "global", "log_level"), origin);
	free(origin);
	origin = gh_asprintf("%s:10", path);
	ck_assert_str_eq(conf_origin(c, "router", "journal"), origin);
	free(origin);
	origin = gh_asprintf("%s:13", path);
	ck_assert_str_eq(conf_origin(c, "jobmanager", "programs"), origin);
	free(origin);

	conf_destroy(&c);
	free(path);
}
END_TEST

START_TEST(test_last_wins)
{
	conf_t *c = load_ok("[router]\n"
	                    "max_length = 1\n"
	                    "[fanout]\n"
	                    "threads = 3\n"
	                    "[router]\n"
	                    "max_length = 2\n");

	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 2);
	ck_assert_str_eq(conf_origin(c, "router", "max_length"), "test.conf:6");
	ck_assert_int_eq(conf_get_int(c, "fanout", "threads"), 3);
	/* A later file replaces the keys it sets and keeps the others. */
	ck_assert_int_eq(
	    conf_load_string(c, "[fanout]\nthreads = 9\n", "second.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_get_int(c, "fanout", "threads"), 9);
	ck_assert_str_eq(conf_origin(c, "fanout", "threads"), "second.conf:2");
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 2);
	conf_destroy(&c);

	c = conf_new();
	ck_assert_int_eq(conf_load_string(c, "[fanout]\nthreads = 9\n", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(conf_origin(c, "fanout", "threads"), "(string):2");
	conf_destroy(&c);
}
END_TEST

START_TEST(test_env_overrides_file)
{
	char *path = write_file("gh.conf", "[router]\n"
	                                   "max_length = 42\n"
	                                   "max_message_size = 4096\n");
	char *envp[] = {"PATH=/bin", "GEARHORN_ROUTER_MAX_LENGTH=77", "HOME=/root",
	                "GEARHORN_GLOBAL_LOG_LEVEL=warn", NULL};
	conf_t *c = conf_load(path, envp, err, sizeof(err));
	char *origin;

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 77);
	ck_assert_str_eq(conf_origin(c, "router", "max_length"),
	                 "environment GEARHORN_ROUTER_MAX_LENGTH");
	ck_assert_int_eq(conf_get_int(c, "router", "max_message_size"), 4096);
	origin = gh_asprintf("%s:3", path);
	ck_assert_str_eq(conf_origin(c, "router", "max_message_size"), origin);
	free(origin);
	ck_assert_str_eq(conf_get(c, "global", "log_level"), "warn");
	ck_assert_str_eq(conf_get(c, "scheduler", "log_level"), "warn");
	ck_assert_str_eq(conf_origin(c, "scheduler", "log_level"),
	                 "environment GEARHORN_GLOBAL_LOG_LEVEL");
	ck_assert_str_eq(conf_file(c), path);

	/* Flags come last and win. */
	ck_assert_int_eq(conf_set(c, "router", "max_length", "5", "command line", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 5);
	ck_assert_str_eq(conf_origin(c, "router", "max_length"), "command line");
	ck_assert_int_eq(
	    conf_set(c, "router", "max_message_size", "8192", "--max-size", err, sizeof(err)), 0);
	ck_assert_str_eq(conf_origin(c, "router", "max_message_size"), "--max-size");
	ck_assert_int_eq(conf_set(c, "router", "admin", " tcp://*:9 ", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(conf_get(c, "router", "admin"), "tcp://*:9");
	ck_assert_str_eq(conf_origin(c, "router", "admin"), "command line");
	conf_destroy(&c);
	free(path);
}
END_TEST

START_TEST(test_global_override)
{
	char *path = write_file("gh.conf", "[global]\n"
	                                   "log_level = warn\n"
	                                   "heartbeat_timeout = 9\n"
	                                   "[router]\n"
	                                   "log_level = debug\n");
	char *envp[] = {"GEARHORN_FANOUT_LOG_LEVEL=error", "GEARHORN_GLOBAL_LOG_LEVEL=notice",
	                "GEARHORN_BRIDGE_HEARTBEAT_TIMEOUT=11", NULL};
	conf_t *c = conf_load(path, NULL, err, sizeof(err));
	char *origin;

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(conf_get(c, "global", "log_level"), "warn");
	ck_assert_str_eq(conf_get(c, "router", "log_level"), "debug");
	ck_assert_str_eq(conf_get(c, "jobmanager", "log_level"), "warn");
	ck_assert_int_eq(conf_get_int(c, "router", "heartbeat_timeout"), 9);
	origin = gh_asprintf("%s:5", path);
	ck_assert_str_eq(conf_origin(c, "router", "log_level"), origin);
	free(origin);
	origin = gh_asprintf("%s:2", path);
	ck_assert_str_eq(conf_origin(c, "jobmanager", "log_level"), origin);
	free(origin);

	ck_assert_int_eq(conf_load_env(c, envp, err, sizeof(err)), 0);
	ck_assert_str_eq(conf_get(c, "fanout", "log_level"), "error");
	ck_assert_str_eq(conf_get(c, "global", "log_level"), "notice");
	ck_assert_str_eq(conf_get(c, "jobmanager", "log_level"), "notice");
	/* The section's own value beats [global], whatever layer set it. */
	ck_assert_str_eq(conf_get(c, "router", "log_level"), "debug");
	ck_assert_int_eq(conf_get_int(c, "bridge", "heartbeat_timeout"), 11);
	ck_assert_int_eq(conf_get_int(c, "global", "heartbeat_timeout"), 9);
	ck_assert_int_eq(conf_get_int(c, "scheduler", "heartbeat_timeout"), 9);
	conf_destroy(&c);
	free(path);
}
END_TEST

START_TEST(test_int_values)
{
	set_ok("router", "max_length", "1", "1");
	set_ok("router", "max_length", "100000000", "100000000");
	set_ok("router", "max_length", "+5", "5");
	set_ok("router", "max_length", "007", "7");
	set_ok("router", "max_length", "  12\t", "12");
	set_ok("jobmanager", "max_job_count", "0", "0");
	set_ok("fanout", "subscription_ttl", "31536000", "31536000");

	set_bad("router", "max_length", "0", "expected an integer from 1 to 100000000, got \"0\"");
	set_bad("router", "max_length", "100000001", "got \"100000001\"");
	set_bad("router", "max_length", "ten", "[router] max_length: expected an integer");
	set_bad("router", "max_length", "", "got \"\"");
	set_bad("router", "max_length", "1.5", "got \"1.5\"");
	set_bad("router", "max_length", "0x10", "got \"0x10\"");
	set_bad("router", "max_length", "-1", "got \"-1\"");
	set_bad("router", "max_length", "5 6", "got \"5 6\"");
	set_bad("router", "max_length", "99999999999999999999999", "expected an integer");
	set_bad("router", "max_length", "-99999999999999999999999", "expected an integer");
	set_bad("router", "max_message_size", "255", "from 256 to 268435456");
	set_bad("fanout", "matchmaking_ttl", "4", "from 5 to 86400");
	set_bad("jobmanager", "concurrent_jobs", "1025", "from 1 to 1024");
}
END_TEST

START_TEST(test_bool_values)
{
	static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
	static const char *const no[] = {"false", "False", "no", "NO", "off", "oFF", "0"};
	conf_t *c = conf_new();
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(yes); i++) {
		set_ok("router", "journal", yes[i], "true");
		ck_assert_int_eq(conf_set(c, "router", "journal", yes[i], NULL, err, sizeof(err)),
		                 0);
		ck_assert_int_eq(conf_get_bool(c, "router", "journal"), 1);
	}
	for (i = 0; i < GH_ARRAY_LEN(no); i++) {
		set_ok("router", "journal", no[i], "false");
		ck_assert_int_eq(conf_set(c, "router", "journal", no[i], NULL, err, sizeof(err)),
		                 0);
		ck_assert_int_eq(conf_get_bool(c, "router", "journal"), 0);
	}
	conf_destroy(&c);
	set_bad("router", "journal", "2",
	        "expected true, false, yes, no, on, off, 1 or 0, got \"2\"");
	set_bad("router", "journal", "y", "got \"y\"");
	set_bad("router", "journal", "enable", "got \"enable\"");
	set_bad("router", "journal", "", "got \"\"");
	set_bad("router", "journal", "truee", "got \"truee\"");
}
END_TEST

START_TEST(test_enum_values)
{
	set_ok("global", "log_level", "debug", "debug");
	set_ok("global", "log_level", "DEBUG", "debug");
	set_ok("global", "log_level", "Warn", "warn");
	set_ok("router", "log_level", "error", "error");
	set_ok("global", "log_target", "syslog", "syslog");
	set_bad("global", "log_level", "loud",
	        "expected one of error|warn|notice|info|debug, got \"loud\"");
	set_bad("global", "log_level", "", "got \"\"");
	set_bad("global", "log_level", "info debug", "got \"info debug\"");
	set_bad("global", "log_level", "inf", "got \"inf\"");
	set_bad("global", "log_target", "file", "expected one of stderr|syslog");
}
END_TEST

START_TEST(test_endpoint_values)
{
	static const char *const good[] = {"tcp://127.0.0.1:1",
	                                   "tcp://*:65535",
	                                   "tcp://localhost:47291",
	                                   "tcp://[::1]:5555",
	                                   "tcp://[fe80::1%eth0]:5555",
	                                   "tcp://eth0:5555",
	                                   "tcp://my-host.example.com:80",
	                                   "tcp://under_score:80",
	                                   "ipc:///tmp/gearhorn.sock",
	                                   "ipc://@abstract",
	                                   "ipc://relative",
	                                   "inproc://name"};
	static const struct {
		const char *value, *why;
	} bad[] = {
	    {"tcp://127.0.0.1:0", "port must be a number from 1 to 65535"},
	    {"tcp://127.0.0.1:65536", "port must be"},
	    {"tcp://127.0.0.1:99999999999", "port must be"},
	    {"tcp://h:+80", "port must be"},
	    {"tcp://h:8a", "port must be"},
	    {"tcp://h:", "port must be"},
	    {"tcp://127.0.0.1", "missing port"},
	    {"tcp://:80", "missing host"},
	    {"tcp://", "missing host and port"},
	    {"tcp://[::1:80", "missing \"]\""},
	    {"tcp://[::1]80", "unexpected text after"},
	    {"tcp://::1:80", "must be written in brackets"},
	    {"tcp://[zz::1]:80", "bad IPv6 address"},
	    {"tcp://[]:80", "bad IPv6 address"},
	    {"tcp://[fe80::1%]:80", "empty IPv6 zone"},
	    {"tcp://1.2.3:80", "bad IPv4 address"},
	    {"tcp://999.1.1.1:80", "bad IPv4 address"},
	    {"tcp://-bad:80", "begins with"},
	    {"tcp://a..b:80", "empty label"},
	    {"tcp://.a:80", "empty label"},
	    {"tcp://h/x:80", "bad character"},
	    {"tcp://a b:80", "white space or comma"},
	    {"tcp://a:1,tcp://b:2", "white space or comma"},
	    {"udp://h:80", "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"},
	    {"http://h:80", "expected tcp://"},
	    {"h:80", "expected tcp://"},
	    {"", "expected tcp://"},
	    {"TCP://h:80", "expected tcp://"},
	    {"ipc://", "missing path"},
	    {"inproc://", "missing name"},
	};
	char longipc[128];
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(good); i++) {
		set_ok("router", "frontend", good[i], good[i]);
		ck_assert_msg(conf_check_endpoint(good[i], err, sizeof(err)) == 0, "%s: %s",
		              good[i], err);
	}
	for (i = 0; i < GH_ARRAY_LEN(bad); i++) {
		set_bad("router", "frontend", bad[i].value,
		        "here: [router] frontend: bad endpoint \"");
		set_bad("router", "frontend", bad[i].value, bad[i].why);
		ck_assert_int_eq(conf_check_endpoint(bad[i].value, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s: %s", bad[i].value, err);
	}

	/* sun_path limits ipc paths to 107 bytes. */
	memset(longipc, 'p', sizeof(longipc));
	memcpy(longipc, "ipc://", 6);
	longipc[6 + 107] = '\0';
	set_ok("router", "admin", longipc, longipc);
	longipc[6 + 107] = 'p';
	longipc[6 + 108] = '\0';
	set_bad("router", "admin", longipc, "longer than 107 bytes");
}
END_TEST

START_TEST(test_endpoint_list_values)
{
	conf_t *c = conf_new();
	char **list;
	size_t n;

	set_ok("jobmanager", "router", "tcp://a:1,tcp://b:2", "tcp://a:1,tcp://b:2");
	ck_assert_int_eq(conf_set(c, "jobmanager", "router", "tcp://a:1, tcp://[::1]:2\tipc:///x ,",
	                          NULL, err, sizeof(err)),
	                 0);
	list = conf_get_list(c, "jobmanager", "router", &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0], "tcp://a:1");
	ck_assert_str_eq(list[1], "tcp://[::1]:2");
	ck_assert_str_eq(list[2], "ipc:///x");
	ck_assert_ptr_null(list[3]);
	conf_list_free(list, n);
	conf_destroy(&c);

	set_bad("jobmanager", "router", "tcp://a:1, tcp://b:0",
	        "[jobmanager] router: bad endpoint \"tcp://b:0\": port must be");
	set_bad("jobmanager", "router", "tcp://a:1 udp://b:2", "bad endpoint \"udp://b:2\"");
	set_bad("jobmanager", "router", "", "expected at least one endpoint");
	set_bad("bridge", "router_backend", " , ,", "expected at least one endpoint");
}
END_TEST

START_TEST(test_server_values)
{
	static const struct {
		const char *server, *host;
		int port;
	} parsed[] = {
	    {"127.0.0.1", "127.0.0.1", 4730},
	    {"gearman.example.com:7003", "gearman.example.com", 7003},
	    {"[::1]", "::1", 4730},
	    {"[::1]:4731", "::1", 4731},
	    {"[2001:db8::1]:1", "2001:db8::1", 1},
	    {"[fe80::1%eth0]:65535", "fe80::1%eth0", 65535},
	};
	char host[64];
	conf_t *c = conf_new();
	char **list;
	size_t i, n;
	int port;

	for (i = 0; i < GH_ARRAY_LEN(parsed); i++) {
		port = -1;
		ck_assert_msg(conf_parse_server(parsed[i].server, host, sizeof(host), &port, err,
		                                sizeof(err)) == 0,
		              "%s: %s", parsed[i].server, err);
		ck_assert_str_eq(host, parsed[i].host);
		ck_assert_int_eq(port, parsed[i].port);
		set_ok("global", "gearman_servers", parsed[i].server, parsed[i].server);
	}
	ck_assert_int_eq(
	    conf_parse_server("averyveryverylonghostname", host, 8, &port, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "host too long"));

	set_bad("global", "gearman_servers", "::1", "must be written in brackets");
	set_bad("global", "gearman_servers", "h:0", "bad server \"h:0\": port must be");
	set_bad("global", "gearman_servers", "h:65536", "port must be");
	set_bad("global", "gearman_servers", "h:", "port must be");
	set_bad("global", "gearman_servers", "[::1", "missing \"]\"");
	set_bad("global", "gearman_servers", "[::1]x", "unexpected text");
	set_bad("global", "gearman_servers", "[zz::1]:1", "bad IPv6 address");
	set_bad("global", "gearman_servers", "*", "\"*\" is not a host here");
	set_bad("global", "gearman_servers", "a:1, :2", "missing host");
	set_bad("global", "gearman_servers", "", "expected at least one server");
	set_bad("fanout", "gearman_servers", "tcp://a:1", "bad server \"tcp://a:1\": not a URL");

	ck_assert_int_eq(conf_set(c, "fanout", "gearman_servers", "h1,h2:4731 [2001:db8::1]:7003",
	                          NULL, err, sizeof(err)),
	                 0);
	list = conf_get_list(c, "fanout", "gearman_servers", &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0], "h1");
	ck_assert_str_eq(list[1], "h2:4731");
	ck_assert_str_eq(list[2], "[2001:db8::1]:7003");
	conf_list_free(list, n);
	/* The other programs still see the [global] default. */
	ck_assert_str_eq(conf_get(c, "bridge", "gearman_servers"), "127.0.0.1:4730");
	conf_destroy(&c);
}
END_TEST

START_TEST(test_string_and_list_values)
{
	conf_t *c = conf_new();
	char **list;
	size_t n;

	set_ok("router", "default_queue", "with inner  space", "with inner  space");
	set_ok("router", "journal_path", "/a=b:c#d;e", "/a=b:c#d;e");
	set_ok("router", "journal_path", "", "");
	set_ok("router", "journal_path", "tab\tinside", "tab\tinside");
	set_ok("router", "journal_path", "caf\xc3\xa9", "caf\xc3\xa9");
	set_bad("router", "journal_path", "a\001b", "control character in value \"a\\x01b\"");
	set_bad("router", "journal_path", "a\nb", "\"a\\x0ab\"");
	set_bad("router", "journal_path", "a\x7f", "control character");
	set_bad("router", "journal_path", "a ;b", "would begin a comment");
	set_bad("router", "journal_path", "a\t;b", "would begin a comment");

	ck_assert_int_eq(
	    conf_set(c, "jobmanager", "programs", " a, b,,c\td  e ", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(conf_get(c, "jobmanager", "programs"), "a, b,,c\td  e");
	list = conf_get_list(c, "jobmanager", "programs", &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(list[0], "a");
	ck_assert_str_eq(list[1], "b");
	ck_assert_str_eq(list[2], "c");
	ck_assert_str_eq(list[3], "d");
	ck_assert_str_eq(list[4], "e");
	ck_assert_ptr_null(list[5]);
	conf_list_free(list, n);

	list = conf_get_list(c, "jobmanager", "handler_dirs", &n);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(list);
	ck_assert_ptr_null(list[0]);
	conf_list_free(list, n);
	conf_list_free(NULL, 0);

	/* Many items: the array grows. */
	ck_assert_int_eq(conf_set(c, "bridge", "to_zeromq", "a b c d e f g h i j k l m n o p q",
	                          NULL, err, sizeof(err)),
	                 0);
	list = conf_get_list(c, "bridge", "to_zeromq", &n);
	ck_assert_uint_eq(n, 17);
	ck_assert_str_eq(list[16], "q");
	ck_assert_ptr_null(list[17]);
	conf_list_free(list, n);
	conf_destroy(&c);
}
END_TEST

START_TEST(test_unknown_names)
{
	conf_t *c = conf_new();

	set_bad("router", "frontned", "x", "here: [router] unknown key \"frontned\"");
	set_bad("router", "frontned", "x", "(did you mean \"frontend\"?)");
	set_bad("router", "threads", "3", "(it belongs in [fanout])");
	set_bad("global", "frontend", "tcp://a:1", "[global] unknown key \"frontend\"");
	set_bad("router", "zzzzzzzz", "1", "unknown key \"zzzzzzzz\"");
	set_bad("router", "fr\033nt", "1", "unknown key \"fr\\x1bnt\"");

	ck_assert_int_eq(conf_set(c, "rooter", "frontend", "x", NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "command line: unknown section [rooter]"));
	ck_assert_ptr_nonnull(strstr(err, "(did you mean [router]?)"));
	ck_assert_int_eq(conf_set(c, "Router", "frontend", "x", NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "did you mean [router]"));
	ck_assert_int_eq(conf_set(c, "x\ny", "frontend", "x", NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown section [x\\x0ay]"));
	conf_destroy(&c);
}
END_TEST

START_TEST(test_file_errors)
{
	char longline[400];

	load_fails("[router]\n"
	           "frontend = tcp://a:1\n"
	           "max_length = ten\n",
	           "test.conf:3: [router] max_length: expected an integer from 1 to 100000000, got "
	           "\"ten\"",
	           NULL);
	load_fails("; comment\n"
	           "\n"
	           "[rooter]\n"
	           "frontend = tcp://a:1\n",
	           "test.conf:3: unknown section [rooter]", "did you mean [router]", NULL);
	load_fails("[router]\n\n"
	           "frontned = tcp://a:1\n",
	           "test.conf:3: [router] unknown key \"frontned\"", NULL);
	load_fails("[global]\n"
	           "log_level = info\n"
	           "\n"
	           "this is not ini\n",
	           "test.conf:4: syntax error", NULL);
	load_fails("[global]\n"
	           "[router\n"
	           "frontend = tcp://a:1\n",
	           "test.conf:2: syntax error", NULL);
	load_fails("[global]\n"
	           "[router] trailing\n",
	           "test.conf:2: syntax error", NULL);
	load_fails("frontend = tcp://a:1\n", "test.conf:1:", "\"frontend\" is not in a section",
	           NULL);
	load_fails("[global]\nstate_dir = a\033[31mb\n", "test.conf:2:", "\\x1b", NULL);
	load_fails("[router]\nfr\033ntend = 1\n", "test.conf:2:", "unknown key \"fr\\x1bntend\"",
	           NULL);
	load_fails("[global]\n[\033]\n", "test.conf:2: unknown section [\\x1b]", NULL);
	/* The file name is untrusted too. */
	{
		conf_t *c = conf_new();
		ck_assert_int_eq(conf_load_string(c, "[router]\nmax_length = ten\n", "a\nb.conf",
		                                  err, sizeof(err)),
		                 -1);
		ck_assert_ptr_nonnull(strstr(err, "a\\x0ab.conf:2: [router] max_length"));
		conf_destroy(&c);
	}
	load_fails("[router]\nbackend = tcp://[::1:47290\n", "test.conf:2:", "[router] backend",
	           "missing \"]\"", NULL);

	/* The first error wins, whether it is a syntax error or ours. */
	load_fails("[router]\n"
	           "oops\n"
	           "max_length = ten\n",
	           "test.conf:2: syntax error", NULL);
	load_fails("[router]\n"
	           "max_length = ten\n"
	           "oops\n",
	           "test.conf:2: [router] max_length", NULL);
	load_fails("[router]\n"
	           "oops\n"
	           "[rooter]\n",
	           "test.conf:2: syntax error", NULL);

	/* inih's line buffer is 200 bytes: longer lines are refused, not split. */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "[router]\ndefault_queue = ", 25);
	longline[sizeof(longline) - 1] = '\0';
	load_fails(longline, "test.conf:2: line too long", NULL);
	longline[9 + 198] = '\0';
	{
		conf_t *c = load_ok(longline);
		ck_assert_uint_eq(strlen(conf_get(c, "router", "default_queue")), 198 - 16);
		conf_destroy(&c);
	}
}
END_TEST

START_TEST(test_file_nul_byte)
{
	static const char data[] = "[router]\nmax_length = 1\0 2\n";
	char *path = write_bytes("nul.conf", data, sizeof(data) - 1);
	conf_t *c = conf_new();

	ck_assert_int_eq(conf_load_file(c, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "nul.conf:2: NUL byte"));
	ck_assert_ptr_null(conf_file(c));
	conf_destroy(&c);
	free(path);
}
END_TEST

START_TEST(test_file_error_names_file)
{
	char *path = write_file("bad.conf", "[router]\nmax_length = 0\n");
	char *want = gh_asprintf("%s:2: [router] max_length:", path);
	conf_t *c = conf_new();

	ck_assert_int_eq(conf_load_file(c, path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	conf_destroy(&c);
	c = conf_load(path, NULL, err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_missing_files)
{
	char *missing = gh_asprintf("%s/missing.conf", tmpdir);
	char *want = gh_asprintf("cannot open %s: No such file or directory", missing);
	char *genv = gh_asprintf("GEARHORN_CONFIG=%s", missing);
	char *envp[] = {genv, NULL};
	char *empty[] = {"GEARHORN_CONFIG=", "GEARHORN_ROUTER_MAX_LENGTH=3", NULL};
	conf_t *c = conf_new();

	ck_assert_int_eq(conf_load_file(c, missing, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	conf_destroy(&c);

	ck_assert_ptr_null(conf_load(missing, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, want);

	ck_assert_ptr_null(conf_load(NULL, envp, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_ptr_nonnull(strstr(err, "GEARHORN_CONFIG"));

	ck_assert_int_eq(conf_load_file(c = conf_new(), tmpdir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	conf_destroy(&c);

	/* A missing default file is no error (checked only where it is
	 * missing, so that the test cannot depend on the machine). */
	if (access(conf_default_path(), F_OK) != 0 && errno == ENOENT) {
		c = conf_load(NULL, NULL, err, sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		ck_assert_ptr_null(conf_file(c));
		ck_assert_str_eq(conf_origin(c, "router", "max_length"), "default");
		conf_destroy(&c);
		/* An empty GEARHORN_CONFIG means the default too. */
		c = conf_load(NULL, empty, err, sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 3);
		conf_destroy(&c);
		/* ... but naming the default path makes it required. */
		ck_assert_ptr_null(conf_load(conf_default_path(), NULL, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	} else {
		fprintf(stderr, "check_conf: %s exists, missing-default case skipped\n",
		        conf_default_path());
	}
	free(envp[0]);
	free(want);
	free(missing);
}
END_TEST

START_TEST(test_gearhorn_config)
{
	char *path = write_file("from-env.conf", "[fanout]\nthreads = 5\n");
	char *other = write_file("explicit.conf", "[fanout]\nthreads = 16\n");
	char *genv = gh_asprintf("GEARHORN_CONFIG=%s", path);
	char *envp[] = {genv, "GEARHORN_FANOUT_FOREGROUND_TIMEOUT=45", NULL};
	char *origin = gh_asprintf("%s:2", path);
	conf_t *c = conf_load(NULL, envp, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_get_int(c, "fanout", "threads"), 5);
	ck_assert_str_eq(conf_origin(c, "fanout", "threads"), origin);
	ck_assert_int_eq(conf_get_int(c, "fanout", "foreground_timeout"), 45);
	ck_assert_str_eq(conf_file(c), path);
	conf_destroy(&c);

	/* An explicit path wins over GEARHORN_CONFIG. */
	c = conf_load(other, envp, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_get_int(c, "fanout", "threads"), 16);
	ck_assert_str_eq(conf_file(c), other);
	conf_destroy(&c);

	/* conf_load_env ignores GEARHORN_CONFIG itself. */
	c = conf_new();
	ck_assert_int_eq(conf_load_env(c, envp, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_get_int(c, "fanout", "threads"), 8);
	conf_destroy(&c);

	free(origin);
	free(genv);
	free(other);
	free(path);
}
END_TEST

/* conf_load_env must fail with every NULL-terminated substring in err. */
static void
env_fails(const char *var, ...)
{
	char *envp[] = {"PATH=/usr/bin", (char *)var, NULL};
	conf_t *c = conf_new();
	const char *want;
	va_list ap;

	err[0] = '\0';
	ck_assert_msg(conf_load_env(c, envp, err, sizeof(err)) == -1, "accepted %s", var);
	va_start(ap, var);
	while ((want = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
	va_end(ap);
	conf_destroy(&c);
}

START_TEST(test_env_errors)
{
	char *ignored[] = {"PATH=/bin",
	                   "GEARHORNX=1",
	                   "gearhorn_router_max_length=1",
	                   "GEARHORN_ROUTER_MAX_LENGTH",
	                   "XGEARHORN_ROUTER_MAX_LENGTH=0",
	                   NULL};
	char *twice[] = {"GEARHORN_ROUTER_MAX_LENGTH=1", "GEARHORN_ROUTER_MAX_LENGTH=2", NULL};
	conf_t *c = conf_new();

	env_fails(
	    "GEARHORN_ROUTER_MAX_LENGTH=ten",
	    "environment GEARHORN_ROUTER_MAX_LENGTH: [router] max_length: expected an integer "
	    "from 1 to 100000000, got \"ten\"",
	    NULL);
	env_fails("GEARHORN_ROOTER_FRONTEND=tcp://a:1",
	          "environment GEARHORN_ROOTER_FRONTEND:", "unknown section [rooter]", NULL);
	env_fails("GEARHORN_ROUTER_FRONTNED=tcp://a:1",
	          "environment GEARHORN_ROUTER_FRONTNED:", "[router] unknown key \"frontned\"",
	          NULL);
	env_fails("GEARHORN_FOO=1", "environment GEARHORN_FOO: not a gearhorn setting", NULL);
	env_fails("GEARHORN_=1", "environment GEARHORN_: not a gearhorn setting", NULL);
	env_fails("GEARHORN_ROUTER_=1", "environment GEARHORN_ROUTER_: not a gearhorn", NULL);
	env_fails("GEARHORN__MAX=1", "environment GEARHORN__MAX: not a gearhorn", NULL);
	env_fails("GEARHORN_router_max_length=1", "GEARHORN_router_max_length: not a gearhorn",
	          NULL);
	env_fails("GEARHORN_ROUTER-X_Y=1", "GEARHORN_ROUTER-X_Y: not a gearhorn", NULL);
	env_fails("GEARHORN_GLOBAL_FRONTEND=tcp://a:1", "[global] unknown key \"frontend\"",
	          "(it belongs in [router])", NULL);
	env_fails("GEARHORN_ROUTER_ADMIN=tcp://a:0",
	          "environment GEARHORN_ROUTER_ADMIN: [router] admin", NULL);
	env_fails("GEARHORN_ROUTER_\033=1", "GEARHORN_ROUTER_\\x1b", NULL);

	ck_assert_int_eq(conf_load_env(c, ignored, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_load_env(c, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 10000);
	ck_assert_int_eq(conf_load_env(c, twice, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 2);
	conf_destroy(&c);
}
END_TEST

/* Checks that every key of every section reads the same in a and b. */
static void
assert_same_values(const conf_t *a, const conf_t *b, const char *only)
{
	const conf_key_info_t *info;
	size_t s, i;

	for (s = 0; s < GH_ARRAY_LEN(sections); s++) {
		if (only != NULL && strcmp(only, sections[s]) != 0)
			continue;
		for (i = 0; (info = conf_key_at(i)) != NULL; i++) {
			if (!conf_key_valid(sections[s], info->key))
				continue;
			ck_assert_msg(strcmp(conf_get(a, sections[s], info->key),
			                     conf_get(b, sections[s], info->key)) == 0,
			              "[%s] %s: \"%s\" != \"%s\"", sections[s], info->key,
			              conf_get(a, sections[s], info->key),
			              conf_get(b, sections[s], info->key));
		}
	}
}

/* Dumps c (one section or all) and loads the text into a fresh conf.
 * Caller owns the text in *text and the result. */
static conf_t *
dump_and_reload(const conf_t *c, const char *section, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	conf_t *back = conf_new();

	ck_assert_ptr_nonnull(f);
	conf_dump(c, section, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(conf_load_string(back, *text, "dump", err, sizeof(err)) == 0, "%s\n%s", err,
	              *text);
	return back;
}

START_TEST(test_dump_round_trip)
{
	char *path = write_file("gh.conf", "[global]\n"
	                                   "log_level = warn\n"
	                                   "gearman_servers = a:1, [::1]:2\n"
	                                   "[router]\n"
	                                   "log_level = DEBUG\n"
	                                   "journal = on\n"
	                                   "journal_path = /a=b:c#d;e\n"
	                                   "[jobmanager]\n"
	                                   "queues = [[10, \"default\"], [5, \"x y\"]]\n"
	                                   "programs = a b,c\n");
	char *envp[] = {"GEARHORN_FANOUT_THREADS=+7", "GEARHORN_BRIDGE_HEARTBEAT_INTERVAL=60",
	                NULL};
	conf_t *c = conf_load(path, envp, err, sizeof(err));
	conf_t *back;
	char *text, *line;
	size_t s;

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(
	    conf_set(c, "scheduler", "database", "/var/db/s.db", NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(c, "router", "default_queue", "", NULL, err, sizeof(err)), 0);

	back = dump_and_reload(c, NULL, &text);
	assert_same_values(c, back, NULL);
	ck_assert_str_eq(conf_get(back, "router", "log_level"), "debug");
	ck_assert_str_eq(conf_get(back, "jobmanager", "log_level"), "warn");
	ck_assert_int_eq(conf_get_int(back, "bridge", "heartbeat_interval"), 60);
	ck_assert_int_eq(conf_get_int(back, "router", "heartbeat_interval"), 3);
	/* Origins are written as comments. */
	ck_assert_ptr_nonnull(strstr(text, "threads = 7"));
	ck_assert_ptr_nonnull(strstr(text, "; environment GEARHORN_FANOUT_THREADS\n"));
	ck_assert_ptr_nonnull(strstr(text, "; command line\n"));
	ck_assert_ptr_nonnull(strstr(text, "; default\n"));
	line = gh_asprintf("; %s:6\n", path);
	ck_assert_ptr_nonnull(strstr(text, line));
	free(line);
	/* Every section once, and [global] keys not repeated where unset. */
	for (s = 0; s < GH_ARRAY_LEN(sections); s++) {
		char *hdr = gh_asprintf("[%s]\n", sections[s]);
		char *first = strstr(text, hdr);
		ck_assert_msg(first != NULL, "%s missing", hdr);
		ck_assert_ptr_null(strstr(first + 1, hdr));
		free(hdr);
	}
	ck_assert_ptr_null(strstr(strstr(text, "[scheduler]"), "log_level"));
	free(text);
	conf_destroy(&back);

	/* A dump of the defaults reloads to the defaults. */
	{
		conf_t *d = conf_new();
		back = dump_and_reload(d, NULL, &text);
		assert_same_values(d, back, NULL);
		free(text);
		conf_destroy(&back);
		conf_destroy(&d);
	}

	/* One section: its own keys and the [global] keys as it sees them. */
	for (s = 0; s < GH_ARRAY_LEN(sections); s++) {
		back = dump_and_reload(c, sections[s], &text);
		assert_same_values(c, back, sections[s]);
		if (s > 0)
			ck_assert_ptr_null(strstr(text, "[global]\n"));
		free(text);
		conf_destroy(&back);
	}
	back = dump_and_reload(c, "scheduler", &text);
	ck_assert_ptr_nonnull(strstr(text, "log_level = warn"));
	ck_assert_ptr_nonnull(strstr(text, "(from [global])"));
	ck_assert_ptr_nonnull(strstr(text, "database = /var/db/s.db"));
	ck_assert_ptr_null(strstr(text, "frontend"));
	free(text);
	conf_destroy(&back);

	conf_destroy(&c);
	free(path);
}
END_TEST

START_TEST(test_failed_set_keeps_value)
{
	conf_t *c = load_ok("[router]\nmax_length = 12\n");

	ck_assert_int_eq(conf_set(c, "router", "max_length", "0", NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(conf_get_int(c, "router", "max_length"), 12);
	ck_assert_str_eq(conf_origin(c, "router", "max_length"), "test.conf:2");
	/* A NULL or tiny error buffer is fine. */
	ck_assert_int_eq(conf_set(c, "router", "max_length", "0", NULL, NULL, 0), -1);
	ck_assert_int_eq(conf_set(c, "router", "max_length", "0", NULL, err, 1), -1);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(conf_load_string(c, "[x", "t", NULL, 0), -1);
	conf_destroy(&c);
}
END_TEST

/* man/gearhorn.conf.5 in the source tree (found by suite()). */
static char *man_path;

/* Reads the man page. Caller owns the result. */
static char *
read_man_page(void)
{
	char *text;
	size_t len = 0, n;
	FILE *f;

	f = fopen(man_path, "r");
	ck_assert_msg(f != NULL, "%s: %s", man_path, strerror(errno));
	text = gh_malloc(256 * 1024);
	while ((n = fread(text + len, 1, 256 * 1024 - 1 - len, f)) > 0)
		len += n;
	ck_assert_int_eq(ferror(f), 0);
	ck_assert_uint_lt(len, 256 * 1024 - 1);
	text[len] = '\0';
	fclose(f);
	return text;
}

START_TEST(test_man_page_keys)
{
	char *text = read_man_page();
	const conf_key_info_t *info;
	size_t i;

	/* Every key is an entry in the list of its section. */
	for (i = 0; (info = conf_key_at(i)) != NULL; i++) {
		char *ss = gh_asprintf("\n.Ss [%s]\n", info->section);
		char *it = gh_asprintf("\n.It Ic %s\n", info->key);
		const char *start = strstr(text, ss), *end, *found;
		ck_assert_msg(start != NULL, "gearhorn.conf.5 has no \"%s\"", ss + 1);
		end = strstr(start + 1, "\n.Ss ");
		if (end == NULL)
			end = strstr(start + 1, "\n.Sh ");
		found = strstr(start, it);
		ck_assert_msg(found != NULL && (end == NULL || found < end),
		              "gearhorn.conf.5 does not list %s in [%s]", info->key, info->section);
		free(ss);
		free(it);
	}
	free(text);
}
END_TEST

START_TEST(test_man_page_examples_load)
{
	char *text = read_man_page();
	const char *p;
	int blocks = 0;

	/* Every literal block that is a configuration file loads. */
	for (p = strstr(text, "\n.Bd -literal"); p != NULL; p = strstr(p + 1, "\n.Bd -literal")) {
		const char *body = strchr(p + 1, '\n') + 1;
		const char *end = strstr(body, "\n.Ed\n");
		char *block;
		conf_t *c;
		ck_assert_ptr_nonnull(end);
		if (body[0] != '#' && body[0] != '[')
			continue;
		block = gh_strndup(body, (size_t)(end - body) + 1);
		c = conf_new();
		ck_assert_msg(conf_load_string(c, block, "example", err, sizeof(err)) == 0,
		              "%s in:\n%s", err, block);
		conf_destroy(&c);
		free(block);
		blocks++;
	}
	ck_assert_int_ge(blocks, 2);
	free(text);
}
END_TEST

/* Command line options on top of file and environment, in order; a bad
 * one fails the load with its origin named. */
START_TEST(test_load_overrides)
{
	static char *envp[] = {"GEARHORN_BRIDGE_TIMEOUT=7", "GEARHORN_BRIDGE_LOG_LEVEL=warn", NULL};
	const conf_override_t ov[] = {
	    {"log_level", "debug"}, {"timeout", "9"}, {"log_level", "error"}};
	const conf_override_t bad[] = {{"timeout", "soon"}};
	char msg[512];
	conf_t *c = conf_load_overrides("/dev/null", envp, "bridge", ov, 3, msg, sizeof(msg));

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(conf_get(c, "bridge", "log_level"), "error");
	ck_assert_int_eq(conf_get_int(c, "bridge", "timeout"), 9);
	ck_assert_str_eq(conf_origin(c, "bridge", "timeout"), "command line");
	conf_destroy(&c);
	c = conf_load_overrides("/dev/null", envp, "bridge", ov, 0, msg, sizeof(msg));
	ck_assert_int_eq(conf_get_int(c, "bridge", "timeout"), 7);
	conf_destroy(&c);
	c = conf_load_overrides("/dev/null", envp, "bridge", bad, 1, msg, sizeof(msg));
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(msg, "command line"));
	ck_assert_ptr_nonnull(strstr(msg, "timeout"));
}
END_TEST

static void
free_man_path(void)
{
	free(man_path);
}

Suite *
suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	if ((man_path = gh_test_input("man/gearhorn.conf.5")) == NULL)
		gh_check_skip("man/gearhorn.conf.5 not found (set top_srcdir)");
	gh_check_at_end(free_man_path);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_schema_types);
	tcase_add_test(tc, test_key_valid);
	tcase_add_test(tc, test_file_values);
	tcase_add_test(tc, test_last_wins);
	tcase_add_test(tc, test_env_overrides_file);
	tcase_add_test(tc, test_global_override);
	tcase_add_test(tc, test_int_values);
	tcase_add_test(tc, test_bool_values);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_endpoint_values);
	tcase_add_test(tc, test_endpoint_list_values);
	tcase_add_test(tc, test_server_values);
	tcase_add_test(tc, test_string_and_list_values);
	tcase_add_test(tc, test_unknown_names);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_file_nul_byte);
	tcase_add_test(tc, test_file_error_names_file);
	tcase_add_test(tc, test_missing_files);
	tcase_add_test(tc, test_gearhorn_config);
	tcase_add_test(tc, test_env_errors);
	tcase_add_test(tc, test_dump_round_trip);
	tcase_add_test(tc, test_failed_set_keeps_value);
	tcase_add_test(tc, test_man_page_keys);
	tcase_add_test(tc, test_man_page_examples_load);
	tcase_add_test(tc, test_load_overrides);
	suite_add_tcase(s, tc);
	return s;
}
