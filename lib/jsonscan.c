/* One pass over the bytes, with the open brackets on a small stack: no
 * allocation, no tree. See jsonscan.h for what a "yes" promises. */
#include "jsonscan.h"

#include <stdint.h>
#include <string.h>

#include "hex.h"
#include "record.h"
#include "utf8.h"

/* cJSON copies a number into a 64-byte buffer before strtod(): a longer one
 * fails there, so it is not vouched for. */
#define CJSON_NUMBER_MAX 63

typedef const unsigned char *cursor;

static bool digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Blanks; a line break among them is noted, since a record must be one line. */
static cursor blanks(cursor p, cursor end, bool *line_break)
{
	for (; p < end; p++) {
		if (*p == '\n' || *p == '\r')
			*line_break = true;
		else if (*p != ' ' && *p != '\t')
			break;
	}
	return p;
}

/* Eight bytes at a time: which of them need a closer look (a quote, a
 * backslash, a control byte, or a byte of a multi-byte UTF-8 sequence)?
 * Payloads are mostly plain ASCII text, and this is where kcat-in spends
 * its time. The classic bit tricks, "a byte below n" and "a byte equal to
 * c": the result has the high bit set in every such byte, and perhaps in
 * some bytes after the first one (a borrow), but never before it, so the
 * lowest one found is exact. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static uint64_t special_bytes(cursor p)
{
	uint64_t x, quote, slash;

	memcpy(&x, p, 8);
	quote = x ^ (ONES * '"');
	slash = x ^ (ONES * '\\');
	return ((x - ONES * 0x20) | ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) | x) & HIGHS;
}

/* The index of the first flagged byte of a non-zero special_bytes(). */
static size_t first_special(uint64_t flags)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (size_t)__builtin_clzll(flags) / 8;
#else
	return (size_t)__builtin_ctzll(flags) / 8;
#endif
}

static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The byte at p inside a string that is neither plain nor the closing
 * quote: an escape, a control byte, or the start of a multi-byte UTF-8
 * sequence. Returns the byte after it, or NULL. Out of line, so that the
 * loop over plain bytes stays small. */
static __attribute__((noinline)) cursor string_special(cursor p, cursor end, bool *escaped)
{
	unsigned char c = *p;

	if (c == '\\') {
		*escaped = true;
		if (end - p < 2)
			return NULL;
		if (p[1] == 'u') {
			unsigned code = 0;
			if (end - p < 6)
				return NULL;
			for (int i = 2; i < 6; i++) {
				int h = hex_value(p[i]);
				if (h < 0)
					return NULL;
				code = code << 4 | (unsigned)h;
			}
			/* cJSON insists that surrogates come in proper pairs; the
			 * RFC does not, and records refuse lone ones; and U+0000 is
			 * refused in records: leave all of these to record_parse */
			if ((code >= 0xD800 && code <= 0xDFFF) || code == 0)
				return NULL;
			return p + 6;
		}
		if (p[1] && strchr("\"\\/bfnrt", p[1]))
			return p + 2;
		return NULL;
	}
	if (c < 0x20)
		return NULL; /* a raw control byte, NUL included */
	size_t n = utf8_sequence_len((const char *)p, (size_t)(end - p));
	return n ? p + n : NULL;
}

/* A string starting at its opening quote; returns the byte after the closing
 * one, or NULL. *escaped tells whether it held a backslash. Inlined: it is
 * called for every name and most values, and most are short. */
static inline __attribute__((always_inline)) cursor string(cursor p, cursor end, bool *escaped)
{
	for (p++;;) {
		uint64_t flags = 0;
		while (end - p >= 8 && !(flags = special_bytes(p)))
			p += 8;
		if (flags)
			p += first_special(flags);
		else
			while (p < end && plain(*p))
				p++;
		if (p == end)
			return NULL;
		if (*p == '"')
			return p + 1;
		p = string_special(p, end, escaped);
		if (!p)
			return NULL;
	}
}

/* A number by the RFC's grammar; returns the byte after it, or NULL. */
static cursor number(cursor p, cursor end)
{
	cursor start = p;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && digit(*p))
			p++;
	else
		return NULL;
	if (p < end && *p == '.') {
		if (++p == end || !digit(*p))
			return NULL;
		while (p < end && digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !digit(*p))
			return NULL;
		while (p < end && digit(*p))
			p++;
	}
	return p - start <= CJSON_NUMBER_MAX ? p : NULL;
}

/* A member name as it is written, quotes left out. */
struct name {
	cursor at;
	size_t len;
};

/* True when the name at[0..len) repeats one of names[from..n). Raw bytes
 * are compared, which is exact because names with escapes never get here.
 * An object has a handful of names, so a plain list: length first, which
 * settles most pairs of an event's names. */
static bool repeated(const struct name *names, size_t from, size_t n, cursor at, size_t len)
{
	for (size_t i = from; i < n; i++)
		if (names[i].len == len && memcmp(names[i].at, at, len) == 0)
			return true;
	return false;
}

static cursor literal(cursor p, cursor end, const char *word, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

bool json_scan(const char *s, size_t len, struct json_scan *scan)
{
	cursor base = (cursor)s, p = base, end = base + len;
	unsigned char open[RECORD_MAX_DEPTH]; /* '{' or '[' per level */
	/* the names of the open objects; an object's own start at names_from[depth] */
	struct name names[JSON_SCAN_NAMES];
	unsigned char names_from[RECORD_MAX_DEPTH];
	size_t depth = 0, nnames = 0;
	bool src_next = false, ignored = false;

	memset(scan, 0, sizeof(*scan));
	p = blanks(p, end, &ignored);
	scan->begin = (size_t)(p - base);

value: /* a value starts at p */
	if (p == end)
		return false;
	switch (*p) {
	case '{':
	case '[':
		if (depth == RECORD_MAX_DEPTH)
			return false;
		if (depth == 0 && *p == '{')
			scan->object = true;
		names_from[depth] = (unsigned char)nnames;
		open[depth++] = *p++;
		p = blanks(p, end, &scan->multiline);
		if (p < end && *p == (open[depth - 1] == '{' ? '}' : ']')) {
			p++;
			depth--;
			goto after;
		}
		if (open[depth - 1] == '{')
			goto name;
		goto value;
	case '"': {
		bool escaped = false;
		p = string(p, end, &escaped);
		break;
	}
	case 't':
		p = literal(p, end, "true", 4);
		break;
	case 'f':
		p = literal(p, end, "false", 5);
		break;
	case 'n':
		p = literal(p, end, "null", 4);
		break;
	default:
		p = number(p, end);
	}
	if (!p)
		return false;
	goto after;

name: /* a member's name starts at p */
	if (p == end || *p != '"')
		return false;
	{
		cursor at = p;
		bool escaped = false;
		p = string(p, end, &escaped);
		if (!p)
			return false;
		/* "\u005fsrc" is "_src" too, and "a\u0062" repeats "ab": rare
		 * enough not to decode here */
		if (escaped)
			return false;
		size_t nlen = (size_t)(p - at) - 2;
		if (nnames == JSON_SCAN_NAMES ||
		    repeated(names, names_from[depth - 1], nnames, at + 1, nlen))
			return false;
		names[nnames++] = (struct name){at + 1, nlen};
		if (depth == 1) {
			scan->members = true;
			src_next = nlen == 4 && memcmp(at + 1, "_src", 4) == 0;
			if (at[1] == '_' && !scan->reserved) {
				scan->reserved = true;
				scan->reserved_begin = (size_t)(at + 1 - base);
				scan->reserved_end = (size_t)(p - 1 - base);
			}
		}
	}
	p = blanks(p, end, &scan->multiline);
	if (p == end || *p != ':')
		return false;
	p = blanks(p + 1, end, &scan->multiline);
	if (src_next && depth == 1)
		scan->src_begin = (size_t)(p - base);
	goto value;

after: /* a value ended just before p */
	if (src_next && depth == 1) {
		scan->src = true;
		scan->src_end = (size_t)(p - base);
		src_next = false;
	}
	if (depth == 0) {
		scan->end = (size_t)(p - base);
		return blanks(p, end, &ignored) == end;
	}
	p = blanks(p, end, &scan->multiline);
	if (p == end)
		return false;
	if (*p == ',') {
		p = blanks(p + 1, end, &scan->multiline);
		if (open[depth - 1] == '{')
			goto name;
		goto value;
	}
	if (*p == (open[depth - 1] == '{' ? '}' : ']')) {
		p++;
		depth--;
		nnames = names_from[depth]; /* the object's names go with it */
		goto after;
	}
	return false;
}
