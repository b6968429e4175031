/* persist's engine: records in, BatchWriteItem requests out, records back
 * out in input order once their fate is known. main.c owns the loop, the
 * descriptors and the signals; this file owns the records and batches. */
#ifndef PERSIST_WRITER_H
#define PERSIST_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "awsreq.h"
#include "record.h"

struct writer_options {
	const char *table;      /* DynamoDB table */
	unsigned batch_size;    /* puts per request, 1..25 */
	unsigned linger_ms;     /* a batch goes after this long without new input */
	unsigned max_batches;   /* batches outstanding before input pauses */
	int max_attempts;       /* sends of an item left unprocessed, at most */
	unsigned backoff_base_ms, backoff_cap_ms;
	size_t max_buffered;    /* bytes of records held before input pauses */
	bool quiet;             /* no warning per failed request */
};

struct writer_stats {
	unsigned long records_in, records_out;
	unsigned long stored;       /* written to DynamoDB */
	unsigned long marked;       /* marked _error here */
	unsigned long passed;       /* already marked upstream, passed through */
	unsigned long batches;      /* BatchWriteItem requests submitted */
	unsigned long puts;         /* items in those requests */
	unsigned long unprocessed;  /* items DynamoDB handed back to retry */
	unsigned long resends;      /* batches sent again for them, after a backoff */
	unsigned long split;        /* batches split to isolate a refused item */
};

struct writer;

/* A writer that submits through c and prints records to out (both
 * borrowed). Returns NULL when out of memory. Free with writer_free(). */
struct writer *writer_new(struct awsreq_client *c, FILE *out, const struct writer_options *opt);
void writer_free(struct writer *w);

/* Takes one input line (copied): passes it through, marks it, or queues
 * it for writing. Returns 0, or -1 when out of memory. */
int writer_add(struct writer *w, const struct record_line *line);

/* Sends the open batch if it is full or has lingered; with force, sends it
 * whatever its size (end of input, shutdown). */
void writer_tick(struct writer *w, bool force);

/* Milliseconds until writer_tick() has something to do, -1 for never. */
int writer_timeout_ms(const struct writer *w);

/* Writes every finished record at the head of the queue to out. Returns
 * the number written, or -1 on a write error (errno set). */
long writer_output(struct writer *w);

/* True when more input may be taken without exceeding the limits. */
bool writer_has_room(const struct writer *w);

/* True when nothing is held: every record taken has been written out. */
bool writer_idle(const struct writer *w);

/* Gives up on every record not yet stored: marks them retryable with the
 * given reason. For a hurried shutdown, after the awsreq client is gone
 * (no callback may run afterwards). */
void writer_abandon(struct writer *w, const char *reason);

/* Why the writer cannot go on (a request-level error: DynamoDB refused the
 * credentials or the access, the endpoint's certificate does not verify,
 * the table does not exist, something else answered in DynamoDB's place),
 * or NULL. Once set, records not
 * yet finished never will be: the caller writes out what is finished and
 * exits non-zero; upstream delivers the rest again after the fix. */
const char *writer_fatal(const struct writer *w);

/* The exit status for that stop: EX_CONFIG when the table does not exist,
 * EX_UNAVAILABLE for the rest (refused, not DynamoDB answering); EX_OK
 * when there is none. */
int writer_fatal_status(const struct writer *w);

const struct writer_stats *writer_stats(const struct writer *w);

#endif
