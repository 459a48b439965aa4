/*
 * check_bridge: the routes and the payload mapping of gearhorn-bridge
 * (bridge/map.c), with no servers.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check_main.h"
#include "map.h"

/* Every byte value, in lengths around base64's groups of three. */
START_TEST(test_encode_decode_any_bytes)
{
	char data[300], *out, err[256];
	size_t len, outlen;

	for (len = 0; len < sizeof(data); len++)
		data[len] = (char)(len * 7 + 3);
	for (len = 0; len <= sizeof(data); len += len < 8 ? 1 : 37) {
		json_t *v = bridge_encode(data, len);

		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(bridge_decode(v, &out, &outlen, err, sizeof(err)), 0);
		ck_assert_uint_eq(outlen, len);
		ck_assert(memcmp(out, data, len) == 0);
		free(out);
		json_decref(v);
	}
}
END_TEST

START_TEST(test_encode_forms)
{
	json_t *v;
	char *s;

	/* UTF-8 text stays a string. */
	v = bridge_encode("h\xc3\xa9llo", 6);
	ck_assert(json_is_string(v));
	ck_assert_str_eq(json_string_value(v), "h\xc3\xa9llo");
	json_decref(v);
	/* Not UTF-8, or with NUL: base64. */
	v = bridge_encode("\xff\xfe", 2);
	s = json_dumps(v, JSON_COMPACT);
	ck_assert_str_eq(s, "{\"base64\":\"//4=\"}");
	free(s);
	json_decref(v);
	v = bridge_encode("a\0b", 3);
	s = json_dumps(v, JSON_COMPACT);
	ck_assert_str_eq(s, "{\"base64\":\"YQBi\"}");
	free(s);
	json_decref(v);
}
END_TEST

START_TEST(test_decode_other_values)
{
	static const char *const bad[] = {
	    "{\"base64\": \"abc\"}", "{\"base64\": \"a===\"}", "{\"base64\": \"ab=c\"}",
	    "{\"base64\": \"////////=AAA\"}", "{\"base64\": \"ab\\u0000c\"}"};
	json_t *v = json_loads("{\"a\": [1, 2]}", 0, NULL);
	char *out, err[256];
	size_t outlen, i;

	/* Any other value: its compact JSON. */
	ck_assert_int_eq(bridge_decode(v, &out, &outlen, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "{\"a\":[1,2]}");
	free(out);
	json_decref(v);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
		ck_assert_ptr_nonnull(v);
		ck_assert_msg(bridge_decode(v, &out, &outlen, err, sizeof(err)) == -1, "%s",
		              bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "base64"));
		json_decref(v);
	}
}
END_TEST

START_TEST(test_unwrap)
{
	static const struct {
		const char *body, *workload, *error;
	} cases[] = {
	    {"[\"run\", {\"args\": [\"hi\"]}]", "hi", NULL},
	    {"[\"run\", {\"path\": \"x\", \"callable\": \"y\", \"args\": [{\"base64\": \"//4=\"}], "
	     "\"kwargs\": {}}]",
	     "\xff\xfe", NULL},
	    {"[\"run\", {\"args\": [{\"topic\": \"t\", \"payload\": \"p\"}]}]",
	     "{\"topic\":\"t\",\"payload\":\"p\"}", NULL},
	    {"not json", NULL, "not JSON"},
	    {"{\"args\": [1]}", NULL, "must be"},
	    {"[\"run\"]", NULL, "must be"},
	    {"[\"run\", {\"args\": []}]", NULL, "exactly one"},
	    {"[\"run\", {\"args\": [1, 2]}]", NULL, "exactly one"},
	    {"[\"run\", {\"args\": \"x\"}]", NULL, "exactly one"},
	    {"[\"run\", {}]", NULL, "exactly one"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, err[256] = "";
		size_t outlen = 0;
		int rc = bridge_unwrap(cases[i].body, strlen(cases[i].body), &out, &outlen, err,
		                       sizeof(err));

		if (cases[i].workload != NULL) {
			ck_assert_msg(rc == 0, "%s: %s", cases[i].body, err);
			ck_assert_uint_eq(outlen, strlen(cases[i].workload));
			ck_assert(memcmp(out, cases[i].workload, outlen) == 0);
			free(out);
		} else {
			ck_assert_msg(rc == -1, "%s", cases[i].body);
			ck_assert_msg(strstr(err, cases[i].error) != NULL, "%s: %s", cases[i].body,
			              err);
		}
	}
}
END_TEST

/* Gearman -> ZeroMQ -> echo -> back: the bytes come back unchanged, through
 * the JSON a handler would see. */
START_TEST(test_wrap_round_trip)
{
	bridge_in_t in;
	char err[256], *body, *res, *out;
	size_t blen, rlen, outlen;
	json_t *job, *args, *result;
	static const char payload[] = "bin\xff\x00ary";

	ck_assert_int_eq(bridge_parse_in("resize=images@builtin:echo", NULL, &in, err, sizeof(err)),
	                 0);
	body = bridge_wrap(&in, payload, sizeof(payload), &blen);
	job = json_loadb(body, blen, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(json_string_value(json_array_get(job, 0)), "run");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(job, 1), "path")),
	                 "builtin");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(job, 1), "callable")),
	                 "echo");
	args = json_object_get(json_array_get(job, 1), "args");
	/* What builtin echo answers: {"value": args[0]}. */
	result = json_pack("{s:O}", "value", json_array_get(args, 0));
	res = json_dumps(result, JSON_COMPACT);
	rlen = strlen(res);
	ck_assert_int_eq(bridge_result_from_json(&in, res, rlen, &out, &outlen, err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(outlen, sizeof(payload));
	ck_assert(memcmp(out, payload, outlen) == 0);
	free(out);
	ck_assert_int_eq(bridge_result_from_json(&in, "[1", 2, &out, &outlen, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "not JSON"));
	ck_assert_int_eq(bridge_result_from_json(&in, "{}", 2, &out, &outlen, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "no \"value\""));
	free(res);
	json_decref(result);
	json_decref(job);
	free(body);
	bridge_in_free(&in);

	/* Raw: the workload is the body, the result the gearman result. */
	ck_assert_int_eq(bridge_parse_in("f=q", NULL, &in, err, sizeof(err)), 0);
	ck_assert_ptr_null(in.path);
	body = bridge_wrap(&in, "[\"run\", {}]", 11, &blen);
	ck_assert_str_eq(body, "[\"run\", {}]");
	ck_assert_int_eq(
	    bridge_result_from_json(&in, "{\"value\":1}", 11, &out, &outlen, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "{\"value\":1}");
	free(out);
	free(body);
	bridge_in_free(&in);
}
END_TEST

START_TEST(test_result_to_json)
{
	size_t len;
	char *s = bridge_result_to_json("ok", 2, &len);

	ck_assert_str_eq(s, "{\"value\":\"ok\"}");
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	s = bridge_result_to_json("\x80", 1, &len);
	ck_assert_str_eq(s, "{\"value\":{\"base64\":\"gA==\"}}");
	free(s);
}
END_TEST

START_TEST(test_routes)
{
	bridge_out_t o;
	bridge_in_t in;
	char err[256];

	ck_assert_int_eq(bridge_parse_out("images", &o, err, sizeof(err)), 0);
	ck_assert_str_eq(o.queue, "images");
	ck_assert_str_eq(o.function, "images");
	ck_assert_int_eq(o.weight, BRIDGE_DEFAULT_WEIGHT);
	bridge_out_free(&o);
	ck_assert_int_eq(bridge_parse_out("20:images=resize", &o, err, sizeof(err)), 0);
	ck_assert_str_eq(o.queue, "images");
	ck_assert_str_eq(o.function, "resize");
	ck_assert_int_eq(o.weight, 20);
	bridge_out_free(&o);
	ck_assert_int_eq(bridge_parse_out("x:q", &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "weight"));
	ck_assert_int_eq(bridge_parse_out("q=", &o, err, sizeof(err)), -1);
	ck_assert_int_eq(bridge_parse_out("=f", &o, err, sizeof(err)), -1);

	ck_assert_int_eq(bridge_parse_in("news=feed@mod:Class:run", "br", &in, err, sizeof(err)),
	                 0);
	ck_assert_str_eq(in.function, "news_br");
	ck_assert_str_eq(in.queue, "feed");
	ck_assert_str_eq(in.path, "mod:Class");
	ck_assert_str_eq(in.callable, "run");
	bridge_in_free(&in);
	ck_assert_int_eq(bridge_parse_in("nofn", NULL, &in, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FUNCTION=QUEUE"));
	ck_assert_int_eq(bridge_parse_in("f=", NULL, &in, err, sizeof(err)), -1);
	ck_assert_int_eq(bridge_parse_in("f=q@", NULL, &in, err, sizeof(err)), -1);
	ck_assert_int_eq(bridge_parse_in("f=q@path", NULL, &in, err, sizeof(err)), -1);
	ck_assert_int_eq(bridge_parse_in("f=q@path:", NULL, &in, err, sizeof(err)), -1);
	ck_assert_int_eq(bridge_parse_in("t=q@:fn", "s", &in, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "TOPIC=QUEUE"));
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("bridge");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, test_encode_decode_any_bytes);
	tcase_add_test(tc, test_encode_forms);
	tcase_add_test(tc, test_decode_other_values);
	tcase_add_test(tc, test_unwrap);
	tcase_add_test(tc, test_wrap_round_trip);
	tcase_add_test(tc, test_result_to_json);
	tcase_add_test(tc, test_routes);
	suite_add_tcase(s, tc);
	return s;
}
