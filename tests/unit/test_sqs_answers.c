/* Unit tests for what lib/sqs.c reads from SQS's answers (issue 12: answers
 * are outside the trust boundary): numbers only as plain decimal numbers in
 * range, the text of Failed entries cleaned, and which refusals are about
 * one message (sqs_entry_error) or one item (dynamodb_item_error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb.h"
#include "sqs.h"

/* One message whose Attributes hold count and sent as given (JSON text). */
static void receive_one(const char *count, const char *sent, long *rc, long long *ms)
{
	char body[512];
	struct sqs_message *m = NULL;
	size_t n = 0;
	char err[128];

	snprintf(body, sizeof(body),
	         "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Body\":\"b\","
	         "\"Attributes\":{\"ApproximateReceiveCount\":%s,\"SentTimestamp\":%s}}]}",
	         count, sent);
	assert_int_equal(sqs_receive_parse(body, strlen(body), &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	*rc = m[0].receive_count;
	*ms = m[0].sent_ms;
	sqs_messages_free(m, n);
}

static void test_receive_numbers(void **state)
{
	static const struct {
		const char *count, *sent;
		long rc;
		long long ms;
	} cases[] = {
		{"\"3\"", "\"1733580000000\"", 3, 1733580000000LL},
		{"4", "1733580000000", 4, 1733580000000LL},          /* JSON numbers too */
		{"\"4294967297\"", "\"0\"", SQS_RECEIVE_COUNT_MAX, 0}, /* past 10^9: "very many" */
		{"\"99999999999999999999999\"", "\"1\"", SQS_RECEIVE_COUNT_MAX, 1}, /* saturates */
		{"1e300", "1e300", SQS_RECEIVE_COUNT_MAX, 0},          /* count saturates, time absent */
		{"\"-5\"", "\"-1\"", 0, 0},                            /* signs: not given */
		{"\" 7\"", "\"12abc\"", 0, 0},                         /* blanks, junk */
		{"\"\"", "\"\"", 0, 0},
		{"-2", "-1e300", 0, 0},
		{"null", "true", 0, 0},
		{"\"0\"", "\"253402300799999\"", 0, 253402300799999LL}, /* 9999-12-31 */
		{"\"1\"", "\"253402300800000\"", 1, 0},                 /* past it: absent */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long rc;
		long long ms;
		receive_one(cases[i].count, cases[i].sent, &rc, &ms);
		if (rc != cases[i].rc || ms != cases[i].ms)
			fail_msg("case %zu (%s, %s): got %ld, %lld", i, cases[i].count, cases[i].sent, rc, ms);
	}
}

static void test_queue_counts(void **state)
{
	long v, f, d;
	char err[128];
	const char *ok = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"0\","
	                 "\"ApproximateNumberOfMessagesNotVisible\":\"2\","
	                 "\"ApproximateNumberOfMessagesDelayed\":\"0\"}}";
	const char *bad = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"-1\","
	                  "\"ApproximateNumberOfMessagesNotVisible\":\"x\"}}";
	(void)state;
	assert_int_equal(sqs_parse_queue_counts(ok, strlen(ok), &v, &f, &d, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(f, 2);
	assert_int_equal(d, 0);
	/* unknown is not empty: a daemon waiting for an empty queue waits on */
	assert_int_equal(sqs_parse_queue_counts(bad, strlen(bad), &v, &f, &d, err, sizeof(err)), 0);
	assert_int_equal(v, -1);
	assert_int_equal(f, -1);
	assert_int_equal(d, -1);
}

static void test_failed_entry_text(void **state)
{
	struct sqs_batch b;
	struct sqs_result res[SQS_BATCH_MAX];
	char err[128];
	const char *answer = "{\"Successful\":[],\"Failed\":[{\"Id\":\"0\",\"SenderFault\":true,"
	                     "\"Code\":\"Bad\\nCode\",\"Message\":\"line\\nforged \\u001b[2J\"}]}";
	(void)state;
	assert_int_equal(sqs_batch_init(&b, "http://q"), 0);
	assert_int_equal(sqs_batch_add(&b, "x", 1, NULL, NULL), 0);
	assert_int_equal(sqs_batch_results(&b, answer, strlen(answer), res, err, sizeof(err)), 1);
	assert_true(res[0].sender_fault);
	assert_string_equal(res[0].code, "Bad\\x0aCode");
	assert_string_equal(res[0].message, "line\\x0aforged \\x1b[2J");
	sqs_batch_clear(&b);
}

static void test_item_errors(void **state)
{
	(void)state;
	assert_true(sqs_entry_error("InvalidMessageContents"));
	assert_true(sqs_entry_error("InvalidParameterValue"));
	assert_true(sqs_entry_error("BatchRequestTooLong"));
	assert_false(sqs_entry_error("QueueDoesNotExist"));
	assert_false(sqs_entry_error("AccessDenied"));
	assert_false(sqs_entry_error("UnsupportedOperation"));
	assert_false(sqs_entry_error(""));
	assert_true(dynamodb_item_error("ValidationException"));
	assert_true(dynamodb_item_error("ItemCollectionSizeLimitExceededException"));
	assert_false(dynamodb_item_error("ResourceNotFoundException"));
	assert_false(dynamodb_item_error("SerializationException"));
	assert_false(dynamodb_item_error(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receive_numbers),
		cmocka_unit_test(test_queue_counts),
		cmocka_unit_test(test_failed_entry_text),
		cmocka_unit_test(test_item_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
