/* One outcome line to one acknowledgement. See kcat_acks.h. */
#include "kcat_acks.h"

enum kcat_ack kcat_ack_line(struct offtrack *t, const struct record_line *line,
                            struct kafka_src *src, char *errstr, size_t errstr_size)
{
	if (record_line_blank(line))
		return KCAT_ACK_BLANK;
	if (kafka_src_parse(line, src, errstr, errstr_size) < 0)
		return KCAT_ACK_BAD;
	switch (offtrack_ack(t, src->topic, src->partition, src->offset)) {
	case OFFTRACK_OK:
		return KCAT_ACK_DONE;
	default:
		/* OFFTRACK_UNASSIGNED or OFFTRACK_UNKNOWN (offtrack_ack allocates
		 * nothing): revoked since, or a repeat; the new owner, or the
		 * earlier ack, has it covered */
		return KCAT_ACK_STALE;
	}
}
