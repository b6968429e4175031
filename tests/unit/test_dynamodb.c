/* Unit tests for lib/dynamodb: the item JSON of an event, the
 * BatchWriteItem body built for a batch (byte for byte), duplicate keys in
 * one batch (the later put wins, in the earlier one's slot), the 25-item and
 * 16 MB limits, and reading UnprocessedItems back to slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dynamodb.h"

static char *item(const char *uid, const char *client, size_t *len)
{
	struct dynamodb_attr a[] = {
		{"UUID", uid, strlen(uid)},
		{"Client", client, strlen(client)},
	};
	return dynamodb_item_json(a, 2, len, NULL);
}

static void test_item_json(void **state)
{
	(void)state;
	/* UTF-8 stays as it is; quotes, backslashes and controls are escaped. */
	static const char ctx[] = "aplicação \"de\" usuários\\\n";
	struct dynamodb_attr a[] = {
		{"UUID", "a0237613", 8},
		{"Context", ctx, sizeof(ctx) - 1},
		{"CreatedAt", "2024-09-10T04:17:09.0247241-03:00", 33},
	};
	size_t len, size;
	char *j = dynamodb_item_json(a, 3, &len, &size);

	assert_string_equal(j, "{\"UUID\":{\"S\":\"a0237613\"},"
	                       "\"Context\":{\"S\":\"aplicação \\\"de\\\" usuários\\\\\\n\"},"
	                       "\"CreatedAt\":{\"S\":\"2024-09-10T04:17:09.0247241-03:00\"}}");
	assert_int_equal(len, strlen(j));
	/* DynamoDB's size: names and values in bytes. */
	assert_int_equal(size, 4 + 8 + 7 + (sizeof(ctx) - 1) + 9 + 33);
	cJSON *doc = cJSON_Parse(j);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "Context"), "S")->valuestring,
	                    ctx);
	cJSON_Delete(doc);
	free(j);

	/* A NUL inside a value survives as \u0000. */
	struct dynamodb_attr n[] = {{"K", "a\0b", 3}};
	j = dynamodb_item_json(n, 1, &len, &size);
	assert_string_equal(j, "{\"K\":{\"S\":\"a\\u0000b\"}}");
	free(j);
}

static void test_batch_body_and_duplicates(void **state)
{
	(void)state;
	struct dynamodb_batch b;
	size_t len;
	char *i1 = item("u1", "Client_A", &len), *i2 = item("u2", "Client_B", &len);
	char *i1b = item("u1", "Client_C", &len);

	assert_int_equal(dynamodb_batch_init(&b, "pismo", 0), 0);
	assert_int_equal(b.max_items, 25);
	assert_int_equal(dynamodb_batch_put(&b, "u1", i1, strlen(i1)), 0);
	assert_int_equal(dynamodb_batch_put(&b, "u2", i2, strlen(i2)), 1);
	/* The same key again: the later item replaces the first, same slot. */
	assert_int_equal(dynamodb_batch_put(&b, "u1", i1b, strlen(i1b)), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(dynamodb_batch_find(&b, "u2"), 1);
	assert_int_equal(dynamodb_batch_find(&b, "nope"), -1);

	char *body = dynamodb_batch_body(&b, &len);
	assert_string_equal(body,
	                    "{\"RequestItems\":{\"pismo\":["
	                    "{\"PutRequest\":{\"Item\":{\"UUID\":{\"S\":\"u1\"},\"Client\":{\"S\":\"Client_C\"}}}},"
	                    "{\"PutRequest\":{\"Item\":{\"UUID\":{\"S\":\"u2\"},\"Client\":{\"S\":\"Client_B\"}}}}"
	                    "]}}");
	assert_int_equal(len, strlen(body));
	/* The running size estimate never undercounts the real body. */
	assert_true(b.body_bytes >= len);
	free(body);
	dynamodb_batch_clear(&b);
	free(i1);
	free(i2);
	free(i1b);
}

static void test_batch_limits(void **state)
{
	(void)state;
	struct dynamodb_batch b;
	char key[16], *it;
	size_t len;

	assert_int_equal(dynamodb_batch_init(&b, "pismo", 0), 0);
	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		it = item(key, "Client_A", &len);
		assert_int_equal(dynamodb_batch_put(&b, key, it, len), i);
		free(it);
	}
	it = item("k25", "Client_A", &len);
	assert_int_equal(dynamodb_batch_put(&b, "k25", it, len), DYNAMODB_BATCH_FULL);
	free(it);
	/* A key already in a full batch is still replaced. */
	it = item("k3", "Client_D", &len);
	assert_int_equal(dynamodb_batch_put(&b, "k3", it, len), 3);
	free(it);
	dynamodb_batch_clear(&b);

	/* A lower item limit (persist --batch-size). */
	assert_int_equal(dynamodb_batch_init(&b, "pismo", 2), 0);
	assert_int_equal(dynamodb_batch_put(&b, "a", "{}", 2), 0);
	assert_int_equal(dynamodb_batch_put(&b, "b", "{}", 2), 1);
	assert_int_equal(dynamodb_batch_put(&b, "c", "{}", 2), DYNAMODB_BATCH_FULL);
	dynamodb_batch_clear(&b);

	/* 16 MB of body: three items of 6 MB do not fit in one request. */
	size_t big = 6 * 1024 * 1024;
	char *huge = malloc(big + 1);
	memset(huge, 'x', big);
	huge[big] = '\0';
	assert_int_equal(dynamodb_batch_init(&b, "pismo", 0), 0);
	assert_int_equal(dynamodb_batch_put(&b, "a", huge, big), 0);
	assert_int_equal(dynamodb_batch_put(&b, "b", huge, big), 1);
	assert_int_equal(dynamodb_batch_put(&b, "c", huge, big), DYNAMODB_BATCH_FULL);
	assert_true(b.body_bytes <= DYNAMODB_REQUEST_MAX_BYTES);
	dynamodb_batch_clear(&b);
	free(huge);
}

static void test_unprocessed(void **state)
{
	(void)state;
	struct dynamodb_batch b;
	bool un[DYNAMODB_BATCH_MAX_ITEMS];
	char err[256];

	assert_int_equal(dynamodb_batch_init(&b, "pismo", 0), 0);
	static const char *const keys[] = {"a", "b", "c", "d"};
	for (int i = 0; i < 4; i++)
		assert_int_equal(dynamodb_batch_put(&b, keys[i], "{}", 2), i);

	static const char none[] = "{\"UnprocessedItems\":{}}";
	assert_int_equal(dynamodb_batch_unprocessed(&b, none, sizeof(none) - 1, "UUID", un, err,
	                                            sizeof(err)),
	                 0);
	for (int i = 0; i < 4; i++)
		assert_false(un[i]);

	static const char some[] =
		"{\"UnprocessedItems\":{\"pismo\":["
		"{\"PutRequest\":{\"Item\":{\"UUID\":{\"S\":\"d\"},\"Client\":{\"S\":\"Client_A\"}}}},"
		"{\"PutRequest\":{\"Item\":{\"UUID\":{\"S\":\"b\"}}}},"
		"{\"PutRequest\":{\"Item\":{\"UUID\":{\"S\":\"zz\"}}}},"
		"{\"DeleteRequest\":{\"Key\":{\"UUID\":{\"S\":\"a\"}}}}],"
		"\"other\":[{\"PutRequest\":{\"Item\":{\"UUID\":{\"S\":\"c\"}}}}]},"
		"\"ConsumedCapacity\":[]}";
	assert_int_equal(dynamodb_batch_unprocessed(&b, some, sizeof(some) - 1, "UUID", un, err,
	                                            sizeof(err)),
	                 2);
	assert_false(un[0]);
	assert_true(un[1]);
	assert_false(un[2]); /* another table's */
	assert_true(un[3]);

	/* An empty 200 body from a stand-in: nothing unprocessed. */
	assert_int_equal(dynamodb_batch_unprocessed(&b, "{}", 2, "UUID", un, err, sizeof(err)), 0);
	/* Not a response at all. */
	assert_int_equal(dynamodb_batch_unprocessed(&b, "<html>", 6, "UUID", un, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a JSON object"));
	assert_int_equal(dynamodb_batch_unprocessed(&b, "{\"UnprocessedItems\":[]}", 23, "UUID", un,
	                                            err, sizeof(err)),
	                 -1);
	dynamodb_batch_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item_json),
		cmocka_unit_test(test_batch_body_and_duplicates),
		cmocka_unit_test(test_batch_limits),
		cmocka_unit_test(test_unprocessed),
	};
	return cmocka_run_group_tests_name("dynamodb", tests, NULL, NULL);
}
