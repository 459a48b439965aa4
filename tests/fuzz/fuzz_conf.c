/*
 * fuzz_conf: libFuzzer target for the configuration reader. Any text either
 * loads, and then dumps to text that loads to the same values, or is
 * refused with a message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"
#include "util.h"

/* The protocol cases and the man pages: text that is mostly not a
 * configuration file (make fuzz seeds the fuzzer with the man pages). */
const char *const fuzz_replay_inputs[] = {"man", "tests/data", NULL};

static char *
dump(const conf_t *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		abort();
	conf_dump(c, NULL, f);
	fclose(f);
	return buf;
}

/* Every key has the same value in both (origins differ, values must not). */
static void
same_values(const conf_t *a, const conf_t *b)
{
	const conf_key_info_t *k;
	size_t i;

	for (i = 0; (k = conf_key_at(i)) != NULL; i++)
		if (strcmp(conf_get(a, k->section, k->key), conf_get(b, k->section, k->key)) != 0)
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = gh_strndup((const char *)data, size);
	char err[512] = "";
	conf_t *c = conf_new(), *c2;

	if (strlen(text) == size && conf_load_string(c, text, "fuzz", err, sizeof(err)) == 0) {
		char *d1 = dump(c);

		c2 = conf_new();
		/* conf_dump writes lines libinih may refuse when a value is very
		 * long (see conf.h); only a successful reload must agree. */
		if (conf_load_string(c2, d1, "dump", err, sizeof(err)) == 0)
			same_values(c, c2);
		conf_destroy(&c2);
		free(d1);
	} else if (strlen(text) == size && err[0] == '\0') {
		__builtin_trap();
	}
	conf_destroy(&c);
	free(text);
	return 0;
}

/* Only what LLVMFuzzerTestOneInput checks: no input says what it expects. */
int
fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen)
{
	(void)data;
	(void)size;
	(void)fail;
	(void)faillen;
	return 0;
}
