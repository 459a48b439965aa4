/*
 * util.c: allocation wrappers, bounded strings, clocks, ids.
 */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <uuid/uuid.h>

static void
oom(size_t size)
{
	fprintf(stderr, "gearhorn: out of memory allocating %zu bytes\n", size);
	abort();
}

void *
gh_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

void *
gh_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
gh_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

char *
gh_strdup(const char *s)
{
	return gh_strndup(s, strlen(s));
}

char *
gh_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = gh_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
gh_list_append(char **list, const char *item)
{
	char *joined = gh_asprintf("%s%s%s", *list ? *list : "", *list ? "," : "", item);

	free(*list);
	*list = joined;
}

char *
gh_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(strlen(fmt));
	return p;
}

int
gh_frame_is(gh_frame_t f, const char *s)
{
	size_t len = strlen(s);

	return f.size == len && (len == 0 || memcmp(f.data, s, len) == 0);
}

gh_frame_t
gh_frame_str(const char *s)
{
	gh_frame_t f = {s, strlen(s)};

	return f;
}

size_t
gh_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
gh_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
gh_error_set(gh_error_t *e, int status, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		e->status = status;
		va_start(ap, fmt);
		vsnprintf(e->text, sizeof(e->text), fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
gh_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

uint64_t
gh_now_ms(void)
{
	return gh_now_us() / 1000;
}

uint64_t
gh_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double
gh_wall_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Random bytes for ids come from a per-thread buffer filled by getrandom(2)
 * 32 ids at a time: uuid_generate_random() makes a system call (and reseeds
 * random(3)) for every id, which showed as 5 % of a busy router. A fork
 * bumps a generation count, so a child never hands out its parent's bytes. */
#define UUID_POOL (16 * 32)

static unsigned uuid_generation;
static pthread_once_t uuid_once = PTHREAD_ONCE_INIT;

static void
uuid_forked(void)
{
	__atomic_add_fetch(&uuid_generation, 1, __ATOMIC_RELAXED);
}

static void
uuid_init(void)
{
	pthread_atfork(NULL, NULL, uuid_forked);
}

void
gh_uuid(char out[GH_UUID_LEN + 1])
{
	static __thread unsigned char pool[UUID_POOL];
	static __thread size_t used = UUID_POOL;
	static __thread unsigned generation;
	unsigned now;
	uuid_t u;

	pthread_once(&uuid_once, uuid_init);
	now = __atomic_load_n(&uuid_generation, __ATOMIC_RELAXED);
	if (now != generation) {
		generation = now;
		used = UUID_POOL;
	}
	if (used == UUID_POOL) {
		size_t got = 0;

		while (got < UUID_POOL) {
			ssize_t r = getrandom(pool + got, UUID_POOL - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				/* No getrandom (an old kernel): libuuid's own source. */
				uuid_generate_random(u);
				uuid_unparse_lower(u, out);
				return;
			}
			got += (size_t)r;
		}
		used = 0;
	}
	memcpy(u, pool + used, 16);
	explicit_bzero(pool + used, 16);
	used += 16;
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	uuid_unparse_lower(u, out);
}
