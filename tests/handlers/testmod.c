/*
 * testmod.c: a handler module for tests/check_pool (see gearhorn-handler.h).
 */
#include <stdio.h>

#include "gearhorn-handler.h"

gearhorn_handler_fn gearhorn_handler_add;
gearhorn_handler_fn gearhorn_handler_Calc_mul;
gearhorn_handler_fn gearhorn_handler_oops;

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
