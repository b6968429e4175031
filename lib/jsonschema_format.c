/* Format checks: hand-written parsers by the grammars of the RFCs, because
 * they are on the hot path (an event's created_at is a date-time) and
 * because a regex per format would still need the calendar and leap-second
 * rules. Each parser walks the bytes once and accepts ASCII only where the
 * grammar says ASCII, so "১" (a Bengali digit) is never a digit.
 *
 * Hostnames: an "xn--" label is decoded from Punycode (RFC 3492) and its
 * code points are checked against the IDNA2008 rules that can be decided
 * without the full IDNA tables (RFC 5891 section 4.2.3, RFC 5892's
 * exceptions and contextual rules). Unicode properties (general category,
 * script) come from PCRE2's Unicode tables through a few one-character
 * regexes; joining types (for ZERO WIDTH NON-JOINER) from a small class
 * generated with perl's Unicode 14 tables. Not checked: code points that
 * IDNA2008 disallows only because NFKC case folding changes them (other
 * than upper case letters, which are refused), and Bidi rules (RFC 5893). */
#include "jsonschema_format.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema_regex.h"
#include "utf8.h"

enum uprop {
	UP_PVALID, /* letters (not upper/title case), marks, decimal digits */
	UP_MARK,
	UP_GREEK,
	UP_HEBREW,
	UP_HKH, /* Hiragana, Katakana or Han */
	UP_JT_T, /* joining type Transparent (Mn, Me, Cf less ZWNJ/ZWJ) */
	UP_JT_LD, /* joining type Left or Dual */
	UP_JT_RD, /* joining type Right or Dual */
	UP_COUNT
};

/* Joining types from perl's Unicode 14 tables:
 * [\p{Joining_Type=L}\p{Joining_Type=D}] and the same with R. */
static const char jt_left_or_dual[] = "^["
	"\\u{620}\\u{626}\\u{628}\\u{62a}-\\u{62e}\\u{633}-\\u{63f}\\u{641}-\\u{647}"
	"\\u{649}-\\u{64a}\\u{66e}-\\u{66f}\\u{678}-\\u{687}\\u{69a}-\\u{6bf}\\u{6c1}-"
	"\\u{6c2}\\u{6cc}\\u{6ce}\\u{6d0}-\\u{6d1}\\u{6fa}-\\u{6fc}\\u{6ff}\\u{712}-"
	"\\u{714}\\u{71a}-\\u{71d}\\u{71f}-\\u{727}\\u{729}\\u{72b}\\u{72d}-\\u{72e}"
	"\\u{74e}-\\u{758}\\u{75c}-\\u{76a}\\u{76d}-\\u{770}\\u{772}\\u{775}-\\u{777}"
	"\\u{77a}-\\u{77f}\\u{7ca}-\\u{7ea}\\u{841}-\\u{845}\\u{848}\\u{84a}-\\u{853}"
	"\\u{855}\\u{860}\\u{862}-\\u{865}\\u{868}\\u{886}\\u{889}-\\u{88d}\\u{8a0}-"
	"\\u{8a9}\\u{8af}-\\u{8b0}\\u{8b3}-\\u{8b8}\\u{8ba}-\\u{8c8}\\u{1807}\\u{1820}-"
	"\\u{1878}\\u{1887}-\\u{18a8}\\u{18aa}\\u{a840}-\\u{a872}\\u{10ac0}-\\u{10ac4}"
	"\\u{10acd}\\u{10ad3}-\\u{10adc}\\u{10ade}-\\u{10ae0}\\u{10aeb}-\\u{10aee}"
	"\\u{10b80}\\u{10b82}\\u{10b86}-\\u{10b88}\\u{10b8a}-\\u{10b8b}\\u{10b8d}"
	"\\u{10b90}\\u{10bad}-\\u{10bae}\\u{10d00}-\\u{10d21}\\u{10d23}\\u{10f30}-"
	"\\u{10f32}\\u{10f34}-\\u{10f44}\\u{10f51}-\\u{10f53}\\u{10f70}-\\u{10f73}"
	"\\u{10f76}-\\u{10f81}\\u{10fb0}\\u{10fb2}-\\u{10fb3}\\u{10fb8}\\u{10fbb}-"
	"\\u{10fbc}\\u{10fbe}-\\u{10fbf}\\u{10fc1}\\u{10fc4}\\u{10fca}-\\u{10fcb}"
	"\\u{1e900}-\\u{1e943}"
	"]$";
static const char jt_right_or_dual[] = "^["
	"\\u{620}\\u{622}-\\u{63f}\\u{641}-\\u{64a}\\u{66e}-\\u{66f}\\u{671}-\\u{673}"
	"\\u{675}-\\u{6d3}\\u{6d5}\\u{6ee}-\\u{6ef}\\u{6fa}-\\u{6fc}\\u{6ff}\\u{710}"
	"\\u{712}-\\u{72f}\\u{74d}-\\u{77f}\\u{7ca}-\\u{7ea}\\u{840}-\\u{858}\\u{860}"
	"\\u{862}-\\u{865}\\u{867}-\\u{86a}\\u{870}-\\u{882}\\u{886}\\u{889}-\\u{88e}"
	"\\u{8a0}-\\u{8ac}\\u{8ae}-\\u{8c8}\\u{1807}\\u{1820}-\\u{1878}\\u{1887}-"
	"\\u{18a8}\\u{18aa}\\u{a840}-\\u{a871}\\u{10ac0}-\\u{10ac5}\\u{10ac7}\\u{10ac9}-"
	"\\u{10aca}\\u{10ace}-\\u{10ad6}\\u{10ad8}-\\u{10ae1}\\u{10ae4}\\u{10aeb}-"
	"\\u{10aef}\\u{10b80}-\\u{10b91}\\u{10ba9}-\\u{10bae}\\u{10d01}-\\u{10d23}"
	"\\u{10f30}-\\u{10f44}\\u{10f51}-\\u{10f54}\\u{10f70}-\\u{10f81}\\u{10fb0}"
	"\\u{10fb2}-\\u{10fb6}\\u{10fb8}-\\u{10fbf}\\u{10fc1}-\\u{10fc4}\\u{10fc9}-"
	"\\u{10fca}\\u{1e900}-\\u{1e943}"
	"]$";

static const char *const uprop_patterns[UP_COUNT] = {
	[UP_PVALID] = "^[\\p{Ll}\\p{Lo}\\p{Lm}\\p{Mn}\\p{Mc}\\p{Nd}]$",
	[UP_MARK] = "^\\p{M}$",
	[UP_GREEK] = "^\\p{Script=Greek}$",
	[UP_HEBREW] = "^\\p{Script=Hebrew}$",
	[UP_HKH] = "^[\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Han}]$",
	[UP_JT_T] = "^(?![\\u200C\\u200D])[\\p{Mn}\\p{Me}\\p{Cf}]$",
	[UP_JT_LD] = jt_left_or_dual,
	[UP_JT_RD] = jt_right_or_dual,
};

/* Code points with canonical combining class 9 (Virama), Unicode 14. */
static const uint32_t viramas[] = {
	0x94d,   0x9cd,   0xa4d,   0xacd,   0xb4d,   0xbcd,   0xc4d,   0xccd,   0xd3b,
	0xd3c,   0xd4d,   0xdca,   0xe3a,   0xeba,   0xf84,   0x1039,  0x103a,  0x1714,
	0x1715,  0x1734,  0x17d2,  0x1a60,  0x1b44,  0x1baa,  0x1bab,  0x1bf2,  0x1bf3,
	0x2d7f,  0xa806,  0xa82c,  0xa8c4,  0xa953,  0xa9c0,  0xaaf6,  0xabed,  0x10a3f,
	0x11046, 0x11070, 0x1107f, 0x110b9, 0x11133, 0x11134, 0x111c0, 0x11235, 0x112ea,
	0x1134d, 0x11442, 0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x1172b, 0x11839, 0x1193d,
	0x1193e, 0x119e0, 0x11a34, 0x11a47, 0x11a99, 0x11c3f, 0x11d44, 0x11d45, 0x11d97,
};

struct jsonschema_formats {
	struct jsonschema_regex *uprop[UP_COUNT];
	struct jsonschema_regex_scratch *scratch;
};

static const struct {
	const char *name, *describe;
} formats[] = {
	[JSONSCHEMA_FORMAT_NONE] = {"", "value"},
	[JSONSCHEMA_FORMAT_DATE_TIME] = {"date-time", "date-time (RFC 3339)"},
	[JSONSCHEMA_FORMAT_DATE] = {"date", "date (RFC 3339 full-date)"},
	[JSONSCHEMA_FORMAT_TIME] = {"time", "time (RFC 3339 full-time)"},
	[JSONSCHEMA_FORMAT_EMAIL] = {"email", "email address (RFC 5321)"},
	[JSONSCHEMA_FORMAT_HOSTNAME] = {"hostname", "hostname (RFC 1123)"},
	[JSONSCHEMA_FORMAT_IPV4] = {"ipv4", "IPv4 address (dotted decimal)"},
	[JSONSCHEMA_FORMAT_IPV6] = {"ipv6", "IPv6 address (RFC 4291)"},
	[JSONSCHEMA_FORMAT_URI] = {"uri", "URI (RFC 3986)"},
	[JSONSCHEMA_FORMAT_URI_REFERENCE] = {"uri-reference", "URI reference (RFC 3986)"},
	[JSONSCHEMA_FORMAT_IRI] = {"iri", "IRI (RFC 3987)"},
	[JSONSCHEMA_FORMAT_IRI_REFERENCE] = {"iri-reference", "IRI reference (RFC 3987)"},
	[JSONSCHEMA_FORMAT_JSON_POINTER] = {"json-pointer", "JSON pointer (RFC 6901)"},
	[JSONSCHEMA_FORMAT_RELATIVE_JSON_POINTER] = {"relative-json-pointer",
	                                             "relative JSON pointer"},
	[JSONSCHEMA_FORMAT_REGEX] = {"regex", "regular expression (ECMA-262)"},
};

enum jsonschema_format jsonschema_format_lookup(const char *name)
{
	for (size_t i = 1; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i].name) == 0)
			return (enum jsonschema_format)i;
	return JSONSCHEMA_FORMAT_NONE;
}

const char *jsonschema_format_describe(enum jsonschema_format f)
{
	if ((size_t)f >= sizeof(formats) / sizeof(formats[0]))
		return formats[0].describe;
	return formats[f].describe;
}

struct jsonschema_formats *jsonschema_formats_new(char *errstr, size_t errstr_size)
{
	struct jsonschema_formats *f = calloc(1, sizeof(*f));

	if (!f || !(f->scratch = jsonschema_regex_scratch_new())) {
		snprintf(errstr, errstr_size, "out of memory");
		jsonschema_formats_free(f);
		return NULL;
	}
	for (int i = 0; i < UP_COUNT; i++) {
		f->uprop[i] = jsonschema_regex_compile(uprop_patterns[i], strlen(uprop_patterns[i]),
		                                       errstr, errstr_size);
		if (!f->uprop[i]) {
			jsonschema_formats_free(f);
			return NULL;
		}
	}
	return f;
}

void jsonschema_formats_free(struct jsonschema_formats *f)
{
	if (!f)
		return;
	for (int i = 0; i < UP_COUNT; i++)
		jsonschema_regex_free(f->uprop[i]);
	jsonschema_regex_scratch_free(f->scratch);
	free(f);
}

/* ---- small helpers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Two ASCII digits at s as a number, or -1; one test for both, as dates
 * are checked for every event. */
static inline int d2(const char *s)
{
	unsigned a = (unsigned)(unsigned char)s[0] - '0', b = (unsigned)(unsigned char)s[1] - '0';

	return (a > 9) | (b > 9) ? -1 : (int)(a * 10 + b);
}

static inline int d4(const char *s)
{
	int hi = d2(s), lo = d2(s + 2);

	return (hi | lo) < 0 ? -1 : hi * 100 + lo;
}

/* ---- RFC 3339 ---- */

static bool full_date(const char *s, size_t len)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	int y = d4(s), m = d2(s + 5), d = d2(s + 8);
	if (y < 0 || m < 1 || m > 12 || d < 1)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap);
}

/* partial-time time-offset; a leap second must fall at 23:59:60 UTC. */
static bool full_time(const char *s, size_t len)
{
	size_t i = 8;

	if (len < 9 || s[2] != ':' || s[5] != ':')
		return false;
	int h = d2(s), m = d2(s + 3), sec = d2(s + 6);
	if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
		return false;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	}
	int off = 0; /* minutes east of UTC */
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
		off = 0;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh = d2(s + i + 1), om = d2(s + i + 4);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
	} else {
		return false;
	}
	if (sec == 60) {
		int utc = ((h * 60 + m - off) % 1440 + 1440) % 1440;
		if (utc != 23 * 60 + 59)
			return false;
	}
	return true;
}

static bool date_time(const char *s, size_t len)
{
	return len > 11 && full_date(s, 10) && (s[10] == 'T' || s[10] == 't') &&
	       full_time(s + 11, len - 11);
}

/* ---- IP addresses ---- */

/* dec-octet (RFC 3986): 0-255 without leading zeros. Advances *i. */
static bool dec_octet(const char *s, size_t len, size_t *i)
{
	size_t start = *i;
	int v = 0;

	while (*i < len && is_digit(s[*i]) && *i - start < 3)
		v = v * 10 + (s[(*i)++] - '0');
	size_t n = *i - start;
	return n > 0 && v <= 255 && !(n > 1 && s[start] == '0');
}

static bool ipv4(const char *s, size_t len)
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		if (k > 0 && (i >= len || s[i++] != '.'))
			return false;
		if (!dec_octet(s, len, &i))
			return false;
	}
	return i == len;
}

static bool ipv6(const char *s, size_t len)
{
	size_t i = 0;
	int groups = 0;
	bool compressed = false;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		compressed = true;
		i = 2;
		if (i == len)
			return true;
	} else if (len == 0 || s[0] == ':') {
		return false;
	}
	for (;;) {
		size_t start = i;
		while (i < len && is_hex(s[i]) && i - start < 5)
			i++;
		if (i < len && s[i] == '.') {
			/* the last 32 bits as an IPv4 address */
			if (!ipv4(s + start, len - start))
				return false;
			groups += 2;
			break;
		}
		if (i == start || i - start > 4)
			return false;
		groups++;
		if (i == len)
			break;
		if (s[i] != ':')
			return false;
		i++;
		if (i < len && s[i] == ':') {
			if (compressed)
				return false;
			compressed = true;
			i++;
			if (i == len)
				break;
		} else if (i == len) {
			return false;
		}
		if (groups > 8)
			return false;
	}
	return compressed ? groups <= 7 : groups == 8;
}

/* ---- hostnames and IDNA ---- */

static bool uprop(struct jsonschema_formats *f, enum uprop p, uint32_t cp)
{
	char buf[4];
	size_t n;

	if (!f)
		return false;
	if (cp < 0x80) {
		buf[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		buf[0] = (char)(0xC0 | cp >> 6), buf[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			return false;
		buf[0] = (char)(0xE0 | cp >> 12), buf[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		buf[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		buf[0] = (char)(0xF0 | cp >> 18), buf[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		buf[2] = (char)(0x80 | (cp >> 6 & 0x3F)), buf[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	return jsonschema_regex_search(f->uprop[p], buf, n, f->scratch) == 1;
}

/* RFC 3492 decoding of an A-label's payload into out (at most max code
 * points); the count, or -1 when it is not valid Punycode. */
static int punycode_decode(const char *s, size_t len, uint32_t *out, int max)
{
	const uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
	uint32_t n = 128, bias = 72;
	uint64_t i = 0;
	int count = 0;
	size_t b = 0, in;

	for (size_t k = 0; k < len; k++)
		if (s[k] == '-')
			b = k;
	for (size_t k = 0; k < b; k++) {
		if ((unsigned char)s[k] >= 0x80 || count >= max)
			return -1;
		out[count++] = (unsigned char)s[k];
	}
	for (in = b > 0 ? b + 1 : 0; in < len;) {
		uint64_t oldi = i, w = 1;
		for (uint32_t k = base;; k += base) {
			if (in >= len)
				return -1;
			char c = s[in++];
			uint32_t digit = is_digit(c) ? (uint32_t)(c - '0' + 26)
			                 : (c >= 'a' && c <= 'z') ? (uint32_t)(c - 'a')
			                 : (c >= 'A' && c <= 'Z') ? (uint32_t)(c - 'A')
			                                          : base;
			if (digit >= base)
				return -1;
			i += digit * w;
			if (i > 0x10FFFF * 64ULL)
				return -1;
			uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
			if (digit < t)
				break;
			w *= base - t;
			if (w > 0x10FFFF * 64ULL)
				return -1;
		}
		/* adapt the bias */
		uint64_t delta = (i - oldi) / (oldi == 0 ? damp : 2);
		delta += delta / (uint64_t)(count + 1);
		uint32_t k = 0;
		while (delta > ((base - tmin) * tmax) / 2) {
			delta /= base - tmin;
			k += base;
		}
		bias = k + (uint32_t)((base - tmin + 1) * delta / (delta + skew));
		n += (uint32_t)(i / (uint64_t)(count + 1));
		i %= (uint64_t)(count + 1);
		if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF) || count >= max)
			return -1;
		memmove(out + i + 1, out + i, (size_t)(count - (int)i) * sizeof(*out));
		out[i++] = n;
		count++;
	}
	return count;
}

static bool is_virama(uint32_t cp)
{
	for (size_t i = 0; i < sizeof(viramas) / sizeof(viramas[0]); i++)
		if (viramas[i] == cp)
			return true;
	return false;
}

/* The rules of RFC 5891 section 4.2.3 and RFC 5892 on a decoded U-label. */
static bool u_label(struct jsonschema_formats *f, const uint32_t *u, int n)
{
	if (n == 0 || u[0] == '-' || u[n - 1] == '-' || (n >= 4 && u[2] == '-' && u[3] == '-'))
		return false;
	if (uprop(f, UP_MARK, u[0]))
		return false;
	for (int i = 0; i < n; i++) {
		uint32_t c = u[i];
		if (c < 0x80) {
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return false;
			continue;
		}
		switch (c) {
		case 0xDF: case 0x3C2: case 0x6FD: case 0x6FE: case 0xF0B: case 0x3007:
			continue; /* PVALID by exception */
		case 0x640: case 0x7FA: case 0x302E: case 0x302F: case 0x3031: case 0x3032:
		case 0x3033: case 0x3034: case 0x3035: case 0x303B:
			return false; /* DISALLOWED by exception */
		case 0xB7: /* MIDDLE DOT: only between two 'l' (Catalan) */
			if (i == 0 || i == n - 1 || u[i - 1] != 'l' || u[i + 1] != 'l')
				return false;
			continue;
		case 0x375: /* GREEK KERAIA: before a Greek letter */
			if (i == n - 1 || !uprop(f, UP_GREEK, u[i + 1]))
				return false;
			continue;
		case 0x5F3: /* HEBREW GERESH, GERSHAYIM: after a Hebrew letter */
		case 0x5F4:
			if (i == 0 || !uprop(f, UP_HEBREW, u[i - 1]))
				return false;
			continue;
		case 0x30FB: { /* KATAKANA MIDDLE DOT: with some Japanese script */
			bool found = false;
			for (int k = 0; k < n && !found; k++)
				found = u[k] != 0x30FB && uprop(f, UP_HKH, u[k]);
			if (!found)
				return false;
			continue;
		}
		case 0x200D: /* ZERO WIDTH JOINER: after a virama */
			if (i == 0 || !is_virama(u[i - 1]))
				return false;
			continue;
		case 0x200C: { /* ZERO WIDTH NON-JOINER: after a virama, or joining */
			if (i > 0 && is_virama(u[i - 1]))
				continue;
			int l = i - 1, r = i + 1;
			while (l >= 0 && uprop(f, UP_JT_T, u[l]))
				l--;
			while (r < n && uprop(f, UP_JT_T, u[r]))
				r++;
			if (l < 0 || r >= n || !uprop(f, UP_JT_LD, u[l]) || !uprop(f, UP_JT_RD, u[r]))
				return false;
			continue;
		}
		default:
			break;
		}
		if (c >= 0x660 && c <= 0x669) { /* the two kinds of Arabic digits don't mix */
			for (int k = 0; k < n; k++)
				if (u[k] >= 0x6F0 && u[k] <= 0x6F9)
					return false;
			continue;
		}
		if (c >= 0x6F0 && c <= 0x6F9) {
			for (int k = 0; k < n; k++)
				if (u[k] >= 0x660 && u[k] <= 0x669)
					return false;
			continue;
		}
		if (!uprop(f, UP_PVALID, c))
			return false;
	}
	return true;
}

static bool hostname(struct jsonschema_formats *f, const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > 253)
		return false;
	while (start <= len) {
		size_t end = start;
		while (end < len && s[end] != '.')
			end++;
		size_t n = end - start;
		const char *l = s + start;
		if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!is_alpha(l[i]) && !is_digit(l[i]) && l[i] != '-')
				return false;
		if (n >= 4 && (l[0] | 0x20) == 'x' && (l[1] | 0x20) == 'n' && l[2] == '-' && l[3] == '-') {
			uint32_t u[64];
			int un = punycode_decode(l + 4, n - 4, u, 64);
			if (un < 0 || !u_label(f, u, un))
				return false;
		}
		start = end + 1;
	}
	return true;
}

/* ---- email (RFC 5321 Mailbox, ASCII) ---- */

static bool atext(char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool email(struct jsonschema_formats *f, const char *s, size_t len)
{
	size_t at = len;

	while (at > 0 && s[at - 1] != '@')
		at--;
	if (at == 0)
		return false;
	const char *local = s, *dom = s + at;
	size_t ln = at - 1, dn = len - at;
	if (ln == 0 || ln > 64 || dn == 0)
		return false;
	if (local[0] == '"') { /* quoted-string */
		if (ln < 2 || local[ln - 1] != '"')
			return false;
		for (size_t i = 1; i < ln - 1; i++) {
			unsigned char c = (unsigned char)local[i];
			if (c == '\\') {
				if (++i >= ln - 1 || (unsigned char)local[i] < 0x20 ||
				    (unsigned char)local[i] > 0x7E)
					return false;
			} else if (c < 0x20 || c > 0x7E || c == '"') {
				return false;
			}
		}
	} else { /* dot-atom */
		for (size_t i = 0; i < ln; i++) {
			if (local[i] == '.') {
				if (i == 0 || i == ln - 1 || local[i + 1] == '.')
					return false;
			} else if (!atext(local[i])) {
				return false;
			}
		}
	}
	if (dom[0] == '[') { /* address literal */
		if (dom[dn - 1] != ']' || dn < 3)
			return false;
		if (dn > 7 && strncmp(dom + 1, "IPv6:", 5) == 0)
			return ipv6(dom + 6, dn - 7);
		return ipv4(dom + 1, dn - 2);
	}
	return hostname(f, dom, dn);
}

/* ---- URIs (RFC 3986) ---- */

static bool unreserved(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool sub_delim(char c)
{
	return c && strchr("!$&'()*+,;=", c) != NULL;
}

/* Characters of a component, with valid %-escapes; extra: what else the
 * component allows besides unreserved and sub-delims; iri: non-ASCII too
 * (RFC 3987's ucschar; the caller has checked the UTF-8). */
static bool chars_ok(const char *s, size_t len, const char *extra, bool iri)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (iri && (unsigned char)c >= 0x80)
			continue;
		if (c == '%') {
			if (i + 2 >= len || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
				return false;
			i += 2;
		} else if (!unreserved(c) && !sub_delim(c) && !(c && strchr(extra, c))) {
			return false;
		}
	}
	return true;
}

static bool authority(const char *s, size_t len, bool iri)
{
	const char *at = memchr(s, '@', len);

	if (at) {
		if (!chars_ok(s, (size_t)(at - s), ":", iri))
			return false;
		len -= (size_t)(at - s) + 1;
		s = at + 1;
	}
	size_t hostlen = len;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return false;
		size_t in = (size_t)(close - s) - 1;
		const char *ip = s + 1;
		if (in > 0 && (ip[0] == 'v' || ip[0] == 'V')) { /* IPvFuture */
			size_t k = 1;
			while (k < in && is_hex(ip[k]))
				k++;
			if (k == 1 || k >= in || ip[k] != '.' || k + 1 == in)
				return false;
			for (k++; k < in; k++)
				if (!unreserved(ip[k]) && !sub_delim(ip[k]) && ip[k] != ':')
					return false;
		} else if (!ipv6(ip, in)) {
			return false;
		}
		hostlen = (size_t)(close - s) + 1;
	} else {
		const char *colon = memchr(s, ':', len);
		hostlen = colon ? (size_t)(colon - s) : len;
		if (!chars_ok(s, hostlen, "", iri))
			return false;
	}
	if (hostlen < len) {
		if (s[hostlen] != ':')
			return false;
		for (size_t i = hostlen + 1; i < len; i++)
			if (!is_digit(s[i]))
				return false;
	}
	return true;
}

static bool uri(const char *s, size_t len, bool reference, bool iri)
{
	size_t i = 0, end;
	bool scheme = false;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if (len > 0 && is_alpha(s[0])) {
		size_t k = 1;
		while (k < len && (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '+' || s[k] == '-' ||
		                   s[k] == '.'))
			k++;
		if (k < len && s[k] == ':') {
			scheme = true;
			i = k + 1;
		}
	}
	if (!scheme && !reference)
		return false;
	if (iri && !utf8_valid(s, len))
		return false;
	end = i;
	while (end < len && s[end] != '?' && s[end] != '#')
		end++;
	/* hier-part or relative-part */
	if (end - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		size_t a = i + 2, ae = a;
		while (ae < end && s[ae] != '/')
			ae++;
		if (!authority(s + a, ae - a, iri) || !chars_ok(s + ae, end - ae, ":@/", iri))
			return false;
	} else {
		if (!chars_ok(s + i, end - i, ":@/", iri))
			return false;
		/* path-noscheme: no ':' in the first segment of a relative path */
		if (!scheme) {
			size_t k = i;
			while (k < end && s[k] != '/') {
				if (s[k] == ':')
					return false;
				k++;
			}
		}
	}
	i = end;
	if (i < len && s[i] == '?') {
		end = ++i;
		while (end < len && s[end] != '#')
			end++;
		if (!chars_ok(s + i, end - i, ":@/?", iri))
			return false;
		i = end;
	}
	if (i < len && s[i] == '#') {
		i++;
		if (!chars_ok(s + i, len - i, ":@/?", iri))
			return false;
	}
	return true;
}

/* ---- JSON pointers ---- */

static bool json_pointer(const char *s, size_t len)
{
	if (len > 0 && s[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')))
			return false;
	return true;
}

static bool relative_json_pointer(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && is_digit(s[i]))
		i++;
	if (i == 0 || (s[0] == '0' && i > 1))
		return false;
	if (i < len && s[i] == '#')
		return i + 1 == len;
	return json_pointer(s + i, len - i);
}

bool jsonschema_format_check(struct jsonschema_formats *f, enum jsonschema_format id,
                             const char *s, size_t len)
{
	switch (id) {
	case JSONSCHEMA_FORMAT_DATE_TIME:
		return date_time(s, len);
	case JSONSCHEMA_FORMAT_DATE:
		return full_date(s, len);
	case JSONSCHEMA_FORMAT_TIME:
		return full_time(s, len);
	case JSONSCHEMA_FORMAT_EMAIL:
		return email(f, s, len);
	case JSONSCHEMA_FORMAT_HOSTNAME:
		return hostname(f, s, len);
	case JSONSCHEMA_FORMAT_IPV4:
		return ipv4(s, len);
	case JSONSCHEMA_FORMAT_IPV6:
		return ipv6(s, len);
	case JSONSCHEMA_FORMAT_URI:
		return uri(s, len, false, false);
	case JSONSCHEMA_FORMAT_URI_REFERENCE:
		return uri(s, len, true, false);
	case JSONSCHEMA_FORMAT_IRI:
		return uri(s, len, false, true);
	case JSONSCHEMA_FORMAT_IRI_REFERENCE:
		return uri(s, len, true, true);
	case JSONSCHEMA_FORMAT_JSON_POINTER:
		return json_pointer(s, len);
	case JSONSCHEMA_FORMAT_RELATIVE_JSON_POINTER:
		return relative_json_pointer(s, len);
	case JSONSCHEMA_FORMAT_REGEX:
		return jsonschema_regex_valid(s, len, NULL, 0);
	case JSONSCHEMA_FORMAT_NONE:
		break;
	}
	return true;
}
