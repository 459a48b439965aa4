/*
 * peer.h: the near end of a connection to a router, for the programs that
 * are its peers (job managers on the backend, schedulers on the frontend).
 *
 * One DEALER socket with a fresh UUID identity per connection. INFORM with
 * the peer's type and queues, again every heartbeat_timeout until the router
 * answers ACK; HEARTBEAT once heartbeat_interval has passed without anything
 * sent; the router counted dead after 3 x heartbeat_timeout without a word,
 * and the next endpoint of the list tried (the list is a ring). ERROR
 * unknown-peer is answered with INFORM on the same connection; KBYE moves to
 * the next endpoint. Everything else the router sends goes to the caller.
 * With CURVE keys in the configuration, every connection is a CURVE client
 * (curve.h); a router that refuses the key never answers, which counts as
 * no answer to INFORM.
 */
#ifndef GEARHORN_PEER_H
#define GEARHORN_PEER_H

#include <stddef.h>

#include "gearhorn.h"
#include "loop.h"
#include "proto.h"
#include "wire.h"

typedef struct peer peer_t;

/* A message for the caller. m is the decoded message and err NULL; when it
 * did not decode, err says why and m holds what could be read (cmd and
 * msgid may be set); when it was larger than max_message or had too many
 * frames, m and err are NULL and raw->oversized or raw->truncated is set.
 * raw holds the frames. All borrowed, valid during the call. */
typedef void(peer_message_fn)(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw,
                              const proto_err_t *err, void *arg);
/* registered: the router acknowledged our INFORM (again after a re-INFORM
 * or a reconnection). lost: the connection is being replaced; why says why. */
typedef void(peer_registered_fn)(peer_t *p, void *arg);
typedef void(peer_lost_fn)(peer_t *p, const char *why, void *arg);

typedef struct {
	const char *type;               /* INFORM peer type, e.g. "worker" (copied) */
	const char *queues;             /* INFORM queues frame; "" for none (copied) */
	char *const *endpoints;         /* routers, tried in order (copied) */
	size_t nendpoints;              /* at least 1 */
	long hb_interval_ms;            /* heartbeat_interval */
	long hb_timeout_ms;             /* heartbeat_timeout */
	size_t max_message;             /* bytes; 0: no limit */
	int hwm;                        /* ZMQ_SNDHWM and ZMQ_RCVHWM */
	peer_message_fn *message;       /* required */
	peer_registered_fn *registered; /* may be NULL */
	peer_lost_fn *lost;             /* may be NULL */
	void *arg;                      /* passed to the callbacks, borrowed */
	gearhorn_curve_t curve;         /* CURVE keys (curve.h); all empty: plain (copied) */
} peer_config_t;

/* Creates the peer and connects to the first endpoint that takes a
 * connect (zmq_connect fails only on a malformed endpoint), INFORMing it.
 * loop and ctx are borrowed and must outlive the peer. Returns NULL with
 * err when no endpoint can be connected. Caller owns the result. */
peer_t *peer_new(loop_t *loop, void *ctx, const peer_config_t *cfg, char *err, size_t errlen);

/* Closes the socket, letting queued messages go for up to linger_ms, and
 * frees *self_p. Accepts NULL and clears it. */
void peer_destroy(peer_t **self_p, int linger_ms);

/* Sends m without blocking. Returns 0, or -1 after logging why (not
 * connected, a full queue, an encoding error). */
int peer_send(peer_t *p, proto_msg_t *m);

/* Sends a command with no arguments but a fresh msgid (READY, KBYE) or, for
 * HEARTBEAT, the time. Failures are logged. */
void peer_send_cmd(peer_t *p, proto_cmd_t cmd);

/* Sends READY until free_slots of them are outstanding: sent since the
 * router last acknowledged our INFORM and not yet used by a REQUEST (every
 * REQUEST received uses one, decoded or not). Nothing before the ACK or
 * once stopping; a new INFORM (reconnection, re-INFORM) starts from none,
 * so call it again from the registered callback. Never more outstanding
 * than the caller says are free (EventMQ's job manager over-advertised). */
void peer_offer(peer_t *p, size_t free_slots);

/* Sends ERROR [ref, code, text] with a fresh msgid; a text that is not
 * UTF-8 (a handler's or an exception's message) goes escaped. */
void peer_send_error(peer_t *p, const char *ref, const char *code, const char *text, size_t len);

/* For a message that reached peer_message_fn without decoding (m NULL:
 * too large; or err set): if it was a REQUEST with a usable msgid, copies
 * the msgid into ref (PROTO_MAX_MSGID + 1 bytes) and returns 1, so that
 * the caller can refuse it by name; else returns 0. */
int peer_failed_request(const proto_msg_t *m, const wire_msg_t *raw, char *ref);

/* What a worker peer does with such a message: logs it and, when
 * peer_failed_request finds a REQUEST, refuses it with ERROR bad-job
 * ("job too large", or err's text). Returns 1 when it refused one (the
 * caller may offer the slot anew), else 0. All borrowed. */
int peer_refuse_failed(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw,
                       const proto_err_t *err);

/* Logs a decoded message that a worker peer does not act on: an ERROR
 * from the router at warn level, anything else at debug. m is borrowed. */
void peer_log_ignored(const proto_msg_t *m);

/* The router has ACKed the INFORM of the current connection. */
int peer_registered(const peer_t *p);

/* The endpoint of the current connection. */
const char *peer_endpoint(const peer_t *p);

/* New heartbeat settings (SIGHUP). */
void peer_set_heartbeat(peer_t *p, long interval_ms, long timeout_ms);

/* Stopping: no more reconnections or re-INFORMs. Heartbeats go on, so that
 * the router counts us alive while our last jobs finish; messages still
 * arrive and peer_send still sends. */
void peer_stop(peer_t *p);

/* Leaving (stops as peer_stop does): first hands every message that has
 * already arrived to the message callback, so that a REQUEST the router
 * sent before it could read our goodbye is answered (the caller, stopping,
 * refuses it as not-run) rather than lost with the socket; then sends
 * KBYE. Only what is still in transit is left to the router, which fails
 * or requeues it as a job manager's loss. */
void peer_goodbye(peer_t *p);

#endif
