/*
 * loop.h: the one event loop of a gearhorn process (after CZMQ's zloop and
 * Redis's ae). ZeroMQ sockets, plain fds, timers and signals are all
 * dispatched from a single zmq_poll() call; nothing wakes the process while
 * it is idle.
 *
 * Handlers run one at a time in the loop's thread. A handler may add or
 * remove sockets, fds, timers and signals, change interest, or stop the loop;
 * a socket or fd removed during a dispatch pass is not called later in that
 * pass, and a timer cancelled during a pass does not fire. Not thread-safe:
 * every call must come from the thread that runs the loop.
 */
#ifndef GEARHORN_LOOP_H
#define GEARHORN_LOOP_H

#include <stdint.h>

#include <zmq.h>

typedef struct loop loop_t;

/* I/O handler. sock is the ZeroMQ socket (NULL for a plain fd), fd the fd
 * (-1 for a socket), revents a mask of ZMQ_POLLIN, ZMQ_POLLOUT and
 * ZMQ_POLLERR (POLLHUP and POLLNVAL on a plain fd arrive as ZMQ_POLLERR).
 * ZeroMQ sockets are level-triggered: a handler may read one message and
 * return, and it is called again on the next pass while more are waiting.
 * Return 0 to go on, -1 to stop the loop (loop_run then returns -1). */
typedef int(loop_io_fn)(loop_t *loop, void *sock, int fd, short revents, void *arg);
/* Timer handler: timer_id is the id loop_add_timer returned. Same returns. */
typedef int(loop_timer_fn)(loop_t *loop, uint64_t timer_id, void *arg);
/* Signal handler: called in the loop, never in signal context. Same returns. */
typedef int(loop_signal_fn)(loop_t *loop, int signo, void *arg);

/* Creates an empty loop. Caller owns the result (free with loop_destroy). */
loop_t *loop_new(void);

/* Frees the loop and clears *self_p; accepts NULL and *self_p == NULL. Closes
 * the loop's signalfd but leaves the registered signals blocked (unblocking
 * them here would let a pending SIGTERM kill the process). Does not close
 * registered sockets or fds: they stay owned by the caller. */
void loop_destroy(loop_t **self_p);

/* Registers a ZeroMQ socket with interest events (ZMQ_POLLIN | ZMQ_POLLOUT).
 * sock is borrowed: the caller must loop_remove_socket() it before closing
 * it. arg is borrowed and passed to fn. Returns 0, or -1 with errno EEXIST
 * if sock is already registered. */
int loop_add_socket(loop_t *l, void *sock, short events, loop_io_fn *fn, void *arg);

/* Registers a plain fd (pipe, signalfd, eventfd, TCP fd); as loop_add_socket.
 * The fd is borrowed: remove it before closing it. Returns 0, or -1 with
 * errno EEXIST (already registered) or EINVAL (fd < 0). */
int loop_add_fd(loop_t *l, int fd, short events, loop_io_fn *fn, void *arg);

/* Changes the interest of a registered socket (sock != NULL) or fd (sock ==
 * NULL), e.g. adds ZMQ_POLLOUT while output is pending and drops it after.
 * Takes effect from the next pass. Returns 0, or -1 with errno ENOENT. */
int loop_set_events(loop_t *l, void *sock, int fd, short events);

/* Unregisters a socket / an fd. Unknown ones are a no-op. Neither is closed. */
void loop_remove_socket(loop_t *l, void *sock);
void loop_remove_fd(loop_t *l, int fd);

/* Arms a timer that fires delay_ms from now, then every interval_ms (0: one
 * shot). Repeating timers are re-armed from their scheduled time, so they do
 * not drift; after a stall longer than the interval, the missed periods are
 * skipped (the timer fires once, then keeps its schedule) rather than fired
 * in a burst. Timers due in the same pass fire in deadline order, ties in
 * the order they were armed. A timer armed by a handler never fires in the
 * pass that armed it, so a 0 ms timer cannot starve I/O. arg is borrowed.
 * Returns the timer id, always > 0 and never reused by this loop. */
uint64_t loop_add_timer(loop_t *l, uint64_t delay_ms, uint64_t interval_ms, loop_timer_fn *fn,
                        void *arg);

/* Disarms a timer; an unknown, expired or already cancelled id is a no-op.
 * Safe from any handler, including the timer's own. Cost is linear in the
 * number of armed timers: keep to a few timers per loop (STYLE 5). */
void loop_cancel_timer(loop_t *l, uint64_t id);

/* Routes signo to fn, called from the loop. Blocks signo in the calling
 * thread (pthread_sigmask) and reads it from the loop's one signalfd; an
 * ignored disposition (SIG_IGN, e.g. SIGHUP under nohup) is reset to SIG_DFL
 * so that the signal is queued at all. Call it before creating any thread,
 * so that every thread inherits the blocked mask and none of them takes the
 * signal with its default action. Registering signo again replaces the
 * handler. Standard signals do not queue: two SIGCHLDs may arrive as one
 * call, so reap with waitpid(WNOHANG) until nothing is left. Different
 * pending signals are all delivered. Returns 0, or -1 with errno EINVAL
 * (SIGKILL, SIGSTOP, out of range) or signalfd's errno. */
int loop_add_signal(loop_t *l, int signo, loop_signal_fn *fn, void *arg);

/* For a forked child, before it runs job code or execs: restores SIG_DFL and
 * unblocks every signal any loop of this process blocked. Uses only
 * async-signal-safe calls, so it is safe after fork() in a threaded parent. */
void loop_reset_child_signals(void);

/* Runs until loop_stop() (returns 0), a handler returns -1 (returns -1), or
 * nothing is registered and no timer is armed (returns 0). Returns -1 with
 * errno if zmq_poll fails (ETERM: the context was terminated); EINTR is
 * retried. The poll sleeps until the earliest timer, or without a timeout
 * when no timer is armed. Not reentrant: never call it from a handler. */
int loop_run(loop_t *l);

/* Hook called at the start of every pass, before the poll (after Redis's
 * beforeSleep): the place to flush output that handlers of the last pass
 * queued, so that it leaves in one write. One per loop; fn NULL removes it.
 * It may do whatever a handler may, including loop_stop(). arg is borrowed. */
typedef void(loop_prepare_fn)(loop_t *loop, void *arg);
void loop_set_prepare(loop_t *l, loop_prepare_fn *fn, void *arg);

/* Makes loop_run return 0 once the current handler returns; nothing else is
 * dispatched. Meant for handlers; a later loop_run starts afresh. */
void loop_stop(loop_t *l);

/* Monotonic milliseconds (gh_now_ms) cached after every poll: cheap and the
 * same for every handler of one pass. */
uint64_t loop_now(loop_t *l);

#endif
