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

/* Limits between stages (docs/records.md, "Limits and headroom"). kcat-in
 * writes records of at most RECORD_MAX_LINE_DEFAULT bytes, newline
 * excluded. Each later stage may add to a record ("_error", "_out"), so
 * each accepts RECORD_HEADROOM more than the stage before it: what one
 * stage may append (an "_error" of at most RECORD_ERROR_MAX, route's "_out"
 * of a queue name and a message id) is far less than the headroom, so a
 * record that left kcat-in never becomes "too long" further down the pipe. */
#define RECORD_MAX_LINE_DEFAULT (1024 * 1024)
#define RECORD_HEADROOM (64 * 1024)
#define RECORD_MAX_LINE_VALIDATE (RECORD_MAX_LINE_DEFAULT + 1 * RECORD_HEADROOM)
#define RECORD_MAX_LINE_PERSIST (RECORD_MAX_LINE_DEFAULT + 2 * RECORD_HEADROOM)
#define RECORD_MAX_LINE_ROUTE (RECORD_MAX_LINE_DEFAULT + 3 * RECORD_HEADROOM)

/* The longest "_error" member record_write_marked() writes, comma
 * included: its strings are cut to fit (reason 2 KiB, pointer 1 KiB, the
 * others 128 bytes each, as escaped JSON). */
#define RECORD_ERROR_MAX 4096

/* Of a line over the limit, the last bytes kept beside its head: the
 * members the stages append ("_src", "_error", "_out") are at the end, and
 * "_src" must reach the end of the pipe whatever happens to the rest. */
#define RECORD_TAIL_KEEP RECORD_HEADROOM

/* In values parsed by record_parse() with want_object false, U+0000 inside
 * a string stands as these two bytes (an overlong form that valid UTF-8
 * never contains, as in Java's "modified UTF-8"), so that a C-string
 * comparison sees the whole string: "a\u0000b" and "a\u0000c" differ. */
#define RECORD_NUL_CHAR "\xC0\x80"

/* cJSON refuses documents nested deeper than this (CJSON_NESTING_LIMIT). */
#define RECORD_MAX_DEPTH 1000

struct record_line {
	const char *data;      /* the line without "\n" (and without a final "\r") */
	size_t len;
	unsigned long lineno;  /* 1-based physical line number in this input */
	bool too_long;         /* longer than the limit: data holds its first max_line bytes */
	bool had_cr;           /* the line ended in "\r\n" */
	bool no_newline;       /* the last line of the input had no "\n" */
	const char *tail;      /* too_long: the line's last bytes (at most RECORD_TAIL_KEEP) */
	size_t tail_len;
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
	/* JSON that RFC 7493 (I-JSON) or RFC 8259's grammar does not allow: */
	RECORD_NUMBER,     /* a number not in RFC 8259's form: 01, 1., .5, 1.e5 */
	RECORD_DUPLICATE,  /* a member name repeated in one object */
	RECORD_SURROGATE,  /* a \uD800-\uDFFF escape not in a surrogate pair */
	RECORD_NUL_ESCAPE, /* \u0000 in a string of a record */
};

/* Short stable code of a fault ("json", "utf8", …) for "_error.code". */
const char *record_fault_code(enum record_fault f);

/* Parses a line as one JSON value. On success returns the value (caller
 * frees with cJSON_Delete) and *fault = RECORD_OK. On failure returns NULL,
 * sets *fault and writes a reason a person understands into reason ("not
 * JSON: unexpected end of line at column 41", …).
 *
 * want_object true: a record. It must be an object (else RECORD_NOT_OBJECT)
 * and I-JSON (RFC 7493): RFC 8259's grammar exactly, no repeated member
 * names at any depth, no lone surrogates, no \u0000 in any string.
 * want_object false: any JSON value (validate --values, schemas): the same
 * rules, except that \u0000 is allowed and comes back as RECORD_NUL_CHAR. */
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

/* Parses JSON text of any length and any number of lines (a schema file)
 * by the rules of record_parse() with want_object false. Returns the value
 * (caller frees with cJSON_Delete), or NULL with *error_at set to the
 * offset of the fault (or where the parser gave up) and reason filled. */
cJSON *record_parse_text(const char *text, size_t len, size_t *error_at, char *reason,
                         size_t reason_size);

/* Writes the record with "_error" to out, one line. When obj is the parsed
 * line (an object without "_error"), the original text is kept byte for byte
 * and the member is appended; when obj already has "_error", the new value
 * is spliced over the old one's text (the rest stays byte for byte, so
 * marking never grows a record by re-printing it); when obj is NULL (the
 * line was not a record), the text goes under "_raw" (invalid UTF-8 and NUL
 * replaced by U+FFFD, and the exact bytes also under "_raw_base64"; a
 * too-long line keeps its first 1 KiB under "_raw" and has
 * "_raw_truncated": true), and the line's "_src", when one can be found
 * (in the tail of a too-long line), is carried over: no stage drops it.
 * The "_error" member is at most RECORD_ERROR_MAX bytes.
 * Returns 0, or -1 on a write error (errno set). */
int record_write_marked(FILE *out, const struct record_line *line, cJSON *obj,
                        const struct record_error *err);

/* Writes data[0..len) and "\n". Returns 0 or -1 (errno set). */
int record_write_line(FILE *out, const char *data, size_t len);

/* Writes s[0..len) as a quoted JSON string; invalid UTF-8 and NUL become
 * U+FFFD (records carry no \u0000; the exact bytes go under "_raw_base64"). */
int record_write_json_string(FILE *out, const char *s, size_t len);

/* Writes s[0..len) base64-encoded (RFC 4648, padded) as a quoted JSON
 * string: the exact bytes of a payload that is not valid UTF-8. */
int record_write_base64(FILE *out, const unsigned char *s, size_t len);

/* The text of the value of the last top-level member named key in the
 * record text[0..len) (an object, as record_parse() accepted it), or NULL;
 * *vlen its length, *member_at where the member's name starts. */
const char *record_member(const char *text, size_t len, const char *key, size_t *vlen,
                          size_t *member_at);

/* The "_src" value kcat-in wrote, looked for in a line that may not be a
 * record (not JSON, too long: then in line->tail): the last "_src" member
 * whose value is an object that is itself I-JSON. NULL when none; *vlen its
 * length. A whole line is scanned from its start, so only a top-level
 * member counts; in a tail, the last member named "_src" is taken (kcat-in
 * writes its own last, and only "_error" and "_out" come after it). */
const char *record_salvage_src(const struct record_line *line, size_t *vlen);

/* True when a top-level key is pipeline metadata (starts with "_"). */
static inline bool record_meta_key(const char *key)
{
	return key && key[0] == '_';
}

#endif
