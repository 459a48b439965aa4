/*
 * gearhorn-handler.h: the interface of a gearhorn-jobmanager(8) handler
 * module.
 *
 * A handler module is a shared object "<name>.so" in one of the directories
 * of [jobmanager] handler_dirs. A job
 *
 *   ["run", {"path": "<name>", "callable": "<fn>", "args": [...], ...}]
 *
 * calls the symbol gearhorn_handler_<fn> of that module; a job whose path is
 * "<name>:<Class>" (EventMQ's class form) calls gearhorn_handler_<Class>_<fn>.
 * Handlers run in a worker process of the job manager, one job at a time;
 * they may block, keep state in static variables between jobs of the same
 * process, and must not touch the job manager's descriptors.
 */
#ifndef GEARHORN_HANDLER_H
#define GEARHORN_HANDLER_H

#include <stddef.h>

#include <jansson.h>

#define GEARHORN_HANDLER_PREFIX "gearhorn_handler_"

/* A job handler. args (an array), kwargs (an object), class_args (an array)
 * and class_kwargs (an object) are borrowed, valid during the call; absent
 * ones are empty. On success return 0 and set *result to a new reference
 * (the job manager steals it; it becomes the "value" of the job's result).
 * On failure return -1 and write a NUL-terminated UTF-8 message into err
 * (errlen bytes); the job is then reported as failed with that message. */
typedef int gearhorn_handler_fn(json_t *args, json_t *kwargs, json_t *class_args,
                                json_t *class_kwargs, json_t **result, char *err, size_t errlen);

#endif
