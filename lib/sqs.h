/* SQS over the AWS JSON 1.0 protocol (X-Amz-Target: AmazonSQS.<Op>):
 * request bodies and response parsing for GetQueueUrl, SendMessageBatch,
 * ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibility and
 * GetQueueAttributes, a cache of queue URLs, and the rules for ids and
 * message text. Signing, sending and retrying are awsreq's. */
#ifndef EP_SQS_H
#define EP_SQS_H

#include <stdbool.h>
#include <stddef.h>

#include "awsreq.h"

#define SQS_TARGET_PREFIX "AmazonSQS."

/* AWS's limits. A message and a whole SendMessageBatch may hold 1 MiB
 * (raised from 256 KiB in 2025), counted in bytes of the bodies. */
#define SQS_BATCH_MAX 10
#define SQS_MESSAGE_MAX_BYTES (1024 * 1024)
#define SQS_BATCH_MAX_BYTES (1024 * 1024)
#define SQS_ID_MAX 128     /* MessageDeduplicationId, MessageGroupId */
#define SQS_WAIT_MAX 20    /* ReceiveMessage WaitTimeSeconds */
#define SQS_VISIBILITY_MAX 43200
#define SQS_QUEUE_NAME_MAX 80

/* Submits operation op ("SendMessageBatch", ...) with a JSON body;
 * awsreq_submit() with the SQS target, same ownership rules. */
int sqs_submit(struct awsreq_client *c, const char *op, char *body, size_t body_len,
               unsigned delay_ms, awsreq_done_fn *done, void *arg, char *errstr,
               size_t errstr_size);

/* --- names, ids, text ------------------------------------------------------ */

/* A queue name SQS accepts: 1 to 80 of A-Z a-z 0-9 - _, ".fifo" (counted)
 * at the end of a FIFO queue's name. */
bool sqs_queue_name_valid(const char *name);

/* True when s[0..len) may be a MessageDeduplicationId or MessageGroupId
 * as it is: 1 to 128 characters, each alphanumeric or ASCII punctuation. */
bool sqs_id_valid(const char *s, size_t len);

/* s[0..len) itself when it is a valid id, else its SHA-256 as 64 lower-case
 * hex digits (a valid id that stands for s). out is always NUL-terminated. */
void sqs_id(const char *s, size_t len, char out[SQS_ID_MAX + 1]);

/* True for a character SQS takes in a message: #x9 #xA #xD, #x20 to
 * #xD7FF, #xE000 to #xFFFD, #x10000 to #x10FFFF. */
bool sqs_char_allowed(unsigned long cp);

/* JSON text (valid UTF-8) rewritten so that a message carries nothing SQS
 * or its stand-ins refuse: every character outside #x20-#xD7FF and
 * #xE000-#xFFFD (U+FFFE, U+FFFF, and those beyond the BMP, which fauxqs
 * refuses although AWS does not) becomes a \u escape (a surrogate pair
 * beyond the BMP). In valid JSON such characters can only be inside
 * strings, so the value is unchanged. Returns NULL when nothing needs
 * escaping (use the text as it is), else the new text (caller frees; *out_len
 * its length). *failed is set when out of memory. */
char *sqs_json_safe(const char *text, size_t len, size_t *out_len, bool *failed);

/* True when an error code means the queue does not exist (JSON protocol
 * "QueueDoesNotExist", query protocol "AWS.SimpleQueueService.NonExistentQueue"). */
bool sqs_error_no_queue(const char *error_type);

/* True when a SendMessageBatch refused with this error code (AWSREQ_CLIENT)
 * may be refused for one of its messages (its text, its size, an id):
 * InvalidMessageContents, InvalidParameterValue, MessageTooLong,
 * BatchRequestTooLong. Split the batch so that only that message fails;
 * any other refusal is about the request as such. */
bool sqs_entry_error(const char *error_type);

/* --- GetQueueUrl and the cache of URLs ---------------------------------------- */

/* {"QueueName":"<name>"}. Caller frees; NULL when out of memory. */
char *sqs_get_queue_url_body(const char *name, size_t *len);

/* The QueueUrl of a GetQueueUrl answer (caller frees), or NULL with errstr
 * set. */
char *sqs_parse_queue_url(const char *body, size_t len, char *errstr, size_t errstr_size);

/* What the cache knows about a queue name. */
enum sqs_queue_state {
	SQS_QUEUE_UNKNOWN,   /* never asked, or asking again after a failure */
	SQS_QUEUE_ASKING,    /* GetQueueUrl in flight */
	SQS_QUEUE_READY,     /* url is set */
	SQS_QUEUE_MISSING,   /* the queue does not exist (or the name is invalid) */
};

struct sqs_queue {
	char *name;
	char *url;                   /* verbatim from GetQueueUrl, once READY */
	enum sqs_queue_state state;
	enum awsreq_class cls;       /* how the last lookup ended */
	char error[512];             /* why the last lookup failed */
	void *user;                  /* the caller's, untouched by the cache */
	struct sqs_queues *owner;    /* the cache it is in */
	struct sqs_queue *next;
};

/* Queue names to URLs, asked once per name: queue URLs are identifiers and
 * are used verbatim (the stand-ins' URLs do not even resolve). */
struct sqs_queues {
	struct awsreq_client *client;
	struct sqs_queue *list;
	/* Called when a lookup ends (READY, MISSING, or UNKNOWN again after a
	 * failure that may pass: the caller decides when to ask again). */
	void (*changed)(void *arg, struct sqs_queue *q);
	void *arg;
};

/* The cache entry for name (created UNKNOWN; MISSING at once when the name
 * is not valid), or NULL when out of memory. Borrowed; valid until
 * sqs_queues_clear(). */
struct sqs_queue *sqs_queues_get(struct sqs_queues *qs, const char *name);

/* Starts a GetQueueUrl for an UNKNOWN entry (after delay_ms); the result
 * comes to qs->changed. Returns 0, or -1 with errstr set. */
int sqs_queues_lookup(struct sqs_queues *qs, struct sqs_queue *q, unsigned delay_ms, char *errstr,
                      size_t errstr_size);

/* Forgets what is known of q (its queue was deleted under us): UNKNOWN. */
void sqs_queue_forget(struct sqs_queue *q);

/* Frees every entry. A lookup still in flight must not end afterwards:
 * free the awsreq client first. */
void sqs_queues_clear(struct sqs_queues *qs);

/* --- SendMessageBatch ------------------------------------------------------- */

struct sqs_entry {
	char *body; /* the message text */
	size_t body_len;
	char dedup_id[SQS_ID_MAX + 1]; /* "" for none (content-based) */
	char group_id[SQS_ID_MAX + 1]; /* "" for none (standard queues) */
};

/* A SendMessageBatch under construction, for one queue. Entry i has Id
 * "<i>". */
struct sqs_batch {
	char *queue_url;
	size_t n;
	size_t bytes; /* bodies' bytes: the 1 MiB batch limit */
	struct sqs_entry e[SQS_BATCH_MAX];
};

#define SQS_BATCH_FULL (-2)  /* no room: 10 entries, or 1 MiB */
#define SQS_TOO_LARGE (-3)   /* a message over 1 MiB never fits */

/* Starts an empty batch (queue_url copied). Returns 0, -1 when out of
 * memory. Release with sqs_batch_clear(). */
int sqs_batch_init(struct sqs_batch *b, const char *queue_url);
void sqs_batch_clear(struct sqs_batch *b);

/* Adds a message (body copied; dedup_id and group_id may be NULL or "" and
 * must be valid ids otherwise). Returns its index, SQS_BATCH_FULL,
 * SQS_TOO_LARGE, or -1 when out of memory. */
int sqs_batch_add(struct sqs_batch *b, const char *body, size_t body_len, const char *dedup_id,
                  const char *group_id);

/* {"QueueUrl":…,"Entries":[{"Id":"0","MessageBody":…,"MessageDeduplicationId":…,
 * "MessageGroupId":…},…]}. Caller frees; NULL when out of memory. */
char *sqs_batch_body(const struct sqs_batch *b, size_t *len);

/* The fate of one entry. */
struct sqs_result {
	bool ok;
	bool sender_fault;  /* a failure the same request would meet again */
	char message_id[128];
	char code[64];      /* the failure's Code */
	char message[512];  /* its Message */
};

/* Reads a SendMessageBatch answer (HTTP 200) into res[0..b->n): each entry
 * is in Successful (ok, with its MessageId) or in Failed (Code, Message,
 * SenderFault); an entry in neither list is reported failed, retryable.
 * Returns the number of failed entries, or -1 with errstr set when the
 * body is not such an answer. */
int sqs_batch_results(const struct sqs_batch *b, const char *body, size_t len,
                      struct sqs_result res[SQS_BATCH_MAX], char *errstr, size_t errstr_size);

/* --- ReceiveMessage ----------------------------------------------------------- */

/* A long poll for up to max (1-10) messages, waiting up to wait_s (0-20)
 * seconds, invisible to others for visibility_s seconds (< 0: the queue's
 * own default), asking for ApproximateReceiveCount and SentTimestamp.
 * Caller frees; NULL when out of memory. */
char *sqs_receive_body(const char *queue_url, int max, int wait_s, int visibility_s,
                       size_t *len);

/* Numbers in answers come from the other side: each is read only as a
 * plain decimal number in its range, else taken as not given. */
#define SQS_RECEIVE_COUNT_MAX 1000000000L    /* larger counts read as this: "very many" */
#define SQS_TIMESTAMP_MAX 253402300799999LL  /* 9999-12-31T23:59:59.999Z in ms */

struct sqs_message {
	char *message_id;
	char *receipt_handle;
	char *body;
	size_t body_len;
	long receive_count; /* ApproximateReceiveCount, 1 to SQS_RECEIVE_COUNT_MAX;
	                       0 when not given or not a number */
	long long sent_ms;  /* SentTimestamp (ms since the epoch), up to
	                       SQS_TIMESTAMP_MAX; 0 when not given or not a number */
};

/* Reads a ReceiveMessage answer: *msgs gets an array of *n messages (none
 * when the poll came back empty; free with sqs_messages_free()). Returns
 * 0, or -1 with errstr set when the body is not such an answer. */
int sqs_receive_parse(const char *body, size_t len, struct sqs_message **msgs, size_t *n,
                      char *errstr, size_t errstr_size);
void sqs_messages_free(struct sqs_message *msgs, size_t n);

/* --- deleting, visibility, counts --------------------------------------------- */

/* {"QueueUrl":…,"ReceiptHandle":…}. Caller frees. */
char *sqs_delete_body(const char *queue_url, const char *receipt_handle, size_t *len);

/* DeleteMessageBatch of n (1-10) receipt handles, entry i with Id "<i>". */
char *sqs_delete_batch_body(const char *queue_url, const char *const *receipt_handles, size_t n,
                            size_t *len);

/* Reads a DeleteMessageBatch answer: failed[i] for each entry i of n that
 * was not deleted (in Failed, or in neither list). Returns the number
 * failed, or -1 with errstr set. */
int sqs_delete_batch_results(const char *body, size_t len, size_t n, bool failed[SQS_BATCH_MAX],
                             char *errstr, size_t errstr_size);

/* {"QueueUrl":…,"ReceiptHandle":…,"VisibilityTimeout":seconds}. */
char *sqs_change_visibility_body(const char *queue_url, const char *receipt_handle,
                                 unsigned seconds, size_t *len);

/* GetQueueAttributes for the three message counts. */
char *sqs_queue_counts_body(const char *queue_url, size_t *len);

/* Reads its answer: visible, in flight (received, not deleted) and
 * delayed messages (a count that is not a number >= 0 reads as -1:
 * unknown, not empty). Returns 0, or -1 with errstr set. */
int sqs_parse_queue_counts(const char *body, size_t len, long *visible, long *inflight,
                           long *delayed, char *errstr, size_t errstr_size);

#endif
