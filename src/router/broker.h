/*
 * broker.h: the router's state and semantics (eMQP/1.0, EventMQ 0.3.13's
 * wire with gearhorn's fixes and extensions, see gearhorn-router(8)).
 * No sockets: messages come in through broker_handle and go out, encoded by
 * the codec (proto_encode), through a send callback. No clock: the caller
 * passes both times in, so that the whole broker can be driven by a unit
 * test. now_ms is the monotonic clock (milliseconds), which every delay,
 * timeout and ttl is measured on; wall_ms is the wall clock (milliseconds
 * since the epoch), which only what leaves the router is stamped with:
 * HEARTBEAT timestamps, the journal's accepted_ms, and the time a SCHEDULE's
 * cron expression is checked at.
 */
#ifndef GEARHORN_BROKER_H
#define GEARHORN_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "util.h"

typedef struct broker broker_t;

/* What a job counts against max_bytes and max_bytes_total: its client's
 * identity, msgid, headers and body as the client sent them, and
 * BROKER_JOB_OVERHEAD for the broker's record of it (which also covers the
 * reply-requested header the broker may add). */
#define BROKER_JOB_OVERHEAD 512
#define BROKER_JOB_BYTES(idlen, msgidlen, hlen, blen)                             \
	((size_t)(idlen) + (size_t)(msgidlen) + (size_t)(hlen) + (size_t)(blen) + \
	 BROKER_JOB_OVERHEAD)

/* The router's three endpoints. */
enum { BROKER_FRONTEND = 0, BROKER_BACKEND = 1, BROKER_ADMIN = 2, BROKER_ENDPOINTS = 3 };

/* Sends frames[0..n) (DEALER view: "", version, command, msgid, args) to
 * the peer identity (idlen bytes) on endpoint. Everything is borrowed for
 * the call only. Returns 0, or -1 with errno EHOSTUNREACH (no such peer) or
 * EAGAIN (the peer's queue is full); nothing was sent then. */
typedef int(broker_send_fn)(void *ctx, int endpoint, const void *identity, size_t idlen,
                            const gh_frame_t *frames, size_t n);

/* Tunables; the ones marked (reload) may change with broker_configure.
 * max_length and max_waiting count waiting jobs. max_bytes and
 * max_bytes_total count the bytes of the jobs the broker holds, waiting and
 * in flight: each job counts BROKER_JOB_BYTES(...) from its acceptance to
 * its end. A REQUEST past any limit is refused with ERROR queue-full. */
typedef struct {
	long max_length;           /* (reload) waiting requests per queue */
	long max_waiting;          /* (reload) waiting requests in all queues; 0: 10 x max_length */
	size_t max_bytes;          /* (reload) bytes of one queue's jobs; 0: max_bytes_total / 10 */
	size_t max_bytes_total;    /* (reload) bytes of all jobs; 0: no limit */
	uint64_t hb_interval_ms;   /* (reload) */
	uint64_t hb_timeout_ms;    /* (reload) */
	const char *default_queue; /* (reload) for INFORM without queues; borrowed, copied */
} broker_conf_t;

/* Creates a broker that sends through send(ctx, ...). conf is copied; send
 * and ctx are borrowed for the broker's life. now_ms is the monotonic clock.
 * Caller owns the result (free with broker_destroy). */
broker_t *broker_new(const broker_conf_t *conf, broker_send_fn *send, void *ctx, uint64_t now_ms);

/* Frees *self_p (jobs, peers, queues) without sending anything; accepts NULL
 * and clears the caller's pointer. */
void broker_destroy(broker_t **self_p);

/* Applies new tunables (reload); conf is copied. */
void broker_configure(broker_t *b, const broker_conf_t *conf);

/* One message from peer identity (idlen bytes) on endpoint: frames[0..n)
 * are its DEALER-view frames (borrowed for the call; the body is copied if
 * kept). oversized: the message was larger than the router accepts (its
 * frames may be cut). Never trusts the bytes: any defect is answered with an
 * ERROR and logged. */
void broker_handle(broker_t *b, int endpoint, const void *identity, size_t idlen,
                   const gh_frame_t *frames, size_t n, int oversized, uint64_t now_ms,
                   int64_t wall_ms);

/* Periodic work: heartbeats when due, dead peers, ttl expiry, in-flight
 * timeouts. Call it often (every 250 ms); it decides what is due. */
void broker_tick(broker_t *b, uint64_t now_ms, int64_t wall_ms);

/* 1 once an admin DISCONNECT was accepted: the caller stops its loop. */
int broker_stopping(const broker_t *b);

/* Graceful stop (SIGTERM): answers the clients of waiting jobs with ERROR
 * shutdown. Peers are not sent KBYE, so they reconnect to the next router. */
void broker_shutdown(broker_t *b);

/* Journal hooks: add(ctx, job) when a guarantee job is accepted, del(ctx,
 * msgid) when a journaled job ends (result or failure). Either may be NULL.
 * ctx is borrowed for the broker's life. Journaled jobs that wait when the
 * router stops are kept (no ERROR shutdown), to be restored at start.
 * With add set, a guarantee job is written, then held: neither acknowledged
 * nor queued until broker_journal_committed reports the commit of the
 * transaction that holds it. */
typedef void(broker_journal_add_fn)(void *ctx, const journal_job_t *job);
typedef void(broker_journal_del_fn)(void *ctx, const char *msgid);
void broker_set_journal(broker_t *b, broker_journal_add_fn *add, broker_journal_del_fn *del,
                        void *ctx);

/* The caller has ended the journal's transaction (group commit: once per
 * pass of its loop, after the messages of the pass): ok is 1 when the
 * commit returned success, 0 when the transaction failed and was rolled
 * back, with error (borrowed for the call; may be NULL) saying why. The
 * jobs the transaction holds are then dispatched or queued and acknowledged
 * (ok), or refused with ERROR not-stored and forgotten (not ok). Call it
 * after every transaction, not when there was nothing to write: STATUS
 * reports whether the last one failed. */
void broker_journal_committed(broker_t *b, int ok, const char *error);

/* 1 if a row of the journal holds a job broker_restore can take (a valid
 * msgid, queue and headers), else 0. job is borrowed. */
int broker_restorable(const journal_job_t *job);

/* Puts a job from the journal back at the tail of its queue (not written to
 * the journal again, not acknowledged). job is borrowed; its accepted_ms is
 * wall-clock milliseconds, as wall_ms is, and the time it has waited counts
 * towards its ttl. Returns 0, or -1 if the row is invalid or its msgid
 * already known. */
int broker_restore(broker_t *b, const journal_job_t *job, uint64_t now_ms, int64_t wall_ms);

/* The admin JSON documents (status.c). Caller owns the result (free()). */
char *broker_status_json(broker_t *b, uint64_t now_ms);
char *broker_workers_json(broker_t *b, uint64_t now_ms);
char *broker_schedulers_json(broker_t *b, uint64_t now_ms);

#endif
