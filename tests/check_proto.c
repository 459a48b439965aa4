/*
 * check_proto.c: the eMQP/1.0 codec (src/lib/proto.c), fed frames.
 * Unit tests first, then the data-driven cases under tests/data/{valid,invalid}:
 * each *.frames file is one message, one frame per line (see lib/frames.h).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"
#include "lib/check_main.h"
#include "lib/files.h"
#include "lib/frames.h"

#define F(s)                       \
	{                          \
		(s), sizeof(s) - 1 \
	}
#define FR(s) ((gh_frame_t)F(s))
#define V     "eMQP/1.0"
#define MID   "e31acce7-c0f8-48cb-b284-40ac350ea51f"
#define MID2  "cbbce90b-5b3b-4c43-9a3e-8a1f3b0c2d11"
#define JOB                                                                                     \
	"[\"run\", {\"callable\": \"mark\", \"path\": \"benchjobs\", \"args\": [\"email-q\"], " \
	"\"kwargs\": {}, \"class_args\": [], \"class_kwargs\": {}}]"

#define S16   "abcdefghijklmnop"
#define S64   S16 S16 S16 S16
#define S128  S64 S64
#define S255  S128 S64 S16 S16 S16 "abcdefghijklmno"
#define S256  S128 S128
#define S1024 S256 S256 S256 S256

/* ---- helpers ---------------------------------------------------------- */

static void
assert_frame(const char *what, gh_frame_t got, gh_frame_t want)
{
	char b1[128], b2[128];

	ck_assert_msg(frames_eq(got, want), "%s: got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)",
	              what, frames_show(got, b1, sizeof(b1)), got.size,
	              frames_show(want, b2, sizeof(b2)), want.size);
}

static gh_frame_t
fs(const char *s)
{
	gh_frame_t f = {s, strlen(s)};
	return f;
}

static void
assert_printable_text(const proto_err_t *err)
{
	size_t i, len = strnlen(err->text, sizeof(err->text));

	ck_assert_msg(len < sizeof(err->text), "error text not terminated");
	ck_assert_msg(len > 0, "empty error text");
	for (i = 0; i < len; i++)
		ck_assert_msg((unsigned char)err->text[i] >= 0x20 &&
		                  (unsigned char)err->text[i] < 0x7f,
		              "byte %zu of \"%s\" is not printable", i, err->text);
}

static void
assert_headers_eq(const proto_headers_t *got, const proto_headers_t *want)
{
	ck_assert_uint_eq(got->flags, want->flags);
	ck_assert_int_eq(got->retry_count, want->retry_count);
	ck_assert_int_eq(got->timeout, want->timeout);
	ck_assert_int_eq(got->ttl, want->ttl);
	ck_assert_int_eq(got->run_count, want->run_count);
}

/* Encodes in, checks the frames against want[0..nwant), decodes them and
 * checks every field of the result against in. */
static void
roundtrip(const proto_msg_t *in, const gh_frame_t *want, size_t nwant)
{
	gh_frame_t out[4 + PROTO_MAX_ARGS];
	proto_msg_t dec;
	proto_err_t err;
	char what[64];
	size_t i;
	int n;

	n = proto_encode(in, out, GH_ARRAY_LEN(out), &err);
	ck_assert_msg(n >= 0, "encode %s: %s: %s", proto_cmd_name(in->cmd),
	              proto_error_name(err.code), err.text);
	ck_assert_int_eq(n, nwant);
	for (i = 0; i < nwant; i++) {
		snprintf(what, sizeof(what), "%s frame %zu", proto_cmd_name(in->cmd), i);
		assert_frame(what, out[i], want[i]);
	}

	ck_assert_msg(proto_decode(out, (size_t)n, &dec, &err) == 0, "decode %s: %s",
	              proto_cmd_name(in->cmd), err.text);
	ck_assert_int_eq(dec.cmd, in->cmd);
	assert_frame("version", dec.version, in->version.data ? in->version : FR(PROTO_VERSION));
	assert_frame("command", dec.command, fs(proto_cmd_name(in->cmd)));
	assert_frame("msgid", dec.msgid, in->msgid);
	ck_assert_uint_eq(dec.nargs, (size_t)n - 4);
	for (i = 0; i < dec.nargs; i++)
		assert_frame("arg", dec.args[i], out[4 + i]);
	assert_frame("queue", dec.queue, in->queue);
	assert_frame("headers", dec.headers, in->headers);
	assert_frame("body", dec.body, in->body);
	assert_frame("interval", dec.interval, in->interval);
	assert_frame("cron", dec.cron, in->cron);
	assert_frame("queues", dec.queues, in->queues);
	assert_frame("peer_type", dec.peer_type, in->peer_type);
	assert_frame("ref", dec.ref, in->ref);
	assert_frame("result", dec.result, in->result);
	assert_frame("timestamp", dec.timestamp, in->timestamp);
	assert_frame("topic", dec.topic, in->topic);
	assert_frame("code", dec.code, in->code);
	assert_frame("text", dec.text, in->text);
	assert_headers_eq(&dec.hdr, &in->hdr);
	ck_assert_int_eq(dec.interval_secs, in->interval_secs);
}

static int
decode_strs(const char *const *strs, size_t n, proto_msg_t *msg, proto_err_t *err)
{
	gh_frame_t f[32];
	size_t i;

	ck_assert_uint_le(n, GH_ARRAY_LEN(f));
	for (i = 0; i < n; i++)
		f[i] = fs(strs[i]);
	return proto_decode(f, n, msg, err);
}

/* ---- names ------------------------------------------------------------ */

START_TEST(test_cmd_names)
{
	static const char *const names[] = {
	    "INFORM",
	    "ACK",
	    "READY",
	    "REQUEST",
	    "REPLY",
	    "HEARTBEAT",
	    "SCHEDULE",
	    "UNSCHEDULE",
	    "DISCONNECT",
	    "KBYE",
	    "PUBLISH",
	    "HELLO",
	    "STATUS",
	    "ROUTER_SHOW_WORKERS",
	    "ROUTER_SHOW_SCHEDULERS",
	    "ERROR",
	};
	size_t i;

	ck_assert_uint_eq(GH_ARRAY_LEN(names), PROTO_CMD_COUNT - 1);
	for (i = 0; i < GH_ARRAY_LEN(names); i++) {
		proto_cmd_t c = (proto_cmd_t)(i + 1);

		ck_assert_str_eq(proto_cmd_name(c), names[i]);
		ck_assert_int_eq(proto_cmd_lookup(names[i], strlen(names[i])), c);
	}
	ck_assert_str_eq(proto_cmd_name(PROTO_NONE), "(none)");
	ck_assert_str_eq(proto_cmd_name((proto_cmd_t)99), "(invalid)");
	ck_assert_int_eq(proto_cmd_lookup("request", 7), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup("REQ", 3), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup("REQUESTS", 8), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup("REQUESTS", 7), PROTO_REQUEST);
	ck_assert_int_eq(proto_cmd_lookup("KBAI", 4), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup("READY\0", 6), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup("(none)", 6), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup("", 0), PROTO_NONE);
	ck_assert_int_eq(proto_cmd_lookup(NULL, 0), PROTO_NONE);
}
END_TEST

START_TEST(test_error_names)
{
	static const char *const tokens[] = {
	    "ok",          "short-message",   "bad-delimiter",
	    "bad-version", "unknown-command", "bad-arguments",
	    "bad-msgid",   "bad-field",       "bad-header",
	    "bad-json",
	};
	proto_error_t e;
	size_t i;

	ck_assert_uint_eq(GH_ARRAY_LEN(tokens), PROTO_ERROR_COUNT);
	for (i = 0; i < GH_ARRAY_LEN(tokens); i++) {
		ck_assert_str_eq(proto_error_name((proto_error_t)i), tokens[i]);
		e = PROTO_E_JSON;
		ck_assert_int_eq(proto_error_lookup(tokens[i], strlen(tokens[i]), &e), 0);
		ck_assert_int_eq(e, (proto_error_t)i);
	}
	ck_assert_str_eq(proto_error_name((proto_error_t)42), "unknown-error");
	e = PROTO_E_ARGS;
	ck_assert_int_eq(proto_error_lookup("queue-full", 10, &e), -1);
	ck_assert_int_eq(proto_error_lookup("bad-json ", 9, &e), -1);
	ck_assert_int_eq(proto_error_lookup(NULL, 0, &e), -1);
	ck_assert_int_eq(e, PROTO_E_ARGS);
}
END_TEST

/* ---- round trips, one per command -------------------------------------- */

START_TEST(test_rt_inform_worker)
{
	static const gh_frame_t want[] = {
	    F(""),      F(V), F("INFORM"), F(MID), F("[[20, \"email\"], [10, \"default\"]]"),
	    F("worker")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_INFORM, MID);
	m.queues = fs("[[20, \"email\"], [10, \"default\"]]");
	m.peer_type = fs("worker");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_inform_scheduler)
{
	static const gh_frame_t want[] = {F(""), F(V), F("INFORM"), F(MID), F(""), F("scheduler")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_INFORM, MID);
	m.queues = fs("");
	m.peer_type = fs("scheduler");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_ack)
{
	static const gh_frame_t want[] = {F(""), F(V), F("ACK"), F(MID), F(MID2)};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_ACK, MID);
	m.ref = fs(MID2);
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

/* Commands without arguments. */
START_TEST(test_rt_no_args)
{
	static const proto_cmd_t cmds[] = {PROTO_READY,
	                                   PROTO_DISCONNECT,
	                                   PROTO_KBYE,
	                                   PROTO_STATUS,
	                                   PROTO_ROUTER_SHOW_WORKERS,
	                                   PROTO_HELLO,
	                                   PROTO_ROUTER_SHOW_SCHEDULERS};
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(cmds); i++) {
		gh_frame_t want[4] = {F(""), F(V), {NULL, 0}, F("admin:" MID)};
		proto_msg_t m;

		want[2] = fs(proto_cmd_name(cmds[i]));
		proto_msg_init(&m, cmds[i], "admin:" MID);
		roundtrip(&m, want, GH_ARRAY_LEN(want));
	}
}
END_TEST

START_TEST(test_rt_request)
{
	static const gh_frame_t want[] = {
	    F(""), F(V), F("REQUEST"), F(MID), F("email"), F("reply-requested,timeout:30"), F(JOB)};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_REQUEST, MID);
	m.queue = fs("email");
	m.headers = fs("reply-requested,timeout:30");
	m.body = fs(JOB);
	m.hdr.flags = PROTO_H_REPLY_REQUESTED;
	m.hdr.timeout = 30;
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_reply_ack)
{
	static const gh_frame_t want[] = {F(""), F(V), F("REPLY"), F(MID2), F(MID)};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_REPLY, MID2);
	m.ref = fs(MID);
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_reply_admin)
{
	static const gh_frame_t want[] = {F(""), F(V), F("REPLY"), F(MID2),
	                                  F("{\"connected_schedulers\": {}}")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_REPLY, MID2);
	m.ref = fs("{\"connected_schedulers\": {}}");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_reply_result)
{
	static const gh_frame_t want[] = {
	    F(""), F(V), F("REPLY"), F(MID2), F("{\"value\": {\"tag\": \"email-q\"}}"), F(MID)};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_REPLY, MID2);
	m.result = fs("{\"value\": {\"tag\": \"email-q\"}}");
	m.ref = fs(MID);
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_heartbeat)
{
	static const gh_frame_t want[] = {F(""), F(V), F("HEARTBEAT"), F(MID),
	                                  F("1795446439.9970937")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_HEARTBEAT, MID);
	m.timestamp = fs("1795446439.9970937");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_schedule_interval)
{
	static const gh_frame_t want[] = {F(""),  F(V),         F("SCHEDULE"),
	                                  F(MID), F("default"), F("guarantee"),
	                                  F("2"), F(JOB),       F("")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_SCHEDULE, MID);
	m.queue = fs("default");
	m.headers = fs("guarantee");
	m.interval = fs("2");
	m.body = fs(JOB);
	m.cron = fs("");
	m.hdr.flags = PROTO_H_GUARANTEE;
	m.interval_secs = 2;
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_schedule_cron)
{
	static const gh_frame_t want[] = {F(""),   F(V),         F("SCHEDULE"),
	                                  F(MID),  F("default"), F("nohaste,run_count:3"),
	                                  F("-1"), F(JOB),       F("*/5 * * * MON-FRI")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_SCHEDULE, MID);
	m.queue = fs("default");
	m.headers = fs("nohaste,run_count:3");
	m.interval = fs("-1");
	m.body = fs(JOB);
	m.cron = fs("*/5 * * * MON-FRI");
	m.hdr.flags = PROTO_H_NOHASTE;
	m.hdr.run_count = 3;
	m.interval_secs = -1;
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_unschedule)
{
	static const gh_frame_t want[] = {F(""),   F(V),         F("UNSCHEDULE"),
	                                  F(MID),  F("default"), F("guarantee"),
	                                  F("60"), F(JOB),       F("")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_UNSCHEDULE, MID);
	m.queue = fs("default");
	m.headers = fs("guarantee");
	m.interval = fs("60");
	m.body = fs(JOB);
	m.cron = fs("");
	m.hdr.flags = PROTO_H_GUARANTEE;
	m.interval_secs = 60;
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_publish)
{
	static const gh_frame_t want[] = {
	    F(""), F(V), F("PUBLISH"), F(MID), F("news.sports"), F("{\"score\": [3, 1]}")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_PUBLISH, MID);
	m.topic = fs("news.sports");
	m.body = fs("{\"score\": [3, 1]}");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_hello_args)
{
	static const gh_frame_t want[] = {F(""),  F(V),  F("HELLO"), F(MID),
	                                  F("x"), F(""), F("\x01")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_HELLO, MID);
	m.args[0] = fs("x");
	m.args[1] = fs("");
	m.args[2] = FR("\x01");
	m.nargs = 3;
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_error)
{
	static const gh_frame_t want[] = {F(""),
	                                  F(V),
	                                  F("ERROR"),
	                                  F(MID2),
	                                  F(MID),
	                                  F("queue-full"),
	                                  F("queue \"email\" is full (10000 jobs)")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_ERROR, MID2);
	m.ref = fs(MID);
	m.code = fs("queue-full");
	m.text = fs("queue \"email\" is full (10000 jobs)");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_error_no_ref)
{
	static const gh_frame_t want[] = {F(""), F(V),           F("ERROR"),      F(MID2),
	                                  F(""), F("bad-msgid"), F("caf\xc3\xa9")};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_ERROR, MID2);
	m.ref = fs("");
	m.code = fs("bad-msgid");
	m.text = fs("caf\xc3\xa9");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

START_TEST(test_rt_other_version)
{
	static const gh_frame_t want[] = {F(""), F("eMQP/1.1 beta"), F("KBYE"), F(MID)};
	proto_msg_t m;

	proto_msg_init(&m, PROTO_KBYE, MID);
	m.version = fs("eMQP/1.1 beta");
	roundtrip(&m, want, GH_ARRAY_LEN(want));
}
END_TEST

/* Bodies, results and PUBLISH messages are opaque: every byte survives. */
START_TEST(test_rt_binary_bodies)
{
	char bin[512];
	gh_frame_t want[7] = {F(""), F(V), F("REQUEST"), F(MID), F("q"), F(""), {bin, sizeof(bin)}};
	proto_msg_t m;
	size_t i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i % 256);
	bin[300] = '\0';

	proto_msg_init(&m, PROTO_REQUEST, MID);
	m.queue = fs("q");
	m.headers = fs("");
	m.body = want[6];
	roundtrip(&m, want, GH_ARRAY_LEN(want));

	want[2] = FR("PUBLISH");
	want[4] = FR("t");
	want[5] = FR("a\0b\xff");
	proto_msg_init(&m, PROTO_PUBLISH, MID);
	m.topic = fs("t");
	m.body = want[5];
	roundtrip(&m, want, 6);

	want[2] = FR("REPLY");
	want[4] = (gh_frame_t){bin, sizeof(bin)};
	want[5] = FR(MID2);
	proto_msg_init(&m, PROTO_REPLY, MID);
	m.result = want[4];
	m.ref = want[5];
	roundtrip(&m, want, 6);

	/* An empty body is a body too. */
	want[2] = FR("REQUEST");
	want[4] = FR("q");
	want[5] = FR("");
	want[6] = FR("");
	proto_msg_init(&m, PROTO_REQUEST, MID);
	m.queue = fs("q");
	m.headers = fs("");
	m.body = fs("");
	roundtrip(&m, want, 7);
}
END_TEST

/* ---- decoding details -------------------------------------------------- */

/* The socket glue may hand over empty frames with data NULL. */
START_TEST(test_decode_null_empty_frames)
{
	gh_frame_t f[] = {{NULL, 0}, F(V), F("REQUEST"), F(MID), F("q"), {NULL, 0}, {NULL, 0}};
	proto_msg_t m;
	proto_err_t err;

	ck_assert_msg(proto_decode(f, GH_ARRAY_LEN(f), &m, &err) == 0, "%s", err.text);
	ck_assert_int_eq(m.cmd, PROTO_REQUEST);
	ck_assert_ptr_nonnull(m.headers.data);
	ck_assert_uint_eq(m.headers.size, 0);
	ck_assert_ptr_nonnull(m.body.data);
	ck_assert_uint_eq(m.body.size, 0);
	ck_assert_ptr_nonnull(m.args[1].data);
	ck_assert_uint_eq(m.hdr.flags, 0);
	ck_assert_int_eq(m.hdr.timeout, -1);
	/* Fields of other commands stay unset. */
	ck_assert_ptr_null(m.topic.data);
	ck_assert_ptr_null(m.ref.data);
	ck_assert_ptr_null(m.cron.data);
	ck_assert_int_eq(m.interval_secs, -1);
}
END_TEST

/* Decoded views point into the caller's frames (borrowed, no copies). */
START_TEST(test_decode_borrows)
{
	gh_frame_t f[] = {F(""), F(V), F("PUBLISH"), F(MID), F("t"), F("m")};
	proto_msg_t m;

	ck_assert_int_eq(proto_decode(f, GH_ARRAY_LEN(f), &m, NULL), 0);
	ck_assert_ptr_eq(m.topic.data, f[4].data);
	ck_assert_ptr_eq(m.body.data, f[5].data);
	ck_assert_ptr_eq(m.msgid.data, f[3].data);
	ck_assert_ptr_eq(m.version.data, f[1].data);
}
END_TEST

START_TEST(test_decode_hello_many_args)
{
	const char *s[4 + PROTO_MAX_ARGS + 3];
	proto_msg_t m;
	proto_err_t err;
	size_t i;

	s[0] = "";
	s[1] = V;
	s[2] = "HELLO";
	s[3] = MID;
	for (i = 4; i < GH_ARRAY_LEN(s); i++)
		s[i] = "arg";
	ck_assert_msg(decode_strs(s, GH_ARRAY_LEN(s), &m, &err) == 0, "%s", err.text);
	ck_assert_int_eq(m.cmd, PROTO_HELLO);
	ck_assert_uint_eq(m.nargs, PROTO_MAX_ARGS);
}
END_TEST

/* On error, cmd and msgid are kept whenever they could be read. */
START_TEST(test_decode_error_keeps_ids)
{
	static const char *const bad_queue[] = {"", V, "REQUEST", MID, "", "", "{}"};
	static const char *const bad_msgid[] = {"", V, "REQUEST", "m\x01", "q", "", "{}"};
	static const char *const bad_cmd[] = {"", V, "FROB", MID};
	static const char *const bad_version[] = {"", "", "READY", MID};
	static const char *const bad_args[] = {"", V, "READY", MID, "extra"};
	static const char *const bad_delim[] = {"x", V, "READY", MID};
	static const char *const shortm[] = {"", V, "READY"};
	proto_msg_t m;
	proto_err_t err;

	ck_assert_int_eq(decode_strs(bad_queue, 7, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
	ck_assert_int_eq(m.cmd, PROTO_REQUEST);
	assert_frame("msgid", m.msgid, FR(MID));

	ck_assert_int_eq(decode_strs(bad_msgid, 7, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_MSGID);
	ck_assert_int_eq(m.cmd, PROTO_REQUEST);
	ck_assert_ptr_null(m.msgid.data);

	ck_assert_int_eq(decode_strs(bad_cmd, 4, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_COMMAND);
	ck_assert_int_eq(m.cmd, PROTO_NONE);
	assert_frame("msgid", m.msgid, FR(MID));

	ck_assert_int_eq(decode_strs(bad_version, 4, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_VERSION);
	ck_assert_int_eq(m.cmd, PROTO_READY);
	assert_frame("msgid", m.msgid, FR(MID));

	ck_assert_int_eq(decode_strs(bad_args, 5, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_ARGS);
	ck_assert_int_eq(m.cmd, PROTO_READY);
	assert_frame("msgid", m.msgid, FR(MID));

	ck_assert_int_eq(decode_strs(bad_delim, 4, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_DELIM);
	ck_assert_int_eq(m.cmd, PROTO_NONE);
	ck_assert_ptr_null(m.msgid.data);

	ck_assert_int_eq(decode_strs(shortm, 3, &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_SHORT);
	ck_assert_int_eq(m.cmd, PROTO_READY);
	ck_assert_ptr_null(m.msgid.data);
}
END_TEST

/* Error texts quote bad bytes escaped and cut, and never overflow. */
START_TEST(test_decode_error_text_escaped)
{
	char junk[300];
	gh_frame_t f[] = {F(""), F(V), {junk, sizeof(junk)}, F(MID)};
	gh_frame_t g[] = {F(""), F(V), F("REQUEST"), F(MID), {junk, sizeof(junk)}, F(""), F("")};
	proto_msg_t m;
	proto_err_t err;
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i % 7 == 0 ? 0 : 0x80 + i % 100);

	ck_assert_int_eq(proto_decode(f, GH_ARRAY_LEN(f), &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_COMMAND);
	assert_printable_text(&err);
	ck_assert_ptr_nonnull(strstr(err.text, "unknown command \"\\x00\\x81"));
	ck_assert_ptr_nonnull(strstr(err.text, "...\""));

	ck_assert_int_eq(proto_decode(g, GH_ARRAY_LEN(g), &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
	assert_printable_text(&err);
	ck_assert_ptr_nonnull(strstr(err.text, "REQUEST: frame 4 (queue)"));

	/* Quotes and backslashes are escaped too. */
	f[2] = FR("A\"B\\C");
	ck_assert_int_eq(proto_decode(f, GH_ARRAY_LEN(f), &m, &err), -1);
	ck_assert_str_eq(err.text, "frame 2 (command): unknown command \"A\\\"B\\\\C\"");

	/* err may be NULL. */
	ck_assert_int_eq(proto_decode(f, GH_ARRAY_LEN(f), &m, NULL), -1);
	ck_assert_int_eq(proto_decode(NULL, 0, &m, NULL), -1);
}
END_TEST

START_TEST(test_decode_unschedule_lax)
{
	static const char *const s[] = {"", V, "UNSCHEDULE", MID, "", "timeout:x", "None", JOB, ""};
	static const char *const s2[] = {"",        V,    "UNSCHEDULE", MID,        "default",
	                                 "nohaste", "-1", JOB,          "0 4 * * *"};
	static const char *const empty_body[] = {"", V,   "UNSCHEDULE", MID, "default",
	                                         "", "1", "",           ""};
	proto_msg_t m;
	proto_err_t err;

	ck_assert_msg(decode_strs(s, GH_ARRAY_LEN(s), &m, &err) == 0, "%s", err.text);
	ck_assert_int_eq(m.cmd, PROTO_UNSCHEDULE);
	assert_frame("body", m.body, FR(JOB));
	assert_frame("interval", m.interval, FR("None"));
	ck_assert_int_eq(m.interval_secs, -1);
	ck_assert_uint_eq(m.hdr.flags, 0);
	ck_assert_int_eq(m.hdr.timeout, -1);

	ck_assert_msg(decode_strs(s2, GH_ARRAY_LEN(s2), &m, &err) == 0, "%s", err.text);
	ck_assert_uint_eq(m.hdr.flags, PROTO_H_NOHASTE);
	ck_assert_int_eq(m.interval_secs, -1);
	assert_frame("cron", m.cron, FR("0 4 * * *"));

	ck_assert_int_eq(decode_strs(empty_body, GH_ARRAY_LEN(empty_body), &m, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
	ck_assert_str_eq(err.text, "UNSCHEDULE: frame 7 (body): must not be empty");
}
END_TEST

START_TEST(test_decode_valid_edges)
{
	static const char *const cases[][9] = {
	    {"", V, "HEARTBEAT", MID, "0"},
	    {"", V, "HEARTBEAT", MID, "1795446439"},
	    {"", V, "SCHEDULE", MID, "q", "", "0", "{}", ""},
	    {"", V, "SCHEDULE", MID, "q", "", "2147483647", "{}", ""},
	    {"", V, "SCHEDULE", MID, "q", "", "-1", "{}", "@daily"},
	    {"", V, "REQUEST", MID, S255, S1024, "{}"},
	    {"", V, "REQUEST", "m", "exclusive!q", " reply-requested ", "{}"},
	    {"", V, "REQUEST", S128, "\xe6\x97\xa5\xe6\x9c\xac", "", "{}"},
	    {"", V, "ACK", "admin:" MID, "x y"},
	    {"", "\x20", "READY", "~"},
	    {"", "12345678901234567890123456789012", "READY", MID},
	};
	static const size_t n[] = {5, 5, 9, 9, 9, 7, 7, 7, 5, 4, 4};
	proto_msg_t m;
	proto_err_t err;
	size_t i;

	ck_assert_uint_eq(GH_ARRAY_LEN(cases), GH_ARRAY_LEN(n));
	for (i = 0; i < GH_ARRAY_LEN(cases); i++)
		ck_assert_msg(decode_strs(cases[i], n[i], &m, &err) == 0, "case %zu: %s", i,
		              err.text);
}
END_TEST

/* ---- malformed messages ------------------------------------------------ */

struct bad_case {
	const char *name;
	size_t n;
	gh_frame_t f[16];
	proto_error_t code;
	const char *needle; /* must appear in err.text, or NULL */
};

#define BAD(nm, code, needle, ...)                                                                 \
	{                                                                                          \
		nm, sizeof((gh_frame_t[]){__VA_ARGS__}) / sizeof(gh_frame_t), {__VA_ARGS__}, code, \
		    needle                                                                         \
	}

static const struct bad_case bad_cases[] = {
    {"empty message", 0, {{NULL, 0}}, PROTO_E_SHORT, "empty message"},
    BAD("no delimiter", PROTO_E_DELIM, "frame 0", F(V), F("READY"), F(MID)),
    BAD("no delimiter, full REQUEST", PROTO_E_DELIM, NULL, F(V), F("REQUEST"), F(MID), F("q"),
        F(""), F("{}")),
    BAD("delimiter only", PROTO_E_SHORT, "got 1", F("")),
    BAD("no command", PROTO_E_SHORT, "got 2", F(""), F(V)),
    BAD("no msgid", PROTO_E_SHORT, "READY: expected at least 4 frames", F(""), F(V), F("READY")),
    BAD("empty version", PROTO_E_VERSION, "frame 1 (version)", F(""), F(""), F("READY"), F(MID)),
    BAD("version control char", PROTO_E_VERSION, "\\x0a", F(""), F("eMQP/1.0\n"), F("READY"),
        F(MID)),
    BAD("version 33 bytes", PROTO_E_VERSION, NULL, F(""), F("123456789012345678901234567890123"),
        F("READY"), F(MID)),
    BAD("version utf-8", PROTO_E_VERSION, NULL, F(""), F("eMQP/1.0\xc3\xa9"), F("READY"), F(MID)),
    BAD("unknown command", PROTO_E_COMMAND, "unknown command \"FROB\"", F(""), F(V), F("FROB"),
        F(MID)),
    BAD("lower-case command", PROTO_E_COMMAND, "\"request\"", F(""), F(V), F("request"), F(MID),
        F("q"), F(""), F("{}")),
    BAD("KBAI (doc spelling)", PROTO_E_COMMAND, NULL, F(""), F(V), F("KBAI"), F(MID)),
    BAD("empty command", PROTO_E_COMMAND, NULL, F(""), F(V), F(""), F(MID)),
    BAD("command with NUL", PROTO_E_COMMAND, "READY\\x00", F(""), F(V), F("READY\0"), F(MID)),
    BAD("command long", PROTO_E_COMMAND, "...", F(""), F(V), F(S64), F(MID)),
    BAD("REQUEST 2 args", PROTO_E_ARGS,
        "REQUEST: expected 3 argument frames after the msgid, got 2", F(""), F(V), F("REQUEST"),
        F(MID), F("q"), F("")),
    BAD("REQUEST 4 args", PROTO_E_ARGS, "got 4", F(""), F(V), F("REQUEST"), F(MID), F("q"), F(""),
        F("{}"), F("x")),
    BAD("INFORM 1 arg", PROTO_E_ARGS, "INFORM: expected 2", F(""), F(V), F("INFORM"), F(MID),
        F("worker")),
    BAD("INFORM 3 args", PROTO_E_ARGS, NULL, F(""), F(V), F("INFORM"), F(MID), F(""), F("worker"),
        F("x")),
    BAD("ACK 0 args", PROTO_E_ARGS, "ACK: expected 1 argument frame after the msgid, got 0", F(""),
        F(V), F("ACK"), F(MID)),
    BAD("ACK 2 args", PROTO_E_ARGS, NULL, F(""), F(V), F("ACK"), F(MID), F(MID2), F(MID2)),
    BAD("READY 1 arg", PROTO_E_ARGS, NULL, F(""), F(V), F("READY"), F(MID), F("")),
    BAD("REPLY 0 args", PROTO_E_ARGS,
        "REPLY: expected 1 or 2 argument frames after the msgid, got 0", F(""), F(V), F("REPLY"),
        F(MID)),
    BAD("REPLY 3 args", PROTO_E_ARGS, NULL, F(""), F(V), F("REPLY"), F(MID), F("{}"), F(MID2),
        F("x")),
    BAD("HEARTBEAT 0 args", PROTO_E_ARGS, NULL, F(""), F(V), F("HEARTBEAT"), F(MID)),
    BAD("HEARTBEAT 2 args", PROTO_E_ARGS, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F("1"),
        F("2")),
    BAD("SCHEDULE as documented (3 args)", PROTO_E_ARGS, NULL, F(""), F(V), F("SCHEDULE"), F(MID),
        F("q"), F(""), F("{}")),
    BAD("SCHEDULE 4 args", PROTO_E_ARGS, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"), F(""),
        F("5"), F("{}")),
    BAD("SCHEDULE 6 args", PROTO_E_ARGS, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"), F(""),
        F("5"), F("{}"), F(""), F("")),
    BAD("UNSCHEDULE 4 args", PROTO_E_ARGS, NULL, F(""), F(V), F("UNSCHEDULE"), F(MID), F("q"),
        F(""), F("5"), F("{}")),
    BAD("DISCONNECT 1 arg", PROTO_E_ARGS, NULL, F(""), F(V), F("DISCONNECT"), F(MID), F("x")),
    BAD("KBYE 1 arg", PROTO_E_ARGS, NULL, F(""), F(V), F("KBYE"), F(MID), F("x")),
    BAD("STATUS 1 arg", PROTO_E_ARGS, NULL, F(""), F(V), F("STATUS"), F(MID), F("x")),
    BAD("ROUTER_SHOW_WORKERS 1 arg", PROTO_E_ARGS, NULL, F(""), F(V), F("ROUTER_SHOW_WORKERS"),
        F(MID), F("x")),
    BAD("ROUTER_SHOW_SCHEDULERS 1 arg", PROTO_E_ARGS, NULL, F(""), F(V),
        F("ROUTER_SHOW_SCHEDULERS"), F(MID), F("x")),
    BAD("PUBLISH as documented (3 args)", PROTO_E_ARGS, NULL, F(""), F(V), F("PUBLISH"), F(MID),
        F("t"), F(""), F("m")),
    BAD("PUBLISH 1 arg", PROTO_E_ARGS, NULL, F(""), F(V), F("PUBLISH"), F(MID), F("t")),
    BAD("ERROR 2 args", PROTO_E_ARGS, NULL, F(""), F(V), F("ERROR"), F(MID), F(MID2),
        F("bad-json")),
    BAD("ERROR 4 args", PROTO_E_ARGS, NULL, F(""), F(V), F("ERROR"), F(MID), F(MID2), F("bad-json"),
        F("x"), F("y")),
    BAD("empty msgid", PROTO_E_MSGID, "frame 3 (msgid)", F(""), F(V), F("READY"), F("")),
    BAD("msgid 129 bytes", PROTO_E_MSGID, "129 bytes", F(""), F(V), F("READY"), F(S128 "x")),
    BAD("msgid control char", PROTO_E_MSGID, "\\x09", F(""), F(V), F("READY"), F("a\tb")),
    BAD("msgid NUL", PROTO_E_MSGID, "\\x00", F(""), F(V), F("READY"), F("ab\0")),
    BAD("msgid utf-8", PROTO_E_MSGID, NULL, F(""), F(V), F("READY"), F("caf\xc3\xa9")),
    BAD("msgid DEL", PROTO_E_MSGID, NULL, F(""), F(V), F("READY"), F("a\x7f")),
    BAD("ACK ref empty", PROTO_E_MSGID, "ACK: frame 4 (ref)", F(""), F(V), F("ACK"), F(MID), F("")),
    BAD("ACK ref control char", PROTO_E_MSGID, NULL, F(""), F(V), F("ACK"), F(MID), F("a\nb")),
    BAD("REPLY ref bad", PROTO_E_MSGID, "REPLY: frame 5 (ref)", F(""), F(V), F("REPLY"), F(MID),
        F("{}"), F("")),
    BAD("REPLY 1 arg empty", PROTO_E_FIELD, "REPLY: frame 4 (ref): must not be empty", F(""), F(V),
        F("REPLY"), F(MID), F("")),
    BAD("queue empty", PROTO_E_FIELD, "REQUEST: frame 4 (queue)", F(""), F(V), F("REQUEST"), F(MID),
        F(""), F(""), F("{}")),
    BAD("queue 256 bytes", PROTO_E_FIELD, "256 bytes", F(""), F(V), F("REQUEST"), F(MID), F(S256),
        F(""), F("{}")),
    BAD("queue control char", PROTO_E_FIELD, "\\x01", F(""), F(V), F("REQUEST"), F(MID), F("a\x01"),
        F(""), F("{}")),
    BAD("queue NUL", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID), F("a\0b"), F(""),
        F("{}")),
    BAD("queue DEL", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID), F("a\x7f"), F(""),
        F("{}")),
    BAD("queue C1 control", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID), F("a\xc2\x85"),
        F(""), F("{}")),
    BAD("queue invalid utf-8", PROTO_E_FIELD, "\\xff", F(""), F(V), F("REQUEST"), F(MID),
        F("a\xff"), F(""), F("{}")),
    BAD("queue truncated utf-8", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID),
        F("a\xe6\x97"), F(""), F("{}")),
    BAD("queue overlong utf-8", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID),
        F("\xc0\xaf"), F(""), F("{}")),
    BAD("queue surrogate", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID),
        F("\xed\xa0\x80"), F(""), F("{}")),
    BAD("queue above U+10FFFF", PROTO_E_FIELD, NULL, F(""), F(V), F("REQUEST"), F(MID),
        F("\xf4\x90\x80\x80"), F(""), F("{}")),
    BAD("SCHEDULE queue bad", PROTO_E_FIELD, "SCHEDULE: frame 4 (queue)", F(""), F(V),
        F("SCHEDULE"), F(MID), F(""), F(""), F("5"), F("{}"), F("")),
    BAD("PUBLISH topic empty", PROTO_E_FIELD, "PUBLISH: frame 4 (topic)", F(""), F(V), F("PUBLISH"),
        F(MID), F(""), F("m")),
    BAD("PUBLISH topic control", PROTO_E_FIELD, NULL, F(""), F(V), F("PUBLISH"), F(MID), F("\n"),
        F("m")),
    BAD("header negative", PROTO_E_HEADER, "header \"timeout:-1\"", F(""), F(V), F("REQUEST"),
        F(MID), F("q"), F("timeout:-1"), F("{}")),
    BAD("header overflow", PROTO_E_HEADER, "retry-count:", F(""), F(V), F("REQUEST"), F(MID),
        F("q"), F("retry-count:2147483648"), F("{}")),
    BAD("header huge", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("ttl:99999999999999999999999999"), F("{}")),
    BAD("header not a number", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("reply-requested,ttl:abc"), F("{}")),
    BAD("header fraction", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("timeout:1.5"), F("{}")),
    BAD("header empty number", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("timeout:"), F("{}")),
    BAD("header plus sign", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("timeout:+5"), F("{}")),
    BAD("header space in number", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("timeout: 5"), F("{}")),
    BAD("header run_count bad", PROTO_E_HEADER, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"),
        F("run_count:x"), F("5"), F("{}"), F("")),
    BAD("headers 1025 bytes", PROTO_E_HEADER, "1025 bytes", F(""), F(V), F("REQUEST"), F(MID),
        F("q"), F(S1024 "x"), F("{}")),
    BAD("headers control char", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("reply-requested\t"), F("{}")),
    BAD("headers invalid utf-8", PROTO_E_HEADER, NULL, F(""), F(V), F("REQUEST"), F(MID), F("q"),
        F("x-\xfe"), F("{}")),
    BAD("INFORM queues not JSON", PROTO_E_JSON, "INFORM: frame 4 (queues): queues are not JSON",
        F(""), F(V), F("INFORM"), F(MID), F("email"), F("worker")),
    BAD("INFORM queues python repr", PROTO_E_JSON, NULL, F(""), F(V), F("INFORM"), F(MID),
        F("[(10, 'default')]"), F("worker")),
    BAD("INFORM queues object", PROTO_E_JSON, "array", F(""), F(V), F("INFORM"), F(MID),
        F("{\"default\": 10}"), F("worker")),
    BAD("INFORM queue not a pair", PROTO_E_JSON, "queue 0 is not", F(""), F(V), F("INFORM"), F(MID),
        F("[10, \"default\"]"), F("worker")),
    BAD("INFORM queue triple", PROTO_E_JSON, "queue 1 is not", F(""), F(V), F("INFORM"), F(MID),
        F("[[1, \"a\"], [1, \"b\", 2]]"), F("worker")),
    BAD("INFORM weight float", PROTO_E_JSON, "weight is not an integer", F(""), F(V), F("INFORM"),
        F(MID), F("[[10.5, \"default\"]]"), F("worker")),
    BAD("INFORM weight string", PROTO_E_JSON, NULL, F(""), F(V), F("INFORM"), F(MID),
        F("[[\"10\", \"default\"]]"), F("worker")),
    BAD("INFORM weight negative", PROTO_E_JSON, "-1", F(""), F(V), F("INFORM"), F(MID),
        F("[[-1, \"default\"]]"), F("worker")),
    BAD("INFORM weight too big", PROTO_E_JSON, NULL, F(""), F(V), F("INFORM"), F(MID),
        F("[[1000001, \"default\"]]"), F("worker")),
    BAD("INFORM name not string", PROTO_E_JSON, "name is not a string", F(""), F(V), F("INFORM"),
        F(MID), F("[[10, 5]]"), F("worker")),
    BAD("INFORM name empty", PROTO_E_JSON, "invalid name", F(""), F(V), F("INFORM"), F(MID),
        F("[[10, \"\"]]"), F("worker")),
    BAD("INFORM name control char", PROTO_E_JSON, NULL, F(""), F(V), F("INFORM"), F(MID),
        F("[[10, \"a\\u0001\"]]"), F("worker")),
    BAD("INFORM name NUL", PROTO_E_JSON, NULL, F(""), F(V), F("INFORM"), F(MID),
        F("[[10, \"a\\u0000b\"]]"), F("worker")),
    BAD("INFORM trailing garbage", PROTO_E_JSON, NULL, F(""), F(V), F("INFORM"), F(MID),
        F("[[10, \"a\"]] x"), F("worker")),
    BAD("INFORM bad peer type", PROTO_E_FIELD, "INFORM: frame 5 (peer type)", F(""), F(V),
        F("INFORM"), F(MID), F(""), F("Worker")),
    BAD("INFORM empty peer type", PROTO_E_FIELD, NULL, F(""), F(V), F("INFORM"), F(MID), F(""),
        F("")),
    BAD("SCHEDULE interval not integer", PROTO_E_FIELD, "SCHEDULE: frame 6 (interval)", F(""), F(V),
        F("SCHEDULE"), F(MID), F("q"), F(""), F("abc"), F("{}"), F("")),
    BAD("SCHEDULE interval fraction", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID),
        F("q"), F(""), F("1.5"), F("{}"), F("")),
    BAD("SCHEDULE interval -2", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"),
        F(""), F("-2"), F("{}"), F("* * * * *")),
    BAD("SCHEDULE interval empty", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"),
        F(""), F(""), F("{}"), F("")),
    BAD("SCHEDULE interval overflow", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID),
        F("q"), F(""), F("2147483648"), F("{}"), F("")),
    BAD("SCHEDULE interval None", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"),
        F(""), F("None"), F("{}"), F("* * * * *")),
    BAD("SCHEDULE cron without expression", PROTO_E_FIELD, "frame 8 (cron)", F(""), F(V),
        F("SCHEDULE"), F(MID), F("q"), F(""), F("-1"), F("{}"), F("")),
    BAD("SCHEDULE interval with cron", PROTO_E_FIELD, "must be empty", F(""), F(V), F("SCHEDULE"),
        F(MID), F("q"), F(""), F("5"), F("{}"), F("* * * * *")),
    BAD("SCHEDULE cron control char", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID),
        F("q"), F(""), F("-1"), F("{}"), F("* * * * *\n")),
    BAD("SCHEDULE cron 256 bytes", PROTO_E_FIELD, NULL, F(""), F(V), F("SCHEDULE"), F(MID), F("q"),
        F(""), F("-1"), F("{}"), F(S256)),
    BAD("SCHEDULE empty body", PROTO_E_FIELD, "frame 7 (body)", F(""), F(V), F("SCHEDULE"), F(MID),
        F("q"), F(""), F("5"), F(""), F("")),
    BAD("HEARTBEAT non-numeric", PROTO_E_FIELD, "HEARTBEAT: frame 4 (timestamp)", F(""), F(V),
        F("HEARTBEAT"), F(MID), F("now")),
    BAD("HEARTBEAT empty", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F("")),
    BAD("HEARTBEAT negative", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F("-1.5")),
    BAD("HEARTBEAT trailing dot", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID),
        F("1795446439.")),
    BAD("HEARTBEAT leading dot", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F(".5")),
    BAD("HEARTBEAT two dots", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F("1.2.3")),
    BAD("HEARTBEAT exponent", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F("1e9")),
    BAD("HEARTBEAT space", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID), F(" 1")),
    BAD("HEARTBEAT too long", PROTO_E_FIELD, NULL, F(""), F(V), F("HEARTBEAT"), F(MID),
        F("123456789012345678901234567890123")),
    BAD("ERROR bad ref", PROTO_E_MSGID, "ERROR: frame 4 (ref)", F(""), F(V), F("ERROR"), F(MID),
        F("a\x01"), F("bad-json"), F("")),
    BAD("ERROR empty code", PROTO_E_FIELD, "ERROR: frame 5 (code)", F(""), F(V), F("ERROR"), F(MID),
        F(MID2), F(""), F("")),
    BAD("ERROR code upper case", PROTO_E_FIELD, NULL, F(""), F(V), F("ERROR"), F(MID), F(MID2),
        F("BAD"), F("")),
    BAD("ERROR code too long", PROTO_E_FIELD, NULL, F(""), F(V), F("ERROR"), F(MID), F(MID2),
        F("abcdefghijklmnopqrstuvwxyzabcdefg"), F("")),
    BAD("ERROR text not utf-8", PROTO_E_FIELD, "frame 6 (text)", F(""), F(V), F("ERROR"), F(MID),
        F(MID2), F("denied"), F("\xff")),
};

START_TEST(test_bad_message)
{
	const struct bad_case *c = &bad_cases[_i];
	proto_msg_t m;
	proto_err_t err;

	ck_assert_msg(proto_decode(c->f, c->n, &m, &err) == -1, "%s: accepted", c->name);
	ck_assert_msg(err.code == c->code, "%s: got %s (%s), want %s", c->name,
	              proto_error_name(err.code), err.text, proto_error_name(c->code));
	assert_printable_text(&err);
	if (c->needle != NULL)
		ck_assert_msg(strstr(err.text, c->needle) != NULL, "%s: \"%s\" lacks \"%s\"",
		              c->name, err.text, c->needle);
}
END_TEST

/* ---- encoding errors --------------------------------------------------- */

START_TEST(test_encode_optional_fields)
{
	gh_frame_t out[16];
	proto_msg_t m;
	proto_err_t err;
	int n;

	proto_msg_init(&m, PROTO_REQUEST, MID);
	m.queue = fs("q");
	m.body = fs("{}");
	n = proto_encode(&m, out, GH_ARRAY_LEN(out), &err);
	ck_assert_msg(n == 7, "%d: %s", n, err.text);
	assert_frame("headers", out[5], FR(""));
	assert_frame("version", out[1], FR(PROTO_VERSION));
	assert_frame("delimiter", out[0], FR(""));

	proto_msg_init(&m, PROTO_UNSCHEDULE, MID);
	m.body = fs(JOB);
	n = proto_encode(&m, out, GH_ARRAY_LEN(out), &err);
	ck_assert_msg(n == 9, "%d: %s", n, err.text);
	assert_frame("queue", out[4], FR(""));
	assert_frame("interval", out[6], FR(""));
	assert_frame("body", out[7], FR(JOB));
	assert_frame("cron", out[8], FR(""));

	proto_msg_init(&m, PROTO_INFORM, MID);
	m.peer_type = fs("scheduler");
	n = proto_encode(&m, out, GH_ARRAY_LEN(out), &err);
	ck_assert_msg(n == 6, "%d: %s", n, err.text);
	assert_frame("queues", out[4], FR(""));

	proto_msg_init(&m, PROTO_ERROR, MID);
	m.code = fs("expired");
	n = proto_encode(&m, out, GH_ARRAY_LEN(out), &err);
	ck_assert_msg(n == 7, "%d: %s", n, err.text);
	assert_frame("ref", out[4], FR(""));
	assert_frame("text", out[6], FR(""));

	/* Named views, not args[], are what gets encoded. */
	proto_msg_init(&m, PROTO_ACK, MID);
	m.ref = fs(MID2);
	m.args[0] = fs("ignored");
	m.nargs = 1;
	m.topic = fs("ignored too");
	n = proto_encode(&m, out, GH_ARRAY_LEN(out), &err);
	ck_assert_msg(n == 5, "%d: %s", n, err.text);
	assert_frame("ref", out[4], FR(MID2));
}
END_TEST

START_TEST(test_encode_errors)
{
	gh_frame_t out[16];
	proto_msg_t m;
	proto_err_t err;

	proto_msg_init(&m, PROTO_NONE, MID);
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_COMMAND);
	proto_msg_init(&m, (proto_cmd_t)99, MID);
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_COMMAND);

	proto_msg_init(&m, PROTO_READY, NULL);
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_MSGID);
	proto_msg_init(&m, PROTO_READY, "bad\nmsgid");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_MSGID);

	proto_msg_init(&m, PROTO_REQUEST, MID);
	m.body = fs("{}");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
	ck_assert_str_eq(err.text, "REQUEST: cannot encode without queue");
	m.queue = fs("q\x01");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
	m.queue = fs("q");
	m.headers = fs("timeout:soon");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_HEADER);
	m.headers = fs("");
	m.body.data = NULL;
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_str_eq(err.text, "REQUEST: cannot encode without body");
	m.body = fs("{}");
	ck_assert_int_eq(proto_encode(&m, out, 7, &err), 7);
	ck_assert_int_eq(proto_encode(&m, out, 6, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_SHORT);
	ck_assert_int_eq(proto_encode(&m, NULL, 0, NULL), -1);
	m.version = fs("");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_VERSION);

	proto_msg_init(&m, PROTO_SCHEDULE, MID);
	m.queue = fs("q");
	m.body = fs("{}");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_str_eq(err.text, "SCHEDULE: cannot encode without interval");
	m.interval = fs("-1");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
	m.cron = fs("0 * * * *");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), 9);

	proto_msg_init(&m, PROTO_INFORM, MID);
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_str_eq(err.text, "INFORM: cannot encode without peer_type");
	m.peer_type = fs("worker");
	m.queues = fs("[[1, 2]]");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_JSON);

	proto_msg_init(&m, PROTO_HELLO, MID);
	m.nargs = PROTO_MAX_ARGS + 1;
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_ARGS);

	proto_msg_init(&m, PROTO_HEARTBEAT, MID);
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	m.timestamp = fs("soon");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);

	proto_msg_init(&m, PROTO_PUBLISH, MID);
	m.topic = fs("t");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_str_eq(err.text, "PUBLISH: cannot encode without body");

	proto_msg_init(&m, PROTO_ERROR, MID);
	m.code = fs("Bad Code");
	ck_assert_int_eq(proto_encode(&m, out, 16, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_FIELD);
}
END_TEST

/* ---- headers ----------------------------------------------------------- */

START_TEST(test_headers_parse)
{
	static const struct {
		const char *csv;
		unsigned flags;
		long retry_count, timeout, ttl, run_count;
	} ok[] = {
	    {"", 0, -1, -1, -1, -1},
	    {"reply-requested", PROTO_H_REPLY_REQUESTED, -1, -1, -1, -1},
	    {" reply-requested , ,guarantee,, nohaste ",
	     PROTO_H_REPLY_REQUESTED | PROTO_H_GUARANTEE | PROTO_H_NOHASTE, -1, -1, -1, -1},
	    {",,,", 0, -1, -1, -1, -1},
	    {"retry-count:3,timeout:30,ttl:60,run_count:5", 0, 3, 30, 60, 5},
	    {"timeout:0", 0, -1, 0, -1, -1},
	    {"timeout:2147483647", 0, -1, 2147483647L, -1, -1},
	    {"timeout:007", 0, -1, 7, -1, -1},
	    {"timeout:5,timeout:9", 0, -1, 9, -1, -1},
	    {"guarantee,retry-count:2", PROTO_H_GUARANTEE, 2, -1, -1, -1},
	    /* Unknown tokens are ignored, including near misses. */
	    {"x-custom:foo,priority:high,reply-requested:yes,timeout,Guarantee,run-count:x", 0, -1,
	     -1, -1, -1},
	    {"caf\xc3\xa9,nohaste", PROTO_H_NOHASTE, -1, -1, -1, -1},
	    {S1024, 0, -1, -1, -1, -1},
	};
	static const char *const bad[] = {
	    "timeout:-1", "timeout:",      "timeout:abc",       "timeout:1.5",
	    "timeout:+3", "run_count: 3",  "ttl:2147483648",    "retry-count:99999999999999999999",
	    "ttl:0x10",   "guarantee\x01", "reply-requested\n", "a\xc3",
	    S1024 ",",
	};
	proto_headers_t h;
	proto_err_t err;
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(ok); i++) {
		proto_headers_t want = {ok[i].flags, ok[i].retry_count, ok[i].timeout, ok[i].ttl,
		                        ok[i].run_count};

		ck_assert_msg(proto_headers_parse(ok[i].csv, strlen(ok[i].csv), &h, &err) == 0,
		              "\"%s\": %s", ok[i].csv, err.text);
		assert_headers_eq(&h, &want);
	}
	for (i = 0; i < GH_ARRAY_LEN(bad); i++) {
		h.flags = 7;
		h.timeout = 3;
		ck_assert_msg(proto_headers_parse(bad[i], strlen(bad[i]), &h, &err) == -1,
		              "\"%s\" accepted", bad[i]);
		ck_assert_int_eq(err.code, PROTO_E_HEADER);
		assert_printable_text(&err);
		ck_assert_uint_eq(h.flags, 0);
		ck_assert_int_eq(h.timeout, -1);
	}
	/* A partial parse is not kept: the good token before the bad one is dropped. */
	ck_assert_int_eq(proto_headers_parse("reply-requested,ttl:x", 21, &h, &err), -1);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_str_eq(err.text,
	                 "header \"ttl:x\": expected ttl:N with N an integer 0..2147483647");
	/* Only len bytes are read. */
	ck_assert_int_eq(proto_headers_parse("nohaste,timeout:x", 7, &h, NULL), 0);
	ck_assert_uint_eq(h.flags, PROTO_H_NOHASTE);
	ck_assert_int_eq(proto_headers_parse(NULL, 0, &h, NULL), 0);
}
END_TEST

START_TEST(test_headers_format)
{
	proto_headers_t h, back;
	char buf[PROTO_HEADERS_FORMAT_SIZE], small[10];
	const char *all = "reply-requested,guarantee,nohaste,retry-count:3,timeout:30,ttl:60,"
	                  "run_count:5";
	size_t len;

	proto_headers_init(&h);
	ck_assert_uint_eq(proto_headers_format(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");

	h.flags = PROTO_H_REPLY_REQUESTED | PROTO_H_GUARANTEE | PROTO_H_NOHASTE;
	h.retry_count = 3;
	h.timeout = 30;
	h.ttl = 60;
	h.run_count = 5;
	ck_assert_uint_eq(proto_headers_format(&h, buf, sizeof(buf)), strlen(all));
	ck_assert_str_eq(buf, all);
	ck_assert_int_eq(proto_headers_parse(buf, strlen(buf), &back, NULL), 0);
	assert_headers_eq(&back, &h);

	/* snprintf-like truncation. */
	memset(small, 'x', sizeof(small));
	ck_assert_uint_eq(proto_headers_format(&h, small, sizeof(small)), strlen(all));
	ck_assert_str_eq(small, "reply-req");
	ck_assert_uint_eq(proto_headers_format(&h, NULL, 0), strlen(all));

	proto_headers_init(&h);
	h.flags = PROTO_H_NOHASTE;
	h.timeout = 0;
	ck_assert_uint_eq(proto_headers_format(&h, buf, sizeof(buf)), 17);
	ck_assert_str_eq(buf, "nohaste,timeout:0");

	/* The widest possible text fits PROTO_HEADERS_FORMAT_SIZE. */
	h.flags = PROTO_H_REPLY_REQUESTED | PROTO_H_GUARANTEE | PROTO_H_NOHASTE;
	h.retry_count = h.timeout = h.ttl = h.run_count = LONG_MAX;
	len = proto_headers_format(&h, buf, sizeof(buf));
	ck_assert_uint_lt(len, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), len);
}
END_TEST

START_TEST(test_msg_set_headers)
{
	char buf[PROTO_HEADERS_FORMAT_SIZE], tiny[4];
	gh_frame_t out[8];
	proto_msg_t m, d;

	proto_msg_init(&m, PROTO_REQUEST, MID);
	ck_assert_uint_eq(m.hdr.flags, 0);
	ck_assert_int_eq(m.hdr.retry_count, -1);
	ck_assert_int_eq(m.hdr.run_count, -1);
	ck_assert_int_eq(m.interval_secs, -1);
	m.queue = fs("q");
	m.body = fs("{}");
	m.hdr.flags = PROTO_H_REPLY_REQUESTED | PROTO_H_GUARANTEE;
	m.hdr.retry_count = 4;
	ck_assert_int_eq(proto_msg_set_headers(&m, tiny, sizeof(tiny)), -1);
	ck_assert_ptr_null(m.headers.data);
	ck_assert_int_eq(proto_msg_set_headers(&m, buf, sizeof(buf)), 0);
	assert_frame("headers", m.headers, FR("reply-requested,guarantee,retry-count:4"));
	ck_assert_int_eq(proto_encode(&m, out, 8, NULL), 7);
	ck_assert_int_eq(proto_decode(out, 7, &d, NULL), 0);
	assert_headers_eq(&d.hdr, &m.hdr);
}
END_TEST

/* ---- INFORM queues ----------------------------------------------------- */

START_TEST(test_queues_parse)
{
	proto_queue_t q[PROTO_MAX_INFORM_QUEUES];
	proto_err_t err;
	char json[PROTO_MAX_INFORM_QUEUES * 16 + 16];
	size_t n, i, o;

	n = 99;
	ck_assert_int_eq(proto_parse_queues(FR(""), q, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	n = 99;
	ck_assert_int_eq(proto_parse_queues(FR("[]"), q, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 0);

	ck_assert_int_eq(
	    proto_parse_queues(FR("[[20, \"email\"], [10, \"default\"]]"), q, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(q[0].weight, 20);
	ck_assert_str_eq(q[0].name, "email");
	ck_assert_int_eq(q[1].weight, 10);
	ck_assert_str_eq(q[1].name, "default");

	ck_assert_int_eq(
	    proto_parse_queues(FR("[[0,\"caf\\u00e9\"],[1000000,\"x!\"]]"), q, 2, &n, &err), 0);
	ck_assert_str_eq(q[0].name, "caf\xc3\xa9");
	ck_assert_int_eq(q[0].weight, 0);
	ck_assert_int_eq(q[1].weight, 1000000);

	/* A name of the maximum length fills the buffer exactly. */
	ck_assert_int_eq(proto_parse_queues(FR("[[1, \"" S255 "\"]]"), q, 1, &n, &err), 0);
	ck_assert_uint_eq(strlen(q[0].name), PROTO_MAX_QUEUE);
	ck_assert_int_eq(proto_parse_queues(FR("[[1, \"" S256 "\"]]"), q, 1, &n, &err), -1);

	/* More pairs than the caller has room for. */
	n = 99;
	ck_assert_int_eq(proto_parse_queues(FR("[[1, \"a\"], [2, \"b\"]]"), q, 1, &n, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_JSON);
	ck_assert_uint_eq(n, 0);
	/* Validate only. */
	ck_assert_int_eq(proto_parse_queues(FR("[[1, \"a\"], [2, \"b\"]]"), NULL, 0, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	/* Duplicates are the router's business. */
	ck_assert_int_eq(proto_parse_queues(FR("[[1, \"a\"], [2, \"a\"]]"), q, 2, NULL, NULL), 0);

	/* Exactly PROTO_MAX_INFORM_QUEUES, then one more. */
	o = (size_t)snprintf(json, sizeof(json), "[");
	for (i = 0; i < PROTO_MAX_INFORM_QUEUES; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, "%s[%zu, \"q%zu\"]", i ? "," : "",
		                      i, i);
	snprintf(json + o, sizeof(json) - o, "]");
	ck_assert_msg(proto_parse_queues(fs(json), q, GH_ARRAY_LEN(q), &n, &err) == 0, "%s",
	              err.text);
	ck_assert_uint_eq(n, PROTO_MAX_INFORM_QUEUES);
	ck_assert_str_eq(q[63].name, "q63");
	snprintf(json + o, sizeof(json) - o, ",[1, \"extra\"]]");
	ck_assert_int_eq(proto_parse_queues(fs(json), NULL, 0, &n, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_JSON);
	ck_assert_str_eq(err.text, "65 queues, at most 64 allowed");
}
END_TEST

START_TEST(test_queues_too_large)
{
	size_t len = PROTO_MAX_QUEUES_JSON + 1;
	char *big = gh_malloc(len);
	proto_err_t err;

	memset(big, ' ', len);
	big[0] = '[';
	big[len - 1] = ']';
	ck_assert_int_eq(proto_parse_queues((gh_frame_t){big, len}, NULL, 0, NULL, &err), -1);
	ck_assert_int_eq(err.code, PROTO_E_JSON);
	ck_assert_int_eq(proto_parse_queues((gh_frame_t){big, len - 1}, NULL, 0, NULL, &err), -1);
	big[len - 2] = ']';
	ck_assert_int_eq(proto_parse_queues((gh_frame_t){big, len - 1}, NULL, 0, NULL, &err), 0);
	free(big);
}
END_TEST

/* ---- names and msgids -------------------------------------------------- */

START_TEST(test_valid_name)
{
	static const gh_frame_t good[] = {
	    F("default"),          F("a"),
	    F("email!"),           F("with space"),
	    F("caf\xc3\xa9"),      F("\xe6\x97\xa5\xe6\x9c\xac"),
	    F("\xf0\x9f\x98\x80"), F("\xef\xbf\xbd"),
	    F("\xf4\x8f\xbf\xbf"), F(S255),
	};
	static const gh_frame_t bad[] = {
	    F(""),
	    F(S256),
	    F("a\0"),
	    F("\x01"),
	    F("a\n"),
	    F("\x7f"),
	    F("\xc2\x80"),
	    F("\xc2\x9f"),
	    F("\xc0\x80"),
	    F("\xc1\xbf"),
	    F("\xe0\x80\x80"),
	    F("\xe0\x83\xa9"),
	    F("\xf0\x80\x80\x80"),
	    F("\xf0\x8f\xbf\xbf"),
	    F("\xed\xa0\x80"),
	    F("\xed\xbf\xbf"),
	    F("\xf4\x90\x80\x80"),
	    F("\xf5\x80\x80\x80"),
	    F("\xff"),
	    F("\x80"),
	    F("\xc3"),
	    F("\xe6\x97"),
	    F("\xf0\x9f\x98"),
	    F("\xc3\x28"),
	};
	size_t i;
	char b[128];

	for (i = 0; i < GH_ARRAY_LEN(good); i++)
		ck_assert_msg(proto_valid_name(good[i].data, good[i].size) == 1, "good %zu \"%s\"",
		              i, frames_show(good[i], b, sizeof(b)));
	for (i = 0; i < GH_ARRAY_LEN(bad); i++)
		ck_assert_msg(proto_valid_name(bad[i].data, bad[i].size) == 0, "bad %zu \"%s\"", i,
		              frames_show(bad[i], b, sizeof(b)));
	ck_assert_int_eq(proto_valid_name(NULL, 3), 0);
}
END_TEST

START_TEST(test_valid_msgid)
{
	ck_assert_int_eq(proto_valid_msgid(MID, strlen(MID)), 1);
	ck_assert_int_eq(proto_valid_msgid("admin:" MID, strlen("admin:" MID)), 1);
	ck_assert_int_eq(proto_valid_msgid("x", 1), 1);
	ck_assert_int_eq(proto_valid_msgid(" ~", 2), 1);
	ck_assert_int_eq(proto_valid_msgid(S128, 128), 1);
	ck_assert_int_eq(proto_valid_msgid(S128 "x", 129), 0);
	ck_assert_int_eq(proto_valid_msgid("", 0), 0);
	ck_assert_int_eq(proto_valid_msgid(NULL, 0), 0);
	ck_assert_int_eq(proto_valid_msgid("a\x1f", 2), 0);
	ck_assert_int_eq(proto_valid_msgid("a\x7f", 2), 0);
	ck_assert_int_eq(proto_valid_msgid("a\0b", 3), 0);
	ck_assert_int_eq(proto_valid_msgid("\xc3\xa9", 2), 0);
}
END_TEST

/* ---- data-driven cases ------------------------------------------------- */

static char **valid_files, **invalid_files;
static size_t nvalid, ninvalid;
static char *valid_dir, *invalid_dir;

/* Checks the case at path (see frames.h); a valid one must expect a
 * command, an invalid one an error token. */
static void
check_case(const char *path, int valid)
{
	frames_t fc;
	char why[512];

	ck_assert_msg(frames_load(path, &fc, why, sizeof(why)) == 0, "%s: %s", path, why);
	ck_assert_msg((proto_cmd_lookup(fc.expect, strlen(fc.expect)) != PROTO_NONE) == valid,
	              "%s: \"# expect: %s\" is not %s", path, fc.expect,
	              valid ? "a command" : "an error token");
	ck_assert_msg(frames_check_case(&fc, why, sizeof(why)) == 0, "%s: %s", path, why);
	frames_free(&fc);
}

START_TEST(test_valid_case)
{
	check_case(valid_files[_i], 1);
}
END_TEST

START_TEST(test_invalid_case)
{
	check_case(invalid_files[_i], 0);
}
END_TEST

START_TEST(test_data_dirs_nonempty)
{
	ck_assert_msg(nvalid > 0, "%s has no *.frames cases", valid_dir);
	ck_assert_msg(ninvalid > 0, "%s has no *.frames cases", invalid_dir);
}
END_TEST

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted paths of dir's *.frames files. Caller owns the list and paths. */
static char **
list_cases(const char *dir, size_t *n)
{
	char **list = NULL;
	struct dirent *de;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 7 || strcmp(de->d_name + len - 7, ".frames") != 0)
			continue;
		list = gh_realloc(list, (*n + 1) * sizeof(*list));
		list[(*n)++] = gh_asprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(list, *n, sizeof(*list), cmp_str);
	return list;
}

static void
free_cases(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void
free_data(void)
{
	free_cases(valid_files, nvalid);
	free_cases(invalid_files, ninvalid);
	free(valid_dir);
	free(invalid_dir);
}

Suite *
suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc;

	valid_dir = gh_test_input("tests/data/valid");
	invalid_dir = gh_test_input("tests/data/invalid");
	if (valid_dir == NULL || invalid_dir == NULL)
		gh_check_skip("tests/data not found (set top_srcdir)");
	valid_files = list_cases(valid_dir, &nvalid);
	invalid_files = list_cases(invalid_dir, &ninvalid);
	gh_check_at_end(free_data);

	tc = tcase_create("names");
	tcase_add_test(tc, test_cmd_names);
	tcase_add_test(tc, test_error_names);
	tcase_add_test(tc, test_valid_name);
	tcase_add_test(tc, test_valid_msgid);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_rt_inform_worker);
	tcase_add_test(tc, test_rt_inform_scheduler);
	tcase_add_test(tc, test_rt_ack);
	tcase_add_test(tc, test_rt_no_args);
	tcase_add_test(tc, test_rt_request);
	tcase_add_test(tc, test_rt_reply_ack);
	tcase_add_test(tc, test_rt_reply_admin);
	tcase_add_test(tc, test_rt_reply_result);
	tcase_add_test(tc, test_rt_heartbeat);
	tcase_add_test(tc, test_rt_schedule_interval);
	tcase_add_test(tc, test_rt_schedule_cron);
	tcase_add_test(tc, test_rt_unschedule);
	tcase_add_test(tc, test_rt_publish);
	tcase_add_test(tc, test_rt_hello_args);
	tcase_add_test(tc, test_rt_error);
	tcase_add_test(tc, test_rt_error_no_ref);
	tcase_add_test(tc, test_rt_other_version);
	tcase_add_test(tc, test_rt_binary_bodies);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, test_decode_null_empty_frames);
	tcase_add_test(tc, test_decode_borrows);
	tcase_add_test(tc, test_decode_hello_many_args);
	tcase_add_test(tc, test_decode_error_keeps_ids);
	tcase_add_test(tc, test_decode_error_text_escaped);
	tcase_add_test(tc, test_decode_unschedule_lax);
	tcase_add_test(tc, test_decode_valid_edges);
	tcase_add_loop_test(tc, test_bad_message, 0, (int)GH_ARRAY_LEN(bad_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode_optional_fields);
	tcase_add_test(tc, test_encode_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_add_test(tc, test_headers_parse);
	tcase_add_test(tc, test_headers_format);
	tcase_add_test(tc, test_msg_set_headers);
	suite_add_tcase(s, tc);

	tc = tcase_create("queues");
	tcase_add_test(tc, test_queues_parse);
	tcase_add_test(tc, test_queues_too_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_test(tc, test_data_dirs_nonempty);
	tcase_add_loop_test(tc, test_valid_case, 0, (int)nvalid);
	tcase_add_loop_test(tc, test_invalid_case, 0, (int)ninvalid);
	suite_add_tcase(s, tc);

	return s;
}
