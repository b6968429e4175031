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

/* I-JSON (RFC 7493) and RFC 8259's number grammar: each refused shape
 * with its code and a reason that says where. */
static void test_parse_refuses_what_ijson_does_not_allow(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum record_fault fault;
		const char *code, *where;
	} cases[] = {
		{"{\"a\":01}", RECORD_NUMBER, "bad_number", "'01' at column 6"},
		{"{\"a\":-01}", RECORD_NUMBER, "bad_number", "'-01' at column 6"},
		{"{\"a\":1.}", RECORD_NUMBER, "bad_number", "'1.' at column 6"},
		{"{\"a\":.5}", RECORD_NUMBER, "bad_number", "'.5' at column 6"},
		{"{\"a\":[1.e5]}", RECORD_NUMBER, "bad_number", "'1.e5' at column 7"},
		{"{\"a\":2.e-3}", RECORD_NUMBER, "bad_number", "'2.e-3' at column 6"},
		{"{\"a\":0.e1}", RECORD_NUMBER, "bad_number", "'0.e1' at column 6"},
		{"{\"a\":+1}", RECORD_NUMBER, "bad_number", "'+1' at column 6"},
		{"{\"a\":1e}", RECORD_NUMBER, "bad_number", "'1e' at column 6"},
		{"{\"a\":-}", RECORD_NUMBER, "bad_number", "'-' at column 6"},
		{"{\"client\":\"Client_A\",\"client\":\"Client_B\"}", RECORD_DUPLICATE, "duplicate_name",
		 "\"client\" is repeated in the top-level object"},
		{"{\"a\":[0,{\"b\":{\"x\":1,\"y\":2,\"x\":3}}]}", RECORD_DUPLICATE, "duplicate_name",
		 "\"x\" is repeated in the object at /a/1/b"},
		/* the same name written two ways is the same name */
		{"{\"uid\":\"1\",\"u\\u0069d\":\"2\"}", RECORD_DUPLICATE, "duplicate_name", "\"uid\""},
		{"{\"a\":\"\\ud800\"}", RECORD_SURROGATE, "lone_surrogate", "'\\ud800' at column 7"},
		{"{\"a\":\"\\uDC00\\uD800\"}", RECORD_SURROGATE, "lone_surrogate", "'\\uDC00' at column 7"},
		{"{\"a\":\"\\ud800\\u0041\"}", RECORD_SURROGATE, "lone_surrogate", "lone high"},
		{"{\"uid\":\"a\\u0000b\"}", RECORD_NUL_ESCAPE, "nul_char", "\\u0000 at column 10"},
		{"{\"a\\u0000\":1}", RECORD_NUL_ESCAPE, "nul_char", "column 4"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct record_line l = {.data = cases[i].text, .len = strlen(cases[i].text), .lineno = 1};
		enum record_fault fault;
		char reason[400];
		cJSON *v = record_parse(&l, true, &fault, reason, sizeof(reason));
		if (v || fault != cases[i].fault || !strstr(reason, cases[i].where))
			fail_msg("%s: fault %d, reason %s", cases[i].text, fault, reason);
		assert_string_equal(record_fault_code(fault), cases[i].code);
	}
	/* and what RFC 8259 allows stays allowed */
	static const char *const good[] = {
		"{\"a\":-0,\"b\":0.5,\"c\":1E400,\"d\":-1.5e-3,\"e\":10,\"f\":[1,2],\"g\":0e0}",
		"{\"a\":{\"x\":1},\"b\":{\"x\":1},\"x\":[{\"x\":1},{\"x\":2}]}", /* same names, other objects */
		"{\"s\":\"\\uD83D\\uDE00 \\u00e9 01 1. \\\"x\\\":1,\\\"x\\\":2\"}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct record_line l = {.data = good[i], .len = strlen(good[i]), .lineno = 1};
		enum record_fault fault;
		char reason[400];
		cJSON *v = record_parse(&l, true, &fault, reason, sizeof(reason));
		if (!v)
			fail_msg("%s: %s", good[i], reason);
		cJSON_Delete(v);
	}
}

/* A repeated name among many members (the sorted path). */
static void test_parse_duplicate_among_many(void **state)
{
	(void)state;
	char text[4096], *p = text;
	p += sprintf(p, "{");
	for (int i = 0; i < 200; i++)
		p += sprintf(p, "\"k%d\":%d,", i, i);
	sprintf(p, "\"k150\":0,\"k7\":1}");
	struct record_line l = {.data = text, .len = strlen(text), .lineno = 1};
	enum record_fault fault;
	char reason[400];
	assert_null(record_parse(&l, true, &fault, reason, sizeof(reason)));
	assert_int_equal(fault, RECORD_DUPLICATE);
	assert_non_null(strstr(reason, "\"k150\"")); /* the first repeat, in document order */
	size_t cut = strlen(text) - 17; /* the "," before "k150" */
	text[cut] = '}';
	text[cut + 1] = '\0';
	l.len = strlen(text);
	cJSON *v = record_parse(&l, true, &fault, reason, sizeof(reason));
	assert_non_null(v);
	cJSON_Delete(v);
}

/* Values (validate --values, schemas): U+0000 is kept, as RECORD_NUL_CHAR,
 * so strings that differ after it stay different. */
static void test_values_keep_nul(void **state)
{
	(void)state;
	static const char text[] = "[\"a\\u0000b\",\"a\\u0000c\",\"a\",{\"k\\u0000\":1,\"k\":2}]";
	struct record_line l = {.data = text, .len = sizeof(text) - 1, .lineno = 1};
	enum record_fault fault;
	char reason[200];
	cJSON *v = record_parse(&l, false, &fault, reason, sizeof(reason));
	assert_non_null(v);
	assert_string_equal(cJSON_GetArrayItem(v, 0)->valuestring, "a" RECORD_NUL_CHAR "b");
	assert_string_equal(cJSON_GetArrayItem(v, 1)->valuestring, "a" RECORD_NUL_CHAR "c");
	assert_string_equal(cJSON_GetArrayItem(v, 2)->valuestring, "a");
	cJSON_Delete(v);

	size_t at;
	static const char bad[] = "{\n \"a\": \"\\u0000\",\n \"b\": 01\n}";
	assert_null(record_parse_text(bad, sizeof(bad) - 1, &at, reason, sizeof(reason)));
	assert_int_equal(at, 24); /* the offset in the text given, not in the mapped copy */
}

/* Re-marking splices the new "_error" over the old one: the rest of the
 * record (numbers as written, "_src" after it) stays byte for byte, and the
 * record does not grow by being re-printed. */
static void test_remark_splices(void **state)
{
	(void)state;
	struct record_error err = {.stage = "route", .code = "c", .reason = "r", .retryable = 0};
	const char *in = "{\"n\":1E14, \"_error\" : {\"stage\":\"validate\",\"reason\":\"long "
	                 "reason\"} ,\"_src\":{\"topic\":\"t\",\"partition\":0,\"offset\":1}}";
	char *s = marked(in, strlen(in), false, &err);
	assert_string_equal(s, "{\"n\":1E14, \"_error\" : {\"stage\":\"route\",\"code\":\"c\","
	                       "\"reason\":\"r\",\"retryable\":false} ,\"_src\":{\"topic\":\"t\","
	                       "\"partition\":0,\"offset\":1}}\n");
	free(s);
}

/* What a stage appends is bounded: long texts are cut (with "…"). */
static void test_error_member_is_bounded(void **state)
{
	(void)state;
	size_t n = 100000;
	char *long_text = malloc(n + 1);
	memset(long_text, '"', n); /* the worst case: every byte escaped */
	long_text[n] = '\0';
	struct record_error err = {.stage = long_text, .code = long_text, .reason = long_text,
	                           .keyword = long_text, .pointer = long_text, .retryable = 1,
	                           .lineno = 123456789};
	char *s = marked("{}", 2, false, &err);
	assert_true(strlen(s) - 3 <= RECORD_ERROR_MAX);
	cJSON *v = cJSON_Parse(s);
	assert_non_null(v);
	const char *reason = cJSON_GetObjectItem(cJSON_GetObjectItem(v, "_error"), "reason")->valuestring;
	assert_non_null(strstr(reason, "\xE2\x80\xA6"));
	cJSON_Delete(v);
	free(s);
	free(long_text);
}

/* A line that is not a record keeps kcat-in's "_src": a whole line is
 * searched for a top-level one, a too-long line's tail for the last one. */
static void test_unparsable_line_keeps_src(void **state)
{
	(void)state;
	struct record_error err = {.stage = "validate", .code = "bad_number", .retryable = 0};
	const char *in = "{\"a\":01,\"x\":{\"_src\":{\"topic\":\"nested\",\"partition\":9,\"offset\":9}},"
	                 "\"s\":\"\\\",\\\"_src\\\":{}\",\"_src\":{\"topic\":\"t\",\"partition\":2,"
	                 "\"offset\":77}}";
	char *s = marked(in, strlen(in), true /* not parsed */, &err);
	/* too_long with no tail: nothing to salvage */
	assert_null(strstr(s, ",\"_src\":{"));
	free(s);

	struct record_line l = {.data = in, .len = strlen(in), .lineno = 1};
	size_t vlen;
	const char *src = record_salvage_src(&l, &vlen);
	assert_non_null(src);
	assert_memory_equal(src, "{\"topic\":\"t\",\"partition\":2,\"offset\":77}", vlen);

	/* a nested "_src" alone is not salvaged from a whole line */
	const char *nested = "{\"a\":01,\"x\":{\"_src\":{\"topic\":\"n\",\"partition\":9,\"offset\":9}}}";
	l.data = nested;
	l.len = strlen(nested);
	assert_null(record_salvage_src(&l, &vlen));
}

/* A line over the limit: the reader keeps its head and its tail, and the
 * marked record carries the tail's "_src". */
static void test_too_long_line_keeps_src_from_tail(void **state)
{
	(void)state;
	size_t big = 300000; /* several reads' worth past the head */
	char *in = malloc(big + 256), *p = in;
	p += sprintf(p, "{\"uid\":\"u1\",\"pad\":\"");
	memset(p, 'x', big);
	p += big;
	p += sprintf(p, "\",\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":5}}\r\n{\"next\":1}\n");
	FILE *f;
	struct record_reader *r = reader_over(in, (size_t)(p - in), 1000, &f);
	struct record_line l;

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_true(l.too_long);
	assert_true(l.had_cr);
	assert_int_equal(l.len, 1000);
	assert_true(l.tail_len > 0 && l.tail_len <= RECORD_TAIL_KEEP);
	assert_int_equal(l.tail[l.tail_len - 1], '}');

	struct record_error err = {.stage = "validate", .code = "too_long", .retryable = 0};
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	assert_int_equal(record_write_marked(out, &l, NULL, &err), 0);
	fclose(out);
	cJSON *v = cJSON_Parse(buf);
	assert_non_null(v);
	cJSON *src = cJSON_GetObjectItem(v, "_src");
	assert_non_null(src);
	assert_int_equal(cJSON_GetObjectItem(src, "offset")->valueint, 5);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "_raw_truncated")));
	cJSON_Delete(v);
	free(buf);

	assert_int_equal(record_reader_next(r, &l), 1);
	assert_false(l.too_long);
	assert_memory_equal(l.data, "{\"next\":1}", 10);
	assert_int_equal(record_reader_next(r, &l), 0);
	record_reader_free(r);
	fclose(f);
	free(in);
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
		cmocka_unit_test(test_parse_refuses_what_ijson_does_not_allow),
		cmocka_unit_test(test_parse_duplicate_among_many),
		cmocka_unit_test(test_values_keep_nul),
		cmocka_unit_test(test_remark_splices),
		cmocka_unit_test(test_error_member_is_bounded),
		cmocka_unit_test(test_unparsable_line_keeps_src),
		cmocka_unit_test(test_too_long_line_keeps_src_from_tail),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
