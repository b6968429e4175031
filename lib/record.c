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

#include "hex.h"
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
	/* A line over the limit: its head stays at buf[start..start+max_line)
	 * while the rest of it streams through the buffer behind the head, and
	 * only its last RECORD_TAIL_KEEP bytes are kept, in tail. */
	bool long_line;
	char *tail;
	size_t tail_len;
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
	r->tail = malloc(RECORD_TAIL_KEEP);
	if (!r->buf || !r->tail) {
		record_reader_free(r);
		return NULL;
	}
	return r;
}

void record_reader_free(struct record_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->tail);
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
		/* a line that only fit because of the allowance for "\r": its
		 * tail is still in the buffer, just after the head */
		size_t keep = line->len < RECORD_TAIL_KEEP ? line->len : RECORD_TAIL_KEEP;
		line->tail = line->data + line->len - keep;
		line->tail_len = keep;
		line->too_long = true;
		line->len = r->max_line;
	}
}

/* Keeps the last RECORD_TAIL_KEEP bytes of what went through tail_feed(). */
static void tail_feed(struct record_reader *r, const char *p, size_t n)
{
	if (n >= RECORD_TAIL_KEEP) {
		memcpy(r->tail, p + n - RECORD_TAIL_KEEP, RECORD_TAIL_KEEP);
		r->tail_len = RECORD_TAIL_KEEP;
		return;
	}
	if (r->tail_len + n > RECORD_TAIL_KEEP) {
		size_t drop = r->tail_len + n - RECORD_TAIL_KEEP;
		memmove(r->tail, r->tail + drop, r->tail_len - drop);
		r->tail_len -= drop;
	}
	memcpy(r->tail + r->tail_len, p, n);
	r->tail_len += n;
}

bool record_reader_ready(const struct record_reader *r)
{
	return r->eof || memchr(r->buf + r->start, '\n', r->end - r->start) != NULL;
}

int record_reader_next(struct record_reader *r, struct record_line *line)
{
	for (;;) {
		char *nl;

		if (r->long_line) {
			/* Everything after the head up to "\n" belongs to the line. */
			size_t from = r->start + r->max_line;
			nl = memchr(r->buf + from, '\n', r->end - from);
			size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
			tail_feed(r, r->buf + from, stop - from);
			if (nl || r->eof) {
				memset(line, 0, sizeof(*line));
				line->data = r->buf + r->start;
				line->len = r->max_line;
				line->lineno = ++r->lineno;
				line->too_long = true;
				line->no_newline = !nl;
				if (r->tail_len > 0 && r->tail[r->tail_len - 1] == '\r') {
					r->tail_len--;
					line->had_cr = true;
				}
				line->tail = r->tail;
				line->tail_len = r->tail_len;
				r->start = nl ? stop + 1 : r->end;
				r->long_line = false;
				r->scan = 0;
				return 1;
			}
			r->end = from; /* the tail has what matters of those bytes */
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
				/* No newline within the limit (plus a "\r"): the head
				 * stays, the rest is read through to keep the tail, where
				 * the members the stages append (and "_src") are. */
				size_t keep = r->max_line < RECORD_TAIL_KEEP ? r->max_line : RECORD_TAIL_KEEP;
				r->tail_len = 0;
				tail_feed(r, r->buf + r->start + r->max_line - keep, keep);
				r->long_line = true;
				continue;
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
		 * are unconsumed (a long line's head: max_line), so at least
		 * READ_CHUNK bytes of room remain and a zero return really is the
		 * end of input. */
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
	case RECORD_NUMBER: return "bad_number";
	case RECORD_DUPLICATE: return "duplicate_name";
	case RECORD_SURROGATE: return "lone_surrogate";
	case RECORD_NUL_ESCAPE: return "nul_char";
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

/* What the lexical pass found wrong, and where. */
struct lex_fault {
	enum record_fault fault;
	size_t at;        /* offset of the offending text */
	size_t token_len; /* its length, for a number or an escape */
	const char *what;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool number_char(char c)
{
	return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* The number token at s[i] by RFC 8259's grammar:
 * -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * *end is set past the token (past all number characters when it is not
 * one: "01", "1.", "1.e5" are each one bad token). */
static bool number_ok(const char *s, size_t len, size_t i, size_t *end)
{
	size_t j = i;

	if (j < len && s[j] == '-')
		j++;
	if (j < len && s[j] == '0') {
		j++;
	} else if (j < len && s[j] >= '1' && s[j] <= '9') {
		while (j < len && is_digit(s[j]))
			j++;
	} else {
		goto bad;
	}
	if (j < len && s[j] == '.') {
		if (++j >= len || !is_digit(s[j]))
			goto bad;
		while (j < len && is_digit(s[j]))
			j++;
	}
	if (j < len && (s[j] == 'e' || s[j] == 'E')) {
		if (++j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j >= len || !is_digit(s[j]))
			goto bad;
		while (j < len && is_digit(s[j]))
			j++;
	}
	if (j < len && number_char(s[j]))
		goto bad;
	*end = j;
	return true;
bad:
	for (j = i; j < len && number_char(s[j]); j++)
		;
	*end = j;
	return false;
}

/* The code unit of the \uXXXX escape at s[i] (s[i] == '\\'), or -1 when
 * it is not one. */
static long u_escape(const char *s, size_t len, size_t i)
{
	long v = 0;

	if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u')
		return -1;
	for (size_t k = 2; k < 6; k++) {
		int h = hex_value(s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Bytes the lexical pass must look at, outside strings and in them; any
 * other byte is skipped by a table lookup (a record is mostly plain bytes). */
static const unsigned char outside_special[256] = {
	[0 ... 0x08] = 1, [0x0B ... 0x0C] = 1, [0x0E ... 0x1F] = 1, /* not \t \n \r */
	['"'] = 1, ['-'] = 1, ['+'] = 1, ['.'] = 1, ['0' ... '9'] = 1,
};
static const unsigned char inside_special[256] = {
	[0 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1,
};

/* What cJSON lets through and RFC 8259 / I-JSON do not, found in one pass
 * over the text before it is parsed: cJSON skips any byte up to 0x20 as
 * white space (the fuzzer found a record with 0x01 between members that
 * validate passed and route could not take apart), reads numbers with
 * strtod (so "01", "1." and "1.e5" passed and reached client queues byte
 * for byte), and turns \u0000 into a NUL that cuts every C-string check
 * short (two uids differing after it became one DynamoDB key). Also counts
 * the \u0000 escapes, which values may have. Returns true when the text is
 * clean. */
static bool lexical_check(const char *s, size_t len, bool nul_ok, struct lex_fault *f,
                          size_t *nul_escapes)
{
	bool in_string = false;

	*nul_escapes = 0;
	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			while (i < len && !outside_special[(unsigned char)s[i]])
				i++;
			if (i >= len)
				break;
			unsigned char c = (unsigned char)s[i];
			if (c == '"') {
				in_string = true;
			} else if (c >= 0x20) { /* "-", "+", "." or a digit */
				/* "+" and "." never start a JSON value: ".5", "+1" */
				size_t end;
				if (!number_ok(s, len, i, &end)) {
					*f = (struct lex_fault){RECORD_NUMBER, i, end - i, "number"};
					return false;
				}
				i = end - 1;
			} else {
				*f = (struct lex_fault){RECORD_SYNTAX, i, 1,
				                        "a control character outside a string"};
				return false;
			}
			continue;
		}
		while (i < len && !inside_special[(unsigned char)s[i]])
			i++;
		if (i >= len)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c == '"') {
			in_string = false;
		} else if (c < 0x20) {
			*f = (struct lex_fault){RECORD_SYNTAX, i, 1,
			                        "a raw control character in a string (it must be escaped)"};
			return false;
		} else {
			char e = i + 1 < len ? s[i + 1] : '\0';
			if (e != 'u') {
				if (!e || !strchr("\"\\/bfnrt", e)) {
					*f = (struct lex_fault){RECORD_SYNTAX, i, 1, "an unknown escape"};
					return false;
				}
				i++;
				continue;
			}
			long u = u_escape(s, len, i);
			if (u < 0) {
				*f = (struct lex_fault){RECORD_SYNTAX, i, 1,
				                        "a \\u escape without four hex digits"};
				return false;
			}
			if (u == 0) {
				if (!nul_ok) {
					*f = (struct lex_fault){RECORD_NUL_ESCAPE, i, 6, "nul"};
					return false;
				}
				++*nul_escapes;
			} else if (u >= 0xD800 && u <= 0xDBFF) {
				/* a high surrogate: a low one must follow at once */
				long lo = u_escape(s, len, i + 6);
				if (lo < 0xDC00 || lo > 0xDFFF) {
					*f = (struct lex_fault){RECORD_SURROGATE, i, 6, "high"};
					return false;
				}
				i += 6;
			} else if (u >= 0xDC00 && u <= 0xDFFF) {
				*f = (struct lex_fault){RECORD_SURROGATE, i, 6, "low"};
				return false;
			}
			i += 5;
		}
	}
	return true;
}

/* A person's sentence for a lexical fault. */
static void lex_reason(const char *s, const struct lex_fault *f, char *reason, size_t size)
{
	size_t col = f->at + 1;
	int n = f->token_len > 24 ? 24 : (int)f->token_len;

	switch (f->fault) {
	case RECORD_NUMBER:
		snprintf(reason, size,
		         "not JSON: '%.*s%s' at column %zu is not a number as RFC 8259 writes them "
		         "(no leading zeros, digits on both sides of '.', digits after 'e')",
		         n, s + f->at, (size_t)n < f->token_len ? "…" : "", col);
		break;
	case RECORD_SURROGATE:
		snprintf(reason, size,
		         "not I-JSON: the escape '%.*s' at column %zu is a lone %s surrogate (only a "
		         "pair \\uD800-\\uDBFF \\uDC00-\\uDFFF encodes a character)",
		         n, s + f->at, col, f->what);
		break;
	case RECORD_NUL_ESCAPE:
		snprintf(reason, size,
		         "\\u0000 at column %zu: a record may not contain the character U+0000 in a "
		         "string (it would cut the string short in the stages' checks)",
		         col);
		break;
	default:
		snprintf(reason, size, "not JSON: %s (byte 0x%02X) at column %zu", f->what,
		         (unsigned char)s[f->at], col);
	}
}

/* Names of an object's members, sorted, to find a repeated one among many. */
struct name_ref {
	const char *name;
	size_t index;
	const cJSON *item;
};

static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

#define PAIRWISE_MAX 16 /* up to this many members, compare each pair */

/* The first member of obj (in document order) whose name an earlier one
 * already has, or NULL. Names have no NUL (a record's "\u0000" is refused,
 * a value's is RECORD_NUL_CHAR), so strcmp compares them whole. */
static const cJSON *object_duplicate(const cJSON *obj)
{
	size_t n = 0;
	const cJSON *c, *found = NULL;

	for (c = obj->child; c; c = c->next)
		n++;
	if (n < 2)
		return NULL;
	if (n <= PAIRWISE_MAX) {
		/* Few members: each against those before it, by the first two
		 * bytes of the names first (the event's five differ there), so
		 * strcmp runs only on a likely repeat. */
		unsigned sig[PAIRWISE_MAX];
		size_t i = 0;
		for (c = obj->child; c; c = c->next, i++) {
			const unsigned char *k = (const unsigned char *)c->string;
			sig[i] = k[0] ? (unsigned)k[0] | (unsigned)k[1] << 8 : 0;
			size_t j = 0;
			for (const cJSON *p = obj->child; p != c; p = p->next, j++)
				if (sig[j] == sig[i] && strcmp(p->string, c->string) == 0)
					return c;
		}
		return NULL;
	}
	struct name_ref *refs = malloc(n * sizeof(*refs));
	if (!refs) { /* no memory: each against those before it */
		for (c = obj->child->next; c && !found; c = c->next)
			for (const cJSON *p = obj->child; p != c; p = p->next)
				if (strcmp(p->string, c->string) == 0) {
					found = c;
					break;
				}
		return found;
	}
	size_t i = 0;
	for (c = obj->child; c; c = c->next, i++)
		refs[i] = (struct name_ref){c->string, i, c};
	qsort(refs, n, sizeof(*refs), name_ref_cmp);
	size_t best = SIZE_MAX;
	for (i = 1; i < n; i++)
		if (strcmp(refs[i - 1].name, refs[i].name) == 0 && refs[i].index < best) {
			best = refs[i].index;
			found = refs[i].item;
		}
	free(refs);
	return found;
}

/* A member repeated in any object of the tree under v; *in is set to the
 * object that has it. depth guards the recursion (cJSON stops at
 * RECORD_MAX_DEPTH anyway). */
static const cJSON *find_duplicate(const cJSON *v, size_t depth, const cJSON **in)
{
	if (cJSON_IsObject(v)) {
		const cJSON *d = object_duplicate(v);
		if (d) {
			*in = v;
			return d;
		}
	}
	for (const cJSON *c = v->child; c; c = c->next) {
		if (!c->child || depth + 1 > RECORD_MAX_DEPTH)
			continue; /* a scalar or an empty container */
		const cJSON *d = find_duplicate(c, depth + 1, in);
		if (d)
			return d;
	}
	return NULL;
}

/* Appends the JSON pointer token of name (RFC 6901: "~" as "~0", "/" as "~1"). */
static size_t pointer_token(char *buf, size_t size, size_t at, const char *name)
{
	for (const char *p = name; *p && at + 3 < size; p++) {
		if (*p == '~' || *p == '/') {
			buf[at++] = '~';
			buf[at++] = *p == '~' ? '0' : '1';
		} else {
			buf[at++] = *p;
		}
	}
	buf[at] = '\0';
	return at;
}

/* The JSON pointer from v down to target, into buf (cut when long); only
 * asked once a repeat was found, so the search need not be cheap. */
static bool pointer_to(const cJSON *v, const cJSON *target, char *buf, size_t size, size_t *at,
                       size_t depth)
{
	if (v == target)
		return true;
	size_t k = 0, mark = *at;
	for (const cJSON *c = v->child; c; c = c->next, k++) {
		if (!c->child || depth + 1 > RECORD_MAX_DEPTH)
			continue;
		if (*at + 16 < size) {
			buf[(*at)++] = '/';
			if (cJSON_IsArray(v))
				*at += (size_t)snprintf(buf + *at, size - *at, "%zu", k);
			else
				*at = pointer_token(buf, size, *at, c->string);
		}
		if (pointer_to(c, target, buf, size, at, depth + 1))
			return true;
		*at = mark;
		buf[mark] = '\0';
	}
	return false;
}

static void duplicate_reason(const cJSON *root, const cJSON *obj, const cJSON *dup, char *reason,
                             size_t size)
{
	char ptr[512];
	size_t at = 0;

	ptr[0] = '\0';
	pointer_to(root, obj, ptr, sizeof(ptr), &at, 0);
	size_t nlen = strlen(dup->string);
	snprintf(reason, size,
	         "not I-JSON: the member name \"%.*s%s\" is repeated in the %s%s (names must be "
	         "unique: readers would disagree on which value counts)",
	         (int)(nlen > 64 ? 64 : nlen), dup->string, nlen > 64 ? "…" : "",
	         at ? "object at " : "top-level object", ptr);
}

/* The text with each \u0000 escape (in a string) replaced by
 * RECORD_NUL_CHAR; the text has passed lexical_check(). Caller frees. */
static char *map_nul_escapes(const char *s, size_t len, size_t *out_len)
{
	char *o = malloc(len + 1);
	size_t n = 0;
	bool in_string = false;

	if (!o)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string && c == '\\') {
			if (u_escape(s, len, i) == 0) {
				memcpy(o + n, RECORD_NUL_CHAR, 2);
				n += 2;
				i += 5;
			} else {
				o[n++] = c;
				o[n++] = s[++i];
			}
			continue;
		}
		if (c == '"')
			in_string = !in_string;
		o[n++] = c;
	}
	o[n] = '\0';
	*out_len = n;
	return o;
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

/* The common part of record_parse() and record_parse_text(): the lexical
 * pass, cJSON, what follows the value, repeated names. *at is where a
 * fault is. */
static cJSON *parse_json(const char *data, size_t len, bool record, enum record_fault *fault,
                         size_t *at, char *reason, size_t reason_size)
{
	struct lex_fault lf;
	size_t nuls, plen = len;
	const char *text = data, *end = NULL;
	char *mapped = NULL;
	cJSON *v;

	if (!lexical_check(data, len, !record, &lf, &nuls)) {
		*fault = lf.fault;
		*at = lf.at;
		lex_reason(data, &lf, reason, reason_size);
		/* The pass sees tokens, not structure: in text that is not JSON
		 * before the number ("{uid: 'not-json'}" has its '-' at column
		 * 11), the first fault is the syntax, and its code is json. */
		if (lf.fault == RECORD_NUMBER) {
			const char *stop = NULL;
			cJSON *tree = cJSON_ParseWithLengthOpts(data, len, &stop, false);
			if (!tree && stop && (size_t)(stop - data) < lf.at) {
				*fault = RECORD_SYNTAX;
				*at = (size_t)(stop - data);
				snprintf(reason, reason_size, "not JSON: syntax error at column %zu", *at + 1);
			}
			cJSON_Delete(tree);
		}
		return NULL;
	}
	if (nuls) {
		if (!(mapped = map_nul_escapes(data, len, &plen))) {
			*fault = RECORD_SYNTAX;
			*at = 0;
			snprintf(reason, reason_size, "out of memory");
			return NULL;
		}
		text = mapped;
	}
	v = cJSON_ParseWithLengthOpts(text, plen, &end, false);
	size_t off = end ? (size_t)(end - text) : 0;
	if (v) {
		/* cJSON stops after one value: anything but blanks after it is an error. */
		while (off < plen && (text[off] == ' ' || text[off] == '\t' || text[off] == '\r' ||
		                      text[off] == '\n'))
			off++;
	}
	if (mapped) {
		/* back to an offset in the caller's text: each stand-in was 6 bytes */
		size_t k = off, stand_ins = 0;
		for (size_t i = 0; i < k && i < plen; i++)
			stand_ins += (unsigned char)text[i] == 0xC0;
		off += 4 * stand_ins;
		free(mapped);
	}
	if (!v) {
		bool open_at_end;
		*fault = RECORD_SYNTAX;
		*at = off;
		if (scan_nesting(data, len, &open_at_end) > RECORD_MAX_DEPTH) {
			*fault = RECORD_TOO_DEEP;
			snprintf(reason, reason_size, "nested deeper than %d levels", RECORD_MAX_DEPTH);
		} else if (open_at_end) {
			*at = len;
			snprintf(reason, reason_size, "not JSON: the line ends before the value does "
			         "(truncated?) at column %zu", len + 1);
		} else {
			snprintf(reason, reason_size, "not JSON: syntax error at column %zu", off + 1);
		}
		return NULL;
	}
	if (off < len) {
		cJSON_Delete(v);
		*fault = RECORD_SYNTAX;
		*at = off;
		snprintf(reason, reason_size, "not JSON: unexpected text after the value at column %zu",
		         off + 1);
		return NULL;
	}
	if (v->child) {
		const cJSON *in = NULL;
		const cJSON *dup = find_duplicate(v, 0, &in);
		if (dup) {
			duplicate_reason(v, in, dup, reason, reason_size);
			cJSON_Delete(v);
			*fault = RECORD_DUPLICATE;
			*at = 0;
			return NULL;
		}
	}
	*fault = RECORD_OK;
	return v;
}

cJSON *record_parse(const struct record_line *line, bool want_object, enum record_fault *fault,
                    char *reason, size_t reason_size)
{
	size_t bad, at;
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
	v = parse_json(line->data, line->len, want_object, fault, &at, reason, reason_size);
	if (v && want_object && !cJSON_IsObject(v)) {
		*fault = RECORD_NOT_OBJECT;
		snprintf(reason, reason_size, "a record must be a JSON object, this is %s",
		         json_type_name(v));
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

cJSON *record_parse_text(const char *text, size_t len, size_t *error_at, char *reason,
                         size_t reason_size)
{
	enum record_fault fault;
	const char *nul = memchr(text, '\0', len);
	size_t bad = utf8_first_invalid(text, len);

	if (nul || bad != len) {
		*error_at = nul ? (size_t)(nul - text) : bad;
		snprintf(reason, reason_size, nul ? "contains a NUL byte" : "not valid UTF-8");
		return NULL;
	}
	return parse_json(text, len, false, &fault, error_at, reason, reason_size);
}

int record_write_line(FILE *out, const char *data, size_t len)
{
	if (fwrite(data, 1, len, out) != len || putc('\n', out) == EOF)
		return -1;
	return 0;
}

/* The characters of s[0..len) as they go between a JSON string's quotes:
 * invalid UTF-8 and NUL become U+FFFD, control characters are escaped. */
static int write_json_chars(FILE *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

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
		if (c >= 0x80 || c == 0) {
			size_t valid = c ? utf8_first_invalid(s + i, len - i) : 0;
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
	return 0;
}

int record_write_json_string(FILE *out, const char *s, size_t len)
{
	if (putc('"', out) == EOF || write_json_chars(out, s, len) < 0)
		return -1;
	return putc('"', out) == EOF ? -1 : 0;
}

/* How many bytes of s[0..len) fit in budget bytes once escaped by
 * write_json_chars(), cut between characters. */
static size_t escaped_fit(const char *s, size_t len, size_t budget)
{
	size_t i = 0, used = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t in = 1, cost;
		if (c >= 0x80) {
			in = utf8_sequence_len(s + i, len - i);
			cost = in ? in : 3; /* an invalid byte becomes U+FFFD */
			if (!in)
				in = 1;
		} else if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' ||
		           c == '\f') {
			cost = 2;
		} else if (c == 0) {
			cost = 3;
		} else {
			cost = c < 0x20 ? 6 : 1;
		}
		if (used + cost > budget)
			break;
		used += cost;
		i += in;
	}
	return i;
}

/* A string member of "_error", cut to budget bytes (escaped) with "…" at
 * the cut: what a stage may add to a record stays bounded however long
 * the text it quotes (a long member name in a pointer, a server's message). */
static int write_bounded_string(FILE *out, const char *s, size_t budget)
{
	size_t len = strlen(s), keep = escaped_fit(s, len, budget);

	if (keep < len)
		keep = escaped_fit(s, len, budget - 3);
	if (putc('"', out) == EOF || write_json_chars(out, s, keep) < 0 ||
	    (keep < len && fputs("\xE2\x80\xA6", out) == EOF))
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

/* The "_error" value: {"stage":…,"code":…,…}, at most RECORD_ERROR_MAX
 * bytes with its name and a comma. */
static int write_error_value(FILE *out, const struct record_error *err)
{
	const char *sep = "";

	if (putc('{', out) == EOF)
		return -1;
#define FIELD(name, val, budget)                                                                   \
	do {                                                                                       \
		if (val) {                                                                         \
			if (fprintf(out, "%s\"" name "\":", sep) < 0 ||                           \
			    write_bounded_string(out, val, budget) < 0)                            \
				return -1;                                                         \
			sep = ",";                                                                 \
		}                                                                                  \
	} while (0)
	FIELD("stage", err->stage, 128);
	FIELD("code", err->code, 128);
	FIELD("reason", err->reason, 2048);
	FIELD("keyword", err->keyword, 128);
	FIELD("pointer", err->pointer, 1024);
#undef FIELD
	if (err->retryable >= 0 &&
	    fprintf(out, "%s\"retryable\":%s", sep, err->retryable ? "true" : "false") < 0)
		return -1;
	if (err->lineno && fprintf(out, ",\"line\":%lu", err->lineno) < 0)
		return -1;
	return putc('}', out) == EOF ? -1 : 0;
}

static int write_error_object(FILE *out, const struct record_error *err)
{
	if (fputs("\"_error\":", out) == EOF)
		return -1;
	return write_error_value(out, err);
}

static bool json_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && json_blank(s[i]))
		i++;
	return i;
}

/* Past the string whose opening quote is at s[i]. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return len;
}

/* Past the JSON value that starts at s[i] (no blanks before it). In text
 * that is not JSON it stops somewhere at or before len. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return len;
	if (s[i] == '"')
		return skip_string(s, len, i);
	if (s[i] != '{' && s[i] != '[') { /* a number or a literal */
		while (i < len && !json_blank(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']')
			i++;
		return i;
	}
	for (; i < len; i++) {
		char c = s[i];
		if (c == '"') {
			i = skip_string(s, len, i) - 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return len;
}

/* True when the raw text of a member name (between its quotes) names key. */
static bool name_is(const char *raw, size_t n, const char *key)
{
	size_t klen = strlen(key);

	if (!memchr(raw, '\\', n))
		return n == klen && memcmp(raw, key, n) == 0;
	/* escaped ("\u005ferror"): let the parser decode it (rare) */
	cJSON *v = cJSON_ParseWithLength(raw - 1, n + 2);
	bool same = cJSON_IsString(v) && strcmp(v->valuestring, key) == 0;
	cJSON_Delete(v);
	return same;
}

const char *record_member(const char *text, size_t len, const char *key, size_t *vlen,
                          size_t *member_at)
{
	size_t i = skip_blanks(text, len, 0);
	const char *found = NULL;

	if (i >= len || text[i] != '{')
		return NULL;
	for (i++;;) {
		i = skip_blanks(text, len, i);
		if (i >= len || text[i] != '"')
			break;
		size_t k0 = i, k1 = skip_string(text, len, i);
		i = skip_blanks(text, len, k1);
		if (i >= len || text[i] != ':')
			break;
		i = skip_blanks(text, len, i + 1);
		size_t v0 = i, v1 = skip_value(text, len, i);
		if (k1 - k0 >= 2 && name_is(text + k0 + 1, k1 - k0 - 2, key)) {
			found = text + v0;
			*vlen = v1 - v0;
			if (member_at)
				*member_at = k0;
		}
		i = skip_blanks(text, len, v1);
		if (i >= len || text[i] != ',')
			break;
		i++;
	}
	return found;
}

/* Depth of brackets open at s[at], strings skipped. */
static size_t depth_at(const char *s, size_t at)
{
	size_t depth = 0;

	for (size_t i = 0; i < at; i++) {
		if (s[i] == '"')
			i = skip_string(s, at, i) - 1;
		else if (s[i] == '{' || s[i] == '[')
			depth++;
		else if ((s[i] == '}' || s[i] == ']') && depth > 0)
			depth--;
	}
	return depth;
}

#define SRC_MAX 4096 /* a "_src" value longer than this is not kcat-in's */

const char *record_salvage_src(const struct record_line *line, size_t *vlen)
{
	bool whole = !line->too_long;
	const char *s = whole ? line->data : line->tail;
	size_t len = whole ? line->len : line->tail_len;
	static const char name[] = "\"_src\"";

	if (!s || len < sizeof(name))
		return NULL;
	for (size_t p = len - (sizeof(name) - 1) + 1; p-- > 0;) {
		if (memcmp(s + p, name, sizeof(name) - 1) != 0)
			continue;
		/* Inside a string a quote is always escaped, so a quote right
		 * after "{" or "," (blanks between) starts a member name. */
		size_t b = p;
		while (b > 0 && json_blank(s[b - 1]))
			b--;
		if (b == 0 || (s[b - 1] != ',' && s[b - 1] != '{'))
			continue;
		size_t i = skip_blanks(s, len, p + sizeof(name) - 1);
		if (i >= len || s[i] != ':')
			continue;
		i = skip_blanks(s, len, i + 1);
		if (i >= len || s[i] != '{')
			continue;
		size_t end = skip_value(s, len, i);
		if (end - i > SRC_MAX || s[end - 1] != '}')
			continue;
		if (whole && depth_at(s, p) != 1)
			continue;
		struct record_line v = {.data = s + i, .len = end - i};
		enum record_fault fault;
		char why[8];
		cJSON *obj = record_parse(&v, true, &fault, why, sizeof(why));
		if (!obj)
			continue;
		cJSON_Delete(obj);
		*vlen = end - i;
		return s + i;
	}
	return NULL;
}

int record_write_marked(FILE *out, const struct record_line *line, cJSON *obj,
                        const struct record_error *err)
{
	if (obj && cJSON_GetObjectItemCaseSensitive(obj, "_error")) {
		/* Re-marking: the new value goes over the old one's text; the
		 * rest of the record stays as it was, byte for byte. */
		size_t vlen;
		const char *old = record_member(line->data, line->len, "_error", &vlen, NULL);
		if (!old) {
			errno = EINVAL;
			return -1;
		}
		size_t head = (size_t)(old - line->data), rest = head + vlen;
		if (fwrite(line->data, 1, head, out) != head || write_error_value(out, err) < 0 ||
		    record_write_line(out, line->data + rest, line->len - rest) < 0)
			return -1;
		return 0;
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

	size_t keep = line->len, srclen = 0;
	const char *src = record_salvage_src(line, &srclen);
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
	if (src && (fputs(",\"_src\":", out) == EOF || fwrite(src, 1, srclen, out) != srclen))
		return -1;
	if (putc(',', out) == EOF || write_error_object(out, err) < 0 || fputs("}\n", out) == EOF)
		return -1;
	return 0;
}
