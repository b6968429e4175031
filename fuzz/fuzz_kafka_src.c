/* Any bytes as a Kafka message payload: kafka_src_write() turns it into a
 * record line the way kcat-in does for every message it consumes, and
 * kafka_src_parse() reads "_src" back from that line as it would from an
 * outcome line. (Not in issue 7's list: the other half of kcat-in's
 * outside input, and a round trip that checks both.)
 *
 * Invariants: one line, at most max_line bytes before the newline, a JSON
 * object that record_parse() accepts, "_src" comes back as written however
 * many "_src" (or other "_" members) the payload carries, and the line has
 * exactly one top-level "_src" and no other "_" member than kcat-in's own
 * ("_raw", "_raw_base64", "_raw_truncated", "_error" from kcat-in). */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "kafka_src.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_src src = {"stream_producer", 0, 0}, back;
	enum kafka_src_shape shape;
	char *buf = NULL, reason[256];
	size_t len = 0, max_line;
	FILE *out;

	/* Two bytes of settings: the line limit (kcat-in's --max-line is at
	 * least 256) and the partition and offset of the message. */
	if (size < 2)
		return 0;
	max_line = 256 + (size_t)data[0] * 8;
	src.partition = data[1] & 0x0F;
	src.offset = data[1] & 0x80 ? 9007199254740992LL : (int64_t)data[1] << 20;
	data += 2;
	size -= 2;

	out = open_memstream(&buf, &len);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(kafka_src_write(out, size ? (const char *)data : NULL, size, &src, max_line,
	                           &shape) == 0);
	FUZZ_CHECK(fclose(out) == 0);
	FUZZ_CHECK(shape >= KAFKA_SRC_KEPT && shape <= KAFKA_SRC_RESERVED);
	FUZZ_CHECK(len > 0 && buf[len - 1] == '\n' && memchr(buf, '\n', len - 1) == NULL);
	FUZZ_CHECK(len - 1 <= max_line);

	struct record_line line = {.data = buf, .len = len - 1, .lineno = 1};
	if (len >= 2 && buf[len - 2] == '\r') {
		line.len--;
		line.had_cr = true;
	}
	reason[0] = '\0';
	if (kafka_src_parse(&line, &back, reason, sizeof(reason)) < 0) {
		fprintf(stderr, "kafka_src_parse: %s\n", reason);
		FUZZ_CHECK(!"the record kafka_src_write made is readable");
	}
	FUZZ_CHECK(strcmp(back.topic, src.topic) == 0 && back.partition == src.partition &&
	           back.offset == src.offset);

	/* the line's top-level "_" members are kcat-in's alone */
	cJSON *v = cJSON_ParseWithLength(line.data, line.len);
	int srcs = 0;
	FUZZ_CHECK(cJSON_IsObject(v));
	for (const cJSON *m = v->child; m; m = m->next) {
		if (m->string[0] != '_')
			continue;
		srcs += strcmp(m->string, "_src") == 0;
		FUZZ_CHECK(strcmp(m->string, "_src") == 0 || strcmp(m->string, "_raw") == 0 ||
		           strcmp(m->string, "_raw_base64") == 0 ||
		           strcmp(m->string, "_raw_truncated") == 0 ||
		           (strcmp(m->string, "_error") == 0 &&
		            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "stage")) &&
		            strcmp(cJSON_GetObjectItemCaseSensitive(m, "stage")->valuestring, "kcat-in") == 0));
	}
	FUZZ_CHECK(srcs == 1);
	cJSON_Delete(v);
	free(buf);
	return 0;
}
