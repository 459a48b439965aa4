/*
 * proto.h: the eMQP/1.0 codec (EventMQ 0.3.13's wire, plus gearhorn's
 * extensions). Turns a multipart message into a proto_msg_t and back; never
 * touches a socket. The wire is the one EventMQ's code sends, documented in
 * gearhorn-protocol(7).
 *
 * Frames are counted in the DEALER view (the ROUTER's peer identity already
 * stripped): frame 0 is the empty delimiter, 1 the version, 2 the command,
 * 3 the msgid and 4.. the arguments. Error texts use these numbers.
 */
#ifndef GEARHORN_PROTO_H
#define GEARHORN_PROTO_H

#include <stddef.h>

#include "util.h"

#define PROTO_VERSION             "eMQP/1.0"
#define PROTO_MAX_ARGS            12   /* argument frames after the msgid */
#define PROTO_MAX_MSGID           128  /* bytes */
#define PROTO_MAX_QUEUE           255  /* bytes, queue/topic names */
#define PROTO_MAX_HEADERS         1024 /* bytes, the csv frame */
#define PROTO_MAX_INFORM_QUEUES   64
#define PROTO_MAX_VERSION         32    /* bytes, the version frame */
#define PROTO_MAX_CRON            255   /* bytes, the SCHEDULE cron frame */
#define PROTO_MAX_ERROR_CODE      32    /* bytes, the ERROR code token */
#define PROTO_MAX_QUEUES_JSON     65536 /* bytes, the INFORM queues frame */
#define PROTO_MAX_HEADER_NUMBER   2147483647L
#define PROTO_MAX_INTERVAL        2147483647L
#define PROTO_MAX_QUEUE_WEIGHT    1000000L
#define PROTO_HEADERS_FORMAT_SIZE 160 /* always enough for proto_headers_format */

typedef enum {
	PROTO_NONE = 0,
	PROTO_INFORM,
	PROTO_ACK,
	PROTO_READY,
	PROTO_REQUEST,
	PROTO_REPLY,
	PROTO_HEARTBEAT,
	PROTO_SCHEDULE,
	PROTO_UNSCHEDULE,
	PROTO_DISCONNECT,
	PROTO_KBYE,
	PROTO_PUBLISH,
	PROTO_HELLO,
	PROTO_STATUS,
	PROTO_ROUTER_SHOW_WORKERS,
	PROTO_ROUTER_SHOW_SCHEDULERS,
	PROTO_ERROR /* gearhorn extension */
} proto_cmd_t;
#define PROTO_CMD_COUNT (PROTO_ERROR + 1)

/* The wire name of cmd ("REQUEST"); "(none)" for PROTO_NONE and "(invalid)"
 * for a value outside the enum. Borrowed, static. */
const char *proto_cmd_name(proto_cmd_t cmd);

/* The command whose wire name is exactly the len bytes at s (case-sensitive,
 * no trimming); PROTO_NONE if there is none. s is borrowed, may be NULL. */
proto_cmd_t proto_cmd_lookup(const char *s, size_t len);

typedef enum {
	PROTO_OK = 0,
	PROTO_E_SHORT,
	PROTO_E_DELIM,
	PROTO_E_VERSION,
	PROTO_E_COMMAND,
	PROTO_E_ARGS,
	PROTO_E_MSGID,
	PROTO_E_FIELD,
	PROTO_E_HEADER,
	PROTO_E_JSON
} proto_error_t;
#define PROTO_ERROR_COUNT (PROTO_E_JSON + 1)

/* The wire token of e: "ok", "short-message", "bad-delimiter", "bad-version",
 * "unknown-command", "bad-arguments", "bad-msgid", "bad-field", "bad-header",
 * "bad-json"; "unknown-error" for a value outside the enum. Borrowed, static. */
const char *proto_error_name(proto_error_t e);

/* Sets *out to the error whose token is exactly the len bytes at s.
 * Returns 0, or -1 (and *out untouched) if the token is not one of ours. */
int proto_error_lookup(const char *s, size_t len, proto_error_t *out);

/* A decoding error: the code, and a sentence naming the command, the frame
 * and the problem, e.g. "REQUEST: expected 3 argument frames after the msgid,
 * got 2". Bytes from the message appear escaped (\xHH) and truncated, so the
 * text is printable ASCII and always NUL-terminated. */
typedef struct {
	proto_error_t code;
	char text[256];
} proto_err_t;

/* Parsed headers (the csv frame). -1 = absent for the numbers. */
#define PROTO_H_REPLY_REQUESTED 0x1
#define PROTO_H_GUARANTEE       0x2
#define PROTO_H_NOHASTE         0x4
typedef struct {
	unsigned flags;
	long retry_count, timeout, ttl, run_count;
} proto_headers_t;

/* Sets h to "no headers": no flags, every number -1. */
void proto_headers_init(proto_headers_t *h);

/* Parses the headers frame (len bytes at csv, borrowed, need not be
 * NUL-terminated; may be NULL when len is 0) into *h. Tokens are separated by
 * ',', surrounding spaces are trimmed and empty tokens skipped. Flags:
 * reply-requested, guarantee, nohaste. Numbers: retry-count:N, timeout:N,
 * ttl:N, run_count:N with N decimal digits in 0..2147483647; when a number
 * repeats the last one wins. Unknown tokens are ignored.
 * Returns 0, or -1 with err (may be NULL) filled with PROTO_E_HEADER if the
 * frame is longer than PROTO_MAX_HEADERS, is not UTF-8 text without control
 * characters, or a known number has a bad value; *h is then "no headers". */
int proto_headers_parse(const char *csv, size_t len, proto_headers_t *h, proto_err_t *err);

/* Writes h as a headers frame into buf (flags reply-requested, guarantee,
 * nohaste, then retry-count, timeout, ttl, run_count; comma-joined, no
 * spaces; negative numbers are absent and left out), like snprintf: at most
 * buflen-1 bytes plus a NUL (buf may be NULL when buflen is 0). Returns the
 * length of the whole text; a result >= buflen means it was truncated. */
size_t proto_headers_format(const proto_headers_t *h, char *buf, size_t buflen);

typedef struct {
	proto_cmd_t cmd;
	gh_frame_t version, command, msgid;
	gh_frame_t args[PROTO_MAX_ARGS]; /* raw argument frames */
	size_t nargs;
	/* Named views of args (data NULL when the command has no such field). */
	/* REQUEST, SCHEDULE, UNSCHEDULE (body = job json); PUBLISH (body = message): */
	gh_frame_t queue, headers, body, interval, cron;
	/* INFORM: */
	gh_frame_t queues, peer_type;
	/* ACK: the acked msgid; REPLY: the last argument (the request msgid, or the
	 * admin json when there is 1 argument); ERROR: the msgid referred to ("" if
	 * the offending message had none that could be read): */
	gh_frame_t ref;
	/* REPLY with 2 arguments: the result json (job manager -> router,
	 * router -> client): */
	gh_frame_t result;
	gh_frame_t timestamp;  /* HEARTBEAT */
	gh_frame_t topic;      /* PUBLISH */
	gh_frame_t code, text; /* ERROR */
	/* Parsed when the command has headers, else "no headers": */
	proto_headers_t hdr;
	/* SCHEDULE (and UNSCHEDULE when it parses): the interval, -1 for cron;
	 * -1 for every other command: */
	long interval_secs;
} proto_msg_t;

/* Argument frames after the msgid, per command (gearhorn-protocol(7)):
 *   INFORM      queues_json_or_'', peer type ("worker" or "scheduler")
 *   ACK         ref msgid
 *   REQUEST     queue, headers, body
 *   REPLY       ref  |  result, ref   (result first, as EventMQ sends it)
 *   HEARTBEAT   timestamp (non-negative decimal number)
 *   SCHEDULE    queue, headers, interval, body, cron  (interval -1: cron
 *               expression required; interval >= 0: cron must be "")
 *   UNSCHEDULE  the same 5 frames; only the body is checked (non-empty)
 *   PUBLISH     topic, message
 *   ERROR       ref msgid or "", code token ([a-z0-9-]), text (UTF-8)
 *   HELLO       any number, ignored
 *   READY, DISCONNECT, KBYE, STATUS, ROUTER_SHOW_WORKERS,
 *   ROUTER_SHOW_SCHEDULERS: none
 * Queue and topic names: proto_valid_name. Versions: 1..PROTO_MAX_VERSION
 * bytes of printable ASCII (any value; EventMQ never checks it). */

/* Decodes the DEALER-view frames of one message (frames[0] the empty
 * delimiter, [1] version, [2] command, [3] msgid, [4..] args; the router
 * strips the peer identity first). frames is borrowed and may be NULL when
 * nframes is 0; a frame with size 0 may have data NULL (data NULL with a
 * size is a caller bug and asserted).
 * Borrowed: msg points into frames (and at a static "" for empty frames),
 * valid while the frames are. Frames present in the message are never
 * data NULL in msg.
 * Checks, in this order: delimiter (PROTO_E_DELIM), at least 4 frames
 * (PROTO_E_SHORT), version (PROTO_E_VERSION), command (PROTO_E_COMMAND),
 * msgid (PROTO_E_MSGID), argument count (PROTO_E_ARGS), then the fields
 * (PROTO_E_FIELD, PROTO_E_MSGID for msgid fields, PROTO_E_HEADER, PROTO_E_JSON).
 * Job bodies, results and PUBLISH messages are opaque bytes and not checked.
 * HELLO takes any number of arguments; only the first PROTO_MAX_ARGS are kept.
 * Returns 0, or -1 with err (may be NULL) filled. On error msg->cmd is set if
 * the command frame was read and known, and msg->msgid if the msgid frame
 * was read and valid (data NULL otherwise), so the caller can answer with an
 * ERROR that references it. */
int proto_decode(const gh_frame_t *frames, size_t nframes, proto_msg_t *msg, proto_err_t *err);

/* Zeroes msg, sets cmd and msgid (borrowed, NUL-terminated, may be NULL),
 * and marks hdr "no headers" and interval_secs -1. */
void proto_msg_init(proto_msg_t *msg, proto_cmd_t cmd, const char *msgid);

/* Formats msg->hdr into buf (buflen bytes, borrowed) and points msg->headers
 * at it, for proto_encode. Returns 0, or -1 if buf is too small
 * (PROTO_HEADERS_FORMAT_SIZE bytes always suffice). */
int proto_msg_set_headers(proto_msg_t *msg, char *buf, size_t buflen);

/* Fills out[] with the DEALER-view frames of msg: "", msg->version (or
 * PROTO_VERSION if unset), the command name, msgid, then the fields in wire
 * order taken from the named views, not args[] (HELLO alone sends
 * args[0..nargs)). Optional fields left unset (data NULL) go out as "":
 * INFORM queues; REQUEST/SCHEDULE headers; SCHEDULE cron; every UNSCHEDULE
 * field but body; REPLY result (when unset the REPLY has 1 argument); ERROR
 * ref and text. Everything else is required.
 * The result is then checked exactly as proto_decode would check it, so
 * encode never produces a message that decode rejects.
 * Borrowed: out[] points into msg's frames and at static strings.
 * Returns the frame count, or -1 with err (may be NULL) filled: a required
 * field missing (PROTO_E_FIELD, or PROTO_E_MSGID for the msgid), an unknown
 * cmd (PROTO_E_COMMAND), cap too small (PROTO_E_SHORT), or the decode error. */
int proto_encode(const proto_msg_t *msg, gh_frame_t *out, size_t cap, proto_err_t *err);

typedef struct {
	long weight;
	char name[PROTO_MAX_QUEUE + 1]; /* NUL-terminated */
} proto_queue_t;

/* Parses an INFORM queues frame: '' gives *n = 0; otherwise a JSON array of
 * at most PROTO_MAX_INFORM_QUEUES [weight, "name"] pairs, weight an integer
 * in 0..1000000 and name a valid queue name (proto_valid_name), no longer
 * than PROTO_MAX_QUEUES_JSON bytes. f is borrowed. Writes the pairs in order
 * into out[0..cap); out may be NULL to validate only. *n (n may be NULL) is
 * the number of pairs, 0 on error. Duplicate names are not rejected.
 * Returns 0, or -1 with err (may be NULL) filled with PROTO_E_JSON for any
 * defect, including more pairs than cap (when out is not NULL). */
int proto_parse_queues(gh_frame_t f, proto_queue_t *out, size_t cap, size_t *n, proto_err_t *err);

/* 1 if the len bytes at s (borrowed) are a valid queue or topic name:
 * 1..PROTO_MAX_QUEUE bytes of UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF) without NUL or control characters (C0, DEL, C1).
 * 0 otherwise. */
int proto_valid_name(const char *s, size_t len);

/* 1 if the len bytes at s (borrowed) are a valid msgid: 1..PROTO_MAX_MSGID
 * bytes of printable ASCII (0x20..0x7e). 0 otherwise. */
int proto_valid_msgid(const char *s, size_t len);

#endif
