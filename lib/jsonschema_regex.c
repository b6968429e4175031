/* ECMA-262 patterns on PCRE2: a one-pass translator that is also the syntax
 * checker of format "regex".
 *
 * The translator never copies pattern text blindly: every literal character
 * that is not an ASCII letter or digit is written as \x{...}, so nothing can
 * take a PCRE2-only meaning (POSIX classes inside [...], \Q, a '#' comment...).
 * It walks the pattern once with a nesting counter instead of recursion, so a
 * hostile pattern cannot exhaust the stack here; PCRE2 has its own limits. */
#include "jsonschema_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "record.h"
#include "utf8.h"

struct jsonschema_regex {
	pcre2_code *code;
};

struct jsonschema_regex_scratch {
	pcre2_match_data *md;
};

/* ECMA-262 WhiteSpace and LineTerminator, as PCRE2 class items: \p{Z} is
 * Zs plus U+2028 and U+2029. \v would be PCRE2's vertical-space class. */
#define WS_ITEMS "\\t\\n\\x{b}\\f\\r\\x{feff}\\p{Z}"

/* Output of the translator: a growing buffer, or only a length when the
 * caller just wants the syntax checked. */
struct out {
	char *p;
	size_t len, cap;
	bool count_only, oom;
};

struct tr {
	const unsigned char *s;
	size_t len, pos;
	struct out o;
	unsigned ngroups;           /* capturing groups in the whole pattern */
	size_t names[64], name_lens[64]; /* offsets of group names, for \k */
	unsigned nnames;
	bool names_overflow;
	char *err;
	size_t errsize;
	bool failed;
};

static void fail(struct tr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct tr *t, const char *fmt, ...)
{
	if (t->failed)
		return;
	t->failed = true;
	if (t->err && t->errsize) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->err, t->errsize, fmt, ap);
		va_end(ap);
	}
}

static void emit_n(struct tr *t, const char *s, size_t n)
{
	struct out *o = &t->o;

	if (!o->count_only && !o->oom) {
		if (o->len + n + 1 > o->cap) {
			size_t cap = o->cap ? o->cap : 64;
			while (cap < o->len + n + 1)
				cap *= 2;
			char *p = realloc(o->p, cap);
			if (!p) {
				o->oom = true;
				fail(t, "out of memory");
				return;
			}
			o->p = p;
			o->cap = cap;
		}
		memcpy(o->p + o->len, s, n);
		o->p[o->len + n] = '\0';
	}
	o->len += n;
}

static void emit(struct tr *t, const char *s)
{
	emit_n(t, s, strlen(s));
}

/* A literal code point: letters and digits as themselves, the rest as \x{}. */
static void emit_cp(struct tr *t, uint32_t cp)
{
	char buf[16];

	if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) {
		buf[0] = (char)cp;
		emit_n(t, buf, 1);
		return;
	}
	snprintf(buf, sizeof(buf), "\\x{%x}", (unsigned)cp);
	emit(t, buf);
}

/* Decodes the code point at t->pos without consuming it; 0 bytes at the end
 * or on invalid UTF-8 (which fails the translation). */
static size_t peek_cp(struct tr *t, uint32_t *cp)
{
	const unsigned char *s = t->s + t->pos;
	size_t left = t->len - t->pos, n;

	if (left == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
	if (n > left || !utf8_valid((const char *)s, n)) {
		fail(t, "the pattern is not valid UTF-8");
		return 0;
	}
	if (n == 2)
		*cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
	else if (n == 3)
		*cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
	else
		*cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
		      (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
	return n;
}

static int peek(const struct tr *t, size_t ahead)
{
	return t->pos + ahead < t->len ? t->s[t->pos + ahead] : -1;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* n hex digits at t->pos, consumed; -1 when they are not there. */
static long hex_digits(struct tr *t, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		int h = hex_value(peek(t, (size_t)i));
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	t->pos += (size_t)n;
	return v;
}

static bool is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_name_char(int c)
{
	return is_name_start(c) || is_digit(c);
}

/* A group name at t->pos up to '>', consumed with the '>'; its length, or 0
 * on a syntax error. */
static size_t group_name(struct tr *t)
{
	size_t start = t->pos;

	if (!is_name_start(peek(t, 0))) {
		fail(t, "invalid group name at offset %zu", t->pos);
		return 0;
	}
	while (is_name_char(peek(t, 0)))
		t->pos++;
	if (peek(t, 0) != '>') {
		fail(t, "invalid group name at offset %zu", start);
		return 0;
	}
	t->pos++;
	return t->pos - 1 - start;
}

/* Counts capturing groups and records names before translating, because
 * ECMA-262 lets a backreference come before the group it names. */
static void prescan(struct tr *t)
{
	bool in_class = false;

	for (size_t i = 0; i < t->len; i++) {
		unsigned char c = t->s[i];
		if (c == '\\') {
			i++;
		} else if (in_class) {
			if (c == ']')
				in_class = false;
		} else if (c == '[') {
			in_class = true;
		} else if (c == '(') {
			if (i + 1 < t->len && t->s[i + 1] == '?') {
				if (i + 2 < t->len && t->s[i + 2] == '<' && i + 3 < t->len &&
				    t->s[i + 3] != '=' && t->s[i + 3] != '!') {
					size_t start = i + 3, end = start;
					while (end < t->len && t->s[end] != '>')
						end++;
					if (t->nnames < 64) {
						t->names[t->nnames] = start;
						t->name_lens[t->nnames++] = end - start;
					} else {
						t->names_overflow = true;
					}
					t->ngroups++;
				}
			} else {
				t->ngroups++;
			}
		}
	}
}

/* Which names are defined: by offset into the pattern. */
static int find_name(const struct tr *t, size_t off, size_t n)
{
	int found = 0;

	for (unsigned i = 0; i < t->nnames; i++)
		if (t->name_lens[i] == n && memcmp(t->s + t->names[i], t->s + off, n) == 0)
			found++;
	return found;
}

/* General_Category values: short name (what PCRE2 knows), long name, alias. */
static const char *const gc_names[][3] = {
	{"C", "Other", NULL},
	{"Cc", "Control", "cntrl"},
	{"Cf", "Format", NULL},
	{"Cn", "Unassigned", NULL},
	{"Co", "Private_Use", NULL},
	{"Cs", "Surrogate", NULL},
	{"L", "Letter", NULL},
	{"L&", "Cased_Letter", "LC"},
	{"Ll", "Lowercase_Letter", NULL},
	{"Lm", "Modifier_Letter", NULL},
	{"Lo", "Other_Letter", NULL},
	{"Lt", "Titlecase_Letter", NULL},
	{"Lu", "Uppercase_Letter", NULL},
	{"M", "Mark", "Combining_Mark"},
	{"Mc", "Spacing_Mark", NULL},
	{"Me", "Enclosing_Mark", NULL},
	{"Mn", "Nonspacing_Mark", NULL},
	{"N", "Number", NULL},
	{"Nd", "Decimal_Number", "digit"},
	{"Nl", "Letter_Number", NULL},
	{"No", "Other_Number", NULL},
	{"P", "Punctuation", "punct"},
	{"Pc", "Connector_Punctuation", NULL},
	{"Pd", "Dash_Punctuation", NULL},
	{"Pe", "Close_Punctuation", NULL},
	{"Pf", "Final_Punctuation", NULL},
	{"Pi", "Initial_Punctuation", NULL},
	{"Po", "Other_Punctuation", NULL},
	{"Ps", "Open_Punctuation", NULL},
	{"S", "Symbol", NULL},
	{"Sc", "Currency_Symbol", NULL},
	{"Sk", "Modifier_Symbol", NULL},
	{"Sm", "Math_Symbol", NULL},
	{"So", "Other_Symbol", NULL},
	{"Z", "Separator", NULL},
	{"Zl", "Line_Separator", NULL},
	{"Zp", "Paragraph_Separator", NULL},
	{"Zs", "Space_Separator", NULL},
};

static bool span_is(const unsigned char *s, size_t n, const char *word)
{
	return word && strlen(word) == n && memcmp(s, word, n) == 0;
}

static const char *gc_short(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(gc_names) / sizeof(gc_names[0]); i++)
		if ((span_is(s, n, gc_names[i][0]) && gc_names[i][0][1] != '&') ||
		    span_is(s, n, gc_names[i][1]) || span_is(s, n, gc_names[i][2]))
			return gc_names[i][0];
	return NULL;
}

/* \p{...} or \P{...} after the letter: ECMA-262's property syntax
 * (Name=Value for General_Category, Script and Script_Extensions, or a lone
 * category or binary property) into PCRE2's. */
static void property(struct tr *t, bool negated)
{
	char buf[96];
	size_t name, name_len, value = 0, value_len = 0;

	if (peek(t, 0) != '{') {
		fail(t, "\\%c must be followed by {property} at offset %zu", negated ? 'P' : 'p', t->pos);
		return;
	}
	t->pos++;
	name = t->pos;
	while (is_name_char(peek(t, 0)))
		t->pos++;
	name_len = t->pos - name;
	if (peek(t, 0) == '=') {
		t->pos++;
		value = t->pos;
		while (is_name_char(peek(t, 0)))
			t->pos++;
		value_len = t->pos - value;
	}
	if (peek(t, 0) != '}' || name_len == 0 || name_len > 40 || value_len > 40 ||
	    (value && value_len == 0)) {
		fail(t, "invalid Unicode property at offset %zu", name);
		return;
	}
	t->pos++;
	const unsigned char *n = t->s + name, *v = t->s + value;
	const char *gc;
	char p = negated ? 'P' : 'p';
	if (!value) {
		gc = gc_short(n, name_len);
		if (gc)
			snprintf(buf, sizeof(buf), "\\%c{%s}", p, gc);
		else /* a binary property: PCRE2 knows the common ones by name */
			snprintf(buf, sizeof(buf), "\\%c{%.*s}", p, (int)name_len, (const char *)n);
	} else if (span_is(n, name_len, "General_Category") || span_is(n, name_len, "gc")) {
		gc = gc_short(v, value_len);
		if (!gc) {
			fail(t, "unknown General_Category value \"%.*s\"", (int)value_len, (const char *)v);
			return;
		}
		snprintf(buf, sizeof(buf), "\\%c{%s}", p, gc);
	} else if (span_is(n, name_len, "Script") || span_is(n, name_len, "sc")) {
		snprintf(buf, sizeof(buf), "\\%c{sc:%.*s}", p, (int)value_len, (const char *)v);
	} else if (span_is(n, name_len, "Script_Extensions") || span_is(n, name_len, "scx")) {
		snprintf(buf, sizeof(buf), "\\%c{scx:%.*s}", p, (int)value_len, (const char *)v);
	} else {
		fail(t, "unknown Unicode property \"%.*s\"", (int)name_len, (const char *)n);
		return;
	}
	emit(t, buf);
}

/* A character escape after the backslash (ECMA-262 CharacterEscape): the
 * code point, or -1 after failing. in_class allows "\-" and "\b". */
static long char_escape(struct tr *t, int c, bool in_class)
{
	long v;

	switch (c) {
	case 'f':
		return 0x0C;
	case 'n':
		return 0x0A;
	case 'r':
		return 0x0D;
	case 't':
		return 0x09;
	case 'v':
		return 0x0B;
	case 'b':
		if (in_class)
			return 0x08;
		break;
	case 'c': {
		int l = peek(t, 0);
		if ((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')) {
			t->pos++;
			return l % 32;
		}
		fail(t, "\\c must be followed by a letter at offset %zu", t->pos);
		return -1;
	}
	case '0':
		if (is_digit(peek(t, 0))) {
			fail(t, "octal escapes are not allowed (offset %zu)", t->pos);
			return -1;
		}
		return 0;
	case 'x':
		v = hex_digits(t, 2);
		if (v < 0)
			fail(t, "\\x must be followed by two hex digits (offset %zu)", t->pos);
		return v;
	case 'u':
		if (peek(t, 0) == '{') {
			size_t start = ++t->pos;
			v = 0;
			while (hex_value(peek(t, 0)) >= 0 && v <= 0x10FFFF)
				v = v * 16 + hex_value(t->s[t->pos++]);
			if (t->pos == start || peek(t, 0) != '}' || v > 0x10FFFF) {
				fail(t, "invalid \\u{...} escape at offset %zu", start);
				return -1;
			}
			t->pos++;
			return v;
		}
		v = hex_digits(t, 4);
		if (v < 0) {
			fail(t, "\\u must be followed by four hex digits (offset %zu)", t->pos);
			return -1;
		}
		/* A UTF-16 surrogate pair written as two escapes is one code point. */
		if (v >= 0xD800 && v <= 0xDBFF && peek(t, 0) == '\\' && peek(t, 1) == 'u') {
			size_t save = t->pos;
			t->pos += 2;
			long lo = hex_digits(t, 4);
			if (lo >= 0xDC00 && lo <= 0xDFFF)
				return 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
			t->pos = save;
		}
		return v;
	default:
		break;
	}
	/* Identity escapes: ASCII punctuation stands for itself. ECMA-262 allows
	 * only its syntax characters and '/' (and '-' in a class); other
	 * punctuation is accepted too, as it cannot mean anything else. */
	if (c > 0x20 && c < 0x7F && !is_name_char(c))
		return c;
	if (c == '_' || c == '$')
		return c;
	fail(t, "\\%c is not an ECMA-262 escape (offset %zu)", c, t->pos - 1);
	return -1;
}

/* One item of a class: a code point (*cp) or a class escape (its letter in
 * *cls). Returns 1 for a code point, 2 for a class escape, 0 on error. A
 * property escape is translated and emitted at once (cls 'p'). */
static int class_atom(struct tr *t, uint32_t *cp, int *cls)
{
	uint32_t c;
	size_t n = peek_cp(t, &c);

	if (n == 0) {
		if (!t->failed)
			fail(t, "missing ] at the end of the pattern");
		return 0;
	}
	t->pos += n;
	if (c != '\\') {
		*cp = c;
		return 1;
	}
	int e = peek(t, 0);
	if (e < 0) {
		fail(t, "\\ at the end of the pattern");
		return 0;
	}
	t->pos++;
	switch (e) {
	case 'd':
	case 'D':
	case 'w':
	case 'W':
	case 's':
	case 'S':
		*cls = e;
		return 2;
	case 'p':
	case 'P':
		property(t, e == 'P');
		*cls = 'p';
		return t->failed ? 0 : 2;
	case '-':
		*cp = '-';
		return 1;
	default:
		break;
	}
	if (is_digit(e) && e != '0') {
		fail(t, "backreference inside a character class (offset %zu)", t->pos - 1);
		return 0;
	}
	long v = char_escape(t, e, true);
	if (v < 0)
		return 0;
	*cp = (uint32_t)v;
	return 1;
}

/* Emits one class escape as class items (without brackets). \S is handled
 * by the caller, since PCRE2 cannot negate a union inside a class. */
static void emit_class_escape(struct tr *t, int cls)
{
	switch (cls) {
	case 'd':
		emit(t, "0-9");
		break;
	case 'D':
		emit(t, "\\D");
		break;
	case 'w':
		emit(t, "\\w");
		break;
	case 'W':
		emit(t, "\\W");
		break;
	case 's':
		emit(t, WS_ITEMS);
		break;
	default: /* 'p': already emitted */
		break;
	}
}

/* A class after '['. ECMA-262 "[]" matches nothing and "[^]" anything;
 * [..\S..] becomes an alternation because \S is a negated union. */
static void char_class(struct tr *t)
{
	bool negated = false, has_S = false;
	size_t items_start, nitems = 0;

	if (peek(t, 0) == '^') {
		negated = true;
		t->pos++;
	}
	if (peek(t, 0) == ']') {
		t->pos++;
		emit(t, negated ? "[\\x{0}-\\x{10ffff}]" : "(?!)");
		return;
	}
	/* Look ahead for \S to choose the shape before emitting anything. */
	for (size_t i = t->pos; i < t->len && t->s[i] != ']'; i++) {
		if (t->s[i] == '\\' && i + 1 < t->len) {
			has_S |= t->s[i + 1] == 'S';
			i++;
		}
	}
	if (has_S)
		emit(t, negated ? "(?:(?![" : "(?:[");
	else
		emit(t, negated ? "[^" : "[");
	items_start = t->o.len;
	for (;;) {
		uint32_t a, b;
		int cls = 0, cls2 = 0, kind, kind2;

		if (peek(t, 0) == ']') {
			t->pos++;
			break;
		}
		kind = class_atom(t, &a, &cls);
		if (!kind)
			return;
		if (peek(t, 0) == '-' && peek(t, 1) != ']' && peek(t, 1) >= 0) {
			t->pos++;
			kind2 = class_atom(t, &b, &cls2);
			if (!kind2)
				return;
			if (kind == 2 || kind2 == 2) {
				fail(t, "a class escape cannot bound a range (offset %zu)", t->pos);
				return;
			}
			if (a > b) {
				fail(t, "range out of order in character class (offset %zu)", t->pos);
				return;
			}
			emit_cp(t, a);
			emit(t, "-");
			emit_cp(t, b);
			nitems++;
			continue;
		}
		if (kind == 2 && cls == 'S')
			continue; /* added after the class, below */
		if (kind == 2)
			emit_class_escape(t, cls);
		else
			emit_cp(t, a);
		nitems++;
	}
	if (!has_S) {
		emit(t, "]");
		return;
	}
	if (negated) {
		/* not (A or non-space) = a space that is not in A */
		if (nitems == 0) {
			t->o.len = items_start - strlen("(?:(?![");
			emit(t, "(?:[" WS_ITEMS "])");
		} else {
			emit(t, "])[" WS_ITEMS "])");
		}
	} else if (nitems == 0) {
		t->o.len = items_start - 1;
		emit(t, "[^" WS_ITEMS "])");
	} else {
		emit(t, "]|[^" WS_ITEMS "])");
	}
}

/* {n}, {n,} or {n,m} at t->pos ('{' included): true and consumed when it is
 * one; *bad set when it looks like one but n > m. */
static bool brace_quantifier(struct tr *t, unsigned long *lo, unsigned long *hi, bool *has_hi)
{
	size_t i = t->pos + 1;
	unsigned long a = 0, b = 0;

	if (i >= t->len || !is_digit(t->s[i]))
		return false;
	while (i < t->len && is_digit(t->s[i]))
		a = a < 100000000 ? a * 10 + (t->s[i++] - '0') : (i++, a);
	*has_hi = true;
	if (i < t->len && t->s[i] == ',') {
		i++;
		if (i < t->len && is_digit(t->s[i])) {
			while (i < t->len && is_digit(t->s[i]))
				b = b < 100000000 ? b * 10 + (t->s[i++] - '0') : (i++, b);
		} else {
			*has_hi = false;
		}
	} else {
		b = a;
	}
	if (i >= t->len || t->s[i] != '}')
		return false;
	t->pos = i + 1;
	*lo = a;
	*hi = b;
	return true;
}

static void translate(struct tr *t)
{
	unsigned depth = 0;
	bool atom = false; /* the previous item can take a quantifier */
	char buf[64];

	prescan(t);
	while (t->pos < t->len && !t->failed) {
		uint32_t c;
		size_t n = peek_cp(t, &c);
		if (n == 0)
			return;
		t->pos += n;
		switch (c) {
		case '|':
			emit(t, "|");
			atom = false;
			break;
		case '(':
			if (peek(t, 0) == '?') {
				int k = peek(t, 1), k2 = peek(t, 2);
				if (k == ':' || k == '=' || k == '!') {
					t->pos += 2;
					emit(t, k == ':' ? "(?:" : k == '=' ? "(?=" : "(?!");
				} else if (k == '<' && (k2 == '=' || k2 == '!')) {
					t->pos += 3;
					emit(t, k2 == '=' ? "(?<=" : "(?<!");
				} else if (k == '<') {
					t->pos += 2;
					size_t start = t->pos, nl = group_name(t);
					if (!nl)
						return;
					if (find_name(t, start, nl) > 1) {
						fail(t, "duplicate group name \"%.*s\"", (int)nl,
						     (const char *)t->s + start);
						return;
					}
					emit(t, "(?<");
					emit_n(t, (const char *)t->s + start, nl);
					emit(t, ">");
				} else {
					fail(t, "(? at offset %zu is not an ECMA-262 group", t->pos - 1);
					return;
				}
			} else {
				emit(t, "(");
			}
			depth++;
			atom = false;
			break;
		case ')':
			if (depth == 0) {
				fail(t, "unmatched ) at offset %zu", t->pos - 1);
				return;
			}
			depth--;
			emit(t, ")");
			atom = true;
			break;
		case '*':
		case '+':
		case '?':
		case '{': {
			unsigned long lo = 0, hi = 0;
			bool has_hi = true;
			if (c == '{') {
				t->pos--;
				if (!brace_quantifier(t, &lo, &hi, &has_hi)) {
					fail(t, "lone { at offset %zu (escape it as \\{)", t->pos);
					return;
				}
				if (has_hi && lo > hi) {
					fail(t, "numbers out of order in {} quantifier");
					return;
				}
				if (lo > 65535 || hi > 65535) {
					fail(t, "quantifier too large (PCRE2 allows up to 65535)");
					return;
				}
			}
			if (!atom) {
				fail(t, "nothing to repeat at offset %zu", t->pos - 1);
				return;
			}
			if (c == '{') {
				if (!has_hi)
					snprintf(buf, sizeof(buf), "{%lu,}", lo);
				else
					snprintf(buf, sizeof(buf), "{%lu,%lu}", lo, hi);
				emit(t, buf);
			} else {
				buf[0] = (char)c;
				emit_n(t, buf, 1);
			}
			if (peek(t, 0) == '?') {
				t->pos++;
				emit(t, "?");
			}
			atom = false;
			break;
		}
		case '}':
		case ']':
			fail(t, "lone %c at offset %zu (escape it)", (char)c, t->pos - 1);
			return;
		case '^':
		case '$':
			buf[0] = (char)c;
			emit_n(t, buf, 1);
			atom = false;
			break;
		case '.':
			emit(t, "[^\\n\\r\\x{2028}\\x{2029}]");
			atom = true;
			break;
		case '[':
			char_class(t);
			atom = true;
			break;
		case '\\': {
			int e = peek(t, 0);
			if (e < 0) {
				fail(t, "\\ at the end of the pattern");
				return;
			}
			t->pos++;
			atom = true;
			switch (e) {
			case 'b':
			case 'B':
				emit(t, e == 'b' ? "\\b" : "\\B");
				atom = false;
				break;
			case 'd':
			case 'D':
			case 'w':
			case 'W':
				buf[0] = '\\', buf[1] = (char)e;
				emit_n(t, buf, 2);
				break;
			case 's':
				emit(t, "[" WS_ITEMS "]");
				break;
			case 'S':
				emit(t, "[^" WS_ITEMS "]");
				break;
			case 'p':
			case 'P':
				property(t, e == 'P');
				break;
			case 'k': {
				if (peek(t, 0) != '<') {
					fail(t, "\\k must be followed by <name> (offset %zu)", t->pos);
					return;
				}
				t->pos++;
				size_t start = t->pos, nl = group_name(t);
				if (!nl)
					return;
				if (!t->names_overflow && !find_name(t, start, nl)) {
					fail(t, "\\k<%.*s> names no group", (int)nl, (const char *)t->s + start);
					return;
				}
				emit(t, "\\k<");
				emit_n(t, (const char *)t->s + start, nl);
				emit(t, ">");
				break;
			}
			default:
				if (is_digit(e) && e != '0') {
					unsigned long g = (unsigned long)(e - '0');
					while (is_digit(peek(t, 0)) && g < 100000)
						g = g * 10 + (unsigned long)(t->s[t->pos++] - '0');
					if (g > t->ngroups) {
						fail(t, "backreference \\%lu to a group that does not exist", g);
						return;
					}
					snprintf(buf, sizeof(buf), "\\g{%lu}", g);
					emit(t, buf);
				} else {
					long v = char_escape(t, e, false);
					if (v < 0)
						return;
					if (v >= 0xD800 && v <= 0xDFFF)
						emit(t, "(?!)"); /* a lone surrogate is never in UTF-8 text */
					else
						emit_cp(t, (uint32_t)v);
				}
				break;
			}
			break;
		}
		default:
			emit_cp(t, c);
			atom = true;
			break;
		}
	}
	if (!t->failed && depth > 0)
		fail(t, "missing ) at the end of the pattern");
}

bool jsonschema_regex_valid(const char *pattern, size_t len, char *errstr, size_t errstr_size)
{
	struct tr t = {.s = (const unsigned char *)pattern, .len = len, .err = errstr,
	               .errsize = errstr_size};

	t.o.count_only = true;
	translate(&t);
	return !t.failed;
}

struct jsonschema_regex *jsonschema_regex_compile(const char *pattern, size_t len, char *errstr,
                                                  size_t errstr_size)
{
	struct tr t = {.s = (const unsigned char *)pattern, .len = len, .err = errstr,
	               .errsize = errstr_size};
	struct jsonschema_regex *re = NULL;
	int code;
	PCRE2_SIZE off;

	translate(&t);
	if (t.failed)
		goto out;
	if (!t.o.p) { /* the empty pattern */
		emit(&t, "");
		if (t.failed)
			goto out;
	}
	re = calloc(1, sizeof(*re));
	if (!re) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	/* The translation is plain ASCII. As in ECMA-262, a backreference to a
	 * group that has not matched matches the empty string. */
	re->code = pcre2_compile((PCRE2_SPTR)t.o.p, t.o.len,
	                         PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF, &code,
	                         &off, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(errstr, errstr_size, "unsupported by PCRE2: %s", (const char *)msg);
		free(re);
		re = NULL;
		goto out;
	}
	/* No pcre2_jit_compile(): valgrind cannot follow JIT code and reports
	 * uninitialised reads in it, which would hide real errors in our tests;
	 * the interpreter is fast enough for the short strings of records. */
out:
	free(t.o.p);
	return re;
}

void jsonschema_regex_free(struct jsonschema_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}

struct jsonschema_regex_scratch *jsonschema_regex_scratch_new(void)
{
	struct jsonschema_regex_scratch *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	/* One pair is enough: only whether there is a match matters. */
	m->md = pcre2_match_data_create(1, NULL);
	if (!m->md) {
		free(m);
		return NULL;
	}
	return m;
}

void jsonschema_regex_scratch_free(struct jsonschema_regex_scratch *m)
{
	if (!m)
		return;
	pcre2_match_data_free(m->md);
	free(m);
}

int jsonschema_regex_search(const struct jsonschema_regex *re, const char *s, size_t len,
                            struct jsonschema_regex_scratch *m)
{
	char *copy = NULL;

	/* A string holding U+0000 stands as C0 80 in the tree (RECORD_NUL_CHAR,
	 * lib/record.h), which is not UTF-8: PCRE2 takes the real character,
	 * subjects having a length, so the pair goes back to one NUL here. */
	if (memchr(s, RECORD_NUL_CHAR[0], len)) { /* valid UTF-8 has no 0xC0 byte */
		size_t n = 0;
		if (!(copy = malloc(len)))
			return -1;
		for (size_t i = 0; i < len; i++) {
			if (i + 1 < len && memcmp(s + i, RECORD_NUL_CHAR, 2) == 0) {
				copy[n++] = '\0';
				i++;
			} else {
				copy[n++] = s[i];
			}
		}
		s = copy;
		len = n;
	}
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, m->md, NULL);
	free(copy);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
