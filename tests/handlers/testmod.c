/*
 * testmod.c: a handler module for tests/check_pool and tests/jobmanager.test
 * (see gearhorn-handler.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "gearhorn-handler.h"

gearhorn_handler_fn gearhorn_handler_add;
gearhorn_handler_fn gearhorn_handler_Calc_mul;
gearhorn_handler_fn gearhorn_handler_oops;
gearhorn_handler_fn gearhorn_handler_hold;

/* The sum of the integer args. */
int
gearhorn_handler_add(json_t *args, json_t *kwargs, json_t *class_args, json_t *class_kwargs,
                     json_t **result, char *err, size_t errlen)
{
	json_int_t sum = 0;
	size_t i;
	json_t *v;

	(void)kwargs;
	(void)class_args;
	(void)class_kwargs;
	json_array_foreach(args, i, v)
	{
		if (!json_is_integer(v)) {
			snprintf(err, errlen, "add: args[%zu] is not an integer", i);
			return -1;
		}
		sum += json_integer_value(v);
	}
	*result = json_integer(sum);
	return 0;
}

/* EventMQ's class form: class_kwargs["factor"] * args[0]. */
int
gearhorn_handler_Calc_mul(json_t *args, json_t *kwargs, json_t *class_args, json_t *class_kwargs,
                          json_t **result, char *err, size_t errlen)
{
	(void)kwargs;
	(void)class_args;
	(void)err;
	(void)errlen;
	*result = json_integer(json_integer_value(json_object_get(class_kwargs, "factor")) *
	                       json_integer_value(json_array_get(args, 0)));
	return 0;
}

int
gearhorn_handler_oops(json_t *args, json_t *kwargs, json_t *class_args, json_t *class_kwargs,
                      json_t **result, char *err, size_t errlen)
{
	(void)args;
	(void)kwargs;
	(void)class_args;
	(void)class_kwargs;
	(void)result;
	snprintf(err, errlen, "oops: %s", json_string_value(json_object_get(kwargs, "why")));
	return -1;
}

/* args [MARK, GATE, SECONDS]: creates the file MARK (the job has started),
 * then waits until the file GATE exists ("" for never) or SECONDS have
 * passed. Lets a test act while a job is certainly running, and end it
 * when it chooses, instead of guessing with sleeps. Result: "opened", or
 * an error when SECONDS ran out. */
int
gearhorn_handler_hold(json_t *args, json_t *kwargs, json_t *class_args, json_t *class_kwargs,
                      json_t **result, char *err, size_t errlen)
{
	const char *mark = json_string_value(json_array_get(args, 0));
	const char *gate = json_string_value(json_array_get(args, 1));
	json_t *secs = json_array_get(args, 2);
	struct timespec tick = {0, 10 * 1000 * 1000};
	long ticks;
	int fd;

	(void)kwargs;
	(void)class_args;
	(void)class_kwargs;
	if (mark == NULL || gate == NULL || !json_is_integer(secs)) {
		snprintf(err, errlen, "hold: args must be [MARK, GATE, SECONDS]");
		return -1;
	}
	if ((fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "hold: cannot create %s", mark);
		return -1;
	}
	close(fd);
	for (ticks = json_integer_value(secs) * 100; ticks > 0; ticks--) {
		if (*gate != '\0' && access(gate, F_OK) == 0) {
			*result = json_string("opened");
			return 0;
		}
		nanosleep(&tick, NULL);
	}
	snprintf(err, errlen, "hold: %s did not appear in time", *gate ? gate : "the gate");
	return -1;
}
