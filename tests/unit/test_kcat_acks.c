/* Unit tests for lib/kcat_acks: outcome lines to acknowledgements, and the
 * round trip that matters at the trust boundary: whatever a payload says
 * about "_src", the record kcat-in makes of it, once back as an outcome,
 * acknowledges its own offset and no other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcat_acks.h"

#define TOPIC "stream_producer"

static struct offtrack *table(void)
{
	struct offtrack *t = offtrack_new();

	assert_non_null(t);
	for (int32_t p = 0; p < 2; p++) {
		assert_int_equal(offtrack_assign(t, TOPIC, p), 0);
		for (int64_t o = 0; o < 10; o++)
			assert_int_equal(offtrack_written(t, TOPIC, p, o, 0), OFFTRACK_OK);
	}
	return t;
}

static enum kcat_ack ack(struct offtrack *t, const char *text, struct kafka_src *src, char *err)
{
	struct record_line line = {.data = text, .len = strlen(text), .lineno = 1};

	err[0] = '\0';
	return kcat_ack_line(t, &line, src, err, 256);
}

/* The store position of partition p. */
static int64_t store_of(struct offtrack *t, int32_t p)
{
	struct offtrack_part part;

	for (size_t i = 0; i < offtrack_count(t); i++) {
		offtrack_get(t, i, &part);
		if (part.partition == p)
			return part.store;
	}
	fail();
	return -2;
}

#define SRC(p, o) "\"_src\":{\"topic\":\"" TOPIC "\",\"partition\":" #p ",\"offset\":" #o "}"

static void test_lines(void **state)
{
	(void)state;
	struct offtrack *t = table();
	struct kafka_src src;
	char err[256];

	assert_int_equal(ack(t, "  \t", &src, err), KCAT_ACK_BLANK);
	assert_int_equal(ack(t, "{\"uid\":\"a\"," SRC(0, 0) ",\"_out\":{}}", &src, err),
	                 KCAT_ACK_DONE);
	assert_int_equal(src.partition, 0);
	assert_int_equal(src.offset, 0);
	assert_int_equal(store_of(t, 0), 1);
	/* a repeat, a partition not ours, an offset never written */
	assert_int_equal(ack(t, "{" SRC(0, 0) "}", &src, err), KCAT_ACK_STALE);
	assert_int_equal(ack(t, "{" SRC(7, 0) "}", &src, err), KCAT_ACK_STALE);
	assert_int_equal(ack(t, "{" SRC(1, 99) "}", &src, err), KCAT_ACK_STALE);
	assert_int_equal(ack(t, "not json", &src, err), KCAT_ACK_BAD);
	assert_non_null(strstr(err, "not JSON"));
	assert_int_equal(ack(t, "{\"uid\":\"a\"}", &src, err), KCAT_ACK_BAD);
	assert_string_equal(err, "no _src member");

	/* two _src: nothing settles, whichever way they are written */
	assert_int_equal(ack(t, "{" SRC(0, 1) "," SRC(1, 0) "}", &src, err), KCAT_ACK_BAD);
	assert_int_equal(ack(t, "{\"_src\":0," SRC(0, 1) "}", &src, err), KCAT_ACK_BAD);
	assert_int_equal(ack(t,
	                     "{" SRC(0, 1) ",\"\\u005fsrc\":"
	                                   "{\"topic\":\"" TOPIC
	                                   "\",\"partition\":1,\"offset\":0}}",
	                     &src, err),
	                 KCAT_ACK_BAD);
	/* refused as a repeated name by record_parse (names compared decoded),
	 * or by the reader's own count: either way it names _src */
	assert_true(strstr(err, "more than one _src member") || strstr(err, "\"_src\" is repeated"));
	assert_int_equal(store_of(t, 0), 1);
	assert_int_equal(store_of(t, 1), -1);
	assert_int_equal(offtrack_outstanding(t), 19);
	offtrack_free(t);
}

/* The record kafka_src_write makes of payload at partition 0, offset o,
 * looped straight back as its outcome line. */
static enum kcat_ack loop_back(struct offtrack *t, const char *payload, int64_t o)
{
	struct kafka_src mine = {TOPIC, 0, o}, src;
	enum kafka_src_shape shape;
	char *buf = NULL, err[256];
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(kafka_src_write(f, payload, strlen(payload), &mine, 1 << 20, &shape), 0);
	fclose(f);
	struct record_line line = {.data = buf, .len = size - 1, .lineno = 1};
	enum kcat_ack r = kcat_ack_line(t, &line, &src, err, sizeof(err));
	if (r == KCAT_ACK_DONE) {
		assert_int_equal(src.partition, 0);
		assert_int_equal(src.offset, o);
	}
	free(buf);
	return r;
}

static void test_forged_src_acks_only_its_own_offset(void **state)
{
	(void)state;
	struct offtrack *t = table();

	/* each names partition 1 offset 0, or poisons the first _src */
	assert_int_equal(loop_back(t, "{\"uid\":\"x\"," SRC(1, 0) "}", 0), KCAT_ACK_DONE);
	assert_int_equal(loop_back(t, "{\"_src\":0,\"_src\":\"poison\",\"uid\":\"x\"}", 1),
	                 KCAT_ACK_DONE);
	assert_int_equal(loop_back(t, "{" SRC(1, 0) "," SRC(1, 0) "}", 2), KCAT_ACK_DONE);
	assert_int_equal(
	    loop_back(t, "{\"\\u005fsrc\":{\"topic\":\"" TOPIC "\",\"partition\":1,\"offset\":0}}",
	              3),
	    KCAT_ACK_DONE);
	assert_int_equal(loop_back(t, "{\n" SRC(1, 0) "\n}", 4), KCAT_ACK_DONE);
	assert_int_equal(store_of(t, 0), 5);  /* partition 0 moves on … */
	assert_int_equal(store_of(t, 1), -1); /* … partition 1 is untouched */
	offtrack_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_forged_src_acks_only_its_own_offset),
	};
	return cmocka_run_group_tests_name("kcat_acks", tests, NULL, NULL);
}
