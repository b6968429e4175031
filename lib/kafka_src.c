/* Messages to records and outcome lines back to offsets.
 *
 * The common case is a one-line JSON object, and for it the payload's own
 * bytes go out untouched with "_src" spliced in before the final brace: no
 * re-printing, so numbers, key order and escapes stay exactly as the
 * producer wrote them. Only the rare shape of a multi-line object goes
 * through cJSON's printer, and anything that is not a JSON object is
 * wrapped so that validate can reject it with a reason rather than the
 * pipeline choking on it.
 *
 * kcat-in is where outside text enters (DESIGN.md, "Trust boundaries"), so
 * a payload never carries a top-level "_" member into the pipeline: those
 * are the stages' own ("_src" decides which offset an outcome acknowledges,
 * "_error" how route treats a record). Such a payload is wrapped like a
 * non-object, already failed ("reserved_member"), and the only "_src" on
 * the line is the one written here. */
#include "kafka_src.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "log.h"
#include "utf8.h"

#define RAW_KEEP 1024 /* bytes of an over-long payload kept under "_raw" */

/* Room for the member with the longest topic, fully escaped. */
#define SRC_TEXT_MAX (KAFKA_SRC_TOPIC_MAX * 6 + 96)

/* Appends the text of a literal, or of a number in decimal, at p;
 * returns the new end. */
static char *append(char *p, const char *text, size_t len)
{
	memcpy(p, text, len);
	return p + len;
}

static char *append_decimal(char *p, long long v)
{
	char digits[24], *d = digits + sizeof(digits);
	unsigned long long u = v < 0 ? 0 : (unsigned long long)v;

	do
		*--d = (char)('0' + u % 10);
	while (u /= 10);
	return append(p, d, (size_t)(digits + sizeof(digits) - d));
}

/* "_src":{…} for src, in buf (SRC_TEXT_MAX bytes); returns its length.
 * Made for every message, so without printf. */
static size_t src_text(char *buf, const struct kafka_src *src)
{
	char *p = append(buf, "\"_src\":{\"topic\":\"", 17);

	p += log_json_escape(p, KAFKA_SRC_TOPIC_MAX * 6 + 1, src->topic);
	p = append_decimal(append(p, "\",\"partition\":", 14), src->partition);
	p = append_decimal(append(p, ",\"offset\":", 10), src->offset);
	*p++ = '}';
	*p = '\0';
	return (size_t)(p - buf);
}

/* The longest member name quoted in a reason: enough to recognise it, and
 * a bound on the line whatever the payload holds. */
#define REASON_NAME_MAX 32

/* "_error":{…} for a payload whose top-level member name[0..len) is
 * reserved, in buf (REASON_TEXT_MAX bytes); returns its length. The name is
 * payload text: only printable ASCII of it is kept (anything else, quotes
 * and backslashes too, becomes '?'), so the reason needs no escaping and
 * cannot carry a control byte into a log line; past REASON_NAME_MAX bytes
 * it is cut and marked with "...". */
#define REASON_TEXT_MAX (REASON_NAME_MAX + 192)

static size_t reserved_error_text(char *buf, const char *name, size_t len)
{
	char shown[REASON_NAME_MAX + 4];
	size_t n = 0;

	for (; n < len && n < REASON_NAME_MAX; n++) {
		unsigned char c = (unsigned char)name[n];
		shown[n] = c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? (char)c : '?';
	}
	if (n < len) {
		memcpy(shown + n, "...", 3);
		n += 3;
	}
	shown[n] = '\0';
	int w =
	    snprintf(buf, REASON_TEXT_MAX,
	             "\"_error\":{\"stage\":\"kcat-in\",\"code\":\"reserved_member\",\"reason\":"
	             "\"the payload has a top-level member '%s': names starting with '_' are "
	             "the pipeline's own\",\"retryable\":false}",
	             shown);
	return w > 0 && (size_t)w < REASON_TEXT_MAX ? (size_t)w : 0;
}

/* The short form, for a line limit too tight for the reason. */
#define RESERVED_ERROR_SHORT "\"_error\":{\"stage\":\"kcat-in\",\"code\":\"reserved_member\"}"

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* {"_raw":"<head>","_raw_truncated":true[,"_error":{…}],"_src":{…}}:
 * short, and within max_line however the head escapes (at most 6 bytes per
 * byte). errm is the "_error" member of a reserved payload, or NULL. */
static int write_truncated(FILE *out, const char *payload, size_t len, const char *srcm,
                           const char *errm, size_t max_line)
{
	size_t room = 0, fixed = strlen(srcm) + sizeof("{\"_raw\":\"\",\"_raw_truncated\":true,}");
	size_t keep = len < RAW_KEEP ? len : RAW_KEEP;

	if (errm) {
		if (fixed + strlen(errm) + 1 > max_line)
			errm = RESERVED_ERROR_SHORT;
		fixed += strlen(errm) + 1;
	}
	if (max_line > fixed)
		room = (max_line - fixed) / 6;
	if (keep > room)
		keep = room;

	/* do not cut a UTF-8 sequence in half */
	while (keep > 0 && keep < len && ((unsigned char)payload[keep] & 0xC0) == 0x80)
		keep--;
	if (fputs("{\"_raw\":", out) == EOF || record_write_json_string(out, payload, keep) < 0 ||
	    fprintf(out, ",\"_raw_truncated\":true,%s%s%s}\n", errm ? errm : "", errm ? "," : "",
	            srcm) < 0)
		return -1;
	return 0;
}

/* {"_raw":"<text>"[,"_raw_base64":"<bytes>"][,"_error":{…}],"_src":{…}},
 * built in memory first because escaping can make it longer than the
 * limit, and then the truncated form goes out instead. errm is the
 * "_error" member of a reserved payload, or NULL. */
static int write_wrapped(FILE *out, const char *payload, size_t len, const char *srcm,
                         const char *errm, size_t max_line, enum kafka_src_shape *shape)
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
	if ((errm && fprintf(mem, ",%s", errm) < 0) || fprintf(mem, ",%s}", srcm) < 0 ||
	    fflush(mem) == EOF)
		goto out;
	if (size > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		rc = write_truncated(out, payload, len, srcm, errm, max_line);
	} else {
		*shape = errm ? KAFKA_SRC_RESERVED : KAFKA_SRC_WRAPPED;
		rc = record_write_line(out, buf, size);
	}
out:
	fclose(mem);
	free(buf);
	return rc;
}

/* The object (without "_" members) re-printed on one line with "_src". */
static int write_compacted(FILE *out, cJSON *obj, const char *payload, size_t len, const char *srcm,
                           size_t max_line, enum kafka_src_shape *shape)
{
	/* The "_src" text already made ("\"_src\":{...}"), as a raw value: cJSON
	 * prints numbers as doubles, and an offset from 2^53 up would come out
	 * rounded (the fuzzer found it). */
	const char *value = strchr(srcm, '{');
	cJSON *s = value ? cJSON_CreateRaw(value) : NULL;
	char *text;
	int rc;

	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	cJSON_AddItemToObject(obj, "_src", s);
	text = cJSON_PrintUnformatted(obj);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	size_t tlen = strlen(text);
	if (tlen > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		rc = write_truncated(out, payload, len, srcm, NULL, max_line);
	} else {
		*shape = KAFKA_SRC_COMPACTED;
		rc = record_write_line(out, text, tlen);
	}
	cJSON_free(text);
	return rc;
}

/* The object payload[b..e) (e - 1 its closing brace) with "_src" spliced
 * in before that brace. */
static int write_kept(FILE *out, const char *payload, size_t len, size_t b, size_t e,
                      bool members, const char *srcm, size_t srclen, size_t max_line,
                      enum kafka_src_shape *shape)
{
	if ((e - b - 1) + members + srclen + 1 > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		return write_truncated(out, payload, len, srcm, NULL, max_line);
	}
	*shape = KAFKA_SRC_KEPT;
	if (fwrite(payload + b, 1, e - b - 1, out) != e - b - 1 || (members && putc(',', out) == EOF) ||
	    fwrite(srcm, 1, srclen, out) != srclen || fputs("}\n", out) == EOF)
		return -1;
	return 0;
}

/* The first top-level member of obj whose name is reserved, or NULL. cJSON
 * has decoded the names, so "\\u005fsrc" is found as "_src". */
static const cJSON *reserved_member(const cJSON *obj)
{
	for (const cJSON *m = obj->child; m; m = m->next)
		if (record_meta_key(m->string))
			return m;
	return NULL;
}

/* A payload that record_parse() refused may still be an object with a
 * reserved member, read leniently (a repeated name, say, which is what
 * {"_src":0,"_src":"poison"} is): that is worth saying, and it is what the
 * producer tried. Its name goes into errm; false when it is not such an
 * object. */
static bool reserved_anyway(const char *payload, size_t len, char *errm)
{
	cJSON *obj = cJSON_ParseWithLength(payload, len);
	const cJSON *m = cJSON_IsObject(obj) ? reserved_member(obj) : NULL;
	bool found = m && reserved_error_text(errm, m->string, strlen(m->string)) > 0;

	cJSON_Delete(obj);
	return found;
}

int kafka_src_write(FILE *out, const char *payload, size_t len, const struct kafka_src *src,
                    size_t max_line, enum kafka_src_shape *shape)
{
	char srcm[SRC_TEXT_MAX], reason[256], errm[REASON_TEXT_MAX];
	size_t srclen = src_text(srcm, src);
	struct json_scan scan;
	enum record_fault fault;
	int rc;

	if (!payload)
		payload = "", len = 0;
	if (len > max_line) {
		*shape = KAFKA_SRC_TRUNCATED;
		/* not looked into: the head under "_raw" is not an event either */
		return write_truncated(out, payload, len, srcm, NULL, max_line);
	}

	/* The common case, decided without building a tree. */
	if (json_scan(payload, len, &scan) && scan.object) {
		if (scan.reserved) {
			if (!reserved_error_text(errm, payload + scan.reserved_begin,
			                         scan.reserved_end - scan.reserved_begin))
				return -1;
			return write_wrapped(out, payload, len, srcm, errm, max_line, shape);
		}
		if (!scan.multiline)
			return write_kept(out, payload, len, scan.begin, scan.end, scan.members,
			                  srcm, srclen, max_line, shape);
	}

	struct record_line line = {.data = payload, .len = len};
	cJSON *obj = record_parse(&line, true, &fault, reason, sizeof(reason));
	if (!obj) {
		bool reserved = reserved_anyway(payload, len, errm);
		return write_wrapped(out, payload, len, srcm, reserved ? errm : NULL, max_line,
		                     shape);
	}
	const cJSON *m = reserved_member(obj);
	if (m) {
		rc = reserved_error_text(errm, m->string, strlen(m->string)) ? 0 : -1;
		cJSON_Delete(obj);
		return rc < 0 ? -1 : write_wrapped(out, payload, len, srcm, errm, max_line, shape);
	}

	/* The object without the blanks around it. */
	size_t b = 0, e = len;
	while (b < e && json_space(payload[b]))
		b++;
	while (e > b && json_space(payload[e - 1]))
		e--;
	if (memchr(payload + b, '\n', e - b) || memchr(payload + b, '\r', e - b)) {
		rc = write_compacted(out, obj, payload, len, srcm, max_line, shape);
		cJSON_Delete(obj);
		return rc;
	}
	bool members = obj->child != NULL;
	cJSON_Delete(obj);
	return write_kept(out, payload, len, b, e, members, srcm, srclen, max_line, shape);
}

/* A JSON number that is a whole number from lo to hi. */
static bool whole_number(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
	       floor(v->valuedouble) == v->valuedouble;
}

/* The "_src" value s checked and copied into *src. */
static int src_from_json(const cJSON *s, struct kafka_src *src, char *errstr, size_t errstr_size)
{
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
		return 0;
	}
	return -1;
}

/* A whole number of plain digits at *p, at most max; advances *p. */
static bool plain_whole(const char **p, const char *end, int64_t max, int64_t *out)
{
	int64_t v = 0;
	const char *q = *p;

	if (q == end || *q < '0' || *q > '9')
		return false;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (max - (*q - '0')) / 10)
			return false;
		v = v * 10 + (*q - '0');
	}
	if (q < end && (*q == '.' || *q == 'e' || *q == 'E'))
		return false;
	*p = q;
	*out = v;
	return true;
}

/* "_src" read without cJSON, for the shape kcat-in writes: the three
 * members once each, in any order, whole numbers in plain digits, a topic
 * without escapes. s[0..len) is a JSON value json_scan() has checked. True
 * when it was in that shape and *src is filled; false sends the caller to
 * cJSON, which also words the reason when something is wrong. */
static bool src_plain(const char *s, size_t len, struct kafka_src *src)
{
	const char *p = s, *end = s + len;
	bool topic = false, partition = false, offset = false;
	int64_t v;

	if (p == end || *p++ != '{')
		return false;
	for (;;) {
		while (p < end && json_space(*p))
			p++;
		if (p == end || *p++ != '"')
			return false;
		const char *name = p;
		while (p < end && *p != '"' && *p != '\\')
			p++;
		if (p == end || *p != '"')
			return false;
		size_t n = (size_t)(p++ - name);
		while (p < end && (json_space(*p) || *p == ':'))
			p++;
		if (n == 5 && memcmp(name, "topic", 5) == 0 && !topic) {
			const char *t = p + 1;
			if (p == end || *p != '"')
				return false;
			for (p = t; p < end && *p != '"' && *p != '\\';)
				p++;
			if (p == end || *p != '"' || p == t || p - t > KAFKA_SRC_TOPIC_MAX)
				return false;
			memcpy(src->topic, t, (size_t)(p - t));
			src->topic[p - t] = '\0';
			p++;
			topic = true;
		} else if (n == 9 && memcmp(name, "partition", 9) == 0 && !partition) {
			if (!plain_whole(&p, end, INT32_MAX, &v))
				return false;
			src->partition = (int32_t)v;
			partition = true;
		} else if (n == 6 && memcmp(name, "offset", 6) == 0 && !offset) {
			/* 2^53: the largest whole number a JSON reader keeps exactly */
			if (!plain_whole(&p, end, 9007199254740992LL, &v))
				return false;
			src->offset = v;
			offset = true;
		} else {
			return false;
		}
		while (p < end && json_space(*p))
			p++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return p < end && *p == '}' && topic && partition && offset;
	}
}

/* How many top-level members of obj are named "_src". */
static int src_members(const cJSON *obj)
{
	int n = 0;

	for (const cJSON *m = obj->child; m; m = m->next)
		n += m->string && strcmp(m->string, "_src") == 0;
	return n;
}

int kafka_src_parse(const struct record_line *line, struct kafka_src *src, char *errstr,
                    size_t errstr_size)
{
	struct json_scan scan;
	enum record_fault fault;
	cJSON *obj;
	int rc;

	/* The common case: a valid object, of which only "_src" is read. A
	 * line json_scan vouches for has no repeated name, so this "_src" is
	 * the only one. */
	if (!line->too_long && json_scan(line->data, line->len, &scan) && scan.object) {
		if (!scan.src)
			return src_from_json(NULL, src, errstr, errstr_size);
		if (src_plain(line->data + scan.src_begin, scan.src_end - scan.src_begin, src))
			return 0;
		obj = cJSON_ParseWithLength(line->data + scan.src_begin, scan.src_end - scan.src_begin);
		if (!obj) { /* it was checked, so only memory can be short */
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		rc = src_from_json(obj, src, errstr, errstr_size);
		cJSON_Delete(obj);
		return rc;
	}

	obj = record_parse(line, true, &fault, errstr, errstr_size);
	if (!obj)
		return -1;
	/* cJSON decodes names, so "\u005fsrc" counts as "_src" here */
	if (src_members(obj) > 1) {
		snprintf(errstr, errstr_size, "more than one _src member");
		rc = -1;
	} else {
		rc = src_from_json(cJSON_GetObjectItemCaseSensitive(obj, "_src"), src, errstr,
		                   errstr_size);
	}
	cJSON_Delete(obj);
	return rc;
}
