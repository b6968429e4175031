/* Any bytes as a DynamoDB answer: dynamodb_batch_unprocessed() reads them
 * as a BatchWriteItem response for a batch of puts keyed "k0".."k24"
 * (attribute UUID, table "events"), and awsreq_parse_error() as an error
 * body (what persist sees on a 4xx/5xx), with and without the
 * x-amzn-ErrorType header, then awsreq_classify() on the code.
 *
 * Invariants: the count returned is the number of slots flagged and at
 * most the batch's size; error outputs are NUL-terminated even in small
 * buffers, and the code has lost its namespace and ":" suffix. */
#include "fuzz.h"

#include "awsreq.h"
#include "dynamodb.h"

static struct dynamodb_batch batch;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (dynamodb_batch_init(&batch, "events", 0) < 0)
		abort();
	for (int i = 0; i < DYNAMODB_BATCH_MAX_ITEMS; i++) {
		char key[8];
		size_t len;
		snprintf(key, sizeof(key), "k%d", i);
		struct dynamodb_attr a[] = {{"UUID", key, strlen(key)}, {"Client", "Client_A", 8}};
		char *item = dynamodb_item_json(a, 2, &len, NULL);
		if (!item || dynamodb_batch_put(&batch, key, item, len) != i)
			abort();
		free(item);
	}
	return 0;
}

static void parse_error(const char *body, size_t len, const char *header, size_t tsize,
                        size_t msize)
{
	char type[128], message[512];

	memset(type, 'x', sizeof(type));
	memset(message, 'x', sizeof(message));
	awsreq_parse_error(body, len, header, type, tsize, message, msize);
	if (tsize)
		FUZZ_CHECK(memchr(type, '\0', tsize) != NULL);
	if (msize)
		FUZZ_CHECK(memchr(message, '\0', msize) != NULL);
	if (tsize) {
		FUZZ_CHECK(strchr(type, '#') == NULL && strchr(type, ':') == NULL);
		enum awsreq_class cls = awsreq_classify(400, 0, type);
		FUZZ_CHECK(awsreq_class_name(cls) != NULL);
		(void)awsreq_class_retryable(cls);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	bool unprocessed[DYNAMODB_BATCH_MAX_ITEMS];
	char err[256];
	int n;

	err[0] = '\0';
	n = dynamodb_batch_unprocessed(&batch, body, size, "UUID", unprocessed, err, sizeof(err));
	if (n < 0) {
		FUZZ_CHECK(n == -1 && err[0] != '\0');
		FUZZ_CHECK_STR(err);
	} else {
		int flagged = 0;
		for (size_t i = 0; i < DYNAMODB_BATCH_MAX_ITEMS; i++)
			flagged += unprocessed[i];
		FUZZ_CHECK(n == flagged && (size_t)n <= batch.n);
	}

	parse_error(body, size, NULL, 128, 512);
	parse_error(body, size, "com.amazonaws.dynamodb.v20120810#ThrottlingException:x", 128, 512);
	parse_error(body, size, "", 5, 3);
	parse_error(body, size, NULL, 0, 0);
	return 0;
}
