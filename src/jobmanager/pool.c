/*
 * pool.c: prefork worker processes. See pool.h.
 *
 * Parent <-> worker over a SOCK_STREAM socketpair, length-prefixed:
 *   job:    u32 length, body bytes
 *   result: u32 length (of what follows), u8 status | 0x80 if the worker
 *           retires after this job, text bytes
 * The parent reads results without blocking into a per-worker buffer; the
 * worker side blocks (it has nothing else to do).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#define RETIRE_FLAG 0x80

typedef enum {
	W_IDLE,
	W_BUSY,
	W_LEAVING /* retiring or killed: waiting to be reaped, already replaced */
} wstate_t;

typedef struct worker {
	struct worker *next;
	pid_t pid;
	int fd; /* -1 once closed */
	wstate_t state;
	char ref[POOL_MAX_REF + 1];
	uint64_t timer;
	char *buf; /* result being read */
	size_t len, cap;
} worker_t;

struct pool {
	loop_t *loop;
	pool_config_t cfg;
	handler_t *handler;
	worker_t *workers;
	size_t nidle, nbusy, nlive; /* nlive: idle + busy */
	int stopping;
	uint64_t retry_timer;
};

/* Worker process side. */

static int
read_full(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r == 0)
			return -1;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void __attribute__((noreturn)) worker_main(handler_t *h, int fd, long max_jobs)
{
	long done = 0;

	for (;;) {
		uint32_t len;
		char *body, *text = NULL, hdr[5];
		size_t textlen = 0;
		handler_status_t st;
		int retire;

		if (read_full(fd, &len, sizeof(len)) == -1 || len > HANDLER_MAX_TEXT)
			break;
		body = gh_malloc(len + 1);
		if (read_full(fd, body, len) == -1) {
			free(body);
			break;
		}
		st = handler_run(h, body, len, &text, &textlen);
		free(body);
		done++;
		retire = max_jobs > 0 && done >= max_jobs;
		len = (uint32_t)(textlen + 1);
		memcpy(hdr, &len, 4);
		hdr[4] = (char)(st | (retire ? RETIRE_FLAG : 0));
		if (write_full(fd, hdr, 5) == -1 || write_full(fd, text, textlen) == -1) {
			free(text);
			break;
		}
		free(text);
		if (retire)
			break;
	}
	handler_destroy(&h);
	close(fd);
	_exit(0);
}

/* Parent side. */

static int on_worker_io(loop_t *loop, void *sock, int fd, short revents, void *arg);
static void replace(pool_t *p);

static void
close_fd(pool_t *p, worker_t *w)
{
	if (w->fd != -1) {
		loop_remove_fd(p->loop, w->fd);
		close(w->fd);
		w->fd = -1;
	}
}

static void
set_state(pool_t *p, worker_t *w, wstate_t st)
{
	if (w->state == W_IDLE)
		p->nidle--;
	else if (w->state == W_BUSY)
		p->nbusy--;
	w->state = st;
	if (st == W_IDLE)
		p->nidle++;
	else if (st == W_BUSY)
		p->nbusy++;
	p->nlive = p->nidle + p->nbusy;
}

static int
spawn(pool_t *p)
{
	int sv[2];
	pid_t pid;
	worker_t *w;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("pool: socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		log_error("pool: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		loop_reset_child_signals();
		/* Keep only 0-2 and our end as 3: no sibling's socket, and no
		 * copy of the parent's ZeroMQ fds that would keep its TCP
		 * connections open after the parent closes them. */
		close(sv[0]);
		if (sv[1] != 3) {
			dup2(sv[1], 3);
			close(sv[1]);
		}
		closefrom(4);
		worker_main(p->handler, 3, p->cfg.max_jobs);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	w = gh_calloc(1, sizeof(*w));
	w->pid = pid;
	w->fd = sv[0];
	w->state = W_LEAVING;
	set_state(p, w, W_IDLE);
	w->next = p->workers;
	p->workers = w;
	loop_add_fd(p->loop, w->fd, ZMQ_POLLIN, on_worker_io, p);
	log_debug("pool: worker %ld started", (long)pid);
	return 0;
}

static int
on_retry(loop_t *loop, uint64_t id, void *arg)
{
	pool_t *p = arg;

	GH_UNUSED(loop);
	GH_UNUSED(id);
	p->retry_timer = 0;
	replace(p);
	return 0;
}

/* Brings the pool back to its size; calls the idle callback once if a
 * worker was added. */
static void
replace(pool_t *p)
{
	int added = 0;

	while (!p->stopping && p->nlive < p->cfg.workers) {
		if (spawn(p) == -1) {
			if (p->retry_timer == 0)
				p->retry_timer = loop_add_timer(p->loop, 1000, 0, on_retry, p);
			break;
		}
		added = 1;
	}
	if (added && p->cfg.idle != NULL)
		p->cfg.idle(p, p->cfg.arg);
}

static worker_t *
find_fd(pool_t *p, int fd)
{
	worker_t *w;

	for (w = p->workers; w != NULL; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

/* Ends w's job: the worker leaves (it is killed or dead, or retires) or
 * becomes idle, then the job is reported, then the pool refilled. */
static void
finish(pool_t *p, worker_t *w, pool_status_t st, const char *text, size_t len, int leaving)
{
	char ref[POOL_MAX_REF + 1];

	if (w->timer != 0) {
		loop_cancel_timer(p->loop, w->timer);
		w->timer = 0;
	}
	memcpy(ref, w->ref, sizeof(ref));
	w->ref[0] = '\0';
	set_state(p, w, leaving ? W_LEAVING : W_IDLE);
	p->cfg.done(p, ref, st, text, len, p->cfg.arg);
	if (leaving)
		replace(p);
	if (p->cfg.idle != NULL && (!leaving || p->stopping))
		p->cfg.idle(p, p->cfg.arg);
}

static int
on_timeout(loop_t *loop, uint64_t id, void *arg)
{
	pool_t *p = arg;
	worker_t *w;
	char text[128];

	GH_UNUSED(loop);
	for (w = p->workers; w != NULL; w = w->next)
		if (w->timer == id)
			break;
	if (w == NULL || w->state != W_BUSY)
		return 0;
	w->timer = 0;
	log_notice("pool: job %s timed out, killing worker %ld", w->ref, (long)w->pid);
	kill(w->pid, SIGKILL);
	close_fd(p, w);
	snprintf(text, sizeof(text), "job killed after its timeout");
	finish(p, w, POOL_TIMEOUT, text, strlen(text), 1);
	return 0;
}

/* Reads what w sent; a whole result ends its job. */
static void
worker_read(pool_t *p, worker_t *w)
{
	int fd = w->fd;
	ssize_t n;
	uint32_t need;

	for (;;) {
		if (w->cap - w->len < 65536) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			w->buf = gh_realloc(w->buf, w->cap);
		}
		n = read(fd, w->buf + w->len, w->cap - w->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF or error: the worker is gone or going; SIGCHLD tells how. */
			close_fd(p, w);
			return;
		}
		w->len += (size_t)n;
		if (w->len >= 4) {
			memcpy(&need, w->buf, 4);
			if (need == 0 || need > HANDLER_MAX_TEXT + 1) {
				log_error("pool: worker %ld sent a bad frame, killing it",
				          (long)w->pid);
				kill(w->pid, SIGKILL);
				close_fd(p, w);
				return;
			}
			if (w->len >= 4 + (size_t)need)
				break;
		}
	}
	if (w->len < 4)
		return;
	memcpy(&need, w->buf, 4);
	if (w->len < 4 + (size_t)need)
		return;
	if (w->len > 4 + (size_t)need || w->state != W_BUSY) {
		log_error("pool: worker %ld sent an unexpected result, killing it", (long)w->pid);
		kill(w->pid, SIGKILL);
		close_fd(p, w);
		return;
	}
	{
		unsigned char code = (unsigned char)w->buf[4];
		int retire = (code & RETIRE_FLAG) != 0;
		pool_status_t st;
		char *text = w->buf;

		switch (code & ~RETIRE_FLAG) {
		case HANDLER_OK:
			st = POOL_OK;
			break;
		case HANDLER_BAD_JOB:
			st = POOL_BAD_JOB;
			break;
		default:
			st = POOL_JOB_FAILED;
			break;
		}
		/* Take the buffer: callbacks may reenter the pool. */
		w->buf = NULL;
		w->len = w->cap = 0;
		memmove(text, text + 5, need - 1);
		text[need - 1] = '\0';
		if (retire) {
			log_debug("pool: worker %ld retires", (long)w->pid);
			close_fd(p, w);
		}
		finish(p, w, st, text, need - 1, retire);
		free(text);
	}
}

static int
on_worker_io(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	pool_t *p = arg;
	worker_t *w = find_fd(p, fd);

	GH_UNUSED(loop);
	GH_UNUSED(sock);
	GH_UNUSED(revents);
	if (w == NULL)
		loop_remove_fd(p->loop, fd);
	else
		worker_read(p, w);
	return 0;
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "worker process killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "worker process exited with status %d", WEXITSTATUS(status));
}

static int
on_sigchld(loop_t *loop, int signo, void *arg)
{
	pool_t *p = arg;
	pid_t pid;
	int status;

	GH_UNUSED(loop);
	GH_UNUSED(signo);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		worker_t **wp, *w;
		char text[160];

		for (wp = &p->workers; *wp != NULL && (*wp)->pid != pid; wp = &(*wp)->next)
			;
		if ((w = *wp) == NULL)
			continue;
		*wp = w->next;
		/* Its last result may still wait in the socket (SIGCHLD can come first). */
		if (w->state == W_BUSY && w->fd != -1)
			worker_read(p, w);
		close_fd(p, w);
		describe_status(status, text, sizeof(text));
		if (w->state == W_BUSY) {
			log_warn("pool: job %s: %s", w->ref, text);
			finish(p, w, POOL_CRASHED, text, strlen(text), 1);
		} else if (w->state == W_IDLE) {
			log_warn("pool: idle %s", text);
			set_state(p, w, W_LEAVING);
			replace(p);
		} else {
			log_debug("pool: worker %ld reaped", (long)pid);
		}
		free(w->buf);
		free(w);
	}
	return 0;
}

pool_t *
pool_new(loop_t *loop, const pool_config_t *cfg, char *err, size_t errlen)
{
	pool_t *p;

	assert(cfg->done != NULL && cfg->workers > 0);
	p = gh_calloc(1, sizeof(*p));
	p->loop = loop;
	p->cfg = *cfg;
	p->cfg.dirs = NULL;
	p->cfg.programs = NULL;
	p->handler = handler_new(cfg->dirs, cfg->ndirs, cfg->programs, cfg->nprograms, err, errlen);
	if (p->handler == NULL) {
		free(p);
		return NULL;
	}
	if (loop_add_signal(loop, SIGCHLD, on_sigchld, p) == -1) {
		gh_err(err, errlen, "cannot watch SIGCHLD: %s", strerror(errno));
		pool_destroy(&p);
		return NULL;
	}
	while (p->nlive < p->cfg.workers)
		if (spawn(p) == -1) {
			gh_err(err, errlen, "cannot start worker processes: %s", strerror(errno));
			pool_destroy(&p);
			return NULL;
		}
	return p;
}

void
pool_destroy(pool_t **self_p)
{
	pool_t *p;
	worker_t *w;

	if (self_p == NULL || (p = *self_p) == NULL)
		return;
	for (w = p->workers; w != NULL; w = w->next) {
		close_fd(p, w);
		kill(w->pid, SIGKILL);
		if (w->timer != 0)
			loop_cancel_timer(p->loop, w->timer);
	}
	while ((w = p->workers) != NULL) {
		p->workers = w->next;
		while (waitpid(w->pid, NULL, 0) == -1 && errno == EINTR)
			;
		free(w->buf);
		free(w);
	}
	if (p->retry_timer != 0)
		loop_cancel_timer(p->loop, p->retry_timer);
	handler_destroy(&p->handler);
	free(p);
	*self_p = NULL;
}

int
pool_submit(pool_t *p, const char *ref, const char *body, size_t len, uint64_t timeout_ms)
{
	worker_t *w;
	uint32_t n = (uint32_t)len;

	if (len > HANDLER_MAX_TEXT)
		return -1;
	for (w = p->workers; w != NULL; w = w->next)
		if (w->state == W_IDLE && w->fd != -1)
			break;
	if (w == NULL)
		return -1;
	gh_strlcpy(w->ref, ref, sizeof(w->ref));
	set_state(p, w, W_BUSY);
	/* The worker is idle and reading, so these writes complete promptly. */
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) & ~O_NONBLOCK);
	if (write_full(w->fd, &n, sizeof(n)) == -1 || write_full(w->fd, body, len) == -1)
		log_warn("pool: cannot hand job %s to worker %ld: %s", w->ref, (long)w->pid,
		         strerror(errno)); /* SIGCHLD reports it */
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	if (timeout_ms > 0)
		w->timer = loop_add_timer(p->loop, timeout_ms, 0, on_timeout, p);
	return 0;
}

size_t
pool_idle(const pool_t *p)
{
	return p->nidle;
}

size_t
pool_busy(const pool_t *p)
{
	return p->nbusy;
}

void
pool_stop(pool_t *p)
{
	p->stopping = 1;
}

void
pool_kill_busy(pool_t *p, const char *text)
{
	worker_t *w;
	int again = 1;

	while (again) {
		again = 0;
		for (w = p->workers; w != NULL; w = w->next)
			if (w->state == W_BUSY) {
				kill(w->pid, SIGKILL);
				close_fd(p, w);
				finish(p, w, POOL_CRASHED, text, strlen(text), 1);
				again = 1; /* callbacks may have changed the list */
				break;
			}
	}
}
