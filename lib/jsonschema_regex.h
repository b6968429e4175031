/* ECMA-262 regular expressions, the dialect of JSON Schema's "pattern",
 * "patternProperties" and format "regex", run on PCRE2.
 *
 * A pattern is parsed by ECMA-262's grammar (in its Unicode mode, which is
 * what JSON Schema implies: a pattern matches code points, not UTF-16 units)
 * and rewritten into PCRE2 syntax where the two dialects differ: "\s" and
 * "." use ECMA's sets of white space and line terminators, "$" does not match
 * before a final newline, "[]" matches nothing and "[^]" anything, "\u" and
 * "\cX" escapes become code points, and Unicode property names are mapped to
 * PCRE2's. "\d", "\w" and "\b" stay ASCII-only, as in ECMA-262.
 * Syntax that ECMA-262 does not have (Perl's "\a", "\Z", "(?i)", "(?P<n>",
 * "(?#...)", POSIX classes, ...) is an error, not silently accepted. */
#ifndef EP_JSONSCHEMA_REGEX_H
#define EP_JSONSCHEMA_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct jsonschema_regex;

/* Scratch memory for matching (PCRE2 match data). One is needed per thread
 * that matches; it grows to the largest match and is reused, so matching
 * does not allocate. Returns NULL when out of memory. Caller frees with
 * jsonschema_regex_scratch_free() (NULL is fine). */
struct jsonschema_regex_scratch *jsonschema_regex_scratch_new(void);
void jsonschema_regex_scratch_free(struct jsonschema_regex_scratch *m);

/* Compiles pattern[0..len), UTF-8 ECMA-262 syntax. Returns NULL and fills
 * errstr when the pattern is invalid (or uses something PCRE2 cannot run,
 * such as a variable-length lookbehind). Caller frees with
 * jsonschema_regex_free() (NULL is fine). */
struct jsonschema_regex *jsonschema_regex_compile(const char *pattern, size_t len, char *errstr,
                                                  size_t errstr_size);
void jsonschema_regex_free(struct jsonschema_regex *re);

/* Searches s[0..len) for a match anywhere (ECMA-262 RegExp.test): 1 = found,
 * 0 = not found, -1 = could not be decided (s is not UTF-8, or PCRE2's match
 * limit was hit by a pathological pattern). Borrows everything. */
int jsonschema_regex_search(const struct jsonschema_regex *re, const char *s, size_t len,
                            struct jsonschema_regex_scratch *m);

/* Syntax check only, without PCRE2 and without allocating: true when
 * pattern[0..len) is a valid ECMA-262 regular expression. On false, errstr
 * (may be NULL) says why. */
bool jsonschema_regex_valid(const char *pattern, size_t len, char *errstr, size_t errstr_size);

#endif
