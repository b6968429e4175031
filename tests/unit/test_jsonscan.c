/* Unit tests for lib/jsonscan: what it accepts (RFC 8259, and only what
 * record_parse accepts the same way), what it declines, and what it reports
 * about an object: bounds, members, line breaks, the top-level "_src". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "record.h"

static bool scan_text(const char *text, struct json_scan *scan)
{
	return json_scan(text, strlen(text), scan);
}

/* record_parse's verdict on the same text: 1 accepted, 0 refused. */
static bool parses(const char *text)
{
	struct record_line line = {.data = text, .len = strlen(text), .lineno = 1};
	enum record_fault fault;
	char reason[256];
	cJSON *v = record_parse(&line, false, &fault, reason, sizeof(reason));
	cJSON_Delete(v);
	return v != NULL;
}

static void test_accepts_json_that_record_parse_accepts(void **state)
{
	(void)state;
	static const char *valid[] = {
		"{}", " { } ", "[]", "0", "-0", "1.5e-3", "-12E+40", "\"\"", "true", "false", "null",
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}",
		"{\"é\":\"日本\xf0\x9f\x98\x80\"}", "\t[ 1 , \"x\" ]\r\n",
	};
	struct json_scan scan;

	for (size_t i = 0; i < sizeof(valid) / sizeof(*valid); i++) {
		assert_true(scan_text(valid[i], &scan));
		assert_true(parses(valid[i])); /* the premise of the fast path */
	}
}

static void test_refuses_what_is_not_json(void **state)
{
	(void)state;
	static const char *invalid[] = {
		"", "   ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{a:1}",
		"01", "1.", ".5", "+1", "1e", "-", "tru", "nul", "True", "{} {}", "{}x", "\"abc",
		"\"a\\x\"", "\"\\u12G4\"", "\"tab\there\"", "{\"a\":1}\x01", "\x01{}", "[\"\xff\"]",
		"\"\xc0\xaf\"",       /* overlong */
		"\"\xed\xa0\x80\"",   /* an encoded surrogate */
		"\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
		"\"\xe2\x82\"",       /* cut short */
	};
	struct json_scan scan;

	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++)
		assert_false(scan_text(invalid[i], &scan));
	assert_false(json_scan("{\"a\":\"\0\"}", 9, &scan)); /* a NUL byte */
}

static void test_declines_where_cjson_and_the_rfc_differ(void **state)
{
	(void)state;
	struct json_scan scan;
	char number[80] = "1";

	/* valid JSON, but record_parse is asked instead */
	assert_false(scan_text("\"\\ud800\"", &scan));            /* a lone surrogate */
	assert_false(scan_text("{\"\\u005fsrc\":1}", &scan));     /* a name with an escape */
	memset(number + 1, '0', 64);                               /* a 65-digit number */
	assert_false(scan_text(number, &scan));
	assert_false(scan_text("\"\\ud83d\\ude00\"", &scan)); /* pairs too: cheap to decline */
	/* names with escapes at any depth: "a\u0062" would repeat "ab" */
	assert_false(scan_text("{\"a\":{\"\\u005fsrc\":1}}", &scan));
	assert_false(scan_text("[{\"ab\":1,\"a\\u0062\":2}]", &scan));
	/* escapes in values are read */
	assert_true(scan_text("{\"a\":\"\\u005f\\n\"}", &scan));
}

/* What the stricter record_parse refuses in records (I-JSON), json_scan
 * never vouches for: a repeated name at any depth, U+0000 in a string,
 * numbers outside the grammar. */
static void test_declines_what_records_refuse(void **state)
{
	(void)state;
	struct json_scan scan;
	static const char *declined[] = {
		"{\"a\":1,\"a\":2}",
		"{\"_src\":0,\"_src\":\"poison\"}",
		"{\"uid\":\"x\",\"n\":{\"b\":1,\"c\":2,\"b\":3}}",
		"[1,{\"k\":[{\"z\":0,\"z\":0}]}]",
		"{\"a\":\"\\u0000\"}", "\"x\\u0000y\"", "{\"a\":[\"\\u0000\"]}",
		"01", "-01", "1.", ".5", "1.e5", "2.e-3", "0.e1", "[01]", "{\"a\":-01}", "{\"a\":1.}",
	};
	for (size_t i = 0; i < sizeof(declined) / sizeof(*declined); i++)
		assert_false(scan_text(declined[i], &scan));

	/* the same name in different objects is no repeat */
	assert_true(scan_text("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}",
	                      &scan));
	/* names sharing a prefix, or of equal length, are different names */
	assert_true(scan_text("{\"ab\":1,\"a\":2,\"ba\":3,\"abc\":4}", &scan));
	assert_true(scan_text("{\"a\":\"\\u0001\"}", &scan));

	/* at most JSON_SCAN_NAMES names open at once: more goes to record_parse */
	char many[16 * (JSON_SCAN_NAMES + 2)], *p = many;
	*p++ = '{';
	for (int i = 0; i < JSON_SCAN_NAMES; i++)
		p += sprintf(p, "%s\"m%d\":%d", i ? "," : "", i, i);
	strcpy(p, "}");
	assert_true(scan_text(many, &scan));
	strcpy(p, ",\"one_more\":1}");
	assert_false(scan_text(many, &scan));
	assert_true(parses(many));
}

/* Top-level names starting with "_": the first one's span. */
static void test_reports_reserved_names(void **state)
{
	(void)state;
	struct json_scan scan;
	const char *text = "{\"uid\":\"u\",\"_error\":{\"stage\":\"persist\"},\"_x\":1}";

	assert_true(scan_text(text, &scan));
	assert_true(scan.reserved);
	assert_int_equal(scan.reserved_end - scan.reserved_begin, 6);
	assert_memory_equal(text + scan.reserved_begin, "_error", 6);

	assert_true(scan_text("{\"uid\":\"u\",\"x\":{\"_src\":1},\"y\":[{\"_e\":2}]}", &scan));
	assert_false(scan.reserved); /* nested: not pipeline metadata */
	assert_true(scan_text("{\"a_\":1,\" _b\":2}", &scan));
	assert_false(scan.reserved);
	text = "{\"_\":1}";
	assert_true(scan_text(text, &scan));
	assert_true(scan.reserved && scan.reserved_end - scan.reserved_begin == 1);
	assert_true(scan_text("[\"_src\",{\"_src\":1}]", &scan));
	assert_false(scan.reserved);
}

static void test_depth_limit_matches_record_parse(void **state)
{
	(void)state;
	struct json_scan scan;
	char *deep = malloc(2 * RECORD_MAX_DEPTH + 3);

	assert_non_null(deep);
	for (size_t n = RECORD_MAX_DEPTH; n <= RECORD_MAX_DEPTH + 1; n++) {
		memset(deep, '[', n);
		memset(deep + n, ']', n);
		deep[2 * n] = '\0';
		assert_int_equal(scan_text(deep, &scan), n <= RECORD_MAX_DEPTH);
		assert_int_equal(parses(deep), n <= RECORD_MAX_DEPTH);
	}
	free(deep);
}

static void test_describes_an_object(void **state)
{
	(void)state;
	struct json_scan scan;
	const char *text = "  {\"uid\":\"a\",\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":2},"
	                   "\"x\":{\"_src\":0}} ";

	assert_true(scan_text(text, &scan));
	assert_true(scan.object && scan.members && !scan.multiline && scan.src);
	assert_int_equal(scan.begin, 2);
	assert_int_equal(scan.end, strlen(text) - 1);
	assert_true(scan.reserved);
	assert_int_equal(scan.src_end - scan.src_begin, strlen("{\"topic\":\"t\",\"partition\":1,\"offset\":2}"));
	assert_memory_equal(text + scan.src_begin, "{\"topic\"", 8);

	assert_true(scan_text("{ }", &scan));
	assert_true(scan.object && !scan.members && !scan.src);
	assert_true(scan_text("{\"a\":\n1}", &scan));
	assert_true(scan.multiline);
	assert_true(scan_text("{\"a\":1}\r\n", &scan)); /* after the object: not a break in it */
	assert_false(scan.multiline);
	assert_true(scan_text("{\"x\":{\"_src\":1}}", &scan)); /* nested: not the record's */
	assert_false(scan.src);
	assert_true(scan_text("[{\"_src\":1}]", &scan));
	assert_false(scan.object || scan.src);
	text = "{\"_src\" : \"s\" }";
	assert_true(scan_text(text, &scan));
	assert_true(scan.src);
	assert_int_equal(scan.src_end - scan.src_begin, 3); /* blanks around the value left out */
	assert_memory_equal(text + scan.src_begin, "\"s\"", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_json_that_record_parse_accepts),
		cmocka_unit_test(test_refuses_what_is_not_json),
		cmocka_unit_test(test_declines_where_cjson_and_the_rfc_differ),
		cmocka_unit_test(test_depth_limit_matches_record_parse),
		cmocka_unit_test(test_describes_an_object),
		cmocka_unit_test(test_declines_what_records_refuse),
		cmocka_unit_test(test_reports_reserved_names),
	};
	return cmocka_run_group_tests_name("jsonscan", tests, NULL, NULL);
}
