/*
 * broker_int.h: the broker's internal types, shared by broker.c and
 * status.c only. Nothing outside src/router includes it.
 */
#ifndef GEARHORN_BROKER_INT_H
#define GEARHORN_BROKER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "dict.h"
#include "proto.h"

#define BROKER_LAT_RING 512 /* recent latencies kept per queue */

typedef struct bqueue bqueue_t;
typedef struct bworker bworker_t;

/* JOB_PENDING: a guarantee job written to the journal's open transaction,
 * neither acknowledged nor queued until that transaction commits. */
typedef enum { JOB_WAITING = 1, JOB_INFLIGHT, JOB_PENDING } job_state_t;

/* A job: owned by the broker's jobs table (keyed by client msgid); linked
 * into its queue's waiting list, its worker's in-flight list or the
 * broker's pending list. */
typedef struct bjob {
	struct bjob *prev, *next;
	job_state_t state;
	char *client; /* client identity */
	size_t clen;
	char *msgid; /* client msgid, NUL-terminated */
	bqueue_t *queue;
	char *headers; /* forwarded headers text (reply-requested added) */
	size_t hlen;
	char *body;
	size_t blen;
	proto_headers_t hdr;
	int reply_requested; /* the client asked for the result */
	int guarantee;
	long retries_left;
	uint64_t accepted_ms, dispatched_ms;
	bworker_t *worker; /* in flight on */
	int journaled;     /* written to the journal */
	size_t bytes;      /* counted against the byte limits (BROKER_JOB_BYTES) */
} bjob_t;

typedef struct {
	bjob_t *head, *tail;
	size_t n;
} bjob_list_t;

typedef struct {
	bworker_t *w;
	long weight;
} bqueue_ref_t;

/* A named queue, owned by the queues table. */
struct bqueue {
	char *name;
	bjob_list_t waiting;
	bqueue_ref_t *workers; /* who serves it */
	size_t nworkers, capworkers;
	size_t inflight;
	size_t npending; /* its jobs on the broker's pending list */
	size_t bytes;    /* of its jobs, waiting and in flight */
	uint64_t processed, failed, expired, rejected;
	uint32_t *lat; /* ring of recent latencies (ms), allocated on first use */
	size_t nlat, latpos;
};

struct bworker {
	char *id;
	size_t idlen;
	proto_queue_t *queues; /* weight order, highest first */
	size_t nqueues;
	long slots;
	uint64_t last_seen, last_used; /* last_used: dispatch sequence, for LRU */
	bjob_list_t inflight;
	uint64_t processed;
	int dead;
	int exclusive_denied;
};

typedef struct {
	char *id;
	size_t idlen;
	uint64_t last_seen;
	/* Answers each SCHEDULE and UNSCHEDULE (REPLY once stored, or ERROR):
	 * it sent "[]" as its INFORM queues, as gearhorn-scheduler does.
	 * EventMQ's scheduler sends "" and never answers. */
	int answers;
} bsched_t;

struct broker {
	broker_conf_t conf;
	char *default_queue;
	broker_send_fn *send;
	void *ctx;
	dict_t *workers;    /* identity -> bworker_t */
	dict_t *schedulers; /* identity -> bsched_t */
	dict_t *queues;     /* name -> bqueue_t */
	dict_t *jobs;       /* client msgid -> bjob_t */
	size_t nwaiting;
	size_t nbytes; /* of all jobs, waiting and in flight */
	size_t sched_rr;
	uint64_t dispatch_seq;
	uint64_t started_ms, now_ms, next_hb_ms, next_sweep_ms;
	int64_t wall_ms; /* the wall clock as last passed in */
	uint64_t undeliverable, hwm_full, last_hwm_warn_ms;
	int ndead;
	broker_journal_add_fn *jadd;
	broker_journal_del_fn *jdel;
	void *jctx;
	bjob_list_t pending; /* JOB_PENDING, in arrival order */
	int jfailing;        /* the last commit failed */
	char jerror[256];    /* why the last failed commit failed */
	uint64_t not_stored; /* guarantee jobs refused as the journal failed */
	int stopping;
	/* client msgid -> bsched_wait_t: SCHEDULEs and UNSCHEDULEs awaiting
	 * their schedulers' answers (broker.c) */
	dict_t *sched_waits;
};

#endif
