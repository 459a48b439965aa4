/*
 * check_dict: the hash table (src/lib/dict.c).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "util.h"
#include "lib/check_main.h"

static int freed;

static void
count_free(void *v)
{
	freed++;
	free(v);
}

START_TEST(test_set_get_replace_del)
{
	dict_t *d = dict_new(count_free);

	freed = 0;
	ck_assert_ptr_null(dict_get(d, "a", 1));
	ck_assert_int_eq(dict_set(d, "a", 1, gh_strdup("one")), 1);
	ck_assert_str_eq(dict_get(d, "a", 1), "one");
	ck_assert_int_eq(dict_set(d, "a", 1, gh_strdup("uno")), 0);
	ck_assert_int_eq(freed, 1);
	ck_assert_str_eq(dict_get(d, "a", 1), "uno");
	ck_assert_uint_eq(dict_size(d), 1);
	ck_assert_int_eq(dict_del(d, "a", 1), 1);
	ck_assert_int_eq(freed, 2);
	ck_assert_int_eq(dict_del(d, "a", 1), 0);
	ck_assert_uint_eq(dict_size(d), 0);
	dict_destroy(&d);
	ck_assert_ptr_null(d);
	dict_destroy(&d);
}
END_TEST

START_TEST(test_binary_keys_and_take)
{
	dict_t *d = dict_new(NULL);
	static const char k1[] = {'x', '\0', 'y'}, k2[] = {'x', '\0', 'z'};
	int v1 = 1, v2 = 2;

	dict_set(d, k1, sizeof(k1), &v1);
	dict_set(d, k2, sizeof(k2), &v2);
	dict_set(d, "", 0, &v1);
	ck_assert_ptr_eq(dict_get(d, k1, sizeof(k1)), &v1);
	ck_assert_ptr_eq(dict_get(d, k2, sizeof(k2)), &v2);
	ck_assert_ptr_eq(dict_get(d, "", 0), &v1);
	ck_assert_ptr_null(dict_get(d, "x", 1));
	ck_assert_ptr_eq(dict_take(d, k2, sizeof(k2)), &v2);
	ck_assert_ptr_null(dict_take(d, k2, sizeof(k2)));
	ck_assert_uint_eq(dict_size(d), 2);
	dict_destroy(&d);
}
END_TEST

START_TEST(test_growth_and_iteration)
{
	dict_t *d = dict_new(count_free);
	dict_iter_t it;
	const void *key;
	size_t klen, n = 0, i;
	void *value;
	char buf[32];
	static unsigned char seen[5000];

	freed = 0;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 5000; i++) {
		int *v = gh_malloc(sizeof(*v));

		*v = (int)i;
		snprintf(buf, sizeof(buf), "key-%zu", i);
		ck_assert_int_eq(dict_set(d, buf, strlen(buf), v), 1);
	}
	ck_assert_uint_eq(dict_size(d), 5000);
	for (i = 0; i < 5000; i++) {
		int *v;

		snprintf(buf, sizeof(buf), "key-%zu", i);
		v = dict_get(d, buf, strlen(buf));
		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(*v, (int)i);
	}
	dict_iter_init(d, &it);
	while (dict_iter_next(&it, &key, &klen, &value)) {
		int v = *(int *)value;

		ck_assert_int_eq(seen[v], 0);
		seen[v] = 1;
		snprintf(buf, sizeof(buf), "key-%d", v);
		ck_assert_uint_eq(klen, strlen(buf));
		ck_assert_int_eq(memcmp(key, buf, klen), 0);
		if (v % 2 == 0)
			dict_iter_del(&it);
		n++;
	}
	ck_assert_uint_eq(n, 5000);
	ck_assert_uint_eq(dict_size(d), 2500);
	ck_assert_int_eq(freed, 2500);
	ck_assert_ptr_null(dict_get(d, "key-0", 5));
	ck_assert_ptr_nonnull(dict_get(d, "key-1", 5));
	dict_destroy(&d);
	ck_assert_int_eq(freed, 5000);
}
END_TEST

START_TEST(test_siphash)
{
	unsigned char k[16], k2[16];
	size_t i;

	for (i = 0; i < 16; i++) {
		k[i] = (unsigned char)i;
		k2[i] = (unsigned char)(i + 1);
	}
	ck_assert_uint_eq(dict_siphash(k, "hello", 5), dict_siphash(k, "hello", 5));
	ck_assert_uint_ne(dict_siphash(k, "hello", 5), dict_siphash(k, "hellp", 5));
	ck_assert_uint_ne(dict_siphash(k, "hello", 5), dict_siphash(k2, "hello", 5));
	ck_assert_uint_ne(dict_siphash(k, "", 0), dict_siphash(k, "\0", 1));
	/* Every tail length takes its own path. */
	for (i = 0; i < 16; i++)
		ck_assert_uint_ne(dict_siphash(k, "0123456789abcdef", i),
		                  dict_siphash(k, "0123456789abcdef", i + 1));
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("dict");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_set_get_replace_del);
	tcase_add_test(tc, test_binary_keys_and_take);
	tcase_add_test(tc, test_growth_and_iteration);
	tcase_add_test(tc, test_siphash);
	suite_add_tcase(s, tc);
	return s;
}
