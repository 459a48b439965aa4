/*
 * map.c: routes and the payload mapping of gearhorn-bridge(8) (see map.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "util.h"

/* Longest gearman function name we build or accept (gearmand's own limit
 * is GEARMAN_FUNCTION_MAX_SIZE, 512). */
#define BRIDGE_MAX_NAME 512

/* ---- routes ---- */

static int
name_ok(const char *s)
{
	return *s != '\0' && strlen(s) < BRIDGE_MAX_NAME;
}

int
bridge_parse_out(const char *item, bridge_out_t *out, char *err, size_t errlen)
{
	const char *colon = strchr(item, ':'), *eq;
	long w = BRIDGE_DEFAULT_WEIGHT;

	memset(out, 0, sizeof(*out));
	if (colon != NULL) {
		char *num = gh_strndup(item, (size_t)(colon - item));
		int bad = gh_parse_long(num, 0, 1000000, &w) == -1;

		free(num);
		if (bad)
			return gh_err(err, errlen,
			              "to_gearman \"%.64s\": the weight before ':' must be a "
			              "number from 0 to 1000000",
			              item);
		item = colon + 1;
	}
	eq = strchr(item, '=');
	out->weight = w;
	out->queue = eq ? gh_strndup(item, (size_t)(eq - item)) : gh_strdup(item);
	out->function = gh_strdup(eq ? eq + 1 : item);
	if (!name_ok(out->queue) || !name_ok(out->function)) {
		bridge_out_free(out);
		return gh_err(err, errlen,
		              "to_gearman \"%.64s\": expected [WEIGHT:]QUEUE[=FUNCTION] with "
		              "non-empty names",
		              item);
	}
	return 0;
}

void
bridge_out_free(bridge_out_t *out)
{
	free(out->queue);
	free(out->function);
	memset(out, 0, sizeof(*out));
}

int
bridge_parse_in(const char *item, const char *subscriber, bridge_in_t *in, char *err, size_t errlen)
{
	const char *key = subscriber ? "subscribe" : "to_zeromq";
	const char *orig = item, *eq = strchr(item, '='), *at, *colon;
	char *name;

	memset(in, 0, sizeof(*in));
	if (eq == NULL || eq == item)
		goto bad;
	name = gh_strndup(item, (size_t)(eq - item));
	if (subscriber != NULL) {
		in->function = gh_asprintf("%s_%s", name, subscriber);
		free(name);
	} else {
		in->function = name;
	}
	item = eq + 1;
	at = strchr(item, '@');
	in->queue = at ? gh_strndup(item, (size_t)(at - item)) : gh_strdup(item);
	if (at != NULL) {
		colon = strrchr(at + 1, ':');
		if (colon == NULL || colon == at + 1 || colon[1] == '\0')
			goto bad;
		in->path = gh_strndup(at + 1, (size_t)(colon - at - 1));
		in->callable = gh_strdup(colon + 1);
	}
	if (!name_ok(in->function) || !name_ok(in->queue))
		goto bad;
	return 0;
bad:
	bridge_in_free(in);
	return gh_err(err, errlen,
	              "%s \"%.64s\": expected %s=QUEUE or %s=QUEUE@PATH:CALLABLE with "
	              "non-empty names",
	              key, orig, subscriber ? "TOPIC" : "FUNCTION",
	              subscriber ? "TOPIC" : "FUNCTION");
}

void
bridge_in_free(bridge_in_t *in)
{
	free(in->function);
	free(in->queue);
	free(in->path);
	free(in->callable);
	memset(in, 0, sizeof(*in));
}

/* ---- base64 (RFC 4648, with padding) ---- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const unsigned char *p, size_t len)
{
	char *out = gh_malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		*o++ = b64_chars[v >> 18 & 63];
		*o++ = b64_chars[v >> 12 & 63];
		*o++ = b64_chars[v >> 6 & 63];
		*o++ = b64_chars[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);

		*o++ = b64_chars[v >> 18 & 63];
		*o++ = b64_chars[v >> 12 & 63];
		*o++ = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64_value(char c)
{
	const char *p = c ? strchr(b64_chars, c) : NULL;

	return p ? (int)(p - b64_chars) : -1;
}

/* Returns the decoded length, or -1 if s is not padded base64. out must
 * hold len / 4 * 3 + 1 bytes. */
static long
b64_decode(const char *s, size_t len, unsigned char *out)
{
	size_t i, n = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int a = b64_value(s[i]), b = b64_value(s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : b64_value(s[i + 2]);
		int d = s[i + 3] == '=' ? -2 : b64_value(s[i + 3]);
		unsigned v;

		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2) ||
		    (d == -2 && i + 4 != len))
			return -1;
		v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)(c < 0 ? 0 : c) << 6 |
		    (unsigned)(d < 0 ? 0 : d);
		out[n++] = (unsigned char)(v >> 16);
		if (c >= 0)
			out[n++] = (unsigned char)(v >> 8);
		if (d >= 0)
			out[n++] = (unsigned char)v;
	}
	out[n] = '\0';
	return (long)n;
}

/* ---- payloads ---- */

json_t *
bridge_encode(const char *data, size_t len)
{
	json_t *s = memchr(data, '\0', len) ? NULL : json_stringn(data, len);
	char *b;

	if (s != NULL)
		return s;
	b = b64_encode((const unsigned char *)data, len);
	s = json_pack("{s:s}", "base64", b);
	free(b);
	return s;
}

int
bridge_decode(const json_t *v, char **out, size_t *outlen, char *err, size_t errlen)
{
	json_t *b =
	    json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "base64") : NULL;

	if (json_is_string(v)) {
		*outlen = json_string_length(v);
		*out = gh_malloc(*outlen + 1);
		memcpy(*out, json_string_value(v), *outlen + 1);
		return 0;
	}
	if (json_is_string(b)) {
		size_t len = json_string_length(b);
		long n;

		*out = gh_malloc(len / 4 * 3 + 1);
		if ((n = b64_decode(json_string_value(b), len, (unsigned char *)*out)) < 0) {
			free(*out);
			*out = NULL;
			return gh_err(err, errlen, "\"base64\" holds no valid base64 text");
		}
		*outlen = (size_t)n;
		return 0;
	}
	*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	*outlen = strlen(*out);
	return 0;
}

int
bridge_unwrap(const char *body, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr), *spec, *args;
	int rc;

	if (root == NULL)
		return gh_err(err, errlen, "job body is not JSON: %s", jerr.text);
	spec = json_array_get(root, 1);
	args = json_object_get(spec, "args");
	if (!json_is_array(root) || json_array_size(root) != 2 ||
	    !json_is_string(json_array_get(root, 0)) || !json_is_object(spec)) {
		rc = gh_err(err, errlen, "job body must be [\"run\", {\"args\": [PAYLOAD]}]");
	} else if (!json_is_array(args) || json_array_size(args) != 1) {
		rc = gh_err(err, errlen,
		            "a job for gearman needs exactly one argument, its payload (\"args\": "
		            "[PAYLOAD])");
	} else {
		rc = bridge_decode(json_array_get(args, 0), out, outlen, err, errlen);
	}
	json_decref(root);
	return rc;
}

char *
bridge_result_to_json(const char *data, size_t len, size_t *outlen)
{
	json_t *r = json_pack("{s:o}", "value", bridge_encode(data, len));
	char *s = json_dumps(r, JSON_COMPACT);

	json_decref(r);
	*outlen = strlen(s);
	return s;
}

char *
bridge_wrap(const bridge_in_t *in, const char *data, size_t len, size_t *outlen)
{
	json_t *job;
	char *s;

	if (in->path == NULL) {
		s = gh_malloc(len + 1);
		memcpy(s, data, len);
		s[len] = '\0';
		*outlen = len;
		return s;
	}
	job = json_pack("[s{s:s,s:s,s:[o],s:{}}]", "run", "path", in->path, "callable",
	                in->callable, "args", bridge_encode(data, len), "kwargs");
	s = json_dumps(job, JSON_COMPACT);
	json_decref(job);
	*outlen = strlen(s);
	return s;
}

int
bridge_result_from_json(const bridge_in_t *in, const char *json, size_t len, char **out,
                        size_t *outlen, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v;
	int rc;

	if (in->path == NULL) {
		*out = gh_malloc(len + 1);
		memcpy(*out, json, len);
		(*out)[len] = '\0';
		*outlen = len;
		return 0;
	}
	if ((root = json_loadb(json, len, JSON_ALLOW_NUL, &jerr)) == NULL)
		return gh_err(err, errlen, "the job's result is not JSON: %s", jerr.text);
	if ((v = json_object_get(root, "value")) == NULL)
		rc = gh_err(err, errlen, "the job's result has no \"value\"");
	else
		rc = bridge_decode(v, out, outlen, err, errlen);
	json_decref(root);
	return rc;
}
