/*
 * check_fanout: gearhorn-fanout against a real gearmand. The worker runs in
 * a thread of the test process (fanout_run); subscribers are libgearman
 * workers in threads; requests come from a libgearman client, without the
 * exceptions option unless a case asks for it: a failure's reason arrives
 * as WORK_WARNING before WORK_FAIL either way. Timeouts only bound waiting.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libgearman-1.0/gearman.h>

#include "cache.h"
#include "conf.h"
#include "lib/harness.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "lib/check_main.h"
#include "lib/files.h"

/* ---- the job server (one per test case, started in the runner) ---- */

static harness_gearmand_t gearmand;
static char tmpdir[1024];
static const char *fg_timeout = "10";

static void
server_start(void)
{
	ck_assert_int_eq(harness_gearmand_start(&gearmand, 0), 0);
	ck_assert_int_eq(gh_tmpdir_make(tmpdir, sizeof(tmpdir), "check_fanout"), 0);
}

static void
server_stop(void)
{
	harness_gearmand_stop(&gearmand, 0);
	if (gh_tmpdir_remove(tmpdir) != 0)
		fprintf(stderr, "could not remove %s: %s\n", tmpdir, strerror(errno));
}

/* Short, since a subscriber without a worker waits all of it; long enough
 * for subscribers that answer, on a loaded machine. */
static void
short_timeout(void)
{
	fg_timeout = "5";
	server_start();
}

/* ---- the fanout worker under test (started in each test) ---- */

static conf_t *conf;
static cache_t *cache;
static fanout_t *worker;
static pthread_t worker_thread;
static volatile sig_atomic_t worker_stop;
static int worker_rc;
static int db_serial;
static const char *worker_servers; /* NULL: gearmand.addr */

static void *
worker_main(void *arg)
{
	worker_rc = fanout_run(arg, &worker_stop);
	return NULL;
}

static void
worker_start(void)
{
	char err[512] = "", db[1200];

	snprintf(db, sizeof(db), "%s/fanout-%ld-%d.db", tmpdir, (long)getpid(), db_serial++);
	conf = conf_new();
	ck_assert_int_eq(conf_set(conf, "global", "gearman_servers",
	                          worker_servers != NULL ? worker_servers : gearmand.addr, "test",
	                          err, sizeof(err)),
	                 0);
	ck_assert_int_eq(conf_set(conf, "fanout", "database", db, "test", err, sizeof(err)), 0);
	ck_assert_int_eq(
	    conf_set(conf, "fanout", "foreground_timeout", fg_timeout, "test", err, sizeof(err)),
	    0);
	cache = cache_new(0);
	worker =
	    fanout_new(conf, conf_get(conf, "fanout", "database"), cache, "A", err, sizeof(err));
	ck_assert_msg(worker != NULL, "fanout_new: %s", err);
	worker_stop = 0;
	ck_assert_int_eq(pthread_create(&worker_thread, NULL, worker_main, worker), 0);
}

static void
worker_finish(void)
{
	__atomic_store_n(&worker_stop, 1, __ATOMIC_RELEASE);
	pthread_join(worker_thread, NULL);
	ck_assert_int_eq(worker_rc, 0);
	fanout_destroy(&worker);
	cache_destroy(&cache);
	conf_destroy(&conf);
}

/* ---- subscribers: libgearman workers in threads ---- */

/* SUB_WARN fails as gearhorn's own workers do: WORK_WARNING, then WORK_FAIL. */
typedef enum { SUB_OK, SUB_FAIL, SUB_SLOW, SUB_EXCEPTION, SUB_WARN } sub_mode_t;

#define SUB_MAX_JOBS 16

typedef struct {
	char function[300];
	sub_mode_t mode;
	pthread_t thread;
	pthread_mutex_t lock;
	volatile int stop;
	volatile int ready;
	int njobs;
	char *data[SUB_MAX_JOBS];
	size_t size[SUB_MAX_JOBS];
	char unique[SUB_MAX_JOBS][GEARMAN_MAX_UNIQUE_SIZE + 1];
	volatile int finished; /* jobs whose reply was sent */
} sub_t;

static void *
sub_job(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
	sub_t *s = context;
	const char *unique = gearman_job_unique(job);

	pthread_mutex_lock(&s->lock);
	if (s->njobs < SUB_MAX_JOBS) {
		size_t n = gearman_job_workload_size(job);

		s->data[s->njobs] = malloc(n + 1);
		if (n > 0)
			memcpy(s->data[s->njobs], gearman_job_workload(job), n);
		s->data[s->njobs][n] = '\0';
		s->size[s->njobs] = n;
		snprintf(s->unique[s->njobs], sizeof(s->unique[0]), "%s", unique ? unique : "");
		s->njobs++;
	}
	pthread_mutex_unlock(&s->lock);
	if (s->mode == SUB_SLOW)
		usleep(500000);
	s->finished++;
	*result_size = 0;
	*ret_ptr = s->mode == SUB_FAIL ? GEARMAN_WORK_FAIL : GEARMAN_SUCCESS;
	if (s->mode == SUB_EXCEPTION) {
		gearman_job_send_exception(job, "boom", 4);
		*ret_ptr = GEARMAN_WORK_EXCEPTION;
	}
	if (s->mode == SUB_WARN) {
		gearman_job_send_warning(job, "no route", 8);
		*ret_ptr = GEARMAN_WORK_FAIL;
	}
	return NULL;
}

static void *
sub_main(void *arg)
{
	sub_t *s = arg;
	gearman_worker_st *w = gearman_worker_create(NULL);

	gearman_worker_add_server(w, "127.0.0.1", (in_port_t)gearmand.port);
	gearman_worker_add_options(w, GEARMAN_WORKER_GRAB_UNIQ);
	gearman_worker_set_timeout(w, 100);
	gearman_worker_add_function(w, s->function, 0, sub_job, s);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		gearman_return_t rc = gearman_worker_work(w);

		__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
		if (rc != GEARMAN_SUCCESS && rc != GEARMAN_TIMEOUT && rc != GEARMAN_IO_WAIT)
			usleep(50000);
	}
	gearman_worker_free(w);
	return NULL;
}

static sub_t *
sub_start(const char *topic, const char *client_id, sub_mode_t mode)
{
	sub_t *s = calloc(1, sizeof(*s));

	snprintf(s->function, sizeof(s->function), "%s_%s", topic, client_id);
	s->mode = mode;
	pthread_mutex_init(&s->lock, NULL);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, sub_main, s), 0);
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
		usleep(10000);
	return s;
}

static void
sub_stop(sub_t *s)
{
	int i;

	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	for (i = 0; i < s->njobs; i++)
		free(s->data[i]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Waits up to 30 s for s to have received n jobs; returns how many it has. */
static int
sub_wait(sub_t *s, int n)
{
	int i, got = 0;

	for (i = 0; i < 3000; i++) {
		pthread_mutex_lock(&s->lock);
		got = s->njobs;
		pthread_mutex_unlock(&s->lock);
		if (got >= n)
			break;
		usleep(10000);
	}
	return got;
}

/* ---- requests ---- */

typedef enum { R_NONE, R_COMPLETE, R_EXCEPTION, R_FAIL, R_ERROR } result_kind_t;

typedef struct {
	result_kind_t kind;
	char data[8192]; /* result, exception text or the last warning */
	size_t size;
} result_t;

/* Whether call() asks gearmand for exceptions (GEARMAN_CLIENT_EXCEPTION). */
static int client_exceptions;
/* How long call() waits for its job. */
static int call_timeout_ms = 30000;

static void
result_set(result_t *r, result_kind_t kind, const void *data, size_t size)
{
	r->kind = kind;
	if (size >= sizeof(r->data))
		size = sizeof(r->data) - 1;
	if (size > 0)
		memcpy(r->data, data, size);
	r->data[size] = '\0';
	r->size = size;
}

static gearman_return_t
on_complete(gearman_task_st *task)
{
	result_set(gearman_task_context(task), R_COMPLETE, gearman_task_data(task),
	           gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_exception(gearman_task_st *task)
{
	gearman_string_t e = gearman_task_exception(task);

	if (e.size > 0)
		result_set(gearman_task_context(task), R_EXCEPTION, e.c_str, e.size);
	else
		result_set(gearman_task_context(task), R_EXCEPTION, gearman_task_data(task),
		           gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_warning(gearman_task_st *task)
{
	result_set(gearman_task_context(task), R_NONE, gearman_task_data(task),
	           gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

/* A failure keeps the text of the warning before it, its reason. */
static gearman_return_t
on_fail(gearman_task_st *task)
{
	result_t *r = gearman_task_context(task);

	if (r->kind == R_NONE)
		r->kind = R_FAIL;
	return GEARMAN_SUCCESS;
}

/* Runs one foreground job and returns its outcome. */
static result_t
call(const char *function, const char *workload, size_t len)
{
	gearman_client_st *c = gearman_client_create(NULL);
	gearman_return_t rc;
	result_t r;

	memset(&r, 0, sizeof(r));
	ck_assert_ptr_nonnull(c);
	gearman_client_add_server(c, "127.0.0.1", (in_port_t)gearmand.port);
	if (client_exceptions)
		gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);
	gearman_client_set_timeout(c, call_timeout_ms);
	gearman_client_set_complete_fn(c, on_complete);
	gearman_client_set_exception_fn(c, on_exception);
	gearman_client_set_warning_fn(c, on_warning);
	gearman_client_set_fail_fn(c, on_fail);
	ck_assert_ptr_nonnull(
	    gearman_client_add_task(c, NULL, &r, function, NULL, len ? workload : NULL, len, &rc));
	rc = gearman_client_run_tasks(c);
	if (rc != GEARMAN_SUCCESS && r.kind == R_NONE)
		result_set(&r, R_ERROR, gearman_client_error(c), strlen(gearman_client_error(c)));
	gearman_client_free(c);
	return r;
}

#define CALL(fn, text) call(fn, text, strlen(text))

#define ck_complete(r, expect)                                                                 \
	do {                                                                                   \
		result_t r_ = (r);                                                             \
		ck_assert_msg(r_.kind == R_COMPLETE, "expected complete, got %d: %s", r_.kind, \
		              r_.data);                                                        \
		ck_assert_str_eq(r_.data, expect);                                             \
	} while (0)

/* A failure whose reason (the warning before WORK_FAIL) is expect. */
#define ck_failure(r, expect)                                                               \
	do {                                                                                \
		result_t r_ = (r);                                                          \
		ck_assert_msg(r_.kind == R_FAIL, "expected a failure, got %d: %s", r_.kind, \
		              r_.data);                                                     \
		ck_assert_str_eq(r_.data, expect);                                          \
	} while (0)

static void
subscribe(const char *topic, const char *client)
{
	char w[600];

	snprintf(w, sizeof(w), "{\"topic\": \"%s\", \"client_id\": \"%s\"}", topic, client);
	ck_complete(CALL("subscribe_fanout", w), "");
}

static void
submit_bg(const char *function, const char *workload)
{
	gearman_client_st *c = gearman_client_create(NULL);
	char handle[GEARMAN_JOB_HANDLE_SIZE];

	gearman_client_add_server(c, "127.0.0.1", (in_port_t)gearmand.port);
	ck_assert_int_eq(
	    gearman_client_do_background(c, function, NULL, workload, strlen(workload), handle),
	    GEARMAN_SUCCESS);
	gearman_client_free(c);
}

/* Returns the queued count of function in gearmand's status, or -1. */
static int
queued(const char *function)
{
	char *status = harness_gearmand_admin(&gearmand, "status\n"), *line;
	char prefix[320];
	int n = -1;

	ck_assert_ptr_nonnull(status);
	snprintf(prefix, sizeof(prefix), "%s\t", function);
	for (line = status; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			n = atoi(line + strlen(prefix));
			break;
		}
	free(status);
	return n;
}

/* Returns the sum of the queued counts of the functions whose names start
 * with prefix in gearmand's status, or -1. */
static long
queued_prefix(const char *prefix)
{
	char *status = harness_gearmand_admin(&gearmand, "status\n"), *line;
	long n = 0;

	if (status == NULL)
		return -1;
	for (line = status; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0 && strchr(line, '\t') != NULL)
			n += atol(strchr(line, '\t') + 1);
	free(status);
	return n;
}

/* Waits up to 30 s until gearmand's queued count of function is n;
 * returns the last count. */
static int
wait_queued(const char *function, int n)
{
	int i, got = queued(function);

	for (i = 0; i < 3000 && got != n; i++) {
		usleep(10000);
		got = queued(function);
	}
	return got;
}

/* ---- tests ---- */

START_TEST(test_subscribe_unsubscribe)
{
	sub_t *a, *b;

	worker_start();
	a = sub_start("news", "a", SUB_OK);
	b = sub_start("news", "b", SUB_OK);
	ck_complete(CALL("fanout", "{\"topic\": \"news\", \"payload\": \"x\"}"), "0");

	subscribe("news", "a");
	subscribe("news", "a"); /* duplicate: success */
	ck_complete(CALL("register_fanout_subscriber",
	                 "{\"topic\": \"news\", \"client_id\": \"b\", \"extra\": 1}"),
	            "");
	ck_complete(CALL("fanout", "{\"topic\": \"news\", \"payload\": \"x\"}"), "2");

	ck_complete(CALL("unsubscribe_fanout", "{\"topic\": \"news\", \"client_id\": \"b\"}"), "");
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\": \"news\", \"client_id\": \"b\"}"), "");
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\": \"none\", \"client_id\": \"zz\"}"), "");
	ck_complete(CALL("fanout", "{\"topic\": \"news\", \"payload\": \"y\"}"), "1");
	ck_assert_int_eq(sub_wait(a, 2), 2);
	ck_assert_int_eq(sub_wait(b, 1), 1);
	ck_assert_str_eq(a->data[1], "y");

	/* A ttl is accepted (and 0 means forever). */
	ck_complete(
	    CALL("subscribe_fanout", "{\"topic\": \"news\", \"client_id\": \"b\", \"ttl\": 0}"),
	    "");
	ck_complete(
	    CALL("subscribe_fanout", "{\"topic\": \"news\", \"client_id\": \"c\", \"ttl\": 3600}"),
	    "");
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\": \"news\", \"client_id\": \"c\"}"), "");
	ck_complete(CALL("fanout", "{\"topic\": \"news\", \"payload\": \"z\"}"), "2");
	sub_stop(a);
	sub_stop(b);
	worker_finish();
}
END_TEST

START_TEST(test_background)
{
	sub_t *s1, *s2, *s3;
	int i;

	worker_start();
	subscribe("bg", "s1");
	subscribe("bg", "s2");
	subscribe("bg", "s3");
	/* Nobody consumes yet: the copies wait in gearmand. */
	ck_complete(
	    CALL("fanout", "{\"topic\":\"bg\",\"payload\":\"h\\u00e9llo\",\"background\":true}"),
	    "0");
	ck_complete(CALL("fanout", "{\"topic\":\"bg\",\"payload\":{\"k\":[1, 2.5, null]},"
	                           "\"background\":1,\"unique\":\"u-7\"}"),
	            "0");
	ck_assert_int_eq(queued("bg_s1"), 2);
	ck_assert_int_eq(queued("bg_s2"), 2);
	ck_assert_int_eq(queued("bg_s3"), 2);

	s1 = sub_start("bg", "s1", SUB_OK);
	s2 = sub_start("bg", "s2", SUB_OK);
	s3 = sub_start("bg", "s3", SUB_OK);
	for (i = 0; i < 3; i++) {
		sub_t *s = i == 0 ? s1 : i == 1 ? s2 : s3;
		int a, b;

		ck_assert_int_eq(sub_wait(s, 2), 2);
		/* gearmand may hand the two copies out in either order. */
		a = strcmp(s->data[0], "h\xc3\xa9llo") == 0 ? 0 : 1;
		b = 1 - a;
		ck_assert_str_eq(s->data[a], "h\xc3\xa9llo");
		ck_assert_int_eq(s->size[a], 6);
		ck_assert_str_eq(s->data[b], "{\"k\":[1,2.5,null]}");
		ck_assert_str_eq(s->unique[b], "u-7");
	}
	sub_stop(s1);
	sub_stop(s2);
	sub_stop(s3);
	worker_finish();
}
END_TEST

START_TEST(test_unique_coalescing)
{
	sub_t *s;

	worker_start();
	subscribe("co", "x");
	ck_complete(CALL("fanout", "{\"topic\":\"co\",\"payload\":\"p\",\"unique\":\"u1\","
	                           "\"background\":true}"),
	            "0");
	ck_complete(CALL("fanout", "{\"topic\":\"co\",\"payload\":\"q\",\"unique\":\"u1\","
	                           "\"background\":true}"),
	            "0");
	ck_assert_int_eq(queued("co_x"), 1);
	/* Without a unique (null or empty counts as none) nothing coalesces. */
	ck_complete(CALL("fanout", "{\"topic\":\"co\",\"payload\":\"r\",\"background\":true}"),
	            "0");
	ck_complete(CALL("fanout", "{\"topic\":\"co\",\"payload\":\"r\",\"unique\":null,"
	                           "\"background\":\"yes\"}"),
	            "0");
	ck_complete(CALL("fanout", "{\"topic\":\"co\",\"payload\":\"r\",\"unique\":\"\","
	                           "\"background\":[0]}"),
	            "0");
	ck_assert_int_eq(queued("co_x"), 4);

	s = sub_start("co", "x", SUB_OK);
	ck_assert_int_eq(sub_wait(s, 4), 4);
	/* gearmand counts a job until its WORK_COMPLETE has arrived. */
	ck_assert_int_eq(wait_queued("co_x", 0), 0);
	sub_stop(s);
	worker_finish();
}
END_TEST

START_TEST(test_foreground_waits)
{
	sub_t *fast, *slow;

	worker_start();
	fast = sub_start("fg", "fast", SUB_OK);
	slow = sub_start("fg", "slow", SUB_SLOW);
	subscribe("fg", "fast");
	subscribe("fg", "slow");
	/* "background": false and 0 are foreground. */
	ck_complete(CALL("fanout", "{\"topic\":\"fg\",\"payload\":\"p\",\"background\":false}"),
	            "2");
	/* The fanout answered only after the slow subscriber had. */
	ck_assert_int_eq(slow->finished, 1);
	ck_assert_int_eq(fast->finished, 1);
	ck_complete(CALL("fanout", "{\"topic\":\"fg\",\"payload\":[1,\"two\"],\"background\":0}"),
	            "2");
	ck_assert_int_eq(slow->finished, 2);
	ck_assert_str_eq(slow->data[1], "[1,\"two\"]");
	ck_assert_str_eq(fast->data[1], "[1,\"two\"]");
	sub_stop(fast);
	sub_stop(slow);
	worker_finish();
}
END_TEST

/* A job server that is down, listed first: every fanout, foreground and
 * background, goes to the live one, succeeds, and each subscriber gets each
 * copy once. (One client for both servers reported the copies lost with
 * the dead connection after the live server had run them.) */
START_TEST(test_dead_server)
{
	char servers[128];
	sub_t *a, *b;
	int i, port = harness_free_port();

	ck_assert_int_gt(port, 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d, %s", port, gearmand.addr);
	worker_servers = servers;
	worker_start();
	a = sub_start("dead", "a", SUB_OK);
	b = sub_start("dead", "b", SUB_OK);
	subscribe("dead", "a");
	subscribe("dead", "b");
	for (i = 0; i < 4; i++)
		ck_complete(CALL("fanout", "{\"topic\":\"dead\",\"payload\":\"f\"}"), "2");
	ck_assert_int_eq(a->finished, 4);
	ck_assert_int_eq(b->finished, 4);
	for (i = 0; i < 4; i++)
		ck_complete(
		    CALL("fanout", "{\"topic\":\"dead\",\"payload\":\"g\",\"background\":1}"), "0");
	ck_assert_int_eq(sub_wait(a, 8), 8);
	ck_assert_int_eq(sub_wait(b, 8), 8);
	sub_stop(a);
	sub_stop(b);
	worker_finish();
	worker_servers = NULL;
}
END_TEST

START_TEST(test_payload_mapping)
{
	static const struct {
		const char *json;
		const char *bytes;
		size_t size;
	} cases[] = {
	    {"\"plain text\"", "plain text", 10},
	    {"\"caf\\u00e9 \\u2603\"", "caf\xc3\xa9 \xe2\x98\x83", 9},
	    {"\"nul\\u0000byte\"", "nul\0byte", 8},
	    {"\"\"", "", 0},
	    {"{\"a\": 1, \"b\": [true, false]}", "{\"a\":1,\"b\":[true,false]}", 24},
	    {"42", "42", 2},
	    {"null", "null", 4},
	    {"true", "true", 4},
	};
	sub_t *s;
	size_t i;

	worker_start();
	s = sub_start("pm", "one", SUB_OK);
	subscribe("pm", "one");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char w[256];

		snprintf(w, sizeof(w), "{\"topic\":\"pm\",\"payload\":%s}", cases[i].json);
		ck_complete(CALL("fanout", w), "1");
		ck_assert_int_eq(sub_wait(s, (int)i + 1), (int)i + 1);
		ck_assert_msg(s->size[i] == cases[i].size &&
		                  memcmp(s->data[i], cases[i].bytes, cases[i].size) == 0,
		              "payload %s delivered as %s", cases[i].json, s->data[i]);
	}
	sub_stop(s);
	worker_finish();
}
END_TEST

START_TEST(test_failure_reported_once)
{
	sub_t *ok, *bad, *exc, *warn;
	char err[512], longid[600];
	store_t *st;

	worker_start();
	ok = sub_start("fl", "ok", SUB_OK);
	bad = sub_start("fl", "bad", SUB_FAIL);
	exc = sub_start("fl", "exc", SUB_EXCEPTION);
	warn = sub_start("fl", "warn", SUB_WARN);
	subscribe("fl", "ok");
	subscribe("fl", "bad");
	subscribe("fl", "exc");
	subscribe("fl", "warn");
	/* A subscriber that sends an exception is reported with its text, one
	 * that fails after a warning with the warning's. */
	ck_failure(
	    CALL("fanout", "{\"topic\":\"fl\",\"payload\":\"p\"}"),
	    "[[\"bad\", \"Worker failure\"], [\"exc\", \"boom\"], [\"warn\", \"no route\"]]");
	ck_assert_int_eq(ok->finished, 1);
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\":\"fl\",\"client_id\":\"exc\"}"), "");
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\":\"fl\",\"client_id\":\"warn\"}"), "");

	/* A copy that cannot be submitted (a name too long for libgearman,
	 * slipped into the database behind the worker's back) is reported with
	 * libgearman's error; the others are delivered. */
	st = store_open(conf_get(conf, "fanout", "database"), err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	memset(longid, 'z', 590);
	longid[590] = '\0';
	ck_assert_int_eq(store_subscribe(st, "fl", longid, 0, 0, err, sizeof(err)), 0);
	store_destroy(&st);
	{
		result_t r = CALL("fanout", "{\"topic\":\"fl\",\"payload\":\"p\"}");
		json_t *j = json_loads(r.data, 0, NULL);

		ck_assert_int_eq(r.kind, R_FAIL);
		ck_assert_msg(j != NULL && json_array_size(j) == 2, "%s", r.data);
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(j, 0), 0)), "bad");
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(j, 1), 0)),
		                 longid);
		ck_assert_msg(strlen(json_string_value(json_array_get(json_array_get(j, 1), 1))) >
		                  0,
		              "%s", r.data);
		json_decref(j);
	}
	ck_assert_int_eq(ok->finished, 2);
	st = store_open(conf_get(conf, "fanout", "database"), err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	ck_assert_int_eq(store_purge_client(st, longid, err, sizeof(err)), 1);
	store_destroy(&st);
	/* The worker goes on serving. */
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\":\"fl\",\"client_id\":\"bad\"}"), "");
	ck_complete(CALL("fanout", "{\"topic\":\"fl\",\"payload\":\"p\"}"), "1");
	sub_stop(ok);
	sub_stop(bad);
	sub_stop(exc);
	sub_stop(warn);
	worker_finish();
}
END_TEST

/* Runs with [fanout] foreground_timeout = 5. */
START_TEST(test_timeout)
{
	sub_t *ok, *bad;

	worker_start();
	ok = sub_start("to", "ok", SUB_OK);
	bad = sub_start("to", "bad", SUB_FAIL);
	subscribe("to", "ok");
	subscribe("to", "bad");
	subscribe("to", "never"); /* no worker serves to_never */
	ck_failure(CALL("fanout", "{\"topic\":\"to\",\"payload\":\"p\"}"),
	           "[[\"bad\", \"Worker failure\"], [\"never\", \"Worker timeout\"]]");
	ck_assert_int_eq(ok->finished, 1);
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\":\"to\",\"client_id\":\"never\"}"), "");
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\":\"to\",\"client_id\":\"bad\"}"), "");
	ck_complete(CALL("fanout", "{\"topic\":\"to\",\"payload\":\"p\"}"), "1");
	ck_complete(CALL("fanout", "{\"topic\":\"to\",\"payload\":\"p\"}"), "1");
	sub_stop(ok);
	sub_stop(bad);
	worker_finish();
}
END_TEST

static const struct {
	const char *function;
	const char *workload;
	const char *expect; /* exact text, or a prefix if it ends in '*' */
} bad_inputs[] = {
    {"subscribe_fanout", "not json", "invalid JSON: *"},
    {"subscribe_fanout", "", "invalid JSON: *"},
    {"subscribe_fanout", "{\"topic\": \"t\", ", "invalid JSON: *"},
    {"subscribe_fanout", "[1, 2]", "must be a mapping"},
    {"subscribe_fanout", "\"t\"", "must be a mapping"},
    {"subscribe_fanout", "null", "must be a mapping"},
    {"subscribe_fanout", "{\"topic\": \"t\"}", "must have topic and client_id keys"},
    {"unsubscribe_fanout", "{\"client_id\": \"c\"}", "must have topic and client_id keys"},
    {"register_fanout_subscriber", "{}", "must have topic and client_id keys"},
    {"subscribe_fanout", "{\"topic\": 1, \"client_id\": \"c\"}", "topic must be a string"},
    {"subscribe_fanout", "{\"topic\": \"t\", \"client_id\": null}", "client_id must be a string"},
    {"unsubscribe_fanout", "{\"topic\": [\"t\"], \"client_id\": \"c\"}", "topic must be a string"},
    {"subscribe_fanout", "{\"topic\": \"\", \"client_id\": \"c\"}", "topic must not be empty"},
    {"subscribe_fanout", "{\"topic\": \"t\", \"client_id\": \"\"}", "client_id must not be empty"},
    {"subscribe_fanout", "{\"topic\": \"a b\", \"client_id\": \"c\"}",
     "topic must not contain white space, control characters or NUL"},
    {"subscribe_fanout", "{\"topic\": \"t\", \"client_id\": \"c\\u0000d\"}",
     "client_id must not contain white space, control characters or NUL"},
    {"subscribe_fanout", "{\"topic\": \"t\\n\", \"client_id\": \"c\"}",
     "topic must not contain white space, control characters or NUL"},
    {"subscribe_fanout", "{\"topic\": \"'; DROP TABLE subscriber; --\", \"client_id\": \"c\"}",
     "topic must not contain white space, control characters or NUL"},
    {"subscribe_fanout", "{\"topic\": \"t\", \"client_id\": \"c\", \"ttl\": \"5\"}",
     "ttl must be an integer from 0 to 315360000 (seconds)"},
    {"subscribe_fanout", "{\"topic\": \"t\", \"client_id\": \"c\", \"ttl\": -1}",
     "ttl must be an integer from 0 to 315360000 (seconds)"},
    {"subscribe_fanout", "{\"topic\": \"subscribe\", \"client_id\": \"fanout\"}",
     "topic_client_id would name a function of gearhorn-fanout itself"},
    {"subscribe_fanout", "{\"topic\": \"register_fanout\", \"client_id\": \"subscriber\"}",
     "topic_client_id would name a function of gearhorn-fanout itself"},
    {"register_fanout_subscriber", "{\"topic\": \"_\", \"client_id\": \"matchmaking_A\"}",
     "topic_client_id would name a function of gearhorn-fanout itself"},
    {"fanout", "nope", "invalid JSON: *"},
    {"fanout", "[]", "must be a JSON mapping."},
    {"fanout", "{\"topic\": \"t\"}", "must have topic and payload keys"},
    {"fanout", "{\"payload\": \"p\"}", "must have topic and payload keys"},
    {"fanout", "{\"topic\": 5, \"payload\": \"p\"}", "topic must be a string"},
    {"fanout", "{\"topic\": \"a\\tb\", \"payload\": \"p\"}",
     "topic must not contain white space, control characters or NUL"},
    {"fanout", "{\"topic\": \"t\", \"payload\": \"p\", \"unique\": 5}",
     "unique must be a string or null"},
    {"fanout",
     "{\"topic\": \"t\", \"payload\": \"p\", \"unique\": "
     "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
     "unique must be at most 63 bytes, without NUL"},
    {"fanout", "{\"topic\": \"t\", \"payload\": \"p\", \"unique\": \"a\\u0000\"}",
     "unique must be at most 63 bytes, without NUL"},
};

START_TEST(test_bad_input)
{
	char w[1024], longname[300];
	sub_t *s;
	size_t i;

	worker_start();
	/* Every bad input fails at once with its reason, for a client that
	 * asked for exceptions and for one that did not (gearmand would leave
	 * the latter waiting for ever on a WORK_EXCEPTION). */
	for (i = 0; i < 2 * sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		size_t k = i / 2;
		const char *expect = bad_inputs[k].expect;
		size_t n = strlen(expect);
		result_t r;

		client_exceptions = (int)(i % 2);
		r = CALL(bad_inputs[k].function, bad_inputs[k].workload);
		client_exceptions = 0;
		ck_assert_msg(r.kind == R_FAIL, "%s %s (exceptions %d): got %d %s",
		              bad_inputs[k].function, bad_inputs[k].workload, (int)(i % 2), r.kind,
		              r.data);
		if (expect[n - 1] == '*')
			ck_assert_msg(strncmp(r.data, expect, n - 1) == 0 && r.size > n,
			              "%s: got %s", bad_inputs[k].workload, r.data);
		else
			ck_assert_str_eq(r.data, expect);
	}

	/* "<topic>_<client_id>" must fit in 255 bytes. */
	memset(longname, 'x', 200);
	longname[200] = '\0';
	snprintf(w, sizeof(w), "{\"topic\": \"%s\", \"client_id\": \"%.54s\"}", longname, longname);
	ck_complete(CALL("subscribe_fanout", w), "");
	snprintf(w, sizeof(w), "{\"topic\": \"%s\", \"client_id\": \"%.55s\"}", longname, longname);
	ck_failure(CALL("subscribe_fanout", w),
	           "topic and client_id must be at most 254 bytes together (the function name "
	           "is topic_client_id)");

	/* SQL metacharacters are only names; the table survives. */
	subscribe("';DROP/**/TABLE/**/subscriber;--", "x'OR'1'='1");
	s = sub_start("';DROP/**/TABLE/**/subscriber;--", "x'OR'1'='1", SUB_OK);
	ck_complete(
	    CALL("fanout", "{\"topic\":\"';DROP/**/TABLE/**/subscriber;--\",\"payload\":\"p\"}"),
	    "1");
	ck_complete(CALL("fanout", "{\"topic\":\"%\",\"payload\":\"p\"}"), "0");
	sub_stop(s);

	/* After all that the worker still serves. */
	subscribe("after", "bad");
	ck_complete(CALL("fanout", "{\"topic\":\"after\",\"payload\":\"p\",\"background\":true}"),
	            "0");
	worker_finish();
}
END_TEST

START_TEST(test_stop_and_restart)
{
	/* A worker stops within its poll interval, even when idle, and a new
	 * one on the same database sees the old subscriptions. */
	sub_t *s;
	char db[1200];

	worker_start();
	subscribe("keep", "me");
	snprintf(db, sizeof(db), "%s", conf_get(conf, "fanout", "database"));
	worker_finish();
	db_serial--;
	worker_start();
	ck_assert_str_eq(conf_get(conf, "fanout", "database"), db);
	s = sub_start("keep", "me", SUB_OK);
	ck_complete(CALL("fanout", "{\"topic\":\"keep\",\"payload\":\"p\"}"), "1");
	sub_stop(s);
	/* A background job queued for the worker while it is down is served
	 * once it is back. */
	worker_finish();
	submit_bg("subscribe_fanout", "{\"topic\":\"late\",\"client_id\":\"c\"}");
	db_serial--;
	worker_start();
	ck_complete(CALL("fanout", "{\"topic\":\"late\",\"payload\":\"p\",\"background\":true}"),
	            "0");
	ck_assert_int_eq(queued("late_c"), 1);
	worker_finish();
}
END_TEST

/* Waits up to 30 s until client is (want 1) or is not (want 0) subscribed
 * to topic in the database at path. */
static int
wait_subscribed(const char *path, const char *topic, const char *client, int want)
{
	char err[512];
	store_t *s = store_open(path, err, sizeof(err));
	int i, found = -1;

	ck_assert_msg(s != NULL, "%s", err);
	for (i = 0; i < 3000 && found != want; i++) {
		store_list_t l;
		size_t j;

		ck_assert_int_eq(
		    store_subscribers(s, topic, (int64_t)time(NULL), &l, err, sizeof(err)), 0);
		for (found = 0, j = 0; j < l.n; j++)
			found |= strcmp(l.items[j], client) == 0;
		store_list_free(&l);
		if (found != want)
			usleep(10000);
	}
	store_destroy(&s);
	return found;
}

START_TEST(test_matchmaking)
{
	/* Worker A runs; B shares its database as another process would, with
	 * its own cache. Caches never age out here, so only matchmaking can
	 * tell A of B's change. */
	static const char sub_two[] = "{\"topic\":\"mm\",\"client_id\":\"two\"}";
	cache_t *cache_b = cache_new(0);
	char err[512] = "", db[1200], *out;
	fanout_t *b;
	size_t outlen;
	uint64_t give_up;

	worker_start();
	snprintf(db, sizeof(db), "%s", conf_get(conf, "fanout", "database"));
	ck_assert_int_eq(wait_subscribed(db, "__matchmaking", "A", 1), 1);
	b = fanout_new(conf, db, cache_b, "B", err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);

	subscribe("mm", "one");
	ck_complete(CALL("fanout", "{\"topic\":\"mm\",\"payload\":\"p\",\"background\":true}"),
	            "0");
	ck_assert_int_eq(queued("mm_one"), 1);

	ck_assert_int_eq(
	    fanout_handle(b, "subscribe_fanout", sub_two, strlen(sub_two), &out, &outlen),
	    FANOUT_COMPLETE);
	ck_assert_int_eq(outlen, 0);
	free(out);
	/* A's cache learns of it once A has taken the matchmaking message. */
	give_up = gh_now_us() + 30 * 1000000;
	while (queued("mm_two") < 1 && gh_now_us() < give_up) {
		ck_complete(
		    CALL("fanout", "{\"topic\":\"mm\",\"payload\":\"p\",\"background\":true}"),
		    "0");
		usleep(50000);
	}
	ck_assert_int_ge(queued("mm_two"), 1);

	/* The matchmaking topic is not for clients. */
	ck_failure(CALL("subscribe_fanout", "{\"topic\":\"__matchmaking\",\"client_id\":\"x\"}"),
	           "topic __matchmaking is reserved");
	ck_failure(CALL("fanout", "{\"topic\":\"__matchmaking\",\"payload\":\"mm\"}"),
	           "topic __matchmaking is reserved");
	fanout_destroy(&b);
	cache_destroy(&cache_b);
	worker_finish();
	/* A stopped cleanly and left the matchmaking list. */
	ck_assert_int_eq(wait_subscribed(db, "__matchmaking", "A", 0), 0);
}
END_TEST

START_TEST(test_many_subscribers)
{
	/* One background batch for 200 subscribers: each gets one copy. */
	char err[512], id[32];
	store_t *st;
	int i;
	uint64_t t0;

	worker_start();
	st = store_open(conf_get(conf, "fanout", "database"), err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "s%03d", i);
		ck_assert_int_eq(store_subscribe(st, "many", id, 0, 0, err, sizeof(err)), 0);
	}
	store_destroy(&st);
	t0 = gh_now_us();
	ck_complete(CALL("fanout", "{\"topic\":\"many\",\"payload\":\"p\",\"background\":true}"),
	            "0");
	fprintf(stderr, "check_fanout: background fanout to 200 subscribers took %.1f ms\n",
	        (double)(gh_now_us() - t0) / 1000.0);
	ck_assert_int_eq(queued("many_s000"), 1);
	ck_assert_int_eq(queued("many_s123"), 1);
	ck_assert_int_eq(queued("many_s199"), 1);
	worker_finish();
}
END_TEST

START_TEST(test_ttl)
{
	sub_t *s;
	result_t r;
	time_t t0, t1;
	int tries;

	worker_start();
	s = sub_start("ttl", "brief", SUB_OK);
	/* A ttl of 1 s lasts to the end of the second, on the worker's clock,
	 * in which the subscription was made: a fanout within that second
	 * reaches it. Subscribing and fanning out can straddle a second (on a
	 * loaded machine, often), and then a copy may or may not be made: try
	 * again. */
	for (tries = 0;; tries++) {
		ck_assert_msg(tries < 100, "never subscribed and fanned out within one second");
		t0 = time(NULL);
		ck_complete(CALL("subscribe_fanout",
		                 "{\"topic\":\"ttl\",\"client_id\":\"brief\",\"ttl\":1}"),
		            "");
		r = CALL("fanout", "{\"topic\":\"ttl\",\"payload\":\"p\"}");
		t1 = time(NULL);
		if (t1 == t0)
			break;
	}
	ck_complete(r, "1");
	/* A second after the subscription at the latest, it has expired. */
	while (time(NULL) < t1 + 1)
		usleep(10000);
	ck_complete(CALL("fanout", "{\"topic\":\"ttl\",\"payload\":\"p\"}"), "0");
	/* Renewing brings it back. */
	ck_complete(
	    CALL("subscribe_fanout", "{\"topic\":\"ttl\",\"client_id\":\"brief\",\"ttl\":60}"), "");
	ck_complete(CALL("fanout", "{\"topic\":\"ttl\",\"payload\":\"p\"}"), "1");
	sub_stop(s);
	worker_finish();
}
END_TEST

START_TEST(test_ambiguous_names)
{
	/* "a_b" + "c" and "a" + "b_c" would share the function a_b_c: the
	 * second is refused, naming the first, and a fanout to "a" reaches
	 * nobody. */
	sub_t *s;

	worker_start();
	subscribe("a_b", "c");
	ck_failure(CALL("subscribe_fanout", "{\"topic\": \"a\", \"client_id\": \"b_c\"}"),
	           "topic_client_id a_b_c already names the function of client_id \"c\" on "
	           "topic \"a_b\"");
	ck_failure(CALL("register_fanout_subscriber",
	                "{\"topic\": \"a\", \"client_id\": \"b_c\", \"ttl\": 60}"),
	           "topic_client_id a_b_c already names the function of client_id \"c\" on "
	           "topic \"a_b\"");
	s = sub_start("a_b", "c", SUB_OK);
	ck_complete(CALL("fanout", "{\"topic\": \"a\", \"payload\": \"for a\"}"), "0");
	ck_complete(CALL("fanout", "{\"topic\": \"a_b\", \"payload\": \"for a_b\"}"), "1");
	ck_assert_int_eq(sub_wait(s, 1), 1);
	ck_assert_str_eq(s->data[0], "for a_b");
	sub_stop(s);
	/* Once the first has gone, the name is free. */
	ck_complete(CALL("unsubscribe_fanout", "{\"topic\": \"a_b\", \"client_id\": \"c\"}"), "");
	subscribe("a", "b_c");
	ck_complete(CALL("fanout", "{\"topic\": \"a\", \"payload\": \"p\", \"background\": 1}"),
	            "0");
	ck_assert_int_eq(queued("a_b_c"), 1);
	worker_finish();
}
END_TEST

START_TEST(test_database_deleted)
{
	/* The database, its log and its index deleted under a running worker:
	 * no subscription is acknowledged that a restart would not find. */
	static const char *const files[] = {"", "-wal", "-shm"};
	char db[1200], path[1300], w[200], err[512];
	int i, acked = 0, refused = 0;
	store_list_t l;
	store_t *st;
	result_t r;
	size_t k;

	worker_start();
	subscribe("del", "before");
	snprintf(db, sizeof(db), "%s", conf_get(conf, "fanout", "database"));
	for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		snprintf(path, sizeof(path), "%s%s", db, files[k]);
		ck_assert_int_eq(unlink(path), 0);
	}
	for (i = 0; i < 20; i++) {
		snprintf(w, sizeof(w), "{\"topic\": \"del\", \"client_id\": \"c%02d\"}", i);
		r = CALL("subscribe_fanout", w);
		if (r.kind == R_COMPLETE) {
			acked++;
			continue;
		}
		ck_assert_msg(r.kind == R_FAIL && strncmp(r.data, "store error: ", 13) == 0 &&
		                  strstr(r.data, db) != NULL &&
		                  strstr(r.data, "deleted or replaced") != NULL &&
		                  strstr(r.data, "(restart gearhorn-fanout)") != NULL,
		              "subscription %d: %d %s", i, r.kind, r.data);
		refused++;
	}
	/* Until a restart, every change is refused; fanouts go on from the
	 * file that is open. */
	ck_assert_int_eq(refused, 20);
	r = CALL("unsubscribe_fanout", "{\"topic\": \"del\", \"client_id\": \"before\"}");
	ck_assert_msg(r.kind == R_FAIL, "unsubscribe after the deletion: %d %s", r.kind, r.data);
	ck_complete(CALL("fanout", "{\"topic\": \"del\", \"payload\": \"p\", \"background\": 1}"),
	            "0");
	ck_assert_int_ge(queued("del_before"), 1);

	/* After a restart: every acknowledged subscription is there. */
	worker_finish();
	db_serial--;
	worker_start();
	st = store_open(db, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	ck_assert_int_eq(store_subscribers(st, "del", (int64_t)time(NULL), &l, err, sizeof(err)),
	                 0);
	ck_assert_int_eq((int)l.n, acked);
	store_list_free(&l);
	store_destroy(&st);
	subscribe("del", "after");
	worker_finish();
}
END_TEST

/* A background fanout to topic "big" run by a client of its own, for
 * test_large_topic. */
typedef struct {
	result_t result;
	volatile int done;
} large_fanout_t;

static void *
large_fanout_main(void *arg)
{
	large_fanout_t *lf = arg;

	lf->result = CALL("fanout", "{\"topic\": \"big\", \"payload\": \"p\", \"background\": 1}");
	__atomic_store_n(&lf->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

#define LARGE_TOPIC 100000

START_TEST(test_large_topic)
{
	/* One background fanout to 100,000 subscribers queues every copy, in
	 * time linear in their number (copies of one fanout share no unique,
	 * and go in batches), and a client with nothing to do with it is
	 * answered while it runs (gearmand serves it between batches). */
	large_fanout_t lf;
	char err[512], id[32], handle[GEARMAN_JOB_HANDLE_SIZE];
	gearman_client_st *other;
	pthread_t thread;
	uint64_t t0;
	store_t *st;
	int i, probes = 0, answered_during = 0;

	worker_start();
	st = store_open(conf_get(conf, "fanout", "database"), err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	t0 = gh_now_us();
	for (i = 0; i < LARGE_TOPIC; i++) {
		snprintf(id, sizeof(id), "s%06d", i);
		ck_assert_int_eq(store_subscribe(st, "big", id, 0, 0, err, sizeof(err)), 0);
	}
	store_destroy(&st);
	fprintf(stderr, "check_fanout: %d subscriptions stored in %.1f s\n", LARGE_TOPIC,
	        (double)(gh_now_us() - t0) / 1e6);

	other = gearman_client_create(NULL);
	gearman_client_add_server(other, "127.0.0.1", (in_port_t)gearmand.port);
	gearman_client_set_timeout(other, 120000);
	memset(&lf, 0, sizeof(lf));
	call_timeout_ms = 120000; /* a loaded machine; only bounds a failure */
	t0 = gh_now_us();
	ck_assert_int_eq(pthread_create(&thread, NULL, large_fanout_main, &lf), 0);
	/* Once the first copies are queued, the other client asks gearmand to
	 * queue a job of its own, again and again until the fanout is done. */
	while (!__atomic_load_n(&lf.done, __ATOMIC_ACQUIRE) && queued("big_s000000") < 1)
		usleep(1000);
	while (!__atomic_load_n(&lf.done, __ATOMIC_ACQUIRE)) {
		ck_assert_int_eq(
		    gearman_client_do_background(other, "unrelated", NULL, "x", 1, handle),
		    GEARMAN_SUCCESS);
		probes++;
		answered_during += !__atomic_load_n(&lf.done, __ATOMIC_ACQUIRE);
	}
	pthread_join(thread, NULL);
	call_timeout_ms = 30000;
	fprintf(stderr,
	        "check_fanout: background fanout to %d subscribers took %.1f s; another client "
	        "was answered %d times meanwhile\n",
	        LARGE_TOPIC, (double)(gh_now_us() - t0) / 1e6, answered_during);
	gearman_client_free(other);
	ck_complete(lf.result, "0");
	ck_assert_int_ge(answered_during, 1);
	ck_assert_int_eq(queued_prefix("big_s"), LARGE_TOPIC);
	ck_assert_int_eq(queued("unrelated"), probes);
	worker_finish();
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("fanout");
	TCase *tc = tcase_create("gearmand");
	TCase *tct = tcase_create("timeout");
	TCase *tcl = tcase_create("large");

	if (harness_gearmand_path() == NULL)
		gh_check_skip("gearmand not found");
	log_set_level(getenv("FANOUT_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_subscribe_unsubscribe);
	tcase_add_test(tc, test_background);
	tcase_add_test(tc, test_unique_coalescing);
	tcase_add_test(tc, test_foreground_waits);
	tcase_add_test(tc, test_dead_server);
	tcase_add_test(tc, test_payload_mapping);
	tcase_add_test(tc, test_failure_reported_once);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_stop_and_restart);
	tcase_add_test(tc, test_matchmaking);
	tcase_add_test(tc, test_ttl);
	tcase_add_test(tc, test_many_subscribers);
	tcase_add_test(tc, test_ambiguous_names);
	tcase_add_test(tc, test_database_deleted);
	suite_add_tcase(s, tc);

	/* Its own gearmand: 100,000 functions would slow every status call. */
	tcase_add_unchecked_fixture(tcl, server_start, server_stop);
	tcase_set_timeout(tcl, 240);
	tcase_add_test(tcl, test_large_topic);
	suite_add_tcase(s, tcl);

	tcase_add_unchecked_fixture(tct, short_timeout, server_stop);
	tcase_set_timeout(tct, 120);
	tcase_add_test(tct, test_timeout);
	suite_add_tcase(s, tct);

	return s;
}
