/*
 * handler.h: runs one job body inside a worker process: the built-in module,
 * handler modules loaded with dlopen from the handler directories, and
 * allowlisted programs (the "exec" verb). Never touches a socket.
 */
#ifndef GEARHORN_JM_HANDLER_H
#define GEARHORN_JM_HANDLER_H

#include <stddef.h>

#define HANDLER_MAX_TEXT (16u * 1024 * 1024) /* bytes, a job body or a result */

typedef enum {
	HANDLER_OK = 0,     /* text is the result: {"value": ...} */
	HANDLER_FAILED = 1, /* text is the handler's message */
	HANDLER_BAD_JOB = 2 /* text says what is wrong with the job */
} handler_status_t;

typedef struct handler handler_t;

/* Creates a runner. dirs[0..ndirs) are the handler directories searched in
 * order; programs[0..nprograms) are "name=/absolute/path" items. Both are
 * copied. Returns NULL with a message in err if a program item is malformed.
 * Caller owns the result. */
handler_t *handler_new(char *const *dirs, size_t ndirs, char *const *programs, size_t nprograms,
                       char *err, size_t errlen);

/* Unloads the cached modules and frees *self_p; accepts NULL, clears it. */
void handler_destroy(handler_t **self_p);

/* Checks one [jobmanager] programs item. Returns 0, or -1 with err. */
int handler_check_program(const char *item, char *err, size_t errlen);

/* Runs the job body (len bytes at body, borrowed, not NUL-terminated).
 * Sets *text (caller owns it, NUL-terminated, never NULL) and *textlen.
 * Returns the status. May block for as long as the job runs; "crash" and
 * "exit" of the built-in module end the process. */
handler_status_t handler_run(handler_t *h, const char *body, size_t len, char **text,
                             size_t *textlen);

/* Reads the job body (len bytes at body, borrowed) as handler_run does
 * before it runs anything: the JSON, ["run" or "exec", {...}], and for "run"
 * the callable, the path, the types of the arguments and, in the builtin
 * module, the callable's name. Loads no module and starts nothing: an
 * "exec" job's fields and a module's symbol are checked only when it runs.
 * Sets *text (caller owns it, NUL-terminated, never NULL) and *textlen.
 * Returns HANDLER_OK with an empty text, or HANDLER_BAD_JOB with the text
 * handler_run would answer. */
handler_status_t handler_check_job(const char *body, size_t len, char **text, size_t *textlen);

#endif
