/*
 * files.h: where tests read and write files, header-only.
 *
 * Inputs come from the source tree ($top_srcdir, which make check sets).
 * Output goes to a private directory under $TMPDIR or, when that is unset,
 * under the build tree's tests/tmp (make clean removes it), never to a fixed
 * path, so that tests running side by side and make distcheck keep out of
 * each other's way.
 */
#ifndef GEARHORN_TESTS_FILES_H
#define GEARHORN_TESTS_FILES_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The path of rel (a file or directory of the source tree, borrowed) under
 * $top_srcdir, else under "." or ".." (a test run by hand from the source
 * or the build directory), whichever exists first. Caller owns the result
 * (free()); NULL when there is none, and the test should then skip. */
static inline char *
gh_test_input(const char *rel)
{
	const char *tops[] = {getenv("top_srcdir"), ".", ".."};
	size_t i;

	for (i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		size_t len;
		char *path;

		if (tops[i] == NULL || *tops[i] == '\0')
			continue;
		len = strlen(tops[i]) + strlen(rel) + 2;
		if ((path = malloc(len)) == NULL)
			return NULL;
		snprintf(path, len, "%s/%s", tops[i], rel);
		if (access(path, F_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/* Makes a new directory NAME.XXXXXX under $TMPDIR, else under
 * $top_builddir/tests/tmp (./tests/tmp when top_builddir is unset; made if
 * missing), and writes its path into dir (size bytes, caller's). Remove it
 * with gh_tmpdir_remove. Returns 0, or -1 with errno (ENAMETOOLONG when the
 * path does not fit). */
static inline int
gh_tmpdir_make(char *dir, size_t size, const char *name)
{
	const char *base = getenv("TMPDIR"), *build = getenv("top_builddir");
	int n;

	if (base == NULL || *base == '\0') {
		if (build == NULL || *build == '\0')
			build = ".";
		n = snprintf(dir, size, "%s/tests", build);
		if (n < 0 || (size_t)n >= size)
			goto too_long;
		if (mkdir(dir, 0777) != 0 && errno != EEXIST)
			return -1;
		n = snprintf(dir, size, "%s/tests/tmp", build);
		if (n < 0 || (size_t)n >= size)
			goto too_long;
		if (mkdir(dir, 0777) != 0 && errno != EEXIST)
			return -1;
		n = snprintf(dir, size, "%s/tests/tmp/%s.XXXXXX", build, name);
	} else {
		n = snprintf(dir, size, "%s/%s.XXXXXX", base, name);
	}
	if (n < 0 || (size_t)n >= size)
		goto too_long;
	return mkdtemp(dir) != NULL ? 0 : -1;
too_long:
	errno = ENAMETOOLONG;
	return -1;
}

static inline int
gh_tmpdir_remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes dir (borrowed) and everything under it, without following
 * symbolic links. Returns 0, or -1 with errno (ENOENT when dir is gone). */
static inline int
gh_tmpdir_remove(const char *dir)
{
	return nftw(dir, gh_tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
