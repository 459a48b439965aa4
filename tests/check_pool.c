/*
 * check_pool.c: the job manager's worker pool and handlers, without ZeroMQ:
 * the built-in module, results and errors, crash detection and replacement,
 * timeouts, recycling, handler modules (tests/handlers/testmod.c), names
 * that must be refused, and allowlisted programs.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "handler.h"
#include "loop.h"
#include "pool.h"
#include "util.h"
#include "lib/check_main.h"
#include "lib/files.h"

typedef struct {
	int done;
	char ref[POOL_MAX_REF + 1];
	pool_status_t st;
	char *text;
	int idle_calls;
	char order[256];    /* refs of ended jobs, in order, each followed by ' ' */
	char returned[256]; /* refs of jobs handed back, in order */
	char *returned_body;
	int stop_at; /* loop_stop once done + returned reaches it; 0: at every end */
} result_t;

static void
cat(char *dst, size_t size, const char *s)
{
	size_t n = strlen(dst);

	ck_assert_uint_lt(n + strlen(s), size);
	memcpy(dst + n, s, strlen(s) + 1);
}

static loop_t *loop;
static pool_t *pool;
static result_t res;
static char *moddir;
static char markdir[512]; /* marks and gates of testmod's "hold" jobs */

static void
on_done(pool_t *p, const char *ref, pool_status_t st, const char *text, size_t len, void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(arg);
	ck_assert_uint_eq(strlen(text), len);
	res.done++;
	gh_strlcpy(res.ref, ref, sizeof(res.ref));
	res.st = st;
	free(res.text);
	res.text = gh_strdup(text);
	cat(res.order, sizeof(res.order), ref);
	cat(res.order, sizeof(res.order), " ");
	if (res.stop_at == 0 || res.done + (int)strlen(res.returned) / 2 >= res.stop_at)
		loop_stop(loop);
}

/* Refs in these tests are one letter, so returned holds "x " per job. */
static void
on_returned(pool_t *p, const char *ref, const char *body, size_t len, uint64_t deadline_ms,
            void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(arg);
	GH_UNUSED(deadline_ms);
	ck_assert_uint_eq(strlen(body), len);
	cat(res.returned, sizeof(res.returned), ref);
	cat(res.returned, sizeof(res.returned), " ");
	free(res.returned_body);
	res.returned_body = gh_strdup(body);
	if (res.stop_at != 0 && res.done + (int)strlen(res.returned) / 2 >= res.stop_at)
		loop_stop(loop);
}

static void
on_freed(pool_t *p, void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(arg);
	res.idle_calls++;
}

static int
on_guard(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(id);
	GH_UNUSED(arg);
	ck_abort_msg("no result within 30 s");
	return -1;
}

/* Removes the marks and gates of earlier tests' hold jobs. */
static void
clear_marks(void)
{
	DIR *d = opendir(markdir);
	struct dirent *e;
	char path[1024];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", markdir, e->d_name);
			unlink(path);
		}
	closedir(d);
}

/* A pool whose workers hold up to depth jobs, with room for max_waiting
 * more that wait for a worker. */
static void
start_waiting(size_t workers, long max_jobs, size_t depth, size_t max_waiting)
{
	static char *const programs[] = {"cat=/bin/cat", "sh=/bin/sh", "missing=/nonexistent/prog"};
	char *const dirs[] = {"/nonexistent-dir", moddir};
	pool_config_t cfg;
	gh_error_t e = {0, ""};

	memset(&cfg, 0, sizeof(cfg));
	memset(&res, 0, sizeof(res));
	clear_marks();
	cfg.workers = workers;
	cfg.max_jobs = max_jobs;
	cfg.depth = depth;
	cfg.max_waiting = max_waiting;
	cfg.returns = on_returned;
	cfg.dirs = dirs;
	cfg.ndirs = 2;
	cfg.programs = programs;
	cfg.nprograms = 3;
	cfg.done = on_done;
	cfg.freed = on_freed;
	loop = loop_new();
	pool = pool_new(loop, &cfg, &e);
	ck_assert_msg(pool != NULL, "pool_new: %s", e.text);
	ck_assert_uint_eq(pool_idle(pool), workers);
}

static void
start_depth(size_t workers, long max_jobs, size_t depth)
{
	start_waiting(workers, max_jobs, depth, 0);
}

static void
start(size_t workers, long max_jobs)
{
	start_depth(workers, max_jobs, 1);
}

static void
stop(void)
{
	pool_destroy(&pool);
	ck_assert_ptr_null(pool);
	loop_destroy(&loop);
	free(res.text);
	res.text = NULL;
	free(res.returned_body);
	res.returned_body = NULL;
}

/* Runs the loop until n jobs have ended or come back. */
static void
wait_for(int n)
{
	uint64_t guard = loop_add_timer(loop, 30000, 0, on_guard, NULL);

	res.stop_at = n;
	while (res.done + (int)strlen(res.returned) / 2 < n)
		ck_assert_int_eq(loop_run(loop), 0);
	res.stop_at = 0;
	loop_cancel_timer(loop, guard);
}

#define SLEEP(s) "[\"run\", {\"callable\": \"sleep\", \"path\": \"builtin\", \"args\": [" s "]}]"
#define ECHO(s)  "[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": [\"" s "\"]}]"
#define CRASH    "[\"run\", {\"callable\": \"crash\", \"path\": \"builtin\"}]"

static void
submit(const char *ref, const char *body, uint64_t timeout_ms)
{
	ck_assert_int_eq(pool_submit(pool, ref, body, strlen(body),
	                             timeout_ms ? loop_now(loop) + timeout_ms : 0),
	                 0);
}

/* Runs one job to its end; returns the status, the text is in res.text. */
static pool_status_t
run(const char *body, uint64_t timeout_ms)
{
	uint64_t guard;
	int before = res.done;

	ck_assert_int_eq(pool_submit(pool, "ref-1", body, strlen(body),
	                             timeout_ms ? loop_now(loop) + timeout_ms : 0),
	                 0);
	guard = loop_add_timer(loop, 30000, 0, on_guard, NULL);
	while (res.done == before)
		ck_assert_int_eq(loop_run(loop), 0);
	loop_cancel_timer(loop, guard);
	ck_assert_str_eq(res.ref, "ref-1");
	return res.st;
}

static long
worker_pid(void)
{
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"getpid\", \"path\": \"builtin\"}]", 0),
	                 POOL_OK);
	ck_assert(strncmp(res.text, "{\"value\": ", 10) == 0);
	return atol(res.text + 10);
}

/* A job that holds its worker (tests/handlers/testmod.c "hold"): it creates
 * markdir/NAME.started when it starts, and ends when markdir/NAME.gate
 * appears (open_gate), or never (until killed) without a gate. The tests
 * act while such a job is certainly running, instead of guessing how fast
 * a worker reaches it. */
static const char *
hold(const char *name, int gate)
{
	static char body[2048];
	char g[600] = "";

	if (gate)
		snprintf(g, sizeof(g), "%s/%s.gate", markdir, name);
	snprintf(body, sizeof(body),
	         "[\"run\", {\"callable\": \"hold\", \"path\": \"testmod\", \"args\": "
	         "[\"%s/%s.started\", \"%s\", 60]}]",
	         markdir, name, g);
	return body;
}

static char *
mark_path(const char *name, const char *what)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/%s.%s", markdir, name, what);
	return path;
}

static void
open_gate(const char *name)
{
	FILE *f = fopen(mark_path(name, "gate"), "w");

	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static int
on_poll_mark(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(id);
	if (access(arg, F_OK) == 0)
		loop_stop(l);
	return 0;
}

/* Runs the loop until hold job name has started or some job has ended;
 * returns whether it has started. */
static int
wait_started(const char *name)
{
	char mark[600];
	uint64_t guard, poll;
	int done = res.done;

	snprintf(mark, sizeof(mark), "%s", mark_path(name, "started"));
	guard = loop_add_timer(loop, 30000, 0, on_guard, NULL);
	poll = loop_add_timer(loop, 10, 10, on_poll_mark, mark);
	while (access(mark, F_OK) != 0 && res.done == done)
		ck_assert_int_eq(loop_run(loop), 0);
	loop_cancel_timer(loop, poll);
	loop_cancel_timer(loop, guard);
	return access(mark, F_OK) == 0;
}

/* Submits ref, a hold job without a gate, with a timeout of ms, to an idle
 * worker, and runs the loop until it is running: its worker will kill it
 * at its deadline. A worker reaches a job only after its deadline on a
 * loaded machine (it answers it not run), or the deadline can pass before
 * the job is seen running: then the attempt is forgotten and the job
 * submitted again with twice the time. */
static void
submit_running(const char *ref, uint64_t ms)
{
	size_t order = strlen(res.order);
	int done = res.done;

	for (;; ms *= 2) {
		ck_assert_msg(ms <= 60000, "job %s did not start before its deadline", ref);
		unlink(mark_path(ref, "started"));
		submit(ref, hold(ref, 0), ms);
		if (wait_started(ref) && res.done == done)
			return;
		ck_assert_int_eq(res.done, done + 1);
		ck_assert_int_eq(res.st, POOL_TIMEOUT);
		res.done = done;
		res.order[order] = '\0';
	}
}

START_TEST(test_echo)
{
	start(2, 0);
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": "
	                     "[\"hi\"], \"kwargs\": {}, \"class_args\": [], \"class_kwargs\": {}}]",
	                     0),
	                 POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": \"hi\"}");
	ck_assert_int_eq(
	    run("[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": [1, {\"a\": "
	        "[true, null]}]}]",
	        0),
	    POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": [1, {\"a\": [true, null]}]}");
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"sleep\", \"path\": \"builtin\", \"args\": "
	                     "[0.01]}]",
	                     0),
	                 POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": null}");
	ck_assert_uint_eq(pool_idle(pool), 2);
	ck_assert_uint_eq(pool_jobs(pool), 0);
	ck_assert_int_ge(res.idle_calls, 3);
	stop();
}
END_TEST

START_TEST(test_fail)
{
	start(1, 0);
	ck_assert_int_eq(
	    run("[\"run\", {\"callable\": \"fail\", \"path\": \"builtin\", \"args\": [\"boom\"]}]",
	        0),
	    POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "boom");
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"fail\", \"path\": \"builtin\"}]", 0),
	                 POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "failed");
	stop();
}
END_TEST

START_TEST(test_crash_replaced)
{
	long pid;

	start(1, 0);
	pid = worker_pid();
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"crash\", \"path\": \"builtin\"}]", 0),
	                 POOL_CRASHED);
	ck_assert_msg(strstr(res.text, "signal 6") != NULL, "%s", res.text);
	ck_assert_uint_eq(pool_idle(pool), 1);
	ck_assert_int_ne(worker_pid(), pid);
	pid = worker_pid();
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"exit\", \"path\": \"builtin\"}]", 0),
	                 POOL_CRASHED);
	/* Not "status 3": under valgrind a child that leaks at exit reports 99. */
	ck_assert_msg(strstr(res.text, "exited with status") != NULL, "%s", res.text);
	ck_assert_int_ne(worker_pid(), pid);
	stop();
}
END_TEST

START_TEST(test_timeout)
{
	long pid;

	start(1, 0);
	pid = worker_pid();
	submit_running("t", 200);
	wait_for(res.done + 1);
	ck_assert_str_eq(res.ref, "t");
	ck_assert_int_eq(res.st, POOL_TIMEOUT);
	ck_assert_str_eq(res.text, "job killed after its timeout");
	ck_assert_uint_eq(pool_idle(pool), 1);
	ck_assert_uint_eq(pool_jobs(pool), 0);
	ck_assert_int_ne(worker_pid(), pid);
	/* A job that ends in time is not killed. */
	ck_assert_int_eq(
	    run("[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": [1]}]", 30000),
	    POOL_OK);
	stop();
}
END_TEST

START_TEST(test_recycle)
{
	long a, b, c, d, e;

	start(1, 2);
	a = worker_pid();
	b = worker_pid();
	c = worker_pid();
	d = worker_pid();
	e = worker_pid();
	ck_assert_int_eq(a, b);
	ck_assert_int_ne(b, c);
	ck_assert_int_eq(c, d);
	ck_assert_int_ne(d, e);
	ck_assert_int_ne(a, e);
	ck_assert_uint_eq(pool_idle(pool), 1);
	stop();
}
END_TEST

START_TEST(test_concurrent)
{
	const char *job =
	    "[\"run\", {\"callable\": \"sleep\", \"path\": \"builtin\", \"args\": [0.2]}]";
	uint64_t guard;

	start(3, 0);
	ck_assert_int_eq(pool_submit(pool, "a", job, strlen(job), 0), 0);
	ck_assert_int_eq(pool_submit(pool, "b", job, strlen(job), 0), 0);
	ck_assert_int_eq(pool_submit(pool, "c", job, strlen(job), 0), 0);
	ck_assert_uint_eq(pool_idle(pool), 0);
	ck_assert_uint_eq(pool_jobs(pool), 3);
	ck_assert_int_eq(pool_submit(pool, "d", job, strlen(job), 0), -1);
	guard = loop_add_timer(loop, 30000, 0, on_guard, NULL);
	while (res.done < 3)
		ck_assert_int_eq(loop_run(loop), 0);
	loop_cancel_timer(loop, guard);
	ck_assert_uint_eq(pool_idle(pool), 3);
	stop();
}
END_TEST

START_TEST(test_kill_busy)
{
	const char *job =
	    "[\"run\", {\"callable\": \"sleep\", \"path\": \"builtin\", \"args\": [30]}]";

	start(2, 0);
	ck_assert_int_eq(pool_submit(pool, "x", job, strlen(job), 0), 0);
	pool_stop(pool);
	pool_kill_busy(pool, "stopped");
	ck_assert_int_eq(res.done, 1);
	ck_assert_int_eq(res.st, POOL_CRASHED);
	ck_assert_str_eq(res.text, "stopped");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	stop();
}
END_TEST

START_TEST(test_module)
{
	long pid;

	start(1, 0);
	pid = worker_pid();
	ck_assert_int_eq(
	    run("[\"run\", {\"callable\": \"add\", \"path\": \"testmod\", \"args\": [1, 2, 3]}]",
	        0),
	    POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": 6}");
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"mul\", \"path\": \"testmod:Calc\", "
	                     "\"args\": [7], \"class_kwargs\": {\"factor\": 6}}]",
	                     0),
	                 POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": 42}");
	ck_assert_int_eq(
	    run("[\"run\", {\"callable\": \"add\", \"path\": \"testmod\", \"args\": [1, \"x\"]}]",
	        0),
	    POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "add: args[1] is not an integer");
	ck_assert_int_eq(run("[\"run\", {\"callable\": \"oops\", \"path\": \"testmod\", "
	                     "\"kwargs\": {\"why\": \"because\"}}]",
	                     0),
	                 POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "oops: because");
	/* One worker ran all of it: the module was loaded once and cached. */
	ck_assert_int_eq(worker_pid(), pid);
	stop();
}
END_TEST

/* A worker holds up to depth jobs and runs them in order. */
START_TEST(test_depth_order)
{
	start_depth(2, 0, 3);
	submit("a", SLEEP("0.2"), 0);
	submit("b", SLEEP("0.1"), 0);
	/* Idle workers first: b went to the second one. */
	ck_assert_uint_eq(pool_idle(pool), 0);
	submit("c", ECHO("c"), 0);
	submit("d", ECHO("d"), 0);
	submit("e", ECHO("e"), 0);
	submit("f", ECHO("f"), 0);
	ck_assert_uint_eq(pool_jobs(pool), 6);
	ck_assert_int_eq(pool_submit(pool, "g", ECHO("g"), strlen(ECHO("g")), 0), -1);
	wait_for(6);
	/* Per worker in order: a before c and e, b before d and f. */
	ck_assert_ptr_nonnull(strstr(res.order, "a "));
	ck_assert(strchr(res.order, 'a') < strchr(res.order, 'c') &&
	          strchr(res.order, 'c') < strchr(res.order, 'e'));
	ck_assert(strchr(res.order, 'b') < strchr(res.order, 'd') &&
	          strchr(res.order, 'd') < strchr(res.order, 'f'));
	ck_assert_str_eq(res.returned, "");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	ck_assert_uint_eq(pool_idle(pool), 2);
	stop();
}
END_TEST

/* The jobs queued behind one that crashes are first in line again, ahead
 * of those waiting, and run in order on the replacement. */
START_TEST(test_depth_crash_requeues)
{
	start_waiting(1, 0, 3, 1);
	submit("a", CRASH, 0);
	submit("b", ECHO("b"), 0);
	submit("c", ECHO("c"), 0);
	submit("d", ECHO("d"), 0);
	ck_assert_uint_eq(pool_jobs(pool), 4);
	wait_for(1);
	ck_assert_str_eq(res.order, "a ");
	ck_assert_int_eq(res.st, POOL_CRASHED);
	wait_for(4);
	ck_assert_str_eq(res.order, "a b c d ");
	ck_assert_int_eq(res.st, POOL_OK);
	ck_assert_str_eq(res.returned, "");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	stop();
}
END_TEST

/* A timeout kills the worker: its job is reported, the rest run on the
 * replacement. */
START_TEST(test_depth_timeout_requeues)
{
	start_depth(1, 0, 2);
	submit_running("a", 200);
	submit("b", ECHO("b"), 0);
	wait_for(res.done + 1);
	ck_assert_str_eq(res.order, "a ");
	ck_assert_int_eq(res.st, POOL_TIMEOUT);
	wait_for(res.done + 1);
	ck_assert_str_eq(res.order, "a b ");
	ck_assert_int_eq(res.st, POOL_OK);
	ck_assert_str_eq(res.returned, "");
	stop();
}
END_TEST

/* A queued job's deadline counts from its submission: one that waited past
 * it is killed as soon as it starts. */
START_TEST(test_depth_deadline_while_queued)
{
	start_depth(1, 0, 2);
	submit("a", SLEEP("0.5"), 0);
	submit("b", SLEEP("30"), 300);
	wait_for(2);
	ck_assert_str_eq(res.order, "a b ");
	ck_assert_int_eq(res.st, POOL_TIMEOUT);
	stop();
}
END_TEST

/* Stopping: the waiting jobs come back at once, the running job ends, and
 * the ones queued behind it come back in order as the worker reaches them. */
START_TEST(test_stop_returns_unstarted)
{
	start_waiting(1, 0, 3, 2);
	submit("a", hold("a", 1), 0);
	submit("b", ECHO("b"), 0);
	submit("c", ECHO("c"), 0);
	submit("d", ECHO("d"), 0);
	submit("e", ECHO("e"), 0);
	ck_assert(wait_started("a"));
	pool_stop(pool);
	ck_assert_str_eq(res.returned, "d e ");
	ck_assert_uint_eq(pool_jobs(pool), 3);
	ck_assert_int_eq(pool_submit(pool, "f", ECHO("f"), strlen(ECHO("f")), 0), -1);
	open_gate("a");
	wait_for(5);
	ck_assert_str_eq(res.order, "a ");
	ck_assert_int_eq(res.st, POOL_OK);
	ck_assert_str_eq(res.returned, "d e b c ");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	stop();
}
END_TEST

/* A worker is never given more than max_jobs jobs. */
START_TEST(test_depth_max_jobs)
{
	start_depth(1, 2, 4);
	submit("a", ECHO("a"), 0);
	submit("b", ECHO("b"), 0);
	ck_assert_int_eq(pool_submit(pool, "c", ECHO("c"), strlen(ECHO("c")), 0), -1);
	wait_for(2);
	ck_assert_str_eq(res.order, "a b ");
	ck_assert_str_eq(res.returned, "");
	/* Retired and replaced. */
	ck_assert_int_eq(run(ECHO("c"), 0), POOL_OK);
	stop();
}
END_TEST

/* Forgotten jobs (their router is gone) are neither run nor reported, nor
 * requeued if their worker dies; the waiting ones are dropped at once. The
 * running job ends as usual, and jobs taken afterwards run. */
START_TEST(test_forget_queued)
{
	start_waiting(1, 0, 3, 2);
	submit("a", hold("a", 1), 0);
	submit("b", ECHO("b"), 0);
	submit("c", ECHO("c"), 0);
	submit("d", ECHO("d"), 0);
	ck_assert(wait_started("a"));
	ck_assert_uint_eq(pool_forget_queued(pool), 1);
	ck_assert_uint_eq(pool_jobs(pool), 3);
	submit("e", ECHO("e"), 0);
	open_gate("a");
	wait_for(2);
	ck_assert_str_eq(res.order, "a e ");
	ck_assert_str_eq(res.returned, "");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	/* A worker killed with a forgotten job and a current one behind its
	 * running job: the forgotten one is dropped, the other is first in
	 * line again, ahead of one that waits. */
	submit_running("f", 400);
	submit("g", ECHO("g"), 0);
	ck_assert_uint_eq(pool_forget_queued(pool), 0);
	submit("h", ECHO("h"), 0);
	submit("i", ECHO("i"), 0);
	ck_assert_uint_eq(pool_jobs(pool), 4);
	wait_for(3);
	ck_assert_str_eq(res.order, "a e f ");
	ck_assert_int_eq(res.st, POOL_TIMEOUT);
	wait_for(5);
	ck_assert_str_eq(res.order, "a e f h i ");
	ck_assert_str_eq(res.returned, "");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	stop();
}
END_TEST

/* Jobs no worker has room for wait in the pool, first in first out, up to
 * max_waiting of them. */
START_TEST(test_waiting)
{
	start_waiting(1, 0, 1, 3);
	submit("a", hold("a", 1), 0);
	submit("b", ECHO("b"), 0);
	submit("c", ECHO("c"), 0);
	submit("d", ECHO("d"), 0);
	ck_assert_uint_eq(pool_jobs(pool), 4);
	ck_assert_uint_eq(pool_idle(pool), 0);
	ck_assert_int_eq(pool_submit(pool, "e", ECHO("e"), strlen(ECHO("e")), 0), -1);
	open_gate("a");
	wait_for(4);
	ck_assert_str_eq(res.order, "a b c d ");
	ck_assert_uint_eq(pool_jobs(pool), 0);
	stop();
}
END_TEST

/* Submits a, a hold job, and b behind it with a deadline of 1 ms, and runs
 * the loop until both have ended: b without running, past its deadline. */
static void
expire_behind_hold(void)
{
	submit("a", hold("a", 1), 0);
	submit("b", ECHO("b"), 1);
	ck_assert(wait_started("a"));
	usleep(20 * 1000);
	open_gate("a");
	wait_for(2);
	ck_assert_str_eq(res.order, "a b ");
	ck_assert_int_eq(res.st, POOL_TIMEOUT);
}

/* A job's deadline counts from its submission: one that waited past it in
 * the pool is not run. */
START_TEST(test_waiting_deadline)
{
	start_waiting(1, 0, 1, 1);
	expire_behind_hold();
	ck_assert_str_eq(res.text, "not run: the job waited its whole timeout for a worker");
	stop();
}
END_TEST

/* A job a worker skips (here: past its deadline) does not count toward
 * its max_jobs: the worker takes another job instead of sitting idle. */
START_TEST(test_skipped_not_counted)
{
	start_waiting(1, 2, 2, 1);
	expire_behind_hold();
	ck_assert_str_eq(res.text, "not run: the job waited its whole timeout");
	submit("c", ECHO("c"), 0);
	wait_for(3);
	ck_assert_str_eq(res.order, "a b c ");
	ck_assert_int_eq(res.st, POOL_OK);
	stop();
}
END_TEST

/* A job waits while the only worker has had its max_jobs, and runs on the
 * worker that replaces it. */
START_TEST(test_waiting_recycle)
{
	start_waiting(1, 2, 4, 1);
	submit("a", ECHO("a"), 0);
	submit("b", ECHO("b"), 0);
	submit("c", ECHO("c"), 0);
	wait_for(3);
	ck_assert_str_eq(res.order, "a b c ");
	stop();
}
END_TEST

static const struct {
	const char *body, *expect;
} bad_jobs[] = {
    {"not json", "job is not JSON"},
    {"[]", "job must be"},
    {"{\"run\": 1}", "job must be"},
    {"[\"run\"]", "job must be"},
    {"[\"run\", {}, 3]", "job must be"},
    {"[\"frob\", {}]", "unknown job verb"},
    {"[\"run\", {\"path\": \"builtin\"}]", "must be strings"},
    {"[\"run\", {\"callable\": 1, \"path\": \"builtin\"}]", "must be strings"},
    {"[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": {}}]", "must be arrays"},
    {"[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"kwargs\": []}]",
     "must be objects"},
    {"[\"run\", {\"callable\": \"nope\", \"path\": \"builtin\"}]", "no callable \"nope\""},
    {"[\"run\", {\"callable\": \"echo\", \"path\": \"builtin:Cls\"}]", "no handler module"},
    {"[\"run\", {\"callable\": \"x\", \"path\": \"../x\"}]", "module name must match"},
    {"[\"run\", {\"callable\": \"x\", \"path\": \"/etc/passwd\"}]", "module name must match"},
    {"[\"run\", {\"callable\": \"x\", \"path\": \"..\"}]", "module name must match"},
    {"[\"run\", {\"callable\": \"x\", \"path\": \"a/b\"}]", "module name must match"},
    {"[\"run\", {\"callable\": \"x\", \"path\": \"\"}]", "module name must match"},
    {"[\"run\", {\"callable\": \"x\", \"path\": \"nosuch\"}]", "no handler module \"nosuch\""},
    {"[\"run\", {\"callable\": \"bad-name\", \"path\": \"testmod\"}]", "callable must match"},
    {"[\"run\", {\"callable\": \"1x\", \"path\": \"testmod\"}]", "callable must match"},
    {"[\"run\", {\"callable\": \"nosym\", \"path\": \"testmod\"}]",
     "no symbol gearhorn_handler_nosym"},
    {"[\"run\", {\"callable\": \"add\", \"path\": \"testmod:Bad-Class\"}]", "MODULE:Class"},
    {"[\"run\", {\"callable\": \"add\", \"path\": \"testmod:../x\"}]", "MODULE:Class"},
    {"[\"exec\", {\"program\": \"rm\"}]", "is not allowed"},
    {"[\"exec\", {\"program\": \"/bin/cat\"}]", "is not allowed"},
    {"[\"exec\", {}]", "\"program\" must be a string"},
    {"[\"exec\", {\"program\": \"cat\", \"args\": [1]}]", "array of strings"},
    {"[\"exec\", {\"program\": \"cat\", \"stdin\": 5}]", "\"stdin\" must be a string"},
};

START_TEST(test_bad_jobs)
{
	long pid;
	size_t i;

	start(1, 0);
	pid = worker_pid();
	for (i = 0; i < GH_ARRAY_LEN(bad_jobs); i++) {
		ck_assert_int_eq(run(bad_jobs[i].body, 0), POOL_BAD_JOB);
		ck_assert_msg(strstr(res.text, bad_jobs[i].expect) != NULL, "%s: got \"%s\"",
		              bad_jobs[i].body, res.text);
	}
	/* The worker lived through all of them. */
	ck_assert_int_eq(worker_pid(), pid);
	stop();
}
END_TEST

START_TEST(test_exec)
{
	start(1, 0);
	ck_assert_int_eq(run("[\"exec\", {\"program\": \"cat\", \"stdin\": \"hello\\nworld\"}]", 0),
	                 POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": \"hello\\nworld\"}");
	ck_assert_int_eq(run("[\"exec\", {\"program\": \"sh\", \"args\": [\"-c\", \"printf "
	                     "'%s' \\\"$1\\\"\", \"sh\", \"a b;c\"]}]",
	                     0),
	                 POOL_OK);
	ck_assert_str_eq(res.text, "{\"value\": \"a b;c\"}");
	ck_assert_int_eq(run("[\"exec\", {\"program\": \"sh\", \"args\": [\"-c\", \"echo bad "
	                     "news >&2; exit 2\"]}]",
	                     0),
	                 POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "program sh exited with status 2: bad news");
	ck_assert_int_eq(run("[\"exec\", {\"program\": \"missing\"}]", 0), POOL_JOB_FAILED);
	ck_assert_msg(strstr(res.text, "cannot execute /nonexistent/prog") != NULL, "%s", res.text);
	stop();
}
END_TEST

/* How a program's run ends: killed, a long stderr (its tail kept), output
 * that is not text or too large, and a stdin larger than a pipe holds. */
START_TEST(test_exec_edges)
{
	size_t n = 300 * 1000, i;
	char *big = gh_malloc(n + 64), *body;

	start(1, 0);
	ck_assert_int_eq(
	    run("[\"exec\", {\"program\": \"sh\", \"args\": [\"-c\", \"kill -9 $$\"]}]", 0),
	    POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "program sh was killed by signal 9");
	ck_assert_int_eq(run("[\"exec\", {\"program\": \"sh\", \"args\": [\"-c\", \"i=0; while "
	                     "[ $i -lt 100 ]; do printf 0123456789 >&2; i=$((i+1)); done; "
	                     "printf '\\\\001end\\\\n' >&2; exit 1\"]}]",
	                     0),
	                 POOL_JOB_FAILED);
	ck_assert_uint_eq(strlen(res.text), strlen("program sh exited with status 1: ") + 512 - 1);
	ck_assert_msg(strstr(res.text, "program sh exited with status 1: 3456") == res.text, "%s",
	              res.text);
	ck_assert_msg(strstr(res.text, "789 end") != NULL, "%s", res.text);
	ck_assert_int_eq(
	    run("[\"exec\", {\"program\": \"sh\", \"args\": [\"-c\", \"printf '\\\\377'\"]}]", 0),
	    POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "exec: the program's output is not UTF-8 text");
	ck_assert_int_eq(run("[\"exec\", {\"program\": \"sh\", \"args\": [\"-c\", \"head -c "
	                     "17000000 /dev/zero\"]}]",
	                     0),
	                 POOL_JOB_FAILED);
	ck_assert_str_eq(res.text, "result too large");
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	body = gh_asprintf("[\"exec\", {\"program\": \"cat\", \"stdin\": \"%s\"}]", big);
	ck_assert_int_eq(run(body, 0), POOL_OK);
	ck_assert_uint_eq(strlen(res.text), strlen("{\"value\": \"\"}") + n);
	ck_assert(strncmp(res.text + 11, big, n) == 0);
	free(body);
	free(big);
	stop();
}
END_TEST

START_TEST(test_program_items)
{
	static char *const bad[] = {"c/t=/bin/cat"};
	char err[256];
	pool_config_t cfg;
	gh_error_t e = {0, ""};

	ck_assert_int_eq(handler_check_program("cat=/bin/cat", err, sizeof(err)), 0);
	ck_assert_int_eq(handler_check_program("cat", err, sizeof(err)), -1);
	ck_assert_int_eq(handler_check_program("=/bin/cat", err, sizeof(err)), -1);
	ck_assert_int_eq(handler_check_program("cat=bin/cat", err, sizeof(err)), -1);
	ck_assert_int_eq(handler_check_program("c/t=/bin/cat", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "name must match"));
	/* A pool with a bad item is a configuration error. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 1;
	cfg.done = on_done;
	cfg.returns = on_returned;
	cfg.programs = bad;
	cfg.nprograms = 1;
	loop = loop_new();
	ck_assert_ptr_null(pool_new(loop, &cfg, &e));
	ck_assert_int_eq(e.status, EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(e.text, "name must match"));
	loop_destroy(&loop);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_fail);
	tcase_add_test(tc, test_crash_replaced);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_recycle);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_kill_busy);
	tcase_add_test(tc, test_depth_order);
	tcase_add_test(tc, test_depth_crash_requeues);
	tcase_add_test(tc, test_depth_timeout_requeues);
	tcase_add_test(tc, test_depth_deadline_while_queued);
	tcase_add_test(tc, test_stop_returns_unstarted);
	tcase_add_test(tc, test_depth_max_jobs);
	tcase_add_test(tc, test_forget_queued);
	tcase_add_test(tc, test_waiting);
	tcase_add_test(tc, test_waiting_deadline);
	tcase_add_test(tc, test_waiting_recycle);
	tcase_add_test(tc, test_skipped_not_counted);
	tcase_add_test(tc, test_module);
	tcase_add_test(tc, test_bad_jobs);
	tcase_add_test(tc, test_exec);
	tcase_add_test(tc, test_exec_edges);
	tcase_add_test(tc, test_program_items);
	suite_add_tcase(s, tc);
	return s;
}

static void
remove_dirs(void)
{
	gh_tmpdir_remove(markdir);
	free(moddir);
}

Suite *
suite(void)
{
	const char *b = getenv("top_builddir");

	moddir = gh_asprintf("%s/tests/handlers/.libs", b && *b ? b : ".");
	if (gh_tmpdir_make(markdir, sizeof(markdir), "check_pool") != 0) {
		perror("check_pool: temporary directory");
		exit(EXIT_FAILURE);
	}
	gh_check_at_end(remove_dirs);
	return pool_suite();
}
