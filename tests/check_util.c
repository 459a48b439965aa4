/*
 * check_util: ids, numbers and bounded strings from util.h.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dict.h"
#include "util.h"
#include "lib/check_main.h"

static int
is_uuid4(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (strlen(s) != GH_UUID_LEN)
		return 0;
	for (size_t i = 0; i < GH_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] == '\0' || strchr(hex, s[i]) == NULL) {
			return 0;
		}
	}
	/* Version 4, variant 10xx. */
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

START_TEST(test_uuid_format_and_uniqueness)
{
	dict_t *seen = dict_new(NULL);
	char id[GH_UUID_LEN + 1];

	/* Many times the per-thread buffer, so that it is refilled. */
	for (int i = 0; i < 20000; i++) {
		gh_uuid(id);
		ck_assert_msg(is_uuid4(id), "not a version 4 UUID: %s", id);
		ck_assert_ptr_null(dict_get(seen, id, GH_UUID_LEN));
		dict_set(seen, id, GH_UUID_LEN, seen);
	}
	dict_destroy(&seen);
}
END_TEST

/* A forked child must not hand out the ids its parent is about to. */
START_TEST(test_uuid_after_fork)
{
	char first[GH_UUID_LEN + 1], parent[GH_UUID_LEN + 1], child[GH_UUID_LEN + 1];
	int fds[2], status;
	pid_t pid;

	gh_uuid(first); /* the buffer is now filled and partly used */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		gh_uuid(child);
		_exit(write(fds[1], child, GH_UUID_LEN) == GH_UUID_LEN ? 0 : 1);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], child, GH_UUID_LEN), GH_UUID_LEN);
	child[GH_UUID_LEN] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	gh_uuid(parent);
	ck_assert(is_uuid4(child));
	ck_assert_str_ne(child, parent);
	ck_assert_str_ne(child, first);
}
END_TEST

static void *
thread_ids(void *arg)
{
	char(*ids)[GH_UUID_LEN + 1] = arg;

	for (int i = 0; i < 100; i++)
		gh_uuid(ids[i]);
	return NULL;
}

/* Threads draw from buffers of their own: no id is handed out twice. */
START_TEST(test_uuid_threads)
{
	static char ids[4][100][GH_UUID_LEN + 1];
	pthread_t t[4];
	dict_t *seen = dict_new(NULL);

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_ids, ids[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 100; j++) {
			ck_assert(is_uuid4(ids[i][j]));
			ck_assert_ptr_null(dict_get(seen, ids[i][j], GH_UUID_LEN));
			dict_set(seen, ids[i][j], GH_UUID_LEN, seen);
		}
	dict_destroy(&seen);
}
END_TEST

/* gh_list_append joins -s options and router endpoints: NULL is the empty
 * list, and an empty item still takes its place. */
START_TEST(test_list_append)
{
	char *list = NULL;

	gh_list_append(&list, "a:1");
	ck_assert_str_eq(list, "a:1");
	gh_list_append(&list, "b:2");
	gh_list_append(&list, "");
	gh_list_append(&list, "c");
	ck_assert_str_eq(list, "a:1,b:2,,c");
	free(list);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("uuid");

	tcase_add_test(tc, test_uuid_format_and_uniqueness);
	tcase_add_test(tc, test_uuid_after_fork);
	tcase_add_test(tc, test_uuid_threads);
	tcase_add_test(tc, test_list_append);
	suite_add_tcase(s, tc);
	return s;
}
