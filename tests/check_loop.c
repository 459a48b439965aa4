/*
 * check_loop: the event loop. Timers are checked by counts and order, never
 * by elapsed time; every test that waits for something arms a watchdog
 * timer that fails it instead of hanging.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "loop.h"
#include "util.h"
#include "lib/check_main.h"

#define WATCHDOG_MS 10000

static int
on_watchdog(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(id);
	*(int *)arg = 1;
	return -1;
}

static int
on_stop_timer(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(id);
	if (arg != NULL)
		(*(int *)arg)++;
	loop_stop(l);
	return 0;
}

static void
make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void
close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --- timers ------------------------------------------------------------ */

struct order {
	int tags[32];
	int n;
};

struct tagged {
	struct order *order;
	int tag;
};

static int
on_tag(loop_t *l, uint64_t id, void *arg)
{
	struct tagged *t = arg;

	GH_UNUSED(l);
	GH_UNUSED(id);
	ck_assert_int_lt(t->order->n, 32);
	t->order->tags[t->order->n++] = t->tag;
	return 0;
}

START_TEST(test_timer_order)
{
	loop_t *l = loop_new();
	struct order order = {{0}, 0};
	struct tagged late[3] = {{&order, 3}, {&order, 1}, {&order, 2}};
	struct tagged ties[12];
	int stopped = 0, i;

	ck_assert_uint_gt(loop_add_timer(l, 30, 0, on_tag, &late[0]), 0);
	loop_add_timer(l, 10, 0, on_tag, &late[1]);
	loop_add_timer(l, 20, 0, on_tag, &late[2]);
	/* Equal deadlines fire in the order they were armed. */
	for (i = 0; i < 12; i++) {
		ties[i].order = &order;
		ties[i].tag = 100 + i;
		loop_add_timer(l, 0, 0, on_tag, &ties[i]);
	}
	loop_add_timer(l, 50, 0, on_stop_timer, &stopped);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(stopped, 1);
	ck_assert_int_eq(order.n, 15);
	for (i = 0; i < 12; i++)
		ck_assert_int_eq(order.tags[i], 100 + i);
	ck_assert_int_eq(order.tags[12], 1);
	ck_assert_int_eq(order.tags[13], 2);
	ck_assert_int_eq(order.tags[14], 3);
	loop_destroy(&l);
	ck_assert_ptr_null(l);
	loop_destroy(&l);
	loop_destroy(NULL);
}
END_TEST

struct repeat {
	uint64_t id;
	int count;
	int limit;
	uint64_t when[16];
	int stopped;
};

/* Fires limit times, cancels itself from its own handler, then arms a
 * one-shot stopper: a repeating timer that survived the cancel would show
 * up as count > limit. */
static int
on_repeat(loop_t *l, uint64_t id, void *arg)
{
	struct repeat *r = arg;

	ck_assert_uint_eq(id, r->id);
	ck_assert_int_lt(r->count, 16);
	r->when[r->count++] = loop_now(l);
	if (r->count == r->limit) {
		loop_cancel_timer(l, id);
		loop_cancel_timer(l, id);
		loop_add_timer(l, 20, 0, on_stop_timer, &r->stopped);
	}
	return 0;
}

START_TEST(test_timer_repeat)
{
	loop_t *l = loop_new();
	struct repeat r = {0};
	struct order order = {{0}, 0};
	struct tagged once = {&order, 7};
	uint64_t once_id;
	int timed_out = 0;

	r.limit = 5;
	r.id = loop_add_timer(l, 1, 2, on_repeat, &r);
	once_id = loop_add_timer(l, 0, 0, on_tag, &once);
	ck_assert_uint_ne(once_id, r.id);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(r.count, 5);
	ck_assert_int_eq(r.stopped, 1);
	ck_assert_int_eq(order.n, 1);
	/* Expired and unknown ids are no-ops. */
	loop_cancel_timer(l, once_id);
	loop_cancel_timer(l, 987654);
	loop_destroy(&l);
}
END_TEST

static int
on_stall(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(id);
	GH_UNUSED(arg);
	sleep_ms(120);
	return 0;
}

/* After a stall of many periods a repeating timer fires once and keeps its
 * grid: it is never re-armed in the past, so two of its calls never share
 * one poll (they would share loop_now() in a catch-up burst). */
START_TEST(test_timer_skips_missed_periods)
{
	loop_t *l = loop_new();
	struct repeat r = {0};
	int timed_out = 0, i;

	r.limit = 6;
	r.id = loop_add_timer(l, 10, 10, on_repeat, &r);
	loop_add_timer(l, 5, 0, on_stall, NULL);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(r.count, 6);
	for (i = 1; i < r.count; i++)
		ck_assert_uint_gt(r.when[i], r.when[i - 1]);
	loop_destroy(&l);
}
END_TEST

struct cancel_ctx {
	uint64_t victim;
	int victim_fired;
};

static int
on_cancel_other(loop_t *l, uint64_t id, void *arg)
{
	struct cancel_ctx *c = arg;

	GH_UNUSED(id);
	loop_cancel_timer(l, c->victim);
	return 0;
}

static int
on_victim(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(id);
	((struct cancel_ctx *)arg)->victim_fired++;
	return 0;
}

START_TEST(test_timer_cancel_in_handler)
{
	loop_t *l = loop_new();
	struct cancel_ctx c = {0, 0};
	int stopped = 0;

	/* Both are due in the same pass; the first cancels the second. */
	loop_add_timer(l, 0, 0, on_cancel_other, &c);
	c.victim = loop_add_timer(l, 0, 0, on_victim, &c);
	loop_add_timer(l, 5, 0, on_stop_timer, &stopped);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(stopped, 1);
	ck_assert_int_eq(c.victim_fired, 0);
	loop_destroy(&l);
}
END_TEST

struct starve {
	int fd;
	int io_calls;
	int timer_calls;
};

static int
on_readable_count(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct starve *s = arg;

	GH_UNUSED(l);
	GH_UNUSED(sock);
	GH_UNUSED(fd);
	ck_assert(revents & ZMQ_POLLIN);
	s->io_calls++;
	return 0;
}

static int
on_rearm_zero(loop_t *l, uint64_t id, void *arg)
{
	struct starve *s = arg;

	GH_UNUSED(id);
	if (++s->timer_calls == 10)
		loop_stop(l);
	else
		loop_add_timer(l, 0, 0, on_rearm_zero, s);
	return 0;
}

/* A timer re-arming itself at 0 ms waits for the next pass, so a readable
 * fd is served once per timer call instead of being starved. */
START_TEST(test_timer_zero_does_not_starve_io)
{
	loop_t *l = loop_new();
	struct starve s = {-1, 0, 0};
	int p[2];

	make_pipe(p);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_add_fd(l, p[0], ZMQ_POLLIN, on_readable_count, &s), 0);
	loop_add_timer(l, 0, 0, on_rearm_zero, &s);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(s.timer_calls, 10);
	ck_assert_int_eq(s.io_calls, 10);
	loop_destroy(&l);
	close_pipe(p);
}
END_TEST

START_TEST(test_run_returns_when_nothing_left)
{
	loop_t *l = loop_new();
	struct order order = {{0}, 0};
	struct tagged t = {&order, 1};
	int p[2];

	ck_assert_int_eq(loop_run(l), 0);
	loop_add_timer(l, 1, 0, on_tag, &t);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(order.n, 1);
	/* Removing the last fd outside the loop empties it as well. */
	make_pipe(p);
	ck_assert_int_eq(loop_add_fd(l, p[0], ZMQ_POLLIN, on_readable_count, NULL), 0);
	loop_remove_fd(l, p[0]);
	ck_assert_int_eq(loop_run(l), 0);
	loop_destroy(&l);
	close_pipe(p);
}
END_TEST

/* --- stop and errors --------------------------------------------------- */

START_TEST(test_stop_and_restart)
{
	loop_t *l = loop_new();
	struct order order = {{0}, 0};
	struct tagged after = {&order, 2};
	int stopped = 0;

	/* Both due in the first pass: the stopper wins and nothing else runs. */
	loop_add_timer(l, 0, 0, on_stop_timer, &stopped);
	loop_add_timer(l, 0, 0, on_tag, &after);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(stopped, 1);
	ck_assert_int_eq(order.n, 0);
	/* A later run starts afresh and serves what is left. */
	loop_add_timer(l, 1, 0, on_stop_timer, &stopped);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(stopped, 2);
	ck_assert_int_eq(order.n, 1);
	loop_destroy(&l);
}
END_TEST

static int
on_timer_fail(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(id);
	(*(int *)arg)++;
	return -1;
}

static int
on_io_fail(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(sock);
	GH_UNUSED(fd);
	GH_UNUSED(revents);
	(*(int *)arg)++;
	return -1;
}

START_TEST(test_handler_error_stops)
{
	loop_t *l = loop_new();
	int calls = 0, timed_out = 0;
	uint64_t wd;
	int p[2];

	loop_add_timer(l, 0, 0, on_timer_fail, &calls);
	ck_assert_int_eq(loop_run(l), -1);
	ck_assert_int_eq(calls, 1);

	make_pipe(p);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_add_fd(l, p[0], ZMQ_POLLIN, on_io_fail, &calls), 0);
	wd = loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(loop_run(l), -1);
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(timed_out, 0);
	loop_cancel_timer(l, wd);
	loop_destroy(&l);
	close_pipe(p);
}
END_TEST

/* --- fds and sockets --------------------------------------------------- */

struct pipe_ctx {
	int fd;
	char got;
	int calls;
	int err_calls;
};

static int
on_pipe(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct pipe_ctx *c = arg;

	ck_assert_ptr_null(sock);
	ck_assert_int_eq(fd, c->fd);
	if (revents & ZMQ_POLLIN) {
		ssize_t n = read(fd, &c->got, 1);

		if (n == 1) {
			c->calls++;
			return 0;
		}
	}
	if (revents & ZMQ_POLLERR) {
		c->err_calls++;
		loop_remove_fd(l, fd);
		loop_stop(l);
	}
	return 0;
}

START_TEST(test_pipe_fd)
{
	loop_t *l = loop_new();
	struct pipe_ctx c = {-1, 0, 0, 0};
	int p[2], timed_out = 0;

	make_pipe(p);
	c.fd = p[0];
	ck_assert_int_eq(loop_add_fd(l, p[0], ZMQ_POLLIN, on_pipe, &c), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], ZMQ_POLLIN, on_pipe, &c), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(loop_add_fd(l, -1, ZMQ_POLLIN, on_pipe, &c), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(loop_set_events(l, NULL, p[1], ZMQ_POLLIN), -1);
	ck_assert_int_eq(errno, ENOENT);
	loop_remove_fd(l, p[1]);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(write(p[1], "a", 1), 1);
	/* The writer goes away after the byte: the reader sees the byte, then
	 * the hang-up as ZMQ_POLLERR. */
	close(p[1]);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(c.got, 'a');
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.err_calls, 1);
	loop_destroy(&l);
	close(p[0]);
}
END_TEST

/* The prepare hook runs before every poll: output queued by a handler
 * leaves before the loop sleeps, and the hook may stop the loop. */
struct prep {
	int p[2];
	int queued, prepared, flushed, reads;
};

static void
on_prepare(loop_t *l, void *arg)
{
	struct prep *c = arg;

	c->prepared++;
	if (c->queued) {
		ck_assert_int_eq(write(c->p[1], "x", 1), 1);
		c->queued = 0;
		c->flushed++;
	}
	if (c->reads == 3)
		loop_stop(l);
}

static int
on_prep_read(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct prep *c = arg;
	char b;

	GH_UNUSED(l);
	GH_UNUSED(sock);
	GH_UNUSED(revents);
	ck_assert_int_eq(read(fd, &b, 1), 1);
	c->reads++;
	c->queued = 1; /* "send" the next byte from the hook */
	return 0;
}

START_TEST(test_prepare_hook)
{
	loop_t *l = loop_new();
	struct prep c;
	int timed_out = 0;

	memset(&c, 0, sizeof(c));
	make_pipe(c.p);
	ck_assert_int_eq(loop_add_fd(l, c.p[0], ZMQ_POLLIN, on_prep_read, &c), 0);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	loop_set_prepare(l, on_prepare, &c);
	c.queued = 1;
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(c.reads, 3);
	ck_assert_int_eq(c.flushed, 4); /* the last before the stop */
	ck_assert_int_ge(c.prepared, 4);
	/* Removed, it is not called again. */
	loop_set_prepare(l, NULL, NULL);
	c.prepared = 0;
	loop_remove_fd(l, c.p[0]);
	loop_add_timer(l, 10, 0, on_stop_timer, NULL);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(c.prepared, 0);
	loop_destroy(&l);
	close(c.p[0]);
	close(c.p[1]);
}
END_TEST

struct churn {
	loop_t *l;
	int p1[2], p2[2], p3[2];
	int c1, c2, c2b, c3;
};

static int on_churn2b(loop_t *l, void *sock, int fd, short revents, void *arg);
static int on_churn3(loop_t *l, void *sock, int fd, short revents, void *arg);

static int
on_churn1(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct churn *c = arg;

	GH_UNUSED(sock);
	GH_UNUSED(revents);
	c->c1++;
	/* p2 is readable in this very pass: removing it must keep its old
	 * handler from running; re-adding it and adding p3 (readable too)
	 * takes effect from the next pass; removing ourselves is fine. */
	loop_remove_fd(l, c->p2[0]);
	ck_assert_int_eq(loop_add_fd(l, c->p2[0], ZMQ_POLLIN, on_churn2b, c), 0);
	ck_assert_int_eq(loop_add_fd(l, c->p3[0], ZMQ_POLLIN, on_churn3, c), 0);
	loop_remove_fd(l, fd);
	return 0;
}

static int
on_churn2(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(sock);
	GH_UNUSED(fd);
	GH_UNUSED(revents);
	((struct churn *)arg)->c2++;
	return 0;
}

static int
on_churn2b(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct churn *c = arg;

	GH_UNUSED(sock);
	GH_UNUSED(revents);
	c->c2b++;
	loop_remove_fd(l, fd);
	if (c->c3 > 0)
		loop_stop(l);
	return 0;
}

static int
on_churn3(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct churn *c = arg;

	GH_UNUSED(sock);
	GH_UNUSED(revents);
	c->c3++;
	loop_remove_fd(l, fd);
	if (c->c2b > 0)
		loop_stop(l);
	return 0;
}

START_TEST(test_add_remove_in_handlers)
{
	struct churn c;
	int timed_out = 0;

	memset(&c, 0, sizeof(c));
	c.l = loop_new();
	make_pipe(c.p1);
	make_pipe(c.p2);
	make_pipe(c.p3);
	ck_assert_int_eq(write(c.p1[1], "1", 1), 1);
	ck_assert_int_eq(write(c.p2[1], "2", 1), 1);
	ck_assert_int_eq(write(c.p3[1], "3", 1), 1);
	ck_assert_int_eq(loop_add_fd(c.l, c.p1[0], ZMQ_POLLIN, on_churn1, &c), 0);
	ck_assert_int_eq(loop_add_fd(c.l, c.p2[0], ZMQ_POLLIN, on_churn2, &c), 0);
	loop_add_timer(c.l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(loop_run(c.l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(c.c1, 1);
	ck_assert_int_eq(c.c2, 0);
	ck_assert_int_eq(c.c2b, 1);
	ck_assert_int_eq(c.c3, 1);
	loop_destroy(&c.l);
	close_pipe(c.p1);
	close_pipe(c.p2);
	close_pipe(c.p3);
}
END_TEST

struct zctx {
	void *a, *b;
	char got[16];
	int in_calls, out_calls;
};

static int
on_sock_in(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct zctx *z = arg;
	int n;

	ck_assert_ptr_eq(sock, z->b);
	ck_assert_int_eq(fd, -1);
	ck_assert(revents & ZMQ_POLLIN);
	n = zmq_recv(sock, z->got, sizeof(z->got) - 1, ZMQ_DONTWAIT);
	ck_assert_int_ge(n, 0);
	z->got[n] = '\0';
	z->in_calls++;
	loop_stop(l);
	return 0;
}

START_TEST(test_socket_inproc)
{
	void *ctx = zmq_ctx_new();
	loop_t *l = loop_new();
	struct zctx z;
	int timed_out = 0;

	memset(&z, 0, sizeof(z));
	z.a = zmq_socket(ctx, ZMQ_PAIR);
	z.b = zmq_socket(ctx, ZMQ_PAIR);
	ck_assert_int_eq(zmq_bind(z.b, "inproc://loop-in"), 0);
	ck_assert_int_eq(zmq_connect(z.a, "inproc://loop-in"), 0);
	ck_assert_int_eq(loop_add_socket(l, z.b, ZMQ_POLLIN, on_sock_in, &z), 0);
	ck_assert_int_eq(loop_add_socket(l, z.b, ZMQ_POLLIN, on_sock_in, &z), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(loop_add_socket(l, NULL, ZMQ_POLLIN, on_sock_in, &z), -1);
	ck_assert_int_eq(errno, EINVAL);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(zmq_send(z.a, "hello", 5, 0), 5);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(z.in_calls, 1);
	ck_assert_str_eq(z.got, "hello");
	loop_remove_socket(l, z.b);
	loop_destroy(&l);
	zmq_close(z.a);
	zmq_close(z.b);
	zmq_ctx_term(ctx);
}
END_TEST

static int
on_sock_out(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct zctx *z = arg;

	GH_UNUSED(fd);
	ck_assert_ptr_eq(sock, z->a);
	ck_assert(revents & ZMQ_POLLOUT);
	z->out_calls++;
	ck_assert_int_eq(zmq_send(sock, "ping", 4, ZMQ_DONTWAIT), 4);
	ck_assert_int_eq(loop_set_events(l, sock, -1, ZMQ_POLLIN), 0);
	return 0;
}

static int
on_want_out(loop_t *l, uint64_t id, void *arg)
{
	struct zctx *z = arg;

	GH_UNUSED(id);
	ck_assert_int_eq(loop_set_events(l, z->a, -1, ZMQ_POLLIN | ZMQ_POLLOUT), 0);
	return 0;
}

/* Interest in ZMQ_POLLOUT is switched on by a timer and off by the handler
 * after one send, so the handler runs exactly once. */
START_TEST(test_socket_set_events)
{
	void *ctx = zmq_ctx_new();
	loop_t *l = loop_new();
	struct zctx z;
	int timed_out = 0;

	memset(&z, 0, sizeof(z));
	z.a = zmq_socket(ctx, ZMQ_PAIR);
	z.b = zmq_socket(ctx, ZMQ_PAIR);
	ck_assert_int_eq(zmq_bind(z.b, "inproc://loop-out"), 0);
	ck_assert_int_eq(zmq_connect(z.a, "inproc://loop-out"), 0);
	ck_assert_int_eq(loop_add_socket(l, z.a, ZMQ_POLLIN, on_sock_out, &z), 0);
	ck_assert_int_eq(loop_add_socket(l, z.b, ZMQ_POLLIN, on_sock_in, &z), 0);
	loop_add_timer(l, 1, 0, on_want_out, &z);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(z.out_calls, 1);
	ck_assert_int_eq(z.in_calls, 1);
	ck_assert_str_eq(z.got, "ping");
	loop_destroy(&l);
	zmq_close(z.a);
	zmq_close(z.b);
	zmq_ctx_term(ctx);
}
END_TEST

/* --- idle: nothing wakes the loop -------------------------------------- */

struct idle {
	pid_t tid;
	int wfd;
	long switches[2];
	long ticks[2];
	char state[2];
	int ok;
};

/* Reads a thread's state, CPU ticks (utime + stime) and context switches
 * (voluntary + involuntary) from /proc. */
static int
thread_sample(pid_t tid, char *state, long *ticks, long *switches)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	long v;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", state, &ut, &st) !=
	    3)
		return -1;
	*ticks = (long)(ut + st);
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	*switches = 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(buf, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			*switches += v;
	fclose(f);
	return 0;
}

static void *
idle_prober(void *arg)
{
	struct idle *s = arg;
	long ticks, switches;
	char state;
	int i;

	/* Wait (bounded) until the loop thread has settled in its poll: asleep
	 * in two samples 20 ms apart with nothing changed in between. */
	for (i = 0; i < 500; i++) {
		if (thread_sample(s->tid, &s->state[0], &s->ticks[0], &s->switches[0]) < 0)
			goto out;
		sleep_ms(20);
		if (thread_sample(s->tid, &state, &ticks, &switches) < 0)
			goto out;
		if (s->state[0] == 'S' && state == 'S' && ticks == s->ticks[0] &&
		    switches == s->switches[0])
			break;
	}
	sleep_ms(200);
	if (thread_sample(s->tid, &s->state[1], &s->ticks[1], &s->switches[1]) == 0)
		s->ok = 1;
out:
	if (write(s->wfd, "w", 1) != 1)
		abort();
	return NULL;
}

static int
on_wake(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	char c;

	GH_UNUSED(sock);
	GH_UNUSED(revents);
	if (read(fd, &c, 1) == 1 && c == 'w')
		(*(int *)arg)++;
	loop_stop(l);
	return 0;
}

/* With no timer armed the loop sleeps in one poll: while it idles its thread
 * is asleep, takes no CPU tick and no context switch, and it wakes only
 * because another thread writes to a pipe. */
START_TEST(test_idle_blocks_until_woken)
{
	void *ctx = zmq_ctx_new();
	void *sock = zmq_socket(ctx, ZMQ_PAIR);
	loop_t *l = loop_new();
	struct idle s;
	pthread_t th;
	int p[2], woken = 0;

	memset(&s, 0, sizeof(s));
	make_pipe(p);
	ck_assert_int_eq(zmq_bind(sock, "inproc://loop-idle"), 0);
	ck_assert_int_eq(loop_add_socket(l, sock, ZMQ_POLLIN, on_sock_in, NULL), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], ZMQ_POLLIN, on_wake, &woken), 0);
	s.tid = gettid();
	s.wfd = p[1];
	ck_assert_int_eq(pthread_create(&th, NULL, idle_prober, &s), 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(woken, 1);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_int_eq(s.state[0], 'S');
	ck_assert_int_eq(s.state[1], 'S');
	ck_assert_int_eq(s.ticks[1], s.ticks[0]);
	ck_assert_int_eq(s.switches[1], s.switches[0]);
	loop_destroy(&l);
	close_pipe(p);
	zmq_close(sock);
	zmq_ctx_term(ctx);
}
END_TEST

/* --- signals ----------------------------------------------------------- */

struct sigs {
	int usr1, usr2, hup, chld;
	int child_status;
	pid_t child;
};

static int
on_signal(loop_t *l, int signo, void *arg)
{
	struct sigs *s = arg;

	switch (signo) {
	case SIGUSR1:
		s->usr1++;
		break;
	case SIGUSR2:
		s->usr2++;
		break;
	case SIGHUP:
		s->hup++;
		break;
	default:
		ck_abort_msg("unexpected signal %d", signo);
	}
	if ((s->usr1 > 0 && s->usr2 > 0) || s->hup > 0)
		loop_stop(l);
	return 0;
}

static int
on_usr1_only(loop_t *l, int signo, void *arg)
{
	ck_assert_int_eq(signo, SIGUSR1);
	((struct sigs *)arg)->usr1++;
	loop_stop(l);
	return 0;
}

START_TEST(test_signal_raise)
{
	loop_t *l = loop_new();
	struct sigs s;
	int timed_out = 0;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(loop_add_signal(l, SIGUSR1, on_usr1_only, &s), 0);
	ck_assert_int_eq(loop_add_signal(l, SIGKILL, on_usr1_only, &s), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(loop_add_signal(l, 0, on_usr1_only, &s), -1);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(s.usr1, 1);
	loop_destroy(&l);
}
END_TEST

START_TEST(test_signal_kill_hup_even_if_ignored)
{
	loop_t *l = loop_new();
	struct sigaction sa;
	struct sigs s;
	int timed_out = 0;

	memset(&s, 0, sizeof(s));
	/* As under nohup: registering must make SIGHUP deliverable again. */
	signal(SIGHUP, SIG_IGN);
	ck_assert_int_eq(loop_add_signal(l, SIGHUP, on_signal, &s), 0);
	ck_assert_int_eq(sigaction(SIGHUP, NULL, &sa), 0);
	ck_assert(sa.sa_handler == SIG_DFL);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(s.hup, 1);
	loop_destroy(&l);
}
END_TEST

START_TEST(test_two_pending_signals)
{
	loop_t *l = loop_new();
	struct sigs s;
	int timed_out = 0;

	memset(&s, 0, sizeof(s));
	/* Registered twice: the second handler replaces the first. */
	ck_assert_int_eq(loop_add_signal(l, SIGUSR1, on_usr1_only, &s), 0);
	ck_assert_int_eq(loop_add_signal(l, SIGUSR1, on_signal, &s), 0);
	ck_assert_int_eq(loop_add_signal(l, SIGUSR2, on_signal, &s), 0);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(s.usr1, 1);
	ck_assert_int_eq(s.usr2, 1);
	loop_destroy(&l);
}
END_TEST

static int
on_signal_fail_once(loop_t *l, int signo, void *arg)
{
	struct sigs *s = arg;

	if (signo == SIGUSR1)
		s->usr1++;
	else
		s->usr2++;
	if (s->usr1 + s->usr2 == 1)
		return -1;
	loop_stop(l);
	return 0;
}

/* A signal handler returning -1 stops the loop with -1; a signal still
 * pending then is kept for the next run, not lost. */
START_TEST(test_signal_error_keeps_the_rest)
{
	loop_t *l = loop_new();
	struct sigs s;
	int timed_out = 0;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(loop_add_signal(l, SIGUSR1, on_signal_fail_once, &s), 0);
	ck_assert_int_eq(loop_add_signal(l, SIGUSR2, on_signal_fail_once, &s), 0);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(raise(SIGUSR2), 0);
	ck_assert_int_eq(loop_run(l), -1);
	ck_assert_int_eq(s.usr1 + s.usr2, 1);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_eq(s.usr1, 1);
	ck_assert_int_eq(s.usr2, 1);
	loop_destroy(&l);
}
END_TEST

static int
on_sigchld(loop_t *l, int signo, void *arg)
{
	struct sigs *s = arg;
	pid_t pid;
	int status;

	ck_assert_int_eq(signo, SIGCHLD);
	s->chld++;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->child) {
			s->child_status = status;
			s->child = 0;
			loop_stop(l);
		}
	}
	return 0;
}

START_TEST(test_sigchld_reaps)
{
	loop_t *l = loop_new();
	struct sigs s;
	int timed_out = 0;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(loop_add_signal(l, SIGCHLD, on_sigchld, &s), 0);
	loop_add_timer(l, WATCHDOG_MS, 0, on_watchdog, &timed_out);
	s.child = fork();
	ck_assert_int_ge(s.child, 0);
	if (s.child == 0)
		_exit(7);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(timed_out, 0);
	ck_assert_int_ge(s.chld, 1);
	ck_assert(WIFEXITED(s.child_status));
	ck_assert_int_eq(WEXITSTATUS(s.child_status), 7);
	loop_destroy(&l);
}
END_TEST

static int
on_term(loop_t *l, int signo, void *arg)
{
	GH_UNUSED(l);
	GH_UNUSED(signo);
	GH_UNUSED(arg);
	return 0;
}

static pid_t
fork_raising_term(int reset)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (reset)
			loop_reset_child_signals();
		raise(SIGTERM);
		_exit(3);
	}
	return pid;
}

/* The parent's loop keeps SIGTERM blocked: a child that does not reset its
 * signals survives its own SIGTERM; one that does is killed by it. */
START_TEST(test_reset_child_signals)
{
	loop_t *l = loop_new();
	int status;
	pid_t pid;

	ck_assert_int_eq(loop_add_signal(l, SIGTERM, on_term, NULL), 0);

	pid = fork_raising_term(0);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 3);

	pid = fork_raising_term(1);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGTERM);
	loop_destroy(&l);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("loop");
	TCase *timers = tcase_create("timers");
	TCase *io = tcase_create("io");
	TCase *sig = tcase_create("signals");

	/* Signals first: their forked children then inherit no thread caches
	 * from the socket tests, which valgrind would report as possible leaks. */
	tcase_add_test(sig, test_signal_raise);
	tcase_add_test(sig, test_signal_kill_hup_even_if_ignored);
	tcase_add_test(sig, test_two_pending_signals);
	tcase_add_test(sig, test_signal_error_keeps_the_rest);
	tcase_add_test(sig, test_sigchld_reaps);
	tcase_add_test(sig, test_reset_child_signals);
	suite_add_tcase(s, sig);

	tcase_add_test(timers, test_timer_order);
	tcase_add_test(timers, test_timer_repeat);
	tcase_add_test(timers, test_timer_skips_missed_periods);
	tcase_add_test(timers, test_timer_cancel_in_handler);
	tcase_add_test(timers, test_timer_zero_does_not_starve_io);
	tcase_add_test(timers, test_run_returns_when_nothing_left);
	tcase_add_test(timers, test_stop_and_restart);
	tcase_add_test(timers, test_handler_error_stops);
	suite_add_tcase(s, timers);

	tcase_add_test(io, test_pipe_fd);
	tcase_add_test(io, test_prepare_hook);
	tcase_add_test(io, test_add_remove_in_handlers);
	tcase_add_test(io, test_socket_inproc);
	tcase_add_test(io, test_socket_set_events);
	tcase_add_test(io, test_idle_blocks_until_woken);
	suite_add_tcase(s, io);

	tcase_set_timeout(timers, 30);
	tcase_set_timeout(io, 30);
	tcase_set_timeout(sig, 30);

	return s;
}
