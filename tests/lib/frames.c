/*
 * frames.c: the protocol cases of tests/data, read and checked (see frames.h).
 */
#include "config.h"

#include "frames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the "# expect:" word of the comment line text[a..b), if it is one. */
static int
parse_expect(const char *text, size_t a, size_t b, frames_t *fc, size_t line, char *why,
             size_t whylen)
{
	static const char tag[] = "# expect:";

	if (b - a < sizeof(tag) - 1 || memcmp(text + a, tag, sizeof(tag) - 1) != 0)
		return 0;
	a += sizeof(tag) - 1;
	while (a < b && text[a] == ' ')
		a++;
	while (b > a && text[b - 1] == ' ')
		b--;
	if (fc->expect[0] != '\0' || b == a || b - a >= sizeof(fc->expect))
		return gh_err(why, whylen, "line %zu: bad or second expect", line);
	memcpy(fc->expect, text + a, b - a);
	fc->expect[b - a] = '\0';
	return 0;
}

/* Appends the frame on text[pos..end) to fc, unescaped. */
static int
parse_frame(const char *text, size_t pos, size_t end, frames_t *fc, size_t *o, size_t line,
            char *why, size_t whylen)
{
	size_t start = *o;

	if (fc->n == FRAMES_MAX)
		return gh_err(why, whylen, "more than %d frames", FRAMES_MAX);
	for (; pos < end; pos++) {
		int h1, h2;

		if (text[pos] != '\\') {
			fc->bytes[(*o)++] = text[pos];
			continue;
		}
		if (++pos == end)
			return gh_err(why, whylen, "line %zu: lone backslash", line);
		switch (text[pos]) {
		case '\\':
			fc->bytes[(*o)++] = '\\';
			break;
		case 'n':
			fc->bytes[(*o)++] = '\n';
			break;
		case 'r':
			fc->bytes[(*o)++] = '\r';
			break;
		case 't':
			fc->bytes[(*o)++] = '\t';
			break;
		case '0':
			fc->bytes[(*o)++] = '\0';
			break;
		case 'x':
			if (end - pos < 3 || (h1 = hexval(text[pos + 1])) < 0 ||
			    (h2 = hexval(text[pos + 2])) < 0)
				return gh_err(why, whylen, "line %zu: bad \\x escape", line);
			fc->bytes[(*o)++] = (char)(h1 * 16 + h2);
			pos += 2;
			break;
		default:
			return gh_err(why, whylen, "line %zu: unknown escape \\%c", line,
			              text[pos]);
		}
	}
	fc->f[fc->n].data = fc->bytes + start;
	fc->f[fc->n].size = *o - start;
	fc->n++;
	return 0;
}

int
frames_parse(const char *text, size_t len, frames_t *fc, char *why, size_t whylen)
{
	size_t pos = 0, o = 0, line = 0;

	memset(fc, 0, sizeof(*fc));
	fc->bytes = gh_malloc(len + 1);
	for (; pos < len; pos++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		int rc;

		line++;
		if (text[pos] == '#')
			rc = parse_expect(text, pos, end, fc, line, why, whylen);
		else
			rc = parse_frame(text, pos, end, fc, &o, line, why, whylen);
		if (rc < 0)
			return -1;
		pos = end;
	}
	return 0;
}

int
frames_load(const char *path, frames_t *fc, char *why, size_t whylen)
{
	FILE *fp = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0, got;
	int rc;

	memset(fc, 0, sizeof(*fc));
	if (fp == NULL)
		return gh_err(why, whylen, "cannot open: %s", strerror(errno));
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			text = gh_realloc(text, cap);
		}
		got = fread(text + len, 1, cap - len, fp);
		len += got;
	} while (got > 0);
	rc = ferror(fp) ? gh_err(why, whylen, "cannot read") : 0;
	fclose(fp);
	if (rc == 0)
		rc = frames_parse(text, len, fc, why, whylen);
	free(text);
	return rc;
}

void
frames_free(frames_t *fc)
{
	free(fc->bytes);
	fc->bytes = NULL;
	fc->n = 0;
}

int
frames_eq(gh_frame_t a, gh_frame_t b)
{
	if (a.data == NULL || b.data == NULL)
		return a.data == b.data && a.size == b.size;
	return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

const char *
frames_show(gh_frame_t f, char *buf, size_t buflen)
{
	size_t i, o = 0;

	if (f.data == NULL)
		return "(unset)";
	for (i = 0; i < f.size && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)f.data[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static int
printable(const proto_err_t *err)
{
	size_t i, len = strnlen(err->text, sizeof(err->text));

	if (len == 0 || len == sizeof(err->text))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)err->text[i] < 0x20 || (unsigned char)err->text[i] >= 0x7f)
			return 0;
	return 1;
}

/* The name of the first field in which a and b differ, or NULL. */
static const char *
msg_diff(const proto_msg_t *a, const proto_msg_t *b)
{
	static const struct {
		const char *name;
		size_t off;
	} frames[] = {
#define FIELD(x) {#x, offsetof(proto_msg_t, x)}
	    FIELD(version), FIELD(command),   FIELD(msgid),    FIELD(queue),
	    FIELD(headers), FIELD(body),      FIELD(interval), FIELD(cron),
	    FIELD(queues),  FIELD(peer_type), FIELD(ref),      FIELD(result),
	    FIELD(topic),   FIELD(timestamp), FIELD(code),     FIELD(text),
#undef FIELD
	};
	size_t i;

	if (a->cmd != b->cmd)
		return "cmd";
	for (i = 0; i < GH_ARRAY_LEN(frames); i++)
		if (!frames_eq(*(const gh_frame_t *)((const char *)a + frames[i].off),
		               *(const gh_frame_t *)((const char *)b + frames[i].off)))
			return frames[i].name;
	if (a->nargs != b->nargs)
		return "nargs";
	for (i = 0; i < a->nargs && i < PROTO_MAX_ARGS; i++)
		if (!frames_eq(a->args[i], b->args[i]))
			return "args";
	if (a->hdr.flags != b->hdr.flags || a->hdr.retry_count != b->hdr.retry_count ||
	    a->hdr.timeout != b->hdr.timeout || a->hdr.ttl != b->hdr.ttl ||
	    a->hdr.run_count != b->hdr.run_count)
		return "hdr";
	if (a->interval_secs != b->interval_secs)
		return "interval_secs";
	return NULL;
}

int
frames_check_codec(const gh_frame_t *f, size_t n, char *fail, size_t faillen)
{
	gh_frame_t out[4 + PROTO_MAX_ARGS];
	proto_msg_t msg, again;
	proto_err_t err;
	char b1[128], b2[128];
	const char *field;
	size_t i, want = n;
	int k;

	if (proto_decode(f, n, &msg, &err) != 0) {
		if (err.code == PROTO_OK || !printable(&err))
			return gh_err(fail, faillen, "rejected with code %d and no printable text",
			              (int)err.code);
		return 0;
	}
	if (msg.cmd == PROTO_HELLO && n > GH_ARRAY_LEN(out)) /* the arguments HELLO keeps */
		want = GH_ARRAY_LEN(out);
	k = proto_encode(&msg, out, GH_ARRAY_LEN(out), &err);
	if (k < 0)
		return gh_err(fail, faillen, "decoded as %s, does not encode: %s: %s",
		              proto_cmd_name(msg.cmd), proto_error_name(err.code), err.text);
	if ((size_t)k != want)
		return gh_err(fail, faillen, "re-encoded to %d frames, want %zu", k, want);
	for (i = 0; i < want; i++)
		if (!frames_eq(out[i], f[i]))
			return gh_err(fail, faillen, "re-encoded frame %zu is \"%s\", want \"%s\"",
			              i, frames_show(out[i], b1, sizeof(b1)),
			              frames_show(f[i], b2, sizeof(b2)));
	if (proto_decode(out, want, &again, &err) != 0)
		return gh_err(fail, faillen, "re-encoded frames do not decode: %s: %s",
		              proto_error_name(err.code), err.text);
	if ((field = msg_diff(&msg, &again)) != NULL)
		return gh_err(fail, faillen, "decoded again, %s differs", field);
	return 0;
}

int
frames_check_case(const frames_t *fc, char *fail, size_t faillen)
{
	proto_cmd_t cmd = proto_cmd_lookup(fc->expect, strlen(fc->expect));
	proto_error_t code = PROTO_OK;
	proto_msg_t msg;
	proto_err_t err;

	if (fc->expect[0] == '\0')
		return gh_err(fail, faillen, "no \"# expect:\" line");
	if (cmd == PROTO_NONE &&
	    (proto_error_lookup(fc->expect, strlen(fc->expect), &code) < 0 || code == PROTO_OK))
		return gh_err(fail, faillen, "\"%s\" is neither a command nor an error token",
		              fc->expect);
	if (proto_decode(fc->f, fc->n, &msg, &err) == 0) {
		if (cmd == PROTO_NONE)
			return gh_err(fail, faillen, "accepted as %s, want %s",
			              proto_cmd_name(msg.cmd), fc->expect);
		if (msg.cmd != cmd)
			return gh_err(fail, faillen, "decoded as %s, want %s",
			              proto_cmd_name(msg.cmd), fc->expect);
	} else {
		if (cmd != PROTO_NONE)
			return gh_err(fail, faillen, "rejected: %s: %s", proto_error_name(err.code),
			              err.text);
		if (err.code != code)
			return gh_err(fail, faillen, "got %s (%s), want %s",
			              proto_error_name(err.code), err.text, fc->expect);
	}
	return frames_check_codec(fc->f, fc->n, fail, faillen);
}
