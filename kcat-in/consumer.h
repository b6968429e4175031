/* kcat-in's state and the work of one turn of its loop: messages from the
 * consumer to records on stdout, outcome lines from the ack input to stored
 * offsets, the group's rebalances, commits and statistics. main.c owns the
 * loop and decides when to stop; this file never exits. */
#ifndef KCAT_IN_CONSUMER_H
#define KCAT_IN_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "offtrack.h"
#include "outbuf.h"
#include "record.h"

struct kin_counts {
	unsigned long long messages;  /* messages the consumer handed us */
	unsigned long long records;   /* records written (one per message while fetching) */
	unsigned long long discarded; /* messages that arrived after fetching stopped */
	unsigned long long compacted, wrapped, truncated;
	unsigned long long reserved;  /* payloads with a top-level "_" member, failed here */
	unsigned long long acks;      /* outcome lines that settled a record */
	unsigned long long acks_bad;  /* outcome lines without a readable _src */
	unsigned long long acks_stale; /* for a partition no longer ours, or not outstanding */
	unsigned long long rebalances;
	unsigned long long commit_failures;
	unsigned long long stuck;     /* times a partition was paused by --stuck-after */
};

/* What the last store or commit said about one partition, kept after it is
 * revoked so the final statistics still show it. */
struct kin_seen {
	char *topic;
	int32_t partition;
	int64_t stored, committed; /* -1: none yet */
};

struct kin {
	rd_kafka_t *rk;
	struct offtrack *track;
	struct outbuf *out;
	size_t max_line;

	bool with_acks;               /* offsets follow outcome lines, not writes */
	struct record_reader *acks;   /* NULL without --acks */
	bool acks_eof;

	bool fetching;   /* false once stopping: later messages are dropped unwritten */
	bool paused;     /* partitions paused because stdout is backed up */
	long long stuck_ms; /* --stuck-after in ms (0: never), with acks only */
	long long now_ms;   /* when this batch of messages is written */
	bool exit_eof;   /* -e */
	int fatal;       /* a sysexits status when librdkafka reported a fatal error */

	struct kin_counts n;
	struct kin_seen *seen;
	size_t nseen;
};

/* rd_kafka_conf callbacks; the opaque is the struct kin. */
void kin_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
void kin_on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t *offsets, void *opaque);
void kin_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);
void kin_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Serves the consumer queue without waiting: up to max messages become
 * records, events (end of partition, errors, rebalances) are handled.
 * Returns 1 when the queue may hold more, 0 when it is empty, -1 when a
 * record could not be queued (out of memory). */
int kin_consume(struct kin *k, int max);

/* Reads every outcome line available on the ack input without blocking
 * and settles its record. Returns 0, or -1 on a read error (errno set).
 * Sets k->acks_eof at the end of the input. */
int kin_read_acks(struct kin *k);

/* Hands the store positions that moved to librdkafka, which commits them
 * (enable.auto.commit). Without acks, records count as done once their
 * bytes have reached stdout's kernel buffer. */
void kin_store(struct kin *k);

/* Commits the stored positions now and waits for the answer. Returns the
 * number of partitions whose commit failed. */
int kin_commit_sync(struct kin *k);

/* Pauses or resumes fetching for every assigned partition (a resume leaves
 * the stuck ones paused). */
void kin_pause(struct kin *k, bool pause);

/* --stuck-after: pauses fetching from a partition whose oldest outstanding
 * record was written stuck_ms ago or more without its outcome coming back,
 * saying so once, and resumes it once that record is settled; so the
 * offsets tracked per partition stay bounded while one record waits. */
void kin_check_stuck(struct kin *k, long long now_ms);

/* Partitions paused by kin_check_stuck right now. */
size_t kin_stuck_now(const struct kin *k);

/* One JSON line of statistics on stderr. */
void kin_stats(const struct kin *k, const char *kind);

void kin_free_seen(struct kin *k);

#endif
