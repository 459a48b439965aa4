/*
 * replay: runs a fuzz target over files as a regression test inside make
 * check (no libFuzzer needed): every input is checked for what it expects
 * (fuzz_replay_check, which names the input when it fails), then goes
 * through the target's entry point, which aborts when a property fails.
 * Arguments are files or directories (read in name order); without any,
 * the target's fuzz_replay_inputs under $top_srcdir. Exits 0 when every
 * input passes, 1 when one fails, 77 (skip) when there is none to read.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/files.h"
#include "fuzz.h"

struct tally {
	int inputs, failed;
};

static void
run_file(const char *path, struct tally *t)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	char fail[512];
	long len;

	t->inputs++;
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		perror(path);
		t->failed++;
	} else if (fuzz_replay_check(buf, (size_t)len, fail, sizeof(fail)) != 0) {
		printf("FAIL %s: %s\n", path, fail);
		t->failed++;
	} else {
		LLVMFuzzerTestOneInput(buf, (size_t)len);
	}
	free(buf);
	if (f != NULL)
		fclose(f);
}

static int
visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static void
run_path(const char *path, struct tally *t)
{
	struct dirent **names;
	struct stat st;
	int i, n;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		run_file(path, t);
		return;
	}
	if ((n = scandir(path, &names, visible, alphasort)) < 0) {
		perror(path);
		t->failed++;
		return;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
		char *sub = malloc(len);

		if (sub == NULL)
			abort();
		snprintf(sub, len, "%s/%s", path, names[i]->d_name);
		run_path(sub, t);
		free(sub);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	struct tally t = {0, 0};
	int i;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			run_path(argv[i], &t);
	} else {
		for (i = 0; fuzz_replay_inputs[i] != NULL; i++) {
			char *path = gh_test_input(fuzz_replay_inputs[i]);

			if (path == NULL) {
				fprintf(stderr, "SKIP: %s not found (set top_srcdir)\n",
				        fuzz_replay_inputs[i]);
				return 77;
			}
			run_path(path, &t);
			free(path);
		}
	}
	if (t.inputs == 0) {
		fprintf(stderr, "SKIP: no inputs\n");
		return 77;
	}
	printf("replayed %d inputs, %d failed\n", t.inputs, t.failed);
	return t.failed == 0 ? 0 : 1;
}
