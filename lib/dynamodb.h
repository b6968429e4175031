/* DynamoDB over the AWS JSON 1.0 protocol: request bodies and response
 * parsing for BatchWriteItem, and a submit call that names the operation.
 * Signing, sending and retrying are awsreq's. */
#ifndef EP_DYNAMODB_H
#define EP_DYNAMODB_H

#include <stdbool.h>
#include <stddef.h>

#include "awsreq.h"

#define DYNAMODB_TARGET_PREFIX "DynamoDB_20120810."

/* AWS's limits for BatchWriteItem. */
#define DYNAMODB_BATCH_MAX_ITEMS 25
#define DYNAMODB_REQUEST_MAX_BYTES (16 * 1024 * 1024)
#define DYNAMODB_ITEM_MAX_BYTES (400 * 1024)

/* Submits operation op ("BatchWriteItem", "Scan", ...) with a JSON body;
 * awsreq_submit() with the DynamoDB target, same ownership rules. */
int dynamodb_submit(struct awsreq_client *c, const char *op, char *body, size_t body_len,
                    unsigned delay_ms, awsreq_done_fn *done, void *arg, char *errstr,
                    size_t errstr_size);

/* One string attribute of an item. */
struct dynamodb_attr {
	const char *name;
	const char *value;
	size_t value_len;
};

/* Builds the JSON of an item of string attributes,
 * {"Name":{"S":"value"},...}. *item_size gets DynamoDB's size of the item
 * (attribute names and values in UTF-8 bytes), which the 400 KB limit is
 * about. Returns the text (caller frees; *json_len its length), or NULL
 * when out of memory. */
char *dynamodb_item_json(const struct dynamodb_attr *attrs, size_t n, size_t *json_len,
                         size_t *item_size);

/* A BatchWriteItem request under construction: puts to one table, at most
 * one per key. */
struct dynamodb_batch {
	size_t n;
	size_t body_bytes; /* size of the body if it were built now */
	size_t max_items;  /* DYNAMODB_BATCH_MAX_ITEMS unless lowered */
	struct dynamodb_put {
		char *key;     /* the partition key's value */
		char *item;    /* the item's JSON */
		size_t item_len;
	} put[DYNAMODB_BATCH_MAX_ITEMS];
	char *table;
};

#define DYNAMODB_BATCH_FULL (-2)

/* Starts an empty batch for table (copied). max_items 0 means 25. Returns
 * 0 or -1 when out of memory. Release with dynamodb_batch_clear(). */
int dynamodb_batch_init(struct dynamodb_batch *b, const char *table, size_t max_items);

/* Frees the batch's contents; b may be zeroed. */
void dynamodb_batch_clear(struct dynamodb_batch *b);

/* Adds a put of item (JSON text, copied) whose partition key value is key.
 * DynamoDB refuses two writes of one key in a request, so when key is
 * already in the batch the earlier item is replaced: the later write wins,
 * as it would have if sent after. Returns the slot the key occupies (0..24:
 * a new one, or the one replaced), DYNAMODB_BATCH_FULL when a new key does
 * not fit (item count or 16 MB), or -1 when out of memory. */
int dynamodb_batch_put(struct dynamodb_batch *b, const char *key, const char *item,
                       size_t item_len);

/* The slot holding key, or -1. */
int dynamodb_batch_find(const struct dynamodb_batch *b, const char *key);

/* The BatchWriteItem body for the batch:
 * {"RequestItems":{"<table>":[{"PutRequest":{"Item":<item>}},...]}}.
 * Returns it (caller frees; *len its length), NULL when out of memory. */
char *dynamodb_batch_body(const struct dynamodb_batch *b, size_t *len);

/* Reads a BatchWriteItem response and sets unprocessed[i] for each slot i
 * of b whose put came back in UnprocessedItems (matched on key_attr, the
 * partition key's name, a string attribute). Returns the number of
 * unprocessed puts, or -1 with errstr set when the body is not a
 * BatchWriteItem response. */
int dynamodb_batch_unprocessed(const struct dynamodb_batch *b, const char *body, size_t len,
                               const char *key_attr, bool unprocessed[DYNAMODB_BATCH_MAX_ITEMS],
                               char *errstr, size_t errstr_size);

/* True when a request refused with this error code (AWSREQ_CLIENT) may be
 * refused for one of its items (an item over 400 KB, an attribute DynamoDB
 * will not take: ValidationException, ItemCollectionSizeLimitExceededException):
 * split a batch so that only that item fails. Any other refusal is about
 * the request as such and says nothing about its items. */
bool dynamodb_item_error(const char *error_type);

#endif
