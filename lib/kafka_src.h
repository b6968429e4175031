/* The "_src" member (DESIGN.md, "Records on the pipes"): where a record
 * came from in Kafka. kcat-in writes each message as a record carrying it,
 * and reads it back from the outcome lines at the end of the pipeline to
 * learn which offsets are done:
 *
 *     {…the payload's members…,"_src":{"topic":"stream_producer","partition":3,"offset":1041}}
 */
#ifndef EP_KAFKA_SRC_H
#define EP_KAFKA_SRC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "record.h"

/* Kafka allows topic names of at most 249 characters. */
#define KAFKA_SRC_TOPIC_MAX 249

struct kafka_src {
	char topic[KAFKA_SRC_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
};

/* How a message became a record. */
enum kafka_src_shape {
	KAFKA_SRC_KEPT,      /* a one-line JSON object: its bytes kept, "_src" appended */
	KAFKA_SRC_COMPACTED, /* a JSON object re-printed on one line (it spanned lines) */
	KAFKA_SRC_WRAPPED,   /* not a JSON object, not JSON, or not UTF-8: the text
	                        under "_raw" (plus "_raw_base64" when not exact) */
	KAFKA_SRC_TRUNCATED, /* over the line limit: its first 1 KiB under "_raw",
	                        "_raw_truncated": true (and "_error" when reserved) */
	KAFKA_SRC_RESERVED,  /* a JSON object with a top-level member whose name starts
	                        with "_" (the pipeline's own, DESIGN.md): wrapped like
	                        a non-object, with "_error" {"stage":"kcat-in","code":
	                        "reserved_member",…} before "_src" */
};

/* Writes one message as one record line ("\n"-terminated) to out: the
 * payload with src appended as "_src", shaped as described above, and never
 * longer than max_line bytes without the newline. The line has exactly one
 * top-level "_src", this one: a payload's own "_" members only ever appear
 * inside the "_raw" string. payload may be NULL (a
 * tombstone) when len is 0. Returns 0 and sets *shape, or -1 on a write
 * error or when out of memory (errno set). */
int kafka_src_write(FILE *out, const char *payload, size_t len, const struct kafka_src *src,
                    size_t max_line, enum kafka_src_shape *shape);

/* Reads "_src" back from a record line (an outcome line that came through
 * the pipeline). Returns 0 with *src filled, or -1 with a reason in errstr
 * ("no _src member", "more than one _src member", "_src.offset is not an
 * offset", …). A line with two top-level "_src" is refused whatever they
 * say: kcat-in wrote one, so the other was forged or the line mangled. */
int kafka_src_parse(const struct record_line *line, struct kafka_src *src, char *errstr,
                    size_t errstr_size);

#endif
