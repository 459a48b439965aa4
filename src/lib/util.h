/*
 * util.h: allocation wrappers that never return NULL, bounded string
 * helpers and clocks. Shared by every gearhorn program.
 */
#ifndef GEARHORN_UTIL_H
#define GEARHORN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GH_UNUSED(x)    ((void)(x))

/* One message frame: bytes borrowed from elsewhere, not NUL-terminated.
 * Shared by the codec (proto.h) and the socket glue (wire.h). */
typedef struct {
	const char *data;
	size_t size;
} gh_frame_t;

/* Whether frame f holds exactly the bytes of the C string s. An empty
 * frame (whatever its data pointer) equals "". */
int gh_frame_is(gh_frame_t f, const char *s);

/* A frame viewing the C string s (borrowed), without its NUL. */
gh_frame_t gh_frame_str(const char *s);

/* Allocation: on failure these log and abort(); they never return NULL.
 * Caller owns the result. */
void *gh_malloc(size_t size);
void *gh_calloc(size_t n, size_t size);
void *gh_realloc(void *ptr, size_t size);
char *gh_strdup(const char *s);
char *gh_strndup(const char *s, size_t n);
/* Caller owns the result. */
char *gh_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends item to the comma-separated list *list (malloc'd; NULL is the
 * empty list). */
void gh_list_append(char **list, const char *item);

/* Copies at most size-1 bytes of src into dst and terminates it.
 * Returns strlen(src); a result >= size means truncation. */
size_t gh_strlcpy(char *dst, const char *src, size_t size);

/* Formats into an error buffer (may be NULL or errlen 0) and returns -1,
 * so that callers can write `return gh_err(err, errlen, "...", ...);`. */
int gh_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An error with its class, for the calls whose caller picks an exit status
 * from it: status is a sysexits(3) code (EX_CONFIG for a bad configuration,
 * EX_CANTCREAT for a file that cannot be made, EX_OSERR, ...), text says
 * what went wrong. Everything else keeps 0/-1 with an error buffer (gh_err):
 * a class is only for errors that end a program. */
#define GH_ERROR_MAX 1024
typedef struct {
	int status;
	char text[GH_ERROR_MAX];
} gh_error_t;

/* Sets e->status and formats e->text (cut to fit); e may be NULL. Returns
 * -1, so that callers can write `return gh_error_set(e, EX_CONFIG, ...);`. */
int gh_error_set(gh_error_t *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses a whole string as a base-10 integer in [min, max].
 * Returns 0, or -1 if s is empty, has trailing bytes or is out of range. */
int gh_parse_long(const char *s, long min, long max, long *out);

/* Milliseconds of the monotonic clock / microseconds of it. */
uint64_t gh_now_ms(void);
uint64_t gh_now_us(void);
/* Seconds since the epoch, wall clock, with microsecond resolution. */
double gh_wall_time(void);

/* Writes a fresh random (version 4) UUID as 36 lowercase characters plus NUL
 * into out, which must hold GH_UUID_LEN + 1 bytes. */
#define GH_UUID_LEN 36
void gh_uuid(char out[GH_UUID_LEN + 1]);

#endif
