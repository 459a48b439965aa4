/*
 * proto.c: the eMQP/1.0 codec. Frames in, proto_msg_t out, and back.
 * Nothing here trusts the bytes it is given: every problem with them becomes
 * a proto_err_t, never an assert (the few asserts guard the caller's side of
 * the contract, such as a frame with a size but no data).
 */
#include "config.h"

#include "proto.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* How many bytes of a bad value an error text quotes, and room for them
 * escaped (4 bytes each at worst, plus "..." and the NUL). Jansson's own
 * messages get a longer quote; the result is still cut to fit err->text. */
#define ESC_MAX       32
#define ESC_SIZE      (ESC_MAX * 4 + 4)
#define ESC_JSON_MAX  80
#define ESC_JSON_SIZE (ESC_JSON_MAX * 4 + 4)

/* The frame number of argument i in the DEALER view. */
#define ARG_FRAME(i) ((size_t)(i) + 4)

/* A name with its length, for tables that are searched on the hot path. */
typedef struct {
	const char *s;
	size_t len;
} name_t;
#define NAME(lit)                    \
	{                            \
		lit, sizeof(lit) - 1 \
	}

static const name_t cmd_names[PROTO_CMD_COUNT] = {
    [PROTO_NONE] = NAME("(none)"),
    [PROTO_INFORM] = NAME("INFORM"),
    [PROTO_ACK] = NAME("ACK"),
    [PROTO_READY] = NAME("READY"),
    [PROTO_REQUEST] = NAME("REQUEST"),
    [PROTO_REPLY] = NAME("REPLY"),
    [PROTO_HEARTBEAT] = NAME("HEARTBEAT"),
    [PROTO_SCHEDULE] = NAME("SCHEDULE"),
    [PROTO_UNSCHEDULE] = NAME("UNSCHEDULE"),
    [PROTO_DISCONNECT] = NAME("DISCONNECT"),
    [PROTO_KBYE] = NAME("KBYE"),
    [PROTO_PUBLISH] = NAME("PUBLISH"),
    [PROTO_HELLO] = NAME("HELLO"),
    [PROTO_STATUS] = NAME("STATUS"),
    [PROTO_ROUTER_SHOW_WORKERS] = NAME("ROUTER_SHOW_WORKERS"),
    [PROTO_ROUTER_SHOW_SCHEDULERS] = NAME("ROUTER_SHOW_SCHEDULERS"),
    [PROTO_ERROR] = NAME("ERROR"),
};

/* Argument frames after the msgid: [min, max] per command. */
static const struct {
	size_t min, max;
} cmd_nargs[PROTO_CMD_COUNT] = {
    [PROTO_INFORM] = {2, 2},
    [PROTO_ACK] = {1, 1},
    [PROTO_READY] = {0, 0},
    [PROTO_REQUEST] = {3, 3},
    [PROTO_REPLY] = {1, 2},
    [PROTO_HEARTBEAT] = {1, 1},
    [PROTO_SCHEDULE] = {5, 5},
    [PROTO_UNSCHEDULE] = {5, 5},
    [PROTO_DISCONNECT] = {0, 0},
    [PROTO_KBYE] = {0, 0},
    [PROTO_PUBLISH] = {2, 2},
    [PROTO_HELLO] = {0, SIZE_MAX},
    [PROTO_STATUS] = {0, 0},
    [PROTO_ROUTER_SHOW_WORKERS] = {0, 0},
    [PROTO_ROUTER_SHOW_SCHEDULERS] = {0, 0},
    [PROTO_ERROR] = {3, 3},
};

static const char *const error_names[PROTO_ERROR_COUNT] = {
    [PROTO_OK] = "ok",
    [PROTO_E_SHORT] = "short-message",
    [PROTO_E_DELIM] = "bad-delimiter",
    [PROTO_E_VERSION] = "bad-version",
    [PROTO_E_COMMAND] = "unknown-command",
    [PROTO_E_ARGS] = "bad-arguments",
    [PROTO_E_MSGID] = "bad-msgid",
    [PROTO_E_FIELD] = "bad-field",
    [PROTO_E_HEADER] = "bad-header",
    [PROTO_E_JSON] = "bad-json",
};

/* Where empty frames point, so that a present frame is never data NULL. */
static const char empty_bytes[1] = "";

static int seterr(proto_err_t *err, proto_error_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int field_err(proto_err_t *err, proto_error_t code, proto_cmd_t cmd, size_t frame,
                     const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int
seterr(proto_err_t *err, proto_error_t code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
field_err(proto_err_t *err, proto_error_t code, proto_cmd_t cmd, size_t frame, const char *field,
          const char *fmt, ...)
{
	char what[sizeof(err->text)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return seterr(err, code, "%s: frame %zu (%s): %s", cmd_names[cmd].s, frame, field, what);
}

static void
clear_err(proto_err_t *err)
{
	if (err != NULL) {
		err->code = PROTO_OK;
		err->text[0] = '\0';
	}
}

/* Writes at most max of the len bytes at s into buf (max * 4 + 4 bytes) as
 * printable ASCII: '"' and '\' get a backslash, other bytes outside
 * 0x20..0x7e become \xHH, and "..." marks a cut. Returns buf. */
static const char *
escape(char *buf, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* escape() of at most ESC_MAX bytes into buf (ESC_SIZE bytes). */
static const char *
esc(char *buf, const char *s, size_t len)
{
	return escape(buf, s, len, ESC_MAX);
}

static const char *
esc_frame(char *buf, gh_frame_t f)
{
	return esc(buf, f.data, f.size);
}

/* A frame as the codec keeps it: empty frames point at a static "". */
static gh_frame_t
norm(gh_frame_t f)
{
	/* The caller's contract, not the peer's bytes. */
	assert(f.data != NULL || f.size == 0);
	if (f.size == 0)
		f.data = empty_bytes;
	return f;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Every msgid, name and headers frame is scanned byte by byte, so the
 * scans below take eight bytes at a time while they can. The 8 bytes at s
 * as a word, and 1 if they are all printable ASCII (0x20..0x7e): a word
 * holds a byte below 0x20 if (x - 0x20..) & ~x has a high bit set, and one
 * above 0x7e if (x + 0x01..) | x has (a borrow or a carry only spreads past
 * a byte that fails already, so the test is exact). */
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static uint64_t
word_at(const char *s)
{
	uint64_t x;

	memcpy(&x, s, sizeof(x));
	return x;
}

static int
word_printable(uint64_t x)
{
	return ((((x - 0x20 * ONES) & ~x) | (x + ONES) | x) & HIGHS) == 0;
}

static int
printable_ascii(const char *s, size_t len)
{
	size_t i;

	if (len >= 8) {
		/* The last word overlaps the one before it, if need be. */
		for (i = 0; i + 8 < len; i += 8)
			if (!word_printable(word_at(s + i)))
				return 0;
		return word_printable(word_at(s + len - 8));
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* 1 if the len bytes at s are UTF-8 without overlong forms, surrogates or
 * code points above U+10FFFF; with no_ctl also without C0, DEL and C1
 * control characters (so without NUL). */
static int
utf8_text(const char *str, size_t len, int no_ctl)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, n;
	uint32_t cp;

	while (i < len) {
		unsigned c = s[i];

		if (len >= 8) {
			/* At the end, the last word overlaps bytes already read. */
			size_t at = len - i >= 8 ? i : len - 8;
			uint64_t x = word_at(str + at);

			if (no_ctl ? word_printable(x) : (x & HIGHS) == 0) {
				i = at + 8;
				continue;
			}
		}
		if (c < 0x80) {
			if (no_ctl && (c < 0x20 || c == 0x7f))
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (no_ctl && cp <= 0x9f)
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Parses the len bytes at s, all decimal digits, as an integer in 0..max. */
static int
parse_digits(const char *s, size_t len, long max, long *out)
{
	long v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		long d;

		if (!is_digit(s[i]))
			return -1;
		d = s[i] - '0';
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A SCHEDULE interval: "-1" (cron) or digits in 0..PROTO_MAX_INTERVAL. */
static int
parse_interval(gh_frame_t f, long *out)
{
	if (gh_frame_is(f, "-1")) {
		*out = -1;
		return 0;
	}
	return parse_digits(f.data, f.size, PROTO_MAX_INTERVAL, out);
}

/* A HEARTBEAT timestamp as Python's str(time.time()) writes it: digits,
 * optionally a '.' and more digits. */
static int
valid_timestamp(gh_frame_t f)
{
	size_t i = 0;

	if (f.size == 0 || f.size > 32)
		return 0;
	while (i < f.size && is_digit(f.data[i]))
		i++;
	if (i == 0)
		return 0;
	if (i == f.size)
		return 1;
	if (f.data[i++] != '.' || i == f.size)
		return 0;
	while (i < f.size && is_digit(f.data[i]))
		i++;
	return i == f.size;
}

/* An ERROR code token: 1..PROTO_MAX_ERROR_CODE bytes of [a-z0-9-]. */
static int
valid_code(gh_frame_t f)
{
	size_t i;

	if (f.size == 0 || f.size > PROTO_MAX_ERROR_CODE)
		return 0;
	for (i = 0; i < f.size; i++) {
		char c = f.data[i];

		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-'))
			return 0;
	}
	return 1;
}

static int
valid_version(gh_frame_t f)
{
	return f.size > 0 && f.size <= PROTO_MAX_VERSION && printable_ascii(f.data, f.size);
}

const char *
proto_cmd_name(proto_cmd_t cmd)
{
	if ((unsigned)cmd >= PROTO_CMD_COUNT)
		return "(invalid)";
	return cmd_names[cmd].s;
}

proto_cmd_t
proto_cmd_lookup(const char *s, size_t len)
{
	int i;

	if (s == NULL)
		return PROTO_NONE;
	for (i = PROTO_NONE + 1; i < PROTO_CMD_COUNT; i++)
		if (cmd_names[i].len == len && memcmp(cmd_names[i].s, s, len) == 0)
			return (proto_cmd_t)i;
	return PROTO_NONE;
}

const char *
proto_error_name(proto_error_t e)
{
	if ((unsigned)e >= PROTO_ERROR_COUNT)
		return "unknown-error";
	return error_names[e];
}

int
proto_error_lookup(const char *s, size_t len, proto_error_t *out)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < PROTO_ERROR_COUNT; i++) {
		if (strlen(error_names[i]) == len && memcmp(error_names[i], s, len) == 0) {
			*out = (proto_error_t)i;
			return 0;
		}
	}
	return -1;
}

int
proto_valid_name(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > PROTO_MAX_QUEUE)
		return 0;
	return utf8_text(s, len, 1);
}

int
proto_valid_msgid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > PROTO_MAX_MSGID)
		return 0;
	return printable_ascii(s, len);
}

void
proto_headers_init(proto_headers_t *h)
{
	h->flags = 0;
	h->retry_count = -1;
	h->timeout = -1;
	h->ttl = -1;
	h->run_count = -1;
}

static const struct {
	name_t name;
	unsigned flag;
} header_flags[] = {
    {NAME("reply-requested"), PROTO_H_REPLY_REQUESTED},
    {NAME("guarantee"), PROTO_H_GUARANTEE},
    {NAME("nohaste"), PROTO_H_NOHASTE},
};

/* The numeric headers, in format order, with where they live. */
static const struct {
	name_t prefix;
	size_t offset;
} header_numbers[] = {
    {NAME("retry-count:"), offsetof(proto_headers_t, retry_count)},
    {NAME("timeout:"), offsetof(proto_headers_t, timeout)},
    {NAME("ttl:"), offsetof(proto_headers_t, ttl)},
    {NAME("run_count:"), offsetof(proto_headers_t, run_count)},
};

static long *
header_number(proto_headers_t *h, size_t i)
{
	return (long *)(void *)((char *)h + header_numbers[i].offset);
}

static long
header_value(const proto_headers_t *h, size_t i)
{
	return *(const long *)(const void *)((const char *)h + header_numbers[i].offset);
}

/* Applies one trimmed, non-empty token to h. */
static int
header_token(const char *tok, size_t len, proto_headers_t *h, proto_err_t *err)
{
	char q[ESC_SIZE];
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(header_flags); i++) {
		if (header_flags[i].name.len == len &&
		    memcmp(header_flags[i].name.s, tok, len) == 0) {
			h->flags |= header_flags[i].flag;
			return 0;
		}
	}
	for (i = 0; i < GH_ARRAY_LEN(header_numbers); i++) {
		size_t plen = header_numbers[i].prefix.len;

		if (len < plen || memcmp(header_numbers[i].prefix.s, tok, plen) != 0)
			continue;
		if (parse_digits(tok + plen, len - plen, PROTO_MAX_HEADER_NUMBER,
		                 header_number(h, i)) < 0)
			return seterr(err, PROTO_E_HEADER,
			              "header \"%s\": expected %sN with N an integer 0..%ld",
			              esc(q, tok, len), header_numbers[i].prefix.s,
			              PROTO_MAX_HEADER_NUMBER);
		return 0;
	}
	return 0; /* unknown: ignored, as EventMQ does */
}

int
proto_headers_parse(const char *csv, size_t len, proto_headers_t *h, proto_err_t *err)
{
	proto_headers_t tmp;
	char q[ESC_SIZE];
	size_t start, end;

	proto_headers_init(h);
	clear_err(err);
	if (len == 0)
		return 0;
	assert(csv != NULL);
	if (len > PROTO_MAX_HEADERS)
		return seterr(err, PROTO_E_HEADER, "headers are %zu bytes, at most %d allowed", len,
		              PROTO_MAX_HEADERS);
	if (!utf8_text(csv, len, 1))
		return seterr(err, PROTO_E_HEADER,
		              "headers are not UTF-8 text without control characters: \"%s\"",
		              esc(q, csv, len));
	proto_headers_init(&tmp);
	for (start = 0; start <= len; start = end + 1) {
		size_t a = start, b;

		end = start;
		while (end < len && csv[end] != ',')
			end++;
		b = end;
		while (a < b && csv[a] == ' ')
			a++;
		while (b > a && csv[b - 1] == ' ')
			b--;
		if (a < b && header_token(csv + a, b - a, &tmp, err) < 0)
			return -1;
	}
	*h = tmp;
	return 0;
}

size_t
proto_headers_format(const proto_headers_t *h, char *buf, size_t buflen)
{
	char tmp[PROTO_HEADERS_FORMAT_SIZE];
	size_t i, n = 0;

	tmp[0] = '\0';
	for (i = 0; i < GH_ARRAY_LEN(header_flags); i++)
		if (h->flags & header_flags[i].flag)
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s%s", n ? "," : "",
			                      header_flags[i].name.s);
	for (i = 0; i < GH_ARRAY_LEN(header_numbers); i++) {
		long v = header_value(h, i);

		if (v >= 0)
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s%s%ld", n ? "," : "",
			                      header_numbers[i].prefix.s, v);
	}
	/* PROTO_HEADERS_FORMAT_SIZE holds every flag and four 64-bit numbers. */
	assert(n < sizeof(tmp));
	if (buflen > 0) {
		size_t c = n < buflen - 1 ? n : buflen - 1;

		memcpy(buf, tmp, c);
		buf[c] = '\0';
	}
	return n;
}

void
proto_msg_init(proto_msg_t *msg, proto_cmd_t cmd, const char *msgid)
{
	memset(msg, 0, sizeof(*msg));
	msg->cmd = cmd;
	if (msgid != NULL) {
		msg->msgid.data = msgid;
		msg->msgid.size = strlen(msgid);
	}
	proto_headers_init(&msg->hdr);
	msg->interval_secs = -1;
}

int
proto_msg_set_headers(proto_msg_t *msg, char *buf, size_t buflen)
{
	size_t len = proto_headers_format(&msg->hdr, buf, buflen);

	if (len >= buflen)
		return -1;
	msg->headers.data = buf;
	msg->headers.size = len;
	return 0;
}

int
proto_parse_queues(gh_frame_t f, proto_queue_t *out, size_t cap, size_t *n, proto_err_t *err)
{
	char q[ESC_JSON_SIZE];
	json_error_t jerr;
	json_t *root, *el;
	size_t i, limit = PROTO_MAX_INFORM_QUEUES;

	if (n != NULL)
		*n = 0;
	clear_err(err);
	if (f.size == 0)
		return 0;
	if (f.size > PROTO_MAX_QUEUES_JSON)
		return seterr(err, PROTO_E_JSON, "queues are %zu bytes, at most %d allowed", f.size,
		              PROTO_MAX_QUEUES_JSON);
	root = json_loadb(f.data, f.size, 0, &jerr);
	if (root == NULL)
		return seterr(err, PROTO_E_JSON, "queues are not JSON: %s at byte %zu",
		              escape(q, jerr.text, strlen(jerr.text), ESC_JSON_MAX),
		              (size_t)jerr.position);
	if (!json_is_array(root)) {
		json_decref(root);
		return seterr(err, PROTO_E_JSON,
		              "queues must be a JSON array of [weight, \"name\"] pairs");
	}
	if (out != NULL && cap < limit)
		limit = cap;
	if (json_array_size(root) > limit) {
		seterr(err, PROTO_E_JSON, "%zu queues, at most %zu allowed", json_array_size(root),
		       limit);
		goto fail;
	}
	json_array_foreach(root, i, el)
	{
		json_t *w, *name;
		json_int_t wv;
		const char *s;
		size_t len;

		if (!json_is_array(el) || json_array_size(el) != 2) {
			seterr(err, PROTO_E_JSON, "queue %zu is not a [weight, \"name\"] pair", i);
			goto fail;
		}
		w = json_array_get(el, 0);
		name = json_array_get(el, 1);
		if (!json_is_integer(w)) {
			seterr(err, PROTO_E_JSON, "queue %zu: weight is not an integer", i);
			goto fail;
		}
		wv = json_integer_value(w);
		if (wv < 0 || wv > PROTO_MAX_QUEUE_WEIGHT) {
			seterr(err, PROTO_E_JSON, "queue %zu: weight %lld is not in 0..%ld", i,
			       (long long)wv, PROTO_MAX_QUEUE_WEIGHT);
			goto fail;
		}
		if (!json_is_string(name)) {
			seterr(err, PROTO_E_JSON, "queue %zu: name is not a string", i);
			goto fail;
		}
		s = json_string_value(name);
		len = json_string_length(name);
		if (!proto_valid_name(s, len)) {
			seterr(err, PROTO_E_JSON, "queue %zu: invalid name \"%s\"", i,
			       esc(q, s, len));
			goto fail;
		}
		if (out != NULL) {
			out[i].weight = (long)wv;
			memcpy(out[i].name, s, len);
			out[i].name[len] = '\0';
		}
	}
	if (n != NULL)
		*n = json_array_size(root);
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return -1;
}

static int
check_name(proto_cmd_t cmd, size_t arg, const char *field, gh_frame_t f, proto_err_t *err)
{
	char q[ESC_SIZE];

	if (proto_valid_name(f.data, f.size))
		return 0;
	return field_err(err, PROTO_E_FIELD, cmd, ARG_FRAME(arg), field,
	                 "invalid name \"%s\" (%zu bytes; want 1..%d bytes of UTF-8 text without "
	                 "control characters)",
	                 esc_frame(q, f), f.size, PROTO_MAX_QUEUE);
}

static int
check_msgid(proto_cmd_t cmd, size_t arg, const char *field, gh_frame_t f, proto_err_t *err)
{
	char q[ESC_SIZE];

	if (proto_valid_msgid(f.data, f.size))
		return 0;
	return field_err(err, PROTO_E_MSGID, cmd, ARG_FRAME(arg), field,
	                 "invalid msgid \"%s\" (%zu bytes; want 1..%d bytes of printable ASCII)",
	                 esc_frame(q, f), f.size, PROTO_MAX_MSGID);
}

static int
check_headers(proto_msg_t *msg, size_t arg, proto_err_t *err)
{
	proto_err_t sub;

	if (proto_headers_parse(msg->headers.data, msg->headers.size, &msg->hdr, &sub) == 0)
		return 0;
	return field_err(err, PROTO_E_HEADER, msg->cmd, ARG_FRAME(arg), "headers", "%s", sub.text);
}

static int
check_nonempty(proto_cmd_t cmd, size_t arg, const char *field, gh_frame_t f, proto_err_t *err)
{
	if (f.size > 0)
		return 0;
	return field_err(err, PROTO_E_FIELD, cmd, ARG_FRAME(arg), field, "must not be empty");
}

/* SCHEDULE's interval and cron frames (arguments 2 and 4). */
static int
check_schedule_when(proto_msg_t *msg, proto_err_t *err)
{
	char q[ESC_SIZE];

	if (parse_interval(msg->interval, &msg->interval_secs) < 0) {
		msg->interval_secs = -1;
		return field_err(err, PROTO_E_FIELD, msg->cmd, ARG_FRAME(2), "interval",
		                 "expected -1 (cron) or an integer 0..%ld, got \"%s\"",
		                 PROTO_MAX_INTERVAL, esc_frame(q, msg->interval));
	}
	if (msg->interval_secs < 0) {
		if (msg->cron.size == 0)
			return field_err(err, PROTO_E_FIELD, msg->cmd, ARG_FRAME(4), "cron",
			                 "interval -1 needs a cron expression");
		if (msg->cron.size > PROTO_MAX_CRON ||
		    !printable_ascii(msg->cron.data, msg->cron.size))
			return field_err(err, PROTO_E_FIELD, msg->cmd, ARG_FRAME(4), "cron",
			                 "expected 1..%d bytes of printable ASCII, got \"%s\"",
			                 PROTO_MAX_CRON, esc_frame(q, msg->cron));
	} else if (msg->cron.size != 0) {
		return field_err(
		    err, PROTO_E_FIELD, msg->cmd, ARG_FRAME(4), "cron",
		    "must be empty when the interval is %ld (use interval -1 for cron)",
		    msg->interval_secs);
	}
	return 0;
}

/* Sets the named views of msg->args and checks them. */
static int
decode_fields(proto_msg_t *msg, proto_err_t *err)
{
	const gh_frame_t *a = msg->args;
	proto_cmd_t cmd = msg->cmd;
	proto_err_t sub;
	char q[ESC_SIZE];

	switch (cmd) {
	case PROTO_INFORM:
		msg->queues = a[0];
		msg->peer_type = a[1];
		if (proto_parse_queues(a[0], NULL, 0, NULL, &sub) < 0)
			return field_err(err, PROTO_E_JSON, cmd, ARG_FRAME(0), "queues", "%s",
			                 sub.text);
		if (!gh_frame_is(a[1], "worker") && !gh_frame_is(a[1], "scheduler"))
			return field_err(err, PROTO_E_FIELD, cmd, ARG_FRAME(1), "peer type",
			                 "expected \"worker\" or \"scheduler\", got \"%s\"",
			                 esc_frame(q, a[1]));
		return 0;
	case PROTO_ACK:
		msg->ref = a[0];
		return check_msgid(cmd, 0, "ref", a[0], err);
	case PROTO_REQUEST:
		msg->queue = a[0];
		msg->headers = a[1];
		msg->body = a[2];
		if (check_name(cmd, 0, "queue", a[0], err) < 0)
			return -1;
		return check_headers(msg, 1, err);
	case PROTO_REPLY:
		if (msg->nargs == 1) {
			msg->ref = a[0];
			return check_nonempty(cmd, 0, "ref", a[0], err);
		}
		msg->result = a[0];
		msg->ref = a[1];
		return check_msgid(cmd, 1, "ref", a[1], err);
	case PROTO_HEARTBEAT:
		msg->timestamp = a[0];
		if (valid_timestamp(a[0]))
			return 0;
		return field_err(err, PROTO_E_FIELD, cmd, ARG_FRAME(0), "timestamp",
		                 "expected a non-negative decimal number, got \"%s\"",
		                 esc_frame(q, a[0]));
	case PROTO_SCHEDULE:
	case PROTO_UNSCHEDULE:
		msg->queue = a[0];
		msg->headers = a[1];
		msg->interval = a[2];
		msg->body = a[3];
		msg->cron = a[4];
		if (cmd == PROTO_UNSCHEDULE) {
			/* EventMQ's unschedule() sends whatever it has; only the body
			 * identifies the schedule. The rest is parsed if it can be. */
			if (proto_headers_parse(a[1].data, a[1].size, &msg->hdr, NULL) < 0)
				proto_headers_init(&msg->hdr);
			if (parse_interval(a[2], &msg->interval_secs) < 0)
				msg->interval_secs = -1;
			return check_nonempty(cmd, 3, "body", a[3], err);
		}
		if (check_name(cmd, 0, "queue", a[0], err) < 0 || check_headers(msg, 1, err) < 0 ||
		    check_schedule_when(msg, err) < 0)
			return -1;
		return check_nonempty(cmd, 3, "body", a[3], err);
	case PROTO_PUBLISH:
		msg->topic = a[0];
		msg->body = a[1];
		return check_name(cmd, 0, "topic", a[0], err);
	case PROTO_ERROR:
		msg->ref = a[0];
		msg->code = a[1];
		msg->text = a[2];
		if (a[0].size > 0 && check_msgid(cmd, 0, "ref", a[0], err) < 0)
			return -1;
		if (!valid_code(a[1]))
			return field_err(err, PROTO_E_FIELD, cmd, ARG_FRAME(1), "code",
			                 "expected 1..%d bytes of [a-z0-9-], got \"%s\"",
			                 PROTO_MAX_ERROR_CODE, esc_frame(q, a[1]));
		if (!utf8_text(a[2].data, a[2].size, 0))
			return field_err(err, PROTO_E_FIELD, cmd, ARG_FRAME(2), "text",
			                 "not UTF-8: \"%s\"", esc_frame(q, a[2]));
		return 0;
	case PROTO_READY:
	case PROTO_DISCONNECT:
	case PROTO_KBYE:
	case PROTO_HELLO:
	case PROTO_STATUS:
	case PROTO_ROUTER_SHOW_WORKERS:
	case PROTO_ROUTER_SHOW_SCHEDULERS:
	case PROTO_NONE:
		return 0;
	}
	return 0;
}

/* The version check of proto_decode; name is the command's ("" if unknown). */
static int
check_version(gh_frame_t version, const char *name, proto_err_t *err)
{
	char q[ESC_SIZE];

	if (valid_version(version))
		return 0;
	return seterr(err, PROTO_E_VERSION,
	              "%s%sframe 1 (version): expected 1..%d bytes of printable ASCII, got "
	              "\"%s\" (%zu bytes)",
	              name, *name ? ": " : "", PROTO_MAX_VERSION, esc_frame(q, version),
	              version.size);
}

/* The rest of proto_decode once the version and the command are good: the
 * msgid (mid, frame 3; msg->msgid already set if it is valid), the count of
 * the n argument frames at args, then the fields. proto_encode runs it too,
 * on what it built. */
static int
decode_args(proto_msg_t *msg, gh_frame_t mid, const gh_frame_t *args, size_t n, proto_err_t *err)
{
	const char *name = cmd_names[msg->cmd].s;
	char q[ESC_SIZE];
	size_t i;

	if (msg->msgid.data == NULL)
		return seterr(
		    err, PROTO_E_MSGID,
		    "%s: frame 3 (msgid): invalid msgid \"%s\" (%zu bytes; want 1..%d bytes "
		    "of printable ASCII)",
		    name, esc_frame(q, mid), mid.size, PROTO_MAX_MSGID);
	if (n < cmd_nargs[msg->cmd].min || n > cmd_nargs[msg->cmd].max) {
		size_t lo = cmd_nargs[msg->cmd].min, hi = cmd_nargs[msg->cmd].max;

		if (lo == hi)
			return seterr(err, PROTO_E_ARGS,
			              "%s: expected %zu argument frame%s after the msgid, got %zu",
			              name, lo, lo == 1 ? "" : "s", n);
		return seterr(err, PROTO_E_ARGS,
		              "%s: expected %zu %s %zu argument frames after the msgid, got %zu",
		              name, lo, hi == lo + 1 ? "or" : "to", hi, n);
	}
	msg->nargs = n < PROTO_MAX_ARGS ? n : PROTO_MAX_ARGS;
	for (i = 0; i < msg->nargs; i++)
		msg->args[i] = norm(args[i]);
	return decode_fields(msg, err);
}

int
proto_decode(const gh_frame_t *frames, size_t nframes, proto_msg_t *msg, proto_err_t *err)
{
	char q[ESC_SIZE];
	gh_frame_t mid;

	proto_msg_init(msg, PROTO_NONE, NULL);
	clear_err(err);
	if (frames == NULL || nframes == 0)
		return seterr(err, PROTO_E_SHORT, "empty message: no frames");
	if (frames[0].size != 0)
		return seterr(err, PROTO_E_DELIM,
		              "frame 0 must be the empty delimiter, got \"%s\" (%zu bytes)",
		              esc_frame(q, norm(frames[0])), frames[0].size);
	if (nframes >= 3)
		msg->cmd = proto_cmd_lookup(norm(frames[2]).data, frames[2].size);
	if (nframes < 4)
		return seterr(
		    err, PROTO_E_SHORT,
		    "%s%sexpected at least 4 frames (delimiter, version, command, msgid), "
		    "got %zu",
		    msg->cmd ? cmd_names[msg->cmd].s : "", msg->cmd ? ": " : "", nframes);

	msg->version = norm(frames[1]);
	msg->command = norm(frames[2]);
	mid = norm(frames[3]);
	if (proto_valid_msgid(mid.data, mid.size))
		msg->msgid = mid;
	if (check_version(msg->version, msg->cmd ? cmd_names[msg->cmd].s : "", err) < 0)
		return -1;
	if (msg->cmd == PROTO_NONE)
		return seterr(err, PROTO_E_COMMAND, "frame 2 (command): unknown command \"%s\"",
		              esc_frame(q, msg->command));
	return decode_args(msg, mid, frames + 4, nframes - 4, err);
}

/* Appends a field to the frames being encoded: a required one must be set,
 * an optional one goes out as "" when unset. */
#define PUT(field, required)                                                                    \
	do {                                                                                    \
		if (msg->field.data != NULL)                                                    \
			fr[n++] = msg->field;                                                   \
		else if (required)                                                              \
			return seterr(err, PROTO_E_FIELD, "%s: cannot encode without %s", name, \
			              #field);                                                  \
		else                                                                            \
			fr[n++] = empty;                                                        \
	} while (0)

int
proto_encode(const proto_msg_t *msg, gh_frame_t *out, size_t cap, proto_err_t *err)
{
	const gh_frame_t empty = {empty_bytes, 0};
	gh_frame_t fr[4 + PROTO_MAX_ARGS], mid;
	proto_msg_t check;
	const char *name;
	size_t i, n = 0;

	clear_err(err);
	if (msg->cmd == PROTO_NONE || (unsigned)msg->cmd >= PROTO_CMD_COUNT)
		return seterr(err, PROTO_E_COMMAND, "cannot encode command %d", (int)msg->cmd);
	name = cmd_names[msg->cmd].s;
	if (msg->msgid.data == NULL)
		return seterr(err, PROTO_E_MSGID, "%s: cannot encode without msgid", name);

	fr[n++] = empty;
	if (msg->version.data != NULL)
		fr[n++] = msg->version;
	else
		fr[n++] = (gh_frame_t){PROTO_VERSION, sizeof(PROTO_VERSION) - 1};
	fr[n++] = (gh_frame_t){name, cmd_names[msg->cmd].len};
	fr[n++] = msg->msgid;

	switch (msg->cmd) {
	case PROTO_INFORM:
		PUT(queues, 0);
		PUT(peer_type, 1);
		break;
	case PROTO_ACK:
		PUT(ref, 1);
		break;
	case PROTO_REQUEST:
		PUT(queue, 1);
		PUT(headers, 0);
		PUT(body, 1);
		break;
	case PROTO_REPLY:
		if (msg->result.data != NULL)
			fr[n++] = msg->result;
		PUT(ref, 1);
		break;
	case PROTO_HEARTBEAT:
		PUT(timestamp, 1);
		break;
	case PROTO_SCHEDULE:
	case PROTO_UNSCHEDULE: {
		int sched = msg->cmd == PROTO_SCHEDULE;

		PUT(queue, sched);
		PUT(headers, 0);
		PUT(interval, sched);
		PUT(body, 1);
		PUT(cron, 0);
		break;
	}
	case PROTO_PUBLISH:
		PUT(topic, 1);
		PUT(body, 1);
		break;
	case PROTO_HELLO:
		if (msg->nargs > PROTO_MAX_ARGS)
			return seterr(err, PROTO_E_ARGS, "%s: nargs %zu is over %d", name,
			              msg->nargs, PROTO_MAX_ARGS);
		for (i = 0; i < msg->nargs; i++)
			fr[n++] = msg->args[i].data != NULL ? msg->args[i] : empty;
		break;
	case PROTO_ERROR:
		PUT(ref, 0);
		PUT(code, 1);
		PUT(text, 0);
		break;
	case PROTO_READY:
	case PROTO_DISCONNECT:
	case PROTO_KBYE:
	case PROTO_STATUS:
	case PROTO_ROUTER_SHOW_WORKERS:
	case PROTO_ROUTER_SHOW_SCHEDULERS:
	case PROTO_NONE:
		break;
	}

	/* What proto_decode would check, less what holds by construction: the
	 * delimiter, the frame count and the command name are ours, and so is
	 * the default version. check is only written to and discarded. */
	if (msg->version.data != NULL && check_version(msg->version, name, err) < 0)
		return -1;
	check.cmd = msg->cmd;
	mid = norm(msg->msgid);
	check.msgid = proto_valid_msgid(mid.data, mid.size) ? mid : (gh_frame_t){NULL, 0};
	if (decode_args(&check, mid, fr + 4, n - 4, err) < 0)
		return -1;
	if (n > cap)
		return seterr(err, PROTO_E_SHORT, "%s: needs %zu frames, the output holds %zu",
		              name, n, cap);
	memcpy(out, fr, n * sizeof(fr[0]));
	return (int)n;
}
