/* Messages to records and outcome lines back to offsets.
 *
 * The common case is a one-line JSON object, and for it the payload's own
 * bytes go out untouched with "_src" spliced in before the final brace: no
 * re-printing, so numbers, key order and escapes stay exactly as the
 * producer wrote them. Only the rare shapes (a multi-line object, a payload
 * that already has "_src") go through cJSON's printer, and anything that is
 * not a JSON object is wrapped so that validate can reject it with a reason
 * rather than the pipeline choking on it. */
#include "kafka_src.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "utf8.h"

#define RAW_KEEP 1024 /* bytes of an over-long payload kept under "_raw" */

/* Room for the member with the longest topic, fully escaped. */
#define SRC_TEXT_MAX (KAFKA_SRC_TOPIC_MAX * 6 + 96)

static size_t src_text(char *buf, size_t size, const struct kafka_src *src)
{
	char topic[KAFKA_SRC_TOPIC_MAX * 6 + 1];
	int n;

	log_json_escape(topic, sizeof(topic), src->topic);
	n = snprintf(buf, size, "\"_src\":{\"topic\":\"%s\",\"partition\":%ld,\"offset\":%lld}", topic,
	             (long)src->partition, (long long)src->offset);
	return n < 0 ? 0 : (size_t)n;
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* {"_raw":"<head>","_raw_truncated":true,"_src":{…}}: short, and within
 * max_line however the head escapes (at most 6 bytes per byte). */
static int write_truncated(FILE *out, const char *payload, size_t len, const char *srcm,
                           size_t max_line)
{
	size_t room = 0, fixed = strlen(srcm) + sizeof("{\"_raw\":\"\",\"_raw_truncated\":true,}");
	size_t keep = len < RAW_KEEP ? len : RAW_KEEP;

	if (max_line > fixed)
		room = (max_line - fixed) / 6;
	if (keep > room)
		keep = room;

	/* do not cut a UTF-8 sequence in half */
	while (keep > 0 && keep < len && ((unsigned char)payload[keep] & 0xC0) == 0x80)
		keep--;
	if (fputs("{\"_raw\":", out) == EOF || record_write_json_string(out, payload, keep) < 0 ||
	    fprintf(out, ",\"_raw_truncated\":true,%s}\n", srcm) < 0)
		return -1;
	return 0;
}

/* {"_raw":"<text>"[,"_raw_base64":"<bytes>"],"_src":{…}}, built in memory
 * first because escaping can make it longer than the limit, and then the
 * truncated form goes out instead. */
static int write_wrapped(FILE *out, const char *payload, size_t len, const char *srcm,
                         size_t max_line, enum kafka_src_shape *shape)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	bool exact = utf8_valid(payload, len) && !memchr(payload, '\0', len);
	int rc = -1;

	if (!mem)
		return -1;
	if (fputs("{\"_raw\":", mem) == EOF || record_write_json_string(mem, payload, len) < 0)
		goto out;
	if (!exact && (fputs(",\"_raw_base64\":", mem) == EOF ||
	               record_write_base64(mem, (const unsigned char *)payload, len) < 0))
		goto out;
	if (fprintf(mem, ",%s}", srcm) < 0 || fflush(mem) == EOF)
		goto out;
	if (size > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		rc = write_truncated(out, payload, len, srcm, max_line);
	} else {
		*shape = KAFKA_SRC_WRAPPED;
		rc = record_write_line(out, buf, size);
	}
out:
	fclose(mem);
	free(buf);
	return rc;
}

/* The object re-printed on one line with a fresh "_src". */
static int write_compacted(FILE *out, cJSON *obj, const struct kafka_src *src, const char *payload,
                           size_t len, const char *srcm, size_t max_line,
                           enum kafka_src_shape *shape)
{
	/* The "_src" text already made ("\"_src\":{...}"), as a raw value: cJSON
	 * prints numbers as doubles, and an offset from 2^53 up would come out
	 * rounded (the fuzzer found it). */
	const char *value = strchr(srcm, '{');
	cJSON *s = value ? cJSON_CreateRaw(value) : NULL;
	char *text;
	int rc;

	(void)src;
	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "_src");
	cJSON_AddItemToObject(obj, "_src", s);
	text = cJSON_PrintUnformatted(obj);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	size_t tlen = strlen(text);
	if (tlen > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		rc = write_truncated(out, payload, len, srcm, max_line);
	} else {
		*shape = KAFKA_SRC_COMPACTED;
		rc = record_write_line(out, text, tlen);
	}
	cJSON_free(text);
	return rc;
}

int kafka_src_write(FILE *out, const char *payload, size_t len, const struct kafka_src *src,
                    size_t max_line, enum kafka_src_shape *shape)
{
	char srcm[SRC_TEXT_MAX], reason[256];
	size_t srclen = src_text(srcm, sizeof(srcm), src);
	enum record_fault fault;
	int rc;

	if (!payload)
		payload = "", len = 0;
	if (len > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		return write_truncated(out, payload, len, srcm, max_line);
	}

	struct record_line line = {.data = payload, .len = len};
	cJSON *obj = record_parse(&line, true, &fault, reason, sizeof(reason));
	if (!obj)
		return write_wrapped(out, payload, len, srcm, max_line, shape);

	/* The object without the blanks around it. */
	size_t b = 0, e = len;
	while (b < e && json_space(payload[b]))
		b++;
	while (e > b && json_space(payload[e - 1]))
		e--;
	if (cJSON_GetObjectItemCaseSensitive(obj, "_src") || memchr(payload + b, '\n', e - b) ||
	    memchr(payload + b, '\r', e - b)) {
		rc = write_compacted(out, obj, src, payload, len, srcm, max_line, shape);
		cJSON_Delete(obj);
		return rc;
	}

	/* payload[e - 1] is the object's closing brace: splice "_src" in. */
	bool members = obj->child != NULL;
	cJSON_Delete(obj);
	if ((e - b - 1) + members + srclen + 1 > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		return write_truncated(out, payload, len, srcm, max_line);
	}
	*shape = KAFKA_SRC_KEPT;
	if (fwrite(payload + b, 1, e - b - 1, out) != e - b - 1 || (members && putc(',', out) == EOF) ||
	    fwrite(srcm, 1, srclen, out) != srclen || fputs("}\n", out) == EOF)
		return -1;
	return 0;
}

/* A JSON number that is a whole number from lo to hi. */
static bool whole_number(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
	       floor(v->valuedouble) == v->valuedouble;
}

int kafka_src_parse(const struct record_line *line, struct kafka_src *src, char *errstr,
                    size_t errstr_size)
{
	enum record_fault fault;
	cJSON *obj = record_parse(line, true, &fault, errstr, errstr_size);
	int rc = -1;

	if (!obj)
		return -1;
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "_src");
	const cJSON *topic = cJSON_GetObjectItemCaseSensitive(s, "topic");
	const cJSON *partition = cJSON_GetObjectItemCaseSensitive(s, "partition");
	const cJSON *offset = cJSON_GetObjectItemCaseSensitive(s, "offset");

	if (!s)
		snprintf(errstr, errstr_size, "no _src member");
	else if (!cJSON_IsObject(s))
		snprintf(errstr, errstr_size, "_src is not an object");
	else if (!cJSON_IsString(topic) || !topic->valuestring[0] ||
	         strlen(topic->valuestring) > KAFKA_SRC_TOPIC_MAX)
		snprintf(errstr, errstr_size, "_src.topic is not a topic name");
	else if (!whole_number(partition, 0, INT32_MAX))
		snprintf(errstr, errstr_size, "_src.partition is not a partition number");
	/* 2^53: the largest whole number a JSON reader keeps exactly */
	else if (!whole_number(offset, 0, 9007199254740992.0))
		snprintf(errstr, errstr_size, "_src.offset is not an offset");
	else {
		strcpy(src->topic, topic->valuestring);
		src->partition = (int32_t)partition->valuedouble;
		src->offset = (int64_t)offset->valuedouble;
		rc = 0;
	}
	cJSON_Delete(obj);
	return rc;
}
