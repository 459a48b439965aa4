/*
 * handler.c: the job side of a worker process. See handler.h and
 * gearhorn-jobmanager(8), "HANDLERS".
 */
#include "config.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gearhorn-handler.h"
#include "handler.h"
#include "util.h"

#define HANDLER_MAX_NAME    255
#define HANDLER_STDERR_TAIL 512

typedef struct {
	char *name;
	void *dl;
} handler_module_t;

typedef struct {
	char *name;
	char *path;
} handler_program_t;

struct handler {
	char **dirs;
	size_t ndirs;
	handler_program_t *programs;
	size_t nprograms;
	handler_module_t *modules;
	size_t nmodules;
};

/* Built-in module "builtin". */

static int
builtin_echo(json_t *args, json_t *kwargs, json_t *cargs, json_t *ckwargs, json_t **result,
             char *err, size_t errlen)
{
	GH_UNUSED(kwargs);
	GH_UNUSED(cargs);
	GH_UNUSED(ckwargs);
	GH_UNUSED(err);
	GH_UNUSED(errlen);
	if (json_array_size(args) == 1)
		*result = json_incref(json_array_get(args, 0));
	else
		*result = json_incref(args);
	return 0;
}

static int
builtin_sleep(json_t *args, json_t *kwargs, json_t *cargs, json_t *ckwargs, json_t **result,
              char *err, size_t errlen)
{
	json_t *v = json_array_get(args, 0);
	double secs;
	struct timespec ts;

	GH_UNUSED(kwargs);
	GH_UNUSED(cargs);
	GH_UNUSED(ckwargs);
	if (!json_is_number(v) || (secs = json_number_value(v)) < 0 || secs > 1e7 || isnan(secs))
		return gh_err(err, errlen,
		              "sleep: args[0] must be a number of seconds from 0 to 1e7");
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	*result = json_null();
	return 0;
}

static int
builtin_fail(json_t *args, json_t *kwargs, json_t *cargs, json_t *ckwargs, json_t **result,
             char *err, size_t errlen)
{
	const char *msg = json_string_value(json_array_get(args, 0));

	GH_UNUSED(kwargs);
	GH_UNUSED(cargs);
	GH_UNUSED(ckwargs);
	GH_UNUSED(result);
	return gh_err(err, errlen, "%s", msg ? msg : "failed");
}

static int
builtin_crash(json_t *args, json_t *kwargs, json_t *cargs, json_t *ckwargs, json_t **result,
              char *err, size_t errlen)
{
	GH_UNUSED(args);
	GH_UNUSED(kwargs);
	GH_UNUSED(cargs);
	GH_UNUSED(ckwargs);
	GH_UNUSED(result);
	GH_UNUSED(err);
	GH_UNUSED(errlen);
	abort();
}

static int
builtin_exit(json_t *args, json_t *kwargs, json_t *cargs, json_t *ckwargs, json_t **result,
             char *err, size_t errlen)
{
	GH_UNUSED(args);
	GH_UNUSED(kwargs);
	GH_UNUSED(cargs);
	GH_UNUSED(ckwargs);
	GH_UNUSED(result);
	GH_UNUSED(err);
	GH_UNUSED(errlen);
	_exit(3);
}

static int
builtin_getpid(json_t *args, json_t *kwargs, json_t *cargs, json_t *ckwargs, json_t **result,
               char *err, size_t errlen)
{
	GH_UNUSED(args);
	GH_UNUSED(kwargs);
	GH_UNUSED(cargs);
	GH_UNUSED(ckwargs);
	GH_UNUSED(err);
	GH_UNUSED(errlen);
	*result = json_integer((json_int_t)getpid());
	return 0;
}

static const struct {
	const char *name;
	gearhorn_handler_fn *fn;
} builtins[] = {
    {"echo", builtin_echo},   {"sleep", builtin_sleep}, {"fail", builtin_fail},
    {"crash", builtin_crash}, {"exit", builtin_exit},   {"getpid", builtin_getpid},
};

/* Names. */

static int
valid_module_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > HANDLER_MAX_NAME || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static int
valid_identifier(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > HANDLER_MAX_NAME || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

int
handler_check_program(const char *item, char *err, size_t errlen)
{
	const char *eq = strchr(item, '=');
	char name[HANDLER_MAX_NAME + 1];

	if (eq == NULL || eq == item || (size_t)(eq - item) > HANDLER_MAX_NAME)
		return gh_err(err, errlen, "program \"%s\": expected NAME=/absolute/path", item);
	memcpy(name, item, (size_t)(eq - item));
	name[eq - item] = '\0';
	if (!valid_module_name(name))
		return gh_err(err, errlen, "program \"%s\": the name must match [A-Za-z0-9_.-]+",
		              item);
	if (eq[1] != '/')
		return gh_err(err, errlen, "program \"%s\": the path must be absolute", item);
	return 0;
}

handler_t *
handler_new(char *const *dirs, size_t ndirs, char *const *programs, size_t nprograms, char *err,
            size_t errlen)
{
	handler_t *h = gh_calloc(1, sizeof(*h));
	size_t i;

	h->dirs = gh_calloc(ndirs + 1, sizeof(char *));
	for (i = 0; i < ndirs; i++)
		h->dirs[h->ndirs++] = gh_strdup(dirs[i]);
	h->programs = gh_calloc(nprograms + 1, sizeof(handler_program_t));
	for (i = 0; i < nprograms; i++) {
		const char *eq;
		if (handler_check_program(programs[i], err, errlen) == -1) {
			handler_destroy(&h);
			return NULL;
		}
		eq = strchr(programs[i], '=');
		h->programs[h->nprograms].name =
		    gh_strndup(programs[i], (size_t)(eq - programs[i]));
		h->programs[h->nprograms].path = gh_strdup(eq + 1);
		h->nprograms++;
	}
	return h;
}

void
handler_destroy(handler_t **self_p)
{
	handler_t *h;
	size_t i;

	if (self_p == NULL || (h = *self_p) == NULL)
		return;
	for (i = 0; i < h->ndirs; i++)
		free(h->dirs[i]);
	free(h->dirs);
	for (i = 0; i < h->nprograms; i++) {
		free(h->programs[i].name);
		free(h->programs[i].path);
	}
	free(h->programs);
	for (i = 0; i < h->nmodules; i++) {
		free(h->modules[i].name);
		if (h->modules[i].dl != NULL)
			dlclose(h->modules[i].dl);
	}
	free(h->modules);
	free(h);
	*self_p = NULL;
}

/* Results. */

static handler_status_t
set_text(char **text, size_t *textlen, handler_status_t st, const char *s)
{
	*text = gh_strdup(s);
	*textlen = strlen(s);
	return st;
}

static handler_status_t
set_value(char **text, size_t *textlen, json_t *value)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "value", value);
	/* Python's json.dumps separators, as EventMQ sends results. */
	s = json_dumps(o, JSON_ENCODE_ANY);
	json_decref(o);
	if (s == NULL)
		return set_text(text, textlen, HANDLER_FAILED, "result is not JSON-serialisable");
	if (strlen(s) > HANDLER_MAX_TEXT) {
		free(s);
		return set_text(text, textlen, HANDLER_FAILED, "result too large");
	}
	*textlen = strlen(s);
	*text = s;
	return HANDLER_OK;
}

static handler_status_t bad_job(char **text, size_t *textlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The length of the longest prefix of s, at most max bytes, that does not
 * cut a UTF-8 character in two. */
static int
utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	while (n > 0 && s[n] != '\0' && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

static handler_status_t
bad_job(char **text, size_t *textlen, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return set_text(text, textlen, HANDLER_BAD_JOB, buf);
}

/* Modules. */

static void *
module_load(handler_t *h, const char *name, char *err, size_t errlen)
{
	size_t i;
	int found = 0;

	for (i = 0; i < h->nmodules; i++)
		if (strcmp(h->modules[i].name, name) == 0)
			return h->modules[i].dl;
	for (i = 0; i < h->ndirs; i++) {
		char *path = gh_asprintf("%s/%s.so", h->dirs[i], name);
		struct stat st;
		void *dl;

		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		found = 1;
		dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (dl == NULL) {
			const char *e = dlerror();
			gh_err(err, errlen, "cannot load handler module \"%s\": %s", name,
			       e ? e : "dlopen failed");
			free(path);
			return NULL;
		}
		free(path);
		h->modules = gh_realloc(h->modules, (h->nmodules + 1) * sizeof(*h->modules));
		h->modules[h->nmodules].name = gh_strdup(name);
		h->modules[h->nmodules].dl = dl;
		h->nmodules++;
		return dl;
	}
	if (!found)
		gh_err(err, errlen, "no handler module \"%s\" in the handler directories", name);
	return NULL;
}

static handler_status_t
run_job(handler_t *h, json_t *spec, char **text, size_t *textlen)
{
	const char *callable, *path, *colon;
	json_t *args, *kwargs, *cargs, *ckwargs, *result = NULL;
	gearhorn_handler_fn *fn = NULL;
	char module[HANDLER_MAX_NAME + 1], cls[HANDLER_MAX_NAME + 1], err[1024];
	size_t i;
	int rc;

	callable = json_string_value(json_object_get(spec, "callable"));
	path = json_string_value(json_object_get(spec, "path"));
	if (callable == NULL || path == NULL)
		return bad_job(text, textlen, "job: \"callable\" and \"path\" must be strings");
	args = json_object_get(spec, "args");
	kwargs = json_object_get(spec, "kwargs");
	cargs = json_object_get(spec, "class_args");
	ckwargs = json_object_get(spec, "class_kwargs");
	if ((args != NULL && !json_is_array(args)) || (cargs != NULL && !json_is_array(cargs)))
		return bad_job(text, textlen, "job: \"args\" and \"class_args\" must be arrays");
	if ((kwargs != NULL && !json_is_object(kwargs)) ||
	    (ckwargs != NULL && !json_is_object(ckwargs)))
		return bad_job(text, textlen,
		               "job: \"kwargs\" and \"class_kwargs\" must be objects");
	if (!valid_identifier(callable))
		return bad_job(text, textlen, "job: callable must match [A-Za-z_][A-Za-z0-9_]*");
	colon = strchr(path, ':');
	if (colon != NULL) {
		size_t n = (size_t)(colon - path);
		if (n > HANDLER_MAX_NAME || !valid_identifier(colon + 1))
			return bad_job(
			    text, textlen,
			    "job: path must be MODULE or MODULE:Class, with Class an identifier");
		memcpy(module, path, n);
		module[n] = '\0';
		gh_strlcpy(cls, colon + 1, sizeof(cls));
	} else {
		if (gh_strlcpy(module, path, sizeof(module)) >= sizeof(module))
			return bad_job(text, textlen, "job: path is too long");
		cls[0] = '\0';
	}
	if (!valid_module_name(module))
		return bad_job(
		    text, textlen,
		    "job: module name must match [A-Za-z0-9_.-]+ and not begin with '.'");

	if (strcmp(module, "builtin") == 0 && cls[0] == '\0') {
		for (i = 0; i < GH_ARRAY_LEN(builtins); i++)
			if (strcmp(builtins[i].name, callable) == 0)
				fn = builtins[i].fn;
		if (fn == NULL)
			return bad_job(text, textlen, "no callable \"%s\" in the builtin module",
			               callable);
	} else if (h == NULL) {
		return set_text(text, textlen, HANDLER_OK, ""); /* checking: no module is loaded */
	} else {
		void *dl = module_load(h, module, err, sizeof(err));
		char *sym;

		if (dl == NULL)
			return bad_job(text, textlen, "%s", err);
		sym = cls[0] ? gh_asprintf(GEARHORN_HANDLER_PREFIX "%s_%s", cls, callable)
		             : gh_asprintf(GEARHORN_HANDLER_PREFIX "%s", callable);
		*(void **)&fn = dlsym(dl, sym);
		if (fn == NULL) {
			handler_status_t st = bad_job(
			    text, textlen, "no symbol %s in handler module \"%s\"", sym, module);
			free(sym);
			return st;
		}
		free(sym);
	}
	if (h == NULL)
		return set_text(text, textlen, HANDLER_OK, ""); /* checking: nothing is run */

	args = args ? json_incref(args) : json_array();
	kwargs = kwargs ? json_incref(kwargs) : json_object();
	cargs = cargs ? json_incref(cargs) : json_array();
	ckwargs = ckwargs ? json_incref(ckwargs) : json_object();
	err[0] = '\0';
	rc = fn(args, kwargs, cargs, ckwargs, &result, err, sizeof(err));
	json_decref(args);
	json_decref(kwargs);
	json_decref(cargs);
	json_decref(ckwargs);
	if (rc != 0) {
		json_decref(result);
		err[sizeof(err) - 1] = '\0';
		return set_text(text, textlen, HANDLER_FAILED, err[0] ? err : "handler failed");
	}
	return set_value(text, textlen, result ? result : json_null());
}

/* Programs (the "exec" verb). */

/* One run of an allowlisted program: the process, our ends of its pipes and
 * what it wrote. */
typedef struct {
	const handler_program_t *prog;
	pid_t pid;
	int in, out, err;  /* our ends of its stdin, stdout, stderr; -1 once closed */
	const char *input; /* the stdin text: inlen bytes, inoff of them written */
	size_t inlen, inoff;
	char *buf; /* its stdout: outlen bytes in outcap */
	size_t outlen, outcap;
	char errtail[HANDLER_STDERR_TAIL + 1]; /* the end of its stderr: errlen bytes */
	size_t errlen;
	int toobig; /* the output passed HANDLER_MAX_TEXT: the program was killed */
} exec_t;

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Reads an exec job's spec into x: the allowlisted program and its stdin;
 * *args is the "args" array (borrowed from spec, NULL when absent). Returns
 * HANDLER_OK, or HANDLER_BAD_JOB with text. */
static handler_status_t
exec_parse(handler_t *h, json_t *spec, exec_t *x, json_t **args, char **text, size_t *textlen)
{
	const char *name = json_string_value(json_object_get(spec, "program"));
	json_t *in = json_object_get(spec, "stdin");
	size_t i;

	*args = json_object_get(spec, "args");
	if (name == NULL)
		return bad_job(text, textlen, "exec: \"program\" must be a string");
	if (*args != NULL && !json_is_array(*args))
		return bad_job(text, textlen, "exec: \"args\" must be an array of strings");
	if (in != NULL && !json_is_string(in) && !json_is_null(in))
		return bad_job(text, textlen, "exec: \"stdin\" must be a string");
	memset(x, 0, sizeof(*x));
	x->in = x->out = x->err = -1;
	x->input = json_is_string(in) ? json_string_value(in) : "";
	x->inlen = json_is_string(in) ? json_string_length(in) : 0;
	for (i = 0; i < h->nprograms; i++)
		if (strcmp(h->programs[i].name, name) == 0)
			x->prog = &h->programs[i];
	if (x->prog == NULL)
		return bad_job(text, textlen, "exec: program \"%.255s\" is not allowed", name);
	for (i = 0; i < json_array_size(*args); i++)
		if (!json_is_string(json_array_get(*args, i)))
			return bad_job(text, textlen, "exec: \"args\" must be an array of strings");
	return HANDLER_OK;
}

/* The program's side of the fork: its pipes as 0-2, nothing else open. */
static void __attribute__((noreturn))
exec_child(const char *path, char **argv, int fds[3][2], pid_t parent)
{
	/* The program dies with its worker (a timeout kills the worker), even
	 * one that died before the prctl. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	dup2(fds[0][0], 0);
	dup2(fds[1][1], 1);
	dup2(fds[2][1], 2);
	closefrom(3);
	execv(path, argv);
	dprintf(2, "cannot execute %s: %s", path, strerror(errno));
	_exit(127);
}

/* Starts x's program with args (strings, checked by exec_parse), its stdin,
 * stdout and stderr on pipes whose other ends x holds, non-blocking.
 * Returns 0, or -1 with *why. */
static int
exec_spawn(exec_t *x, json_t *args, const char **why)
{
	int fds[3][2]; /* stdin, stdout, stderr: [0] the read end, [1] the write end */
	size_t i, n = json_array_size(args);
	pid_t parent = getpid();
	char **argv;

	for (i = 0; i < 3; i++)
		if (pipe2(fds[i], O_CLOEXEC) == -1) {
			while (i-- > 0) {
				close(fds[i][0]);
				close(fds[i][1]);
			}
			*why = "exec: pipe failed";
			return -1;
		}
	argv = gh_calloc(n + 2, sizeof(char *));
	argv[0] = x->prog->path;
	for (i = 0; i < n; i++)
		argv[i + 1] = (char *)json_string_value(json_array_get(args, i));
	x->pid = fork();
	if (x->pid == 0)
		exec_child(x->prog->path, argv, fds, parent);
	free(argv);
	close(fds[0][0]);
	close(fds[1][1]);
	close(fds[2][1]);
	x->in = fds[0][1];
	x->out = fds[1][0];
	x->err = fds[2][0];
	if (x->pid == -1) {
		close_fd(&x->in);
		close_fd(&x->out);
		close_fd(&x->err);
		*why = "exec: fork failed";
		return -1;
	}
	set_nonblock(x->in);
	set_nonblock(x->out);
	set_nonblock(x->err);
	if (x->inlen == 0)
		close_fd(&x->in);
	return 0;
}

/* Writes what the program's stdin takes; closes it when all is written. */
static void
pump_stdin(exec_t *x)
{
	ssize_t n = write(x->in, x->input + x->inoff, x->inlen - x->inoff);

	if (n > 0)
		x->inoff += (size_t)n;
	if ((n == -1 && errno != EAGAIN && errno != EINTR) || x->inoff == x->inlen)
		close_fd(&x->in);
}

/* Reads the program's stdout; kills the program once it is too large. */
static void
pump_stdout(exec_t *x)
{
	ssize_t n;

	if (x->outcap - x->outlen < 4096) {
		x->outcap = x->outcap ? x->outcap * 2 : 4096;
		x->buf = gh_realloc(x->buf, x->outcap);
	}
	n = read(x->out, x->buf + x->outlen, x->outcap - x->outlen - 1);
	if (n > 0)
		x->outlen += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		close_fd(&x->out);
	if (x->outlen > HANDLER_MAX_TEXT) {
		x->toobig = 1;
		kill(x->pid, SIGKILL);
		close_fd(&x->out);
	}
}

/* Reads the program's stderr, keeping its last HANDLER_STDERR_TAIL bytes. */
static void
pump_stderr(exec_t *x)
{
	char buf[4096];
	ssize_t n = read(x->err, buf, sizeof(buf));
	size_t k, keep;

	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close_fd(&x->err);
		return;
	}
	if (n == -1)
		return;
	k = (size_t)n;
	if (k >= HANDLER_STDERR_TAIL) {
		memcpy(x->errtail, buf + k - HANDLER_STDERR_TAIL, HANDLER_STDERR_TAIL);
		x->errlen = HANDLER_STDERR_TAIL;
	} else {
		keep = x->errlen + k > HANDLER_STDERR_TAIL ? HANDLER_STDERR_TAIL - k : x->errlen;
		memmove(x->errtail, x->errtail + x->errlen - keep, keep);
		memcpy(x->errtail + keep, buf, k);
		x->errlen = keep + k;
	}
	x->errtail[x->errlen] = '\0';
}

/* Moves the stdin text to the program and its output to x until it has
 * closed its stdout and stderr (or was killed for too large an output). */
static void
exec_pump(exec_t *x)
{
	while (x->out != -1 || x->err != -1) {
		struct pollfd p[3] = {
		    {x->out, POLLIN, 0}, {x->err, POLLIN, 0}, {x->in, POLLOUT, 0}};

		if (poll(p, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (x->in != -1 && p[2].revents)
			pump_stdin(x);
		if (x->out != -1 && p[0].revents)
			pump_stdout(x);
		if (x->err != -1 && p[1].revents)
			pump_stderr(x);
	}
}

/* Closes what is left of the pipes and waits for the program; returns its
 * wait status. */
static int
exec_reap(exec_t *x)
{
	int status = 0;

	close_fd(&x->in);
	close_fd(&x->out);
	close_fd(&x->err);
	while (waitpid(x->pid, &status, 0) == -1 && errno == EINTR)
		;
	return status;
}

/* The text of a program that failed: how it ended, and the end of its
 * stderr. */
static handler_status_t
exec_failure(exec_t *x, int status, char **text, size_t *textlen)
{
	char msg[HANDLER_STDERR_TAIL + 128];
	const char *sep;
	size_t i;

	/* Stderr may hold any bytes: keep printable ASCII only. */
	for (i = 0; i < x->errlen; i++)
		if ((unsigned char)x->errtail[i] < 0x20 || (unsigned char)x->errtail[i] > 0x7e)
			x->errtail[i] = x->errtail[i] == '\n' && i + 1 == x->errlen ? '\0' : ' ';
	sep = x->errtail[0] != '\0' ? ": " : "";
	if (WIFEXITED(status))
		snprintf(msg, sizeof(msg), "program %s exited with status %d%s%s", x->prog->name,
		         WEXITSTATUS(status), sep, x->errtail);
	else
		snprintf(msg, sizeof(msg), "program %s was killed by signal %d%s%s", x->prog->name,
		         WTERMSIG(status), sep, x->errtail);
	return set_text(text, textlen, HANDLER_FAILED, msg);
}

/* The job's result from how the program ended (wait status) and what it
 * wrote. */
static handler_status_t
exec_result(exec_t *x, int status, char **text, size_t *textlen)
{
	json_t *s;

	if (x->toobig)
		return set_text(text, textlen, HANDLER_FAILED, "result too large");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return exec_failure(x, status, text, textlen);
	s = json_stringn(x->buf != NULL ? x->buf : "", x->outlen);
	return s ? set_value(text, textlen, s)
	         : set_text(text, textlen, HANDLER_FAILED,
	                    "exec: the program's output is not UTF-8 text");
}

static handler_status_t
run_exec(handler_t *h, json_t *spec, char **text, size_t *textlen)
{
	exec_t x;
	json_t *args;
	const char *why;
	handler_status_t st;
	int status;

	if ((st = exec_parse(h, spec, &x, &args, text, textlen)) != HANDLER_OK)
		return st;
	if (exec_spawn(&x, args, &why) == -1)
		return set_text(text, textlen, HANDLER_FAILED, why);
	exec_pump(&x);
	status = exec_reap(&x);
	st = exec_result(&x, status, text, textlen);
	free(x.buf);
	return st;
}

/* handler_run, or with h NULL handler_check_job: the same reading, nothing run. */
static handler_status_t
job_body(handler_t *h, const char *body, size_t len, char **text, size_t *textlen)
{
	json_t *job, *spec;
	json_error_t jerr;
	const char *verb;
	handler_status_t st;

	job = json_loadb(body, len, 0, &jerr);
	if (job == NULL)
		return bad_job(text, textlen, "job is not JSON: %s at offset %d", jerr.text,
		               jerr.position);
	verb = json_string_value(json_array_get(job, 0));
	spec = json_array_get(job, 1);
	if (!json_is_array(job) || json_array_size(job) != 2 || verb == NULL ||
	    !json_is_object(spec)) {
		json_decref(job);
		return bad_job(text, textlen, "job must be [\"run\" or \"exec\", {...}]");
	}
	if (strcmp(verb, "run") == 0)
		st = run_job(h, spec, text, textlen);
	else if (strcmp(verb, "exec") == 0)
		st = h != NULL ? run_exec(h, spec, text, textlen)
		               : set_text(text, textlen, HANDLER_OK, "");
	else
		st = bad_job(text, textlen, "unknown job verb \"%.*s\" (expected run or exec)",
		             utf8_prefix(verb, 64), verb);
	json_decref(job);
	return st;
}

handler_status_t
handler_run(handler_t *h, const char *body, size_t len, char **text, size_t *textlen)
{
	assert(h != NULL);
	return job_body(h, body, len, text, textlen);
}

handler_status_t
handler_check_job(const char *body, size_t len, char **text, size_t *textlen)
{
	return job_body(NULL, body, len, text, textlen);
}
