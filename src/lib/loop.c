/*
 * loop.c: one zmq_poll() loop for sockets, fds, timers (min-heap) and
 * signals (signalfd).
 */
#include "config.h"

#include "loop.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util.h"

struct item {
	void *sock;
	int fd;
	short events;
	bool dead;
	loop_io_fn *fn;
	void *arg;
};

struct timer {
	uint64_t deadline;
	uint64_t seq; /* tie-break and "armed during this pass" marker */
	uint64_t id;
	uint64_t interval;
	loop_timer_fn *fn;
	void *arg;
};

struct sig {
	int signo;
	loop_signal_fn *fn;
	void *arg;
};

struct loop {
	struct item *items;
	size_t nitems, items_cap;
	zmq_pollitem_t *poll;
	size_t npoll, poll_cap;
	bool dirty;

	struct timer *heap;
	size_t ntimers, heap_cap;
	uint64_t next_id;
	uint64_t next_seq;

	struct sig *sigs;
	size_t nsigs;
	sigset_t sigmask;
	int sfd;

	loop_prepare_fn *prepare;
	void *prepare_arg;

	uint64_t now;
	bool running;
	bool stop;
};

/* Every signal any loop blocked, for loop_reset_child_signals(). Written only
 * by loop_add_signal, which callers run before creating threads. */
static sigset_t blocked_signals;
static bool blocked_signals_init;

loop_t *
loop_new(void)
{
	loop_t *l = gh_calloc(1, sizeof(*l));

	l->next_id = 1;
	l->next_seq = 1;
	l->sfd = -1;
	sigemptyset(&l->sigmask);
	l->now = gh_now_ms();
	return l;
}

void
loop_destroy(loop_t **self_p)
{
	loop_t *l;

	if (self_p == NULL || *self_p == NULL)
		return;
	l = *self_p;
	assert(!l->running);
	if (l->sfd >= 0)
		close(l->sfd);
	free(l->items);
	free(l->poll);
	free(l->heap);
	free(l->sigs);
	free(l);
	*self_p = NULL;
}

/* --- sockets and fds ---------------------------------------------------- */

static struct item *
find_item(loop_t *l, void *sock, int fd)
{
	size_t i;

	for (i = 0; i < l->nitems; i++) {
		struct item *it = &l->items[i];

		if (it->dead)
			continue;
		if (sock != NULL ? it->sock == sock : (it->sock == NULL && it->fd == fd))
			return it;
	}
	return NULL;
}

static void
compact_items(loop_t *l)
{
	size_t i, j = 0;

	for (i = 0; i < l->nitems; i++)
		if (!l->items[i].dead)
			l->items[j++] = l->items[i];
	l->nitems = j;
}

/* Runs at the top of every pass, so indexes stay stable while dispatching. */
static void
rebuild_poll(loop_t *l)
{
	size_t i;

	compact_items(l);
	if (l->poll_cap < l->nitems) {
		l->poll_cap = l->items_cap;
		l->poll = gh_realloc(l->poll, l->poll_cap * sizeof(*l->poll));
	}
	for (i = 0; i < l->nitems; i++) {
		struct item *it = &l->items[i];

		l->poll[i].socket = it->sock;
		l->poll[i].fd = it->fd;
		l->poll[i].events = it->events;
		l->poll[i].revents = 0;
	}
	l->npoll = l->nitems;
	l->dirty = false;
}

static int
add_item(loop_t *l, void *sock, int fd, short events, loop_io_fn *fn, void *arg)
{
	struct item *it;

	assert(l != NULL && fn != NULL);
	if (find_item(l, sock, fd) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (l->nitems == l->items_cap) {
		l->items_cap = l->items_cap ? l->items_cap * 2 : 8;
		l->items = gh_realloc(l->items, l->items_cap * sizeof(*l->items));
	}
	it = &l->items[l->nitems++];
	it->sock = sock;
	it->fd = fd;
	it->events = events;
	it->dead = false;
	it->fn = fn;
	it->arg = arg;
	l->dirty = true;
	return 0;
}

int
loop_add_socket(loop_t *l, void *sock, short events, loop_io_fn *fn, void *arg)
{
	if (sock == NULL) {
		errno = EINVAL;
		return -1;
	}
	return add_item(l, sock, -1, events, fn, arg);
}

int
loop_add_fd(loop_t *l, int fd, short events, loop_io_fn *fn, void *arg)
{
	if (fd < 0) {
		errno = EINVAL;
		return -1;
	}
	return add_item(l, NULL, fd, events, fn, arg);
}

int
loop_set_events(loop_t *l, void *sock, int fd, short events)
{
	struct item *it = find_item(l, sock, fd);

	if (it == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (it->events != events) {
		it->events = events;
		l->dirty = true;
	}
	return 0;
}

static void
remove_item(loop_t *l, void *sock, int fd)
{
	struct item *it = find_item(l, sock, fd);

	if (it == NULL)
		return;
	it->dead = true;
	l->dirty = true;
	if (!l->running)
		compact_items(l);
}

void
loop_remove_socket(loop_t *l, void *sock)
{
	if (sock != NULL)
		remove_item(l, sock, -1);
}

void
loop_remove_fd(loop_t *l, int fd)
{
	if (fd >= 0)
		remove_item(l, NULL, fd);
}

/* --- timers: a binary min-heap ordered by (deadline, seq) --------------- */

static bool
timer_before(const struct timer *a, const struct timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void
heap_sift_up(loop_t *l, size_t i)
{
	struct timer t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(&t, &l->heap[parent]))
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = t;
}

static void
heap_sift_down(loop_t *l, size_t i)
{
	struct timer t = l->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= l->ntimers)
			break;
		if (child + 1 < l->ntimers && timer_before(&l->heap[child + 1], &l->heap[child]))
			child++;
		if (!timer_before(&l->heap[child], &t))
			break;
		l->heap[i] = l->heap[child];
		i = child;
	}
	l->heap[i] = t;
}

static void
heap_push(loop_t *l, const struct timer *t)
{
	if (l->ntimers == l->heap_cap) {
		l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 8;
		l->heap = gh_realloc(l->heap, l->heap_cap * sizeof(*l->heap));
	}
	l->heap[l->ntimers++] = *t;
	heap_sift_up(l, l->ntimers - 1);
}

static void
heap_remove_at(loop_t *l, size_t i)
{
	assert(i < l->ntimers);
	l->ntimers--;
	if (i == l->ntimers)
		return;
	l->heap[i] = l->heap[l->ntimers];
	heap_sift_down(l, i);
	heap_sift_up(l, i);
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t
loop_add_timer(loop_t *l, uint64_t delay_ms, uint64_t interval_ms, loop_timer_fn *fn, void *arg)
{
	struct timer t;

	assert(l != NULL && fn != NULL);
	/* The fresh clock, not the cached one: a timer armed after a slow
	 * start-up or a long handler must not fire early. */
	t.deadline = add_sat(gh_now_ms(), delay_ms);
	t.seq = l->next_seq++;
	t.id = l->next_id++;
	t.interval = interval_ms;
	t.fn = fn;
	t.arg = arg;
	heap_push(l, &t);
	return t.id;
}

void
loop_cancel_timer(loop_t *l, uint64_t id)
{
	size_t i;

	for (i = 0; i < l->ntimers; i++) {
		if (l->heap[i].id == id) {
			heap_remove_at(l, i);
			return;
		}
	}
}

/* The next point of deadline's grid strictly after now. */
static uint64_t
next_deadline(uint64_t deadline, uint64_t interval, uint64_t now)
{
	uint64_t next = add_sat(deadline, interval);

	if (next <= now)
		next = add_sat(next, ((now - next) / interval + 1) * interval);
	return next;
}

static int
fire_timers(loop_t *l)
{
	uint64_t pass_seq = l->next_seq;

	while (l->ntimers > 0 && !l->stop) {
		struct timer t = l->heap[0];

		if (t.deadline > l->now || t.seq >= pass_seq)
			break;
		heap_remove_at(l, 0);
		if (t.interval > 0) {
			struct timer again = t;

			again.deadline = next_deadline(t.deadline, t.interval, l->now);
			again.seq = l->next_seq++;
			heap_push(l, &again);
		}
		if (t.fn(l, t.id, t.arg) < 0)
			return -1;
	}
	return 0;
}

static int
poll_timeout(loop_t *l)
{
	uint64_t now, deadline;

	if (l->ntimers == 0)
		return -1;
	now = gh_now_ms();
	deadline = l->heap[0].deadline;
	if (deadline <= now)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* --- signals ----------------------------------------------------------- */

static int
on_signalfd(loop_t *l, void *sock, int fd, short revents, void *arg)
{
	struct signalfd_siginfo si;
	size_t i;

	GH_UNUSED(sock);
	GH_UNUSED(revents);
	GH_UNUSED(arg);
	/* One siginfo per read, so that a handler that stops the loop leaves
	 * the signals behind it queued for the next loop_run. */
	while (!l->stop) {
		ssize_t n = read(fd, &si, sizeof(si));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		for (i = 0; i < l->nsigs; i++) {
			if (l->sigs[i].signo == (int)si.ssi_signo) {
				if (l->sigs[i].fn(l, (int)si.ssi_signo, l->sigs[i].arg) < 0)
					return -1;
				break;
			}
		}
	}
	return 0;
}

int
loop_add_signal(loop_t *l, int signo, loop_signal_fn *fn, void *arg)
{
	struct sigaction sa;
	sigset_t one, mask, old;
	size_t i;
	int fd;

	assert(l != NULL && fn != NULL);
	if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < l->nsigs; i++) {
		if (l->sigs[i].signo == signo) {
			l->sigs[i].fn = fn;
			l->sigs[i].arg = arg;
			return 0;
		}
	}
	mask = l->sigmask;
	sigaddset(&mask, signo);
	sigemptyset(&one);
	sigaddset(&one, signo);
	/* Block before signalfd() so that no instance slips past both. */
	if ((errno = pthread_sigmask(SIG_BLOCK, &one, &old)) != 0)
		return -1;
	fd = signalfd(l->sfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (sigismember(&old, signo) == 0)
			pthread_sigmask(SIG_UNBLOCK, &one, NULL);
		errno = e;
		return -1;
	}
	if (l->sfd < 0) {
		l->sfd = fd;
		add_item(l, NULL, fd, ZMQ_POLLIN, on_signalfd, NULL);
	}
	l->sigmask = mask;
	if (!blocked_signals_init) {
		sigemptyset(&blocked_signals);
		blocked_signals_init = true;
	}
	sigaddset(&blocked_signals, signo);
	if (sigaction(signo, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
		sa.sa_handler = SIG_DFL;
		sigaction(signo, &sa, NULL);
	}
	l->sigs = gh_realloc(l->sigs, (l->nsigs + 1) * sizeof(*l->sigs));
	l->sigs[l->nsigs].signo = signo;
	l->sigs[l->nsigs].fn = fn;
	l->sigs[l->nsigs].arg = arg;
	l->nsigs++;
	return 0;
}

void
loop_reset_child_signals(void)
{
	struct sigaction sa;
	int signo;

	if (!blocked_signals_init)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* Dispositions first, so that nothing unblocked meets a stale one. */
	for (signo = 1; signo < NSIG; signo++)
		if (sigismember(&blocked_signals, signo) == 1)
			sigaction(signo, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &blocked_signals, NULL);
}

/* --- the loop ---------------------------------------------------------- */

static int
dispatch_io(loop_t *l)
{
	size_t i;

	/* Items appended by handlers sit past npoll and wait for the next
	 * pass; removed ones are marked dead and skipped. */
	for (i = 0; i < l->npoll && !l->stop; i++) {
		short revents = l->poll[i].revents;
		struct item it;

		if (revents == 0 || l->items[i].dead)
			continue;
		it = l->items[i];
		if (it.fn(l, it.sock, it.fd, revents, it.arg) < 0)
			return -1;
	}
	return 0;
}

int
loop_run(loop_t *l)
{
	int rc = 0;

	assert(!l->running);
	l->running = true;
	l->stop = false;
	while (!l->stop) {
		int timeout, n;

		if (l->prepare != NULL) {
			l->prepare(l, l->prepare_arg);
			if (l->stop)
				break;
		}
		if (l->dirty)
			rebuild_poll(l);
		if (l->npoll == 0 && l->ntimers == 0)
			break;
		timeout = poll_timeout(l);
		if (l->npoll > 0)
			n = zmq_poll(l->poll, (int)l->npoll, timeout);
		else
			n = poll(NULL, 0, timeout);
		l->now = gh_now_ms();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		if (n > 0 && dispatch_io(l) < 0) {
			rc = -1;
			break;
		}
		if (fire_timers(l) < 0) {
			rc = -1;
			break;
		}
	}
	l->running = false;
	if (l->dirty)
		compact_items(l);
	return rc;
}

void
loop_set_prepare(loop_t *l, loop_prepare_fn *fn, void *arg)
{
	l->prepare = fn;
	l->prepare_arg = arg;
}

void
loop_stop(loop_t *l)
{
	l->stop = true;
}

uint64_t
loop_now(loop_t *l)
{
	return l->now;
}
