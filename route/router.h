/* route's engine: records in, SendMessageBatch requests out (to the
 * client's queue, retry.fifo or dlq.fifo), and one outcome line per record
 * back out in input order once its destination accepted it. main.c owns
 * the loop, the descriptors and the signals; this file owns the records,
 * the destinations and their batches. */
#ifndef ROUTE_ROUTER_H
#define ROUTE_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "awsreq.h"
#include "event.h"
#include "record.h"

struct router_options {
	enum event_group_by group_by; /* MessageGroupId of the clients' queues */
	const char *retry_queue;      /* "retry.fifo" */
	const char *dlq_queue;        /* "dlq.fifo" */
	unsigned batch_size;          /* entries per request, 1..10 */
	unsigned linger_ms;           /* a batch goes after this long without new input */
	unsigned max_batches;         /* requests outstanding before input pauses */
	int max_attempts;             /* sends of an entry to a client's queue, at most */
	unsigned backoff_base_ms, backoff_cap_ms;
	size_t max_buffered;          /* bytes of records held before input pauses */
	bool quiet;                   /* no warning per failed request */
};

struct router_stats {
	unsigned long records_in, records_out;
	unsigned long to_client;  /* outcomes: accepted by a client's queue */
	unsigned long to_retry;   /* ... by retry.fifo */
	unsigned long to_dlq;     /* ... by dlq.fifo */
	unsigned long marked;     /* records route itself found wanting */
	unsigned long batches;    /* SendMessageBatch requests made */
	unsigned long entries;    /* messages in them */
	unsigned long failed_entries; /* entries SQS reported Failed (or did not report) */
	unsigned long resends;    /* requests made again for failed entries */
	unsigned long lookups;    /* GetQueueUrl requests */
};

struct router;

/* A router that submits through c and prints outcome lines to out (both
 * borrowed). Returns NULL when out of memory. Free with router_free(). */
struct router *router_new(struct awsreq_client *c, FILE *out, const struct router_options *opt);
void router_free(struct router *r);

/* Looks up the URLs of retry.fifo and the DLQ (again and again, with
 * backoff, while SQS cannot be reached). Input should wait until
 * router_ready(). Returns 0, or -1 when out of memory. */
int router_start(struct router *r);
bool router_ready(const struct router *r);

/* Non-NULL once something happened that route cannot work around (SQS
 * refused the credentials, retry.fifo or the DLQ does not exist): the
 * reason. Records without an outcome are then not acknowledged; the
 * caller exits. */
const char *router_fatal(const struct router *r);

/* The exit status for that stop: EX_CONFIG when retry.fifo or the DLQ does
 * not exist, EX_UNAVAILABLE otherwise (out of memory included: the caller
 * tells that one by its text). */
int router_fatal_status(const struct router *r);

/* Takes one input line (copied) and starts it on its way. Returns 0, or
 * -1 when out of memory. */
int router_add(struct router *r, const struct record_line *line);

/* Sends open batches that are full or have lingered; with force, every
 * open batch that may go (end of input, shutdown). */
void router_tick(struct router *r, bool force);

/* Milliseconds until router_tick() has something to do, -1 for never. */
int router_timeout_ms(const struct router *r);

/* Writes every finished record at the head of the queue to out. Returns
 * the number written, or -1 on a write error (errno set). */
long router_output(struct router *r);

/* True when more input may be taken without exceeding the limits. */
bool router_has_room(const struct router *r);

/* True when nothing is held: every record taken has been written out. */
bool router_idle(const struct router *r);

/* Records taken and not yet written out. */
unsigned long router_held(const struct router *r);

const struct router_stats *router_stats(const struct router *r);

#endif
