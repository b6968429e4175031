/* Per-partition offset tracking for a consumer that commits only what is
 * done (kcat-in --acks): which offsets of each assigned partition have been
 * written out and not yet acknowledged, and the position that is safe to
 * store and commit — one past the highest offset below which every written
 * record has been acknowledged.
 *
 * Offsets of a partition are written in increasing order (that is how Kafka
 * delivers them), possibly with gaps (compaction, transaction markers). An
 * acknowledgement may arrive for any outstanding offset in any order; the
 * store position only moves over a contiguous run of acknowledged ones, so a
 * committed offset never passes a record whose outcome has not come back.
 *
 * The table knows nothing of librdkafka: topics are strings, partitions
 * int32, offsets int64. Not thread-safe: one consumer loop owns it. */
#ifndef EP_OFFTRACK_H
#define EP_OFFTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct offtrack;

/* An empty table. Returns NULL when out of memory. Caller frees with
 * offtrack_free() (which accepts NULL). */
struct offtrack *offtrack_new(void);
void offtrack_free(struct offtrack *t);

/* Starts tracking a partition (it was assigned to us), with nothing
 * outstanding. Assigning a partition already tracked resets it. topic is
 * copied. Returns 0, or -1 when out of memory. */
int offtrack_assign(struct offtrack *t, const char *topic, int32_t partition);

/* Stops tracking a partition (it was revoked): its outstanding offsets are
 * forgotten, and acknowledgements for it are reported as unassigned from
 * now on. Returns the number of outstanding offsets dropped. */
size_t offtrack_revoke(struct offtrack *t, const char *topic, int32_t partition);

/* Forgets every partition (the whole assignment was lost). */
void offtrack_revoke_all(struct offtrack *t);

enum offtrack_result {
	OFFTRACK_OK = 0,
	OFFTRACK_UNASSIGNED, /* the partition is not tracked */
	OFFTRACK_UNKNOWN,    /* ack: not outstanding (acked before, or never written) */
	OFFTRACK_REWOUND,    /* written: offset not above the last one; the partition
	                        was reset to start again from it */
	OFFTRACK_NOMEM,
};

/* A record of the partition was written out; mark is an opaque, increasing
 * number the caller may use to settle records without acks (see
 * offtrack_settle_upto; 0 when unused), or, with acks, the time it was
 * written (offtrack_get reports the oldest outstanding record's mark, so
 * the caller can tell a partition whose outcomes have stopped coming).
 * The offset normally exceeds the last one written: otherwise the consumer
 * went back (an offset reset), so the outstanding offsets are dropped and
 * tracking restarts here (OFFTRACK_REWOUND, the offset is still recorded). */
enum offtrack_result offtrack_written(struct offtrack *t, const char *topic, int32_t partition,
                                      int64_t offset, uint64_t mark);

/* The outcome of one written record came back. OFFTRACK_OK when it was
 * outstanding; the store position may have moved. */
enum offtrack_result offtrack_ack(struct offtrack *t, const char *topic, int32_t partition,
                                  int64_t offset);

/* Acknowledges, in every partition, each outstanding record whose mark is
 * at most upto: used when records count as done once written (no acks). */
void offtrack_settle_upto(struct offtrack *t, uint64_t upto);

/* Records the partition reached (or left) the end of its log, for
 * "exit at end"; a write clears it. Ignored for an unassigned partition. */
void offtrack_set_eof(struct offtrack *t, const char *topic, int32_t partition, bool eof);

/* True when at least one partition is tracked and all are at their end. */
bool offtrack_all_eof(const struct offtrack *t);

/* Outstanding records across all partitions: written and not yet passed by
 * the store position, so an acknowledged record waiting behind a gap (an
 * earlier one still out) counts until the gap closes. */
size_t offtrack_outstanding(const struct offtrack *t);

/* Number of tracked partitions. */
size_t offtrack_count(const struct offtrack *t);

/* One tracked partition, for iterating with index 0 … offtrack_count()-1
 * (order unspecified, invalidated by assign/revoke). The strings are
 * borrowed from the table. */
struct offtrack_part {
	const char *topic;
	int32_t partition;
	int64_t store;      /* the position safe to commit, or -1 when none yet */
	bool dirty;         /* store moved since offtrack_clean() */
	size_t outstanding; /* written, not yet passed by store (see offtrack_outstanding) */
	bool eof;
	int64_t oldest;       /* the oldest outstanding offset, or -1 when none */
	uint64_t oldest_mark; /* … and the mark it was written with */
	int64_t paused_at;    /* see offtrack_set_paused_at; -1 when not set */
};
void offtrack_get(const struct offtrack *t, size_t index, struct offtrack_part *out);

/* Marks partition index's store position as handed to the consumer. */
void offtrack_clean(struct offtrack *t, size_t index);

/* Notes that the caller paused partition index while offset was its oldest
 * outstanding one (-1: not paused), to resume it once that offset is
 * settled. Cleared when the partition is assigned again; gone when it is
 * revoked. */
void offtrack_set_paused_at(struct offtrack *t, size_t index, int64_t offset);

#endif
