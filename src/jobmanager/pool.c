/*
 * pool.c: prefork worker processes. See pool.h.
 *
 * Parent <-> worker over a SOCK_STREAM socketpair, length-prefixed:
 *   job:    u32 length (of the body), u64 deadline (CLOCK_MONOTONIC ms, 0:
 *           none), u32 generation, body bytes
 *   result: u32 length (of what follows), u8 status | 0x80 if the worker
 *           retires after this job, text bytes
 * Results come back in the order of the jobs. The parent writes and reads
 * without blocking, through a buffer per worker; the worker side blocks (it
 * has nothing else to do), reads as much as has arrived, and writes each
 * result as soon as its job ends.
 *
 * A page shared with every worker holds a stop flag and a generation. When
 * the pool stops, the flag tells the workers to start nothing more: a worker
 * answers each job it has not started with the status NOT_RUN, and the parent
 * hands those jobs back. A job whose generation is older than the page's was
 * forgotten (pool_forget_queued): the worker answers NOT_RUN too, and the
 * parent drops it. A worker does not start a job whose deadline has passed
 * either: it answers EXPIRED.
 *
 * Jobs that no worker has room for wait in the parent, in one line; a job
 * leaves the line for a worker whenever one has room (dispatch), and the
 * jobs queued behind a worker that leaves return to the head of the line.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "pool.h"
#include "util.h"

#define RETIRE_FLAG 0x80
#define ST_NOT_RUN  0x40 /* the worker did not start the job: the pool stops */
#define ST_EXPIRED  0x41 /* the worker did not start the job: past its deadline */
#define JOB_HDR     16   /* u32 length, u64 deadline, u32 generation */
#define READ_CHUNK  65536

typedef struct pjob {
	struct pjob *next;
	char ref[POOL_MAX_REF + 1];
	uint64_t deadline; /* loop ms, 0: none */
	uint32_t gen;      /* pool generation when it was handed out */
	char *body;        /* kept until the job ends, to hand it back */
	size_t len;
} pjob_t;

typedef struct {
	char *data;
	size_t len, off, cap;
} buf_t;

typedef struct {
	int stop;     /* start nothing more */
	uint32_t gen; /* jobs of an older generation are not to be started */
} shared_t;

typedef struct worker {
	struct worker *next;
	pid_t pid;
	int fd;               /* -1 once closed */
	int leaving;          /* retiring, killed or dead: already replaced */
	int pollout;          /* ZMQ_POLLOUT is in the fd's interest */
	pjob_t *head, **tail; /* the running job first, then those queued behind it */
	size_t njobs;
	long given; /* jobs handed to it and not skipped, for max_jobs */
	uint64_t timer;
	buf_t in, out;
} worker_t;

struct pool {
	loop_t *loop;
	pool_config_t cfg;
	handler_t *handler;
	worker_t *workers;
	size_t nlive, njobs;             /* njobs: jobs the workers hold */
	pjob_t *waiting, **waiting_tail; /* jobs no worker holds yet, first in line first */
	size_t nwaiting;
	size_t nout; /* workers with output waiting */
	int stopping;
	shared_t *shared; /* a page shared with the workers */
	uint64_t retry_timer;
};

static void
buf_reserve(buf_t *b, size_t more)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len >= more)
		return;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= more)
			return;
	}
	while (b->cap - b->len < more)
		b->cap = b->cap ? b->cap * 2 : READ_CHUNK;
	b->data = gh_realloc(b->data, b->cap);
}

static void
buf_free(buf_t *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- worker process side ---- */

static int
writev_full(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, n);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Writes one result frame: code (a handler status, maybe with RETIRE_FLAG,
 * or ST_*) and textlen bytes of text. */
static int
send_result(int fd, unsigned char code, const char *text, size_t textlen)
{
	uint32_t len = (uint32_t)(textlen + 1);
	char hdr[5];
	struct iovec iov[2] = {{hdr, 5}, {(char *)text, textlen}};

	memcpy(hdr, &len, 4);
	hdr[4] = (char)code;
	return writev_full(fd, iov, textlen > 0 ? 2 : 1);
}

static void __attribute__((noreturn))
worker_main(handler_t *h, int fd, long max_jobs, shared_t *shared)
{
	buf_t in = {NULL, 0, 0, 0};
	long done = 0;

	for (;;) {
		uint32_t len = 0, gen;
		uint64_t deadline;
		char *text = NULL;
		size_t textlen = 0, avail = in.len - in.off;
		unsigned char skip = 0;
		handler_status_t st;
		int retire, rc;

		if (avail >= JOB_HDR) {
			memcpy(&len, in.data + in.off, 4);
			if (len > HANDLER_MAX_TEXT)
				break;
		}
		if (avail < JOB_HDR || avail - JOB_HDR < len) {
			/* Read whatever has arrived, at least the rest of this job. */
			ssize_t r;

			buf_reserve(&in,
			            avail < JOB_HDR ? READ_CHUNK : JOB_HDR + (size_t)len - avail);
			r = read(fd, in.data + in.len, in.cap - in.len);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			in.len += (size_t)r;
			continue;
		}
		memcpy(&deadline, in.data + in.off + 4, 8);
		memcpy(&gen, in.data + in.off + 12, 4);
		/* Not started: it waited too long, the pool stops, or the job
		 * was forgotten. */
		if (deadline != 0 && gh_now_ms() >= deadline)
			skip = ST_EXPIRED;
		else if (__atomic_load_n(&shared->stop, __ATOMIC_ACQUIRE) ||
		         gen != __atomic_load_n(&shared->gen, __ATOMIC_ACQUIRE))
			skip = ST_NOT_RUN;
		if (skip) {
			in.off += JOB_HDR + (size_t)len;
			if (send_result(fd, skip, NULL, 0) == -1)
				break;
			continue;
		}
		st = handler_run(h, in.data + in.off + JOB_HDR, len, &text, &textlen);
		in.off += JOB_HDR + (size_t)len;
		done++;
		retire = max_jobs > 0 && done >= max_jobs;
		rc = send_result(fd, (unsigned char)(st | (retire ? RETIRE_FLAG : 0)), text,
		                 textlen);
		free(text);
		if (rc == -1 || retire)
			break;
	}
	buf_free(&in);
	handler_destroy(&h);
	close(fd);
	_exit(0);
}

/* ---- parent side ---- */

static int on_worker_io(loop_t *loop, void *sock, int fd, short revents, void *arg);
static void replace(pool_t *p);

static int
accepting(const pool_t *p, const worker_t *w)
{
	return !w->leaving && w->fd != -1 && (p->cfg.max_jobs == 0 || w->given < p->cfg.max_jobs);
}

static void
close_fd(pool_t *p, worker_t *w)
{
	if (w->fd != -1) {
		loop_remove_fd(p->loop, w->fd);
		close(w->fd);
		w->fd = -1;
	}
	if (w->out.len > w->out.off)
		p->nout--;
	buf_free(&w->out);
}

/* Takes w out of the live count (it is retiring, killed or dead). */
static void
set_leaving(pool_t *p, worker_t *w)
{
	if (w->leaving)
		return;
	w->leaving = 1;
	p->nlive--;
}

static int
spawn(pool_t *p)
{
	int sv[2];
	pid_t pid, parent = getpid();
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
		/* A worker dies with its parent: unsupervised, nothing would end
		 * its job at the deadline. The check covers a parent that died
		 * before the prctl. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
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
		worker_main(p->handler, 3, p->cfg.max_jobs, p->shared);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	w = gh_calloc(1, sizeof(*w));
	w->pid = pid;
	w->fd = sv[0];
	w->tail = &w->head;
	w->next = p->workers;
	p->workers = w;
	p->nlive++;
	loop_add_fd(p->loop, w->fd, ZMQ_POLLIN, on_worker_io, p);
	log_debug("pool: worker %ld started", (long)pid);
	return 0;
}

static void settle(pool_t *p);

static int
on_retry(loop_t *loop, uint64_t id, void *arg)
{
	pool_t *p = arg;

	GH_UNUSED(loop);
	GH_UNUSED(id);
	p->retry_timer = 0;
	replace(p);
	settle(p);
	return 0;
}

/* Brings the pool back to its size; tries again in a second when fork
 * fails. The caller settles. */
static void
replace(pool_t *p)
{
	while (!p->stopping && p->nlive < p->cfg.workers)
		if (spawn(p) == -1) {
			if (p->retry_timer == 0)
				p->retry_timer = loop_add_timer(p->loop, 1000, 0, on_retry, p);
			break;
		}
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

static int on_timeout(loop_t *loop, uint64_t id, void *arg);

/* Arms the timer for w's running job (the head), which has now started. */
static void
head_started(pool_t *p, worker_t *w)
{
	pjob_t *j = w->head;
	uint64_t now = loop_now(p->loop);

	if (w->timer != 0) {
		loop_cancel_timer(p->loop, w->timer);
		w->timer = 0;
	}
	if (j == NULL)
		return;
	if (j->deadline != 0)
		w->timer = loop_add_timer(p->loop, j->deadline > now ? j->deadline - now : 0, 0,
		                          on_timeout, p);
}

/* Unlinks w's head job and returns it (the caller frees it). */
static pjob_t *
pop_head(pool_t *p, worker_t *w)
{
	pjob_t *j = w->head;

	w->head = j->next;
	if (w->head == NULL)
		w->tail = &w->head;
	w->njobs--;
	p->njobs--;
	return j;
}

static pjob_t *
job_new(const char *ref, const char *body, size_t len, uint64_t deadline)
{
	pjob_t *j = gh_calloc(1, sizeof(*j));

	gh_strlcpy(j->ref, ref, sizeof(j->ref));
	j->deadline = deadline;
	j->body = gh_malloc(len + 1);
	memcpy(j->body, body, len);
	j->body[len] = '\0';
	j->len = len;
	return j;
}

static void
job_free(pjob_t *j)
{
	free(j->body);
	free(j);
}

/* The worker with room for one more job: an idle one if there is one, else
 * the live one with the fewest jobs below depth; NULL if none. */
static worker_t *
pick_worker(pool_t *p)
{
	worker_t *w, *best = NULL;

	for (w = p->workers; w != NULL; w = w->next) {
		if (!accepting(p, w) || w->njobs >= p->cfg.depth)
			continue;
		if (best == NULL || w->njobs < best->njobs)
			best = w;
		if (best->njobs == 0)
			break;
	}
	return best;
}

/* Queues j on w, behind the jobs w holds, and its frame for w's socket. */
static void
give_to(pool_t *p, worker_t *w, pjob_t *j)
{
	uint32_t n = (uint32_t)j->len;
	char *hdr;

	j->gen = p->shared->gen;
	j->next = NULL;
	*w->tail = j;
	w->tail = &j->next;
	if (w->njobs++ == 0)
		head_started(p, w);
	p->njobs++;
	w->given++;
	if (w->out.len == w->out.off)
		p->nout++;
	buf_reserve(&w->out, JOB_HDR + j->len);
	hdr = w->out.data + w->out.len;
	memcpy(hdr, &n, 4);
	memcpy(hdr + 4, &j->deadline, 8);
	memcpy(hdr + 12, &j->gen, 4);
	memcpy(hdr + JOB_HDR, j->body, j->len);
	w->out.len += JOB_HDR + j->len;
}

static void
waiting_push(pool_t *p, pjob_t *j)
{
	j->gen = p->shared->gen;
	j->next = NULL;
	*p->waiting_tail = j;
	p->waiting_tail = &j->next;
	p->nwaiting++;
}

static pjob_t *
waiting_pop(pool_t *p)
{
	pjob_t *j = p->waiting;

	p->waiting = j->next;
	if (p->waiting == NULL)
		p->waiting_tail = &p->waiting;
	p->nwaiting--;
	return j;
}

/* Hands waiting jobs to workers with room, first in line first. A job whose
 * deadline passed while it waited ends without running. */
static void
dispatch(pool_t *p)
{
	static const char why[] = "not run: the job waited its whole timeout for a worker";
	worker_t *w;
	pjob_t *j;

	while (p->waiting != NULL) {
		if (p->waiting->deadline != 0 && loop_now(p->loop) >= p->waiting->deadline) {
			j = waiting_pop(p);
			p->cfg.done(p, j->ref, POOL_TIMEOUT, why, sizeof(why) - 1, p->cfg.arg);
			job_free(j);
			continue;
		}
		if ((w = pick_worker(p)) == NULL)
			break;
		give_to(p, w, waiting_pop(p));
	}
}

/* After a job ended or left a worker, or a worker started: the waiting jobs
 * go to the room there is, then the caller hears of it. */
static void
settle(pool_t *p)
{
	dispatch(p);
	if (p->cfg.freed != NULL)
		p->cfg.freed(p, p->cfg.arg);
}

/* A job that did not start leaves its worker: it is dropped if it was
 * forgotten, goes back to the caller once the pool stops, and else waits
 * again at *at, a link of the waiting line. Returns the link for the next
 * job, so that jobs given back one after the other keep their order. */
static pjob_t **
give_back(pool_t *p, pjob_t *j, pjob_t **at)
{
	if (j->gen == p->shared->gen && !p->stopping) {
		j->next = *at;
		*at = j;
		if (p->waiting_tail == at)
			p->waiting_tail = &j->next;
		p->nwaiting++;
		return &j->next;
	}
	if (j->gen != p->shared->gen)
		log_info("pool: job %s forgotten, not run", j->ref);
	else
		p->cfg.returns(p, j->ref, j->body, j->len, j->deadline, p->cfg.arg);
	job_free(j);
	return at;
}

/* Takes the jobs queued behind w's running job (none of them started) off
 * w: they go back to the head of the waiting line, in their order. */
static void
requeue_behind(pool_t *p, worker_t *w)
{
	pjob_t *j, *rest, **at = &p->waiting;

	if (w->head == NULL || (rest = w->head->next) == NULL)
		return;
	w->head->next = NULL;
	w->tail = &w->head->next;
	while ((j = rest) != NULL) {
		rest = j->next;
		w->njobs--;
		p->njobs--;
		at = give_back(p, j, at);
	}
}

/* Ends w's running job with st/text; when w is leaving (killed, dead or
 * retiring) the jobs behind it go back first and a replacement starts. */
static void
finish(pool_t *p, worker_t *w, pool_status_t st, const char *text, size_t len, int leaving)
{
	pjob_t *j;

	if (leaving) {
		requeue_behind(p, w);
		set_leaving(p, w);
	}
	j = pop_head(p, w);
	if (!leaving)
		head_started(p, w);
	else if (w->timer != 0) {
		loop_cancel_timer(p->loop, w->timer);
		w->timer = 0;
	}
	p->cfg.done(p, j->ref, st, text, len, p->cfg.arg);
	job_free(j);
	if (leaving)
		replace(p);
	settle(p);
}

static void
kill_worker(pool_t *p, worker_t *w, pool_status_t st, const char *text)
{
	kill(w->pid, SIGKILL);
	close_fd(p, w);
	if (w->head != NULL) {
		finish(p, w, st, text, strlen(text), 1);
	} else {
		set_leaving(p, w);
		replace(p);
		settle(p);
	}
}

static int
on_timeout(loop_t *loop, uint64_t id, void *arg)
{
	pool_t *p = arg;
	worker_t *w;

	GH_UNUSED(loop);
	for (w = p->workers; w != NULL; w = w->next)
		if (w->timer == id)
			break;
	if (w == NULL || w->head == NULL)
		return 0;
	w->timer = 0;
	log_notice("pool: job %s timed out, killing worker %ld", w->head->ref, (long)w->pid);
	kill_worker(p, w, POOL_TIMEOUT, "job killed after its timeout");
	return 0;
}

/* Writes what is queued for w; on EAGAIN waits for ZMQ_POLLOUT. */
static void
worker_flush(pool_t *p, worker_t *w)
{
	while (w->out.off < w->out.len) {
		ssize_t r = send(w->fd, w->out.data + w->out.off, w->out.len - w->out.off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			break;
		if (r == -1) {
			/* The worker is gone: SIGCHLD reports its jobs. */
			log_debug("pool: worker %ld: %s", (long)w->pid, strerror(errno));
			w->out.off = w->out.len;
			break;
		}
		w->out.off += (size_t)r;
	}
	if (w->out.off == w->out.len) {
		w->out.off = w->out.len = 0;
		p->nout--;
		if (w->out.cap > 4 * READ_CHUNK)
			buf_free(&w->out); /* after a large job */
	}
	if ((w->out.len > 0) != w->pollout) {
		w->pollout = w->out.len > 0;
		loop_set_events(p->loop, NULL, w->fd, ZMQ_POLLIN | (w->pollout ? ZMQ_POLLOUT : 0));
	}
}

static void
on_prepare(loop_t *loop, void *arg)
{
	pool_t *p = arg;
	worker_t *w;

	GH_UNUSED(loop);
	for (w = p->workers; w != NULL && p->nout > 0; w = w->next)
		if (w->fd != -1 && w->out.len > w->out.off && !w->pollout)
			worker_flush(p, w);
}

/* A protocol error from a worker: it is killed, its job reported. */
static void
worker_broken(pool_t *p, worker_t *w, const char *what)
{
	log_error("pool: worker %ld %s, killing it", (long)w->pid, what);
	kill_worker(p, w, POOL_CRASHED, "the worker process sent a malformed result");
}

/* Handles every whole result in w's input buffer, in order. */
static void
worker_results(pool_t *p, worker_t *w)
{
	while (w->fd != -1 && w->in.len - w->in.off >= 4) {
		uint32_t need;
		unsigned char code;
		pool_status_t st;
		int retire;
		char *text;

		memcpy(&need, w->in.data + w->in.off, 4);
		if (need == 0 || need > HANDLER_MAX_TEXT + 1) {
			worker_broken(p, w, "sent a bad frame");
			return;
		}
		if (w->in.len - w->in.off - 4 < need)
			return;
		if (w->head == NULL) {
			worker_broken(p, w, "sent a result for no job");
			return;
		}
		code = (unsigned char)w->in.data[w->in.off + 4];
		/* A job the worker did not start does not count toward its
		 * max_jobs, as the worker does not count it either. */
		if (code == ST_EXPIRED || code == ST_NOT_RUN)
			w->given--;
		if (code == ST_EXPIRED) {
			static const char why[] = "not run: the job waited its whole timeout";

			w->in.off += 4 + (size_t)need;
			finish(p, w, POOL_TIMEOUT, why, sizeof(why) - 1, 0);
			continue;
		}
		if (code == ST_NOT_RUN) {
			/* The worker did not start it: the pool stops (it goes
			 * back), or it was forgotten (it is dropped). */
			pjob_t *j;

			w->in.off += 4 + (size_t)need;
			j = pop_head(p, w);
			head_started(p, w);
			give_back(p, j, &p->waiting);
			settle(p);
			continue;
		}
		retire = (code & RETIRE_FLAG) != 0;
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
		/* Copy the text out: callbacks may reenter the pool. */
		text = gh_malloc(need);
		memcpy(text, w->in.data + w->in.off + 5, need - 1);
		text[need - 1] = '\0';
		w->in.off += 4 + (size_t)need;
		if (w->in.off == w->in.len)
			w->in.off = w->in.len = 0;
		if (retire) {
			log_debug("pool: worker %ld retires", (long)w->pid);
			close_fd(p, w);
		}
		finish(p, w, st, text, need - 1, retire);
		free(text);
	}
}

/* Reads what w sent and handles whole results. */
static void
worker_read(pool_t *p, worker_t *w)
{
	for (;;) {
		ssize_t n;
		size_t space;

		buf_reserve(&w->in, READ_CHUNK);
		space = w->in.cap - w->in.len;
		n = read(w->fd, w->in.data + w->in.len, space);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF or error: the worker is gone or going; SIGCHLD tells
			 * how, after the results that did arrive. */
			worker_results(p, w);
			close_fd(p, w);
			return;
		}
		w->in.len += (size_t)n;
		if ((size_t)n < space)
			break;
	}
	worker_results(p, w);
	if (w->in.cap > 4 * READ_CHUNK && w->in.len == 0)
		buf_free(&w->in); /* after a large result */
}

static int
on_worker_io(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	pool_t *p = arg;
	worker_t *w = find_fd(p, fd);

	GH_UNUSED(loop);
	GH_UNUSED(sock);
	if (w == NULL) {
		loop_remove_fd(p->loop, fd);
		return 0;
	}
	if (revents & ZMQ_POLLOUT)
		worker_flush(p, w);
	if (w->fd != -1 && (revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
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

/* Frees a list of jobs, reporting none of them. */
static void
free_jobs(pjob_t *j)
{
	pjob_t *next;

	for (; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
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
		/* Its last results may still wait in the socket (SIGCHLD can come first). */
		if (w->fd != -1)
			worker_read(p, w);
		close_fd(p, w);
		describe_status(status, text, sizeof(text));
		if (w->head != NULL) {
			log_warn("pool: job %s: %s", w->head->ref, text);
			finish(p, w, POOL_CRASHED, text, strlen(text), 1);
		} else if (!w->leaving) {
			log_warn("pool: idle %s", text);
			set_leaving(p, w);
			replace(p);
			settle(p);
		} else {
			log_debug("pool: worker %ld reaped", (long)pid);
		}
		if (w->timer != 0)
			loop_cancel_timer(p->loop, w->timer);
		buf_free(&w->in);
		free_jobs(w->head);
		free(w);
	}
	return 0;
}

pool_t *
pool_new(loop_t *loop, const pool_config_t *cfg, gh_error_t *e)
{
	pool_t *p;

	assert(cfg->done != NULL && cfg->returns != NULL && cfg->workers > 0);
	p = gh_calloc(1, sizeof(*p));
	p->loop = loop;
	p->cfg = *cfg;
	p->cfg.dirs = NULL;
	p->cfg.programs = NULL;
	p->waiting_tail = &p->waiting;
	if (p->cfg.depth == 0)
		p->cfg.depth = 1;
	if (p->cfg.depth > POOL_MAX_DEPTH)
		p->cfg.depth = POOL_MAX_DEPTH;
	p->shared =
	    mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->shared == MAP_FAILED) {
		gh_error_set(e, EX_OSERR, "cannot map a shared page: %s", strerror(errno));
		free(p);
		return NULL;
	}
	memset(p->shared, 0, sizeof(*p->shared));
	p->handler = handler_new(cfg->dirs, cfg->ndirs, cfg->programs, cfg->nprograms, e->text,
	                         sizeof(e->text));
	if (p->handler == NULL) {
		e->status = EX_CONFIG;
		munmap(p->shared, sizeof(shared_t));
		free(p);
		return NULL;
	}
	if (loop_add_signal(loop, SIGCHLD, on_sigchld, p) == -1) {
		gh_error_set(e, EX_OSERR, "cannot watch SIGCHLD: %s", strerror(errno));
		pool_destroy(&p);
		return NULL;
	}
	loop_set_prepare(loop, on_prepare, p);
	while (p->nlive < p->cfg.workers)
		if (spawn(p) == -1) {
			gh_error_set(e, EX_OSERR, "cannot start worker processes: %s",
			             strerror(errno));
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
	loop_set_prepare(p->loop, NULL, NULL);
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
		buf_free(&w->in);
		free_jobs(w->head);
		free(w);
	}
	free_jobs(p->waiting);
	if (p->retry_timer != 0)
		loop_cancel_timer(p->loop, p->retry_timer);
	handler_destroy(&p->handler);
	munmap(p->shared, sizeof(shared_t));
	free(p);
	*self_p = NULL;
}

int
pool_submit(pool_t *p, const char *ref, const char *body, size_t len, uint64_t deadline_ms)
{
	worker_t *w;

	if (len > HANDLER_MAX_TEXT || p->stopping)
		return -1;
	if (p->waiting == NULL && (w = pick_worker(p)) != NULL)
		give_to(p, w, job_new(ref, body, len, deadline_ms));
	else if (p->nwaiting < p->cfg.max_waiting)
		waiting_push(p, job_new(ref, body, len, deadline_ms));
	else
		return -1;
	return 0;
}

size_t
pool_idle(const pool_t *p)
{
	size_t n = 0;

	for (const worker_t *w = p->workers; w != NULL; w = w->next)
		n += !w->leaving && w->njobs == 0;
	return n;
}

size_t
pool_jobs(const pool_t *p)
{
	return p->njobs + p->nwaiting;
}

size_t
pool_live(const pool_t *p)
{
	return p->nlive;
}

void
pool_stop(pool_t *p)
{
	p->stopping = 1;
	__atomic_store_n(&p->shared->stop, 1, __ATOMIC_RELEASE);
	while (p->waiting != NULL)
		give_back(p, waiting_pop(p), &p->waiting);
}

void
pool_kill_busy(pool_t *p, const char *text)
{
	worker_t *w;
	int again = 1;

	while (again) {
		again = 0;
		for (w = p->workers; w != NULL; w = w->next)
			if (w->head != NULL && !w->leaving) {
				kill_worker(p, w, POOL_CRASHED, text);
				again = 1; /* callbacks may have changed the list */
				break;
			}
	}
}

size_t
pool_forget_queued(pool_t *p)
{
	size_t n = p->nwaiting;

	__atomic_store_n(&p->shared->gen, p->shared->gen + 1, __ATOMIC_RELEASE);
	free_jobs(p->waiting);
	p->waiting = NULL;
	p->waiting_tail = &p->waiting;
	p->nwaiting = 0;
	return n;
}
