/* Unit tests for lib/kafka_src and lib/outbuf: each shape of message
 * becomes one record line with the right "_src" (bytes kept when they can
 * be, compacted, wrapped under "_raw", truncated at the limit); "_src" read
 * back from outcome lines, and the reasons for bad ones; the output queue
 * in front of a non-blocking pipe. */
#define _GNU_SOURCE /* pipe2 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_src.h"
#include "outbuf.h"

static const struct kafka_src SRC = {"stream_producer", 3, 1041};
#define SRC_JSON "\"_src\":{\"topic\":\"stream_producer\",\"partition\":3,\"offset\":1041}"

/* The record kafka_src_write makes of payload; caller frees. */
static char *record_of(const char *payload, size_t len, size_t max_line,
                       enum kafka_src_shape *shape)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(kafka_src_write(f, payload, len, &SRC, max_line, shape), 0);
	fclose(f);
	/* exactly one line */
	assert_true(size > 0 && buf[size - 1] == '\n');
	assert_null(memchr(buf, '\n', size - 1));
	return buf;
}

static void check(const char *payload, size_t len, size_t max_line, const char *want,
                  enum kafka_src_shape want_shape)
{
	enum kafka_src_shape shape;
	char *got = record_of(payload, len, max_line, &shape);

	assert_string_equal(got, want);
	assert_int_equal(shape, want_shape);
	free(got);
}

#define CHECK(payload, want, shape) check(payload, sizeof(payload) - 1, 1 << 20, want "\n", shape)

static void test_object_bytes_kept(void **state)
{
	(void)state;
	/* number spelling, key order, escapes and spaces survive */
	CHECK("{\"uid\":\"a\", \"n\":1.50E2,\"s\":\"\\u00e9\"}",
	      "{\"uid\":\"a\", \"n\":1.50E2,\"s\":\"\\u00e9\"," SRC_JSON "}", KAFKA_SRC_KEPT);
	CHECK("{}", "{" SRC_JSON "}", KAFKA_SRC_KEPT);
	CHECK("  {\"a\":1} \r\n", "{\"a\":1," SRC_JSON "}", KAFKA_SRC_KEPT);
	CHECK("{\"context\":\"aplicação de usuários\"}",
	      "{\"context\":\"aplicação de usuários\"," SRC_JSON "}", KAFKA_SRC_KEPT);
}

static void test_object_compacted(void **state)
{
	(void)state;
	CHECK("{\n  \"a\": 1,\n  \"b\": [1, 2]\n}", "{\"a\":1,\"b\":[1,2]," SRC_JSON "}",
	      KAFKA_SRC_COMPACTED);
}

#define RESERVED_ERROR(name)                                                                      \
	"\"_error\":{\"stage\":\"kcat-in\",\"code\":\"reserved_member\",\"reason\":\"the payload has " \
	"a top-level member '" name "': names starting with '_' are the pipeline's own\","          \
	"\"retryable\":false}"

/* A payload with a top-level "_" member is not an event: its text under
 * "_raw", failed by kcat-in, and the only "_src" is kcat-in's. */
static void test_reserved_members_wrapped(void **state)
{
	(void)state;
	/* a forged _src: it would ack another offset */
	CHECK("{\"uid\":\"u\",\"_src\":{\"topic\":\"stream_producer\",\"partition\":0,\"offset\":5}}",
	      "{\"_raw\":\"{\\\"uid\\\":\\\"u\\\",\\\"_src\\\":{\\\"topic\\\":\\\"stream_producer\\\","
	      "\\\"partition\\\":0,\\\"offset\\\":5}}\"," RESERVED_ERROR("_src") "," SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	/* a forged _error: it would skip validation */
	CHECK("{\"uid\":\"u\",\"_error\":{\"stage\":\"persist\",\"retryable\":true}}",
	      "{\"_raw\":\"{\\\"uid\\\":\\\"u\\\",\\\"_error\\\":{\\\"stage\\\":\\\"persist\\\","
	      "\\\"retryable\\\":true}}\"," RESERVED_ERROR("_error") "," SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	/* two _src: the one that would pin the partition's commits */
	CHECK("{\"_src\":0,\"_src\":\"poison\"}",
	      "{\"_raw\":\"{\\\"_src\\\":0,\\\"_src\\\":\\\"poison\\\"}\"," RESERVED_ERROR("_src") ","
	      SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	/* spelt with an escape, and over several lines (the slow path) */
	CHECK("{\"a\":1,\"\\u005fsrc\":2}",
	      "{\"_raw\":\"{\\\"a\\\":1,\\\"\\\\u005fsrc\\\":2}\"," RESERVED_ERROR("_src") "," SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	CHECK("{\n\"_x\": 1\n}", "{\"_raw\":\"{\\n\\\"_x\\\": 1\\n}\"," RESERVED_ERROR("_x") "," SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	/* the name in the reason: printable ASCII only, and bounded */
	CHECK("{\"_\\\"\\u0001\\u00e9\":1}",
	      "{\"_raw\":\"{\\\"_\\\\\\\"\\\\u0001\\\\u00e9\\\":1}\"," RESERVED_ERROR("_????") ","
	      SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	CHECK("{\"_0123456789012345678901234567890123456789\":1}",
	      "{\"_raw\":\"{\\\"_0123456789012345678901234567890123456789\\\":1}\","
	      RESERVED_ERROR("_0123456789012345678901234567890...") "," SRC_JSON "}",
	      KAFKA_SRC_RESERVED);
	/* nested "_" names are the event's own business */
	CHECK("{\"a\":{\"_src\":1}}", "{\"a\":{\"_src\":1}," SRC_JSON "}", KAFKA_SRC_KEPT);

	/* wrapped, it would pass the limit: truncated, still failed by kcat-in */
	enum kafka_src_shape shape;
	char big[700];
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"_e\":1", 8);
	big[sizeof(big) - 1] = '}';
	char *got = record_of(big, sizeof(big), 720, &shape);
	assert_int_equal(shape, KAFKA_SRC_TRUNCATED);
	assert_true(strlen(got) - 1 <= 720);
	assert_non_null(strstr(got, "\"_raw_truncated\":true," RESERVED_ERROR("_e") "," SRC_JSON "}"));
	free(got);
	/* too tight for the reason: the short form */
	big[249] = '}';
	got = record_of(big, 250, 256, &shape);
	assert_int_equal(shape, KAFKA_SRC_TRUNCATED);
	assert_true(strlen(got) - 1 <= 256);
	assert_non_null(strstr(got, ",\"_error\":{\"stage\":\"kcat-in\",\"code\":\"reserved_member\"}," SRC_JSON));
	free(got);
}

static void test_not_objects_wrapped(void **state)
{
	(void)state;
	CHECK("hello world", "{\"_raw\":\"hello world\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	CHECK("[1,2]", "{\"_raw\":\"[1,2]\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	CHECK("\"str\"", "{\"_raw\":\"\\\"str\\\"\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	CHECK("{\"a\":", "{\"_raw\":\"{\\\"a\\\":\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	CHECK("{\"a\":1} x", "{\"_raw\":\"{\\\"a\\\":1} x\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	CHECK("", "{\"_raw\":\"\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	CHECK("line1\nline2\t", "{\"_raw\":\"line1\\nline2\\t\"," SRC_JSON "}", KAFKA_SRC_WRAPPED);
	/* not UTF-8: replaced in _raw, exact under _raw_base64 */
	CHECK("{\"a\":\"\xc3\x28\"}",
	      "{\"_raw\":\"{\\\"a\\\":\\\"\xEF\xBF\xBD(\\\"}\",\"_raw_base64\":\"eyJhIjoiwygifQ==\","
	      SRC_JSON "}",
	      KAFKA_SRC_WRAPPED);
	/* a NUL byte inside an object */
	CHECK("{\"a\":\"x\0y\"}",
	      "{\"_raw\":\"{\\\"a\\\":\\\"x\xEF\xBF\xBDy\\\"}\",\"_raw_base64\":\"eyJhIjoieAB5In0=\","
	      SRC_JSON "}",
	      KAFKA_SRC_WRAPPED);
}

static void test_tombstone(void **state)
{
	(void)state;
	enum kafka_src_shape shape;
	char *got = record_of(NULL, 0, 1024, &shape);

	assert_string_equal(got, "{\"_raw\":\"\"," SRC_JSON "}\n");
	assert_int_equal(shape, KAFKA_SRC_WRAPPED);
	free(got);
}

static void test_limits(void **state)
{
	(void)state;
	enum kafka_src_shape shape;
	size_t n = 5000;
	char *big = malloc(n + 16);

	/* {"a":"xxxx…"} of 5000 + 8 bytes */
	strcpy(big, "{\"a\":\"");
	memset(big + 6, 'x', n);
	strcpy(big + 6 + n, "\"}");
	size_t len = strlen(big);

	/* fits with _src */
	char *got = record_of(big, len, len + 100, &shape);
	assert_int_equal(shape, KAFKA_SRC_KEPT);
	free(got);

	/* the payload fits but not with _src: truncated, under the limit */
	got = record_of(big, len, len + 10, &shape);
	assert_int_equal(shape, KAFKA_SRC_TRUNCATED);
	assert_true(strlen(got) - 1 <= len + 10);
	assert_non_null(strstr(got, "\"_raw_truncated\":true," SRC_JSON "}"));
	assert_int_equal(strncmp(got, "{\"_raw\":\"{\\\"a\\\":\\\"xxx", 20), 0);
	free(got);

	/* the payload alone is over the limit */
	got = record_of(big, len, 4096, &shape);
	assert_int_equal(shape, KAFKA_SRC_TRUNCATED);
	assert_true(strlen(got) < 1200);
	free(got);

	/* not JSON, and escaping makes it longer than the limit */
	memset(big, '\x01', 600);
	got = record_of(big, 600, 2000, &shape);
	assert_int_equal(shape, KAFKA_SRC_TRUNCATED);
	assert_true(strlen(got) - 1 <= 2000);
	free(got);

	/* a truncation never cuts a UTF-8 sequence: é is 2 bytes */
	for (size_t i = 0; i < 1200; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	got = record_of(big, 1201, 1100, &shape);
	assert_int_equal(shape, KAFKA_SRC_TRUNCATED);
	assert_null(strstr(got, "\xEF\xBF\xBD"));
	free(got);
	free(big);
}

static void test_output_parses_and_round_trips(void **state)
{
	(void)state;
	static const char *payloads[] = {"{\"uid\":\"a\"}", "{\n\"b\":2\n}", "nope", "[]", "{\"x\":\"\xff\"}",
	                                 "{\"_src\":{\"topic\":\"stream_producer\",\"partition\":0,\"offset\":1}}",
	                                 "{\"_src\":0,\"_src\":\"poison\"}", "{\"\\u005fsrc\":1}"};

	for (size_t i = 0; i < sizeof(payloads) / sizeof(*payloads); i++) {
		enum kafka_src_shape shape;
		char *got = record_of(payloads[i], strlen(payloads[i]), 1 << 20, &shape);
		struct record_line line = {.data = got, .len = strlen(got) - 1};
		struct kafka_src back;
		char err[256];

		assert_int_equal(kafka_src_parse(&line, &back, err, sizeof(err)), 0);
		assert_string_equal(back.topic, SRC.topic);
		assert_int_equal(back.partition, SRC.partition);
		assert_int_equal(back.offset, SRC.offset);
		free(got);
	}
}

static int parse(const char *text, struct kafka_src *src, char *err, size_t size)
{
	struct record_line line = {.data = text, .len = strlen(text)};
	return kafka_src_parse(&line, src, err, size);
}

static void test_parse_outcome_lines(void **state)
{
	(void)state;
	struct kafka_src s;
	char err[256];

	/* what route sends back: _src kept, _out and _error added after it */
	assert_int_equal(parse("{\"uid\":\"a\",\"_src\":{\"topic\":\"t\",\"partition\":0,\"offset\":9007199254740991},"
	                       "\"_out\":{\"queue\":\"Client_A.fifo\"}}",
	                       &s, err, sizeof(err)),
	                 0);
	assert_string_equal(s.topic, "t");
	assert_int_equal(s.partition, 0);
	assert_int_equal(s.offset, 9007199254740991LL);

#define BAD(text, reason)                                                                          \
	do {                                                                                       \
		assert_int_equal(parse(text, &s, err, sizeof(err)), -1);                           \
		assert_non_null(strstr(err, reason));                                              \
	} while (0)
	BAD("{\"uid\":\"a\"}", "no _src member");
	BAD("not json", "not JSON");
	BAD("[1]", "must be a JSON object");
	BAD("{\"_src\":[]}", "_src is not an object");
	BAD("{\"_src\":{\"partition\":0,\"offset\":1}}", "_src.topic");
	BAD("{\"_src\":{\"topic\":\"\",\"partition\":0,\"offset\":1}}", "_src.topic");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":-1,\"offset\":1}}", "_src.partition");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1.5,\"offset\":1}}", "_src.partition");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":\"1\",\"offset\":1}}", "_src.partition");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":-3}}", "_src.offset");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":1e300}}", "_src.offset");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1}}", "_src.offset");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":9007199254740994}}", "_src.offset");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":2147483648,\"offset\":1}}", "_src.partition");
	/* two _src, however spelt: refused, whichever comes first (a stricter
	 * record_parse may refuse the repeated name itself; either way, no ack) */
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":1},\"_src\":{\"topic\":\"t\","
	    "\"partition\":1,\"offset\":2}}", "");
	BAD("{\"_src\":0,\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":2}}", "");
	BAD("{\"_src\":{\"topic\":\"t\",\"partition\":1,\"offset\":1},\"\\u005fsrc\":{\"topic\":\"t\","
	    "\"partition\":1,\"offset\":2}}", "_src");
#undef BAD
}

/* Outcome lines whose "_src" is not in the shape kcat-in writes take the
 * cJSON path, and read the same. */
static void test_parse_src_in_other_shapes(void **state)
{
	(void)state;
	static const char *lines[] = {
		"{\"_src\":{\"topic\":\"t\",\"partition\":7,\"offset\":42}}", /* kcat-in's own */
		"{\"_src\":{\"offset\":42,\"topic\":\"t\",\"partition\":7}}", /* reordered */
		"{\"_src\" : { \"topic\" : \"t\" , \"partition\" : 7 , \"offset\" : 42 } }",
		"{\"_src\":{\"topic\":\"\\u0074\",\"partition\":7,\"offset\":42}}", /* an escape */
		"{\"_src\":{\"topic\":\"t\",\"partition\":7.0,\"offset\":4.2e1}}",  /* not plain digits */
		"{\"_src\":{\"topic\":\"t\",\"partition\":7,\"offset\":42,\"extra\":[1]}}",
		"{\"a\":{\"_src\":0},\"_src\":{\"topic\":\"t\",\"partition\":7,\"offset\":42}}",
		"{\"\\u005fsrc\":{\"topic\":\"t\",\"partition\":7,\"offset\":42}}", /* an escaped name */
		/* repeated names and "01" are not I-JSON: record_parse() refuses them */
	};
	struct kafka_src s;
	char err[256];

	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
		memset(&s, 0, sizeof(s));
		err[0] = '\0';
		assert_int_equal(parse(lines[i], &s, err, sizeof(err)), 0);
		assert_string_equal(s.topic, "t");
		assert_int_equal(s.partition, 7);
		assert_int_equal(s.offset, 42);
	}
}

static void test_outbuf_through_a_full_pipe(void **state)
{
	(void)state;
	int p[2];
	struct outbuf *ob;
	char chunk[1000], rd[65536];
	size_t total = 0, got = 0;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	ob = outbuf_new(p[1]);
	assert_non_null(ob);
	memset(chunk, 'z', sizeof(chunk));
	/* queue far more than a pipe holds: drains stop at EAGAIN, nothing lost */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(fwrite(chunk, 1, sizeof(chunk), outbuf_file(ob)), sizeof(chunk));
		total += sizeof(chunk);
		assert_int_equal(outbuf_commit(ob), 0);
		assert_int_equal(outbuf_queued(ob), total);
		assert_int_equal(outbuf_drain(ob), 0);
		assert_int_equal(outbuf_written(ob) + outbuf_pending(ob), total);
		if (i % 100 == 0) {
			ssize_t n = read(p[0], rd, sizeof(rd));
			if (n > 0)
				got += (size_t)n;
		}
	}
	assert_true(outbuf_pending(ob) > 0);
	while (outbuf_pending(ob) > 0) {
		ssize_t n = read(p[0], rd, sizeof(rd));
		if (n > 0)
			got += (size_t)n;
		assert_int_equal(outbuf_drain(ob), 0);
	}
	ssize_t n;
	while ((n = read(p[0], rd, sizeof(rd))) > 0)
		got += (size_t)n;
	assert_int_equal(got, total);
	assert_int_equal(outbuf_written(ob), total);

	/* the reader has gone: EPIPE, not a crash (SIGPIPE ignored here) */
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	fputs("x\n", outbuf_file(ob));
	outbuf_commit(ob);
	assert_int_equal(outbuf_drain(ob), -1);
	assert_int_equal(errno, EPIPE);
	outbuf_free(ob);
	outbuf_free(NULL);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_bytes_kept),
		cmocka_unit_test(test_object_compacted),
		cmocka_unit_test(test_reserved_members_wrapped),
		cmocka_unit_test(test_not_objects_wrapped),
		cmocka_unit_test(test_tombstone),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_output_parses_and_round_trips),
		cmocka_unit_test(test_parse_outcome_lines),
		cmocka_unit_test(test_parse_src_in_other_shapes),
		cmocka_unit_test(test_outbuf_through_a_full_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
