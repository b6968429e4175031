/* Any bytes as an SQS answer, read by every parser of lib/sqs.c that takes
 * one: GetQueueUrl (sqs_parse_queue_url), SendMessageBatch
 * (sqs_batch_results, for a batch of 1 and of 10), ReceiveMessage
 * (sqs_receive_parse), DeleteMessageBatch (sqs_delete_batch_results) and
 * GetQueueAttributes (sqs_parse_queue_counts); error bodies go through
 * awsreq_parse_error() and sqs_error_no_queue(). The bytes are also a
 * message text for sqs_json_safe() when they are valid UTF-8 JSON.
 *
 * Invariants: failure counts match the flags and the batch size; strings
 * handed back are NUL-terminated and body_len is the body's length; what
 * sqs_json_safe() returns holds only characters SQS takes unescaped and
 * parses to the same JSON as its input.
 *
 * Known and not checked unless FUZZ_STRICT_JSON is set in the environment:
 * cJSON (so record_parse, so validate) takes any byte below 0x20 as a blank
 * between tokens, which sqs_json_safe() turns into a \u escape there, where
 * JSON allows none (fuzz/pending/sqs/README). */
#include "fuzz.h"

#include "awsreq.h"
#include "sqs.h"
#include "utf8.h"

static struct sqs_batch one, ten;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (sqs_batch_init(&one, "http://localhost/q/Client_A.fifo") < 0 ||
	    sqs_batch_init(&ten, "http://localhost/q/Client_B") < 0)
		abort();
	if (sqs_batch_add(&one, "{}", 2, "d0", "g0") != 0)
		abort();
	for (int i = 0; i < SQS_BATCH_MAX; i++)
		if (sqs_batch_add(&ten, "{\"a\":1}", 7, NULL, NULL) != i)
			abort();
	return 0;
}

static void batch_results(const struct sqs_batch *b, const char *body, size_t len)
{
	struct sqs_result res[SQS_BATCH_MAX];
	char err[256];
	int n = sqs_batch_results(b, body, len, res, err, sizeof(err));

	if (n < 0) {
		FUZZ_CHECK(n == -1);
		FUZZ_CHECK_STR(err);
		return;
	}
	int failed = 0;
	for (size_t i = 0; i < b->n; i++) {
		FUZZ_CHECK_STR(res[i].message_id);
		FUZZ_CHECK_STR(res[i].code);
		FUZZ_CHECK_STR(res[i].message);
		failed += !res[i].ok;
	}
	for (size_t i = b->n; i < SQS_BATCH_MAX; i++)
		FUZZ_CHECK(!res[i].ok);
	FUZZ_CHECK(n == failed);
}

static void json_safe(const char *text, size_t len)
{
	size_t out_len = 0;
	bool failed;
	char *out;

	if (utf8_first_invalid(text, len) != len || memchr(text, '\0', len))
		return;
	cJSON *in = cJSON_ParseWithLength(text, len);
	if (!in)
		return; /* the contract is JSON text */
	if (!fuzz_json_checkable(text, len)) {
		cJSON_Delete(in);
		return;
	}
	out = sqs_json_safe(text, len, &out_len, &failed);
	FUZZ_CHECK(!failed);
	if (out) {
		FUZZ_CHECK(utf8_first_invalid(out, out_len) == out_len);
		for (size_t i = 0; i < out_len; i++) {
			unsigned char c = (unsigned char)out[i];
			FUZZ_CHECK(c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
			FUZZ_CHECK(c < 0xF0); /* nothing beyond the BMP */
		}
		cJSON *back = cJSON_ParseWithLength(out, out_len);
		FUZZ_CHECK(back != NULL);
		/* Printed, not cJSON_Compare(): that finds a duplicate key's
		 * first value only, and so tells an object from itself. */
		char *pin = cJSON_PrintUnformatted(in), *pback = cJSON_PrintUnformatted(back);
		FUZZ_CHECK(pin && pback && strcmp(pin, pback) == 0);
		cJSON_free(pin);
		cJSON_free(pback);
		cJSON_Delete(back);
		free(out);
	}
	cJSON_Delete(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char err[256];

	char *url = sqs_parse_queue_url(body, size, err, sizeof(err));
	if (url)
		FUZZ_CHECK(url[0] != '\0');
	else
		FUZZ_CHECK_STR(err);
	free(url);

	batch_results(&one, body, size);
	batch_results(&ten, body, size);

	struct sqs_message *msgs = NULL;
	size_t n = 99;
	if (sqs_receive_parse(body, size, &msgs, &n, err, sizeof(err)) == 0) {
		FUZZ_CHECK((n == 0) == (msgs == NULL));
		for (size_t i = 0; i < n; i++) {
			FUZZ_CHECK(msgs[i].message_id && msgs[i].receipt_handle && msgs[i].body);
			FUZZ_CHECK(strlen(msgs[i].body) == msgs[i].body_len);
		}
		sqs_messages_free(msgs, n);
	} else {
		FUZZ_CHECK(msgs == NULL && n == 0);
		FUZZ_CHECK_STR(err);
	}

	bool failed[SQS_BATCH_MAX];
	for (size_t k = 1; k <= SQS_BATCH_MAX; k += 9) {
		int nf = sqs_delete_batch_results(body, size, k, failed, err, sizeof(err));
		if (nf >= 0) {
			int count = 0;
			for (size_t i = 0; i < SQS_BATCH_MAX; i++)
				count += failed[i];
			FUZZ_CHECK(nf == count && (size_t)nf <= k);
		}
	}

	long visible, inflight, delayed;
	if (sqs_parse_queue_counts(body, size, &visible, &inflight, &delayed, err, sizeof(err)) < 0)
		FUZZ_CHECK_STR(err);

	char type[128], message[512];
	awsreq_parse_error(body, size, "AWS.SimpleQueueService.NonExistentQueue;Sender", type,
	                   sizeof(type), message, sizeof(message));
	FUZZ_CHECK_STR(type);
	FUZZ_CHECK_STR(message);
	(void)sqs_error_no_queue(type);

	json_safe(body, size);
	return 0;
}
