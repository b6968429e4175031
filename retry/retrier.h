/* retry's engine: messages of retry.fifo in; for each, one more attempt at
 * what the pipeline failed to do (store the event in DynamoDB, send it to
 * its client's queue), with the same library code persist and route use;
 * then the message is deleted, or made invisible for a backoff before the
 * next attempt, or, after the last attempt, sent to the DLQ with its
 * history and deleted. main.c owns the loop, the descriptors and the
 * signals; this file owns the messages. */
#ifndef RETRY_RETRIER_H
#define RETRY_RETRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "awsreq.h"
#include "event.h"
#include "jsonschema.h"

struct retrier_options {
	const char *queue;         /* "retry.fifo" */
	const char *dlq;           /* "dlq.fifo" */
	const char *table;         /* "pismo" */
	enum event_group_by group_by;
	int max_attempts;          /* in all, the pipeline's own attempt counted as 1 */
	unsigned base_delay_ms;    /* the backoff after the first failed attempt */
	unsigned max_delay_ms;     /* the backoff's cap */
	int visibility_s;          /* a received message stays invisible this long */
	int wait_s;                /* ReceiveMessage long poll, 0-20 s */
	unsigned inflight;         /* messages worked on at once */
	int store_attempts;        /* BatchWriteItem sends of an unprocessed item */
	bool once;                 /* finish at the first empty receive with nothing in hand */
	bool exit_when_empty;      /* finish once the queue holds no message at all */
	bool quiet;
	uint64_t seed;             /* jitter seed, 0: from the clock */
	const jsonschema *schema;  /* validate's schema: every event read is checked
	                              against it before it is stored (borrowed) */
};

struct retrier_stats {
	unsigned long received;    /* messages received (every receive of each) */
	unsigned long deferred;    /* first receives: made invisible until the first retry is due */
	unsigned long attempts;    /* attempts made here */
	unsigned long succeeded;   /* stored, sent to the client's queue, deleted */
	unsigned long failed;      /* attempts that failed (retryable) */
	unsigned long backoffs;    /* ChangeMessageVisibility calls after a failed attempt */
	unsigned long to_dlq;      /* sent to the DLQ (and deleted) */
	unsigned long bad;         /* messages that were not a retry envelope, or whose
	                              event the schema refuses (to the DLQ) */
	unsigned long receives;    /* ReceiveMessage calls */
	unsigned long empty;       /* ... that came back empty */
};

struct retrier;

/* An engine using sqs for sends, deletes and visibility, ddb for the
 * table and poll for the long polls (its request timeout must exceed the
 * wait); all borrowed. Returns NULL when out of memory. */
struct retrier *retrier_new(struct awsreq_client *sqs, struct awsreq_client *ddb,
                            struct awsreq_client *poll, const struct retrier_options *opt);
void retrier_free(struct retrier *rt);

/* Looks up the queues' URLs (again, with backoff, while SQS cannot be
 * reached). Returns 0, or -1 when out of memory. */
int retrier_start(struct retrier *rt);
bool retrier_ready(const struct retrier *rt);

/* Starts a long poll when there is room for more messages and none is
 * outstanding. Returns true when a receive is outstanding (the daemon is
 * polling). */
bool retrier_poll(struct retrier *rt);

/* Shutdown: no more receives. A receive in flight is not forgotten: the
 * messages SQS hands it are worked on like those in hand (SQS has already
 * made them invisible and counted the receive as an attempt), so wait for
 * it (retrier_receiving) as for them (retrier_busy). */
void retrier_stop_polling(struct retrier *rt);

/* True while a ReceiveMessage is outstanding. */
bool retrier_receiving(const struct retrier *rt);

/* Messages received and not finished with. */
unsigned retrier_busy(const struct retrier *rt);

/* True once --once / --exit-when-empty found nothing more to do. */
bool retrier_finished(const struct retrier *rt);

/* Non-NULL when something happened that waiting cannot cure (credentials
 * refused, a queue missing): the reason. */
const char *retrier_fatal(const struct retrier *rt);

/* The exit status for that stop: EX_CONFIG when the table, retry.fifo or
 * the DLQ does not exist, EX_UNAVAILABLE otherwise. */
int retrier_fatal_status(const struct retrier *rt);

/* Drops what is remembered of messages not seen for a long time (another
 * consumer may have taken them). Call now and then. */
void retrier_prune(struct retrier *rt);

const struct retrier_stats *retrier_stats(const struct retrier *rt);

/* The backoff before attempt k+1 after attempt k (1-based) failed:
 * ceiling = min(base x 2^(k-1), max), delay drawn from [ceiling/2,
 * ceiling] ("equal jitter"), in ms. Exposed for tests. */
unsigned retrier_delay_ms(unsigned base_ms, unsigned max_ms, int k, double random01);

#endif
