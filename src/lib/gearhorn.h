/*
 * gearhorn.h: the public C API of libgearhorn.
 *
 * Link with `pkg-config --libs gearhorn`. Every exported symbol starts with
 * gearhorn_; nothing else of the library is visible.
 */
#ifndef GEARHORN_H
#define GEARHORN_H

#ifdef __cplusplus
extern "C" {
#endif

#define GEARHORN_VERSION_MAJOR 0
#define GEARHORN_VERSION_MINOR 1
#define GEARHORN_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH". Static, never NULL. */
const char *gearhorn_version(void);

/* The eMQP protocol version string the library speaks ("eMQP/1.0"). Static. */
const char *gearhorn_protocol_version(void);

/* ---- errors ---- */

/* The class of an error. A call below that can fail returns 0 on success
 * and one of these on failure, with a message in the caller's err buffer.
 * Choose what to do by the class, never by the message: its words may
 * change. Test for failure with `!= 0` or `< 0`; the classes may grow. */
typedef enum {
	GEARHORN_ERR = -1,         /* a bad argument or endpoint, or a socket error */
	GEARHORN_ERR_TIMEOUT = -2, /* the router did not answer in time */
	GEARHORN_ERR_REFUSED = -3, /* the router refused or failed the request: the
	                            * message is "CODE: TEXT", CODE the router's
	                            * error code (queue-full, job-failed, ...) */
} gearhorn_err_t;

/* ---- client: submit jobs to gearhorn-router (or an EventMQ router) ---- */

#include <stddef.h>

/* CURVE (ZeroMQ's CurveZMQ): a connection that is encrypted and on which
 * each side proves its key. The router knows the public key of every
 * client it lets in; the client knows the router's public key. Keys are 40
 * characters of Z85, ZeroMQ's text form of 32 bytes. */
#define GEARHORN_KEY_LEN 40

typedef struct {
	char public_key[GEARHORN_KEY_LEN + 1]; /* ours */
	char secret_key[GEARHORN_KEY_LEN + 1]; /* ours */
	char server_key[GEARHORN_KEY_LEN + 1]; /* the router's public key */
} gearhorn_curve_t;

/* Fills keys from two key files (as `gearhorn keygen` writes them, CZMQ's
 * certificate format): our key pair from secret_key_file, which group and
 * others may not access (mode 0600), and the router's public key from
 * server_key_file. Returns 0, or GEARHORN_ERR with a message naming the
 * file in err. */
int gearhorn_curve_load(gearhorn_curve_t *keys, const char *secret_key_file,
                        const char *server_key_file, char *err, size_t errlen);

typedef struct gearhorn_client gearhorn_client_t;

/* Connects to the frontend of one or more routers: a comma-separated list of
 * ZeroMQ endpoints (tcp://HOST:PORT). With several, a request goes to one
 * router (at first the first of the list) and, when that router does not
 * acknowledge it within the wait (wait_ms), to the next one with the same
 * msgid; the router that acknowledges becomes the one the next requests go
 * to. A job is acknowledged by exactly one router, but a router that was
 * only slow may still have taken the copy it did not acknowledge in time,
 * so a job can run once on each of two routers; one router never runs the
 * same msgid twice while it holds it (it refuses it as duplicate-msgid).
 * Returns NULL with a message in err. Caller owns the result. */
gearhorn_client_t *gearhorn_client_new(const char *endpoints, char *err, size_t errlen);

/* gearhorn_client_new over CURVE with keys (borrowed for the call; NULL:
 * as gearhorn_client_new). A router that does not take our key never
 * completes the connection, so requests time out (GEARHORN_ERR_TIMEOUT). */
gearhorn_client_t *gearhorn_client_new_curve(const char *endpoints, const gearhorn_curve_t *keys,
                                             char *err, size_t errlen);

/* Closes the connection. Accepts NULL and clears *self_p. */
void gearhorn_client_destroy(gearhorn_client_t **self_p);

typedef struct {
	int wait;         /* 1: wait for the job's result (sends reply-requested) */
	int guarantee;    /* 1: requeue the job if its job manager dies */
	long retries;     /* retry-count:N with guarantee; -1: the router's default */
	long timeout;     /* timeout:N seconds for the job to run; -1: none given */
	long ttl;         /* ttl:N seconds the job may wait for a job manager; -1: none */
	long wait_ms;     /* how long to wait for each router's acknowledgement, then
	                   * for the result; 0: 10 s */
	long ack_wait_ms; /* how long to wait for each router's acknowledgement,
	                   * before the next is tried; 0: wait_ms */
} gearhorn_submit_opts_t;

/* Default options: fire and forget, nothing else set. */
void gearhorn_submit_opts_init(gearhorn_submit_opts_t *opts);

/* Sends a REQUEST with the job body (EventMQ's ["run", {...}] JSON) to queue
 * and waits until the router accepts it. With opts->wait it then waits for
 * the result from the router that accepted it and stores it in *result (the job manager's JSON,
 * {"value": ...}; caller owns it, free() it), with its length in *result_len.
 * Returns 0, or a gearhorn_err_t with a message in err: GEARHORN_ERR_REFUSED
 * with the router's refusal or failure report ("queue-full: ...",
 * "job-failed: ...", "expired: ..."), GEARHORN_ERR_TIMEOUT ("timeout: ...")
 * when no answer came in time, GEARHORN_ERR otherwise. opts may be NULL. */
int gearhorn_submit(gearhorn_client_t *c, const char *queue, const char *body, size_t body_len,
                    const gearhorn_submit_opts_t *opts, char **result, size_t *result_len,
                    char *err, size_t errlen);

typedef struct {
	long interval;    /* seconds between runs, or -1 with cron */
	const char *cron; /* five-field cron expression, or NULL with interval */
	int nohaste;      /* 1: do not run at once, wait for the first time */
	long run_count;   /* run this many times in all; -1: no limit */
	int guarantee;    /* 1: every run is sent with guarantee */
	long wait_ms;     /* how long to wait for the router's answer; 0: 10 s */
} gearhorn_schedule_opts_t;

/* Default options: no interval, no cron, no limit. */
void gearhorn_schedule_opts_init(gearhorn_schedule_opts_t *opts);

/* Asks the router's scheduler to run the job body on queue every
 * opts->interval seconds or at the times of opts->cron. Scheduling the
 * same call again replaces it. Returns 0 once the router accepted it, or a
 * gearhorn_err_t with a message in err: GEARHORN_ERR_REFUSED
 * ("no-scheduler: ..."), GEARHORN_ERR_TIMEOUT ("timeout: ..."), GEARHORN_ERR
 * (a bad interval or cron, or a socket error). */
int gearhorn_schedule(gearhorn_client_t *c, const char *queue, const char *body, size_t body_len,
                      const gearhorn_schedule_opts_t *opts, char *err, size_t errlen);

/* Removes the schedule of the call in body. Returns 0 once the router
 * accepted the request, or a gearhorn_err_t with a message in err, as
 * gearhorn_schedule does. */
int gearhorn_unschedule(gearhorn_client_t *c, const char *body, size_t body_len, long wait_ms,
                        char *err, size_t errlen);

/* Sends one admin command (STATUS, ROUTER_SHOW_WORKERS,
 * ROUTER_SHOW_SCHEDULERS, DISCONNECT) to a router's admin endpoint and
 * waits up to wait_ms (0: 10 s) for the answer. endpoint may be a
 * comma-separated list: the command goes to each in turn until one
 * answers, and only that one is asked. For REPLY answers *reply is
 * the JSON text (caller owns it, free() it); for DISCONNECT it is NULL.
 * Returns 0, or a gearhorn_err_t with a message in err: GEARHORN_ERR_REFUSED
 * for the router's error report, GEARHORN_ERR_TIMEOUT when no answer came in
 * time, GEARHORN_ERR otherwise. */
int gearhorn_admin(const char *endpoint, const char *command, long wait_ms, char **reply, char *err,
                   size_t errlen);

/* gearhorn_admin over CURVE with keys (borrowed for the call; NULL: as
 * gearhorn_admin). The router takes only the keys of its admin set on
 * this endpoint; any other key gets no answer (GEARHORN_ERR_TIMEOUT). */
int gearhorn_admin_curve(const char *endpoint, const gearhorn_curve_t *keys, const char *command,
                         long wait_ms, char **reply, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
