/*
 * input.c: comment lines and tags of the fuzz targets' inputs (see input.h).
 */
#include "config.h"

#include "input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fuzz_input_split(const uint8_t *data, size_t size, fuzz_input_t *in)
{
	size_t pos = 0;

	while (pos < size && data[pos] == '#') {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);

		pos = nl != NULL ? (size_t)(nl - data) + 1 : size;
	}
	in->comments = (const char *)data;
	in->commentlen = pos;
	in->data = data + pos;
	in->size = size - pos;
}

const char *
fuzz_input_tag(const fuzz_input_t *in, const char *name, char *buf, size_t buflen)
{
	const char *p = in->comments, *end = in->comments + in->commentlen;
	size_t nlen = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *v;

		if (eol == NULL)
			eol = end;
		v = p + 1;
		while (v < eol && *v == ' ')
			v++;
		if ((size_t)(eol - v) > nlen && memcmp(v, name, nlen) == 0 && v[nlen] == ':') {
			const char *e = eol;
			size_t n;

			v += nlen + 1;
			while (v < e && *v == ' ')
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\r'))
				e--;
			n = (size_t)(e - v) < buflen - 1 ? (size_t)(e - v) : buflen - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Checks a first run t against the "# next:" tag of in, if it has one. */
static int
check_next(const fuzz_input_t *in, time_t t, char *fail, size_t faillen)
{
	char want[64], got[64];
	struct tm tm;

	if (fuzz_input_tag(in, "next", want, sizeof(want)) == NULL)
		return 0;
	if (t == (time_t)-1)
		snprintf(got, sizeof(got), "never");
	else
		strftime(got, sizeof(got), "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
	if (strcmp(want, got) == 0)
		return 0;
	snprintf(fail, faillen, "first run expected at %s, got %s", want, got);
	return -1;
}

int
fuzz_input_check(const fuzz_input_t *in, const char *got, const char *msg, time_t first, char *fail,
                 size_t faillen)
{
	char expect[64], why[256];

	if (fuzz_input_tag(in, "expect", expect, sizeof(expect)) == NULL) {
		snprintf(fail, faillen, "no \"# expect:\" line");
		return -1;
	}
	if (strcmp(expect, got) != 0) {
		snprintf(fail, faillen, "expected %s, got %s%s%s", expect, got, *msg ? ": " : "",
		         msg);
		return -1;
	}
	if (fuzz_input_tag(in, "why", why, sizeof(why)) != NULL && strstr(msg, why) == NULL) {
		snprintf(fail, faillen, "%s, but the message \"%s\" does not say \"%s\"", got, msg,
		         why);
		return -1;
	}
	return strcmp(got, "ok") == 0 ? check_next(in, first, fail, faillen) : 0;
}

int
fuzz_cron_same(const cron_t *a, const cron_t *b)
{
	return a->minute == b->minute && a->hour == b->hour && a->dom == b->dom &&
	       a->month == b->month && a->dow == b->dow && a->dom_any == b->dom_any &&
	       a->dow_any == b->dow_any;
}

void
fuzz_use_tz(void)
{
	static int done;

	if (done)
		return;
	setenv("TZ", FUZZ_TZ, 1);
	tzset();
	done = 1;
}
