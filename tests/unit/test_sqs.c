/* Unit tests for lib/sqs: queue names and ids (a long or odd id becomes its
 * SHA-256), the characters a message may carry and sqs_json_safe()'s
 * escapes, every request body built (byte for byte), and every answer read
 * back: GetQueueUrl, SendMessageBatch (Successful, Failed, neither, both),
 * ReceiveMessage (attributes as strings or numbers), DeleteMessageBatch and
 * GetQueueAttributes, with the answers that are not what they should be;
 * the cache of queue URLs without a lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs.h"

#define URL "http://sqs.us-east-1.localhost:4566/000000000000/Client_A.fifo"

static void test_queue_names(void **state)
{
	(void)state;
	char name[SQS_QUEUE_NAME_MAX + 2];

	assert_true(sqs_queue_name_valid("Client_A.fifo"));
	assert_true(sqs_queue_name_valid("retry-1"));
	assert_true(sqs_queue_name_valid("a"));
	assert_false(sqs_queue_name_valid(""));
	assert_false(sqs_queue_name_valid(".fifo"));       /* a suffix without a stem */
	assert_false(sqs_queue_name_valid("Client A"));
	assert_false(sqs_queue_name_valid("cliente-ã"));
	assert_false(sqs_queue_name_valid("a.b"));         /* a dot only in ".fifo" */
	assert_false(sqs_queue_name_valid("a.fifo.fifo"));
	memset(name, 'q', SQS_QUEUE_NAME_MAX);
	name[SQS_QUEUE_NAME_MAX] = '\0';
	assert_true(sqs_queue_name_valid(name)); /* 80 */
	memcpy(name + SQS_QUEUE_NAME_MAX - 5, ".fifo", 6);
	assert_true(sqs_queue_name_valid(name)); /* 80, ".fifo" counted */
	memset(name, 'q', SQS_QUEUE_NAME_MAX + 1);
	name[SQS_QUEUE_NAME_MAX + 1] = '\0';
	assert_false(sqs_queue_name_valid(name)); /* 81 */
}

static void test_ids(void **state)
{
	(void)state;
	char id[SQS_ID_MAX + 1], long_id[SQS_ID_MAX + 2];

	assert_true(sqs_id_valid("3f1c0e2a-4b5c-4d6e-8f70-0123456789ab", 36));
	assert_true(sqs_id_valid("!~{}", 4)); /* punctuation */
	assert_false(sqs_id_valid("", 0));
	assert_false(sqs_id_valid("a b", 3));
	assert_false(sqs_id_valid("a\x7f", 2));
	assert_false(sqs_id_valid("é", 2));
	memset(long_id, 'x', sizeof(long_id));
	assert_true(sqs_id_valid(long_id, SQS_ID_MAX));
	assert_false(sqs_id_valid(long_id, SQS_ID_MAX + 1));

	/* a valid id as it is (only len bytes of it) */
	sqs_id("uid-1:2 and more", 7, id);
	assert_string_equal(id, "uid-1:2");
	/* any other: its SHA-256 in lower-case hex, stable */
	sqs_id("hello world", 11, id);
	assert_string_equal(id, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
	sqs_id(long_id, SQS_ID_MAX + 1, id);
	assert_int_equal(strlen(id), 64);
	assert_true(sqs_id_valid(id, strlen(id)));
	char again[SQS_ID_MAX + 1];
	sqs_id(long_id, SQS_ID_MAX + 1, again);
	assert_string_equal(id, again);
}

static void test_chars_allowed(void **state)
{
	(void)state;
	static const unsigned long yes[] = {0x9, 0xA, 0xD, 0x20, 0x7E, 0xE9, 0xD7FF, 0xE000, 0xFFFD,
	                                    0x10000, 0x1F600, 0x10FFFF};
	static const unsigned long no[] = {0x0, 0x1, 0x8, 0xB, 0xC, 0x1F, 0xD800, 0xDFFF,
	                                   0xFFFE, 0xFFFF, 0x110000};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(sqs_char_allowed(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(sqs_char_allowed(no[i]));
}

/* sqs_json_safe() on s: the text to send ("=" when NULL, nothing to
 * change); caller frees. */
static char *safe(const char *s)
{
	size_t n = 0;
	bool failed = true;
	char *out = sqs_json_safe(s, strlen(s), &n, &failed);

	assert_false(failed);
	if (!out)
		return strdup("=");
	assert_int_equal(n, strlen(out));
	return out;
}

static void test_json_safe(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"{\"a\":\"plain\"}", "="},
		{"{\"a\":\"aplicação \xe2\x82\xac \xef\xbf\xbd\"}", "="}, /* up to U+FFFD kept */
		{"{\n\t\"a\" :\r\n1}", "="},                             /* blanks between tokens */
		{"[\"\xef\xbf\xbe\"]", "[\"\\ufffe\"]"},                  /* U+FFFE */
		{"[\"a\xef\xbf\xbf" "b\"]", "[\"a\\uffffb\"]"},           /* U+FFFF */
		{"[\"\xf0\x9f\x98\x80\"]", "[\"\\ud83d\\ude00\"]"},       /* beyond the BMP: a pair */
		{"[\"\xf4\x8f\xbf\xbf\",\"\xf0\x90\x80\x80\"]", "[\"\\udbff\\udfff\",\"\\ud800\\udc00\"]"},
		{"[\"x\xee\x80\x80\xef\xbf\xbf\xed\x9f\xbf\"]", "[\"x\xee\x80\x80\\uffff\xed\x9f\xbf\"]"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = safe(cases[i].in);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

static void test_error_no_queue(void **state)
{
	(void)state;
	assert_true(sqs_error_no_queue("QueueDoesNotExist"));
	assert_true(sqs_error_no_queue("AWS.SimpleQueueService.NonExistentQueue"));
	assert_true(sqs_error_no_queue("NonExistentQueue"));
	assert_false(sqs_error_no_queue("ThrottlingException"));
	assert_false(sqs_error_no_queue(""));
}

static void test_get_queue_url(void **state)
{
	(void)state;
	char err[128];
	size_t len;
	char *b = sqs_get_queue_url_body("Client_\"A\".fifo", &len);

	assert_string_equal(b, "{\"QueueName\":\"Client_\\\"A\\\".fifo\"}");
	assert_int_equal(len, strlen(b));
	free(b);

	static const char ok[] = "{\"QueueUrl\":\"" URL "\"}";
	char *u = sqs_parse_queue_url(ok, sizeof(ok) - 1, err, sizeof(err));
	assert_string_equal(u, URL);
	free(u);
	static const char *const bad[] = {"", "[]", "{}", "{\"QueueUrl\":\"\"}", "{\"QueueUrl\":7}",
	                                  "{\"QueueUrl\":\"x\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(sqs_parse_queue_url(bad[i], strlen(bad[i]), err, sizeof(err)));
		assert_true(err[0] != '\0');
	}
	/* the length is honoured: the text past it is not read */
	u = sqs_parse_queue_url(ok, sizeof(ok) - 3, err, sizeof(err));
	assert_null(u);
}

static void test_queue_cache(void **state)
{
	(void)state;
	struct sqs_queues qs = {0};
	struct sqs_queue *a = sqs_queues_get(&qs, "Client_A.fifo");

	assert_non_null(a);
	assert_string_equal(a->name, "Client_A.fifo");
	assert_int_equal(a->state, SQS_QUEUE_UNKNOWN);
	assert_ptr_equal(a->owner, &qs);
	assert_ptr_equal(sqs_queues_get(&qs, "Client_A.fifo"), a); /* asked once per name */
	struct sqs_queue *z = sqs_queues_get(&qs, "no such/queue");
	assert_non_null(z);
	assert_ptr_not_equal(z, a);
	assert_int_equal(z->state, SQS_QUEUE_MISSING); /* an invalid name: at once */
	assert_non_null(strstr(z->error, "not a valid queue name"));
	a->state = SQS_QUEUE_READY;
	a->url = strdup(URL);
	sqs_queue_forget(a);
	assert_int_equal(a->state, SQS_QUEUE_UNKNOWN);
	sqs_queues_clear(&qs);
	assert_null(qs.list);
	sqs_queues_clear(&qs); /* twice: nothing left to free */
}

static void test_batch_body(void **state)
{
	(void)state;
	struct sqs_batch b;
	size_t len;

	static const char m0[] = "{\"uid\":\"u1\",\"c\":\"ã\"}", m1[] = "line\n\"two\"\\";

	assert_int_equal(sqs_batch_init(&b, URL), 0);
	assert_int_equal(sqs_batch_add(&b, m0, sizeof(m0) - 1, "u1", "Client_A"), 0);
	assert_int_equal(sqs_batch_add(&b, m1, sizeof(m1) - 1, NULL, NULL), 1);
	assert_int_equal(sqs_batch_add(&b, "xyz", 1, "", "g"), 2); /* only body_len bytes */
	assert_int_equal(b.n, 3);
	assert_int_equal(b.bytes, sizeof(m0) - 1 + sizeof(m1) - 1 + 1);
	char *body = sqs_batch_body(&b, &len);
	assert_string_equal(body, "{\"QueueUrl\":\"" URL "\",\"Entries\":["
	                          "{\"Id\":\"0\",\"MessageBody\":\"{\\\"uid\\\":\\\"u1\\\",\\\"c\\\":\\\"ã\\\"}\","
	                          "\"MessageDeduplicationId\":\"u1\",\"MessageGroupId\":\"Client_A\"},"
	                          "{\"Id\":\"1\",\"MessageBody\":\"line\\n\\\"two\\\"\\\\\"},"
	                          "{\"Id\":\"2\",\"MessageBody\":\"x\",\"MessageGroupId\":\"g\"}]}");
	assert_int_equal(len, strlen(body));
	free(body);
	sqs_batch_clear(&b);
	assert_int_equal(b.n, 0);
	assert_null(b.queue_url);
	sqs_batch_clear(NULL);
}

static void test_batch_limits(void **state)
{
	(void)state;
	struct sqs_batch b;
	char *big = malloc(SQS_MESSAGE_MAX_BYTES + 1);

	assert_non_null(big);
	memset(big, 'a', SQS_MESSAGE_MAX_BYTES + 1);
	assert_int_equal(sqs_batch_init(&b, URL), 0);
	for (int i = 0; i < SQS_BATCH_MAX; i++)
		assert_int_equal(sqs_batch_add(&b, "{}", 2, NULL, NULL), i);
	assert_int_equal(sqs_batch_add(&b, "{}", 2, NULL, NULL), SQS_BATCH_FULL); /* 11th */
	sqs_batch_clear(&b);

	assert_int_equal(sqs_batch_init(&b, URL), 0);
	assert_int_equal(sqs_batch_add(&b, big, SQS_MESSAGE_MAX_BYTES + 1, NULL, NULL), SQS_TOO_LARGE);
	assert_int_equal(sqs_batch_add(&b, big, SQS_MESSAGE_MAX_BYTES, NULL, NULL), 0); /* 1 MiB fits */
	assert_int_equal(sqs_batch_add(&b, "x", 1, NULL, NULL), SQS_BATCH_FULL);        /* 1 MiB in all */
	assert_int_equal(b.n, 1);
	sqs_batch_clear(&b);

	assert_int_equal(sqs_batch_init(&b, URL), 0);
	assert_int_equal(sqs_batch_add(&b, big, SQS_BATCH_MAX_BYTES / 2, NULL, NULL), 0);
	assert_int_equal(sqs_batch_add(&b, big, SQS_BATCH_MAX_BYTES / 2, NULL, NULL), 1);
	assert_int_equal(sqs_batch_add(&b, "", 0, NULL, NULL), 2); /* an empty one still fits */
	assert_int_equal(sqs_batch_add(&b, "y", 1, NULL, NULL), SQS_BATCH_FULL);
	sqs_batch_clear(&b);
	free(big);
}

static void test_batch_results(void **state)
{
	(void)state;
	struct sqs_batch b;
	struct sqs_result r[SQS_BATCH_MAX];
	char err[128];

	assert_int_equal(sqs_batch_init(&b, URL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sqs_batch_add(&b, "{}", 2, NULL, NULL), i);

	/* 0 ok, 1 failed (sender's fault), 2 in both lists (Failed wins), 3 in
	 * neither (failed, retryable); Ids out of range or odd are ignored */
	static const char ans[] =
	    "{\"Successful\":[{\"Id\":\"0\",\"MessageId\":\"m-0\"},{\"Id\":\"2\",\"MessageId\":\"m-2\"},"
	    "{\"Id\":\"7\",\"MessageId\":\"m-7\"},{\"Id\":\"01\"},{\"Id\":3}],"
	    "\"Failed\":[{\"Id\":\"1\",\"Code\":\"InvalidMessageContents\",\"Message\":\"bad char\","
	    "\"SenderFault\":true},{\"Id\":\"2\",\"Code\":\"InternalError\",\"Message\":\"try again\","
	    "\"SenderFault\":false}]}";
	assert_int_equal(sqs_batch_results(&b, ans, sizeof(ans) - 1, r, err, sizeof(err)), 3);
	assert_true(r[0].ok);
	assert_string_equal(r[0].message_id, "m-0");
	assert_false(r[1].ok);
	assert_true(r[1].sender_fault);
	assert_string_equal(r[1].code, "InvalidMessageContents");
	assert_string_equal(r[1].message, "bad char");
	assert_false(r[2].ok);
	assert_false(r[2].sender_fault);
	assert_string_equal(r[2].code, "InternalError");
	assert_string_equal(r[2].message_id, "");
	assert_false(r[3].ok);
	assert_false(r[3].sender_fault);
	assert_string_equal(r[3].code, "Missing");
	for (int i = 4; i < SQS_BATCH_MAX; i++)
		assert_false(r[i].ok);

	static const char all[] = "{\"Successful\":[{\"Id\":\"3\",\"MessageId\":\"c\"},{\"Id\":\"2\"},"
	                          "{\"Id\":\"1\"},{\"Id\":\"0\"}],\"Failed\":null}";
	assert_int_equal(sqs_batch_results(&b, all, sizeof(all) - 1, r, err, sizeof(err)), 0);
	assert_string_equal(r[3].message_id, "c");
	assert_string_equal(r[2].message_id, ""); /* no MessageId: empty, still ok */

	/* an empty answer object: every entry failed, none assumed sent */
	assert_int_equal(sqs_batch_results(&b, "{}", 2, r, err, sizeof(err)), 4);

	static const char *const bad[] = {"", "null", "[]", "{\"Successful\":{}}",
	                                  "{\"Failed\":\"x\"}", "{\"Successful\":["};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(sqs_batch_results(&b, bad[i], strlen(bad[i]), r, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		for (int j = 0; j < SQS_BATCH_MAX; j++)
			assert_false(r[j].ok);
	}
	sqs_batch_clear(&b);
}

static void test_receive(void **state)
{
	(void)state;
	struct sqs_message *m = (void *)1;
	size_t n = 99, len;
	char err[128];

	char *body = sqs_receive_body(URL, 10, 20, 30, &len);
	assert_string_equal(body, "{\"QueueUrl\":\"" URL "\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":20,"
	                          "\"VisibilityTimeout\":30,"
	                          "\"AttributeNames\":[\"ApproximateReceiveCount\",\"SentTimestamp\"],"
	                          "\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\",\"SentTimestamp\"]}");
	assert_int_equal(len, strlen(body));
	free(body);
	body = sqs_receive_body(URL, 1, 0, -1, &len); /* the queue's own visibility */
	assert_null(strstr(body, "VisibilityTimeout"));
	free(body);

	static const char two[] =
	    "{\"Messages\":[{\"MessageId\":\"id-1\",\"ReceiptHandle\":\"rh-1\",\"Body\":\"{\\\"a\\\":\\\"ã\\\"}\","
	    "\"Attributes\":{\"ApproximateReceiveCount\":\"3\",\"SentTimestamp\":\"1725952629123\"}},"
	    "{\"MessageId\":\"id-2\",\"ReceiptHandle\":\"rh-2\",\"Body\":\"\","
	    "\"Attributes\":{\"ApproximateReceiveCount\":2,\"SentTimestamp\":1e30}}]}";
	assert_int_equal(sqs_receive_parse(two, sizeof(two) - 1, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].message_id, "id-1");
	assert_string_equal(m[0].receipt_handle, "rh-1");
	assert_string_equal(m[0].body, "{\"a\":\"ã\"}");
	assert_int_equal(m[0].body_len, strlen("{\"a\":\"ã\"}"));
	assert_int_equal(m[0].receive_count, 3);
	assert_true(m[0].sent_ms == 1725952629123LL);
	assert_string_equal(m[1].body, "");
	assert_int_equal(m[1].body_len, 0);
	assert_int_equal(m[1].receive_count, 2); /* a number is read too */
	assert_true(m[1].sent_ms == 0);          /* out of range: as if absent */
	sqs_messages_free(m, n);

	/* an empty poll: no messages, no array */
	static const char *const empty[] = {"{}", "{\"Messages\":[]}", "{\"Messages\":null}"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		m = (void *)1;
		n = 99;
		assert_int_equal(sqs_receive_parse(empty[i], strlen(empty[i]), &m, &n, err, sizeof(err)), 0);
		assert_null(m);
		assert_int_equal(n, 0);
	}
	/* not an answer, or a message without its three strings: an error, and
	 * nothing handed back (the first message's copies are freed) */
	static const char *const bad[] = {
	    "", "[]", "{\"Messages\":{}}",
	    "{\"Messages\":[{\"MessageId\":\"a\",\"ReceiptHandle\":\"b\",\"Body\":\"c\"},"
	    "{\"MessageId\":\"a\",\"Body\":\"c\"}]}",
	    "{\"Messages\":[{\"MessageId\":\"a\",\"ReceiptHandle\":\"b\",\"Body\":7}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = (void *)1;
		n = 99;
		err[0] = '\0';
		assert_int_equal(sqs_receive_parse(bad[i], strlen(bad[i]), &m, &n, err, sizeof(err)), -1);
		assert_null(m);
		assert_int_equal(n, 0);
		assert_true(err[0] != '\0');
	}
	sqs_messages_free(NULL, 0);
}

static void test_delete_and_visibility(void **state)
{
	(void)state;
	size_t len;
	char err[128];
	bool failed[SQS_BATCH_MAX];

	char *b = sqs_delete_body(URL, "rh\"1", &len);
	assert_string_equal(b, "{\"QueueUrl\":\"" URL "\",\"ReceiptHandle\":\"rh\\\"1\"}");
	assert_int_equal(len, strlen(b));
	free(b);
	const char *const rh[] = {"r0", "r1", "r2"};
	b = sqs_delete_batch_body(URL, rh, 3, &len);
	assert_string_equal(b, "{\"QueueUrl\":\"" URL "\",\"Entries\":[{\"Id\":\"0\",\"ReceiptHandle\":\"r0\"},"
	                       "{\"Id\":\"1\",\"ReceiptHandle\":\"r1\"},{\"Id\":\"2\",\"ReceiptHandle\":\"r2\"}]}");
	free(b);
	b = sqs_change_visibility_body(URL, "r9", 43200, &len);
	assert_string_equal(b, "{\"QueueUrl\":\"" URL "\",\"ReceiptHandle\":\"r9\",\"VisibilityTimeout\":43200}");
	free(b);

	/* 0 deleted; 1 failed; 2 in both (Failed wins); 3 in neither; "9" is
	 * out of range for 4 entries */
	static const char ans[] = "{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"2\"},{\"Id\":\"9\"}],"
	                          "\"Failed\":[{\"Id\":\"1\",\"Code\":\"ReceiptHandleIsInvalid\"},{\"Id\":\"2\"}]}";
	memset(failed, 1, sizeof(failed));
	assert_int_equal(sqs_delete_batch_results(ans, sizeof(ans) - 1, 4, failed, err, sizeof(err)), 3);
	assert_false(failed[0]);
	assert_true(failed[1]);
	assert_true(failed[2]);
	assert_true(failed[3]);
	for (int i = 4; i < SQS_BATCH_MAX; i++)
		assert_false(failed[i]);
	assert_int_equal(sqs_delete_batch_results("{}", 2, 2, failed, err, sizeof(err)), 2);
	err[0] = '\0';
	assert_int_equal(sqs_delete_batch_results("nope", 4, 2, failed, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
}

static void test_queue_counts(void **state)
{
	(void)state;
	size_t len;
	char err[128];
	long v = -1, f = -1, d = -1;

	char *b = sqs_queue_counts_body(URL, &len);
	assert_string_equal(b, "{\"QueueUrl\":\"" URL "\",\"AttributeNames\":[\"ApproximateNumberOfMessages\","
	                       "\"ApproximateNumberOfMessagesNotVisible\",\"ApproximateNumberOfMessagesDelayed\"]}");
	free(b);
	static const char ans[] = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"5\","
	                          "\"ApproximateNumberOfMessagesNotVisible\":\"2\","
	                          "\"ApproximateNumberOfMessagesDelayed\":\"1\"}}";
	assert_int_equal(sqs_parse_queue_counts(ans, sizeof(ans) - 1, &v, &f, &d, err, sizeof(err)), 0);
	assert_int_equal(v, 5);
	assert_int_equal(f, 2);
	assert_int_equal(d, 1);
	/* absent counts are unknown (-1), not 0: a daemon waiting for an empty
	 * queue must not take a short answer for one */
	assert_int_equal(sqs_parse_queue_counts("{\"Attributes\":{}}", 17, &v, &f, &d, err, sizeof(err)), 0);
	assert_int_equal(v, -1);
	assert_int_equal(f, -1);
	assert_int_equal(d, -1);
	static const char *const bad[] = {"", "{}", "{\"Attributes\":[]}", "[1]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(sqs_parse_queue_counts(bad[i], strlen(bad[i]), &v, &f, &d, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_names),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_chars_allowed),
		cmocka_unit_test(test_json_safe),
		cmocka_unit_test(test_error_no_queue),
		cmocka_unit_test(test_get_queue_url),
		cmocka_unit_test(test_queue_cache),
		cmocka_unit_test(test_batch_body),
		cmocka_unit_test(test_batch_limits),
		cmocka_unit_test(test_batch_results),
		cmocka_unit_test(test_receive),
		cmocka_unit_test(test_delete_and_visibility),
		cmocka_unit_test(test_queue_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
