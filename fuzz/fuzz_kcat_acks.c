/* Any bytes as kcat-in's ack input (--acks): outcome lines, read the way
 * kin_read_acks() in kcat-in/consumer.c reads them: a record reader on a
 * non-blocking descriptor, then kcat_ack_line() (lib/kcat_acks.c) for each
 * line, the very function kin_read_acks() calls. The offset table has
 * partitions 0-3 of "stream_producer" assigned and offsets 0-63 of each
 * written (every third one skipped, as compaction would).
 *
 * Invariants: a parsed _src has a topic of 1-249 bytes, a partition and an
 * offset >= 0; a line with two top-level "_src" members (as cJSON reads
 * names, escapes decoded) never settles anything; and the table agrees
 * with a model kept here: which acks are
 * accepted (a written offset of an assigned partition, once), each
 * partition's store position (one past the end of the run of acknowledged
 * offsets from the first written) and the outstanding count (records not
 * yet passed by the store position: an ack behind a gap does not lower it
 * until the gap closes). */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "kcat_acks.h"

#define TOPIC "stream_producer"
#define PARTS 4
#define OFFSETS 64

struct state {
	struct offtrack *t;
	bool acked[PARTS][OFFSETS];
};

static bool written(int64_t o)
{
	return o >= 0 && o < OFFSETS && o % 3 != 2;
}

/* The model's store position and outstanding count of partition p. */
static int64_t model_store(const struct state *st, int p, size_t *outstanding)
{
	int64_t store = -1, o = 0;

	for (; o < OFFSETS; o++) {
		if (!written(o))
			continue;
		if (!st->acked[p][o])
			break;
		store = o + 1;
	}
	for (; o < OFFSETS; o++)
		*outstanding += written(o);
	return store;
}

static void check_table(const struct state *st)
{
	struct offtrack_part p;
	size_t outstanding = 0;

	FUZZ_CHECK(offtrack_count(st->t) == PARTS);
	for (size_t i = 0; i < PARTS; i++) {
		offtrack_get(st->t, i, &p);
		FUZZ_CHECK(strcmp(p.topic, TOPIC) == 0 && p.partition >= 0 && p.partition < PARTS);
		size_t n = 0;
		FUZZ_CHECK(p.store == model_store(st, p.partition, &n));
		FUZZ_CHECK(p.outstanding == n);
		outstanding += n;
	}
	FUZZ_CHECK(offtrack_outstanding(st->t) == outstanding);
}

/* How many top-level "_src" the line has as cJSON reads it, repeats and
 * escaped names included (0 when it is not an object cJSON reads). */
static int src_count(const struct record_line *line)
{
	cJSON *v = cJSON_ParseWithLength(line->data, line->len);
	int n = 0;

	if (cJSON_IsObject(v))
		for (const cJSON *m = v->child; m; m = m->next)
			n += m->string && strcmp(m->string, "_src") == 0;
	cJSON_Delete(v);
	return n;
}

static void on_line(const struct record_line *line, void *arg)
{
	struct state *st = arg;
	struct kafka_src src;
	char reason[256];

	reason[0] = '\0';
	memset(&src, 0x55, sizeof(src));
	enum kcat_ack r = kcat_ack_line(st->t, line, &src, reason, sizeof(reason));
	if (record_line_blank(line)) {
		FUZZ_CHECK(r == KCAT_ACK_BLANK);
		return;
	}
	if (r == KCAT_ACK_BAD) {
		FUZZ_CHECK(reason[0] != '\0');
		FUZZ_CHECK_STR(reason);
		check_table(st);
		return;
	}
	FUZZ_CHECK(r == KCAT_ACK_DONE || r == KCAT_ACK_STALE);
	FUZZ_CHECK(line->too_long || src_count(line) == 1);
	FUZZ_CHECK_STR(src.topic);
	FUZZ_CHECK(src.topic[0] != '\0' && src.partition >= 0 && src.offset >= 0);

	bool want;
	if (strcmp(src.topic, TOPIC) != 0 || src.partition >= PARTS)
		want = false;
	else
		want = written(src.offset) && !st->acked[src.partition][src.offset];
	FUZZ_CHECK((r == KCAT_ACK_DONE) == want);
	if (want)
		st->acked[src.partition][src.offset] = true;
	check_table(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = {0};
	size_t n = 0;

	if (size < 1)
		return 0;
	st.t = offtrack_new();
	FUZZ_CHECK(st.t != NULL);
	for (int32_t p = 0; p < PARTS; p++) {
		FUZZ_CHECK(offtrack_assign(st.t, TOPIC, p) == 0);
		for (int64_t o = 0; o < OFFSETS; o++)
			if (written(o)) {
				FUZZ_CHECK(offtrack_written(st.t, TOPIC, p, o, 0) == OFFTRACK_OK);
				n++;
			}
	}
	FUZZ_CHECK(offtrack_outstanding(st.t) == n);
	check_table(&st);
	/* kcat-in reads with a limit of 2 * --max-line + 64 KiB; the first
	 * byte picks the pipe's write size. */
	fuzz_lines(data + 1, size - 1, 4096, data[0] ? data[0] : 65536, on_line, &st);
	offtrack_free(st.t);
	return 0;
}
