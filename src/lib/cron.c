/*
 * cron.c: cron expressions, call identities and the SCHEDULE check (see
 * cron.h).
 */
#include "config.h"

#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "util.h"

typedef struct {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is value min + i, or NULL */
} field_t;

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const field_t fields[5] = {
    {"minute", 0, 59, NULL},  {"hour", 0, 23, NULL},       {"day of month", 1, 31, NULL},
    {"month", 1, 12, months}, {"day of week", 0, 7, days},
};

static int
value(const field_t *f, const char *s, size_t len, int *out)
{
	char buf[16];
	long v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (f->names != NULL && len == 3 && isalpha((unsigned char)buf[0])) {
		int i, n = f == &fields[3] ? 12 : 7;

		for (i = 0; i < n; i++)
			if (strcasecmp(buf, f->names[i]) == 0) {
				*out = f->min + i;
				return 0;
			}
		return -1;
	}
	if (!isdigit((unsigned char)buf[0]) || gh_parse_long(buf, f->min, f->max, &v) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parses one comma-separated field into a bit set. */
static int
parse_field(const field_t *f, const char *s, size_t len, uint64_t *bits, int *any, char *err,
            size_t errlen)
{
	const char *end = s + len, *p = s;

	*bits = 0;
	/* As in Vixie cron, a field that starts with "*" does not restrict the day. */
	*any = len > 0 && s[0] == '*';
	while (p < end) {
		const char *item_end = memchr(p, ',', (size_t)(end - p));
		const char *dash, *slash;
		int lo, hi, step = 1, v;

		if (item_end == NULL)
			item_end = end;
		slash = memchr(p, '/', (size_t)(item_end - p));
		if (slash != NULL) {
			long st;
			char buf[8];
			size_t sl = (size_t)(item_end - slash - 1);

			if (sl == 0 || sl >= sizeof(buf))
				goto bad;
			memcpy(buf, slash + 1, sl);
			buf[sl] = '\0';
			/* Digits only: strtol would also take a sign or spaces. */
			if (!isdigit((unsigned char)buf[0]) ||
			    gh_parse_long(buf, 1, f->max + 1, &st) != 0)
				goto bad;
			step = (int)st;
		} else {
			slash = item_end;
		}
		if (slash - p == 1 && *p == '*') {
			lo = f->min;
			hi = f == &fields[4] ? 6 : f->max;
		} else {
			dash = memchr(p, '-', (size_t)(slash - p));
			if (dash != NULL) {
				if (value(f, p, (size_t)(dash - p), &lo) != 0 ||
				    value(f, dash + 1, (size_t)(slash - dash - 1), &hi) != 0 ||
				    hi < lo)
					goto bad;
			} else {
				if (value(f, p, (size_t)(slash - p), &lo) != 0)
					goto bad;
				/* "5/15" means from 5 to the end in steps of 15. */
				hi = slash != item_end ? f->max : lo;
			}
		}
		for (v = lo; v <= hi; v += step)
			*bits |= 1ULL << (f == &fields[4] && v == 7 ? 0 : v);
		p = item_end + 1;
		if (item_end == end)
			break;
		if (p == end)
			goto bad; /* trailing comma */
	}
	if (*bits == 0)
		goto bad;
	return 0;
bad:
	return gh_err(err, errlen, "%s: \"%.*s\" is not a valid value, list, range or step (%d-%d)",
	              f->name, (int)(len > 40 ? 40 : len), s, f->min, f->max);
}

int
cron_parse(const char *expr, cron_t *c, char *err, size_t errlen)
{
	static const struct {
		const char *name, *expr;
	} macros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
	              {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
	              {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
	              {"@hourly", "0 * * * *"}};
	const char *p = expr, *start[5];
	size_t len[5], i, n = 0;
	uint64_t bits[5];
	int any[5];

	memset(c, 0, sizeof(*c));
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '@') {
		for (i = 0; i < GH_ARRAY_LEN(macros); i++) {
			size_t ml = strlen(macros[i].name);

			const char *rest = p + ml;

			if (strncmp(p, macros[i].name, ml) != 0 ||
			    (*rest != '\0' && !isspace((unsigned char)*rest)))
				continue;
			while (isspace((unsigned char)*rest))
				rest++;
			if (*rest != '\0')
				return gh_err(err, errlen,
				              "%s takes nothing after it, got \"%.20s\"",
				              macros[i].name, rest);
			return cron_parse(macros[i].expr, c, err, errlen);
		}
		return gh_err(err, errlen, "unknown shorthand \"%.20s\"", p);
	}
	while (*p != '\0') {
		if (n == 5)
			return gh_err(err, errlen, "more than five fields");
		start[n] = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		len[n] = (size_t)(p - start[n]);
		n++;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (n != 5)
		return gh_err(err, errlen,
		              "expected five fields (minute hour day month weekday), got %zu", n);
	for (i = 0; i < 5; i++)
		if (parse_field(&fields[i], start[i], len[i], &bits[i], &any[i], err, errlen) != 0)
			return -1;
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	c->dom_any = any[2];
	c->dow_any = any[4];
	return 0;
}

static int
day_matches(const cron_t *c, const struct tm *tm)
{
	int dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

	if (c->dom_any || c->dow_any)
		return dom && dow;
	return dom || dow;
}

time_t
cron_next(const cron_t *c, time_t after)
{
	struct tm tm;
	time_t t = after - after % 60 + 60, limit = after + 8 * 366 * 86400;

	while (t <= limit) {
		localtime_r(&t, &tm);
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->minute >> tm.tm_min) & 1)) {
			tm.tm_min++;
			tm.tm_sec = 0;
		} else {
			return t;
		}
		tm.tm_isdst = -1;
		{
			time_t nt = mktime(&tm);

			/* A DST change can make mktime step backwards; never loop. */
			t = nt > t ? nt : t + 60;
		}
	}
	return (time_t)-1;
}

time_t
cron_schedule_next(long interval, const cron_t *c, time_t after)
{
	return interval >= 0 ? after + interval : cron_next(c, after);
}

char *
cron_call_key(gh_frame_t body, char *err, size_t errlen)
{
	static const char *const keys[] = {"args",         "kwargs", "class_args",
	                                   "class_kwargs", "path",   "callable"};
	json_error_t jerr;
	json_t *job, *call, *id;
	char *key;
	size_t i;

	job = json_loadb(body.data, body.size, 0, &jerr);
	if (job == NULL) {
		gh_err(err, errlen, "the job is not JSON: %s", jerr.text);
		return NULL;
	}
	call = json_array_get(job, 1);
	if (!json_is_array(job) || !json_is_object(call)) {
		json_decref(job);
		gh_err(err, errlen, "the job is not [\"run\", {...}]");
		return NULL;
	}
	id = json_object();
	for (i = 0; i < GH_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(call, keys[i]);

		json_object_set(id, keys[i], v != NULL ? v : json_null());
	}
	key = json_dumps(id, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(id);
	json_decref(job);
	if (key == NULL)
		gh_err(err, errlen, "the job cannot be encoded");
	return key;
}

int
cron_schedule_check(gh_frame_t queue, gh_frame_t headers, long interval, gh_frame_t cron,
                    gh_frame_t body, time_t now, cron_schedule_t *out, char *err, size_t errlen)
{
	cron_schedule_t cs;
	proto_err_t perr;
	char *expr;
	int rc = 0;

	memset(&cs, 0, sizeof(cs));
	if (!proto_valid_name(queue.data, queue.size))
		return gh_err(err, errlen, "invalid queue name");
	if (proto_headers_parse(headers.data, headers.size, &cs.hdr, &perr) != 0)
		return gh_err(err, errlen, "%s", perr.text);
	if (cs.hdr.run_count == 0)
		return gh_err(err, errlen, "run_count must be at least 1");
	if (interval == 0 || interval < -1)
		return gh_err(err, errlen,
		              "interval must be at least 1 second (or -1 with a cron)");
	if ((cs.key = cron_call_key(body, err, errlen)) == NULL)
		return -1;
	expr = gh_strndup(cron.data, cron.size);
	if (interval < 0 && cron_parse(expr, &cs.cron, err, errlen) != 0)
		rc = -1;
	free(expr);
	if (rc == 0 && (cs.first = cron_schedule_next(interval, &cs.cron, now)) == (time_t)-1)
		rc = gh_err(err, errlen, "the cron expression never matches");
	if (rc != 0 || out == NULL)
		free(cs.key);
	else
		*out = cs;
	return rc;
}
