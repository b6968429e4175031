/* Any bytes as a record stream: the reader (lib/record.c) splits them into
 * lines through a pipe written in chunks, record_parse() judges each line,
 * and record_write_marked() marks it as a failing stage would.
 *
 * Invariants beyond "no crash, no leak, no UB": the lines handed out are
 * exactly the input (too-long lines cut at the limit, their last bytes in
 * line->tail), numbered 1, 2, …; a fault comes with a reason; a marked
 * record is one line that record_parse() itself accepts (I-JSON: marking
 * never makes a repeated "_error", a bad number or a \u0000), whose "_error"
 * is the stage's, within RECORD_ERROR_MAX, and which keeps the "_src" of
 * the record (or the one salvaged from a line that is not a record). */
#include "fuzz.h"

#include <cjson/cJSON.h>

struct state {
	const uint8_t *data;
	size_t size, pos; /* where the next line must start in data */
	size_t max_line;
	unsigned long lineno;
	bool want_object;
	int retryable;
};

/* src: the "_src" the marked record must carry (NULL: none). */
static void check_marked(const char *buf, size_t len, bool record, const cJSON *src)
{
	FUZZ_CHECK(len > 0 && buf[len - 1] == '\n');
	FUZZ_CHECK(memchr(buf, '\n', len - 1) == NULL);
	struct record_line l = {.data = buf, .len = len - 1, .lineno = 1};
	enum record_fault fault;
	char why[256];
	/* values may hold \u0000; records never do, and neither do their marks */
	cJSON *doc = record_parse(&l, record, &fault, why, sizeof(why));
	if (!doc)
		fprintf(stderr, "marked record refused: %s\n%.*s\n", why, (int)len, buf);
	FUZZ_CHECK(cJSON_IsObject(doc));
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "_error");
	FUZZ_CHECK(cJSON_IsObject(e));
	FUZZ_CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "stage")), "fuzz") == 0);
	size_t elen;
	FUZZ_CHECK(record_member(buf, len - 1, "_error", &elen, NULL) != NULL);
	FUZZ_CHECK(elen + sizeof("\"_error\":,") <= RECORD_ERROR_MAX);
	const cJSON *got = cJSON_GetObjectItemCaseSensitive(doc, "_src");
	FUZZ_CHECK((got != NULL) == (src != NULL));
	if (src)
		FUZZ_CHECK(cJSON_Compare(got, src, true));
	cJSON_Delete(doc);
}

static void on_line(const struct record_line *line, void *arg)
{
	struct state *st = arg;
	const uint8_t *at = st->data + st->pos;
	size_t left = st->size - st->pos;

	/* The reader's side: the line is the next bytes of the input. */
	FUZZ_CHECK(line->lineno == ++st->lineno);
	FUZZ_CHECK(line->len <= st->max_line && line->len <= left);
	FUZZ_CHECK(memcmp(line->data, at, line->len) == 0);
	FUZZ_CHECK(memchr(line->data, '\n', line->len) == NULL);
	if (line->too_long) {
		const uint8_t *nl = memchr(at, '\n', left);
		size_t whole = nl ? (size_t)(nl - at) : left;
		st->pos = nl ? (size_t)(nl - st->data) + 1 : st->size;
		/* the tail: the line's last bytes ("\r" dropped) */
		whole -= line->had_cr;
		size_t keep = whole < RECORD_TAIL_KEEP ? whole : RECORD_TAIL_KEEP;
		FUZZ_CHECK(line->tail_len == keep);
		FUZZ_CHECK(memcmp(line->tail, at + whole - keep, keep) == 0);
	} else {
		FUZZ_CHECK(line->tail_len == 0);
		size_t used = line->len + line->had_cr + !line->no_newline;
		FUZZ_CHECK(used <= left);
		if (line->had_cr)
			FUZZ_CHECK(at[line->len] == '\r');
		if (!line->no_newline)
			FUZZ_CHECK(at[line->len + line->had_cr] == '\n');
		else
			FUZZ_CHECK(used == left);
		st->pos += used;
	}

	/* The stage's side, as validate does it. */
	if (record_line_blank(line))
		return;
	enum record_fault fault;
	char reason[256];
	reason[0] = '\0';
	cJSON *v = record_parse(line, st->want_object, &fault, reason, sizeof(reason));
	FUZZ_CHECK((v != NULL) == (fault == RECORD_OK));
	FUZZ_CHECK(record_fault_code(fault) != NULL);
	if (!v)
		FUZZ_CHECK(reason[0] != '\0');
	if (v && st->want_object)
		FUZZ_CHECK(cJSON_IsObject(v));
	if (line->too_long)
		FUZZ_CHECK(fault == RECORD_TOO_LONG);

	struct record_error err = {
	    .stage = "fuzz",
	    .code = record_fault_code(fault),
	    .reason = v ? "a \"quoted\"\n reason \xC3\xA9" : reason,
	    .keyword = v ? "enum" : NULL,
	    .pointer = v ? "/a~1b/0" : NULL,
	    .retryable = st->retryable,
	    .lineno = line->lineno,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(record_write_marked(out, line, cJSON_IsObject(v) ? v : NULL, &err) == 0);
	FUZZ_CHECK(fclose(out) == 0);
	/* the "_src" to keep: the object's, or the one found in a line that is
	 * not a record */
	cJSON *salvaged = NULL;
	const cJSON *src = NULL;
	if (cJSON_IsObject(v)) {
		src = cJSON_GetObjectItemCaseSensitive(v, "_src");
	} else {
		size_t slen;
		const char *s = record_salvage_src(line, &slen);
		if (s) {
			salvaged = cJSON_ParseWithLength(s, slen);
			FUZZ_CHECK(cJSON_IsObject(salvaged));
			src = salvaged;
		}
	}
	check_marked(buf, len, st->want_object || !cJSON_IsObject(v), src);
	cJSON_Delete(salvaged);
	free(buf);
	cJSON_Delete(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = {0};
	size_t chunk;

	/* Two bytes of settings: the line limit and the pipe's write size. */
	if (size < 2)
		return 0;
	st.max_line = data[0] == 0xFF ? RECORD_MAX_LINE_DEFAULT : 1 + (size_t)data[0] * 4;
	st.want_object = !(data[1] & 0x80);
	st.retryable = (int)(data[1] >> 5 & 3) - 1; /* -1, 0, 1 (2 also "true") */
	chunk = data[1] & 0x1F ? (size_t)(data[1] & 0x1F) * 37 : 65536;
	st.data = data + 2;
	st.size = size - 2;
	fuzz_lines(st.data, st.size, st.max_line, chunk, on_line, &st);
	FUZZ_CHECK(st.pos == st.size);
	return 0;
}
