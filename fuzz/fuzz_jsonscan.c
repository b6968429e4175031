/* Any bytes as one line: json_scan() (lib/jsonscan.c, kcat-in's fast path)
 * against record_parse() (cJSON plus the RFC 8259 checks, what every other
 * stage uses). The fast path may decline what record_parse accepts, but
 * whatever it vouches for must be read the same way by record_parse: the
 * same kind of value, the same bounds, the same top-level "_src". */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "jsonscan.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record_line line = {.data = (const char *)data, .len = size, .lineno = 1};
	struct json_scan scan;
	enum record_fault fault;
	char reason[256];

	if (!json_scan(line.data, line.len, &scan))
		return 0;
	cJSON *v = record_parse(&line, false, &fault, reason, sizeof(reason));
	if (!v)
		fprintf(stderr, "record_parse refused what json_scan accepted: %s\n", reason);
	FUZZ_CHECK(v != NULL);

	/* the bounds: only blanks outside them, a value's first and last byte inside */
	FUZZ_CHECK(scan.begin < scan.end && scan.end <= size);
	for (size_t i = 0; i < scan.begin; i++)
		FUZZ_CHECK(blank(line.data[i]));
	for (size_t i = scan.end; i < size; i++)
		FUZZ_CHECK(blank(line.data[i]));
	FUZZ_CHECK(!blank(line.data[scan.begin]) && !blank(line.data[scan.end - 1]));

	FUZZ_CHECK(scan.object == cJSON_IsObject(v));
	if (scan.object) {
		FUZZ_CHECK(scan.members == (v->child != NULL));
		FUZZ_CHECK(scan.multiline == (memchr(line.data + scan.begin, '\n', scan.end - scan.begin) ||
		                              memchr(line.data + scan.begin, '\r', scan.end - scan.begin)));
		cJSON *src = cJSON_GetObjectItemCaseSensitive(v, "_src");
		FUZZ_CHECK(scan.src == (src != NULL));
		if (src) {
			/* the span holds exactly that member's value */
			cJSON *alone = cJSON_ParseWithLength(line.data + scan.src_begin,
			                                     scan.src_end - scan.src_begin);
			FUZZ_CHECK(alone != NULL);
			/* printed, not cJSON_Compare(): that one finds an object with
			 * a repeated name unequal to itself */
			char *a = cJSON_PrintUnformatted(alone), *b = cJSON_PrintUnformatted(src);
			FUZZ_CHECK(a && b && strcmp(a, b) == 0);
			cJSON_free(a);
			cJSON_free(b);
			cJSON_Delete(alone);
		}
	}
	cJSON_Delete(v);
	return 0;
}
