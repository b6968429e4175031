/* Line reading and record writing for every stage.
 *
 * The reader keeps one buffer of max_line + READ_CHUNK bytes and hands out
 * lines in place, so a stage never copies a record it passes on unchanged.
 * A line longer than the limit is not an error of the stream: its first
 * max_line bytes come back flagged too_long and the rest is skipped, so one
 * bad record never stops the ones after it. */
#include "record.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "utf8.h"

#define READ_CHUNK (256 * 1024)
#define RAW_KEEP 1024 /* bytes of an over-long line kept under "_raw" */

struct record_reader {
	int fd;
	size_t max_line;
	char *buf;
	size_t cap;
	size_t start;  /* first unconsumed byte */
	size_t end;    /* one past the last byte read */
	size_t scan;   /* bytes from start already searched for "\n" */
	bool eof;
	bool skipping; /* discarding the tail of an over-long line */
	unsigned long lineno;
};

struct record_reader *record_reader_new(int fd, size_t max_line)
{
	struct record_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = fd;
	r->max_line = max_line;
	/* +1 for the "\r" a CRLF line may carry beyond the limit. */
	r->cap = max_line + 1 + READ_CHUNK;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	return r;
}

void record_reader_free(struct record_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

static void reader_compact(struct record_reader *r)
{
	if (r->start == 0)
		return;
	memmove(r->buf, r->buf + r->start, r->end - r->start);
	r->end -= r->start;
	r->start = 0;
}

static void line_set(struct record_reader *r, struct record_line *line, size_t off, size_t len,
                     bool no_newline)
{
	memset(line, 0, sizeof(*line));
	line->data = r->buf + off;
	line->len = len;
	line->lineno = ++r->lineno;
	line->no_newline = no_newline;
	if (len > 0 && line->data[len - 1] == '\r') {
		line->len--;
		line->had_cr = true;
	}
	if (line->len > r->max_line) {
		/* a line that only fit because of the allowance for "\r" */
		line->too_long = true;
		line->len = r->max_line;
	}
}

bool record_reader_ready(const struct record_reader *r)
{
	return r->eof || memchr(r->buf + r->start, '\n', r->end - r->start) != NULL;
}

int record_reader_next(struct record_reader *r, struct record_line *line)
{
	for (;;) {
		char *nl;

		if (r->skipping) {
			nl = memchr(r->buf + r->start, '\n', r->end - r->start);
			if (nl) {
				r->start = (size_t)(nl - r->buf) + 1;
				r->skipping = false;
				r->scan = 0;
				continue;
			}
			r->start = r->end = 0;
			if (r->eof) {
				r->skipping = false;
				return 0;
			}
		} else if (r->end > r->start) {
			nl = memchr(r->buf + r->start + r->scan, '\n', r->end - r->start - r->scan);
			if (nl) {
				size_t off = r->start, len = (size_t)(nl - (r->buf + r->start));
				r->start += len + 1;
				r->scan = 0;
				line_set(r, line, off, len, false);
				return 1;
			}
			r->scan = r->end - r->start;
			if (r->scan > r->max_line + 1) {
				/* No newline within the limit (plus a "\r"): hand out the
				 * head now, flagged, and discard the rest of the line. The
				 * head stays in place until the next call. */
				line_set(r, line, r->start, r->max_line, false);
				line->too_long = true;
				r->start += r->max_line;
				r->skipping = true;
				return 1;
			}
			if (r->eof) {
				size_t off = r->start, len = r->end - r->start;
				r->start = r->end;
				r->scan = 0;
				line_set(r, line, off, len, true);
				return 1;
			}
		} else if (r->eof) {
			return 0;
		}

		/* Need more bytes. After compacting, at most max_line + 1 bytes
		 * are unconsumed, so at least READ_CHUNK bytes of room remain and a
		 * zero return really is the end of input. */
		reader_compact(r);
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = true;
		else
			r->end += (size_t)n;
	}
}

bool record_line_blank(const struct record_line *line)
{
	for (size_t i = 0; i < line->len; i++)
		if (line->data[i] != ' ' && line->data[i] != '\t')
			return false;
	return !line->too_long;
}

const char *record_fault_code(enum record_fault f)
{
	switch (f) {
	case RECORD_OK: return "ok";
	case RECORD_TOO_LONG: return "too_long";
	case RECORD_NUL: return "nul_byte";
	case RECORD_UTF8: return "utf8";
	case RECORD_TOO_DEEP: return "too_deep";
	case RECORD_SYNTAX: return "json";
	case RECORD_NOT_OBJECT: return "not_object";
	}
	return "unknown";
}

/* Nesting of a line, strings skipped: the deepest level, and whether the
 * line ends with a bracket or string still open. Only asked when cJSON has
 * failed, to tell "too deep" and "truncated" from other syntax errors. */
static size_t scan_nesting(const char *s, size_t len, bool *open_at_end)
{
	size_t depth = 0, max = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	*open_at_end = depth > 0 || in_string;
	return max;
}

/* What cJSON lets through and RFC 8259 does not: cJSON skips any byte up to
 * 0x20 as white space and is loose about escapes, so a line it parsed is
 * checked again here (the fuzzer found a record with 0x01 between members
 * that validate passed and route could not take apart). Returns the offset
 * of the first offending byte, or len; *what says what it is. */
static size_t lexical_fault(const char *s, size_t len, const char **what)
{
	static const char hexdigits[] = "0123456789abcdefABCDEF";
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!in_string) {
			if (c == '"')
				in_string = true;
			else if (c < 0x20 && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
				*what = "a control character outside a string";
				return i;
			}
			continue;
		}
		if (c == '"') {
			in_string = false;
		} else if (c < 0x20) {
			*what = "a raw control character in a string (it must be escaped)";
			return i;
		} else if (c == '\\') {
			char e = i + 1 < len ? s[i + 1] : '\0';
			if (e == 'u') {
				for (size_t k = 2; k < 6; k++)
					if (i + k >= len || !s[i + k] || !strchr(hexdigits, s[i + k])) {
						*what = "a \\u escape without four hex digits";
						return i;
					}
				i += 5;
			} else if (e && strchr("\"\\/bfnrt", e)) {
				i++;
			} else {
				*what = "an unknown escape";
				return i;
			}
		}
	}
	return len;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNull(v)) return "null";
	return "not an object";
}

cJSON *record_parse(const struct record_line *line, bool want_object, enum record_fault *fault,
                    char *reason, size_t reason_size)
{
	const char *end = NULL;
	size_t bad;
	cJSON *v;

	if (line->too_long) {
		*fault = RECORD_TOO_LONG;
		snprintf(reason, reason_size, "line is longer than the limit of %zu bytes", line->len);
		return NULL;
	}
	const char *nul = memchr(line->data, '\0', line->len);
	if (nul) {
		*fault = RECORD_NUL;
		snprintf(reason, reason_size, "contains a NUL byte at column %zu",
		         (size_t)(nul - line->data) + 1);
		return NULL;
	}
	bad = utf8_first_invalid(line->data, line->len);
	if (bad != line->len) {
		*fault = RECORD_UTF8;
		snprintf(reason, reason_size, "not valid UTF-8 (byte 0x%02X at column %zu)",
		         (unsigned char)line->data[bad], bad + 1);
		return NULL;
	}

	v = cJSON_ParseWithLengthOpts(line->data, line->len, &end, false);
	if (!v) {
		size_t col = end ? (size_t)(end - line->data) + 1 : 1;
		bool open_at_end;
		*fault = RECORD_SYNTAX;
		if (scan_nesting(line->data, line->len, &open_at_end) > RECORD_MAX_DEPTH) {
			*fault = RECORD_TOO_DEEP;
			snprintf(reason, reason_size, "nested deeper than %d levels", RECORD_MAX_DEPTH);
		} else if (open_at_end) {
			snprintf(reason, reason_size, "not JSON: the line ends before the value does "
			         "(truncated?) at column %zu", line->len + 1);
		} else {
			snprintf(reason, reason_size, "not JSON: syntax error at column %zu", col);
		}
		return NULL;
	}
	/* cJSON stops after one value: anything but blanks after it is an error. */
	for (const char *p = end; p < line->data + line->len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			cJSON_Delete(v);
			*fault = RECORD_SYNTAX;
			snprintf(reason, reason_size, "not JSON: unexpected text after the value at column %zu",
			         (size_t)(p - line->data) + 1);
			return NULL;
		}
	}
	const char *what = NULL;
	size_t at = lexical_fault(line->data, line->len, &what);
	if (at != line->len) {
		cJSON_Delete(v);
		*fault = RECORD_SYNTAX;
		snprintf(reason, reason_size, "not JSON: %s (byte 0x%02X) at column %zu", what,
		         (unsigned char)line->data[at], at + 1);
		return NULL;
	}
	if (want_object && !cJSON_IsObject(v)) {
		*fault = RECORD_NOT_OBJECT;
		snprintf(reason, reason_size, "a record must be a JSON object, this is %s",
		         json_type_name(v));
		cJSON_Delete(v);
		return NULL;
	}
	*fault = RECORD_OK;
	return v;
}

int record_write_line(FILE *out, const char *data, size_t len)
{
	if (fwrite(data, 1, len, out) != len || putc('\n', out) == EOF)
		return -1;
	return 0;
}

int record_write_json_string(FILE *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

	if (putc('"', out) == EOF)
		return -1;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		/* Runs of plain bytes go out in one fwrite. */
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		if (run && fwrite(s + i - run, 1, run, out) != run)
			return -1;
		run = 0;
		if (c >= 0x80) {
			size_t valid = utf8_first_invalid(s + i, len - i);
			/* the valid multi-byte prefix, up to the next ASCII byte */
			size_t n = 0;
			while (n < valid && ((unsigned char)s[i + n] >= 0x80))
				n++;
			if (n > 0) {
				if (fwrite(s + i, 1, n, out) != n)
					return -1;
				i += n;
			} else {
				if (fputs("\xEF\xBF\xBD", out) == EOF) /* U+FFFD */
					return -1;
				i++;
			}
			continue;
		}
		char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
		size_t elen = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
			elen = 6;
		}
		if (fwrite(esc, 1, elen, out) != elen)
			return -1;
		i++;
	}
	if (run && fwrite(s + len - run, 1, run, out) != run)
		return -1;
	return putc('"', out) == EOF ? -1 : 0;
}

int record_write_base64(FILE *out, const unsigned char *s, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (putc('"', out) == EOF)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
		             i + 1 < len ? tab[(v >> 6) & 63] : '=', i + 2 < len ? tab[v & 63] : '='};
		if (fwrite(q, 1, 4, out) != 4)
			return -1;
	}
	return putc('"', out) == EOF ? -1 : 0;
}

static int write_error_object(FILE *out, const struct record_error *err)
{
	const char *sep = "";

	if (fputs("\"_error\":{", out) == EOF)
		return -1;
#define FIELD(name, val)                                                                           \
	do {                                                                                       \
		if (val) {                                                                         \
			if (fprintf(out, "%s\"" name "\":", sep) < 0 ||                           \
			    record_write_json_string(out, val, strlen(val)) < 0)                   \
				return -1;                                                         \
			sep = ",";                                                                 \
		}                                                                                  \
	} while (0)
	FIELD("stage", err->stage);
	FIELD("code", err->code);
	FIELD("reason", err->reason);
	FIELD("keyword", err->keyword);
	FIELD("pointer", err->pointer);
#undef FIELD
	if (err->retryable >= 0 &&
	    fprintf(out, "%s\"retryable\":%s", sep, err->retryable ? "true" : "false") < 0)
		return -1;
	if (err->lineno && fprintf(out, ",\"line\":%lu", err->lineno) < 0)
		return -1;
	return putc('}', out) == EOF ? -1 : 0;
}

static cJSON *error_to_json(const struct record_error *err)
{
	cJSON *e = cJSON_CreateObject();

	if (!e)
		return NULL;
	if (err->stage) cJSON_AddStringToObject(e, "stage", err->stage);
	if (err->code) cJSON_AddStringToObject(e, "code", err->code);
	if (err->reason) cJSON_AddStringToObject(e, "reason", err->reason);
	if (err->keyword) cJSON_AddStringToObject(e, "keyword", err->keyword);
	if (err->pointer) cJSON_AddStringToObject(e, "pointer", err->pointer);
	if (err->retryable >= 0) cJSON_AddBoolToObject(e, "retryable", err->retryable);
	if (err->lineno) cJSON_AddNumberToObject(e, "line", (double)err->lineno);
	return e;
}

int record_write_marked(FILE *out, const struct record_line *line, cJSON *obj,
                        const struct record_error *err)
{
	if (obj && cJSON_GetObjectItemCaseSensitive(obj, "_error")) {
		/* Re-marking: the text cannot be kept, the record is re-printed. */
		cJSON *e = error_to_json(err);
		char *text;
		int rc;
		if (!e) {
			errno = ENOMEM;
			return -1;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "_error", e);
		text = cJSON_PrintUnformatted(obj);
		if (!text) {
			errno = ENOMEM;
			return -1;
		}
		rc = record_write_line(out, text, strlen(text));
		cJSON_free(text);
		return rc;
	}
	if (obj) {
		/* Keep the original text: drop the closing brace (and any blanks
		 * after it) and append the member. */
		size_t len = line->len;
		while (len > 0 && line->data[len - 1] != '}')
			len--;
		if (len == 0) {
			errno = EINVAL;
			return -1;
		}
		len--;
		if (fwrite(line->data, 1, len, out) != len)
			return -1;
		if (obj->child && putc(',', out) == EOF)
			return -1;
		if (write_error_object(out, err) < 0 || fputs("}\n", out) == EOF)
			return -1;
		return 0;
	}

	size_t keep = line->len;
	bool exact = !line->too_long && utf8_valid(line->data, line->len) &&
	             !memchr(line->data, '\0', line->len);
	if (line->too_long) {
		keep = RAW_KEEP < line->len ? RAW_KEEP : line->len;
		/* do not cut a UTF-8 sequence in half */
		while (keep > 0 && keep < line->len && ((unsigned char)line->data[keep] & 0xC0) == 0x80)
			keep--;
	}
	if (fputs("{\"_raw\":", out) == EOF || record_write_json_string(out, line->data, keep) < 0)
		return -1;
	if (line->too_long && fputs(",\"_raw_truncated\":true", out) == EOF)
		return -1;
	if (!exact && !line->too_long) {
		if (fputs(",\"_raw_base64\":", out) == EOF ||
		    record_write_base64(out, (const unsigned char *)line->data, line->len) < 0)
			return -1;
	}
	if (putc(',', out) == EOF || write_error_object(out, err) < 0 || fputs("}\n", out) == EOF)
		return -1;
	return 0;
}
