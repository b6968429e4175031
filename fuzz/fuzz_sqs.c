/* Any bytes as an SQS answer, read by every parser of lib/sqs.c that takes
 * one: GetQueueUrl (sqs_parse_queue_url), SendMessageBatch
 * (sqs_batch_results, for a batch of 1 and of 10), ReceiveMessage
 * (sqs_receive_parse), DeleteMessageBatch (sqs_delete_batch_results) and
 * GetQueueAttributes (sqs_parse_queue_counts); error bodies go through
 * awsreq_parse_error() and sqs_error_no_queue(). The bytes are also a
 * message text for sqs_json_safe() when they are valid UTF-8 JSON.
 *
 * Invariants: failure counts match the flags and the batch size; strings
 * handed back are NUL-terminated and body_len is the body's length; the
 * text sqs_json_safe() leads its callers to send (its result, or the input
 * itself when it returns NULL) is the input code point by code point, each
 * kept as is when SQS takes it (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD) and
 * its \u escape otherwise (U+FFFE and U+FFFF included), and parses to the
 * same JSON as its input.
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

/* The contract of sqs_json_safe() (lib/sqs.h), as the fuzz target reads
 * it: kept as they are, #x9 #xA #xD (blanks between tokens), #x20 to #xD7FF
 * and #xE000 to #xFFFD; everything else (U+FFFE, U+FFFF, beyond the BMP, the
 * other controls) is written as a \u escape. */
static bool kept_as_is(unsigned long cp)
{
	return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
	       (cp >= 0xE000 && cp <= 0xFFFD);
}

/* The code point of the valid UTF-8 sequence at s (n bytes). */
static unsigned long cp_at(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0];
	unsigned long cp = s[0] & (0xFF >> (n + 1));
	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3F);
	return cp;
}

/* Four hex digits at s (either case) as a number, or -1. */
static long hex4(const char *s, size_t left)
{
	long v = 0;

	if (left < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Walks the input and the text that is sent side by side, one input code
 * point at a time: a character kept as is must be there with the same bytes;
 * any other must be there as its \u escape (a surrogate pair beyond the
 * BMP). The text sent must end where the input does. */
static void check_sent(const char *in, size_t in_len, const char *sent, size_t sent_len)
{
	size_t i = 0, j = 0;

	while (i < in_len) {
		size_t n = utf8_sequence_len(in + i, in_len - i);
		FUZZ_CHECK(n >= 1 && n <= 4 && i + n <= in_len);
		unsigned long cp = cp_at((const unsigned char *)in + i, n);
		if (kept_as_is(cp)) {
			FUZZ_CHECK(j + n <= sent_len && memcmp(in + i, sent + j, n) == 0);
			j += n;
		} else {
			FUZZ_CHECK(j + 6 <= sent_len && sent[j] == '\\' && sent[j + 1] == 'u');
			long u = hex4(sent + j + 2, sent_len - j - 2);
			j += 6;
			if (cp >= 0x10000) {
				FUZZ_CHECK(u == (long)(0xD800 + ((cp - 0x10000) >> 10)));
				FUZZ_CHECK(j + 6 <= sent_len && sent[j] == '\\' && sent[j + 1] == 'u');
				u = hex4(sent + j + 2, sent_len - j - 2);
				FUZZ_CHECK(u == (long)(0xDC00 + ((cp - 0x10000) & 0x3FF)));
				j += 6;
			} else {
				FUZZ_CHECK(u == (long)cp);
			}
		}
		i += n;
	}
	FUZZ_CHECK(j == sent_len);
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
	/* What the callers send: the text itself when NULL ("nothing to
	 * escape"), which is exactly what a missed character returns, so it
	 * is checked the same way. */
	const char *sent = out ? out : text;
	size_t sent_len = out ? out_len : len;
	if (out)
		FUZZ_CHECK(out_len != len || memcmp(out, text, len) != 0); /* NULL means unchanged */
	FUZZ_CHECK(utf8_first_invalid(sent, sent_len) == sent_len);
	check_sent(text, len, sent, sent_len);
	for (size_t i = 0; i < sent_len;) { /* and on its own: only characters SQS takes */
		size_t n = utf8_sequence_len(sent + i, sent_len - i);
		FUZZ_CHECK(n >= 1 && n <= 3); /* nothing beyond the BMP */
		FUZZ_CHECK(kept_as_is(cp_at((const unsigned char *)sent + i, n)));
		i += n;
	}
	cJSON *back = cJSON_ParseWithLength(sent, sent_len);
	FUZZ_CHECK(back != NULL);
	/* Printed, not cJSON_Compare(): that finds a duplicate key's first
	 * value only, and so tells an object from itself. */
	char *pin = cJSON_PrintUnformatted(in), *pback = cJSON_PrintUnformatted(back);
	FUZZ_CHECK(pin && pback && strcmp(pin, pback) == 0);
	cJSON_free(pin);
	cJSON_free(pback);
	cJSON_Delete(back);
	free(out);
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
