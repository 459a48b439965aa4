/*
 * conf.h: the gearhorn configuration, shared by every program.
 *
 * One INI file with the sections [global] [router] [jobmanager] [scheduler]
 * [fanout] [bridge] [cli] (gearhorn(1)). Every key is declared in a built-in schema (see
 * conf_key_at) with a type, a default, limits and a help line. Values are
 * layered by load order: defaults < file < environment < command line, each
 * layer replacing what the previous one set for the same [section] key.
 * A [global] key may also be set in a program section; a lookup in that
 * section returns the section's own value if one was set, else the [global]
 * value, else the default.
 *
 * Environment variables are named GEARHORN_<SECTION>_<KEY> in upper case,
 * e.g. GEARHORN_ROUTER_MAX_LENGTH; GEARHORN_CONFIG names the file.
 *
 * Errors from loading name where and what, e.g.
 *   /etc/gearhorn.conf:12: [router] max_length: expected an integer from 1 to 100000000, got "ten"
 * with untrusted bytes escaped (see log_escape). After an error the conf_t
 * may hold part of the input: discard it.
 *
 * A conf_t is not locked: share it between threads only for reading.
 */
#ifndef GEARHORN_CONF_H
#define GEARHORN_CONF_H

#include <stddef.h>
#include <stdio.h>

typedef struct conf conf_t;

/* One schema entry, for documentation and `gearhorn config --keys`.
 * type_name is "string", "integer MIN..MAX", "boolean", "enum A|B|C",
 * "list", "endpoint", "endpoint list" or "server list". */
typedef struct {
	const char *section;
	const char *key;
	const char *type_name;
	const char *def;
	const char *help;
} conf_key_info_t;

/* Returns a configuration holding only the defaults. Caller owns the result
 * (free with conf_destroy). */
conf_t *conf_new(void);

/* Frees *self_p and sets it to NULL. Accepts NULL and a pointer to NULL. */
void conf_destroy(conf_t **self_p);

/* Reads the INI file at path and applies every key in it, in order (a key
 * set twice: the last one wins). Returns 0, or -1 with a message in err
 * ("cannot open PATH: REASON", "PATH:LINE: ..."). path is borrowed. */
int conf_load_file(conf_t *c, const char *path, char *err, size_t errlen);

/* Same as conf_load_file for INI text held in memory; name stands for the
 * file name in origins and messages (NULL: "(string)"). Borrowed. */
int conf_load_string(conf_t *c, const char *text, const char *name, char *err, size_t errlen);

/* Applies every GEARHORN_<SECTION>_<KEY>=VALUE entry of envp (a NULL-
 * terminated "NAME=VALUE" array such as environ; NULL means none), in
 * order. GEARHORN_CONFIG is skipped; any other GEARHORN_* variable that
 * names no key is an error naming the variable. Returns 0 or -1. */
int conf_load_env(conf_t *c, char *const *envp, char *err, size_t errlen);

/* Sets [section] key to value (leading and trailing white space removed),
 * after checking it against the schema; origin (NULL: "command line") is
 * copied and reported by conf_origin and in messages. Integers, booleans
 * and enum values are stored in canonical form ("+05" -> "5", "YES" ->
 * "true", "DEBUG" -> "debug"). A value may not contain control characters
 * other than tab, nor ';' after a space or tab (it would begin a comment in
 * the file), so that conf_dump can always write it. Returns 0, or -1 with
 * "ORIGIN: [section] key: ..." in err; on error nothing changes. */
int conf_set(conf_t *c, const char *section, const char *key, const char *value, const char *origin,
             char *err, size_t errlen);

/* Returns defaults, then the file at path, then envp (see conf_load_env;
 * NULL means no environment at all). A NULL path means GEARHORN_CONFIG from
 * envp if it is set and not empty, else conf_default_path(); a missing
 * default file is no error, a missing named file is. Caller owns the
 * result; NULL on error with the message in err. */
conf_t *conf_load(const char *path, char *const *envp, char *err, size_t errlen);

/* A program's command line option that sets [section] key. */
typedef struct {
	const char *key, *value;
} conf_override_t;

/* conf_load(), then each of the n overrides set in section with origin
 * "command line", in order (a later one for the same key wins). Caller
 * owns the result; NULL on error with the message in err. */
conf_t *conf_load_overrides(const char *path, char *const *envp, const char *section,
                            const conf_override_t *ov, size_t n, char *err, size_t errlen);

/* Returns the path used when neither a path nor GEARHORN_CONFIG is given:
 * GH_DEFAULT_CONFIG at build time, else "/etc/gearhorn.conf". Borrowed,
 * static. */
const char *conf_default_path(void);

/* Returns the path of the last file loaded into c (by conf_load_file or
 * conf_load), or NULL if none was. Borrowed, valid until c is destroyed. */
const char *conf_file(const conf_t *c);

/* Returns 1 if [section] key can be set and looked up: a schema key, or a
 * [global] key in a program section. Returns 0 otherwise, including for
 * NULL arguments. Use it before conf_get on names that come from a user. */
int conf_key_valid(const char *section, const char *key);

/* Returns the effective value of [section] key (see the lookup rule at the
 * top). Never NULL. Borrowed, valid until the next conf_set / conf_load_*
 * on c or conf_destroy. The key must be valid (asserted). */
const char *conf_get(const conf_t *c, const char *section, const char *key);

/* conf_get for an integer key, already checked against its range. The key
 * must be valid and of integer type (asserted). */
long conf_get_int(const conf_t *c, const char *section, const char *key);

/* conf_get for a boolean key: returns 1 or 0. The key must be valid and of
 * boolean type (asserted). */
int conf_get_bool(const conf_t *c, const char *section, const char *key);

/* Returns where the effective value of [section] key came from: "default",
 * "FILE:LINE", "environment GEARHORN_X_Y", "command line" or the origin
 * given to conf_set. Borrowed, valid like conf_get's result. */
const char *conf_origin(const conf_t *c, const char *section, const char *key);

/* Splits the effective value of [section] key at commas and white space,
 * skipping empty items, and stores the item count in *n. Any key may be
 * split this way. Caller owns the result, a NULL-terminated array (never
 * NULL, possibly empty); free it with conf_list_free. */
char **conf_get_list(const conf_t *c, const char *section, const char *key, size_t *n);

/* Frees a list from conf_get_list (n items). Accepts NULL. */
void conf_list_free(char **list, size_t n);

/* Writes the effective configuration as INI text that conf_load_string reads
 * back to the same values, each key with a "; ORIGIN" comment. section NULL:
 * every section, with the [global] keys once and program sections holding
 * only the overrides set in them; a section name: that section with the
 * effective values of its own and of the [global] keys. The section must be
 * NULL or known (asserted). Lines longer than the file format's limit (see
 * gearhorn.conf(5)) are written anyway and will not load back. */
void conf_dump(const conf_t *c, const char *section, FILE *out);

/* Returns schema entry i (0, 1, ...) or NULL past the last one. Borrowed,
 * static: valid for the life of the program. */
const conf_key_info_t *conf_key_at(size_t i);

/* Checks one ZeroMQ endpoint: tcp://HOST:PORT (HOST a name, an IPv4
 * address, [IPv6] or *; PORT 1..65535), ipc://PATH or inproc://NAME.
 * Returns 0, or -1 with the reason in err. */
int conf_check_endpoint(const char *endpoint, char *err, size_t errlen);

/* Splits one gearman job server HOST[:PORT] (IPv6 as [ADDR] or [ADDR]:PORT)
 * into host (brackets removed; at most hostlen - 1 bytes) and *port
 * (4730 if absent). Returns 0, or -1 with the reason in err. */
int conf_parse_server(const char *server, char *host, size_t hostlen, int *port, char *err,
                      size_t errlen);

#endif
