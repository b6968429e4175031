/* Unit tests for lib/record and lib/utf8: line reading at the edges (limits,
 * CRLF, no final newline, blank lines), the reasons given for bad lines, and
 * the marked records written back out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "utf8.h"

/* A reader over the given bytes, through a real file descriptor. */
static struct record_reader *reader_over(const char *bytes, size_t len, size_t max_line, FILE **keep)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fflush(f);
	rewind(f);
	*keep = f;
	return record_reader_new(fileno(f), max_line);
}

static void test_lines_crlf_and_last_without_newline(void **state)
{
	(void)state;
	static const char in[] = "{\"a\":1}\r\n\n  \nlast";
	FILE *f;
	struct record_reader *r = reader_over(in, sizeof(in) - 1, 64, &f);
	struct record_line l;

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_int_equal(l.len, 7);
	assert_memory_equal(l.data, "{\"a\":1}", 7);
	assert_true(l.had_cr);
	assert_int_equal(l.lineno, 1);

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_true(record_line_blank(&l));
	assert_int_equal(record_reader_next(r, &l), 1);
	assert_true(record_line_blank(&l));
	assert_int_equal(l.lineno, 3);

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_int_equal(l.len, 4);
	assert_memory_equal(l.data, "last", 4);
	assert_true(l.no_newline);
	assert_int_equal(l.lineno, 4);
	assert_int_equal(record_reader_next(r, &l), 0);
	record_reader_free(r);
	fclose(f);
}

static void test_line_over_limit_is_flagged_and_next_survives(void **state)
{
	(void)state;
	/* 1000 bytes over a 100-byte limit, then a normal line. */
	size_t big = 1000;
	char *in = malloc(big + 32);
	memset(in, 'x', big);
	strcpy(in + big, "\n{\"ok\":true}\n");
	FILE *f;
	struct record_reader *r = reader_over(in, strlen(in), 100, &f);
	struct record_line l;

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_true(l.too_long);
	assert_int_equal(l.len, 100);
	assert_int_equal(l.lineno, 1);
	assert_false(record_line_blank(&l));

	enum record_fault fault;
	char reason[200];
	assert_null(record_parse(&l, true, &fault, reason, sizeof(reason)));
	assert_int_equal(fault, RECORD_TOO_LONG);
	assert_string_equal(reason, "line is longer than the limit of 100 bytes");

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_int_equal(l.lineno, 2);
	assert_int_equal(l.len, 11);
	assert_memory_equal(l.data, "{\"ok\":true}", 11);
	assert_int_equal(record_reader_next(r, &l), 0);
	record_reader_free(r);
	fclose(f);
	free(in);
}

static void test_line_exactly_at_limit_with_crlf(void **state)
{
	(void)state;
	char in[16] = "0123456789\r\n";
	FILE *f;
	struct record_reader *r = reader_over(in, strlen(in), 10, &f);
	struct record_line l;

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_false(l.too_long);
	assert_int_equal(l.len, 10);
	record_reader_free(r);
	fclose(f);
}

static void test_many_lines_across_buffer_refills(void **state)
{
	(void)state;
	/* More than one read's worth, so lines straddle refills. */
	size_t n = 50000;
	char *in = malloc(n * 16), *p = in;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "{\"i\":%zu}\n", i);
	FILE *f;
	struct record_reader *r = reader_over(in, (size_t)(p - in), 64, &f);
	struct record_line l;
	size_t i = 0;
	char want[32];
	while (record_reader_next(r, &l) == 1) {
		int wl = sprintf(want, "{\"i\":%zu}", i);
		assert_int_equal(l.len, (size_t)wl);
		assert_memory_equal(l.data, want, (size_t)wl);
		i++;
	}
	assert_int_equal(i, n);
	record_reader_free(r);
	fclose(f);
	free(in);
}

struct parse_case {
	const char *text;
	size_t len;
	enum record_fault fault;
	const char *reason;
};

static void test_parse_reasons(void **state)
{
	(void)state;
	static const struct parse_case cases[] = {
		{"not json", 8, RECORD_SYNTAX, "not JSON: syntax error at column 1"},
		{"{\"uid\":\"a\",", 11, RECORD_SYNTAX,
		 "not JSON: the line ends before the value does (truncated?) at column 12"},
		{"[1,2]", 5, RECORD_NOT_OBJECT, "a record must be a JSON object, this is an array"},
		{"42", 2, RECORD_NOT_OBJECT, "a record must be a JSON object, this is a number"},
		{"{\"a\":\"\xff\"}", 9, RECORD_UTF8, "not valid UTF-8 (byte 0xFF at column 7)"},
		{"{\"a\":1}\0", 8, RECORD_NUL, "contains a NUL byte at column 8"},
		{"{\"a\":1} {}", 10, RECORD_SYNTAX, "not JSON: unexpected text after the value at column 9"},
		/* what cJSON alone would let through (found by fuzz/fuzz_event.c) */
		{"{\"a\":1,\x01\"b\":2}", 14, RECORD_SYNTAX,
		 "not JSON: a control character outside a string (byte 0x01) at column 8"},
		{"{\"a\":\"x\ty\"}", 11, RECORD_SYNTAX,
		 "not JSON: a raw control character in a string (it must be escaped) (byte 0x09) at column 8"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct record_line l = {.data = cases[i].text, .len = cases[i].len, .lineno = 1};
		enum record_fault fault;
		char reason[200];
		cJSON *v = record_parse(&l, true, &fault, reason, sizeof(reason));
		assert_null(v);
		assert_int_equal(fault, cases[i].fault);
		assert_string_equal(reason, cases[i].reason);
	}
}

static void test_parse_accepts_every_escape(void **state)
{
	(void)state;
	static const char text[] = "{\"a\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"}";
	struct record_line l = {.data = text, .len = sizeof(text) - 1, .lineno = 1};
	enum record_fault fault;
	char reason[200];
	cJSON *v = record_parse(&l, true, &fault, reason, sizeof(reason));
	assert_non_null(v);
	assert_int_equal(fault, RECORD_OK);
	cJSON_Delete(v);
}

static void test_parse_too_deep(void **state)
{
	(void)state;
	size_t n = 100000;
	char *deep = malloc(n);
	memset(deep, '[', n);
	struct record_line l = {.data = deep, .len = n, .lineno = 1};
	enum record_fault fault;
	char reason[200];
	assert_null(record_parse(&l, true, &fault, reason, sizeof(reason)));
	assert_int_equal(fault, RECORD_TOO_DEEP);
	assert_string_equal(reason, "nested deeper than 1000 levels");
	free(deep);
}

/* Runs record_write_marked into memory and returns what it wrote. */
static char *marked(const char *text, size_t len, bool too_long, const struct record_error *err)
{
	struct record_line l = {.data = text, .len = len, .lineno = 3, .too_long = too_long};
	enum record_fault fault;
	char reason[200], *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	cJSON *obj = too_long ? NULL : record_parse(&l, true, &fault, reason, sizeof(reason));

	assert_int_equal(record_write_marked(out, &l, obj, err), 0);
	fclose(out);
	cJSON_Delete(obj);
	return buf;
}

static void test_marked_keeps_original_text(void **state)
{
	(void)state;
	struct record_error err = {.stage = "validate", .code = "schema", .reason = "/client: bad",
	                           .keyword = "enum", .pointer = "/client", .retryable = 0, .lineno = 3};
	const char *in = "{\"client\":\"Z\",  \"n\":1.50} ";
	char *s = marked(in, strlen(in), false, &err);
	assert_string_equal(s, "{\"client\":\"Z\",  \"n\":1.50,\"_error\":{\"stage\":\"validate\","
	                       "\"code\":\"schema\",\"reason\":\"/client: bad\",\"keyword\":\"enum\","
	                       "\"pointer\":\"/client\",\"retryable\":false,\"line\":3}}\n");
	free(s);

	s = marked("{ }", 3, false, &err);
	assert_true(strncmp(s, "{ \"_error\":{", 12) == 0);
	free(s);
}

static void test_marked_replaces_existing_error(void **state)
{
	(void)state;
	struct record_error err = {.stage = "persist", .reason = "r", .retryable = 1};
	char *s = marked("{\"a\":1,\"_error\":{\"stage\":\"x\"}}", 30, false, &err);
	assert_string_equal(s, "{\"a\":1,\"_error\":{\"stage\":\"persist\",\"reason\":\"r\",\"retryable\":true}}\n");
	free(s);
}

static void test_marked_raw_for_non_objects(void **state)
{
	(void)state;
	struct record_error err = {.stage = "validate", .code = "json", .retryable = -1};
	struct record_line l = {.data = "a\"b\\\x01\xff", .len = 6, .lineno = 1};
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	assert_int_equal(record_write_marked(out, &l, NULL, &err), 0);
	fclose(out);
	assert_string_equal(buf, "{\"_raw\":\"a\\\"b\\\\\\u0001\xEF\xBF\xBD\",\"_raw_base64\":\"YSJiXAH/\","
	                         "\"_error\":{\"stage\":\"validate\",\"code\":\"json\"}}\n");
	free(buf);

	/* A too-long line keeps its first 1 KiB and says it was cut. */
	char big[2000];
	memset(big, 'y', sizeof(big));
	char *s = marked(big, sizeof(big), true, &err);
	cJSON *v = cJSON_Parse(s);
	assert_non_null(v);
	assert_int_equal(strlen(cJSON_GetObjectItem(v, "_raw")->valuestring), 1024);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "_raw_truncated")));
	cJSON_Delete(v);
	free(s);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_valid("aplicação de usuários", strlen("aplicação de usuários")));
	assert_int_equal(utf8_codepoints("ação", strlen("ação")), 4);
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(utf8_valid("abc\xe2\x82", 5));      /* truncated */
	assert_int_equal(utf8_first_invalid("abcdefghij\xff", 11), 10);
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_crlf_and_last_without_newline),
		cmocka_unit_test(test_line_over_limit_is_flagged_and_next_survives),
		cmocka_unit_test(test_line_exactly_at_limit_with_crlf),
		cmocka_unit_test(test_many_lines_across_buffer_refills),
		cmocka_unit_test(test_parse_reasons),
		cmocka_unit_test(test_parse_accepts_every_escape),
		cmocka_unit_test(test_parse_too_deep),
		cmocka_unit_test(test_marked_keeps_original_text),
		cmocka_unit_test(test_marked_replaces_existing_error),
		cmocka_unit_test(test_marked_raw_for_non_objects),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
