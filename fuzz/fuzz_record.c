/* Any bytes as a record stream: the reader (lib/record.c) splits them into
 * lines through a pipe written in chunks, record_parse() judges each line,
 * and record_write_marked() marks it as a failing stage would.
 *
 * Invariants beyond "no crash, no leak, no UB": the lines handed out are
 * exactly the input (too-long lines cut at the limit, their rest skipped),
 * numbered 1, 2, …; a fault comes with a reason; and a marked record is one
 * line holding a JSON object with an "_error" object. */
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

static void check_marked(const char *buf, size_t len)
{
	FUZZ_CHECK(len > 0 && buf[len - 1] == '\n');
	FUZZ_CHECK(memchr(buf, '\n', len - 1) == NULL);
	cJSON *doc = cJSON_ParseWithLength(buf, len - 1);
	FUZZ_CHECK(cJSON_IsObject(doc));
	FUZZ_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "_error")));
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
		st->pos = nl ? (size_t)(nl - st->data) + 1 : st->size;
	} else {
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
	check_marked(buf, len);
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
