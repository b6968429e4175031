/* kcat-in's ack reader, one outcome line at a time: the line's "_src" read
 * back and settled in the offset table. kcat-in (kin_read_acks) and the
 * fuzz target fuzz/fuzz_kcat_acks.c both call it, so what is fuzzed is what
 * runs.
 *
 * An outcome line comes from the end of the pipeline, but its "_src" is the
 * one kcat-in wrote (a payload's own "_" members never reach the pipeline
 * as members: kafka_src_write wraps them), so a line with two of them was
 * forged or mangled on the way and settles nothing. */
#ifndef EP_KCAT_ACKS_H
#define EP_KCAT_ACKS_H

#include <stddef.h>

#include "kafka_src.h"
#include "offtrack.h"
#include "record.h"

enum kcat_ack {
	KCAT_ACK_DONE,  /* the outcome of an outstanding record: settled */
	KCAT_ACK_BLANK, /* a blank line: skipped, as every stage skips them */
	KCAT_ACK_BAD,   /* not JSON, no "_src", more than one, or not a usable one:
	                   the reason is in errstr */
	KCAT_ACK_STALE, /* a "_src" that is not outstanding here: its partition is
	                   not ours (revoked since), or it was settled before (a
	                   repeat); *src says which */
};

/* Reads one outcome line and acknowledges its record in t. *src is filled
 * for KCAT_ACK_DONE and KCAT_ACK_STALE. errstr gets the reason for
 * KCAT_ACK_BAD. Builds cJSON trees only for unusual lines, and frees them
 * before returning. */
enum kcat_ack kcat_ack_line(struct offtrack *t, const struct record_line *line,
                            struct kafka_src *src, char *errstr, size_t errstr_size);

#endif
