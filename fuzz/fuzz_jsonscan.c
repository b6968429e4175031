/* Any bytes as one line: json_scan() (lib/jsonscan.c, kcat-in's fast path)
 * against record_parse() (cJSON plus the RFC 8259 checks, what every other
 * stage uses). The fast path may decline what record_parse accepts, but
 * whatever it vouches for must be read the same way by record_parse: the
 * same kind of value, the same bounds, the same top-level "_src", the same
 * first top-level "_" name, and no repeated name at any depth (I-JSON: the
 * stricter record_parse refuses those, so json_scan must never vouch). */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "jsonscan.h"

/* True when some object in v has two members of one name. */
static bool has_repeat(const cJSON *v)
{
	for (const cJSON *m = v->child; m; m = m->next) {
		if (cJSON_IsObject(v))
			for (const cJSON *o = m->next; o; o = o->next)
				if (strcmp(m->string, o->string) == 0)
					return true;
		if (has_repeat(m))
			return true;
	}
	return false;
}

/* True when the JSON text s[0..n) has a "\\u0000" escape: "u0000" after
 * an odd run of backslashes (an even one is escaped backslashes). */
static bool nul_escape(const char *s, size_t n)
{
	for (size_t i = 0; i + 5 <= n; i++) {
		size_t b = 0;
		if (memcmp(s + i, "u0000", 5) != 0)
			continue;
		while (b < i && s[i - 1 - b] == '\\')
			b++;
		if (b % 2)
			return true;
	}
	return false;
}

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
	FUZZ_CHECK(!has_repeat(v));
	FUZZ_CHECK(!nul_escape(line.data, size));
	if (scan.object) {
		FUZZ_CHECK(scan.members == (v->child != NULL));
		FUZZ_CHECK(scan.multiline == (memchr(line.data + scan.begin, '\n', scan.end - scan.begin) ||
		                              memchr(line.data + scan.begin, '\r', scan.end - scan.begin)));
		const cJSON *first = NULL;
		for (const cJSON *m = v->child; m && !first; m = m->next)
			if (m->string[0] == '_')
				first = m;
		FUZZ_CHECK(scan.reserved == (first != NULL));
		if (first)
			FUZZ_CHECK(scan.reserved_end - scan.reserved_begin == strlen(first->string) &&
			           memcmp(line.data + scan.reserved_begin, first->string,
			                  strlen(first->string)) == 0);
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
