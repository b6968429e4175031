/* DynamoDB's JSON 1.0 API: the part persist needs (BatchWriteItem).
 *
 * Design notes
 * - Items are built once, as JSON text, when a record arrives: the text
 *   gives the item's size for the 400 KB check straight away, and a batch
 *   that must be sent again (UnprocessedItems) reuses it without touching
 *   the record.
 * - The batch keeps at most one put per key (DynamoDB refuses duplicates in
 *   one request with a ValidationException); a second put of a key replaces
 *   the first in its slot, so the request writes what sending both in order
 *   would have left. The caller ties its records to slots and learns which
 *   slots came back unprocessed.
 * - Sizes are counted on the JSON body, which is what the 16 MB request
 *   limit is about; an item's own 400 KB limit is counted AWS's way
 *   (attribute names plus values, in bytes). */
#include "dynamodb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "strbuf.h"

/* {"RequestItems":{"":[ and ]}} around the puts. */
#define BODY_FRAME 24
/* {"PutRequest":{"Item": and }} around an item, and a comma. */
#define PUT_FRAME 25

int dynamodb_submit(struct awsreq_client *c, const char *op, char *body, size_t body_len,
                    unsigned delay_ms, awsreq_done_fn *done, void *arg, char *errstr,
                    size_t errstr_size)
{
	char target[128];

	snprintf(target, sizeof(target), DYNAMODB_TARGET_PREFIX "%s", op);
	return awsreq_submit(c, target, body, body_len, delay_ms, done, arg, errstr, errstr_size);
}

char *dynamodb_item_json(const struct dynamodb_attr *attrs, size_t n, size_t *json_len,
                         size_t *item_size)
{
	struct strbuf b = STRBUF_INIT;
	size_t size = 0;

	strbuf_addc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addc(&b, ',');
		strbuf_addc(&b, '"');
		strbuf_add_json_escaped(&b, attrs[i].name, strlen(attrs[i].name));
		strbuf_adds(&b, "\":{\"S\":\"");
		strbuf_add_json_escaped(&b, attrs[i].value, attrs[i].value_len);
		strbuf_adds(&b, "\"}");
		size += strlen(attrs[i].name) + attrs[i].value_len;
	}
	strbuf_addc(&b, '}');
	if (item_size)
		*item_size = size;
	return strbuf_detach(&b, json_len);
}

int dynamodb_batch_init(struct dynamodb_batch *b, const char *table, size_t max_items)
{
	memset(b, 0, sizeof(*b));
	b->table = strdup(table);
	if (!b->table)
		return -1;
	b->max_items = max_items && max_items < DYNAMODB_BATCH_MAX_ITEMS ? max_items
	                                                                 : DYNAMODB_BATCH_MAX_ITEMS;
	b->body_bytes = BODY_FRAME + strlen(table);
	return 0;
}

void dynamodb_batch_clear(struct dynamodb_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->put[i].key);
		free(b->put[i].item);
	}
	free(b->table);
	memset(b, 0, sizeof(*b));
}

int dynamodb_batch_find(const struct dynamodb_batch *b, const char *key)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->put[i].key, key) == 0)
			return (int)i;
	return -1;
}

int dynamodb_batch_put(struct dynamodb_batch *b, const char *key, const char *item,
                       size_t item_len)
{
	int slot = dynamodb_batch_find(b, key);
	char *copy;

	if (slot >= 0) {
		size_t bytes = b->body_bytes - b->put[slot].item_len + item_len;
		if (bytes > DYNAMODB_REQUEST_MAX_BYTES)
			return DYNAMODB_BATCH_FULL;
		if (!(copy = malloc(item_len + 1)))
			return -1;
		memcpy(copy, item, item_len);
		copy[item_len] = '\0';
		free(b->put[slot].item);
		b->put[slot].item = copy;
		b->put[slot].item_len = item_len;
		b->body_bytes = bytes;
		return slot;
	}
	if (b->n >= b->max_items || b->body_bytes + item_len + PUT_FRAME > DYNAMODB_REQUEST_MAX_BYTES)
		return DYNAMODB_BATCH_FULL;
	char *k = strdup(key);
	copy = malloc(item_len + 1);
	if (!k || !copy) {
		free(k);
		free(copy);
		return -1;
	}
	memcpy(copy, item, item_len);
	copy[item_len] = '\0';
	b->put[b->n].key = k;
	b->put[b->n].item = copy;
	b->put[b->n].item_len = item_len;
	b->body_bytes += item_len + PUT_FRAME;
	return (int)b->n++;
}

char *dynamodb_batch_body(const struct dynamodb_batch *b, size_t *len)
{
	struct strbuf s = STRBUF_INIT;

	if (!strbuf_reserve(&s, b->body_bytes))
		return NULL;
	strbuf_adds(&s, "{\"RequestItems\":{\"");
	strbuf_add_json_escaped(&s, b->table, strlen(b->table));
	strbuf_adds(&s, "\":[");
	for (size_t i = 0; i < b->n; i++) {
		if (i)
			strbuf_addc(&s, ',');
		strbuf_adds(&s, "{\"PutRequest\":{\"Item\":");
		strbuf_add(&s, b->put[i].item, b->put[i].item_len);
		strbuf_adds(&s, "}}");
	}
	strbuf_adds(&s, "]}}");
	return strbuf_detach(&s, len);
}

int dynamodb_batch_unprocessed(const struct dynamodb_batch *b, const char *body, size_t len,
                               const char *key_attr, bool unprocessed[DYNAMODB_BATCH_MAX_ITEMS],
                               char *errstr, size_t errstr_size)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	int count = 0;

	memset(unprocessed, 0, DYNAMODB_BATCH_MAX_ITEMS * sizeof(bool));
	if (!cJSON_IsObject(doc)) {
		snprintf(errstr, errstr_size, "the response is not a JSON object");
		cJSON_Delete(doc);
		return -1;
	}
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(doc, "UnprocessedItems");
	if (all && !cJSON_IsObject(all) && !cJSON_IsNull(all)) {
		snprintf(errstr, errstr_size, "UnprocessedItems in the response is not an object");
		cJSON_Delete(doc);
		return -1;
	}
	const cJSON *list = cJSON_IsObject(all) ? cJSON_GetObjectItemCaseSensitive(all, b->table) : NULL;
	const cJSON *req;
	cJSON_ArrayForEach(req, list)
	{
		const cJSON *put = cJSON_GetObjectItemCaseSensitive(req, "PutRequest");
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(put, "Item");
		const cJSON *attr = cJSON_GetObjectItemCaseSensitive(item, key_attr);
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(attr, "S");
		if (!cJSON_IsString(s))
			continue; /* not one of ours: nothing to retry for it */
		int slot = dynamodb_batch_find(b, s->valuestring);
		if (slot >= 0 && !unprocessed[slot]) {
			unprocessed[slot] = true;
			count++;
		}
	}
	cJSON_Delete(doc);
	return count;
}

bool dynamodb_item_error(const char *error_type)
{
	return strcmp(error_type, "ValidationException") == 0 ||
	       strcmp(error_type, "ItemCollectionSizeLimitExceededException") == 0;
}
