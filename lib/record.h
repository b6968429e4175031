/* Records on the pipes: newline-delimited JSON objects (DESIGN.md,
 * "Records on the pipes"). Reading lines with a length limit, turning a line
 * into a JSON object or a reason why not, and writing records back out,
 * marked with "_error" when a stage failed them.
 *
 * A record's own bytes are precious: an unmarked record leaves every stage
 * exactly as it came in, and a marked one keeps its original text too (the
 * "_error" member is appended, or the text is kept under "_raw"). */
#ifndef EP_RECORD_H
#define EP_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* The documented default limit on one line, newline excluded. */
#define RECORD_MAX_LINE_DEFAULT (1024 * 1024)

/* cJSON refuses documents nested deeper than this (CJSON_NESTING_LIMIT). */
#define RECORD_MAX_DEPTH 1000

struct record_line {
	const char *data;      /* the line without "\n" (and without a final "\r") */
	size_t len;
	unsigned long lineno;  /* 1-based physical line number in this input */
	bool too_long;         /* longer than the limit: data holds its first max_line bytes */
	bool had_cr;           /* the line ended in "\r\n" */
	bool no_newline;       /* the last line of the input had no "\n" */
};

struct record_reader;

/* Reads lines from fd (not closed by the reader). max_line is the longest
 * line accepted, newline excluded. Returns NULL when out of memory. Caller
 * frees with record_reader_free(). */
struct record_reader *record_reader_new(int fd, size_t max_line);
void record_reader_free(struct record_reader *r);

/* Next line: 1 = *line filled (its data is borrowed, valid until the next
 * call), 0 = end of input, -1 = read error with errno set. EINTR and, for a
 * non-blocking fd, EAGAIN come back as -1 so the caller can look at its
 * signal flag or poll; calling again resumes where it stopped. */
int record_reader_next(struct record_reader *r, struct record_line *line);

/* True when a whole line (or the end of input) is already buffered, so the
 * next record_reader_next() will not block: tools flush their output before
 * they would block, which keeps latency low without a write per record. */
bool record_reader_ready(const struct record_reader *r);

/* A line of only spaces and tabs (or nothing): skipped by every stage. */
bool record_line_blank(const struct record_line *line);

/* What is wrong with a line that is not a record. */
enum record_fault {
	RECORD_OK = 0,
	RECORD_TOO_LONG,   /* over the length limit */
	RECORD_NUL,        /* contains a NUL byte */
	RECORD_UTF8,       /* not valid UTF-8 */
	RECORD_TOO_DEEP,   /* nested deeper than RECORD_MAX_DEPTH */
	RECORD_SYNTAX,     /* not JSON, or JSON followed by other text */
	RECORD_NOT_OBJECT, /* JSON, but an array, string, number, … */
};

/* Short stable code of a fault ("json", "utf8", …) for "_error.code". */
const char *record_fault_code(enum record_fault f);

/* Parses a line as one JSON value. On success returns the value (caller
 * frees with cJSON_Delete) and *fault = RECORD_OK; when want_object is true
 * a non-object value is a fault (RECORD_NOT_OBJECT, value freed, NULL
 * returned). On failure returns NULL, sets *fault and writes a reason a
 * person understands into reason ("not JSON: unexpected end of line at
 * column 41", …). */
cJSON *record_parse(const struct record_line *line, bool want_object, enum record_fault *fault,
                    char *reason, size_t reason_size);

/* What a stage says about a record it failed. Members left NULL (or
 * retryable < 0, lineno 0) are omitted from the "_error" object. */
struct record_error {
	const char *stage;   /* "validate", "persist", … */
	const char *code;    /* a short stable code */
	const char *reason;  /* a sentence a person understands */
	const char *keyword; /* JSON Schema keyword, when there is one */
	const char *pointer; /* JSON pointer of the failing value */
	int retryable;       /* 1, 0, or -1 to omit */
	unsigned long lineno;
};

/* Writes the record with "_error" to out, one line. When obj is the parsed
 * line (an object without "_error"), the original text is kept byte for byte
 * and the member is appended; when obj already has "_error", it is replaced;
 * when obj is NULL (the line was not a JSON object), the text goes under
 * "_raw" (invalid UTF-8 replaced by U+FFFD, and the exact bytes also under
 * "_raw_base64"; a too-long line keeps its first 1 KiB
 * under "_raw" and has "_raw_truncated": true).
 * Returns 0, or -1 on a write error (errno set). */
int record_write_marked(FILE *out, const struct record_line *line, cJSON *obj,
                        const struct record_error *err);

/* Writes data[0..len) and "\n". Returns 0 or -1 (errno set). */
int record_write_line(FILE *out, const char *data, size_t len);

/* Writes s[0..len) as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
int record_write_json_string(FILE *out, const char *s, size_t len);

/* Writes s[0..len) base64-encoded (RFC 4648, padded) as a quoted JSON
 * string: the exact bytes of a payload that is not valid UTF-8. */
int record_write_base64(FILE *out, const unsigned char *s, size_t len);

/* True when a top-level key is pipeline metadata (starts with "_"). */
static inline bool record_meta_key(const char *key)
{
	return key && key[0] == '_';
}

#endif
