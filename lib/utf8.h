/* UTF-8 checks for records and JSON Schema string lengths. */
#ifndef EP_UTF8_H
#define EP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). A NUL byte is valid UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* Number of code points in s[0..len), which must be valid UTF-8: the
 * length JSON Schema's minLength/maxLength count. */
size_t utf8_codepoints(const char *s, size_t len);

/* The length (1 to 4) of the well-formed sequence that starts s[0..len),
 * len >= 1, or 0 when none does (RFC 3629's table: no overlongs, no
 * surrogates, nothing above U+10FFFF, not cut short). */
size_t utf8_sequence_len(const char *s, size_t len);

/* Byte offset of the first invalid sequence, or len when there is none. */
size_t utf8_first_invalid(const char *s, size_t len);

#endif
