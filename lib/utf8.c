/* UTF-8 validation by the table in RFC 3629 section 4. Records are checked
 * once as a whole line, so the loop has an ASCII fast path: seed events are
 * almost all ASCII, with a few accented letters in "context". */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

size_t utf8_first_invalid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		/* Eight ASCII bytes at a time: the common case. */
		if (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c == 0xE0) {
			need = 2, lo = 0xA0;
		} else if (c >= 0xE1 && c <= 0xEC) {
			need = 2;
		} else if (c == 0xED) {
			need = 2, hi = 0x9F; /* excludes the UTF-16 surrogates */
		} else if (c >= 0xEE && c <= 0xEF) {
			need = 2;
		} else if (c == 0xF0) {
			need = 3, lo = 0x90;
		} else if (c >= 0xF1 && c <= 0xF3) {
			need = 3;
		} else if (c == 0xF4) {
			need = 3, hi = 0x8F; /* nothing above U+10FFFF */
		} else {
			return i;
		}
		if (i + need >= len) /* truncated sequence */
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		i += need + 1;
	}
	return len;
}

bool utf8_valid(const char *s, size_t len)
{
	return utf8_first_invalid(s, len) == len;
}

size_t utf8_codepoints(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = 0;

	/* Every byte that is not a continuation byte starts a code point. */
	for (size_t i = 0; i < len; i++)
		n += (s[i] & 0xC0) != 0x80;
	return n;
}
